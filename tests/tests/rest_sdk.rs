//! The official Azure SDK for Python (azure-keyvault-keys) drives the server unchanged:
//! once at https://127.0.0.1 with the challenge-resource check off, once at a
//! `{pool}.localhost` name with it on. Needs the venv `scripts/test-all` makes
//! (`MHSM_PYTHON`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::TestServer;

fn python() -> PathBuf {
    let from_env = std::env::var_os("MHSM_PYTHON").map(PathBuf::from);
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv/bin/python");
    let python = from_env.unwrap_or(default);
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/test-all, which creates the venv with the Azure SDK",
        python.display()
    );
    python
}

/// Makes `name` resolve to 127.0.0.1 (Debian does not resolve `*.localhost` names).
fn ensure_hosts_entry(name: &str) {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    if hosts
        .lines()
        .any(|l| l.split_whitespace().skip(1).any(|h| h == name))
    {
        return;
    }
    let mut text = hosts;
    if !text.ends_with('\n') && !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("127.0.0.1 {name}\n"));
    std::fs::write("/etc/hosts", text)
        .unwrap_or_else(|e| panic!("cannot add {name} to /etc/hosts ({e}); add it by hand"));
}

fn run(python: &PathBuf, server: &TestServer, url: &str, verify_resource: bool, prefix: &str) {
    let ca = server.dir.path().join("ca.pem");
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/sdk_keys.py"))
        .env("MHSM_URL", url)
        .env("MHSM_CA", &ca)
        .env(
            "MHSM_VERIFY_RESOURCE",
            if verify_resource { "1" } else { "0" },
        )
        .env("MHSM_PREFIX", prefix)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK run at {url} failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all SDK checks passed"), "{stdout}");
    assert!(stdout.matches("ok:").count() >= 30, "{stdout}");
}

#[test]
fn azure_sdk_for_python_drives_the_server() {
    let python = python();
    let server = TestServer::start(&["sdkpool"]);
    run(
        &python,
        &server,
        &format!("https://127.0.0.1:{}", server.port()),
        false,
        "ip",
    );
    ensure_hosts_entry("sdkpool.localhost");
    run(
        &python,
        &server,
        &format!("https://sdkpool.localhost:{}", server.port()),
        true,
        "dns",
    );
}
