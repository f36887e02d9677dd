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

/// The most knowledge bases one server offers (each is described in every tool list).
const MAX_KNOWLEDGE_BASES: usize = 10;

/// Which knowledge base to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KbChoice {
    /// One or more AWS Bedrock knowledge bases.
    Bedrock {
        /// The knowledge base ids (BEDROCK_KB_ID, comma-separated); the first is the default.
        kb_ids: Vec<String>,
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
    /// Offer the get_document_link tool (DOCUMENT_LINKS, default true) where the backend can.
    pub document_links: bool,
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
            Some(raw) if raw.eq_ignore_ascii_case("trace") => {
                return Err(ConfigError::new(
                    "LOG_LEVEL",
                    "TRACE is not offered: it would put tokens and secrets from the HTTP client's wire dumps in the logs; use DEBUG, the most verbose level",
                ))
            }
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
        let document_links = vars.flag("DOCUMENT_LINKS", true)?;
        Ok(Config {
            vars,
            server,
            kb,
            auth,
            log_level,
            log_json,
            document_links,
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
        (Some(list), None) => {
            let kb_ids: Vec<String> = list.split(',').map(|id| id.trim().to_string()).collect();
            for id in &kb_ids {
                if id.is_empty() || id.len() > 10 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(ConfigError::new(
                        "BEDROCK_KB_ID",
                        format!("{id:?} is not a Bedrock knowledge base id (up to 10 letters and digits, e.g. ABCDEF1234, or several separated by commas; see `aws bedrock-agent list-knowledge-bases`)"),
                    ));
                }
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = kb_ids.iter().find(|id| !seen.insert(id.as_str())) {
                return Err(ConfigError::new(
                    "BEDROCK_KB_ID",
                    format!("lists {dup} twice: name each knowledge base once"),
                ));
            }
            if kb_ids.len() > MAX_KNOWLEDGE_BASES {
                return Err(ConfigError::new(
                    "BEDROCK_KB_ID",
                    format!("lists {} knowledge bases; at most {MAX_KNOWLEDGE_BASES} are served", kb_ids.len()),
                ));
            }
            Ok(KbChoice::Bedrock { kb_ids, region })
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
                kb_ids: vec!["ABCDEF1234".into()],
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
            (vec![("BEDROCK_KB_ID", "KBA,,KBB")], "BEDROCK_KB_ID"),
            (vec![("BEDROCK_KB_ID", "KBA, KBA")], "BEDROCK_KB_ID"),
            (
                vec![("BEDROCK_KB_ID", "A1"), ("AWS_REGION", "Ireland")],
                "AWS_REGION",
            ),
            (
                vec![("BEDROCK_KB_ID", "A1"), ("LOG_LEVEL", "LOUD")],
                "LOG_LEVEL",
            ),
            (
                vec![("BEDROCK_KB_ID", "A1"), ("LOG_LEVEL", "trace")],
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
