//! Entra ID sign-in at the binary level, the token gate (ENABLE_AUTH=true against a fake
//! tenant): v1 and v2 tokens over both transports with the user in the access log, every bad
//! token refused with a challenge before anything runs, required roles and scopes, signing-key
//! rotation and JWKS outages. The open edge (discovery, OAuth proxy, origins) is in
//! auth_oauth_http.rs.

use crate::support;

use serde_json::{json, Value};
use support::auth::{
    access_line, assert_not_logged, assert_search_ok, bearer, call, search, start,
};
use support::fake_entra::{FakeEntra, CLIENT_ID, TENANT};
use support::server::Server;
use support::sse::SseStream;

const VERSION: &str = "2025-06-18";

/// Asserts the request was answered `status` and ran nothing: no method, tool, session or user.
fn assert_not_processed(s: &Server, rid: &str, status: u16) {
    let line = access_line(s, rid);
    assert_eq!(line["status"], status, "{line}");
    for field in ["rpc_method", "tool", "results", "session", "user"] {
        assert!(line.get(field).is_none(), "{rid} was processed: {line}");
    }
}

fn challenge_url(s: &Server) -> String {
    format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        s.url
    )
}

#[test]
fn v2_and_v1_tokens_work_on_mcp_and_the_access_log_names_the_user() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let v2 = fake.token();
    let v1 = fake.mint(fake.claims_v1(), json!({}));
    let users = [
        (
            &v2,
            "ada@contoso.example",
            "11111111-0000-0000-0000-000000000001",
        ),
        (
            &v1,
            "grace@contoso.example",
            "11111111-0000-0000-0000-000000000002",
        ),
    ];
    for (n, (token, user, oid)) in users.into_iter().enumerate() {
        let auth = bearer(token);
        let init = s.mcp(&[("Authorization", &auth)], &json!({"jsonrpc":"2.0","id":1,"method":"initialize",
            "params":{"protocolVersion":VERSION,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}));
        assert_eq!(init.status, 200, "{user}: {}", init.body);
        let sid = init
            .header("mcp-session-id")
            .expect("session id")
            .to_string();
        let h = [
            ("Authorization", auth.as_str()),
            ("Mcp-Session-Id", sid.as_str()),
            ("MCP-Protocol-Version", VERSION),
        ];
        let done = s.mcp(
            &h,
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        );
        assert_eq!(done.status, 202, "{user}");
        let list = s.mcp(&h, &json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}));
        assert!(
            list.body.contains("search_knowledge_base"),
            "{user}: {}",
            list.body
        );
        let rid = format!("audit-{n}");
        let mut with_id = h.to_vec();
        with_id.push(("X-Request-Id", &rid));
        assert_search_ok(&s.mcp(&with_id, &search(3)));
        let line = access_line(&s, &rid);
        assert_eq!(line["status"], 200, "{line}");
        assert_eq!(line["tool"], "search_knowledge_base", "{line}");
        assert!(line["results"].as_u64().is_some(), "{line}");
        assert_eq!(
            (&line["user"], &line["oid"], &line["tid"]),
            (&json!(user), &json!(oid), &json!(TENANT)),
            "{line}"
        );
    }
    assert_eq!(
        fake.jwks_fetches(),
        1,
        "signing keys are fetched once and cached"
    );
    assert_not_logged(&s, &[&v2, &v1]);
}

#[test]
fn v2_and_v1_tokens_work_on_the_legacy_sse_transport_and_sessions_stay_with_their_user() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let v2 = bearer(&fake.token());
    let v1 = bearer(&fake.mint(fake.claims_v1(), json!({})));
    for path in ["/sse", "/"] {
        for (auth, other) in [(&v2, &v1), (&v1, &v2)] {
            let mut stream = SseStream::open(&s.url, path, &[("Authorization", auth)]).unwrap();
            assert_eq!(stream.status(), 200, "{path}: {}", stream.head);
            let endpoint = stream.wait_for("endpoint").expect("endpoint event").data;
            let post = |auth: &str, body: Value| {
                let h = [
                    ("Authorization", auth),
                    ("Content-Type", "application/json"),
                ];
                s.request("POST", &endpoint, &h, &body.to_string()).status
            };
            let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05"}});
            assert_eq!(post(auth, init), 202);
            let answer: Value =
                serde_json::from_str(&stream.wait_for("message").unwrap().data).unwrap();
            assert_eq!(
                answer["result"]["protocolVersion"], "2024-11-05",
                "{answer}"
            );
            assert_eq!(
                post(
                    auth,
                    json!({"jsonrpc":"2.0","method":"notifications/initialized"})
                ),
                202
            );
            assert_eq!(
                post(other, search(2)),
                404,
                "another user's token must not reach this session"
            );
            assert_eq!(post(auth, search(3)), 202);
            let answer: Value =
                serde_json::from_str(&stream.wait_for("message").unwrap().data).unwrap();
            assert_eq!(
                answer["id"], 3,
                "the other user's message was never answered: {answer}"
            );
            assert_eq!(answer["result"]["isError"], false, "{answer}");
        }
    }
}

/// A refused token: what it is, the Authorization value, and the expected answer.
struct Bad {
    name: &'static str,
    auth: Option<String>,
    status: u16,
    error: &'static str,
    says: &'static str,
}

fn bad_tokens(fake: &FakeEntra) -> Vec<Bad> {
    let bad = |name, token: String, says| Bad {
        name,
        auth: Some(bearer(&token)),
        status: 401,
        error: "invalid_token",
        says,
    };
    vec![
        bad("expired", fake.expired(), "expired"),
        bad("not yet valid", fake.not_yet_valid(), "not yet valid"),
        bad("wrong audience", fake.wrong_audience(), "audience"),
        bad("wrong issuer", fake.wrong_issuer(), "issuer"),
        bad("other tenant", fake.other_tenant(), "issuer"),
        bad("alg none", fake.alg_none(), "alg none"),
        bad(
            "HS256 with the public key",
            fake.hs256_with_public_key(),
            "HS256",
        ),
        bad("tampered", fake.tampered(), "signature"),
        bad("unknown kid", fake.unknown_kid(), "unknown key ID"),
        bad("no kid", fake.no_kid(), "kid"),
        bad("garbage", fake.garbage(), "malformed"),
        bad("empty", fake.empty(), "Missing bearer token"),
        bad("huge", fake.huge(), "larger than"),
        bad("Graph token", fake.graph_token(), "Microsoft Graph"),
        Bad {
            name: "missing header",
            auth: None,
            status: 401,
            error: "invalid_token",
            says: "Missing bearer token",
        },
        // Another scheme carries no bearer token: the plain challenge, so the client starts OAuth.
        Bad {
            name: "Basic credentials",
            auth: Some("Basic dXNlcjpwYXNzd29yZA==".into()),
            status: 401,
            error: "invalid_token",
            says: "Missing bearer token",
        },
        Bad {
            name: "Digest credentials",
            auth: Some("Digest username=\"u\", response=\"x\"".into()),
            status: 401,
            error: "invalid_token",
            says: "Missing bearer token",
        },
    ]
}

#[test]
fn every_bad_token_gets_a_challenge_and_is_never_processed() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let good = bearer(&fake.token());
    // A live legacy session of a real user, so bad posts to /messages target something real.
    let mut stream = SseStream::open(&s.url, "/sse", &[("Authorization", &good)]).unwrap();
    assert_eq!(stream.status(), 200, "{}", stream.head);
    let endpoint = stream.wait_for("endpoint").unwrap().data;
    let targets = [
        ("POST", "/mcp"),
        ("POST", "/"),
        ("GET", "/sse"),
        ("GET", "/"),
        ("POST", endpoint.as_str()),
    ];
    let cases = bad_tokens(&fake);
    for (i, case) in cases.iter().enumerate() {
        for (j, (method, path)) in targets.iter().enumerate() {
            let what = format!("{} on {method} {path}", case.name);
            let rid = format!("bad-{i}-{j}");
            let mut h = vec![
                ("Accept", "application/json, text/event-stream"),
                ("Content-Type", "application/json"),
                ("X-Request-Id", rid.as_str()),
            ];
            h.extend(case.auth.as_deref().map(|a| ("Authorization", a)));
            let body = if *method == "POST" {
                search(100 + i as u64).to_string()
            } else {
                String::new()
            };
            let r = s.request(method, path, &h, &body);
            assert_eq!(r.status, case.status, "{what}: {}", r.body);
            let www = r
                .header("www-authenticate")
                .unwrap_or_else(|| panic!("{what}: no challenge"));
            assert!(
                www.starts_with("Bearer ") && www.contains(&challenge_url(&s)),
                "{what}: {www}"
            );
            let missing = case.says == "Missing bearer token";
            let code = format!("error=\"{}\"", case.error);
            assert_eq!(www.contains(&code), !missing, "{what}: {www}");
            let v = r.json();
            assert_eq!(v["error"], case.error, "{what}: {v}");
            let description = v["error_description"].as_str().unwrap_or("");
            assert!(description.contains(case.says), "{what}: {v}");
            assert_not_processed(&s, &rid, case.status);
        }
    }
    // The stream is ordered: the first answer on it is the good post's, so no bad one ran.
    let h = [
        ("Authorization", good.as_str()),
        ("Content-Type", "application/json"),
    ];
    assert_eq!(
        s.request("POST", &endpoint, &h, &search(999).to_string())
            .status,
        202
    );
    let answer: Value = serde_json::from_str(&stream.wait_for("message").unwrap().data).unwrap();
    assert_eq!(answer["id"], 999, "{answer}");
    let health = s.request("GET", "/health", &[], "").json();
    assert_eq!(
        health["sse_sessions"], 1,
        "no refused GET opened a stream: {health}"
    );
    let tokens: Vec<String> = cases.into_iter().filter_map(|c| c.auth).collect();
    let mut secrets: Vec<&str> = tokens
        .iter()
        .map(|t| t.trim_start_matches("Bearer "))
        .collect();
    secrets.push(good.trim_start_matches("Bearer "));
    assert_not_logged(&s, &secrets);
}

#[test]
fn required_roles_and_scopes_answer_403_when_missing_and_200_when_present() {
    let fake = FakeEntra::start();
    let forbidden = |s: &Server, token: &str, rid: &str, names: &str| {
        let r = call(s, Some(&bearer(token)), rid);
        assert_eq!(r.status, 403, "{rid}: {}", r.body);
        let v = r.json();
        assert_eq!(v["error"], "insufficient_scope", "{v}");
        assert!(
            v["error_description"]
                .as_str()
                .unwrap_or("")
                .contains(names),
            "{v}"
        );
        let www = r.header("www-authenticate").unwrap_or("");
        assert!(
            www.contains("error=\"insufficient_scope\"") && www.contains(&challenge_url(s)),
            "{www}"
        );
        assert_not_processed(s, rid, 403);
    };
    let roles = start(&fake, &[("AUTH_REQUIRED_ROLES", "KB.Read")]);
    forbidden(&roles, &fake.token(), "role-1", "KB.Read");
    forbidden(
        &roles,
        &fake.token_with(json!({"roles": ["KB.Write"]})),
        "role-2",
        "KB.Read",
    );
    let v1 = fake.mint(fake.claims_v1(), json!({}));
    assert_search_ok(&call(&roles, Some(&bearer(&v1)), "role-3"));
    let more = fake.token_with(json!({"roles": ["KB.Admin", "KB.Read"]}));
    assert_search_ok(&call(&roles, Some(&bearer(&more)), "role-4"));

    let full = format!("api://{CLIENT_ID}/access_as_user");
    let scopes = start(&fake, &[("AUTH_REQUIRED_SCOPES", &full)]);
    assert_search_ok(&call(&scopes, Some(&bearer(&fake.token())), "scope-1"));
    forbidden(
        &scopes,
        &fake.token_with(json!({"scp": "Files.Read"})),
        "scope-2",
        "access_as_user",
    );
    // Neither a scope nor a role: not an access token for this API at all (docs/identity.md),
    // so a 401 challenge rather than 403.
    let r = call(
        &scopes,
        Some(&bearer(&fake.token_with(json!({"scp": null})))),
        "scope-3",
    );
    assert_eq!(r.status, 401, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error"], "invalid_token", "{v}");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("carries neither a delegated scope (scp) nor an app role (roles)"),
        "{v}"
    );
    assert_not_processed(&scopes, "scope-3", 401);
}

#[test]
fn a_rotated_signing_key_is_accepted_after_one_refetch() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let old = bearer(&fake.token());
    assert_search_ok(&call(&s, Some(&old), "rot-1"));
    assert_eq!(fake.jwks_fetches(), 1);
    fake.publish(&[0, 1]);
    let new = bearer(&fake.mint(fake.claims_v2(), json!({"kid": "kid-2"})));
    assert_search_ok(&call(&s, Some(&new), "rot-2"));
    assert_eq!(
        fake.jwks_fetches(),
        2,
        "an unknown kid triggers exactly one refetch"
    );
    assert_search_ok(&call(&s, Some(&new), "rot-3"));
    assert_search_ok(&call(&s, Some(&old), "rot-4"));
    assert_eq!(fake.jwks_fetches(), 2, "the new keys are cached");
    // Unknown kids cannot make us hammer Entra: one refetch per minute at most.
    let stranger = bearer(&fake.mint(fake.claims_v2(), json!({"kid": "kid-3"})));
    let r = call(&s, Some(&stranger), "rot-5");
    assert_eq!(r.status, 401, "{}", r.body);
    assert_not_processed(&s, "rot-5", 401);
    assert_eq!(fake.jwks_fetches(), 2);
}

#[test]
fn cached_keys_keep_working_while_the_jwks_endpoint_is_down() {
    let fake = FakeEntra::start();
    let s = start(&fake, &[]);
    let token = bearer(&fake.token());
    assert_search_ok(&call(&s, Some(&token), "down-1"));
    fake.set_jwks_down(true);
    // An unknown kid forces a refetch, which fails: the cached keys must survive it.
    let unknown = bearer(&fake.mint(fake.claims_v2(), json!({"kid": "kid-2"})));
    let r = call(&s, Some(&unknown), "down-2");
    assert_eq!(r.status, 401, "{}", r.body);
    assert_not_processed(&s, "down-2", 401);
    assert_eq!(
        fake.jwks_fetches(),
        2,
        "the refetch was attempted against the dead endpoint"
    );
    assert_search_ok(&call(&s, Some(&token), "down-3"));
    assert!(s.wait_for_log("still using cached keys"));
}

#[test]
fn a_server_started_while_jwks_is_down_answers_503_then_recovers() {
    let fake = FakeEntra::start();
    fake.set_jwks_down(true);
    let s = start(&fake, &[]);
    let token = bearer(&fake.token());
    let r = call(&s, Some(&token), "cold-1");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(
        r.json()["error_description"],
        "Failed to fetch signing keys from Azure AD"
    );
    assert!(r
        .header("www-authenticate")
        .unwrap_or("")
        .contains(&challenge_url(&s)));
    assert_not_processed(&s, "cold-1", 503);
    fake.set_jwks_down(false);
    assert_search_ok(&call(&s, Some(&token), "cold-2"));
}
