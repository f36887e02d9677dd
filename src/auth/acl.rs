//! Who the signed-in user is for Bedrock's access lists when the **server** names them
//! (`userContext.userId`): an e-mail address taken only from claims Entra verified, of a
//! **validated** token (ACL_USER_CLAIMS, default `upn,email`; ACL_ALLOW_GUESTS;
//! ACL_EMAIL_DOMAINS; all read by `config::auth`).
//!
//! Bedrock trusts the `userContext.userId` it is given, and Entra's `email` and
//! `preferred_username` can be set by anyone who may edit a user, so each claim passes a gate:
//! `upn` for members only; `email` only with `xms_edov` true and our own `tid`;
//! `preferred_username` only when listed explicitly, members only; guests (`acct`=1, `#EXT#`,
//! another tenant's `idp`) only with ACL_ALLOW_GUESTS=true and then only by a verified `email`.
//! Only `jwt.rs` calls [`verified_user`]; nothing from tool arguments or headers reaches it.
//! Errors name claims and settings, never claim values.

use crate::config::AuthSettings;
use serde_json::Value;

/// The verified address, or why there is none (a sentence naming the claim to add).
pub fn verified_user(claims: &Value, settings: &AuthSettings) -> Result<String, String> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::trim);
    let tenant_ok = text("tid").is_some_and(|t| t.eq_ignore_ascii_case(&settings.tenant_id));
    let guest = is_guest(claims, &settings.tenant_id);
    if guest && !settings.acl_allow_guests {
        return Err(
            "it belongs to a guest account (another organisation's user), and guests \
                    are named to the knowledge base only when ACL_ALLOW_GUESTS=true"
                .into(),
        );
    }
    let mut reasons: Vec<String> = Vec::new();
    for name in &settings.acl_claims {
        let Some(value) = text(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        if !looks_like_email(value) {
            reasons.push(format!("its {name} claim is not an e-mail address"));
            continue;
        }
        let verdict = match name.as_str() {
            "email" if !tenant_ok => Err("its email claim comes from another tenant".to_string()),
            "email" if !edov(claims) => {
                Err("its email claim is not verified by Entra (xms_edov is \
                                              not true)"
                    .to_string())
            }
            "email" => Ok(()),
            _ if guest => Err(format!(
                "guests are identified only by a verified email, not by {name}"
            )),
            _ if !tenant_ok => Err(format!("its {name} claim comes from another tenant")),
            _ => Ok(()),
        };
        if let Err(why) = verdict {
            reasons.push(why);
            continue;
        }
        if !domain_allowed(value, &settings.acl_email_domains) {
            reasons.push(format!(
                "the domain of its {name} claim is not in ACL_EMAIL_DOMAINS"
            ));
            continue;
        }
        return Ok(value.to_string());
    }
    if reasons.is_empty() {
        reasons.push(format!(
            "it carries none of the claims {}",
            settings.acl_claims.join(", ")
        ));
    }
    Err(reasons.join("; "))
}

/// `acct` = 1, a `#EXT#` user name, or an `idp` other than our own tenant's issuer.
fn is_guest(claims: &Value, tenant: &str) -> bool {
    let acct_guest = match claims.get("acct") {
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(Value::String(s)) => s.trim() == "1",
        _ => false,
    };
    let ext = ["upn", "unique_name", "preferred_username"]
        .iter()
        .any(|c| {
            claims
                .get(*c)
                .and_then(Value::as_str)
                .is_some_and(|v| v.contains("#EXT#"))
        });
    let idp_other = claims
        .get("idp")
        .and_then(Value::as_str)
        .is_some_and(|idp| !is_own_issuer(idp, tenant));
    acct_guest || ext || idp_other
}

/// Our tenant's v1 or v2 issuer (any authority host), or the bare tenant id.
fn is_own_issuer(idp: &str, tenant: &str) -> bool {
    let idp = idp.trim().trim_end_matches('/').to_ascii_lowercase();
    let tenant = tenant.to_ascii_lowercase();
    idp == tenant
        || idp == format!("https://sts.windows.net/{tenant}")
        || (idp.starts_with("https://")
            && (idp.ends_with(&format!("/{tenant}/v2.0")) || idp.ends_with(&format!("/{tenant}"))))
}

/// Entra's "email domain owner verified" claim: boolean true (or the strings "true"/"1").
fn edov(claims: &Value) -> bool {
    match claims.get("xms_edov") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1"),
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

fn domain_allowed(address: &str, domains: &[String]) -> bool {
    if domains.is_empty() {
        return true;
    }
    let domain = address
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    domains.contains(&domain)
}

/// `local@domain.tld`, one `@`, no spaces or control characters, not a guest `#EXT#` name.
pub fn looks_like_email(v: &str) -> bool {
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
    use crate::config::Vars;
    use serde_json::json;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn settings(extra: &[(&str, &str)]) -> AuthSettings {
        let mut pairs = vec![
            ("ENABLE_AUTH", "true"),
            ("ENTRA_TENANT_ID", TID),
            ("ENTRA_CLIENT_ID", "6e74172b-be56-4843-9ff4-e66a39bb12e3"),
        ];
        pairs.extend_from_slice(extra);
        AuthSettings::from_vars(&Vars::from_pairs(pairs))
            .unwrap()
            .unwrap()
    }

    fn member(extra: Value) -> Value {
        let mut v = json!({"tid": TID, "oid": "o"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn upn_names_members_and_email_needs_xms_edov() {
        let s = settings(&[]);
        let upn = member(json!({"upn": "alice@contoso.com", "email": "bob@contoso.com"}));
        assert_eq!(verified_user(&upn, &s).as_deref(), Ok("alice@contoso.com"));
        let unverified = member(json!({"email": "bob@contoso.com"}));
        let why = verified_user(&unverified, &s).unwrap_err();
        assert!(why.contains("xms_edov") && !why.contains("bob"), "{why}");
        for edov in [json!(true), json!("true"), json!("1")] {
            let verified = member(json!({"email": "bob@contoso.com", "xms_edov": edov}));
            assert_eq!(
                verified_user(&verified, &s).as_deref(),
                Ok("bob@contoso.com")
            );
        }
        let false_edov = member(json!({"email": "bob@contoso.com", "xms_edov": false}));
        assert!(verified_user(&false_edov, &s).is_err());
    }

    #[test]
    fn preferred_username_is_never_used_by_default() {
        let s = settings(&[]);
        let t = member(json!({"preferred_username": "carol@contoso.com"}));
        let why = verified_user(&t, &s).unwrap_err();
        assert!(why.contains("none of the claims upn, email"), "{why}");
        let s = settings(&[("ACL_USER_CLAIMS", "preferred_username")]);
        assert_eq!(verified_user(&t, &s).as_deref(), Ok("carol@contoso.com"));
    }

    #[test]
    fn guests_are_refused_unless_allowed_and_then_only_by_verified_email() {
        let s = settings(&[]);
        let guests = [
            member(json!({"acct": 1, "email": "g@fabrikam.com", "xms_edov": true})),
            member(json!({"upn": "g_fabrikam.com#EXT#@contoso.onmicrosoft.com"})),
            member(
                json!({"idp": "https://sts.windows.net/00000000-0000-0000-0000-000000000001/", "upn": "g@fabrikam.com"}),
            ),
            member(json!({"idp": "live.com", "email": "g@outlook.com", "xms_edov": true})),
        ];
        for g in &guests {
            let why = verified_user(g, &s).unwrap_err();
            assert!(why.contains("ACL_ALLOW_GUESTS"), "{g}: {why}");
        }
        let allow = settings(&[("ACL_ALLOW_GUESTS", "true")]);
        assert_eq!(
            verified_user(&guests[0], &allow).as_deref(),
            Ok("g@fabrikam.com")
        );
        assert!(verified_user(&guests[1], &allow).is_err());
        assert!(
            verified_user(&guests[2], &allow).is_err(),
            "a guest's upn is not used"
        );
        // Our own tenant's issuer as idp is a member.
        let own = member(
            json!({"idp": format!("https://sts.windows.net/{TID}/"), "upn": "m@contoso.com"}),
        );
        assert_eq!(verified_user(&own, &s).as_deref(), Ok("m@contoso.com"));
    }

    #[test]
    fn other_tenants_and_domains_outside_the_list_are_refused() {
        let s = settings(&[]);
        let other = json!({"tid": "00000000-0000-0000-0000-000000000009", "email": "x@contoso.com", "xms_edov": true});
        assert!(verified_user(&other, &s)
            .unwrap_err()
            .contains("another tenant"));
        let s = settings(&[("ACL_EMAIL_DOMAINS", "contoso.com")]);
        let t = member(json!({"upn": "a@fabrikam.com"}));
        assert!(verified_user(&t, &s)
            .unwrap_err()
            .contains("ACL_EMAIL_DOMAINS"));
        let t = member(json!({"upn": "a@Contoso.com"}));
        assert_eq!(verified_user(&t, &s).as_deref(), Ok("a@Contoso.com"));
    }

    #[test]
    fn only_addresses_count() {
        for v in [
            "dave@localhost",
            "@example.com",
            "a@b@example.com",
            "x y@example.com",
            "dave",
        ] {
            assert!(!looks_like_email(v), "{v}");
        }
        assert!(looks_like_email("dave@example.com"));
    }
}
