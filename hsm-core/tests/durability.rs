//! The store: records authenticated and bound to their place, locks, root keys.

mod common;

use std::sync::Arc;

use common::open_dir;
use hsm_core::crypto::{Curve, KeySpec};
use hsm_core::key::KeyOptions;
use hsm_core::names::Tags;
use hsm_core::root::RootKeySource;
use hsm_core::store::{Batch, SledStore, Store};
use hsm_core::time::ManualClock;
use hsm_core::{Hsm, HsmConfig, PoolSettings, SecretBytes};

fn populated() -> (tempfile::TempDir, ManualClock) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let hsm = open_dir(dir.path(), &clock);
    hsm.create_pool("pool", PoolSettings::default(), Tags::new())
        .unwrap();
    let pool = hsm.pool("pool").unwrap();
    for name in ["a", "b"] {
        pool.create_key(
            name,
            KeySpec::Ec { curve: Curve::P256 },
            &KeyOptions::default(),
        )
        .unwrap();
    }
    (dir, clock)
}

fn records(dir: &std::path::Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let store = SledStore::open(&dir.join("store")).unwrap();
    let mut out = Vec::new();
    store
        .scan_prefix(b"", &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
    out
}

fn rewrite(dir: &std::path::Path, f: impl FnOnce(&mut Batch, &[(Vec<u8>, Vec<u8>)])) {
    let all = records(dir);
    let store = SledStore::open(&dir.join("store")).unwrap();
    let mut batch = Batch::new();
    f(&mut batch, &all);
    store.commit(batch).unwrap();
}

fn open_err(dir: &std::path::Path, clock: &ManualClock) -> hsm_core::Error {
    Hsm::open(HsmConfig::new(dir).clock(Arc::new(clock.clone()))).unwrap_err()
}

#[test]
fn a_flipped_bit_in_any_record_is_caught_at_open() {
    let (dir, clock) = populated();
    let all = records(dir.path());
    assert!(
        all.len() >= 6,
        "meta, pool, 2 keys, 2 versions: {}",
        all.len()
    );
    for (path, value) in &all {
        let mut t = value.clone();
        let mid = t.len() / 2;
        t[mid] ^= 1;
        rewrite(dir.path(), |b, _| b.put(path.clone(), t));
        let err = open_err(dir.path(), &clock);
        let code = err.code();
        assert!(
            matches!(code, "Corrupted" | "RootKeyMismatch"),
            "{}: {code}",
            String::from_utf8_lossy(path)
        );
        rewrite(dir.path(), |b, _| b.put(path.clone(), value.clone()));
    }
    open_dir(dir.path(), &clock);
}

#[test]
fn swapped_records_are_caught() {
    let (dir, clock) = populated();
    let all = records(dir.path());
    let key = |p: &str| {
        all.iter()
            .find(|(k, _)| k.as_slice() == p.as_bytes())
            .unwrap()
            .1
            .clone()
    };
    // Swap key a's record with key b's: both authenticate under the pool key, but not in
    // each other's place.
    rewrite(dir.path(), |b, _| {
        b.put("k/pool/a", key("k/pool/b"));
        b.put("k/pool/b", key("k/pool/a"));
    });
    assert_eq!(open_err(dir.path(), &clock).code(), "Corrupted");
}

#[test]
fn a_missing_version_record_is_caught() {
    let (dir, clock) = populated();
    rewrite(dir.path(), |b, all| {
        let v = all
            .iter()
            .find(|(k, _)| k.starts_with(b"v/pool/a/"))
            .unwrap();
        b.delete(v.0.clone());
    });
    let err = open_err(dir.path(), &clock);
    assert_eq!(err.code(), "Corrupted");
    assert!(err.to_string().contains("v/pool/a/"), "{err}");
}

#[test]
fn wrong_or_missing_root_key() {
    let (dir, clock) = populated();
    let wrong = HsmConfig::new(dir.path())
        .root_key(RootKeySource::Bytes(SecretBytes::from_slice(&[1; 32])))
        .clock(Arc::new(clock.clone()));
    let err = Hsm::open(wrong).unwrap_err();
    assert_eq!(err.code(), "RootKeyMismatch");
    assert!(err.to_string().contains(&dir.path().display().to_string()));
    std::fs::remove_file(dir.path().join("root.key")).unwrap();
    let err = open_err(dir.path(), &clock);
    assert_eq!(err.code(), "RootKey");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn a_held_directory_fails_at_once_naming_it() {
    let (dir, clock) = populated();
    let _first = open_dir(dir.path(), &clock);
    let started = std::time::Instant::now();
    let err = open_err(dir.path(), &clock);
    assert_eq!(err.code(), "StoreLocked");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    assert!(started.elapsed().as_secs() < 5, "no waiting for the lock");
}

#[test]
fn the_root_key_file_is_private() {
    let (dir, _) = populated();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("root.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn front_end_secrets_are_sealed_to_their_purpose() {
    let (dir, clock) = populated();
    let hsm = open_dir(dir.path(), &clock);
    let sealed = hsm
        .seal_secret("tls-key", b"-----BEGIN PRIVATE KEY-----")
        .unwrap();
    assert!(!sealed.windows(10).any(|w| w == b"BEGIN PRIV"));
    assert_eq!(
        hsm.open_secret("tls-key", &sealed).unwrap().expose_secret(),
        b"-----BEGIN PRIVATE KEY-----"
    );
    assert_eq!(
        hsm.open_secret("other", &sealed).unwrap_err().code(),
        "Corrupted"
    );
    let other = Hsm::open(HsmConfig::in_memory()).unwrap();
    assert_eq!(
        other.open_secret("tls-key", &sealed).unwrap_err().code(),
        "Corrupted"
    );
}
