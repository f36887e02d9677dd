//! Agentic retrieval as the tools see it, whatever backend runs it: the request, what comes
//! back (steps, results, an answer with citations), and [`Control`], through which a long
//! call reports progress and learns that it was cancelled.
//!
//! Plain types; the Bedrock implementation is `kb::bedrock::agentic`.

use super::Passage;

/// One agentic retrieval.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The question, as the user would ask it.
    pub query: &'a str,
    /// The knowledge bases to search together (configured ids, checked by the caller).
    pub kb_ids: &'a [String],
    /// Also write an answer with citations.
    pub generate_response: bool,
    /// Most planning rounds (Bedrock's `maxAgentIteration`), when given.
    pub max_iterations: Option<u32>,
    /// The signed-in user's verified email, which the server may assert (Bedrock
    /// `userContext.userId`).
    pub user_id: Option<&'a str>,
    /// The signed-in user's validated token, for their own AWS session.
    pub identity: Option<&'a super::WebIdentity>,
}

/// One step Bedrock reported (a trace event).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// Planning, Retrieval, FullDocumentExpansion, …
    pub step: String,
    /// IN_PROGRESS, SUCCEEDED or FAILED.
    pub status: String,
    /// What Bedrock said about it (with failures and warnings appended).
    pub message: String,
}

/// A span of the answer backed by results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Citation {
    /// Start of the span in the answer (Bedrock's index).
    pub start: i64,
    /// End of the span.
    pub end: i64,
    /// 0-based indexes into [`Answer::results`].
    pub results: Vec<usize>,
}

/// What an agentic retrieval returned.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The results, best first, as passages; `knowledge_base_id` says which retriever found each.
    pub results: Vec<(Passage, Option<String>)>,
    /// The steps taken.
    pub steps: Vec<Step>,
    /// The generated answer, when asked for.
    pub answer: Option<String>,
    /// Its citations.
    pub citations: Vec<Citation>,
    /// Time spent on the stream, in milliseconds.
    pub upstream_ms: u64,
    /// Steps or results were dropped to stay within the memory cap.
    pub truncated: bool,
    /// Something the reader should know about what they may see (e.g. the knowledge base
    /// needs per-user sessions that are off).
    pub note: Option<String>,
}

/// How a long call talks to whoever waits for it.
pub trait Control {
    /// Reports that the call is still running, with its latest step; called at least every
    /// [`PROGRESS_EVERY`] while the call runs.
    fn progress(&mut self, message: &str);
    /// True once the caller no longer wants the answer: the call stops as soon as it can.
    fn cancelled(&self) -> bool;
}

/// The longest a long call goes without calling [`Control::progress`].
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(1_500);

/// A control that reports nowhere and is never cancelled (tests, embedders).
#[derive(Debug, Default)]
pub struct Silent;

impl Control for Silent {
    fn progress(&mut self, _message: &str) {}
    fn cancelled(&self) -> bool {
        false
    }
}
