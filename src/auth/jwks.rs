//! The tenant's signing keys: fetched from Entra's JWKS endpoint and cached for all threads.
//!
//! Owns the single-flight refresh (one fetch at a time; others wait or use stale keys), the
//! TTL, the unknown-`kid` refetch rate limit and stale-while-down behaviour. Must not validate
//! tokens (jwt.rs does) and must never drop good keys because a refresh failed. Time is read
//! only through the cache's `Clock`, so tests move it rather than sleep.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;

use crate::clock::{self, SharedClock};

/// Largest JWKS we read; Entra's is a few KiB.
const MAX_JWKS_BYTES: u64 = 1024 * 1024;
/// Per-fetch time budget, so a hung endpoint cannot hold requests for long.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a key could not be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksError {
    /// Keys are cached but none has this `kid` (after any allowed refetch).
    UnknownKid,
    /// No keys were ever fetched; the text says what the last attempt hit.
    Unavailable(String),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::UnknownKid => {
                f.write_str("token signed with a key ID not in the tenant's JWKS")
            }
            JwksError::Unavailable(why) => write!(f, "no signing keys fetched yet: {why}"),
        }
    }
}

impl std::error::Error for JwksError {}

type KeyMap = HashMap<String, Arc<DecodingKey>>;

#[derive(Default)]
struct State {
    keys: Arc<KeyMap>,
    fetched_at: Option<Instant>,
    failed_at: Option<Instant>,
    last_error: Option<String>,
    last_kid_refresh: Option<Instant>,
    fetching: bool,
    /// Bumped after every fetch attempt, so waiters know one finished since they arrived.
    generation: u64,
}

/// A thread-safe JWKS cache for one tenant.
pub struct JwksCache {
    url: String,
    ttl: Duration,
    refetch_interval: Duration,
    state: Mutex<State>,
    done: Condvar,
    fetches: AtomicU64,
    clock: SharedClock,
}

impl JwksCache {
    /// A cold cache for `url`; nothing is fetched until the first key is asked for.
    pub fn new(url: String, ttl: Duration, refetch_interval: Duration) -> JwksCache {
        JwksCache::with_clock(url, ttl, refetch_interval, clock::system())
    }

    /// A cold cache that reads time from `clock` (tests move it instead of sleeping).
    pub fn with_clock(
        url: String,
        ttl: Duration,
        refetch_interval: Duration,
        clock: SharedClock,
    ) -> JwksCache {
        JwksCache {
            url,
            ttl,
            refetch_interval,
            state: Mutex::new(State::default()),
            done: Condvar::new(),
            fetches: AtomicU64::new(0),
            clock,
        }
    }

    /// How many fetches were attempted (successful or not).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key for `kid`, fetching or refreshing the JWKS when the rules allow.
    pub fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, JwksError> {
        let mut st = self.lock();
        let arrived = st.generation;
        loop {
            let now = self.clock.instant();
            let known = st.keys.get(kid).cloned();
            let fresh = st
                .fetched_at
                .is_some_and(|t| now.duration_since(t) < self.ttl);
            let backing_off = !st.keys.is_empty()
                && st
                    .failed_at
                    .is_some_and(|t| now.duration_since(t) < self.refetch_interval);
            let kid_refresh_allowed = st
                .last_kid_refresh
                .is_none_or(|t| now.duration_since(t) >= self.refetch_interval);
            // A fetch that finished while we waited counts as ours: never chain a second one.
            let want_fetch = st.generation == arrived
                && !backing_off
                && (!fresh || (known.is_none() && kid_refresh_allowed));
            if !want_fetch {
                return known.ok_or_else(|| self.miss(&st));
            }
            if st.fetching {
                if let Some(key) = known {
                    return Ok(key); // stale but valid: don't queue behind the refresh
                }
                st = self.done.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            if fresh {
                st.last_kid_refresh = Some(now);
            }
            st.fetching = true;
            drop(st);
            let result = self.fetch_guarded();
            st = self.lock();
            st.fetching = false;
            st.generation += 1;
            match result {
                Ok(keys) => {
                    st.keys = Arc::new(keys);
                    st.fetched_at = Some(self.clock.instant());
                    st.failed_at = None;
                    st.last_error = None;
                }
                Err(why) => {
                    if st.keys.is_empty() {
                        log::error!(
                            "JWKS fetch from {} failed and no keys are cached: {why}",
                            self.url
                        );
                    } else {
                        log::warn!(
                            "JWKS fetch from {} failed; still using cached keys: {why}",
                            self.url
                        );
                    }
                    st.failed_at = Some(self.clock.instant());
                    st.last_error = Some(why);
                }
            }
            self.done.notify_all();
        }
    }

    fn miss(&self, st: &State) -> JwksError {
        if st.fetched_at.is_some() {
            JwksError::UnknownKid
        } else {
            JwksError::Unavailable(
                st.last_error
                    .clone()
                    .unwrap_or_else(|| "not fetched".into()),
            )
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panicking holder is harmless.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches with the lock released; a panic inside still clears `fetching` for waiters.
    fn fetch_guarded(&self) -> Result<KeyMap, String> {
        struct Reset<'a>(&'a JwksCache, bool);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    let mut st = self.0.lock();
                    st.fetching = false;
                    st.generation += 1;
                    self.0.done.notify_all();
                }
            }
        }
        let mut guard = Reset(self, false);
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch();
        crate::metrics::jwks_fetch(result.is_ok());
        guard.1 = true;
        result
    }

    fn fetch(&self) -> Result<KeyMap, String> {
        let agent = super::http_agent();
        let mut response = agent
            .get(&self.url)
            .config()
            .timeout_global(Some(FETCH_TIMEOUT))
            .build()
            .call()
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_JWKS_BYTES)
            .read_to_vec()
            .map_err(|e| format!("reading the body failed: {e}"))?;
        parse_jwks(&body)
    }
}

/// Keeps the RSA signing keys (`use` = `sig` or absent) that have a `kid`; errors if none.
pub fn parse_jwks(body: &[u8]) -> Result<KeyMap, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the JWKS is not valid JSON ({e})"))?;
    let Some(keys) = doc.get("keys").and_then(|k| k.as_array()) else {
        return Err("the JWKS has no \"keys\" array".into());
    };
    let mut out = KeyMap::new();
    for jwk in keys {
        let text = |name: &str| jwk.get(name).and_then(|v| v.as_str());
        let usable = text("kty") == Some("RSA")
            && text("use").is_none_or(|u| u == "sig")
            && text("alg").is_none_or(|a| a == "RS256");
        let (Some(kid), Some(n), Some(e)) = (text("kid"), text("n"), text("e")) else {
            continue;
        };
        if !usable || kid.is_empty() {
            continue;
        }
        match DecodingKey::from_rsa_components(n, e) {
            Ok(key) => {
                out.insert(kid.to_string(), Arc::new(key));
            }
            Err(err) => log::warn!("skipping JWKS key {kid}: bad n/e ({err})"),
        }
    }
    if out.is_empty() {
        return Err("the JWKS contains no RSA signing key with a kid".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_rsa_signing_keys() {
        let body = br#"{"keys":[
            {"kty":"RSA","use":"sig","kid":"a","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","kid":"b","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","use":"enc","kid":"c","n":"AQAB","e":"AQAB"},
            {"kty":"EC","use":"sig","kid":"d","x":"AQAB","y":"AQAB"},
            {"kty":"RSA","use":"sig","n":"AQAB","e":"AQAB"},
            {"kty":"RSA","use":"sig","kid":"f","n":"!!","e":"AQAB"},
            {"kty":"RSA","use":"sig","kid":"g","alg":"RS512","n":"AQAB","e":"AQAB"}
        ]}"#;
        let keys = parse_jwks(body).unwrap();
        let mut kids: Vec<&String> = keys.keys().collect();
        kids.sort();
        assert_eq!(kids, ["a", "b"]);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert!(parse_jwks(b"<html>")
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(parse_jwks(b"{}").unwrap_err().contains("\"keys\""));
        assert!(parse_jwks(br#"{"keys":[]}"#)
            .unwrap_err()
            .contains("no RSA signing key"));
    }

    #[test]
    fn unreachable_endpoint_reports_unavailable() {
        // Port 9 on loopback: connection refused at once, no traffic leaves the machine.
        let cache = JwksCache::new(
            "http://127.0.0.1:9/keys".into(),
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert!(matches!(cache.key("k"), Err(JwksError::Unavailable(_))));
        assert_eq!(cache.fetch_count(), 1);
    }
}
