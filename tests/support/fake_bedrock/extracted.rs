//! GetDocumentContent with `outputFormat: EXTRACTED` in the fake, and the loopback stand-in
//! for the S3 presigned URL Bedrock answers with.
//!
//! The answer is `{presignedUrl, mimeType: "application/json", documentContentLength}`; the
//! URL points at a second loopback server (started on first use) that serves the document's
//! extracted JSON. Its layout is whatever the test registered (`set_extracted`); otherwise the
//! document's text in a Q-Business-like `{"plainTextDocumentContent": …}`. Like S3, the
//! download server wants every query-string SigV4 parameter (`X-Amz-Algorithm`,
//! `-Credential`, `-Date`, `-Expires`, `-SignedHeaders`, `-Signature`), refuses a request
//! that also carries an Authorization header, answers 403 with S3's XML once the URL has
//! expired (`set_presign_ttl`), and 403 SignatureDoesNotMatch for a URL it never issued or
//! one whose path was changed. Documents in image, audio or video formats (or marked with
//! `set_unextractable`) have no extracted text: a ValidationException.

use super::super::fake_server::{reply, FakeServer, Incoming, Reply};
use super::answers::error;
use super::corpus::FakeDoc;
use super::{FakeBedrock, Shared};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The query parameters a SigV4 presigned URL must carry.
const PRESIGN_PARAMS: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

struct Issued {
    path: String,
    body: Vec<u8>,
    mime: String,
    expires: Instant,
}

/// What the download server shares with the fake.
#[derive(Default)]
struct Downloads {
    issued: Mutex<HashMap<String, Issued>>,
    served: AtomicUsize,
    refused: AtomicUsize,
    last_headers: Mutex<Vec<(String, String)>>,
    last_status: Mutex<Option<u16>>,
}

/// The EXTRACTED side of the fake's state.
pub struct Extracted {
    downloads: Arc<Downloads>,
    server: OnceLock<FakeServer>,
    layouts: Mutex<HashMap<String, Value>>,
    unextractable: Mutex<Vec<String>>,
    ttl: Mutex<Duration>,
    issued_count: AtomicUsize,
}

impl Default for Extracted {
    fn default() -> Extracted {
        Extracted {
            downloads: Arc::default(),
            server: OnceLock::new(),
            layouts: Mutex::default(),
            unextractable: Mutex::default(),
            ttl: Mutex::new(Duration::from_secs(300)),
            issued_count: AtomicUsize::new(0),
        }
    }
}

/// EXTRACTED controls and observations on the fake.
impl FakeBedrock {
    /// The extracted JSON served for `document_id` (any layout, any knowledge base).
    pub fn set_extracted(&self, document_id: &str, json: Value) {
        let e = &self.shared.extracted;
        e.layouts.lock().unwrap().insert(document_id.into(), json);
    }
    /// Makes `document_id` a format Bedrock cannot extract text from.
    pub fn set_unextractable(&self, document_id: &str) {
        let e = &self.shared.extracted;
        e.unextractable.lock().unwrap().push(document_id.into());
    }
    /// How long presigned URLs stay valid (default 300 s, Bedrock's 5 minutes).
    pub fn set_presign_ttl(&self, ttl: Duration) {
        *self.shared.extracted.ttl.lock().unwrap() = ttl;
    }
    /// Presigned EXTRACTED URLs handed out.
    pub fn presigned_issued(&self) -> usize {
        self.shared.extracted.issued_count.load(SeqCst)
    }
    /// Downloads served with 200.
    pub fn downloads_served(&self) -> usize {
        self.shared.extracted.downloads.served.load(SeqCst)
    }
    /// Downloads refused (expired, unsigned, tampered, doubly authenticated).
    pub fn downloads_refused(&self) -> usize {
        self.shared.extracted.downloads.refused.load(SeqCst)
    }
    /// Headers of the last download request (lower-cased names).
    pub fn last_download_headers(&self) -> Vec<(String, String)> {
        self.shared
            .extracted
            .downloads
            .last_headers
            .lock()
            .unwrap()
            .clone()
    }
    /// Status of the last download answer.
    pub fn last_download_status(&self) -> Option<u16> {
        *self.shared.extracted.downloads.last_status.lock().unwrap()
    }
}

/// The answer to GetDocumentContent EXTRACTED for a document the user may read.
pub(super) fn answer(
    shared: &Shared,
    kb_id: &str,
    data_source: &str,
    raw_id: &str,
    doc: &FakeDoc,
) -> Reply {
    let e = &shared.extracted;
    let id = doc.document_id.clone().unwrap_or_default();
    let media = ["image/", "audio/", "video/"]
        .iter()
        .any(|p| doc.mime_type.starts_with(p));
    if media || e.unextractable.lock().unwrap().contains(&id) {
        return error(
            400,
            "ValidationException",
            &format!(
                "Document {id} has no extracted text: its format ({}) is not one Bedrock extracts text from. Use outputFormat RAW to get the original.",
                doc.mime_type
            ),
        );
    }
    let json = e
        .layouts
        .lock()
        .unwrap()
        .get(&id)
        .cloned()
        .unwrap_or_else(|| json!({ "plainTextDocumentContent": doc.text }));
    let path = format!("/kb-extracted/{kb_id}/{data_source}/{raw_id}.json");
    issue(
        shared,
        path,
        json.to_string().into_bytes(),
        "application/json",
    )
}

/// GetDocumentContent RAW with a `mediaId`: the embedded image (the fake's 1×1 PNG) behind a
/// presigned loopback URL, so a client that downloads it never leaves 127.0.0.1.
pub(super) fn media_answer(
    shared: &Shared,
    kb_id: &str,
    data_source: &str,
    raw_id: &str,
    media_id: &str,
) -> Reply {
    use base64::Engine;
    let valid = media_id.len() == 36
        && media_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !media_id.starts_with('-');
    if !valid {
        return error(
            400,
            "ValidationException",
            "1 validation error detected: Value at 'mediaId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9][a-zA-Z0-9-]{35}$",
        );
    }
    let png = base64::engine::general_purpose::STANDARD
        .decode(super::corpus::TINY_PNG)
        .unwrap_or_default();
    let path = format!("/kb-media/{kb_id}/{data_source}/{raw_id}/{media_id}.png");
    issue(shared, path, png, "image/png")
}

/// Registers `body` under a fresh presigned URL for `path` and answers with it.
fn issue(shared: &Shared, path: String, body: Vec<u8>, mime: &str) -> Reply {
    let e = &shared.extracted;
    let length = body.len();
    let server = e.server.get_or_init(|| {
        let d = e.downloads.clone();
        FakeServer::start(move |req| download(&d, req))
    });
    let ttl = *e.ttl.lock().unwrap();
    let n = e.issued_count.fetch_add(1, SeqCst);
    let seed = format!("{path}#{n}#{}", std::process::id());
    let sig = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
    let signature: String = sig.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (date, time) = ymd_hms(secs);
    let url = format!(
        "{}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAFAKEPRESIGN%2F{date}%2F{}%2Fs3%2Faws4_request&X-Amz-Date={date}T{time}Z&X-Amz-Expires={}&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FwoFakeSessionToken%2Fpresign&X-Amz-Signature={signature}",
        server.url(),
        shared.region,
        ttl.as_secs()
    );
    e.downloads.issued.lock().unwrap().insert(
        signature,
        Issued {
            path,
            body,
            mime: mime.into(),
            expires: Instant::now() + ttl,
        },
    );
    Reply::json(
        200,
        &json!({"presignedUrl": url, "mimeType": mime, "documentContentLength": length}),
    )
}

/// (YYYYMMDD, HHMMSS) of a Unix time, UTC (civil-from-days).
fn ymd_hms(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60),
    )
}

fn s3_error(status: u16, code: &str, message: &str) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>FAKE0REQUEST0ID</RequestId><HostId>ZmFrZS1ob3N0LWlk</HostId></Error>"
    );
    Reply {
        status,
        headers: vec![("Content-Type".into(), "application/xml".into())],
        body: body.into_bytes(),
    }
}

fn download(d: &Downloads, req: Incoming) {
    *d.last_headers.lock().unwrap() = req.headers.clone();
    let answer = download_answer(d, &req);
    *d.last_status.lock().unwrap() = Some(answer.status);
    if answer.status == 200 {
        d.served.fetch_add(1, SeqCst);
    } else {
        d.refused.fetch_add(1, SeqCst);
    }
    reply(req.request, answer);
}

fn download_answer(d: &Downloads, req: &Incoming) -> Reply {
    if req.method != "GET" {
        return s3_error(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        );
    }
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let params: Vec<(&str, &str)> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    if req.header("authorization").is_some() && param("X-Amz-Algorithm").is_some() {
        return s3_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
        );
    }
    if PRESIGN_PARAMS.iter().any(|p| param(p).is_none()) {
        return s3_error(
            403,
            "AccessDenied",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        );
    }
    let issued = d.issued.lock().unwrap();
    let found = param("X-Amz-Signature").and_then(|s| issued.get(s));
    let Some(item) = found.filter(|i| i.path == path) else {
        return s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        );
    };
    if Instant::now() >= item.expires {
        return s3_error(403, "AccessDenied", "Request has expired");
    }
    Reply {
        status: 200,
        headers: vec![("Content-Type".into(), item.mime.clone())],
        body: item.body.clone(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::ymd_hms(0), ("19700101".into(), "000000".into()));
        assert_eq!(
            super::ymd_hms(1_796_652_000),
            ("20261207".into(), "140000".into())
        );
    }
}
