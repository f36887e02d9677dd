//! The Bedrock operations we call, with the names and IAM actions messages cite.
//!
//! Shared by `call` (which sends them) and `errors` (which words their failures); no I/O.

/// The Bedrock operations we call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Retrieve,
    GetKnowledgeBase,
    GetDocumentContent,
    AgenticRetrieveStream,
}

impl Op {
    /// The API name, for messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Retrieve => "Retrieve",
            Op::GetKnowledgeBase => "GetKnowledgeBase",
            Op::GetDocumentContent => "GetDocumentContent",
            Op::AgenticRetrieveStream => "AgenticRetrieveStream",
        }
    }

    /// The IAM action it needs.
    pub(super) fn action(self) -> &'static str {
        match self {
            Op::Retrieve => "bedrock:Retrieve",
            Op::GetKnowledgeBase => "bedrock:GetKnowledgeBase",
            Op::GetDocumentContent => "bedrock:GetDocumentContent",
            Op::AgenticRetrieveStream => "bedrock:AgenticRetrieveStream",
        }
    }
}
