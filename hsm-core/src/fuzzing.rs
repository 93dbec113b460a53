//! Entry points of the fuzz targets in `fuzz/` (feature `fuzzing`; hidden, not an API).
//!
//! Each function takes arbitrary bytes and must return: no panic, no hang, no unbounded
//! allocation, whatever the input. They drive the same code the public API runs, from an
//! in-memory HSM with a fixed root key, so that inputs can be authentic (sealed under the
//! right keys) yet hold contents no honest writer produces:
//! - [`backup`]: key and pool backup blobs, raw (magic, domain, authentication) and sealed
//!   with arbitrary or tampered bodies (the decoders behind authentication, then restore);
//! - [`records`]: the sealed-record opener with arbitrary bytes, the record decoders with
//!   arbitrary plaintext, and a whole store whose one record (or one version's sealed
//!   material) was tampered with, loaded and used as `Hsm::open` would;
//! - [`import`]: key material as a JWK import hands it to the core ([`Pool::import_key`]).

use std::sync::OnceLock;

use crate::backup::RestoreMode;
use crate::crypto::{
    Curve, HashAlg, KeyKind, KeyMaterial, KeySpec, RsaPrivateParts, SignAlgorithm,
};
use crate::hsm::{Hsm, HsmConfig, decode, load_pools};
use crate::key::KeyOptions;
use crate::names::PageRequest;
use crate::pool::{Pool, PoolSettings};
use crate::record::{
    KeyRecord, META_PATH, MetaRecord, PoolRecord, VersionRecord, master_aad, material_aad,
    record_aad,
};
use crate::root::RootKeySource;
use crate::seal::SealKey;
use crate::secret::SecretBytes;
use crate::store::Batch;

const ROOT: [u8; 32] = [0x5a; 32];
const POOL: &str = "fuzz";

/// An in-memory HSM of the fixed security domain.
fn open_hsm() -> Hsm {
    Hsm::open(HsmConfig::in_memory().root_key(RootKeySource::Bytes(SecretBytes::from_slice(&ROOT))))
        .expect("an in-memory HSM opens")
}

/// What every iteration starts from, made once.
struct Fixture {
    hsm: Hsm,
    /// A pool restores go into (emptied after each success).
    scratch: Pool,
    /// Plaintext bodies of real key backups (EC with two versions, AES).
    key_sections: Vec<Vec<u8>>,
    /// The plaintext body of a real pool backup.
    pool_body: Vec<u8>,
    /// The store of a real HSM: (path, plaintext) of every record but the metadata.
    records: Vec<(String, Vec<u8>)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let hsm = open_hsm();
        hsm.create_pool(POOL, PoolSettings::default(), Default::default())
            .expect("pool");
        let pool = hsm.pool(POOL).expect("pool");
        let opts = KeyOptions::default();
        pool.create_key("ec", KeySpec::Ec { curve: Curve::P256 }, &opts)
            .expect("ec key");
        pool.rotate_key("ec").expect("rotation");
        pool.create_key("aes", KeySpec::Aes { bits: 256 }, &opts)
            .expect("aes key");
        pool.put_document("fz", "doc-1", b"{\"a\":1}")
            .expect("document");
        let key_sections = ["ec", "aes"]
            .iter()
            .map(|k| {
                let blob = pool.backup_key(k).expect("backup");
                let body = hsm.fuzz_open_backup(false, &blob).expect("own backup");
                body.expose_secret().to_vec()
            })
            .collect();
        let dir = std::env::temp_dir().join(format!("mhsm-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        hsm.backup_pool(POOL, &dir).expect("pool backup");
        let blob = std::fs::read(dir.join(crate::backup::POOL_BLOB_FILE)).expect("pool.bak");
        let _ = std::fs::remove_dir_all(&dir);
        let pool_body = hsm
            .fuzz_open_backup(true, &blob)
            .expect("own pool backup")
            .expose_secret()
            .to_vec();
        let records = store_plaintexts(&hsm);
        hsm.create_pool("scratch", PoolSettings::default(), Default::default())
            .expect("scratch pool");
        let scratch = hsm.pool("scratch").expect("scratch pool");
        Fixture {
            hsm,
            scratch,
            key_sections,
            pool_body,
            records,
        }
    })
}

/// Every record of `hsm`'s store but the metadata, unsealed.
fn store_plaintexts(hsm: &Hsm) -> Vec<(String, Vec<u8>)> {
    let inner = hsm.inner();
    let mut sealed = Vec::new();
    inner
        .store
        .scan_prefix(b"", &mut |path, value| {
            sealed.push((String::from_utf8_lossy(path).into_owned(), value.to_vec()));
            Ok(())
        })
        .expect("scan");
    let master = pool_master(hsm, POOL).expect("master key");
    sealed
        .into_iter()
        .filter(|(path, _)| path != META_PATH)
        .map(|(path, value)| {
            let key = if path.starts_with("p/") {
                &inner.domain.records
            } else {
                &master
            };
            let plain = key.open(&record_aad(&path), &value).expect("own record");
            (path, plain.expose_secret().to_vec())
        })
        .collect()
}

/// The master key of a pool of the fixed domain, from its record in `hsm`'s store.
fn pool_master(hsm: &Hsm, pool: &str) -> Option<SealKey> {
    let inner = hsm.inner();
    let path = format!("p/{pool}");
    let sealed = inner.store.get(path.as_bytes()).ok()??;
    let record: PoolRecord = decode(
        path.as_bytes(),
        inner.domain.records.open(&record_aad(&path), &sealed),
    )
    .ok()?;
    let master = inner.domain.master_wrap.open(
        &master_aad(&record.name, &record.uid),
        &record.wrapped_master,
    )?;
    SealKey::new(&master).ok()
}

/// `base` with one range replaced, as the first 4 bytes of `edit` say (start, length removed,
/// both big-endian u16 taken modulo the size); the rest of `edit` is inserted.
fn splice(base: &[u8], edit: &[u8]) -> Vec<u8> {
    let (Some(head), rest) = (edit.get(..4), edit.get(4..).unwrap_or_default()) else {
        return base.to_vec();
    };
    let start = usize::from(u16::from_be_bytes([head[0], head[1]])) % (base.len() + 1);
    let cut = usize::from(u16::from_be_bytes([head[2], head[3]])) % (base.len() - start + 1);
    let mut out = base[..start].to_vec();
    out.extend_from_slice(rest);
    out.extend_from_slice(&base[start + cut..]);
    out
}

/// Backup blobs. The first byte picks the form:
/// 0: the rest as a key backup blob (magic, domain id, authentication);
/// 1: the rest sealed as a key backup's body, restored;
/// 2: a real key backup's body with one splice (see [`splice`]; the second byte picks the
///    key), sealed and restored;
/// 3: the rest as a pool backup blob;
/// 4: the rest sealed as a pool backup's body, restored into a pool (replacing it);
/// 5: the real pool backup's body with one splice, sealed and restored.
pub fn backup(data: &[u8]) {
    let f = fixture();
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    match form % 6 {
        0 => restore_key(f, rest),
        1 => {
            if let Ok(blob) = f.hsm.fuzz_seal_backup(false, rest) {
                restore_key(f, &blob);
            }
        }
        2 => {
            let Some((&which, edit)) = rest.split_first() else {
                return;
            };
            let base = &f.key_sections[usize::from(which) % f.key_sections.len()];
            if let Ok(blob) = f.hsm.fuzz_seal_backup(false, &splice(base, edit)) {
                restore_key(f, &blob);
            }
        }
        3 => restore_pool(f, rest),
        4 => {
            if let Ok(blob) = f.hsm.fuzz_seal_backup(true, rest) {
                restore_pool(f, &blob);
            }
        }
        _ => {
            if let Ok(blob) = f.hsm.fuzz_seal_backup(true, &splice(&f.pool_body, rest)) {
                restore_pool(f, &blob);
            }
        }
    }
}

fn restore_key(f: &Fixture, blob: &[u8]) {
    if let Ok(info) = f.scratch.restore_key(blob) {
        use_key(&f.scratch, &info.name, info.spec);
        f.scratch.clear().expect("the scratch pool empties");
    }
}

fn restore_pool(f: &Fixture, blob: &[u8]) {
    if f.hsm
        .fuzz_restore_pool_blob("restored", blob, RestoreMode::Replace)
        .is_ok()
    {
        let pool = f.hsm.pool("restored").expect("a restored pool exists");
        use_pool(&pool);
        pool.clear().expect("the restored pool empties");
    }
}

/// Lists a pool's keys and documents and uses each key once.
fn use_pool(pool: &Pool) {
    let page = PageRequest {
        max: Some(crate::names::MAX_PAGE),
        token: None,
    };
    if let Ok(keys) = pool.list_keys(&page) {
        for key in keys.items {
            let _ = pool.list_versions(&key.name, &page);
            use_key(pool, &key.name, key.spec);
        }
    }
    let _ = pool.get_document("fz", "doc-1");
}

/// One signature (or MAC) with a key's latest version: loads its material.
fn use_key(pool: &Pool, name: &str, spec: KeySpec) {
    let digest = [0x11u8; 32];
    let alg = match spec.kind() {
        KeyKind::Ec => SignAlgorithm::Ecdsa {
            hash: Some(HashAlg::Sha256),
            curve: None,
        },
        KeyKind::Rsa => SignAlgorithm::RsaPkcs1v15 {
            hash: Some(HashAlg::Sha256),
        },
        KeyKind::Oct => SignAlgorithm::Hmac {
            hash: HashAlg::Sha256,
        },
    };
    let _ = pool.sign(name, None, &alg, &digest);
}

/// Stored records. The first byte picks the form:
/// 0: the rest to the sealed-record opener, and to each record decoder as plaintext;
/// 1: a real store whose one record (second byte) has its plaintext spliced (the rest),
///    resealed, loaded and used;
/// 2: a real store whose one key version (second byte) has its material replaced by the
///    rest, sealed where it belongs, loaded and used.
pub fn records(data: &[u8]) {
    let f = fixture();
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    match form % 3 {
        0 => {
            let inner = f.hsm.inner();
            let _ = inner.domain.records.open(&record_aad("p/fuzz"), rest);
            let plain = || Some(SecretBytes::from_slice(rest));
            let _ = decode::<MetaRecord>(b"m", plain());
            let _ = decode::<PoolRecord>(b"p", plain());
            let _ = decode::<KeyRecord>(b"k", plain());
            let _ = decode::<VersionRecord>(b"v", plain());
            let _ = KeyMaterial::decode(rest);
        }
        1 => {
            let Some((&which, edit)) = rest.split_first() else {
                return;
            };
            let mut records = f.records.clone();
            let i = usize::from(which) % records.len();
            records[i].1 = splice(&records[i].1, edit);
            load_and_use(&records, None);
        }
        _ => {
            let Some((&which, material)) = rest.split_first() else {
                return;
            };
            let versions: Vec<usize> = (0..f.records.len())
                .filter(|i| f.records[*i].0.starts_with("v/"))
                .collect();
            let i = versions[usize::from(which) % versions.len()];
            load_and_use(&f.records, Some((i, material)));
        }
    }
}

/// Seals `records` into a fresh HSM of the fixed domain (with `material` in place of one
/// version's sealed material), loads them as `Hsm::open` does, and uses what loaded.
fn load_and_use(records: &[(String, Vec<u8>)], material: Option<(usize, &[u8])>) {
    let hsm = open_hsm();
    let inner = hsm.inner();
    let Some(pool_plain) = records.iter().find(|(p, _)| p.starts_with("p/")) else {
        return;
    };
    // The master key the (possibly tampered) pool record names, else the real one's.
    let master = serde_json::from_slice::<PoolRecord>(&pool_plain.1)
        .ok()
        .and_then(|r| {
            inner
                .domain
                .master_wrap
                .open(&master_aad(&r.name, &r.uid), &r.wrapped_master)
        })
        .or_else(|| {
            let (_, real) = fixture()
                .records
                .iter()
                .find(|(p, _)| p.starts_with("p/"))?;
            let real: PoolRecord = serde_json::from_slice(real).ok()?;
            inner
                .domain
                .master_wrap
                .open(&master_aad(&real.name, &real.uid), &real.wrapped_master)
        });
    let Some(master) = master.and_then(|m| SealKey::new(&m).ok()) else {
        return;
    };
    let mut batch = Batch::new();
    for (i, (path, plain)) in records.iter().enumerate() {
        let mut plain = plain.clone();
        if let Some((_, bytes)) = material.filter(|(at, _)| *at == i)
            && let Ok(mut version) = serde_json::from_slice::<VersionRecord>(&plain)
            && let [_, pool, key, id] = path.splitn(4, '/').collect::<Vec<_>>()[..]
        {
            let Ok(sealed) = master.seal(&material_aad(pool, key, id), bytes) else {
                return;
            };
            version.sealed_material = sealed;
            plain = serde_json::to_vec(&version).expect("a version record encodes");
        }
        let key = if path.starts_with("p/") {
            &inner.domain.records
        } else {
            &master
        };
        let Ok(sealed) = key.seal(&record_aad(path), &plain) else {
            return;
        };
        batch.put(path.as_bytes(), sealed);
    }
    if inner.store.commit(batch).is_err() {
        return;
    }
    let Ok(pools) = load_pools(inner) else {
        return;
    };
    for state in pools.into_values() {
        hsm.install_pool(state);
    }
    let _ = hsm.maintain();
    if let Ok(infos) = hsm.list_pools() {
        for info in infos {
            if let Ok(pool) = hsm.pool(&info.name) {
                use_pool(&pool);
            }
        }
    }
}

/// Key material as the REST front end builds it from an import body's JWK, in the fields
/// of a JWK: `kty` picks RSA, EC, AES (`oct`) or a generic secret (which only PKCS#11
/// makes); the fields are the decoded base64url values.
pub struct Jwk<'a> {
    /// 0: RSA, 1: EC, 2: oct (AES), 3: generic secret (modulo 4).
    pub kty: u8,
    /// The JWK's `crv` (EC).
    pub crv: &'a str,
    /// `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi` (RSA); `d` (EC, the first); `k` (oct, the
    /// first). A missing optional RSA field is `None`.
    pub fields: [Option<&'a [u8]>; 8],
}

/// A JWK import, core side: the material goes through [`Curve::from_jwk_name`] and
/// [`Pool::import_key`] (options, size rules, the provider's parse), and is used once.
pub fn import(jwk: &Jwk<'_>) {
    let f = fixture();
    let field = |i: usize| jwk.fields[i].unwrap_or_default();
    let secret = |i: usize| SecretBytes::from_slice(field(i));
    let material = match jwk.kty % 4 {
        0 => KeyMaterial::Rsa(RsaPrivateParts {
            n: field(0).to_vec(),
            e: field(1).to_vec(),
            d: secret(2),
            p: secret(3),
            q: secret(4),
            dp: jwk.fields[5].map(SecretBytes::from_slice),
            dq: jwk.fields[6].map(SecretBytes::from_slice),
            qi: jwk.fields[7].map(SecretBytes::from_slice),
        }),
        1 => {
            let Ok(curve) = Curve::from_jwk_name(jwk.crv) else {
                return;
            };
            KeyMaterial::Ec {
                curve,
                d: secret(0),
            }
        }
        2 => KeyMaterial::Aes(secret(0)),
        _ => KeyMaterial::Secret(secret(0)),
    };
    let spec = material.spec();
    if f.scratch
        .import_key("imported", material, &KeyOptions::default())
        .is_ok()
    {
        use_key(&f.scratch, "imported", spec);
        f.scratch.clear().expect("the scratch pool empties");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_stay_in_bounds() {
        assert_eq!(splice(b"abcdef", &[0, 1, 0, 2, b'X']), b"aXdef");
        // Start 0xffff % 4 = 3 (the end), nothing left to cut.
        assert_eq!(splice(b"abc", &[0xff, 0xff, 0xff, 0xff]), b"abc");
        assert_eq!(splice(b"", &[1, 2, 3, 4, b'Y']), b"Y");
        assert_eq!(
            splice(b"abc", &[0, 1]),
            b"abc",
            "a short edit changes nothing"
        );
    }

    #[test]
    fn real_fixtures_round_trip() {
        // The untouched fixtures must restore and load, or the targets test nothing.
        let f = fixture();
        let blob = f.hsm.fuzz_seal_backup(false, &f.key_sections[0]).unwrap();
        let info = f.scratch.restore_key(&blob).unwrap();
        assert_eq!(info.name, "ec");
        f.scratch.clear().unwrap();
        let blob = f.hsm.fuzz_seal_backup(true, &f.pool_body).unwrap();
        let restored = f
            .hsm
            .fuzz_restore_pool_blob("restored", &blob, RestoreMode::Replace)
            .unwrap();
        assert_eq!(restored.name, "restored");
        assert!(f.records.iter().any(|(p, _)| p.starts_with("v/fuzz/ec/")));
        load_and_use(&f.records, None);
    }
}
