//! Entra ID sign-in, library level: the Authenticator and the OAuth proxy against a fake tenant.

use crate::support;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use bedrock_mcp::auth::{oauth, AuthError, AuthSettings, Authenticator};
use bedrock_mcp::clock::ManualClock;
use bedrock_mcp::config::Vars;
use serde_json::{json, Value};
use support::fake_entra::{
    b64std, b64url, enc, now, parse_pairs, FakeEntra, CLIENT_ID, CLIENT_SECRET, TENANT,
};

const CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";

fn settings(fake: &FakeEntra, extra: &[(&str, &str)]) -> AuthSettings {
    AuthSettings::from_vars(&Vars::from_pairs(fake.vars(extra)))
        .unwrap()
        .unwrap()
}

fn authenticator(fake: &FakeEntra) -> Authenticator {
    Authenticator::new(settings(fake, &[]))
}

fn check(auth: &Authenticator, token: &str) -> Result<bedrock_mcp::auth::Principal, AuthError> {
    auth.authenticate(Some(&format!("Bearer {token}")))
}

#[test]
fn accepts_v2_and_v1_tokens() {
    let fake = FakeEntra::start();
    let auth = authenticator(&fake);
    let p = check(&auth, &fake.token()).unwrap();
    assert_eq!(p.user, "ada@contoso.example");
    assert_eq!(p.tid.as_deref(), Some(TENANT));
    assert_eq!(p.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(p.scopes, ["access_as_user"]);
    assert_eq!(p.token_version, "2.0");

    let v1 = fake.mint(fake.claims_v1(), json!({}));
    let p = check(&auth, &v1).unwrap();
    assert_eq!(p.user, "grace@contoso.example");
    assert_eq!(p.roles, ["KB.Read"]);
    assert_eq!(p.token_version, "1.0");
    assert_eq!(fake.jwks_fetches(), 1, "keys are cached between requests");
}

#[test]
fn refuses_each_bad_token_with_the_right_message() {
    let fake = FakeEntra::start();
    let auth = authenticator(&fake);
    let graph_hint = format!("api://{CLIENT_ID}/.default");
    let cases: Vec<(&str, String, &str)> = vec![
        ("expired", fake.expired(), "Token has expired"),
        (
            "not yet valid",
            fake.not_yet_valid(),
            "Token is not yet valid",
        ),
        (
            "wrong audience",
            fake.wrong_audience(),
            "Invalid token claims: audience (this token is for another resource: request an \
             access token for this API, scope api://0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9/.default)",
        ),
        (
            "wrong issuer",
            fake.wrong_issuer(),
            "Invalid token claims: issuer",
        ),
        (
            "other tenant",
            fake.other_tenant(),
            "Invalid token claims: issuer",
        ),
        (
            "alg none",
            fake.alg_none(),
            "Token validation failed: unsigned tokens (alg none) are not accepted",
        ),
        (
            "hs256",
            fake.hs256_with_public_key(),
            "Token validation failed: algorithm HS256 is not accepted; only RS256",
        ),
        (
            "tampered",
            fake.tampered(),
            "Token validation failed: invalid signature",
        ),
        (
            "unknown kid",
            fake.unknown_kid(),
            "Token signed with unknown key ID",
        ),
        (
            "no kid",
            fake.no_kid(),
            "Token validation failed: the token header has no key ID (kid)",
        ),
        (
            "garbage",
            fake.garbage(),
            "Token validation failed: malformed token (expected three base64url parts)",
        ),
        (
            "huge",
            fake.huge(),
            "Token validation failed: token is larger than 16384 bytes",
        ),
        (
            "no exp",
            fake.token_with(json!({"exp": null})),
            "Token validation failed: missing required claim exp",
        ),
        (
            "no aud",
            fake.token_with(json!({"aud": null})),
            "Token validation failed: missing required claim aud",
        ),
        (
            "rs384 header",
            fake.mint(fake.claims_v2(), json!({"alg": "RS384"})),
            "Token validation failed: algorithm RS384 is not accepted; only RS256",
        ),
    ];
    for (name, token, message) in &cases {
        let err = check(&auth, token).expect_err(name);
        assert_eq!(err.to_string(), *message, "{name}");
        assert_eq!(
            (err.status(), err.error_code()),
            (401, "invalid_token"),
            "{name}"
        );
        if token.len() > 20 {
            assert!(
                !err.to_string().contains(&token[token.len() - 20..]),
                "{name}: token leaked into the error"
            );
        }
    }
    let graph = check(&auth, &fake.graph_token()).unwrap_err();
    assert!(
        graph
            .to_string()
            .starts_with("Token validation failed: this is a Microsoft Graph token"),
        "{graph}"
    );
    assert!(graph.to_string().contains(&graph_hint), "{graph}");
    let graph_aud_only = fake.token_with(json!({"aud": "https://graph.microsoft.com"}));
    assert!(check(&auth, &graph_aud_only)
        .unwrap_err()
        .to_string()
        .contains("Microsoft Graph"));
}

#[test]
fn clock_leeway_is_sixty_seconds() {
    let fake = FakeEntra::start();
    let auth = authenticator(&fake);
    let t = now();
    assert!(
        check(&auth, &fake.token_with(json!({"exp": t - 20}))).is_ok(),
        "20 s past exp is within leeway"
    );
    assert!(
        check(&auth, &fake.token_with(json!({"nbf": t + 20}))).is_ok(),
        "20 s before nbf is within leeway"
    );
    assert_eq!(
        check(&auth, &fake.token_with(json!({"exp": t - 120})))
            .unwrap_err()
            .to_string(),
        "Token has expired"
    );
    assert_eq!(
        check(&auth, &fake.token_with(json!({"nbf": t + 120})))
            .unwrap_err()
            .to_string(),
        "Token is not yet valid"
    );
}

#[test]
fn header_shapes() {
    let fake = FakeEntra::start();
    let auth = authenticator(&fake);
    for missing in [
        None,
        Some(""),
        Some("Bearer "),
        Some(&*format!("Bearer {}", fake.empty())),
    ] {
        let err = auth.authenticate(missing).unwrap_err();
        assert_eq!(
            (err.to_string().as_str(), err.status()),
            ("Missing bearer token", 401),
            "{missing:?}"
        );
        let challenge = err.www_authenticate(
            "https://mcp.example/.well-known/oauth-protected-resource/mcp",
            "api://x/.default",
        );
        assert!(!challenge.contains("error="), "{challenge}");
    }
    // Basic credentials are no bearer token: a plain 401 challenge, so clients start OAuth.
    let basic = auth.authenticate(Some("Basic dXNlcjpwYXNz")).unwrap_err();
    assert_eq!(basic, AuthError::MissingToken);
    assert!(!basic.www_authenticate("u", "s").contains("error="));
    let expired = check(&auth, &fake.expired()).unwrap_err();
    assert_eq!(
        expired.www_authenticate("https://m/rm", "s"),
        "Bearer resource_metadata=\"https://m/rm\", scope=\"s\", error=\"invalid_token\", error_description=\"Token has expired\""
    );
    assert_eq!(
        expired.body(),
        json!({"error": "invalid_token", "error_description": "Token has expired"})
    );
    assert_eq!(fake.jwks_fetches(), 1, "only the expired token needed keys");
}

#[test]
fn key_rotation_is_picked_up_with_one_refetch() {
    let fake = FakeEntra::start();
    let auth = authenticator(&fake);
    check(&auth, &fake.token()).unwrap();
    assert_eq!(fake.jwks_fetches(), 1);
    fake.publish(&[1]); // kid-2 appears, kid-1 is dropped
    let rotated = fake.mint(fake.claims_v2(), json!({"kid": "kid-2"}));
    check(&auth, &rotated).unwrap();
    assert_eq!(fake.jwks_fetches(), 2);
    check(&auth, &rotated).unwrap();
    assert_eq!(fake.jwks_fetches(), 2, "the new key is cached");
    let old = check(&auth, &fake.token()).unwrap_err();
    assert_eq!(
        old.to_string(),
        "Token signed with unknown key ID",
        "the dropped key is gone"
    );
    assert_eq!(auth.fetch_count(), 2);
}

#[test]
fn unknown_kids_refetch_at_most_once_per_interval() {
    let fake = FakeEntra::start();
    let auth = authenticator(&fake);
    check(&auth, &fake.token()).unwrap();
    for _ in 0..20 {
        assert_eq!(
            check(&auth, &fake.unknown_kid()).unwrap_err().to_string(),
            "Token signed with unknown key ID"
        );
    }
    assert_eq!(fake.jwks_fetches(), 2, "20 unknown kids, one refetch");

    let clock = ManualClock::shared();
    let quick = Authenticator::with_clock(settings(&fake, &[]), clock.clone());
    let interval = settings(&fake, &[]).jwks_refetch_interval;
    let before = fake.jwks_fetches();
    check(&quick, &fake.unknown_kid()).unwrap_err();
    assert_eq!(
        fake.jwks_fetches() - before,
        1,
        "a cold fetch is not followed by a kid refetch"
    );
    check(&quick, &fake.unknown_kid()).unwrap_err(); // first kid-triggered refetch
    check(&quick, &fake.unknown_kid()).unwrap_err(); // rate-limited
    assert_eq!(fake.jwks_fetches() - before, 2);
    clock.advance(interval - Duration::from_secs(1));
    check(&quick, &fake.unknown_kid()).unwrap_err();
    assert_eq!(
        fake.jwks_fetches() - before,
        2,
        "still rate-limited just before the interval ends"
    );
    clock.advance(Duration::from_secs(1));
    check(&quick, &fake.unknown_kid()).unwrap_err();
    assert_eq!(
        fake.jwks_fetches() - before,
        3,
        "allowed again after the interval"
    );
}

#[test]
fn cached_keys_survive_a_jwks_outage() {
    let fake = FakeEntra::start();
    let s = settings(&fake, &[]);
    let (ttl, retry) = (s.jwks_cache_ttl, s.jwks_refetch_interval);
    let clock = ManualClock::shared();
    let auth = Authenticator::with_clock(s.clone(), clock.clone());
    check(&auth, &fake.token()).unwrap();
    fake.set_jwks_down(true);
    clock.advance(ttl - Duration::from_secs(1));
    check(&auth, &fake.token()).unwrap();
    assert_eq!(fake.jwks_fetches(), 1, "keys are fresh until the TTL ends");
    clock.advance(Duration::from_secs(1));
    check(&auth, &fake.token()).unwrap(); // refresh fails, stale key used
    assert_eq!(fake.jwks_fetches(), 2);
    clock.advance(retry - Duration::from_secs(1));
    check(&auth, &fake.token()).unwrap(); // within the retry back-off: no new fetch
    assert_eq!(fake.jwks_fetches(), 2);
    assert_eq!(auth.fetch_count(), 2);
    clock.advance(Duration::from_secs(1));
    check(&auth, &fake.token()).expect("still down after the back-off: stale key again");
    assert_eq!(auth.fetch_count(), 3, "one retry once the back-off is over");

    fake.set_jwks_down(false);
    let clock = ManualClock::shared();
    let other = Authenticator::with_clock(s, clock.clone());
    check(&other, &fake.token()).unwrap();
    fake.set_jwks_body(Some("<html>gateway error</html>"));
    clock.advance(ttl);
    check(&other, &fake.token()).expect("a garbage JWKS does not evict good keys");
    assert_eq!(other.fetch_count(), 2);
}

#[test]
fn no_keys_ever_fetched_is_a_clear_503() {
    let fake = FakeEntra::start();
    let auth = authenticator(&fake);
    fake.set_jwks_down(true);
    let err = check(&auth, &fake.token()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Failed to fetch signing keys from Azure AD"
    );
    assert_eq!(err.status(), 503);
    fake.set_jwks_down(false);
    fake.set_jwks_body(Some("{\"keys\": \"nope\"}"));
    assert_eq!(
        check(&auth, &fake.token()).unwrap_err().to_string(),
        "Failed to fetch signing keys from Azure AD"
    );
    fake.set_jwks_body(None);
    check(&auth, &fake.token()).expect("recovers once the endpoint works");
    assert_eq!(fake.jwks_fetches(), 3);
}

#[test]
fn fifty_threads_at_a_cold_cache_fetch_once() {
    let fake = FakeEntra::start();
    fake.set_jwks_delay(Duration::from_millis(300));
    let auth = Arc::new(authenticator(&fake));
    let token = Arc::new(fake.token());
    let barrier = Arc::new(Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (auth, token, barrier) = (auth.clone(), token.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                check(&auth, &token).map(|p| p.user)
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), "ada@contoso.example");
    }
    assert_eq!(fake.jwks_fetches(), 1);
    assert_eq!(auth.fetch_count(), 1);
}

#[test]
fn required_roles_and_scopes_give_403() {
    let fake = FakeEntra::start();
    let auth = Authenticator::new(settings(
        &fake,
        &[
            ("AUTH_REQUIRED_ROLES", "KB.Read,KB.Admin"),
            ("AUTH_REQUIRED_SCOPES", "access_as_user"),
        ],
    ));
    let v1 = fake.mint(fake.claims_v1(), json!({}));
    let err = check(&auth, &v1).unwrap_err();
    assert_eq!(
        (err.status(), err.error_code()),
        (403, "insufficient_scope")
    );
    assert_eq!(
        err.to_string(),
        "Insufficient permissions: missing role(s) KB.Admin"
    );
    let mut claims = fake.claims_v1();
    claims["roles"] = json!(["KB.Admin", "KB.Read"]);
    check(&auth, &fake.mint(claims.clone(), json!({}))).unwrap();
    claims["scp"] = json!("other");
    let err = check(&auth, &fake.mint(claims, json!({}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Insufficient permissions: missing scope(s) access_as_user"
    );
}

fn challenge_pair() -> (String, String) {
    let verifier = format!("verifier-{}-{}", now(), "x".repeat(40));
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    (verifier, b64url(digest.as_ref()))
}

fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn authorize_checks_and_rewrites() {
    let fake = FakeEntra::start();
    let s = settings(&fake, &[]);
    let (_, challenge) = challenge_pair();
    let good = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", "st/ä te"),
        ("scope", "claudeai"),
        ("resource", "https://mcp.example/mcp"),
        ("prompt", "select_account"),
    ];
    let location = oauth::authorize(&s, &query(&good)).unwrap();
    let (endpoint, q) = location.split_once('?').unwrap();
    assert_eq!(
        endpoint,
        format!("{}/{TENANT}/oauth2/v2.0/authorize", fake.authority())
    );
    let sent = parse_pairs(q);
    assert_eq!(
        get(&sent, "scope"),
        Some(&*format!(
            "api://{CLIENT_ID}/.default openid profile offline_access"
        ))
    );
    assert_eq!(get(&sent, "resource"), None);
    assert_eq!(get(&sent, "state"), Some("st/ä te"));
    assert_eq!(get(&sent, "code_challenge"), Some(challenge.as_str()));
    assert_eq!(get(&sent, "code_challenge_method"), Some("S256"));
    assert_eq!(get(&sent, "prompt"), Some("select_account"));

    let with = |name: &str, value: Option<&str>| {
        let mut pairs: Vec<(&str, &str)> =
            good.iter().copied().filter(|(k, _)| *k != name).collect();
        if let Some(v) = value {
            pairs.push((name, v));
        }
        oauth::authorize(&s, &query(&pairs))
    };
    let evil = with("redirect_uri", Some("https://evil.example/cb")).unwrap_err();
    assert_eq!((evil.status, evil.error), (400, "invalid_request"));
    assert!(evil.description.contains("redirect_uri"));
    assert!(
        with(
            "redirect_uri",
            Some("https://claude.ai/api/mcp/auth_callback/")
        )
        .is_err(),
        "exact match only"
    );
    assert!(with("code_challenge", None)
        .unwrap_err()
        .description
        .contains("PKCE"));
    assert!(with("code_challenge_method", Some("plain")).is_err());
    assert!(with("code_challenge_method", None).is_err());
    assert_eq!(
        with("response_type", Some("token")).unwrap_err().error,
        "unsupported_response_type"
    );
    assert!(with("client_id", None).is_err());
    let duplicate = format!("{}&state=again", query(&good));
    assert!(oauth::authorize(&s, &duplicate)
        .unwrap_err()
        .description
        .contains("more than once"));
    let extra = settings(
        &fake,
        &[(
            "OAUTH_REDIRECT_URIS",
            "http://localhost:6274/oauth/callback",
        )],
    );
    let local = query(&[
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", "http://localhost:6274/oauth/callback"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    assert!(oauth::authorize(&extra, &local).is_ok());
    assert!(oauth::authorize(&s, &local).is_err());
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn reply_json(reply: &oauth::TokenReply) -> Value {
    serde_json::from_slice(&reply.body).unwrap()
}

#[test]
fn code_exchange_end_to_end_with_pkce() {
    let fake = FakeEntra::start();
    let s = settings(&fake, &[]);
    let (verifier, challenge) = challenge_pair();
    let q = query(&[
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
        ("resource", "https://mcp.example/mcp"),
    ]);
    let location = oauth::authorize(&s, &q).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let entra = agent.get(&location).call().unwrap();
    assert_eq!(
        entra.status().as_u16(),
        302,
        "the fake accepted the proxied authorize request"
    );
    let back = entra
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let (callback, cq) = back.split_once('?').unwrap();
    assert_eq!(callback, CALLBACK);
    let cq = parse_pairs(cq);
    assert_eq!(get(&cq, "state"), Some("xyz"));
    let code = get(&cq, "code").unwrap().to_string();

    let bad_verifier = query(&[
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", &"w".repeat(43)),
    ]);
    let reply = oauth::token(&s, FORM, None, bad_verifier.as_bytes());
    assert_eq!(reply.status, 400, "Entra's refusal is relayed");
    assert!(reply_json(&reply)["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS50148"));

    // The fake's codes are single-use, so get a fresh one.
    let entra = agent.get(&location).call().unwrap();
    let back = entra
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let code = get(&parse_pairs(back.split_once('?').unwrap().1), "code")
        .unwrap()
        .to_string();
    let form = query(&[
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", &verifier),
        ("resource", "https://mcp.example/mcp"),
        ("scope", "claudeai"),
    ]);
    let reply = oauth::token(
        &s,
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        None,
        form.as_bytes(),
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply_json(&reply);
    let sent = fake.token_forms().last().unwrap().clone();
    assert_eq!(get(&sent, "resource"), None);
    assert_eq!(
        get(&sent, "scope"),
        Some(&*format!(
            "api://{CLIENT_ID}/.default openid profile offline_access"
        ))
    );

    let auth = Authenticator::new(s.clone());
    let p = auth
        .authenticate(Some(&format!(
            "Bearer {}",
            body["access_token"].as_str().unwrap()
        )))
        .unwrap();
    assert_eq!(p.user, "flow@contoso.example");

    // Refresh with HTTP Basic client authentication, forwarded as-is.
    let basic = format!(
        "Basic {}",
        b64std(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes())
    );
    let refresh = query(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", body["refresh_token"].as_str().unwrap()),
    ]);
    let reply = oauth::token(&s, FORM, Some(&basic), refresh.as_bytes());
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(auth
        .authenticate(Some(&format!(
            "Bearer {}",
            reply_json(&reply)["access_token"].as_str().unwrap()
        )))
        .is_ok());
}

#[test]
fn token_endpoint_refusals() {
    let fake = FakeEntra::start();
    let s = settings(&fake, &[]);
    let ok_code = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("code", "c"),
        ("redirect_uri", CALLBACK),
        ("code_verifier", &*"v".repeat(43)),
    ];
    let reply = |ct: Option<&str>, auth: Option<&str>, pairs: &[(&str, &str)]| {
        let r = oauth::token(&s, ct, auth, query(pairs).as_bytes());
        (
            r.status,
            reply_json(&r)["error"].as_str().unwrap_or("").to_string(),
        )
    };
    assert_eq!(
        reply(Some("application/json"), None, &ok_code),
        (400, "invalid_request".into())
    );
    assert_eq!(reply(None, None, &ok_code), (400, "invalid_request".into()));
    assert_eq!(
        reply(
            FORM,
            None,
            &[("grant_type", "password"), ("client_id", CLIENT_ID)]
        ),
        (400, "unsupported_grant_type".into())
    );
    assert_eq!(
        reply(
            FORM,
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID)
            ]
        ),
        (400, "unsupported_grant_type".into())
    );
    let mut evil = ok_code.to_vec();
    evil[3] = ("redirect_uri", "https://evil.example/cb");
    assert_eq!(reply(FORM, None, &evil), (400, "invalid_request".into()));
    assert_eq!(
        reply(FORM, None, &ok_code[..4]),
        (400, "invalid_request".into()),
        "code_verifier required"
    );
    assert_eq!(
        reply(FORM, Some("Bearer abc"), &ok_code),
        (400, "invalid_request".into())
    );
    assert_eq!(fake.token_forms().len(), 0, "nothing above reached Entra");
    assert_eq!(
        reply(FORM, None, &ok_code),
        (401, "invalid_client".into()),
        "Entra's 401 relayed"
    );

    let mut down = s.clone();
    down.authority = "http://127.0.0.1:9".into();
    let r = oauth::token(&down, FORM, None, query(&ok_code).as_bytes());
    assert_eq!(r.status, 502);
    assert_eq!(reply_json(&r)["error"], "temporarily_unavailable");
}

#[test]
fn metadata_documents() {
    let fake = FakeEntra::start();
    let s = settings(&fake, &[("OAUTH_SCOPES", "access_as_user")]);
    let scope = format!("api://{CLIENT_ID}/access_as_user");
    let prm = oauth::protected_resource_metadata(&s, "https://mcp.example/");
    assert_eq!(prm["resource"], "https://mcp.example/mcp");
    assert_eq!(prm["authorization_servers"], json!(["https://mcp.example"]));
    assert_eq!(prm["scopes_supported"], json!([scope]));
    assert_eq!(prm["bearer_methods_supported"], json!(["header"]));
    let asm = oauth::authorization_server_metadata(&s, "https://mcp.example");
    assert_eq!(asm["issuer"], "https://mcp.example");
    assert_eq!(
        asm["authorization_endpoint"],
        "https://mcp.example/authorize"
    );
    assert_eq!(asm["token_endpoint"], "https://mcp.example/token");
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(asm["scopes_supported"], json!([scope]));
    // claude.ai registers (RFC 7591), or uses its metadata document only when both hold.
    assert_eq!(asm["registration_endpoint"], "https://mcp.example/register");
    assert_eq!(asm["client_id_metadata_document_supported"], true);
    let methods = asm["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("none")), "{asm}");
}
