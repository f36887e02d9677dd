//! Splits a document's text into pages of at most N characters for read_document, cutting at
//! a paragraph break, else a sentence end, else whitespace, near the end of each page, and
//! only as a last resort inside a word. Pages concatenate to exactly the text: nothing is
//! lost, nothing repeated, and the same text always pages the same way (so page numbers stay
//! valid between calls without any state). Must not do I/O.

/// One page: byte range and character range of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Byte offset where the page starts.
    pub start: usize,
    /// Byte offset where it ends (exclusive).
    pub end: usize,
    /// Character offset where it starts.
    pub start_char: usize,
    /// Character offset where it ends (exclusive).
    pub end_char: usize,
}

/// The pages of `text`, each at most `max_chars` (at least 1) characters; none for an empty text.
pub fn split(text: &str, max_chars: usize) -> Vec<Page> {
    let max_chars = max_chars.max(1);
    let mut pages = Vec::new();
    let (mut start, mut start_char) = (0, 0);
    while start < text.len() {
        let rest = &text[start..];
        // Byte offset (in `rest`) just past `max_chars` characters, or the end.
        let limit = rest
            .char_indices()
            .nth(max_chars)
            .map_or(rest.len(), |(i, _)| i);
        let cut = if limit == rest.len() {
            limit
        } else {
            best_cut(&rest[..limit], max_chars)
        };
        let chars = rest[..cut].chars().count();
        pages.push(Page {
            start,
            end: start + cut,
            start_char,
            end_char: start_char + chars,
        });
        start += cut;
        start_char += chars;
    }
    pages
}

/// Where to end a full window: after the last paragraph break in its second half, else after
/// the last sentence end or whitespace in its last quarter, else at its end. Always > 0.
fn best_cut(window: &str, max_chars: usize) -> usize {
    let half = byte_at_char(window, max_chars / 2);
    let quarter = byte_at_char(window, max_chars - max_chars / 4);
    if let Some(i) = window[half..].rfind("\n\n") {
        return half + i + 2;
    }
    let tail = &window[quarter..];
    let sentence = tail
        .char_indices()
        .zip(tail.chars().skip(1))
        .filter(|((_, c), next)| matches!(c, '.' | '!' | '?' | '。') && next.is_whitespace())
        .map(|((i, c), next)| i + c.len_utf8() + next.len_utf8())
        .last();
    if let Some(i) = sentence {
        return quarter + i;
    }
    if let Some((i, c)) = tail.char_indices().rfind(|(_, c)| c.is_whitespace()) {
        let cut = quarter + i + c.len_utf8();
        if cut > 0 {
            return cut;
        }
    }
    window.len()
}

/// The byte offset of character `n` of `s` (its length when shorter).
fn byte_at_char(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_text(rng: &mut Rng) -> String {
        const PIECES: [&str; 12] = [
            "word",
            " ",
            "\n",
            "\n\n",
            ". ",
            "é",
            "日本語",
            "🙂",
            "x",
            "? ",
            "\t",
            "long-unbroken-token",
        ];
        let n = rng.below(400) as usize;
        (0..n).map(|_| PIECES[rng.below(12) as usize]).collect()
    }

    #[test]
    fn pages_concatenate_to_the_text_and_respect_the_limit() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..3000 {
            let text = random_text(&mut rng);
            let max = 1 + rng.below(60) as usize;
            let pages = split(&text, max);
            let mut joined = String::new();
            let mut chars = 0;
            for (i, p) in pages.iter().enumerate() {
                let page = &text[p.start..p.end];
                assert!(!page.is_empty(), "round {round}: empty page {i}");
                assert!(
                    page.chars().count() <= max,
                    "round {round}: page {i} too long"
                );
                assert_eq!(p.start_char, chars, "round {round}");
                chars += page.chars().count();
                assert_eq!(p.end_char, chars, "round {round}");
                joined.push_str(page);
            }
            assert_eq!(joined, text, "round {round}: nothing lost or repeated");
            assert_eq!(split(&text, max), pages, "the same text pages the same way");
        }
        assert!(split("", 10).is_empty());
    }

    #[test]
    fn cuts_at_paragraphs_then_sentences_then_spaces() {
        let text = format!("{}\n\n{}", "a".repeat(60), "b".repeat(60));
        let pages = split(&text, 100);
        assert_eq!(
            &text[pages[0].start..pages[0].end],
            format!("{}\n\n", "a".repeat(60))
        );
        let text = format!("{}. {}", "a".repeat(85), "b".repeat(60));
        let pages = split(&text, 100);
        assert_eq!(&text[..pages[0].end], format!("{}. ", "a".repeat(85)));
        let text = format!("{} {}", "a".repeat(90), "b".repeat(60));
        assert_eq!(split(&text, 100)[0].end, 91);
        let text = "c".repeat(250);
        let pages = split(&text, 100);
        assert_eq!(
            pages.iter().map(|p| p.end - p.start).collect::<Vec<_>>(),
            [100, 100, 50]
        );
    }
}
