//! Reading the Entra app's client secret held by the server (ENTRA_CLIENT_SECRET or _FILE).
//!
//! Owns how the secret is read (config::auth decides where it comes from). A Web-platform (confidential) Entra
//! app demands a secret at the token endpoint; clients that registered through `/register` or
//! a metadata document have none, so the proxy adds this one. Must never let the value reach a
//! log line, an error message, a response or a `Debug` string.

pub use crate::config::auth::ClientSecret;

/// The secret's value; the error names the file and the fault, never any content.
pub fn reveal(secret: &ClientSecret) -> Result<String, String> {
    let value = match secret {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_is_revealed_as_is() {
        let inline = ClientSecret::Inline("s3cr3t~value".into());
        assert_eq!(reveal(&inline).as_deref(), Ok("s3cr3t~value"));
        assert!(reveal(&ClientSecret::Inline("a\nb".into())).is_err());
    }

    #[test]
    fn file_is_read_trimmed_on_each_use() {
        let path = std::env::temp_dir().join(format!("bedrock-mcp-secret-{}", std::process::id()));
        let secret = ClientSecret::File(path.clone());
        let missing = reveal(&secret).unwrap_err();
        assert!(missing.contains("ENTRA_CLIENT_SECRET_FILE"), "{missing}");
        std::fs::write(&path, "first-value\n").unwrap();
        assert_eq!(reveal(&secret).as_deref(), Ok("first-value"));
        std::fs::write(&path, "rotated-value").unwrap();
        assert_eq!(reveal(&secret).as_deref(), Ok("rotated-value"));
        std::fs::write(&path, "two\nlines").unwrap();
        let bad = reveal(&secret).unwrap_err();
        assert!(!bad.contains("two"), "{bad}");
        std::fs::remove_file(&path).unwrap();
    }
}
