//! Per-user AWS sessions: AWS_USER_CREDENTIALS (`off` | `web-identity`), AWS_USER_ROLE_ARN,
//! AWS_USER_SESSION_SECONDS, AWS_USER_SESSION_PREFIX, and the STS endpoint they use
//! (AWS_ENDPOINT_URL_STS, read by `aws.rs`).
//!
//! Owns reading and checking them; `aws::user_sessions` consumes [`UserSessionSettings`].
//! Must not do I/O.

use super::aws::{role_arn, session_name_byte, sts_endpoint};
use super::{ConfigError, Vars};

/// The default `RoleSessionName` prefix.
pub const DEFAULT_PREFIX: &str = "bmcp-";
/// The longest prefix: `RoleSessionName` is at most 64 characters and an `oid` GUID takes 36.
pub const MAX_PREFIX: usize = 28;

/// How signed-in users' Bedrock calls get their own AWS session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSessionSettings {
    /// AWS_USER_ROLE_ARN: the role each user assumes.
    pub role_arn: String,
    /// AWS_USER_SESSION_SECONDS (900–43200, default 900).
    pub duration_seconds: u64,
    /// AWS_USER_SESSION_PREFIX: `RoleSessionName` = prefix + the user's `oid`.
    pub session_prefix: String,
    /// The STS base URL.
    pub sts_endpoint: String,
}

/// Reads AWS_USER_CREDENTIALS and its companions; `Ok(None)` when it is `off` (the default).
pub fn user_sessions(
    vars: &Vars,
    region: &str,
) -> Result<Option<UserSessionSettings>, ConfigError> {
    let mode = vars.get("AWS_USER_CREDENTIALS").unwrap_or("off");
    match mode.to_ascii_lowercase().as_str() {
        "off" | "false" | "none" => {
            return Ok(None);
        }
        "web-identity" => {}
        _ => {
            return Err(ConfigError::new(
                "AWS_USER_CREDENTIALS",
                format!(
                    "must be off (every Bedrock call uses the server's credentials) or \
                     web-identity (each signed-in user's calls use their own AWS session from \
                     STS AssumeRoleWithWebIdentity), got {mode:?}"
                ),
            ))
        }
    }
    let Some(role) = vars.get("AWS_USER_ROLE_ARN") else {
        return Err(ConfigError::new(
            "AWS_USER_ROLE_ARN",
            "is required with AWS_USER_CREDENTIALS=web-identity: the ARN of the role users \
             assume (see deployment/iam/user-role-trust-policy.json and docs/identity.md)",
        ));
    };
    let role_arn = role_arn("AWS_USER_ROLE_ARN", role)?;
    let duration_seconds = vars.number("AWS_USER_SESSION_SECONDS", 900, 900, 43_200)?;
    let session_prefix = vars
        .get("AWS_USER_SESSION_PREFIX")
        .unwrap_or(DEFAULT_PREFIX)
        .to_string();
    if session_prefix.is_empty()
        || session_prefix.len() > MAX_PREFIX
        || !session_prefix.bytes().all(session_name_byte)
    {
        return Err(ConfigError::new(
            "AWS_USER_SESSION_PREFIX",
            format!(
                "must be 1 to {MAX_PREFIX} characters of letters, digits and _+=,.@- (the user's \
                 36-character oid follows it in the 64-character RoleSessionName), got {session_prefix:?}"
            ),
        ));
    }
    Ok(Some(UserSessionSettings {
        role_arn,
        duration_seconds,
        session_prefix,
        sts_endpoint: sts_endpoint(vars, region)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<UserSessionSettings>, ConfigError> {
        user_sessions(&Vars::from_pairs(pairs.iter().copied()), "eu-west-1")
    }

    const ROLE: (&str, &str) = (
        "AWS_USER_ROLE_ARN",
        "arn:aws:iam::111122223333:role/bmcp-user",
    );

    #[test]
    fn off_by_default_and_defaults_when_on() {
        assert_eq!(read(&[]).unwrap(), None);
        assert_eq!(read(&[("AWS_USER_CREDENTIALS", "off")]).unwrap(), None);
        let s = read(&[("AWS_USER_CREDENTIALS", "web-identity"), ROLE])
            .unwrap()
            .unwrap();
        assert_eq!(s.duration_seconds, 900);
        assert_eq!(s.session_prefix, "bmcp-");
        assert_eq!(s.sts_endpoint, "https://sts.eu-west-1.amazonaws.com");
        assert_eq!(s.role_arn, ROLE.1);
        let s = read(&[
            ("AWS_USER_CREDENTIALS", "web-identity"),
            ROLE,
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566/"),
            ("AWS_USER_SESSION_SECONDS", "3600"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.sts_endpoint, "http://127.0.0.1:4566");
        assert_eq!(s.duration_seconds, 3600);
    }

    #[test]
    fn each_mistake_names_its_variable() {
        let on = ("AWS_USER_CREDENTIALS", "web-identity");
        for (pairs, var) in [
            (
                vec![("AWS_USER_CREDENTIALS", "yes")],
                "AWS_USER_CREDENTIALS",
            ),
            (vec![on], "AWS_USER_ROLE_ARN"),
            (
                vec![on, ("AWS_USER_ROLE_ARN", "arn:aws:iam::1:role/x")],
                "AWS_USER_ROLE_ARN",
            ),
            (
                vec![
                    on,
                    ("AWS_USER_ROLE_ARN", "arn:aws:iam::111122223333:user/x"),
                ],
                "AWS_USER_ROLE_ARN",
            ),
            (
                vec![on, ROLE, ("AWS_USER_SESSION_SECONDS", "899")],
                "AWS_USER_SESSION_SECONDS",
            ),
            (
                vec![on, ROLE, ("AWS_USER_SESSION_SECONDS", "43201")],
                "AWS_USER_SESSION_SECONDS",
            ),
            (
                vec![on, ROLE, ("AWS_USER_SESSION_PREFIX", "has space")],
                "AWS_USER_SESSION_PREFIX",
            ),
            (
                vec![on, ROLE, ("AWS_USER_SESSION_PREFIX", &"x".repeat(29))],
                "AWS_USER_SESSION_PREFIX",
            ),
            (
                vec![on, ROLE, ("AWS_ENDPOINT_URL_STS", "http://sts.example.com")],
                "AWS_ENDPOINT_URL_STS",
            ),
            (
                vec![
                    on,
                    ROLE,
                    ("AWS_ENDPOINT_URL_STS", "https://sts.example.com/path"),
                ],
                "AWS_ENDPOINT_URL_STS",
            ),
            (
                vec![on, ROLE, ("AWS_ENDPOINT_URL", "ftp://x")],
                "AWS_ENDPOINT_URL",
            ),
        ] {
            assert_eq!(read(&pairs).unwrap_err().var, var, "{pairs:?}");
        }
        let e = read(&[on, ROLE, ("AWS_ENDPOINT_URL_STS", "http://10.0.0.1")]).unwrap_err();
        assert!(e.message.contains("loopback"), "{e}");
    }
}
