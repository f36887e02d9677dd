//! The Retrieve request body for each kind of knowledge base: the search configuration
//! (`vectorSearchConfiguration` or `managedSearchConfiguration`) with the number of results,
//! the caller's filter and search type, reranking (BEDROCK_RERANK_MODEL,
//! BEDROCK_RERANK_RESULTS), the guardrail (BEDROCK_GUARDRAIL_ID, BEDROCK_GUARDRAIL_VERSION)
//! and the user's context.
//!
//! The settings are read and checked by `config::bedrock`; this file turns them into JSON.
//! Must not do I/O.

use super::kind::Search;
use crate::config::bedrock::{Rerank, RetrieveSettings};
use crate::kb::{KbError, Retrieve};
use serde_json::{json, Value};

/// The Retrieve body for `r` with `search`'s configuration; refuses a search type on a
/// managed knowledge base before anything is sent.
pub(super) fn body(
    settings: &RetrieveSettings,
    search: Search,
    r: &Retrieve<'_>,
) -> Result<Value, KbError> {
    let mut config = json!({ "numberOfResults": r.max_results });
    if let Some(filter) = r.filter {
        config["filter"] = filter.clone();
    }
    let reranking = settings.rerank_model().map(|arn| {
        let mut bedrock = json!({ "modelConfiguration": { "modelArn": arn } });
        if let Some(n) = settings.rerank_results {
            bedrock["numberOfRerankedResults"] = json!(n);
        }
        json!({ "type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": bedrock })
    });
    let name = match search {
        Search::Vector => {
            if let Some(t) = r.search_type {
                config["overrideSearchType"] = json!(t);
            }
            if let Some(rr) = reranking {
                config["rerankingConfiguration"] = rr;
            }
            "vectorSearchConfiguration"
        }
        Search::Managed => {
            if r.search_type.is_some() {
                return Err(KbError::InvalidRequest(
                    "search_type (HYBRID or SEMANTIC) applies only to vector knowledge \
                         bases; this one is a managed knowledge base, which chooses its own \
                         search strategy: leave search_type out"
                        .into(),
                ));
            }
            match (&settings.rerank, reranking) {
                (_, Some(rr)) => {
                    config["rerankingModelType"] = json!("CUSTOM");
                    config["rerankingConfiguration"] = rr;
                }
                (Rerank::Off, None) => config["rerankingModelType"] = json!("NONE"),
                (Rerank::Managed, None) => config["rerankingModelType"] = json!("MANAGED"),
                _ => {}
            }
            "managedSearchConfiguration"
        }
    };
    let mut body = json!({
        "retrievalQuery": { "text": r.query },
        "retrievalConfiguration": { name: config },
    });
    add_user_context(&mut body, r.user_id);
    if let Some(token) = r.next_token {
        body["nextToken"] = json!(token);
    }
    if let Some((id, version)) = &settings.guardrail {
        body["guardrailConfiguration"] = json!({ "guardrailId": id, "guardrailVersion": version });
    }
    Ok(body)
}

/// Adds the caller's `userContext` to a request body: the one place every data-plane call
/// (Retrieve, GetDocumentContent, AgenticRetrieveStream) takes the user's identity from.
pub(super) fn add_user_context(body: &mut Value, user_id: Option<&str>) {
    if let Some(user) = user_id {
        body["userContext"] = json!({ "userId": user });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::bedrock::retrieve_settings;
    use crate::config::{ConfigError, Vars};

    fn settings(pairs: &[(&str, &str)]) -> Result<RetrieveSettings, ConfigError> {
        retrieve_settings(&Vars::from_pairs(pairs.iter().copied()), "eu-west-1")
    }

    /// The body of a one-result search for "q" with `s`.
    fn one_q(s: &RetrieveSettings, search: Search) -> Value {
        let r = Retrieve {
            query: "q",
            max_results: 1,
            ..Retrieve::default()
        };
        super::body(s, search, &r).unwrap()
    }

    #[test]
    fn builds_each_kind_of_body() {
        let filter = json!({"equals": {"key": "dept", "value": "HR"}});
        let r = Retrieve {
            query: "q",
            max_results: 3,
            user_id: Some("a@example.com"),
            identity: None,
            filter: Some(&filter),
            search_type: Some("HYBRID"),
            next_token: Some("tok"),
        };
        let s = settings(&[
            ("BEDROCK_RERANK_MODEL", "amazon.rerank-v1:0"),
            ("BEDROCK_RERANK_RESULTS", "2"),
            ("BEDROCK_GUARDRAIL_ID", "gr1"),
            ("BEDROCK_GUARDRAIL_VERSION", "3"),
        ])
        .unwrap();
        let rerank = json!({"type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": {
            "modelConfiguration": {"modelArn": "arn:aws:bedrock:eu-west-1::foundation-model/amazon.rerank-v1:0"},
            "numberOfRerankedResults": 2}});
        assert_eq!(
            super::body(&s, Search::Vector, &r).unwrap(),
            json!({
                "retrievalQuery": {"text": "q"},
                "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 3, "filter": filter,
                    "overrideSearchType": "HYBRID", "rerankingConfiguration": rerank}},
                "userContext": {"userId": "a@example.com"},
                "nextToken": "tok",
                "guardrailConfiguration": {"guardrailId": "gr1", "guardrailVersion": "3"}
            })
        );
        assert!(
            matches!(super::body(&s, Search::Managed, &r), Err(KbError::InvalidRequest(m)) if m.contains("search_type"))
        );
        let r = Retrieve {
            search_type: None,
            ..r
        };
        let b = super::body(&s, Search::Managed, &r).unwrap();
        assert_eq!(
            b["retrievalConfiguration"]["managedSearchConfiguration"],
            json!({
            "numberOfResults": 3, "filter": filter, "rerankingModelType": "CUSTOM", "rerankingConfiguration": rerank})
        );
        let none = settings(&[("BEDROCK_RERANK_MODEL", "none")]).unwrap();
        let b = one_q(&none, Search::Managed);
        assert_eq!(
            b,
            json!({"retrievalQuery": {"text": "q"},
            "retrievalConfiguration": {"managedSearchConfiguration": {"numberOfResults": 1, "rerankingModelType": "NONE"}}})
        );
        let b = one_q(&none, Search::Vector);
        assert_eq!(
            b["retrievalConfiguration"],
            json!({"vectorSearchConfiguration": {"numberOfResults": 1}})
        );
    }
}
