//! Who a tool call runs for, as far as the knowledge base's access lists care.
//!
//! The HTTP layer builds it from the validated token (never from the message): the address
//! the server may assert for the user (only from claims Entra verified, see `auth::acl`) or
//! why there is none, and the token wrapped for the user's own AWS session. Tools pass both to
//! the knowledge base and tell the model when documents are hidden for want of an identity.

use crate::kb::{WebIdentity, Who};
use std::sync::Arc;

/// The caller of a tool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Caller {
    /// Auth is off: searches run as nobody in particular.
    #[default]
    Anonymous,
    /// Signed in with a validated access token.
    User(Box<SignedIn>),
}

/// A signed-in caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The verified address the server may send as `userContext.userId`, or why there is
    /// none (a sentence naming the Entra claim to add; no claim values).
    pub acl: Result<String, String>,
    /// The validated token for the user's own AWS session (`None` without `oid`/`tid`).
    pub identity: Option<Arc<WebIdentity>>,
}

impl Caller {
    /// A signed-in caller with a verified address (tests and embedders).
    pub fn user(email: &str) -> Caller {
        Caller::User(Box::new(SignedIn {
            acl: Ok(email.to_string()),
            identity: None,
        }))
    }

    /// The verified id the server may send as Bedrock's `userContext.userId`.
    pub fn acl_user(&self) -> Option<&str> {
        match self {
            Caller::User(u) => u.acl.as_deref().ok(),
            Caller::Anonymous => None,
        }
    }

    /// Whom the knowledge base serves: the asserted id and the token for a per-user session.
    pub fn who(&self) -> Who<'_> {
        match self {
            Caller::Anonymous => Who::default(),
            Caller::User(u) => Who {
                user_id: u.acl.as_deref().ok(),
                identity: u.identity.as_deref(),
            },
        }
    }

    /// Whether a signed-in caller has no identity the server may assert.
    pub fn is_unverified(&self) -> bool {
        matches!(self, Caller::User(u) if u.acl.is_err())
    }

    /// What to tell the model when documents protected by access lists are hidden because
    /// the token carried no verified identity.
    pub fn hidden_documents_note(&self) -> Option<String> {
        let Caller::User(u) = self else {
            return None;
        };
        let why = u.acl.as_ref().err()?;
        Some(format!(
            "Note: your sign-in token carries no verified identity ({why}), so documents \
             protected by access lists (SharePoint, OneDrive, Confluence, Google Drive, Box, S3 \
             with access lists) are hidden from you. An administrator can fix this in Microsoft \
             Entra ID: App registrations → this app → Token configuration → Add optional claim → \
             Access token: the optional claim \"email\" with \"xms_edov\" (members are also \
             identified by \"upn\")."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unverified(why: &str) -> Caller {
        Caller::User(Box::new(SignedIn {
            acl: Err(why.into()),
            identity: None,
        }))
    }

    #[test]
    fn only_a_verified_user_is_named_and_only_the_unverified_get_a_note() {
        assert_eq!(
            Caller::user("a@example.com").acl_user(),
            Some("a@example.com")
        );
        assert_eq!(Caller::Anonymous.acl_user(), None);
        assert_eq!(unverified("x").acl_user(), None);
        assert!(unverified("x").is_unverified() && !Caller::Anonymous.is_unverified());
        assert!(Caller::Anonymous.hidden_documents_note().is_none());
        assert!(Caller::user("a@example.com")
            .hidden_documents_note()
            .is_none());
        let note = unverified("its email claim is not verified by Entra (xms_edov is not true)")
            .hidden_documents_note()
            .unwrap();
        assert!(
            note.contains("carries no verified identity")
                && note.contains("xms_edov")
                && note.contains("Token configuration"),
            "{note}"
        );
        assert_eq!(
            Caller::user("a@example.com").who().user_id,
            Some("a@example.com")
        );
    }
}
