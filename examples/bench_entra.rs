//! A fake Entra ID tenant for `scripts/bench.sh` (the auth-on run): starts the test fake
//! from tests/support/fake_entra.rs on 127.0.0.1, prints what the server and the load
//! generator need as one JSON line on stdout, and serves until stdin closes; then prints
//! how many JWKS fetches it answered, so the run can show that keys are cached.
//!
//! Test keys only; never talks to the network. Must not change how the fake behaves.
//!
//! Usage: `bench_entra [--valid-secs N]` (token lifetime, default 3600).

// The fake serves many tests; this program uses a few of its helpers. An inline module
// with a path, so fake_entra.rs finds the server scaffold beside it as it does under tests/.
#[allow(dead_code)]
#[path = "../tests/support"]
mod support {
    pub mod fake_entra;
    pub mod fake_server;
}

use serde_json::json;
use std::io::Read;
use std::process::ExitCode;
use support::fake_entra::{FakeEntra, CLIENT_ID, TENANT};

fn main() -> ExitCode {
    let mut valid_secs: u64 = 3600;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, n] if flag == "--valid-secs" => match n.parse() {
            Ok(v) => valid_secs = v,
            Err(_) => {
                eprintln!("bench_entra: --valid-secs takes a number of seconds, not {n:?}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("bench_entra: usage: bench_entra [--valid-secs N]");
            return ExitCode::from(2);
        }
    }
    let entra = FakeEntra::start();
    let now = support::fake_entra::now();
    let token = entra.token_with(json!({"exp": now + valid_secs, "iat": now - 10}));
    let hello = json!({
        "authority": entra.authority(),
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "token": token,
    });
    println!("{hello}");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    println!("{}", json!({"jwks_fetches": entra.jwks_fetches()}));
    ExitCode::SUCCESS
}
