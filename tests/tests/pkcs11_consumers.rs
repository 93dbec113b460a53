//! The real consumers of a PKCS#11 module, end to end: `tests/interop/pkcs11-consumers.sh`
//! drives pkcs11-tool, OpenSSL with the pkcs11 engine, p11tool, ssh-keygen and Java's
//! keytool against a module. It runs against libmhsm_pkcs11.so, and against SoftHSMv2 so
//! that the script itself is known to be right. The script installs the Debian packages it
//! needs when they are missing.

mod pkcs11_common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use pkcs11_common::module_path;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// One run at a time: the script may call apt-get, which holds a lock, and each run starts
/// a JVM and several tools on a small machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/pkcs11-consumers.sh")
}

/// Runs the script against `module` with `env` set, everything under `work`; panics with the
/// script's whole output (stdout and stderr, interleaved) unless it exits 0.
fn run_script(module: &Path, work: &Path, env: &[(&str, &Path)]) {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let log_path = work.join("script.log");
    let log = File::create(&log_path).expect("create the log");
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .arg(module)
        .arg(work.join("run"))
        .env_remove("MHSM_DATA_DIR")
        .env_remove("MHSM_PKCS11_CONFIG")
        .env_remove("MHSM_LOG")
        .env_remove("SOFTHSM2_CONF")
        .env_remove("PKCS11_CONSUMERS_SPY")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("clone the log"))
        .stderr(log);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let status = cmd.status().expect("run bash");
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        status.success(),
        "{} {} failed ({status}):\n{output}",
        script().display(),
        module.display()
    );
    assert!(output.contains("== all steps passed =="), "{output}");
}

#[test]
fn mhsm_passes_every_consumer() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("mhsm-data");
    std::fs::create_dir(&data).unwrap();
    run_script(&module_path(), work.path(), &[("MHSM_DATA_DIR", &data)]);
}

#[test]
fn softhsm_runs_the_same_script() {
    let work = tempfile::tempdir().unwrap();
    let tokens = work.path().join("softhsm-tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = work.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    // The script installs softhsm2 when this path is missing.
    run_script(Path::new(SOFTHSM), work.path(), &[("SOFTHSM2_CONF", &conf)]);
}
