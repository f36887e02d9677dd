//! Each signed-in user's own AWS session: their validated Entra access token exchanged with
//! STS `AssumeRoleWithWebIdentity` (through `sts`) for credentials that carry their identity,
//! cached per user.
//!
//! The cache key is (issuer, tenant, oid, role ARN, upn, email, duration): a renamed user or a
//! changed setting gets a new session. An entry is used until the refresh point of its
//! credentials (5 minutes before expiry, or half-way through a short life) and never past the
//! `exp` of the token that made it. One STS call per key at a time: concurrent requests of the
//! same user wait for it (single flight). At most [`CAPACITY`] entries and [`MAX_BYTES`] of
//! them (about 1,000 sessions of ~2 KiB); the least recently used goes first. Failures are not cached. Counts hits, misses and coalesced waits in the
//! metrics, never by user. Never logs a token, key, session token or identity context.

use super::sts::{AssumeRequest, Assumed, Disposition, Purpose, Sts, StsCode, StsError};
use super::web_identity::WebIdentity;
use crate::clock::{self, SharedClock};
use crate::config::sessions::UserSessionSettings;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// Most cached sessions.
pub const CAPACITY: usize = 10_000;
/// Most bytes the cached sessions may hold (counted in the README's memory arithmetic): an
/// entry is ~2 KiB (a session token with identity context is ~1.2 KiB), so ~1,000 sessions.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// What an entry costs besides its strings: the map slot, the Arc and the allocator.
const ENTRY_OVERHEAD: usize = 256;
/// Refresh this long before the credentials expire.
const REFRESH_BUFFER: Duration = Duration::from_secs(5 * 60);

/// A user's session: what to sign with and who AWS says they are.
pub type UserSession = Assumed;

/// Why a user has no session, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The token was refused as such (expired, revoked): the user must sign in again.
    Reauthenticate(String),
    /// STS refused or was unreachable; the text names what to fix or that it passes.
    Failed(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Reauthenticate(m) | SessionError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SessionError {}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    issuer: String,
    tenant: String,
    object_id: String,
    upn: Option<String>,
    email: Option<String>,
}

enum Slot {
    Ready {
        session: Arc<UserSession>,
        use_until: SystemTime,
        last_used: u64,
        bytes: usize,
    },
    Pending(Arc<Flight>),
}

/// One STS call in progress; waiters block on it.
#[derive(Default)]
struct Flight {
    done: Mutex<Option<Result<Arc<UserSession>, StsError>>>,
    finished: Condvar,
}

impl Flight {
    fn finish(&self, result: Result<Arc<UserSession>, StsError>) {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        if done.is_none() {
            *done = Some(result);
        }
        self.finished.notify_all();
    }

    fn wait(&self) -> Result<Arc<UserSession>, StsError> {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(result) = done.as_ref() {
                return result.clone();
            }
            done = self.finished.wait(done).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[derive(Default)]
struct Cache {
    slots: HashMap<Key, Slot>,
    tick: u64,
    /// Bytes held by ready entries.
    bytes: usize,
}

/// The per-user sessions and their cache. Shared by all threads.
pub struct UserSessions {
    settings: UserSessionSettings,
    sts: Sts,
    cache: Mutex<Cache>,
    clock: SharedClock,
    capacity: usize,
    max_bytes: usize,
}

impl fmt::Debug for UserSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSessions")
            .field("role_arn", &self.settings.role_arn)
            .field("sts", &self.sts)
            .finish_non_exhaustive()
    }
}

impl UserSessions {
    /// Sessions for `settings` (validated by `config::sessions`); does no I/O.
    pub fn new(settings: &UserSessionSettings) -> UserSessions {
        UserSessions {
            sts: Sts::new(&settings.sts_endpoint),
            settings: settings.clone(),
            cache: Mutex::new(Cache::default()),
            clock: clock::system(),
            capacity: CAPACITY,
            max_bytes: MAX_BYTES,
        }
    }

    /// The same, reading time from `clock` and keeping at most `capacity` entries (tests).
    pub fn with_clock(mut self, clock: SharedClock, capacity: usize) -> UserSessions {
        self.clock = clock;
        self.capacity = capacity.max(1);
        self
    }

    /// The settings in use.
    pub fn settings(&self) -> &UserSessionSettings {
        &self.settings
    }

    /// The same, with at most `max_bytes` of cached sessions (tests).
    pub fn with_max_bytes(mut self, max_bytes: usize) -> UserSessions {
        self.max_bytes = max_bytes;
        self
    }

    /// Sessions cached now.
    pub fn cached(&self) -> usize {
        self.lock().slots.len()
    }

    /// Bytes the cached sessions hold now.
    pub fn cached_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// The user's session: cached, or from one STS call shared by all their concurrent requests.
    pub fn session(&self, who: &WebIdentity) -> Result<Arc<UserSession>, SessionError> {
        self.session_with(who, |request| {
            self.sts
                .assume_role_with_web_identity(request, Purpose::User)
        })
    }

    /// [`UserSessions::session`] with the STS call supplied (tests script it).
    pub fn session_with(
        &self,
        who: &WebIdentity,
        fetch: impl FnOnce(&AssumeRequest<'_>) -> Result<Assumed, StsError>,
    ) -> Result<Arc<UserSession>, SessionError> {
        let key = Key {
            issuer: who.issuer.clone(),
            tenant: who.tenant.clone(),
            object_id: who.object_id.clone(),
            upn: who.upn.clone(),
            email: who.email.clone(),
        };
        let now = self.clock.now();
        let mut cache = self.lock();
        cache.tick += 1;
        let tick = cache.tick;
        match cache.slots.get_mut(&key) {
            Some(Slot::Ready {
                session,
                use_until,
                last_used,
                ..
            }) if now < *use_until => {
                *last_used = tick;
                crate::metrics::user_credentials("hit");
                return Ok(session.clone());
            }
            Some(Slot::Pending(flight)) => {
                let flight = flight.clone();
                drop(cache);
                crate::metrics::user_credentials("coalesced");
                return flight.wait().map_err(|e| self.explain(&e, who));
            }
            _ => {}
        }
        self.make_room(&mut cache, now, 0);
        let flight = Arc::new(Flight::default());
        // A stale entry of this key gives way to the call in flight.
        if let Some(Slot::Ready { bytes, .. }) = cache
            .slots
            .insert(key.clone(), Slot::Pending(flight.clone()))
        {
            cache.bytes -= bytes;
        }
        drop(cache);
        crate::metrics::user_credentials("miss");
        // Ends the flight (and frees the slot) even if the fetch panics.
        let mut guard = FlightGuard {
            sessions: self,
            key,
            flight,
            token_exp: who.expires,
            result: None,
        };
        let result = self.fetch(who, fetch);
        guard.result = Some(result.clone());
        drop(guard);
        result.map_err(|e| self.explain(&e, who))
    }

    fn fetch(
        &self,
        who: &WebIdentity,
        fetch: impl FnOnce(&AssumeRequest<'_>) -> Result<Assumed, StsError>,
    ) -> Result<Arc<UserSession>, StsError> {
        if who.object_id.is_empty() || !who.object_id.bytes().all(super::sts_name_byte) {
            return Err(StsError::Local(
                "the token's oid claim is missing or not a GUID, so no AWS session name can be \
                 made from it"
                    .into(),
            ));
        }
        let session_name = format!("{}{}", self.settings.session_prefix, who.object_id);
        let request = AssumeRequest {
            role_arn: &self.settings.role_arn,
            session_name: &session_name,
            duration_seconds: Some(self.settings.duration_seconds),
            token: who.token(),
        };
        fetch(&request).map(Arc::new)
    }

    /// Drops expired entries when full (in entries, or in bytes with `incoming` more), then
    /// the least recently used ready ones until there is room.
    fn make_room(&self, cache: &mut Cache, now: SystemTime, incoming: usize) {
        let full =
            |c: &Cache| c.slots.len() >= self.capacity || c.bytes + incoming > self.max_bytes;
        if !full(cache) {
            return;
        }
        let mut freed = 0;
        cache.slots.retain(|_, slot| match slot {
            Slot::Ready {
                use_until, bytes, ..
            } if now >= *use_until => {
                freed += *bytes;
                false
            }
            _ => true,
        });
        cache.bytes -= freed;
        while full(cache) {
            let oldest = cache
                .slots
                .iter()
                .filter_map(|(k, slot)| match slot {
                    Slot::Ready { last_used, .. } => Some((*last_used, k)),
                    Slot::Pending(_) => None,
                })
                .min_by_key(|(used, _)| *used)
                .map(|(_, k)| k.clone());
            let Some(k) = oldest else {
                // Only calls in flight: let the map grow by them rather than block.
                break;
            };
            if let Some(Slot::Ready { bytes, .. }) = cache.slots.remove(&k) {
                cache.bytes -= bytes;
            }
        }
    }

    /// Stores a finished fetch: ready until its refresh point (never past the token's `exp`),
    /// or removed when it failed.
    fn store(&self, key: Key, result: &Result<Arc<UserSession>, StsError>, token_exp: SystemTime) {
        let now = self.clock.now();
        if let Ok(s) = result {
            if s.expires <= now {
                log::warn!(
                    "AWS STS issued a user session that is already expired; is the clock right?"
                );
            }
        }
        let mut cache = self.lock();
        // The pending slot goes first; it holds no bytes.
        cache.slots.remove(&key);
        let Ok(session) = result else {
            return;
        };
        let bytes = entry_bytes(&key, session);
        if bytes > self.max_bytes {
            return;
        }
        self.make_room(&mut cache, now, bytes);
        let life = session.expires.duration_since(now).unwrap_or_default();
        let ahead = session.expires.checked_sub(REFRESH_BUFFER).unwrap_or(now);
        let refresh_at = ahead.max(now + life / 2);
        let tick = cache.tick;
        cache.bytes += bytes;
        cache.slots.insert(
            key,
            Slot::Ready {
                session: session.clone(),
                use_until: refresh_at.min(token_exp),
                last_used: tick,
                bytes,
            },
        );
    }

    /// Words a failure for the user and the operator; decides re-authentication.
    fn explain(&self, e: &StsError, who: &WebIdentity) -> SessionError {
        let role = &self.settings.role_arn;
        let code = e.code().unwrap_or("");
        let kind = e.kind();
        let token_expired = self.clock.now() >= who.expires;
        let reauth = match e.disposition() {
            Disposition::Reauthenticate => true,
            _ => kind == Some(StsCode::InvalidIdentityToken) && token_expired,
        };
        if reauth {
            return SessionError::Reauthenticate(format!(
                "AWS STS refused the sign-in token ({}): sign in again",
                if code.is_empty() { "expired" } else { code }
            ));
        }
        let fix = match (e.disposition(), kind) {
            (Disposition::Transient, _) => format!(
                "AWS STS at {} is unavailable ({e}); try again in a little while (an \
                 IDPCommunicationError means AWS could not reach Entra ID's OpenID configuration \
                 or signing keys)",
                self.sts.endpoint()
            ),
            (_, Some(StsCode::AccessDenied)) => format!(
                "AWS STS refused AssumeRoleWithWebIdentity into AWS_USER_ROLE_ARN={role} ({e}). \
                 An administrator must fix the role's trust policy: Principal.Federated = the IAM \
                 OIDC provider of the token's issuer, Action sts:AssumeRoleWithWebIdentity and \
                 sts:SetContext, and an :aud condition equal to the token's audience \
                 (deployment/iam/user-role-trust-policy.json)"
            ),
            (_, Some(StsCode::InvalidIdentityToken)) => format!(
                "AWS STS could not validate the sign-in token ({e}). An administrator must check \
                 the IAM OIDC identity provider: its URL must be exactly the token's issuer {} \
                 and its ClientIDList must hold the token's audience (the API's client id, and \
                 api://<client id> for v1 tokens); see deployment/iam/entra-oidc-provider.json",
                who.issuer
            ),
            (_, Some(StsCode::RegionDisabled)) => format!(
                "AWS STS is not activated in the region of {} ({e}): activate it (IAM → Account \
                 settings) or point AWS_ENDPOINT_URL_STS at a region where it is",
                self.sts.endpoint()
            ),
            (_, Some(StsCode::IdpRejectedClaim | StsCode::ExpiredToken)) => {
                format!("AWS STS refused the sign-in token ({e}); sign in again")
            }
            _ => format!(
                "AWS STS refused AssumeRoleWithWebIdentity into AWS_USER_ROLE_ARN={role} ({e}); \
                 check the role, its trust policy, the IAM OIDC provider and \
                 AWS_USER_SESSION_SECONDS against the role's maximum session duration"
            ),
        };
        SessionError::Failed(fix)
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What an entry holds in memory, roughly: its strings plus a fixed overhead.
fn entry_bytes(key: &Key, s: &UserSession) -> usize {
    let opt = |o: &Option<String>| o.as_ref().map_or(0, String::len);
    let c = &s.credentials;
    let context = s.context.as_ref().map_or(0, |x| {
        opt(&x.subject)
            + opt(&x.subject_type)
            + opt(&x.issuer)
            + opt(&x.federated_provider_arn)
            + x.identity_provider
                .iter()
                .map(|(k, v)| k.len() + v.len() + 48)
                .sum::<usize>()
    });
    ENTRY_OVERHEAD
        + key.issuer.len()
        + key.tenant.len()
        + key.object_id.len()
        + opt(&key.upn)
        + opt(&key.email)
        + c.access_key_id().len()
        + c.secret_access_key().len()
        + c.session_token().map_or(0, str::len)
        + s.assumed_role_arn.len()
        + opt(&s.subject_from_token)
        + context
}

/// Stores the result and wakes the waiters when the fetching request is done with it.
struct FlightGuard<'a> {
    sessions: &'a UserSessions,
    key: Key,
    flight: Arc<Flight>,
    token_exp: SystemTime,
    result: Option<Result<Arc<UserSession>, StsError>>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let result = self.result.take().unwrap_or_else(|| {
            Err(StsError::Local(
                "the AWS session request failed unexpectedly".into(),
            ))
        });
        self.sessions
            .store(self.key.clone(), &result, self.token_exp);
        self.flight.finish(result);
    }
}

#[cfg(test)]
mod tests;
