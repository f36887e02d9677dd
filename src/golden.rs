//! Golden files for unit tests: a test renders what it produced as JSON and compares it
//! with a file checked in beside the code, so a change in behaviour shows up as a diff to
//! review rather than as a second implementation to keep in step. `UPDATE_GOLDEN=1 cargo
//! test --lib` rewrites the files instead of comparing. Test-only (`#[cfg(test)]`).

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Strings longer than this are stored as their length, start and a hash, so a golden file
/// stays readable when a case carries megabytes of image data.
const LONG: usize = 240;

/// Compares `cases` (label → produced value) with the golden file at `path` (relative to the
/// crate root), or rewrites it when `UPDATE_GOLDEN=1`. One case per line, in label order.
pub(crate) fn check(path: &str, cases: Vec<(String, Value)>) {
    let file = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let mut produced = Map::new();
    for (label, value) in cases {
        let value = shorten(value);
        assert!(
            produced.insert(label.clone(), value).is_none(),
            "duplicate case {label}"
        );
    }
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        let mut text = String::from("{\n");
        let n = produced.len();
        for (i, (label, value)) in produced.iter().enumerate() {
            let comma = if i + 1 < n { "," } else { "" };
            let _ = writeln!(text, "  {}: {value}{comma}", Value::from(label.as_str()));
        }
        text.push_str("}\n");
        std::fs::write(&file, text).unwrap();
        return;
    }
    let hint =
        "if the change is intended, run `UPDATE_GOLDEN=1 cargo test --lib` and review the diff";
    let stored = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}; {hint}"));
    let Value::Object(stored) = serde_json::from_str(&stored).unwrap() else {
        panic!("{file} is not a JSON object; {hint}")
    };
    for (label, value) in &produced {
        match stored.get(label) {
            None => panic!("{file} has no case {label}; {hint}"),
            Some(old) => assert!(
                old == value,
                "{file}, case {label}:\n  golden:   {old}\n  produced: {value}\n{hint}"
            ),
        }
    }
    for label in stored.keys() {
        assert!(
            produced.contains_key(label),
            "{file} has a case no test produces: {label}; {hint}"
        );
    }
}

/// `value` with every long string replaced by `<N chars: start… #hash>`.
fn shorten(value: Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > LONG => {
            let start: String = s.chars().take(24).collect();
            // FNV-1a: any change to the string changes the stored form.
            let hash = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            Value::String(format!(
                "<{} chars: {start}… #{hash:016x}>",
                s.chars().count()
            ))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(shorten).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, shorten(v))).collect())
        }
        v => v,
    }
}
