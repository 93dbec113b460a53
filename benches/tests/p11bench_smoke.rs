//! The PKCS#11 benchmark runner in smoke mode (a fraction of a second per case, 1,000
//! objects), so it cannot rot: every case runs on every target (kryoptic when it is built)
//! and gives a number. Speed is
//! never asserted; a failing case fails the runner, and so this test.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Instant;

/// Every case the runner must measure.
const CASES: &[&str] = &[
    "session",
    "random",
    "sha256",
    "ecdsa-sign",
    "ecdsa-verify",
    "rsa-pkcs1-sign",
    "rsa-pss-sign",
    "rsa-verify",
    "rsa-oaep-decrypt",
    "aes-gcm",
    "aes-cbc-pad",
    "hmac",
    "gen-ec",
    "gen-aes",
    "gen-rsa",
    "find-small",
    "find-big",
    "create-destroy",
];

/// The cases the bare provider has (no sessions, objects or searches there).
const NOT_BARE: &[&str] = &["session", "find-small", "find-big", "create-destroy"];

#[test]
fn every_case_runs_on_every_target() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("bench-p11.md");
    let tsv = dir.path().join("results.tsv");
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_p11bench"))
        .arg("--smoke")
        .arg("--out")
        .arg(&md)
        .arg("--results")
        .arg(&tsv)
        .output()
        .expect("run p11bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(out.status.success(), "p11bench --smoke failed: {stderr}");
    eprintln!(
        "p11bench --smoke took {:.1} s",
        start.elapsed().as_secs_f64()
    );

    let table = std::fs::read_to_string(&md).unwrap();
    assert!(table.contains("| case | threads |"), "no table in {table}");
    let results = std::fs::read_to_string(&tsv).unwrap();
    let mut seen = BTreeSet::new();
    let mut targets = BTreeSet::new();
    for line in results.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "bad line {line}");
        let v: f64 = f[3].parse().unwrap();
        assert!(v > 0.0 && v.is_finite(), "{line}: not a positive number");
        seen.insert((f[0].to_string(), f[1].to_string(), f[2].to_string()));
        targets.insert(f[0].to_string());
    }

    let mhsm: Vec<&String> = targets.iter().filter(|t| t.starts_with("mhsm")).collect();
    assert!(!mhsm.is_empty(), "no mhsm target in {targets:?}");
    let softhsm_skipped = stderr.contains("SoftHSMv2 skipped");
    if softhsm_skipped {
        eprintln!("SoftHSMv2 was skipped (not installed, and it could not be installed)");
    } else {
        assert!(targets.contains("SoftHSMv2"), "no SoftHSMv2 in {targets:?}");
    }
    // kryoptic runs when scripts/build-kryoptic has built it, and is skipped otherwise.
    if stderr.contains("kryoptic skipped") {
        eprintln!("kryoptic was skipped (not built here)");
    } else {
        assert!(targets.contains("kryoptic"), "no kryoptic in {targets:?}");
    }
    for target in &targets {
        let bare = target.starts_with("bare ");
        for case in CASES {
            if bare && NOT_BARE.contains(case) {
                continue;
            }
            for threads in ["1", "2"] {
                assert!(
                    seen.contains(&(target.clone(), case.to_string(), threads.to_string())),
                    "{target}: no figure for {case} at {threads} threads"
                );
            }
        }
    }
    for m in mhsm {
        assert!(
            targets.contains(&format!("bare {m}")),
            "no bare baseline for {m}"
        );
    }
}
