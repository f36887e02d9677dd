//! A fake EC2 instance metadata service (IMDSv2) and ECS container credentials endpoint on
//! one 127.0.0.1 port.
//!
//! IMDS: `PUT /latest/api/token` (needs the TTL header) → token; GETs under
//! `/latest/meta-data/iam/security-credentials/` need that token (401 otherwise) and list the
//! role, then return `{Code, AccessKeyId, SecretAccessKey, Token, Expiration}`. Container:
//! `GET CONTAINER_PATH`, checking `Authorization` when a token is set. Credentials can rotate
//! every N seconds; each new triple is registered (with its expiry) in every `KeyRing` given
//! to `register_with`, so a `FakeBedrock` accepts exactly what was issued. It can go down
//! (503) or hang, and counts calls.
//!
//! ```ignore
//! let imds = FakeImds::start();
//! imds.register_with(bedrock.keys());
//! imds.rotate_every(Duration::from_secs(2), Duration::from_secs(6));
//! let vars = Vars::from_pairs(imds.env());   // AWS_EC2_METADATA_SERVICE_ENDPOINT
//! ```

use super::fake_bedrock::KeyRing;
use super::fake_server::{reply, FakeServer, Incoming, Reply};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The container credentials path (use with `AWS_CONTAINER_CREDENTIALS_FULL_URI`).
pub const CONTAINER_PATH: &str = "/v2/credentials/fake-task";
/// The role name served by default.
pub const ROLE: &str = "bedrock-mcp-test-role";
const CREDS_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// How the service behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ImdsMode {
    /// Answers normally.
    Up,
    /// Every path answers 503.
    Unavailable,
    /// Every answer is delayed this long (longer than the client's timeout = a hang).
    Hang(Duration),
}

/// One issued credentials triple.
#[derive(Clone, Debug, PartialEq)]
pub struct Issued {
    pub access_key_id: String,
    pub secret: String,
    pub token: String,
    pub expiration: SystemTime,
}

/// Call counts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ImdsCalls {
    /// PUT /latest/api/token.
    pub token_puts: usize,
    /// GET of the role list.
    pub role_lists: usize,
    /// GET of a role's credentials (IMDS).
    pub credential_gets: usize,
    /// IMDS GETs refused for a missing or unknown token.
    pub unauthorized: usize,
    /// Container endpoint GETs (authorized or not).
    pub container_gets: usize,
    /// Requests of any kind answered 503 in `ImdsMode::Unavailable`.
    pub unavailable: usize,
}

struct State {
    mode: ImdsMode,
    role: Option<String>,
    delay: Duration,
    period: Option<Duration>,
    lifetime: Duration,
    container_token: Option<String>,
    tokens: HashSet<String>,
    issued: BTreeMap<u64, Issued>,
    rings: Vec<KeyRing>,
}

#[derive(Default)]
struct Counts {
    token_puts: AtomicUsize,
    role_lists: AtomicUsize,
    credential_gets: AtomicUsize,
    unauthorized: AtomicUsize,
    container_gets: AtomicUsize,
    unavailable: AtomicUsize,
}

struct Shared {
    state: Mutex<State>,
    counts: Counts,
    started: Instant,
    started_wall: SystemTime,
    id: u64,
}

/// The running fake; stops on Drop.
pub struct FakeImds {
    shared: Arc<Shared>,
    server: FakeServer,
}

impl FakeImds {
    /// Starts up, role `ROLE`, 6-hour credentials, no rotation, no container token.
    pub fn start() -> FakeImds {
        let started_wall = SystemTime::now();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                mode: ImdsMode::Up,
                role: Some(ROLE.into()),
                delay: Duration::ZERO,
                period: None,
                lifetime: Duration::from_secs(6 * 3600),
                container_token: None,
                tokens: HashSet::new(),
                issued: BTreeMap::new(),
                rings: Vec::new(),
            }),
            counts: Counts::default(),
            started: Instant::now(),
            started_wall,
            id: started_wall
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() as u64 % 10_000),
        });
        let handler_shared = shared.clone();
        let server = FakeServer::start(move |req| handle(&handler_shared, req));
        FakeImds { shared, server }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url().to_string()
    }
    /// `[("AWS_EC2_METADATA_SERVICE_ENDPOINT", url)]`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT".into(), self.url())]
    }
    /// The container endpoint URL (`url() + CONTAINER_PATH`).
    pub fn container_url(&self) -> String {
        format!("{}{CONTAINER_PATH}", self.url())
    }
    /// Requires `Authorization: token` on the container endpoint (`None`: no check).
    pub fn set_container_token(&self, token: Option<&str>) {
        self.state().container_token = token.map(Into::into);
    }
    /// Every issued triple, past and future, is also added to `ring` with its expiry.
    pub fn register_with(&self, ring: KeyRing) {
        let mut s = self.state();
        for i in s.issued.values() {
            ring.add_expiring(&i.access_key_id, &i.secret, Some(&i.token), i.expiration);
        }
        s.rings.push(ring);
    }
    /// New credentials every `period`, each valid for `lifetime` from its issue.
    pub fn rotate_every(&self, period: Duration, lifetime: Duration) {
        let mut s = self.state();
        s.period = Some(period);
        s.lifetime = lifetime;
    }
    /// Sets how long issued credentials live (without rotation: from the first fetch).
    pub fn set_lifetime(&self, lifetime: Duration) {
        self.state().lifetime = lifetime;
    }
    /// Up, 503, or hanging.
    pub fn set_mode(&self, mode: ImdsMode) {
        self.state().mode = mode;
    }
    /// The role listed (`None`: no instance profile, the listing answers 404).
    pub fn set_role(&self, role: Option<&str>) {
        self.state().role = role.map(Into::into);
    }
    /// Extra latency on credential answers (IMDS and container), e.g. to pile up a stampede.
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }
    /// The triple currently served (issuing it if needed).
    pub fn current(&self) -> Issued {
        current(&self.shared)
    }
    /// Every triple issued so far, oldest first.
    pub fn issued(&self) -> Vec<Issued> {
        self.state().issued.values().cloned().collect()
    }
    /// Call counts so far.
    pub fn calls(&self) -> ImdsCalls {
        let c = &self.shared.counts;
        ImdsCalls {
            token_puts: c.token_puts.load(SeqCst),
            role_lists: c.role_lists.load(SeqCst),
            credential_gets: c.credential_gets.load(SeqCst),
            unauthorized: c.unauthorized.load(SeqCst),
            container_gets: c.container_gets.load(SeqCst),
            unavailable: c.unavailable.load(SeqCst),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }
}

/// The triple for the current rotation period, issued (and registered) on first use.
fn current(shared: &Shared) -> Issued {
    let mut s = shared.state.lock().unwrap();
    let elapsed = shared.started.elapsed();
    let (generation, issued_at) = match s.period {
        Some(p) if !p.is_zero() => {
            let g = (elapsed.as_nanos() / p.as_nanos()) as u64;
            (g, shared.started_wall + p * g as u32)
        }
        _ => (0, SystemTime::now()),
    };
    if let Some(i) = s.issued.get(&generation) {
        return i.clone();
    }
    let id = shared.id;
    let issued = Issued {
        access_key_id: format!("ASIAFAKE{id:04}G{generation:05}"),
        secret: format!(
            "imds-secret-{id}-{generation}-{}",
            elapsed.as_nanos() % 1_000_000
        ),
        token: format!("imds-session-token-{id}-{generation}"),
        // Whole milliseconds, as the JSON carries them, so fake and client agree on the instant.
        expiration: UNIX_EPOCH
            + Duration::from_millis(
                (issued_at + s.lifetime)
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as u64,
            ),
    };
    for ring in &s.rings {
        ring.add_expiring(
            &issued.access_key_id,
            &issued.secret,
            Some(&issued.token),
            issued.expiration,
        );
    }
    s.issued.insert(generation, issued.clone());
    issued
}

fn handle(shared: &Shared, req: Incoming) {
    let (mode, delay) = {
        let s = shared.state.lock().unwrap();
        (s.mode, s.delay)
    };
    match mode {
        ImdsMode::Up => {}
        ImdsMode::Unavailable => {
            shared.counts.unavailable.fetch_add(1, SeqCst);
            return reply(req.request, Reply::text(503, "Service Unavailable"));
        }
        ImdsMode::Hang(d) => std::thread::sleep(d),
    }
    let path = req.target.split('?').next().unwrap_or("").to_string();
    let c = &shared.counts;
    if path == CONTAINER_PATH && req.method == "GET" {
        c.container_gets.fetch_add(1, SeqCst);
        let wanted = shared.state.lock().unwrap().container_token.clone();
        if wanted.is_some() && wanted.as_deref() != req.header("authorization") {
            return reply(
                req.request,
                Reply::json(401, &json!({"message": "bad Authorization"})),
            );
        }
        std::thread::sleep(delay);
        let i = current(shared);
        let body = json!({
            "RoleArn": format!("arn:aws:iam::123456789012:role/{ROLE}"),
            "AccessKeyId": i.access_key_id, "SecretAccessKey": i.secret, "Token": i.token,
            "Expiration": rfc3339_millis(i.expiration),
        });
        return reply(req.request, Reply::json(200, &body));
    }
    if path == "/latest/api/token" && req.method == "PUT" {
        c.token_puts.fetch_add(1, SeqCst);
        let ttl = req
            .header("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.parse::<u32>().ok());
        if !ttl.is_some_and(|t| (1..=21_600).contains(&t)) {
            return reply(
                req.request,
                Reply::text(400, "missing or invalid TTL header"),
            );
        }
        let token = format!("imds-token-{}", c.token_puts.load(SeqCst));
        shared.state.lock().unwrap().tokens.insert(token.clone());
        return reply(req.request, Reply::text(200, &token));
    }
    let Some(rest) = path
        .strip_prefix(CREDS_PATH)
        .or((path == CREDS_PATH.trim_end_matches('/')).then_some(""))
    else {
        return reply(req.request, Reply::text(404, "Not Found"));
    };
    if req.method != "GET" {
        return reply(req.request, Reply::text(405, "Method Not Allowed"));
    }
    let token_ok = req
        .header("x-aws-ec2-metadata-token")
        .is_some_and(|t| shared.state.lock().unwrap().tokens.contains(t));
    if !token_ok {
        c.unauthorized.fetch_add(1, SeqCst);
        return reply(req.request, Reply::text(401, "Unauthorized"));
    }
    let role = shared.state.lock().unwrap().role.clone();
    match (rest, role) {
        (_, None) => reply(req.request, Reply::text(404, "Not Found")),
        ("", Some(role)) => {
            c.role_lists.fetch_add(1, SeqCst);
            reply(req.request, Reply::text(200, &role))
        }
        (asked, Some(role)) if asked == role => {
            c.credential_gets.fetch_add(1, SeqCst);
            std::thread::sleep(delay);
            let i = current(shared);
            let body = json!({
                "Code": "Success", "LastUpdated": rfc3339_millis(SystemTime::now()), "Type": "AWS-HMAC",
                "AccessKeyId": i.access_key_id, "SecretAccessKey": i.secret, "Token": i.token,
                "Expiration": rfc3339_millis(i.expiration),
            });
            reply(req.request, Reply::json(200, &body))
        }
        _ => reply(req.request, Reply::text(404, "Not Found")),
    }
}

/// `2026-01-02T03:04:05.678Z`.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, millis) = (d.as_secs() as i64, d.subsec_millis());
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Hinnant), inlined so the fake shares no code with the crate.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
