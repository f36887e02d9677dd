//! Who a tool call runs for, as far as the knowledge base's access lists care.
//!
//! The HTTP layer builds it from the validated token (never from the message); tools pass
//! the email on to the knowledge base and tell the model when documents are hidden because
//! the token carried none.

/// The caller of a tool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Caller {
    /// Auth is off: searches run as nobody in particular.
    #[default]
    Anonymous,
    /// Signed in, with this email address for access lists.
    User(String),
    /// Signed in, but the token holds none of these claims with an email address.
    NoEmail(Vec<String>),
}

impl Caller {
    /// The id to send as Bedrock's `userContext.userId`.
    pub fn acl_user(&self) -> Option<&str> {
        match self {
            Caller::User(email) => Some(email),
            _ => None,
        }
    }

    /// What to tell the model when documents protected by access lists are hidden because
    /// the token named no email address.
    pub fn hidden_documents_note(&self) -> Option<String> {
        let Caller::NoEmail(claims) = self else {
            return None;
        };
        Some(format!(
            "Note: your sign-in token carries no email address (looked for the claims {}), so \
             documents protected by access lists (SharePoint, OneDrive, Confluence, Google \
             Drive, Box, S3 with access lists) are hidden from you. An administrator can fix \
             this by adding the optional claim \"email\" (or \"upn\") to access tokens in \
             Microsoft Entra ID: App registrations → this app → Token configuration → Add \
             optional claim.",
            claims.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_user_with_an_email_is_named_and_only_the_others_get_a_note() {
        assert_eq!(
            Caller::User("a@example.com".into()).acl_user(),
            Some("a@example.com")
        );
        assert_eq!(Caller::Anonymous.acl_user(), None);
        assert_eq!(Caller::NoEmail(vec!["email".into()]).acl_user(), None);
        assert!(Caller::Anonymous.hidden_documents_note().is_none());
        assert!(Caller::User("a@example.com".into())
            .hidden_documents_note()
            .is_none());
        let note = Caller::NoEmail(vec!["email".into(), "upn".into()])
            .hidden_documents_note()
            .unwrap();
        assert!(
            note.contains("email, upn") && note.contains("Token configuration"),
            "{note}"
        );
    }
}
