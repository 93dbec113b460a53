//! The server under load: `mhsm serve` started as a child process over a temporary data
//! directory on a free port, so client and server are separate processes as in real use.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running `mhsm serve` child; stopped (SIGTERM, then SIGKILL) and its data removed on drop.
pub struct Spawned {
    child: Child,
    _dir: tempfile::TempDir,
    /// The base URL of the default pool.
    pub url: String,
    /// The CA certificate to trust.
    pub ca: PathBuf,
}

impl Spawned {
    /// Starts `bin serve` on `127.0.0.1:0` and waits for its `server.json`.
    pub fn start(bin: &Path) -> Result<Spawned> {
        let dir = tempfile::tempdir().context("a temporary data directory")?;
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        // The server writes server.json (URL, CA) by a rename once it listens.
        let discovery = dir.path().join("server.json");
        let started = Instant::now();
        let info: serde_json::Value = loop {
            if let Some(status) = child.try_wait()? {
                bail!("{} exited before serving: {status}", bin.display());
            }
            if let Ok(text) = std::fs::read(&discovery) {
                break serde_json::from_slice(&text).context("reading server.json")?;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                bail!("{} did not start within 60 s", bin.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let url = info["url"]
            .as_str()
            .context("server.json has no url")?
            .to_string();
        let ca = PathBuf::from(info["ca"].as_str().context("server.json has no ca")?);
        Ok(Spawned {
            child,
            _dir: dir,
            url,
            ca,
        })
    }

    /// The server's process id (to attach a profiler, and to read its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // A graceful stop first (std can only send SIGKILL).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/{pid}/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is parenthesised and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}
