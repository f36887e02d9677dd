//! A fake AWS STS on 127.0.0.1 that answers `AssumeRoleWithWebIdentity` the way identity-2026
//! ("How to fake it faithfully" → Fake STS) says the real one does, checking in this order:
//!
//! 1. `POST /` with a form body, `Action=AssumeRoleWithWebIdentity`, `Version=2011-06-15`, the
//!    required parameters, no `ProviderId` (OIDC), `DurationSeconds` in 900..=min(43200, role
//!    max), `RoleSessionName` 2–64 chars of `[\w+=,.@-]`, a token of 4–20000 chars; no
//!    `Authorization` needed (the call is unsigned).
//! 2. The JWT: `alg` RS/ES 256/384/512, `iss` exactly an IAM OIDC provider's `Url`, the
//!    signature against **that** provider's JWKS (fetched from it, e.g. the fake Entra) by
//!    `kid`, `aud` in the provider's `ClientIDList` (all `InvalidIdentityToken`), `exp` + 300 s
//!    not past (`ExpiredTokenException`), `nbf`.
//! 3. The role's trust policy (`Principal.Federated`, `Action` incl. `sts:SetContext` when the
//!    provider has a context provider, `StringEquals`/`StringLike` conditions) → 403 `AccessDenied`.
//! 4. The provider's context provider: the subject claim (missing → refused), subject type,
//!    `KeyDefinitionList` → transaction context entries.
//! 5. Issues `ASIA…` keys with a random secret and session token, `Expiration` = now + duration
//!    (or a test-set lifetime), registers them with the fake Bedrock (its `KeyRing` and its
//!    identity store, bound to the TIP context) and answers the real XML (elements shuffled,
//!    `x-amzn-RequestId`), or JSON when asked with `Accept: application/json`.
//!
//! Errors are query-protocol XML with the real codes and statuses. Faults can be scripted
//! (IDPCommunicationError, Throttling, 500, slow) and the fake can go down (connection
//! refused). Every call is recorded: form, token, claims, outcome.

use super::fake_bedrock::identity::{Identity, Session};
use super::fake_bedrock::KeyRing;
use super::fake_entra::{parse_pairs, FakeEntra, CLIENT_ID};
use super::fake_server::{reply, FakeServer, Incoming, Reply};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The fake AWS account (the fake Bedrock's knowledge bases are in it too).
pub const ACCOUNT: &str = "123456789012";
/// The per-user role of the standard set-up.
pub const USER_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/bedrock-mcp-user";
/// The server's own role for IRSA (EKS web identity).
pub const SERVER_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/bedrock-mcp-server";
/// The EKS cluster's OIDC issuer (its tokens are signed by the fake Entra's keys too).
pub const EKS_ISSUER: &str = "https://oidc.eks.eu-west-1.amazonaws.com/id/FAKECLUSTER0001";
/// The audience of projected service-account tokens.
pub const EKS_AUDIENCE: &str = "sts.amazonaws.com";
const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// An IAM OIDC identity provider.
#[derive(Clone, Debug)]
pub struct OidcProvider {
    /// Must equal the token's `iss` exactly.
    pub url: String,
    /// `ClientIDList`: the audiences accepted.
    pub client_ids: Vec<String>,
    /// `ContextProvider`: with it, sessions carry identity context.
    pub context: Option<ContextProvider>,
    /// The account the provider lives in (the ARN's).
    pub account: String,
    /// Where IAM fetches the signing keys (the issuer's `jwks_uri`).
    pub jwks_url: String,
}

impl OidcProvider {
    /// `url` without the scheme: the ARN suffix and the condition-key prefix.
    pub fn key(&self) -> String {
        strip_scheme(&self.url).to_string()
    }
    /// `arn:aws:iam::ACCOUNT:oidc-provider/KEY`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:oidc-provider/{}", self.account, self.key())
    }
}

/// A provider's `ContextProvider` (identity-2026 §2.3).
#[derive(Clone, Debug)]
pub struct ContextProvider {
    /// The claim that becomes `OriginIdentity.Subject`.
    pub subject_source_key: String,
    /// `SubjectTypeValue` or `SubjectTypeSourceKey`.
    pub subject_type: SubjectType,
    /// (SourceKey, TargetKey) pairs; at most 10.
    pub key_definitions: Vec<(String, Option<String>)>,
}

impl ContextProvider {
    /// The set-up the note recommends: subject from `upn`, type `user`, `tid` and `oid` kept.
    pub fn upn() -> ContextProvider {
        ContextProvider::subject_from("upn")
    }
    /// Subject from `claim`, type `user`, `tid` and `oid` kept.
    pub fn subject_from(claim: &str) -> ContextProvider {
        ContextProvider {
            subject_source_key: claim.into(),
            subject_type: SubjectType::Value("user".into()),
            key_definitions: vec![("tid".into(), Some("tid".into())), ("oid".into(), None)],
        }
    }
}

/// Where the subject type comes from.
#[derive(Clone, Debug)]
pub enum SubjectType {
    /// A fixed value (`user`).
    Value(String),
    /// The claim holding it.
    SourceKey(String),
}

/// One trust policy statement (Effect Allow).
#[derive(Clone, Debug)]
pub struct Statement {
    /// `Principal.Federated`: a provider ARN.
    pub federated: String,
    /// `Action` (e.g. `sts:AssumeRoleWithWebIdentity`, `sts:SetContext`).
    pub actions: Vec<String>,
    /// `StringEquals` (key, allowed values).
    pub string_equals: Vec<(String, Vec<String>)>,
    /// `StringLike` (key, patterns with `*` and `?`).
    pub string_like: Vec<(String, Vec<String>)>,
}

/// An IAM role.
#[derive(Clone, Debug)]
pub struct Role {
    /// The role ARN.
    pub arn: String,
    /// `MaxSessionDuration`.
    pub max_session_seconds: u64,
    /// The trust policy's Allow statements.
    pub trust: Vec<Statement>,
}

/// The fake IAM state the STS checks against.
#[derive(Clone, Debug)]
pub struct Iam {
    /// IAM OIDC identity providers.
    pub providers: Vec<OidcProvider>,
    /// Roles that can be assumed.
    pub roles: Vec<Role>,
    /// Whether a statement must also allow `sts:SetContext` when the provider has a context
    /// provider (the real rule is unconfirmed; identity-2026 §3 recommends including it).
    pub require_set_context: bool,
}

impl Iam {
    /// The recommended Entra set-up: the v2 and v1 issuers of the fake tenant as providers
    /// (client ids `CLIENT_ID` and `api://CLIENT_ID`, both with `context`), and `USER_ROLE_ARN`
    /// trusting both with `sts:AssumeRoleWithWebIdentity` + `sts:SetContext`, the audience
    /// condition and `sts:RoleSessionName` like `session_name_like`.
    pub fn entra(
        entra: &FakeEntra,
        context: Option<ContextProvider>,
        session_name_like: &str,
    ) -> Iam {
        let client_ids = vec![CLIENT_ID.to_string(), format!("api://{CLIENT_ID}")];
        let providers: Vec<OidcProvider> = [entra.issuer(), entra.v1_issuer()]
            .into_iter()
            .map(|url| OidcProvider {
                url,
                client_ids: client_ids.clone(),
                context: context.clone(),
                account: ACCOUNT.into(),
                jwks_url: entra.jwks_url(),
            })
            .collect();
        let trust = providers
            .iter()
            .map(|p| Statement {
                federated: p.arn(),
                actions: vec![
                    "sts:AssumeRoleWithWebIdentity".into(),
                    "sts:SetContext".into(),
                ],
                string_equals: vec![(format!("{}:aud", p.key()), client_ids.clone())],
                string_like: vec![(
                    "sts:RoleSessionName".into(),
                    vec![session_name_like.to_string()],
                )],
            })
            .collect();
        Iam {
            providers,
            roles: vec![Role {
                arn: USER_ROLE_ARN.into(),
                max_session_seconds: 3600,
                trust,
            }],
            require_set_context: true,
        }
    }

    /// Adds the EKS cluster provider (`EKS_ISSUER`, audience `sts.amazonaws.com`, keys from
    /// the fake Entra's JWKS, no context provider) and `SERVER_ROLE_ARN` trusting it.
    pub fn with_eks(mut self, entra: &FakeEntra) -> Iam {
        let p = OidcProvider {
            url: EKS_ISSUER.into(),
            client_ids: vec![EKS_AUDIENCE.into()],
            context: None,
            account: ACCOUNT.into(),
            jwks_url: entra.jwks_url(),
        };
        self.roles.push(Role {
            arn: SERVER_ROLE_ARN.into(),
            max_session_seconds: 3600,
            trust: vec![Statement {
                federated: p.arn(),
                actions: vec!["sts:AssumeRoleWithWebIdentity".into()],
                string_equals: vec![(format!("{}:aud", p.key()), vec![EKS_AUDIENCE.into()])],
                string_like: vec![],
            }],
        });
        self.providers.push(p);
        self
    }

    /// The provider whose `Url` is `url`.
    pub fn provider(&self, url: &str) -> Option<&OidcProvider> {
        self.providers.iter().find(|p| p.url == url)
    }
}

/// A scripted misbehaviour, applied to the next call before any check.
#[derive(Clone, Debug, PartialEq)]
pub enum StsFault {
    /// 400 IDPCommunicationError (retryable).
    IdpCommunication,
    /// 400 Throttling (retryable).
    Throttling,
    /// This status with an InternalFailure/ServiceUnavailable body.
    Status(u16),
    /// Sleeps, then answers normally.
    Delay(Duration),
    /// Any code, status and message.
    Error {
        /// HTTP status.
        status: u16,
        /// `<Code>`.
        code: String,
        /// `<Message>`.
        message: String,
    },
}

/// One call as received.
#[derive(Clone, Debug)]
pub struct Call {
    /// HTTP method.
    pub method: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The decoded form (or query) pairs.
    pub form: Vec<(String, String)>,
    /// `WebIdentityToken`, if sent.
    pub token: Option<String>,
    /// The token's payload, if it decoded (verified or not).
    pub claims: Option<Value>,
    /// `Ok(access key id)` or `Err(error code)`.
    pub outcome: Result<String, String>,
}

impl Call {
    /// A form value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// A claim of the token, as a string.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.claims.as_ref()?.get(name)?.as_str()
    }
}

/// Credentials the fake issued.
#[derive(Clone, Debug)]
pub struct Issued {
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret: String,
    /// The session token.
    pub session_token: String,
    /// `Expiration`.
    pub expiration: SystemTime,
    /// The token's audience that matched the provider's client id list.
    pub audience: String,
    /// What the fake Bedrock knows about it.
    pub session: Session,
}

struct State {
    iam: Iam,
    faults: VecDeque<StsFault>,
    always: Option<StsFault>,
    lifetime: Option<Duration>,
    skew: i64,
    missing_subject: (u16, String),
    calls: Vec<Call>,
    issued: Vec<Issued>,
}

struct Shared {
    state: Mutex<State>,
    keys: KeyRing,
    identity: Identity,
    /// Calls in progress, and the most there ever were at once (single-flight checks).
    in_flight: Mutex<(usize, usize)>,
}

/// The running fake; stops on Drop (or `go_down`).
pub struct FakeSts {
    shared: Arc<Shared>,
    server: Mutex<Option<FakeServer>>,
    url: String,
}

impl FakeSts {
    /// Starts with `iam`; issued sessions are accepted by the Bedrock fake whose key ring and
    /// identity store are given.
    pub fn start(iam: Iam, keys: KeyRing, identity: Identity) -> FakeSts {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                iam,
                faults: VecDeque::new(),
                always: None,
                lifetime: None,
                skew: 0,
                missing_subject: (400, "InvalidIdentityToken".into()),
                calls: Vec::new(),
                issued: Vec::new(),
            }),
            keys,
            identity,
            in_flight: Mutex::new((0, 0)),
        });
        let handler = shared.clone();
        let server = FakeServer::start(move |req| handle(&handler, req));
        let url = server.url().to_string();
        FakeSts {
            shared,
            server: Mutex::new(Some(server)),
            url,
        }
    }

    /// `http://127.0.0.1:PORT` (for AWS_ENDPOINT_URL_STS).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the IAM state (providers, roles) in place.
    pub fn edit_iam(&self, f: impl FnOnce(&mut Iam)) {
        f(&mut self.state().iam);
    }
    /// Queues `fault` for the next `n` calls.
    pub fn push_faults(&self, fault: StsFault, n: usize) {
        self.state().faults.extend(std::iter::repeat_n(fault, n));
    }
    /// Applies `fault` to every call once the queue is empty (None: back to normal).
    pub fn set_always(&self, fault: Option<StsFault>) {
        self.state().always = fault;
    }
    /// Issues credentials that expire after `lifetime` instead of `DurationSeconds`.
    pub fn set_lifetime(&self, lifetime: Option<Duration>) {
        self.state().lifetime = lifetime;
    }
    /// Shifts the fake's clock (token expiry checks and `Expiration`) by `seconds`.
    pub fn set_clock_skew(&self, seconds: i64) {
        self.state().skew = seconds;
    }
    /// The status and code for a token without the context provider's subject claim
    /// (default 400 InvalidIdentityToken; the real answer is not documented).
    pub fn set_missing_subject_error(&self, status: u16, code: &str) {
        self.state().missing_subject = (status, code.into());
    }
    /// Stops listening for good: later connections are refused.
    pub fn go_down(&self) {
        drop(self.server.lock().unwrap_or_else(|e| e.into_inner()).take());
    }

    /// Every call, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }
    /// Number of calls received.
    pub fn call_count(&self) -> usize {
        self.state().calls.len()
    }
    /// Calls whose token's `oid` claim is `oid`.
    pub fn calls_for(&self, oid: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.claim("oid") == Some(oid))
            .count()
    }
    /// The last token received.
    pub fn last_token(&self) -> Option<String> {
        self.state().calls.last().and_then(|c| c.token.clone())
    }
    /// Credentials issued so far.
    pub fn issued(&self) -> Vec<Issued> {
        self.state().issued.clone()
    }
    /// The most calls that were ever being answered at the same time.
    pub fn max_concurrent(&self) -> usize {
        self.shared
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .1
    }
}

impl Drop for FakeSts {
    fn drop(&mut self) {
        self.go_down();
    }
}

fn now_secs(skew: i64) -> i64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    t + skew
}

fn handle(shared: &Shared, req: Incoming) {
    {
        let mut f = shared.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        f.0 += 1;
        f.1 = f.1.max(f.0);
    }
    let request_id = uuid();
    let form = parse_pairs(&String::from_utf8_lossy(&req.body));
    let token = form
        .iter()
        .find(|(k, _)| k == "WebIdentityToken")
        .map(|(_, v)| v.clone());
    let claims = token.as_deref().and_then(|t| jwt_part(t, 1));
    let fault = {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.faults.pop_front().or_else(|| st.always.clone())
    };
    let outcome = match fault {
        Some(StsFault::Delay(d)) => {
            std::thread::sleep(d);
            assume(shared, &req, &form)
        }
        Some(f) => Err(fault_error(f)),
        None => assume(shared, &req, &form),
    };
    let json = req
        .header("accept")
        .is_some_and(|a| a.contains("application/json"));
    let (answer, recorded) = match outcome {
        Ok(issued) => {
            let ak = issued.access_key_id.clone();
            let body = if json {
                success_json(&issued, &request_id)
            } else {
                success_xml(&issued, &request_id)
            };
            let ctype = if json { "application/json" } else { "text/xml" };
            let r = Reply {
                status: 200,
                headers: vec![("Content-Type".into(), ctype.into())],
                body: body.into_bytes(),
            };
            (r, Ok(ak))
        }
        Err(e) => {
            let code = e.code.clone();
            (error_reply(&e, &request_id), Err(code))
        }
    };
    {
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.calls.push(Call {
            method: req.method.clone(),
            headers: req.headers.clone(),
            form,
            token,
            claims,
            outcome: recorded,
        });
    }
    shared.in_flight.lock().unwrap_or_else(|e| e.into_inner()).0 -= 1;
    reply(req.request, answer.with("x-amzn-RequestId", &request_id));
}

/// A query-protocol error.
#[derive(Debug)]
pub struct StsError {
    /// HTTP status.
    pub status: u16,
    /// `<Code>`.
    pub code: String,
    /// `<Message>`.
    pub message: String,
}

fn err(status: u16, code: &str, message: impl Into<String>) -> StsError {
    StsError {
        status,
        code: code.into(),
        message: message.into(),
    }
}

fn validation(message: impl Into<String>) -> StsError {
    err(400, "ValidationError", message)
}

fn invalid_token(message: impl Into<String>) -> StsError {
    err(400, "InvalidIdentityToken", message)
}

fn fault_error(fault: StsFault) -> StsError {
    match fault {
        StsFault::IdpCommunication => err(
            400,
            "IDPCommunicationError",
            "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached.",
        ),
        StsFault::Throttling => err(400, "Throttling", "Rate exceeded"),
        StsFault::Status(503) => err(503, "ServiceUnavailable", "Service is unavailable"),
        StsFault::Status(s) => err(s, "InternalFailure", "An internal error occurred"),
        StsFault::Error {
            status,
            code,
            message,
        } => err(status, &code, message),
        StsFault::Delay(_) => err(500, "InternalFailure", "unreachable"),
    }
}

fn assume(shared: &Shared, req: &Incoming, form: &[(String, String)]) -> Result<Issued, StsError> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // 1. The request.
    let path = req.target.split('?').next().unwrap_or("");
    if req.method != "POST" || path != "/" {
        return Err(err(
            400,
            "InvalidAction",
            "This fake STS accepts only POST / with a form body",
        ));
    }
    let form_type = req.header("content-type").unwrap_or("");
    if !form_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(err(
            400,
            "InvalidAction",
            "Could not find operation: the body must be application/x-www-form-urlencoded",
        ));
    }
    let action = get("Action").unwrap_or("");
    let version = get("Version").unwrap_or("");
    if action != "AssumeRoleWithWebIdentity" || version != "2011-06-15" {
        return Err(err(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {version}"),
        ));
    }
    for (param, member) in [
        ("RoleArn", "roleArn"),
        ("RoleSessionName", "roleSessionName"),
        ("WebIdentityToken", "webIdentityToken"),
    ] {
        if get(param).is_none() {
            return Err(validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            )));
        }
    }
    if get("ProviderId").is_some() {
        return Err(invalid_token(
            "ProviderId is only for OAuth 2.0 access tokens from www.amazon.com or graph.facebook.com; do not specify it for OpenID Connect tokens",
        ));
    }
    let role_arn = get("RoleArn").unwrap_or("");
    let session_name = get("RoleSessionName").unwrap_or("");
    let token = get("WebIdentityToken").unwrap_or("");
    let (iam, skew, lifetime, missing_subject) = {
        let st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        (
            st.iam.clone(),
            st.skew,
            st.lifetime,
            st.missing_subject.clone(),
        )
    };
    if !(20..=2048).contains(&role_arn.len()) {
        return Err(validation(format!(
            "1 validation error detected: Value '{role_arn}' at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048"
        )));
    }
    let role = iam.roles.iter().find(|r| r.arn == role_arn);
    let duration: u64 = match get("DurationSeconds") {
        None => 3600,
        Some(d) => d.parse().map_err(|_| {
            validation(format!(
                "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must be a number"
            ))
        })?,
    };
    if !(900..=43200).contains(&duration) {
        return Err(validation(format!(
            "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200"
        )));
    }
    if role.is_some_and(|r| duration > r.max_session_seconds) {
        return Err(validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let name_ok = session_name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !(2..=64).contains(&session_name.chars().count()) || !name_ok {
        return Err(validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    if !(4..=20000).contains(&token.len()) {
        return Err(validation(
            "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000",
        ));
    }

    // 2. The token.
    let header = jwt_part(token, 0).ok_or_else(|| invalid_token("The token is not a JWT"))?;
    let claims = jwt_part(token, 1).ok_or_else(|| invalid_token("The token is not a JWT"))?;
    let alg = header["alg"].as_str().unwrap_or("");
    if !["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"].contains(&alg) {
        return Err(invalid_token(format!(
            "The token's signing algorithm {alg} is not supported"
        )));
    }
    let iss = claims["iss"].as_str().unwrap_or("");
    let provider = iam.provider(iss).ok_or_else(|| {
        invalid_token(format!(
            "No OpenIDConnect provider found in your account for {iss}"
        ))
    })?;
    let jwks = fetch_jwks(&provider.jwks_url).ok_or_else(|| {
        err(
            400,
            "IDPCommunicationError",
            "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached.",
        )
    })?;
    let kid = header["kid"].as_str().unwrap_or("");
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .ok_or_else(|| {
            invalid_token("Couldn't retrieve verification key from your identity provider")
        })?;
    if !verify_signature(token, alg, jwk) {
        return Err(invalid_token("The token's signature is not valid"));
    }
    let auds: Vec<&str> = match &claims["aud"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !auds
        .iter()
        .any(|a| provider.client_ids.iter().any(|c| c == a))
    {
        return Err(invalid_token("Incorrect token audience"));
    }
    let now = now_secs(skew);
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp + 300 < now {
        return Err(err(
            400,
            "ExpiredTokenException",
            format!("Token expired: current date/time {now} must be before the expiration date/time {exp}"),
        ));
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf - 300 > now) {
        return Err(invalid_token("The token is not valid yet (nbf)"));
    }

    // 3. The trust policy.
    let denied = || {
        err(
            403,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        )
    };
    let role = role.ok_or_else(denied)?;
    let sub = claims["sub"].as_str().unwrap_or("").to_string();
    let pkey = provider.key();
    let value_of = |key: &str| -> Vec<String> {
        if key == "sts:RoleSessionName" {
            vec![session_name.to_string()]
        } else if key == format!("{pkey}:aud") {
            auds.iter().map(|a| a.to_string()).collect()
        } else if key == format!("{pkey}:sub") {
            vec![sub.clone()]
        } else {
            vec![]
        }
    };
    let allowed = role.trust.iter().any(|s| {
        s.federated == provider.arn()
            && s.actions
                .iter()
                .any(|a| a == "sts:AssumeRoleWithWebIdentity")
            && (provider.context.is_none()
                || !iam.require_set_context
                || s.actions.iter().any(|a| a == "sts:SetContext"))
            && s.string_equals
                .iter()
                .all(|(k, allowed)| value_of(k).iter().any(|v| allowed.iter().any(|a| a == v)))
            && s.string_like.iter().all(|(k, patterns)| {
                value_of(k)
                    .iter()
                    .any(|v| patterns.iter().any(|p| glob(p, v)))
            })
    });
    if !allowed {
        return Err(denied());
    }

    // 4. The context provider.
    let claim_str = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    let (subject, subject_type, transaction) = match &provider.context {
        None => (None, None, Vec::new()),
        Some(cp) => {
            let subject = claim_str(&cp.subject_source_key)
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| {
                    err(
                        missing_subject.0,
                        &missing_subject.1,
                        format!(
                            "The token has no value for the claim {} that the identity provider's context provider maps to the subject",
                            cp.subject_source_key
                        ),
                    )
                })?;
            let subject_type = match &cp.subject_type {
                SubjectType::Value(v) if !v.is_empty() => Some(v.clone()),
                SubjectType::Value(_) => None,
                SubjectType::SourceKey(k) => claim_str(k),
            };
            let mut entries = Vec::new();
            for (source, target) in cp.key_definitions.iter().take(10) {
                if let Some(v) = claim_str(source) {
                    if v.chars().count() > 128 {
                        return Err(err(
                            400,
                            "PackedPolicyTooLarge",
                            "The session's trusted context exceeds the maximum size",
                        ));
                    }
                    entries.push((target.clone().unwrap_or_else(|| source.clone()), v));
                }
            }
            (Some(subject), subject_type, entries)
        }
    };

    // 5. The credentials.
    let life = lifetime.map_or(duration, |l| l.as_secs());
    let expiration = UNIX_EPOCH + Duration::from_secs((now + life as i64).max(0) as u64);
    let access_key_id = format!("ASIA{}", random_upper(16));
    let secret = random_b64(30);
    let session_token = format!("IQoJb3JpZ2luX2VjE{}", random_b64(300));
    let session = Session {
        access_key_id: access_key_id.clone(),
        role_arn: role.arn.clone(),
        role_session_name: session_name.to_string(),
        subject,
        subject_type,
        provider_arn: provider.arn(),
        transaction,
        token_sub: sub,
        token_oid: claim_str("oid"),
        expiration,
    };
    shared
        .keys
        .add_expiring(&access_key_id, &secret, Some(&session_token), expiration);
    shared.identity.add_session(session.clone());
    let audience = auds
        .iter()
        .find(|a| provider.client_ids.iter().any(|c| c == *a))
        .map_or(String::new(), |a| a.to_string());
    let issued = Issued {
        access_key_id,
        secret,
        session_token,
        expiration,
        audience,
        session,
    };
    shared
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .issued
        .push(issued.clone());
    Ok(issued)
}

fn fetch_jwks(url: &str) -> Option<Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut resp = agent.get(url).call().ok()?;
    let text = resp.body_mut().read_to_string().ok()?;
    serde_json::from_str(&text).ok()
}

fn verify_signature(token: &str, alg: &str, jwk: &Value) -> bool {
    use ring::signature as sig;
    let mut parts = token.rsplitn(2, '.');
    let (Some(signature), Some(input)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Some(signature) = b64url_decode(signature) else {
        return false;
    };
    let field = |k: &str| jwk[k].as_str().and_then(b64url_decode);
    match (alg, jwk["kty"].as_str()) {
        (_, Some("RSA")) if alg.starts_with("RS") => {
            let (Some(n), Some(e)) = (field("n"), field("e")) else {
                return false;
            };
            let params = match alg {
                "RS256" => &sig::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &sig::RSA_PKCS1_2048_8192_SHA384,
                _ => &sig::RSA_PKCS1_2048_8192_SHA512,
            };
            sig::RsaPublicKeyComponents { n, e }
                .verify(params, input.as_bytes(), &signature)
                .is_ok()
        }
        (_, Some("EC")) if alg == "ES256" || alg == "ES384" => {
            let (Some(x), Some(y)) = (field("x"), field("y")) else {
                return false;
            };
            let mut point = vec![4u8];
            point.extend(x);
            point.extend(y);
            let params = if alg == "ES256" {
                &sig::ECDSA_P256_SHA256_FIXED
            } else {
                &sig::ECDSA_P384_SHA384_FIXED
            };
            sig::UnparsedPublicKey::new(params, point)
                .verify(input.as_bytes(), &signature)
                .is_ok()
        }
        _ => false,
    }
}

/// `*` any run, `?` one character (IAM StringLike).
fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    fn go(p: &[char], v: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('*', rest)) => (0..=v.len()).any(|i| go(rest, &v[i..])),
            Some(('?', rest)) => !v.is_empty() && go(rest, &v[1..]),
            Some((c, rest)) => v.first() == Some(c) && go(rest, &v[1..]),
        }
    }
    go(&p, &v)
}

fn strip_scheme(url: &str) -> &str {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url)
}

/// Decodes part `index` (0 header, 1 payload) of a JWT as JSON.
pub fn jwt_part(token: &str, index: usize) -> Option<Value> {
    let part = token.split('.').nth(index)?;
    serde_json::from_slice(&b64url_decode(part)?).ok()
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    b64_decode(s, *b"-_")
}

/// Base64 decoding with `extra` as the 62nd and 63rd letters (`+/` standard, `-_` URL-safe),
/// padding optional; written out so the fakes share nothing with the server.
pub fn b64_decode(s: &str, extra: [u8; 2]) -> Option<Vec<u8>> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        _ if c == extra[0] => Some(62),
        _ if c == extra[1] => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim_end_matches('=').bytes() {
        acc = (acc << 6) | u32::from(val(c)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    SystemRandom::new().fill(&mut b).expect("random bytes");
    b
}

fn random_upper(n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    random_bytes(n)
        .iter()
        .map(|b| char::from(A[usize::from(*b) % A.len()]))
        .collect()
}

fn random_b64(n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    random_bytes(n)
        .iter()
        .map(|b| char::from(A[usize::from(*b) % A.len()]))
        .collect()
}

fn uuid() -> String {
    let b = random_bytes(16);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Shuffles `items` in place (Fisher–Yates with ring's RNG).
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let r = random_bytes(2);
        let j = usize::from(u16::from_le_bytes([r[0], r[1]])) % (i + 1);
        items.swap(i, j);
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn el(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", esc(value))
}

fn group(name: &str, mut children: Vec<String>) -> String {
    shuffle(&mut children);
    format!("<{name}>{}</{name}>", children.concat())
}

/// ISO 8601 UTC, as STS writes `Expiration` (seconds, no fraction).
pub fn iso8601(t: SystemTime) -> String {
    let millis = super::fake_imds::rfc3339_millis(t);
    format!("{}Z", &millis[..millis.len() - ".000Z".len()])
}

fn success_xml(i: &Issued, request_id: &str) -> String {
    let s = &i.session;
    let credentials = group(
        "Credentials",
        vec![
            el("AccessKeyId", &i.access_key_id),
            el("SecretAccessKey", &i.secret),
            el("SessionToken", &i.session_token),
            el("Expiration", &iso8601(i.expiration)),
        ],
    );
    let role_id = format!("AROAFAKEROLEID000001:{}", s.role_session_name);
    let role_name = s.role_arn.rsplit('/').next().unwrap_or("role");
    let assumed = group(
        "AssumedRoleUser",
        vec![
            el("AssumedRoleId", &role_id),
            el(
                "Arn",
                &format!(
                    "arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{}",
                    s.role_session_name
                ),
            ),
        ],
    );
    let mut result = vec![
        credentials,
        el("SubjectFromWebIdentityToken", &s.token_sub),
        assumed,
        el("Provider", &s.provider_arn),
        el("Audience", &i.audience),
        el("SessionTokenUtilization", "11"),
        el("SessionTokenSize", &i.session_token.len().to_string()),
    ];
    if let Some(subject) = &s.subject {
        let mut origin = vec![
            el("Subject", subject),
            el(
                "Issuer",
                s.provider_arn
                    .split_once("oidc-provider/")
                    .map_or("", |(_, k)| k),
            ),
            el("FederatedProviderArn", &s.provider_arn),
        ];
        if let Some(t) = &s.subject_type {
            origin.push(el("SubjectType", t));
        }
        let entries: Vec<String> = s
            .transaction
            .iter()
            .map(|(k, v)| format!("<entry>{}{}</entry>", el("key", k), el("value", v)))
            .collect();
        let tip = group(
            "TrustedIdentityPropagationContext",
            vec![
                group("OriginIdentity", origin),
                group(
                    "TransactionContext",
                    vec![format!(
                        "<IdentityProvider>{}</IdentityProvider>",
                        entries.concat()
                    )],
                ),
            ],
        );
        result.push(tip);
    }
    let body = group("AssumeRoleWithWebIdentityResult", result);
    let meta = format!(
        "<ResponseMetadata>{}</ResponseMetadata>",
        el("RequestId", request_id)
    );
    let mut top = vec![body, meta];
    shuffle(&mut top);
    format!(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"{XMLNS}\">\n{}\n</AssumeRoleWithWebIdentityResponse>\n",
        top.concat()
    )
}

/// The undocumented JSON form (identity-2026 §1.4): `Expiration` in epoch seconds.
fn success_json(i: &Issued, request_id: &str) -> String {
    let s = &i.session;
    let secs = i
        .expiration
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut result = json!({
        "Credentials": {"AccessKeyId": i.access_key_id, "SecretAccessKey": i.secret,
            "SessionToken": i.session_token, "Expiration": secs as f64},
        "SubjectFromWebIdentityToken": s.token_sub,
        "Provider": s.provider_arn,
        "Audience": i.audience,
    });
    if let Some(subject) = &s.subject {
        let entries: serde_json::Map<String, Value> = s
            .transaction
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        result["TrustedIdentityPropagationContext"] = json!({
            "OriginIdentity": {"Subject": subject, "SubjectType": s.subject_type,
                "FederatedProviderArn": s.provider_arn},
            "TransactionContext": {"IdentityProvider": entries}
        });
    }
    json!({"AssumeRoleWithWebIdentityResponse": {
        "AssumeRoleWithWebIdentityResult": result,
        "ResponseMetadata": {"RequestId": request_id}}})
    .to_string()
}

fn error_reply(e: &StsError, request_id: &str) -> Reply {
    let kind = if e.status >= 500 {
        "Receiver"
    } else {
        "Sender"
    };
    let body = format!(
        "<ErrorResponse xmlns=\"{XMLNS}\">\n  <Error>\n    {}\n    {}\n    {}\n  </Error>\n  {}\n</ErrorResponse>\n",
        el("Type", kind),
        el("Code", &e.code),
        el("Message", &e.message),
        el("RequestId", request_id)
    );
    Reply {
        status: e.status,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: body.into_bytes(),
    }
}
