//! Secrets in logs (issue 10, item 5): TRACE is refused, and at the most verbose level the
//! server accepts, the OAuth proxy (/authorize, /token with a form secret and with HTTP Basic,
//! a refresh) and the Bedrock path (SigV4 with a session token) leave no secret in the output:
//! not the client secret, Entra's tokens, the AWS secret key or session token, the bearer
//! token, the SigV4 signature, nor their base64 forms (stderr and stdout are searched); nor
//! does `check` print one.

use crate::support::auth::{
    access_line, assert_not_logged, bearer, form, CALLBACK, CHALLENGE, FORM, VERIFIER,
};
use crate::support::fake_bedrock::FakeBedrock;
use crate::support::fake_entra::{
    b64std, b64url, enc, parse_pairs, FakeEntra, CLIENT_ID, CLIENT_SECRET,
};
use crate::support::server::{request, Resp, Server};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A key pair with a session token, accepted by the fake Bedrock only with that token.
const ACCESS_KEY: &str = "ASIAPLANTEDKEY00001";
const SECRET_KEY: &str = "pLaNtEd/SeCrEt+AwsKey0000000000000000000";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjPLANTED/session+token//////////wEaCWV1LXdlc3QtMSJH";

/// The env of a server with auth on against `entra` and Bedrock at `bedrock`, at `level`.
fn env(entra: &FakeEntra, bedrock: &FakeBedrock, level: &str) -> Vec<(String, String)> {
    let mut vars = entra.vars(&[("LOG_LEVEL", level)]);
    for (k, v) in bedrock.env() {
        match k.as_str() {
            "AWS_ACCESS_KEY_ID" => vars.push((k, ACCESS_KEY.into())),
            "AWS_SECRET_ACCESS_KEY" => vars.push((k, SECRET_KEY.into())),
            _ => vars.push((k, v)),
        }
    }
    vars.push(("AWS_SESSION_TOKEN".into(), SESSION_TOKEN.into()));
    vars
}

fn pairs(vars: &[(String, String)]) -> Vec<(&str, &str)> {
    vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Access and refresh token of a /token answer.
fn tokens(r: &Resp) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let text = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("no {k}: {v}"))
            .to_string()
    };
    (text("access_token"), text("refresh_token"))
}

/// A tools/call with this bearer token; returns the result.
fn tool(s: &Server, token: &str, rid: &str, name: &str, args: Value) -> Value {
    let auth = bearer(token);
    let h = [
        ("Authorization", auth.as_str()),
        ("X-Request-Id", rid),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":name,"arguments":args}});
    let r = s.mcp(&h, &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["result"].clone()
}

#[test]
fn trace_is_refused_at_start_up_with_the_level_to_use() {
    let entra = FakeEntra::start();
    let bedrock = FakeBedrock::start();
    for level in ["TRACE", "trace"] {
        let vars = env(&entra, &bedrock, level);
        match Server::try_start(&pairs(&vars), &[]) {
            Ok(_) => {
                panic!("LOG_LEVEL={level} was accepted: dependencies' wire dumps would log secrets")
            }
            Err(logs) => assert!(
                logs.contains("LOG_LEVEL") && logs.contains("DEBUG"),
                "the refusal names the variable and the level to use: {logs}"
            ),
        }
    }
}

#[test]
fn no_secret_reaches_the_logs_at_the_most_verbose_level() {
    let entra = FakeEntra::start();
    let bedrock = FakeBedrock::start();
    bedrock
        .keys()
        .add(ACCESS_KEY, SECRET_KEY, Some(SESSION_TOKEN));
    // The most verbose level the binary accepts (TRACE is refused, see the test above).
    let vars = env(&entra, &bedrock, "DEBUG");
    let s = Server::start(&pairs(&vars));

    // /authorize → Entra's sign-in → a code for claude.ai's callback.
    let query = form(&[
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("state", "st"),
    ]);
    let r = s.request("GET", &format!("/authorize?{query}"), &[], "");
    assert_eq!(r.status, 302, "{}", r.body);
    let signed_in = request(r.header("location").expect("Location"), "GET", &[], "");
    let location = signed_in.header("location").expect("Location").to_string();
    let q: HashMap<String, String> = parse_pairs(location.split_once('?').map_or("", |(_, q)| q))
        .into_iter()
        .collect();
    let code = q["code"].clone();

    // /token with the secret in the form, then a refresh with HTTP Basic.
    let redeem = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ]);
    let (access, refresh) = tokens(&s.request("POST", "/token", &[FORM], &redeem));
    let basic = b64std(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes());
    let basic_header = format!("Basic {basic}");
    let renew = form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)]);
    let r = s.request(
        "POST",
        "/token",
        &[FORM, ("Authorization", &basic_header)],
        &renew,
    );
    let (access2, refresh2) = tokens(&r);

    // Bedrock, signed with the session credentials, under each access token.
    let found = tool(
        &s,
        &access,
        "sec-1",
        "search_knowledge_base",
        json!({"query":"Lambda"}),
    );
    assert_eq!(found["isError"], false, "{found}");
    let info = tool(&s, &access2, "sec-2", "get_knowledge_base_info", json!({}));
    assert_eq!(info["isError"], false, "{info}");
    assert!(
        bedrock.accepted() >= 2,
        "Bedrock was called and accepted the signatures"
    );
    let sigv4 = bedrock
        .last_headers()
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v)
        .expect("a signed request");
    let signature = sigv4.rsplit("Signature=").next().unwrap_or("").to_string();
    assert_eq!(signature.len(), 64, "{sigv4}");

    // Everything above is logged by now (the access line of the last request is there), and
    // the level really is DEBUG: our own debug lines are in the output.
    assert_eq!(access_line(&s, "sec-2")["status"], 200);
    assert!(
        s.logs().contains("\"level\":\"DEBUG\""),
        "DEBUG lines expected:\n{}",
        s.logs()
    );
    let mut secrets: Vec<String> = vec![
        CLIENT_SECRET.into(),
        basic,
        code,
        VERIFIER.into(),
        access.clone(),
        refresh,
        access2,
        refresh2,
        SECRET_KEY.into(),
        SESSION_TOKEN.into(),
        signature,
    ];
    // Base64 and percent-encoded forms, as a Basic header or a form body would carry them.
    for plain in [CLIENT_SECRET, SECRET_KEY, SESSION_TOKEN, access.as_str()] {
        secrets.push(b64std(plain.as_bytes()));
        secrets.push(b64url(plain.as_bytes()));
        secrets.push(enc(plain));
    }
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_not_logged(&s, &refs);

    // `check` reports on stdout: it signs a GetKnowledgeBase with the same credentials.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-mcp"))
        .env_clear()
        .arg("check")
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run check");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("status ACTIVE"), "{printed}");
    for secret in &secrets {
        assert!(
            !printed.contains(secret.as_str()),
            "a secret in check's output"
        );
    }
}
