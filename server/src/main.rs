//! `mhsm`: the managed HSM emulator's command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
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
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MHSM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve {
                data_dir,
                listen,
                domains,
                default_pool,
                insecure_http,
                resource,
            } => {
                let config = ServeConfig {
                    data_dir,
                    listen,
                    domains,
                    default_pool: default_pool.clone(),
                    insecure_http,
                    resource,
                };
                let running = start(config).await?;
                println!("mhsm is serving pool '{default_pool}' at {}", running.url);
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
            }
        }
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
