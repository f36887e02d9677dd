//! The command line: `serve` (default), `check`, `healthcheck [URL]`, `--help`, `--version`.
//!
//! Exit codes: 0 success, 1 a check failed, 2 bad usage or configuration (one clear line).

use crate::config::{self, Config, ConfigError, KbChoice};
use crate::http::{self, App};
use crate::kb::{
    bedrock::BedrockKb,
    catalog::{Catalog, Named},
    local::LocalKb,
    KbIdentity, KnowledgeBase,
};
use crate::mcp::Mcp;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "\
bedrock-mcp: an MCP server for an AWS Bedrock Knowledge Base

Usage:
  bedrock-mcp [serve] [--local-kb DIR] [--host HOST] [--port PORT]
  bedrock-mcp check [--user-token FILE]
                                    validate config, resolve AWS credentials, call GetKnowledgeBase;
                                    with a user's access token (FILE, or - for stdin): show which
                                    identity Entra and AWS see for that user, and search as them
  bedrock-mcp healthcheck [URL]     GET URL (default http://127.0.0.1:$SERVER_PORT/health); exit 0 if healthy
  bedrock-mcp --help | --version

Configuration comes from environment variables (and ./.env); .env.example lists them all.
  --local-kb DIR   serve the .md/.txt files in DIR instead of Bedrock (same as KB_LOCAL_DIR)
  --host, --port   override SERVER_HOST and SERVER_PORT";

enum Command {
    Serve,
    Check(Option<String>),
    Healthcheck(Option<String>),
    Help,
    Version,
}

/// Runs the command line `args` (without the program name).
pub fn run(args: Vec<String>) -> ExitCode {
    let mut vars = match config::load_vars() {
        Ok(v) => v,
        Err(e) => return fail(2, &e.to_string()),
    };
    let command = match parse_args(args, &mut vars) {
        Ok(c) => c,
        Err(msg) => return fail(2, &format!("{msg}\n\n{USAGE}")),
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("bedrock-mcp {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Healthcheck(url) => healthcheck(url, &vars),
        Command::Check(token_file) => match Config::from_vars(vars) {
            Ok(c) => {
                let token = match token_file.as_deref().map(read_token).transpose() {
                    Ok(t) => t,
                    Err(e) => return fail(2, &e),
                };
                check(&c, token.as_deref())
            }
            Err(e) => fail(2, &e.to_string()),
        },
        Command::Serve => match Config::from_vars(vars) {
            Ok(c) => serve(c),
            Err(e) => fail(2, &e.to_string()),
        },
    }
}

fn parse_args(args: Vec<String>, vars: &mut config::Vars) -> Result<Command, String> {
    let mut command = None;
    let mut token_file = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(Command::Help),
            "-V" | "--version" | "version" => return Ok(Command::Version),
            "--local-kb" => vars.set("KB_LOCAL_DIR", &value("--local-kb")?),
            "--host" => vars.set("SERVER_HOST", &value("--host")?),
            "--port" => vars.set("SERVER_PORT", &value("--port")?),
            // A file, not the token itself: command lines show up in `ps` and shell history.
            "--user-token" => token_file = Some(value("--user-token")?),
            "serve" | "check" if command.is_none() => {
                command = Some(if arg == "serve" {
                    Command::Serve
                } else {
                    Command::Check(None)
                })
            }
            "healthcheck" if command.is_none() => {
                let url = it.next();
                if let Some(extra) = it.next() {
                    return Err(format!("unexpected argument {extra:?}"));
                }
                return Ok(Command::Healthcheck(url));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    match (command.unwrap_or(Command::Serve), token_file) {
        (Command::Check(_), file) => Ok(Command::Check(file)),
        (_, Some(_)) => Err("--user-token goes with check".into()),
        (other, None) => Ok(other),
    }
}

/// Reads a user's access token from `path` (`-` = standard input).
fn read_token(path: &str) -> Result<String, String> {
    let text = if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("--user-token: cannot read standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| format!("--user-token: cannot read {path}: {e}"))?
    };
    let token = text.trim().trim_start_matches("Bearer ").trim().to_string();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err("--user-token: the file must hold one access token".into());
    }
    Ok(token)
}

/// Builds the knowledge base the configuration names (the default one, for `check`).
pub fn open_kb(config: &Config) -> Result<(Arc<dyn KnowledgeBase>, KbIdentity), ConfigError> {
    let (catalog, identity) = open_catalog(config)?;
    let (_, kb) = catalog
        .into_iter()
        .next()
        .ok_or_else(|| ConfigError::plain("no knowledge base"))?;
    Ok((kb, identity))
}

/// Builds every knowledge base the configuration names, by id (the first is the default).
pub fn open_catalog(config: &Config) -> Result<(Vec<Named>, KbIdentity), ConfigError> {
    match &config.kb {
        KbChoice::Bedrock(settings) => {
            let kbs = BedrockKb::for_settings(settings);
            let identity = KbIdentity {
                backend: "bedrock".into(),
                kb_id: settings.kb_ids.join(","),
                region: settings.region.clone(),
            };
            let catalog = settings
                .kb_ids
                .iter()
                .cloned()
                .zip(
                    kbs.into_iter()
                        .map(|kb| Arc::new(kb) as Arc<dyn KnowledgeBase>),
                )
                .collect();
            Ok((catalog, identity))
        }
        KbChoice::Local(dir) => {
            let kb =
                LocalKb::open(dir).map_err(|e| ConfigError::new("KB_LOCAL_DIR", e.to_string()))?;
            let identity = KbIdentity {
                backend: "local".into(),
                kb_id: dir.display().to_string(),
                region: "local".into(),
            };
            Ok((
                vec![(
                    dir.display().to_string(),
                    Arc::new(kb) as Arc<dyn KnowledgeBase>,
                )],
                identity,
            ))
        }
    }
}

fn serve(config: Config) -> ExitCode {
    crate::log::init(config.log.level, config.log.json);
    let (kbs, identity) = match open_catalog(&config) {
        Ok(k) => k,
        Err(e) => return fail(2, &e.to_string()),
    };
    let Some(catalog) = Catalog::many(kbs) else {
        return fail(2, "no knowledge base configured");
    };
    if let Some(addr) = config.metrics_addr {
        match crate::metrics::start(addr) {
            Ok(local) => log::info!(
                "{}",
                crate::log::fields(
                    "metrics listening",
                    &[("addr", Some(crate::log::Field::Str(&local.to_string())))]
                )
            ),
            Err(e) => return fail(1, &e.to_string()),
        }
    }
    let auth = config.auth.clone().map(crate::auth::Authenticator::new);
    if let Some(warning) = http::base_url_warning(&config.server, auth.is_some()) {
        log::warn!("{warning}");
    }
    let app = Arc::new(App::new(
        config.server.clone(),
        Mcp::with_catalog(catalog)
            .with_document_links(config.document_links)
            .with_reading(&config.reading),
        identity,
        auth,
    ));
    match http::serve(app) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(1, &e.to_string()),
    }
}

fn check(config: &Config, user_token: Option<&str>) -> ExitCode {
    let mut ok = true;
    println!(
        "config:       OK (auth {})",
        if config.auth.is_some() {
            "enabled"
        } else {
            "disabled"
        }
    );
    // The user's token, validated exactly as the server would.
    let user = match (user_token, &config.auth) {
        (None, _) => None,
        (Some(_), None) => {
            println!("user token:   FAILED: ENABLE_AUTH is off, so no user token is checked");
            return ExitCode::from(1);
        }
        (Some(token), Some(auth)) => {
            let authenticator = crate::auth::Authenticator::new(auth.clone());
            match authenticator.authenticate(Some(&format!("Bearer {token}"))) {
                Ok(p) => {
                    println!("user token:   OK (oid {})", p.oid.as_deref().unwrap_or("-"));
                    match (&p.acl_user, &p.acl_unverified) {
                        (Some(a), _) => println!("access lists: the server may name this user {a}"),
                        (None, Some(why)) => {
                            println!("access lists: the server may not name this user: {why}")
                        }
                        _ => {}
                    }
                    Some(p)
                }
                Err(e) => {
                    println!("user token:   FAILED ({}): {e}", e.status());
                    return ExitCode::from(1);
                }
            }
        }
    };
    match &config.kb {
        KbChoice::Bedrock(settings) => {
            match &settings.user_sessions {
                None => println!("user sessions: off (AWS_USER_CREDENTIALS=off: the server's credentials sign every call)"),
                Some(s) => println!(
                    "user sessions: web-identity: role {}, {} s sessions named {}<oid>, STS {}",
                    s.role_arn, s.duration_seconds, s.session_prefix, s.sts_endpoint
                ),
            }
            match (&user, &settings.user_sessions) {
                (Some(p), Some(s)) => ok &= probe_session(p, s),
                (None, Some(_)) => println!(
                    "              (a live test needs a user's token: bedrock-mcp check --user-token FILE)"
                ),
                _ => {}
            }
            // Every setting was checked before "config: OK", so building cannot fail here.
            let kbs = BedrockKb::for_settings(settings);
            let region = &settings.region;
            for (i, (kb, kb_id)) in kbs.iter().zip(&settings.kb_ids).enumerate() {
                println!("knowledge base: {kb_id} in {region}");
                {
                    if i == 0 {
                        match kb.credentials_source() {
                            Ok(src) => println!("credentials:  OK ({src})"),
                            Err(e) => {
                                ok = false;
                                println!("credentials:  FAILED: {e}");
                            }
                        }
                    }
                    let info = kb.info();
                    match &info.note {
                        None => println!(
                            "GetKnowledgeBase: OK: status {}, name {:?}",
                            info.status,
                            info.name.as_deref().unwrap_or("")
                        ),
                        Some(note) => {
                            ok = false;
                            println!("GetKnowledgeBase: FAILED: {note}");
                        }
                    }
                    println!(
                        "type:         {} ({})",
                        info.kb_type,
                        info.type_source.as_deref().unwrap_or("")
                    );
                    if let Some(mode) = &info.user_context_mode {
                        let sources = if info.trusted_identity_sources.is_empty() {
                            String::new()
                        } else {
                            format!(", trusts {}", info.trusted_identity_sources.join(", "))
                        };
                        println!("userContextModeForRetrieval: {mode}{sources}");
                    }
                    if let Some(w) = &info.warning {
                        println!("WARNING:      {w}");
                    }
                    if let Some(p) = &user {
                        ok &= probe_search(kb, p);
                    }
                }
            }
        }
        KbChoice::Local(_) => match open_kb(config) {
            Ok((kb, _)) => {
                let info = kb.info();
                println!(
                    "local knowledge base: OK: {}",
                    info.description.unwrap_or_default()
                );
            }
            Err(e) => {
                ok = false;
                println!("local knowledge base: FAILED: {e}");
            }
        },
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Exchanges the user's token with STS as the server would and prints who AWS says they are.
fn probe_session(p: &crate::auth::Principal, s: &config::sessions::UserSessionSettings) -> bool {
    let identity = web_identity(p);
    match crate::aws::UserSessions::new(s).session(&identity) {
        Ok(session) => {
            println!("AWS session:  OK: {}", session.assumed_role_arn);
            match &session.context {
                Some(c) => {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                    println!(
                        "AWS sees:     subject {} (type {}), issuer {}, via {}",
                        show(&c.subject),
                        show(&c.subject_type),
                        show(&c.issuer),
                        show(&c.federated_provider_arn)
                    );
                    for (k, v) in &c.identity_provider {
                        println!("              IdentityProvider/{k} = {v}");
                    }
                }
                None => println!(
                    "AWS sees:     no identity context (TrustedIdentityPropagationContext): the IAM \
                     OIDC provider has no context provider, so knowledge bases in an \
                     IDENTITY_ENHANCED_SESSION mode cannot tell who the user is (docs/identity.md)"
                ),
            }
            true
        }
        Err(e) => {
            println!("AWS session:  FAILED: {e}");
            false
        }
    }
}

/// One small search as the user: with a knowledge base in the ELSE mode, an answer (not a
/// validation error) shows that it accepts STS's subject as the user.
fn probe_search(kb: &BedrockKb, p: &crate::auth::Principal) -> bool {
    let identity = web_identity(p);
    let request = crate::kb::Retrieve {
        query: "bedrock-mcp check",
        max_results: 1,
        user_id: p.acl_user.as_deref(),
        identity: Some(&identity),
        ..crate::kb::Retrieve::default()
    };
    match kb.retrieve_as(&request) {
        Ok(r) => {
            println!(
                "search as user: OK ({} result(s){})",
                r.results.len(),
                r.note.map(|n| format!("; {n}")).unwrap_or_default()
            );
            true
        }
        Err(e) => {
            println!("search as user: FAILED: {e}");
            false
        }
    }
}

fn web_identity(p: &crate::auth::Principal) -> crate::kb::WebIdentity {
    crate::http::web_identity(p)
        .unwrap_or_else(|| crate::kb::WebIdentity::new("", "", "", "", None, None, 0))
}

fn healthcheck(url: Option<String>, vars: &config::Vars) -> ExitCode {
    let url = url.unwrap_or_else(|| {
        format!(
            "http://127.0.0.1:{}/health",
            vars.get("SERVER_PORT").unwrap_or("8000")
        )
    });
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(3)))
        .http_status_as_error(false)
        .build()
        .into();
    match agent.get(&url).call() {
        Ok(mut resp) if resp.status() == 200 => {
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            println!("{body}");
            ExitCode::SUCCESS
        }
        Ok(resp) => fail(1, &format!("unhealthy: {url} answered {}", resp.status())),
        Err(e) => fail(1, &format!("unhealthy: {url}: {e}")),
    }
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("bedrock-mcp: {msg}");
    ExitCode::from(code)
}
