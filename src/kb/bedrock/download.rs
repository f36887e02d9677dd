//! Downloads what a GetDocumentContent presigned URL points at (the EXTRACTED JSON, or an
//! embedded image) with a plain GET: none of our headers (no Authorization, no SigV4: the
//! URL carries its own signature), https only (http only to a loopback host, for local
//! fakes), no redirects, a timeout, a size cap, and a bound on downloads in flight so their
//! memory stays within READ_DOCUMENT_MAX_IN_FLIGHT × READ_DOCUMENT_MAX_MIB.
//!
//! Must not log the URL: its query string is a credential for the object.

use crate::aws::http::{self as awshttp, Transport};
use crate::kb::KbError;
use crate::slots::Slots;
use std::time::Duration;
use ureq::http::Uri;
use ureq::Agent;

/// How long a download waits for its turn when READ_DOCUMENT_MAX_IN_FLIGHT are running.
const TURN_WAIT: Duration = Duration::from_secs(5);

/// The downloader, shared by every knowledge base of the process.
pub(super) struct Downloader {
    agent: Agent,
    timeout: Duration,
    max_bytes: u64,
    slots: Slots,
}

impl Downloader {
    /// At most `max_in_flight` downloads of at most `max_bytes` each, each within `timeout`.
    pub(super) fn new(timeout: Duration, max_bytes: u64, max_in_flight: usize) -> Downloader {
        let config = Agent::config_builder()
            .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            // A presigned URL is the one credential; keep it off any proxy the environment names.
            .proxy(None)
            .max_idle_connections(8)
            .max_idle_connections_per_host(4)
            .user_agent(concat!("bedrock-mcp/", env!("CARGO_PKG_VERSION")))
            .build();
        Downloader {
            agent: crate::dns::agent(config),
            timeout,
            max_bytes,
            slots: Slots::new(max_in_flight),
        }
    }

    /// The body at `url`, which must be [`allowed`].
    pub(super) fn get(&self, url: &str) -> Result<Vec<u8>, KbError> {
        allowed(url)?;
        let Some(_slot) = self.slots.take(TURN_WAIT) else {
            return Err(KbError::Throttled(format!(
                "{} documents are being downloaded already (READ_DOCUMENT_MAX_IN_FLIGHT); \
                 try again in a moment",
                self.slots.max()
            )));
        };
        self.fetch(url)
    }

    fn fetch(&self, url: &str) -> Result<Vec<u8>, KbError> {
        let failed = |what: String| {
            KbError::Unavailable(format!("downloading the document content failed: {what}"))
        };
        let mut response = self
            .agent
            .get(url)
            .call()
            .map_err(|e| match awshttp::classify(&e) {
                Transport::ConnectTimeout | Transport::Timeout => KbError::Timeout(format!(
                    "downloading the document content took longer than {} s (BEDROCK_TIMEOUT_SECS)",
                    self.timeout.as_secs()
                )),
                _ => failed(e.to_string()),
            })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(failed(format!(
                "HTTP {status} from the presigned URL (it lives 5 minutes; try again)"
            )));
        }
        awshttp::read_capped(&mut response, self.max_bytes).map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => KbError::InvalidRequest(format!(
                "the document content is larger than {} MiB (READ_DOCUMENT_MAX_MIB); use \
                 get_document_link to open the original",
                self.max_bytes >> 20
            )),
            ureq::Error::Timeout(_) => KbError::Timeout(format!(
                "downloading the document content took longer than {} s (BEDROCK_TIMEOUT_SECS)",
                self.timeout.as_secs()
            )),
            other => failed(other.to_string()),
        })
    }
}

/// A presigned URL we may fetch: https, or http to a loopback host.
pub(super) fn allowed(url: &str) -> Result<(), KbError> {
    let refused = |why: &str| {
        Err(KbError::Unavailable(format!(
            "Bedrock returned a presigned URL that {why}; refusing to fetch it"
        )))
    };
    let Ok(uri) = url.parse::<Uri>() else {
        return refused("is not a URL");
    };
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        return refused("names no host");
    };
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        _ => refused("is not https"),
    }
}

/// `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_fetched() {
        for ok in [
            "https://bucket.s3.eu-west-1.amazonaws.com/x?X-Amz-Signature=1",
            "http://127.0.0.1:8080/extracted/1",
            "http://127.9.9.9/x",
            "http://localhost:1/x",
            "http://[::1]:9/x",
        ] {
            assert!(allowed(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://bucket.s3.amazonaws.com/x",
            "http://10.0.0.1/x",
            "http://169.254.169.254/latest/meta-data",
            "ftp://127.0.0.1/x",
            "file:///etc/passwd",
            "not a url",
            "https:///nohost",
        ] {
            let e = allowed(bad).unwrap_err().to_string();
            assert!(e.contains("presigned URL"), "{bad}: {e}");
        }
    }
}
