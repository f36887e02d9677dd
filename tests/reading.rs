//! Issue 20, reading: `read_document` reads a long document page by page (pages concatenate
//! to the whole extracted text, nothing lost or repeated), as the signed-in user (one user
//! reads what another may not), with clear tool errors for missing, unextractable and
//! unreadable documents; `search_knowledge_base` pages on with `next_page`; every image
//! result has a caption and a way to fetch it; bad ids, guardrail versions and rerank ARNs
//! are refused at start-up with the rule. Over /mcp (2025-06-18, 2026-07-28) and /sse, with
//! auth on and off: the real binary against the fake Bedrock (EXTRACTED JSON behind a
//! presigned loopback download) and the fake Entra. Interface: docs/reading.md.

use crate::support;

use serde_json::{json, Value};
use support::fake_bedrock::corpus::{ALICE, BOB, TINY_PNG};
use support::fake_bedrock::reading_corpus::{self as rc, POLICY_DS};
use support::fake_bedrock::FakeBedrock;
use support::fake_entra::FakeEntra;
use support::server::Server;
use support::tool_call::{self, Transport, ALL};

fn start(bedrock: &FakeBedrock, entra: Option<&FakeEntra>, extra: &[(&str, &str)]) -> Server {
    Server::against(bedrock, entra, extra)
}

fn reading_fake() -> FakeBedrock {
    let bedrock = FakeBedrock::start();
    rc::install(&bedrock);
    bedrock
}

/// The two ways to run: auth off (no token), auth on as ALICE.
struct Setup {
    bedrock: FakeBedrock,
    _entra: Option<FakeEntra>,
    server: Server,
    token: Option<String>,
}

fn setups(extra: &[(&str, &str)]) -> Vec<Setup> {
    let mut out = Vec::new();
    for auth in [false, true] {
        let bedrock = reading_fake();
        let entra = auth.then(FakeEntra::start);
        let server = start(&bedrock, entra.as_ref(), extra);
        let token = entra.as_ref().map(|e| e.verified_email_token(ALICE));
        out.push(Setup {
            bedrock,
            _entra: entra,
            server,
            token,
        });
    }
    out
}

fn read(s: &Server, t: Transport, token: Option<&str>, args: Value) -> Value {
    tool_call::call(s, t, token, "read_document", args)
}

fn is_error(r: &Value) -> bool {
    r["result"]["isError"] == true
}

/// The number after `prefix` in `text` (digits and thousands commas).
fn number_after(text: &str, prefix: &str) -> Option<u64> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The page text inside read_document's text block: between the blank line after the
/// "Page N of M" line and the blank line before the closing "[End of …]" note.
fn page_body(shown: &str) -> &str {
    let after_head = shown
        .find("\n\n")
        .map(|i| &shown[i + 2..])
        .unwrap_or_else(|| panic!("no blank line after the page head: {shown:.300}"));
    let end = after_head
        .rfind("\n\n[End of")
        .unwrap_or_else(|| panic!("no closing note: {shown:.300}"));
    &after_head[..end]
}

/// Reads every page of a document as a client that follows the text would (on /sse only
/// text arrives); returns each page's text, and checks the paging facts on the way, against
/// `structuredContent` too where the revision has it.
fn read_all(s: &Server, t: Transport, token: Option<&str>, doc: &str, ds: &str) -> Vec<String> {
    let mut pages = Vec::new();
    let mut page = 1u64;
    let mut total_pages = None;
    loop {
        assert!(page <= 40, "{t:?}: more than 40 pages of {doc}");
        let r = read(
            s,
            t,
            token,
            json!({"document_id": doc, "data_source_id": ds, "page": page}),
        );
        assert!(!is_error(&r), "{t:?} {doc} page {page}: {r}");
        let shown = tool_call::text(&r);
        let head = format!("Page {page} of ");
        let pages_now = number_after(&shown, &head)
            .unwrap_or_else(|| panic!("{t:?}: no {head:?} in {shown:.300}"));
        assert_eq!(
            *total_pages.get_or_insert(pages_now),
            pages_now,
            "{t:?}: page count changed"
        );
        let text = page_body(&shown).to_string();
        let chars = text.chars().count();
        assert!(chars <= 20_000, "{t:?}: page {page} has {chars} characters");
        assert!(chars > 0, "{t:?}: page {page} is empty");
        let next = number_after(&shown, "and page=");
        let sc = &r["result"]["structuredContent"];
        if let Transport::Mcp(_) = t {
            assert_eq!(sc["page"], page, "{t:?}: {sc}");
            assert_eq!(sc["pages"], pages_now, "{t:?}: {sc}");
            assert_eq!(sc["documentId"], doc, "{t:?}");
            assert_eq!(sc["dataSourceId"], ds, "{t:?}");
            assert!(
                sc["text"] == text.as_str(),
                "{t:?}: structured and shown text differ"
            );
            assert_eq!(
                sc["endChar"].as_u64().unwrap() - sc["startChar"].as_u64().unwrap(),
                chars as u64,
                "{t:?}: {sc}"
            );
            assert_eq!(sc["nextPage"].as_u64(), next, "{t:?}: {sc}");
        }
        pages.push(text);
        match next {
            Some(next) => {
                assert_eq!(next, page + 1, "{t:?}");
                page = next;
            }
            None => {
                assert_eq!(page, pages_now, "{t:?}: last page is not page {pages_now}");
                assert!(shown.contains("[End of the document"), "{t:?}");
                break;
            }
        }
    }
    pages
}

/// Where two texts first differ (for a readable failure).
fn first_difference(a: &str, b: &str) -> String {
    let i = a
        .chars()
        .zip(b.chars())
        .position(|(x, y)| x != y)
        .unwrap_or(a.chars().count().min(b.chars().count()));
    let around = |s: &str| {
        s.chars()
            .skip(i.saturating_sub(40))
            .take(80)
            .collect::<String>()
    };
    format!(
        "lengths {} and {}; first difference at char {i}: {:?} vs {:?}",
        a.chars().count(),
        b.chars().count(),
        around(a),
        around(b)
    )
}

#[test]
fn a_long_document_reads_page_by_page_over_every_transport_with_auth_off_and_on() {
    let whole = rc::handbook_text();
    assert!(whole.chars().count() > 70_000, "the fixture must be long");
    let guide = rc::guide_text();
    for setup in setups(&[]) {
        let (s, bedrock, token) = (&setup.server, &setup.bedrock, setup.token.as_deref());
        for t in ALL {
            // The search result tells the model it can read the whole document.
            let found = tool_call::call(
                s,
                t,
                token,
                "search_knowledge_base",
                json!({"query": "travel handbook booking rules", "max_results": 3}),
            );
            let shown = tool_call::text(&found);
            assert!(shown.contains("read_document"), "{t:?}: {shown}");
            assert!(shown.contains(rc::HANDBOOK_ID), "{t:?}: {shown}");

            let pages = read_all(s, t, token, rc::HANDBOOK_ID, POLICY_DS);
            assert!(pages.len() >= 4, "{t:?}: {} pages", pages.len());
            let joined = pages.concat();
            assert!(
                joined == whole,
                "{t:?}: {}",
                first_difference(&joined, &whole)
            );

            // Another layout, with a 21,000-character run the pager must cut inside.
            let pages = read_all(s, t, token, rc::GUIDE_ID, POLICY_DS);
            let joined = pages.concat();
            assert!(
                joined == guide,
                "{t:?}: {}",
                first_difference(&joined, &guide)
            );
        }
        // What went to Bedrock: EXTRACTED as the signed-in user (none with auth off).
        let sent: Vec<Value> = bedrock
            .calls()
            .iter()
            .filter(|(op, _)| op == "GetDocumentContent")
            .map(|(_, b)| serde_json::from_str(b).unwrap())
            .collect();
        assert!(!sent.is_empty());
        for body in &sent {
            assert_eq!(body["outputFormat"], "EXTRACTED", "{body}");
            assert!(body.get("mediaId").is_none(), "{body}");
            match token {
                Some(_) => assert_eq!(body["userContext"], json!({"userId": ALICE}), "{body}"),
                None => assert!(body.get("userContext").is_none(), "{body}"),
            }
        }
        // The presigned download carried none of our credentials.
        assert!(
            bedrock.downloads_served() >= sent.len(),
            "{}",
            bedrock.downloads_served()
        );
        let headers = bedrock.last_download_headers();
        assert!(
            headers
                .iter()
                .all(|(k, _)| k != "authorization" && !k.starts_with("x-amz-")),
            "{headers:?}"
        );
        if let Some(token) = token {
            support::auth::assert_not_logged(s, &[token]);
        }
    }
}

#[test]
fn one_user_reads_a_document_another_may_not() {
    let bedrock = reading_fake();
    let entra = FakeEntra::start();
    let s = start(&bedrock, Some(&entra), &[]);
    let (alice, bob) = (
        entra.verified_email_token(ALICE),
        entra.verified_email_token(BOB),
    );
    let args = json!({"document_id": rc::SALARY_REVIEW_ID, "data_source_id": "DSHRDOCS01"});
    for t in ALL {
        let a = read(&s, t, Some(&alice), args.clone());
        assert!(!is_error(&a), "{t:?} alice: {a}");
        assert!(
            tool_call::text(&a).contains(rc::SALARY_REVIEW_TEXT),
            "{t:?}: {a}"
        );

        let downloads = bedrock.downloads_served();
        let b = read(&s, t, Some(&bob), args.clone());
        assert!(is_error(&b), "{t:?} bob: {b}");
        let shown = tool_call::text(&b);
        assert!(!shown.contains("engineering budget"), "{t:?}: {shown}");
        assert!(shown.contains("Access denied"), "{t:?}: {shown}");
        assert!(shown.contains("may not read"), "{t:?}: {shown}");
        let sent: Value = serde_json::from_str(&bedrock.last_body().unwrap()).unwrap();
        assert_eq!(sent["userContext"]["userId"], BOB, "{t:?}");
        assert_eq!(
            bedrock.downloads_served(),
            downloads,
            "{t:?}: bob downloaded"
        );
    }
    // With auth off nobody is named, and Bedrock's access list lets nobody in.
    let open = start(&bedrock, None, &[]);
    let r = read(&open, Transport::Mcp("2025-06-18"), None, args);
    assert!(is_error(&r), "{r}");
    assert!(!tool_call::text(&r).contains("engineering budget"), "{r}");
}

#[test]
fn missing_unextractable_and_oddly_laid_out_documents_are_tool_errors_that_say_what_happened() {
    for setup in setups(&[]) {
        let (s, bedrock, token) = (&setup.server, &setup.bedrock, setup.token.as_deref());
        for t in ALL {
            let call = |doc: &str, ds: &str, page: Option<u64>| {
                let mut args = json!({"document_id": doc, "data_source_id": ds});
                if let Some(p) = page {
                    args["page"] = json!(p);
                }
                let r = read(s, t, token, args);
                assert!(is_error(&r), "{t:?} {doc}: {r}");
                tool_call::text(&r)
            };
            let missing = call("policies/no-such-file.pdf", POLICY_DS, None);
            assert!(missing.contains("Not found"), "{t:?}: {missing}");

            let video = call(rc::VIDEO_ID, "DSMEDIA001", None);
            assert!(video.contains("no extracted text"), "{t:?}: {video}");
            assert!(video.contains("get_document_link"), "{t:?}: {video}");

            let odd = call(rc::ODD_LAYOUT_ID, POLICY_DS, None);
            assert!(
                odd.contains("layout this server does not understand"),
                "{t:?}: {odd}"
            );

            let past = call(rc::HANDBOOK_ID, POLICY_DS, Some(99));
            assert!(past.contains("page 99 does not exist"), "{t:?}: {past}");

            // Ids the service model refuses never reach Bedrock.
            let before = bedrock.document_calls();
            let bell = call("policies/bell\u{7}.pdf", POLICY_DS, None);
            assert!(bell.contains("document_id"), "{t:?}: {bell}");
            let long = call(&"x".repeat(1_826), POLICY_DS, None);
            assert!(long.contains("document_id"), "{t:?}: {long}");
            let ds = call(rc::HANDBOOK_ID, "DS-POLICY/1", None);
            assert!(ds.contains("data_source_id"), "{t:?}: {ds}");
            assert_eq!(
                bedrock.document_calls(),
                before,
                "{t:?}: a refused id was sent"
            );
        }
        // An expired presigned URL: S3's 403 becomes a tool error that names it.
        bedrock.set_presign_ttl(std::time::Duration::ZERO);
        let r = read(
            s,
            Transport::Mcp("2026-07-28"),
            token,
            json!({"document_id": rc::HANDBOOK_ID, "data_source_id": POLICY_DS}),
        );
        assert!(is_error(&r), "{r}");
        assert!(tool_call::text(&r).contains("HTTP 403"), "{r}");
        assert_eq!(bedrock.last_download_status(), Some(403));
        assert!(bedrock.downloads_refused() >= 1);
    }
}

/// The note numbers a search result shows, in the order shown (text and, where the
/// revision has it, structuredContent must agree).
fn notes_in(t: Transport, r: &Value) -> Vec<usize> {
    let shown = tool_call::text(r);
    let mut at: Vec<(usize, usize)> = (1..=rc::NOTES)
        .filter_map(|i| shown.find(&rc::note_marker(i)).map(|pos| (pos, i)))
        .collect();
    at.sort();
    let notes: Vec<usize> = at.into_iter().map(|(_, i)| i).collect();
    if let Transport::Mcp(_) = t {
        let results = r["result"]["structuredContent"]["results"]
            .as_array()
            .unwrap_or_else(|| panic!("{t:?}: no structured results: {r}"));
        let structured: Vec<usize> = results
            .iter()
            .map(|res| {
                let text = res["text"].as_str().unwrap_or_default();
                (1..=rc::NOTES)
                    .find(|i| text.contains(&rc::note_marker(*i)))
                    .unwrap_or_else(|| panic!("not a note: {res}"))
            })
            .collect();
        assert_eq!(structured, notes, "{t:?}");
    }
    notes
}

/// The `next_page="…"` value a search result's text offers, if any.
fn offered_next_page(shown: &str) -> Option<String> {
    let rest = &shown[shown.find("next_page=\"")? + 11..];
    Some(rest[..rest.find('"')?].to_string())
}

#[test]
fn search_pages_go_on_with_next_page_and_never_repeat() {
    for setup in setups(&[]) {
        let (s, bedrock, token) = (&setup.server, &setup.bedrock, setup.token.as_deref());
        for t in ALL {
            let mut seen = Vec::new();
            let mut next: Option<String> = None;
            let mut pages = 0;
            loop {
                pages += 1;
                assert!(pages <= 5, "{t:?}: too many pages");
                let mut args = json!({"query": rc::NOTES_WORD, "max_results": 5});
                if let Some(n) = &next {
                    args["next_page"] = json!(n);
                }
                let r = tool_call::call(s, t, token, "search_knowledge_base", args);
                assert!(!is_error(&r), "{t:?}: {r}");
                let notes = notes_in(t, &r);
                let sc = &r["result"]["structuredContent"];
                let shown = tool_call::text(&r);
                let offered = offered_next_page(&shown);
                if let Transport::Mcp(_) = t {
                    assert_eq!(sc["moreAvailable"], offered.is_some(), "{t:?}: {sc}");
                    assert_eq!(sc["nextPage"].as_str(), offered.as_deref(), "{t:?}: {sc}");
                }
                if let Some(n) = &next {
                    let sent = bedrock.retrieve_bodies().pop().unwrap();
                    assert!(
                        sent["nextToken"].is_string(),
                        "{t:?}: page {pages} sent {sent}"
                    );
                    assert!(!n.is_empty());
                }
                seen.extend(notes.iter().copied());
                if let Some(n) = offered {
                    assert_eq!(notes.len(), 5, "{t:?}");
                    assert!(
                        shown.contains("More results are available"),
                        "{t:?}: {shown}"
                    );
                    next = Some(n);
                } else {
                    assert!(shown.contains("No more results."), "{t:?}: {shown}");
                    break;
                }
            }
            assert_eq!(pages, 3, "{t:?}");
            assert_eq!(seen, (1..=rc::NOTES).collect::<Vec<_>>(), "{t:?}");
        }
        // A next_page belongs to its search: another query is refused before any call.
        let first = tool_call::call(
            s,
            Transport::Mcp("2025-06-18"),
            token,
            "search_knowledge_base",
            json!({"query": rc::NOTES_WORD, "max_results": 5}),
        );
        let n = first["result"]["structuredContent"]["nextPage"]
            .as_str()
            .unwrap()
            .to_string();
        let calls = bedrock.retrieve_calls();
        for args in [
            json!({"query": "travel handbook", "max_results": 5, "next_page": n}),
            json!({"query": rc::NOTES_WORD, "max_results": 4, "next_page": n}),
            json!({"query": rc::NOTES_WORD, "max_results": 5, "next_page": "np1.bm90IGEgdG9rZW4"}),
        ] {
            for t in ALL {
                let r = tool_call::call(s, t, token, "search_knowledge_base", args.clone());
                // A tool error, or before 2025-11-25 a JSON-RPC invalid-params error.
                let said = match r.get("error") {
                    Some(e) => {
                        assert_eq!(e["code"], -32602, "{t:?}: {r}");
                        e["message"].as_str().unwrap_or_default().to_string()
                    }
                    None => {
                        assert!(is_error(&r), "{t:?}: {r}");
                        tool_call::text(&r)
                    }
                };
                assert!(said.contains("next_page"), "{t:?}: {r}");
            }
        }
        assert_eq!(
            bedrock.retrieve_calls(),
            calls,
            "a foreign next_page reached Bedrock"
        );
    }
}

#[test]
fn an_image_result_has_a_caption_and_a_way_to_fetch_it() {
    for (mode, inline) in [("inline", true), ("caption", false)] {
        for setup in setups(&[("IMAGE_RESULTS", mode)]) {
            let (s, token) = (&setup.server, setup.token.as_deref());
            for t in ALL {
                let r = tool_call::call(
                    s,
                    t,
                    token,
                    "search_knowledge_base",
                    json!({"query": "floor plan lisbon office", "max_results": 3}),
                );
                assert!(!is_error(&r), "{mode} {t:?}: {r}");
                let blocks = r["result"]["content"].as_array().unwrap();
                let images = blocks.iter().filter(|b| b["type"] == "image").count();
                assert_eq!(images, usize::from(inline), "{mode} {t:?}: {r}");
                let shown = tool_call::text(&r);
                let caption = shown
                    .lines()
                    .find(|l| l.contains("Image of result ["))
                    .unwrap_or_else(|| panic!("{mode} {t:?}: no caption in {shown}"));
                assert!(caption.contains(rc::FLOOR_PLAN_URI), "{caption}");
                assert!(caption.contains("page 3"), "{caption}");
                assert!(caption.contains("nearest text"), "{caption}");
                assert!(
                    shown.contains(rc::FLOOR_PLAN_MEDIA),
                    "{mode} {t:?}: {shown}"
                );
                assert!(shown.contains("read_document"), "{mode} {t:?}: {shown}");
                if !inline {
                    assert!(!r.to_string().contains(TINY_PNG), "{mode}: image data sent");
                }

                // The way to fetch it: read_document with the media id, through the server.
                let img = read(
                    s,
                    t,
                    token,
                    json!({"document_id": rc::FLOOR_PLAN_ID, "data_source_id": "DSFACIL001",
                        "media_id": rc::FLOOR_PLAN_MEDIA}),
                );
                assert!(!is_error(&img), "{mode} {t:?}: {img}");
                let blocks = img["result"]["content"].as_array().unwrap();
                let block = blocks
                    .iter()
                    .find(|b| b["type"] == "image")
                    .unwrap_or_else(|| panic!("no image block: {img}"));
                assert_eq!(block["mimeType"], "image/png");
                assert_eq!(block["data"], TINY_PNG);
                let said = tool_call::text(&img);
                assert!(
                    said.contains(rc::FLOOR_PLAN_MEDIA) && said.contains(rc::FLOOR_PLAN_ID),
                    "{img}"
                );
            }
            let sent = setup.bedrock.last_body().unwrap();
            let sent: Value = serde_json::from_str(&sent).unwrap();
            assert_eq!(sent["mediaId"], rc::FLOOR_PLAN_MEDIA, "{sent}");
            assert_ne!(sent["outputFormat"], "EXTRACTED", "{sent}");
        }
    }
}

#[test]
fn start_up_refuses_bad_ids_guardrail_versions_and_rerank_arns_with_the_rule() {
    let bedrock = FakeBedrock::start();
    let base: Vec<(String, String)> = bedrock
        .env()
        .into_iter()
        .filter(|(k, _)| k != "BEDROCK_KB_ID")
        .collect();
    let refused = |extra: &[(&str, &str)], variable: &str, rule: &str| {
        let mut env: Vec<(&str, &str)> =
            base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if !extra.iter().any(|(k, _)| *k == "BEDROCK_KB_ID") {
            env.push(("BEDROCK_KB_ID", "KBFAKE0001"));
        }
        env.extend_from_slice(extra);
        let logs = match Server::try_start(&env, &[]) {
            Ok(_) => panic!("started with {extra:?}"),
            Err(logs) => logs,
        };
        assert!(logs.contains(variable), "{extra:?}: {logs}");
        assert!(logs.contains(rule), "{extra:?}: want {rule:?} in {logs}");
    };
    for id in ["KBFAKE001", "KBFAKE00012", "KB_FAKE_01", "kbfake 001"] {
        refused(
            &[("BEDROCK_KB_ID", id)],
            "BEDROCK_KB_ID",
            "exactly 10 letters and digits",
        );
    }
    refused(
        &[(
            "BEDROCK_KB_ID",
            "arn:aws:bedrock:eu-west-1:12345:knowledge-base/KBFAKE0001",
        )],
        "BEDROCK_KB_ID",
        "exactly 10 letters and digits",
    );
    for version in ["01", "123456", "1.0", "draft", "DRAFT1"] {
        refused(
            &[
                ("BEDROCK_GUARDRAIL_ID", "abc123"),
                ("BEDROCK_GUARDRAIL_VERSION", version),
            ],
            "BEDROCK_GUARDRAIL_VERSION",
            "DRAFT or a number",
        );
    }
    for arn in [
        "arn:aws:bedrock:EU-WEST-1::foundation-model/amazon.rerank-v1:0",
        "arn:aws:bedrock:eu-west-1:123456789012:foundation-model/amazon.rerank-v1:0",
        "arn:aws:s3:eu-west-1::foundation-model/amazon.rerank-v1:0",
    ] {
        refused(
            &[("BEDROCK_RERANK_MODEL", arn)],
            "BEDROCK_RERANK_MODEL",
            "lower case",
        );
    }
    // What the model allows starts: a knowledge-base ARN, DRAFT, a lower-case rerank ARN.
    let mut env: Vec<(&str, &str)> = base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.extend_from_slice(&[
        (
            "BEDROCK_KB_ID",
            "arn:aws:bedrock:eu-west-1:123456789012:knowledge-base/KBFAKE0001",
        ),
        ("BEDROCK_GUARDRAIL_ID", "abc123"),
        ("BEDROCK_GUARDRAIL_VERSION", "DRAFT"),
        (
            "BEDROCK_RERANK_MODEL",
            "arn:aws:bedrock:eu-west-1::foundation-model/amazon.rerank-v1:0",
        ),
    ]);
    let s = Server::try_start(&env, &[]).unwrap_or_else(|logs| panic!("{logs}"));
    let r = tool_call::call(
        &s,
        Transport::Mcp("2025-06-18"),
        None,
        "search_knowledge_base",
        json!({"query": "vacation policy"}),
    );
    assert!(!is_error(&r), "{r}");
    assert_eq!(
        bedrock.targets().last().map(String::as_str),
        Some("KBFAKE0001")
    );
}

#[test]
fn the_local_backend_reads_its_files_page_by_page_and_pages_its_searches() {
    let dir = std::env::temp_dir().join(format!("bedrock-mcp-reading-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    let whole = rc::handbook_text();
    std::fs::write(dir.join("policies/travel-handbook.md"), &whole).unwrap();
    for i in 1..=3 {
        let note = format!("Travel note {i}: the itinerary of trip {i} is with the travel desk.");
        std::fs::write(dir.join(format!("note-{i}.md")), note).unwrap();
    }
    let kb = dir.to_str().unwrap();
    let s = Server::start(&[("KB_LOCAL_DIR", kb)]);
    for t in ALL {
        let found = tool_call::call(
            &s,
            t,
            None,
            "search_knowledge_base",
            json!({"query": "travel handbook clause receipts", "max_results": 1}),
        );
        let shown = tool_call::text(&found);
        assert!(shown.contains("read_document"), "{t:?}: {shown}");
        let pages = read_all(&s, t, None, "policies/travel-handbook.md", "local");
        assert!(pages.len() >= 4, "{t:?}");
        let joined = pages.concat();
        assert!(
            joined == whole,
            "{t:?}: {}",
            first_difference(&joined, &whole)
        );

        // Three notes, one a page.
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..5 {
            let mut args = json!({"query": "itinerary", "max_results": 1});
            if let Some(n) = &next {
                args["next_page"] = json!(n);
            }
            let r = tool_call::call(&s, t, None, "search_knowledge_base", args);
            assert!(!is_error(&r), "{t:?}: {r}");
            let shown = tool_call::text(&r);
            seen.extend((1..=3).filter(|i| shown.contains(&format!("trip {i} "))));
            next = offered_next_page(&shown);
            if next.is_none() {
                break;
            }
        }
        seen.sort();
        assert_eq!(seen, vec![1, 2, 3], "{t:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn extracted_text_over_the_size_cap_and_smaller_pages_are_handled() {
    let bedrock = reading_fake();
    // 1.5 MiB of extracted text: over a 1 MiB cap, refused without exhausting memory.
    let big = "Receipts are kept for ten years. ".repeat(48_000);
    bedrock.set_extracted(rc::GUIDE_ID, json!({ "plainTextDocumentContent": big }));
    let s = start(
        &bedrock,
        None,
        &[
            ("READ_DOCUMENT_MAX_MIB", "1"),
            ("READ_DOCUMENT_PAGE_CHARS", "5000"),
        ],
    );
    for t in ALL {
        let r = read(
            &s,
            t,
            None,
            json!({"document_id": rc::GUIDE_ID, "data_source_id": POLICY_DS}),
        );
        assert!(is_error(&r), "{t:?}: {}", tool_call::text(&r).len());
        let shown = tool_call::text(&r);
        assert!(shown.contains("READ_DOCUMENT_MAX_MIB"), "{t:?}: {shown}");
        // READ_DOCUMENT_PAGE_CHARS sets the page size; the pages still make up the whole.
        let pages = read_all(&s, t, None, rc::HANDBOOK_ID, POLICY_DS);
        assert!(pages.iter().all(|p| p.chars().count() <= 5_000), "{t:?}");
        assert!(pages.len() >= 14, "{t:?}: {} pages", pages.len());
        let joined = pages.concat();
        let whole = rc::handbook_text();
        assert!(
            joined == whole,
            "{t:?}: {}",
            first_difference(&joined, &whole)
        );
    }
}
