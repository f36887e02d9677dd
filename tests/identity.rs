//! Bedrock sees the signed-in person, verified by AWS (issue 19): the real binary with
//! `AWS_USER_CREDENTIALS=web-identity` against the fake Entra, the fake STS (which checks the
//! token, the provider and the trust policy, and issues sessions bound to the token's `upn`)
//! and the fake Bedrock (which takes the identity from the session or from `userContext` by
//! the knowledge base's mode, and records which key signed each call). Over /mcp (2025-06-18
//! and 2026-07-28) and /sse.
//!
//! What would make these fail: the server naming the user itself where the session should
//! carry it, one user's call signed with another's session, a call signed with the server's
//! own role when the user's session could not be had, an STS call per request instead of per
//! user, a cached session used past the token's `exp`, or a secret in the logs.

use crate::support;

use serde_json::{json, Value};
use std::time::Duration;
use support::fake_bedrock::identity::{Signer, API_INPUT_ONLY, SESSION, SESSION_ELSE_INPUT};
use support::fake_bedrock::{FakeBedrock, FakeDoc, KB_ID};
use support::fake_entra::{now, FakeEntra, CLIENT_ID};
use support::fake_sts::{
    ContextProvider, FakeSts, Iam, StsFault, EKS_AUDIENCE, EKS_ISSUER, SERVER_ROLE_ARN,
    USER_ROLE_ARN,
};
use support::server::{Resp, Server};
use support::sse::SseStream;
use support::tool_call::{self, Transport, ALL};

const ALICE: &str = "alice@contoso.com";
const ALICE_OID: &str = "a11ce000-0000-4000-8000-000000000001";
const BOB: &str = "bob@contoso.com";
const BOB_OID: &str = "b0b00000-0000-4000-8000-000000000002";
const MALLORY: &str = "mallory@contoso.com";
const MALLORY_OID: &str = "ma110000-0000-4000-8000-000000000003";
const GUEST: &str = "gina@fabrikam.com";
const GUEST_OID: &str = "9e570000-0000-4000-8000-000000000004";
const ALICE_TEXT: &str = "promotion to E4";
const BOB_TEXT: &str = "raise of 3 percent";
const GUEST_TEXT: &str = "Fabrikam partner rebate";
const PUBLIC_TEXT: &str = "laptops are issued";
const QUERY: &str = "performance review 2026 onboarding checklist partner agreement";
const ALICE_DOC: &str = "reviews/alice.docx";
const BOB_DOC: &str = "reviews/bob.docx";
const DS: &str = "DSSHAREPT1";

fn corpus() -> Vec<FakeDoc> {
    let sp = |p: &str| json!({"type": "SHAREPOINT", "sharePointLocation": {"url": format!("https://contoso.sharepoint.com/sites/hr/{p}")}});
    vec![
        FakeDoc::new(
            "Onboarding checklist: laptops are issued on the first day.",
            json!({"type": "S3", "s3Location": {"uri": "s3://kb-docs/hr/onboarding.md"}}),
        )
        .in_source("hr/onboarding.md", "DSPUBLIC01"),
        FakeDoc::new(
            "Performance review 2026 of Alice: exceeds expectations, promotion to E4.",
            sp("alice.docx"),
        )
        .in_source(ALICE_DOC, DS)
        .readable_by(&[ALICE]),
        FakeDoc::new(
            "Performance review 2026 of Bob: meets expectations, raise of 3 percent.",
            sp("bob.docx"),
        )
        .in_source(BOB_DOC, DS)
        .readable_by(&[BOB]),
        FakeDoc::new(
            "Partner agreement 2026: Fabrikam partner rebate of 12 percent.",
            sp("fabrikam.docx"),
        )
        .in_source("partners/fabrikam.docx", DS)
        .readable_by(&[GUEST]),
    ]
}

/// The fakes and the server; the fakes live as long as the server.
struct World {
    entra: FakeEntra,
    bedrock: FakeBedrock,
    sts: FakeSts,
    s: Server,
}

struct Setup<'a> {
    mode: Option<&'a str>,
    sessions: bool,
    context: Option<ContextProvider>,
    extra: Vec<(&'a str, &'a str)>,
}

impl<'a> Setup<'a> {
    fn sessions(mode: &'a str) -> Setup<'a> {
        Setup {
            mode: Some(mode),
            sessions: true,
            context: Some(ContextProvider::upn()),
            extra: vec![],
        }
    }
    fn off(mode: &'a str) -> Setup<'a> {
        Setup {
            sessions: false,
            ..Setup::sessions(mode)
        }
    }
    fn with(mut self, k: &'a str, v: &'a str) -> Setup<'a> {
        self.extra.push((k, v));
        self
    }
    fn start(self) -> World {
        let entra = FakeEntra::start();
        let bedrock = FakeBedrock::start();
        bedrock.set_kb_type("MANAGED");
        bedrock.set_corpus(corpus());
        bedrock.identity().set_mode(KB_ID, self.mode);
        let iam = Iam::entra(&entra, self.context, "bmcp-*");
        let sts = FakeSts::start(iam, bedrock.keys(), bedrock.identity());
        let mut vars = bedrock.env();
        vars.extend(entra.vars(&[]));
        // Even with sessions off the STS endpoint is set, so a stray call would show.
        vars.push(("AWS_ENDPOINT_URL_STS".into(), sts.url().into()));
        if self.sessions {
            vars.push(("AWS_USER_CREDENTIALS".into(), "web-identity".into()));
            vars.push(("AWS_USER_ROLE_ARN".into(), USER_ROLE_ARN.into()));
        }
        for (k, v) in &self.extra {
            vars.retain(|(n, _)| n != k);
            vars.push((k.to_string(), v.to_string()));
        }
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let s = Server::start(&pairs);
        World {
            entra,
            bedrock,
            sts,
            s,
        }
    }
}

impl World {
    fn alice(&self) -> String {
        self.entra.sign(self.entra.member_claims(ALICE, ALICE_OID))
    }
    fn bob(&self) -> String {
        self.entra.sign(self.entra.member_claims(BOB, BOB_OID))
    }
    /// `changes` on top of a member's claims (`null` removes).
    fn token(&self, upn: &str, oid: &str, changes: Value) -> String {
        let mut c = self.entra.member_claims(upn, oid);
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        self.entra.sign(c)
    }
    fn search(&self, t: Transport, token: &str) -> Value {
        tool_call::call(
            &self.s,
            t,
            Some(token),
            "search_knowledge_base",
            json!({"query": QUERY, "max_results": 10}),
        )
    }
    fn link(&self, t: Transport, token: &str, doc: &str) -> Value {
        tool_call::call(
            &self.s,
            t,
            Some(token),
            "get_document_link",
            json!({"document_id": doc, "data_source_id": DS}),
        )
    }
    /// Data-plane calls (Retrieve, GetDocumentContent) as the fake Bedrock decided them.
    fn data_calls(&self) -> Vec<support::fake_bedrock::identity::Record> {
        self.bedrock
            .identity()
            .records()
            .into_iter()
            .filter(|r| r.op != "GetKnowledgeBase")
            .collect()
    }
    /// Bodies of every Retrieve and GetDocumentContent the server sent.
    fn sent_bodies(&self) -> Vec<Value> {
        self.bedrock
            .calls()
            .into_iter()
            .filter(|(op, _)| op != "GetKnowledgeBase")
            .map(|(_, b)| serde_json::from_str(&b).unwrap_or_default())
            .collect()
    }
}

fn ok_text(r: &Value) -> String {
    assert_eq!(r["result"]["isError"], false, "{r}");
    tool_call::text(r)
}

fn error_text(r: &Value) -> String {
    assert_eq!(r["result"]["isError"], true, "{r}");
    tool_call::text(r)
}

/// The user's session's identity, per the records, for a signer.
fn session_oid(signer: &Signer) -> Option<&str> {
    match signer {
        Signer::Session { oid, .. } => oid.as_deref(),
        Signer::Server => None,
    }
}

#[test]
fn two_users_on_a_session_knowledge_base_each_see_only_their_own_documents_and_links() {
    let w = Setup::sessions(SESSION).start();
    let (alice, bob) = (w.alice(), w.bob());
    for t in ALL {
        let a = ok_text(&w.search(t, &alice));
        assert!(
            a.contains(ALICE_TEXT) && a.contains(PUBLIC_TEXT) && !a.contains(BOB_TEXT),
            "{t:?} alice: {a}"
        );
        let b = ok_text(&w.search(t, &bob));
        assert!(
            b.contains(BOB_TEXT) && b.contains(PUBLIC_TEXT) && !b.contains(ALICE_TEXT),
            "{t:?} bob: {b}"
        );
        let own = ok_text(&w.link(t, &alice, ALICE_DOC));
        assert!(own.contains("https://fake-kb-originals"), "{t:?}: {own}");
        let other = error_text(&w.link(t, &alice, BOB_DOC));
        assert!(!other.contains("https://fake-kb"), "{t:?}: {other}");
        let own = ok_text(&w.link(t, &bob, BOB_DOC));
        assert!(own.contains("https://fake-kb-originals"), "{t:?}: {own}");
        let other = error_text(&w.link(t, &bob, ALICE_DOC));
        assert!(!other.contains("https://fake-kb"), "{t:?}: {other}");
    }
    // The session carries the user: no userContext was sent at all.
    let bodies = w.sent_bodies();
    assert_eq!(bodies.len(), 18, "{bodies:?}");
    for body in &bodies {
        assert!(body.get("userContext").is_none(), "{body}");
    }
    // Each call was signed with its own user's session; none with the server's role.
    let calls = w.data_calls();
    assert_eq!(calls.len(), 18);
    for (i, r) in calls.iter().enumerate() {
        let expected = if (i % 6) < 1 || (i % 6 == 2) || (i % 6 == 3) {
            (ALICE_OID, ALICE)
        } else {
            (BOB_OID, BOB)
        };
        assert_eq!(session_oid(&r.signer), Some(expected.0), "call {i}: {r:?}");
        assert_eq!(r.identity.as_deref(), Some(expected.1), "call {i}: {r:?}");
    }
    // GetKnowledgeBase (the mode lookup) keeps the server's own credentials.
    let info = w.bedrock.identity().records_of("GetKnowledgeBase");
    assert!(!info.is_empty());
    assert!(info.iter().all(|r| r.signer == Signer::Server), "{info:?}");
    // One STS call per user for all of it, for the user role and bound to that user.
    assert_eq!(w.sts.calls_for(ALICE_OID), 1);
    assert_eq!(w.sts.calls_for(BOB_OID), 1);
    assert_eq!(w.sts.call_count(), 2);
    for call in w.sts.calls() {
        assert_eq!(call.param("RoleArn"), Some(USER_ROLE_ARN));
        let oid = call.claim("oid").unwrap();
        assert_eq!(
            call.param("RoleSessionName"),
            Some(format!("bmcp-{oid}").as_str())
        );
        // Unsigned, a form, and XML asked for (the JSON form is undocumented).
        assert!(call.headers.iter().all(|(k, _)| k != "authorization"));
        assert!(call
            .headers
            .iter()
            .all(|(k, v)| k != "accept" || !v.contains("json")));
        assert_eq!(call.method, "POST");
    }
}

#[test]
fn read_document_and_agentic_search_run_in_each_users_own_session() {
    let w = Setup::sessions(SESSION).start();
    let (alice, bob) = (w.alice(), w.bob());
    let read = |t: Transport, token: &str, doc: &str| {
        tool_call::call(
            &w.s,
            t,
            Some(token),
            "read_document",
            json!({"document_id": doc, "data_source_id": DS}),
        )
    };
    for t in ALL {
        let own = ok_text(&read(t, &alice, ALICE_DOC));
        assert!(own.contains(ALICE_TEXT), "{t:?} alice reads hers: {own}");
        let other = error_text(&read(t, &alice, BOB_DOC));
        assert!(
            !other.contains(BOB_TEXT),
            "{t:?} alice reads bob's: {other}"
        );
        let a = ok_text(&tool_call::call(
            &w.s,
            t,
            Some(&bob),
            "agentic_search",
            json!({"query": QUERY}),
        ));
        assert!(
            a.contains(BOB_TEXT) && a.contains(PUBLIC_TEXT) && !a.contains(ALICE_TEXT),
            "{t:?} bob's agentic search: {a}"
        );
    }
    // The session carries the user: neither call named anyone in its body.
    for body in w.sent_bodies() {
        assert!(body.get("userContext").is_none(), "{body}");
    }
    let calls = w.data_calls();
    let reads: Vec<_> = calls
        .iter()
        .filter(|r| r.op == "GetDocumentContent")
        .collect();
    let agentic: Vec<_> = calls
        .iter()
        .filter(|r| r.op == "AgenticRetrieveStream")
        .collect();
    assert_eq!(
        (reads.len(), agentic.len()),
        (2 * ALL.len(), ALL.len()),
        "{calls:?}"
    );
    for r in reads {
        assert_eq!(session_oid(&r.signer), Some(ALICE_OID), "{r:?}");
        assert_eq!(r.identity.as_deref(), Some(ALICE), "{r:?}");
    }
    for r in agentic {
        assert_eq!(session_oid(&r.signer), Some(BOB_OID), "{r:?}");
        assert_eq!(r.identity.as_deref(), Some(BOB), "{r:?}");
    }
}

#[test]
fn a_v1_token_gets_its_session_through_the_v1_provider() {
    let w = Setup::sessions(SESSION).start();
    let v1 = w.entra.sign(w.entra.member_claims_v1(ALICE, ALICE_OID));
    let text = ok_text(&w.search(Transport::Mcp("2026-07-28"), &v1));
    assert!(
        text.contains(ALICE_TEXT) && !text.contains(BOB_TEXT),
        "{text}"
    );
    let issued = w.sts.issued();
    assert_eq!(issued.len(), 1);
    assert!(
        issued[0].session.provider_arn.ends_with(&format!(
            "oidc-provider/sts.windows.net/{}/",
            support::fake_entra::TENANT
        )),
        "{}",
        issued[0].session.provider_arn
    );
    assert_eq!(issued[0].audience, format!("api://{CLIENT_ID}"));
    // The v2 token of the same person is another issuer: its own session.
    ok_text(&w.search(Transport::Mcp("2026-07-28"), &w.alice()));
    assert_eq!(w.sts.call_count(), 2);
}

/// Tokens of Mallory, a member, that name Alice in claims Entra does not verify.
fn mallory_tokens(w: &World) -> Vec<(&'static str, String)> {
    vec![
        (
            "upn mallory, unverified email alice",
            w.token(
                MALLORY,
                MALLORY_OID,
                json!({"email": ALICE, "xms_edov": null}),
            ),
        ),
        (
            "no upn, unverified email alice",
            w.token(
                MALLORY,
                MALLORY_OID,
                json!({"upn": null, "email": ALICE, "xms_edov": false}),
            ),
        ),
        (
            "preferred_username alice only",
            w.token(
                MALLORY,
                MALLORY_OID,
                json!({"upn": null, "email": null, "xms_edov": null, "preferred_username": ALICE}),
            ),
        ),
    ]
}

#[test]
fn a_user_whose_email_claim_names_another_person_sees_nothing_of_theirs_in_every_mode() {
    let mut i = 0;
    for mode in [API_INPUT_ONLY, SESSION, SESSION_ELSE_INPUT] {
        for sessions in [true, false] {
            let setup = if sessions {
                Setup::sessions(mode)
            } else {
                Setup::off(mode)
            };
            let w = setup.start();
            for (what, token) in mallory_tokens(&w) {
                let t = ALL[i % ALL.len()];
                i += 1;
                let case = format!("{mode}, sessions {sessions}, {what}, {t:?}");
                let r = w.search(t, &token);
                let text = tool_call::text(&r);
                assert!(!text.contains(ALICE_TEXT), "{case}: {text}");
                let r = w.link(t, &token, ALICE_DOC);
                assert!(
                    !tool_call::text(&r).contains("https://fake-kb"),
                    "{case}: {r}"
                );
                // Alice's address never reached Bedrock, in a body or as a decided identity.
                for body in w.sent_bodies() {
                    let sent = body["userContext"]["userId"].as_str().unwrap_or("");
                    assert!(!sent.eq_ignore_ascii_case(ALICE), "{case}: {body}");
                }
                for r in w.data_calls() {
                    assert_ne!(r.identity.as_deref(), Some(ALICE), "{case}: {r:?}");
                }
            }
            // With sessions off nothing talks to STS.
            if !sessions {
                assert_eq!(w.sts.call_count(), 0, "{mode}");
            }
        }
    }
}

#[test]
fn fifty_concurrent_calls_of_one_user_make_one_sts_call_and_a_second_user_a_second() {
    let w = Setup::sessions(SESSION)
        .with("METRICS_ADDR", "127.0.0.1:0")
        .start();
    let alice = w.alice();
    // The first STS answer is slow, so the other calls arrive while it is in flight.
    w.sts
        .push_faults(StsFault::Delay(Duration::from_millis(700)), 1);
    let texts: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (w, alice) = (&w, &alice);
                scope.spawn(move || {
                    let t = if i % 2 == 0 {
                        Transport::Mcp("2025-06-18")
                    } else {
                        Transport::Mcp("2026-07-28")
                    };
                    tool_call::text(&w.search(t, alice))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for text in &texts {
        assert!(text.contains(ALICE_TEXT), "{text}");
    }
    assert_eq!(w.sts.call_count(), 1, "{:?}", w.sts.calls().len());
    let keys: std::collections::BTreeSet<String> = w
        .data_calls()
        .iter()
        .map(|r| r.access_key_id.clone())
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    // At least one Retrieve per call (a loaded machine may make the server retry a slow one).
    assert!(w.data_calls().len() >= 50);

    let b = ok_text(&w.search(Transport::Sse, &w.bob()));
    assert!(b.contains(BOB_TEXT), "{b}");
    assert_eq!(w.sts.call_count(), 2);
    assert_eq!(w.sts.calls_for(BOB_OID), 1);

    // The metrics count it, and never name a user.
    let metrics = metrics_text(&w.s);
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
    };
    assert_eq!(
        value("bedrock_mcp_user_credentials_total{result=\"miss\"}"),
        2.0
    );
    assert_eq!(
        value("bedrock_mcp_user_credentials_total{result=\"hit\"}")
            + value("bedrock_mcp_user_credentials_total{result=\"coalesced\"}"),
        49.0
    );
    assert_eq!(
        value("bedrock_mcp_sts_requests_total{caller=\"user\",outcome=\"ok\"}"),
        2.0
    );
    for who in [ALICE, ALICE_OID, BOB, BOB_OID] {
        assert!(!metrics.contains(who), "{who} in the metrics");
    }
}

/// The Prometheus text of a server started with METRICS_ADDR=127.0.0.1:0.
fn metrics_text(s: &Server) -> String {
    let base = s.metrics_url();
    let r = support::server::request(&format!("{base}/metrics"), "GET", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[test]
fn credentials_that_expire_are_replaced_with_a_new_sts_call() {
    let w = Setup::sessions(SESSION).start();
    // Sessions that live 4 s (the server asks for 900 s; STS decides).
    w.sts.set_lifetime(Some(Duration::from_secs(4)));
    let alice = w.alice();
    let t = Transport::Mcp("2025-06-18");
    assert!(ok_text(&w.search(t, &alice)).contains(ALICE_TEXT));
    assert_eq!(w.sts.call_count(), 1);
    std::thread::sleep(Duration::from_millis(4500));
    assert!(ok_text(&w.search(t, &alice)).contains(ALICE_TEXT));
    assert_eq!(w.sts.call_count(), 2);
    // The new session signed the second call; the expired one was never presented.
    let issued = w.sts.issued();
    let calls = w.data_calls();
    assert_eq!(calls.last().unwrap().access_key_id, issued[1].access_key_id);
    assert_eq!(
        w.bedrock.auth_failures(),
        0,
        "{:?}",
        w.bedrock.last_rejection()
    );
    // The fresh session is reused.
    assert!(ok_text(&w.search(t, &alice)).contains(ALICE_TEXT));
    assert_eq!(w.sts.call_count(), 2);
}

#[test]
fn the_tokens_exp_forces_a_new_sts_call_even_while_the_aws_session_is_valid() {
    let w = Setup::sessions(SESSION).start();
    let t = Transport::Mcp("2026-07-28");
    let short = w.token(ALICE, ALICE_OID, json!({"exp": now() + 3}));
    assert!(ok_text(&w.search(t, &short)).contains(ALICE_TEXT));
    assert_eq!(w.sts.call_count(), 1);
    std::thread::sleep(Duration::from_millis(3500));
    // The same person with a fresh token: the session cached for the old token is not used.
    let fresh = w.alice();
    assert!(ok_text(&w.search(t, &fresh)).contains(ALICE_TEXT));
    assert_eq!(w.sts.call_count(), 2);
    assert_eq!(w.sts.last_token().as_deref(), Some(fresh.as_str()));
    let issued = w.sts.issued();
    assert_eq!(
        w.data_calls().last().unwrap().access_key_id,
        issued[1].access_key_id
    );
    assert!(ok_text(&w.search(t, &fresh)).contains(ALICE_TEXT));
    assert_eq!(w.sts.call_count(), 2);
}

/// Asserts nothing was sent to Bedrock's data plane (and so nothing with the server's role).
fn assert_no_data_calls(w: &World, case: &str) {
    assert_eq!(w.bedrock.retrieve_calls(), 0, "{case}");
    assert_eq!(w.bedrock.document_calls(), 0, "{case}");
    assert!(w.data_calls().is_empty(), "{case}: {:?}", w.data_calls());
}

fn assert_session_error(text: &str, case: &str, needles: &[&str]) {
    assert!(
        text.starts_with("Your own AWS session could not be created")
            || text.contains("Your own AWS session could not be created"),
        "{case}: {text}"
    );
    assert!(
        text.contains("Nothing was sent to Bedrock."),
        "{case}: {text}"
    );
    for n in needles {
        assert!(text.contains(n), "{case}: {n:?} missing in {text}");
    }
}

#[test]
fn sts_down_is_a_clear_error_and_bedrock_is_never_called_with_the_server_role() {
    for mode in [SESSION, SESSION_ELSE_INPUT, API_INPUT_ONLY] {
        let w = Setup::sessions(mode).start();
        w.sts.go_down();
        let alice = w.alice();
        for t in ALL {
            let case = format!("{mode} {t:?}");
            let text = error_text(&w.search(t, &alice));
            assert_session_error(&text, &case, &["try again"]);
            assert!(!text.contains(ALICE_TEXT), "{case}");
            let text = error_text(&w.link(t, &alice, ALICE_DOC));
            assert_session_error(&text, &case, &[]);
        }
        assert_no_data_calls(&w, mode);
    }
}

#[test]
fn sts_refusals_name_what_to_fix_and_are_never_retried_with_the_server_role() {
    let t = Transport::Mcp("2025-06-18");
    // The trust policy lacks sts:SetContext.
    let w = Setup::sessions(SESSION).start();
    w.sts.edit_iam(|iam| {
        for s in &mut iam.roles[0].trust {
            s.actions.retain(|a| a != "sts:SetContext");
        }
    });
    let text = error_text(&w.search(t, &w.alice()));
    assert_session_error(
        &text,
        "AccessDenied",
        &["AccessDenied", "AWS_USER_ROLE_ARN", "trust policy"],
    );
    assert_no_data_calls(&w, "AccessDenied");
    assert_eq!(w.sts.call_count(), 1, "AccessDenied is not retried");

    // The provider does not list the token's audience.
    let w = Setup::sessions(SESSION_ELSE_INPUT).start();
    w.sts.edit_iam(|iam| {
        iam.providers
            .iter_mut()
            .for_each(|p| p.client_ids = vec!["api://other".into()])
    });
    let text = error_text(&w.search(t, &w.alice()));
    assert_session_error(
        &text,
        "InvalidIdentityToken",
        &["InvalidIdentityToken", "ClientIDList", "identity provider"],
    );
    assert_no_data_calls(&w, "InvalidIdentityToken");
    assert_eq!(w.sts.call_count(), 1);

    // The provider has no context provider: a session without identity is useless here.
    let w = Setup {
        context: None,
        ..Setup::sessions(SESSION)
    }
    .start();
    let text = error_text(&w.search(t, &w.alice()));
    assert_session_error(
        &text,
        "no context",
        &["the IAM OIDC provider needs a context provider"],
    );
    assert_no_data_calls(&w, "no context");
    // ... while an API_INPUT_ONLY knowledge base is still served: the session signs, and the
    // server names the user it verified.
    let w = Setup {
        context: None,
        ..Setup::sessions(API_INPUT_ONLY)
    }
    .start();
    assert!(ok_text(&w.search(t, &w.alice())).contains(ALICE_TEXT));
    let calls = w.data_calls();
    assert_eq!(session_oid(&calls[0].signer), Some(ALICE_OID), "{calls:?}");
    assert_eq!(w.sent_bodies()[0]["userContext"]["userId"], ALICE);

    // Transient failures are retried (3 attempts in all), then succeed ...
    let w = Setup::sessions(SESSION).start();
    w.sts.push_faults(StsFault::IdpCommunication, 1);
    w.sts.push_faults(StsFault::Status(500), 1);
    assert!(ok_text(&w.search(t, &w.alice())).contains(ALICE_TEXT));
    assert_eq!(w.sts.call_count(), 3);
    // ... or give up with a retryable error, still without touching Bedrock's data plane.
    let w = Setup::sessions(SESSION).start();
    w.sts.set_always(Some(StsFault::Throttling));
    let text = error_text(&w.search(t, &w.alice()));
    assert_session_error(&text, "Throttling", &["try again"]);
    assert_eq!(w.sts.call_count(), 3);
    assert_no_data_calls(&w, "Throttling");
}

#[test]
fn sts_calling_the_token_expired_asks_the_client_to_sign_in_again() {
    let w = Setup::sessions(SESSION).start();
    // STS's clock is two hours ahead: for it the token (valid an hour) has expired.
    w.sts.set_clock_skew(7200);
    let alice = w.alice();
    let bearer = format!("Bearer {alice}");
    let needle = "AWS STS refused the sign-in token (ExpiredTokenException): sign in again";
    for version in ["2025-06-18", "2026-07-28"] {
        let mut h = vec![
            ("Authorization", bearer.as_str()),
            ("MCP-Protocol-Version", version),
        ];
        let mut params = json!({"name": "search_knowledge_base", "arguments": {"query": QUERY}});
        if version == "2026-07-28" {
            params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {}});
            h.push(("Mcp-Method", "tools/call"));
            h.push(("Mcp-Name", "search_knowledge_base"));
        }
        let r = w.s.mcp(
            &h,
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}),
        );
        assert_challenge(&r, needle, version);
    }
    // Legacy transport: the POST to /messages carrying the call gets the challenge.
    let auth = [("Authorization", bearer.as_str())];
    let mut stream = SseStream::open(&w.s.url, "/sse", &auth).unwrap();
    assert_eq!(stream.status(), 200, "{}", stream.head);
    let endpoint = stream.wait_for("endpoint").unwrap().data;
    let post = |body: Value| {
        w.s.request(
            "POST",
            &endpoint,
            &[auth[0], ("Content-Type", "application/json")],
            &body.to_string(),
        )
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2024-11-05",
        "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    assert_eq!(post(init).status, 202);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "search_knowledge_base", "arguments": {"query": QUERY}}});
    assert_challenge(&post(call), needle, "/messages");
    assert_no_data_calls(&w, "expired");

    // The identity provider rejecting the claim is fixed the same way; a region without STS
    // is a configuration error, named.
    w.sts.set_clock_skew(0);
    let rejected = StsFault::Error {
        status: 403,
        code: "IDPRejectedClaim".into(),
        message: "Received invalid claim".into(),
    };
    w.sts.push_faults(rejected, 1);
    let r = w.s.mcp(
        &[
            ("Authorization", bearer.as_str()),
            ("MCP-Protocol-Version", "2025-06-18"),
        ],
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "search_knowledge_base", "arguments": {"query": QUERY}}}),
    );
    assert_challenge(
        &r,
        "AWS STS refused the sign-in token (IDPRejectedClaim): sign in again",
        "IDPRejectedClaim",
    );
    let disabled = StsFault::Error {
        status: 403,
        code: "RegionDisabledException".into(),
        message: "STS is not activated in this region for account:123456789012".into(),
    };
    w.sts.set_always(Some(disabled));
    let text = error_text(&w.search(Transport::Mcp("2026-07-28"), &alice));
    assert_session_error(&text, "RegionDisabledException", &["AWS_ENDPOINT_URL_STS"]);
    assert_no_data_calls(&w, "refusals");
}

fn assert_challenge(r: &Resp, needle: &str, case: &str) {
    assert_eq!(r.status, 401, "{case}: {}", r.body);
    let www = r.header("www-authenticate").unwrap_or("");
    assert!(
        www.starts_with("Bearer ") && www.contains("error=\"invalid_token\""),
        "{case}: {www}"
    );
    let v = r.json();
    let description = v["error_description"].as_str().unwrap_or("");
    assert!(description.contains(needle), "{case}: {v}");
}

#[test]
fn id_tokens_and_tokens_for_other_resources_are_refused_before_sts_or_bedrock() {
    let w = Setup::sessions(SESSION).start();
    let id_token = w.entra.sign(w.entra.id_token_claims(ALICE, ALICE_OID));
    let no_scope = w.token(
        ALICE,
        ALICE_OID,
        json!({"scp": null, "roles": null, "aud": format!("api://{CLIENT_ID}")}),
    );
    let other = w.token(ALICE, ALICE_OID, json!({"aud": "api://someone-else"}));
    let cases = [
        (
            id_token.as_str(),
            "this is an ID token; send the access token",
        ),
        (
            no_scope.as_str(),
            "carries neither a delegated scope (scp) nor an app role (roles)",
        ),
        (other.as_str(), "this token is for another resource"),
    ];
    for (token, needle) in cases {
        let bearer = format!("Bearer {token}");
        for version in ["2025-06-18", "2026-07-28"] {
            let r = w.s.mcp(
                &[
                    ("Authorization", bearer.as_str()),
                    ("MCP-Protocol-Version", version),
                ],
                &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "search_knowledge_base", "arguments": {"query": QUERY}}}),
            );
            assert_challenge(&r, needle, version);
        }
        let r = w.s.request(
            "GET",
            "/sse",
            &[
                ("Authorization", bearer.as_str()),
                ("Accept", "text/event-stream"),
            ],
            "",
        );
        assert_challenge(&r, needle, "/sse");
    }
    assert_eq!(w.sts.call_count(), 0);
    assert_no_data_calls(&w, "refused tokens");
    // An app role instead of a scope is an access token too.
    let app = w.token(ALICE, ALICE_OID, json!({"scp": null, "roles": ["KB.Read"]}));
    assert!(ok_text(&w.search(Transport::Mcp("2025-06-18"), &app)).contains(ALICE_TEXT));
}

#[test]
fn guests_and_unverified_email_get_no_access_list_identity_when_the_server_names_the_user() {
    let w = Setup::off(API_INPUT_ONLY).start();
    let guest = w.entra.sign(w.entra.guest_claims(GUEST, GUEST_OID));
    let verified_guest = w.entra.sign({
        let mut c = w.entra.guest_claims(GUEST, GUEST_OID);
        c["xms_edov"] = json!(true);
        c
    });
    let unverified = w.token(ALICE, ALICE_OID, json!({"upn": null, "xms_edov": false}));
    let verified_email = w.token(ALICE, ALICE_OID, json!({"upn": null, "xms_edov": true}));
    for t in ALL {
        for (what, token) in [
            ("guest", &guest),
            ("verified guest", &verified_guest),
            ("unverified email", &unverified),
        ] {
            let case = format!("{what} {t:?}");
            let before = w.sent_bodies().len();
            let r = w.search(t, token);
            let text = ok_text(&r);
            assert!(text.contains(PUBLIC_TEXT), "{case}: {text}");
            assert!(
                !text.contains(GUEST_TEXT) && !text.contains(ALICE_TEXT),
                "{case}: {text}"
            );
            assert!(
                text.contains("carries no verified identity"),
                "{case}: {text}"
            );
            if what == "unverified email" {
                assert!(text.contains("xms_edov"), "{case}: {text}");
            }
            let sent = &w.sent_bodies()[before];
            assert!(sent.get("userContext").is_none(), "{case}: {sent}");
            // No link is asked for without a user.
            let docs = w.bedrock.document_calls();
            let text = error_text(&w.link(t, token, ALICE_DOC));
            assert!(
                text.contains("carries no verified identity"),
                "{case}: {text}"
            );
            assert_eq!(w.bedrock.document_calls(), docs, "{case}");
        }
        // A member's verified email names them.
        let text = ok_text(&w.search(t, &verified_email));
        assert!(text.contains(ALICE_TEXT), "{t:?}: {text}");
        let sent = w.sent_bodies().pop().unwrap();
        assert_eq!(sent["userContext"]["userId"], ALICE, "{t:?}");
        // And the default claims take the upn of a member.
        ok_text(&w.search(t, &w.bob()));
        assert_eq!(w.sent_bodies().pop().unwrap()["userContext"]["userId"], BOB);
    }

    // ACL_ALLOW_GUESTS=true: a guest is named only by a verified email.
    let w = Setup::off(API_INPUT_ONLY)
        .with("ACL_ALLOW_GUESTS", "true")
        .start();
    let t = Transport::Mcp("2026-07-28");
    let text = ok_text(&w.search(t, &w.entra.sign(w.entra.guest_claims(GUEST, GUEST_OID))));
    assert!(!text.contains(GUEST_TEXT), "{text}");
    let text = ok_text(&w.search(t, &verified_guest_token(&w)));
    assert!(text.contains(GUEST_TEXT), "{text}");
    assert_eq!(
        w.sent_bodies().pop().unwrap()["userContext"]["userId"],
        GUEST
    );

    // ACL_EMAIL_DOMAINS: an address outside the list names nobody.
    let w = Setup::off(API_INPUT_ONLY)
        .with("ACL_EMAIL_DOMAINS", "fabrikam.com")
        .start();
    let text = ok_text(&w.search(t, &w.alice()));
    assert!(
        !text.contains(ALICE_TEXT) && text.contains("carries no verified identity"),
        "{text}"
    );
    assert!(w.sent_bodies().pop().unwrap().get("userContext").is_none());
}

fn verified_guest_token(w: &World) -> String {
    let mut c = w.entra.guest_claims(GUEST, GUEST_OID);
    c["xms_edov"] = json!(true);
    w.entra.sign(c)
}

#[test]
fn the_knowledge_base_mode_and_missing_sessions_are_reported() {
    let w = Setup::off(SESSION).start();
    let r = tool_call::call(
        &w.s,
        Transport::Mcp("2025-06-18"),
        Some(&w.alice()),
        "get_knowledge_base_info",
        json!({}),
    );
    let text = ok_text(&r);
    assert!(text.contains("IDENTITY_ENHANCED_SESSION"), "{text}");
    assert!(text.contains("AWS_USER_CREDENTIALS"), "{text}");
    let w = Setup::sessions(SESSION_ELSE_INPUT).start();
    let r = tool_call::call(
        &w.s,
        Transport::Sse,
        Some(&w.alice()),
        "get_knowledge_base_info",
        json!({}),
    );
    let text = ok_text(&r);
    assert!(
        text.contains("IDENTITY_ENHANCED_SESSION_ELSE_API_INPUT"),
        "{text}"
    );
    // In the ELSE mode the server sends the STS-verified subject, which Bedrock accepts.
    let text = ok_text(&w.search(Transport::Mcp("2026-07-28"), &w.alice()));
    assert!(text.contains(ALICE_TEXT), "{text}");
    assert!(w.data_calls().iter().all(|r| r.refused.is_none()));
}

#[test]
fn with_sessions_the_user_named_to_bedrock_is_the_one_sts_verified_not_a_claim_the_server_picked() {
    // Carol's upn (the provider's subject) differs from her verified email, and the server is
    // told to prefer email: where the session carries the user, the server must not name her
    // itself; where it names her, it must send STS's Subject.
    const CAROL: &str = "carol@contoso.com";
    const CAROL_MAIL: &str = "carol.jones@contoso.com";
    const CAROL_OID: &str = "ca201000-0000-4000-8000-000000000005";
    for (mode, t) in [
        (SESSION_ELSE_INPUT, Transport::Mcp("2025-06-18")),
        (API_INPUT_ONLY, Transport::Mcp("2026-07-28")),
        (SESSION, Transport::Sse),
    ] {
        let w = Setup::sessions(mode)
            .with("ACL_USER_CLAIMS", "email,upn")
            .start();
        let carol = w.token(
            CAROL,
            CAROL_OID,
            json!({"email": CAROL_MAIL, "xms_edov": true}),
        );
        let r = w.search(t, &carol);
        assert_eq!(r["result"]["isError"], false, "{mode}: {r}");
        let calls = w.data_calls();
        assert_eq!(calls.len(), 1, "{mode}");
        assert!(calls[0].refused.is_none(), "{mode}: {:?}", calls[0]);
        assert_eq!(session_oid(&calls[0].signer), Some(CAROL_OID), "{mode}");
        assert_eq!(calls[0].identity.as_deref(), Some(CAROL), "{mode}");
        let sent = w.sent_bodies().pop().unwrap();
        match mode {
            SESSION => assert!(sent.get("userContext").is_none(), "{mode}: {sent}"),
            _ => assert_eq!(sent["userContext"]["userId"], CAROL, "{mode}: {sent}"),
        }
    }
}

#[test]
fn irsa_the_rotated_token_file_is_what_sts_receives_next() {
    let entra = FakeEntra::start();
    let bedrock = FakeBedrock::start();
    let iam = Iam::entra(&entra, None, "bmcp-*").with_eks(&entra);
    let sts = FakeSts::start(iam, bedrock.keys(), bedrock.identity());
    // Sessions of 4 s, so the server refreshes within the test.
    sts.set_lifetime(Some(Duration::from_secs(4)));
    let sa_token = |n: u64| {
        let now = now();
        entra.sign(
            json!({"iss": EKS_ISSUER, "aud": [EKS_AUDIENCE], "exp": now + 86_400,
            "iat": now, "nbf": now, "sub": "system:serviceaccount:kb:bedrock-mcp", "n": n}),
        )
    };
    let dir = std::env::temp_dir().join(format!("bmcp-irsa-{}-{}", std::process::id(), now()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    let first = sa_token(1);
    std::fs::write(&file, &first).unwrap();
    let file_s = file.to_str().unwrap().to_string();
    let env = [
        ("AWS_ENDPOINT_URL", bedrock.url()),
        ("AWS_ENDPOINT_URL_STS", sts.url().to_string()),
        ("AWS_REGION", bedrock.region().to_string()),
        ("BEDROCK_KB_ID", KB_ID.to_string()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", file_s),
        ("AWS_ROLE_ARN", SERVER_ROLE_ARN.to_string()),
        ("AWS_ROLE_SESSION_NAME", "bedrock-mcp-test".to_string()),
    ];
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Server::start(&pairs);
    let search = || {
        let r = tool_call::call(
            &s,
            Transport::Mcp("2025-06-18"),
            None,
            "search_knowledge_base",
            json!({"query": "leave policy"}),
        );
        assert!(ok_text(&r).contains("25 days"), "{r}");
    };
    search();
    let calls = sts.calls();
    assert!(!calls.is_empty());
    assert!(calls
        .iter()
        .all(|c| c.token.as_deref() == Some(first.as_str())));
    assert_eq!(calls[0].param("RoleArn"), Some(SERVER_ROLE_ARN));
    assert_eq!(calls[0].param("RoleSessionName"), Some("bedrock-mcp-test"));
    // Every Bedrock call was signed with the web-identity session of the server role.
    let records = bedrock.identity().records();
    assert!(!records.is_empty());
    for r in &records {
        assert!(
            matches!(&r.signer, Signer::Session { role_arn, .. } if role_arn == SERVER_ROLE_ARN),
            "{r:?}"
        );
    }
    // The kubelet rotates the projected token; the next refresh sends the new one.
    let second = sa_token(2);
    std::fs::write(&file, &second).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while sts.last_token().as_deref() != Some(second.as_str()) {
        assert!(
            std::time::Instant::now() < deadline,
            "STS never got the rotated token: {:?}",
            sts.calls().len()
        );
        std::thread::sleep(Duration::from_millis(500));
        search();
    }
    assert_eq!(bedrock.auth_failures(), 0, "{:?}", bedrock.last_rejection());
    let _ = std::fs::remove_dir_all(&dir);

    // Environment keys come first in the chain: with both set, no STS call.
    let sts2 = FakeSts::start(
        Iam::entra(&entra, None, "bmcp-*").with_eks(&entra),
        bedrock.keys(),
        bedrock.identity(),
    );
    let dir = std::env::temp_dir().join(format!("bmcp-irsa2-{}-{}", std::process::id(), now()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), sa_token(3)).unwrap();
    let mut vars = bedrock.env();
    vars.push(("AWS_ENDPOINT_URL_STS".into(), sts2.url().into()));
    vars.push((
        "AWS_WEB_IDENTITY_TOKEN_FILE".into(),
        dir.join("token").to_str().unwrap().into(),
    ));
    vars.push(("AWS_ROLE_ARN".into(), SERVER_ROLE_ARN.into()));
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s2 = Server::start(&pairs);
    let r = tool_call::call(
        &s2,
        Transport::Mcp("2025-06-18"),
        None,
        "search_knowledge_base",
        json!({"query": "leave policy"}),
    );
    ok_text(&r);
    assert_eq!(sts2.call_count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_token_secret_key_session_token_or_identity_context_in_debug_logs() {
    // SESSION mode: no userContext is sent, so no user address has a reason to be logged.
    let w = Setup::sessions(SESSION).with("LOG_LEVEL", "DEBUG").start();
    let (alice, bob) = (w.alice(), w.bob());
    for t in ALL {
        ok_text(&w.search(t, &alice));
        ok_text(&w.search(t, &bob));
        ok_text(&w.link(t, &alice, ALICE_DOC));
    }
    // A refusal and a transient failure on the way.
    let mallory = w.token(MALLORY, MALLORY_OID, json!({"upn": null}));
    error_text(&w.search(Transport::Mcp("2025-06-18"), &mallory));
    w.sts.push_faults(StsFault::IdpCommunication, 1);
    let carol = w.token(
        "carol@contoso.com",
        "ca201000-0000-4000-8000-000000000005",
        json!({}),
    );
    ok_text(&w.search(Transport::Mcp("2025-06-18"), &carol));
    // The access log names the user and says the call went with their own session.
    let rid = "identity-log-1";
    let r = w.s.mcp(
        &[
            ("Authorization", &format!("Bearer {alice}")),
            ("X-Request-Id", rid),
            ("MCP-Protocol-Version", "2025-06-18"),
        ],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "search_knowledge_base", "arguments": {"query": QUERY}}}),
    );
    assert_eq!(r.status, 200);
    let line = support::auth::access_line(&w.s, rid);
    assert_eq!(line["oid"], ALICE_OID, "{line}");
    assert_eq!(line["user"], ALICE_OID, "{line}");
    assert_eq!(line["aws_session"], "user", "{line}");
    assert!(line.get("acl_user").is_none(), "{line}");
    let logs = w.s.logs();
    let mut secrets: Vec<String> = vec![alice.clone(), bob.clone(), mallory, carol];
    for i in w.sts.issued() {
        secrets.push(i.secret.clone());
        secrets.push(i.session_token.clone());
    }
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    support::auth::assert_not_logged(&w.s, &refs);
    // The identity context (the Subject STS returned, the TIP map and XML) appears nowhere:
    // with per-user sessions the access log names the user by `oid` (docs/identity.md), and
    // the server asserted no address, so no user's address has any reason to be logged.
    for needle in [
        "<Subject>",
        "<SecretAccessKey>",
        "<SessionToken>",
        "TrustedIdentityPropagationContext",
        "OriginIdentity",
        "TransactionContext",
        "<entry>",
        ALICE,
        BOB,
        "carol@contoso.com",
    ] {
        assert!(!logs.contains(needle), "{needle} is in the logs:\n{logs}");
    }
}

#[test]
fn check_with_a_users_token_shows_which_identity_aws_sees() {
    let entra = FakeEntra::start();
    let bedrock = FakeBedrock::start();
    bedrock.set_kb_type("MANAGED");
    bedrock.set_corpus(corpus());
    bedrock.identity().set_mode(KB_ID, Some(SESSION_ELSE_INPUT));
    let iam = Iam::entra(&entra, Some(ContextProvider::upn()), "bmcp-*");
    let sts = FakeSts::start(iam, bedrock.keys(), bedrock.identity());
    let token = entra.sign(entra.member_claims(ALICE, ALICE_OID));
    let dir = std::env::temp_dir().join(format!("bmcp-check-{}-{}", std::process::id(), now()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("alice.token");
    std::fs::write(&file, &token).unwrap();
    let mut vars = bedrock.env();
    vars.extend(entra.vars(&[]));
    vars.push(("AWS_ENDPOINT_URL_STS".into(), sts.url().into()));
    vars.push(("AWS_USER_CREDENTIALS".into(), "web-identity".into()));
    vars.push(("AWS_USER_ROLE_ARN".into(), USER_ROLE_ARN.into()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-mcp"))
        .env_clear()
        .current_dir(&dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars)
        .args(["check", "--user-token", file.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("assumed-role/bedrock-mcp-user/bmcp-{ALICE_OID}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("AWS sees:     subject {ALICE}")),
        "{text}"
    );
    assert!(
        text.contains("userContextModeForRetrieval: IDENTITY_ENHANCED_SESSION_ELSE_API_INPUT"),
        "{text}"
    );
    assert!(text.contains("search as user: OK"), "{text}");
    // The probe really went through STS and Bedrock as Alice, and printed no secret.
    assert!(sts.calls_for(ALICE_OID) >= 1);
    let records = bedrock.identity().records_of("Retrieve");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(session_oid(&records[0].signer), Some(ALICE_OID));
    assert!(records[0].refused.is_none());
    assert!(!text.contains(&token), "the token is printed:\n{text}");
    for issued in sts.issued() {
        for secret in [&issued.secret, &issued.session_token] {
            assert!(
                !text.contains(secret.as_str()),
                "a secret is printed:\n{text}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
