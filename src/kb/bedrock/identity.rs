//! Who a data-plane Bedrock call runs as: which credentials sign it and which
//! `userContext.userId` it carries, decided in one place ([`BedrockKb::data_plane_identity`])
//! that every data-plane call (Retrieve, GetDocumentContent, and any later one) goes through.
//!
//! With per-user sessions on (AWS_USER_CREDENTIALS=web-identity) a signed-in user's call is
//! signed with their own AWS session and never falls back to the server's role: a failure
//! to get the session fails the call. The `userContext` then follows the knowledge base's
//! `userContextModeForRetrieval`: none where the session alone counts, the STS-verified
//! subject where the request's user is used or must match. With sessions off the server
//! signs and names the user it verified (`auth::acl`). Control-plane calls (GetKnowledgeBase)
//! and health checks do not come here: they always use the server's credentials.
//! Must not log the subject, the token or the session.

use super::call::Op;
use super::kind::DEFAULT_MODE;
use super::BedrockKb;
use crate::aws::{SessionError, UserSession};
use crate::kb::{KbError, Who};
use aws_credential_types::Credentials;
use std::sync::Arc;

/// The mode in which the knowledge base takes the user only from the session.
pub(super) const SESSION_ONLY: &str = "IDENTITY_ENHANCED_SESSION";
/// The mode in which a session wins and a differing `userContext` is refused.
pub(super) const SESSION_ELSE_INPUT: &str = "IDENTITY_ENHANCED_SESSION_ELSE_API_INPUT";

/// The credentials and `userContext` of one data-plane call.
#[derive(Default)]
pub(super) struct AsWho {
    /// The user's own session, or `None` for the server's credentials.
    pub(super) session: Option<Arc<UserSession>>,
    /// What to send as `userContext.userId`.
    pub(super) user_context: Option<String>,
    /// Something the reader should know (e.g. the mode needs sessions that are off).
    pub(super) note: Option<String>,
}

impl AsWho {
    /// The credentials to sign with, when not the server's.
    pub(super) fn credentials(&self) -> Option<&Credentials> {
        self.session.as_ref().map(|s| &s.credentials)
    }

    /// Points a refusal of a call signed with the user's own session at the user role, whose
    /// policy it is (the server's role is not involved).
    pub(super) fn explain(&self, e: KbError) -> KbError {
        let Some(session) = &self.session else {
            return e;
        };
        match e {
            KbError::AccessDenied(m) => KbError::AccessDenied(format!(
                "{m}. This call was signed with your own AWS session ({}): the policy of the role \
                 in AWS_USER_ROLE_ARN must allow it (deployment/iam/user-role-policy.json)",
                session.assumed_role_arn
            )),
            other => other,
        }
    }
}

impl BedrockKb {
    /// THE choice of signing credentials and `userContext` for data-plane call `op` made for
    /// `who`. Every data-plane Bedrock call goes through here.
    pub(super) fn data_plane_identity(&self, op: Op, who: &Who<'_>) -> Result<AsWho, KbError> {
        let (sessions, identity) = match (&self.sessions, who.identity) {
            (Some(s), Some(identity)) => (s, identity),
            // Sessions off, or nobody signed in: the server signs and names the verified user.
            _ => {
                let mode = self.kind.mode().map(|(m, _)| m);
                return Ok(AsWho {
                    session: None,
                    user_context: who.user_id.map(str::to_string),
                    // Searches say it only where nobody can see access-listed documents.
                    note: mode
                        .as_deref()
                        .filter(|m| self.sessions.is_none() && *m == SESSION_ONLY)
                        .and_then(sessions_off_note),
                });
            }
        };
        let mode = self.mode_for_sessions();
        let session = sessions.session(identity).map_err(|e| match e {
            SessionError::Reauthenticate(m) => KbError::Reauthenticate(m),
            SessionError::Failed(m) => KbError::UserSession(m),
        })?;
        let context = session.context.as_ref();
        if context.is_none() && mode.as_deref().is_some_and(|m| m != DEFAULT_MODE) {
            return Err(KbError::UserSession(format!(
                "AWS STS issued a session without identity context \
                 (TrustedIdentityPropagationContext), so this knowledge base \
                 (userContextModeForRetrieval={}) cannot tell who you are: the IAM OIDC provider \
                 needs a context provider (aws iam update-open-id-connect-provider with \
                 ContextProvider SubjectSourceKey=upn; see docs/identity.md)",
                mode.as_deref().unwrap_or(DEFAULT_MODE)
            )));
        }
        let subject = context.and_then(|c| c.subject.as_deref());
        let email_subject = subject.filter(|s| crate::auth::acl::looks_like_email(s));
        let user_context = match mode.as_deref() {
            Some(SESSION_ONLY) => None,
            Some(SESSION_ELSE_INPUT) => email_subject,
            Some(DEFAULT_MODE) => email_subject.or(who.user_id),
            // Unknown: the subject matches the session where one counts and names the user
            // where the request's user is used.
            _ => subject,
        }
        .map(str::to_string);
        if op == Op::GetDocumentContent
            && user_context.is_none()
            && mode.as_deref() == Some(DEFAULT_MODE)
        {
            return Err(KbError::InvalidRequest(
                "your sign-in carries no verified identity this knowledge base can use \
                 (userContextModeForRetrieval=API_INPUT_ONLY takes the user from the request), so \
                 no document is asked for: an administrator can map the upn claim as the subject of \
                 the IAM OIDC provider's context provider, or add the optional claims email and \
                 xms_edov in Microsoft Entra ID"
                    .into(),
            ));
        }
        // Searched with the session but nobody named: access-listed documents stay hidden.
        let note = (user_context.is_none() && mode.as_deref() == Some(DEFAULT_MODE)).then(|| {
            "Note: your sign-in carries no verified identity this knowledge base can use              (userContextModeForRetrieval=API_INPUT_ONLY takes the user from the request), so              documents protected by access lists are hidden from you: an administrator can map              the upn claim as the subject of the IAM OIDC provider's context provider, or add the              optional claims email and xms_edov in Microsoft Entra ID."
                .to_string()
        });
        Ok(AsWho {
            session: Some(session),
            user_context,
            note,
        })
    }

    /// The user-context mode, asking GetKnowledgeBase (server credentials) if nobody has yet.
    fn mode_for_sessions(&self) -> Option<String> {
        // Someone else asking already: wait for their answer rather than guess.
        self.kind
            .wait_for_lookup(self.client.timeout * self.client.max_attempts);
        if self.kind.claim_mode_lookup() {
            if let Err(e) = self.get_knowledge_base() {
                log::warn!(
                    "GetKnowledgeBase failed, so the knowledge base's userContextModeForRetrieval \
                     is unknown; per-user calls send the session's subject ({e})"
                );
            }
        }
        self.kind.mode().map(|(m, _)| m)
    }
}

/// What to tell a reader when the knowledge base takes users from sessions that are off.
pub(super) fn sessions_off_note(mode: &str) -> Option<String> {
    match mode {
        SESSION_ONLY => Some(
            "Note: this knowledge base (userContextModeForRetrieval=IDENTITY_ENHANCED_SESSION) \
             takes the reader only from a per-user AWS session, and this server has \
             AWS_USER_CREDENTIALS=off, so documents protected by access lists are hidden from \
             everyone. An administrator can set AWS_USER_CREDENTIALS=web-identity (see \
             docs/identity.md)."
                .into(),
        ),
        SESSION_ELSE_INPUT => Some(
            "Note: this knowledge base \
             (userContextModeForRetrieval=IDENTITY_ENHANCED_SESSION_ELSE_API_INPUT) prefers a \
             per-user AWS session, but this server has AWS_USER_CREDENTIALS=off and names the \
             reader itself. An administrator can set AWS_USER_CREDENTIALS=web-identity so AWS \
             verifies who reads (see docs/identity.md)."
                .into(),
        ),
        _ => None,
    }
}
