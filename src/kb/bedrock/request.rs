//! The Retrieve request body for each kind of knowledge base: the search configuration
//! (`vectorSearchConfiguration` or `managedSearchConfiguration`) with the number of results,
//! the caller's filter and search type, reranking (BEDROCK_RERANK_MODEL,
//! BEDROCK_RERANK_RESULTS), the guardrail (BEDROCK_GUARDRAIL_ID, BEDROCK_GUARDRAIL_VERSION)
//! and the user's context.
//!
//! Owns those settings and their checks; must not do I/O.

use super::kind::Search;
use crate::config::{ConfigError, Vars};
use crate::kb::{KbError, Retrieve};
use serde_json::{json, Value};

/// Reranking, from BEDROCK_RERANK_MODEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Rerank {
    /// Unset: vector knowledge bases do not rerank; managed ones use Bedrock's default (MANAGED).
    Default,
    /// `none`: managed knowledge bases are told NONE; vector ones do not rerank.
    Off,
    /// `managed`: managed knowledge bases are told MANAGED explicitly.
    Managed,
    /// A reranking model (its ARN): CUSTOM on managed knowledge bases.
    Model(String),
}

/// Settings that shape every Retrieve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Settings {
    pub(super) rerank: Rerank,
    /// numberOfRerankedResults.
    pub(super) rerank_results: Option<u64>,
    /// (guardrailId, guardrailVersion).
    pub(super) guardrail: Option<(String, String)>,
}

/// The ARN partition of `region`.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso") {
        "aws-iso"
    } else {
        "aws"
    }
}

impl Settings {
    /// Reads and checks the reranking and guardrail settings.
    pub(super) fn from_vars(vars: &Vars, region: &str) -> Result<Settings, ConfigError> {
        let rerank = match vars.get("BEDROCK_RERANK_MODEL") {
            None => Rerank::Default,
            Some(raw) if raw.eq_ignore_ascii_case("none") => Rerank::Off,
            Some(raw) if raw.eq_ignore_ascii_case("managed") => Rerank::Managed,
            Some(raw) if raw.starts_with("arn:") => {
                let ok = raw.split(':').nth(2) == Some("bedrock")
                    && raw.contains("::foundation-model/")
                    && raw.len() <= 2048
                    && !raw.ends_with('/');
                if !ok {
                    return Err(ConfigError::new(
                        "BEDROCK_RERANK_MODEL",
                        format!("{raw:?} is not a foundation-model ARN such as arn:aws:bedrock:{region}::foundation-model/amazon.rerank-v1:0"),
                    ));
                }
                Rerank::Model(raw.to_string())
            }
            Some(raw) => {
                let ok = raw.len() <= 200
                    && raw.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_')
                    });
                if !ok {
                    return Err(ConfigError::new(
                        "BEDROCK_RERANK_MODEL",
                        format!("{raw:?} is not a model id: use e.g. amazon.rerank-v1:0 or cohere.rerank-v3-5:0, a model ARN, managed or none"),
                    ));
                }
                Rerank::Model(format!(
                    "arn:{}:bedrock:{region}::foundation-model/{raw}",
                    partition(region)
                ))
            }
        };
        let rerank_results =
            match vars.get("BEDROCK_RERANK_RESULTS") {
                None => None,
                Some(_) if !matches!(rerank, Rerank::Model(_)) => return Err(ConfigError::new(
                    "BEDROCK_RERANK_RESULTS",
                    "applies only to a reranking model: set BEDROCK_RERANK_MODEL too, or unset it",
                )),
                Some(_) => Some(vars.number("BEDROCK_RERANK_RESULTS", 0, 1, 100)?),
            };
        let guardrail = match (vars.get("BEDROCK_GUARDRAIL_ID"), vars.get("BEDROCK_GUARDRAIL_VERSION")) {
            (None, None) => None,
            (Some(id), Some(version)) => {
                if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
                    return Err(ConfigError::new(
                        "BEDROCK_GUARDRAIL_ID",
                        format!("{id:?} is not a guardrail id (lower-case letters and digits, e.g. abc123def456)"),
                    ));
                }
                let numbered = !version.is_empty()
                    && version.len() <= 8
                    && !version.starts_with('0')
                    && version.bytes().all(|b| b.is_ascii_digit());
                if version != "DRAFT" && !numbered {
                    return Err(ConfigError::new(
                        "BEDROCK_GUARDRAIL_VERSION",
                        format!("{version:?} is not a guardrail version: use a number such as 1, or DRAFT"),
                    ));
                }
                Some((id.to_string(), version.to_string()))
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::plain(
                    "BEDROCK_GUARDRAIL_ID and BEDROCK_GUARDRAIL_VERSION go together: set both, or neither",
                ))
            }
        };
        Ok(Settings {
            rerank,
            rerank_results,
            guardrail,
        })
    }

    /// The reranking model id, for messages.
    pub(super) fn rerank_model(&self) -> Option<&str> {
        match &self.rerank {
            Rerank::Model(arn) => Some(arn),
            _ => None,
        }
    }

    /// The Retrieve body for `r` with `search`'s configuration; refuses a search type on a
    /// managed knowledge base before anything is sent.
    pub(super) fn body(&self, search: Search, r: &Retrieve<'_>) -> Result<Value, KbError> {
        let mut config = json!({ "numberOfResults": r.max_results });
        if let Some(filter) = r.filter {
            config["filter"] = filter.clone();
        }
        let reranking = self.rerank_model().map(|arn| {
            let mut bedrock = json!({ "modelConfiguration": { "modelArn": arn } });
            if let Some(n) = self.rerank_results {
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
                match (&self.rerank, reranking) {
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
        if let Some(user) = r.user_id {
            body["userContext"] = json!({ "userId": user });
        }
        if let Some((id, version)) = &self.guardrail {
            body["guardrailConfiguration"] =
                json!({ "guardrailId": id, "guardrailVersion": version });
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_vars(&Vars::from_pairs(pairs.iter().copied()), "eu-west-1")
    }

    #[test]
    fn reads_rerank_and_guardrail_settings() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            (s.rerank, s.rerank_results, s.guardrail),
            (Rerank::Default, None, None)
        );
        let s = settings(&[
            ("BEDROCK_RERANK_MODEL", "cohere.rerank-v3-5:0"),
            ("BEDROCK_RERANK_RESULTS", "4"),
        ])
        .unwrap();
        assert_eq!(
            s.rerank_model(),
            Some("arn:aws:bedrock:eu-west-1::foundation-model/cohere.rerank-v3-5:0")
        );
        assert_eq!(s.rerank_results, Some(4));
        let cn = Settings::from_vars(
            &Vars::from_pairs([("BEDROCK_RERANK_MODEL", "amazon.rerank-v1:0")]),
            "cn-north-1",
        )
        .unwrap();
        assert!(cn
            .rerank_model()
            .unwrap()
            .starts_with("arn:aws-cn:bedrock:cn-north-1::"));
        assert_eq!(
            settings(&[("BEDROCK_RERANK_MODEL", "NONE")])
                .unwrap()
                .rerank,
            Rerank::Off
        );
        let s = settings(&[
            ("BEDROCK_GUARDRAIL_ID", "gr1abc"),
            ("BEDROCK_GUARDRAIL_VERSION", "DRAFT"),
        ])
        .unwrap();
        assert_eq!(s.guardrail, Some(("gr1abc".into(), "DRAFT".into())));
    }

    #[test]
    fn refuses_bad_settings_naming_the_variable() {
        for (pairs, var) in [
            (
                &[("BEDROCK_RERANK_MODEL", "rerank me")][..],
                "BEDROCK_RERANK_MODEL",
            ),
            (
                &[("BEDROCK_RERANK_MODEL", "arn:aws:s3:::bucket")][..],
                "BEDROCK_RERANK_MODEL",
            ),
            (
                &[("BEDROCK_RERANK_RESULTS", "3")][..],
                "BEDROCK_RERANK_RESULTS",
            ),
            (
                &[
                    ("BEDROCK_RERANK_MODEL", "amazon.rerank-v1:0"),
                    ("BEDROCK_RERANK_RESULTS", "0"),
                ][..],
                "BEDROCK_RERANK_RESULTS",
            ),
            (
                &[
                    ("BEDROCK_GUARDRAIL_ID", "GR-1"),
                    ("BEDROCK_GUARDRAIL_VERSION", "1"),
                ][..],
                "BEDROCK_GUARDRAIL_ID",
            ),
            (
                &[
                    ("BEDROCK_GUARDRAIL_ID", "gr1"),
                    ("BEDROCK_GUARDRAIL_VERSION", "01"),
                ][..],
                "BEDROCK_GUARDRAIL_VERSION",
            ),
        ] {
            let e = settings(pairs).unwrap_err();
            assert_eq!(e.var, var, "{pairs:?}: {e}");
        }
        let e = settings(&[("BEDROCK_GUARDRAIL_ID", "gr1")]).unwrap_err();
        assert!(e.to_string().contains("set both"), "{e}");
    }

    #[test]
    fn builds_each_kind_of_body() {
        let filter = json!({"equals": {"key": "dept", "value": "HR"}});
        let r = Retrieve {
            query: "q",
            max_results: 3,
            user_id: Some("a@example.com"),
            filter: Some(&filter),
            search_type: Some("HYBRID"),
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
            s.body(Search::Vector, &r).unwrap(),
            json!({
                "retrievalQuery": {"text": "q"},
                "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 3, "filter": filter,
                    "overrideSearchType": "HYBRID", "rerankingConfiguration": rerank}},
                "userContext": {"userId": "a@example.com"},
                "guardrailConfiguration": {"guardrailId": "gr1", "guardrailVersion": "3"}
            })
        );
        assert!(
            matches!(s.body(Search::Managed, &r), Err(KbError::InvalidRequest(m)) if m.contains("search_type"))
        );
        let r = Retrieve {
            search_type: None,
            ..r
        };
        let body = s.body(Search::Managed, &r).unwrap();
        assert_eq!(
            body["retrievalConfiguration"]["managedSearchConfiguration"],
            json!({
            "numberOfResults": 3, "filter": filter, "rerankingModelType": "CUSTOM", "rerankingConfiguration": rerank})
        );
        let none = settings(&[("BEDROCK_RERANK_MODEL", "none")]).unwrap();
        let body = none
            .body(
                Search::Managed,
                &Retrieve {
                    query: "q",
                    max_results: 1,
                    ..Retrieve::default()
                },
            )
            .unwrap();
        assert_eq!(
            body,
            json!({"retrievalQuery": {"text": "q"},
            "retrievalConfiguration": {"managedSearchConfiguration": {"numberOfResults": 1, "rerankingModelType": "NONE"}}})
        );
        let body = none
            .body(
                Search::Vector,
                &Retrieve {
                    query: "q",
                    max_results: 1,
                    ..Retrieve::default()
                },
            )
            .unwrap();
        assert_eq!(
            body["retrievalConfiguration"],
            json!({"vectorSearchConfiguration": {"numberOfResults": 1}})
        );
    }
}
