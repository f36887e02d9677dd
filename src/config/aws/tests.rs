//! Tests for AWS settings: region, credentials source and their errors.

use super::*;

fn source(pairs: &[(&str, &str)]) -> Result<Option<CredentialSource>, ConfigError> {
    credential_source(&Vars::from_pairs(pairs.iter().copied()))
}

fn imds_endpoint(pairs: &[(&str, &str)]) -> Result<String, ConfigError> {
    match source(pairs)? {
        Some(CredentialSource::Imds { endpoint, .. }) => Ok(endpoint),
        other => panic!("not IMDS: {other:?}"),
    }
}

#[test]
fn picks_sources_in_sdk_order() {
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIA1"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];
    let container = ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds");
    let both = [env[0], env[1], container];
    assert!(matches!(
        source(&both),
        Ok(Some(CredentialSource::Environment { .. }))
    ));
    let disabled = ("AWS_EC2_METADATA_DISABLED", "true");
    assert!(matches!(
        source(&[container, disabled]),
        Ok(Some(CredentialSource::Container { ref url, token: None }))
            if url == "http://169.254.170.2/v2/creds"
    ));
    assert_eq!(source(&[disabled]), Ok(None));
    let e = credentials(&Vars::from_pairs([disabled])).unwrap_err();
    assert!(e.to_string().starts_with("no AWS credentials found"), "{e}");
}

#[test]
fn half_set_keys_and_bad_flags_name_the_variable() {
    for (pairs, var) in [
        (
            vec![("AWS_ACCESS_KEY_ID", "AKIA1")],
            "AWS_SECRET_ACCESS_KEY",
        ),
        (vec![("AWS_SECRET_ACCESS_KEY", "x")], "AWS_ACCESS_KEY_ID"),
        (
            vec![("AWS_EC2_METADATA_DISABLED", "maybe")],
            "AWS_EC2_METADATA_DISABLED",
        ),
        (
            vec![("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/x")],
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        ),
    ] {
        assert_eq!(source(&pairs).unwrap_err().var, var, "{pairs:?}");
    }
}

#[test]
fn full_uri_over_http_must_stay_local() {
    for ok in [
        "http://127.0.0.1:9911/creds",
        "http://localhost/creds",
        "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials",
        "http://[::1]:80/x",
        "https://creds.example.com/x",
    ] {
        assert!(
            source(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", ok)]).is_ok(),
            "{ok}"
        );
    }
    for bad in [
        "http://10.0.0.5/creds",
        "http://evil.example.com/",
        "ftp://127.0.0.1/",
        "nope",
    ] {
        let e = source(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", bad)]).unwrap_err();
        assert_eq!(e.var, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "{bad}");
    }
}

#[test]
fn debug_redacts_keys_and_an_inline_token() {
    let keys = source(&[
        ("AWS_ACCESS_KEY_ID", "AKIAENV"),
        ("AWS_SECRET_ACCESS_KEY", "topsecret"),
        ("AWS_SESSION_TOKEN", "sessiontok"),
    ])
    .unwrap();
    let container = source(&[
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/x"),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "very-secret-token"),
    ])
    .unwrap();
    let dbg = format!("{keys:?} {container:?}");
    for secret in ["topsecret", "sessiontok", "very-secret-token"] {
        assert!(!dbg.contains(secret), "{dbg}");
    }
    assert!(dbg.contains("redacted"), "{dbg}");
}

#[test]
fn imds_endpoint_defaults_and_overrides() {
    assert_eq!(imds_endpoint(&[]).unwrap(), "http://169.254.169.254");
    assert_eq!(
        imds_endpoint(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")]).unwrap(),
        "http://[fd00:ec2::254]"
    );
    assert_eq!(
        imds_endpoint(&[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "http://127.0.0.1:1234/"
        )])
        .unwrap(),
        "http://127.0.0.1:1234"
    );
    assert!(imds_endpoint(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254")]).is_err());
    assert!(imds_endpoint(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "v5")]).is_err());
}

#[test]
fn imds_timeout_and_attempts_default_as_the_sdks_and_are_checked() {
    let imds = |pairs: &[(&str, &str)]| match source(pairs) {
        Ok(Some(CredentialSource::Imds {
            timeout, attempts, ..
        })) => Ok((timeout, attempts)),
        Ok(other) => panic!("not IMDS: {other:?}"),
        Err(e) => Err(e.var),
    };
    assert_eq!(imds(&[]), Ok((Duration::from_secs(1), 1)));
    assert_eq!(
        imds(&[
            ("AWS_METADATA_SERVICE_TIMEOUT", "5"),
            ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "3")
        ]),
        Ok((Duration::from_secs(5), 3))
    );
    for (var, bad) in [
        ("AWS_METADATA_SERVICE_TIMEOUT", "0"),
        ("AWS_METADATA_SERVICE_TIMEOUT", "0.5"),
        ("AWS_METADATA_SERVICE_TIMEOUT", "61"),
        ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "0"),
        ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "11"),
    ] {
        assert_eq!(imds(&[(var, bad)]), Err(var.to_string()), "{var}={bad}");
    }
}

#[test]
fn web_identity_comes_after_keys_and_before_the_container() {
    let file = (
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
    );
    let role = ("AWS_ROLE_ARN", "arn:aws:iam::111122223333:role/bedrock-mcp");
    let container = ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds");
    let keys = [
        ("AWS_ACCESS_KEY_ID", "AKIA1"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];
    assert!(matches!(
        source(&[keys[0], keys[1], file, role]),
        Ok(Some(CredentialSource::Environment { .. }))
    ));
    match source(&[file, role, container, ("AWS_REGION", "us-east-2")]) {
        Ok(Some(CredentialSource::WebIdentity {
            token_file,
            role_arn,
            session_name,
            sts_endpoint,
        })) => {
            assert_eq!(token_file, PathBuf::from(file.1));
            assert_eq!(role_arn, role.1);
            assert!(session_name.starts_with("bedrock-mcp-"), "{session_name}");
            assert_eq!(sts_endpoint, "https://sts.us-east-2.amazonaws.com");
        }
        other => panic!("not web identity: {other:?}"),
    }
    match source(&[
        file,
        role,
        ("AWS_ROLE_SESSION_NAME", "pod-1"),
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9000"),
    ]) {
        Ok(Some(CredentialSource::WebIdentity {
            session_name,
            sts_endpoint,
            ..
        })) => {
            assert_eq!(
                (session_name.as_str(), sts_endpoint.as_str()),
                ("pod-1", "http://127.0.0.1:9000")
            );
        }
        other => panic!("not web identity: {other:?}"),
    }
    for (pairs, var) in [
        (vec![file], "AWS_ROLE_ARN"),
        (vec![role], "AWS_WEB_IDENTITY_TOKEN_FILE"),
        (vec![file, ("AWS_ROLE_ARN", "bedrock-mcp")], "AWS_ROLE_ARN"),
        (
            vec![file, role, ("AWS_ROLE_SESSION_NAME", "has space")],
            "AWS_ROLE_SESSION_NAME",
        ),
        (
            vec![file, role, ("AWS_ENDPOINT_URL_STS", "http://sts.internal")],
            "AWS_ENDPOINT_URL_STS",
        ),
    ] {
        assert_eq!(source(&pairs).unwrap_err().var, var, "{pairs:?}");
    }
}
