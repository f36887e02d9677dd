//! The identity fakes on their own, driven by hand-built requests: the fake STS answers
//! `AssumeRoleWithWebIdentity` with real XML and refuses each bad request with the code and
//! status of the real service (identity-2026 §1.6, "How to fake it faithfully"); the fake
//! Bedrock accepts exactly the sessions STS issued, refuses expired and unknown ones, and
//! decides the identity by the knowledge base's mode. If these fail, the end-to-end tests in
//! identity.rs prove nothing.

use crate::support;

use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::fake_bedrock::corpus::multimodal_corpus;
use support::fake_bedrock::identity::{Signer, API_INPUT_ONLY, SESSION, SESSION_ELSE_INPUT};
use support::fake_bedrock::{sigv4, FakeBedrock, KB_ID, REGION};
use support::fake_entra::{enc, FakeEntra, CLIENT_ID, OTHER_TENANT, TENANT};
use support::fake_sts::{
    iso8601, ContextProvider, FakeSts, Iam, StsFault, EKS_AUDIENCE, EKS_ISSUER, SERVER_ROLE_ARN,
    USER_ROLE_ARN,
};
use support::server::{request, Resp};

const ALICE: &str = "alice@example.com";
const ALICE_OID: &str = "a11ce000-0000-4000-8000-000000000001";
const SALARY: &str = "engineering band E3 pays from 70k to 90k";

struct World {
    entra: FakeEntra,
    bedrock: FakeBedrock,
    sts: FakeSts,
}

/// Form pairs, in order.
type Form = Vec<(String, String)>;

fn world(context: Option<ContextProvider>) -> World {
    let entra = FakeEntra::start();
    let bedrock = FakeBedrock::start();
    bedrock.set_kb_type("MANAGED");
    bedrock.set_corpus(multimodal_corpus());
    let iam = Iam::entra(&entra, context, "bmcp-*").with_eks(&entra);
    let sts = FakeSts::start(iam, bedrock.keys(), bedrock.identity());
    World {
        entra,
        bedrock,
        sts,
    }
}

fn alice_token(w: &World) -> String {
    w.entra.sign(w.entra.member_claims(ALICE, ALICE_OID))
}

/// The good form for `token`, with `changes` applied (`None` removes a parameter).
fn form(token: &str, changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", USER_ROLE_ARN),
        ("RoleSessionName", &format!("bmcp-{ALICE_OID}")),
        ("DurationSeconds", "900"),
        ("WebIdentityToken", token),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in changes {
        pairs.retain(|(n, _)| n != k);
        if let Some(v) = v {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    pairs
}

fn post(sts: &FakeSts, pairs: &[(String, String)]) -> Resp {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    request(
        &format!("{}/", sts.url()),
        "POST",
        &[(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        &body.join("&"),
    )
}

/// The text of the first `<tag>…</tag>` (no attributes), unescaped.
fn xml(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(
        body[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Issued credentials: (access key, secret, session token).
fn creds(r: &Resp) -> (String, String, String) {
    assert_eq!(r.status, 200, "{}", r.body);
    (
        xml(&r.body, "AccessKeyId").unwrap(),
        xml(&r.body, "SecretAccessKey").unwrap(),
        xml(&r.body, "SessionToken").unwrap(),
    )
}

/// A Bedrock request signed with SigV4 by the fake's own reference functions.
fn signed(
    bedrock: &FakeBedrock,
    method: &str,
    path: &str,
    body: &Value,
    (ak, secret, token): (&str, &str, Option<&str>),
) -> Resp {
    let url = bedrock.url();
    let host = url.trim_start_matches("http://").to_string();
    let amz = iso8601(SystemTime::now()).replace(['-', ':'], "");
    let body = if method == "GET" {
        String::new()
    } else {
        body.to_string()
    };
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("host".to_string(), host),
        ("x-amz-date".to_string(), amz.clone()),
    ];
    if let Some(t) = token {
        headers.push(("x-amz-security-token".into(), t.into()));
    }
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed_names = names.join(";");
    let canonical: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let creq = sigv4::canonical_request(method, path, &canonical, &signed_names, body.as_bytes());
    let sig = sigv4::signature_for(secret, &amz, REGION, "bedrock", &creq);
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={ak}/{}/{REGION}/bedrock/aws4_request, SignedHeaders={signed_names}, Signature={sig}",
        &amz[..8]
    );
    let mut h: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| k != "host")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    h.push(("Authorization", &auth));
    request(&format!("{url}{path}"), method, &h, &body)
}

fn retrieve(w: &World, key: (&str, &str, Option<&str>), user: Option<&str>) -> Resp {
    let mut body = json!({"retrievalQuery": {"text": "salary bands engineering"}});
    if let Some(u) = user {
        body["userContext"] = json!({ "userId": u });
    }
    signed(
        &w.bedrock,
        "POST",
        &format!("/knowledgebases/{KB_ID}/retrieve"),
        &body,
        key,
    )
}

fn sees_salary(r: &Resp) -> bool {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body.contains(SALARY)
}

#[test]
fn a_good_token_gets_a_session_with_its_identity_context_in_the_real_xml() {
    let w = world(Some(ContextProvider::upn()));
    let token = alice_token(&w);
    let before = now();
    let r = post(&w.sts, &form(&token, &[]));
    let after = now();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/xml"));
    let rid = r
        .header("x-amzn-requestid")
        .expect("request id")
        .to_string();
    assert_eq!(xml(&r.body, "RequestId").as_deref(), Some(rid.as_str()));
    assert!(r.body.contains(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
    let (ak, secret, session_token) = creds(&r);
    assert!(ak.starts_with("ASIA") && ak.len() == 20, "{ak}");
    assert!(secret.len() >= 30 && session_token.len() > 100);
    let expiration = xml(&r.body, "Expiration").unwrap();
    let near: Vec<String> = (before..=after)
        .map(|t| iso8601(UNIX_EPOCH + Duration::from_secs(t + 900)))
        .collect();
    assert!(near.contains(&expiration), "{expiration} vs {near:?}");
    // The identity context: the upn, the issuer without its scheme, the provider, tid and oid.
    let provider = format!(
        "arn:aws:iam::123456789012:oidc-provider/{}",
        w.entra.issuer().trim_start_matches("http://")
    );
    assert_eq!(xml(&r.body, "Subject").as_deref(), Some(ALICE));
    assert_eq!(xml(&r.body, "SubjectType").as_deref(), Some("user"));
    assert_eq!(
        xml(&r.body, "Issuer").as_deref(),
        Some(w.entra.issuer().trim_start_matches("http://"))
    );
    assert_eq!(
        xml(&r.body, "FederatedProviderArn").as_deref(),
        Some(provider.as_str())
    );
    assert!(r.body.contains(&format!(
        "<entry><key>tid</key><value>{TENANT}</value></entry>"
    )));
    assert!(r.body.contains(&format!(
        "<entry><key>oid</key><value>{ALICE_OID}</value></entry>"
    )));
    assert_eq!(
        xml(&r.body, "SubjectFromWebIdentityToken"),
        Some(format!("sub-{ALICE_OID}"))
    );
    assert_eq!(xml(&r.body, "Audience").as_deref(), Some(CLIENT_ID));
    assert!(xml(&r.body, "Arn")
        .unwrap()
        .ends_with(&format!(":assumed-role/bedrock-mcp-user/bmcp-{ALICE_OID}")));
    // Recorded for assertions, and bound to the identity in the fake Bedrock.
    assert_eq!(w.sts.call_count(), 1);
    assert_eq!(w.sts.calls_for(ALICE_OID), 1);
    assert_eq!(w.sts.last_token().as_deref(), Some(token.as_str()));
    let session = w.bedrock.identity().session(&ak).expect("session bound");
    assert_eq!(session.subject.as_deref(), Some(ALICE));
    assert_eq!(session.provider_arn, provider);
    // The same for a v1 token (sts.windows.net issuer, api:// audience).
    let v1 = w.entra.sign(w.entra.member_claims_v1(ALICE, ALICE_OID));
    let r = post(&w.sts, &form(&v1, &[]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        xml(&r.body, "Issuer"),
        Some(format!("sts.windows.net/{TENANT}/"))
    );
    assert_eq!(xml(&r.body, "Audience"), Some(format!("api://{CLIENT_ID}")));
}

#[test]
fn elements_come_in_a_different_order_each_time() {
    let w = world(Some(ContextProvider::upn()));
    let token = alice_token(&w);
    let orders: std::collections::BTreeSet<Vec<usize>> = (0..12)
        .map(|_| {
            let body = post(&w.sts, &form(&token, &[])).body;
            let mut found: Vec<(usize, usize)> = [
                "<AccessKeyId>",
                "<SecretAccessKey>",
                "<SessionToken>",
                "<Expiration>",
            ]
            .iter()
            .enumerate()
            .map(|(i, t)| (body.find(t).unwrap(), i))
            .collect();
            found.sort();
            found.into_iter().map(|(_, i)| i).collect()
        })
        .collect();
    assert!(orders.len() > 1, "always {orders:?}");
}

#[test]
fn without_a_context_provider_there_is_no_identity_context() {
    let w = world(None);
    let r = post(&w.sts, &form(&alice_token(&w), &[]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("TrustedIdentityPropagationContext"));
    let (ak, ..) = creds(&r);
    assert!(!w.bedrock.identity().session(&ak).unwrap().has_context());
}

/// (status, code, message) of a query-protocol error.
fn refusal(r: &Resp) -> (u16, String, String) {
    assert!(r.body.starts_with("<ErrorResponse"), "{}", r.body);
    assert_eq!(
        xml(&r.body, "RequestId").as_deref(),
        r.header("x-amzn-requestid"),
        "{}",
        r.body
    );
    let kind = xml(&r.body, "Type").unwrap();
    assert_eq!(
        kind,
        if r.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    );
    (
        r.status,
        xml(&r.body, "Code").unwrap_or_default(),
        xml(&r.body, "Message").unwrap_or_default(),
    )
}

#[test]
fn every_bad_request_is_refused_with_the_real_code_and_status() {
    let w = world(Some(ContextProvider::upn()));
    let e = &w.entra;
    let good = alice_token(&w);
    let claims = || e.member_claims(ALICE, ALICE_OID);
    let with = |changes: Value| {
        let mut c = claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        e.sign(c)
    };
    let long_name = "b".repeat(65);
    let cases: Vec<(&str, Form, u16, &str)> = vec![
        (
            "no Action",
            form(&good, &[("Action", None)]),
            400,
            "InvalidAction",
        ),
        (
            "other Action",
            form(&good, &[("Action", Some("AssumeRole"))]),
            400,
            "InvalidAction",
        ),
        (
            "old Version",
            form(&good, &[("Version", Some("2010-01-01"))]),
            400,
            "InvalidAction",
        ),
        (
            "no RoleArn",
            form(&good, &[("RoleArn", None)]),
            400,
            "ValidationError",
        ),
        (
            "no RoleSessionName",
            form(&good, &[("RoleSessionName", None)]),
            400,
            "ValidationError",
        ),
        (
            "no token",
            form(&good, &[("WebIdentityToken", None)]),
            400,
            "ValidationError",
        ),
        (
            "ProviderId",
            form(&good, &[("ProviderId", Some("graph.facebook.com"))]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "899 s",
            form(&good, &[("DurationSeconds", Some("899"))]),
            400,
            "ValidationError",
        ),
        (
            "43201 s",
            form(&good, &[("DurationSeconds", Some("43201"))]),
            400,
            "ValidationError",
        ),
        (
            "over role max",
            form(&good, &[("DurationSeconds", Some("3601"))]),
            400,
            "ValidationError",
        ),
        (
            "short name",
            form(&good, &[("RoleSessionName", Some("b"))]),
            400,
            "ValidationError",
        ),
        (
            "long name",
            form(&good, &[("RoleSessionName", Some(&long_name))]),
            400,
            "ValidationError",
        ),
        (
            "name with space",
            form(&good, &[("RoleSessionName", Some("bmcp-a b"))]),
            400,
            "ValidationError",
        ),
        ("token too short", form("abc", &[]), 400, "ValidationError"),
        (
            "token too long",
            form(&"a".repeat(20_001), &[]),
            400,
            "ValidationError",
        ),
        (
            "not a JWT",
            form("not-a-jwt-at-all", &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "alg none",
            form(&e.alg_none(), &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "HS256",
            form(&e.hs256_with_public_key(), &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "unknown issuer",
            form(&e.wrong_issuer(), &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "other tenant",
            form(&e.other_tenant(), &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "tampered",
            form(&e.tampered(), &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "unknown kid",
            form(&e.unknown_kid(), &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "other audience",
            form(&e.wrong_audience(), &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "graph token",
            form(&e.graph_token(), &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "expired 6 min ago",
            form(&with(json!({"exp": now() - 360})), &[]),
            400,
            "ExpiredTokenException",
        ),
        (
            "not yet valid",
            form(
                &with(json!({"nbf": now() + 3600, "exp": now() + 7200})),
                &[],
            ),
            400,
            "InvalidIdentityToken",
        ),
        (
            "unknown role",
            form(
                &good,
                &[("RoleArn", Some("arn:aws:iam::123456789012:role/other"))],
            ),
            403,
            "AccessDenied",
        ),
        (
            "session name outside the policy",
            form(&good, &[("RoleSessionName", Some("mallory"))]),
            403,
            "AccessDenied",
        ),
        (
            "EKS role with an Entra token",
            form(&good, &[("RoleArn", Some(SERVER_ROLE_ARN))]),
            403,
            "AccessDenied",
        ),
        (
            "no subject claim",
            form(&with(json!({"upn": null})), &[]),
            400,
            "InvalidIdentityToken",
        ),
        (
            "context value over 128",
            form(
                &with(json!({"oid": "o".repeat(129)})),
                &[("RoleSessionName", Some("bmcp-x"))],
            ),
            400,
            "PackedPolicyTooLarge",
        ),
    ];
    for (what, pairs, status, code) in cases {
        let r = post(&w.sts, &pairs);
        let (s, c, m) = refusal(&r);
        assert_eq!((s, c.as_str()), (status, code), "{what}: {m}");
        assert!(!m.is_empty(), "{what}");
    }
    // Within the 5-minute skew an expired token still works.
    let r = post(&w.sts, &form(&with(json!({"exp": now() - 200})), &[]));
    assert_eq!(r.status, 200, "{}", r.body);
    // Not a POST of a form: refused, and nothing issued for any of the above.
    let r = request(
        &format!("{}/?Action=AssumeRoleWithWebIdentity", w.sts.url()),
        "GET",
        &[],
        "",
    );
    assert_eq!(refusal(&r).0, 400);
    let r = request(
        &format!("{}/", w.sts.url()),
        "POST",
        &[("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(refusal(&r).0, 400);
    assert_eq!(w.sts.issued().len(), 1);
}

#[test]
fn the_trust_policy_needs_set_context_and_the_audience_condition() {
    let w = world(Some(ContextProvider::upn()));
    let token = alice_token(&w);
    w.sts.edit_iam(|iam| {
        for s in &mut iam.roles[0].trust {
            s.actions.retain(|a| a != "sts:SetContext");
        }
    });
    let (s, c, _) = refusal(&post(&w.sts, &form(&token, &[])));
    assert_eq!((s, c.as_str()), (403, "AccessDenied"));
    w.sts.edit_iam(|iam| {
        for s in &mut iam.roles[0].trust {
            s.actions.push("sts:SetContext".into());
            s.string_equals[0].1 = vec!["api://someone-else".into()];
        }
    });
    let (s, c, _) = refusal(&post(&w.sts, &form(&token, &[])));
    assert_eq!((s, c.as_str()), (403, "AccessDenied"));
    // A provider without the client id: the token, not the policy, is refused.
    w.sts
        .edit_iam(|iam| iam.providers[0].client_ids = vec!["api://x".into()]);
    let (s, c, m) = refusal(&post(&w.sts, &form(&token, &[])));
    assert_eq!(
        (s, c.as_str(), m.as_str()),
        (400, "InvalidIdentityToken", "Incorrect token audience")
    );
}

#[test]
fn jwks_that_cannot_be_fetched_is_an_idp_communication_error() {
    let w = world(Some(ContextProvider::upn()));
    w.entra.set_jwks_down(true);
    let (s, c, _) = refusal(&post(&w.sts, &form(&alice_token(&w), &[])));
    assert_eq!((s, c.as_str()), (400, "IDPCommunicationError"));
}

#[test]
fn scripted_faults_then_recovery_and_going_down() {
    let w = world(Some(ContextProvider::upn()));
    let token = alice_token(&w);
    w.sts.push_faults(StsFault::IdpCommunication, 1);
    w.sts.push_faults(StsFault::Throttling, 1);
    w.sts.push_faults(StsFault::Status(500), 1);
    w.sts.push_faults(StsFault::Status(503), 1);
    let codes: Vec<(u16, String)> = (0..4)
        .map(|_| {
            let (s, c, _) = refusal(&post(&w.sts, &form(&token, &[])));
            (s, c)
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            (400, "IDPCommunicationError".to_string()),
            (400, "Throttling".to_string()),
            (500, "InternalFailure".to_string()),
            (503, "ServiceUnavailable".to_string())
        ]
    );
    w.sts
        .push_faults(StsFault::Delay(Duration::from_millis(300)), 1);
    let started = std::time::Instant::now();
    assert_eq!(post(&w.sts, &form(&token, &[])).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(w.sts.call_count(), 5);
    assert_eq!(
        w.sts.calls().iter().filter(|c| c.outcome.is_ok()).count(),
        1
    );
    let url = w.sts.url().to_string();
    w.sts.go_down();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    assert!(agent.post(&format!("{url}/")).send("x").is_err());
}

#[test]
fn json_is_answered_when_asked_for() {
    let w = world(Some(ContextProvider::upn()));
    let pairs = form(&alice_token(&w), &[]);
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    let r = request(
        &format!("{}/", w.sts.url()),
        "POST",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
        ],
        &body.join("&"),
    );
    let v = r.json();
    let result = &v["AssumeRoleWithWebIdentityResponse"]["AssumeRoleWithWebIdentityResult"];
    assert!(result["Credentials"]["Expiration"].is_f64(), "{v}");
    assert_eq!(
        result["TrustedIdentityPropagationContext"]["OriginIdentity"]["Subject"],
        ALICE
    );
}

#[test]
fn bedrock_accepts_exactly_the_issued_session_and_refuses_expired_or_unknown_ones() {
    let w = world(Some(ContextProvider::upn()));
    let (ak, secret, token) = creds(&post(&w.sts, &form(&alice_token(&w), &[])));
    let r = retrieve(&w, (&ak, &secret, Some(&token)), None);
    assert_eq!(r.status, 200, "{}", r.body);
    // Without the session token, with another one, with a key STS never issued.
    for (key, what) in [
        ((ak.as_str(), secret.as_str(), None), "no token"),
        (
            (ak.as_str(), secret.as_str(), Some("IQoJforged")),
            "other token",
        ),
        (
            (
                "ASIAUNKNOWNKEY000001",
                secret.as_str(),
                Some(token.as_str()),
            ),
            "unknown key",
        ),
    ] {
        let r = retrieve(&w, key, None);
        assert_eq!(r.status, 403, "{what}: {}", r.body);
        assert_eq!(
            r.header("x-amzn-errortype"),
            Some("UnrecognizedClientException")
        );
    }
    let r = retrieve(&w, (&ak, "wrong-secret", Some(&token)), None);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );
    // A session that has expired.
    w.sts.set_lifetime(Some(Duration::from_secs(1)));
    let (ak, secret, token) = creds(&post(&w.sts, &form(&alice_token(&w), &[])));
    std::thread::sleep(Duration::from_millis(2100));
    let r = retrieve(&w, (&ak, &secret, Some(&token)), None);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-errortype"), Some("ExpiredTokenException"));
    assert!(r
        .body
        .contains("The security token included in the request is expired"));
}

#[test]
fn bedrock_takes_the_identity_by_the_knowledge_base_mode() {
    let w = world(Some(ContextProvider::upn()));
    let (ak, secret, token) = creds(&post(&w.sts, &form(&alice_token(&w), &[])));
    let alice = (ak.as_str(), secret.as_str(), Some(token.as_str()));
    let server = (
        support::fake_bedrock::ACCESS_KEY,
        support::fake_bedrock::SECRET_KEY,
        None,
    );
    let id = w.bedrock.identity();
    let bob = "bob@example.com";

    // API_INPUT_ONLY (no mode set): userContext only, the session is ignored.
    assert!(!sees_salary(&retrieve(&w, alice, None)));
    assert!(sees_salary(&retrieve(&w, server, Some(ALICE))));
    assert!(!sees_salary(&retrieve(&w, alice, Some(bob))));

    // IDENTITY_ENHANCED_SESSION: the session's Subject; userContext ignored.
    id.set_mode(KB_ID, Some(SESSION));
    assert!(sees_salary(&retrieve(&w, alice, None)));
    assert!(sees_salary(&retrieve(&w, alice, Some(bob))));
    assert!(!sees_salary(&retrieve(&w, server, Some(ALICE))));

    // ELSE mode: the session's Subject; a different userContext is refused; no session →
    // userContext.
    id.set_mode(KB_ID, Some(SESSION_ELSE_INPUT));
    assert!(sees_salary(&retrieve(&w, alice, None)));
    assert!(sees_salary(&retrieve(&w, alice, Some(ALICE))));
    let r = retrieve(&w, alice, Some(bob));
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-amzn-errortype"), Some("ValidationException"));
    assert!(sees_salary(&retrieve(&w, server, Some(ALICE))));

    // A session from a provider in another account is trusted only when listed.
    w.sts.edit_iam(|iam| {
        for p in &mut iam.providers {
            p.account = "999999999999".into();
        }
        // Iam::entra builds one statement per provider, in the same order.
        let arns: Vec<String> = iam.providers.iter().map(|p| p.arn()).collect();
        for (s, arn) in iam.roles[0].trust.iter_mut().zip(arns) {
            s.federated = arn;
        }
    });
    let (ak2, secret2, token2) = creds(&post(&w.sts, &form(&alice_token(&w), &[])));
    let foreign = (ak2.as_str(), secret2.as_str(), Some(token2.as_str()));
    id.set_mode(KB_ID, Some(SESSION));
    assert!(!sees_salary(&retrieve(&w, foreign, None)));
    let arn = id.session(&ak2).unwrap().provider_arn;
    id.set_trusted_sources(KB_ID, &[&arn]);
    assert!(sees_salary(&retrieve(&w, foreign, None)));

    // Subject → user id through a lookup table (the other reading of the note's §2.5).
    id.set_derivation(&[(ALICE, bob)]);
    assert!(!sees_salary(&retrieve(&w, alice, None)));

    // Every decision is recorded with its signer.
    let records = id.records_of("Retrieve");
    assert_eq!(records[0].mode, API_INPUT_ONLY);
    assert!(matches!(&records[0].signer, Signer::Session { subject: Some(s), .. } if s == ALICE));
    assert_eq!(records[1].signer, Signer::Server);
    assert_eq!(records[4].identity.as_deref(), Some(ALICE));
    assert_eq!(records[4].sent_user.as_deref(), Some(bob));
    assert_eq!(records[8].refused.as_deref(), Some("ValidationException"));

    // GetKnowledgeBase reports the mode and the trusted sources.
    let r = signed(
        &w.bedrock,
        "GET",
        &format!("/knowledgebases/{KB_ID}"),
        &json!({}),
        server,
    );
    let kb = &r.json()["knowledgeBase"];
    assert_eq!(kb["userContextModeForRetrieval"], SESSION);
    assert_eq!(kb["trustedIdentitySources"][0]["identityProviderArn"], arn);
}

#[test]
fn get_document_content_follows_the_same_rule() {
    let w = world(Some(ContextProvider::upn()));
    let (ak, secret, token) = creds(&post(&w.sts, &form(&alice_token(&w), &[])));
    let alice = (ak.as_str(), secret.as_str(), Some(token.as_str()));
    w.bedrock.identity().set_mode(KB_ID, Some(SESSION));
    let doc = enc(support::fake_bedrock::corpus::AWKWARD_DOC_ID);
    let path = format!("/knowledgebases/{KB_ID}/datasources/DSSHAREPT1/documents/{doc}/content");
    let r = signed(&w.bedrock, "POST", &path, &json!({}), alice);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["presignedUrl"].is_string());
    let server = (
        support::fake_bedrock::ACCESS_KEY,
        support::fake_bedrock::SECRET_KEY,
        None,
    );
    let r = signed(
        &w.bedrock,
        "POST",
        &path,
        &json!({"userContext": {"userId": ALICE}}),
        server,
    );
    assert_eq!(r.status, 403, "{}", r.body);
}

#[test]
fn an_eks_service_account_token_gets_a_session_without_context() {
    let w = world(Some(ContextProvider::upn()));
    let now = now();
    let claims = json!({"iss": EKS_ISSUER, "aud": [EKS_AUDIENCE], "sub": "system:serviceaccount:kb:bedrock-mcp",
        "exp": now + 86_400, "iat": now, "nbf": now});
    let token = w.entra.sign(claims);
    let pairs = form(
        &token,
        &[
            ("RoleArn", Some(SERVER_ROLE_ARN)),
            ("RoleSessionName", Some("bedrock-mcp-1765000000")),
            ("DurationSeconds", None),
        ],
    );
    let r = post(&w.sts, &pairs);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("TrustedIdentityPropagationContext"));
    // Default duration: an hour.
    let exp = xml(&r.body, "Expiration").unwrap();
    let after = self::now();
    assert!(
        (now..=after).any(|t| iso8601(UNIX_EPOCH + Duration::from_secs(t + 3600)) == exp),
        "{exp}"
    );
    // Entra's v1 issuer is no EKS provider; an unknown tenant's token is refused.
    let other = w.entra.sign(json!({"iss": format!("https://sts.windows.net/{OTHER_TENANT}/"), "aud": CLIENT_ID, "exp": now + 600, "upn": ALICE}));
    assert_eq!(
        refusal(&post(&w.sts, &form(&other, &[]))).1,
        "InvalidIdentityToken"
    );
}
