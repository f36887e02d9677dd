//! `.env.example` is the one annotated list of settings: every variable the configuration
//! reads (a quoted upper-case name in the non-test code of `src/config/`, where every
//! setting is read through `Vars`) is listed there as `NAME=` (commented out or not), and
//! every name listed there is read by the server or named below as read by another tool.

use std::collections::BTreeSet;
use std::path::Path;

/// Names `.env.example` lists for tools other than the server, each checked to be read there.
const OTHER_TOOLS: [(&str, &str); 3] = [
    ("ECR_REGISTRY", "docker-compose.ecr.yml"),
    ("ECR_REPOSITORY", "docker-compose.ecr.yml"),
    ("IMAGE_TAG", "docker-compose.ecr.yml"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir` but unit-test files, with any `#[cfg(test)] mod tests { … }`
/// (always the end of a file here) cut off.
fn config_sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            config_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]\nmod tests {") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            out.push((path.display().to_string(), code));
        }
    }
}

/// A setting's name: upper-case letters, digits and underscores, starting with a letter.
fn is_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Quoted names in `code`: ones with an underscore anywhere (no other quoted upper-case
/// strings with one occur in config), and any name passed straight to a `Vars` reader.
fn names_read(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, piece) in code.split('"').enumerate().filter(|(i, _)| i % 2 == 1) {
        let before = code.split('"').nth(i - 1).unwrap_or_default();
        let via_vars = [".get(", ".flag(", ".number("]
            .iter()
            .any(|call| before.trim_end().ends_with(call));
        if is_name(piece) && (piece.contains('_') || via_vars) {
            names.insert(piece.to_string());
        }
    }
    names
}

fn names_documented() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join(".env.example")).unwrap();
    text.lines()
        .filter_map(|l| {
            let l = l.strip_prefix("# ").unwrap_or(l);
            let (name, _) = l.split_once('=')?;
            is_name(name).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn every_setting_the_config_reads_is_documented_and_every_documented_one_is_read() {
    let mut sources = Vec::new();
    config_sources(&root().join("src/config"), &mut sources);
    let mut read = BTreeSet::new();
    for (_, code) in &sources {
        read.extend(names_read(code));
    }
    assert!(
        read.contains("BEDROCK_KB_ID") && read.contains("ENABLE_AUTH"),
        "{read:?}"
    );
    let documented = names_documented();
    let missing: Vec<_> = read.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "read by src/config but missing from .env.example (add each, annotated, with its default): {missing:?}"
    );
    for (name, tool) in OTHER_TOOLS {
        let used = std::fs::read_to_string(root().join(tool)).unwrap();
        assert!(
            used.contains(name),
            "{name} is no longer read by {tool}: drop it from OTHER_TOOLS and .env.example"
        );
    }
    let stale: Vec<_> = documented
        .iter()
        .filter(|n| !read.contains(*n) && !OTHER_TOOLS.iter().any(|(o, _)| o == n))
        .collect();
    assert!(
        stale.is_empty(),
        ".env.example lists settings nothing reads any more (remove them): {stale:?}"
    );
}

#[test]
fn the_scan_finds_names_read_through_vars_and_through_helpers() {
    let code = r#"let a = vars.get("PORT"); let b = vars.number("MAX_X", 1, 0, 2)?;
        let var = "AWS_CONTAINER_X"; let level = "INFO";"#;
    let found: Vec<String> = names_read(code).into_iter().collect();
    assert_eq!(found, ["AWS_CONTAINER_X", "MAX_X", "PORT"]);
}
