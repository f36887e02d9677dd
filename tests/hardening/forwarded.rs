//! Base URL from forwarded headers (issue 10, item 7): with auth on and PUBLIC_BASE_URL unset,
//! `X-Forwarded-Host: evil.com` reaches neither the protected-resource metadata nor the
//! `WWW-Authenticate` challenge unless TRUST_FORWARDED_HEADERS=true, and start-up warns.

use crate::support::auth::{search, start};
use crate::support::fake_entra::FakeEntra;
use crate::support::server::Server;

const PRM: &str = "/.well-known/oauth-protected-resource/mcp";
const EVIL: [(&str, &str); 2] = [
    ("X-Forwarded-Host", "evil.com"),
    ("X-Forwarded-Proto", "https"),
];

/// The `resource` of the protected-resource metadata and the challenge's resource_metadata,
/// for a request carrying the forged headers.
fn advertised(s: &Server) -> (String, String) {
    let prm = s.request("GET", PRM, &EVIL, "");
    assert_eq!(prm.status, 200, "{}", prm.body);
    let resource = prm.json()["resource"].as_str().unwrap_or("").to_string();
    let mut h = EVIL.to_vec();
    h.push(("Content-Type", "application/json"));
    let r = s.request("POST", "/mcp", &h, &search(1).to_string());
    assert_eq!(r.status, 401, "{}", r.body);
    let www = r.header("www-authenticate").unwrap_or("").to_string();
    (resource, www)
}

fn warning(s: &Server) -> Option<serde_json::Value> {
    s.logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v["msg"]
                .as_str()
                .unwrap_or("")
                .contains("PUBLIC_BASE_URL is not set")
        })
}

#[test]
fn forged_forwarded_headers_are_ignored_by_default_and_start_up_warns() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let (resource, www) = advertised(&s);
    assert_eq!(resource, format!("{}/mcp", s.url));
    assert!(
        www.contains(&format!("resource_metadata=\"{}{PRM}\"", s.url)),
        "{www}"
    );
    assert!(!resource.contains("evil.com") && !www.contains("evil.com"));
    let asm = s.request("GET", "/.well-known/oauth-authorization-server", &EVIL, "");
    assert!(!asm.body.contains("evil.com"), "{}", asm.body);

    // Logged before "listening", so it is there by the time the server is up.
    let w = warning(&s).unwrap_or_else(|| panic!("no start-up warning:\n{}", s.logs()));
    assert_eq!(w["level"], "WARN", "{w}");
    let msg = w["msg"].as_str().unwrap_or("");
    assert!(
        msg.contains("set PUBLIC_BASE_URL"),
        "says what to set: {msg}"
    );
}

#[test]
fn forwarded_headers_are_used_only_when_trusted_and_public_base_url_silences_the_warning() {
    let fake = FakeEntra::start();
    let trusted = start(&fake, &[("TRUST_FORWARDED_HEADERS", "true")]);
    let (resource, www) = advertised(&trusted);
    assert_eq!(
        resource, "https://evil.com/mcp",
        "the switch does what it says"
    );
    assert!(
        www.contains(&format!("resource_metadata=\"https://evil.com{PRM}\"")),
        "{www}"
    );
    assert!(
        warning(&trusted).is_some(),
        "still warns without PUBLIC_BASE_URL"
    );

    let pinned = start(
        &fake,
        &[
            ("TRUST_FORWARDED_HEADERS", "true"),
            ("PUBLIC_BASE_URL", "https://mcp.example.com"),
        ],
    );
    let (resource, _) = advertised(&pinned);
    assert_eq!(resource, "https://mcp.example.com/mcp");
    assert!(warning(&pinned).is_none(), "{}", pinned.logs());

    // Auth off: the base URL names nothing a client trusts, so there is nothing to warn about.
    let open = Server::local(&[]);
    assert!(warning(&open).is_none(), "{}", open.logs());
}
