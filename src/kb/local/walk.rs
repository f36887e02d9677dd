//! Finding and reading the corpus: a bounded walk of the directory for .md and .txt files.
//! Owns the file-system rules (hidden entries, symlinks, size caps, UTF-8); it does not
//! chunk or index.
//!
//! Policy: a file that cannot be used (unreadable, not UTF-8, over the per-file cap) is skipped
//! with a warning, so one odd file does not stop the server; a corpus over the total cap, or
//! a tree too big to walk, is an error, because silently indexing part of it would mislead.

use super::{Limits, LocalKbError};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// One readable document.
#[derive(Debug)]
pub struct SourceFile {
    /// The path relative to the corpus root, `/`-separated.
    pub rel: String,
    /// The text, without a BOM, with `\n` line endings.
    pub text: String,
    /// Whether to look for markdown headings (.md).
    pub markdown: bool,
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Corpus {
    /// Readable documents, sorted by relative path.
    pub files: Vec<SourceFile>,
    /// How many .md/.txt files were skipped (with a warning each).
    pub skipped: usize,
}

/// Walks `root` (not following symlinked directories, skipping names that start with `.`)
/// and reads every .md and .txt file within `limits`.
pub fn load(root: &Path, limits: &Limits) -> Result<Corpus, LocalKbError> {
    let dir = root.to_path_buf();
    match fs::metadata(root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LocalKbError::Missing { dir }),
        Err(e) => {
            return Err(LocalKbError::Unreadable {
                dir,
                reason: e.to_string(),
            })
        }
        Ok(m) if !m.is_dir() => return Err(LocalKbError::NotADirectory { dir }),
        Ok(_) => {}
    }
    let mut found = find(root, limits)?;
    found.sort();
    let mut corpus = Corpus::default();
    let mut total: u64 = 0;
    for (rel, path) in found {
        match read_text(&path, limits.max_file_bytes) {
            Ok(text) => {
                total += text.len() as u64;
                if total > limits.max_total_bytes {
                    let limit = limits.max_total_bytes;
                    return Err(LocalKbError::TooLarge { dir, limit });
                }
                let markdown = !has_extension(&rel, "txt");
                corpus.files.push(SourceFile {
                    rel,
                    text: normalize(text),
                    markdown,
                });
            }
            Err(reason) => {
                log::warn!("local knowledge base: skipping {rel}: {reason}");
                corpus.skipped += 1;
            }
        }
    }
    Ok(corpus)
}

/// Lists candidate files as (relative path, full path), in no particular order.
fn find(root: &Path, limits: &Limits) -> Result<Vec<(String, PathBuf)>, LocalKbError> {
    let mut found = Vec::new();
    let mut entries = 0usize;
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((path, rel)) = stack.pop() {
        let listing = match fs::read_dir(&path) {
            Ok(listing) => listing,
            Err(e) if rel.is_empty() => {
                let dir = root.to_path_buf();
                return Err(LocalKbError::Unreadable {
                    dir,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                log::warn!("local knowledge base: skipping directory {rel}: {e}");
                continue;
            }
        };
        for entry in listing.flatten() {
            entries += 1;
            if entries > limits.max_entries {
                let (dir, limit) = (root.to_path_buf(), limits.max_entries);
                return Err(LocalKbError::TooManyEntries { dir, limit });
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push((entry.path(), child_rel));
                continue;
            }
            if !(has_extension(&child_rel, "md") || has_extension(&child_rel, "txt")) {
                continue;
            }
            // Symlinked files are followed; symlinked directories never are (no loops), and
            // fs::metadata's is_file() also keeps out FIFOs and devices that would block or never end.
            if kind.is_file()
                || (kind.is_symlink() && fs::metadata(entry.path()).is_ok_and(|m| m.is_file()))
            {
                found.push((child_rel, entry.path()));
                if found.len() > limits.max_files {
                    let (dir, limit) = (root.to_path_buf(), limits.max_files);
                    return Err(LocalKbError::TooManyFiles { dir, limit });
                }
            }
        }
    }
    Ok(found)
}

fn has_extension(rel: &str, ext: &str) -> bool {
    Path::new(rel)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Reads a file of at most `max` bytes as UTF-8; the error says why it was not usable.
fn read_text(path: &Path, max: u64) -> Result<String, String> {
    let too_big = || format!("larger than the {} per-file limit", mib(max));
    let file = fs::File::open(path).map_err(|e| e.to_string())?;
    if file.metadata().map_err(|e| e.to_string())?.len() > max {
        return Err(too_big());
    }
    // Bounded read: the file may grow after the size check.
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        format!("not valid UTF-8 (first bad byte at offset {at}); convert it to UTF-8 to index it")
    })
}

/// Drops a BOM and turns CRLF and lone CR into LF, so chunking sees one kind of line break.
fn normalize(text: String) -> String {
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    }
}

/// A byte count for messages, e.g. "8 MiB" or "300 bytes".
pub fn mib(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_strips_bom_and_unifies_line_breaks() {
        assert_eq!(normalize("\u{feff}a\r\nb\rc\n".to_string()), "a\nb\nc\n");
        assert_eq!(normalize("plain\n".to_string()), "plain\n");
    }

    #[test]
    fn extensions_match_case_insensitively() {
        assert!(has_extension("a/B.MD", "md"));
        assert!(has_extension("notes.Txt", "txt"));
        assert!(!has_extension("md", "md"));
        assert!(!has_extension("x.markdown", "md"));
    }

    #[test]
    fn sizes_read_well_in_messages() {
        assert_eq!(mib(64 << 20), "64 MiB");
        assert_eq!(mib(300), "300 bytes");
    }
}
