//! What children print, what the parent reads back, and the Markdown the parent writes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};

/// Prints one measurement for the parent: `R <case> <threads> <ops/s>`.
pub fn emit(case: &str, threads: usize, ops_per_sec: f64) {
    println!("R\t{case}\t{threads}\t{ops_per_sec}");
}

/// Prints one bare-provider result for the parent: `B <case> <threads> <ops/s>`.
pub fn emit_bare(case: &str, threads: usize, ops_per_sec: f64) {
    println!("B\t{case}\t{threads}\t{ops_per_sec}");
}

/// Prints one fact for the parent: `I <key> <value>`.
pub fn emit_info(key: &str, value: impl std::fmt::Display) {
    println!("I\t{key}\t{value}");
}

/// What one child printed.
#[derive(Default, Debug)]
pub struct ChildOutput {
    /// (case, threads) → ops/s.
    pub results: BTreeMap<(String, usize), f64>,
    /// (case, threads) → ops/s of the bare provider, measured beside the module.
    pub bare: BTreeMap<(String, usize), f64>,
    /// Facts by key.
    pub info: BTreeMap<String, String>,
}

impl ChildOutput {
    /// Parses a child's stdout (other lines are passed through to ours).
    pub fn parse(stdout: &str) -> Result<ChildOutput> {
        let mut out = ChildOutput::default();
        for line in stdout.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                [kind @ ("R" | "B"), case, threads, v] => {
                    let v: f64 = v.parse().with_context(|| format!("bad line {line}"))?;
                    let into = if *kind == "R" {
                        &mut out.results
                    } else {
                        &mut out.bare
                    };
                    into.insert((case.to_string(), threads.parse()?), v);
                }
                ["I", key, v] => {
                    out.info.insert(key.to_string(), v.to_string());
                }
                _ => println!("{line}"),
            }
        }
        Ok(out)
    }

    /// A fact as a number.
    pub fn num(&self, key: &str) -> Result<f64> {
        match self.info.get(key) {
            Some(v) => Ok(v.parse()?),
            None => bail!("the child did not report {key}"),
        }
    }
}

/// The resident set of this process (VmRSS), in KiB.
pub fn vm_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS in /proc/self/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("VmRSS line")?
        .parse()?)
}

/// `12,345` for ops/s (one decimal below 100).
pub fn ops(v: f64) -> String {
    if v < 100.0 {
        return format!("{v:.1}");
    }
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ratio, `1.23×`.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

/// A Markdown table.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let _ = writeln!(
        s,
        "|{}",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i < 1 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

/// The machine: cores, CPU model, kernel.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores (nproc), {cpu}, Linux {kernel}")
}
