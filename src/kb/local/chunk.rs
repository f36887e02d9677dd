//! Splitting a document into passages, the local stand-in for Bedrock's chunks. Owns only
//! text layout (headings, paragraphs, the size cap); it does no I/O and no scoring.
//!
//! Markdown headings start a new passage; paragraphs (blank-line separated, fenced code kept
//! whole) are packed greedily up to [`MAX_CHUNK_CHARS`]; a paragraph longer than that is cut
//! at the last line break or space before the cap, or at a character boundary if it has none.

use std::ops::Range;

/// The most characters (not bytes) one passage may hold.
pub const MAX_CHUNK_CHARS: usize = 1500;

/// One piece of a document, before packing.
struct Block {
    range: Range<usize>,
    heading: bool,
}

/// Byte ranges of `text`'s passages, in order; each is non-empty, has no trailing whitespace,
/// starts and ends on character boundaries and holds at most `max_chars` characters.
pub fn chunk(text: &str, markdown: bool, max_chars: usize) -> Vec<Range<usize>> {
    let max_chars = max_chars.max(1);
    let mut out = Vec::new();
    let mut cur: Option<Range<usize>> = None;
    let mut cur_has_body = false;
    for block in blocks(text, markdown) {
        // A heading closes the passage, unless that passage is only headings so far.
        if block.heading && cur_has_body {
            out.extend(cur.take());
        }
        let merged = cur.as_ref().map(|c| c.start..block.range.end);
        match merged {
            Some(m) if text[m.clone()].chars().count() <= max_chars => cur = Some(m),
            _ => {
                out.extend(cur.take());
                cur_has_body = false;
                if text[block.range.clone()].chars().count() <= max_chars {
                    cur = Some(block.range.clone());
                } else {
                    split_long(text, block.range.clone(), max_chars, &mut out);
                    continue;
                }
            }
        }
        cur_has_body |= !block.heading;
    }
    out.extend(cur);
    out
}

/// The text of the first ATX heading (`# Title`) outside code fences, if any.
pub fn first_heading(text: &str) -> Option<String> {
    let mut fenced = false;
    for line in text.lines() {
        if is_fence(line) {
            fenced = !fenced;
        } else if !fenced {
            if let Some(title) = heading_text(line).filter(|t| !t.is_empty()) {
                return Some(title.to_string());
            }
        }
    }
    None
}

/// Splits `text` into headings and paragraphs (runs of non-blank lines; fenced code is one run).
fn blocks(text: &str, markdown: bool) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Option<Range<usize>> = None;
    let mut fenced = false;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.trim_end().len();
        let range = start..end;
        start += line.len();
        if markdown && is_fence(line) {
            fenced = !fenced;
        }
        let is_heading = markdown && !fenced && heading_text(line).is_some();
        if is_heading || (!fenced && line.trim().is_empty()) {
            if let Some(p) = para.take() {
                out.push(Block {
                    range: p,
                    heading: false,
                });
            }
            if is_heading {
                out.push(Block {
                    range,
                    heading: true,
                });
            }
        } else if !line.trim().is_empty() || fenced {
            para = Some(match para {
                Some(p) => p.start..range.end.max(p.end),
                None => range,
            });
        }
    }
    out.extend(para.map(|range| Block {
        range,
        heading: false,
    }));
    out
}

fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    line.len() - t.len() <= 3 && (t.starts_with("```") || t.starts_with("~~~"))
}

/// `Some(title)` when `line` is an ATX heading: up to 3 spaces, 1–6 `#`, then a space or nothing.
fn heading_text(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if line.len() - t.len() > 3 {
        return None;
    }
    let hashes = t.bytes().take_while(|&b| b == b'#').count();
    let rest = &t[hashes..];
    let ok = (1..=6).contains(&hashes) && (rest.is_empty() || rest.starts_with([' ', '\t', '\n']));
    ok.then(|| rest.trim().trim_end_matches('#').trim())
}

/// Cuts an over-long block into pieces of at most `max_chars` characters.
fn split_long(text: &str, mut range: Range<usize>, max_chars: usize, out: &mut Vec<Range<usize>>) {
    loop {
        let piece = &text[range.clone()];
        let Some((limit, _)) = piece.char_indices().nth(max_chars) else {
            out.push(range);
            return;
        };
        let window = &piece[..limit];
        // Prefer a line break, then a space, but not so early that the piece is tiny.
        let cut = [window.rfind('\n'), window.rfind(' ')]
            .into_iter()
            .flatten()
            .find(|&i| i > 0 && i >= limit / 2)
            .unwrap_or(limit);
        let head = piece[..cut].trim_end();
        if !head.is_empty() {
            out.push(range.start..range.start + head.len());
        }
        let rest = &piece[cut..];
        let skipped = rest.len() - rest.trim_start().len();
        range = range.start + cut + skipped..range.end;
        if range.is_empty() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str, markdown: bool, max: usize) -> Vec<&str> {
        chunk(text, markdown, max)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn headings_start_passages_and_title_only_headings_stay_with_their_section() {
        let doc = "# Guide\n\n## Install\n\nRun it.\n\n## Use\n\nCall it.\nTwice.\n";
        assert_eq!(
            pieces(doc, true, 1500),
            [
                "# Guide\n\n## Install\n\nRun it.",
                "## Use\n\nCall it.\nTwice."
            ]
        );
        assert_eq!(first_heading(doc).as_deref(), Some("Guide"));
    }

    #[test]
    fn text_files_have_no_headings() {
        let doc = "# A\ntext\n# B\nmore\n";
        assert_eq!(pieces(doc, false, 1500), ["# A\ntext\n# B\nmore"]);
        assert_eq!(pieces(doc, true, 1500), ["# A\ntext", "# B\nmore"]);
    }

    #[test]
    fn fenced_code_keeps_blank_lines_and_hides_hash_lines() {
        let doc = "## Run\n\n```bash\n# comment\n\necho hi\n```\n\nAfter.\n";
        assert_eq!(pieces(doc, true, 1500), [doc.trim_end()]);
        assert_eq!(
            first_heading("```\n# no\n```\n## Yes ##\n").as_deref(),
            Some("Yes")
        );
    }

    #[test]
    fn paragraphs_pack_up_to_the_cap() {
        let para = "word ".repeat(50); // 250 chars with the trailing space
        let doc = [para.trim_end(); 10].join("\n\n");
        let out = pieces(&doc, true, 1000);
        assert!(out.len() >= 3, "{} pieces", out.len());
        assert!(out.iter().all(|p| p.chars().count() <= 1000));
        for p in &out[..out.len() - 1] {
            assert!(p.chars().count() > 500, "packing should fill passages");
        }
        let words: usize = out.iter().map(|p| p.split_whitespace().count()).sum();
        assert_eq!(words, 500, "no text lost or duplicated");
    }

    #[test]
    fn long_paragraphs_split_on_char_boundaries_within_the_cap() {
        // Multi-byte characters with no whitespace force hard cuts.
        let doc = "é✓🦀".repeat(700);
        let out = chunk(&doc, true, 1000);
        assert!(out.len() >= 3);
        for r in &out {
            let piece = &doc[r.clone()]; // would panic off a char boundary
            assert!(piece.chars().count() <= 1000);
        }
        let rejoined: String = out.iter().map(|r| &doc[r.clone()]).collect();
        assert_eq!(rejoined, doc);
        // With spaces, cuts land on them and nothing is lost.
        let spaced = "Ünïcödé wörds ".repeat(300);
        let out = pieces(&spaced, true, 1000);
        assert!(out
            .iter()
            .all(|p| p.chars().count() <= 1000 && !p.ends_with(' ')));
        let words: usize = out.iter().map(|p| p.split_whitespace().count()).sum();
        assert_eq!(words, 600);
    }

    #[test]
    fn blank_documents_have_no_passages() {
        assert!(chunk("", true, 1500).is_empty());
        assert!(chunk(" \n\n\t\n", true, 1500).is_empty());
    }
}
