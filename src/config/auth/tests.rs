//! Tests for sign-in settings and their validation errors.

use super::*;

const T: &str = "11111111-2222-3333-4444-555555555555";
const C: &str = "AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee";

fn parse(extra: &[(&str, &str)]) -> Result<Option<AuthSettings>, ConfigError> {
    let mut pairs = vec![
        ("ENABLE_AUTH", "true"),
        ("ENTRA_TENANT_ID", T),
        ("ENTRA_CLIENT_ID", C),
    ];
    pairs.extend_from_slice(extra);
    AuthSettings::from_vars(&Vars::from_pairs(pairs))
}

#[test]
fn disabled_by_default_and_provider_checked() {
    assert_eq!(AuthSettings::from_vars(&Vars::default()), Ok(None));
    let err = AuthSettings::from_vars(&Vars::from_pairs([("AUTH_PROVIDER", "okta")])).unwrap_err();
    assert_eq!(err.var, "AUTH_PROVIDER");
}

#[test]
fn auth_on_without_ids_names_both_variables() {
    let err = AuthSettings::from_vars(&Vars::from_pairs([
        ("ENABLE_AUTH", "true"),
        ("ENTRA_TENANT_ID", T),
    ]))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ENTRA_TENANT_ID and ENTRA_CLIENT_ID are required when ENABLE_AUTH=true"
    );
}

#[test]
fn non_guid_ids_name_the_variable() {
    let err = parse(&[("ENTRA_CLIENT_ID", "my-app")]).unwrap_err();
    assert_eq!(err.var, "ENTRA_CLIENT_ID");
    let err = parse(&[("ENTRA_TENANT_ID", "contoso.onmicrosoft.com")]).unwrap_err();
    assert_eq!(err.var, "ENTRA_TENANT_ID");
}

#[test]
fn defaults() {
    let s = parse(&[]).unwrap().unwrap();
    let c = C.to_ascii_lowercase();
    assert_eq!(s.client_id, c);
    assert_eq!(s.audiences, vec![c.clone(), format!("api://{c}")]);
    assert_eq!(s.scopes, vec![format!("api://{c}/.default")]);
    assert_eq!(s.redirect_uris.len(), 2);
    assert_eq!(
        s.jwks_url(),
        format!("{DEFAULT_AUTHORITY}/{T}/discovery/v2.0/keys")
    );
    assert_eq!(s.issuers()[0], format!("{DEFAULT_AUTHORITY}/{T}/v2.0"));
    assert_eq!(s.issuers()[1], format!("https://sts.windows.net/{T}/"));
    assert_eq!(s.jwks_cache_ttl, Duration::from_secs(3600));
}

#[test]
fn lists_scopes_and_uris() {
    let s = parse(&[
        ("ENTRA_AUDIENCE", "api://kb, other"),
        ("OAUTH_SCOPES", "access_as_user openid,api://x/read"),
        (
            "OAUTH_REDIRECT_URIS",
            "http://localhost:6274/cb, https://claude.ai/api/mcp/auth_callback, \
             cursor://anysphere.cursor-mcp/oauth/callback",
        ),
        ("AUTH_REQUIRED_SCOPES", "api://x/read  write"),
        ("AUTH_REQUIRED_ROLES", "KB.Read,KB.Admin"),
        ("ENTRA_AUTHORITY_HOST", "http://127.0.0.1:9/"),
    ])
    .unwrap()
    .unwrap();
    let c = C.to_ascii_lowercase();
    assert_eq!(s.audiences, vec!["api://kb", "other"]);
    assert_eq!(
        s.scopes,
        vec![
            format!("api://{c}/access_as_user"),
            "api://x/read".to_string()
        ]
    );
    assert_eq!(s.redirect_uris.len(), 4);
    assert_eq!(s.required_scopes, vec!["read", "write"]);
    assert_eq!(s.required_roles, vec!["KB.Read", "KB.Admin"]);
    assert_eq!(s.authority, "http://127.0.0.1:9");
    assert!(s
        .upstream_scope()
        .ends_with(" openid profile offline_access"));
}

#[test]
fn refuses_bad_values() {
    for (var, value) in [
        ("OAUTH_REDIRECT_URIS", "http://evil.example/cb"),
        ("OAUTH_REDIRECT_URIS", "https://x/cb#frag"),
        ("OAUTH_REDIRECT_URIS", "http://localhost.evil.com/cb"),
        ("OAUTH_REDIRECT_URIS", "javascript:alert(1)"),
        (
            "OAUTH_REDIRECT_URIS",
            "https://claude.ai/cb, data:text/html,x",
        ),
        ("ENTRA_AUTHORITY_HOST", "login.microsoftonline.com"),
        ("ENTRA_AUTHORITY_HOST", "https://login.example/tenant"),
        ("PUBLIC_BASE_URL", "ftp://x"),
        ("OAUTH_SCOPES", "https://graph.microsoft.com/User.Read"),
        ("OAUTH_SCOPES", "openid"),
        ("ENTRA_AUDIENCE", "https://graph.microsoft.com"),
        ("JWKS_CACHE_SECS", "5"),
    ] {
        let err = parse(&[(var, value)]).unwrap_err();
        assert_eq!(err.var, var, "{var}={value}");
    }
}

#[test]
fn client_secret_inline_file_both_or_none() {
    let v = |pairs: &[(&str, &str)]| client_secret(&Vars::from_pairs(pairs.to_vec()));
    assert_eq!(v(&[]), Ok(None));
    let inline = v(&[("ENTRA_CLIENT_SECRET", "s3cr3t~value")])
        .unwrap()
        .unwrap();
    assert_eq!(inline, ClientSecret::Inline("s3cr3t~value".into()));
    assert!(!format!("{inline:?}").contains("s3cr3t"));
    let file = v(&[("ENTRA_CLIENT_SECRET_FILE", "/run/secret")]).unwrap();
    assert_eq!(file, Some(ClientSecret::File("/run/secret".into())));
    let both = v(&[
        ("ENTRA_CLIENT_SECRET", "a"),
        ("ENTRA_CLIENT_SECRET_FILE", "/x"),
    ]);
    assert_eq!(both.unwrap_err().var, "ENTRA_CLIENT_SECRET_FILE");
}

#[test]
fn metadata_urls_default_list_and_none() {
    assert_eq!(
        parse(&[]).unwrap().unwrap().client_metadata_urls,
        DEFAULT_METADATA_URLS
    );
    let more = parse(&[(
        "OAUTH_CLIENT_METADATA_URLS",
        "https://vscode.dev/oauth/client-metadata.json, DEFAULT, default",
    )])
    .unwrap()
    .unwrap();
    assert_eq!(
        more.client_metadata_urls,
        [
            "https://vscode.dev/oauth/client-metadata.json",
            DEFAULT_METADATA_URL,
            CLAUDE_CODE_METADATA_URL
        ]
    );
    let s = parse(&[(
        "OAUTH_CLIENT_METADATA_URLS",
        "https://a.example/cimd.json, https://b.example/x/y, https://a.example/cimd.json",
    )])
    .unwrap()
    .unwrap();
    assert_eq!(
        s.client_metadata_urls,
        ["https://a.example/cimd.json", "https://b.example/x/y"]
    );
    let off = parse(&[("OAUTH_CLIENT_METADATA_URLS", "None")])
        .unwrap()
        .unwrap();
    assert!(off.client_metadata_urls.is_empty());
}

#[test]
fn refuses_metadata_urls_the_cimd_draft_forbids() {
    for bad in [
        "http://a.example/doc",
        "https://a.example",
        "https://a.example/",
        "https://a.example/doc?x=1",
        "https://a.example/doc#f",
        "https://u@a.example/doc",
        "https://a.example/../doc",
        "https://a.example/./doc",
        "claude.ai/oauth/doc",
    ] {
        let vars = Vars::from_pairs([("OAUTH_CLIENT_METADATA_URLS", bad)]);
        let e = metadata_urls(&vars).unwrap_err();
        assert_eq!(e.var, "OAUTH_CLIENT_METADATA_URLS", "{bad}");
    }
}

#[test]
fn the_acl_claim_list_is_configurable_and_checked() {
    let none = Vars::from_pairs::<_, &str, &str>([]);
    assert_eq!(acl_claims(&none).unwrap(), DEFAULT_CLAIMS);
    let names = acl_claims(&Vars::from_pairs([("ACL_USER_CLAIMS", "upn, email")])).unwrap();
    assert_eq!(names, ["upn", "email"]);
    for raw in [" , ", "email;upn", "e mail@"] {
        let e = acl_claims(&Vars::from_pairs([("ACL_USER_CLAIMS", raw)])).unwrap_err();
        assert_eq!(e.var, "ACL_USER_CLAIMS", "{raw:?}");
    }
}
