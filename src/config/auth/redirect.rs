//! Redirect-URI matching: byte-for-byte for web and custom-scheme callbacks, any port for
//! loopback callbacks (RFC 8252 §7.3).
//!
//! Desktop clients (Claude Code, VS Code, the MCP Inspector) listen on a loopback port the
//! operating system picks, so an allow-listed `http://localhost/callback` must accept
//! `http://localhost:53682/callback`. Only the port is loosened: the scheme is `http`, the
//! host is the same loopback literal as the allow-listed entry's (no other name, no
//! `localhost.evil.com`, no IPv4-mapped forms), and everything after the port (path, query)
//! is byte-identical. Must never make a non-loopback URI match anything but itself.

/// The loopback hosts RFC 8252 §7.3 names, plus `localhost`, which Claude Code uses.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// A loopback redirect URI taken apart.
#[derive(Debug, PartialEq, Eq)]
struct Loopback<'a> {
    /// One of `LOOPBACK_HOSTS`, exactly as written.
    host: &'a str,
    /// Path and query after the port (`/` when empty).
    rest: &'a str,
}

/// Parses `http://{loopback host}[:{port}][/{path}]`; `None` for anything else.
fn loopback(uri: &str) -> Option<Loopback<'_>> {
    let after = uri.strip_prefix("http://")?;
    let host = LOOPBACK_HOSTS.iter().find(|h| after.starts_with(**h))?;
    let tail = &after[host.len()..];
    let rest = match tail.strip_prefix(':') {
        Some(port_and_rest) => {
            let end = port_and_rest.find('/').unwrap_or(port_and_rest.len());
            let port = &port_and_rest[..end];
            let valid = (1..=5).contains(&port.len())
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
            if !valid {
                return None;
            }
            &port_and_rest[end..]
        }
        None => tail,
    };
    // Right after the host (or port) only a path may follow: `localhost.evil.com`,
    // `localhost@evil`, `127.0.0.1.nip.io` and `localhost?x` are not loopback URIs.
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let clean =
        !rest.contains(['#', '\\']) && !rest.chars().any(|c| c.is_whitespace() || c.is_control());
    clean.then_some(Loopback {
        host,
        rest: if rest.is_empty() { "/" } else { rest },
    })
}

/// True for an `http` loopback redirect URI (any port), the kind RFC 8252 §7.3 describes.
pub fn is_loopback(uri: &str) -> bool {
    loopback(uri).is_some()
}

/// Does `requested` match the allow-listed `allowed`? Exact, or both loopback with the same
/// host and path and any port.
pub fn matches(allowed: &str, requested: &str) -> bool {
    if allowed == requested {
        return true;
    }
    match (loopback(allowed), loopback(requested)) {
        (Some(a), Some(r)) => a.host == r.host && a.rest == r.rest,
        _ => false,
    }
}

/// Schemes that must never be a redirect target, whatever the configuration says.
const FORBIDDEN_SCHEMES: [&str; 10] = [
    "javascript",
    "data",
    "file",
    "vbscript",
    "about",
    "blob",
    "ftp",
    "ws",
    "wss",
    "http",
];

/// Checks a configured redirect URI: `https://host/...`, an `http` loopback URI, or a
/// private-use scheme such as `cursor://anysphere.cursor-mcp/oauth/callback` (RFC 8252 §7.1),
/// never with a fragment, whitespace or a dangerous scheme. The error says what is wrong.
pub fn check_configured(uri: &str) -> Result<(), String> {
    if uri.contains('#') || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("has a fragment, whitespace or control characters".into());
    }
    if is_loopback(uri) {
        return Ok(());
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err("is not an absolute URI".into());
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b));
    if !scheme_ok {
        return Err("has no valid lower-case scheme".into());
    }
    if scheme == "https" {
        let host = rest
            .strip_prefix("//")
            .map(|r| r.split(['/', '?']).next().unwrap_or(""));
        return match host {
            Some(h) if !h.is_empty() && !h.contains('@') => Ok(()),
            _ => Err("must name a host (https://host/path) without user information".into()),
        };
    }
    if FORBIDDEN_SCHEMES.contains(&scheme) {
        return Err(format!(
            "uses {scheme}:, which is never a safe redirect (http only for localhost, 127.0.0.1 or [::1])"
        ));
    }
    if rest.trim_start_matches('/').is_empty() {
        return Err("has nothing after the scheme".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_entries_accept_any_port_and_nothing_else() {
        let entries = [
            "http://localhost/callback",
            "http://127.0.0.1/callback",
            "http://[::1]/cb",
            "http://127.0.0.1:33418/",
            "http://localhost:6274/oauth/callback",
        ];
        let accepted = [
            (
                "http://localhost/callback",
                "http://localhost:53682/callback",
            ),
            ("http://localhost/callback", "http://localhost:1/callback"),
            (
                "http://localhost/callback",
                "http://localhost:65535/callback",
            ),
            ("http://localhost/callback", "http://localhost/callback"),
            (
                "http://127.0.0.1/callback",
                "http://127.0.0.1:8080/callback",
            ),
            ("http://[::1]/cb", "http://[::1]:61023/cb"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:49152/"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1/"),
            ("http://127.0.0.1:33418/", "http://127.0.0.1:7"),
            (
                "http://localhost:6274/oauth/callback",
                "http://localhost:9999/oauth/callback",
            ),
        ];
        for (allowed, requested) in accepted {
            assert!(
                matches(allowed, requested),
                "{allowed} should accept {requested}"
            );
        }
        let refused = [
            // another host, or a name that only starts like a loopback one
            "http://localhost.evil.com/callback",
            "http://localhost.evil.com:8080/callback",
            "http://127.0.0.1.nip.io:8080/callback",
            "http://127.0.0.2:8080/callback",
            "http://evil.example:8080/callback",
            "http://0.0.0.0:8080/callback",
            "http://[::ffff:127.0.0.1]:8080/callback",
            "http://[0:0:0:0:0:0:0:1]:8080/callback",
            "http://2130706433:8080/callback",
            "http://127.1:8080/callback",
            "http://LOCALHOST:8080/callback",
            // user information
            "http://localhost@evil.example/callback",
            "http://localhost:8080@evil.example/callback",
            "http://evil.example@localhost:8080/callback",
            "http://localhost:8080\\@evil.example/callback",
            // scheme changes
            "https://localhost:8080/callback",
            "HTTP://localhost:8080/callback",
            "ftp://localhost:8080/callback",
            "//localhost:8080/callback",
            "localhost:8080/callback",
            // path tricks
            "http://localhost:8080/callback/",
            "http://localhost:8080/callback/evil",
            "http://localhost:8080/callbackevil",
            "http://localhost:8080/Callback",
            "http://localhost:8080/",
            "http://localhost:8080",
            "http://localhost:8080/x/../callback",
            "http://localhost:8080/%63allback",
            "http://localhost:8080/callback%2F..",
            "http://localhost:8080//callback",
            // query and fragment differences
            "http://localhost:8080/callback?x=1",
            "http://localhost:8080/callback#x",
            "http://localhost:8080/callback?",
            // bad ports
            "http://localhost:/callback",
            "http://localhost:0/callback",
            "http://localhost:65536/callback",
            "http://localhost:123456/callback",
            "http://localhost:+80/callback",
            "http://localhost:-1/callback",
            "http://localhost:8o/callback",
            "http://localhost: 80/callback",
            "http://localhost:80:81/callback",
            // whitespace
            "http://localhost:8080/callback ",
            " http://localhost:8080/callback",
            "http://localhost:8080/call back",
            "",
        ];
        for requested in refused {
            for allowed in entries {
                assert!(
                    !matches(allowed, requested),
                    "{allowed} must refuse {requested:?}"
                );
            }
        }
        // The host literal must be the entry's: localhost and 127.0.0.1 do not stand in for
        // each other (RFC 8252 §8.3), nor does either for [::1].
        assert!(!matches(
            "http://localhost/callback",
            "http://127.0.0.1:8080/callback"
        ));
        assert!(!matches(
            "http://127.0.0.1/callback",
            "http://localhost:8080/callback"
        ));
        assert!(!matches(
            "http://127.0.0.1/callback",
            "http://[::1]:8080/callback"
        ));
        // A query in the entry must be there byte for byte.
        assert!(matches(
            "http://127.0.0.1/cb?a=1",
            "http://127.0.0.1:5/cb?a=1"
        ));
        assert!(!matches(
            "http://127.0.0.1/cb?a=1",
            "http://127.0.0.1:5/cb?a=2"
        ));
        assert!(!matches("http://127.0.0.1/cb?a=1", "http://127.0.0.1:5/cb"));
    }

    #[test]
    fn other_entries_match_only_themselves() {
        let claude = "https://claude.ai/api/mcp/auth_callback";
        let cursor = "cursor://anysphere.cursor-mcp/oauth/callback";
        assert!(matches(claude, claude));
        assert!(matches(cursor, cursor));
        for requested in [
            "https://claude.ai:443/api/mcp/auth_callback",
            "https://claude.ai:8443/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback/",
            "https://claude.ai/api/mcp/auth_callback?x=1",
            "https://claude.ai/api/mcp/auth_callback#x",
            "https://CLAUDE.ai/api/mcp/auth_callback",
            "http://claude.ai/api/mcp/auth_callback",
            "https://claude.ai.evil.example/api/mcp/auth_callback",
            "https://evil.example@claude.ai/api/mcp/auth_callback",
            "https://claude.ai/api/mcp/auth_callback%00",
            "https://claude.ai/api/mcp/%61uth_callback",
        ] {
            assert!(!matches(claude, requested), "{requested}");
        }
        for requested in [
            "cursor://anysphere.cursor-mcp/oauth/callback/",
            "cursor://anysphere.cursor-mcp/oauth/callback?x",
            "cursor://evil/oauth/callback",
            "CURSOR://anysphere.cursor-mcp/oauth/callback",
            "vscode://anysphere.cursor-mcp/oauth/callback",
            "http://localhost:8080/oauth/callback",
        ] {
            assert!(!matches(cursor, requested), "{requested}");
        }
        // A non-loopback http entry never gains the port rule, nor do https loopback entries.
        assert!(!matches(
            "http://example.test/cb",
            "http://example.test:81/cb"
        ));
        assert!(!matches("https://localhost/cb", "https://localhost:81/cb"));
    }

    #[test]
    fn configured_entries_are_checked() {
        for good in [
            "https://claude.ai/api/mcp/auth_callback",
            "https://vscode.dev/redirect",
            "http://localhost",
            "http://127.0.0.1:33418/",
            "http://[::1]/cb",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "vscode://vscode.github-authentication/did-authenticate",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(check_configured(good), Ok(()), "{good}");
        }
        for bad in [
            "http://evil.example/cb",
            "http://localhost.evil.com/cb",
            "https://x/cb#frag",
            "https://",
            "https:///path",
            "https://user@host/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "JAVASCRIPT:alert(1)",
            "cursor:",
            "no-scheme",
            "https://x/a b",
            "",
        ] {
            assert!(check_configured(bad).is_err(), "{bad}");
        }
    }
}
