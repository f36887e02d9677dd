//! Bedrock knowledge base: Retrieve, GetDocumentContent (RAW links, EXTRACTED text, embedded
//! images) and AgenticRetrieveStream (agent runtime), and GetKnowledgeBase (agent control
//! plane, cached for KB_INFO_TTL_SECS), all signed with SigV4 through `call` with the same
//! credentials and `userContext` rule; presigned downloads go through `download` unsigned.
//!
//! Built from `config::BedrockSettings` (endpoints, timeouts, attempts, type, retrieval options,
//! credentials source), validated before start; owns input checks. `call` sends and
//! retries, `errors` words failures, `parse` reads answers, `kind` tracks the knowledge-base
//! type. Must not log queries' results, user ids, credentials or signatures.

mod agentic;
mod call;
mod download;
mod errors;
mod eventstream;
mod identity;
mod kind;
mod parse;
mod request;

use super::{
    DocumentLink, DocumentRef, DocumentText, Image, KbError, KbInfo, KnowledgeBase, Retrieval,
    Retrieve, Who, MAX_QUERY_CHARS, MAX_RESULTS,
};
use crate::aws::{CredentialChain, UserSessions};
use crate::config::bedrock::{Endpoint, RetrieveSettings};
use crate::config::{BedrockSettings, ConfigError, Vars};
use crate::kb::agentic::{self as agentic_types, Control};
use call::Op;
use call::{Call, Client};
use download::Downloader;
use kind::{Kind, Plan, Search};
use serde_json::json;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A Bedrock knowledge base. Shared by all worker threads.
pub struct BedrockKb {
    client: Client,
    runtime: Endpoint,
    agent: Endpoint,
    kind: Kind,
    request: RetrieveSettings,
    /// Signed-in users' own AWS sessions (AWS_USER_CREDENTIALS=web-identity), shared.
    sessions: Option<Arc<UserSessions>>,
    /// Presigned downloads, shared by every knowledge base.
    download: Arc<Downloader>,
    /// AGENTIC_TIMEOUT_SECS.
    agentic_timeout: Duration,
    /// The last GetKnowledgeBase answer and when it came, kept for `info_ttl`.
    info_cache: Mutex<Option<(Instant, parse::KbSummary)>>,
    /// KB_INFO_TTL_SECS.
    info_ttl: Duration,
}

impl fmt::Debug for BedrockKb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BedrockKb")
            .field("kb_id", &self.client.kb_id)
            .field("region", &self.client.region)
            .field("runtime", &self.runtime.base)
            .field("agent", &self.agent.base)
            .field("credentials", &self.client.chain)
            .finish_non_exhaustive()
    }
}

impl BedrockKb {
    /// One client per knowledge base in `settings.kb_ids` (the first is the default), sharing
    /// the HTTP agent, the credentials and the settings; each learns its own type.
    pub fn for_settings(settings: &BedrockSettings) -> Vec<BedrockKb> {
        let agent = Client::agent(settings.timeout);
        let chain = Arc::new(CredentialChain::new(&settings.credentials));
        let sessions = settings
            .user_sessions
            .as_ref()
            .map(|s| Arc::new(UserSessions::new(s)));
        let reading = &settings.reading;
        let download = Arc::new(Downloader::new(
            settings.timeout,
            reading.document_max_bytes,
            reading.document_max_in_flight,
        ));
        settings
            .kb_ids
            .iter()
            .map(|id| BedrockKb {
                client: Client {
                    agent: agent.clone(),
                    chain: chain.clone(),
                    kb_id: id.clone(),
                    region: settings.region.clone(),
                    timeout: settings.timeout,
                    max_attempts: settings.max_attempts,
                },
                runtime: settings.runtime.clone(),
                agent: settings.agent.clone(),
                kind: Kind::new(settings.kb_type),
                request: settings.retrieve.clone(),
                sessions: sessions.clone(),
                download: download.clone(),
                agentic_timeout: reading.agentic_timeout,
                info_cache: Mutex::new(None),
                info_ttl: reading.kb_info_ttl,
            })
            .collect()
    }

    /// Validates the Bedrock variables through `config` for one knowledge base, then builds it
    /// (for tests and embedders; the server builds from its validated `Config`).
    pub fn from_vars(vars: &Vars, kb_id: &str, region: &str) -> Result<BedrockKb, ConfigError> {
        let settings = BedrockSettings::from_vars(vars, vec![kb_id.to_string()], region)?;
        BedrockKb::for_settings(&settings)
            .pop()
            .ok_or_else(|| ConfigError::new("BEDROCK_KB_ID", "lists no knowledge base id"))
    }

    /// Resolves credentials now and says where they came from (for `bedrock-mcp check`).
    pub fn credentials_source(&self) -> Result<String, KbError> {
        self.client
            .chain
            .credentials()
            .map_err(|e| KbError::Credentials(e.to_string()))?;
        Ok(self.client.chain.describe())
    }

    fn info_note(&self, error: &KbError) -> String {
        let (kb, region) = (&self.client.kb_id, &self.client.region);
        match error {
            KbError::AccessDenied(_) => format!(
                "the AWS role may not call bedrock:GetKnowledgeBase, so name and status are \
                 unknown; retrieval may still work. To show them, grant bedrock:GetKnowledgeBase \
                 on arn:aws:bedrock:{region}:<account-id>:knowledge-base/{kb}"
            ),
            KbError::NotFound(_) => format!(
                "knowledge base {kb} was not found in region {region}: check BEDROCK_KB_ID and AWS_REGION"
            ),
            other => format!("could not read the knowledge base: {other}"),
        }
    }
}

impl BedrockKb {
    /// GetDocumentContent in `format` (RAW or EXTRACTED) for `who`: the presigned link, asked
    /// with the credentials and `userContext` that [`BedrockKb::data_plane_identity`] chose.
    fn content(
        &self,
        d: &DocumentRef,
        format: &str,
        who: Who<'_>,
    ) -> Result<DocumentLink, KbError> {
        check_document(d)?;
        let who = self.data_plane_identity(Op::GetDocumentContent, &who)?;
        self.content_as(d, format, &who)
    }

    /// GetDocumentContent in `format` as `who`, already decided by `data_plane_identity`.
    fn content_as(
        &self,
        d: &DocumentRef,
        format: &str,
        who: &identity::AsWho,
    ) -> Result<DocumentLink, KbError> {
        let mut body = json!({ "outputFormat": format });
        request::add_user_context(&mut body, who.user_context.as_deref());
        if let Some(media) = &d.media_id {
            body["mediaId"] = json!(media);
        }
        let body = body.to_string();
        let url = format!(
            "{}/knowledgebases/{}/datasources/{}/documents/{}/content",
            self.runtime.base,
            self.client.kb_id,
            d.data_source_id,
            path_segment(&d.document_id)
        );
        let reply = self
            .client
            .send(&Call {
                op: Op::GetDocumentContent,
                url: &url,
                host: &self.runtime.host,
                body: Some(body.as_bytes()),
                credentials: who.credentials(),
                accept: None,
            })
            .map_err(|e| who.explain(e))?;
        parse::document_link(&reply.body).map_err(|why| {
            KbError::Unavailable(format!(
                "Bedrock returned an unreadable GetDocumentContent answer: {why}"
            ))
        })
    }

    /// One Retrieve with `search`'s configuration, as `who` decided by `data_plane_identity`.
    fn retrieve_with(
        &self,
        search: Search,
        r: &Retrieve<'_>,
        who: &identity::AsWho,
    ) -> Result<Retrieval, KbError> {
        let as_user = Retrieve {
            user_id: who.user_context.as_deref(),
            ..*r
        };
        let body = request::body(&self.request, search, &as_user)?.to_string();
        let url = format!(
            "{}/knowledgebases/{}/retrieve",
            self.runtime.base, self.client.kb_id
        );
        let reply = self
            .client
            .send(&Call {
                op: Op::Retrieve,
                url: &url,
                host: &self.runtime.host,
                body: Some(body.as_bytes()),
                credentials: who.credentials(),
                accept: None,
            })
            .map_err(|e| who.explain(self.explain_rerank(e)))?;
        let retrieved = parse::retrieval(&reply.body).map_err(|why| {
            KbError::Unavailable(format!(
                "Bedrock returned an unreadable Retrieve answer: {why}"
            ))
        })?;
        Ok(Retrieval {
            results: retrieved.passages,
            upstream_ms: reply.upstream_ms,
            guardrail_intervened: retrieved.guardrail_intervened,
            next_token: retrieved.next_token,
            note: who.note.clone(),
        })
    }

    /// With a reranking model configured, a refusal that names a model is most likely about
    /// it (not offered in the region, or the role may not use it): say so, and how to fix it.
    fn explain_rerank(&self, e: KbError) -> KbError {
        let Some(arn) = self.request.rerank_model() else {
            return e;
        };
        let region = &self.client.region;
        let hint = |m: &str| {
            format!(
                "{m}. The reranking model {arn} (BEDROCK_RERANK_MODEL) may not be offered in \
                 region {region}, or the role may not use it: check that the model is available \
                 in {region} (Bedrock console → Model access), grant bedrock:Rerank and \
                 bedrock:InvokeModel on {arn}, or unset BEDROCK_RERANK_MODEL"
            )
        };
        match e {
            KbError::InvalidRequest(m) if m.to_ascii_lowercase().contains("model") => {
                KbError::InvalidRequest(hint(&m))
            }
            KbError::AccessDenied(m) if m.to_ascii_lowercase().contains("model") => {
                KbError::AccessDenied(hint(&m))
            }
            other => other,
        }
    }

    /// GetKnowledgeBase, parsed, from the cache when younger than KB_INFO_TTL_SECS; the type
    /// it names is remembered for searches. Failures are not cached.
    fn get_knowledge_base(&self) -> Result<parse::KbSummary, KbError> {
        {
            let cache = self.info_cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, summary)) = cache.as_ref() {
                if at.elapsed() < self.info_ttl {
                    return Ok(summary.clone());
                }
            }
        }
        let url = format!("{}/knowledgebases/{}", self.agent.base, self.client.kb_id);
        let call = Call {
            op: Op::GetKnowledgeBase,
            url: &url,
            host: &self.agent.host,
            body: None,
            // The control plane always uses the server's own credentials.
            credentials: None,
            accept: None,
        };
        let parsed = self.client.send(&call).and_then(|reply| {
            parse::knowledge_base(&reply.body).map_err(|why| {
                KbError::Unavailable(format!(
                    "Bedrock returned an unreadable GetKnowledgeBase answer: {why}"
                ))
            })
        });
        match &parsed {
            Ok(summary) => {
                self.kind.mode_learnt(
                    summary.user_context_mode.as_deref(),
                    &summary.trusted_identity_sources,
                );
                self.kind.looked_up(Ok(summary.kb_type.as_deref()));
                if !self.info_ttl.is_zero() {
                    *self.info_cache.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some((Instant::now(), summary.clone()));
                }
            }
            Err(e) => self
                .kind
                .looked_up(Err(matches!(e, KbError::AccessDenied(_)))),
        }
        parsed
    }

    /// The configuration for the next Retrieve, and whether it is only a guess.
    fn search_plan(&self) -> (Search, bool) {
        match self.kind.plan() {
            Plan::Known(s) => (s, false),
            Plan::Guess(s) => (s, true),
            Plan::LookUp => match self.get_knowledge_base() {
                Ok(_) => match self.kind.plan() {
                    Plan::Known(s) => (s, false),
                    _ => (Search::Vector, true),
                },
                Err(e) => {
                    log::warn!(
                        "GetKnowledgeBase failed, so the knowledge base type is unknown; \
                         searches will find it out ({e})"
                    );
                    (Search::Vector, true)
                }
            },
        }
    }
}

/// `20000` as `20,000`, as people write it.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn check_retrieve(query: &str, max_results: u32) -> Result<(), KbError> {
    if query.trim().is_empty() {
        return Err(KbError::InvalidRequest(
            "the query is empty: give some words to search for".into(),
        ));
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(KbError::InvalidRequest(format!(
            "the query is {chars} characters long; Bedrock allows at most {}",
            thousands(MAX_QUERY_CHARS)
        )));
    }
    if !(1..=MAX_RESULTS).contains(&max_results) {
        return Err(KbError::InvalidRequest(format!(
            "max_results must be from 1 to {MAX_RESULTS}, got {max_results}"
        )));
    }
    Ok(())
}

/// Checks a document reference against Bedrock's shapes before anything is sent.
fn check_document(d: &DocumentRef) -> Result<(), KbError> {
    let bad = |m: String| Err(KbError::InvalidRequest(m));
    let chars = d.document_id.chars().count();
    if chars == 0 || chars > 1825 || d.document_id.chars().any(super::is_other_char) {
        return bad(
            "document_id must be 1 to 1825 characters without control, format or private-use \
             characters (Bedrock's pattern ^\\P{C}*$): copy the documentId of a search result"
                .into(),
        );
    }
    let ds = &d.data_source_id;
    if ds.is_empty() || ds.len() > 10 || !ds.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return bad(format!(
            "data_source_id must be up to 10 letters and digits (the dataSourceId of a search \
             result), got {ds:?}"
        ));
    }
    if let Some(m) = &d.media_id {
        let ok = m.len() == 36
            && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !m.starts_with('-');
        if !ok {
            return bad(format!(
                "media_id must be the 36-character _media_id of a search result, got {m:?}"
            ));
        }
    }
    Ok(())
}

/// Percent-encodes one URI path segment (everything but RFC 3986 unreserved characters), so
/// a document id with spaces, slashes or non-ASCII letters stays one segment. A segment of
/// dots alone is encoded too, or it would be read as "this" or "parent" directory.
fn path_segment(raw: &str) -> String {
    let all_dots = raw.bytes().all(|b| b == b'.');
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            b'.' if !all_dots => ".".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl KnowledgeBase for BedrockKb {
    fn retrieve(&self, query: &str, max_results: u32) -> Result<Retrieval, KbError> {
        self.retrieve_as(&Retrieve {
            query,
            max_results,
            ..Retrieve::default()
        })
    }

    fn retrieve_as(&self, r: &Retrieve<'_>) -> Result<Retrieval, KbError> {
        check_retrieve(r.query, r.max_results)?;
        // Who first: with per-user sessions it learns the knowledge base (mode and type)
        // before anything is sent, so concurrent first searches need not guess the type.
        let who = self.data_plane_identity(
            Op::Retrieve,
            &Who {
                user_id: r.user_id,
                identity: r.identity,
            },
        )?;
        let (search, guess) = self.search_plan();
        match self.retrieve_with(search, r, &who) {
            Err(e) if errors::is_incompatible_configuration(&e) => {
                if guess {
                    let other = search.other();
                    log::info!(
                        "Bedrock refused the {search:?} search configuration; retrying with \
                         {other:?} and remembering it"
                    );
                    // The refusal itself says which kind this is, whatever the retry brings.
                    self.kind.learnt_from_retrieve(other);
                    self.retrieve_with(other, r, &who)
                } else if self.kind.is_auto() {
                    Err(e)
                } else {
                    let fit = match search {
                        Search::Vector => "managed",
                        Search::Managed => "vector",
                    };
                    Err(KbError::InvalidRequest(format!(
                        "{}. BEDROCK_KB_TYPE does not match this knowledge base: set it to {fit} \
                         (or auto)",
                        e.to_string().trim_start_matches("Invalid request: ")
                    )))
                }
            }
            other => other,
        }
    }

    fn has_document_links(&self) -> bool {
        true
    }

    fn signs_as_user(&self) -> bool {
        self.sessions.is_some()
    }

    fn document_link(&self, d: &DocumentRef, who: Who<'_>) -> Result<DocumentLink, KbError> {
        self.content(d, "RAW", who)
    }

    fn can_read_documents(&self) -> bool {
        true
    }

    fn read_document(&self, d: &DocumentRef, who: Who<'_>) -> Result<DocumentText, KbError> {
        if d.media_id.is_some() {
            return Err(KbError::InvalidRequest(
                "the extracted text is of a whole document: leave media_id out".into(),
            ));
        }
        check_document(d)?;
        // Decided before the call, so that only Bedrock's own refusals are read as "no text".
        let who = self.data_plane_identity(Op::GetDocumentContent, &who)?;
        let link = self.content_as(d, "EXTRACTED", &who).map_err(|e| match e {
            KbError::InvalidRequest(m) => KbError::InvalidRequest(format!(
                "Bedrock has no extracted text for this document ({m}); formats it cannot \
                 extract (images, audio, video, some binary files) have none: use \
                 get_document_link for the original"
            )),
            other => other,
        })?;
        let bytes = self.download.get(&link.url)?;
        super::extracted::read_owned(bytes).map_err(|e| {
            KbError::Unavailable(format!(
                "Bedrock's extracted text for document {:?} could not be read: {e}",
                d.document_id
            ))
        })
    }

    fn fetch_image(&self, d: &DocumentRef, who: Who<'_>) -> Result<Image, KbError> {
        if d.media_id.is_none() {
            return Err(KbError::InvalidRequest(
                "media_id is required to fetch an image".into(),
            ));
        }
        let link = self.content(d, "RAW", who)?;
        let mime = link.mime_type.to_ascii_lowercase();
        if !mime.starts_with("image/") || mime.len() > 100 {
            return Err(KbError::InvalidRequest(format!(
                "media {} is {}, not an image: use get_document_link to open it",
                d.media_id.as_deref().unwrap_or_default(),
                link.mime_type
            )));
        }
        let bytes = self.download.get(&link.url)?;
        use base64::Engine;
        Ok(Image {
            mime_type: mime,
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        })
    }

    fn has_agentic(&self) -> bool {
        true
    }

    fn agentic(
        &self,
        r: &agentic_types::Request<'_>,
        control: &mut dyn Control,
    ) -> Result<agentic_types::Answer, KbError> {
        check_retrieve(r.query, 1)?;
        // Like every data-plane call: the user's own session or the server's, fail-closed, and
        // the `userContext` this knowledge base's mode takes.
        let who = self.data_plane_identity(
            Op::AgenticRetrieveStream,
            &Who {
                user_id: r.user_id,
                identity: r.identity,
            },
        )?;
        let as_user = agentic_types::Request {
            user_id: who.user_context.as_deref(),
            ..*r
        };
        let ids: Vec<&str> = r
            .kb_ids
            .iter()
            .map(|id| {
                if id.is_empty() {
                    self.client.kb_id.as_str()
                } else {
                    id.as_str()
                }
            })
            .collect();
        let body = agentic::body(&self.request, &as_user, &ids).to_string();
        let url = format!("{}/agenticRetrieveStream", self.runtime.base);
        let call = Call {
            op: Op::AgenticRetrieveStream,
            url: &url,
            host: &self.runtime.host,
            body: Some(body.as_bytes()),
            credentials: who.credentials(),
            accept: Some("application/vnd.amazon.eventstream"),
        };
        let started = Instant::now();
        let deadline = started + self.agentic_timeout;
        // An agent of its own, so that a cancelled call can close its connection at once,
        // interrupting the reader blocked on it (ureq's Agent::shutdown).
        // Its timeout is a backstop a little past the deadline, which `agentic::read` keeps.
        let agent = call::stream_agent(self.agentic_timeout + Duration::from_secs(2));
        let opened = self.client.open(&call, &agent).map_err(|e| match e {
            KbError::InvalidRequest(m) if m.to_ascii_lowercase().contains("support") => {
                KbError::InvalidRequest(format!(
                    "knowledge base(s) {} do not support agentic retrieval (Bedrock said: {m}); \
                     use search_knowledge_base on them",
                    ids.join(", ")
                ))
            }
            other => who.explain(self.explain_rerank(other)),
        })?;
        let reader = opened.response.into_body().into_reader();
        let outcome = agentic::read(reader, control, deadline);
        // Whatever the outcome, the stream is done with: close it now (a cancelled or
        // timed-out call's reader is still blocked on it).
        agent.shutdown();
        let elapsed = started.elapsed();
        outcome
            .map(|mut answer| {
                answer.upstream_ms = elapsed.as_millis() as u64;
                answer.note = who.note.clone();
                answer
            })
            .map_err(|stop| match stop {
                agentic::Stop::Cancelled => {
                    KbError::Unavailable("the agentic search was cancelled".into())
                }
                agentic::Stop::Deadline => KbError::Timeout(format!(
                    "the agentic search took longer than {} s (AGENTIC_TIMEOUT_SECS); ask a \
                     narrower question, lower max_iterations, or raise AGENTIC_TIMEOUT_SECS",
                    self.agentic_timeout.as_secs()
                )),
                agentic::Stop::Broken(why) => KbError::Unavailable(format!(
                    "the agentic search stream from Bedrock broke: {why}; try again"
                )),
                agentic::Stop::NoResult => KbError::Unavailable(
                    "the agentic search stream from Bedrock ended before its result (cut off); \
                     try again"
                        .into(),
                ),
                agentic::Stop::Exception(kind, payload) => {
                    let (status, code) = agentic::exception_status(&kind);
                    let e = self.client.stream_exception(&call, status, &code, &payload);
                    let stopped = |said: String| {
                        format!("Bedrock stopped the agentic search: {kind} ({said})")
                    };
                    match e {
                        KbError::InvalidRequest(m) => KbError::InvalidRequest(stopped(m)),
                        KbError::AccessDenied(m) => KbError::AccessDenied(stopped(m)),
                        KbError::NotFound(m) => KbError::NotFound(stopped(m)),
                        KbError::Throttled(m) => KbError::Throttled(stopped(m)),
                        KbError::Timeout(m) => KbError::Timeout(stopped(m)),
                        KbError::Credentials(m) => KbError::Credentials(stopped(m)),
                        KbError::Unavailable(m) => KbError::Unavailable(stopped(m)),
                        KbError::UserSession(m) => KbError::UserSession(stopped(m)),
                        KbError::Reauthenticate(m) => KbError::Reauthenticate(m),
                    }
                }
            })
    }

    fn info(&self) -> KbInfo {
        let mut info = KbInfo {
            backend: "bedrock".into(),
            kb_id: self.client.kb_id.clone(),
            region: self.client.region.clone(),
            status: "UNKNOWN".into(),
            ..KbInfo::default()
        };
        info.per_user_sessions = self.sessions.is_some();
        match self.get_knowledge_base() {
            Ok(summary) => {
                info.status = summary.status;
                info.name = summary.name;
                info.description = summary.description;
                let mode = summary
                    .user_context_mode
                    .unwrap_or_else(|| kind::DEFAULT_MODE.to_string());
                if self.sessions.is_none() {
                    info.warning = identity::sessions_off_note(&mode)
                        .map(|n| n.trim_start_matches("Note: ").to_string());
                }
                info.user_context_mode = Some(mode);
                info.trusted_identity_sources = summary.trusted_identity_sources;
            }
            Err(e) => {
                log::warn!("GetKnowledgeBase failed: {e}");
                info.note = Some(self.info_note(&e));
            }
        }
        let (kb_type, source) = self.kind.describe();
        info.kb_type = kb_type;
        info.type_source = Some(source);
        info
    }
}

#[cfg(test)]
mod tests;
