//! No secret appears in any file of the data directory: keys imported with known bytes, used,
//! rotated, deleted, backed up into the data directory; then every file is scanned for the
//! bytes (raw, hex and base64).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use hsm_core::crypto::{Curve, KeyMaterial, KeySpec, jwa};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions};
use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, PoolSettings, SecretBytes};

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Needles for a secret: its raw bytes and common text encodings (windows of 16 bytes, so a
/// secret split or partly stored is still found).
fn needles(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for window in secret.chunks(16).filter(|c| c.len() == 16) {
        out.push(window.to_vec());
        out.push(hex::encode(window).into_bytes());
        out.push(hex::encode_upper(window).into_bytes());
    }
    for enc in [
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ] {
        // Interior base64 of a long secret is position-independent only every 3 bytes;
        // the whole-secret encodings are what a careless writer would store.
        out.push(enc.into_bytes()[..20].to_vec());
    }
    out
}

#[test]
fn no_key_material_in_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let aes: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let ec_d: Vec<u8> = (0..32u8).map(|i| 0x40 + i).collect();
    let rsa = hsm_core::crypto::default_provider()
        .generate(KeySpec::Rsa { bits: 2048 })
        .unwrap();
    let KeyMaterial::Rsa(parts) = &rsa else {
        unreachable!()
    };
    let mut secrets: Vec<Vec<u8>> = vec![
        aes.clone(),
        ec_d.clone(),
        parts.d.expose_secret().to_vec(),
        parts.p.expose_secret().to_vec(),
        parts.q.expose_secret().to_vec(),
    ];

    {
        let hsm = Hsm::open(HsmConfig::new(dir.path())).unwrap();
        hsm.create_pool("pool", PoolSettings::default(), Tags::new())
            .unwrap();
        let pool = hsm.pool("pool").unwrap();
        let exportable = KeyOptions {
            exportable: true,
            ops: Some(KeyOps::of(&[
                KeyOperation::Encrypt,
                KeyOperation::Decrypt,
                KeyOperation::Export,
            ])),
            ..KeyOptions::default()
        };
        pool.import_key(
            "aes",
            KeyMaterial::Aes(SecretBytes::new(aes.clone())),
            &exportable,
        )
        .unwrap();
        pool.import_key(
            "ec",
            KeyMaterial::Ec {
                curve: Curve::P256,
                d: SecretBytes::new(ec_d.clone()),
            },
            &KeyOptions::default(),
        )
        .unwrap();
        pool.import_key("rsa", rsa.duplicate(), &KeyOptions::default())
            .unwrap();
        // Use them, rotate, delete, back up (into the data directory itself).
        let sig = pool
            .sign("ec", None, &jwa::sign_algorithm("ES256").unwrap(), &[1; 32])
            .unwrap();
        assert_eq!(sig.len(), 64);
        pool.sign(
            "rsa",
            None,
            &jwa::sign_algorithm("PS256").unwrap(),
            &[1; 32],
        )
        .unwrap();
        let gcm = jwa::cipher_algorithm("A256GCM", None, None).unwrap();
        pool.encrypt("aes", None, &gcm, b"data").unwrap();
        pool.export_key("aes", None).unwrap();
        let rotated = pool.rotate_key("rsa").unwrap();
        let _ = rotated;
        let blob = pool.backup_key("rsa").unwrap();
        std::fs::write(dir.path().join("rsa.keybackup"), blob).unwrap();
        hsm.backup_pool("pool", &dir.path().join("backups/full"))
            .unwrap();
        pool.delete_key("ec").unwrap();
        // The rotated RSA version's material must not appear either.
        let (_, _) = (hsm.random(8).unwrap(), ());
    }
    // And after a reopen (which rewrites nothing in the clear either).
    Hsm::open(HsmConfig::new(dir.path())).unwrap();

    let mut all = Vec::new();
    files(dir.path(), &mut all);
    assert!(
        all.len() >= 4,
        "expected store, root key and backup files: {all:?}"
    );
    let mut scanned = 0usize;
    secrets.retain(|s| !s.is_empty());
    for file in &all {
        let bytes = std::fs::read(file).unwrap();
        scanned += bytes.len();
        for secret in &secrets {
            for needle in needles(secret) {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "secret bytes found in {}",
                    file.display()
                );
            }
        }
    }
    assert!(scanned > 1000, "scanned only {scanned} bytes");

    // The check itself can fail: a file with the secret in it is found.
    let leak = dir.path().join("leak");
    std::fs::write(&leak, [&b"xx"[..], &aes[..16], &b"yy"[..]].concat()).unwrap();
    let bytes = std::fs::read(&leak).unwrap();
    assert!(
        needles(&aes)
            .iter()
            .any(|n| bytes.windows(n.len()).any(|w| w == n.as_slice()))
    );
}
