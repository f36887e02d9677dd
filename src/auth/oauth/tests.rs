//! Tests for the OAuth endpoints and their answers to bad input.

use super::*;
use crate::util::percent_decode;

#[test]
fn percent_codec_round_trips() {
    for s in [
        "",
        "abc",
        "a b&c=d",
        "api://x/.default openid",
        "é/ü?#%+",
        "~-._",
    ] {
        assert_eq!(percent_decode(&percent_encode(s)).unwrap(), s);
    }
    assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    assert_eq!(percent_decode("a+b%2fc%2F").unwrap(), "a b/c/");
    for bad in ["%", "%4", "%zz", "%C3", "%+1"] {
        assert!(percent_decode(bad).is_none(), "{bad}");
    }
}

#[test]
fn form_parsing() {
    let f = parse_form("a=1&&b=&c&d=x%3Dy").unwrap();
    assert_eq!(
        f,
        [("a", "1"), ("b", ""), ("c", ""), ("d", "x=y")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert!(parse_form("a=1&a=2")
        .unwrap_err()
        .description
        .contains("more than once"));
    assert!(parse_form("a=1&%61=2").is_err());
}

#[test]
fn pkce_values() {
    assert!(check_pkce_value(&"a".repeat(43), "v").is_ok());
    assert!(check_pkce_value(&"a".repeat(42), "v").is_err());
    assert!(check_pkce_value(&"a".repeat(129), "v").is_err());
    assert!(check_pkce_value(&format!("{}+", "a".repeat(43)), "v").is_err());
}

fn jwt(claims: Value) -> String {
    use base64::Engine;
    let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.sig",
        enc(b"{\"alg\":\"RS256\"}"),
        enc(claims.to_string().as_bytes())
    )
}

#[test]
fn the_user_is_read_from_the_access_token() {
    assert_eq!(
        user_of(&jwt(json!({"tid": "t1", "oid": "o1", "sub": "s1"}))).as_deref(),
        Some("t1/o1")
    );
    assert_eq!(user_of(&jwt(json!({"sub": "s1"}))).as_deref(), Some("s1"));
    assert_eq!(user_of(&jwt(json!({"tid": "t1", "oid": ""}))), None);
    for junk in ["", "a.b", "a.!!!.c", "opaque-token"] {
        assert_eq!(user_of(junk), None, "{junk}");
    }
}

#[test]
fn resealing_binds_the_client_and_user_and_refuses_a_changed_user() {
    let keys = || Keys::derive("s", "t", "c").unwrap();
    let answer = |claims: Value, refresh: Option<&str>| {
        let mut body =
            json!({"token_type": "Bearer", "access_token": jwt(claims), "expires_in": 3600});
        if let Some(r) = refresh {
            body["refresh_token"] = json!(r);
        }
        TokenReply {
            status: 200,
            body: body.to_string().into_bytes(),
        }
    };
    let user = json!({"tid": "t1", "oid": "o1"});
    let plan = SealPlan {
        keys: keys(),
        client_id: "https://a.example/doc".into(),
        expected_user: None,
    };
    let out: Value =
        serde_json::from_slice(&reseal(&plan, answer(user.clone(), Some("entra-rt"))).body)
            .unwrap();
    let sealed = out["refresh_token"].as_str().unwrap();
    assert!(!sealed.contains("entra-rt"));
    let (binding, inner) = keys().open(sealed).unwrap();
    assert_eq!(
        (
            binding.client_id.as_str(),
            binding.user.as_str(),
            inner.as_str()
        ),
        ("https://a.example/doc", "t1/o1", "entra-rt")
    );
    assert_eq!(out["expires_in"], 3600, "the rest passes through");
    // No user to bind: the refresh token is withheld rather than handed out unbound.
    let out: Value =
        serde_json::from_slice(&reseal(&plan, answer(json!({}), Some("entra-rt"))).body).unwrap();
    assert!(out.get("refresh_token").is_none(), "{out}");
    assert!(out.get("access_token").is_some());
    // A refresh that comes back naming another user is refused.
    let refresh_plan = SealPlan {
        keys: keys(),
        client_id: "x".into(),
        expected_user: Some("t1/o1".into()),
    };
    let same = reseal(&refresh_plan, answer(user, Some("rt2")));
    assert_eq!(same.status, 200);
    let other = reseal(
        &refresh_plan,
        answer(json!({"tid": "t1", "oid": "o2"}), Some("rt2")),
    );
    assert_eq!(other.status, 400);
    let v: Value = serde_json::from_slice(&other.body).unwrap();
    assert_eq!(v["error"], "invalid_grant");
    assert!(!String::from_utf8_lossy(&other.body).contains("rt2"));
}
