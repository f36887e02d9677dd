//! Fuzz target: arbitrary text as the `/authorize` query string → `oauth::authorize`, and as
//! a form body → `oauth::parse_form`.
//!
//! Checks: no panic; refusals are 400s; and whatever is accepted becomes an Entra URL that
//! carries only the parameters we relay, once each, with an allowlisted `redirect_uri`, our
//! own scope, `response_type=code` and PKCE S256 — never a client-chosen `resource`.
#![no_main]

use std::sync::OnceLock;

use bedrock_mcp::auth::{oauth, AuthSettings};
use bedrock_mcp::config::Vars;
use bedrock_mcp::util::form_pairs;
use libfuzzer_sys::fuzz_target;

const RELAYED: [&str; 10] = [
    "client_id",
    "response_type",
    "redirect_uri",
    "scope",
    "code_challenge_method",
    "state",
    "code_challenge",
    "nonce",
    "prompt",
    "login_hint",
];

fn settings() -> &'static AuthSettings {
    static SETTINGS: OnceLock<AuthSettings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let vars = Vars::from_pairs([
            ("ENABLE_AUTH", "true"),
            ("ENTRA_TENANT_ID", "4c7f2a2e-9a63-4b5e-8d4f-0c1e2a3b4c5d"),
            ("ENTRA_CLIENT_ID", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"),
            ("ENTRA_AUTHORITY_HOST", "http://127.0.0.1:9"),
        ]);
        AuthSettings::from_vars(&vars)
            .expect("fuzz auth settings are valid")
            .expect("ENABLE_AUTH=true yields settings")
    })
}

fn check_accepted(settings: &AuthSettings, url: &str) {
    let prefix = format!("{}?", settings.authorize_url());
    let query = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("not our tenant's authorize endpoint: {url}"));
    let pairs = form_pairs(query).expect("the relayed query must decode");
    let get = |name: &str| {
        let mut found = pairs.iter().filter(|(k, _)| k == name);
        let first = found.next().map(|(_, v)| v.as_str());
        assert!(found.next().is_none(), "{name} relayed twice");
        first
    };
    for (k, _) in &pairs {
        assert!(
            RELAYED.contains(&k.as_str()),
            "relayed unexpected parameter {k:?}"
        );
    }
    let redirect = get("redirect_uri").expect("redirect_uri relayed");
    assert!(
        settings.redirect_uris.iter().any(|u| u == redirect),
        "redirect_uri {redirect:?} is not on the allowlist"
    );
    assert_eq!(get("response_type"), Some("code"));
    assert_eq!(get("code_challenge_method"), Some("S256"));
    assert_eq!(get("scope"), Some(settings.upstream_scope().as_str()));
    assert!(get("client_id").is_some_and(|c| !c.is_empty()));
    assert!(get("code_challenge").is_some());
}

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let settings = settings();
    match oauth::authorize(settings, &input) {
        Ok(url) => check_accepted(settings, &url),
        Err(e) => assert_eq!(e.status, 400, "{e}"),
    }
    if let Ok(form) = oauth::parse_form(&input) {
        for (i, (k, _)) in form.iter().enumerate() {
            assert!(
                form[..i].iter().all(|(seen, _)| seen != k),
                "duplicate {k:?} kept"
            );
        }
    }
});
