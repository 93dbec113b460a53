//! `mhsm`: the managed HSM emulator's command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use hsm_core::{Hsm, HsmConfig};
use mhsm_wire::pools::{Discovery, TimeShift};
use serde_json::Value;
use server::app::DISCOVERY_FILE;
use server::pools::{self, PoolCreate};
use server::{ServeConfig, start};

#[derive(Parser)]
#[command(
    name = "mhsm",
    version,
    about = "A managed HSM emulator: Azure Managed HSM REST API and PKCS#11"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DataDir {
    /// The data directory.
    #[arg(long, env = "MHSM_DATA_DIR", default_value = "./mhsm-data")]
    data_dir: PathBuf,
    /// The bearer token for a running server's management API.
    #[arg(long, env = "MHSM_TOKEN", default_value = "mhsm-cli")]
    token: String,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Azure Managed HSM data-plane API over HTTPS.
    Serve {
        /// The data directory (created if missing).
        #[arg(long, env = "MHSM_DATA_DIR", default_value = "./mhsm-data")]
        data_dir: PathBuf,
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// An extra DNS name: `{pool}.NAME` addresses a pool (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// The pool addressed by 127.0.0.1 and localhost (created if missing).
        #[arg(long, default_value = "default")]
        default_pool: String,
        /// Serve plain HTTP (the Azure SDKs refuse it; for curl and debugging only).
        #[arg(long)]
        insecure_http: bool,
        /// The resource named in the bearer challenge (default https://localhost:PORT).
        #[arg(long)]
        resource: Option<String>,
        /// Offer test hooks: moving the HSM's clock forward (`mhsm time-shift`).
        #[arg(long)]
        test_hooks: bool,
        /// Serve only Azure Managed HSM's API: no /mhsm/ pool management and no /x-mhsm/
        /// extension, as a client meets the real service.
        #[arg(long)]
        standard_api_only: bool,
        /// Accept only JWTs signed HS256 with the secret in this file (and not expired).
        #[arg(long, value_name = "FILE")]
        jwt_hs256_secret: Option<PathBuf>,
        /// Accept only JWTs signed RS256 by the public key (SPKI PEM or DER) in this file.
        #[arg(long, value_name = "FILE")]
        jwt_rs256_key: Option<PathBuf>,
        /// The crypto provider: aws-lc (the default when built) or rustcrypto.
        #[arg(long, env = "MHSM_CRYPTO_PROVIDER")]
        crypto_provider: Option<String>,
    },
    /// Manage pools (through the running server when one holds the data directory).
    Pool {
        #[command(flatten)]
        dir: DataDir,
        #[command(subcommand)]
        action: PoolAction,
    },
    /// Move a running server's clock forward (it must run with --test-hooks).
    TimeShift {
        #[command(flatten)]
        dir: DataDir,
        /// Days to move forward.
        #[arg(long, default_value_t = 0)]
        days: i64,
        /// Seconds to move forward (added to the days).
        #[arg(long, default_value_t = 0)]
        seconds: i64,
    },
}

#[derive(Subcommand)]
enum PoolAction {
    /// Create a pool.
    Create {
        /// The pool's name.
        name: String,
        /// An administrator's object id; naming any makes the pool's RBAC strict.
        #[arg(long = "admin")]
        admins: Vec<String>,
        /// Soft-delete retention in days (7-90).
        #[arg(long)]
        retention_days: Option<u32>,
        /// Turn purge protection on (it never turns off).
        #[arg(long)]
        purge_protection: bool,
        /// The PKCS#11 token's SO PIN.
        #[arg(long)]
        so_pin: Option<String>,
        /// The PKCS#11 token's user PIN.
        #[arg(long)]
        user_pin: Option<String>,
    },
    /// List the live pools.
    List,
    /// Show a pool.
    Show {
        /// The pool's name.
        name: String,
    },
    /// Soft-delete a pool.
    Delete {
        /// The pool's name.
        name: String,
    },
    /// Recover a deleted pool.
    Recover {
        /// The pool's name.
        name: String,
    },
    /// Purge a deleted pool for good.
    Purge {
        /// The pool's name.
        name: String,
    },
}

/// A failure the service or the core named: its code (`NotFound`, `Conflict`, ...) picks the
/// exit status, its message is what the user reads.
#[derive(Debug)]
struct Failure {
    code: String,
    message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit status of a failure, by kind (documented in the README): 1 any other failure, 2
/// wrong usage (clap's), 3 not found, 4 conflict (exists, deleted, in use), 5 a bad value,
/// 6 not allowed (forbidden, purge protection, unauthorized), 7 unavailable (no server, the
/// store held by another process).
fn exit_status(err: &anyhow::Error) -> u8 {
    let code = err.chain().find_map(|cause| {
        cause
            .downcast_ref::<Failure>()
            .map(|f| f.code.clone())
            .or_else(|| {
                cause
                    .downcast_ref::<hsm_core::Error>()
                    .map(|e| e.code().to_string())
            })
    });
    let Some(code) = code else { return 1 };
    match code.as_str() {
        c if c.ends_with("NotFound") => 3,
        "Conflict" | "AlreadyExists" | "StoreLocked" => 4,
        c if c.starts_with("Forbidden") || c == "Unauthorized" || c.ends_with("Protected") => 6,
        "Unavailable" | "ServiceUnavailable" | "NoServer" => 7,
        c if c.starts_with("Bad") || c.starts_with("Invalid") || c.ends_with("Invalid") => 5,
        _ => 1,
    }
}

/// A failure in one line: each cause after the first unless the one before already says it.
fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(text.trim())) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A command's own output is its answer: the log says only what went wrong, unless
    // MHSM_LOG asks for more; the server logs its requests.
    let default = match cli.command {
        Command::Serve { .. } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MHSM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mhsm: {}", one_line(&err));
            std::process::ExitCode::from(exit_status(&err))
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve {
            data_dir,
            listen,
            domains,
            default_pool,
            insecure_http,
            resource,
            test_hooks,
            standard_api_only,
            jwt_hs256_secret,
            jwt_rs256_key,
            crypto_provider,
        } => {
            let tokens = server::auth::TokenPolicy::from_files(
                jwt_hs256_secret.as_deref(),
                jwt_rs256_key.as_deref(),
            )?;
            let config = ServeConfig {
                tokens,
                data_dir,
                listen,
                domains,
                default_pool,
                insecure_http,
                resource,
                test_hooks,
                standard_api_only,
                crypto_provider,
            };
            serve(config)
        }
        Command::Pool { dir, action } => {
            let out = pool_command(&dir, action)?;
            if !out.is_null() {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(())
        }
        Command::TimeShift { dir, days, seconds } => {
            let body = serde_json::to_value(TimeShift {
                seconds: days * 86_400 + seconds,
            })?;
            let out = remote(&dir)?
                .ok_or_else(|| Failure {
                    code: "NoServer".into(),
                    message: format!(
                        "no server runs on {} (start `mhsm serve --test-hooks` first)",
                        dir.data_dir.display()
                    ),
                })?
                .call("POST", "time-shift", Some(body))?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
    }
}

fn serve(config: ServeConfig) -> Result<()> {
    let pool = config.default_pool.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let running = start(config).await?;
        println!("mhsm is serving pool '{pool}' at {}", running.url);
        if let Some(ca) = &running.ca_path {
            println!("CA certificate: {}", ca.display());
            println!("From Python (azure-keyvault-keys):");
            println!("  cred = <any TokenCredential>  # any bearer token is accepted");
            println!(
                "  client = KeyClient(\"{}\", cred, connection_verify=\"{}\", verify_challenge_resource=False)",
                running.url,
                ca.display()
            );
            println!("  client.create_rsa_key(\"my-key\")");
        }
        wait_for_signal().await;
        eprintln!("mhsm: shutting down");
        running.shutdown().await
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// A running server's management API.
struct Remote {
    client: reqwest::blocking::Client,
    url: String,
    token: String,
}

impl Remote {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/mhsm/{path}", self.url);
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut req = self.client.request(method, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().with_context(|| format!("calling {url}"))?;
        let status = resp.status();
        let text = resp.text()?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let message = value["error"]["message"]
                .as_str()
                .map_or_else(|| format!("the server answered {status}"), str::to_string);
            let code = value["error"]["code"].as_str().unwrap_or_default().into();
            return Err(Failure { code, message }.into());
        }
        Ok(value)
    }
}

/// The running server holding `dir`, if its discovery file names one that answers.
fn remote(dir: &DataDir) -> Result<Option<Remote>> {
    let path = dir.data_dir.join(DISCOVERY_FILE);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    let info: Discovery =
        serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?;
    let url = info.url;
    let mut builder =
        reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(60));
    if let Some(ca) = &info.ca {
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        builder = builder
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .tls_built_in_root_certs(false);
    }
    let remote = Remote {
        client: builder.build()?,
        url,
        token: dir.token.clone(),
    };
    // A stale file (the server died without removing it) is no server.
    match remote
        .client
        .get(format!("{}/mhsm/pools", remote.url))
        .bearer_auth(&remote.token)
        .send()
    {
        Ok(_) => Ok(Some(remote)),
        Err(e) if e.is_connect() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The management call a pool command is: method, path under `/mhsm/`, body.
fn pool_request(action: PoolAction) -> Result<(&'static str, String, Option<Value>)> {
    Ok(match action {
        PoolAction::Create {
            name,
            admins,
            retention_days,
            purge_protection,
            so_pin,
            user_pin,
        } => {
            let req = PoolCreate {
                name,
                retention_days,
                purge_protection,
                tags: Default::default(),
                admins,
                so_pin,
                user_pin,
                pin_policy: None,
            };
            ("POST", "pools".into(), Some(serde_json::to_value(req)?))
        }
        PoolAction::List => ("GET", "pools".into(), None),
        PoolAction::Show { name } => ("GET", format!("pools/{name}"), None),
        PoolAction::Delete { name } => ("DELETE", format!("pools/{name}"), None),
        PoolAction::Recover { name } => ("POST", format!("deletedpools/{name}/recover"), None),
        PoolAction::Purge { name } => ("DELETE", format!("deletedpools/{name}"), None),
    })
}

/// Runs a pool command through the running server, or on the data directory directly:
/// the same management routes either way.
fn pool_command(dir: &DataDir, action: PoolAction) -> Result<Value> {
    let creates = matches!(action, PoolAction::Create { .. });
    let (method, path, body) = pool_request(action)?;
    if let Some(r) = remote(dir)? {
        return r.call(method, &path, body);
    }
    // Only a create makes a data directory; a look at one that is not there changes nothing.
    if !creates && !dir.data_dir.is_dir() {
        return Err(Failure {
            code: "NotFound".into(),
            message: format!("no data directory at {}", dir.data_dir.display()),
        }
        .into());
    }
    let hsm = Hsm::open(HsmConfig::new(&dir.data_dir))
        .with_context(|| format!("opening {}", dir.data_dir.display()))?;
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    let method = reqwest::Method::from_bytes(method.as_bytes())?;
    let (_, value) = pools::route(&hsm, None, &method, &segments, &bytes).map_err(|e| Failure {
        code: e.code.to_string(),
        message: e.message,
    })?;
    Ok(value.unwrap_or(Value::Null))
}
