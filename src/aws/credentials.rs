//! The AWS credentials chain, in SDK order: environment keys, then web identity (EKS IRSA),
//! then ECS/EKS container credentials, then EC2 instance metadata (IMDSv2) — and the cache
//! in front of it.
//!
//! Temporary credentials are refreshed ahead of expiry, one refresh at a time however many
//! threads ask; while a refresh runs or after it fails, still-valid credentials keep being
//! served. Time is read only through the chain's `Clock`, so tests move it rather than sleep.
//! Must never log or print a secret key or session token (Debug is redacted).

pub use super::error::CredentialsError;

use super::container::ContainerSource;
use super::imds::ImdsSource;
use super::web_identity_file::WebIdentitySource;
use crate::clock::{self, SharedClock};
use crate::config::aws::{self as settings, CredentialSource};
use crate::config::Vars;
use crate::rfc3339;
use aws_credential_types::Credentials;
use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Refresh this long before expiry (as the SDKs do), so no request is signed with a key that
/// dies in flight.
const REFRESH_BUFFER: Duration = Duration::from_secs(5 * 60);
/// After a failed refresh while the old credentials still work, wait this long before retrying.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

enum Source {
    Environment(Credentials),
    WebIdentity(WebIdentitySource),
    Container(ContainerSource),
    Imds(ImdsSource),
}

struct Cached {
    credentials: Credentials,
    expires: Option<SystemTime>,
    refresh_at: Option<SystemTime>,
    detail: String,
}

impl Cached {
    fn new(fetched: Fetched, now: SystemTime) -> Cached {
        // Normally 5 minutes ahead; for short-lived credentials never later than half-way
        // through their life, so we do not refetch on every call.
        let refresh_at = fetched.expires.map(|exp| {
            let life = exp.duration_since(now).unwrap_or_default();
            let ahead = exp.checked_sub(REFRESH_BUFFER).unwrap_or(now);
            ahead.max(now + life / 2)
        });
        Cached {
            credentials: fetched.credentials,
            expires: fetched.expires,
            refresh_at,
            detail: fetched.detail,
        }
    }

    fn is_valid(&self, now: SystemTime) -> bool {
        self.expires.is_none_or(|exp| now < exp)
    }

    fn is_fresh(&self, now: SystemTime) -> bool {
        self.refresh_at.is_none_or(|at| now < at)
    }
}

#[derive(Default)]
struct State {
    current: Option<Cached>,
    refreshing: bool,
    /// Bumped whenever a refresh ends, so waiters know theirs is over.
    generation: u64,
    last_error: Option<CredentialsError>,
    retry_after: Option<Instant>,
}

/// The credentials chain with its cache. Shared by all threads.
pub struct CredentialChain {
    source: Source,
    agent: ureq::Agent,
    state: Mutex<State>,
    refreshed: Condvar,
    clock: SharedClock,
}

impl fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialChain")
            .field("source", &self.describe())
            .finish_non_exhaustive()
    }
}

impl CredentialChain {
    /// The chain for the source `config::aws` picked; does no network I/O.
    pub fn new(source: &CredentialSource) -> CredentialChain {
        let source = match source.clone() {
            CredentialSource::Environment {
                access_key_id,
                secret_access_key,
                session_token,
            } => Source::Environment(Credentials::new(
                access_key_id,
                secret_access_key,
                session_token,
                None,
                "environment",
            )),
            CredentialSource::WebIdentity {
                token_file,
                role_arn,
                session_name,
                sts_endpoint,
            } => Source::WebIdentity(WebIdentitySource::new(
                token_file,
                role_arn,
                session_name,
                &sts_endpoint,
            )),
            CredentialSource::Container { url, token } => {
                Source::Container(ContainerSource::new(url, token))
            }
            CredentialSource::Imds {
                endpoint,
                timeout,
                attempts,
            } => Source::Imds(ImdsSource::new(endpoint, timeout, attempts)),
        };
        CredentialChain {
            source,
            agent: super::http::metadata_agent(),
            state: Mutex::new(State::default()),
            refreshed: Condvar::new(),
            clock: clock::system(),
        }
    }

    /// Validates the credentials variables through `config::aws`, then builds the chain (for
    /// tests and embedders; the server builds it from its validated settings).
    pub fn from_vars(vars: &Vars) -> Result<CredentialChain, CredentialsError> {
        match settings::credential_source(vars) {
            Ok(Some(source)) => Ok(CredentialChain::new(&source)),
            Ok(None) => Err(CredentialsError::NotFound),
            Err(e) => Err(CredentialsError::Config {
                var: e.var,
                message: e.message,
            }),
        }
    }

    /// The same chain reading time from `clock` (tests move it instead of sleeping).
    pub fn with_clock(mut self, clock: SharedClock) -> CredentialChain {
        self.clock = clock;
        self
    }

    /// Current credentials, fetched or refreshed if needed.
    pub fn credentials(&self) -> Result<Credentials, CredentialsError> {
        if let Source::Environment(creds) = &self.source {
            return Ok(creds.clone());
        }
        let mut state = self.lock();
        loop {
            let now = self.clock.now();
            if let Some(cached) = &state.current {
                let backing_off = state.retry_after.is_some_and(|t| self.clock.instant() < t);
                if cached.is_fresh(now)
                    || (cached.is_valid(now) && (state.refreshing || backing_off))
                {
                    return Ok(cached.credentials.clone());
                }
            }
            if !state.refreshing {
                break;
            }
            // Nothing usable and someone else is fetching: wait for their result.
            let generation = state.generation;
            while state.refreshing && state.generation == generation {
                state = self
                    .refreshed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            let usable = state
                .current
                .as_ref()
                .is_some_and(|c| c.is_valid(self.clock.now()));
            if let (Some(err), false) = (&state.last_error, usable) {
                return Err(err.clone());
            }
        }
        state.refreshing = true;
        drop(state);
        self.refresh()
    }

    /// Which source is in use, with non-secret details (role, expiry).
    pub fn describe(&self) -> String {
        let web;
        let (name, where_) = match &self.source {
            Source::Environment(_) => return "environment".to_string(),
            Source::WebIdentity(w) => {
                web = w.describe();
                ("web identity", web.as_str())
            }
            Source::Container(c) => ("container", c.url()),
            Source::Imds(i) => ("imds", i.endpoint()),
        };
        let state = self.lock();
        match &state.current {
            None => format!("{name} ({where_}), not fetched yet"),
            Some(c) => {
                let detail = if c.detail.is_empty() {
                    String::new()
                } else {
                    format!(" {}", c.detail)
                };
                let expiry = c
                    .expires
                    .map(|e| format!(", expires {}", rfc3339::format(e)))
                    .unwrap_or_default();
                format!("{name}{detail} ({where_}){expiry}")
            }
        }
    }

    /// Runs one fetch; the caller has set `refreshing`.
    fn refresh(&self) -> Result<Credentials, CredentialsError> {
        let guard = RefreshGuard(self);
        let result = match &self.source {
            Source::Environment(c) => Ok(Fetched {
                credentials: c.clone(),
                expires: None,
                detail: String::new(),
            }),
            Source::WebIdentity(w) => w.fetch(),
            Source::Container(c) => c.fetch(&self.agent),
            Source::Imds(i) => i.fetch(&self.agent),
        };
        crate::metrics::credential_refresh(result.is_ok());
        let now = self.clock.now();
        let mut state = self.lock();
        let outcome = match result {
            Ok(fetched) => {
                if fetched.expires.is_some_and(|e| e <= now) {
                    log::warn!(
                        "the AWS credentials just fetched are already expired; is the clock right?"
                    );
                }
                let cached = Cached::new(fetched, now);
                let creds = cached.credentials.clone();
                log::info!(
                    "AWS credentials refreshed (access key {}, expires {})",
                    creds.access_key_id(),
                    cached
                        .expires
                        .map(rfc3339::format)
                        .unwrap_or_else(|| "never".into())
                );
                state.current = Some(cached);
                state.last_error = None;
                state.retry_after = None;
                Ok(creds)
            }
            Err(err) => {
                state.last_error = Some(err.clone());
                let still_valid = state
                    .current
                    .as_ref()
                    .filter(|c| c.is_valid(now))
                    .map(|c| c.credentials.clone());
                match still_valid {
                    Some(creds) => {
                        log::warn!(
                            "AWS credentials refresh failed, still using the current ones: {err}"
                        );
                        state.retry_after = Some(self.clock.instant() + RETRY_AFTER_FAILURE);
                        Ok(creds)
                    }
                    None => Err(err),
                }
            }
        };
        drop(state);
        drop(guard);
        outcome
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Ends a refresh and wakes the waiters, even if the fetch panicked.
struct RefreshGuard<'a>(&'a CredentialChain);

impl Drop for RefreshGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.refreshing = false;
        state.generation += 1;
        self.0.refreshed.notify_all();
    }
}

/// What a provider (container.rs, imds.rs) returned from one fetch. Holds secrets: no Debug,
/// never logged.
pub(super) struct Fetched {
    pub(super) credentials: Credentials,
    pub(super) expires: Option<SystemTime>,
    /// Non-secret detail for `describe`, e.g. "role MyRole".
    pub(super) detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(pairs: &[(&str, &str)]) -> Result<CredentialChain, CredentialsError> {
        CredentialChain::from_vars(&Vars::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn picks_sources_in_sdk_order() {
        let env = [
            ("AWS_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ];
        let container = ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds");
        let both = [env[0], env[1], container];
        assert_eq!(chain(&both).unwrap().describe(), "environment");
        assert_eq!(
            chain(&[container]).unwrap().describe(),
            "container (http://169.254.170.2/v2/creds), not fetched yet"
        );
        assert_eq!(
            chain(&[]).unwrap().describe(),
            "imds (http://169.254.169.254), not fetched yet"
        );
        let irsa = [
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/r"),
            ("AWS_REGION", "eu-west-1"),
        ];
        assert_eq!(
            chain(&[irsa[0], irsa[1], irsa[2], container])
                .unwrap()
                .describe(),
            "web identity (https://sts.eu-west-1.amazonaws.com, token file /var/run/token), not fetched yet"
        );
        let disabled = ("AWS_EC2_METADATA_DISABLED", "true");
        assert_eq!(
            chain(&[container, disabled])
                .unwrap()
                .describe()
                .split(' ')
                .next(),
            Some("container")
        );
        assert_eq!(chain(&[disabled]).unwrap_err(), CredentialsError::NotFound);
    }

    #[test]
    fn half_set_keys_are_a_config_error() {
        let e = chain(&[("AWS_ACCESS_KEY_ID", "AKIA1")]).unwrap_err();
        assert!(e.to_string().starts_with("AWS_SECRET_ACCESS_KEY:"), "{e}");
        let e = chain(&[("AWS_SECRET_ACCESS_KEY", "x")]).unwrap_err();
        assert!(e.to_string().starts_with("AWS_ACCESS_KEY_ID:"), "{e}");
        let e = chain(&[("AWS_EC2_METADATA_DISABLED", "maybe")]).unwrap_err();
        assert!(e.to_string().contains("AWS_EC2_METADATA_DISABLED"), "{e}");
    }

    #[test]
    fn environment_keys_are_served_and_debug_is_redacted() {
        let c = chain(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "topsecret"),
            ("AWS_SESSION_TOKEN", "sessiontok"),
        ])
        .unwrap();
        let creds = c.credentials().unwrap();
        assert_eq!(creds.access_key_id(), "AKIAENV");
        assert_eq!(creds.session_token(), Some("sessiontok"));
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("topsecret") && !dbg.contains("sessiontok"),
            "{dbg}"
        );
    }

    #[test]
    fn refresh_point_is_five_minutes_ahead_or_half_life() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let fetched = |life: u64| Fetched {
            credentials: Credentials::new("a", "b", None, None, "t"),
            expires: Some(now + Duration::from_secs(life)),
            detail: String::new(),
        };
        let six_hours = Cached::new(fetched(6 * 3600), now);
        assert_eq!(
            six_hours.refresh_at,
            Some(now + Duration::from_secs(6 * 3600 - 300))
        );
        let short = Cached::new(fetched(6), now);
        assert_eq!(short.refresh_at, Some(now + Duration::from_secs(3)));
        assert!(short.is_fresh(now + Duration::from_secs(2)));
        assert!(!short.is_fresh(now + Duration::from_secs(4)));
        assert!(short.is_valid(now + Duration::from_secs(5)));
        assert!(!short.is_valid(now + Duration::from_secs(6)));
    }
}
