//! Every client in docs/clients.md signs in the way it really does, against the fake Entra:
//! its registration (a Client ID Metadata Document or `/register` with the body its source
//! sends), its redirect URIs (loopback on a port the OS picked), PKCE, the code exchange, a tool
//! call, a refresh and another tool call; once with a public-client Entra app and once with a
//! Web app whose secret the server holds. With the secret on the server, refresh tokens are
//! sealed to the client id and user: another client's replay is refused, Entra's own refresh
//! token never reaches a client, and the issuing client's refresh works. Also: the loopback
//! rule loosens the port and nothing else.

use crate::support;

use std::collections::HashMap;

use serde_json::{json, Value};
use support::auth::{assert_not_logged, form, start, CHALLENGE, FORM, VERIFIER};
use support::fake_entra::{b64std, enc, parse_pairs, FakeEntra, CLIENT_SECRET};
use support::server::{request, Resp, Server};
use support::tool_call::{self, Transport};

const CLAUDE_AI: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";
const CLAUDE_CODE: &str = "https://claude.ai/oauth/claude-code-client-metadata";
const VSCODE: &str = "https://vscode.dev/oauth/client-metadata.json";
const SEALED: &str = "bmcp-rt1.";

/// How a client names itself.
#[derive(Clone, Copy)]
enum Registration {
    /// Its metadata-document URL is its client id.
    Document(&'static str),
    /// It POSTs this body to `/register` (`{redirect}` stands for the redirect URI it uses).
    Dynamic(&'static str),
}

/// One row of the client table.
struct Case {
    name: &'static str,
    registration: Registration,
    /// The redirect URI it uses; `{port}` is a port the OS just handed out.
    redirect: &'static str,
    /// The one server setting this client needs (besides ENTRA_* and the secret).
    settings: &'static [(&'static str, &'static str)],
    /// What the Entra app registration needs besides claude.ai's callbacks.
    entra_redirects: &'static [&'static str],
    /// Browser-based clients send their page's origin.
    origin: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "claude.ai (web, Desktop, mobile)",
            registration: Registration::Document(CLAUDE_AI),
            redirect: "https://claude.ai/api/mcp/auth_callback",
            settings: &[],
            entra_redirects: &[],
            origin: None,
        },
        Case {
            name: "claude.ai via claude.com's callback",
            registration: Registration::Document(CLAUDE_AI),
            redirect: "https://claude.com/api/mcp/auth_callback",
            settings: &[],
            entra_redirects: &[],
            origin: None,
        },
        Case {
            name: "Claude Code on localhost",
            registration: Registration::Document(CLAUDE_CODE),
            redirect: "http://localhost:{port}/callback",
            settings: &[],
            entra_redirects: &["http://localhost/callback"],
            origin: None,
        },
        Case {
            name: "Claude Code on 127.0.0.1",
            registration: Registration::Document(CLAUDE_CODE),
            redirect: "http://127.0.0.1:{port}/callback",
            settings: &[],
            entra_redirects: &["http://127.0.0.1/callback"],
            origin: None,
        },
        Case {
            name: "VS Code by its metadata document",
            registration: Registration::Document(VSCODE),
            redirect: "http://127.0.0.1:{port}/",
            settings: &[("OAUTH_CLIENT_METADATA_URLS", "default, https://vscode.dev/oauth/client-metadata.json")],
            entra_redirects: &["http://127.0.0.1/"],
            origin: None,
        },
        Case {
            name: "VS Code by dynamic registration",
            registration: Registration::Dynamic(
                r#"{"client_name":"Visual Studio Code","client_uri":"https://code.visualstudio.com",
                "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
                "redirect_uris":["https://insiders.vscode.dev/redirect","https://vscode.dev/redirect",
                "http://127.0.0.1/","http://127.0.0.1:33418/"],
                "token_endpoint_auth_method":"none","application_type":"native"}"#,
            ),
            redirect: "http://127.0.0.1:{port}/",
            // VS Code registers only when the server does not advertise metadata documents.
            settings: &[
                ("OAUTH_CLIENT_METADATA_URLS", "none"),
                ("OAUTH_REDIRECT_URIS", "http://127.0.0.1/"),
            ],
            entra_redirects: &["http://127.0.0.1/"],
            origin: None,
        },
        Case {
            name: "Cursor",
            registration: Registration::Dynamic(
                r#"{"client_name":"Cursor","redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback",
                "https://www.cursor.com/agents/mcp/oauth/callback"],
                "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
                "token_endpoint_auth_method":"none"}"#,
            ),
            redirect: "cursor://anysphere.cursor-mcp/oauth/callback",
            settings: &[("OAUTH_REDIRECT_URIS", "cursor://anysphere.cursor-mcp/oauth/callback")],
            entra_redirects: &["cursor://anysphere.cursor-mcp/oauth/callback"],
            origin: None,
        },
        Case {
            name: "ChatGPT",
            registration: Registration::Dynamic(
                r#"{"client_name":"ChatGPT","redirect_uris":["https://chatgpt.com/connector_platform_oauth_redirect"],
                "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
                "token_endpoint_auth_method":"client_secret_post"}"#,
            ),
            redirect: "https://chatgpt.com/connector_platform_oauth_redirect",
            settings: &[("OAUTH_REDIRECT_URIS", "https://chatgpt.com/connector_platform_oauth_redirect")],
            entra_redirects: &["https://chatgpt.com/connector_platform_oauth_redirect"],
            origin: None,
        },
        Case {
            name: "ChatGPT by a per-connector metadata document",
            registration: Registration::Document("https://chatgpt.com/oauth/cb-1234/client.json"),
            redirect: "https://chatgpt.com/connector/oauth/cb-1234",
            settings: &[
                ("OAUTH_CLIENT_METADATA_URLS", "default, https://chatgpt.com/oauth/cb-1234/client.json"),
                ("OAUTH_REDIRECT_URIS", "https://chatgpt.com/connector/oauth/cb-1234"),
            ],
            entra_redirects: &["https://chatgpt.com/connector/oauth/cb-1234"],
            origin: None,
        },
        Case {
            name: "MCP Inspector",
            registration: Registration::Dynamic(
                r#"{"redirect_uris":["{redirect}","http://localhost:6274/oauth/callback/debug"],
                "token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],
                "response_types":["code"],"client_name":"MCP Inspector",
                "client_uri":"https://github.com/modelcontextprotocol/inspector","scope":""}"#,
            ),
            redirect: "http://localhost:6274/oauth/callback",
            settings: &[
                ("OAUTH_REDIRECT_URIS", "http://localhost:6274/oauth/callback, http://localhost:6274/oauth/callback/debug"),
                ("CORS_ALLOWED_ORIGINS", "https://claude.ai,https://claude.com,http://localhost:6274"),
            ],
            entra_redirects: &["http://localhost/oauth/callback"],
            origin: Some("http://localhost:6274"),
        },
    ]
}

/// A port the operating system just handed out, as a desktop client's listener gets one.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn query_of(location: &str) -> HashMap<String, String> {
    let (_, q) = location.split_once('?').unwrap_or((location, ""));
    parse_pairs(q).into_iter().collect()
}

/// A client as far as OAuth goes; remembers every byte the server sent it.
struct Client<'a> {
    server: &'a Server,
    origin: Option<&'static str>,
    seen: std::cell::RefCell<String>,
}

/// What a client holds after registering.
struct Credentials {
    client_id: String,
    secret: Option<String>,
    method: String,
}

impl<'a> Client<'a> {
    fn new(server: &'a Server, origin: Option<&'static str>) -> Client<'a> {
        Client {
            server,
            origin,
            seen: Default::default(),
        }
    }

    fn send(&self, path: &str, method: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut h = headers.to_vec();
        h.extend(self.origin.map(|o| ("Origin", o)));
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.server.url)
        };
        let r = request(&url, method, &h, body);
        if let Some(origin) = self.origin {
            if method == "POST" && url.starts_with(&self.server.url) {
                assert_eq!(
                    r.header("access-control-allow-origin"),
                    Some(origin),
                    "{path}"
                );
            }
        }
        self.seen
            .borrow_mut()
            .push_str(&format!("{:?}{}", r.headers, r.body));
        r
    }

    fn register(&self, how: Registration, redirect: &str) -> Result<Credentials, Resp> {
        match how {
            Registration::Document(url) => Ok(Credentials {
                client_id: url.into(),
                secret: None,
                method: "none".into(),
            }),
            Registration::Dynamic(body) => {
                let body = body.replace("{redirect}", redirect);
                let sent: Value = serde_json::from_str(&body).expect("case body is JSON");
                let r = self.send(
                    "/register",
                    "POST",
                    &[("Content-Type", "application/json")],
                    &body,
                );
                if r.status != 201 {
                    return Err(r);
                }
                let v = r.json();
                let method = sent["token_endpoint_auth_method"]
                    .as_str()
                    .unwrap_or("none");
                assert_eq!(
                    v["token_endpoint_auth_method"], method,
                    "the method asked for: {v}"
                );
                assert!(
                    redirect.is_empty()
                        || v["redirect_uris"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|u| redirect
                                .starts_with(u.as_str().unwrap().trim_end_matches('/'))
                                || u == redirect),
                    "{v}"
                );
                assert_eq!(v.get("client_secret").is_some(), method != "none", "{v}");
                Ok(Credentials {
                    client_id: v["client_id"].as_str().unwrap().into(),
                    secret: v["client_secret"].as_str().map(str::to_string),
                    method: method.into(),
                })
            }
        }
    }

    /// `/authorize` → Entra → the code on the client's redirect URI.
    fn authorize(&self, client_id: &str, redirect: &str) -> Result<String, Resp> {
        let q = form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "st-9"),
            ("resource", &format!("{}/mcp", self.server.url)),
        ]);
        let r = self.send(&format!("/authorize?{q}"), "GET", &[], "");
        if r.status != 302 {
            return Err(r);
        }
        let at_entra = request(r.header("location").unwrap(), "GET", &[], "");
        assert_eq!(at_entra.status, 302, "Entra refused: {}", at_entra.body);
        let back = at_entra.header("location").unwrap().to_string();
        assert!(back.starts_with(&format!("{redirect}?")), "{back}");
        let q = query_of(&back);
        assert_eq!(q["state"], "st-9");
        Ok(q["code"].clone())
    }

    /// POST /token, authenticating the way the client registered.
    fn token(&self, creds: &Credentials, pairs: &[(&str, &str)]) -> Resp {
        let mut pairs = pairs.to_vec();
        let mut headers = vec![FORM];
        let basic;
        match (creds.method.as_str(), &creds.secret) {
            ("client_secret_basic", Some(secret)) => {
                basic = format!(
                    "Basic {}",
                    b64std(format!("{}:{}", enc(&creds.client_id), enc(secret)).as_bytes())
                );
                headers.push(("Authorization", &basic));
            }
            (_, Some(secret)) => {
                pairs.push(("client_id", &creds.client_id));
                pairs.push(("client_secret", secret));
            }
            (_, None) => pairs.push(("client_id", &creds.client_id)),
        }
        self.send("/token", "POST", &headers, &form(&pairs))
    }

    fn redeem(&self, creds: &Credentials, code: &str, redirect: &str) -> Resp {
        self.token(
            creds,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ],
        )
    }

    fn refresh(&self, creds: &Credentials, refresh_token: &str) -> Resp {
        self.token(
            creds,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
    }
}

/// A search through the tool with this access token finds the Lambda passage.
fn search_works(s: &Server, access: &str) {
    let v = tool_call::call(
        s,
        Transport::Mcp("2025-06-18"),
        Some(access),
        "search_knowledge_base",
        json!({"query": "AWS Lambda functions", "max_results": 2}),
    );
    assert_eq!(v["result"]["isError"], false, "{v}");
    assert!(tool_call::text(&v).to_lowercase().contains("lambda"), "{v}");
}

fn tokens(r: &Resp) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    (
        v["access_token"].as_str().expect("access_token").into(),
        v["refresh_token"].as_str().expect("refresh_token").into(),
    )
}

/// Plays one client from registration to a refreshed tool call; returns its credentials and
/// latest refresh token.
fn sign_in(
    s: &Server,
    fake: &FakeEntra,
    case: &Case,
    sealed: bool,
) -> Option<(Credentials, String)> {
    let client = Client::new(s, case.origin);
    let asm = client
        .send("/.well-known/oauth-authorization-server", "GET", &[], "")
        .json();
    let cimd = matches!(case.registration, Registration::Document(_));
    if cimd {
        assert_eq!(asm["client_id_metadata_document_supported"], true, "{asm}");
    }
    assert!(asm["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("none")));
    let redirect = case.redirect.replace("{port}", &free_port().to_string());
    let creds = match client.register(case.registration, &redirect) {
        Ok(c) => c,
        Err(r) => {
            // Without a server secret there is no client secret to issue: a documented refusal.
            assert!(!sealed, "{}: {}", case.name, r.body);
            assert_eq!(r.status, 400, "{}", r.body);
            assert_eq!(r.json()["error"], "invalid_client_metadata", "{}", r.body);
            assert!(
                r.body.contains("token_endpoint_auth_method none"),
                "{}",
                r.body
            );
            return None;
        }
    };
    let code = client
        .authorize(&creds.client_id, &redirect)
        .unwrap_or_else(|r| panic!("{}: /authorize {}: {}", case.name, r.status, r.body));
    let (access, refresh) = tokens(&client.redeem(&creds, &code, &redirect));
    assert_eq!(
        refresh.starts_with(SEALED),
        sealed,
        "{}: {refresh:.20}",
        case.name
    );
    search_works(s, &access);
    let (access2, refresh2) = tokens(&client.refresh(&creds, &refresh));
    assert_eq!(refresh2.starts_with(SEALED), sealed);
    search_works(s, &access2);
    if sealed {
        // Entra's own refresh tokens (rt-N in the fake) never reached the client.
        let seen = client.seen.borrow();
        let entra_tokens = fake.token_forms().len() + 10;
        for n in 1..=entra_tokens * 2 {
            assert!(
                !seen.contains(&format!("\"rt-{n}\"")),
                "{}: Entra's rt-{n} reached the client",
                case.name
            );
        }
        assert!(!seen.contains(CLIENT_SECRET));
        assert_not_logged(s, &[&access, &refresh, &access2, &refresh2, CLIENT_SECRET]);
    }
    Some((creds, refresh2))
}

#[test]
fn every_client_in_the_table_signs_in_with_a_public_client_app() {
    let fake = FakeEntra::start();
    fake.set_public_client(true);
    for case in cases() {
        fake.add_redirects(case.entra_redirects);
        let s = start(&fake, case.settings);
        sign_in(&s, &fake, &case, false);
    }
}

#[test]
fn every_client_in_the_table_signs_in_with_the_secret_on_the_server() {
    let fake = FakeEntra::start();
    for case in cases() {
        fake.add_redirects(case.entra_redirects);
        let mut settings = case.settings.to_vec();
        settings.push(("ENTRA_CLIENT_SECRET", CLIENT_SECRET));
        let s = start(&fake, &settings);
        let (creds, refresh) = sign_in(&s, &fake, &case, true).expect("registered");
        // The same refresh token replayed under other client ids is refused before Entra.
        let before = fake.token_forms().len();
        let client = Client::new(&s, case.origin);
        let others = [CLAUDE_AI, CLAUDE_CODE, support::fake_entra::CLIENT_ID];
        for other in others.iter().filter(|o| **o != creds.client_id) {
            let thief = Credentials {
                client_id: other.to_string(),
                secret: None,
                method: "none".into(),
            };
            let r = client.refresh(&thief, &refresh);
            assert_eq!(r.status, 400, "{}: {}", case.name, r.body);
            // invalid_grant, or invalid_client where that client id is not accepted at all.
            let error = r.json()["error"].clone();
            assert!(
                error == "invalid_grant" || error == "invalid_client",
                "{}",
                r.body
            );
        }
        assert_eq!(
            fake.token_forms().len(),
            before,
            "{}: a replay reached Entra",
            case.name
        );
        // The issuing client's refresh still works.
        let (access, _) = tokens(&client.refresh(&creds, &refresh));
        search_works(&s, &access);
    }
}

#[test]
fn claude_code_signs_in_on_any_loopback_port_out_of_the_box() {
    let fake = FakeEntra::start();
    fake.set_public_client(true);
    fake.add_redirects(&["http://localhost/callback", "http://127.0.0.1/callback"]);
    let s = start(&fake, &[]);
    let client = Client::new(&s, None);
    let creds = client
        .register(Registration::Document(CLAUDE_CODE), "")
        .unwrap();
    for _ in 0..3 {
        let redirect = format!("http://localhost:{}/callback", free_port());
        let code = client.authorize(CLAUDE_CODE, &redirect).expect("signed in");
        let (access, refresh) = tokens(&client.redeem(&creds, &code, &redirect));
        search_works(&s, &access);
        let (access, _) = tokens(&client.refresh(&creds, &refresh));
        search_works(&s, &access);
    }
    // The code is bound to the redirect URI it was issued for, port included.
    let port = free_port();
    let code = client
        .authorize(CLAUDE_CODE, &format!("http://localhost:{port}/callback"))
        .unwrap();
    let r = client.redeem(
        &creds,
        &code,
        &format!("http://localhost:{}/callback", port + 1),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["error"],
        "invalid_grant",
        "Entra refuses the other port: {}",
        r.body
    );
}

#[test]
fn loopback_redirects_on_another_host_scheme_or_path_are_refused() {
    let fake = FakeEntra::start();
    fake.set_public_client(true);
    fake.add_redirects(&["http://localhost/callback", "http://127.0.0.1/callback"]);
    let s = start(&fake, &[("OAUTH_REDIRECT_URIS", "http://127.0.0.1/")]);
    let client = Client::new(&s, None);
    let port = free_port();
    let refused = [
        format!("http://evil.example:{port}/callback"),
        format!("http://localhost.evil.example:{port}/callback"),
        format!("http://127.0.0.1.nip.io:{port}/callback"),
        format!("http://[::ffff:127.0.0.1]:{port}/callback"),
        format!("http://[::1]:{port}/callback"),
        format!("http://localhost@evil.example:{port}/callback"),
        format!("http://evil.example@localhost:{port}/callback"),
        format!("https://localhost:{port}/callback"),
        format!("ftp://localhost:{port}/callback"),
        format!("http://localhost:{port}/callback/evil"),
        format!("http://localhost:{port}/callbackx"),
        format!("http://localhost:{port}/"),
        format!("http://localhost:{port}/%63allback"),
        format!("http://localhost:{port}/callback?next=https://evil.example"),
        format!("http://localhost:{port}/callback#x"),
        "http://localhost:0/callback".to_string(),
        "http://localhost:70000/callback".to_string(),
    ];
    let registered = client
        .register(
            Registration::Dynamic(
                r#"{"redirect_uris":["http://127.0.0.1/"],"token_endpoint_auth_method":"none"}"#,
            ),
            "",
        )
        .unwrap();
    for uri in &refused {
        for client_id in [CLAUDE_CODE, registered.client_id.as_str()] {
            let r = client.authorize(client_id, uri).unwrap_err();
            assert_eq!(r.status, 400, "{uri}: {}", r.body);
            assert!(r.header("location").is_none(), "never a redirect: {uri}");
            assert_eq!(r.json()["error"], "invalid_request", "{uri}: {}", r.body);
        }
        // Nor can a registration ask for them.
        let body =
            json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}).to_string();
        let r = client.send(
            "/register",
            "POST",
            &[("Content-Type", "application/json")],
            &body,
        );
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (400, json!("invalid_redirect_uri")),
            "{uri}"
        );
    }
    // Each client keeps to its own loopback entries: Claude Code's path is /callback,
    // the registered client's is /.
    assert!(client
        .authorize(CLAUDE_CODE, &format!("http://127.0.0.1:{port}/"))
        .is_err());
    assert!(client
        .authorize(
            &registered.client_id,
            &format!("http://127.0.0.1:{port}/callback")
        )
        .is_err());
    assert!(client
        .authorize(CLAUDE_AI, &format!("http://localhost:{port}/callback"))
        .is_err());
    assert!(
        fake.authorize_queries().is_empty(),
        "no refused request reached Entra"
    );
}

#[test]
fn with_the_secret_on_the_server_only_sealed_refresh_tokens_of_the_same_client_are_redeemed() {
    let fake = FakeEntra::start();
    fake.add_redirects(&["http://localhost/callback"]);
    let s = start(&fake, &[("ENTRA_CLIENT_SECRET", CLIENT_SECRET)]);
    let other = start(
        &fake,
        &[("ENTRA_CLIENT_SECRET", "another-deployments-secret")],
    );
    let client = Client::new(&s, None);
    let creds = client
        .register(Registration::Document(CLAUDE_CODE), "")
        .unwrap();
    let redirect = format!("http://localhost:{}/callback", free_port());
    let code = client.authorize(CLAUDE_CODE, &redirect).unwrap();
    let (_, sealed) = tokens(&client.redeem(&creds, &code, &redirect));
    // Entra's own refresh token (the fake's latest) would be worth the server's secret: refused.
    let before = fake.token_forms().len();
    let entra_token = format!("rt-{}", 2);
    for stolen in [entra_token.as_str(), "rt-1", "anything"] {
        let r = client.refresh(&creds, stolen);
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (400, json!("invalid_grant")),
            "{}",
            r.body
        );
        assert!(r.body.contains("sign in again"), "{}", r.body);
    }
    // A changed byte, or another deployment's key, and it is refused too.
    let mut tampered = sealed.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let r = client.refresh(&creds, std::str::from_utf8(&tampered).unwrap());
    assert_eq!(r.json()["error"], "invalid_grant", "{}", r.body);
    let r = Client::new(&other, None).refresh(&creds, &sealed);
    assert_eq!(r.json()["error"], "invalid_grant", "{}", r.body);
    // A registered client with a secret: a wrong secret is 401 invalid_client; a public
    // registration cannot redeem its tokens by dropping the secret.
    let confidential = client
        .register(
            Registration::Dynamic(r#"{"redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"token_endpoint_auth_method":"client_secret_basic"}"#),
            "",
        )
        .unwrap();
    let wrong = Credentials {
        client_id: confidential.client_id.clone(),
        secret: Some("d3Jvbmc".into()),
        method: "client_secret_basic".into(),
    };
    let r = client.refresh(&wrong, &sealed);
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (401, json!("invalid_client")),
        "{}",
        r.body
    );
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"token\""));
    let bare = Credentials {
        client_id: confidential.client_id.clone(),
        secret: None,
        method: "none".into(),
    };
    assert_eq!(client.refresh(&bare, &sealed).status, 401);
    assert_eq!(
        fake.token_forms().len(),
        before,
        "no refused refresh reached Entra"
    );
    // The issuing client's refresh works and hands out a new sealed token.
    let (access, renewed) = tokens(&client.refresh(&creds, &sealed));
    assert!(renewed.starts_with(SEALED) && renewed != sealed);
    search_works(&s, &access);
}
