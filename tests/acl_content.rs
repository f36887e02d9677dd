//! Each signed-in user sees only the documents Bedrock's access lists allow them (their
//! email from the validated token goes in `userContext.userId`), every content type reaches
//! the model readably (images as image blocks), and `get_document_link` hands the reader —
//! and only the reader — a link to the original. Over /mcp (2025-06-18, 2026-07-28) and /sse,
//! with auth on and off; the real binary against the fake Bedrock and the fake Entra.

use crate::support;

use serde_json::{json, Value};
use support::fake_bedrock::corpus::{multimodal_corpus, ALICE, AWKWARD_DOC_ID, BOB, TINY_PNG};
use support::fake_bedrock::{FakeBedrock, FakeDoc, Fault};
use support::fake_entra::FakeEntra;
use support::server::Server;
use support::tool_call::{self, Transport, ALL};

const SALARY: &str = "engineering band E3 pays from 70k to 90k";

fn managed() -> FakeBedrock {
    let bedrock = FakeBedrock::start();
    bedrock.set_kb_type("MANAGED");
    bedrock.set_corpus(multimodal_corpus());
    bedrock
}

fn start(bedrock: &FakeBedrock, entra: Option<&FakeEntra>, extra: &[(&str, &str)]) -> Server {
    Server::against(bedrock, entra, extra)
}

/// A token whose only address-like claim is `email`, verified by Entra (`xms_edov`): the
/// server names a user only by what Entra verified (docs/identity.md).
fn token_for(entra: &FakeEntra, email: &str) -> String {
    entra.token_with(
        json!({"email": email, "xms_edov": true, "preferred_username": null,
        "oid": format!("oid-{email}")}),
    )
}

/// A server with auth on, and tokens for ALICE and BOB; the fakes live as long as the tuple.
fn alice_and_bob() -> (FakeBedrock, FakeEntra, Server, String, String) {
    let bedrock = managed();
    let entra = FakeEntra::start();
    let s = start(&bedrock, Some(&entra), &[]);
    let (alice, bob) = (token_for(&entra, ALICE), token_for(&entra, BOB));
    (bedrock, entra, s, alice, bob)
}

/// Whether the last Retrieve sent to `bedrock` went without a userContext.
fn no_user_context(bedrock: &FakeBedrock) -> bool {
    let sent = bedrock
        .retrieve_bodies()
        .pop()
        .expect("a Retrieve was sent");
    sent.get("userContext").is_none()
}

fn search(s: &Server, t: Transport, token: Option<&str>, query: &str) -> Value {
    let r = tool_call::call(
        s,
        t,
        token,
        "search_knowledge_base",
        json!({"query": query, "max_results": 5}),
    );
    assert_eq!(r["result"]["isError"], false, "{r}");
    r
}

fn link(s: &Server, t: Transport, token: Option<&str>, doc: &str, ds: &str) -> Value {
    tool_call::call(
        s,
        t,
        token,
        "get_document_link",
        json!({"document_id": doc, "data_source_id": ds}),
    )
}

/// Standard base64 decoding, written out so the check shares nothing with the server.
fn b64decode(s: &str) -> Option<Vec<u8>> {
    support::fake_sts::b64_decode(s, *b"+/")
}

#[test]
fn each_user_sees_only_what_their_access_list_allows_over_every_transport() {
    let (bedrock, _entra, s, alice, bob) = alice_and_bob();
    for t in ALL {
        let a = search(&s, t, Some(&alice), "salary bands engineering");
        assert!(tool_call::text(&a).contains(SALARY), "{t:?} alice: {a}");
        let sent = bedrock.retrieve_bodies().pop().unwrap();
        assert_eq!(sent["userContext"], json!({"userId": ALICE}), "{t:?}");
        let b = search(&s, t, Some(&bob), "salary bands engineering");
        assert!(!tool_call::text(&b).contains(SALARY), "{t:?} bob: {b}");
        assert_eq!(
            bedrock.retrieve_bodies().pop().unwrap()["userContext"]["userId"],
            BOB
        );
    }
    // The access log names the identity sent, never the token.
    let logs = s.logs();
    let sent: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["msg"] == "request" && v["tool"] == "search_knowledge_base")
        .collect();
    assert!(
        sent.iter().any(|v| v["acl_user"] == ALICE) && sent.iter().any(|v| v["acl_user"] == BOB),
        "{logs}"
    );
    support::auth::assert_not_logged(&s, &[&alice, &bob]);
}

#[test]
fn the_identity_comes_only_from_the_validated_token() {
    let bedrock = managed();
    let entra = FakeEntra::start();
    let s = start(&bedrock, Some(&entra), &[("ACL_USER_CLAIMS", "upn,email")]);
    // upn wins when ACL_USER_CLAIMS lists it first; arguments cannot name anyone.
    let token = entra.token_with(json!({"email": BOB, "upn": ALICE, "preferred_username": null}));
    let r = tool_call::call(
        &s,
        Transport::Mcp("2025-06-18"),
        Some(&token),
        "search_knowledge_base",
        json!({"query": "salary bands", "userId": BOB}),
    );
    // An unknown argument is refused before Bedrock is called (-32602 on 2025-06-18).
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(bedrock.retrieve_bodies().is_empty());
    let r = search(
        &s,
        Transport::Mcp("2025-06-18"),
        Some(&token),
        "salary bands",
    );
    assert!(tool_call::text(&r).contains(SALARY), "{r}");
    assert_eq!(
        bedrock.retrieve_bodies().pop().unwrap()["userContext"]["userId"],
        ALICE
    );
    // A token that is not valid never reaches Bedrock at all.
    let forged = entra.tampered();
    let resp = s.mcp(
        &[("Authorization", &format!("Bearer {forged}")), ("MCP-Protocol-Version", "2025-06-18")],
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_knowledge_base","arguments":{"query":"salary"}}}),
    );
    assert_eq!(resp.status, 401);
    assert_eq!(bedrock.retrieve_calls(), 1);
}

#[test]
fn a_token_without_an_email_searches_without_user_context_and_says_what_is_hidden() {
    let bedrock = managed();
    let entra = FakeEntra::start();
    let s = start(&bedrock, Some(&entra), &[]);
    let token = entra.token_with(json!({"preferred_username": "ada", "email": null}));
    for t in ALL {
        let r = search(&s, t, Some(&token), "salary bands onboarding checklist");
        let text = tool_call::text(&r);
        assert!(
            text.contains("laptops are issued") && !text.contains(SALARY),
            "{t:?}: {text}"
        );
        assert!(
            text.contains("hidden") && text.contains("optional claim \"email\""),
            "{text}"
        );
        // The wording docs/identity.md promises: why, and which claims to add.
        assert!(
            text.contains("carries no verified identity") && text.contains("xms_edov"),
            "{text}"
        );
        assert!(no_user_context(&bedrock));
        if t != Transport::Sse {
            let note = r["result"]["structuredContent"]["note"]
                .as_str()
                .unwrap_or("");
            assert!(note.contains("Token configuration"), "{r}");
        }
    }
}

#[test]
fn with_auth_off_no_user_context_is_sent_and_acl_documents_stay_hidden() {
    let bedrock = managed();
    let s = start(&bedrock, None, &[]);
    for t in ALL {
        let r = search(&s, t, None, "salary bands onboarding checklist");
        let text = tool_call::text(&r);
        assert!(
            text.contains("laptops are issued") && !text.contains(SALARY),
            "{text}"
        );
        assert!(
            !text.contains("optional claim"),
            "no note without sign-in: {text}"
        );
        assert!(no_user_context(&bedrock));
    }
}

#[test]
fn every_content_type_reaches_the_model_over_every_transport() {
    let bedrock = managed();
    let s = start(&bedrock, None, &[]);
    for t in ALL {
        let r = search(&s, t, None, "architecture diagram");
        let blocks = r["result"]["content"].as_array().unwrap().clone();
        let image = blocks
            .iter()
            .find(|b| b["type"] == "image")
            .unwrap_or_else(|| panic!("{t:?}: {r}"));
        assert_eq!(image["mimeType"], "image/png");
        let png = b64decode(image["data"].as_str().unwrap()).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{t:?}");
        assert_eq!(image["data"], TINY_PNG);
        // The block before the image names its source.
        let i = blocks.iter().position(|b| b["type"] == "image").unwrap();
        assert!(
            blocks[i - 1]["text"]
                .as_str()
                .unwrap()
                .contains("personal/arch.png"),
            "{r}"
        );

        let row = tool_call::text(&search(&s, t, None, "quarterly revenue region"));
        assert!(row.contains("region: EMEA\nrevenue: 4200000"), "{row}");
        assert!(row.contains("SELECT region, revenue FROM sales"), "{row}");
        let audio = tool_call::text(&search(&s, t, None, "all-hands recording"));
        assert!(
            audio.contains("new office opens in Lisbon")
                && audio.contains("s3://kb-media/allhands.mp3"),
            "{audio}"
        );
        let video = tool_call::text(&search(&s, t, None, "safety training video"));
        assert!(
            video.contains("using the fire extinguisher")
                && video.contains("s3://kb-media/safety.mp4"),
            "{video}"
        );
        assert!(video.contains("drive.google.com/file/d/safety"), "{video}");
    }
    let r = search(
        &s,
        Transport::Mcp("2025-06-18"),
        None,
        "architecture diagram",
    );
    let first = &r["result"]["structuredContent"]["results"][0];
    assert_eq!(first["contentType"], "IMAGE", "{r}");
    assert_eq!(first["documentId"], "diagrams/architecture.png");
    assert_eq!(first["dataSourceId"], "DSONEDRIVE");
    assert_eq!(first["mediaId"], "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_eq!(
        first["location"],
        json!({"type": "ONEDRIVE", "uri": "https://example-my.sharepoint.com/personal/arch.png"})
    );
    assert_eq!(first["image"]["mimeType"], "image/png");
    assert_eq!(first["image"]["sizeBytes"], 70);
    assert_eq!(first["image"]["shown"], true);
    let caption = first["image"]["caption"].as_str().unwrap_or_default();
    assert!(
        caption.starts_with(
            "Image of result [1] from https://example-my.sharepoint.com/personal/arch.png"
        ),
        "{caption}"
    );
}

#[test]
fn an_image_over_the_size_cap_is_described_with_a_way_to_open_it() {
    let bedrock = managed();
    let big = "A".repeat(2 * 1024 * 1024);
    let mut doc = FakeDoc::media(
        "Floor plan scan",
        json!({"type": "IMAGE", "byteContent": format!("data:image/jpeg;base64,{big}")}),
        json!({"type": "S3", "s3Location": {"uri": "s3://kb-docs/plans/floor.jpg"}}),
    )
    .in_source("plans/floor.jpg", "DSPUBLIC01");
    doc.mime_type = "image/jpeg".into();
    bedrock.set_corpus(vec![doc]);
    let s = start(&bedrock, None, &[]);
    let r = search(&s, Transport::Mcp("2025-06-18"), None, "floor plan");
    let blocks = r["result"]["content"].as_array().unwrap();
    assert!(
        blocks.iter().all(|b| b["type"] != "image"),
        "{}",
        blocks.len()
    );
    let text = tool_call::text(&r);
    assert!(
        text.contains("image/jpeg, 1.5 MB: not shown, larger than the 1.0 MB inline limit"),
        "{text}"
    );
    assert!(
        text.contains("get_document_link") && text.contains("document_id: plans/floor.jpg"),
        "{text}"
    );
    assert_eq!(
        r["result"]["structuredContent"]["results"][0]["image"]["shown"],
        false
    );
}

#[test]
fn get_document_link_gives_the_reader_a_url_and_refuses_the_other_user() {
    let (bedrock, _entra, s, alice, bob) = alice_and_bob();
    for t in ALL {
        let r = link(&s, t, Some(&alice), AWKWARD_DOC_ID, "DSSHAREPT1");
        assert_eq!(r["result"]["isError"], false, "{t:?}: {r}");
        let text = tool_call::text(&r);
        assert!(text.contains("https://fake-kb-originals.s3.eu-west-1.amazonaws.com/DSSHAREPT1/Salary%20bands%2F2026%20%E2%80%93%20%C3%9Cbersicht.xlsx"), "{text}");
        assert!(text.contains("spreadsheetml"), "{text}");
        let (op, body) = bedrock.calls().pop().unwrap();
        assert_eq!(op, "GetDocumentContent");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body,
            json!({"outputFormat": "RAW", "userContext": {"userId": ALICE}})
        );

        let r = link(&s, t, Some(&bob), AWKWARD_DOC_ID, "DSSHAREPT1");
        assert_eq!(r["result"]["isError"], true, "{t:?}: {r}");
        let text = tool_call::text(&r);
        assert!(
            text.contains("may not read it") && !text.contains("https://fake-kb"),
            "{text}"
        );
    }
    // The awkward id was percent-encoded as one segment and signed the way AWS checks it.
    assert_eq!(bedrock.bad_signatures(), 0);
    assert_eq!(bedrock.document_calls(), 6);
    let r = link(
        &s,
        Transport::Mcp("2025-06-18"),
        Some(&alice),
        AWKWARD_DOC_ID,
        "DSSHAREPT1",
    );
    let sc = &r["result"]["structuredContent"];
    assert_eq!(
        (sc["documentId"].as_str(), sc["dataSourceId"].as_str()),
        (Some(AWKWARD_DOC_ID), Some("DSSHAREPT1"))
    );
    assert!(sc["url"].as_str().unwrap().starts_with("https://"), "{r}");
}

#[test]
fn get_document_link_failures_are_tool_errors_that_say_what_happened() {
    let bedrock = managed();
    let s = start(&bedrock, None, &[("BEDROCK_MAX_ATTEMPTS", "1")]);
    let t = Transport::Mcp("2025-11-25");
    let r = link(&s, t, None, "no/such doc", "DSPUBLIC01");
    assert_eq!(r["result"]["isError"], true);
    assert!(tool_call::text(&r).contains("no such document"), "{r}");
    bedrock.push_fault(Fault::Throttle);
    let r = link(&s, t, None, "s3://kb-docs/hr/onboarding.md", "DSPUBLIC01");
    assert!(
        tool_call::text(&r).contains("still throttling GetDocumentContent"),
        "{r}"
    );
    bedrock.deny("GetDocumentContent");
    let r = link(&s, t, None, "s3://kb-docs/hr/onboarding.md", "DSPUBLIC01");
    assert!(
        tool_call::text(&r).contains("bedrock:GetDocumentContent"),
        "{r}"
    );
    // Bad ids are refused before any call.
    let before = bedrock.document_calls();
    for args in [
        json!({"document_id": "x", "data_source_id": "not-an-id!"}),
        json!({"document_id": "x"}),
        json!({"document_id": "a\u{7}b", "data_source_id": "DS1"}),
        json!({"document_id": "x", "data_source_id": "DS1", "media_id": "short"}),
    ] {
        let r = tool_call::call(&s, t, None, "get_document_link", args.clone());
        assert_eq!(r["result"]["isError"], true, "{args}: {r}");
    }
    assert_eq!(bedrock.document_calls(), before);
}

#[test]
fn document_links_can_be_turned_off_and_the_local_backend_has_none() {
    let names = |s: &Server| -> Vec<String> {
        let r = s.mcp(
            &[("MCP-Protocol-Version", "2025-06-18")],
            &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
        );
        r.json()["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let bedrock = managed();
    let s = start(&bedrock, None, &[]);
    assert_eq!(
        names(&s),
        [
            "search_knowledge_base",
            "get_knowledge_base_info",
            "get_document_link",
            "read_document",
            "agentic_search"
        ]
    );
    let s = start(
        &bedrock,
        None,
        &[("DOCUMENT_LINKS", "false"), ("AGENTIC_SEARCH", "false")],
    );
    assert_eq!(
        names(&s),
        [
            "search_knowledge_base",
            "get_knowledge_base_info",
            "read_document"
        ]
    );
    let r = link(&s, Transport::Mcp("2025-06-18"), None, "x", "DS1");
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(bedrock.document_calls(), 0);
    let local = Server::local(&[]);
    assert_eq!(
        names(&local),
        [
            "search_knowledge_base",
            "get_knowledge_base_info",
            "read_document"
        ]
    );
}
