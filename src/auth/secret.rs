//! The Entra app's client secret held by the server (ENTRA_CLIENT_SECRET or _FILE), if any.
//!
//! Owns where the secret comes from and how it is read. A Web-platform (confidential) Entra
//! app demands a secret at the token endpoint; clients that registered through `/register` or
//! a metadata document have none, so the proxy adds this one. Must never let the value reach a
//! log line, an error message, a response or a `Debug` string.

use std::fmt;
use std::path::PathBuf;

use crate::config::{ConfigError, Vars};

/// Where the secret lives. The file is read on each use, so a mounted secret can rotate.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientSecret {
    /// The value of ENTRA_CLIENT_SECRET.
    Inline(String),
    /// The path in ENTRA_CLIENT_SECRET_FILE.
    File(PathBuf),
}

impl ClientSecret {
    /// Reads the two variables; `Ok(None)` when neither is set (a public-client app).
    pub fn from_vars(vars: &Vars) -> Result<Option<ClientSecret>, ConfigError> {
        match (
            vars.get("ENTRA_CLIENT_SECRET"),
            vars.get("ENTRA_CLIENT_SECRET_FILE"),
        ) {
            (Some(_), Some(_)) => Err(ConfigError::new(
                "ENTRA_CLIENT_SECRET_FILE",
                "set either ENTRA_CLIENT_SECRET or ENTRA_CLIENT_SECRET_FILE, not both",
            )),
            (Some(value), None) => Ok(Some(ClientSecret::Inline(value.to_string()))),
            (None, Some(path)) => Ok(Some(ClientSecret::File(PathBuf::from(path)))),
            (None, None) => Ok(None),
        }
    }

    /// The secret's value; the error names the file and the fault, never any content.
    pub fn reveal(&self) -> Result<String, String> {
        let value = match self {
            ClientSecret::Inline(v) => v.clone(),
            ClientSecret::File(path) => std::fs::read_to_string(path)
                .map_err(|e| {
                    format!(
                        "cannot read ENTRA_CLIENT_SECRET_FILE {}: {e}",
                        path.display()
                    )
                })?
                .trim()
                .to_string(),
        };
        if value.is_empty() || value.contains(['\r', '\n']) {
            return Err("the Entra client secret is empty or spans several lines".into());
        }
        Ok(value)
    }
}

// The value must never be printed; the file path is not secret and helps debugging.
impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientSecret::Inline(_) => f.write_str("ClientSecret::Inline(<redacted>)"),
            ClientSecret::File(p) => write!(f, "ClientSecret::File({})", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_file_both_or_none() {
        let v = |pairs: &[(&str, &str)]| ClientSecret::from_vars(&Vars::from_pairs(pairs.to_vec()));
        assert_eq!(v(&[]), Ok(None));
        let inline = v(&[("ENTRA_CLIENT_SECRET", "s3cr3t~value")])
            .unwrap()
            .unwrap();
        assert_eq!(inline.reveal().as_deref(), Ok("s3cr3t~value"));
        assert!(!format!("{inline:?}").contains("s3cr3t"));
        let both = v(&[
            ("ENTRA_CLIENT_SECRET", "a"),
            ("ENTRA_CLIENT_SECRET_FILE", "/x"),
        ]);
        assert_eq!(both.unwrap_err().var, "ENTRA_CLIENT_SECRET_FILE");
    }

    #[test]
    fn file_is_read_trimmed_on_each_use() {
        let path = std::env::temp_dir().join(format!("bedrock-mcp-secret-{}", std::process::id()));
        let secret = ClientSecret::File(path.clone());
        let missing = secret.reveal().unwrap_err();
        assert!(missing.contains("ENTRA_CLIENT_SECRET_FILE"), "{missing}");
        std::fs::write(&path, "first-value\n").unwrap();
        assert_eq!(secret.reveal().as_deref(), Ok("first-value"));
        std::fs::write(&path, "rotated-value").unwrap();
        assert_eq!(secret.reveal().as_deref(), Ok("rotated-value"));
        std::fs::write(&path, "two\nlines").unwrap();
        let bad = secret.reveal().unwrap_err();
        assert!(!bad.contains("two"), "{bad}");
        std::fs::remove_file(&path).unwrap();
    }
}
