//! Several knowledge bases from one server: BEDROCK_KB_ID lists them (the first is the
//! default), `tools/list` offers them by id with their names and descriptions, each call
//! picks one with `knowledge_base_id`, each keeps its own type, and an id not in the list is
//! refused before any Bedrock call. The real binary against the fake Bedrock.

use crate::support;

use serde_json::{json, Value};
use support::fake_bedrock::corpus::multimodal_corpus;
use support::fake_bedrock::{FakeBedrock, FakeDoc, KB_ID};
use support::server::Server;
use support::tool_call::{self, Transport};

const SECOND: &str = "KBMANAGED2";

fn two() -> (FakeBedrock, Server) {
    let bedrock = FakeBedrock::start();
    bedrock.set_kb("HR handbook", "Leave, pay and onboarding", "ACTIVE");
    bedrock.set_corpus(vec![FakeDoc::new(
        "Annual leave policy: employees get 25 days of paid vacation per year.",
        json!({"type": "S3", "s3Location": {"uri": "s3://kb-docs/hr/leave-policy.md"}}),
    )]);
    bedrock.add_kb(
        SECOND,
        "MANAGED",
        "Engineering wiki",
        "Architecture and runbooks",
        multimodal_corpus(),
    );
    let mut env = bedrock.env();
    env.retain(|(k, _)| k != "BEDROCK_KB_ID");
    env.push(("BEDROCK_KB_ID".into(), format!("{KB_ID}, {SECOND}")));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Server::start(&pairs);
    (bedrock, s)
}

fn list(s: &Server, version: &str) -> Vec<Value> {
    let r = s.mcp(
        &[("MCP-Protocol-Version", version)],
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
    );
    r.json()["result"]["tools"].as_array().unwrap().clone()
}

#[test]
fn tools_list_offers_each_knowledge_base_by_id_name_and_description() {
    let (_bedrock, s) = two();
    let tools = list(&s, "2025-06-18");
    let search = tools
        .iter()
        .find(|t| t["name"] == "search_knowledge_base")
        .unwrap();
    let choice = &search["inputSchema"]["properties"]["knowledge_base_id"];
    assert_eq!(choice["enum"], json!([KB_ID, SECOND]), "{search}");
    let description = search["description"].as_str().unwrap();
    for needle in [
        &format!("{KB_ID} (default): HR handbook (Leave, pay and onboarding)"),
        "KBMANAGED2: Engineering wiki (Architecture and runbooks)",
    ] {
        assert!(description.contains(needle), "{needle}: {description}");
    }
    let link = tools
        .iter()
        .find(|t| t["name"] == "get_document_link")
        .unwrap();
    assert_eq!(
        link["inputSchema"]["properties"]["knowledge_base_id"]["enum"],
        json!([KB_ID, SECOND])
    );
}

#[test]
fn each_call_goes_to_the_chosen_knowledge_base_with_its_own_type() {
    let (bedrock, s) = two();
    let t = Transport::Mcp("2026-07-28");
    let r = tool_call::call(
        &s,
        t,
        None,
        "search_knowledge_base",
        json!({"query": "annual leave"}),
    );
    assert!(tool_call::text(&r).contains("25 days"), "{r}");
    let r = tool_call::call(
        &s,
        t,
        None,
        "search_knowledge_base",
        json!({"query": "onboarding checklist", "knowledge_base_id": SECOND}),
    );
    assert!(tool_call::text(&r).contains("laptops are issued"), "{r}");
    let r = tool_call::call(
        &s,
        t,
        None,
        "get_document_link",
        json!({"knowledge_base_id": SECOND, "document_id": "s3://kb-docs/hr/onboarding.md", "data_source_id": "DSPUBLIC01"}),
    );
    assert_eq!(r["result"]["isError"], false, "{r}");
    // Each knowledge base was asked its type once, and searched with its own configuration.
    let calls: Vec<(String, String)> = bedrock
        .calls()
        .into_iter()
        .map(|(op, _)| op)
        .zip(bedrock.targets())
        .collect();
    let retrieves: Vec<&(String, String)> =
        calls.iter().filter(|(op, _)| op == "Retrieve").collect();
    assert_eq!(
        retrieves
            .iter()
            .map(|(_, id)| id.as_str())
            .collect::<Vec<_>>(),
        [KB_ID, SECOND]
    );
    let configs: Vec<String> = bedrock
        .retrieve_bodies()
        .iter()
        .map(|b| {
            b["retrievalConfiguration"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone()
        })
        .collect();
    assert_eq!(
        configs,
        ["vectorSearchConfiguration", "managedSearchConfiguration"]
    );
    assert_eq!(bedrock.calls().last().unwrap().0, "GetDocumentContent");
    assert_eq!(bedrock.targets().last().unwrap(), SECOND);
}

#[test]
fn an_unknown_id_is_refused_before_any_bedrock_call() {
    let (bedrock, s) = two();
    let before = bedrock.requests();
    for (tool, args) in [
        ("search_knowledge_base", json!({"query": "x"})),
        (
            "get_document_link",
            json!({"document_id": "d", "data_source_id": "DS1"}),
        ),
        ("get_knowledge_base_info", json!({})),
    ] {
        let mut args = args;
        args["knowledge_base_id"] = json!("KBOTHER999");
        let r = tool_call::call(&s, Transport::Mcp("2025-11-25"), None, tool, args);
        assert_eq!(r["result"]["isError"], true, "{tool}: {r}");
        let text = tool_call::text(&r);
        assert!(
            text.contains("KBOTHER999") && text.contains(&format!("{KB_ID}, {SECOND}")),
            "{text}"
        );
    }
    assert_eq!(
        bedrock.requests(),
        before,
        "no Bedrock call for an unknown id"
    );
    let r = tool_call::call(
        &s,
        Transport::Sse,
        None,
        "search_knowledge_base",
        json!({"query": "x", "knowledge_base_id": "KBOTHER999"}),
    );
    assert_eq!(
        r["error"]["code"], -32602,
        "older revisions: invalid params: {r}"
    );
}

#[test]
fn the_info_tool_describes_every_knowledge_base() {
    let (_bedrock, s) = two();
    let r = tool_call::call(
        &s,
        Transport::Mcp("2025-06-18"),
        None,
        "get_knowledge_base_info",
        json!({}),
    );
    let text = tool_call::text(&r);
    assert!(
        text.contains("2 knowledge bases")
            && text.contains("HR handbook")
            && text.contains("Engineering wiki"),
        "{text}"
    );
    assert!(text.contains("Type: MANAGED"), "{text}");
    let all = r["result"]["structuredContent"]["knowledge_bases"]
        .as_array()
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|k| k["kb_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [KB_ID, SECOND]
    );
    let one = tool_call::call(
        &s,
        Transport::Mcp("2025-06-18"),
        None,
        "get_knowledge_base_info",
        json!({"knowledge_base_id": SECOND}),
    );
    assert_eq!(one["result"]["structuredContent"]["kb_id"], SECOND, "{one}");
    assert!(one["result"]["structuredContent"]
        .get("knowledge_bases")
        .is_none());
}

#[test]
fn a_single_knowledge_base_offers_no_choice() {
    let bedrock = FakeBedrock::start();
    let env = bedrock.env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Server::start(&pairs);
    let tools = list(&s, "2025-06-18");
    assert!(tools.iter().all(|t| t["inputSchema"]["properties"]
        .get("knowledge_base_id")
        .is_none()));
    let r = tool_call::call(
        &s,
        Transport::Mcp("2025-11-25"),
        None,
        "search_knowledge_base",
        json!({"query": "x", "knowledge_base_id": KB_ID}),
    );
    assert_eq!(r["result"]["isError"], true, "{r}");
    assert_eq!(
        bedrock.info_calls(),
        0,
        "tools/list of one knowledge base calls nothing"
    );
}
