//! Tests for Bedrock settings and their validation errors.

use super::*;

fn settings(pairs: &[(&str, &str)]) -> Result<RetrieveSettings, ConfigError> {
    retrieve_settings(&Vars::from_pairs(pairs.iter().copied()), "eu-west-1")
}

fn env(extra: &[(&str, &str)]) -> Vars {
    Vars::with_test_keys(extra)
}

fn bedrock(vars: &Vars, kb_id: &str, region: &str) -> Result<BedrockSettings, ConfigError> {
    BedrockSettings::from_vars(vars, vec![kb_id.to_string()], region)
}

#[test]
fn endpoints_follow_sdk_precedence() {
    let s = bedrock(&env(&[]), "KB12345678", "eu-west-1").unwrap();
    assert_eq!(
        s.runtime.base,
        "https://bedrock-agent-runtime.eu-west-1.amazonaws.com"
    );
    assert_eq!(s.agent.host, "bedrock-agent.eu-west-1.amazonaws.com");
    let vars = env(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
        (
            "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME",
            "http://localhost:9001",
        ),
    ]);
    let s = bedrock(&vars, "KBTEST0001", "us-east-1").unwrap();
    assert_eq!(
        (s.runtime.base.as_str(), s.runtime.host.as_str()),
        ("http://localhost:9001", "localhost:9001")
    );
    assert_eq!(
        (s.agent.base.as_str(), s.agent.host.as_str()),
        ("http://127.0.0.1:9000", "127.0.0.1:9000")
    );
    let s = bedrock(
        &env(&[("AWS_ENDPOINT_URL", "https://h.example:443")]),
        "KBTEST0001",
        "eu-west-1",
    )
    .unwrap();
    assert_eq!(s.agent.host, "h.example");
}

#[test]
fn refuses_bad_bedrock_settings_naming_the_variable() {
    // (extra settings, kb id, region, the variable the error must name)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);
    let cases: [Case<'_>; 8] = [
        (&[], "kb-1", "eu-west-1", "BEDROCK_KB_ID"),
        (&[], "KB12345678901", "eu-west-1", "BEDROCK_KB_ID"),
        (&[], "KBTEST0001", "EU WEST", "AWS_REGION"),
        (
            &[("AWS_ENDPOINT_URL", "ftp://x")],
            "KBTEST0001",
            "eu-west-1",
            "AWS_ENDPOINT_URL",
        ),
        (
            &[("AWS_ENDPOINT_URL_BEDROCK_AGENT", "http://h/?a=1")],
            "KBTEST0001",
            "eu-west-1",
            "AWS_ENDPOINT_URL_BEDROCK_AGENT",
        ),
        (
            &[("BEDROCK_TIMEOUT_SECS", "0")],
            "KBTEST0001",
            "eu-west-1",
            "BEDROCK_TIMEOUT_SECS",
        ),
        (
            &[("BEDROCK_MAX_ATTEMPTS", "11")],
            "KBTEST0001",
            "eu-west-1",
            "BEDROCK_MAX_ATTEMPTS",
        ),
        (
            &[("BEDROCK_KB_TYPE", "graph")],
            "KBTEST0001",
            "eu-west-1",
            "BEDROCK_KB_TYPE",
        ),
    ];
    for (extra, kb, region, var) in cases {
        let e = bedrock(&env(extra), kb, region).unwrap_err();
        assert_eq!(e.var, var, "{e}");
    }
    let e = bedrock(
        &Vars::from_pairs([("AWS_EC2_METADATA_DISABLED", "true")]),
        "KBTEST0001",
        "eu-west-1",
    )
    .unwrap_err();
    assert!(e.to_string().contains("no AWS credentials found"), "{e}");
}

#[test]
fn kb_ids_are_checked_once_each() {
    assert_eq!(
        kb_ids("KBTEST000A, arn:aws:bedrock:eu-west-1:123456789012:knowledge-base/KBTEST000B")
            .unwrap(),
        ["KBTEST000A", "KBTEST000B"]
    );
    assert_eq!(
        kb_ids("arn:aws-cn:bedrock:cn-north-1:123456789012:knowledge-base/ABCDEFGHIJ").unwrap(),
        ["ABCDEFGHIJ"]
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("KBTEST00{i:02}")).collect();
    for bad in [
        "",
        "A1",
        "KBTEST000A,,KBTEST000B",
        "KBTEST000A,KBTEST000A",
        "KBTEST000A,arn:aws:bedrock:eu-west-1:123456789012:knowledge-base/KBTEST000A",
        "has-dash01",
        "ABCDEFGHIJK",
        "ABCDEFGHI",
        "arn:aws:bedrock:EU-WEST-1:123456789012:knowledge-base/KBTEST000A",
        "arn:aws:bedrock:eu-west-1:12345678901:knowledge-base/KBTEST000A",
        "arn:aws:bedrock:eu-west-1:123456789012:knowledge-base/KBTEST00A",
        "arn:aws:s3:eu-west-1:123456789012:knowledge-base/KBTEST000A",
        "arn:awsx:bedrock:eu-west-1:123456789012:knowledge-base/KBTEST000A",
        &eleven.join(","),
    ] {
        assert_eq!(kb_ids(bad).unwrap_err().var, "BEDROCK_KB_ID", "{bad:?}");
    }
}

#[test]
fn reads_the_kb_type() {
    let kind = |raw: &str| kb_type(&Vars::from_pairs([("BEDROCK_KB_TYPE", raw)]));
    assert_eq!(kb_type(&Vars::default()).unwrap(), KbType::Auto);
    assert_eq!(kind("MANAGED").unwrap(), KbType::Managed);
    assert_eq!(kind("vector").unwrap(), KbType::Vector);
    assert_eq!(kind("kendra").unwrap(), KbType::Vector);
    let e = kind("graph").unwrap_err();
    assert_eq!(e.var, "BEDROCK_KB_TYPE");
    assert!(e.to_string().contains("auto"), "{e}");
}

#[test]
fn reads_rerank_and_guardrail_settings() {
    let s = settings(&[]).unwrap();
    assert_eq!(
        (s.rerank, s.rerank_results, s.guardrail),
        (Rerank::Default, None, None)
    );
    let s = settings(&[
        ("BEDROCK_RERANK_MODEL", "cohere.rerank-v3-5:0"),
        ("BEDROCK_RERANK_RESULTS", "4"),
    ])
    .unwrap();
    assert_eq!(
        s.rerank_model(),
        Some("arn:aws:bedrock:eu-west-1::foundation-model/cohere.rerank-v3-5:0")
    );
    assert_eq!(s.rerank_results, Some(4));
    let cn = retrieve_settings(
        &Vars::from_pairs([("BEDROCK_RERANK_MODEL", "amazon.rerank-v1:0")]),
        "cn-north-1",
    )
    .unwrap();
    assert!(cn
        .rerank_model()
        .unwrap()
        .starts_with("arn:aws-cn:bedrock:cn-north-1::"));
    assert_eq!(
        settings(&[("BEDROCK_RERANK_MODEL", "NONE")])
            .unwrap()
            .rerank,
        Rerank::Off
    );
    let s = settings(&[
        ("BEDROCK_GUARDRAIL_ID", "gr1abc"),
        ("BEDROCK_GUARDRAIL_VERSION", "DRAFT"),
    ])
    .unwrap();
    assert_eq!(s.guardrail, Some(("gr1abc".into(), "DRAFT".into())));
}

#[test]
fn refuses_bad_settings_naming_the_variable() {
    for (pairs, var) in [
        (
            &[("BEDROCK_RERANK_MODEL", "rerank me")][..],
            "BEDROCK_RERANK_MODEL",
        ),
        (
            &[("BEDROCK_RERANK_MODEL", "arn:aws:s3:::bucket")][..],
            "BEDROCK_RERANK_MODEL",
        ),
        (
            &[("BEDROCK_RERANK_RESULTS", "3")][..],
            "BEDROCK_RERANK_RESULTS",
        ),
        (
            &[
                ("BEDROCK_RERANK_MODEL", "amazon.rerank-v1:0"),
                ("BEDROCK_RERANK_RESULTS", "0"),
            ][..],
            "BEDROCK_RERANK_RESULTS",
        ),
        (
            &[
                ("BEDROCK_GUARDRAIL_ID", "GR-1"),
                ("BEDROCK_GUARDRAIL_VERSION", "1"),
            ][..],
            "BEDROCK_GUARDRAIL_ID",
        ),
        (
            &[
                ("BEDROCK_GUARDRAIL_ID", "gr1"),
                ("BEDROCK_GUARDRAIL_VERSION", "01"),
            ][..],
            "BEDROCK_GUARDRAIL_VERSION",
        ),
        (
            &[
                ("BEDROCK_GUARDRAIL_ID", "gr1"),
                ("BEDROCK_GUARDRAIL_VERSION", "123456"),
            ][..],
            "BEDROCK_GUARDRAIL_VERSION",
        ),
        (
            &[
                ("BEDROCK_GUARDRAIL_ID", "gr1"),
                ("BEDROCK_GUARDRAIL_VERSION", "draft"),
            ][..],
            "BEDROCK_GUARDRAIL_VERSION",
        ),
        (
            &[(
                "BEDROCK_RERANK_MODEL",
                "arn:aws:bedrock:EU-WEST-1::foundation-model/amazon.rerank-v1:0",
            )][..],
            "BEDROCK_RERANK_MODEL",
        ),
        (
            &[(
                "BEDROCK_RERANK_MODEL",
                "arn:aws:bedrock:eu-west-1:123456789012:foundation-model/amazon.rerank-v1:0",
            )][..],
            "BEDROCK_RERANK_MODEL",
        ),
    ] {
        let e = settings(pairs).unwrap_err();
        assert_eq!(e.var, var, "{pairs:?}: {e}");
    }
    let e = settings(&[("BEDROCK_GUARDRAIL_ID", "gr1")]).unwrap_err();
    assert!(e.to_string().contains("set both"), "{e}");
}

#[test]
fn guardrail_versions_and_rerank_arns_follow_the_service_model() {
    for ok in ["1", "9", "12345", "DRAFT"] {
        assert!(is_guardrail_version(ok), "{ok}");
    }
    for bad in ["", "0", "01", "123456", "draft", "1.0", " 1"] {
        assert!(!is_guardrail_version(bad), "{bad:?}");
    }
    for ok in [
        "arn:aws:bedrock:eu-west-1::foundation-model/amazon.rerank-v1:0",
        "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/cohere.rerank-v3-5:0",
        "arn:aws:bedrock:eu-west-1::foundation-model/",
    ] {
        assert!(is_rerank_arn(ok), "{ok}");
    }
    for bad in [
        "arn:aws:bedrock:Eu-west-1::foundation-model/x",
        "arn:aws:bedrock:eu-west-1:1:foundation-model/x",
        "arn:aws-:bedrock:eu-west-1::foundation-model/x",
        "arn:aws:bedrock:eu-west-1::foundation-model/x\ny",
        "arn:aws:bedrock:a-region-name-too-long-1::foundation-model/x",
    ] {
        assert!(!is_rerank_arn(bad), "{bad:?}");
    }
}
