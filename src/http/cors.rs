//! Origin checks (DNS-rebinding protection) and CORS headers.
//!
//! A request with an `Origin` we do not allow gets 403 before any handler runs. Allowed are
//! the configured origins (claude.ai and claude.com by default), the server's own public
//! origin, and same-origin requests. CORS headers echo only an allowed origin, never `*`.

use super::request::HttpRequest;
use crate::config::ServerSettings;

const ALLOW_HEADERS: &str = "Authorization, Content-Type, Accept, Mcp-Session-Id, \
MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID, X-Request-Id";
const EXPOSE_HEADERS: &str = "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate, X-Request-Id";

/// The verdict on a request's `Origin` header.
#[derive(Debug, PartialEq, Eq)]
pub enum Origin {
    /// No Origin header: not a browser, or a same-origin navigation.
    Absent,
    /// An allowed origin, normalised.
    Allowed(String),
    /// Present and not allowed.
    Denied(String),
}

/// Decides whether the request's origin may talk to us.
pub fn check(req: &HttpRequest, settings: &ServerSettings) -> Origin {
    let Some(raw) = req.header("origin") else {
        return Origin::Absent;
    };
    let origin = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let listed = settings.allowed_origins.contains(&origin);
    let own_public = settings
        .public_base_url
        .as_deref()
        .is_some_and(|base| origin_of(base).eq_ignore_ascii_case(&origin));
    if listed || own_public || same_origin(req, &origin) {
        Origin::Allowed(origin)
    } else {
        Origin::Denied(origin)
    }
}

/// True for a local same-origin page: the Origin's host:port is the Host the request was sent
/// to *and* that Host is a loopback name. A Host header alone proves nothing: in a DNS-rebinding
/// attack the attacker's page sends its own name as both Host and Origin. Our public origin
/// is trusted only from configuration (PUBLIC_BASE_URL).
fn same_origin(req: &HttpRequest, origin: &str) -> bool {
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let Some(host) = req.header("host").map(|h| h.trim().to_ascii_lowercase()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host.as_str(),
    };
    let loopback = matches!(name, "localhost" | "127.0.0.1" | "[::1]");
    loopback && host == authority
}

/// `https://host:port/path` → `https://host:port`.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// CORS headers for a response to an allowed origin.
pub fn response_headers(origin: &str) -> Vec<(String, String)> {
    vec![
        ("Access-Control-Allow-Origin".into(), origin.to_string()),
        ("Access-Control-Allow-Credentials".into(), "true".into()),
        (
            "Access-Control-Expose-Headers".into(),
            EXPOSE_HEADERS.into(),
        ),
        ("Vary".into(), "Origin".into()),
    ]
}

/// Extra headers for a preflight (OPTIONS) answer.
pub fn preflight_headers(req: &HttpRequest) -> Vec<(String, String)> {
    // Echo the Mcp-Param-* headers a 2026-07-28 client may mirror from tool arguments.
    let mut allow = ALLOW_HEADERS.to_string();
    if let Some(requested) = req.header("access-control-request-headers") {
        for h in requested.split(',').map(str::trim) {
            let lower = h.to_ascii_lowercase();
            if lower.starts_with("mcp-param-")
                && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                allow.push_str(", ");
                allow.push_str(h);
            }
        }
    }
    vec![
        (
            "Access-Control-Allow-Methods".into(),
            "GET, POST, DELETE, OPTIONS".into(),
        ),
        ("Access-Control-Allow-Headers".into(), allow),
        ("Access-Control-Max-Age".into(), "600".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Vars;

    fn req(origin: Option<&str>, host: &str) -> HttpRequest {
        let mut headers = vec![("host".to_string(), host.to_string())];
        if let Some(o) = origin {
            headers.push(("origin".to_string(), o.to_string()));
        }
        HttpRequest {
            headers,
            ..HttpRequest::default()
        }
    }

    fn settings(extra: &[(&str, &str)]) -> ServerSettings {
        ServerSettings::from_vars(&Vars::from_pairs(extra.iter().copied())).unwrap()
    }

    #[test]
    fn claude_origins_and_same_origin_are_allowed_others_denied() {
        let s = settings(&[]);
        assert_eq!(check(&req(None, "h"), &s), Origin::Absent);
        assert_eq!(
            check(&req(Some("https://claude.ai"), "h"), &s),
            Origin::Allowed("https://claude.ai".into())
        );
        assert_eq!(
            check(&req(Some("https://Claude.com/"), "h"), &s),
            Origin::Allowed("https://claude.com".into())
        );
        assert!(matches!(
            check(&req(Some("https://evil.example"), "h"), &s),
            Origin::Denied(_)
        ));
        assert!(matches!(
            check(&req(Some("null"), "h"), &s),
            Origin::Denied(_)
        ));
        assert!(matches!(
            check(&req(Some("https://claude.ai.evil.example"), "h"), &s),
            Origin::Denied(_)
        ));
        assert!(matches!(
            check(&req(Some("http://localhost:8000"), "h"), &s),
            Origin::Denied(_)
        ));
        assert!(matches!(
            check(&req(Some("http://localhost:8000"), "localhost:8000"), &s),
            Origin::Allowed(_)
        ));
        // A rebinding attack: the page's origin is the attacker's name, the Host is too — but
        // then the request is same-origin to a name we do not serve; binding to 127.0.0.1 and
        // auth are the defence there. What we refuse is a mismatch:
        assert!(matches!(
            check(&req(Some("http://evil.example:8000"), "127.0.0.1:8000"), &s),
            Origin::Denied(_)
        ));
    }

    #[test]
    fn configured_and_public_origins_are_allowed() {
        let s = settings(&[
            ("CORS_ALLOWED_ORIGINS", "http://localhost:6274"),
            ("PUBLIC_BASE_URL", "https://mcp.example.com/"),
        ]);
        assert!(matches!(
            check(&req(Some("http://localhost:6274"), "x"), &s),
            Origin::Allowed(_)
        ));
        assert!(matches!(
            check(&req(Some("https://mcp.example.com"), "x"), &s),
            Origin::Allowed(_)
        ));
        assert!(matches!(
            check(&req(Some("https://claude.ai"), "x"), &s),
            Origin::Denied(_)
        ));
    }

    #[test]
    fn preflight_echoes_only_mcp_param_headers() {
        let mut r = req(Some("https://claude.ai"), "h");
        r.headers.push((
            "access-control-request-headers".into(),
            "Mcp-Param-Region, X-Evil, Mcp-Param-Bad\r".into(),
        ));
        let h = preflight_headers(&r);
        let allow = &h
            .iter()
            .find(|(k, _)| k == "Access-Control-Allow-Headers")
            .unwrap()
            .1;
        assert!(allow.contains("Mcp-Param-Region"));
        assert!(!allow.contains("X-Evil"));
        assert!(!allow.contains('\r'));
    }
}
