//! One Bedrock API call: sign with fresh credentials, send on the shared pooled agent,
//! classify the answer, and retry the AWS "standard" way (exponential backoff, full jitter).
//!
//! Owns retries and timing; must not parse successful answers (that is `parse`) nor log
//! credentials, signatures or request bodies.

use super::errors::{self, Target, Transient, Verdict};
use crate::aws::http::{self as awshttp, Transport};
use crate::aws::sigv4::{self, Signable};
use crate::aws::CredentialChain;
use crate::kb::KbError;
use aws_credential_types::Credentials;
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use ureq::{Agent, RequestBuilder};

/// The most we read from Bedrock; a 100-result Retrieve answer is a few MiB at worst.
const MAX_BODY: u64 = 16 * 1024 * 1024;
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(20);

/// One request to make: GET when `body` is `None`, else POST of JSON.
pub(super) struct Call<'a> {
    pub(super) op: Op,
    pub(super) url: &'a str,
    /// The Host header, precomputed from the endpoint so that signed and sent agree.
    pub(super) host: &'a str,
    pub(super) body: Option<&'a [u8]>,
    /// Sign with these (a user's own session) instead of the server's chain.
    pub(super) credentials: Option<&'a Credentials>,
    /// An Accept header to send (and sign), e.g. the event-stream type.
    pub(super) accept: Option<&'a str>,
}

/// A successful answer.
pub(super) struct Reply {
    pub(super) body: Vec<u8>,
    /// Wall time from the first attempt to the answer, backoff included.
    pub(super) upstream_ms: u64,
}

/// Idle Bedrock connections kept for reuse: the concurrent calls one small instance makes.
const IDLE_CONNECTIONS: usize = 256;
/// Each connection's read buffer. ureq's default is 128 KiB for reading and as much for
/// writing, which 256 pooled connections turn into 64 MiB of resident memory. The read
/// buffer must hold one whole answer head (Bedrock's are under 1 KiB); bodies stream
/// through it. The write buffer holds a signed request head (about 1.5 KiB) at a time.
const READ_BUFFER: usize = 8 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;

/// The pooled agent. When a burst is over (`crate::alloc::release_free_memory`) it is
/// replaced by a fresh one, so the burst's idle connections and their buffers are freed:
/// ureq drops expired idle connections only when a later call comes.
#[derive(Clone)]
pub(super) struct Pooled {
    current: Arc<RwLock<Agent>>,
}

impl Pooled {
    fn new(timeout: Duration) -> Pooled {
        let current = Arc::new(RwLock::new(build_agent(timeout)));
        let weak = Arc::downgrade(&current);
        crate::alloc::on_release(Box::new(move || {
            let Some(slot) = weak.upgrade() else {
                return false;
            };
            // Calls in flight keep their clone of the old agent; its pool goes with the last.
            *slot.write().unwrap_or_else(|p| p.into_inner()) = build_agent(timeout);
            true
        }));
        Pooled { current }
    }

    /// The agent to send with now.
    pub(super) fn get(&self) -> Agent {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Signs and sends Bedrock calls. Shared by all threads.
pub(super) struct Client {
    pub(super) agent: Pooled,
    /// Shared by the clients of every configured knowledge base (one refresh for all).
    pub(super) chain: Arc<CredentialChain>,
    pub(super) kb_id: String,
    pub(super) region: String,
    pub(super) timeout: Duration,
    pub(super) max_attempts: u32,
}

enum Outcome {
    Done(Vec<u8>),
    Verdict(Verdict),
}

/// A streamed answer: the response whose body is still to be read.
pub(super) struct Stream {
    pub(super) response: ureq::http::Response<ureq::Body>,
}

impl Client {
    /// The pooled agent: per-attempt budget `timeout`, statuses read as data, no redirects.
    pub(super) fn agent(timeout: Duration) -> Pooled {
        Pooled::new(timeout)
    }
}

/// Longest silence between two reads of a streamed answer: Bedrock sends trace events as it
/// works, so a stream quiet for this long is dead.
const STREAM_IDLE: Duration = Duration::from_secs(60);

/// An agent for one streamed answer (AgenticRetrieveStream): the whole stream within
/// `timeout` (AGENTIC_TIMEOUT_SECS), at most [`STREAM_IDLE`] between two reads, and no
/// pooling (the agent is shut down when its call ends).
pub(super) fn stream_agent(timeout: Duration) -> Agent {
    agent(0, timeout, Some(STREAM_IDLE))
}

/// One pooled agent for Bedrock calls. ureq keeps 3 idle connections per host by default:
/// with more calls in flight, most would close on return and the next call would pay a new
/// TCP + TLS handshake. Idle ones still close after 15 s (ureq's max_idle_age).
fn build_agent(timeout: Duration) -> Agent {
    agent(IDLE_CONNECTIONS, timeout, None)
}

/// An agent keeping `idle` connections, each call within `timeout` (connecting within 5 s at
/// most), reads at most `per_read` apart; no redirects, HTTP errors as answers.
fn agent(idle: usize, timeout: Duration, per_read: Option<Duration>) -> Agent {
    let config = Agent::config_builder()
        .max_idle_connections(idle)
        .max_idle_connections_per_host(idle)
        .input_buffer_size(READ_BUFFER)
        .output_buffer_size(WRITE_BUFFER)
        .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
        .timeout_global(Some(timeout))
        .timeout_per_read(per_read)
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("bedrock-mcp/", env!("CARGO_PKG_VERSION")))
        .build();
    crate::dns::agent(config)
}

impl Client {
    /// Sends `call`, retrying transient failures up to `max_attempts` in all.
    pub(super) fn send(&self, call: &Call<'_>) -> Result<Reply, KbError> {
        let start = Instant::now();
        let result = self.send_retrying(call, start);
        let outcome = result.as_ref().map_or_else(KbError::kind, |_| "ok");
        crate::metrics::bedrock_call(call.op.name(), outcome, start.elapsed());
        result
    }

    fn send_retrying(&self, call: &Call<'_>, start: Instant) -> Result<Reply, KbError> {
        let mut attempt = 1;
        loop {
            let verdict = match self.attempt(call) {
                Outcome::Done(body) => {
                    let upstream_ms = start.elapsed().as_millis() as u64;
                    log::debug!(
                        "Bedrock {} answered in {upstream_ms} ms ({attempt} attempt(s))",
                        call.op.name()
                    );
                    return Ok(Reply { body, upstream_ms });
                }
                Outcome::Verdict(v) => v,
            };
            std::thread::sleep(self.after_failure(call, verdict, attempt)?);
            attempt += 1;
        }
    }

    /// What a failed attempt leads to: the error to answer with, or the pause before the
    /// next attempt (counted and logged here, for plain and streaming calls alike).
    fn after_failure(
        &self,
        call: &Call<'_>,
        verdict: Verdict,
        attempt: u32,
    ) -> Result<Duration, KbError> {
        let transient = match verdict {
            Verdict::Fail(e) => return Err(e),
            Verdict::Retry(t) => t,
        };
        let retrying = attempt < self.max_attempts;
        let throttled = matches!(transient, Transient::Throttled(_));
        crate::metrics::bedrock_attempt_failed(call.op.name(), throttled, retrying);
        if !retrying {
            return Err(self.give_up(call, transient, attempt));
        }
        let pause = backoff(attempt);
        log::warn!(
            "Bedrock {} attempt {attempt}/{} failed ({}); retrying in {} ms",
            call.op.name(),
            self.max_attempts,
            describe(&transient),
            pause.as_millis()
        );
        Ok(pause)
    }

    fn attempt(&self, call: &Call<'_>) -> Outcome {
        let mut response = match self.sign_and_send(call, &self.agent.get()) {
            Ok(r) => r,
            Err(v) => return Outcome::Verdict(v),
        };
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match awshttp::read_capped(&mut response, MAX_BODY) {
            Ok(b) => b,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Outcome::Verdict(Verdict::Fail(KbError::Unavailable(format!(
                    "Bedrock's {} answer is larger than {} MiB",
                    call.op.name(),
                    MAX_BODY >> 20
                ))))
            }
            Err(e) => return Outcome::Verdict(self.transport_verdict(call, &e)),
        };
        if (200..300).contains(&status) {
            return Outcome::Done(body);
        }
        Outcome::Verdict(self.classify(call, status, error_type.as_deref(), &body))
    }

    fn classify(
        &self,
        call: &Call<'_>,
        status: u16,
        error_type: Option<&str>,
        body: &[u8],
    ) -> Verdict {
        let target = Target {
            op: call.op,
            kb_id: &self.kb_id,
            region: &self.region,
        };
        errors::classify(status, error_type, body, &target)
    }

    /// Signs `call` with fresh credentials and sends it on `agent`: the response, whatever
    /// its status, or the verdict on a failure before one came.
    fn sign_and_send(
        &self,
        call: &Call<'_>,
        agent: &Agent,
    ) -> Result<ureq::http::Response<ureq::Body>, Verdict> {
        let creds = match call.credentials {
            Some(user) => user.clone(),
            None => self
                .chain
                .credentials()
                .map_err(|e| Verdict::Fail(KbError::Credentials(e.to_string())))?,
        };
        let mut headers: Vec<(&str, &str)> = vec![("host", call.host)];
        if call.body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        if let Some(accept) = call.accept {
            headers.push(("accept", accept));
        }
        let request = Signable {
            method: if call.body.is_some() { "POST" } else { "GET" },
            url: call.url,
            headers: &headers,
            body: call.body.unwrap_or_default(),
        };
        // Signed per attempt, so every retry carries a fresh x-amz-date.
        let signed = sigv4::sign(&request, &creds, &self.region, "bedrock", SystemTime::now())
            .map_err(|e| Verdict::Fail(KbError::Credentials(e.to_string())))?;
        let all: Vec<(&str, &str)> = headers
            .iter()
            .copied()
            .chain(signed.iter().map(|(k, v)| (*k, v.as_str())))
            .collect();
        let result = match call.body {
            Some(body) => with_headers(agent.post(call.url), &all).send(body),
            None => with_headers(agent.get(call.url), &all).call(),
        };
        result.map_err(|e| self.transport_verdict(call, &e))
    }

    /// Sends `call` on `agent` and returns its answer once a 2xx head came, the body unread
    /// (an event stream); failures before that are retried as [`Client::send`] retries them.
    pub(super) fn open(&self, call: &Call<'_>, agent: &Agent) -> Result<Stream, KbError> {
        let start = Instant::now();
        let mut attempt = 1;
        let result = loop {
            let verdict = match self.sign_and_send(call, agent) {
                Ok(response) if response.status().is_success() => break Ok(Stream { response }),
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let error_type = response
                        .headers()
                        .get("x-amzn-errortype")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let body = awshttp::read_capped(&mut response, 64 * 1024).unwrap_or_default();
                    self.classify(call, status, error_type.as_deref(), &body)
                }
                Err(v) => v,
            };
            match self.after_failure(call, verdict, attempt) {
                Ok(pause) => std::thread::sleep(pause),
                Err(e) => break Err(e),
            }
            attempt += 1;
        };
        let outcome = result.as_ref().map_or_else(KbError::kind, |_| "ok");
        crate::metrics::bedrock_call(call.op.name(), outcome, start.elapsed());
        result
    }

    /// The verdict on an exception Bedrock sent inside a stream (`code` as in
    /// `x-amzn-ErrorType`, `status` the one the service model gives it): final, since the
    /// stream is over; what would have been retried is worded as it would be after retries.
    pub(super) fn stream_exception(
        &self,
        call: &Call<'_>,
        status: u16,
        code: &str,
        payload: &[u8],
    ) -> KbError {
        match self.classify(call, status, Some(code), payload) {
            Verdict::Fail(e) => e,
            Verdict::Retry(t) => self.give_up(call, t, 1),
        }
    }

    fn transport_verdict(&self, call: &Call<'_>, e: &ureq::Error) -> Verdict {
        match awshttp::classify(e) {
            Transport::ConnectTimeout => Verdict::Retry(Transient::Timeout(format!(
                "could not connect to {} in time",
                call.host
            ))),
            Transport::Timeout => Verdict::Retry(Transient::Timeout(format!(
                "no answer within {} s",
                self.timeout.as_secs()
            ))),
            Transport::Connect => Verdict::Retry(Transient::Connection(format!(
                "cannot reach {}: {e}",
                call.host
            ))),
            Transport::Other => Verdict::Fail(KbError::Unavailable(format!(
                "talking to Bedrock at {} failed: {e}",
                call.host
            ))),
        }
    }

    fn give_up(&self, call: &Call<'_>, last: Transient, attempts: u32) -> KbError {
        let op = call.op.name();
        let tries = if attempts == 1 {
            "1 attempt".to_string()
        } else {
            format!("{attempts} attempts")
        };
        match last {
            Transient::Throttled(said) => KbError::Throttled(format!(
                "Bedrock is still throttling {op} after {tries} ({said}); try again in a little while, \
                 or ask AWS for a higher Bedrock quota"
            )),
            Transient::Server(said) => {
                KbError::Unavailable(format!("Bedrock {op} kept failing, {tries} ({said})"))
            }
            Transient::Timeout(what) => KbError::Timeout(format!(
                "Bedrock {op}: {what} on each of {tries} (BEDROCK_TIMEOUT_SECS={}, BEDROCK_MAX_ATTEMPTS={})",
                self.timeout.as_secs(),
                self.max_attempts
            )),
            Transient::Connection(what) => KbError::Unavailable(format!(
                "Bedrock {op}: {what} ({tries}); check the network and the endpoint settings"
            )),
        }
    }
}

fn with_headers<B>(mut request: RequestBuilder<B>, headers: &[(&str, &str)]) -> RequestBuilder<B> {
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
}

fn describe(t: &Transient) -> &str {
    match t {
        Transient::Throttled(s)
        | Transient::Server(s)
        | Transient::Timeout(s)
        | Transient::Connection(s) => s,
    }
}

/// Full jitter: uniform in [0, min(cap, base · 2^(attempt-1))).
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(BACKOFF_CAP);
    ceiling.mul_f64(random_fraction())
}

fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    let raw = if SystemRandom::new().fill(&mut bytes).is_ok() {
        u32::from_le_bytes(bytes)
    } else {
        // Jitter only spreads retries out; the clock's nanoseconds are random enough for that.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    };
    f64::from(raw) / (f64::from(u32::MAX) + 1.0)
}

/// The Bedrock operations we call, with the names and IAM actions messages cite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Retrieve,
    GetKnowledgeBase,
    GetDocumentContent,
    AgenticRetrieveStream,
}

impl Op {
    /// The API name, for messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Retrieve => "Retrieve",
            Op::GetKnowledgeBase => "GetKnowledgeBase",
            Op::GetDocumentContent => "GetDocumentContent",
            Op::AgenticRetrieveStream => "AgenticRetrieveStream",
        }
    }

    /// The IAM action it needs.
    pub(super) fn action(self) -> &'static str {
        match self {
            Op::Retrieve => "bedrock:Retrieve",
            Op::GetKnowledgeBase => "bedrock:GetKnowledgeBase",
            Op::GetDocumentContent => "bedrock:GetDocumentContent",
            Op::AgenticRetrieveStream => "bedrock:AgenticRetrieveStream",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_its_exponential_ceiling() {
        for attempt in 1..=12 {
            let ceiling = (BACKOFF_BASE * 2u32.pow(attempt - 1)).min(BACKOFF_CAP);
            for _ in 0..50 {
                assert!(backoff(attempt) < ceiling, "attempt {attempt}");
            }
        }
        assert!(backoff(1000) < BACKOFF_CAP);
        let spread: std::collections::HashSet<_> = (0..20).map(|_| backoff(5)).collect();
        assert!(spread.len() > 1, "jitter should vary");
    }
}
