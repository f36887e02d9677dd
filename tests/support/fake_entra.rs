//! A fake Entra ID tenant on 127.0.0.1: OpenID configuration (v2, and v1 naming the
//! sts.windows.net issuer), JWKS (rotatable, can go down),
//! authorize (records the query, checks the app's registered redirect URIs, issues PKCE-bound
//! codes), token (checks PKCE and client credentials the way the app's platform demands: a Web
//! app needs its secret, AADSTS7000218; a public client must send none, AADSTS700025; refuses
//! `resource` like AADSTS9010010) and RS256 token minting.
//!
//! Test-only: signs with the throwaway keys in tests/fixtures; never talks to the network.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::fake_server::{reply, FakeServer, Incoming, Reply};

use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_SHA256};
use serde_json::{json, Value};

/// The fake directory (tenant) id.
pub const TENANT: &str = "4c7f2a2e-9a63-4b5e-8d4f-0c1e2a3b4c5d";
/// The fake API app registration's client id.
pub const CLIENT_ID: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";
/// Its client secret (test-only).
pub const CLIENT_SECRET: &str = "fake-secret~not-a-real-one";
/// Redirect URIs registered on the fake app (claude.ai's and claude.com's callbacks).
pub const REGISTERED_REDIRECTS: [&str; 2] = [
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
];
/// Another tenant, for cross-tenant tokens.
pub const OTHER_TENANT: &str = "99999999-8888-7777-6666-555555555555";

const KEY_DER: [&[u8]; 3] = [
    include_bytes!("../fixtures/entra_key1.pk8.der"),
    include_bytes!("../fixtures/entra_key2.pk8.der"),
    include_bytes!("../fixtures/entra_key3.pk8.der"),
];

/// A fixture signing key and its `kid` (`kid-1`, `kid-2`, `kid-3`).
pub struct TestKey {
    pub kid: String,
    pair: RsaKeyPair,
}

impl TestKey {
    /// Loads fixture key `index` (0..3).
    pub fn load(index: usize) -> TestKey {
        let pair = RsaKeyPair::from_pkcs8(KEY_DER[index]).expect("fixture key parses");
        TestKey {
            kid: format!("kid-{}", index + 1),
            pair,
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        let c = RsaPublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        json!({"kty": "RSA", "use": "sig", "kid": self.kid, "n": b64url(&c.n), "e": b64url(&c.e), "x5t": self.kid})
    }

    /// DER of the public key (what an HS256 key-confusion attack uses as the secret).
    pub fn public_der(&self) -> Vec<u8> {
        self.pair.public().as_ref().to_vec()
    }

    /// RS256 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.pair.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        self.pair
            .sign(&RSA_PKCS1_SHA256, &rng, msg, &mut sig)
            .expect("signing works");
        sig
    }
}

struct Grant {
    challenge: String,
    redirect_uri: String,
    scope: String,
}

#[derive(Default)]
struct State {
    published: Vec<usize>,
    jwks_down: bool,
    jwks_body: Option<String>,
    jwks_delay: Duration,
    jwks_fetches: u64,
    authorize_queries: Vec<String>,
    token_forms: Vec<Vec<(String, String)>>,
    codes: HashMap<String, Grant>,
    refresh_tokens: HashMap<String, String>,
    issued: u64,
    /// Redirect URIs on the "Mobile and desktop applications" platform (public client);
    /// false: the "Web" platform, a confidential client that needs its secret.
    public_client: bool,
    /// Redirect URIs registered besides `REGISTERED_REDIRECTS` (see `add_redirects`).
    extra_redirects: Vec<String>,
}

/// The running fake; stops on drop.
pub struct FakeEntra {
    authority: String,
    keys: Arc<Vec<TestKey>>,
    state: Arc<Mutex<State>>,
    /// Kept for its Drop, which stops the server.
    _server: FakeServer,
}

impl FakeEntra {
    /// Starts on a free loopback port, publishing `kid-1` only.
    pub fn start() -> FakeEntra {
        let keys = Arc::new((0..3).map(TestKey::load).collect::<Vec<_>>());
        let state = Arc::new(Mutex::new(State {
            published: vec![0],
            ..State::default()
        }));
        // The handler needs the authority (issuer, endpoints), known only once bound.
        let authority = Arc::new(std::sync::OnceLock::<String>::new());
        let ctx = Ctx {
            authority: authority.clone(),
            keys: keys.clone(),
            state: state.clone(),
        };
        let server = FakeServer::start(move |req| ctx.handle(req));
        let url = server.url().to_string();
        let _ = authority.set(url.clone());
        FakeEntra {
            authority: url,
            keys,
            state,
            _server: server,
        }
    }

    /// `http://127.0.0.1:port`, for ENTRA_AUTHORITY_HOST.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The v2 issuer of this tenant.
    pub fn issuer(&self) -> String {
        format!("{}/{TENANT}/v2.0", self.authority)
    }

    /// The v1 issuer of this tenant, as Entra writes it (not under the authority host).
    pub fn v1_issuer(&self) -> String {
        format!("https://sts.windows.net/{TENANT}/")
    }

    /// The JWKS URL (the keys of both issuers), as IAM would fetch it.
    pub fn jwks_url(&self) -> String {
        format!("{}/{TENANT}/discovery/v2.0/keys", self.authority)
    }

    /// Variables enabling auth against this fake, plus `extra`.
    pub fn vars(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = [
            ("ENABLE_AUTH", "true"),
            ("ENTRA_TENANT_ID", TENANT),
            ("ENTRA_CLIENT_ID", CLIENT_ID),
            ("ENTRA_AUTHORITY_HOST", &self.authority),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        v
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// JWKS requests received so far.
    pub fn jwks_fetches(&self) -> u64 {
        self.lock().jwks_fetches
    }

    /// Publishes exactly these fixture keys (0 = kid-1, 1 = kid-2, 2 = kid-3).
    pub fn publish(&self, keys: &[usize]) {
        self.lock().published = keys.to_vec();
    }

    /// Makes the JWKS endpoint answer 503 (true) or work again (false).
    pub fn set_jwks_down(&self, down: bool) {
        self.lock().jwks_down = down;
    }

    /// Serves this body as the JWKS instead of the real keys (None: back to normal).
    pub fn set_jwks_body(&self, body: Option<&str>) {
        self.lock().jwks_body = body.map(str::to_string);
    }

    /// Delays each JWKS answer (to pile requests up behind a fetch).
    pub fn set_jwks_delay(&self, delay: Duration) {
        self.lock().jwks_delay = delay;
    }

    /// Registers the redirect URIs under the public-client platform (true) or Web (false, the
    /// default), which decides whether the token endpoint demands or forbids a client secret.
    pub fn set_public_client(&self, public: bool) {
        self.lock().public_client = public;
    }

    /// Registers more redirect URIs on the app. Like Entra, an `http://localhost` or
    /// `http://127.0.0.1` entry matches any port ("Localhost exceptions" in Microsoft's
    /// redirect URI restrictions); nothing else is loosened.
    pub fn add_redirects(&self, uris: &[&str]) {
        self.lock()
            .extra_redirects
            .extend(uris.iter().map(|u| u.to_string()));
    }

    /// Query strings received at /authorize.
    pub fn authorize_queries(&self) -> Vec<String> {
        self.lock().authorize_queries.clone()
    }

    /// Forms received at /token.
    pub fn token_forms(&self) -> Vec<Vec<(String, String)>> {
        self.lock().token_forms.clone()
    }

    /// Claims of a good v2 access token for this API.
    pub fn claims_v2(&self) -> Value {
        let now = now();
        json!({
            "iss": self.issuer(), "aud": CLIENT_ID, "exp": now + 3600, "nbf": now - 10, "iat": now - 10,
            "ver": "2.0", "tid": TENANT, "oid": "11111111-0000-0000-0000-000000000001",
            "preferred_username": "ada@contoso.example", "name": "Ada Lovelace",
            "scp": "access_as_user", "azp": "aaaaaaaa-0000-0000-0000-00000000c1a0"
        })
    }

    /// Claims of a good v1 access token (sts.windows.net issuer, api:// audience).
    pub fn claims_v1(&self) -> Value {
        let now = now();
        json!({
            "iss": format!("https://sts.windows.net/{TENANT}/"), "aud": format!("api://{CLIENT_ID}"),
            "exp": now + 3600, "nbf": now - 10, "iat": now - 10, "ver": "1.0", "tid": TENANT,
            "oid": "11111111-0000-0000-0000-000000000002", "upn": "grace@contoso.example",
            "unique_name": "grace@contoso.example", "scp": "access_as_user", "roles": ["KB.Read"],
            "appid": "aaaaaaaa-0000-0000-0000-00000000c1a0"
        })
    }

    /// Claims of a member's v2 access token for this API: `upn` and a verified `email`
    /// (`xms_edov`) both `upn`, `acct` 0, the delegated scope, no `preferred_username`.
    pub fn member_claims(&self, upn: &str, oid: &str) -> Value {
        let mut c = self.claims_v2();
        merge(
            &mut c,
            json!({"oid": oid, "sub": format!("sub-{oid}"), "upn": upn, "email": upn,
                "xms_edov": true, "acct": 0, "preferred_username": null,
                "name": format!("User {}", &oid[..oid.len().min(8)])}),
        );
        c
    }

    /// The same member's v1 access token claims (sts.windows.net issuer, `api://` audience).
    pub fn member_claims_v1(&self, upn: &str, oid: &str) -> Value {
        let mut c = self.claims_v1();
        merge(
            &mut c,
            json!({"oid": oid, "sub": format!("sub-{oid}"), "upn": upn, "unique_name": upn,
                "email": upn, "xms_edov": true, "acct": 0, "roles": null}),
        );
        c
    }

    /// A guest's v2 access token claims: `acct` 1, home tenant in `idp`, `#EXT#` upn, an
    /// unverified `email` (`xms_edov` false).
    pub fn guest_claims(&self, email: &str, oid: &str) -> Value {
        let ext = format!("{}#EXT#@contoso.onmicrosoft.com", email.replace('@', "_"));
        let mut c = self.claims_v2();
        merge(
            &mut c,
            json!({"oid": oid, "sub": format!("sub-{oid}"), "upn": ext, "email": email,
                "xms_edov": false, "acct": 1, "preferred_username": email,
                "idp": format!("https://sts.windows.net/{OTHER_TENANT}/")}),
        );
        c
    }

    /// Claims of the member's **ID token** (v2): audience the bare client id, as for an access
    /// token, but no `scp` or `roles`, and a `nonce`.
    pub fn id_token_claims(&self, upn: &str, oid: &str) -> Value {
        let mut c = self.member_claims(upn, oid);
        merge(
            &mut c,
            json!({"scp": null, "roles": null, "azp": null, "nonce": "n-0S6_WzA2Mj",
                "aio": "fake-aio", "rh": "fake-rh"}),
        );
        c
    }

    /// Signs `claims` with the published key `kid-1`.
    pub fn sign(&self, claims: Value) -> String {
        self.mint(claims, json!({}))
    }

    /// Signs `claims` (RS256) with header `{alg: RS256, typ: JWT, kid: kid-1}` plus `header`
    /// overrides (a `null` removes the field); signs with the key named by `kid`, else key 1.
    pub fn mint(&self, claims: Value, header: Value) -> String {
        let mut h = json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"});
        merge(&mut h, header);
        let kid = h.get("kid").and_then(Value::as_str).unwrap_or("");
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .unwrap_or(&self.keys[0]);
        sign_with(key, &h, &claims)
    }

    /// A good v2 token.
    pub fn token(&self) -> String {
        self.mint(self.claims_v2(), json!({}))
    }

    /// A good v2 token with some claims replaced (`null` removes one).
    pub fn token_with(&self, changes: Value) -> String {
        let mut claims = self.claims_v2();
        merge(&mut claims, changes);
        self.mint(claims, json!({}))
    }

    /// A good v2 token for a user known by a verified `email` (`xms_edov`), `oid-<email>`.
    pub fn verified_email_token(&self, email: &str) -> String {
        self.token_with(
            json!({"email": email, "xms_edov": true, "preferred_username": null,
            "oid": format!("oid-{email}")}),
        )
    }

    /// Expired an hour ago (well past the 60 s leeway).
    pub fn expired(&self) -> String {
        self.token_with(json!({"exp": now() - 3600, "nbf": now() - 7200}))
    }
    /// Valid only from an hour from now.
    pub fn not_yet_valid(&self) -> String {
        self.token_with(json!({"nbf": now() + 3600, "exp": now() + 7200}))
    }
    /// For another API.
    pub fn wrong_audience(&self) -> String {
        self.token_with(json!({"aud": "api://someone-else"}))
    }
    /// From an issuer that is not Entra.
    pub fn wrong_issuer(&self) -> String {
        self.token_with(json!({"iss": "https://evil.example/issuer"}))
    }
    /// Issued by another tenant of the same authority.
    pub fn other_tenant(&self) -> String {
        self.token_with(
            json!({"iss": format!("{}/{OTHER_TENANT}/v2.0", self.authority), "tid": OTHER_TENANT}),
        )
    }
    /// Unsigned (`alg: none`, empty signature).
    pub fn alg_none(&self) -> String {
        let h = json!({"alg": "none", "typ": "JWT", "kid": "kid-1"});
        format!(
            "{}.{}.",
            b64url(h.to_string().as_bytes()),
            b64url(self.claims_v2().to_string().as_bytes())
        )
    }
    /// HS256 "signed" with the public key DER as the HMAC secret (key-confusion attack).
    pub fn hs256_with_public_key(&self) -> String {
        let h = json!({"alg": "HS256", "typ": "JWT", "kid": "kid-1"});
        let input = format!(
            "{}.{}",
            b64url(h.to_string().as_bytes()),
            b64url(self.claims_v2().to_string().as_bytes())
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.keys[0].public_der());
        let tag = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64url(tag.as_ref()))
    }
    /// A good token whose payload was swapped after signing.
    pub fn tampered(&self) -> String {
        let good = self.token();
        let parts: Vec<&str> = good.split('.').collect();
        let mut claims = self.claims_v2();
        claims["preferred_username"] = json!("mallory@contoso.example");
        format!(
            "{}.{}.{}",
            parts[0],
            b64url(claims.to_string().as_bytes()),
            parts[2]
        )
    }
    /// Validly signed but naming a key the JWKS does not have.
    pub fn unknown_kid(&self) -> String {
        self.mint(self.claims_v2(), json!({"kid": "kid-unknown"}))
    }
    /// Validly signed, without a `kid` header.
    pub fn no_kid(&self) -> String {
        self.mint(self.claims_v2(), json!({"kid": null}))
    }
    /// Not a JWT at all.
    pub fn garbage(&self) -> String {
        "this-is.not-a.jwt!".to_string()
    }
    /// The empty string.
    pub fn empty(&self) -> String {
        String::new()
    }
    /// A validly signed token over the 16 KiB cap.
    pub fn huge(&self) -> String {
        self.token_with(json!({"padding": "x".repeat(20 * 1024)}))
    }
    /// A Microsoft Graph token: Graph audience and a `nonce` header, as Entra issues them.
    pub fn graph_token(&self) -> String {
        let claims = {
            let mut c = self.claims_v2();
            c["aud"] = json!("00000003-0000-0000-c000-000000000000");
            c
        };
        self.mint(claims, json!({"nonce": "abc123"}))
    }
}

struct Ctx {
    authority: Arc<std::sync::OnceLock<String>>,
    keys: Arc<Vec<TestKey>>,
    state: Arc<Mutex<State>>,
}

impl Ctx {
    fn handle(&self, request: Incoming) {
        let url = request.target.clone();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let prefix = format!("/{TENANT}");
        let (status, content, location) = match path.strip_prefix(&prefix) {
            Some("/v2.0/.well-known/openid-configuration") => {
                (200, self.openid_configuration(), None)
            }
            Some("/.well-known/openid-configuration") => {
                (200, self.openid_configuration_v1(), None)
            }
            Some("/discovery/v2.0/keys") | Some("/discovery/keys") => self.jwks(),
            Some("/oauth2/v2.0/authorize") => self.authorize(query),
            Some("/oauth2/v2.0/token") => {
                let basic = request.header("authorization").map(str::to_string);
                self.token(&body, basic.as_deref())
            }
            _ => (404, json!({"error": "not_found"}).to_string(), None),
        };
        let mut answer = Reply::text(status, &content);
        answer.headers = vec![("Content-Type".into(), "application/json".into())];
        if let Some(l) = location {
            answer = answer.with("Location", &l);
        }
        reply(request.request, answer);
    }

    /// `http://127.0.0.1:port`, set as soon as the server is bound.
    fn authority(&self) -> &str {
        self.authority.get().map_or("", String::as_str)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn openid_configuration(&self) -> String {
        let base = format!("{}/{TENANT}", self.authority());
        json!({
            "issuer": format!("{base}/v2.0"),
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "jwks_uri": format!("{base}/discovery/v2.0/keys"),
            "id_token_signing_alg_values_supported": ["RS256"],
        })
        .to_string()
    }

    /// The v1 document: Entra names the sts.windows.net issuer there.
    fn openid_configuration_v1(&self) -> String {
        let base = format!("{}/{TENANT}", self.authority());
        json!({
            "issuer": format!("https://sts.windows.net/{TENANT}/"),
            "authorization_endpoint": format!("{base}/oauth2/authorize"),
            "token_endpoint": format!("{base}/oauth2/token"),
            "jwks_uri": format!("{base}/discovery/keys"),
            "id_token_signing_alg_values_supported": ["RS256"],
        })
        .to_string()
    }

    fn jwks(&self) -> (u16, String, Option<String>) {
        let (delay, answer) = {
            let mut st = self.lock();
            st.jwks_fetches += 1;
            let answer = if st.jwks_down {
                (503, "{\"error\":\"unavailable\"}".to_string(), None)
            } else if let Some(body) = &st.jwks_body {
                (200, body.clone(), None)
            } else {
                let keys: Vec<Value> = st.published.iter().map(|&i| self.keys[i].jwk()).collect();
                (200, json!({ "keys": keys }).to_string(), None)
            };
            (st.jwks_delay, answer)
        };
        std::thread::sleep(delay);
        answer
    }

    fn authorize(&self, query: &str) -> (u16, String, Option<String>) {
        let mut st = self.lock();
        st.authorize_queries.push(query.to_string());
        let p = parse(query);
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        if p.contains_key("resource") {
            return error(400, "invalid_target", "AADSTS9010010: The resource parameter provided in the request doesn't match with the requested scopes.");
        }
        if get("client_id") != CLIENT_ID {
            return error(
                400,
                "unauthorized_client",
                "AADSTS700016: Application with identifier was not found in the directory.",
            );
        }
        if get("response_type") != "code" || get("redirect_uri").is_empty() {
            return error(
                400,
                "invalid_request",
                "AADSTS900144: bad response_type or redirect_uri",
            );
        }
        let requested = get("redirect_uri");
        let registered = REGISTERED_REDIRECTS.contains(&requested)
            || st
                .extra_redirects
                .iter()
                .any(|r| entra_redirect_matches(r, requested));
        if !registered {
            return error(
                400,
                "invalid_request",
                "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application.",
            );
        }
        if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
            return error(
                400,
                "invalid_request",
                "AADSTS9002325: Proof Key for Code Exchange is required",
            );
        }
        st.issued += 1;
        let code = format!("code-{}-{}", st.issued, now());
        let grant = Grant {
            challenge: get("code_challenge").into(),
            redirect_uri: get("redirect_uri").into(),
            scope: get("scope").into(),
        };
        st.codes.insert(code.clone(), grant);
        let mut location = format!("{}?code={}", get("redirect_uri"), code);
        if let Some(state) = p.get("state") {
            location.push_str(&format!("&state={}", enc(state)));
        }
        (302, String::new(), Some(location))
    }

    fn token(&self, body: &str, authorization: Option<&str>) -> (u16, String, Option<String>) {
        let mut st = self.lock();
        st.token_forms.push(parse_pairs(body));
        let p = parse(body);
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        if p.contains_key("resource") {
            return error(400, "invalid_target", "AADSTS9010010: The resource parameter provided in the request doesn't match with the requested scopes.");
        }
        let basic_ok = authorization
            == Some(&format!(
                "Basic {}",
                b64std(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes())
            ));
        let form_ok = get("client_id") == CLIENT_ID && get("client_secret") == CLIENT_SECRET;
        let presented = authorization.is_some() || p.contains_key("client_secret");
        if st.public_client {
            if presented {
                return error(
                    401,
                    "invalid_client",
                    "AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
                );
            }
            if get("client_id") != CLIENT_ID {
                return error(
                    400,
                    "unauthorized_client",
                    "AADSTS700016: Application with identifier was not found in the directory.",
                );
            }
        } else if !presented {
            return error(
                401,
                "invalid_client",
                "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        } else if !(basic_ok || form_ok) {
            return error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            );
        }
        let scope = match get("grant_type") {
            "authorization_code" => {
                let Some(grant) = st.codes.remove(get("code")) else {
                    return error(
                        400,
                        "invalid_grant",
                        "AADSTS70008: The provided authorization code is expired or invalid.",
                    );
                };
                let digest =
                    ring::digest::digest(&ring::digest::SHA256, get("code_verifier").as_bytes());
                if b64url(digest.as_ref()) != grant.challenge || get("code_verifier").is_empty() {
                    return error(
                        400,
                        "invalid_grant",
                        "AADSTS50148: The code_verifier does not match the code_challenge.",
                    );
                }
                if get("redirect_uri") != grant.redirect_uri {
                    return error(400, "invalid_grant", "AADSTS50011: redirect_uri mismatch.");
                }
                grant.scope
            }
            "refresh_token" => match st.refresh_tokens.remove(get("refresh_token")) {
                Some(scope) => scope,
                None => {
                    return error(
                        400,
                        "invalid_grant",
                        "AADSTS700082: The refresh token has expired or is invalid.",
                    )
                }
            },
            _ => {
                return error(
                    400,
                    "unsupported_grant_type",
                    "AADSTS70003: unsupported grant type",
                )
            }
        };
        let api = format!("api://{CLIENT_ID}/");
        if !scope.split(' ').any(|s| s.starts_with(&api)) {
            return error(
                400,
                "invalid_scope",
                "AADSTS650053: scope resolves to Microsoft Graph; use api:// scopes.",
            );
        }
        st.issued += 1;
        let refresh = format!("rt-{}", st.issued);
        st.refresh_tokens.insert(refresh.clone(), scope.clone());
        let Some(&index) = st.published.first() else {
            return error(500, "server_error", "no signing key published");
        };
        let now = now();
        let scp: Vec<&str> = scope
            .split(' ')
            .filter_map(|s| s.strip_prefix(&api))
            .collect();
        let claims = json!({
            "iss": format!("{}/{TENANT}/v2.0", self.authority()), "aud": CLIENT_ID, "exp": now + 3600,
            "nbf": now - 5, "iat": now - 5, "ver": "2.0", "tid": TENANT, "oid": "11111111-0000-0000-0000-000000000003",
            "preferred_username": "flow@contoso.example", "scp": scp.join(" "), "azp": CLIENT_ID
        });
        let key = &self.keys[index];
        let access = sign_with(
            key,
            &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid}),
            &claims,
        );
        let reply = json!({"token_type": "Bearer", "scope": scope, "expires_in": 3600, "access_token": access, "refresh_token": refresh});
        (200, reply.to_string(), None)
    }
}

/// Entra's redirect matching: exact, except that the port of an `http://localhost` or
/// `http://127.0.0.1` URI is ignored.
fn entra_redirect_matches(registered: &str, requested: &str) -> bool {
    let portless = |uri: &str| -> Option<String> {
        let host = ["http://localhost", "http://127.0.0.1"]
            .into_iter()
            .find(|h| uri.starts_with(h))?;
        let rest = &uri[host.len()..];
        let rest = match rest.strip_prefix(':') {
            Some(p) => {
                let end = p.find('/').unwrap_or(p.len());
                if end == 0 || !p[..end].bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                &p[end..]
            }
            None => rest,
        };
        (rest.is_empty() || rest.starts_with('/'))
            .then(|| format!("{host}{}", if rest.is_empty() { "/" } else { rest }))
    };
    registered == requested
        || matches!((portless(registered), portless(requested)), (Some(a), Some(b)) if a == b)
}

fn error(status: u16, code: &str, description: &str) -> (u16, String, Option<String>) {
    (
        status,
        json!({"error": code, "error_description": description}).to_string(),
        None,
    )
}

fn sign_with(key: &TestKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    format!("{input}.{}", b64url(&key.sign(input.as_bytes())))
}

/// Shallow merge; `null` removes.
fn merge(target: &mut Value, changes: Value) {
    if let (Some(t), Value::Object(c)) = (target.as_object_mut(), changes) {
        for (k, v) in c {
            if v.is_null() {
                t.remove(&k);
            } else {
                t.insert(k, v);
            }
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn b64(input: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
        if pad {
            (chunk.len()..3).for_each(|_| out.push('='));
        }
    }
    out
}

/// Unpadded base64url.
pub fn b64url(input: &[u8]) -> String {
    b64(
        input,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        false,
    )
}

/// Padded standard base64 (HTTP Basic).
pub fn b64std(input: &[u8]) -> String {
    b64(
        input,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        true,
    )
}

/// Percent-encodes for a query value (independent of the code under test).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn dec(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 2;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes a query string or form body into ordered pairs.
pub fn parse_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

fn parse(s: &str) -> HashMap<String, String> {
    parse_pairs(s).into_iter().collect()
}
