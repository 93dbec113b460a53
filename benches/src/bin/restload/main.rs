//! `restload`: a load generator for `mhsm serve`'s REST API (issue 6).
//!
//! It starts `mhsm serve` as a child process over a temporary data directory on a free port
//! (or uses a running server given by `--url` and `--ca`), creates an EC P-256, an RSA-2048
//! and an AES-256 key, checks each operation's result once, then runs N concurrent clients —
//! each its own HTTP/1.1 keep-alive TLS connection, as the Azure SDK uses — for a fixed time
//! per operation: ES256 sign, RS256 sign, A256GCM encrypt of 4 KiB, get key. It prints ops/s,
//! p50/p99/max latency and errors per operation as a Markdown table, and writes it to
//! `target/bench-rest.md`. It exits non-zero when any request failed.

mod load;
mod ops;
mod report;
mod server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;

use ops::{Keys, Op};
use report::{Row, Setup};

#[derive(Parser)]
#[command(name = "restload", about = "Load generator for mhsm serve's REST API")]
struct Args {
    /// Concurrent clients, each with its own keep-alive connection [default: 64; smoke: 4].
    #[arg(long)]
    clients: Option<usize>,
    /// Measured seconds per operation [default: 10; smoke: 0.3].
    #[arg(long)]
    seconds: Option<f64>,
    /// CI's smoke mode: 4 clients, a fraction of a second per operation, no report file.
    #[arg(long)]
    smoke: bool,
    /// A running server's base URL (otherwise `mhsm serve` is started).
    #[arg(long, requires = "ca")]
    url: Option<String>,
    /// The CA certificate of the server at --url.
    #[arg(long, requires = "url")]
    ca: Option<PathBuf>,
    /// The mhsm binary to start [default: `mhsm` next to this program].
    #[arg(long, env = "MHSM_BIN")]
    server_bin: Option<PathBuf>,
    /// Operations to run, comma-separated [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    ops: Vec<Op>,
    /// Where to write the Markdown table [default: target/bench-rest.md; none in smoke mode].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seconds to wait after printing the server's pid, before the load (to attach `perf`).
    #[arg(long, default_value_t = 0.0)]
    pause: f64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let failed = runtime.block_on(run(args))?;
    if failed {
        bail!("some requests failed (see the table)");
    }
    Ok(())
}

fn client(ca: &reqwest::Certificate) -> Result<reqwest::Client> {
    // One client per simulated caller: its own pool, so its own connection.
    Ok(reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .tls_built_in_root_certs(false)
        .http1_only()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// Runs the whole benchmark; true when any request failed.
async fn run(args: Args) -> Result<bool> {
    let clients_n = args.clients.unwrap_or(if args.smoke { 4 } else { 64 });
    let seconds = args.seconds.unwrap_or(if args.smoke { 0.3 } else { 10.0 });
    let warmup = Duration::from_secs_f64((seconds / 10.0).clamp(0.05, 1.0));
    let ops: Vec<Op> = if args.ops.is_empty() {
        Op::ALL.to_vec()
    } else {
        args.ops.clone()
    };

    let (spawned, url, ca_path) = match (&args.url, &args.ca) {
        (Some(url), Some(ca)) => (None, url.clone(), ca.clone()),
        _ => {
            let bin = match &args.server_bin {
                Some(b) => b.clone(),
                None => std::env::current_exe()?
                    .parent()
                    .context("this program's directory")?
                    .join("mhsm"),
            };
            let s = server::Spawned::start(&bin)?;
            let (url, ca) = (s.url.clone(), s.ca.clone());
            (Some((s, bin)), url, ca)
        }
    };
    let server_pid = spawned.as_ref().map(|(s, _)| s.pid());
    let server_desc = match &spawned {
        Some((s, bin)) => format!("`{}` (pid {}) at {url}", bin.display(), s.pid()),
        None => format!("running at {url}"),
    };
    eprintln!("restload: server {server_desc}");
    if args.pause > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(args.pause)).await;
    }

    let ca = reqwest::Certificate::from_pem(
        &std::fs::read(&ca_path).with_context(|| format!("reading {}", ca_path.display()))?,
    )?;
    let admin = client(&ca)?;
    let keys = Keys::create(&admin, &url).await?;
    for &op in &ops {
        keys.validate(&admin, op)
            .await
            .with_context(|| format!("checking {}", op.label()))?;
    }
    let clients: Vec<reqwest::Client> =
        (0..clients_n).map(|_| client(&ca)).collect::<Result<_>>()?;

    let mut rows = Vec::new();
    for &op in &ops {
        let req = keys.request(op);
        let server_before = server_pid.and_then(server::cpu_time);
        let client_before = server::cpu_time(std::process::id());
        let wall = Instant::now();
        let measured = load::run(&clients, &req, warmup, Duration::from_secs_f64(seconds)).await;
        let wall = wall.elapsed().as_secs_f64();
        let share = |before: Option<Duration>, after: Option<Duration>| {
            Some((after?.saturating_sub(before?)).as_secs_f64() / wall)
        };
        let row = Row {
            op,
            server_cores: share(server_before, server_pid.and_then(server::cpu_time)),
            client_cores: share(client_before, server::cpu_time(std::process::id())),
            measured,
        };
        eprintln!(
            "restload: {}: {:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            op.label(),
            row.measured.rate(),
            row.measured.quantile_ms(0.5),
            row.measured.quantile_ms(0.99),
            row.measured.errors
        );
        rows.push(row);
    }
    if spawned.is_none() {
        keys.delete(&admin).await;
    }
    drop(clients);
    drop(spawned);

    let setup = Setup {
        clients: clients_n,
        seconds,
        warmup,
        server: server_desc,
        provider: std::env::var("MHSM_CRYPTO_PROVIDER")
            .unwrap_or_else(|_| "the server's default (MHSM_CRYPTO_PROVIDER unset)".into()),
    };
    let table = report::markdown(&setup, &rows);
    println!("{table}");
    let out = args
        .out
        .or_else(|| (!args.smoke).then(|| PathBuf::from("target/bench-rest.md")));
    if let Some(out) = out {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&out, &table).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("restload: wrote {}", out.display());
    }
    Ok(rows
        .iter()
        .any(|r| r.measured.errors > 0 || r.measured.ops == 0))
}
