//! Entra ID sign-in at the binary level, the open edge (ENABLE_AUTH=true against a fake
//! tenant): what stays reachable without a token, the discovery documents and the base URL they
//! advertise, the OAuth proxy end to end (authorize → Entra → token → /mcp, refresh) and its
//! refusals, foreign origins, and that no code, token or secret ever reaches the logs.
//! The token gate itself is specified in auth_http.rs.

use crate::support;

use std::collections::HashMap;

use serde_json::{json, Value};
use support::auth::{
    access_line, assert_not_logged, assert_search_ok, bearer, call, form, search, start, CALLBACK,
    CHALLENGE, FORM, VERIFIER,
};
use support::fake_entra::{b64std, parse_pairs, FakeEntra, CLIENT_ID, CLIENT_SECRET, TENANT};
use support::server::{request, Resp, Server};

const PRM: &str = "/.well-known/oauth-protected-resource/mcp";

/// `defaults` with `changes` applied (an empty value drops the pair), as a form or query.
fn changed<'a>(mut pairs: Vec<(&'a str, &'a str)>, changes: &[(&'a str, &'a str)]) -> String {
    for (k, v) in changes {
        pairs.retain(|(key, _)| key != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    form(&pairs)
}

/// What claude.ai sends to /authorize, with `changes`.
fn authorize_query(changes: &[(&str, &str)]) -> String {
    let pairs = vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "xyz"),
        ("scope", "User.Read openid"),
        ("resource", "https://mcp.example.com/mcp"),
    ];
    changed(pairs, changes)
}

/// Splits a Location into its URL and decoded query.
fn split_location(location: &str) -> (String, HashMap<String, String>) {
    let (url, query) = location.split_once('?').unwrap_or((location, ""));
    (url.to_string(), parse_pairs(query).into_iter().collect())
}

fn get_json(s: &Server, path: &str, headers: &[(&str, &str)]) -> Value {
    let r = s.request("GET", path, headers, "");
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

fn authorize(s: &Server, changes: &[(&str, &str)]) -> Resp {
    s.request(
        "GET",
        &format!("/authorize?{}", authorize_query(changes)),
        &[],
        "",
    )
}

/// Status and OAuth `error` code of a reply.
fn error_of(r: &Resp) -> (u16, String) {
    (
        r.status,
        r.json()["error"].as_str().unwrap_or("").to_string(),
    )
}

/// The access and refresh tokens of a successful /token reply.
fn tokens(r: &Resp) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r
        .header("content-type")
        .unwrap_or("")
        .starts_with("application/json"));
    let v = r.json();
    let text = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("no {k}: {v}"))
            .to_string()
    };
    (text("access_token"), text("refresh_token"))
}

/// Asserts both discovery documents and the 401 challenge name `base`, given these headers.
fn assert_advertises(s: &Server, headers: &[(&str, &str)], base: &str) {
    for path in ["/.well-known/oauth-protected-resource", PRM] {
        let prm = get_json(s, path, headers);
        assert_eq!(prm["resource"], format!("{base}/mcp"), "{path}: {prm}");
        assert_eq!(prm["authorization_servers"], json!([base]), "{path}: {prm}");
    }
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let asm = get_json(s, path, headers);
        assert_eq!(asm["issuer"], base, "{path}: {asm}");
        assert_eq!(asm["authorization_endpoint"], format!("{base}/authorize"));
        assert_eq!(asm["token_endpoint"], format!("{base}/token"), "{asm}");
        assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
    }
    let mut h = headers.to_vec();
    h.push(("Content-Type", "application/json"));
    let r = s.request("POST", "/mcp", &h, &search(1).to_string());
    assert_eq!(r.status, 401, "{}", r.body);
    let www = r.header("www-authenticate").unwrap_or("");
    let metadata = format!("resource_metadata=\"{base}{PRM}\"");
    assert!(www.contains(&metadata), "{www}");
}

#[test]
fn health_and_preflights_need_no_token() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    assert_eq!(get_json(&s, "/health", &[])["auth_enabled"], true);
    for path in ["/mcp", "/", "/sse", "/messages"] {
        let h = [
            ("Origin", "https://claude.ai"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type",
            ),
        ];
        let pre = s.request("OPTIONS", path, &h, "");
        assert_eq!(pre.status, 204, "{path}: {}", pre.body);
        assert_eq!(
            pre.header("access-control-allow-origin"),
            Some("https://claude.ai")
        );
        let allowed = pre.header("access-control-allow-headers").unwrap_or("");
        assert!(allowed.contains("Authorization"), "{path}: {allowed}");
        assert!(pre.header("www-authenticate").is_none(), "{path}");
    }
    assert_eq!(fake.jwks_fetches(), 0, "no token was looked at");
}

#[test]
fn with_auth_off_discovery_is_404_and_mcp_needs_no_token() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[("ENABLE_AUTH", "false")]);
    assert_eq!(get_json(&s, "/health", &[])["auth_enabled"], false);
    for path in [
        "/.well-known/oauth-protected-resource",
        PRM,
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        &format!("/authorize?{}", authorize_query(&[])),
    ] {
        assert_eq!(s.request("GET", path, &[], "").status, 404, "{path}");
    }
    let refresh = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "r"),
        ("client_id", CLIENT_ID),
    ]);
    assert_eq!(s.request("POST", "/token", &[FORM], &refresh).status, 404);
    for auth in [None, Some("Bearer not-checked-when-auth-is-off")] {
        let r = call(&s, auth, "off-1");
        assert_search_ok(&r);
        assert!(r.header("www-authenticate").is_none());
    }
    let calls = fake.jwks_fetches() + fake.token_forms().len() as u64;
    assert_eq!(calls, 0, "Entra is never called");
}

#[test]
fn discovery_and_challenges_use_public_base_url_when_set() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[("PUBLIC_BASE_URL", "https://mcp.example.com/")]);
    let spoofed = [
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "attacker.example"),
    ];
    assert_advertises(&s, &[], "https://mcp.example.com");
    assert_advertises(&s, &spoofed, "https://mcp.example.com");
}

#[test]
fn without_public_base_url_discovery_follows_host_and_forwarded_headers() {
    let fake = FakeEntra::start();
    // Behind a load balancer we control; tests/hardening/forwarded.rs covers the default (off).
    let s = start(&fake, &[("TRUST_FORWARDED_HEADERS", "true")]);
    assert_advertises(&s, &[], &s.url);
    let forwarded = [
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "mcp.corp.example"),
    ];
    assert_advertises(&s, &forwarded, "https://mcp.corp.example");
    // A forged header cannot smuggle a path, query or scheme into the URLs we hand out.
    let hostile = [
        ("X-Forwarded-Proto", "javascript"),
        ("X-Forwarded-Host", "evil.example/x?y=\""),
    ];
    let prm = get_json(&s, PRM, &hostile);
    let resource = prm["resource"].as_str().unwrap_or("");
    assert!(
        resource.starts_with("http://") && resource.ends_with("/mcp"),
        "{resource}"
    );
    assert!(
        !resource.contains("evil.example/x") && !resource.contains('"'),
        "{resource}"
    );
}

#[test]
fn discovery_authorize_token_and_refresh_work_end_to_end() {
    let fake = FakeEntra::start();
    // DEBUG logging, so even the chattiest log level is searched for secrets below.
    let s = start(&fake, &[("LOG_LEVEL", "DEBUG")]);
    assert_advertises(&s, &[], &s.url);
    // No request below to discovery, /authorize or /token carries a bearer token: they are open.
    // claude.ai sends the browser to /authorize with its own scope and an RFC 8707 resource.
    let r = authorize(&s, &[]);
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.header("location").expect("Location").to_string();
    let (url, q) = split_location(&location);
    assert_eq!(
        url,
        format!("{}/{TENANT}/oauth2/v2.0/authorize", fake.authority())
    );
    assert!(
        !q.contains_key("resource"),
        "Entra v2 refuses resource (AADSTS9010010): {q:?}"
    );
    let scope = format!("api://{CLIENT_ID}/.default openid profile offline_access");
    assert_eq!(q.get("scope"), Some(&scope));
    for (k, v) in [
        ("state", "xyz"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ] {
        assert_eq!(q.get(k).map(String::as_str), Some(v), "{k} in {q:?}");
    }

    // The user signs in at Entra, which sends the browser back to claude.ai with a code.
    let signed_in = request(&location, "GET", &[], "");
    assert_eq!(signed_in.status, 302, "{}", signed_in.body);
    let (callback, q) = split_location(signed_in.header("location").expect("Location"));
    assert_eq!((callback.as_str(), q["state"].as_str()), (CALLBACK, "xyz"));
    let code = q["code"].clone();

    // claude.ai redeems the code at /token, sending `resource` again; Entra must not see it.
    let redeem = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("resource", &format!("{}/mcp", s.url)),
    ]);
    let (access, refresh) = tokens(&s.request("POST", "/token", &[FORM], &redeem));
    let sent: HashMap<String, String> = fake.token_forms()[0].iter().cloned().collect();
    assert!(!sent.contains_key("resource"), "{:?}", sent.keys());
    assert_eq!(sent.get("scope"), Some(&scope));
    assert_search_ok(&call(&s, Some(&bearer(&access)), "flow-1"));
    assert_eq!(access_line(&s, "flow-1")["user"], "flow@contoso.example");

    // Refresh, the client authenticating with HTTP Basic this time.
    let basic = b64std(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes());
    let renew = form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    let r = s.request(
        "POST",
        "/token",
        &[FORM, ("Authorization", &format!("Basic {basic}"))],
        &renew,
    );
    let (access2, refresh2) = tokens(&r);
    assert_ne!(refresh2, refresh);
    assert_search_ok(&call(&s, Some(&bearer(&access2)), "flow-2"));
    // Codes are single use at Entra; the refusal of a replay is relayed as it is.
    let replay = s.request("POST", "/token", &[FORM], &redeem);
    assert_eq!(error_of(&replay), (400, "invalid_grant".into()));

    assert!(s.wait_for_log("\"request_id\":\"flow-2\""));
    let secrets = [
        CLIENT_SECRET,
        &basic,
        &code,
        VERIFIER,
        &access,
        &refresh,
        &access2,
        &refresh2,
    ];
    assert_not_logged(&s, &secrets);
}

#[test]
fn authorize_refuses_unlisted_redirect_uris_and_requests_without_pkce() {
    let fake = FakeEntra::start();
    let s = start(
        &fake,
        &[(
            "OAUTH_REDIRECT_URIS",
            "http://localhost:6274/oauth/callback",
        )],
    );
    let refused: [&[(&str, &str)]; 8] = [
        &[("redirect_uri", "https://evil.example/api/mcp/auth_callback")],
        &[(
            "redirect_uri",
            "https://claude.ai/api/mcp/auth_callback.evil.example",
        )],
        &[(
            "redirect_uri",
            "https://claude.ai/api/mcp/auth_callback?next=https://evil.example",
        )],
        &[("redirect_uri", "")],
        &[("code_challenge", "")],
        &[("code_challenge_method", "plain")],
        &[("code_challenge_method", "")],
        &[("response_type", "token")],
    ];
    for changes in refused {
        let r = authorize(&s, changes);
        assert_eq!(r.status, 400, "{changes:?}: {}", r.body);
        assert!(
            r.header("location").is_none(),
            "{changes:?}: never an open redirect"
        );
        let v = r.json();
        assert!(
            v["error"].is_string() && v["error_description"].is_string(),
            "{v}"
        );
    }
    for uri in [
        "https://claude.com/api/mcp/auth_callback",
        "http://localhost:6274/oauth/callback",
    ] {
        let r = authorize(&s, &[("redirect_uri", uri)]);
        assert_eq!(r.status, 302, "{uri}: {}", r.body);
        let (_, q) = split_location(r.header("location").unwrap_or(""));
        assert_eq!(q.get("redirect_uri").map(String::as_str), Some(uri));
    }
}

#[test]
fn token_refuses_bad_requests_itself_and_relays_entras_refusals() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let code = |changes: &[(&str, &str)]| {
        let pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", "some-code"),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ];
        changed(pairs, changes)
    };
    let password = "hunter2-is-a-password";
    let refused = [
        (
            code(&[("grant_type", "password"), ("password", password)]),
            "unsupported_grant_type",
        ),
        (
            code(&[("redirect_uri", "https://evil.example/cb")]),
            "invalid_request",
        ),
        (code(&[("code_verifier", "")]), "invalid_request"),
        (
            code(&[("client_id", ""), ("client_secret", "")]),
            "invalid_request",
        ),
    ];
    for (body, error) in &refused {
        let r = s.request("POST", "/token", &[FORM], body);
        assert_eq!(error_of(&r), (400, error.to_string()), "{body}");
    }
    let json_body = s.request(
        "POST",
        "/token",
        &[("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(json_body.status, 400, "{}", json_body.body);
    assert_eq!(s.request("GET", "/token", &[], "").status, 405);
    assert!(
        fake.token_forms().is_empty(),
        "refused requests never reach Entra"
    );
    let wrong = s.request(
        "POST",
        "/token",
        &[FORM],
        &code(&[("client_secret", "wrong-secret-value")]),
    );
    assert_eq!(error_of(&wrong), (401, "invalid_client".into()));
    assert_eq!(wrong.header("cache-control"), Some("no-store"));
    assert_not_logged(
        &s,
        &[CLIENT_SECRET, password, "wrong-secret-value", VERIFIER],
    );
}

#[test]
fn foreign_origins_get_403_and_never_a_cors_echo() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let good = bearer(&fake.token());
    let evil = "https://evil.example";
    let cases = [
        ("POST", "/mcp", Some(good.as_str())),
        ("POST", "/mcp", None),
        ("POST", "/", Some(good.as_str())),
        ("GET", "/sse", Some(good.as_str())),
        ("POST", "/messages?session_id=x", Some(good.as_str())),
        ("OPTIONS", "/mcp", None),
    ];
    for (i, (method, path, auth)) in cases.into_iter().enumerate() {
        let rid = format!("evil-{i}");
        let mut h = vec![
            ("Origin", evil),
            ("Accept", "application/json, text/event-stream"),
            ("Content-Type", "application/json"),
            ("X-Request-Id", rid.as_str()),
        ];
        h.extend(auth.map(|a| ("Authorization", a)));
        let r = s.request(method, path, &h, &search(1).to_string());
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "{method} {path}"
        );
        let line = access_line(&s, &rid);
        assert_eq!(line["status"], 403, "{line}");
        assert!(
            line.get("tool").is_none() && line.get("session").is_none(),
            "{line}"
        );
    }
    for path in ["/health", PRM, "/.well-known/oauth-authorization-server"] {
        let r = s.request("GET", path, &[("Origin", evil)], "");
        assert!(r.header("access-control-allow-origin").is_none(), "{path}");
    }
    // An allowed browser origin can read the challenge of a 401.
    let h = [
        ("Origin", "https://claude.ai"),
        ("Content-Type", "application/json"),
    ];
    let r = s.request("POST", "/mcp", &h, "{}");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://claude.ai")
    );
    let exposed = r.header("access-control-expose-headers").unwrap_or("");
    assert!(exposed.contains("WWW-Authenticate"), "{exposed}");
}
