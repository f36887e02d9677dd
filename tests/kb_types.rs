//! Every kind of Bedrock knowledge base gets the retrieval configuration it accepts: MANAGED
//! ones `managedSearchConfiguration`, the others `vectorSearchConfiguration`; learnt from
//! GetKnowledgeBase, from BEDROCK_KB_TYPE, or (when GetKnowledgeBase is denied) from
//! Bedrock refusing the other configuration once. The real binary against the fake Bedrock.

use crate::support;

use serde_json::{json, Value};
use support::fake_bedrock::answers::MANAGED_REFUSAL;
use support::fake_bedrock::corpus::multimodal_corpus;
use support::fake_bedrock::FakeBedrock;
use support::server::Server;
use support::tool_call::{self, Transport, ALL};

fn start(bedrock: &FakeBedrock, extra: &[(&str, &str)]) -> Server {
    let env = bedrock.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    Server::start(&all)
}

fn managed() -> FakeBedrock {
    let bedrock = FakeBedrock::start();
    bedrock.set_kb_type("MANAGED");
    bedrock.set_corpus(multimodal_corpus());
    bedrock
}

fn search(s: &Server, t: Transport, query: &str) -> Value {
    let r = tool_call::call(
        s,
        t,
        None,
        "search_knowledge_base",
        json!({"query": query, "max_results": 3}),
    );
    assert_eq!(r["result"]["isError"], false, "{r}");
    r
}

/// A get_knowledge_base_info call over `t`, without a token.
fn info(s: &Server, t: Transport) -> Value {
    tool_call::call(s, t, None, "get_knowledge_base_info", json!({}))
}

fn config_kinds(bedrock: &FakeBedrock) -> Vec<String> {
    bedrock
        .retrieve_bodies()
        .iter()
        .map(|b| {
            let c = b["retrievalConfiguration"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            c.keys().cloned().collect::<Vec<_>>().join("+")
        })
        .collect()
}

#[test]
fn a_managed_knowledge_base_is_searched_with_managed_search_over_every_transport() {
    let bedrock = managed();
    let s = start(&bedrock, &[]);
    for t in ALL {
        let r = search(&s, t, "onboarding checklist laptops");
        assert!(
            tool_call::text(&r).contains("laptops are issued"),
            "{t:?}: {r}"
        );
    }
    // One GetKnowledgeBase, then every Retrieve carries managedSearchConfiguration only.
    assert_eq!(bedrock.info_calls(), 1);
    assert_eq!(
        config_kinds(&bedrock),
        vec!["managedSearchConfiguration"; 3]
    );
    assert_eq!(
        bedrock.retrieve_bodies()[0]["retrievalConfiguration"]["managedSearchConfiguration"]
            ["numberOfResults"],
        3
    );
    let info = info(&s, Transport::Mcp("2025-06-18"));
    assert_eq!(
        info["result"]["structuredContent"]["kb_type"], "MANAGED",
        "{info}"
    );
    assert!(
        tool_call::text(&info).contains("Type: MANAGED (GetKnowledgeBase)"),
        "{info}"
    );
    assert_eq!(bedrock.bad_signatures(), 0);
}

#[test]
fn a_vector_knowledge_base_still_gets_vector_search() {
    let bedrock = FakeBedrock::start();
    let s = start(&bedrock, &[]);
    for t in ALL {
        search(&s, t, "leave policy for employees");
    }
    assert_eq!(config_kinds(&bedrock), vec!["vectorSearchConfiguration"; 3]);
    assert_eq!(bedrock.info_calls(), 1);
    let info = info(&s, Transport::Sse);
    assert!(tool_call::text(&info).contains("Type: VECTOR"), "{info}");
}

#[test]
fn without_get_knowledge_base_auto_mode_switches_once_and_remembers() {
    let bedrock = managed();
    bedrock.deny("GetKnowledgeBase");
    let s = start(&bedrock, &[]);
    let r = search(&s, Transport::Mcp("2026-07-28"), "onboarding checklist");
    assert!(tool_call::text(&r).contains("laptops"), "{r}");
    search(&s, Transport::Mcp("2025-06-18"), "onboarding checklist");
    search(&s, Transport::Sse, "onboarding checklist");
    // The first search was refused once with the real message and retried; later ones go
    // straight to managed search, and GetKnowledgeBase is not asked again.
    assert_eq!(
        config_kinds(&bedrock),
        [
            "vectorSearchConfiguration",
            "managedSearchConfiguration",
            "managedSearchConfiguration",
            "managedSearchConfiguration"
        ]
    );
    assert_eq!(bedrock.info_calls(), 1);
    let info = info(&s, Transport::Mcp("2025-06-18"));
    let text = tool_call::text(&info);
    assert!(
        text.contains("Type: MANAGED") && text.contains("refused"),
        "{text}"
    );
    assert!(text.contains("bedrock:GetKnowledgeBase"), "{text}");
}

#[test]
fn a_configured_type_is_used_without_asking_and_a_wrong_one_says_how_to_fix_it() {
    let bedrock = managed();
    let s = start(&bedrock, &[("BEDROCK_KB_TYPE", "managed")]);
    search(&s, Transport::Mcp("2025-06-18"), "onboarding checklist");
    assert_eq!(config_kinds(&bedrock), ["managedSearchConfiguration"]);
    assert_eq!(
        bedrock.info_calls(),
        0,
        "BEDROCK_KB_TYPE=managed needs no GetKnowledgeBase"
    );
    drop(s);

    let s = start(&bedrock, &[("BEDROCK_KB_TYPE", "vector")]);
    let r = tool_call::call(
        &s,
        Transport::Mcp("2025-11-25"),
        None,
        "search_knowledge_base",
        json!({"query": "onboarding"}),
    );
    assert_eq!(r["result"]["isError"], true, "{r}");
    let text = tool_call::text(&r);
    assert!(
        text.contains(MANAGED_REFUSAL),
        "Bedrock's words are kept: {text}"
    );
    assert!(text.contains("set it to managed"), "{text}");
}

#[test]
fn a_bad_kb_type_setting_stops_start_up_naming_it() {
    let bedrock = FakeBedrock::start();
    let env = bedrock.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.push(("BEDROCK_KB_TYPE", "graph"));
    let logs = Server::try_start(&all, &[]).err().expect("must not start");
    assert!(logs.contains("BEDROCK_KB_TYPE"), "{logs}");
}

#[test]
fn check_reports_the_type() {
    let bedrock = managed();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-mcp"))
        .arg("check")
        .env_clear()
        .envs(bedrock.env())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("type:         MANAGED (GetKnowledgeBase)"),
        "{stdout}"
    );
}
