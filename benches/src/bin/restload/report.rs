//! The Markdown report: the machine, the setup, and one row per operation.

use std::fmt::Write;
use std::time::Duration;

use crate::load::Measured;
use crate::ops::Op;

/// Issue 6's latency target at 64 clients.
const P99_TARGET_MS: f64 = 10.0;

/// One operation's row.
pub struct Row {
    /// The operation.
    pub op: Op,
    /// What the run measured.
    pub measured: Measured,
    /// CPU the server used during the run, in cores (None when it is not our child).
    pub server_cores: Option<f64>,
    /// CPU this generator used during the run, in cores.
    pub client_cores: Option<f64>,
}

/// What the run was.
pub struct Setup {
    /// Concurrent clients (one keep-alive connection each).
    pub clients: usize,
    /// Measured seconds per operation.
    pub seconds: f64,
    /// Unmeasured warm-up per operation.
    pub warmup: Duration,
    /// Which server: the spawned binary, or the URL given.
    pub server: String,
    /// The crypto provider asked for through `MHSM_CRYPTO_PROVIDER`, if any.
    pub provider: String,
}

/// The logical CPUs and the CPU model.
pub fn machine() -> (usize, String) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    (cpus, model)
}

fn cores(c: Option<f64>) -> String {
    c.map_or("-".into(), |c| format!("{c:.2}"))
}

/// The report in Markdown.
pub fn markdown(setup: &Setup, rows: &[Row]) -> String {
    let (cpus, model) = machine();
    let mut s = String::new();
    let _ = writeln!(s, "### REST load: `mhsm serve`\n");
    let _ = writeln!(
        s,
        "- machine: {cpus} logical CPUs (`nproc`), {model}; the load generator and the server \
         share them"
    );
    let _ = writeln!(
        s,
        "- server: {}; crypto provider: {}",
        setup.server, setup.provider
    );
    let _ = writeln!(
        s,
        "- {} clients, each one HTTP/1.1 keep-alive TLS connection; {:.1} s per operation after \
         a {:.1} s warm-up; api-version 7.5\n",
        setup.clients,
        setup.seconds,
        setup.warmup.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "| operation | ops/s | p50 ms | p99 ms | max ms | errors | server CPU (cores) | client CPU (cores) | target |"
    );
    let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|--:|--:|---|");
    for r in rows {
        let m = &r.measured;
        let p99 = m.quantile_ms(0.99);
        let target = match r.op.target() {
            Some(t) => {
                let rate_ok = m.rate() >= t as f64;
                let p99_ok = p99 <= P99_TARGET_MS;
                format!(
                    "≥ {t}/s, p99 ≤ {P99_TARGET_MS} ms: {}",
                    match (rate_ok, p99_ok) {
                        (true, true) => "met".to_string(),
                        (false, true) => format!("{:.0}% of the rate", 100.0 * m.rate() / t as f64),
                        (true, false) => "p99 missed".to_string(),
                        (false, false) => format!(
                            "{:.0}% of the rate, p99 missed",
                            100.0 * m.rate() / t as f64
                        ),
                    }
                )
            }
            None => "-".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {target} |",
            r.op.label(),
            m.rate(),
            m.quantile_ms(0.5),
            p99,
            m.quantile_ms(1.0),
            m.errors,
            cores(r.server_cores),
            cores(r.client_cores),
        );
    }
    let errors: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            r.measured
                .first_error
                .as_ref()
                .map(|e| format!("- {}: first error: {e}", r.op.label()))
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(s, "\n{}", errors.join("\n"));
    }
    s
}
