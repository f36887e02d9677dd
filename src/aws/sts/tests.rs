//! Unit tests of the STS client: the form, the XML answer in any order, error bodies, what is
//! retried, and that nothing secret shows in Debug or errors. A scripted loopback server stands
//! in for STS.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const OK: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLEEXAMPLE01</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>
      <SessionToken>IQoJb3JpZ2luX2VjE...EXAMPLE</SessionToken>
      <Expiration>2026-12-07T12:15:00Z</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>HKZpfaHyWadeOouYlitjrI</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <AssumedRoleId>AROAEXAMPLE:bmcp-0b4c</AssumedRoleId>
      <Arn>arn:aws:sts::111122223333:assumed-role/bedrock-mcp-user/bmcp-0b4c</Arn>
    </AssumedRoleUser>
    <Provider>arn:aws:iam::111122223333:oidc-provider/login.microsoftonline.com/t/v2.0</Provider>
    <Audience>6e74172b</Audience>
    <TrustedIdentityPropagationContext>
      <OriginIdentity>
        <Subject>alice@contoso.com</Subject>
        <SubjectType>user</SubjectType>
        <Issuer>login.microsoftonline.com/t/v2.0</Issuer>
        <FederatedProviderArn>arn:aws:iam::111122223333:oidc-provider/login.microsoftonline.com/t/v2.0</FederatedProviderArn>
      </OriginIdentity>
      <TransactionContext>
        <IdentityProvider>
          <entry><key>tid</key><value>t</value></entry>
          <entry><key>oid</key><value>o</value></entry>
        </IdentityProvider>
      </TransactionContext>
    </TrustedIdentityPropagationContext>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>2b1c</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#;

/// The same answer with every sibling list reversed, as a fake STS may shuffle it.
const SHUFFLED: &str = r#"<AssumeRoleWithWebIdentityResponse>
  <ResponseMetadata><RequestId>2b1c</RequestId></ResponseMetadata>
  <AssumeRoleWithWebIdentityResult>
    <TrustedIdentityPropagationContext>
      <TransactionContext><IdentityProvider><entry><value>t</value><key>tid</key></entry></IdentityProvider></TransactionContext>
      <OriginIdentity>
        <FederatedProviderArn>arn:aws:iam::1:oidc-provider/x</FederatedProviderArn>
        <Issuer>login.microsoftonline.com/t/v2.0</Issuer>
        <SubjectType>user</SubjectType>
        <Subject>alice@contoso.com</Subject>
      </OriginIdentity>
    </TrustedIdentityPropagationContext>
    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn><AssumedRoleId>A:s</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <Expiration>2026-12-07T12:15:00Z</Expiration>
      <SessionToken>tok&amp;en</SessionToken>
      <SecretAccessKey>sekret</SecretAccessKey>
      <AccessKeyId>ASIA2</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;

#[test]
fn reads_the_answer_by_element_name_in_any_order() {
    let a = parse_success(OK).unwrap();
    assert_eq!(a.credentials.access_key_id(), "ASIAEXAMPLEEXAMPLE01");
    assert_eq!(
        a.credentials.session_token(),
        Some("IQoJb3JpZ2luX2VjE...EXAMPLE")
    );
    assert_eq!(
        a.expires,
        crate::rfc3339::parse("2026-12-07T12:15:00Z").unwrap()
    );
    assert!(a.assumed_role_arn.ends_with("/bmcp-0b4c"));
    assert_eq!(
        a.subject_from_token.as_deref(),
        Some("HKZpfaHyWadeOouYlitjrI")
    );
    let c = a.context.clone().unwrap();
    assert_eq!(c.subject.as_deref(), Some("alice@contoso.com"));
    assert_eq!(c.subject_type.as_deref(), Some("user"));
    assert_eq!(
        c.issuer.as_deref(),
        Some("login.microsoftonline.com/t/v2.0")
    );
    assert!(c
        .federated_provider_arn
        .unwrap()
        .contains(":oidc-provider/"));
    assert_eq!(
        c.identity_provider,
        [("tid".into(), "t".into()), ("oid".into(), "o".into())]
    );
    let b = parse_success(SHUFFLED).unwrap();
    assert_eq!(b.credentials.access_key_id(), "ASIA2");
    assert_eq!(b.credentials.secret_access_key(), "sekret");
    assert_eq!(b.credentials.session_token(), Some("tok&en"));
    let c = b.context.unwrap();
    assert_eq!(c.subject.as_deref(), Some("alice@contoso.com"));
    assert_eq!(c.identity_provider, [("tid".into(), "t".into())]);
}

#[test]
fn a_session_without_identity_context_has_none_and_gaps_are_named() {
    let start = OK.find("<TrustedIdentityPropagationContext>").unwrap();
    let end = OK.find("</TrustedIdentityPropagationContext>").unwrap()
        + "</TrustedIdentityPropagationContext>".len();
    let plain = format!("{}{}", &OK[..start], &OK[end..]);
    assert!(parse_success(&plain).unwrap().context.is_none());
    let no_secret = OK.replace(
        "<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>",
        "",
    );
    let e = parse_success(&no_secret).unwrap_err();
    assert!(e.contains("Credentials/SecretAccessKey"), "{e}");
    let bad_time = OK.replace("2026-12-07T12:15:00Z", "tomorrow");
    assert!(parse_success(&bad_time).unwrap_err().contains("Expiration"));
    assert!(parse_success("<ErrorResponse/>").is_err());
    assert!(parse_success("{\"json\": true}").is_err());
}

#[test]
fn error_bodies_map_to_codes_and_dispositions() {
    let body = |code: &str| {
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
             <Code>{code}</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>\
             </Error><RequestId>r</RequestId></ErrorResponse>"
        )
    };
    let cases = [
        ("AccessDenied", 403, Disposition::Configuration),
        ("InvalidIdentityToken", 400, Disposition::Configuration),
        ("ExpiredTokenException", 400, Disposition::Reauthenticate),
        ("IDPRejectedClaim", 403, Disposition::Reauthenticate),
        ("IDPCommunicationError", 400, Disposition::Transient),
        ("Throttling", 400, Disposition::Transient),
        ("RegionDisabledException", 403, Disposition::Configuration),
        ("ValidationError", 400, Disposition::Configuration),
    ];
    for (code, status, disposition) in cases {
        let e = parse_error(status, &body(code));
        assert_eq!(e.code(), Some(code));
        assert_ne!(e.kind(), Some(StsCode::Other), "{code}");
        assert_eq!(e.disposition(), disposition, "{code}");
        assert!(
            e.to_string().contains("sts:AssumeRoleWithWebIdentity"),
            "{e}"
        );
    }
    // A bare <Error> document, an HTML page, and a message quoting a token.
    let e = parse_error(400, "<Error><Code>Throttling</Code></Error>");
    assert_eq!(e.code(), Some("Throttling"));
    let e = parse_error(502, "<html>bad gateway</html>");
    assert_eq!(e.code(), Some("HTTP502"));
    assert_eq!(e.kind(), Some(StsCode::Other));
    assert_eq!(
        parse_error(400, &body("SomethingNew")).disposition(),
        Disposition::Configuration
    );
    let e = parse_error(
        400,
        "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>bad eyJhbGciOi.x.y</Message></Error></ErrorResponse>",
    );
    assert!(!e.to_string().contains("eyJ"), "{e}");
}

#[test]
fn the_form_carries_every_parameter_encoded_and_debug_hides_the_token() {
    let r = AssumeRequest {
        role_arn: "arn:aws:iam::111122223333:role/r",
        session_name: "bmcp-0b4c",
        duration_seconds: Some(900),
        token: "eyJ.a+b/c=",
    };
    assert_eq!(
        r.form(),
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr&RoleSessionName=bmcp-0b4c\
         &DurationSeconds=900&WebIdentityToken=eyJ.a%2Bb%2Fc%3D"
    );
    assert!(!format!("{r:?}").contains("eyJ"));
    let a = parse_success(OK).unwrap();
    let d = format!("{a:?} {:?}", a.context);
    assert!(
        !d.contains("wJalr") && !d.contains("IQoJ") && !d.contains("alice"),
        "{d}"
    );
}

/// A loopback server answering each connection with the next scripted reply.
fn script(replies: Vec<(u16, String)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for (status, body) in replies {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut form = vec![0; length];
            reader.read_exact(&mut form).unwrap();
            log.lock()
                .unwrap()
                .push(format!("{head}\n{}", String::from_utf8_lossy(&form)));
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

fn request() -> AssumeRequest<'static> {
    AssumeRequest {
        role_arn: "arn:aws:iam::111122223333:role/r",
        session_name: "bmcp-x",
        duration_seconds: Some(900),
        token: "header.payload.signature",
    }
}

fn error(code: &str) -> String {
    format!("<ErrorResponse><Error><Code>{code}</Code><Message>m</Message></Error></ErrorResponse>")
}

#[test]
fn passing_trouble_is_retried_and_the_request_is_unsigned() {
    let (url, seen) = script(vec![
        (400, error("IDPCommunicationError")),
        (500, "oops".into()),
        (200, OK.into()),
    ]);
    let sts = Sts::new(&url);
    let a = sts
        .assume_role_with_web_identity(&request(), Purpose::User)
        .unwrap();
    assert_eq!(a.credentials.access_key_id(), "ASIAEXAMPLEEXAMPLE01");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let first = seen[0].to_ascii_lowercase();
    assert!(first.starts_with("post / http/1.1"), "{first}");
    assert!(first.contains("content-type: application/x-www-form-urlencoded; charset=utf-8"));
    assert!(
        !first.contains("authorization:") && !first.contains("x-amz-"),
        "{first}"
    );
    assert!(!first.contains("accept: application/json"), "{first}");
    assert!(seen[0].contains("WebIdentityToken=header.payload.signature"));
}

#[test]
fn refusals_are_final_and_retries_are_bounded() {
    let (url, seen) = script(vec![(403, error("AccessDenied")), (200, OK.into())]);
    let e = Sts::new(&url)
        .assume_role_with_web_identity(&request(), Purpose::User)
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "AccessDenied must not be retried"
    );

    let (url, seen) = script(vec![
        (400, error("Throttling")),
        (400, error("Throttling")),
        (400, error("Throttling")),
        (200, OK.into()),
    ]);
    let e = Sts::new(&url)
        .assume_role_with_web_identity(&request(), Purpose::User)
        .unwrap_err();
    assert_eq!(e.disposition(), Disposition::Transient);
    assert!(
        e.to_string().contains("Throttling") && e.to_string().contains("3 attempt"),
        "{e}"
    );
    assert_eq!(seen.lock().unwrap().len(), MAX_ATTEMPTS as usize);
}

#[test]
fn an_unreachable_endpoint_is_transient() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = Sts::new(&format!("http://127.0.0.1:{port}"))
        .assume_role_with_web_identity(&request(), Purpose::Server)
        .unwrap_err();
    assert_eq!(e.disposition(), Disposition::Transient, "{e}");
    assert!(!e.to_string().contains("header.payload"), "{e}");
}
