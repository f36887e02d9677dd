//! Logging: env_logger with our own line format, JSON by default (one object per line on
//! stderr) or plain text for people at a terminal (LOG_FORMAT=text).
//!
//! Structured fields travel inside the message: [`fields`] renders `key=value` pairs as a
//! JSON fragment that the formatter splices into the line, so no extra crate is needed.
//! Nothing here may ever receive a token or secret: callers pass only ids and names.
//!
//! Other crates' log records are capped at WARN whatever LOG_LEVEL says, and TRACE is not a
//! level we offer: at TRACE the HTTP client (ureq) dumps whole requests and responses, which
//! carry the client secret, Entra's tokens and the SigV4 headers.

use crate::rfc3339::format_millis as rfc3339;
use crate::util::json_escape_into;
use std::io::Write;
use std::time::SystemTime;

/// Marks a message whose text is a field fragment made by [`fields`].
const FIELDS_MARK: char = '\u{1}';

/// A field value for [`fields`].
pub enum Field<'a> {
    /// A string (escaped).
    Str(&'a str),
    /// A number.
    Num(u64),
    /// A boolean.
    Bool(bool),
}

/// Renders `msg` plus fields as a log message the formatter turns into JSON members or text.
pub fn fields(msg: &str, pairs: &[(&str, Option<Field<'_>>)]) -> String {
    let mut out = String::with_capacity(128);
    out.push(FIELDS_MARK);
    out.push_str("\"msg\":\"");
    json_escape_into(&mut out, msg);
    out.push('"');
    for (key, value) in pairs {
        let Some(value) = value else { continue };
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":");
        match value {
            Field::Str(s) => {
                out.push('"');
                json_escape_into(&mut out, s);
                out.push('"');
            }
            Field::Num(n) => out.push_str(&n.to_string()),
            Field::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        }
    }
    out
}

/// Targets of our own records: the crate's modules and the access log.
const OWN_TARGETS: [&str; 2] = ["bedrock_mcp", "access"];

/// Maps LOG_LEVEL names, Python's included (DEBUG, INFO, WARNING, ERROR, CRITICAL, so existing
/// deployments keep their setting), to a filter; TRACE is refused (see the module header),
/// so DEBUG is the most verbose level.
pub fn parse_level(raw: &str) -> Option<log::LevelFilter> {
    Some(match raw.to_ascii_uppercase().as_str() {
        "DEBUG" => log::LevelFilter::Debug,
        "INFO" => log::LevelFilter::Info,
        "WARN" | "WARNING" => log::LevelFilter::Warn,
        "ERROR" | "CRITICAL" => log::LevelFilter::Error,
        "OFF" | "NONE" => log::LevelFilter::Off,
        _ => return None,
    })
}

/// Installs the logger: our records at `level`, every other crate's at WARN at most.
pub fn init(level: log::LevelFilter, json: bool) {
    let mut builder = env_logger::Builder::new();
    // Never more verbose than DEBUG, even if a caller passes TRACE.
    let level = level.min(log::LevelFilter::Debug);
    // The default covers every target not listed below: ureq, ureq_proto, rustls, tiny_http
    // and whatever a dependency upgrade brings, whose DEBUG/TRACE output we have not audited.
    builder.filter_level(level.min(log::LevelFilter::Warn));
    for own in OWN_TARGETS {
        builder.filter_module(own, level);
    }
    builder.target(env_logger::Target::Stderr);
    builder.format(move |buf, record| {
        let line = if json {
            json_line(record)
        } else {
            text_line(record)
        };
        buf.write_all(line.as_bytes())
    });
    // A second init (tests) is harmless: keep the first logger.
    let _ = builder.try_init();
}

fn json_line(record: &log::Record<'_>) -> String {
    let mut line = String::with_capacity(192);
    line.push_str("{\"ts\":\"");
    line.push_str(&rfc3339(SystemTime::now()));
    line.push_str("\",\"level\":\"");
    line.push_str(record.level().as_str());
    line.push_str("\",\"target\":\"");
    json_escape_into(&mut line, record.target());
    line.push_str("\",");
    let msg = record.args().to_string();
    match msg.strip_prefix(FIELDS_MARK) {
        Some(members) => line.push_str(members),
        None => {
            line.push_str("\"msg\":\"");
            json_escape_into(&mut line, &msg);
            line.push('"');
        }
    }
    line.push_str("}\n");
    line
}

fn text_line(record: &log::Record<'_>) -> String {
    let msg = record.args().to_string();
    let body = match msg.strip_prefix(FIELDS_MARK) {
        // Good enough for eyes: show the JSON members as they are.
        Some(members) => members.to_string(),
        None => msg,
    };
    format!(
        "{} {:<5} {}: {}\n",
        rfc3339(SystemTime::now()),
        record.level(),
        record.target(),
        body
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_render_as_valid_json_members() {
        let msg = fields(
            "request \"done\"",
            &[
                ("path", Some(Field::Str("/mcp\n"))),
                ("status", Some(Field::Num(200))),
                ("ok", Some(Field::Bool(true))),
                ("tool", None),
            ],
        );
        let args = format_args!("{msg}");
        let line = json_line(
            &log::Record::builder()
                .args(args)
                .level(log::Level::Info)
                .target("access")
                .build(),
        );
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["msg"], "request \"done\"");
        assert_eq!(v["path"], "/mcp\n");
        assert_eq!(v["status"], 200);
        assert_eq!(v["ok"], true);
        assert_eq!(v["level"], "INFO");
        assert!(v.get("tool").is_none());
    }

    #[test]
    fn plain_messages_are_escaped() {
        let record = log::Record::builder()
            .args(format_args!("a \"quoted\" \\ line\n"))
            .level(log::Level::Warn)
            .target("x")
            .build();
        let v: serde_json::Value = serde_json::from_str(json_line(&record).trim_end()).unwrap();
        assert_eq!(v["msg"], "a \"quoted\" \\ line\n");
    }

    #[test]
    fn python_and_rust_level_names_parse_and_trace_is_refused() {
        assert_eq!(parse_level("WARNING"), Some(log::LevelFilter::Warn));
        assert_eq!(parse_level("debug"), Some(log::LevelFilter::Debug));
        assert_eq!(parse_level("loud"), None);
        assert_eq!(parse_level("TRACE"), None, "TRACE would log secrets");
    }
}
