//! With one integration-test binary (`autotests = false`), a test file that no module list
//! names would never compile or run. Every `tests/*.rs` must be a module of
//! `tests/integration.rs`, and every `tests/hardening/*.rs` one of `tests/hardening/mod.rs`.

use std::path::Path;

/// The `.rs` files directly in `dir` (without extension), but `except`.
fn files(dir: &Path, except: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().ok()?;
            let stem = name.strip_suffix(".rs")?.to_string();
            (stem != except).then_some(stem)
        })
        .collect();
    names.sort();
    names
}

fn assert_listed(dir: &str, root: &str, except: &str) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let list = std::fs::read_to_string(base.join(root)).unwrap();
    for name in files(&base.join(dir), except) {
        assert!(
            list.lines().any(|l| l.trim() == format!("mod {name};")),
            "{dir}/{name}.rs is not listed in {root}, so it never runs: add `mod {name};` there \
             (and use `use crate::support;` in it, not `mod support;`)"
        );
    }
}

#[test]
fn every_test_file_is_a_module_of_the_one_test_binary() {
    assert_listed("tests", "tests/integration.rs", "integration");
    assert_listed("tests/hardening", "tests/hardening/mod.rs", "mod");
}
