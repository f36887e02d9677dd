//! SigV4 request signing with `aws-sigv4`.
//!
//! The caller passes exactly the method, URL, headers and body bytes it will send and gets
//! back the headers to add (host if missing, x-amz-date, x-amz-security-token,
//! authorization). Owns no I/O and no clock; must never log keys, tokens or signatures.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{self, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use std::fmt;
use std::time::SystemTime;
use ureq::http::Uri;

/// One request, exactly as it will go on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Signable<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// Full URL, already percent-encoded.
    pub url: &'a str,
    /// Headers that will be sent and should be signed (e.g. host, content-type).
    pub headers: &'a [(&'a str, &'a str)],
    /// The exact body bytes.
    pub body: &'a [u8],
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Error(String);

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not sign the AWS request: {}", self.0)
    }
}

impl std::error::Error for SigV4Error {}

/// The `Host` header value for `url`: the host, plus `:port` when it is not the scheme's default.
pub fn host_header(url: &str) -> Result<String, SigV4Error> {
    let uri: Uri = url
        .parse()
        .map_err(|_| SigV4Error(format!("{url:?} is not a valid URL")))?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| SigV4Error(format!("{url:?} has no host")))?;
    let default_port = match uri.scheme_str() {
        Some("https") => 443,
        Some("http") => 80,
        _ => {
            return Err(SigV4Error(format!(
                "{url:?} must start with http:// or https://"
            )))
        }
    };
    Ok(match uri.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_string(),
    })
}

/// Signs `request` for `service` in `region` at `time`; returns the headers to add to it.
pub fn sign(
    request: &Signable<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<Vec<(&'static str, String)>, SigV4Error> {
    // aws-sigv4 panics on a URL without an authority, so check it (and derive Host) first.
    let host = host_header(request.url)?;
    let has_host = request
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"));
    let mut headers: Vec<(&str, &str)> = request.headers.to_vec();
    if !has_host {
        headers.push(("host", host.as_str()));
    }
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| SigV4Error(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        headers.iter().copied(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| SigV4Error(e.to_string()))?;
    let (instructions, _signature) = http_request::sign(signable, &params)
        .map_err(|e| SigV4Error(e.to_string()))?
        .into_parts();
    let (added, _query) = instructions.into_parts();
    let mut out: Vec<(&'static str, String)> = Vec::with_capacity(added.len() + 1);
    if !has_host {
        out.push(("host", host));
    }
    out.extend(added.into_iter().map(|h| (h.name(), h.value().to_string())));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    // AWS's published "get-vanilla" test vector (aws-sig-v4-test-suite), 2015-08-30T12:36:00Z.
    const VANILLA_TIME: u64 = 1_440_938_160;
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn find<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn matches_the_aws_get_vanilla_vector() {
        let creds = Credentials::new("AKIDEXAMPLE", SECRET, None, None, "test");
        let req = Signable {
            method: "GET",
            url: "https://example.amazonaws.com/",
            headers: &[],
            body: b"",
        };
        let time = UNIX_EPOCH + Duration::from_secs(VANILLA_TIME);
        let out = sign(&req, &creds, "us-east-1", "service", time).unwrap();
        assert_eq!(find(&out, "host"), Some("example.amazonaws.com"));
        assert_eq!(find(&out, "x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            find(&out, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );
        assert_eq!(find(&out, "x-amz-security-token"), None);
    }

    #[test]
    fn signs_given_headers_and_session_token() {
        let creds = Credentials::new("ASIAX", "s3cr3t", Some("tok".into()), None, "test");
        let req = Signable {
            method: "POST",
            url: "http://127.0.0.1:8080/knowledgebases/KB1/retrieve",
            headers: &[
                ("host", "127.0.0.1:8080"),
                ("content-type", "application/json"),
            ],
            body: br#"{"a":1}"#,
        };
        let out = sign(&req, &creds, "eu-west-1", "bedrock", SystemTime::now()).unwrap();
        assert_eq!(
            find(&out, "host"),
            None,
            "host was given, so not added again"
        );
        assert_eq!(find(&out, "x-amz-security-token"), Some("tok"));
        let auth = find(&out, "authorization").unwrap();
        assert!(auth.contains("/eu-west-1/bedrock/aws4_request"), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert!(!auth.contains("s3cr3t"));
    }

    #[test]
    fn body_changes_the_signature() {
        let creds = Credentials::new("AKID", "secret", None, None, "test");
        let time = UNIX_EPOCH + Duration::from_secs(VANILLA_TIME);
        let sig = |body: &[u8]| {
            let req = Signable {
                method: "POST",
                url: "https://example.com/x",
                headers: &[],
                body,
            };
            find(
                &sign(&req, &creds, "us-east-1", "bedrock", time).unwrap(),
                "authorization",
            )
            .unwrap()
            .to_string()
        };
        assert_ne!(sig(b"one"), sig(b"two"));
    }

    #[test]
    fn host_header_drops_default_ports_only() {
        assert_eq!(
            host_header("https://a.example.com:443/x").unwrap(),
            "a.example.com"
        );
        assert_eq!(host_header("http://127.0.0.1:80").unwrap(), "127.0.0.1");
        assert_eq!(
            host_header("http://127.0.0.1:9000/").unwrap(),
            "127.0.0.1:9000"
        );
        assert_eq!(host_header("https://h:80").unwrap(), "h:80");
        assert!(host_header("/relative").is_err());
        assert!(host_header("ftp://h/").is_err());
        let creds = Credentials::new("AKID", "secret", None, None, "test");
        let req = Signable {
            method: "GET",
            url: "no-host",
            headers: &[],
            body: b"",
        };
        assert!(sign(&req, &creds, "r", "s", SystemTime::now()).is_err());
    }
}
