//! Per-pool access logs: when a pool's `AccessLogEnabled` setting is on, each request to it
//! becomes one JSON line — time, pool, principal object id, UPN and app id, client IP,
//! operation (the RBAC data action), key name and version, HTTP status, latency — in
//! `<data dir>/logs/{pool}/access-YYYYMMDD.jsonl` (one file per day by the HSM's clock).
//! Files older than the pool's `AccessLogRetentionDays` are deleted. Never tokens, never
//! request or response bodies.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

use parking_lot::Mutex;
use serde_json::json;

use crate::auth::Principal;

/// What a route records of a request, beside what the edge knows.
#[derive(Clone, Debug, Default)]
pub struct Operation {
    /// The data action checked (`Microsoft.KeyVault/managedHsm/keys/sign/action`).
    pub action: Option<&'static str>,
    /// The key name, for key routes.
    pub key: Option<String>,
    /// The key version, when the path names one.
    pub version: Option<String>,
}

/// One request, as logged.
pub struct Entry<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The caller.
    pub principal: &'a Principal,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// Method and path (without the query).
    pub method: &'a str,
    /// What the route did.
    pub operation: &'a Operation,
    /// The answer's status.
    pub status: u16,
    /// Time taken, in milliseconds.
    pub latency_ms: f64,
}

/// The writer of all pools' access logs.
pub struct AccessLog {
    dir: PathBuf,
    /// The open file of each pool and its day number.
    open: Mutex<HashMap<String, (i64, File)>>,
}

impl AccessLog {
    /// Logs under `<data_dir>/logs`.
    pub fn new(data_dir: &std::path::Path) -> AccessLog {
        AccessLog {
            dir: data_dir.join("logs"),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Appends one line to the pool's log; `now` is unix seconds, `retention_days` how many
    /// days of files to keep. Failures are reported in the server log, never to the client.
    pub fn record(&self, now: i64, retention_days: u32, e: &Entry) {
        if let Err(err) = self.write(now, retention_days, e) {
            tracing::warn!(pool = e.pool, error = %err, "cannot write the access log");
        }
    }

    fn write(&self, now: i64, retention_days: u32, e: &Entry) -> std::io::Result<()> {
        let line = json!({
            "time": now,
            "pool": e.pool,
            "objectId": e.principal.object_id,
            "upn": e.principal.upn,
            "appId": e.principal.app_id,
            "clientIp": e.ip.map(|ip| ip.to_string()),
            "operation": e.operation.action,
            "request": e.method,
            "key": e.operation.key,
            "version": e.operation.version,
            "status": e.status,
            "latencyMs": (e.latency_ms * 1000.0).round() / 1000.0,
        });
        let mut text = line.to_string();
        text.push('\n');
        let day = now.div_euclid(86_400);
        let mut open = self.open.lock();
        let fresh = !matches!(open.get(e.pool), Some((d, _)) if *d == day);
        if fresh {
            let dir = self.dir.join(e.pool);
            fs::create_dir_all(&dir)?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(format!("access-{}.jsonl", day_name(day))))?;
            open.insert(e.pool.to_string(), (day, file));
            self.prune(e.pool, day, retention_days);
        }
        if let Some((_, file)) = open.get_mut(e.pool) {
            file.write_all(text.as_bytes())?;
        }
        Ok(())
    }

    /// Deletes the pool's files older than the retention.
    fn prune(&self, pool: &str, today: i64, retention_days: u32) {
        let Ok(entries) = fs::read_dir(self.dir.join(pool)) else {
            return;
        };
        let oldest_kept = day_name(today - i64::from(retention_days) + 1);
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(day) = name
                .strip_prefix("access-")
                .and_then(|n| n.strip_suffix(".jsonl"))
            else {
                continue;
            };
            // YYYYMMDD names sort as dates do.
            if day < oldest_kept.as_str() {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Closes a pool's file (so the next line re-checks the day and retention).
    pub fn forget(&self, pool: &str) {
        self.open.lock().remove(pool);
    }
}

/// `YYYYMMDD` of a day number (days since the unix epoch).
fn day_name(day: i64) -> String {
    crate::routes::jobs::timestamp(day * 86_400)[..8].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_files_and_retention() {
        let dir = tempfile::tempdir().unwrap();
        let log = AccessLog::new(dir.path());
        let principal = Principal {
            object_id: Some("oid-1".into()),
            upn: Some("a@b.example".into()),
            app_id: None,
        };
        let op = Operation {
            action: Some("Microsoft.KeyVault/managedHsm/keys/sign/action"),
            key: Some("k".into()),
            version: None,
        };
        let entry = |status| Entry {
            pool: "p1",
            principal: &principal,
            ip: Some("127.0.0.1".parse().unwrap()),
            method: "POST /keys/k//sign",
            operation: &op,
            status,
            latency_ms: 1.5,
        };
        let day0 = 1_767_268_800; // 2026-01-01
        log.record(day0, 2, &entry(200));
        log.record(day0 + 10, 2, &entry(403));
        let file = dir.path().join("logs/p1/access-20260101.jsonl");
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["objectId"], "oid-1");
        assert_eq!(lines[0]["upn"], "a@b.example");
        assert_eq!(lines[0]["clientIp"], "127.0.0.1");
        assert_eq!(lines[1]["status"], 403);
        // Two days later, with two days of retention, the first file goes.
        log.record(day0 + 2 * 86_400, 2, &entry(200));
        assert!(!file.exists());
        assert!(dir.path().join("logs/p1/access-20260103.jsonl").exists());
    }
}
