//! Sending one Bedrock call: sign with fresh credentials, send over the shared agent, and
//! retry the way the AWS SDKs' "standard" mode does (throttling, 5xx and broken connections;
//! exponential backoff with full jitter; never 4xx validation or access errors).

use super::errors::{self, Target, Transient, Verdict};
use crate::aws::http::{classify, read_capped, Transport};
use crate::aws::sigv4::{self, Signable};
use crate::aws::CredentialChain;
use crate::kb::KbError;
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime};

/// Largest Bedrock answer we read (100 results of long passages fit easily).
const MAX_BODY: u64 = 16 * 1024 * 1024;
/// Backoff base and cap (the SDKs use 1 s base for throttling in their formula; calls here are
/// interactive, so start lower and rely on jitter).
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(20);

/// Which API a call is, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// bedrock-agent-runtime Retrieve.
    Retrieve,
    /// bedrock-agent GetKnowledgeBase.
    GetKnowledgeBase,
}

impl Op {
    /// The API name.
    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Retrieve => "Retrieve",
            Op::GetKnowledgeBase => "GetKnowledgeBase",
        }
    }

    /// The IAM action it needs.
    pub(super) fn action(self) -> &'static str {
        match self {
            Op::Retrieve => "bedrock:Retrieve",
            Op::GetKnowledgeBase => "bedrock:GetKnowledgeBase",
        }
    }
}

/// A successful answer.
pub(super) struct Answer {
    /// The body.
    pub(super) body: Vec<u8>,
    /// Time across all attempts, in milliseconds.
    pub(super) elapsed_ms: u64,
}

/// The signing HTTP client, shared by all threads.
pub(super) struct Client {
    agent: ureq::Agent,
    credentials: CredentialChain,
    region: String,
    timeout: Duration,
    attempts: u32,
}

impl Client {
    /// A client with a pooled agent: one connection per concurrent call, kept alive.
    pub(super) fn new(
        credentials: CredentialChain,
        region: String,
        timeout: Duration,
        attempts: u32,
    ) -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .max_idle_connections(1024)
            .max_idle_connections_per_host(1024)
            .build()
            .new_agent();
        Client {
            agent,
            credentials,
            region,
            timeout,
            attempts: attempts.max(1),
        }
    }

    /// Resolves credentials and names their source.
    pub(super) fn credentials_source(&self) -> Result<String, KbError> {
        self.credentials
            .credentials()
            .map(|_| self.credentials.describe())
            .map_err(|e| KbError::Credentials(e.to_string()))
    }

    /// Sends a signed request, retrying transient failures.
    pub(super) fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<&Value>,
        target: &Target<'_>,
    ) -> Result<Answer, KbError> {
        let started = Instant::now();
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut last = Transient::Connection(String::new());
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                let pause = backoff(attempt - 1, matches!(last, Transient::Throttled(_)));
                log::warn!(
                    "Bedrock {} attempt {} of {} after {:?}: {}",
                    target.op.name(),
                    attempt,
                    self.attempts,
                    pause,
                    describe(&last)
                );
                std::thread::sleep(pause);
            }
            match self.once(method, url, &bytes, target) {
                Ok(body) => {
                    return Ok(Answer {
                        body,
                        elapsed_ms: started.elapsed().as_millis() as u64,
                    })
                }
                Err(Verdict::Fail(e)) => return Err(e),
                Err(Verdict::Retry(t)) => last = t,
            }
        }
        Err(match last {
            Transient::Throttled(m) => KbError::Throttled(format!(
                "Bedrock is still throttling {} after {} attempts ({m}); retry in a few seconds, or ask AWS for a higher Retrieve quota",
                target.op.name(), self.attempts
            )),
            Transient::Timeout(m) => KbError::Timeout(format!(
                "Bedrock did not answer {} within {} s, {} attempts ({m}); try again, or raise BEDROCK_TIMEOUT_SECS",
                target.op.name(), self.timeout.as_secs(), self.attempts
            )),
            Transient::Server(m) => KbError::Unavailable(format!(
                "Bedrock failed {} {} times ({m}); try again shortly", target.op.name(), self.attempts
            )),
            Transient::Connection(m) => KbError::Unavailable(format!(
                "cannot reach Bedrock for {} ({m}); check network egress to the Bedrock endpoint and AWS_REGION",
                target.op.name()
            )),
        })
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        body: &[u8],
        target: &Target<'_>,
    ) -> Result<Vec<u8>, Verdict> {
        let creds = self
            .credentials
            .credentials()
            .map_err(|e| Verdict::Fail(KbError::Credentials(e.to_string())))?;
        let mut headers: Vec<(&str, &str)> = vec![("accept", "application/json")];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        let signable = Signable {
            method,
            url,
            headers: &headers,
            body,
        };
        let signed = sigv4::sign(
            &signable,
            &creds,
            &self.region,
            "bedrock",
            SystemTime::now(),
        )
        .map_err(|e| Verdict::Fail(KbError::Unavailable(e.to_string())))?;
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers.iter().copied() {
            request = request.header(k, v);
        }
        for (k, v) in &signed {
            request = request.header(*k, v.as_str());
        }
        let request = request.body(body.to_vec()).map_err(|e| {
            Verdict::Fail(KbError::Unavailable(format!("bad request for {url}: {e}")))
        })?;
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| Verdict::Retry(transport(&e)))?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes =
            read_capped(&mut response, MAX_BODY).map_err(|e| Verdict::Retry(transport(&e)))?;
        if (200..300).contains(&status) {
            Ok(bytes)
        } else {
            Err(errors::classify(
                status,
                error_type.as_deref(),
                &bytes,
                target,
            ))
        }
    }
}

fn transport(e: &ureq::Error) -> Transient {
    match classify(e) {
        Transport::Timeout => Transient::Timeout(e.to_string()),
        Transport::ConnectTimeout | Transport::Connect => Transient::Connection(e.to_string()),
        // TLS or protocol trouble: report it as unreachable; retrying is harmless.
        Transport::Other => Transient::Connection(e.to_string()),
    }
}

fn describe(t: &Transient) -> &str {
    match t {
        Transient::Throttled(m)
        | Transient::Server(m)
        | Transient::Timeout(m)
        | Transient::Connection(m) => m,
    }
}

/// Full-jitter exponential backoff: a random pause in [0, min(cap, base·2^retry)].
fn backoff(retry: u32, throttled: bool) -> Duration {
    let base = if throttled {
        BACKOFF_BASE * 2
    } else {
        BACKOFF_BASE
    };
    let ceiling = base.saturating_mul(1 << retry.min(16)).min(BACKOFF_CAP);
    let mut r = [0u8; 4];
    let fraction = match ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut r) {
        Ok(()) => f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    };
    ceiling.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_grows() {
        for retry in 1..20 {
            assert!(backoff(retry, true) <= BACKOFF_CAP);
        }
        let small: Duration = (0..50).map(|_| backoff(1, false)).max().unwrap();
        assert!(small <= BACKOFF_BASE * 2);
    }
}
