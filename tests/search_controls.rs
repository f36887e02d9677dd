//! Search controls mapped to Bedrock's own request shapes, for a vector and a managed
//! knowledge base: metadata `filter`, `search_type`, reranking (BEDROCK_RERANK_MODEL,
//! BEDROCK_RERANK_RESULTS) and guardrails (BEDROCK_GUARDRAIL_ID/VERSION). Bad filters are
//! refused before any Bedrock call. The real binary against the fake Bedrock.

use crate::support;

use serde_json::{json, Value};
use support::fake_bedrock::{FakeBedrock, FakeDoc};
use support::server::Server;
use support::tool_call::{self, Transport};

const T: Transport = Transport::Mcp("2025-11-25");

fn start(bedrock: &FakeBedrock, extra: &[(&str, &str)]) -> Server {
    let env = bedrock.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    Server::start(&all)
}

fn corpus() -> Vec<FakeDoc> {
    let mut hr = FakeDoc::new(
        "Leave policy: employees get 25 days of paid vacation.",
        json!({"type": "S3", "s3Location": {"uri": "s3://kb/hr/leave.md"}}),
    );
    hr.metadata = json!({"department": "HR", "year": 2025});
    let mut it = FakeDoc::new(
        "Laptop policy: employees get a new laptop every 3 years.",
        json!({"type": "S3", "s3Location": {"uri": "s3://kb/it/laptop.md"}}),
    );
    it.metadata = json!({"department": "IT", "year": 2023});
    vec![hr, it]
}

fn fake(kb_type: &str) -> FakeBedrock {
    let bedrock = FakeBedrock::start();
    bedrock.set_kb_type(kb_type);
    bedrock.set_corpus(corpus());
    bedrock
}

fn search(s: &Server, args: Value) -> Value {
    tool_call::call(s, T, None, "search_knowledge_base", args)["result"].clone()
}

const CONTROLS: [(&str, &str); 4] = [
    ("BEDROCK_RERANK_MODEL", "cohere.rerank-v3-5:0"),
    ("BEDROCK_RERANK_RESULTS", "2"),
    ("BEDROCK_GUARDRAIL_ID", "gr0123abcd"),
    ("BEDROCK_GUARDRAIL_VERSION", "2"),
];

fn rerank(region: &str) -> Value {
    json!({"type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": {
        "modelConfiguration": {"modelArn": format!("arn:aws:bedrock:{region}::foundation-model/cohere.rerank-v3-5:0")},
        "numberOfRerankedResults": 2}})
}

#[test]
fn a_vector_knowledge_base_gets_every_control_in_its_request() {
    let bedrock = fake("VECTOR");
    let s = start(&bedrock, &CONTROLS);
    let filter = json!({"equals": {"key": "department", "value": "HR"}});
    let r = search(
        &s,
        json!({"query": "policy employees", "max_results": 4, "filter": filter, "search_type": "hybrid"}),
    );
    assert_eq!(r["isError"], false, "{r}");
    let text = tool_call::text(&json!({"result": r}));
    assert!(
        text.contains("s3://kb/hr/leave.md") && !text.contains("laptop"),
        "the filter applied: {text}"
    );
    assert_eq!(
        bedrock.retrieve_bodies().pop().unwrap(),
        json!({
            "retrievalQuery": {"text": "policy employees"},
            "retrievalConfiguration": {"vectorSearchConfiguration": {
                "numberOfResults": 4, "filter": filter, "overrideSearchType": "HYBRID",
                "rerankingConfiguration": rerank(bedrock.region())}},
            "guardrailConfiguration": {"guardrailId": "gr0123abcd", "guardrailVersion": "2"}
        })
    );
}

#[test]
fn a_managed_knowledge_base_gets_its_own_shapes_and_refuses_search_type() {
    let bedrock = fake("MANAGED");
    let s = start(&bedrock, &CONTROLS);
    let filter = json!({"andAll": [{"equals": {"key": "department", "value": "IT"}}, {"in": {"key": "year", "value": [2023, 2024]}}]});
    let r = search(&s, json!({"query": "policy employees", "filter": filter}));
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(
        bedrock.retrieve_bodies().pop().unwrap(),
        json!({
            "retrievalQuery": {"text": "policy employees"},
            "retrievalConfiguration": {"managedSearchConfiguration": {
                "numberOfResults": 5, "filter": filter, "rerankingModelType": "CUSTOM",
                "rerankingConfiguration": rerank(bedrock.region())}},
            "guardrailConfiguration": {"guardrailId": "gr0123abcd", "guardrailVersion": "2"}
        })
    );
    let calls = bedrock.retrieve_calls();
    let r = search(&s, json!({"query": "policy", "search_type": "SEMANTIC"}));
    assert_eq!(r["isError"], true, "{r}");
    assert!(
        tool_call::text(&json!({"result": r})).contains("applies only to vector knowledge bases")
    );
    assert_eq!(
        bedrock.retrieve_calls(),
        calls,
        "refused before calling Bedrock"
    );

    // NONE turns the managed reranker off; no setting leaves Bedrock's default alone.
    let s = start(&bedrock, &[("BEDROCK_RERANK_MODEL", "none")]);
    search(&s, json!({"query": "policy"}));
    let sent = bedrock.retrieve_bodies().pop().unwrap();
    assert_eq!(
        sent["retrievalConfiguration"]["managedSearchConfiguration"],
        json!({"numberOfResults": 5, "rerankingModelType": "NONE"})
    );
    let s = start(&bedrock, &[]);
    search(&s, json!({"query": "policy"}));
    let sent = bedrock.retrieve_bodies().pop().unwrap();
    assert_eq!(
        sent["retrievalConfiguration"]["managedSearchConfiguration"],
        json!({"numberOfResults": 5})
    );
    assert!(sent.get("guardrailConfiguration").is_none());
}

#[test]
fn bad_filters_and_search_types_are_refused_before_any_bedrock_call() {
    let bedrock = fake("VECTOR");
    let s = start(&bedrock, &[]);
    for (args, why) in [
        (
            json!({"query": "q", "filter": {"equal": {"key": "a", "value": 1}}}),
            "unknown operator",
        ),
        (
            json!({"query": "q", "filter": {"andAll": [{"equals": {"key": "a", "value": 1}}]}}),
            "2 or more",
        ),
        (
            json!({"query": "q", "filter": {"equals": {"key": "", "value": 1}}}),
            "key",
        ),
        (
            json!({"query": "q", "filter": "department = HR"}),
            "must be an object",
        ),
        (json!({"query": "q", "search_type": "KEYWORD"}), "HYBRID"),
    ] {
        let r = search(&s, args.clone());
        assert_eq!(r["isError"], true, "{args}: {r}");
        let text = tool_call::text(&json!({"result": r}));
        assert!(text.contains(why), "{args}: {text}");
        if args.get("filter").is_some() {
            assert!(
                text.contains(r#"{"andAll": [{"equals": {"key": "department""#),
                "shows an example: {text}"
            );
        }
    }
    assert_eq!(bedrock.requests(), 0, "nothing reached Bedrock");
    // Older revisions get -32602 for the same mistakes.
    let r = tool_call::call(
        &s,
        Transport::Mcp("2025-06-18"),
        None,
        "search_knowledge_base",
        json!({"query": "q", "filter": {"like": {"key": "a", "value": 1}}}),
    );
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(bedrock.requests(), 0);
}

#[test]
fn a_rerank_model_the_region_lacks_gives_an_error_naming_model_region_and_fix() {
    let bedrock = fake("VECTOR");
    bedrock.set_rerank_models(&[]);
    let s = start(
        &bedrock,
        &[
            ("BEDROCK_RERANK_MODEL", "cohere.rerank-v3-5:0"),
            ("BEDROCK_KB_TYPE", "vector"),
        ],
    );
    let r = search(&s, json!({"query": "policy"}));
    assert_eq!(r["isError"], true, "{r}");
    let text = tool_call::text(&json!({"result": r}));
    for needle in [
        "cohere.rerank-v3-5:0",
        "region eu-west-1",
        "bedrock:Rerank",
        "bedrock:InvokeModel",
        "unset BEDROCK_RERANK_MODEL",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn a_guardrail_intervention_is_reported() {
    let bedrock = fake("VECTOR");
    let s = start(&bedrock, &CONTROLS[2..]);
    let r = search(&s, json!({"query": "policy password"}));
    assert_eq!(r["isError"], false, "{r}");
    assert!(
        tool_call::text(&json!({"result": r})).contains("guardrail intervened"),
        "{r}"
    );
    assert_eq!(r["structuredContent"]["guardrailAction"], "INTERVENED");
    let r = search(&s, json!({"query": "policy"}));
    assert!(
        !tool_call::text(&json!({"result": r})).contains("guardrail"),
        "{r}"
    );
}

#[test]
fn bad_control_settings_stop_start_up_naming_the_variable() {
    let bedrock = fake("VECTOR");
    for (pairs, var) in [
        (
            &[("BEDROCK_RERANK_MODEL", "not a model")][..],
            "BEDROCK_RERANK_MODEL",
        ),
        (
            &[("BEDROCK_RERANK_RESULTS", "5")][..],
            "BEDROCK_RERANK_RESULTS",
        ),
        (
            &[("BEDROCK_GUARDRAIL_ID", "gr1")][..],
            "BEDROCK_GUARDRAIL_VERSION",
        ),
    ] {
        let env = bedrock.env();
        let mut all: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend_from_slice(pairs);
        let logs = Server::try_start(&all, &[]).err().expect("must not start");
        assert!(logs.contains(var), "{var}: {logs}");
    }
}

#[test]
fn the_local_knowledge_base_filters_on_metadata_and_refuses_search_type() {
    let s = Server::local(&[]);
    let all = search(&s, json!({"query": "Lambda", "max_results": 10}));
    let sources: Vec<String> = all["structuredContent"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["metadata"]["x-amz-bedrock-kb-source-uri"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(sources.len() >= 2, "{sources:?}");
    let one = &sources[0];
    let filtered = search(
        &s,
        json!({"query": "Lambda", "max_results": 10,
        "filter": {"equals": {"key": "x-amz-bedrock-kb-source-uri", "value": one}}}),
    );
    let got = filtered["structuredContent"]["results"].as_array().unwrap();
    assert!(
        !got.is_empty()
            && got
                .iter()
                .all(|p| p["metadata"]["x-amz-bedrock-kb-source-uri"] == one.as_str()),
        "{filtered}"
    );
    let r = search(&s, json!({"query": "Lambda", "search_type": "HYBRID"}));
    assert_eq!(r["isError"], true);
    assert!(
        tool_call::text(&json!({"result": r})).contains("local"),
        "{r}"
    );
}
