//! The official Azure SDK for Python drives the server unchanged: azure-keyvault-keys once
//! at https://127.0.0.1 with the challenge-resource check off, once at a `{pool}.localhost`
//! name with it on; azure-keyvault-administration's access control client for role
//! definitions and assignments. Needs the venv `scripts/test-all` makes (`MHSM_PYTHON`).

mod common;

use std::path::Path;
use std::process::Command;

use common::TestServer;

use mhsm_tests::python;

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

/// Runs a script of `tests/python` against `url`; returns its output after checking it
/// exited successfully.
fn run_script(
    python: &Path,
    server: &TestServer,
    script: &str,
    url: &str,
    verify_resource: bool,
    env: &[(&str, &str)],
) -> String {
    let ca = server.dir.path().join("ca.pem");
    let out = Command::new(python)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("python")
                .join(script),
        )
        .env("MHSM_URL", url)
        .env("MHSM_CA", &ca)
        .env(
            "MHSM_VERIFY_RESOURCE",
            if verify_resource { "1" } else { "0" },
        )
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} at {url} failed:\n{stdout}\n{stderr}"
    );
    stdout.into_owned()
}

fn run(python: &Path, server: &TestServer, url: &str, verify_resource: bool, prefix: &str) {
    let stdout = run_script(
        python,
        server,
        "sdk_keys.py",
        url,
        verify_resource,
        &[("MHSM_PREFIX", prefix)],
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

#[test]
fn azure_sdk_for_python_manages_roles() {
    let python = python();
    let server = TestServer::start(&["sdkrbac"]);
    ensure_hosts_entry("sdkrbac.localhost");
    for (url, verify) in [
        (format!("https://127.0.0.1:{}", server.port()), false),
        (format!("https://sdkrbac.localhost:{}", server.port()), true),
    ] {
        let stdout = run_script(&python, &server, "sdk_rbac.py", &url, verify, &[]);
        assert!(stdout.contains("all SDK RBAC checks passed"), "{stdout}");
        assert!(stdout.matches("ok:").count() >= 26, "{stdout}");
    }
}

#[test]
fn azure_sdk_for_python_administers_the_pool() {
    let python = python();
    let server = TestServer::start(&["sdkadmin"]);
    ensure_hosts_entry("sdkadmin.localhost");
    for (url, verify) in [
        (format!("https://127.0.0.1:{}", server.port()), false),
        (
            format!("https://sdkadmin.localhost:{}", server.port()),
            true,
        ),
    ] {
        let stdout = run_script(&python, &server, "sdk_admin.py", &url, verify, &[]);
        assert!(stdout.contains("all admin SDK checks passed"), "{stdout}");
        assert!(stdout.matches("ok:").count() >= 12, "{stdout}");
    }
    // The backups are where the documented mapping of storageResourceUri puts them: two per
    // run of the script, each in a folder of its own.
    let container = server
        .dir
        .path()
        .join("backups/mhsmtest.blob.core.windows.net/backups");
    let folders: Vec<_> = std::fs::read_dir(&container).unwrap().collect();
    assert_eq!(folders.len(), 4, "{container:?}");
}
