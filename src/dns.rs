//! Name resolution for our outgoing calls (Bedrock, Entra, credential endpoints).
//!
//! ureq resolves the host before every request, even one a pooled connection will carry,
//! and with a timeout configured it does so on a freshly spawned thread: a thread and a DNS
//! lookup per Bedrock call (measured: one `clone3` for every two to three tools/calls, and
//! the largest single cost per call). This resolver keeps each answer for a few seconds, so
//! a busy server asks about once per host per `FRESH`; misses still go through ureq's own
//! resolver, timeout included.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use ureq::Agent;

/// How long an answer is reused. getaddrinfo does not tell us the record's TTL; AWS and
/// Entra endpoints keep theirs at a minute or more, and a pooled connection outlives this
/// anyway.
const FRESH: Duration = Duration::from_secs(10);
/// How long an older answer may stand in while lookups fail (a resolver blip must not fail
/// calls to an endpoint whose address has not changed).
const STALE_OK: Duration = Duration::from_secs(300);
/// Hosts remembered at most: we call a handful; the bound only guards against surprises.
const MAX_HOSTS: usize = 32;

/// An agent with ureq's default transport and our caching resolver.
pub fn agent(config: Config) -> Agent {
    Agent::with_parts(
        config,
        DefaultConnector::default(),
        CachingResolver::<DefaultResolver>::default(),
    )
}

/// A resolver (ureq's by default) behind a small time-bounded cache, keyed by scheme and
/// authority.
#[derive(Debug, Default)]
pub struct CachingResolver<R = DefaultResolver> {
    inner: R,
    cache: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl<R> CachingResolver<R> {
    fn cache(&self) -> MutexGuard<'_, HashMap<String, (Instant, ResolvedSocketAddrs)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let Some(authority) = uri.authority() else {
            return self.inner.resolve(uri, config, timeout);
        };
        let key = format!("{}://{authority}", uri.scheme_str().unwrap_or_default());
        let now = Instant::now();
        let cached = self.cache().get(&key).cloned();
        if let Some((at, addrs)) = &cached {
            if now.duration_since(*at) < FRESH {
                return Ok(addrs.clone());
            }
        }
        match self.inner.resolve(uri, config, timeout) {
            Ok(addrs) => {
                let mut cache = self.cache();
                if cache.len() >= MAX_HOSTS && !cache.contains_key(&key) {
                    cache.clear();
                }
                cache.insert(key, (now, addrs.clone()));
                Ok(addrs)
            }
            Err(e) => match cached {
                Some((at, addrs)) if now.duration_since(at) < STALE_OK => {
                    log::warn!(
                        "resolving {authority} failed ({e}); using the address found {} s ago",
                        now.duration_since(at).as_secs()
                    );
                    Ok(addrs)
                }
                _ => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{SocketAddr, TcpListener};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// A resolver that answers 10.9.8.7 (or fails, when told to) and counts its lookups.
    #[derive(Debug, Default)]
    struct Scripted {
        lookups: AtomicUsize,
        fail: AtomicBool,
    }

    impl Resolver for Scripted {
        fn resolve(
            &self,
            _: &Uri,
            _: &Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(ureq::Error::HostNotFound);
            }
            let mut addrs = self.empty();
            addrs.push("10.9.8.7:443".parse::<SocketAddr>().expect("literal"));
            Ok(addrs)
        }
    }

    fn resolve<R: Resolver>(r: &CachingResolver<R>, uri: &str) -> Result<String, ureq::Error> {
        let uri: Uri = uri.parse().expect("test uri");
        let addrs = r.resolve(
            &uri,
            &Agent::config_builder().build(),
            NextTimeout::default(),
        )?;
        Ok(addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(","))
    }

    /// Makes every cached answer `age` old.
    fn age_entries<R>(r: &CachingResolver<R>, age: Duration) {
        let then = Instant::now()
            .checked_sub(age)
            .expect("uptime longer than the test ages");
        for entry in r.cache().values_mut() {
            entry.0 = then;
        }
    }

    #[test]
    fn a_fresh_answer_is_reused_per_scheme_and_authority() {
        let r = CachingResolver::<Scripted>::default();
        assert_eq!(
            resolve(&r, "https://bedrock.example/a").unwrap(),
            "10.9.8.7:443"
        );
        assert_eq!(
            resolve(&r, "https://bedrock.example/b").unwrap(),
            "10.9.8.7:443"
        );
        assert_eq!(r.inner.lookups.load(Ordering::SeqCst), 1);
        resolve(&r, "https://bedrock.example:8443/").unwrap();
        resolve(&r, "http://bedrock.example/").unwrap();
        assert_eq!(r.inner.lookups.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn an_old_answer_is_looked_up_again() {
        let r = CachingResolver::<Scripted>::default();
        resolve(&r, "https://bedrock.example/").unwrap();
        age_entries(&r, FRESH + Duration::from_secs(1));
        resolve(&r, "https://bedrock.example/").unwrap();
        assert_eq!(r.inner.lookups.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_stale_answer_stands_in_while_lookups_fail_but_not_forever() {
        let r = CachingResolver::<Scripted>::default();
        resolve(&r, "https://bedrock.example/").unwrap();
        r.inner.fail.store(true, Ordering::SeqCst);
        age_entries(&r, FRESH + Duration::from_secs(1));
        assert_eq!(
            resolve(&r, "https://bedrock.example/").unwrap(),
            "10.9.8.7:443"
        );
        age_entries(&r, STALE_OK + Duration::from_secs(1));
        assert!(matches!(
            resolve(&r, "https://bedrock.example/"),
            Err(ureq::Error::HostNotFound)
        ));
        // Never seen, so nothing to stand in.
        assert!(resolve(&r, "https://other.example/").is_err());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let r = CachingResolver::<Scripted>::default();
        for i in 0..MAX_HOSTS * 3 {
            resolve(&r, &format!("https://host{i}.example/")).unwrap();
            assert!(r.cache().len() <= MAX_HOSTS);
        }
    }

    #[test]
    fn the_agent_reaches_a_local_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
            }
        });
        let agent = agent(Agent::config_builder().build());
        let response = agent
            .get(format!("http://127.0.0.1:{port}/"))
            .call()
            .unwrap();
        assert_eq!(response.status(), 204);
        server.join().unwrap();
    }
}
