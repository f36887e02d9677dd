//! The command line: help and version, configuration errors (exit 2, one clear line),
//! `healthcheck`, `check` on the local backend, and graceful shutdown on SIGTERM.

use crate::support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::server::{sample_kb, Server};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = std::env::temp_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bedrock-mcp"));
    cmd.env_clear()
        .current_dir(dir)
        .args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_and_version() {
    let o = run(&["--version"], &[]);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("bedrock-mcp {}", env!("CARGO_PKG_VERSION"))
    );
    let o = run(&["--help"], &[]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("healthcheck"));
    let o = run(&["--bogus"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown argument \"--bogus\""));
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    for (env, needle) in [
        (vec![], "BEDROCK_KB_ID: is required"),
        (vec![("BEDROCK_KB_ID", "not-valid!")], "BEDROCK_KB_ID"),
        (
            vec![("BEDROCK_KB_ID", "KBTEST0ABC"), ("SERVER_PORT", "99999")],
            "SERVER_PORT",
        ),
        (
            vec![("BEDROCK_KB_ID", "KBTEST0ABC"), ("ENABLE_AUTH", "true")],
            "ENTRA_TENANT_ID and ENTRA_CLIENT_ID are required when ENABLE_AUTH=true",
        ),
        (
            vec![("BEDROCK_KB_ID", "KBTEST0ABC"), ("ENABLE_AUTH", "maybe")],
            "ENABLE_AUTH",
        ),
        (
            vec![("BEDROCK_KB_ID", "KBTEST0ABC"), ("KB_LOCAL_DIR", "/tmp")],
            "choose one",
        ),
        (
            vec![("KB_LOCAL_DIR", "/definitely/not/here")],
            "KB_LOCAL_DIR",
        ),
    ] {
        let o = run(&[], &env);
        assert_eq!(o.status.code(), Some(2), "{env:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(needle), "{env:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
    }
}

#[test]
fn check_and_serve_refuse_a_bad_bedrock_setting_alike_before_config_ok() {
    let keys = [
        ("BEDROCK_KB_ID", "KBTEST0ABC"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret"),
    ];
    for (extra, var) in [
        (vec![("BEDROCK_TIMEOUT_SECS", "0")], "BEDROCK_TIMEOUT_SECS"),
        (vec![("BEDROCK_KB_TYPE", "nope")], "BEDROCK_KB_TYPE"),
        (vec![("BEDROCK_MAX_ATTEMPTS", "11")], "BEDROCK_MAX_ATTEMPTS"),
        (vec![("AWS_ENDPOINT_URL", "ftp://x")], "AWS_ENDPOINT_URL"),
        // No keys and instance metadata off (as `run` sets): no credentials source at all.
        (vec![], "no AWS credentials found"),
    ] {
        let mut env: Vec<(&str, &str)> = if extra.is_empty() {
            vec![keys[0]]
        } else {
            keys.to_vec()
        };
        env.extend(extra.iter().copied());
        let check = run(&["check"], &env);
        let serve = run(&["serve"], &env);
        for o in [&check, &serve] {
            assert_eq!(o.status.code(), Some(2), "{env:?}: {}", stderr(o));
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(
                !out.contains("config:"),
                "{var}: printed before failing: {out}"
            );
        }
        let err = stderr(&check);
        assert_eq!(err, stderr(&serve), "check and serve say the same");
        assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
        assert!(err.starts_with(&format!("bedrock-mcp: {var}")), "{err}");
    }
}

#[test]
fn dotenv_is_read_and_the_environment_wins() {
    let dir = std::env::temp_dir().join(format!("bedrock-mcp-dotenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), "SERVER_PORT=notaport\nLOG_LEVEL=INFO\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_bedrock-mcp"))
        .env_clear()
        .current_dir(&dir)
        .env("KB_LOCAL_DIR", sample_kb())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("SERVER_PORT"),
        "the .env value is used: {}",
        stderr(&o)
    );
    std::fs::write(
        dir.join(".env"),
        "SERVER_PORT=notaport\nthis line is broken\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_bedrock-mcp"))
        .env_clear()
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(stderr(&o).contains(".env line 2"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn healthcheck_succeeds_against_a_live_server_and_fails_otherwise() {
    let s = Server::local(&[]);
    let o = run(&["healthcheck", &format!("{}/health", s.url)], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"healthy\""));
    let o = run(&["healthcheck", "http://127.0.0.1:9/health"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unhealthy"));
}

#[test]
fn check_reports_the_local_knowledge_base() {
    let o = run(&["check"], &[("KB_LOCAL_DIR", &sample_kb())]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("local knowledge base: OK"));
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let mut s = Server::local(&[("SHUTDOWN_TIMEOUT_SECS", "5")]);
    assert_eq!(s.request("GET", "/health", &[], "").status, 200);
    let started = Instant::now();
    Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(s.logs().contains("shutdown complete"), "{}", s.logs());
}
