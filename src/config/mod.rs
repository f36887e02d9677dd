//! Configuration: raw variables (the environment over an optional `.env`) → validated,
//! typed settings, in one pass that `serve` and `check` share.
//!
//! [`Config::from_vars`] checks every setting before anything starts: server (server.rs), log
//! (logging.rs), the knowledge base choice, auth (auth.rs), and for Bedrock the endpoints, timeouts,
//! retrieval options (bedrock.rs) and the credentials source (aws.rs). The first problem found
//! is the error. Modules below read only these settings, never raw variables; this module
//! imports nothing from them.

pub(crate) mod auth;
pub(crate) mod aws;
pub(crate) mod bedrock;
mod dotenv;
pub(crate) mod logging;
mod metrics;
pub(crate) mod reading;
pub(crate) mod server;
pub(crate) mod sessions;
mod vars;

pub use auth::AuthSettings;
pub use bedrock::BedrockSettings;
pub use logging::LogSettings;
pub use reading::ReadingSettings;
pub use server::ServerSettings;
pub use vars::{ConfigError, Vars};

use metrics::metrics_addr;
use std::path::{Path, PathBuf};

/// Which knowledge base to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KbChoice {
    /// One or more AWS Bedrock knowledge bases, with every Bedrock setting checked.
    Bedrock(Box<BedrockSettings>),
    /// A directory of .md/.txt files (`--local-kb` or KB_LOCAL_DIR).
    Local(PathBuf),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP settings.
    pub server: ServerSettings,
    /// The knowledge base.
    pub kb: KbChoice,
    /// Auth settings, when ENABLE_AUTH is on.
    pub auth: Option<AuthSettings>,
    /// LOG_LEVEL and LOG_FORMAT.
    pub log: LogSettings,
    /// Offer the get_document_link tool (DOCUMENT_LINKS, default true) where the backend can.
    pub document_links: bool,
    /// The reading tools' settings (read_document, agentic_search, images).
    pub reading: ReadingSettings,
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
        let log = LogSettings::from_vars(&vars)?;
        let server = ServerSettings::from_vars(&vars)?;
        let kb = kb_choice(&vars)?;
        let auth = AuthSettings::from_vars(&vars)?;
        let document_links = vars.flag("DOCUMENT_LINKS", true)?;
        let reading = ReadingSettings::from_vars(&vars)?;
        // Bedrock's own settings come last so the errors above keep their order.
        let kb = match kb {
            Choice::Bedrock { kb_ids, region } => KbChoice::Bedrock(Box::new(
                BedrockSettings::from_vars(&vars, kb_ids, &region)?,
            )),
            Choice::Local(dir) => KbChoice::Local(dir),
        };
        if let (KbChoice::Bedrock(b), None) = (&kb, &auth) {
            if b.user_sessions.is_some() {
                return Err(ConfigError::new(
                    "AWS_USER_CREDENTIALS",
                    "web-identity exchanges each signed-in user's Entra token for their own AWS \
                     session, so it needs ENABLE_AUTH=true (with ENTRA_TENANT_ID and \
                     ENTRA_CLIENT_ID); set AWS_USER_CREDENTIALS=off or turn sign-in on",
                ));
            }
        }
        let metrics_addr = metrics_addr(&vars, server.port)?;
        Ok(Config {
            server,
            kb,
            auth,
            log,
            document_links,
            reading,
            metrics_addr,
        })
    }
}

/// The backend chosen, before Bedrock's own settings are read.
enum Choice {
    Bedrock { kb_ids: Vec<String>, region: String },
    Local(PathBuf),
}

fn kb_choice(vars: &Vars) -> Result<Choice, ConfigError> {
    let region = aws::region(vars)?;
    match (vars.get("BEDROCK_KB_ID"), vars.get("KB_LOCAL_DIR")) {
        (Some(_), Some(_)) => Err(ConfigError::plain(
            "BEDROCK_KB_ID and a local knowledge base (--local-kb / KB_LOCAL_DIR) are both set: choose one",
        )),
        (None, Some(dir)) => Ok(Choice::Local(Path::new(dir).to_path_buf())),
        (Some(list), None) => Ok(Choice::Bedrock {
            kb_ids: bedrock::kb_ids(list)?,
            region,
        }),
        (None, None) => Err(ConfigError::new(
            "BEDROCK_KB_ID",
            "is required: set it to your knowledge base id, or run `bedrock-mcp --local-kb examples/kb` to try the server on local files",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(Vars::from_pairs(pairs.iter().copied()))
    }

    // Enough for the Bedrock settings: credentials from the environment, no IMDS.
    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKIA1"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];

    fn bedrock(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = KEYS.to_vec();
        all.extend_from_slice(pairs);
        config(&all)
    }

    fn region_of(c: &Config) -> &str {
        match &c.kb {
            KbChoice::Bedrock(b) => &b.region,
            KbChoice::Local(_) => "local",
        }
    }

    #[test]
    fn bedrock_defaults_match_the_readme() {
        let c = bedrock(&[("BEDROCK_KB_ID", "ABCDEF1234")]).unwrap();
        let KbChoice::Bedrock(b) = &c.kb else {
            panic!("not Bedrock: {:?}", c.kb);
        };
        assert_eq!(b.kb_ids, ["ABCDEF1234"]);
        assert_eq!(b.region, "eu-west-1");
        assert_eq!(b.timeout, std::time::Duration::from_secs(30));
        assert_eq!((b.max_attempts, b.kb_type), (3, bedrock::KbType::Auto));
        assert_eq!(c.log.level, ::log::LevelFilter::Info);
        assert!(c.log.json && c.auth.is_none() && c.document_links);
        let c = bedrock(&[
            ("BEDROCK_KB_ID", "KBTEST000X"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ])
        .unwrap();
        assert_eq!(region_of(&c), "us-east-1");
        let c = bedrock(&[
            ("BEDROCK_KB_ID", "KBTEST000X"),
            ("AWS_REGION", "eu-central-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ])
        .unwrap();
        assert_eq!(region_of(&c), "eu-central-1");
    }

    #[test]
    fn bedrock_settings_are_checked_in_the_same_pass() {
        for (pairs, var) in [
            (vec![("BEDROCK_TIMEOUT_SECS", "0")], "BEDROCK_TIMEOUT_SECS"),
            (vec![("BEDROCK_KB_TYPE", "nope")], "BEDROCK_KB_TYPE"),
            (
                vec![("BEDROCK_RERANK_RESULTS", "3")],
                "BEDROCK_RERANK_RESULTS",
            ),
            (vec![("AWS_ENDPOINT_URL", "ftp://x")], "AWS_ENDPOINT_URL"),
            (
                vec![("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "x")],
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            ),
        ] {
            let mut all = vec![("BEDROCK_KB_ID", "KBTEST0001")];
            all.extend(pairs.iter().copied());
            // Without keys, so the container variable is the source being read.
            let e = if var.starts_with("AWS_CONTAINER") {
                config(&all)
            } else {
                bedrock(&all)
            };
            assert_eq!(e.unwrap_err().var, var, "{pairs:?}");
        }
        let e = config(&[
            ("BEDROCK_KB_ID", "KBTEST0001"),
            ("AWS_EC2_METADATA_DISABLED", "1"),
        ])
        .unwrap_err();
        assert!(e.message.starts_with("no AWS credentials found"), "{e}");
        // The local backend reads no Bedrock settings.
        let c = config(&[
            ("KB_LOCAL_DIR", "examples/kb"),
            ("BEDROCK_TIMEOUT_SECS", "0"),
        ]);
        assert!(c.is_ok());
    }

    #[test]
    fn each_mistake_names_its_variable() {
        for (pairs, var) in [
            (vec![], "BEDROCK_KB_ID"),
            (vec![("BEDROCK_KB_ID", "has-dash")], "BEDROCK_KB_ID"),
            (vec![("BEDROCK_KB_ID", "ABCDEFGHIJK")], "BEDROCK_KB_ID"),
            (
                vec![("BEDROCK_KB_ID", "KBTEST000A,,KBTEST000B")],
                "BEDROCK_KB_ID",
            ),
            (
                vec![("BEDROCK_KB_ID", "KBTEST000A, KBTEST000A")],
                "BEDROCK_KB_ID",
            ),
            (
                vec![("BEDROCK_KB_ID", "KBTEST0001"), ("AWS_REGION", "Ireland")],
                "AWS_REGION",
            ),
            (
                vec![("BEDROCK_KB_ID", "KBTEST0001"), ("LOG_LEVEL", "LOUD")],
                "LOG_LEVEL",
            ),
            (
                vec![("BEDROCK_KB_ID", "KBTEST0001"), ("LOG_LEVEL", "trace")],
                "LOG_LEVEL",
            ),
            (
                vec![("BEDROCK_KB_ID", "KBTEST0001"), ("LOG_FORMAT", "xml")],
                "LOG_FORMAT",
            ),
            (
                vec![("BEDROCK_KB_ID", "KBTEST0001"), ("SERVER_PORT", "-1")],
                "SERVER_PORT",
            ),
        ] {
            assert_eq!(config(&pairs).unwrap_err().var, var, "{pairs:?}");
        }
    }

    #[test]
    fn local_and_bedrock_are_exclusive() {
        let e = config(&[
            ("BEDROCK_KB_ID", "KBTEST0001"),
            ("KB_LOCAL_DIR", "examples/kb"),
        ])
        .unwrap_err();
        assert!(e.message.contains("choose one"));
        let c = config(&[("KB_LOCAL_DIR", "examples/kb")]).unwrap();
        assert_eq!(c.kb, KbChoice::Local("examples/kb".into()));
    }

    #[test]
    fn per_user_sessions_need_sign_in() {
        let on = [
            ("BEDROCK_KB_ID", "ABCDEF1234"),
            ("AWS_USER_CREDENTIALS", "web-identity"),
            ("AWS_USER_ROLE_ARN", "arn:aws:iam::111122223333:role/u"),
        ];
        let e = bedrock(&on).unwrap_err();
        assert_eq!(e.var, "AWS_USER_CREDENTIALS");
        assert!(e.message.contains("ENABLE_AUTH=true"), "{e}");
        let mut signed_in = on.to_vec();
        signed_in.extend([
            ("ENABLE_AUTH", "true"),
            ("ENTRA_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("ENTRA_CLIENT_ID", "6e74172b-be56-4843-9ff4-e66a39bb12e3"),
        ]);
        let c = bedrock(&signed_in).unwrap();
        let KbChoice::Bedrock(b) = &c.kb else {
            panic!("not Bedrock");
        };
        assert_eq!(b.user_sessions.as_ref().unwrap().duration_seconds, 900);
        assert!(bedrock(&[("BEDROCK_KB_ID", "ABCDEF1234")])
            .unwrap()
            .auth
            .is_none());
    }

    #[test]
    fn auth_on_without_ids_names_both_variables() {
        let e = config(&[("BEDROCK_KB_ID", "KBTEST0001"), ("ENABLE_AUTH", "true")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ENTRA_TENANT_ID and ENTRA_CLIENT_ID are required when ENABLE_AUTH=true"
        );
    }
}
