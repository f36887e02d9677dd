//! Fuzz target: arbitrary bytes as the `Authorization` header → `Authenticator::authenticate`.
//!
//! The first input byte picks the form (raw header, or `Bearer <rest>`) and the authenticator:
//! a *cold* one whose authority is 127.0.0.1:9 (nothing listens, so every key lookup fails
//! fast with "keys unavailable"), or a *warm* one whose JWKS comes once from a loopback
//! listener in this process, so tokens with the right `kid` reach jsonwebtoken's decoding and
//! ring's RS256 check (which fails: nobody holds the private key). Checks: no panic, no token
//! is ever accepted, and the error never echoes the token nor breaks a header line.
#![no_main]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::OnceLock;

use bedrock_mcp::auth::{AuthSettings, Authenticator};
use bedrock_mcp::config::Vars;
use libfuzzer_sys::fuzz_target;

const TENANT: &str = "4c7f2a2e-9a63-4b5e-8d4f-0c1e2a3b4c5d";
const CLIENT: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
/// The only key the warm authenticator knows (an initial corpus entry from scripts/fuzz.sh uses this kid).
const KID: &str = "fuzz-kid";
/// A 2048-bit odd modulus with no known private key, so every signature check fails.
const MODULUS: &str = "x6hRetQms7bErfc2fphtHPmzJa5dmdVTL3dCk_pAs3o1meY8EzIuN9GfSFvc9rz_UdJ64ZnAxxrsNEl-JUJiHsnaRmyVHPoQ9_GOy9sbDOGR-pEx1Q-m6wUIeMuaeoYiEa5Lzwk91D9gdz1ENlz8C7daqNHtCIqRssZv4TmVpotCxq3WTA_p0JNXQ0i3BfnrZbttu8D1CFKFuJnJWebmBIQC110K6gT8lYjDbbf71w2FsVEoYAGCTjrt_IbGxKl2YSPUrU1svaq06KwiRva6lt5BB3Ihi3hU3xHVY78S5O2Md-xkvd8YsSmtWxEq6Y6tNnHY-Ftm8Jl9Oyus80vNcQ";

fn authenticator(authority: &str) -> Authenticator {
    let vars = Vars::from_pairs([
        ("ENABLE_AUTH", "true"),
        ("ENTRA_TENANT_ID", TENANT),
        ("ENTRA_CLIENT_ID", CLIENT),
        ("ENTRA_AUTHORITY_HOST", authority),
    ]);
    let settings = AuthSettings::from_vars(&vars)
        .expect("fuzz auth settings are valid")
        .expect("ENABLE_AUTH=true yields settings");
    Authenticator::new(settings)
}

/// Nothing listens on port 9 (discard) on loopback: the connect is refused at once.
fn cold() -> &'static Authenticator {
    static COLD: OnceLock<Authenticator> = OnceLock::new();
    COLD.get_or_init(|| authenticator("http://127.0.0.1:9"))
}

/// Serves one fixed JWKS to every connection, from a thread that lives as long as the process.
fn warm() -> &'static Authenticator {
    static WARM: OnceLock<Authenticator> = OnceLock::new();
    WARM.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let body = format!(
            r#"{{"keys":[{{"kty":"RSA","use":"sig","kid":"{KID}","n":"{MODULUS}","e":"AQAB"}}]}}"#
        );
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut head = [0u8; 4096];
                let _ = conn.read(&mut head);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        authenticator(&format!("http://127.0.0.1:{port}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let header = if mode & 1 == 0 {
        text.into_owned()
    } else {
        format!("Bearer {text}")
    };
    let auth = if mode & 2 == 0 { cold() } else { warm() };
    let err = match auth.authenticate(Some(&header)) {
        Ok(p) => panic!("a token nobody could sign was accepted for {:?}", p.user),
        Err(e) => e,
    };
    let description = err.to_string();
    // The credential is the last word (`Bearer <token>`); short ones may match fixed text.
    let token = header.split_whitespace().last().unwrap_or("");
    if token.len() >= 24 {
        assert!(!description.contains(token), "the error echoes the token");
    }
    let challenge = err.www_authenticate("https://mcp.example/.well-known/x", "api://x/.default");
    assert!(
        !challenge.chars().any(char::is_control),
        "WWW-Authenticate would break the header line"
    );
});
