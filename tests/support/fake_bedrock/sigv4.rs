//! An independent SigV4 verifier for the fake Bedrock: canonical request, string to sign
//! and signing key written out with ring, deliberately NOT using aws-sigv4, so a misuse of
//! aws-sigv4 in the client (wrong headers, body, scope or time) shows up as a rejection.

use ring::{digest, hmac};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far x-amz-date may be from the fake's clock.
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// One accepted key pair (plus session token and optional expiry).
#[derive(Clone, Debug)]
pub struct KeyEntry {
    pub access_key_id: String,
    pub secret: String,
    pub token: Option<String>,
    pub expires: Option<SystemTime>,
}

/// The keys the fake accepts; cheap to clone and share (e.g. with a `FakeImds` that issues
/// rotating keys).
#[derive(Clone, Default, Debug)]
pub struct KeyRing(Arc<Mutex<Vec<KeyEntry>>>);

impl KeyRing {
    /// Accepts `(access_key_id, secret, token)` forever.
    pub fn add(&self, access_key_id: &str, secret: &str, token: Option<&str>) {
        self.insert(access_key_id, secret, token, None);
    }

    /// Accepts the triple until `expires` (then answers ExpiredTokenException).
    pub fn add_expiring(
        &self,
        access_key_id: &str,
        secret: &str,
        token: Option<&str>,
        expires: SystemTime,
    ) {
        self.insert(access_key_id, secret, token, Some(expires));
    }

    /// Stops accepting `access_key_id`.
    pub fn remove(&self, access_key_id: &str) {
        self.0
            .lock()
            .unwrap()
            .retain(|k| k.access_key_id != access_key_id);
    }

    /// The entry for `access_key_id`, if known.
    pub fn get(&self, access_key_id: &str) -> Option<KeyEntry> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|k| k.access_key_id == access_key_id)
            .cloned()
    }

    fn insert(&self, ak: &str, secret: &str, token: Option<&str>, expires: Option<SystemTime>) {
        let mut keys = self.0.lock().unwrap();
        keys.retain(|k| k.access_key_id != ak);
        keys.push(KeyEntry {
            access_key_id: ak.into(),
            secret: secret.into(),
            token: token.map(Into::into),
            expires,
        });
    }
}

/// A request as received, for verification.
pub struct Received<'a> {
    pub method: &'a str,
    /// The raw request target: path and query as sent.
    pub target: &'a str,
    /// Header (name, value) pairs as sent.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Received<'_> {
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.all(name).first().copied()
    }
}

/// Why a request was refused: the AWS error code, message, and whether the signature itself
/// was wrong (as opposed to an unknown key, expired token, bad scope…).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
    pub bad_signature: bool,
}

fn reject(code: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
        bad_signature: false,
    }
}

/// Verifies a request signed for `service` in `region`; returns the access key id used.
pub fn verify(
    req: &Received<'_>,
    keys: &KeyRing,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<String, Rejection> {
    let auth = req.one("authorization").ok_or_else(|| {
        reject(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    })?;
    let fields = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| reject("IncompleteSignatureException", "unsupported algorithm"))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in fields.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {
                return Err(reject(
                    "IncompleteSignatureException",
                    format!("bad Authorization part {part:?}"),
                ))
            }
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed_headers, signature)
    else {
        return Err(reject(
            "IncompleteSignatureException",
            "Authorization lacks Credential, SignedHeaders or Signature",
        ));
    };
    let amz_date = req
        .one("x-amz-date")
        .ok_or_else(|| reject("IncompleteSignatureException", "missing x-amz-date"))?;
    let signed_at = parse_amz_date(amz_date)
        .ok_or_else(|| reject("IncompleteSignatureException", "bad x-amz-date"))?;
    let skew = match now.duration_since(signed_at) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if skew > MAX_SKEW {
        return Err(reject(
            "InvalidSignatureException",
            format!("Signature expired: {amz_date} is too far from now"),
        ));
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, scope_region, scope_service, "aws4_request"] = scope[..] else {
        return Err(reject(
            "IncompleteSignatureException",
            format!("bad credential scope {credential:?}"),
        ));
    };
    if date != &amz_date[..8] || scope_region != region || scope_service != service {
        return Err(reject(
            "InvalidSignatureException",
            format!("Credential should be scoped to {}/{region}/{service}, got {date}/{scope_region}/{scope_service}", &amz_date[..8]),
        ));
    }
    // Everything the client sends that matters must be signed.
    let names: Vec<&str> = signed.split(';').collect();
    let sorted: BTreeSet<&str> = names.iter().copied().collect();
    if names.iter().any(|n| n.to_ascii_lowercase() != *n)
        || sorted.len() != names.len()
        || !names.iter().copied().eq(sorted.iter().copied())
    {
        return Err(reject(
            "InvalidSignatureException",
            "SignedHeaders must be lower case, sorted and unique",
        ));
    }
    for required in ["host", "x-amz-date", "x-amz-security-token", "content-type"] {
        let present = required == "host" || required == "x-amz-date" || req.one(required).is_some();
        if present && !sorted.contains(required) {
            return Err(reject(
                "InvalidSignatureException",
                format!("header {required} must be signed"),
            ));
        }
    }
    let entry = keys.get(access_key).ok_or_else(|| {
        reject(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    })?;
    if entry.token.as_deref() != req.one("x-amz-security-token") {
        return Err(reject(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    if entry.expires.is_some_and(|e| now >= e) {
        return Err(reject(
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ));
    }
    if let Some(claimed) = req.one("x-amz-content-sha256") {
        if claimed != hex(digest::digest(&digest::SHA256, req.body).as_ref()) {
            return Err(reject(
                "InvalidSignatureException",
                "x-amz-content-sha256 does not match the body",
            ));
        }
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let values = req.all(name);
        if values.is_empty() {
            return Err(reject(
                "InvalidSignatureException",
                format!("signed header {name} is missing"),
            ));
        }
        let joined: Vec<String> = values
            .iter()
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", joined.join(",")));
    }
    let creq = canonical_request(req.method, req.target, &canonical_headers, signed, req.body);
    let expected = signature_for(&entry.secret, amz_date, region, service, &creq);
    if expected != signature {
        return Err(Rejection {
            code: "InvalidSignatureException",
            message:
                "The request signature we calculated does not match the signature you provided. \
                      Check your AWS Secret Access Key and signing method."
                    .into(),
            bad_signature: true,
        });
    }
    Ok(entry.access_key_id)
}

/// The canonical request: method, double-encoded path, sorted query, headers, signed
/// header list, body hash.
pub fn canonical_request(
    method: &str,
    target: &str,
    canonical_headers: &str,
    signed: &str,
    body: &[u8],
) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = if path.is_empty() { "/" } else { path };
    let uri: Vec<String> = path.split('/').map(encode).collect();
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some(_) => p.to_string(),
            None => format!("{p}="),
        })
        .collect();
    pairs.sort();
    let body_hash = hex(digest::digest(&digest::SHA256, body).as_ref());
    format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{signed}\n{body_hash}",
        uri.join("/"),
        pairs.join("&")
    )
}

/// The hex signature of `canonical_request` with `secret` at `amz_date` for region/service.
pub fn signature_for(
    secret: &str,
    amz_date: &str,
    region: &str,
    service: &str,
    canonical_request: &str,
) -> String {
    let date = &amz_date[..8.min(amz_date.len())];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let creq_hash = hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref());
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{creq_hash}");
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, service, "aws4_request"] {
        key = mac(&key, part.as_bytes());
    }
    hex(&mac(&key, to_sign.as_bytes()))
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Non-S3 services double-encode: the (already encoded) path is encoded once more.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `20260101T000000Z` → time.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (h, mi, se) = (n(9..11)?, n(11..13)?, n(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (proleptic Gregorian), inlined so the fake shares nothing with the crate.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}
