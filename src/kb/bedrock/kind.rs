//! The knowledge base's type (VECTOR, MANAGED, KENDRA, SQL) and the retrieval configuration
//! it accepts: `managedSearchConfiguration` for MANAGED, `vectorSearchConfiguration` for the
//! others.
//!
//! Owns what BEDROCK_KB_TYPE (read by `config::bedrock`) means and what has been learnt at run time (from GetKnowledgeBase, or from
//! a Retrieve refused with the other configuration). Must not do I/O: `mod.rs` makes the calls
//! and reports what they said here.

use crate::config::bedrock::KbType;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often a GetKnowledgeBase that failed for a passing reason (not AccessDenied) is retried.
const LOOKUP_RETRY: Duration = Duration::from_secs(60);

/// Which retrieval configuration a Retrieve carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Search {
    /// `vectorSearchConfiguration`.
    Vector,
    /// `managedSearchConfiguration`.
    Managed,
}

impl Search {
    /// The other one (for the single retry in auto mode).
    pub(super) fn other(self) -> Search {
        match self {
            Search::Vector => Search::Managed,
            Search::Managed => Search::Vector,
        }
    }

    /// The knowledge-base type name that implies this configuration (when nothing better is known).
    fn type_name(self) -> &'static str {
        match self {
            Search::Vector => "VECTOR",
            Search::Managed => "MANAGED",
        }
    }

    /// The configuration a knowledge base of `kb_type` accepts.
    fn for_type(kb_type: &str) -> Search {
        if kb_type.eq_ignore_ascii_case("MANAGED") {
            Search::Managed
        } else {
            Search::Vector
        }
    }
}

/// What the next Retrieve should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    /// Send this configuration; it is known (or configured) to be right.
    Known(Search),
    /// Nothing is known yet: send this one, and on the incompatible-configuration error the other.
    Guess(Search),
    /// Ask GetKnowledgeBase first (this caller won the right to ask).
    LookUp,
}

#[derive(Debug, Default)]
struct Learnt {
    /// The type and where it came from.
    kb_type: Option<(String, &'static str)>,
    /// GetKnowledgeBase was refused: do not ask again.
    lookup_denied: bool,
    /// A lookup is under way on some thread.
    lookup_running: bool,
    /// When a lookup last failed for a passing reason.
    lookup_failed_at: Option<Instant>,
    /// `userContextModeForRetrieval` and `trustedIdentitySources` from GetKnowledgeBase.
    identity_mode: Option<(String, Vec<String>)>,
}

/// The mode AWS assumes when GetKnowledgeBase names none.
pub(super) const DEFAULT_MODE: &str = "API_INPUT_ONLY";

/// The setting plus what has been learnt; shared by all threads.
#[derive(Debug)]
pub(super) struct Kind {
    setting: KbType,
    learnt: Mutex<Learnt>,
    /// Signalled when a lookup ends, for callers that must know the mode before they call.
    looked: Condvar,
}

impl Kind {
    /// Nothing learnt yet.
    pub(super) fn new(setting: KbType) -> Kind {
        Kind {
            setting,
            learnt: Mutex::new(Learnt::default()),
            looked: Condvar::new(),
        }
    }

    fn learnt(&self) -> std::sync::MutexGuard<'_, Learnt> {
        // A panic while holding this lock leaves plain data behind; keep using it.
        self.learnt.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the next Retrieve should send. `LookUp` is handed to one caller at a time; the
    /// others guess meanwhile, so a slow GetKnowledgeBase holds up nobody else.
    pub(super) fn plan(&self) -> Plan {
        match self.setting {
            KbType::Vector => return Plan::Known(Search::Vector),
            KbType::Managed => return Plan::Known(Search::Managed),
            KbType::Auto => {}
        }
        let mut l = self.learnt();
        if let Some((t, _)) = &l.kb_type {
            return Plan::Known(Search::for_type(t));
        }
        let recently_failed = l
            .lookup_failed_at
            .is_some_and(|at| at.elapsed() < LOOKUP_RETRY);
        if l.lookup_denied || l.lookup_running || recently_failed {
            return Plan::Guess(Search::Vector);
        }
        l.lookup_running = true;
        Plan::LookUp
    }

    /// Records GetKnowledgeBase's answer: `Ok(type)`, or `Err(denied)`.
    pub(super) fn looked_up(&self, result: Result<Option<&str>, bool>) {
        let mut l = self.learnt();
        l.lookup_running = false;
        self.looked.notify_all();
        match result {
            Ok(Some(t)) => l.kb_type = Some((t.to_ascii_uppercase(), "GetKnowledgeBase")),
            // An answer without a type comes from before managed knowledge bases existed.
            Ok(None) => l.kb_type = Some(("VECTOR".into(), "GetKnowledgeBase (no type given)")),
            Err(true) => l.lookup_denied = true,
            Err(false) => l.lookup_failed_at = Some(Instant::now()),
        }
    }

    /// Records the user-context mode GetKnowledgeBase named (absent: AWS's default).
    pub(super) fn mode_learnt(&self, mode: Option<&str>, sources: &[String]) {
        let mode = mode.unwrap_or(DEFAULT_MODE).to_string();
        self.learnt().identity_mode = Some((mode, sources.to_vec()));
    }

    /// The user-context mode and trusted sources, when GetKnowledgeBase has told them.
    pub(super) fn mode(&self) -> Option<(String, Vec<String>)> {
        self.learnt().identity_mode.clone()
    }

    /// Whether this caller should ask GetKnowledgeBase for the mode now: it is unknown, not
    /// refused, not failed a moment ago, and nobody else is asking (then this caller asks).
    pub(super) fn claim_mode_lookup(&self) -> bool {
        let mut l = self.learnt();
        let recently_failed = l
            .lookup_failed_at
            .is_some_and(|at| at.elapsed() < LOOKUP_RETRY);
        if l.identity_mode.is_some() || l.lookup_denied || l.lookup_running || recently_failed {
            return false;
        }
        l.lookup_running = true;
        true
    }

    /// Waits (at most `limit`) while another caller's lookup runs, so per-user calls know the
    /// mode before they choose a `userContext`.
    pub(super) fn wait_for_lookup(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut l = self.learnt();
        while l.lookup_running {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            l = match self.looked.wait_timeout(l, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Records that Bedrock accepted `search` after refusing the other configuration.
    pub(super) fn learnt_from_retrieve(&self, search: Search) {
        let mut l = self.learnt();
        if l.kb_type.is_none() {
            l.kb_type = Some((
                search.type_name().into(),
                "a Retrieve that Bedrock refused with the other configuration",
            ));
        }
    }

    /// The type to report and where it comes from, when GetKnowledgeBase gave nothing.
    pub(super) fn describe(&self) -> (String, String) {
        if let Some((t, source)) = &self.learnt().kb_type {
            let source = match self.setting {
                KbType::Auto => source.to_string(),
                s => format!("{source}; searches use BEDROCK_KB_TYPE={}", setting_name(s)),
            };
            return (t.clone(), source);
        }
        match self.setting {
            KbType::Vector => ("VECTOR".into(), "BEDROCK_KB_TYPE=vector".into()),
            KbType::Managed => ("MANAGED".into(), "BEDROCK_KB_TYPE=managed".into()),
            KbType::Auto => (
                "UNKNOWN".into(),
                "BEDROCK_KB_TYPE=auto and GetKnowledgeBase has not told it: searches send \
                 vectorSearchConfiguration and switch to managedSearchConfiguration if Bedrock \
                 refuses it"
                    .into(),
            ),
        }
    }

    /// Whether a refused configuration may be retried with the other one.
    pub(super) fn is_auto(&self) -> bool {
        self.setting == KbType::Auto
    }
}

fn setting_name(s: KbType) -> &'static str {
    match s {
        KbType::Auto => "auto",
        KbType::Vector => "vector",
        KbType::Managed => "managed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_looks_up_once_then_uses_the_answer() {
        let k = Kind::new(KbType::Auto);
        assert_eq!(k.plan(), Plan::LookUp);
        // While the lookup runs, others guess instead of waiting.
        assert_eq!(k.plan(), Plan::Guess(Search::Vector));
        k.looked_up(Ok(Some("MANAGED")));
        assert_eq!(k.plan(), Plan::Known(Search::Managed));
        assert_eq!(k.describe().0, "MANAGED");
        let k = Kind::new(KbType::Auto);
        assert_eq!(k.plan(), Plan::LookUp);
        k.looked_up(Ok(Some("SQL")));
        assert_eq!(k.plan(), Plan::Known(Search::Vector));
    }

    #[test]
    fn a_denied_lookup_is_not_repeated_and_a_refusal_is_remembered() {
        let k = Kind::new(KbType::Auto);
        assert_eq!(k.plan(), Plan::LookUp);
        k.looked_up(Err(true));
        assert_eq!(k.plan(), Plan::Guess(Search::Vector));
        assert_eq!(k.plan(), Plan::Guess(Search::Vector));
        assert_eq!(k.describe().0, "UNKNOWN");
        k.learnt_from_retrieve(Search::Managed);
        assert_eq!(k.plan(), Plan::Known(Search::Managed));
        assert!(k.describe().1.contains("refused"), "{:?}", k.describe());
        // A passing failure is retried later, not on the very next search.
        let k = Kind::new(KbType::Auto);
        assert_eq!(k.plan(), Plan::LookUp);
        k.looked_up(Err(false));
        assert_eq!(k.plan(), Plan::Guess(Search::Vector));
    }

    #[test]
    fn a_configured_type_is_used_without_asking() {
        let k = Kind::new(KbType::Managed);
        assert_eq!(k.plan(), Plan::Known(Search::Managed));
        assert!(!k.is_auto());
        assert_eq!(
            k.describe(),
            ("MANAGED".into(), "BEDROCK_KB_TYPE=managed".into())
        );
        assert_eq!(Search::Vector.other(), Search::Managed);
    }
}
