//! Unit tests of the per-user session cache with a scripted STS: single flight, one session
//! per user, refresh and token expiry, no caching of failures, the bound, and the wording.

use super::*;
use crate::clock::{Clock, ManualClock};
use aws_credential_types::Credentials;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::UNIX_EPOCH;

fn settings() -> UserSessionSettings {
    UserSessionSettings {
        role_arn: "arn:aws:iam::111122223333:role/bmcp-user".into(),
        duration_seconds: 900,
        session_prefix: "bmcp-".into(),
        sts_endpoint: "http://127.0.0.1:9".into(),
    }
}

fn sessions(clock: &Arc<ManualClock>, capacity: usize) -> UserSessions {
    UserSessions::new(&settings()).with_clock(clock.clone(), capacity)
}

fn user(oid: &str, clock: &ManualClock, token_life: u64) -> WebIdentity {
    let exp = clock.now().duration_since(UNIX_EPOCH).unwrap().as_secs() + token_life;
    WebIdentity::new(
        &format!("token-of-{oid}"),
        "https://login.microsoftonline.com/t/v2.0",
        "t",
        oid,
        Some(&format!("{oid}@contoso.com")),
        None,
        exp,
    )
}

fn assumed(clock: &ManualClock, life: u64, key: &str) -> Assumed {
    let expires = clock.now() + Duration::from_secs(life);
    Assumed {
        credentials: Credentials::new(key, "secret", Some("session".into()), Some(expires), "t"),
        expires,
        assumed_role_arn: "arn:aws:sts::1:assumed-role/r/s".into(),
        subject_from_token: None,
        context: None,
    }
}

#[test]
fn fifty_concurrent_calls_of_one_user_make_one_sts_call() {
    let clock = ManualClock::shared();
    let s = sessions(&clock, 100);
    let calls = AtomicUsize::new(0);
    let barrier = Barrier::new(50);
    let alice = user("11111111-0000-0000-0000-000000000001", &clock, 3600);
    std::thread::scope(|scope| {
        for _ in 0..50 {
            scope.spawn(|| {
                barrier.wait();
                let got = s
                    .session_with(&alice, |r| {
                        calls.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(r.session_name, "bmcp-11111111-0000-0000-0000-000000000001");
                        assert_eq!(r.token, "token-of-11111111-0000-0000-0000-000000000001");
                        assert_eq!(r.duration_seconds, Some(900));
                        // Long enough that the other 49 arrive while this one is in flight.
                        std::thread::sleep(Duration::from_millis(200));
                        Ok(assumed(&clock, 900, "ASIAALICE"))
                    })
                    .unwrap();
                assert_eq!(got.credentials.access_key_id(), "ASIAALICE");
            });
        }
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A second user gets a second session; the first is still cached.
    let bob = user("22222222-0000-0000-0000-000000000002", &clock, 3600);
    let b = s
        .session_with(&bob, |_| Ok(assumed(&clock, 900, "ASIABOB")))
        .unwrap();
    assert_eq!(b.credentials.access_key_id(), "ASIABOB");
    let a = s.session_with(&alice, |_| panic!("cached")).unwrap();
    assert_eq!(a.credentials.access_key_id(), "ASIAALICE");
    assert_eq!(s.cached(), 2);
}

#[test]
fn credentials_are_refreshed_ahead_of_expiry_and_never_outlive_the_token() {
    let clock = ManualClock::shared();
    let s = sessions(&clock, 100);
    let alice = user("a", &clock, 3600);
    s.session_with(&alice, |_| Ok(assumed(&clock, 900, "K1")))
        .unwrap();
    // 900 s credentials: used until 5 minutes before expiry.
    clock.advance(Duration::from_secs(599));
    s.session_with(&alice, |_| panic!("still fresh")).unwrap();
    clock.advance(Duration::from_secs(2));
    let k2 = s
        .session_with(&alice, |_| Ok(assumed(&clock, 900, "K2")))
        .unwrap();
    assert_eq!(k2.credentials.access_key_id(), "K2");
    // A token that expires in 60 s bounds the entry, whatever the credentials say.
    let short = user("b", &clock, 60);
    s.session_with(&short, |_| Ok(assumed(&clock, 3600, "K3")))
        .unwrap();
    clock.advance(Duration::from_secs(59));
    s.session_with(&short, |_| panic!("still valid")).unwrap();
    clock.advance(Duration::from_secs(2));
    let k4 = s
        .session_with(&short, |_| Ok(assumed(&clock, 3600, "K4")))
        .unwrap();
    assert_eq!(k4.credentials.access_key_id(), "K4");
}

#[test]
fn failures_are_not_cached_and_are_worded_for_whoever_must_act() {
    let clock = ManualClock::shared();
    let s = sessions(&clock, 100);
    let alice = user("a", &clock, 3600);
    let refuse = |code: &str| StsError::Refused {
        status: 403,
        code: code.into(),
        message: "m".into(),
    };
    let e = s
        .session_with(&alice, |_| Err(refuse("AccessDenied")))
        .unwrap_err();
    assert!(
        matches!(&e, SessionError::Failed(m) if m.contains("trust policy") && m.contains("AWS_USER_ROLE_ARN")),
        "{e}"
    );
    let e = s
        .session_with(&alice, |_| Err(refuse("InvalidIdentityToken")))
        .unwrap_err();
    assert!(
        matches!(&e, SessionError::Failed(m) if m.contains("ClientIDList")),
        "{e}"
    );
    let e = s
        .session_with(&alice, |_| Err(refuse("RegionDisabledException")))
        .unwrap_err();
    assert!(
        matches!(&e, SessionError::Failed(m) if m.contains("AWS_ENDPOINT_URL_STS")),
        "{e}"
    );
    for code in ["ExpiredTokenException", "IDPRejectedClaim"] {
        let e = s.session_with(&alice, |_| Err(refuse(code))).unwrap_err();
        assert_eq!(
            e,
            SessionError::Reauthenticate(format!(
                "AWS STS refused the sign-in token ({code}): sign in again"
            ))
        );
    }
    let e = s
        .session_with(&alice, |_| {
            Err(StsError::Unavailable {
                what: "down".into(),
                attempts: 3,
            })
        })
        .unwrap_err();
    assert!(
        matches!(&e, SessionError::Failed(m) if m.contains("try again")),
        "{e}"
    );
    assert_eq!(s.cached(), 0, "no failure is cached");
    // InvalidIdentityToken for a token past its exp is a sign-in problem, not configuration.
    let stale = user("c", &clock, 1);
    clock.advance(Duration::from_secs(5));
    let e = s
        .session_with(&stale, |_| Err(refuse("InvalidIdentityToken")))
        .unwrap_err();
    assert!(matches!(e, SessionError::Reauthenticate(_)), "{e}");
    let ok = s
        .session_with(&alice, |_| Ok(assumed(&clock, 900, "K")))
        .unwrap();
    assert_eq!(ok.credentials.access_key_id(), "K");
}

#[test]
fn the_cache_is_bounded_and_drops_the_least_recently_used() {
    let clock = ManualClock::shared();
    let s = sessions(&clock, 2);
    let (a, b, c) = (
        user("a", &clock, 3600),
        user("b", &clock, 3600),
        user("c", &clock, 3600),
    );
    s.session_with(&a, |_| Ok(assumed(&clock, 900, "A")))
        .unwrap();
    s.session_with(&b, |_| Ok(assumed(&clock, 900, "B")))
        .unwrap();
    s.session_with(&a, |_| panic!("cached")).unwrap();
    s.session_with(&c, |_| Ok(assumed(&clock, 900, "C")))
        .unwrap();
    assert_eq!(s.cached(), 2);
    s.session_with(&a, |_| panic!("a was used recently"))
        .unwrap();
    let again = AtomicUsize::new(0);
    s.session_with(&b, |_| {
        again.fetch_add(1, Ordering::SeqCst);
        Ok(assumed(&clock, 900, "B2"))
    })
    .unwrap();
    assert_eq!(again.load(Ordering::SeqCst), 1, "b was evicted");
}

#[test]
fn a_bad_oid_never_reaches_sts_and_a_panic_releases_the_waiters() {
    let clock = ManualClock::shared();
    let s = sessions(&clock, 10);
    let odd = user("not a guid!", &clock, 3600);
    let e = s
        .session_with(&odd, |_| panic!("must not call STS"))
        .unwrap_err();
    assert!(e.to_string().contains("oid"), "{e}");
    let alice = user("a", &clock, 3600);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = s.session_with(&alice, |_| panic!("boom"));
    }));
    assert!(caught.is_err());
    assert_eq!(s.cached(), 0);
    s.session_with(&alice, |_| Ok(assumed(&clock, 900, "K")))
        .unwrap();
}

#[test]
fn the_cache_is_bounded_in_bytes_too() {
    let clock = ManualClock::shared();
    let one = {
        let s = sessions(&clock, 100);
        s.session_with(&user("a", &clock, 3600), |_| Ok(assumed(&clock, 900, "A")))
            .unwrap();
        s.cached_bytes()
    };
    assert!(one > 256, "{one}");
    // Room for two entries: the third evicts the least recently used, and bytes stay bounded.
    let s = sessions(&clock, 100).with_max_bytes(one * 2 + one / 2);
    for (oid, key) in [("a", "A"), ("b", "B"), ("c", "C")] {
        s.session_with(&user(oid, &clock, 3600), |_| Ok(assumed(&clock, 900, key)))
            .unwrap();
        assert!(s.cached_bytes() <= one * 2 + one / 2);
    }
    assert_eq!(s.cached(), 2);
    // A refreshed entry replaces its bytes rather than adding to them.
    clock.advance(Duration::from_secs(601));
    s.session_with(&user("c", &clock, 3600), |_| Ok(assumed(&clock, 900, "C2")))
        .unwrap();
    assert!(
        s.cached_bytes() <= one * 2 + one / 2,
        "{}",
        s.cached_bytes()
    );
}
