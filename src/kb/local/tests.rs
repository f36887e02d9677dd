//! Tests of the whole local backend over real temporary directories and the shipped examples.

use super::*;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("bedrock-mcp-localkb-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> &TempDir {
        let path = self.0.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
        self
    }

    fn open(&self) -> Result<LocalKb, LocalKbError> {
        LocalKb::open(&self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn sources(r: &Retrieval) -> Vec<String> {
    r.results
        .iter()
        .map(|p| {
            p.metadata["x-amz-bedrock-kb-source-uri"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn search(kb: &LocalKb, query: &str) -> Vec<String> {
    sources(&kb.retrieve(query, 10).unwrap())
}

fn small_corpus() -> TempDir {
    let t = TempDir::new();
    t.write("lambda.md", "# AWS Lambda\n\nLambda runs your function code without servers. A Lambda function scales per request.\n")
        .write("ec2.md", "# EC2\n\nAn EC2 instance is a virtual server. Attach an IAM role through an instance profile.\n")
        .write("iam.txt", "IAM policies grant actions such as bedrock:Retrieve to a role or a function.\n");
    t
}

#[test]
fn local_kb_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LocalKb>();
}

#[test]
fn lambda_question_ranks_the_lambda_document_first() {
    let t = small_corpus();
    let kb = t.open().unwrap();
    let found = search(&kb, "How do I write an AWS Lambda function?");
    assert_eq!(found[0], "lambda.md");
    assert_eq!(search(&kb, "instance profile role")[0], "ec2.md");
}

#[test]
fn results_are_shaped_like_bedrock_chunks() {
    let t = small_corpus();
    t.write(
        "guides/deep/lambda-tips.md",
        "Intro without a heading.\n\n## Later\n\nlambda tip\n",
    );
    let kb = t.open().unwrap();
    let r = kb.retrieve("lambda function role", 10).unwrap();
    assert_eq!(r.upstream_ms, 0);
    assert!(r.results.len() >= 3);
    for p in &r.results {
        let score = p.score.unwrap();
        assert!(score > 0.0 && score < 1.0, "{score}");
        assert_eq!(p.content_type, "TEXT");
        let source = p.metadata["x-amz-bedrock-kb-source-uri"].as_str().unwrap();
        let location = p.location.as_ref().unwrap();
        assert_eq!(
            (location.kind.as_str(), location.uri.as_deref()),
            ("FILE", Some(source))
        );
        let chunk_id = p.metadata["x-amz-bedrock-kb-chunk-id"].as_str().unwrap();
        assert!(chunk_id.starts_with(&format!("{source}#")), "{chunk_id}");
    }
    let scores: Vec<f64> = r.results.iter().map(|p| p.score.unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let by_source = |s: &str| {
        r.results
            .iter()
            .find(|p| p.metadata["x-amz-bedrock-kb-source-uri"] == s)
            .unwrap()
    };
    assert_eq!(by_source("lambda.md").metadata["title"], "AWS Lambda");
    assert!(!by_source("iam.txt").metadata.contains_key("title"));
    // The title is the document's first heading, not the passage's own.
    let tip = by_source("guides/deep/lambda-tips.md");
    assert_eq!(tip.metadata["title"], "Later");
    assert_eq!(
        tip.metadata["x-amz-bedrock-kb-chunk-id"],
        "guides/deep/lambda-tips.md#1"
    );
    assert_eq!(tip.text, "## Later\n\nlambda tip");
}

#[test]
fn info_describes_the_directory() {
    let t = small_corpus();
    let kb = t.open().unwrap();
    let info = kb.info();
    let dir = t.0.display().to_string();
    let name = t.0.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        (info.backend.as_str(), info.kb_id.as_str()),
        ("local", dir.as_str())
    );
    assert_eq!(
        (info.region.as_str(), info.status.as_str()),
        ("local", "ACTIVE")
    );
    assert_eq!(info.name.as_deref(), Some(name.as_str()));
    let want = format!(
        "{} passages from 3 files (local BM25 index)",
        kb.passages.len()
    );
    assert_eq!(info.description.as_deref(), Some(want.as_str()));
    assert_eq!(info.note, None);
}

#[test]
fn hidden_files_and_folders_and_other_extensions_are_skipped() {
    let t = TempDir::new();
    t.write("visible/sub/doc.MD", "visible walrus\n")
        .write(".hidden.md", "secret narwhal\n")
        .write(".git/notes.md", "secret narwhal\n")
        .write("visible/.cache/x.txt", "secret narwhal\n")
        .write("notes.rst", "secret narwhal\n");
    let kb = t.open().unwrap();
    assert_eq!(search(&kb, "walrus"), ["visible/sub/doc.MD"]);
    assert!(search(&kb, "narwhal").is_empty());
    assert_eq!(kb.docs.len(), 1);
}

#[test]
fn non_utf8_and_oversized_files_are_skipped_not_fatal() {
    let t = TempDir::new();
    t.write("good.md", "okapi\n")
        .write("latin1.txt", b"caf\xe9 zebra\n")
        .write("big.md", format!("zebra {}", "x".repeat(200)));
    let limits = Limits {
        max_file_bytes: 100,
        ..Limits::default()
    };
    let kb = LocalKb::open_with(&t.0, &limits).unwrap();
    assert_eq!(search(&kb, "okapi"), ["good.md"]);
    assert!(search(&kb, "zebra").is_empty());
    // Nothing usable left: the error counts what was skipped.
    let bad = TempDir::new();
    bad.write("latin1.txt", b"caf\xe9\n");
    assert_eq!(
        bad.open().unwrap_err(),
        LocalKbError::NoDocuments {
            dir: bad.0.clone(),
            skipped: 1
        }
    );
}

#[test]
fn crlf_and_bom_are_normalized() {
    let t = TempDir::new();
    t.write(
        "win.txt",
        "\u{feff}first line\r\nsecond line\r\n\r\nnext para\r\n",
    );
    let kb = t.open().unwrap();
    let r = kb.retrieve("para", 1).unwrap();
    assert_eq!(r.results[0].text, "first line\nsecond line\n\nnext para");
}

#[test]
fn max_results_is_respected_and_ties_break_by_path_then_chunk() {
    let t = TempDir::new();
    for name in ["b.md", "a.md", "c/a.md"] {
        t.write(name, "## One\n\nshared words\n\n## Two\n\nshared words\n");
    }
    let kb = t.open().unwrap();
    let r = kb.retrieve("shared", 3).unwrap();
    let ids: Vec<&str> = r
        .results
        .iter()
        .map(|p| p.metadata["x-amz-bedrock-kb-chunk-id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a.md#0", "a.md#1", "b.md#0"]);
    assert!(
        r.results.windows(2).all(|w| w[0].score == w[1].score),
        "a real tie"
    );
    assert_eq!(kb.retrieve("shared", 100).unwrap().results.len(), 6);
    assert_eq!(kb.retrieve("shared", 1).unwrap().results.len(), 1);
}

#[test]
fn retrieve_validates_like_bedrock() {
    let t = small_corpus();
    let kb = t.open().unwrap();
    let invalid = |q: &str, n: u32| matches!(kb.retrieve(q, n), Err(KbError::InvalidRequest(_)));
    assert!(invalid("", 5));
    assert!(invalid(" \n\t", 5));
    assert!(invalid("lambda", 0));
    assert!(invalid("lambda", 101));
    assert!(invalid(&"λ".repeat(MAX_QUERY_CHARS + 1), 5));
    assert!(
        kb.retrieve(&"λ".repeat(MAX_QUERY_CHARS), 5).is_ok(),
        "the limit counts characters"
    );
    assert!(kb.retrieve("lambda", 1).is_ok() && kb.retrieve("lambda", 100).is_ok());
    // No matching terms (or only stopwords) is an empty answer, not an error.
    assert!(kb
        .retrieve("xylophone quokka", 5)
        .unwrap()
        .results
        .is_empty());
    assert!(kb.retrieve("what is the", 5).unwrap().results.is_empty());
}

#[test]
fn unusable_directories_are_errors_that_say_what_to_do() {
    let t = TempDir::new();
    assert_eq!(
        t.open().unwrap_err(),
        LocalKbError::NoDocuments {
            dir: t.0.clone(),
            skipped: 0
        }
    );
    t.write(".only-hidden.md", "text\n")
        .write("blank.md", "\n  \n")
        .write("rule.md", "---\n");
    assert!(matches!(
        t.open(),
        Err(LocalKbError::NoDocuments { skipped: 0, .. })
    ));

    let missing = t.0.join("nope");
    let err = LocalKb::open(&missing).unwrap_err();
    assert_eq!(
        err,
        LocalKbError::Missing {
            dir: missing.clone()
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&missing.display().to_string()) && msg.contains("--local-kb"),
        "{msg}"
    );

    t.write("file.md", "text\n");
    let file = t.0.join("file.md");
    assert_eq!(
        LocalKb::open(&file).unwrap_err(),
        LocalKbError::NotADirectory { dir: file }
    );
}

#[test]
fn corpus_caps_are_enforced() {
    let t = TempDir::new();
    for i in 0..5 {
        t.write(
            &format!("d{i}/f.md"),
            "fifty bytes of text, give or take a few words\n",
        );
    }
    let open = |limits: Limits| LocalKb::open_with(&t.0, &limits);
    let small = |f: fn(&mut Limits)| {
        let mut l = Limits::default();
        f(&mut l);
        l
    };
    assert!(matches!(
        open(small(|l| l.max_total_bytes = 200)),
        Err(LocalKbError::TooLarge { limit: 200, .. })
    ));
    assert!(matches!(
        open(small(|l| l.max_files = 4)),
        Err(LocalKbError::TooManyFiles { limit: 4, .. })
    ));
    assert!(matches!(
        open(small(|l| l.max_entries = 9)),
        Err(LocalKbError::TooManyEntries { limit: 9, .. })
    ));
    assert!(
        open(small(|l| l.max_entries = 10)).is_ok(),
        "5 dirs + 5 files = 10 entries"
    );
}

#[cfg(unix)]
#[test]
fn symlinked_folders_are_not_followed_but_symlinked_files_are() {
    use std::os::unix::fs::symlink;
    let t = TempDir::new();
    let outside = TempDir::new();
    outside.write("far.md", "faraway gazelle\n");
    t.write("sub/doc.md", "local ibex\n");
    symlink(&t.0, t.0.join("sub/loop")).unwrap();
    symlink(&outside.0, t.0.join("linked-dir")).unwrap();
    symlink(outside.0.join("far.md"), t.0.join("far-link.md")).unwrap();
    symlink(t.0.join("missing.md"), t.0.join("dangling.md")).unwrap();
    let kb = t.open().unwrap();
    assert_eq!(search(&kb, "ibex"), ["sub/doc.md"]);
    assert_eq!(search(&kb, "gazelle"), ["far-link.md"]);
}

#[test]
fn a_few_thousand_files_open_quickly() {
    let t = TempDir::new();
    for i in 0..2000 {
        let body = format!(
            "# Note {i}\n\nTopic{} shared text about deployment number {i}.\n",
            i % 50
        );
        t.write(&format!("n{}/note{i}.md", i % 20), body);
    }
    let started = std::time::Instant::now();
    let kb = t.open().unwrap();
    assert_eq!(kb.docs.len(), 2000);
    assert_eq!(
        kb.retrieve("topic7 deployment", 100).unwrap().results.len(),
        100
    );
    // Generous: only proves it does not crawl.
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn the_shipped_examples_open_and_answer_the_readme_question() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kb");
    let kb = LocalKb::open(&dir).unwrap();
    assert!((8..=12).contains(&kb.docs.len()), "{} files", kb.docs.len());
    let r = kb
        .retrieve(
            "Search the knowledge base for information about AWS Lambda",
            5,
        )
        .unwrap();
    assert_eq!(sources(&r)[0], "aws-lambda-basics.md");
    let all = kb
        .retrieve(
            "the server bedrock knowledge base aws lambda entra mcp",
            100,
        )
        .unwrap();
    assert!(all
        .results
        .iter()
        .all(|p| p.text.chars().count() <= chunk::MAX_CHUNK_CHARS));
}
