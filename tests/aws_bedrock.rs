//! The Bedrock client and AWS credentials chain against the fake Bedrock and fake IMDS:
//! credential sources, rotation under load, signing (checked by an independent verifier),
//! Retrieve/GetKnowledgeBase shapes, error mapping, retries and timeouts.

use crate::support;

use bedrock_mcp::aws::sigv4::{self, Signable};
use bedrock_mcp::aws::{CredentialChain, CredentialsError};
use bedrock_mcp::clock::ManualClock;
use bedrock_mcp::config::Vars;
use bedrock_mcp::kb::bedrock::BedrockKb;
use bedrock_mcp::kb::{KbError, KnowledgeBase, Location};
use serde_json::Value;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};
use support::fake_bedrock::{self as fb, FakeBedrock, Fault, KB_ID};
use support::fake_imds::{FakeImds, ImdsMode, ROLE};

fn vars(base: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vars {
    let mut pairs = base;
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Vars::from_pairs(pairs)
}

/// A client on the fake with its default key pair, plus `extra` settings. The type is fixed
/// (BEDROCK_KB_TYPE=vector), so each retrieve is exactly one Retrieve call and scripted
/// faults land on it; learning the type is tested in kb_types.rs.
fn kb(bedrock: &FakeBedrock, extra: &[(&str, &str)]) -> BedrockKb {
    let mut base = bedrock.env();
    base.push(("BEDROCK_KB_TYPE".into(), "vector".into()));
    BedrockKb::from_vars(&vars(base, extra), KB_ID, bedrock.region()).unwrap()
}

/// A client on the fake that takes its credentials from the fake IMDS.
fn kb_via_imds(bedrock: &FakeBedrock, imds: &FakeImds) -> BedrockKb {
    let mut base = imds.env();
    base.push(("AWS_ENDPOINT_URL".into(), bedrock.url()));
    base.push(("BEDROCK_KB_TYPE".into(), "vector".into()));
    BedrockKb::from_vars(&vars(base, &[]), KB_ID, bedrock.region()).unwrap()
}

fn chain(pairs: Vec<(String, String)>) -> Result<CredentialChain, CredentialsError> {
    CredentialChain::from_vars(&Vars::from_pairs(pairs))
}

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

// ---- credential sources ----------------------------------------------------------------

#[test]
fn environment_keys_with_session_token_sign_requests() {
    let bedrock = FakeBedrock::start();
    bedrock
        .keys()
        .add("ASIAENVTOKEN", "env-secret", Some("env-session"));
    let kb = kb(
        &bedrock,
        &[
            ("AWS_ACCESS_KEY_ID", "ASIAENVTOKEN"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ("AWS_SESSION_TOKEN", "env-session"),
        ],
    );
    assert!(kb.retrieve("vpn", 3).is_ok());
    assert_eq!(bedrock.keys_seen(), vec!["ASIAENVTOKEN".to_string()]);
    let headers = bedrock.last_headers();
    let token = headers.iter().find(|(k, _)| k == "x-amz-security-token");
    assert_eq!(token.map(|(_, v)| v.as_str()), Some("env-session"));
    assert_eq!(kb.credentials_source().unwrap(), "environment");
}

#[test]
fn container_credentials_use_the_authorization_token() {
    let (bedrock, imds) = (FakeBedrock::start(), FakeImds::start());
    imds.register_with(bedrock.keys());
    imds.set_container_token(Some("container-auth-123"));
    let base = vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_string(),
            imds.container_url(),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN".to_string(),
            "container-auth-123".to_string(),
        ),
        ("AWS_ENDPOINT_URL".to_string(), bedrock.url()),
    ];
    let kb = BedrockKb::from_vars(&vars(base.clone(), &[]), KB_ID, fb::REGION).unwrap();
    assert!(kb.retrieve("vpn", 3).is_ok());
    assert_eq!(bedrock.keys_seen(), vec![imds.current().access_key_id]);
    let source = kb.credentials_source().unwrap();
    assert!(
        source.starts_with(&format!("container ({})", imds.container_url())),
        "{source}"
    );
    assert_eq!(
        imds.calls().container_gets,
        1,
        "cached after the first fetch"
    );

    let wrong = vars(base, &[("AWS_CONTAINER_AUTHORIZATION_TOKEN", "nope")]);
    let err = CredentialChain::from_vars(&wrong)
        .unwrap()
        .credentials()
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("401") && msg.contains("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        "{msg}"
    );
}

#[test]
fn container_token_file_is_read() {
    let imds = FakeImds::start();
    imds.set_container_token(Some("from-the-file"));
    let path = std::env::temp_dir().join(format!("bedrock-mcp-token-{}", std::process::id()));
    std::fs::write(&path, "from-the-file\n").unwrap();
    let c = chain(vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI".into(),
            imds.container_url(),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE".into(),
            path.display().to_string(),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN".into(),
            "ignored-when-a-file-is-set".into(),
        ),
    ])
    .unwrap();
    let result = c.credentials();
    std::fs::remove_file(&path).ok();
    assert_eq!(
        result.unwrap().access_key_id(),
        imds.current().access_key_id
    );
}

#[test]
fn imdsv2_flow_fetches_once_and_describes_the_role() {
    let imds = FakeImds::start();
    let c = chain(imds.env()).unwrap();
    let creds = c.credentials().unwrap();
    let issued = imds.current();
    assert_eq!(creds.access_key_id(), issued.access_key_id);
    assert_eq!(creds.secret_access_key(), issued.secret);
    assert_eq!(creds.session_token(), Some(issued.token.as_str()));
    assert_eq!(creds.expiry(), Some(issued.expiration));
    c.credentials().unwrap();
    let calls = imds.calls();
    assert_eq!(
        (calls.token_puts, calls.role_lists, calls.credential_gets),
        (1, 1, 1)
    );
    assert_eq!(calls.unauthorized, 0, "every GET carried the session token");
    let described = c.describe();
    assert!(
        described.starts_with(&format!("imds role {ROLE} ({})", imds.url())),
        "{described}"
    );
    assert!(
        described.contains(", expires 20") && !described.contains(&issued.secret),
        "{described}"
    );

    // The fake really insists on the token, so the zero above means something.
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("{}/latest/meta-data/iam/security-credentials/", imds.url());
    assert_eq!(agent.get(&url).call().unwrap().status().as_u16(), 401);
}

#[test]
fn imds_disabled_means_no_credentials_and_no_calls() {
    let imds = FakeImds::start();
    let mut pairs = imds.env();
    pairs.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
    assert_eq!(chain(pairs).unwrap_err(), CredentialsError::NotFound);
    assert_eq!(imds.calls(), Default::default());
}

#[test]
fn no_reachable_source_gives_an_actionable_error() {
    let pairs = vec![
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT".to_string(),
            closed_port_url(),
        ),
        ("AWS_ENDPOINT_URL".to_string(), closed_port_url()),
    ];
    let msg = chain(pairs.clone())
        .unwrap()
        .credentials()
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("AWS_ACCESS_KEY_ID") && msg.contains("instance profile"),
        "{msg}"
    );
    let kb = BedrockKb::from_vars(&Vars::from_pairs(pairs), KB_ID, fb::REGION).unwrap();
    assert!(matches!(kb.retrieve("x", 1), Err(KbError::Credentials(_))));
    assert!(matches!(
        kb.credentials_source(),
        Err(KbError::Credentials(_))
    ));
}

#[test]
fn imds_without_a_role_says_to_attach_one() {
    let imds = FakeImds::start();
    imds.set_role(None);
    let msg = chain(imds.env())
        .unwrap()
        .credentials()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("instance profile"), "{msg}");
}

#[test]
fn a_hanging_token_request_mentions_the_hop_limit() {
    let imds = FakeImds::start();
    // Far longer than the client's timeout (AWS_METADATA_SERVICE_TIMEOUT, 1 s by default): a
    // timeout error (rather than the fake's late answer) proves the client gave up on its own,
    // with no clock reading in the test.
    imds.set_mode(ImdsMode::Hang(Duration::from_secs(30)));
    let err = chain(imds.env()).unwrap().credentials().unwrap_err();
    assert!(
        matches!(err, CredentialsError::ImdsTokenTimeout { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("--http-put-response-hop-limit 2"),
        "{err}"
    );
}

#[test]
fn imds_failures_are_tried_again_up_to_aws_metadata_service_num_attempts() {
    let imds = FakeImds::start();
    imds.set_mode(ImdsMode::Unavailable);
    // The SDKs' default: one attempt, so a 503 is reported at once.
    assert!(chain(imds.env()).unwrap().credentials().is_err());
    assert_eq!(imds.calls().unavailable, 1);
    let mut env = imds.env();
    env.push(("AWS_METADATA_SERVICE_NUM_ATTEMPTS".into(), "3".into()));
    let err = chain(env).unwrap().credentials().unwrap_err();
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert_eq!(
        imds.calls().unavailable,
        1 + 3,
        "three attempts, then the error"
    );
}

#[test]
fn a_bad_aws_metadata_service_timeout_names_the_variable() {
    let imds = FakeImds::start();
    let mut env = imds.env();
    env.push(("AWS_METADATA_SERVICE_TIMEOUT".into(), "soon".into()));
    let Err(err) = chain(env) else {
        panic!("a bad AWS_METADATA_SERVICE_TIMEOUT was accepted")
    };
    assert!(
        err.to_string().contains("AWS_METADATA_SERVICE_TIMEOUT"),
        "{err}"
    );
    assert_eq!(
        imds.calls(),
        Default::default(),
        "no IMDS call with bad settings"
    );
}

/// An IMDS chain whose clock the test moves; the fake issues hour-long credentials, stamped
/// with the real time, which the manual clock starts at.
fn chain_on_a_manual_clock(imds: &FakeImds) -> (CredentialChain, Arc<ManualClock>) {
    imds.set_lifetime(Duration::from_secs(3600));
    let clock = ManualClock::shared();
    (chain(imds.env()).unwrap().with_clock(clock.clone()), clock)
}

#[test]
fn credentials_are_refreshed_five_minutes_before_they_expire() {
    let imds = FakeImds::start();
    let (c, clock) = chain_on_a_manual_clock(&imds);
    c.credentials().unwrap();
    // The refresh point is 55 minutes after issue; margins of 100 s absorb how long the
    // fetch itself took in real time.
    clock.advance(Duration::from_secs(3200));
    c.credentials().unwrap();
    assert_eq!(
        imds.calls().credential_gets,
        1,
        "still fresh: served from cache"
    );
    clock.advance(Duration::from_secs(200));
    c.credentials().unwrap();
    assert_eq!(imds.calls().credential_gets, 2, "refreshed ahead of expiry");
}

#[test]
fn a_failed_refresh_keeps_serving_still_valid_credentials() {
    let imds = FakeImds::start();
    let (c, clock) = chain_on_a_manual_clock(&imds);
    let first = c.credentials().unwrap();
    // The role vanishes: each refresh attempt gets a token (counted), then a 404.
    imds.set_role(None);
    // Past the refresh point but before expiry: the refresh fails, old keys serve.
    clock.advance(Duration::from_secs(3400));
    assert_eq!(
        c.credentials().unwrap().access_key_id(),
        first.access_key_id()
    );
    assert_eq!(imds.calls().token_puts, 2, "one refresh was tried");
    // For 10 s after a failure nobody retries; then the next caller does.
    clock.advance(Duration::from_secs(9));
    c.credentials().unwrap();
    assert_eq!(imds.calls().token_puts, 2, "backing off after the failure");
    clock.advance(Duration::from_secs(1));
    c.credentials().unwrap();
    assert_eq!(
        imds.calls().token_puts,
        3,
        "retried once the back-off ended"
    );
    // After expiry nothing valid is left, and the error says why.
    clock.advance(Duration::from_secs(300));
    let err = c.credentials().unwrap_err();
    assert!(matches!(err, CredentialsError::Imds { .. }), "{err:?}");
}

#[test]
fn fifty_threads_on_a_cold_cache_cause_one_imds_fetch() {
    let imds = FakeImds::start();
    imds.set_delay(Duration::from_millis(400));
    let c = Arc::new(chain(imds.env()).unwrap());
    let barrier = Arc::new(Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (c, barrier) = (c.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                c.credentials().map(|k| k.access_key_id().to_string())
            })
        })
        .collect();
    let keys: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]));
    let calls = imds.calls();
    assert_eq!(
        (calls.token_puts, calls.credential_gets),
        (1, 1),
        "{calls:?}"
    );
}

#[test]
fn rotating_credentials_under_load_never_fail_a_request() {
    let (bedrock, imds) = (FakeBedrock::start(), FakeImds::start());
    imds.register_with(bedrock.keys());
    // Each key lives 3 s and a new one appears every second; the fake refuses expired keys.
    // Keys are refreshed at half their remaining life, so each signed request has at least
    // a second to reach the fake: ample margin on a busy machine.
    imds.rotate_every(Duration::from_secs(1), Duration::from_secs(3));
    let kb = Arc::new(kb_via_imds(&bedrock, &imds));
    let bedrock = Arc::new(bedrock);
    // Workers run until the fake has seen a rotated key and each has made a few requests:
    // an event, not a duration; the guard only turns a hang into a failure.
    let guard = Instant::now() + Duration::from_secs(30);
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (kb, bedrock) = (kb.clone(), bedrock.clone());
            std::thread::spawn(move || {
                let (mut ok, mut failures) = (0, Vec::new());
                while ok < 5 || bedrock.keys_seen().len() < 2 {
                    assert!(Instant::now() < guard, "no rotation seen within 30 s");
                    match kb.retrieve("vpn home", 2) {
                        Ok(_) => ok += 1,
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                (ok, failures)
            })
        })
        .collect();
    let mut total = 0;
    for w in workers {
        let (ok, failures) = w.join().unwrap();
        assert!(
            failures.is_empty(),
            "{} failed requests, the first: {:?}",
            failures.len(),
            failures.first()
        );
        total += ok;
    }
    let gets = imds.calls().credential_gets;
    assert!(total >= 30, "only {total} requests ran");
    // Every refresh falls in a later rotation period than the fetch before it, so each
    // fetch brings a key Bedrock has not seen: more fetches than keys means a stampede.
    let keys = bedrock.keys_seen().len();
    assert!(keys >= 2, "never rotated: {:?}", bedrock.keys_seen());
    assert!(
        gets <= keys + 1,
        "{gets} IMDS fetches for {keys} keys over {total} requests"
    );
    assert_eq!(bedrock.auth_failures(), 0);
}

// ---- Retrieve and GetKnowledgeBase -------------------------------------------------------

/// The location the client should report for a fake document, derived independently.
fn expected_location(doc: &Value) -> Location {
    let kind = doc["type"].as_str().unwrap().to_string();
    let inner = doc
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.ends_with("Location"))
        .unwrap()
        .1;
    let uri = ["uri", "url", "id", "query"]
        .iter()
        .find_map(|f| inner[*f].as_str())
        .map(str::to_string);
    Location { kind, uri }
}

#[test]
fn retrieve_returns_every_location_type_and_sends_the_right_body() {
    let bedrock = FakeBedrock::start();
    let kb = kb(&bedrock, &[]);
    let query = "vacation vpn runbook acme travel release training revenue brand";
    let got = kb.retrieve(query, 100).unwrap();
    let corpus = fb::default_corpus();
    assert_eq!(got.results.len(), corpus.len());
    for doc in &corpus {
        let p = got
            .results
            .iter()
            .find(|p| p.text == doc.text)
            .expect("every doc returned");
        assert_eq!(
            p.location,
            Some(expected_location(&doc.location)),
            "{}",
            doc.text
        );
        assert_eq!(p.content_type, doc.content_type);
        assert!(p.score.is_some_and(|s| s > 0.0));
        assert_eq!(Value::Object(p.metadata.clone()), doc.metadata);
    }
    let sent: Value = serde_json::from_str(&bedrock.last_body().unwrap()).unwrap();
    assert_eq!(sent["retrievalQuery"]["text"], query);
    assert_eq!(
        sent["retrievalConfiguration"]["vectorSearchConfiguration"]["numberOfResults"],
        100
    );
}

#[test]
fn results_depend_on_the_query_and_respect_the_limit() {
    let bedrock = FakeBedrock::start();
    let kb = kb(&bedrock, &[]);
    let vpn = kb.retrieve("VPN?", 5).unwrap().results;
    assert_eq!(vpn.len(), 1);
    assert_eq!(
        vpn[0].location.as_ref().map(|l| l.kind.as_str()),
        Some("WEB")
    );
    let policy = kb.retrieve("employees policy", 5).unwrap().results;
    assert_eq!(
        policy[0].location.as_ref().unwrap().kind,
        "S3",
        "best match first"
    );
    assert_eq!(kb.retrieve("employees policy", 1).unwrap().results.len(), 1);
    assert!(kb.retrieve("zebra", 5).unwrap().results.is_empty());
}

#[test]
fn upstream_time_covers_the_wait() {
    let bedrock = FakeBedrock::start();
    bedrock.set_latency(Duration::from_millis(150));
    bedrock.push_fault(Fault::Throttle);
    let got = kb(&bedrock, &[]).retrieve("vpn", 1).unwrap();
    assert!(
        got.upstream_ms >= 300,
        "two attempts of 150 ms, got {}",
        got.upstream_ms
    );
}

#[test]
fn info_reads_the_knowledge_base() {
    let bedrock = FakeBedrock::start();
    bedrock.set_kb("Handbook", "Company handbook", "UPDATING");
    let info = kb(&bedrock, &[]).info();
    assert_eq!(
        (
            info.backend.as_str(),
            info.kb_id.as_str(),
            info.region.as_str()
        ),
        ("bedrock", KB_ID, fb::REGION)
    );
    assert_eq!(
        (info.status.as_str(), info.name.as_deref()),
        ("UPDATING", Some("Handbook"))
    );
    assert_eq!(
        (info.description.as_deref(), info.note),
        (Some("Company handbook"), None)
    );
}

#[test]
fn info_is_cached_for_kb_info_ttl_and_failures_are_not() {
    let bedrock = FakeBedrock::start();
    bedrock.set_kb("Handbook", "Company handbook", "ACTIVE");
    let cached = kb(&bedrock, &[]);
    for _ in 0..5 {
        assert_eq!(cached.info().name.as_deref(), Some("Handbook"));
    }
    assert_eq!(
        bedrock.info_calls(),
        1,
        "one GetKnowledgeBase per KB_INFO_TTL_SECS"
    );
    let fresh = kb(&bedrock, &[("KB_INFO_TTL_SECS", "0")]);
    fresh.info();
    fresh.info();
    assert_eq!(
        bedrock.info_calls(),
        3,
        "KB_INFO_TTL_SECS=0 asks every time"
    );
    let after_failure = kb(&bedrock, &[]);
    bedrock.push_fault(Fault::AccessDenied);
    assert!(after_failure.info().note.is_some());
    assert_eq!(after_failure.info().name.as_deref(), Some("Handbook"));
    assert_eq!(bedrock.info_calls(), 5, "a failure is not kept");
}

#[test]
fn info_explains_what_it_could_not_read() {
    let bedrock = FakeBedrock::start();
    let kb = kb(&bedrock, &[]);
    bedrock.push_fault(Fault::AccessDenied);
    let info = kb.info();
    assert_eq!((info.status.as_str(), info.name.clone()), ("UNKNOWN", None));
    let note = info.note.unwrap();
    assert!(
        note.contains("may not call bedrock:GetKnowledgeBase"),
        "{note}"
    );
    bedrock.push_fault(Fault::NotFound);
    let note = kb.info().note.unwrap();
    assert!(
        note.contains("BEDROCK_KB_ID") && note.contains("AWS_REGION"),
        "{note}"
    );
    assert_eq!(
        bedrock.info_calls(),
        2,
        "access and not-found errors are not retried"
    );
}

// ---- errors and retries ------------------------------------------------------------------

#[test]
fn final_errors_are_mapped_and_not_retried() {
    let bedrock = FakeBedrock::start();
    let kb = kb(&bedrock, &[]);
    let expect = |fault: Fault, check: &dyn Fn(&KbError) -> bool| {
        let before = bedrock.retrieve_calls();
        bedrock.push_fault(fault.clone());
        let err = kb.retrieve("vpn", 3).unwrap_err();
        assert!(check(&err), "{fault:?} gave {err:?}");
        assert_eq!(
            bedrock.retrieve_calls() - before,
            1,
            "{fault:?} must not be retried"
        );
    };
    expect(
        Fault::AccessDenied,
        &|e| matches!(e, KbError::AccessDenied(m) if m.contains("grant bedrock:Retrieve")),
    );
    expect(
        Fault::NotFound,
        &|e| matches!(e, KbError::NotFound(m) if m.contains("BEDROCK_KB_ID")),
    );
    expect(Fault::Validation, &|e| {
        matches!(e, KbError::InvalidRequest(_))
    });
    expect(
        Fault::Garbage,
        &|e| matches!(e, KbError::Unavailable(m) if m.contains("unreadable")),
    );
    let dependency = Fault::Error {
        status: 424,
        code: "DependencyFailedException".into(),
        message: "vector store down".into(),
    };
    expect(
        dependency,
        &|e| matches!(e, KbError::Unavailable(m) if m.contains("vector store down")),
    );
    let conflict = Fault::Error {
        status: 409,
        code: "ConflictException".into(),
        message: "syncing".into(),
    };
    expect(
        conflict,
        &|e| matches!(e, KbError::Unavailable(m) if m.contains("busy")),
    );
    let expired = Fault::Error {
        status: 403,
        code: "ExpiredTokenException".into(),
        message: "expired".into(),
    };
    expect(expired, &|e| matches!(e, KbError::Credentials(_)));

    let other = BedrockKb::from_vars(&vars(bedrock.env(), &[]), "KBOTHER001", fb::REGION).unwrap();
    assert!(matches!(
        other.retrieve("vpn", 1),
        Err(KbError::NotFound(_))
    ));
}

#[test]
fn throttling_then_success_is_retried() {
    let bedrock = FakeBedrock::start();
    bedrock.push_faults(Fault::Throttle, 2);
    assert_eq!(
        kb(&bedrock, &[]).retrieve("vpn", 1).unwrap().results.len(),
        1
    );
    assert_eq!(bedrock.retrieve_calls(), 3);
}

#[test]
fn throttling_every_other_call_never_surfaces() {
    let bedrock = FakeBedrock::start();
    bedrock.set_every_other(Some(Fault::Throttle));
    let kb = kb(&bedrock, &[]);
    for _ in 0..4 {
        assert!(kb.retrieve("vpn", 1).is_ok());
    }
    assert_eq!(bedrock.retrieve_calls(), 8);
}

#[test]
fn constant_throttling_gives_up_after_the_configured_attempts() {
    let bedrock = FakeBedrock::start();
    bedrock.set_always(Some(Fault::Throttle));
    let err = kb(&bedrock, &[]).retrieve("vpn", 1).unwrap_err();
    assert!(
        matches!(&err, KbError::Throttled(m) if m.contains("3 attempts")),
        "{err:?}"
    );
    assert_eq!(bedrock.retrieve_calls(), 3);
    let err = kb(&bedrock, &[("BEDROCK_MAX_ATTEMPTS", "5")])
        .retrieve("vpn", 1)
        .unwrap_err();
    assert!(matches!(err, KbError::Throttled(_)));
    assert_eq!(bedrock.retrieve_calls(), 8);
}

#[test]
fn server_errors_are_retried() {
    let bedrock = FakeBedrock::start();
    let kb = kb(&bedrock, &[]);
    for status in [500, 502, 503, 504] {
        let before = bedrock.retrieve_calls();
        bedrock.push_fault(Fault::Status(status));
        assert!(kb.retrieve("vpn", 1).is_ok(), "{status}");
        assert_eq!(bedrock.retrieve_calls() - before, 2, "{status}");
    }
    bedrock.set_always(Some(Fault::Status(503)));
    let err = kb.retrieve("vpn", 1).unwrap_err();
    assert!(
        matches!(&err, KbError::Unavailable(m) if m.contains("503")),
        "{err:?}"
    );
}

#[test]
fn a_hanging_bedrock_times_out_in_bounded_time() {
    let bedrock = FakeBedrock::start();
    bedrock.set_always(Some(Fault::Delay(Duration::from_secs(20))));
    let kb = kb(
        &bedrock,
        &[("BEDROCK_TIMEOUT_SECS", "1"), ("BEDROCK_MAX_ATTEMPTS", "2")],
    );
    // The fake would answer only after 20 s: a Timeout error proves the client gave up.
    let err = kb.retrieve("vpn", 1).unwrap_err();
    assert!(
        matches!(&err, KbError::Timeout(m) if m.contains("1 s")),
        "{err:?}"
    );
    assert_eq!(bedrock.retrieve_calls(), 2, "timeouts are retried");
}

#[test]
fn connection_refused_is_unavailable() {
    let dead = closed_port_url();
    let pairs = vec![
        ("AWS_ACCESS_KEY_ID".to_string(), fb::ACCESS_KEY.to_string()),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            fb::SECRET_KEY.to_string(),
        ),
        ("AWS_ENDPOINT_URL".to_string(), dead),
    ];
    let kb = BedrockKb::from_vars(&Vars::from_pairs(pairs), KB_ID, fb::REGION).unwrap();
    let err = kb.retrieve("vpn", 1).unwrap_err();
    assert!(matches!(err, KbError::Unavailable(_)), "{err:?}");
}

#[test]
fn service_specific_endpoints_win_over_the_global_one() {
    let (runtime, agent) = (FakeBedrock::start(), FakeBedrock::start());
    let kb = kb(
        &runtime,
        &[
            ("AWS_ENDPOINT_URL", &closed_port_url()),
            ("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME", &runtime.url()),
            ("AWS_ENDPOINT_URL_BEDROCK_AGENT", &agent.url()),
        ],
    );
    assert!(kb.retrieve("vpn", 1).is_ok());
    assert_eq!(kb.info().note, None);
    assert_eq!((runtime.retrieve_calls(), runtime.info_calls()), (1, 0));
    assert_eq!((agent.retrieve_calls(), agent.info_calls()), (0, 1));
}

// ---- the fake's verifier really checks signatures -----------------------------------------

fn send_signed(bedrock: &FakeBedrock, secret: &str, key: &str, tamper: bool) -> (u16, String) {
    let url = format!("{}/knowledgebases/{KB_ID}/retrieve", bedrock.url());
    let host = sigv4::host_header(&url).unwrap();
    let body = br#"{"retrievalQuery":{"text":"vpn"}}"#;
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/json"),
    ];
    let creds = aws_credential_types::Credentials::new(key, secret, None, None, "test");
    let req = Signable {
        method: "POST",
        url: &url,
        headers: &headers,
        body,
    };
    let signed = sigv4::sign(&req, &creds, fb::REGION, "bedrock", SystemTime::now()).unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut rb = agent.post(&url);
    for (k, v) in headers
        .iter()
        .copied()
        .chain(signed.iter().map(|(k, v)| (*k, v.as_str())))
    {
        rb = rb.header(k, v);
    }
    let sent: &[u8] = if tamper {
        br#"{"retrievalQuery":{"text":"vpm"}}"#
    } else {
        body
    };
    let mut resp = rb.send(sent).unwrap();
    let code = resp
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string());
    (
        resp.status().as_u16(),
        code.unwrap_or_else(|| resp.body_mut().read_to_string().unwrap()),
    )
}

#[test]
fn the_fake_rejects_bad_signatures() {
    let bedrock = FakeBedrock::start();
    assert_eq!(
        send_signed(&bedrock, fb::SECRET_KEY, fb::ACCESS_KEY, false).0,
        200
    );
    assert_eq!(bedrock.bad_signatures(), 0);
    assert_eq!(
        send_signed(&bedrock, "wrong-secret", fb::ACCESS_KEY, false),
        (403, "InvalidSignatureException".into())
    );
    assert_eq!(
        send_signed(&bedrock, fb::SECRET_KEY, fb::ACCESS_KEY, true),
        (403, "InvalidSignatureException".into())
    );
    assert_eq!(bedrock.bad_signatures(), 2);
    assert_eq!(
        send_signed(&bedrock, fb::SECRET_KEY, "AKIDUNKNOWN", false),
        (403, "UnrecognizedClientException".into())
    );
    assert_eq!((bedrock.bad_signatures(), bedrock.auth_failures()), (2, 3));

    let wrong = kb(&bedrock, &[("AWS_SECRET_ACCESS_KEY", "wrong-secret")]);
    assert!(matches!(
        wrong.retrieve("vpn", 1),
        Err(KbError::Credentials(_))
    ));
    assert_eq!(bedrock.bad_signatures(), 3);
}

#[test]
fn the_fake_verifier_matches_the_aws_test_vector() {
    // aws-sig-v4-test-suite "get-vanilla".
    let creq = fb::sigv4::canonical_request(
        "GET",
        "/",
        "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n",
        "host;x-amz-date",
        b"",
    );
    let sig = fb::sigv4::signature_for(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "20150830T123600Z",
        "us-east-1",
        "service",
        &creq,
    );
    assert_eq!(
        sig,
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

#[test]
fn the_fake_verifier_double_encodes_path_segments_as_aws_does_for_bedrock() {
    // AWS: for every service but S3, each path segment of the canonical URI is URI-encoded
    // twice. The request line carries it encoded once, so the verifier encodes it again.
    let creq = fb::sigv4::canonical_request(
        "POST",
        "/knowledgebases/K/datasources/D/documents/Salary%20bands%2F2026%20%E2%80%93/content",
        "host:h\n",
        "host",
        b"{}",
    );
    let uri = creq.lines().nth(1).unwrap();
    assert_eq!(
        uri,
        "/knowledgebases/K/datasources/D/documents/Salary%2520bands%252F2026%2520%25E2%2580%2593/content"
    );
}
