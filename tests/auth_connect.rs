//! Connecting claude.ai with only the server's URL (ENABLE_AUTH=true against a fake Entra):
//! this file plays claude.ai's part from the first unauthenticated request to a tool call,
//! through discovery, Dynamic Client Registration or a Client ID Metadata Document, /authorize,
//! Entra's sign-in and /token, for a public-client app, a Web app whose secret the server holds,
//! and the Advanced-settings client id and secret; and checks that an unlisted redirect URI or
//! metadata-document id is refused at each step without reaching Entra.

use crate::support;

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::{json, Value};
use support::auth::{
    assert_not_logged, assert_search_ok, bearer, form, search, start, CALLBACK, CHALLENGE, FORM,
    VERIFIER,
};
use support::fake_entra::{enc, parse_pairs, FakeEntra, CLIENT_ID, CLIENT_SECRET};
use support::server::{request, Resp, Server};

const CIMD: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";

fn query_of(location: &str) -> HashMap<String, String> {
    let (_, q) = location.split_once('?').unwrap_or((location, ""));
    parse_pairs(q).into_iter().collect()
}

/// How the client identifies itself.
#[derive(Clone, Copy)]
enum Registration {
    /// POST /register, then use the client_id it answers.
    Dynamic,
    /// Use claude.ai's metadata-document URL as the client id.
    MetadataDocument,
    /// The Entra app's client id and secret typed into Advanced settings.
    Advanced,
}

/// claude.ai, as far as the OAuth and MCP exchanges go; remembers every answer it saw.
struct Claude<'a> {
    server: &'a Server,
    seen: RefCell<String>,
}

impl<'a> Claude<'a> {
    fn new(server: &'a Server) -> Claude<'a> {
        Claude {
            server,
            seen: RefCell::new(String::new()),
        }
    }

    fn send(&self, url: &str, method: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let r = request(url, method, headers, body);
        let mut seen = self.seen.borrow_mut();
        for (k, v) in &r.headers {
            seen.push_str(&format!("{k}: {v}\n"));
        }
        seen.push_str(&r.body);
        r
    }

    fn get_json(&self, url: &str) -> Value {
        let r = self.send(url, "GET", &[], "");
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        r.json()
    }

    /// Unauthenticated MCP request → 401 → protected-resource metadata → AS metadata.
    fn discover(&self) -> Value {
        let h = [
            ("Accept", "application/json, text/event-stream"),
            ("Content-Type", "application/json"),
        ];
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}});
        let url = format!("{}/mcp", self.server.url);
        let r = self.send(&url, "POST", &h, &init.to_string());
        assert_eq!(r.status, 401, "{}", r.body);
        let www = r.header("www-authenticate").expect("challenge").to_string();
        let prm_url = www
            .split("resource_metadata=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no resource_metadata in {www}"));
        let prm = self.get_json(prm_url);
        assert_eq!(prm["resource"], url, "{prm}");
        let issuer = prm["authorization_servers"][0].as_str().expect("issuer");
        let asm = self.get_json(&format!("{issuer}/.well-known/oauth-authorization-server"));
        assert_eq!(asm["issuer"], issuer, "{asm}");
        assert_eq!(asm["client_id_metadata_document_supported"], true, "{asm}");
        assert!(
            asm["token_endpoint_auth_methods_supported"]
                .as_array()
                .is_some_and(|m| m.contains(&json!("none"))),
            "claude.ai uses CIMD only with \"none\": {asm}"
        );
        asm
    }

    /// The client id to use, registering first when asked to.
    fn client_id(&self, asm: &Value, how: Registration, redirect: &str) -> Result<String, Resp> {
        match how {
            Registration::MetadataDocument => Ok(CIMD.to_string()),
            Registration::Advanced => Ok(CLIENT_ID.to_string()),
            Registration::Dynamic => {
                let endpoint = asm["registration_endpoint"]
                    .as_str()
                    .expect("registration_endpoint");
                let body = json!({
                    "client_name": "Claude", "redirect_uris": [redirect],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"], "token_endpoint_auth_method": "none"
                });
                let r = self.send(
                    endpoint,
                    "POST",
                    &[("Content-Type", "application/json")],
                    &body.to_string(),
                );
                if r.status != 201 {
                    return Err(r);
                }
                let v = r.json();
                assert_eq!(v["redirect_uris"], json!([redirect]), "{v}");
                assert_eq!(v["token_endpoint_auth_method"], "none", "{v}");
                assert!(v.get("client_secret").is_none(), "{v}");
                Ok(v["client_id"].as_str().expect("client_id").to_string())
            }
        }
    }

    /// /authorize → Entra's sign-in → the code on claude.ai's callback.
    fn sign_in(&self, asm: &Value, client_id: &str, redirect: &str) -> Result<String, Resp> {
        let q = form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "st-1"),
            ("scope", "claudeai"),
            ("resource", &format!("{}/mcp", self.server.url)),
        ]);
        let endpoint = asm["authorization_endpoint"]
            .as_str()
            .expect("authorization_endpoint");
        let r = self.send(&format!("{endpoint}?{q}"), "GET", &[], "");
        if r.status != 302 {
            return Err(r);
        }
        let at_entra = self.send(r.header("location").expect("Location"), "GET", &[], "");
        assert_eq!(at_entra.status, 302, "Entra refused: {}", at_entra.body);
        let back = at_entra.header("location").expect("Location").to_string();
        assert!(back.starts_with(&format!("{redirect}?")), "{back}");
        let q = query_of(&back);
        assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
        Ok(q["code"].clone())
    }

    /// POST /token with these parameters (plus the client's secret, if it has one).
    fn token(&self, asm: &Value, pairs: &[(&str, &str)], secret: Option<&str>) -> Resp {
        let mut pairs = pairs.to_vec();
        pairs.extend(secret.map(|s| ("client_secret", s)));
        let endpoint = asm["token_endpoint"].as_str().expect("token_endpoint");
        self.send(endpoint, "POST", &[FORM], &form(&pairs))
    }

    fn redeem(
        &self,
        asm: &Value,
        client_id: &str,
        code: &str,
        redirect: &str,
        secret: Option<&str>,
    ) -> Resp {
        let pairs = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
            ("resource", &format!("{}/mcp", self.server.url)),
        ];
        self.token(asm, &pairs, secret)
    }

    /// The whole connection: discovery, registration, sign-in, code, a session and a tool call.
    /// Returns the access and refresh tokens.
    fn connect(&self, how: Registration, secret: Option<&str>) -> (String, String) {
        let asm = self.discover();
        let client_id = self.client_id(&asm, how, CALLBACK).expect("registered");
        let code = self.sign_in(&asm, &client_id, CALLBACK).expect("signed in");
        let r = self.redeem(&asm, &client_id, &code, CALLBACK, secret);
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        let access = v["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        let refresh = v["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_string();
        self.tool_call(&access);
        let renewed = self.token(
            &asm,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &client_id),
            ],
            secret,
        );
        assert_eq!(renewed.status, 200, "refresh: {}", renewed.body);
        (access, refresh)
    }

    /// initialize with the token, then a search inside the session.
    fn tool_call(&self, access: &str) {
        let auth = bearer(access);
        let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",
            "capabilities":{},"clientInfo":{"name":"claude-ai","version":"1"}}});
        let r = self.server.mcp(&[("Authorization", &auth)], &init);
        assert_eq!(r.status, 200, "{}", r.body);
        let sid = r.header("mcp-session-id").expect("session").to_string();
        let h = [
            ("Authorization", auth.as_str()),
            ("Mcp-Session-Id", sid.as_str()),
            ("MCP-Protocol-Version", "2025-06-18"),
        ];
        assert_search_ok(&self.server.mcp(&h, &search(2)));
        // Another revision we speak is tolerated (the session's wins); one we do not is a 400.
        let mut other = h.to_vec();
        other[2].1 = "2025-11-25";
        assert_search_ok(&self.server.mcp(&other, &search(3)));
        other[2].1 = "2099-01-01";
        let r = self.server.mcp(&other, &search(4));
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.body.contains("2025-06-18"),
            "names what we speak: {}",
            r.body
        );
    }
}

/// The last form the fake Entra received at its token endpoint.
fn last_form(fake: &FakeEntra) -> HashMap<String, String> {
    fake.token_forms()
        .last()
        .expect("a token request reached Entra")
        .iter()
        .cloned()
        .collect()
}

#[test]
fn url_only_with_a_public_client_app_needs_no_secret_anywhere() {
    let fake = FakeEntra::start();
    fake.set_public_client(true);
    let s = start(&fake, &[]);
    for how in [Registration::Dynamic, Registration::MetadataDocument] {
        let claude = Claude::new(&s);
        claude.connect(how, None);
        for form in fake.token_forms() {
            let form: HashMap<String, String> = form.into_iter().collect();
            assert_eq!(form.get("client_id").map(String::as_str), Some(CLIENT_ID));
            assert!(!form.contains_key("client_secret"), "{form:?}");
        }
    }
    let queries = fake.authorize_queries();
    assert_eq!(queries.len(), 2);
    for q in queries {
        assert_eq!(
            query_of(&format!("?{q}"))["client_id"],
            CLIENT_ID,
            "mapped before Entra"
        );
    }
    // A public client must not present a secret: Entra says so, and the server relays it.
    let claude = Claude::new(&s);
    let asm = claude.discover();
    let code = claude.sign_in(&asm, CLIENT_ID, CALLBACK).unwrap();
    let r = claude.redeem(&asm, CLIENT_ID, &code, CALLBACK, Some(CLIENT_SECRET));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("AADSTS700025"), "{}", r.body);
}

#[test]
fn url_only_with_a_web_app_uses_the_secret_the_server_holds() {
    let fake = FakeEntra::start();
    let file =
        std::env::temp_dir().join(format!("bedrock-mcp-entra-secret-{}", std::process::id()));
    std::fs::write(&file, format!("{CLIENT_SECRET}\n")).unwrap();
    let path = file.to_string_lossy().into_owned();
    let inline = start(
        &fake,
        &[
            ("ENTRA_CLIENT_SECRET", CLIENT_SECRET),
            ("LOG_LEVEL", "DEBUG"),
        ],
    );
    let from_file = start(
        &fake,
        &[("ENTRA_CLIENT_SECRET_FILE", &path), ("LOG_LEVEL", "DEBUG")],
    );
    for s in [&inline, &from_file] {
        for how in [Registration::Dynamic, Registration::MetadataDocument] {
            let claude = Claude::new(s);
            let (access, refresh) = claude.connect(how, None);
            let sent = last_form(&fake);
            assert_eq!(sent.get("client_id").map(String::as_str), Some(CLIENT_ID));
            assert_eq!(
                sent.get("client_secret").map(String::as_str),
                Some(CLIENT_SECRET),
                "the server added its secret"
            );
            let seen = claude.seen.borrow();
            assert!(
                !seen.contains(CLIENT_SECRET),
                "the secret reached the client"
            );
            assert_not_logged(s, &[CLIENT_SECRET, &access, &refresh, VERIFIER]);
        }
    }
    // An unreadable secret file is the operator's problem: 500 saying so, nothing relayed.
    std::fs::remove_file(&file).unwrap();
    let before = fake.token_forms().len();
    let claude = Claude::new(&from_file);
    let asm = claude.discover();
    let code = claude.sign_in(&asm, CLIENT_ID, CALLBACK).unwrap();
    let r = claude.redeem(&asm, CIMD, &code, CALLBACK, None);
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("ENTRA_CLIENT_SECRET_FILE"), "{}", r.body);
    assert_eq!(fake.token_forms().len(), before);
    assert!(from_file.wait_for_log("cannot read ENTRA_CLIENT_SECRET_FILE"));
}

#[test]
fn a_web_app_without_a_server_secret_fails_the_way_entra_does() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let claude = Claude::new(&s);
    let asm = claude.discover();
    let client_id = claude
        .client_id(&asm, Registration::Dynamic, CALLBACK)
        .unwrap();
    let code = claude.sign_in(&asm, &client_id, CALLBACK).unwrap();
    let r = claude.redeem(&asm, &client_id, &code, CALLBACK, None);
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        r.json()["error"],
        "invalid_client",
        "claude.ai re-registers on this"
    );
    assert!(r.body.contains("AADSTS7000218"), "{}", r.body);
    assert!(!last_form(&fake).contains_key("client_secret"));
}

#[test]
fn advanced_settings_client_id_and_secret_keep_working() {
    let fake = FakeEntra::start();
    // Without and with a server-held secret: the client's own secret is what Entra sees.
    for extra in [
        &[][..],
        &[("ENTRA_CLIENT_SECRET", "server-side-secret-value")][..],
    ] {
        let s = start(&fake, extra);
        let claude = Claude::new(&s);
        let (access, refresh) = claude.connect(Registration::Advanced, Some(CLIENT_SECRET));
        let sent: Vec<(String, String)> = fake.token_forms().last().unwrap().clone();
        let secrets: Vec<&str> = sent
            .iter()
            .filter(|(k, _)| k == "client_secret")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(secrets, [CLIENT_SECRET], "{extra:?}");
        // A wrong secret typed by the user is refused by Entra, never replaced by the server's.
        let asm = claude.discover();
        let code = claude.sign_in(&asm, CLIENT_ID, CALLBACK).unwrap();
        let r = claude.redeem(&asm, CLIENT_ID, &code, CALLBACK, Some("typed-wrong-secret"));
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("AADSTS7000215"), "{}", r.body);
        assert_not_logged(
            &s,
            &[
                CLIENT_SECRET,
                "server-side-secret-value",
                "typed-wrong-secret",
                &access,
                &refresh,
            ],
        );
    }
}

#[test]
fn unlisted_redirects_and_metadata_documents_are_refused_at_every_step() {
    let fake = FakeEntra::start();
    fake.set_public_client(true);
    let s = start(&fake, &[("ENTRA_CLIENT_SECRET", CLIENT_SECRET)]);
    let claude = Claude::new(&s);
    let asm = claude.discover();
    let evil_redirect = "https://evil.example/api/mcp/auth_callback";
    let refused = |r: Resp, status: u16, error: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        assert!(
            r.header("location").is_none(),
            "never a redirect: {:?}",
            r.headers
        );
        let v = r.json();
        assert_eq!(v["error"], error, "{v}");
        assert!(
            v["error_description"]
                .as_str()
                .is_some_and(|d| d.len() > 20),
            "{v}"
        );
    };
    // Registration.
    let r = claude
        .client_id(&asm, Registration::Dynamic, evil_redirect)
        .unwrap_err();
    refused(r, 400, "invalid_redirect_uri");
    // /authorize, with a registered client id, and with metadata documents not on the list.
    let r = claude.sign_in(&asm, CLIENT_ID, evil_redirect).unwrap_err();
    refused(r, 400, "invalid_request");
    for cimd in [
        "https://claude.com/oauth/mcp-oauth-client-metadata",
        "https://evil.example/oauth/mcp-oauth-client-metadata",
        "http://claude.ai/oauth/mcp-oauth-client-metadata",
    ] {
        let r = claude.sign_in(&asm, cimd, CALLBACK).unwrap_err();
        refused(r, 400, "invalid_client");
        // /token: a code obtained by the real client cannot be redeemed under a foreign id.
        let code = claude.sign_in(&asm, CIMD, CALLBACK).unwrap();
        refused(
            claude.redeem(&asm, cimd, &code, CALLBACK, None),
            400,
            "invalid_client",
        );
        refused(
            claude.redeem(&asm, CIMD, &code, evil_redirect, None),
            400,
            "invalid_request",
        );
        let refresh = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt-x"),
            ("client_id", cimd),
        ];
        refused(claude.token(&asm, &refresh, None), 400, "invalid_client");
        let basic = support::fake_entra::b64std(format!("{}:x", enc(cimd)).as_bytes());
        let r = claude.send(
            asm["token_endpoint"].as_str().unwrap(),
            "POST",
            &[FORM, ("Authorization", &format!("Basic {basic}"))],
            &form(&[("grant_type", "refresh_token"), ("refresh_token", "rt-x")]),
        );
        refused(r, 400, "invalid_client");
    }
    assert!(
        fake.token_forms().is_empty(),
        "no refused request reached Entra"
    );
    let sent_client_ids: Vec<String> = fake
        .authorize_queries()
        .iter()
        .map(|q| query_of(&format!("?{q}"))["client_id"].clone())
        .collect();
    assert!(
        sent_client_ids.iter().all(|c| c == CLIENT_ID),
        "{sent_client_ids:?}"
    );
    assert_not_logged(&s, &[CLIENT_SECRET]);
    assert!(!claude.seen.borrow().contains(CLIENT_SECRET));
}

#[test]
fn registration_endpoint_edges() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[("OAUTH_CLIENT_METADATA_URLS", "none")]);
    let asm = s
        .request("GET", "/.well-known/oauth-authorization-server", &[], "")
        .json();
    assert_eq!(asm["client_id_metadata_document_supported"], false, "{asm}");
    assert_eq!(asm["registration_endpoint"], format!("{}/register", s.url));
    let json_ct = [("Content-Type", "application/json")];
    let get = s.request("GET", "/register", &[], "");
    assert_eq!((get.status, get.header("allow")), (405, Some("POST")));
    let cases = [
        (
            &json_ct[..],
            "{\"redirect_uris\": [\"https://claude.ai/api/mcp/auth_callback\"".to_string(),
        ),
        (
            &json_ct[..],
            format!(
                "{{\"redirect_uris\": [\"{CALLBACK}\"], \"x\": \"{}\"}}",
                "a".repeat(20_000)
            ),
        ),
        (
            &[("Content-Type", "application/x-www-form-urlencoded")][..],
            format!("redirect_uris={CALLBACK}"),
        ),
    ];
    for (h, body) in cases {
        let r = s.request("POST", "/register", h, &body);
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.json()["error"], "invalid_client_metadata", "{}", r.body);
    }
    let ok = s.request(
        "POST",
        "/register",
        &json_ct,
        &json!({"redirect_uris": [CALLBACK]}).to_string(),
    );
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    // With the metadata documents off, claude.ai's id is an unknown URL like any other.
    let q = form(&[
        ("response_type", "code"),
        ("client_id", CIMD),
        ("redirect_uri", CALLBACK),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let r = s.request("GET", &format!("/authorize?{q}"), &[], "");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("OAUTH_CLIENT_METADATA_URLS=none"),
        "{}",
        r.body
    );
    let off = start(&fake, &[("ENABLE_AUTH", "false")]);
    assert_eq!(off.request("POST", "/register", &json_ct, "{}").status, 404);
}
