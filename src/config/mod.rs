//! Configuration: raw variables (the environment over an optional `.env`) → validated settings.
//!
//! Each module parses its own settings from [`Vars`] (`http::ServerSettings::from_vars`,
//! `auth::AuthSettings::from_vars`, `aws::credentials::CredentialChain::from_vars`, …); this
//! module gathers them and decides which knowledge base to serve.

mod dotenv;
mod vars;

pub use vars::{ConfigError, Vars};

use crate::auth::AuthSettings;
use crate::http::ServerSettings;
use std::path::{Path, PathBuf};

/// Which knowledge base to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KbChoice {
    /// An AWS Bedrock knowledge base.
    Bedrock {
        /// The knowledge base id.
        kb_id: String,
        /// The AWS region.
        region: String,
    },
    /// A directory of .md/.txt files (`--local-kb` or KB_LOCAL_DIR).
    Local(PathBuf),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The raw variables, for modules that read their own (AWS credentials, endpoints).
    pub vars: Vars,
    /// HTTP settings.
    pub server: ServerSettings,
    /// The knowledge base.
    pub kb: KbChoice,
    /// Auth settings, when ENABLE_AUTH is on.
    pub auth: Option<AuthSettings>,
    /// Log filter (LOG_LEVEL).
    pub log_level: log::LevelFilter,
    /// JSON lines (default) or text (LOG_FORMAT=text).
    pub log_json: bool,
    /// Where to serve Prometheus metrics (METRICS_ADDR); `None` = off.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Reads `.env` from the working directory (if present) under the process environment.
pub fn load_vars() -> Result<Vars, ConfigError> {
    let mut pairs = match std::fs::read_to_string(".env") {
        Ok(text) => dotenv::parse(&text, ".env")?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(ConfigError::plain(format!("cannot read .env: {e}"))),
    };
    // The real environment wins over the file.
    pairs.extend(std::env::vars());
    Ok(Vars::from_pairs(pairs))
}

impl Config {
    /// Validates everything; the first problem found is returned.
    pub fn from_vars(vars: Vars) -> Result<Config, ConfigError> {
        let log_level = match vars.get("LOG_LEVEL") {
            None => log::LevelFilter::Info,
            Some(raw) => crate::log::parse_level(raw).ok_or_else(|| {
                ConfigError::new(
                    "LOG_LEVEL",
                    format!("{raw:?} is not a level: use DEBUG, INFO, WARNING or ERROR"),
                )
            })?,
        };
        let log_json = match vars
            .get("LOG_FORMAT")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("json") => true,
            Some("text") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("{other:?}: use json or text"),
                ))
            }
        };
        let server = ServerSettings::from_vars(&vars)?;
        let kb = kb_choice(&vars)?;
        let auth = AuthSettings::from_vars(&vars)?;
        let metrics_addr = crate::metrics::addr_from_vars(&vars, server.port)?;
        Ok(Config {
            vars,
            server,
            kb,
            auth,
            log_level,
            log_json,
            metrics_addr,
        })
    }
}

fn kb_choice(vars: &Vars) -> Result<KbChoice, ConfigError> {
    let region = region(vars)?;
    match (vars.get("BEDROCK_KB_ID"), vars.get("KB_LOCAL_DIR")) {
        (Some(_), Some(_)) => Err(ConfigError::plain(
            "BEDROCK_KB_ID and a local knowledge base (--local-kb / KB_LOCAL_DIR) are both set: choose one",
        )),
        (None, Some(dir)) => Ok(KbChoice::Local(Path::new(dir).to_path_buf())),
        (Some(id), None) => {
            if id.is_empty() || id.len() > 10 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(ConfigError::new(
                    "BEDROCK_KB_ID",
                    format!("{id:?} is not a Bedrock knowledge base id (up to 10 letters and digits, e.g. ABCDEF1234; see `aws bedrock-agent list-knowledge-bases`)"),
                ));
            }
            Ok(KbChoice::Bedrock { kb_id: id.to_string(), region })
        }
        (None, None) => Err(ConfigError::new(
            "BEDROCK_KB_ID",
            "is required: set it to your knowledge base id, or run `bedrock-mcp --local-kb examples/kb` to try the server on local files",
        )),
    }
}

fn region(vars: &Vars) -> Result<String, ConfigError> {
    let (var, region) = match (vars.get("AWS_REGION"), vars.get("AWS_DEFAULT_REGION")) {
        (Some(r), _) => ("AWS_REGION", r),
        (None, Some(r)) => ("AWS_DEFAULT_REGION", r),
        (None, None) => return Ok("eu-west-1".to_string()),
    };
    let ok = region.len() <= 32
        && region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(region.to_string())
    } else {
        Err(ConfigError::new(
            var,
            format!("{region:?} is not an AWS region name such as eu-west-1"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(Vars::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn bedrock_defaults_follow_the_seed() {
        let c = config(&[("BEDROCK_KB_ID", "ABCDEF1234")]).unwrap();
        assert_eq!(
            c.kb,
            KbChoice::Bedrock {
                kb_id: "ABCDEF1234".into(),
                region: "eu-west-1".into()
            }
        );
        assert_eq!(c.log_level, log::LevelFilter::Info);
        assert!(c.log_json && c.auth.is_none());
        let c = config(&[("BEDROCK_KB_ID", "X1"), ("AWS_DEFAULT_REGION", "us-east-1")]).unwrap();
        assert!(matches!(c.kb, KbChoice::Bedrock { ref region, .. } if region == "us-east-1"));
        let c = config(&[
            ("BEDROCK_KB_ID", "X1"),
            ("AWS_REGION", "eu-central-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ])
        .unwrap();
        assert!(matches!(c.kb, KbChoice::Bedrock { ref region, .. } if region == "eu-central-1"));
    }

    #[test]
    fn each_mistake_names_its_variable() {
        for (pairs, var) in [
            (vec![], "BEDROCK_KB_ID"),
            (vec![("BEDROCK_KB_ID", "has-dash")], "BEDROCK_KB_ID"),
            (vec![("BEDROCK_KB_ID", "ABCDEFGHIJK")], "BEDROCK_KB_ID"),
            (
                vec![("BEDROCK_KB_ID", "A1"), ("AWS_REGION", "Ireland")],
                "AWS_REGION",
            ),
            (
                vec![("BEDROCK_KB_ID", "A1"), ("LOG_LEVEL", "LOUD")],
                "LOG_LEVEL",
            ),
            (
                vec![("BEDROCK_KB_ID", "A1"), ("LOG_FORMAT", "xml")],
                "LOG_FORMAT",
            ),
            (
                vec![("BEDROCK_KB_ID", "A1"), ("SERVER_PORT", "-1")],
                "SERVER_PORT",
            ),
        ] {
            assert_eq!(config(&pairs).unwrap_err().var, var, "{pairs:?}");
        }
    }

    #[test]
    fn local_and_bedrock_are_exclusive() {
        let e = config(&[("BEDROCK_KB_ID", "A1"), ("KB_LOCAL_DIR", "examples/kb")]).unwrap_err();
        assert!(e.message.contains("choose one"));
        let c = config(&[("KB_LOCAL_DIR", "examples/kb")]).unwrap();
        assert_eq!(c.kb, KbChoice::Local("examples/kb".into()));
    }

    #[test]
    fn auth_on_without_ids_uses_the_seed_message() {
        let e = config(&[("BEDROCK_KB_ID", "A1"), ("ENABLE_AUTH", "true")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ENTRA_TENANT_ID and ENTRA_CLIENT_ID are required when ENABLE_AUTH=true"
        );
    }
}
