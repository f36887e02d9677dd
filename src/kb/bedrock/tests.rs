//! Tests for the Bedrock knowledge-base backend.

use super::*;

fn env(extra: &[(&str, &str)]) -> Vars {
    Vars::with_test_keys(extra)
}

#[test]
fn one_client_per_id_sharing_the_settings() {
    let vars = env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    let settings = BedrockSettings::from_vars(
        &vars,
        vec!["KBTEST0001".into(), "KBTEST0002".into()],
        "us-east-1",
    )
    .unwrap();
    let kbs = BedrockKb::for_settings(&settings);
    let ids: Vec<&str> = kbs.iter().map(|kb| kb.client.kb_id.as_str()).collect();
    assert_eq!(ids, ["KBTEST0001", "KBTEST0002"]);
    assert!(Arc::ptr_eq(&kbs[0].client.chain, &kbs[1].client.chain));
    assert_eq!(kbs[1].runtime.host, "127.0.0.1:9");
    assert_eq!(kbs[1].client.region, "us-east-1");
    let e = BedrockKb::from_vars(&vars, "kb-1", "eu-west-1").unwrap_err();
    assert_eq!(e.var, "BEDROCK_KB_ID");
}

#[test]
fn document_ids_become_one_encoded_path_segment() {
    assert_eq!(
        path_segment("Salary bands/2026 – Ü.xlsx"),
        "Salary%20bands%2F2026%20%E2%80%93%20%C3%9C.xlsx"
    );
    assert_eq!(path_segment("a-b_c~d.e"), "a-b_c~d.e");
    assert_eq!(path_segment(".."), "%2E%2E");
    assert_eq!(path_segment("s3://b/k?x#y"), "s3%3A%2F%2Fb%2Fk%3Fx%23y");
    let doc = |id: &str, ds: &str, media: Option<&str>| DocumentRef {
        document_id: id.into(),
        data_source_id: ds.into(),
        media_id: media.map(str::to_string),
    };
    assert!(check_document(&doc(
        "x",
        "DS1",
        Some("0f8fad5b-d9cb-469f-a165-70867728950e")
    ))
    .is_ok());
    for ok in [
        "policies/travel handbook 2026.pdf",
        "Zürich – 日本語 🙂.docx",
        "a\u{00A0}b",
    ] {
        assert!(check_document(&doc(ok, "DS1", None)).is_ok(), "{ok}");
    }
    for bad in [
        doc("", "DS1", None),
        doc(&"x".repeat(1826), "DS1", None),
        doc("a\nb", "DS1", None),
        // Format (Cf) and private-use (Co) characters and noncharacters: the model's ^\P{C}*$.
        doc("salary\u{200B}review.docx", "DS1", None),
        doc("\u{FEFF}bom.txt", "DS1", None),
        doc("rtl\u{202E}gpj.exe", "DS1", None),
        doc("private\u{E000}.pdf", "DS1", None),
        doc("non\u{FFFF}char", "DS1", None),
        doc("tag\u{E0041}", "DS1", None),
        doc("x", "", None),
        doc("x", "DS-1", None),
        doc("x", "DS12345678901", None),
        doc("x", "DS1", Some("0f8fad5b")),
    ] {
        assert!(
            matches!(check_document(&bad), Err(KbError::InvalidRequest(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn checks_input_before_sending() {
    // Port 9 on loopback is never served here; a sent request would fail differently.
    let vars = env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    let kb = BedrockKb::from_vars(&vars, "KBTEST0001", "eu-west-1").unwrap();
    for (q, n) in [("  ", 5), ("ok", 0), ("ok", 101)] {
        assert!(
            matches!(kb.retrieve(q, n), Err(KbError::InvalidRequest(_))),
            "{q:?} {n}"
        );
    }
    let long = "é".repeat(MAX_QUERY_CHARS + 1);
    let e = kb.retrieve(&long, 5).unwrap_err();
    assert!(
        matches!(&e, KbError::InvalidRequest(m) if m.contains("20,000")),
        "{e}"
    );
    let dbg = format!("{kb:?}");
    assert!(
        dbg.contains("KBTEST0001") && !dbg.contains("\"s\""),
        "{dbg}"
    );
}
