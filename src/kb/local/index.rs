//! The BM25 index: tokenizer, stopwords, postings lists and scoring. Owns only the math and
//! the data layout; it knows nothing of files, chunking or Bedrock's result shape.

use std::collections::HashMap;

/// BM25 term-frequency saturation.
pub const K1: f64 = 1.2;
/// BM25 length normalization.
pub const B: f64 = 0.75;

/// A small English stopword list, sorted so `binary_search` works.
/// Contraction fragments ("s", "t", "ll", …) are here because the tokenizer splits on apostrophes.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "between", "both", "but", "by", "can", "could", "d",
    "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had",
    "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "itself", "just", "ll", "m", "me", "more", "most", "my", "no",
    "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "out",
    "over", "own", "re", "s", "same", "she", "should", "so", "some", "such", "t", "than", "that",
    "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "under", "until", "up", "ve", "very", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your",
    "yours",
];

/// Whether `word` (already lower-cased) is too common to help ranking.
pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.binary_search(&word).is_ok()
}

/// Calls `f` with each token of `text`: lower-cased runs of alphanumeric characters
/// (Unicode-aware), stopwords dropped. `buf` is reused so tokenizing does not allocate per token.
pub fn for_each_token(text: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    buf.clear();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            buf.extend(c.to_lowercase());
        } else if !buf.is_empty() {
            if !is_stopword(buf) {
                f(buf);
            }
            buf.clear();
        }
    }
}

/// An immutable BM25 index over passages numbered 0..n in the order they were added.
#[derive(Debug, Default)]
pub struct Index {
    terms: HashMap<String, u32>,
    /// For each term id: (passage, term frequency), passages ascending.
    postings: Vec<Vec<(u32, u32)>>,
    /// For each term id: its inverse document frequency.
    idf: Vec<f64>,
    /// For each passage: `K1 * (1 - B + B * len / avg_len)`, the tf denominator's length part.
    norm: Vec<f64>,
}

/// Builds an [`Index`] one passage at a time.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    index: Index,
    lengths: Vec<u32>,
    ids: Vec<u32>,
    buf: String,
}

impl IndexBuilder {
    /// Tokenizes `text`, plus `context` (words that describe the passage, such as its
    /// document's title), as the next passage and returns the token count of `text`. A passage
    /// whose `text` has no tokens is not added, so the next one takes its number.
    pub fn add(&mut self, text: &str, context: &str) -> u32 {
        let passage = self.lengths.len() as u32;
        let IndexBuilder {
            index, ids, buf, ..
        } = self;
        ids.clear();
        for_each_token(text, buf, |tok| ids.push(index.intern(tok)));
        let own = ids.len() as u32;
        if own == 0 {
            return 0;
        }
        for_each_token(context, buf, |tok| ids.push(index.intern(tok)));
        ids.sort_unstable();
        let mut rest = &ids[..];
        while let Some(&id) = rest.first() {
            let run = rest.iter().take_while(|&&x| x == id).count();
            index.postings[id as usize].push((passage, run as u32));
            rest = &rest[run..];
        }
        self.lengths.push(ids.len() as u32);
        own
    }

    /// Computes idf and length norms and freezes the index.
    pub fn finish(self) -> Index {
        let mut index = self.index;
        let n = self.lengths.len() as f64;
        let total: u64 = self.lengths.iter().map(|&l| u64::from(l)).sum();
        let avg = if n > 0.0 { total as f64 / n } else { 0.0 };
        index.idf = index
            .postings
            .iter()
            .map(|p| idf(n, p.len() as f64))
            .collect();
        index.norm = self.lengths.iter().map(|&l| length_norm(l, avg)).collect();
        index
    }
}

/// Lucene's non-negative BM25 idf: ln(1 + (N - df + 0.5) / (df + 0.5)).
pub fn idf(n: f64, df: f64) -> f64 {
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// `K1 * (1 - B + B * len / avg)`; an empty corpus (avg 0) gets no length penalty.
fn length_norm(len: u32, avg: f64) -> f64 {
    let ratio = if avg > 0.0 { f64::from(len) / avg } else { 1.0 };
    K1 * (1.0 - B + B * ratio)
}

/// One scored passage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The passage number (order of [`IndexBuilder::add`]).
    pub passage: u32,
    /// BM25 divided by the query's attainable maximum, in 0..1.
    pub score: f64,
}

impl Index {
    /// The id of `term`, added with an empty postings list if new.
    fn intern(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.terms.get(term) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.terms.insert(term.to_string(), id);
        self.postings.push(Vec::new());
        id
    }

    /// The number of passages.
    pub fn len(&self) -> usize {
        self.norm.len()
    }

    /// The best `limit` passages for `query`, best first; ties go to the lower passage number.
    ///
    /// Scores are normalized by `(K1 + 1) * Σ idf(t)` over the distinct query terms present in
    /// the corpus: the supremum BM25 approaches for a passage that is all query terms, so the
    /// result is in 0..1 and comparable across queries.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let mut terms: Vec<u32> = Vec::new();
        let mut buf = String::new();
        for_each_token(query, &mut buf, |tok| {
            if let Some(&id) = self.terms.get(tok) {
                terms.push(id);
            }
        });
        terms.sort_unstable();
        terms.dedup();
        if terms.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut scores = vec![0.0f64; self.len()];
        let mut matched: Vec<u32> = Vec::new();
        let mut ceiling = 0.0;
        for &t in &terms {
            let idf = self.idf[t as usize];
            ceiling += idf * (K1 + 1.0);
            for &(p, tf) in &self.postings[t as usize] {
                let tf = f64::from(tf);
                let slot = &mut scores[p as usize];
                // Every contribution is > 0 (idf > 0, tf >= 1), so 0 means "first time seen".
                if *slot == 0.0 {
                    matched.push(p);
                }
                *slot += idf * tf * (K1 + 1.0) / (tf + self.norm[p as usize]);
            }
        }
        let better = |a: &u32, b: &u32| {
            scores[*b as usize]
                .total_cmp(&scores[*a as usize])
                .then(a.cmp(b))
        };
        if matched.len() > limit {
            matched.select_nth_unstable_by(limit - 1, better);
            matched.truncate(limit);
        }
        matched.sort_unstable_by(better);
        matched
            .into_iter()
            .map(|p| Hit {
                passage: p,
                score: scores[p as usize] / ceiling,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_token(text, &mut String::new(), |t| out.push(t.to_string()));
        out
    }

    fn build(passages: &[&str]) -> Index {
        let mut b = IndexBuilder::default();
        for p in passages {
            b.add(p, "");
        }
        b.finish()
    }

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn tokenizer_lowercases_splits_and_drops_stopwords() {
        assert_eq!(
            tokens("What is AWS-Lambda's  cold start? Über 20,000ms"),
            ["aws", "lambda", "cold", "start", "über", "20", "000ms"]
        );
        assert_eq!(tokens("ÉTÉ naïve 東京"), ["été", "naïve", "東京"]);
        assert!(tokens("the of and ... !!").is_empty());
    }

    #[test]
    fn bm25_matches_the_formula_on_a_tiny_corpus() {
        let docs = [
            "lambda lambda function",
            "function runtime",
            "ec2 instance role",
        ];
        let index = build(&docs);
        let lens: Vec<f64> = docs.iter().map(|d| tokens(d).len() as f64).collect();
        let avg = lens.iter().sum::<f64>() / lens.len() as f64;
        let n = docs.len() as f64;
        let term = |tf: f64, df: f64, len: f64| {
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            (
                idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg)),
                idf,
            )
        };
        // Query "lambda function": doc 0 has lambda×2 (df 1) and function×1 (df 2).
        let (l0, idf_l) = term(2.0, 1.0, lens[0]);
        let (f0, idf_f) = term(1.0, 2.0, lens[0]);
        let (f1, _) = term(1.0, 2.0, lens[1]);
        let ceiling = (K1 + 1.0) * (idf_l + idf_f);
        let hits = index.search("Lambda function", 10);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].passage, 0);
        assert!((hits[0].score - (l0 + f0) / ceiling).abs() < 1e-12);
        assert_eq!(hits[1].passage, 1);
        assert!((hits[1].score - f1 / ceiling).abs() < 1e-12);
        assert!(hits.iter().all(|h| h.score > 0.0 && h.score < 1.0));
    }

    #[test]
    fn repeated_query_terms_count_once_and_unknown_terms_are_ignored() {
        let index = build(&["alpha beta", "beta gamma"]);
        assert_eq!(
            index.search("alpha", 5),
            index.search("alpha alpha ALPHA zeta", 5)
        );
        assert!(index.search("zeta the", 5).is_empty());
    }

    #[test]
    fn ties_break_by_passage_order_and_limit_is_respected() {
        let index = build(&["x", "equal words", "y", "equal words", "equal words"]);
        let hits = index.search("equal", 2);
        assert_eq!(hits.iter().map(|h| h.passage).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(hits[0].score, hits[1].score);
        assert_eq!(index.search("equal", 10).len(), 3);
    }

    #[test]
    fn context_words_are_searchable_but_do_not_make_a_passage() {
        let mut b = IndexBuilder::default();
        assert_eq!(
            b.add("---", "Lambda guide"),
            0,
            "no words of its own: not added"
        );
        assert_eq!(b.add("pricing per request", "Lambda guide"), 3);
        let index = b.finish();
        assert_eq!(index.len(), 1);
        assert_eq!(index.search("lambda", 5)[0].passage, 0);
    }

    #[test]
    fn shorter_passages_win_at_equal_term_frequency() {
        let index = build(&[
            "deploy with many other unrelated words here",
            "deploy quickly",
        ]);
        let hits = index.search("deploy", 5);
        assert_eq!(hits[0].passage, 1);
        assert!(hits[0].score > hits[1].score);
    }
}
