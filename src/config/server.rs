//! HTTP server settings (SERVER_*, limits, timeouts, CORS, PUBLIC_BASE_URL), validated from the
//! raw variables. The `http` module consumes [`ServerSettings`]; it reads no variables itself.

use super::{ConfigError, Vars};
use std::time::Duration;

/// Origins allowed by default: claude.ai's web app and its claude.com successor.
pub const DEFAULT_ORIGINS: &str = "https://claude.ai,https://claude.com";

/// What BEHIND_PROXY names: the kind of proxy or load balancer in front, whose needs set
/// the defaults of KEEPALIVE_IDLE_SECS, MAX_CONNECTIONS_PER_IP and TRUST_FORWARDED_HEADERS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    /// An AWS Application Load Balancer (60 s idle timeout unless changed).
    Alb,
    /// nginx (its upstream `keepalive_timeout` is 60 s unless changed).
    Nginx,
}

impl Proxy {
    /// The value as written in BEHIND_PROXY.
    pub fn as_str(self) -> &'static str {
        match self {
            Proxy::Alb => "alb",
            Proxy::Nginx => "nginx",
        }
    }
}

/// Keep-alive behind a proxy: longer than the 60 s idle timeout of an ALB and of nginx's
/// upstream connections, so the proxy, not us, closes an idle connection (else it may send
/// a request on a connection we are closing, and its client gets a 502).
const PROXY_KEEPALIVE_SECS: u64 = 65;

/// How the HTTP server listens and protects itself.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Bind host (SERVER_HOST).
    pub host: String,
    /// Bind port (SERVER_PORT); 0 picks a free port (tests).
    pub port: u16,
    /// Most requests handled at once (WORKER_THREADS).
    pub workers: usize,
    /// Largest accepted request body (MAX_BODY_BYTES); larger gets 413.
    pub max_body: usize,
    /// Memory for request bodies and their parsing at once, whole process
    /// (MAX_BODY_BYTES_IN_FLIGHT); a body that does not fit gets 503 (or 413 if it never could).
    pub max_body_in_flight: usize,
    /// Socket read/write timeout: bounds slow clients (HTTP_READ_TIMEOUT_SECS).
    pub io_timeout: Duration,
    /// Largest request head, request line plus headers (MAX_HEADER_BYTES); larger gets 431.
    pub max_header_bytes: usize,
    /// Time allowed to send a whole request, head and body (HEADER_TIMEOUT_SECS); slower gets 408.
    pub header_timeout: Duration,
    /// Most connections read at once (MAX_CONNECTIONS); more get 503 without a thread.
    pub max_connections: usize,
    /// Most connections read at once from one client address (MAX_CONNECTIONS_PER_IP, 0 for
    /// no cap); more get 429 without a thread.
    pub max_connections_per_ip: usize,
    /// How long a kept-alive connection may wait for its next request (KEEPALIVE_IDLE_SECS).
    pub keepalive_idle: Duration,
    /// How long in-flight requests may run after SIGTERM (SHUTDOWN_TIMEOUT_SECS).
    pub shutdown_timeout: Duration,
    /// SSE keep-alive period (SSE_KEEPALIVE_SECS): under load balancers' 60 s idle cut.
    pub sse_keepalive: Duration,
    /// Most open legacy SSE sessions (MAX_SSE_SESSIONS).
    pub max_sse_sessions: usize,
    /// Origins allowed for browsers and CORS (CORS_ALLOWED_ORIGINS), without trailing slash.
    pub allowed_origins: Vec<String>,
    /// The https URL clients use (PUBLIC_BASE_URL), if set; else derived per request.
    pub public_base_url: Option<String>,
    /// Whether X-Forwarded-Host/-Proto name our base URL (TRUST_FORWARDED_HEADERS): only
    /// behind a proxy that sets them, since any client can send them otherwise.
    pub trust_forwarded: bool,
    /// The proxy in front (BEHIND_PROXY), if any; it only changes the defaults above.
    pub behind_proxy: Option<Proxy>,
}

impl ServerSettings {
    /// Reads and checks the server variables.
    pub fn from_vars(vars: &Vars) -> Result<ServerSettings, ConfigError> {
        let port = vars.number("SERVER_PORT", 8000, 0, 65_535)? as u16;
        let origins = vars.get("CORS_ALLOWED_ORIGINS").unwrap_or(DEFAULT_ORIGINS);
        let mut allowed_origins = Vec::new();
        for origin in origins.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            if origin != "*" && !(origin.starts_with("https://") || origin.starts_with("http://")) {
                return Err(ConfigError::new(
                    "CORS_ALLOWED_ORIGINS",
                    format!("{origin:?} is not an origin: use a comma-separated list like https://claude.ai,https://claude.com"),
                ));
            }
            allowed_origins.push(origin.trim_end_matches('/').to_ascii_lowercase());
        }
        if allowed_origins.iter().any(|o| o == "*") {
            return Err(ConfigError::new(
                "CORS_ALLOWED_ORIGINS",
                "\"*\" is not allowed: it would let any web page drive this server (list the origins instead)",
            ));
        }
        let public_base_url = match vars.get("PUBLIC_BASE_URL") {
            None => None,
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url.trim_end_matches('/').to_string())
            }
            Some(url) => {
                return Err(ConfigError::new(
                    "PUBLIC_BASE_URL",
                    format!("{url:?} must be an absolute URL such as https://mcp.example.com"),
                ))
            }
        };
        let max_body = vars.number("MAX_BODY_BYTES", 1 << 20, 1024, 64 << 20)? as usize;
        let max_body_in_flight =
            vars.number("MAX_BODY_BYTES_IN_FLIGHT", 16 << 20, 1024, 1 << 40)? as usize;
        if max_body_in_flight < max_body {
            return Err(ConfigError::new(
                "MAX_BODY_BYTES_IN_FLIGHT",
                format!("{max_body_in_flight} is below MAX_BODY_BYTES ({max_body}), so a body of the largest allowed size could never be read: raise it or lower MAX_BODY_BYTES"),
            ));
        }
        let behind_proxy = behind_proxy(vars)?;
        let proxied = behind_proxy.is_some();
        // Behind a proxy every connection comes from its few addresses: no per-address cap
        // (the proxy is where clients are told apart).
        let per_ip_default = if proxied { 0 } else { 256 };
        let keepalive_default = if proxied { PROXY_KEEPALIVE_SECS } else { 5 };
        let per_ip = match vars.number("MAX_CONNECTIONS_PER_IP", per_ip_default, 0, 1_000_000)? {
            0 => usize::MAX,
            n => n as usize,
        };
        Ok(ServerSettings {
            host: vars.get("SERVER_HOST").unwrap_or("0.0.0.0").to_string(),
            port,
            workers: vars.number("WORKER_THREADS", 128, 1, 16_384)? as usize,
            max_body,
            max_body_in_flight,
            io_timeout: secs(vars.number("HTTP_READ_TIMEOUT_SECS", 30, 1, 3600)?),
            max_header_bytes: vars.number("MAX_HEADER_BYTES", 32_768, 1024, 1 << 20)? as usize,
            header_timeout: secs(vars.number("HEADER_TIMEOUT_SECS", 10, 1, 3600)?),
            max_connections: vars.number("MAX_CONNECTIONS", 1024, 1, 1_000_000)? as usize,
            max_connections_per_ip: per_ip,
            keepalive_idle: secs(vars.number("KEEPALIVE_IDLE_SECS", keepalive_default, 1, 3600)?),
            shutdown_timeout: secs(vars.number("SHUTDOWN_TIMEOUT_SECS", 20, 0, 3600)?),
            sse_keepalive: secs(vars.number("SSE_KEEPALIVE_SECS", 15, 1, 300)?),
            max_sse_sessions: vars.number("MAX_SSE_SESSIONS", 10_000, 1, 1_000_000)? as usize,
            allowed_origins,
            public_base_url,
            trust_forwarded: vars.flag("TRUST_FORWARDED_HEADERS", proxied)?,
            behind_proxy,
        })
    }
}

/// BEHIND_PROXY: `none` (the default), `alb` or `nginx`.
fn behind_proxy(vars: &Vars) -> Result<Option<Proxy>, ConfigError> {
    match vars
        .get("BEHIND_PROXY")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("" | "none") => Ok(None),
        Some("alb") => Ok(Some(Proxy::Alb)),
        Some("nginx") => Ok(Some(Proxy::Nginx)),
        Some(other) => Err(ConfigError::new(
            "BEHIND_PROXY",
            format!(
                "{other:?} is not one of none, alb, nginx: name the load balancer or proxy in \
                 front (any other kind: leave this unset and set KEEPALIVE_IDLE_SECS above its \
                 idle timeout, MAX_CONNECTIONS_PER_IP=0 and TRUST_FORWARDED_HEADERS=true)"
            ),
        )),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_readme() {
        let s = ServerSettings::from_vars(&Vars::default()).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.max_body),
            ("0.0.0.0", 8000, 1 << 20)
        );
        assert_eq!(
            s.allowed_origins,
            vec!["https://claude.ai", "https://claude.com"]
        );
        assert_eq!(
            s.workers, 128,
            "fits the 128 MiB limit (memory arithmetic in docs/operations.md)"
        );
        assert!(
            !s.trust_forwarded,
            "forwarded headers are ignored unless asked for"
        );
        assert_eq!(s.max_body_in_flight, 16 << 20);
        assert_eq!(s.max_connections_per_ip, 256);
        assert_eq!(s.keepalive_idle, Duration::from_secs(5));
        assert_eq!(s.behind_proxy, None);
    }

    #[test]
    fn behind_a_proxy_the_defaults_fit_it_and_explicit_settings_still_win() {
        for proxy in ["alb", "ALB", "nginx"] {
            let s =
                ServerSettings::from_vars(&Vars::from_pairs([("BEHIND_PROXY", proxy)])).unwrap();
            assert_eq!(s.keepalive_idle, Duration::from_secs(65), "{proxy}");
            assert_eq!(s.max_connections_per_ip, usize::MAX, "{proxy}");
            assert!(s.trust_forwarded, "{proxy}");
            assert_eq!(
                s.behind_proxy.map(Proxy::as_str),
                Some(proxy.to_ascii_lowercase().as_str())
            );
        }
        let none =
            ServerSettings::from_vars(&Vars::from_pairs([("BEHIND_PROXY", "none")])).unwrap();
        assert_eq!(none.behind_proxy, None);
        assert_eq!(none.keepalive_idle, Duration::from_secs(5));
        assert!(!none.trust_forwarded);
        let explicit = ServerSettings::from_vars(&Vars::from_pairs([
            ("BEHIND_PROXY", "alb"),
            ("KEEPALIVE_IDLE_SECS", "400"),
            ("MAX_CONNECTIONS_PER_IP", "32"),
            ("TRUST_FORWARDED_HEADERS", "false"),
        ]))
        .unwrap();
        assert_eq!(explicit.keepalive_idle, Duration::from_secs(400));
        assert_eq!(explicit.max_connections_per_ip, 32);
        assert!(!explicit.trust_forwarded);
    }

    #[test]
    fn zero_connections_per_ip_means_no_cap() {
        let vars = Vars::from_pairs([("MAX_CONNECTIONS_PER_IP", "0")]);
        let s = ServerSettings::from_vars(&vars).unwrap();
        assert_eq!(s.max_connections_per_ip, usize::MAX);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("SERVER_PORT", "70000"),
            ("SERVER_PORT", "http"),
            ("WORKER_THREADS", "0"),
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("CORS_ALLOWED_ORIGINS", "claude.ai"),
            ("PUBLIC_BASE_URL", "mcp.example.com"),
            ("TRUST_FORWARDED_HEADERS", "sometimes"),
            ("MAX_BODY_BYTES_IN_FLIGHT", "4096"),
            ("KEEPALIVE_IDLE_SECS", "0"),
            ("MAX_CONNECTIONS_PER_IP", "-1"),
            ("BEHIND_PROXY", "haproxy"),
        ] {
            let e = ServerSettings::from_vars(&Vars::from_pairs([(k, v)])).unwrap_err();
            assert_eq!(e.var, k, "{k}={v}");
        }
    }
}
