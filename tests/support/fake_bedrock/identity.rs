//! Who the fake Bedrock believes the caller is: per-knowledge-base
//! `userContextModeForRetrieval` and `trustedIdentitySources` (returned by GetKnowledgeBase),
//! the AWS sessions the fake STS issued (bound to their trusted-identity-propagation context),
//! and the decision of bedrock-2026 / identity-2026 §4 for each Retrieve, GetDocumentContent
//! (RAW and EXTRACTED) and AgenticRetrieveStream (by its first retriever's knowledge base):
//!
//! - `API_INPUT_ONLY` (the default): the identity is `userContext.userId`; the session is ignored.
//! - `IDENTITY_ENHANCED_SESSION`: the identity is the `OriginIdentity.Subject` of a *trusted*
//!   session; `userContext` is ignored; no trusted session → no access-listed documents.
//! - `IDENTITY_ENHANCED_SESSION_ELSE_API_INPUT`: a trusted session's Subject, and a `userContext`
//!   that differs from it → 400 ValidationException; no trusted session → `userContext`.
//!
//! A session is trusted when it carries TIP context and its `FederatedProviderArn` is in the
//! knowledge base's account or listed in `trustedIdentitySources`. The decided identity is put
//! into the request body as `userContext` before the ordinary answers filter by it (so the
//! answers need no knowledge of modes), and every decision is recorded with the key that
//! signed the call, so tests can tell a call made with the server's role from one made with a
//! user's session.

use super::super::fake_server::Reply;
use super::answers::error;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// The account of the fake's knowledge bases (the one in their ARNs).
pub const KB_ACCOUNT: &str = "123456789012";
/// The three modes, as AWS spells them.
pub const API_INPUT_ONLY: &str = "API_INPUT_ONLY";
/// Session identity only; `userContext` ignored.
pub const SESSION: &str = "IDENTITY_ENHANCED_SESSION";
/// Session identity, else `userContext`; the two must match when both are present.
pub const SESSION_ELSE_INPUT: &str = "IDENTITY_ENHANCED_SESSION_ELSE_API_INPUT";
/// The fake's wording for a `userContext` that differs from the session (Bedrock's own
/// wording is not documented, so tests must not assert it beyond the error code).
pub const MISMATCH: &str = "Fake Bedrock: the userContext in the request does not match the \
identity of the identity-enhanced session";

/// One AWS session the fake STS issued.
#[derive(Clone, Debug)]
pub struct Session {
    /// The `ASIA…` key id that signs with it.
    pub access_key_id: String,
    /// The role assumed.
    pub role_arn: String,
    /// `RoleSessionName` as sent.
    pub role_session_name: String,
    /// `TrustedIdentityPropagationContext.OriginIdentity.Subject`, when STS set TIP context.
    pub subject: Option<String>,
    /// `OriginIdentity.SubjectType`, when set.
    pub subject_type: Option<String>,
    /// The IAM OIDC provider the token federated through.
    pub provider_arn: String,
    /// `aws:TransactionContext/IdentityProvider/*` entries.
    pub transaction: Vec<(String, String)>,
    /// The web identity token's `sub` and `oid` claims (for assertions).
    pub token_sub: String,
    /// The token's `oid`, if any.
    pub token_oid: Option<String>,
    /// When the credentials expire.
    pub expiration: SystemTime,
}

impl Session {
    /// Whether STS attached trusted-identity-propagation context.
    pub fn has_context(&self) -> bool {
        self.subject.is_some()
    }
}

/// Which key signed a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Signer {
    /// A key the fake STS did not issue: the server's own credentials.
    Server,
    /// A session issued by the fake STS, by its Subject (if any) and the token's `oid`.
    Session {
        /// The session's Subject (None without identity context).
        subject: Option<String>,
        /// The `oid` of the token that made it.
        oid: Option<String>,
        /// The role assumed.
        role_arn: String,
    },
}

/// One decision, for assertions.
#[derive(Clone, Debug)]
pub struct Record {
    /// Retrieve, GetDocumentContent or GetKnowledgeBase.
    pub op: String,
    /// The knowledge base id in the path.
    pub kb: String,
    /// The key that signed the call.
    pub access_key_id: String,
    /// Whose key that is.
    pub signer: Signer,
    /// The knowledge base's mode at the time.
    pub mode: String,
    /// `userContext.userId` as the client sent it.
    pub sent_user: Option<String>,
    /// The identity the access lists were applied with (`None` = no user).
    pub identity: Option<String>,
    /// The error code, when the decision refused the call.
    pub refused: Option<String>,
}

#[derive(Clone, Default)]
struct KbIdentity {
    mode: Option<String>,
    trusted: Vec<String>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, Session>,
    kbs: HashMap<String, KbIdentity>,
    /// Subject → ACL user id; when set, a Subject missing from it maps to nobody.
    derivation: Option<HashMap<String, String>>,
    records: Vec<Record>,
}

/// The shared identity state (cheap to clone; the fake STS writes sessions into it).
#[derive(Clone, Default)]
pub struct Identity(Arc<Mutex<State>>);

impl Identity {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets `userContextModeForRetrieval` of `kb` (None: absent, which means API_INPUT_ONLY).
    pub fn set_mode(&self, kb: &str, mode: Option<&str>) {
        self.lock().kbs.entry(kb.into()).or_default().mode = mode.map(Into::into);
    }

    /// Sets `trustedIdentitySources` of `kb` (identity provider ARNs).
    pub fn set_trusted_sources(&self, kb: &str, arns: &[&str]) {
        self.lock().kbs.entry(kb.into()).or_default().trusted =
            arns.iter().map(|a| a.to_string()).collect();
    }

    /// Derives the ACL user from the Subject through this table instead of as-is (the
    /// second reading of identity-2026 §2.5).
    pub fn set_derivation(&self, table: &[(&str, &str)]) {
        self.lock().derivation = Some(
            table
                .iter()
                .map(|(s, u)| (s.to_string(), u.to_string()))
                .collect(),
        );
    }

    /// Binds an issued session (the fake STS calls this).
    pub fn add_session(&self, session: Session) {
        self.lock()
            .sessions
            .insert(session.access_key_id.clone(), session);
    }

    /// The session issued under `access_key_id`, if any.
    pub fn session(&self, access_key_id: &str) -> Option<Session> {
        self.lock().sessions.get(access_key_id).cloned()
    }

    /// Every decision so far, in order.
    pub fn records(&self) -> Vec<Record> {
        self.lock().records.clone()
    }

    /// Decisions for `op` only.
    pub fn records_of(&self, op: &str) -> Vec<Record> {
        self.records().into_iter().filter(|r| r.op == op).collect()
    }

    /// Forgets the recorded decisions.
    pub fn clear_records(&self) {
        self.lock().records.clear();
    }

    fn mode(&self, kb: &str) -> String {
        self.lock()
            .kbs
            .get(kb)
            .and_then(|k| k.mode.clone())
            .unwrap_or_else(|| API_INPUT_ONLY.into())
    }
}

/// Adds the two identity members to a GetKnowledgeBase answer (only when set, as AWS omits
/// them for a knowledge base created without them).
pub(super) fn decorate_info(
    identity: &Identity,
    kb: &str,
    access_key: &str,
    answer: Reply,
) -> Reply {
    let (mode, trusted, signer) = {
        let st = identity.lock();
        let k = st.kbs.get(kb).cloned().unwrap_or_default();
        (k.mode, k.trusted, signer_of(&st, access_key))
    };
    identity.lock().records.push(Record {
        op: "GetKnowledgeBase".into(),
        kb: kb.into(),
        access_key_id: access_key.into(),
        signer,
        mode: mode.clone().unwrap_or_else(|| API_INPUT_ONLY.into()),
        sent_user: None,
        identity: None,
        refused: None,
    });
    if answer.status != 200 {
        return answer;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(&answer.body) else {
        return answer;
    };
    if let Some(mode) = mode {
        v["knowledgeBase"]["userContextModeForRetrieval"] = json!(mode);
        let sources: Vec<Value> = trusted
            .iter()
            .map(|a| json!({"identityProviderArn": a}))
            .collect();
        v["knowledgeBase"]["trustedIdentitySources"] = json!(sources);
    }
    Reply {
        body: v.to_string().into_bytes(),
        ..answer
    }
}

fn signer_of(st: &State, access_key: &str) -> Signer {
    match st.sessions.get(access_key) {
        Some(s) => Signer::Session {
            subject: s.subject.clone(),
            oid: s.token_oid.clone(),
            role_arn: s.role_arn.clone(),
        },
        None => Signer::Server,
    }
}

/// Decides the identity of a Retrieve, GetDocumentContent or AgenticRetrieveStream signed with `access_key` on `kb`,
/// records it, and returns the body with `userContext` set to that identity (or removed);
/// `Err` is the answer that refuses the call.
pub(super) fn decide(
    identity: &Identity,
    op: &str,
    kb: &str,
    access_key: &str,
    body: &[u8],
) -> Result<Vec<u8>, Reply> {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return Ok(body.to_vec()); // the answers refuse it as Bedrock does
    };
    let sent = match v.get("userContext") {
        None => None,
        Some(ctx) => match ctx.get("userId").and_then(Value::as_str) {
            Some(u) if !u.is_empty() => Some(u.to_string()),
            _ => return Ok(body.to_vec()), // malformed: the answers' validation error
        },
    };
    let mode = identity.mode(kb);
    let mut st = identity.lock();
    let trusted_list = st
        .kbs
        .get(kb)
        .map(|k| k.trusted.clone())
        .unwrap_or_default();
    let session = st.sessions.get(access_key).cloned();
    let trusted = session.as_ref().filter(|s| {
        s.has_context()
            && (provider_account(&s.provider_arn) == Some(KB_ACCOUNT)
                || trusted_list.iter().any(|t| t == &s.provider_arn))
    });
    let subject =
        trusted
            .and_then(|s| s.subject.clone())
            .and_then(|subject| match &st.derivation {
                Some(table) => table.get(&subject).cloned(),
                None => Some(subject),
            });
    let mut refused = None;
    let decided = match mode.as_str() {
        SESSION => subject,
        SESSION_ELSE_INPUT if trusted.is_some() => {
            if let Some(sent) = &sent {
                let matches = subject
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(sent));
                if !matches {
                    refused = Some("ValidationException".to_string());
                }
            }
            subject
        }
        _ => sent.clone(),
    };
    let signer = signer_of(&st, access_key);
    st.records.push(Record {
        op: op.into(),
        kb: kb.into(),
        access_key_id: access_key.into(),
        signer,
        mode,
        sent_user: sent,
        identity: decided.clone(),
        refused: refused.clone(),
    });
    if refused.is_some() {
        return Err(error(400, "ValidationException", MISMATCH));
    }
    if let Some(obj) = v.as_object_mut() {
        match decided {
            Some(user) => {
                obj.insert("userContext".into(), json!({ "userId": user }));
            }
            None => {
                obj.remove("userContext");
            }
        }
    }
    Ok(v.to_string().into_bytes())
}

/// The account id in `arn:aws:iam::ACCOUNT:oidc-provider/…`.
fn provider_account(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:aws:iam::")?.split(':').next()
}
