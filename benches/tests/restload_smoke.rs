//! CI's smoke run of the REST load generator: a server in this process, `restload --smoke`
//! against it. It asserts only that every operation ran and none failed — never on speed.

use std::process::Command;

#[test]
fn restload_smoke_runs_every_operation_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = server::ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    let running = runtime.block_on(server::start(config)).unwrap();
    let ca = running.ca_path.clone().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_restload"))
        .args(["--smoke", "--url", &running.url, "--ca"])
        .arg(&ca)
        .output()
        .unwrap();
    runtime.block_on(running.shutdown()).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "restload failed:\n{stdout}\n{stderr}");

    for op in [
        "ES256 sign (P-256)",
        "RS256 sign (RSA-2048)",
        "A256GCM encrypt 4 KiB",
        "get key",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {op} |")))
            .unwrap_or_else(|| panic!("no row for {op}:\n{stdout}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // | operation | ops/s | p50 | p99 | max | errors | ...
        let rate: f64 = cells[2].parse().unwrap();
        assert!(rate > 0.0, "{op} never ran: {row}");
        assert_eq!(cells[6], "0", "{op} had errors: {row}\n{stdout}");
    }
}
