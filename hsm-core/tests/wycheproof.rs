//! Wycheproof vectors through the public provider API, once per provider built in.
//!
//! For every set: valid vectors must pass, invalid ones must fail, acceptable ones may go
//! either way. Vectors mhsm refuses by policy (an MGF1 hash other than the message hash for
//! PSS, IV sizes other than 96 bits for GCM, HMAC keys that are not AES-sized, ...) are skipped,
//! counted and printed; each set must run a minimum number of vectors, and skips must stay a
//! minority of each family. Run with `--nocapture` to see the table.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use hsm_core::SecretBytes;
use hsm_core::crypto::{
    CipherAlgorithm, CryptoProvider, Curve, HashAlg, KeyMaterial, LoadedKey, PublicKey,
    RsaPrivateParts, SignAlgorithm, WrapAlgorithm,
};
use wycheproof::{HashFunction, Mgf, TestResult};

/// Counts of one set.
struct Tally {
    name: String,
    passed: usize,
    rejected: usize,
    acceptable: usize,
    skipped: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            passed: 0,
            rejected: 0,
            acceptable: 0,
            skipped: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    /// Records the outcome of one vector: `accepted` is whether mhsm took it as valid.
    fn record(&mut self, tc_id: usize, expected: TestResult, accepted: bool) {
        match (expected, accepted) {
            (TestResult::Valid, true) => self.passed += 1,
            (TestResult::Invalid, false) => self.rejected += 1,
            (TestResult::Acceptable, _) => self.acceptable += 1,
            (TestResult::Valid, false) => {
                self.failures
                    .push(format!("tcId {tc_id}: valid vector rejected"));
            }
            (TestResult::Invalid, true) => {
                self.failures
                    .push(format!("tcId {tc_id}: invalid vector accepted"));
            }
        }
    }

    fn skip(&mut self, count: usize, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += count;
    }

    fn ran(&self) -> usize {
        self.passed + self.rejected + self.acceptable + self.failures.len()
    }

    fn skips(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// The tallies of one family of sets (ECDSA, RSA-PSS, ...).
struct Family {
    name: &'static str,
    sets: Vec<(Tally, usize)>,
}

impl Family {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            sets: Vec::new(),
        }
    }

    /// Adds a set's tally, which must have run at least `min_run` vectors.
    fn add(&mut self, tally: Tally, min_run: usize) {
        self.sets.push((tally, min_run));
    }

    /// Prints the table and asserts: no failures, minimum counts, skips a minority.
    fn finish(self) {
        println!("\n== Wycheproof {} ==", self.name);
        println!(
            "{:<44} {:>6} {:>6} {:>6} {:>6} {:>6}",
            "set", "valid", "invalid", "accept", "failed", "skipped"
        );
        let mut problems = Vec::new();
        let (mut ran, mut skipped) = (0, 0);
        for (t, min_run) in &self.sets {
            println!(
                "{:<44} {:>6} {:>6} {:>6} {:>6} {:>6}",
                t.name,
                t.passed,
                t.rejected,
                t.acceptable,
                t.failures.len(),
                t.skips()
            );
            for (reason, count) in &t.skipped {
                println!("    skipped {count}: {reason}");
            }
            for f in &t.failures {
                problems.push(format!("{}: {f}", t.name));
            }
            if t.ran() < *min_run {
                problems.push(format!(
                    "{}: only {} vectors ran, expected at least {min_run}",
                    t.name,
                    t.ran()
                ));
            }
            ran += t.ran();
            skipped += t.skips();
        }
        println!("{} total: {ran} run, {skipped} skipped", self.name);
        if skipped >= ran {
            problems.push(format!(
                "{}: {skipped} vectors skipped, more than the {ran} run",
                self.name
            ));
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}

fn provider() -> Arc<dyn CryptoProvider> {
    common::current_provider()
}

fn hash_alg(h: HashFunction) -> Option<HashAlg> {
    match h {
        HashFunction::Sha1 => Some(HashAlg::Sha1),
        HashFunction::Sha2_224 => Some(HashAlg::Sha224),
        HashFunction::Sha2_256 => Some(HashAlg::Sha256),
        HashFunction::Sha2_384 => Some(HashAlg::Sha384),
        HashFunction::Sha2_512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

fn digest(hash: HashAlg, msg: &[u8]) -> Vec<u8> {
    let mut h = provider().hasher(hash);
    h.update(msg);
    h.finish()
}

/// A big-endian integer without leading zeros.
fn trim(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// A big-endian integer left-padded to `len` bytes (None if it does not fit).
fn pad(bytes: &[u8], len: usize) -> Option<Vec<u8>> {
    let bytes = trim(bytes);
    (bytes.len() <= len).then(|| [vec![0; len - bytes.len()], bytes.to_vec()].concat())
}

fn curve_of(c: wycheproof::EllipticCurve) -> Option<Curve> {
    match c {
        wycheproof::EllipticCurve::Secp256r1 => Some(Curve::P256),
        wycheproof::EllipticCurve::Secp384r1 => Some(Curve::P384),
        wycheproof::EllipticCurve::Secp521r1 => Some(Curve::P521),
        wycheproof::EllipticCurve::Secp256k1 => Some(Curve::Secp256k1),
        _ => None,
    }
}

/// Strict DER `SEQUENCE { INTEGER r, INTEGER s }` to `r || s` (None if not strict DER or if
/// an integer is negative or does not fit the field).
fn der_to_raw(der: &[u8], field_len: usize) -> Option<Vec<u8>> {
    fn header(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&t, rest) = input.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 2 || rest.len() < n {
                return None;
            }
            let (len_bytes, rest) = rest.split_at(n);
            let len = len_bytes
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            // Minimal length encoding.
            if len < 0x80 || len_bytes[0] == 0 {
                return None;
            }
            (len, rest)
        };
        (rest.len() >= len).then(|| rest.split_at(len))
    }
    fn integer(input: &[u8], field_len: usize) -> Option<(Vec<u8>, &[u8])> {
        let (value, rest) = header(input, 0x02)?;
        let (&first, tail) = value.split_first()?;
        if first & 0x80 != 0 {
            return None; // negative
        }
        if first == 0 && tail.first().is_some_and(|b| b & 0x80 == 0) {
            return None; // not minimal
        }
        Some((pad(value, field_len)?, rest))
    }
    let (body, trailing) = header(der, 0x30)?;
    if !trailing.is_empty() {
        return None;
    }
    let (r, rest) = integer(body, field_len)?;
    let (s, rest) = integer(rest, field_len)?;
    rest.is_empty().then(|| [r, s].concat())
}

#[test]
fn ecdsa_verify() {
    common::each_provider(ecdsa_verify_on);
}

fn ecdsa_verify_on() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let p = provider();
    let mut family = Family::new("ECDSA verify");
    let sets = [
        (TestName::EcdsaSecp256r1Sha256P1363, true, 200),
        (TestName::EcdsaSecp256r1Sha512P1363, true, 200),
        (TestName::EcdsaSecp384r1Sha384P1363, true, 200),
        (TestName::EcdsaSecp384r1Sha512P1363, true, 200),
        (TestName::EcdsaSecp384r1Sha256, false, 200),
        (TestName::EcdsaSecp521r1Sha512P1363, true, 200),
        (TestName::EcdsaSecp256k1Sha256P1363, true, 200),
        (TestName::EcdsaSecp256k1Sha512P1363, true, 200),
    ];
    for (name, p1363, min_run) in sets {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(format!("{name:?}"));
        for group in set.test_groups {
            let (Some(curve), Some(hash)) = (curve_of(group.key.curve), hash_alg(group.hash))
            else {
                tally.skip(group.tests.len(), "curve or hash not supported");
                continue;
            };
            let flen = curve.field_len();
            let point = &group.key.key[..];
            let (x, y) = point[1..].split_at(flen);
            let key = p.load_public(&PublicKey::Ec {
                curve,
                x: x.to_vec(),
                y: y.to_vec(),
            });
            let Ok(key) = key else {
                tally.skip(group.tests.len(), "public key refused");
                continue;
            };
            let alg = SignAlgorithm::Ecdsa {
                hash: Some(hash),
                curve: Some(curve),
            };
            for t in &group.tests {
                let sig = if p1363 {
                    Some(t.sig.to_vec())
                } else {
                    der_to_raw(&t.sig, flen)
                };
                let accepted = sig.is_some_and(|sig| {
                    key.verify(&alg, &digest(hash, &t.msg), &sig)
                        .unwrap_or(false)
                });
                tally.record(t.tc_id, t.result, accepted);
            }
        }
        family.add(tally, min_run);
    }
    family.finish();
}

fn rsa_public(p: &dyn CryptoProvider, n: &[u8], e: &[u8]) -> Option<Arc<dyn LoadedKey>> {
    p.load_public(&PublicKey::Rsa {
        n: n.to_vec(),
        e: e.to_vec(),
    })
    .ok()
}

#[test]
fn rsa_pkcs1v15_verify() {
    common::each_provider(rsa_pkcs1v15_verify_on);
}

fn rsa_pkcs1v15_verify_on() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let p = provider();
    let mut family = Family::new("RSASSA-PKCS1-v1_5 verify");
    let sets = [
        TestName::Rsa2048Sha224,
        TestName::Rsa2048Sha256,
        TestName::Rsa2048Sha384,
        TestName::Rsa2048Sha512,
        TestName::Rsa3072Sha256,
        TestName::Rsa3072Sha384,
        TestName::Rsa3072Sha512,
        TestName::Rsa4096Sha256,
        TestName::Rsa4096Sha384,
        TestName::Rsa4096Sha512,
        TestName::Rsa8192Sha256,
        TestName::Rsa8192Sha384,
        TestName::Rsa8192Sha512,
    ];
    for name in sets {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(format!("{name:?}"));
        for group in set.test_groups {
            let Some(hash) = hash_alg(group.hash) else {
                tally.skip(group.tests.len(), "hash not supported");
                continue;
            };
            let Some(key) = rsa_public(&*p, &group.key.n, &group.key.e) else {
                tally.skip(group.tests.len(), "public key refused");
                continue;
            };
            let alg = SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) };
            for t in &group.tests {
                let accepted = key
                    .verify(&alg, &digest(hash, &t.msg), &t.sig)
                    .unwrap_or(false);
                tally.record(t.tc_id, t.result, accepted);
            }
        }
        family.add(tally, 100);
    }
    family.finish();
}

#[test]
fn rsa_pss_verify() {
    common::each_provider(rsa_pss_verify_on);
}

fn rsa_pss_verify_on() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    let p = provider();
    let mut family = Family::new("RSASSA-PSS verify");
    let sets = [
        (TestName::RsaPss2048Sha1Mgf1SaltLen20, 50),
        (TestName::RsaPss2048Sha256Mgf1SaltLen0, 50),
        (TestName::RsaPss2048Sha256Mgf1SaltLen32, 50),
        (TestName::RsaPss2048Sha384Mgf1SaltLen48, 20),
        (TestName::RsaPss3072Sha256Mgf1SaltLen32, 50),
        (TestName::RsaPss4096Sha256Mgf1SaltLen32, 50),
        (TestName::RsaPss4096Sha384Mgf1SaltLen48, 20),
        (TestName::RsaPss4096Sha512Mgf1SaltLen32, 50),
        (TestName::RsaPss4096Sha512Mgf1SaltLen64, 50),
        (TestName::RsaPssmisc, 25),
    ];
    for (name, min_run) in sets {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(format!("{name:?}"));
        for group in set.test_groups {
            let hash = hash_alg(group.hash);
            let mgf1 = group.mgf_hash.and_then(hash_alg);
            let (Some(hash), Some(mgf1), Mgf::Mgf1) = (hash, mgf1, group.mgf) else {
                tally.skip(group.tests.len(), "hash or MGF not supported");
                continue;
            };
            if mgf1 != hash {
                tally.skip(
                    group.tests.len(),
                    "MGF1 hash differs from the message hash (UnsupportedAlgorithm)",
                );
                continue;
            }
            let Some(key) = rsa_public(&*p, &group.key.n, &group.key.e) else {
                tally.skip(group.tests.len(), "public key refused");
                continue;
            };
            let alg = SignAlgorithm::RsaPss {
                hash,
                mgf1,
                salt_len: group.salt_size,
            };
            for t in &group.tests {
                let accepted = key
                    .verify(&alg, &digest(hash, &t.msg), &t.sig)
                    .unwrap_or(false);
                tally.record(t.tc_id, t.result, accepted);
            }
        }
        family.add(tally, min_run);
    }
    family.finish();
}

#[test]
fn rsa_oaep_decrypt() {
    common::each_provider(rsa_oaep_decrypt_on);
}

fn rsa_oaep_decrypt_on() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let p = provider();
    let mut family = Family::new("RSAES-OAEP decrypt");
    let sets = [
        TestName::Rsa2048Sha1Mgf1Sha1,
        TestName::Rsa2048Sha224Mgf1Sha1,
        TestName::Rsa2048Sha224Mgf1Sha224,
        TestName::Rsa2048Sha256Mgf1Sha1,
        TestName::Rsa2048Sha256Mgf1Sha256,
        TestName::Rsa2048Sha384Mgf1Sha1,
        TestName::Rsa2048Sha384Mgf1Sha384,
        TestName::Rsa2048Sha512Mgf1Sha1,
        TestName::Rsa2048Sha512Mgf1Sha512,
        TestName::Rsa3072Sha256Mgf1Sha1,
        TestName::Rsa3072Sha256Mgf1Sha256,
        TestName::Rsa3072Sha512Mgf1Sha1,
        TestName::Rsa3072Sha512Mgf1Sha512,
        TestName::Rsa4096Sha256Mgf1Sha1,
        TestName::Rsa4096Sha256Mgf1Sha256,
        TestName::Rsa4096Sha512Mgf1Sha1,
        TestName::Rsa4096Sha512Mgf1Sha512,
        TestName::RsaMisc,
    ];
    for name in sets {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(format!("{name:?}"));
        for group in set.test_groups {
            let (Some(hash), Some(mgf1), Mgf::Mgf1) =
                (hash_alg(group.hash), hash_alg(group.mgf_hash), group.mgf)
            else {
                tally.skip(group.tests.len(), "hash or MGF not supported");
                continue;
            };
            let k = &group.key;
            let material = KeyMaterial::Rsa(RsaPrivateParts {
                n: k.n.to_vec(),
                e: k.e.to_vec(),
                d: SecretBytes::from_slice(&k.d),
                p: SecretBytes::from_slice(&k.p),
                q: SecretBytes::from_slice(&k.q),
                dp: Some(SecretBytes::from_slice(&k.d1)),
                dq: Some(SecretBytes::from_slice(&k.d2)),
                qi: Some(SecretBytes::from_slice(&k.c)),
            });
            let key = match p.load(&material) {
                Ok(key) => key,
                Err(_) if group.key_size < 1024 => {
                    tally.skip(group.tests.len(), "modulus below 1024 bits");
                    continue;
                }
                Err(e) => panic!("{name:?}: a {}-bit key was refused: {e}", group.key_size),
            };
            for t in &group.tests {
                let alg = CipherAlgorithm::RsaOaep {
                    hash,
                    mgf1,
                    label: t.label.to_vec(),
                };
                let accepted = match key.decrypt(&alg, &t.ct) {
                    Ok(pt) => pt.expose_secret() == &t.pt[..],
                    Err(_) => false,
                };
                tally.record(t.tc_id, t.result, accepted);
            }
        }
        family.add(tally, 25);
    }
    family.finish();
}

fn aes_key(p: &dyn CryptoProvider, key: &[u8]) -> Option<Arc<dyn LoadedKey>> {
    p.load(&KeyMaterial::Aes(SecretBytes::from_slice(key))).ok()
}

#[test]
fn aes_gcm() {
    common::each_provider(aes_gcm_on);
}

fn aes_gcm_on() {
    use wycheproof::aead::{TestName, TestSet};
    let p = provider();
    let mut family = Family::new("AES-GCM");
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut tally = Tally::new("AesGcm");
    for group in set.test_groups {
        if group.nonce_size != 96 {
            tally.skip(group.tests.len(), "IV is not 96 bits");
            continue;
        }
        let tag_len = group.tag_size / 8;
        if !(12..=16).contains(&tag_len) {
            tally.skip(group.tests.len(), "tag is not 12 to 16 bytes");
            continue;
        }
        for t in &group.tests {
            let key = aes_key(&*p, &t.key).expect("AES key");
            let alg = CipherAlgorithm::AesGcm {
                key_bits: None,
                iv: Some(t.nonce.to_vec()),
                aad: t.aad.to_vec(),
                tag_len,
            };
            let sealed_ok = match key.encrypt(&alg, &t.pt) {
                Ok(out) => out.data == t.ct[..] && out.tag.as_deref() == Some(&t.tag[..]),
                Err(_) => false,
            };
            let input = [&t.ct[..], &t.tag[..]].concat();
            let opened_ok = match key.decrypt(&alg, &input) {
                Ok(pt) => pt.expose_secret() == &t.pt[..],
                Err(_) => false,
            };
            // Valid: both directions agree with the vector. Invalid: decryption fails.
            let accepted = match t.result {
                TestResult::Valid => sealed_ok && opened_ok,
                _ => opened_ok,
            };
            tally.record(t.tc_id, t.result, accepted);
        }
    }
    family.add(tally, 190);
    family.finish();
}

fn key_wrap(name: wycheproof::keywrap::TestName, alg: WrapAlgorithm, min_run: usize) -> Tally {
    use wycheproof::keywrap::TestSet;
    let p = provider();
    let set = TestSet::load(name).unwrap();
    let mut tally = Tally::new(format!("{name:?}"));
    for group in set.test_groups {
        for t in &group.tests {
            let Some(key) = aes_key(&*p, &t.key) else {
                tally.skip(1, "KEK size not supported");
                continue;
            };
            let unwrapped_ok = match key.unwrap(&alg, &t.ct) {
                Ok(pt) => pt.expose_secret() == &t.pt[..],
                Err(_) => false,
            };
            let accepted = match t.result {
                TestResult::Valid => {
                    unwrapped_ok && key.wrap(&alg, &t.pt).is_ok_and(|ct| ct == t.ct[..])
                }
                _ => unwrapped_ok,
            };
            tally.record(t.tc_id, t.result, accepted);
        }
    }
    assert!(tally.ran() >= min_run);
    tally
}

#[test]
fn aes_key_wrap() {
    common::each_provider(aes_key_wrap_on);
}

fn aes_key_wrap_on() {
    use wycheproof::keywrap::TestName;
    let mut family = Family::new("AES key wrap");
    family.add(
        key_wrap(
            TestName::AesKeyWrap,
            WrapAlgorithm::AesKw { key_bits: None },
            150,
        ),
        150,
    );
    family.add(
        key_wrap(
            TestName::AesKeyWrapWithPadding,
            WrapAlgorithm::AesKwp { key_bits: None },
            200,
        ),
        200,
    );
    family.finish();
}

#[test]
fn aes_cbc_pkcs5() {
    common::each_provider(aes_cbc_pkcs5_on);
}

fn aes_cbc_pkcs5_on() {
    use wycheproof::cipher::{TestName, TestSet};
    let p = provider();
    let mut family = Family::new("AES-CBC-PAD");
    let set = TestSet::load(TestName::AesCbcPkcs5).unwrap();
    let mut tally = Tally::new("AesCbcPkcs5");
    for group in set.test_groups {
        for t in &group.tests {
            let key = aes_key(&*p, &t.key).expect("AES key");
            let Ok(iv) = <[u8; 16]>::try_from(&t.nonce[..]) else {
                tally.skip(1, "IV is not 16 bytes");
                continue;
            };
            let alg = CipherAlgorithm::AesCbc {
                key_bits: None,
                iv,
                padding: true,
            };
            let opened_ok = key
                .decrypt(&alg, &t.ct)
                .is_ok_and(|pt| pt.expose_secret() == &t.pt[..]);
            let accepted = match t.result {
                TestResult::Valid => {
                    opened_ok && key.encrypt(&alg, &t.pt).is_ok_and(|c| c.data == t.ct[..])
                }
                _ => opened_ok,
            };
            tally.record(t.tc_id, t.result, accepted);
        }
    }
    family.add(tally, 200);
    family.finish();
}

#[test]
fn aes_cmac_and_hmac_sha256() {
    common::each_provider(aes_cmac_and_hmac_sha256_on);
}

fn aes_cmac_and_hmac_sha256_on() {
    use wycheproof::mac::{TestName, TestSet};
    let p = provider();
    let mut family = Family::new("MAC");
    for (name, alg, min_run) in [
        (TestName::AesCmac, SignAlgorithm::Cmac, 250),
        (
            TestName::HmacSha256,
            SignAlgorithm::Hmac {
                hash: HashAlg::Sha256,
            },
            150,
        ),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(format!("{name:?}"));
        for group in set.test_groups {
            let tag_len = group.tag_size / 8;
            for t in &group.tests {
                let Some(key) = aes_key(&*p, &t.key) else {
                    if t.result == TestResult::Invalid {
                        // An invalid key size, refused: the right outcome.
                        tally.record(t.tc_id, t.result, false);
                    } else {
                        tally.skip(1, "key is not 16, 24 or 32 bytes");
                    }
                    continue;
                };
                let accepted = key
                    .sign(&alg, &t.msg)
                    .is_ok_and(|mac| mac.get(..tag_len) == Some(&t.tag[..]));
                if tag_len == key.sign(&alg, b"").map_or(0, |m| m.len()) {
                    // Full-length tags: verify agrees with the comparison.
                    assert_eq!(key.verify(&alg, &t.msg, &t.tag).unwrap(), accepted);
                }
                tally.record(t.tc_id, t.result, accepted);
            }
        }
        family.add(tally, min_run);
    }
    family.finish();
}

#[test]
fn ecdh() {
    common::each_provider(ecdh_on);
}

fn ecdh_on() {
    use wycheproof::ecdh::{EcdhEncoding, TestName, TestSet};
    let p = provider();
    let mut family = Family::new("ECDH");
    let sets = [
        (TestName::EcdhSecp256r1Ecpoint, 200),
        (TestName::EcdhSecp384r1Ecpoint, 200),
        (TestName::EcdhSecp521r1Ecpoint, 200),
        (TestName::EcdhSecp256k1, 200),
    ];
    for (name, min_run) in sets {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally::new(format!("{name:?}"));
        for group in set.test_groups {
            let Some(curve) = curve_of(group.curve) else {
                tally.skip(group.tests.len(), "curve not supported");
                continue;
            };
            for t in &group.tests {
                let Some(d) = pad(&t.private_key, curve.field_len()) else {
                    tally.skip(1, "private key longer than the field");
                    continue;
                };
                let key = p
                    .load(&KeyMaterial::Ec {
                        curve,
                        d: SecretBytes::new(d),
                    })
                    .expect("private key");
                let point = match group.encoding {
                    EcdhEncoding::EcPoint => Some(t.public_key.to_vec()),
                    // SubjectPublicKeyInfo: parse with mhsm's decoder; refusal is a rejection.
                    EcdhEncoding::Asn1 => match PublicKey::from_spki_der(&t.public_key) {
                        Ok(pk @ PublicKey::Ec { curve: c, .. }) if c == curve => {
                            pk.ec_point_uncompressed()
                        }
                        _ => None,
                    },
                };
                let accepted = point.is_some_and(|point| {
                    key.ecdh(&point)
                        .is_ok_and(|shared| shared.expose_secret() == &t.shared_secret[..])
                });
                tally.record(t.tc_id, t.result, accepted);
            }
        }
        family.add(tally, min_run);
    }
    family.finish();
}

#[test]
fn der_helper_is_strict() {
    common::each_provider(der_helper_is_strict_on);
}

fn der_helper_is_strict_on() {
    // SEQUENCE { INTEGER 1, INTEGER 2 }
    assert_eq!(
        der_to_raw(&[0x30, 6, 2, 1, 1, 2, 1, 2], 2),
        Some(vec![0, 1, 0, 2])
    );
    // Non-minimal integer, negative integer, trailing bytes, long-form short length.
    assert_eq!(der_to_raw(&[0x30, 7, 2, 2, 0, 1, 2, 1, 2], 2), None);
    assert_eq!(der_to_raw(&[0x30, 6, 2, 1, 0x81, 2, 1, 2], 2), None);
    assert_eq!(der_to_raw(&[0x30, 6, 2, 1, 1, 2, 1, 2, 0], 2), None);
    assert_eq!(der_to_raw(&[0x30, 0x81, 6, 2, 1, 1, 2, 1, 2], 2), None);
    // 0x00 0x80 is the minimal form of 128.
    assert_eq!(
        der_to_raw(&[0x30, 7, 2, 2, 0, 0x80, 2, 1, 2], 2),
        Some(vec![0, 0x80, 0, 2])
    );
}
