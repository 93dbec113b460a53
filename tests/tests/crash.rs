//! Crash test: a child process works on a data directory and is killed with SIGKILL at
//! random moments; after each kill the store must open, hold every acknowledged operation,
//! and every key must work.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hsm_core::crypto::{CipherAlgorithm, KeySpec, jwa};
use hsm_core::names::PageRequest;
use hsm_core::{Hsm, HsmConfig, Pool};

const TRIALS: u64 = 50;

/// What the acknowledged operations say a key is.
#[derive(Debug, Clone, Default, PartialEq)]
struct Expected {
    versions: Vec<String>,
    deleted: bool,
    tag: Option<String>,
}

fn apply(model: &mut BTreeMap<String, Expected>, line: &str) {
    let parts: Vec<&str> = line.split_whitespace().collect();
    match parts.as_slice() {
        ["ACK", "create", key, v] => model
            .entry(key.to_string())
            .or_default()
            .versions
            .push(v.to_string()),
        ["ACK", "rotate", key, v] => model
            .get_mut(*key)
            .expect("rotate of a known key")
            .versions
            .push(v.to_string()),
        ["ACK", "delete", key] => {
            model.get_mut(*key).expect("delete of a known key").deleted = true
        }
        ["ACK", "purge", key] => {
            model.remove(*key);
        }
        ["ACK", "tag", key, n] => {
            model.get_mut(*key).expect("tag of a known key").tag = Some(n.to_string())
        }
        other => panic!("unexpected line {other:?}"),
    }
}

fn all(
    page: impl Fn(&PageRequest) -> hsm_core::Result<hsm_core::names::Page<hsm_core::key::KeyInfo>>,
) -> Vec<hsm_core::key::KeyInfo> {
    let mut out = Vec::new();
    let mut req = PageRequest::first(1000);
    loop {
        let p = page(&req).unwrap();
        out.extend(p.items);
        match p.next {
            Some(t) => req.token = Some(t),
            None => return out,
        }
    }
}

/// The store as it is now, in the model's terms.
fn observe(pool: &Pool) -> BTreeMap<String, Expected> {
    let mut out = BTreeMap::new();
    for (deleted, keys) in [
        (false, all(|r| pool.list_keys(r))),
        (true, all(|r| pool.list_deleted_keys(r))),
    ] {
        for k in keys {
            let versions = if deleted {
                vec![k.version.clone()]
            } else {
                all(|r| pool.list_versions(&k.name, r))
                    .into_iter()
                    .map(|v| v.version)
                    .collect()
            };
            out.insert(
                k.name.clone(),
                Expected {
                    versions,
                    deleted,
                    tag: k.tags.get("n").cloned(),
                },
            );
        }
    }
    out
}

fn matches(model: &Expected, seen: &Expected) -> bool {
    if model.deleted {
        // Deleted keys are listed by their latest version only.
        seen.deleted && model.versions.last() == seen.versions.last() && model.tag == seen.tag
    } else {
        model == seen
    }
}

fn check_usable(pool: &Pool, name: &str) {
    let info = pool.get_key(name, None).unwrap();
    match info.spec {
        KeySpec::Ec { .. } => {
            let alg = jwa::sign_algorithm("ES256").unwrap();
            for v in all(|r| pool.list_versions(name, r)) {
                let sig = pool.sign(name, Some(&v.version), &alg, &[7; 32]).unwrap();
                assert!(
                    pool.verify(name, Some(&v.version), &alg, &[7; 32], &sig)
                        .unwrap()
                );
            }
        }
        KeySpec::Aes { .. } => {
            let alg = CipherAlgorithm::AesGcm {
                key_bits: None,
                iv: None,
                aad: vec![],
                tag_len: 16,
            };
            let ct = pool.encrypt(name, None, &alg, b"still here").unwrap();
            let dec = CipherAlgorithm::AesGcm {
                key_bits: None,
                iv: ct.iv.clone(),
                aad: vec![],
                tag_len: 16,
            };
            assert_eq!(
                pool.decrypt(name, None, &dec, &ct.data_with_tag())
                    .unwrap()
                    .expose_secret(),
                b"still here"
            );
        }
        other => panic!("unexpected key {other:?}"),
    }
}

#[test]
fn every_acknowledged_operation_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut model: BTreeMap<String, Expected> = BTreeMap::new();
    let mut acked = 0usize;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    for trial in 0..TRIALS {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_child"))
            .arg(dir.path())
            .arg(seed.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        stdout.read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "READY", "trial {trial}");
        if trial == 0 {
            // While the child holds the directory, another process cannot open it.
            let started = Instant::now();
            let err = Hsm::open(HsmConfig::new(dir.path())).unwrap_err();
            assert_eq!(err.code(), "StoreLocked");
            assert!(
                err.to_string().contains(&dir.path().display().to_string()),
                "{err}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "no waiting for the lock"
            );
        }
        let reader = std::thread::spawn(move || {
            stdout
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        // Kill at a random moment: between 20 and 400 ms after it opened the store.
        let wait = Duration::from_millis(20 + (seed >> 33) % 380);
        let started = Instant::now();
        while started.elapsed() < wait {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("child exited by itself in trial {trial}: {status}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let lines = reader.join().unwrap();

        let mut in_flight = None;
        for line in &lines {
            if let Some(rest) = line.strip_prefix("BEGIN ") {
                in_flight = rest.split_whitespace().nth(1).map(str::to_string);
            } else {
                apply(&mut model, line);
                acked += 1;
                in_flight = None;
            }
        }

        let hsm = Hsm::open(HsmConfig::new(dir.path()))
            .unwrap_or_else(|e| panic!("trial {trial}: reopen failed: {e}"));
        let Ok(pool) = hsm.pool("crash") else {
            assert!(
                model.is_empty(),
                "trial {trial}: the pool is gone but keys were acknowledged"
            );
            continue;
        };
        let seen = observe(&pool);
        for (name, want) in &model {
            if in_flight.as_deref() == Some(name.as_str()) {
                continue;
            }
            let got = seen
                .get(name)
                .unwrap_or_else(|| panic!("trial {trial}: acknowledged key {name} is missing"));
            assert!(
                matches(want, got),
                "trial {trial}: key {name}: acknowledged {want:?}, found {got:?}"
            );
        }
        for name in seen.keys() {
            if !model.contains_key(name) {
                assert_eq!(
                    in_flight.as_deref(),
                    Some(name.as_str()),
                    "trial {trial}: unexpected key {name}"
                );
            }
        }
        // The in-flight operation either happened or did not; adopt what the store says.
        if let Some(name) = &in_flight {
            match seen.get(name) {
                Some(state) => {
                    model.insert(name.clone(), state.clone());
                }
                None => {
                    model.remove(name);
                }
            }
        }
        for (name, state) in &seen {
            if !state.deleted {
                check_usable(&pool, name);
            }
        }
    }
    assert!(
        acked >= TRIALS as usize,
        "only {acked} operations were acknowledged in {TRIALS} trials"
    );
    println!(
        "{TRIALS} trials, {acked} acknowledged operations, {} keys at the end",
        model.len()
    );
}
