//! Local knowledge base: BM25 over .md and .txt files, for trying the server without AWS.
//!
//! Owns opening a directory (`--local-kb DIR` / `KB_LOCAL_DIR`), indexing it once, and
//! answering [`KnowledgeBase`] calls with results shaped like Bedrock's. It must not touch the
//! network, and it never changes after [`LocalKb::open`] returns, so threads share it lock-free.
//!
//! Result shape (Bedrock has no "local file" location, so we add one):
//! - `location`: `{"type": "FILE", "uri": "<path relative to DIR, / separated>"}`.
//! - `metadata`: `x-amz-bedrock-kb-source-uri` (the same relative path),
//!   `x-amz-bedrock-kb-chunk-id` (`<relative path>#<passage number within the file>`), and
//!   `title` (the document's first markdown heading, when it has one).
//! - `score`: BM25 (k1 = 1.2, b = 0.75, Lucene's non-negative idf) divided by the most the
//!   query could score, `(k1 + 1) × Σ idf` over its distinct terms found in the corpus; so it
//!   lies in 0..1 and means roughly "how much of this query the passage matches, and how densely".
//!
//! Ranking: each passage is indexed together with its document's title, so a passage deep in a
//! long document still matches the document's topic (the returned text is the passage alone).
//! Ties go to the lower (relative path, passage number). Unusable files are skipped with a
//! warning; only an unusable directory is an error (see `walk`).
//!
//! Layout: `walk` finds and reads files, `chunk` splits them into passages, `index` scores.

mod chunk;
mod index;
mod walk;

use super::{
    filter, DocumentRef, DocumentText, KbError, KbInfo, KnowledgeBase, Location, Passage,
    Retrieval, Retrieve, Who,
};
use serde_json::{Map, Value};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{MAX_QUERY_CHARS, MAX_RESULTS};

/// The one data source of a local knowledge base, as results and read_document name it.
pub const DATA_SOURCE: &str = "local";

/// Caps that keep `open` quick and memory bounded whatever directory it is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Larger files are skipped with a warning.
    pub max_file_bytes: u64,
    /// A larger corpus is refused ([`LocalKbError::TooLarge`]).
    pub max_total_bytes: u64,
    /// More .md/.txt files than this is refused ([`LocalKbError::TooManyFiles`]).
    pub max_files: usize,
    /// More directory entries (of any kind) than this is refused ([`LocalKbError::TooManyEntries`]).
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_bytes: 8 << 20,
            max_total_bytes: 64 << 20,
            max_files: 20_000,
            max_entries: 500_000,
        }
    }
}

/// Why a local knowledge base could not be opened. Unusable single files are not errors:
/// they are skipped with a warning (see the `walk` module).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalKbError {
    /// The directory does not exist.
    Missing { dir: PathBuf },
    /// The path exists but is not a directory.
    NotADirectory { dir: PathBuf },
    /// The directory could not be read (permissions, I/O error).
    Unreadable { dir: PathBuf, reason: String },
    /// No .md or .txt file with searchable text was found.
    NoDocuments { dir: PathBuf, skipped: usize },
    /// The .md and .txt files add up to more than `limit` bytes.
    TooLarge { dir: PathBuf, limit: u64 },
    /// More than `limit` .md and .txt files.
    TooManyFiles { dir: PathBuf, limit: usize },
    /// More than `limit` entries to walk.
    TooManyEntries { dir: PathBuf, limit: usize },
}

impl fmt::Display for LocalKbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FIX: &str =
            "point --local-kb (or KB_LOCAL_DIR) at a folder that holds only your documents";
        match self {
            LocalKbError::Missing { dir } => write!(
                f,
                "local knowledge base directory {} does not exist: create it and add .md or .txt files, \
                 or pass --local-kb (or KB_LOCAL_DIR) an existing directory",
                dir.display()
            ),
            LocalKbError::NotADirectory { dir } => write!(
                f,
                "{} is not a directory: --local-kb (or KB_LOCAL_DIR) takes a directory of .md and .txt files",
                dir.display()
            ),
            LocalKbError::Unreadable { dir, reason } => write!(
                f,
                "cannot read local knowledge base directory {}: {reason}; check that this user may list it",
                dir.display()
            ),
            LocalKbError::NoDocuments { dir, skipped } => {
                write!(f, "no .md or .txt files with text found under {}", dir.display())?;
                if *skipped > 0 {
                    write!(f, " ({skipped} skipped, see the warnings above)")?;
                }
                write!(f, "; hidden files and folders are ignored: add documents, or {FIX}")
            }
            LocalKbError::TooLarge { dir, limit } => write!(
                f,
                "the .md and .txt files under {} add up to more than {}: {FIX} \
                 (the local index is for trying the server; use Bedrock for large corpora)",
                dir.display(),
                walk::mib(*limit)
            ),
            LocalKbError::TooManyFiles { dir, limit } => write!(
                f,
                "more than {limit} .md and .txt files under {}: {FIX}",
                dir.display()
            ),
            LocalKbError::TooManyEntries { dir, limit } => write!(
                f,
                "more than {limit} files and folders under {}: {FIX}",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for LocalKbError {}

/// One indexed document.
struct Doc {
    rel: String,
    title: Option<String>,
    text: String,
}

/// Where a passage's text lives.
struct PassageRef {
    doc: u32,
    chunk: u32,
    range: Range<usize>,
}

/// A BM25 index over the .md and .txt files of one directory, built once at open.
pub struct LocalKb {
    dir: String,
    name: Option<String>,
    docs: Vec<Doc>,
    passages: Vec<PassageRef>,
    index: index::Index,
}

impl fmt::Debug for LocalKb {
    // The corpus text would swamp any log line; say what it is instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKb")
            .field("dir", &self.dir)
            .field("files", &self.docs.len())
            .field("passages", &self.passages.len())
            .finish_non_exhaustive()
    }
}

impl LocalKb {
    /// Walks `dir`, reads its .md and .txt files and indexes them, with the default [`Limits`].
    pub fn open(dir: &Path) -> Result<LocalKb, LocalKbError> {
        LocalKb::open_with(dir, &Limits::default())
    }

    /// Like [`LocalKb::open`] with explicit limits.
    pub fn open_with(dir: &Path, limits: &Limits) -> Result<LocalKb, LocalKbError> {
        let started = std::time::Instant::now();
        let corpus = walk::load(dir, limits)?;
        let mut builder = index::IndexBuilder::default();
        let mut docs = Vec::new();
        let mut passages = Vec::new();
        for file in corpus.files {
            let doc = docs.len() as u32;
            let title = if file.markdown {
                chunk::first_heading(&file.text)
            } else {
                None
            };
            let context = title.as_deref().unwrap_or("");
            let mut chunk = 0;
            for range in chunk::chunk(&file.text, file.markdown, chunk::MAX_CHUNK_CHARS) {
                // Passages with no searchable words (a lone "---") could never be returned.
                if builder.add(&file.text[range.clone()], context) > 0 {
                    passages.push(PassageRef { doc, chunk, range });
                    chunk += 1;
                }
            }
            if chunk == 0 {
                log::debug!("local knowledge base: {} has no searchable text", file.rel);
                continue;
            }
            docs.push(Doc {
                rel: file.rel,
                title,
                text: file.text,
            });
        }
        if passages.is_empty() {
            let skipped = corpus.skipped;
            return Err(LocalKbError::NoDocuments {
                dir: dir.to_path_buf(),
                skipped,
            });
        }
        let kb = LocalKb {
            dir: dir.display().to_string(),
            name: dir_name(dir),
            docs,
            passages,
            index: builder.finish(),
        };
        log::info!(
            "local knowledge base {}: {} in {} ms",
            kb.dir,
            kb.summary(),
            started.elapsed().as_millis()
        );
        Ok(kb)
    }

    /// "N passages from M files", with the right plurals.
    fn summary(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let passages = plural(self.passages.len(), "passage");
        format!("{passages} from {}", plural(self.docs.len(), "file"))
    }

    fn passage(&self, hit: index::Hit) -> Passage {
        let p = &self.passages[hit.passage as usize];
        let doc = &self.docs[p.doc as usize];
        let mut metadata = Map::new();
        let source = Value::String(doc.rel.clone());
        metadata.insert("x-amz-bedrock-kb-source-uri".into(), source);
        let chunk_id = Value::String(format!("{}#{}", doc.rel, p.chunk));
        metadata.insert("x-amz-bedrock-kb-chunk-id".into(), chunk_id);
        if let Some(title) = &doc.title {
            metadata.insert("title".into(), Value::String(title.clone()));
        }
        Passage {
            text: doc.text[p.range.clone()].to_string(),
            content_type: "TEXT".into(),
            score: Some(hit.score),
            location: Some(Location {
                kind: "FILE".into(),
                uri: Some(doc.rel.clone()),
            }),
            metadata,
            document_id: Some(doc.rel.clone()),
            data_source_id: Some(DATA_SOURCE.into()),
            ..Passage::default()
        }
    }
}

/// The directory's own name, resolving "." and ".." through the file system.
fn dir_name(dir: &Path) -> Option<String> {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    name(dir).or_else(|| dir.canonicalize().ok().as_deref().and_then(name))
}

/// Refuses what Bedrock would refuse, with messages that say how to fix the call.
fn validate(query: &str, max_results: u32) -> Result<(), KbError> {
    if query.trim().is_empty() {
        return Err(KbError::InvalidRequest(
            "query must not be empty: pass the words or question to search for".into(),
        ));
    }
    // Bytes bound characters from above, so most queries skip the count.
    if query.len() > MAX_QUERY_CHARS {
        let chars = query.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(KbError::InvalidRequest(format!(
                "query is {chars} characters long; the limit is {MAX_QUERY_CHARS}: shorten it"
            )));
        }
    }
    if !(1..=MAX_RESULTS).contains(&max_results) {
        return Err(KbError::InvalidRequest(format!(
            "max_results must be between 1 and {MAX_RESULTS}, got {max_results}"
        )));
    }
    Ok(())
}

impl KnowledgeBase for LocalKb {
    fn retrieve(&self, query: &str, max_results: u32) -> Result<Retrieval, KbError> {
        validate(query, max_results)?;
        let hits = self.index.search(query, max_results as usize);
        Ok(Retrieval {
            results: hits.into_iter().map(|h| self.passage(h)).collect(),
            ..Retrieval::default()
        })
    }

    /// Filters are applied to each passage's metadata (source URI, chunk id, title) after
    /// ranking; there is no search type to choose and no access list to apply. Pages go by
    /// offset: the next token is `local:<passages already returned>`.
    fn retrieve_as(&self, r: &Retrieve<'_>) -> Result<Retrieval, KbError> {
        if r.search_type.is_some() {
            return Err(KbError::InvalidRequest(
                "search_type applies to Bedrock vector knowledge bases only; the local \
                 knowledge base has one (keyword) search: leave search_type out"
                    .into(),
            ));
        }
        validate(r.query, r.max_results)?;
        let offset = match r.next_token {
            None => 0,
            Some(t) => t
                .strip_prefix("local:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| {
                    KbError::InvalidRequest("next_page is not a local page token".into())
                })?,
        };
        let max = r.max_results as usize;
        let limit = match r.filter {
            None => offset.saturating_add(max + 1),
            Some(_) => usize::MAX,
        };
        let mut results: Vec<Passage> = self
            .index
            .search(r.query, limit)
            .into_iter()
            .map(|h| self.passage(h))
            .filter(|p| r.filter.is_none_or(|f| filter::matches(f, &p.metadata)))
            .skip(offset)
            .take(max + 1)
            .collect();
        let more = results.len() > max;
        results.truncate(max);
        Ok(Retrieval {
            results,
            next_token: more.then(|| format!("local:{}", offset + max)),
            ..Retrieval::default()
        })
    }

    fn can_read_documents(&self) -> bool {
        true
    }

    /// The file's whole text: `document_id` is its path as search results give it, and
    /// `data_source_id` is `local`.
    fn read_document(&self, d: &DocumentRef, _who: Who<'_>) -> Result<DocumentText, KbError> {
        if d.media_id.is_some() {
            return Err(KbError::InvalidRequest(
                "the local knowledge base has no embedded images: leave media_id out".into(),
            ));
        }
        if d.data_source_id != DATA_SOURCE {
            return Err(KbError::NotFound(format!(
                "the local knowledge base has one data source, {DATA_SOURCE:?}; got {:?}",
                d.data_source_id
            )));
        }
        let doc = self
            .docs
            .iter()
            .find(|doc| doc.rel == d.document_id)
            .ok_or_else(|| {
                KbError::NotFound(format!(
                "no file {:?} in the local knowledge base: pass the documentId of a search result",
                d.document_id
            ))
            })?;
        Ok(DocumentText {
            text: doc.text.clone(),
            title: doc.title.clone(),
            source_uri: Some(doc.rel.clone()),
        })
    }

    fn info(&self) -> KbInfo {
        KbInfo {
            backend: "local".into(),
            kb_id: self.dir.clone(),
            region: "local".into(),
            status: "ACTIVE".into(),
            name: self.name.clone(),
            description: Some(format!("{} (local BM25 index)", self.summary())),
            kb_type: "LOCAL".into(),
            type_source: None,
            note: None,
            ..KbInfo::default()
        }
    }
}

#[cfg(test)]
mod tests;
