//! OpenSC's `pkcs11-tool` (Debian package `opensc`, which `scripts/test-all` installs) loads
//! libmhsm_pkcs11.so unchanged: library info, the slot list, mechanisms, random numbers and
//! its fork test.

mod pkcs11_common;

use std::path::Path;
use std::process::{Command, Output};

use pkcs11_common::*;

fn tool(dir: &Path, args: &[&str]) -> Output {
    let exe = ["/usr/bin/pkcs11-tool", "/usr/local/bin/pkcs11-tool"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("pkcs11-tool is missing: run ./scripts/test-all, which installs opensc");
    let out = Command::new(exe)
        .arg("--module")
        .arg(module_path())
        .args(args)
        .env("MHSM_DATA_DIR", dir)
        .env_remove("MHSM_PKCS11_CONFIG")
        .env_remove("MHSM_LOG")
        .output()
        .expect("run pkcs11-tool");
    assert!(
        out.status.success(),
        "pkcs11-tool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The value of `name : value` lines.
fn values<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim())
        .collect()
}

#[test]
fn library_info() {
    let dir = dir_with_pools(&[]);
    let out = text(&tool(dir.path(), &["--show-info"]));
    assert!(out.contains("Cryptoki version 3.0"), "{out}");
    assert!(out.contains("Manufacturer     mhsm\n"), "{out}");
    assert!(out.contains("mhsm managed HSM emulator"), "{out}");
}

#[test]
fn list_slots() {
    let dir = dir_with_pools(&["tooltest", "another"]);
    let out = text(&tool(dir.path(), &["--list-slots"]));
    assert_eq!(
        values(&out, "token label"),
        ["another", "tooltest"],
        "{out}"
    );
    assert_eq!(
        values(&out, "token manufacturer"),
        ["mhsm", "mhsm"],
        "{out}"
    );
    assert_eq!(
        values(&out, "token model"),
        ["managed HSM pool", "managed HSM pool"],
        "{out}"
    );
    assert_eq!(values(&out, "pin min/max"), ["4/255", "4/255"], "{out}");
    let flags = values(&out, "token flags");
    assert_eq!(flags.len(), 2, "{out}");
    for f in flags {
        assert!(f.contains("token initialized") && f.contains("rng"), "{f}");
        assert!(!f.contains("PIN initialized"), "{f}");
    }
    assert!(out.contains("mhsm pool tooltest"), "{out}");
    // The extra slot, last, holding the uninitialized token.
    let last = out.split("Slot ").last().unwrap();
    assert!(
        last.starts_with("2 (0x0): mhsm slot for a new pool"),
        "{out}"
    );
    assert!(last.contains("uninitialized"), "{out}");
}

#[test]
fn list_mechanisms() {
    let dir = dir_with_pools(&["mechs"]);
    let out = text(&tool(dir.path(), &["--list-mechanisms"]));
    for line in [
        "RSA-PKCS-KEY-PAIR-GEN, keySize={2048,4096}, generate_key_pair",
        "ECDSA-KEY-PAIR-GEN, keySize={256,521}, generate_key_pair, EC F_P, EC OID, EC uncompressed",
        "AES-KEY-GEN, keySize={16,32}, generate",
        "SHA256-RSA-PKCS-PSS, keySize={2048,4096}, sign, verify",
        "RSA-PKCS-OAEP, keySize={2048,4096}, encrypt, decrypt, wrap, unwrap",
        "RSA-X-509, keySize={2048,4096}, encrypt, decrypt, sign, verify",
        "ECDSA-SHA384, keySize={256,521}, sign, verify",
        "ECDH1-DERIVE, keySize={256,521}, derive",
        "SHA256-HMAC, keySize={1,512}, sign, verify",
        "AES-GCM, keySize={16,32}, encrypt, decrypt",
        "AES-KEY-WRAP, keySize={16,32}, wrap, unwrap",
        "SHA-1, digest",
        "SHA512, digest",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn generate_random() {
    let dir = dir_with_pools(&["random"]);
    let a = tool(dir.path(), &["--generate-random", "32"]).stdout;
    let b = tool(dir.path(), &["--generate-random", "32"]).stdout;
    assert_eq!(a.len(), 32);
    assert_eq!(b.len(), 32);
    assert_ne!(a, b);
    let out_file = dir.path().join("random.bin");
    tool(
        dir.path(),
        &[
            "--generate-random",
            "1000",
            "--output-file",
            out_file.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&out_file).unwrap().len(), 1000);
}

#[test]
fn its_fork_test_passes() {
    // pkcs11-tool forks with the module initialized; the child must be able to initialize it
    // again (SoftHSMv2 answers CKR_CRYPTOKI_ALREADY_INITIALIZED there and fails).
    let dir = dir_with_pools(&["forking"]);
    let out = text(&tool(dir.path(), &["--test-fork"]));
    assert!(
        out.contains("Calling C_Initialize in forked child process"),
        "{out}"
    );
}
