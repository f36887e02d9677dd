//! Who the signed-in user is for Bedrock's access lists: the email address taken from a
//! **validated** token's claims (ACL_USER_CLAIMS, default `email,upn,preferred_username`).
//!
//! Bedrock trusts the `userContext.userId` it is given, so this is the one place that
//! decides it. Only `jwt.rs` calls [`user_id`], on claims whose signature, issuer and
//! audience have been checked; nothing from tool arguments or headers reaches it.

use crate::config::{ConfigError, Vars};
use crate::util::split_list;
use serde_json::Value;

/// The claims tried, in order, when ACL_USER_CLAIMS is unset.
pub const DEFAULT_CLAIMS: [&str; 3] = ["email", "upn", "preferred_username"];

/// Reads ACL_USER_CLAIMS: a comma-separated list of claim names.
pub fn claims_from_vars(vars: &Vars) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = vars.get("ACL_USER_CLAIMS") else {
        return Ok(DEFAULT_CLAIMS.iter().map(|c| c.to_string()).collect());
    };
    let claims = split_list(raw);
    let bad = claims.iter().find(|c| {
        c.len() > 64
            || !c
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if claims.is_empty() || bad.is_some() {
        return Err(ConfigError::new(
            "ACL_USER_CLAIMS",
            format!(
                "must list token claim names, e.g. {}; got {raw:?}",
                DEFAULT_CLAIMS.join(",")
            ),
        ));
    }
    Ok(claims)
}

/// The first of `names` present in `claims` whose value looks like an email address.
pub fn user_id(claims: &Value, names: &[String]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| claims.get(n.as_str()).and_then(Value::as_str))
        .map(str::trim)
        .find(|v| looks_like_email(v))
        .map(str::to_string)
}

/// `local@domain.tld`, one `@`, no spaces or control characters. Guest accounts' `upn`
/// (`alice_example.com#EXT#@tenant.onmicrosoft.com`) has that shape but is not an address
/// any data source knows, so it is refused.
fn looks_like_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && v.len() <= 320
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.contains("#EXT#")
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> Vec<String> {
        claims_from_vars(&Vars::from_pairs::<_, &str, &str>([])).unwrap()
    }

    #[test]
    fn takes_the_first_claim_that_is_an_email() {
        let names = defaults();
        let claims = json!({"email": "alice@example.com", "upn": "a@corp.example.com"});
        assert_eq!(
            user_id(&claims, &names).as_deref(),
            Some("alice@example.com")
        );
        // A v1 token without email: upn; a name that is not an address is skipped.
        let claims = json!({"email": "not an address", "upn": "bob@example.com"});
        assert_eq!(user_id(&claims, &names).as_deref(), Some("bob@example.com"));
        let claims = json!({"preferred_username": "carol@example.com", "name": "Carol"});
        assert_eq!(
            user_id(&claims, &names).as_deref(),
            Some("carol@example.com")
        );
    }

    #[test]
    fn finds_nothing_in_tokens_without_an_address() {
        let names = defaults();
        for claims in [
            json!({"name": "Dave", "oid": "0000"}),
            json!({"email": 42}),
            json!({"upn": "dave_example.com#EXT#@tenant.onmicrosoft.com"}),
            json!({"email": "dave@localhost"}),
            json!({"email": "@example.com"}),
            json!({"email": "a@b@example.com"}),
        ] {
            assert_eq!(user_id(&claims, &names), None, "{claims}");
        }
    }

    #[test]
    fn the_claim_list_is_configurable_and_checked() {
        let names =
            claims_from_vars(&Vars::from_pairs([("ACL_USER_CLAIMS", "upn, email")])).unwrap();
        assert_eq!(names, ["upn", "email"]);
        let claims = json!({"email": "alice@example.com", "upn": "a@corp.example.com"});
        assert_eq!(
            user_id(&claims, &names).as_deref(),
            Some("a@corp.example.com")
        );
        for raw in [" , ", "email;upn", "e mail@"] {
            let e = claims_from_vars(&Vars::from_pairs([("ACL_USER_CLAIMS", raw)])).unwrap_err();
            assert_eq!(e.var, "ACL_USER_CLAIMS", "{raw:?}");
        }
    }
}
