//! libmhsm_pkcs11.so through the `cryptoki` crate: the cryptographic functions. Signatures
//! and MACs, encryption, wrapping and derivation with every mechanism offered; results checked
//! against published vectors and independent implementations (OpenSSL's command line for RSA
//! and P-384, the `p256` crate for P-256); multi-part equal to single-part; the two-call
//! convention through raw calls; every error code of the group.
//!
//! One module instance for the whole process over a fresh data directory holding the pool
//! `crypto`, whose keys the core makes before the module starts (some with PKCS#11 attributes
//! only the security officer could set); other keys are made through PKCS#11 in each test.

mod pkcs11_common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use hsm_core::crypto::{KeyMaterial, KeySpec};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions};
use hsm_core::{Hsm, SecretBytes};
use pkcs11_common::*;
use sha2::Digest as _;

const POOL: &str = "crypto";
const PIN: &str = "user-pin-1";
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// SP 800-38A's AES-128 key and four-block plaintext.
const KAT_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const KAT_PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                         30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

/// The core's name of a PKCS#11 attribute kept with a key (see `attributes::extra_name`):
/// how a test gives a pool key attributes that need the security officer.
fn extra(part: &str, attr: CK_ATTRIBUTE_TYPE) -> String {
    format!("ck.{part}.{attr:x}")
}

fn ops(list: &[KeyOperation]) -> Option<KeyOps> {
    Some(KeyOps::of(list))
}

/// Makes the pool's keys with the core, while the module is not initialized.
fn make_keys(hsm: &Hsm) {
    use KeyOperation::*;
    let pool = hsm.pool(POOL).unwrap();
    pool.set_pin(hsm_core::pin::PinRole::So, b"so-pin-12")
        .unwrap();
    pool.set_pin(hsm_core::pin::PinRole::User, PIN.as_bytes())
        .unwrap();
    let create = |name: &str, spec, options: KeyOptions| {
        pool.create_key(name, spec, &options).unwrap();
    };
    let import = |name: &str, key: &str, options: KeyOptions| {
        let material = KeyMaterial::Aes(SecretBytes::new(hex::decode(key).unwrap()));
        pool.import_key(name, material, &options).unwrap();
    };
    create("rsa", KeySpec::Rsa { bits: 2048 }, KeyOptions::default());
    let ec = KeyOptions {
        ops: ops(&[Sign, Verify, Derive]),
        ..KeyOptions::default()
    };
    let p384 = KeySpec::Ec {
        curve: hsm_core::crypto::Curve::P384,
    };
    create("p384", p384, ec.clone());
    let all_aes = KeyOptions {
        ops: ops(&[Sign, Verify, Encrypt, Decrypt, WrapKey, UnwrapKey]),
        ..KeyOptions::default()
    };
    import("kat-aes", KAT_KEY, all_aes.clone());
    // McGrew & Viega's GCM test case 4 key.
    import(
        "kat-gcm",
        "feffe9928665731c6d6a8f9467308308",
        all_aes.clone(),
    );
    // RFC 3394 4.1: the key-encryption key and the key data.
    import(
        "kat-kek",
        "000102030405060708090a0b0c0d0e0f",
        all_aes.clone(),
    );
    import(
        "kat-keydata",
        "00112233445566778899aabbccddeeff",
        KeyOptions {
            ops: ops(&[Encrypt, Decrypt, Export]),
            exportable: true,
            ..KeyOptions::default()
        },
    );
    // CKA_TRUSTED (SO only) on a wrapping key; CKA_WRAP_WITH_TRUSTED on a key to wrap.
    create(
        "trusted-kek",
        KeySpec::Aes { bits: 256 },
        KeyOptions {
            extra: [(extra("sec", CKA_TRUSTED), vec![CK_TRUE])].into(),
            ..all_aes.clone()
        },
    );
    create(
        "guarded",
        KeySpec::Aes { bits: 128 },
        KeyOptions {
            ops: ops(&[Encrypt, Decrypt, Export]),
            exportable: true,
            extra: [(extra("sec", CKA_WRAP_WITH_TRUSTED), vec![CK_TRUE])].into(),
            ..KeyOptions::default()
        },
    );
    // CKA_ALWAYS_AUTHENTICATE on a signing key.
    create(
        "p256-auth",
        KeySpec::Ec {
            curve: hsm_core::crypto::Curve::P256,
        },
        KeyOptions {
            extra: [(extra("prv", CKA_ALWAYS_AUTHENTICATE), vec![CK_TRUE])].into(),
            ..ec
        },
    );
}

fn ctx() -> &'static Pkcs11 {
    static CTX: OnceLock<Pkcs11> = OnceLock::new();
    CTX.get_or_init(|| {
        create_pools(&[POOL]);
        with_core(make_keys);
        let p = Pkcs11::new(module_path()).unwrap();
        p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        p
    })
}

/// A read-write session on the pool's token, logged in as the user.
fn session() -> Session {
    let p = ctx();
    let slot = p
        .get_all_slots()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label() == POOL)
        .expect("the pool's slot");
    let s = p.open_rw_session(slot).unwrap();
    match s.login(UserType::User, Some(&AuthPin::new(PIN.into()))) {
        Ok(()) => {}
        Err(e) if rv_of(&e) == RvError::UserAlreadyLoggedIn => {}
        // Until login lands the module answers every session as logged in.
        Err(e) if rv_of(&e) == RvError::FunctionNotSupported => {}
        Err(e) => panic!("login: {e}"),
    }
    s
}

fn rv_of(e: &Error) -> RvError {
    match e {
        Error::Pkcs11(rv, _) => *rv,
        other => panic!("not a PKCS#11 error: {other}"),
    }
}

#[track_caller]
fn rv<T: std::fmt::Debug>(r: cryptoki::error::Result<T>) -> RvError {
    rv_of(&r.expect_err("an error"))
}

/// The token key object of `label` and `class`.
fn key(s: &Session, label: &str, class: ObjectClass) -> ObjectHandle {
    let found = s
        .find_objects(&[Attribute::Label(label.into()), Attribute::Class(class)])
        .unwrap();
    assert_eq!(found.len(), 1, "{label} {class:?}");
    found[0]
}

fn bytes(s: &Session, o: ObjectHandle, t: AttributeType) -> Vec<u8> {
    match s.get_attributes(o, &[t]).unwrap().pop() {
        Some(
            Attribute::EcPoint(v)
            | Attribute::Modulus(v)
            | Attribute::Value(v)
            | Attribute::PublicKeyInfo(v),
        ) => v,
        other => panic!("{t:?}: {other:?}"),
    }
}

/// A session EC key pair on P-256 (private, public).
fn ec_pair(s: &Session, extra_private: &[Attribute]) -> (ObjectHandle, ObjectHandle) {
    let mut private = extra_private.to_vec();
    private.push(Attribute::Token(false));
    if !extra_private
        .iter()
        .any(|a| a.attribute_type() == AttributeType::Sign)
    {
        private.push(Attribute::Sign(true));
    }
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(P256.to_vec()),
                Attribute::Verify(true),
            ],
            &private,
        )
        .unwrap();
    (private, public)
}

/// A session AES key.
fn aes(s: &Session, len: u64, attrs: &[Attribute]) -> ObjectHandle {
    let mut template = vec![Attribute::Token(false), Attribute::ValueLen(len.into())];
    template.extend_from_slice(attrs);
    s.generate_key(&Mechanism::AesKeyGen, &template).unwrap()
}

/// A session AES key of known value.
fn aes_value(s: &Session, value: &[u8], attrs: &[Attribute]) -> ObjectHandle {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Value(value.to_vec()),
    ];
    template.extend_from_slice(attrs);
    s.create_object(&template).unwrap()
}

/// A digest function.
type Hash = fn(&[u8]) -> Vec<u8>;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn sha256(m: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(m).to_vec()
}

fn pss(hash: MechanismType, mgf: PkcsMgfType, s_len: u64) -> PkcsPssParams {
    PkcsPssParams {
        hash_alg: hash,
        mgf,
        s_len: s_len.into(),
    }
}

fn oaep_sha256<'a>() -> PkcsOaepParams<'a> {
    PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    )
}

// ---------------------------------------------------------------------------------------------
// Independent checks.

/// Runs `openssl` in `dir`; the test fails when it is missing (the interop suite needs it too).
fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command line (needed to check RSA and P-384 independently)")
}

/// OpenSSL's verdict on a signature over a digest, with `opts` (`-pkeyopt` values).
fn openssl_verifies(spki: &[u8], digest: &[u8], sig: &[u8], opts: &[&str]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.der"), spki).unwrap();
    std::fs::write(dir.path().join("digest"), digest).unwrap();
    std::fs::write(dir.path().join("sig"), sig).unwrap();
    let mut args = vec![
        "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "key.der", "-in", "digest",
        "-sigfile", "sig",
    ];
    for o in opts {
        args.extend(["-pkeyopt", o]);
    }
    openssl(dir.path(), &args).status.success()
}

/// OpenSSL encrypts `message` to an RSA public key with `opts`.
fn openssl_encrypts(spki: &[u8], message: &[u8], opts: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.der"), spki).unwrap();
    std::fs::write(dir.path().join("msg"), message).unwrap();
    let mut args = vec![
        "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", "key.der", "-in", "msg",
        "-out", "ct",
    ];
    for o in opts {
        args.extend(["-pkeyopt", o]);
    }
    let out = openssl(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.path().join("ct")).unwrap()
}

/// A raw `r || s` ECDSA signature as DER (for OpenSSL).
fn ecdsa_der(rs: &[u8]) -> Vec<u8> {
    fn der_len(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            out.extend([0x81, len as u8]);
        }
    }
    let mut body = Vec::new();
    for half in rs.chunks(rs.len() / 2) {
        let start = half.iter().position(|b| *b != 0).unwrap_or(half.len() - 1);
        let mut int = half[start..].to_vec();
        if int[0] & 0x80 != 0 {
            int.insert(0, 0);
        }
        body.push(0x02);
        der_len(&mut body, int.len());
        body.extend(int);
    }
    let mut out = vec![0x30];
    der_len(&mut out, body.len());
    out.extend(body);
    out
}

/// The `p256` crate's verdict on a P-256 signature over a digest.
fn p256_verifies(point_der: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point_der[2..]).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(sig).unwrap();
    key.verify_prehash(digest, &sig).is_ok()
}

/// HMAC (RFC 2104) over a SHA-2 function with its block size.
fn hmac(hash: Hash, block: usize, key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut k = if key.len() > block {
        hash(key)
    } else {
        key.to_vec()
    };
    k.resize(block, 0);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend(hash(&inner));
    hash(&outer)
}

// ---------------------------------------------------------------------------------------------
// Signatures.

#[test]
fn rsa_signatures_verify_with_openssl() {
    let s = session();
    let private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let spki = bytes(&s, public, AttributeType::PublicKeyInfo);
    let message = b"signed by the HSM, checked by OpenSSL";
    let hashes: [(Mechanism, Mechanism, MechanismType, PkcsMgfType, &str, Hash); 4] = [
        (
            Mechanism::Sha1RsaPkcs,
            Mechanism::Sha1RsaPkcsPss(pss(MechanismType::SHA1, PkcsMgfType::MGF1_SHA1, 20)),
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
            "sha1",
            |m| sha1::Sha1::digest(m).to_vec(),
        ),
        (
            Mechanism::Sha256RsaPkcs,
            Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32)),
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            "sha256",
            sha256,
        ),
        (
            Mechanism::Sha384RsaPkcs,
            Mechanism::Sha384RsaPkcsPss(pss(MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 0)),
            MechanismType::SHA384,
            PkcsMgfType::MGF1_SHA384,
            "sha384",
            |m| sha2::Sha384::digest(m).to_vec(),
        ),
        (
            Mechanism::Sha512RsaPkcs,
            Mechanism::Sha512RsaPkcsPss(pss(MechanismType::SHA512, PkcsMgfType::MGF1_SHA512, 64)),
            MechanismType::SHA512,
            PkcsMgfType::MGF1_SHA512,
            "sha512",
            |m| sha2::Sha512::digest(m).to_vec(),
        ),
    ];
    for (pkcs1, pss_mech, hash_mech, mgf, name, hash) in hashes {
        let digest = hash(message);
        let md = format!("digest:{name}");
        let sig = s.sign(&pkcs1, private, message).unwrap();
        assert_eq!(sig.len(), 256);
        assert!(openssl_verifies(&spki, &digest, &sig, &[&md]), "{name}");
        s.verify(&pkcs1, public, message, &sig).unwrap();
        // PKCS#1 v1.5 is deterministic: the raw mechanism over the DigestInfo gives the same.
        let prefix: &[u8] = match name {
            "sha1" => &h("3021300906052b0e03021a05000414"),
            "sha256" => &h("3031300d060960864801650304020105000420"),
            "sha384" => &h("3041300d060960864801650304020205000430"),
            _ => &h("3051300d060960864801650304020305000440"),
        };
        let digest_info = [prefix, &digest].concat();
        assert_eq!(
            s.sign(&Mechanism::RsaPkcs, private, &digest_info).unwrap(),
            sig
        );

        let sig = s.sign(&pss_mech, private, message).unwrap();
        let salt = match &pss_mech {
            Mechanism::Sha1RsaPkcsPss(p)
            | Mechanism::Sha256RsaPkcsPss(p)
            | Mechanism::Sha384RsaPkcsPss(p)
            | Mechanism::Sha512RsaPkcsPss(p) => format!("rsa_pss_saltlen:{}", p.s_len),
            _ => unreachable!(),
        };
        let mgf_md = format!("rsa_mgf1_md:{name}");
        let pss_opts = [md.as_str(), "rsa_padding_mode:pss", &salt, &mgf_md];
        assert!(
            openssl_verifies(&spki, &digest, &sig, &pss_opts),
            "PSS {name}"
        );
        s.verify(&pss_mech, public, message, &sig).unwrap();
        // The raw PSS mechanism signs a digest the caller made.
        let raw = Mechanism::RsaPkcsPss(pss(hash_mech, mgf, 20));
        let sig = s.sign(&raw, private, &digest).unwrap();
        let pss_opts = [
            md.as_str(),
            "rsa_padding_mode:pss",
            "rsa_pss_saltlen:20",
            &mgf_md,
        ];
        assert!(
            openssl_verifies(&spki, &digest, &sig, &pss_opts),
            "raw PSS {name}"
        );
        s.verify(&raw, public, &digest, &sig).unwrap();
    }
    // SHA-224 PSS through the raw call (the cryptoki crate has no variant for it).
    let digest = sha2::Sha224::digest(message).to_vec();
    let sig = s
        .sign(
            &Mechanism::RsaPkcsPss(pss(MechanismType::SHA224, PkcsMgfType::MGF1_SHA224, 28)),
            private,
            &digest,
        )
        .unwrap();
    let opts = [
        "digest:sha224",
        "rsa_padding_mode:pss",
        "rsa_pss_saltlen:28",
        "rsa_mgf1_md:sha224",
    ];
    assert!(openssl_verifies(&spki, &digest, &sig, &opts));
    let sig = s.sign(&Mechanism::Sha224RsaPkcs, private, message).unwrap();
    assert!(openssl_verifies(&spki, &digest, &sig, &["digest:sha224"]));
}

#[test]
fn raw_rsa_is_the_core_of_the_padded_schemes() {
    let s = session();
    let private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let spki = bytes(&s, public, AttributeType::PublicKeyInfo);
    // RSASP1 over the EMSA-PKCS1-v1_5 encoding: a PKCS#1 v1.5 signature, as OpenSSL sees it.
    let digest = sha256(b"raw");
    let digest_info = [&h("3031300d060960864801650304020105000420")[..], &digest].concat();
    let mut em = vec![0x00, 0x01];
    em.resize(256 - digest_info.len() - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&digest_info);
    let sig = s.sign(&Mechanism::RsaX509, private, &em).unwrap();
    assert_eq!(sig.len(), 256);
    assert!(openssl_verifies(&spki, &digest, &sig, &["digest:sha256"]));
    s.verify(&Mechanism::RsaX509, public, &em, &sig).unwrap();
    assert_eq!(
        rv(s.verify(
            &Mechanism::RsaX509,
            public,
            &[&em[..255], &[1]].concat(),
            &sig
        )),
        RvError::SignatureInvalid
    );
    // OpenSSL's unpadded encryption, decrypted raw.
    let mut block = vec![0x42u8; 256];
    block[0] = 0;
    let ct = openssl_encrypts(&spki, &block, &["rsa_padding_mode:none"]);
    assert_eq!(s.decrypt(&Mechanism::RsaX509, private, &ct).unwrap(), block);
    let ct = s.encrypt(&Mechanism::RsaX509, public, &block).unwrap();
    assert_eq!(s.decrypt(&Mechanism::RsaX509, private, &ct).unwrap(), block);
    // Exactly the modulus' length, and below the modulus.
    assert_eq!(
        rv(s.sign(&Mechanism::RsaX509, private, &em[1..])),
        RvError::DataLenRange
    );
    let modulus = bytes(&s, public, AttributeType::Modulus);
    assert_eq!(
        rv(s.sign(&Mechanism::RsaX509, private, &modulus)),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.decrypt(&Mechanism::RsaX509, private, &modulus)),
        RvError::EncryptedDataInvalid
    );
    s.sign_init(&Mechanism::RsaX509, private).unwrap();
    assert_eq!(rv(s.sign_update(&em)), RvError::FunctionNotSupported);
}

#[test]
fn ecdsa_signatures_verify_independently() {
    let s = session();
    let (private, public) = ec_pair(&s, &[]);
    let point = bytes(&s, public, AttributeType::EcPoint);
    let message = b"an ECDSA message";
    let digest = sha256(message);
    for (mechanism, input) in [
        (Mechanism::EcdsaSha256, &message[..]),
        (Mechanism::Ecdsa, &digest[..]),
    ] {
        let sig = s.sign(&mechanism, private, input).unwrap();
        assert_eq!(sig.len(), 64, "raw r || s");
        assert!(p256_verifies(&point, &digest, &sig));
        s.verify(&mechanism, public, input, &sig).unwrap();
    }
    let others: [(Mechanism, Vec<u8>); 4] = [
        (Mechanism::EcdsaSha1, sha1::Sha1::digest(message).to_vec()),
        (
            Mechanism::EcdsaSha224,
            sha2::Sha224::digest(message).to_vec(),
        ),
        (
            Mechanism::EcdsaSha384,
            sha2::Sha384::digest(message).to_vec(),
        ),
        (
            Mechanism::EcdsaSha512,
            sha2::Sha512::digest(message).to_vec(),
        ),
    ];
    for (mechanism, digest) in others {
        let sig = s.sign(&mechanism, private, message).unwrap();
        // The crate truncates a longer digest to the curve's size, as FIPS 186 says.
        assert!(p256_verifies(&point, &digest, &sig), "{mechanism:?}");
        s.verify(&mechanism, public, message, &sig).unwrap();
    }

    // P-384 (a pool key), checked by OpenSSL.
    let private = key(&s, "p384", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "p384", ObjectClass::PUBLIC_KEY);
    let spki = bytes(&s, public, AttributeType::PublicKeyInfo);
    let sig = s.sign(&Mechanism::EcdsaSha384, private, message).unwrap();
    assert_eq!(sig.len(), 96);
    let digest = sha2::Sha384::digest(message).to_vec();
    assert!(openssl_verifies(&spki, &digest, &ecdsa_der(&sig), &[]));
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert!(!openssl_verifies(&spki, &digest, &ecdsa_der(&bad), &[]));
}

#[test]
fn macs_match_known_answers() {
    let s = session();
    let value = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    let k = aes_value(
        &s,
        &value,
        &[Attribute::Sign(true), Attribute::Verify(true)],
    );
    let message = b"what do ya want for nothing?".repeat(9);
    let cases: [(Mechanism, Hash, usize); 3] = [
        (Mechanism::Sha256Hmac, sha256, 64),
        (
            Mechanism::Sha384Hmac,
            |m| sha2::Sha384::digest(m).to_vec(),
            128,
        ),
        (
            Mechanism::Sha512Hmac,
            |m| sha2::Sha512::digest(m).to_vec(),
            128,
        ),
    ];
    for (mechanism, hash, block) in cases {
        let tag = s.sign(&mechanism, k, &message).unwrap();
        assert_eq!(tag, hmac(hash, block, &value, &message), "{mechanism:?}");
        s.verify(&mechanism, k, &message, &tag).unwrap();
    }
    // A generic secret key serves HMAC too.
    let generic = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Sign(true),
            ],
        )
        .unwrap();
    assert_eq!(
        s.sign(&Mechanism::Sha256Hmac, generic, b"m").unwrap().len(),
        32
    );

    // RFC 4493's AES-CMAC examples (the SP 800-38A key and plaintext).
    let k = key(&s, "kat-aes", ObjectClass::SECRET_KEY);
    let plain = h(KAT_PLAIN);
    for (len, want) in [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ] {
        let tag = s.sign(&Mechanism::AesCMac, k, &plain[..len]).unwrap();
        assert_eq!(hex::encode(&tag), want, "CMAC of {len} bytes");
        s.verify(&Mechanism::AesCMac, k, &plain[..len], &tag)
            .unwrap();
    }
}

/// A boolean attribute of an object.
fn flag_of(s: &Session, o: ObjectHandle, t: AttributeType) -> bool {
    match s.get_attributes(o, &[t]).unwrap().pop() {
        Some(
            Attribute::Sign(b)
            | Attribute::Verify(b)
            | Attribute::Encrypt(b)
            | Attribute::Decrypt(b)
            | Attribute::Wrap(b)
            | Attribute::Unwrap(b)
            | Attribute::Derive(b),
        ) => b,
        other => panic!("{t:?}: {other:?}"),
    }
}

/// A generic secret is the core's own key type: `CKM_GENERIC_SECRET_KEY_GEN` makes one of
/// any length from 1 to 512 bytes, it reads back as `CKK_GENERIC_SECRET`, MACs with HMAC and
/// refuses AES mechanisms as a key of the wrong type.
#[test]
fn generic_secrets_mac_and_refuse_aes() {
    let s = session();
    let k = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Label(b"generic-20".to_vec()),
                Attribute::ValueLen(20.into()),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    assert_eq!(
        s.get_attributes(
            k,
            &[
                AttributeType::KeyType,
                AttributeType::ValueLen,
                AttributeType::KeyGenMechanism
            ]
        )
        .unwrap(),
        [
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(20.into()),
            Attribute::KeyGenMechanism(MechanismType::GENERIC_SECRET_KEY_GEN),
        ]
    );
    // The table of defaults: sign and verify, nothing else.
    for (t, on) in [
        (AttributeType::Sign, true),
        (AttributeType::Verify, true),
        (AttributeType::Encrypt, false),
        (AttributeType::Decrypt, false),
        (AttributeType::Wrap, false),
        (AttributeType::Derive, false),
    ] {
        assert_eq!(flag_of(&s, k, t), on, "{t:?}");
    }
    let value = bytes(&s, k, AttributeType::Value);
    assert_eq!(value.len(), 20);
    let message = b"what do ya want for nothing?";
    let tag = s.sign(&Mechanism::Sha256Hmac, k, message).unwrap();
    assert_eq!(tag, hmac(sha256, 64, &value, message));
    s.verify(&Mechanism::Sha256Hmac, k, message, &tag).unwrap();
    // AES mechanisms: the wrong key type, before its usage attributes are looked at.
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::AesCbcPad([0; 16]), k)),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.sign_init(&Mechanism::AesCMac, k)),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrapPad, k, k)),
        RvError::WrappingKeyTypeInconsistent
    );
    // Asking for a usage the type cannot have changes nothing.
    let asked = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(1.into()),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap();
    assert!(!flag_of(&s, asked, AttributeType::Encrypt));
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::AesEcb, asked)),
        RvError::KeyTypeInconsistent
    );
    // Lengths: 1 to 512 bytes.
    for len in [0u64, 513] {
        assert_eq!(
            rv(s.generate_key(
                &Mechanism::GenericSecretKeyGen,
                &[Attribute::Token(false), Attribute::ValueLen(len.into())],
            )),
            RvError::KeySizeRange,
            "{len} bytes"
        );
    }
    let long = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[Attribute::Token(false), Attribute::ValueLen(512.into())],
        )
        .unwrap();
    assert_eq!(
        s.sign(&Mechanism::Sha512Hmac, long, b"m").unwrap().len(),
        64
    );
    // An imported generic secret of 5 bytes MACs as HMAC says.
    let jefe = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(true),
            Attribute::Label(b"generic-5".to_vec()),
            Attribute::Value(b"Jefe!".to_vec()),
        ])
        .unwrap();
    assert_eq!(
        s.get_attributes(jefe, &[AttributeType::KeyType]).unwrap(),
        [Attribute::KeyType(KeyType::GENERIC_SECRET)]
    );
    assert_eq!(
        s.sign(&Mechanism::Sha256Hmac, jefe, message).unwrap(),
        hmac(sha256, 64, b"Jefe!", message)
    );
    // An AES key is still an AES key, and HMAC takes it when asked to sign.
    let aes_mac = aes(&s, 16, &[Attribute::Sign(true)]);
    assert_eq!(
        s.get_attributes(aes_mac, &[AttributeType::KeyType])
            .unwrap(),
        [Attribute::KeyType(KeyType::AES)]
    );
    assert_eq!(
        s.sign(&Mechanism::Sha256Hmac, aes_mac, b"m").unwrap().len(),
        32
    );
}

/// Usage attributes a template leaves out follow the core's one table of defaults (as
/// SoftHSMv2 does, `CKA_DERIVE` is false unless asked for).
#[test]
fn default_usages_follow_the_core_table() {
    let s = session();
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::Token(false), Attribute::EcParams(P256.to_vec())],
            &[Attribute::Token(false)],
        )
        .unwrap();
    assert!(flag_of(&s, private, AttributeType::Sign));
    assert!(flag_of(&s, public, AttributeType::Verify));
    assert!(!flag_of(&s, private, AttributeType::Derive));
    let (derives, _) = ec_pair(&s, &[Attribute::Derive(true)]);
    assert!(flag_of(&s, derives, AttributeType::Derive));
    // A token pair too (a pool key: the core keeps the operations).
    let (_, token_private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(P256.to_vec()),
                Attribute::Label(b"ec-defaults".to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Label(b"ec-defaults".to_vec()),
            ],
        )
        .unwrap();
    assert!(flag_of(&s, token_private, AttributeType::Sign));
    assert!(!flag_of(&s, token_private, AttributeType::Derive));
    // AES: encrypt, decrypt, wrap and unwrap; no MAC unless asked.
    let k = aes(&s, 32, &[]);
    for (t, on) in [
        (AttributeType::Encrypt, true),
        (AttributeType::Decrypt, true),
        (AttributeType::Wrap, true),
        (AttributeType::Unwrap, true),
        (AttributeType::Sign, false),
        (AttributeType::Verify, false),
        (AttributeType::Derive, false),
    ] {
        assert_eq!(flag_of(&s, k, t), on, "{t:?}");
    }
    assert_eq!(
        rv(s.sign_init(&Mechanism::Sha256Hmac, k)),
        RvError::KeyFunctionNotPermitted
    );
}

#[test]
fn multi_part_signatures_equal_single_part() {
    let s = session();
    let rsa = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let mac_key = aes(&s, 32, &[Attribute::Sign(true), Attribute::Verify(true)]);
    let cmac_key = key(&s, "kat-aes", ObjectClass::SECRET_KEY);
    let message: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let parts = [
        &message[..1],
        &message[1..4096],
        &message[4096..4096],
        &message[4096..],
    ];
    let multi = |mechanism: &Mechanism, key| {
        s.sign_init(mechanism, key).unwrap();
        for p in parts {
            s.sign_update(p).unwrap();
        }
        s.sign_final().unwrap()
    };
    // Deterministic schemes: the same bytes either way.
    for (mechanism, k) in [
        (Mechanism::Sha256RsaPkcs, rsa),
        (Mechanism::Sha512RsaPkcs, rsa),
        (Mechanism::Sha256Hmac, mac_key),
        (Mechanism::Sha512Hmac, mac_key),
        (Mechanism::AesCMac, cmac_key),
    ] {
        let single = s.sign(&mechanism, k, &message).unwrap();
        assert_eq!(multi(&mechanism, k), single, "{mechanism:?}");
        // Multi-part verification of the single-part signature.
        let verify_key = if k == rsa { rsa_public } else { k };
        s.verify_init(&mechanism, verify_key).unwrap();
        for p in parts {
            s.verify_update(p).unwrap();
        }
        s.verify_final(&single).unwrap();
    }
    // Randomized schemes: both verify.
    let (ec, ec_public) = ec_pair(&s, &[]);
    let point = bytes(&s, ec_public, AttributeType::EcPoint);
    let sig = multi(&Mechanism::EcdsaSha256, ec);
    assert!(p256_verifies(&point, &sha256(&message), &sig));
    s.verify(&Mechanism::EcdsaSha256, ec_public, &message, &sig)
        .unwrap();
    let pss_mech =
        Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32));
    let sig = multi(&pss_mech, rsa);
    s.verify(&pss_mech, rsa_public, &message, &sig).unwrap();
    // A multi-part verification of a wrong signature fails at the end.
    s.verify_init(&Mechanism::Sha256Hmac, mac_key).unwrap();
    s.verify_update(&message).unwrap();
    assert_eq!(rv(s.verify_final(&[0u8; 32])), RvError::SignatureInvalid);
}

// ---------------------------------------------------------------------------------------------
// Encryption.

#[test]
fn aes_modes_match_sp800_38a_and_gcm_vectors() {
    let s = session();
    let k = key(&s, "kat-aes", ObjectClass::SECRET_KEY);
    let plain = h(KAT_PLAIN);
    let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
    let ecb = "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf\
               43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4";
    let cbc = "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2\
               73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7";
    // CBC with PKCS#7 padding: one more block (OpenSSL's `enc -aes-128-cbc`).
    let cbc_pad = format!("{cbc}8cb82807230e1321d3fae00d18cc2012");
    for (mechanism, want) in [
        (Mechanism::AesEcb, ecb.to_string()),
        (Mechanism::AesCbc(iv), cbc.to_string()),
        (Mechanism::AesCbcPad(iv), cbc_pad),
    ] {
        let ct = s.encrypt(&mechanism, k, &plain).unwrap();
        assert_eq!(hex::encode(&ct), want, "{mechanism:?}");
        assert_eq!(s.decrypt(&mechanism, k, &ct).unwrap(), plain);
    }
    // CTR (raw calls: the cryptoki crate has no CTR mechanism), 128-bit counter.
    let ctr = CK_AES_CTR_PARAMS {
        ulCounterBits: 128,
        cb: h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").try_into().unwrap(),
    };
    let mut m = raw_mechanism(CKM_AES_CTR, &ctr);
    let ct = raw_encrypt(&s, &mut m, k, &plain).unwrap();
    assert_eq!(
        hex::encode(&ct),
        "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
         5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
    );
    assert_eq!(raw_decrypt(&s, &mut m, k, &ct).unwrap(), plain);

    // GCM: McGrew & Viega test case 4 (60 bytes, 20 bytes of AAD).
    let k = key(&s, "kat-gcm", ObjectClass::SECRET_KEY);
    let p = h(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
               1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let mut nonce = h("cafebabefacedbaddecaf888");
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut nonce, &aad, 128.into()).unwrap());
    let ct = s.encrypt(&gcm, k, &p).unwrap();
    assert_eq!(
        hex::encode(&ct),
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
         21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091\
         5bc94fbc3221a5db94fae95ae7121a47"
    );
    assert_eq!(s.decrypt(&gcm, k, &ct).unwrap(), p);
    // A 96-bit tag is the 128-bit one cut short.
    let mut nonce = h("cafebabefacedbaddecaf888");
    let gcm96 = Mechanism::AesGcm(GcmParams::new(&mut nonce, &aad, 96.into()).unwrap());
    let short = s.encrypt(&gcm96, k, &p).unwrap();
    assert_eq!(short[..], ct[..ct.len() - 4]);
    // Any change to ciphertext, tag or AAD is refused.
    for i in [0, 59, 60, 75] {
        let mut bad = ct.clone();
        bad[i] ^= 1;
        assert_eq!(rv(s.decrypt(&gcm, k, &bad)), RvError::EncryptedDataInvalid);
    }
    let mut nonce = h("cafebabefacedbaddecaf888");
    let other_aad = Mechanism::AesGcm(GcmParams::new(&mut nonce, &aad[1..], 128.into()).unwrap());
    assert_eq!(
        rv(s.decrypt(&other_aad, k, &ct)),
        RvError::EncryptedDataInvalid
    );
    // In place: one buffer as the input and the output (PKCS#11 allows it), and a buffer
    // beside the input, give the same ciphertext.
    let nonce = h("cafebabefacedbaddecaf888");
    let params = CK_GCM_PARAMS {
        pIv: nonce.as_ptr() as *mut u8,
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: aad.as_ptr() as *mut u8,
        ulAADLen: aad.len() as CK_ULONG,
        ulTagBits: 128,
    };
    let mut m = raw_mechanism(CKM_AES_GCM, &params);
    let mut buf = p.clone();
    buf.resize(p.len() + 16, 0);
    assert_eq!(raw_encrypt_init(&s, &mut m, k), CKR_OK);
    let mut len = buf.len() as CK_ULONG;
    // SAFETY: `buf` holds the input's `p.len()` bytes and room for `len` output bytes.
    let code = unsafe {
        raw().C_Encrypt(
            s.handle(),
            buf.as_mut_ptr(),
            p.len() as CK_ULONG,
            buf.as_mut_ptr(),
            &mut len,
        )
    };
    assert_eq!((code, len as usize), (CKR_OK, ct.len()));
    assert_eq!(buf, ct);
    assert_eq!(raw_encrypt(&s, &mut m, k, &p).unwrap(), ct);
}

#[test]
fn multi_part_encryption_equals_single_part() {
    let s = session();
    let k = aes(
        &s,
        32,
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let iv = [9u8; 16];
    let mut nonce = [3u8; 12];
    let aad = b"header";
    let mechanisms = [
        (Mechanism::AesEcb, 992),
        (Mechanism::AesCbc(iv), 992),
        (Mechanism::AesCbcPad(iv), 1000),
        (
            Mechanism::AesGcm(GcmParams::new(&mut nonce, aad, 128.into()).unwrap()),
            1000,
        ),
    ];
    for (mechanism, len) in mechanisms {
        let data = &data[..len];
        let single = s.encrypt(&mechanism, k, data).unwrap();
        s.encrypt_init(&mechanism, k).unwrap();
        let mut multi = Vec::new();
        for chunk in data.chunks(100) {
            multi.extend(s.encrypt_update(chunk).unwrap());
        }
        multi.extend(s.encrypt_final().unwrap());
        assert_eq!(multi, single, "{mechanism:?}");

        s.decrypt_init(&mechanism, k).unwrap();
        let mut back = Vec::new();
        for chunk in single.chunks(77) {
            back.extend(s.decrypt_update(chunk).unwrap());
        }
        back.extend(s.decrypt_final().unwrap());
        assert_eq!(back, data, "{mechanism:?}");
    }
}

#[test]
fn rsa_encryption_round_trips_with_openssl() {
    let s = session();
    let private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let spki = bytes(&s, public, AttributeType::PublicKeyInfo);
    let message = b"a secret for the HSM only";
    // OAEP with SHA-256 (what pkcs11-tool --test uses), SHA-1, and a label.
    let label = b"my label";
    let cases: [(PkcsOaepParams, Vec<&str>); 3] = [
        (
            oaep_sha256(),
            vec![
                "rsa_padding_mode:oaep",
                "rsa_oaep_md:sha256",
                "rsa_mgf1_md:sha256",
            ],
        ),
        (
            PkcsOaepParams::new(
                MechanismType::SHA1,
                PkcsMgfType::MGF1_SHA1,
                PkcsOaepSource::empty(),
            ),
            vec!["rsa_padding_mode:oaep"],
        ),
        (
            PkcsOaepParams::new(
                MechanismType::SHA384,
                PkcsMgfType::MGF1_SHA1,
                PkcsOaepSource::data_specified(label),
            ),
            vec![
                "rsa_padding_mode:oaep",
                "rsa_oaep_md:sha384",
                "rsa_mgf1_md:sha1",
                "rsa_oaep_label:6d79206c6162656c",
            ],
        ),
    ];
    for (params, opts) in cases {
        let mechanism = Mechanism::RsaPkcsOaep(params);
        let ct = openssl_encrypts(&spki, message, &opts);
        assert_eq!(s.decrypt(&mechanism, private, &ct).unwrap(), message);
        let ct = s.encrypt(&mechanism, public, message).unwrap();
        assert_eq!(ct.len(), 256);
        assert_eq!(s.decrypt(&mechanism, private, &ct).unwrap(), message);
    }
    let ct = openssl_encrypts(&spki, message, &[]);
    assert_eq!(
        s.decrypt(&Mechanism::RsaPkcs, private, &ct).unwrap(),
        message
    );
    let ct = s.encrypt(&Mechanism::RsaPkcs, public, message).unwrap();
    assert_eq!(
        s.decrypt(&Mechanism::RsaPkcs, private, &ct).unwrap(),
        message
    );
}

// ---------------------------------------------------------------------------------------------
// Wrapping and derivation.

#[test]
fn wrapping_matches_rfc_3394_and_round_trips() {
    let s = session();
    let kek = key(&s, "kat-kek", ObjectClass::SECRET_KEY);
    let data_key = key(&s, "kat-keydata", ObjectClass::SECRET_KEY);
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, kek, data_key).unwrap();
    assert_eq!(
        hex::encode(&wrapped),
        "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"
    );
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
    ];
    let unwrapped = s
        .unwrap_key(&Mechanism::AesKeyWrap, kek, &wrapped, &template)
        .unwrap();
    let block = [0x42u8; 16];
    assert_eq!(
        s.encrypt(&Mechanism::AesEcb, unwrapped, &block).unwrap(),
        s.encrypt(&Mechanism::AesEcb, data_key, &block).unwrap(),
        "the same key"
    );
    assert_eq!(
        s.get_attributes(unwrapped, &[AttributeType::Local])
            .unwrap(),
        [Attribute::Local(false)]
    );

    // RFC 5649 (under both names) and RSA-OAEP, of session keys.
    let wrapping = aes(&s, 32, &[Attribute::Wrap(true), Attribute::Unwrap(true)]);
    let target = aes(
        &s,
        24,
        &[
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ],
    );
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let rsa_private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let reference = s.encrypt(&Mechanism::AesEcb, target, &block).unwrap();
    let wrappers: [(Mechanism, ObjectHandle, ObjectHandle, usize); 2] = [
        (Mechanism::AesKeyWrapPad, wrapping, wrapping, 32),
        (
            Mechanism::RsaPkcsOaep(oaep_sha256()),
            rsa_public,
            rsa_private,
            256,
        ),
    ];
    for (mechanism, wrap_with, unwrap_with, len) in wrappers {
        let wrapped = s.wrap_key(&mechanism, wrap_with, target).unwrap();
        assert_eq!(wrapped.len(), len, "{mechanism:?}");
        let back = s
            .unwrap_key(&mechanism, unwrap_with, &wrapped, &template)
            .unwrap();
        assert_eq!(
            s.encrypt(&Mechanism::AesEcb, back, &block).unwrap(),
            reference,
            "{mechanism:?}"
        );
    }
    // CKM_AES_KEY_WRAP_KWP (the 3.0 name) wraps alike, through a raw call.
    let mut m = raw_mechanism::<()>(CKM_AES_KEY_WRAP_KWP, &());
    m.pParameter = std::ptr::null_mut();
    m.ulParameterLen = 0;
    let kwp = raw_wrap(&s, &mut m, wrapping, target).unwrap();
    assert_eq!(
        kwp,
        s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, target)
            .unwrap()
    );

    // A private key leaves as PKCS#8 and comes back able to sign for its public key.
    let (ec, ec_public) = ec_pair(&s, &[Attribute::Extractable(true)]);
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, ec).unwrap();
    let back = s
        .unwrap_key(
            &Mechanism::AesKeyWrapPad,
            wrapping,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Token(false),
                Attribute::Sign(true),
            ],
        )
        .unwrap();
    let sig = s.sign(&Mechanism::EcdsaSha256, back, b"m").unwrap();
    s.verify(&Mechanism::EcdsaSha256, ec_public, b"m", &sig)
        .unwrap();
}

#[test]
fn ecdh_derives_the_shared_secret() {
    let s = session();
    let (private, public) = ec_pair(&s, &[Attribute::Derive(true)]);
    let our_point = bytes(&s, public, AttributeType::EcPoint);
    let peer = p256::SecretKey::from_slice(&[0x11; 32]).unwrap();
    let peer_point = peer.public_key().to_sec1_bytes().to_vec();
    let ours = p256::PublicKey::from_sec1_bytes(&our_point[2..]).unwrap();
    let shared = p256::ecdh::diffie_hellman(peer.to_nonzero_scalar(), ours.as_affine());
    let shared = shared.raw_secret_bytes().to_vec();

    let readable = |len: Option<u64>, key_type: KeyType| {
        let mut t = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
        ];
        if let Some(len) = len {
            t.push(Attribute::ValueLen(len.into()));
        }
        t
    };
    // The peer's point raw, and as a DER OCTET STRING.
    let der_point = [&[0x04, 65][..], &peer_point].concat();
    for point in [&peer_point, &der_point] {
        let params = Ecdh1DeriveParams::new(EcKdf::null(), point);
        let derived = s
            .derive_key(
                &Mechanism::Ecdh1Derive(params),
                private,
                &readable(None, KeyType::AES),
            )
            .unwrap();
        assert_eq!(bytes(&s, derived, AttributeType::Value), shared);
    }
    // CKA_VALUE_LEN takes the leftmost bytes; a generic secret by default.
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    let derived = s
        .derive_key(
            &Mechanism::Ecdh1Derive(params),
            private,
            &readable(Some(16), KeyType::AES),
        )
        .unwrap();
    assert_eq!(bytes(&s, derived, AttributeType::Value), shared[..16]);
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    let derived = s
        .derive_key(
            &Mechanism::Ecdh1Derive(params),
            private,
            &[Attribute::Token(false), Attribute::Sign(true)],
        )
        .unwrap();
    assert_eq!(
        s.get_attributes(derived, &[AttributeType::KeyType])
            .unwrap(),
        [Attribute::KeyType(KeyType::GENERIC_SECRET)]
    );

    // Refusals.
    let params = Ecdh1DeriveParams::new(EcKdf::sha256(b""), &peer_point);
    assert_eq!(
        rv(s.derive_key(&Mechanism::Ecdh1Derive(params), private, &[])),
        RvError::MechanismParamInvalid,
        "only CKD_NULL"
    );
    let mut off_curve = peer_point.clone();
    off_curve[40] ^= 1;
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &off_curve);
    assert_eq!(
        rv(s.derive_key(&Mechanism::Ecdh1Derive(params), private, &[])),
        RvError::MechanismParamInvalid
    );
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    assert_eq!(
        rv(s.derive_key(
            &Mechanism::Ecdh1Derive(params),
            private,
            &readable(Some(33), KeyType::AES)
        )),
        RvError::KeySizeRange
    );
    let (no_derive, _) = ec_pair(&s, &[Attribute::Derive(false)]);
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    assert_eq!(
        rv(s.derive_key(&Mechanism::Ecdh1Derive(params), no_derive, &[])),
        RvError::KeyFunctionNotPermitted
    );
    let rsa = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &peer_point);
    assert_eq!(
        rv(s.derive_key(&Mechanism::Ecdh1Derive(params), rsa, &[])),
        RvError::KeyTypeInconsistent,
        "an RSA key cannot do ECDH (the type is checked before the usage attribute)"
    );
}

#[test]
fn what_may_not_leave_does_not_leave() {
    let s = session();
    let wrapping = aes(&s, 32, &[Attribute::Wrap(true), Attribute::Unwrap(true)]);
    // Not extractable (the default), and sensitive: neither wrapped nor read.
    let locked = aes(&s, 16, &[Attribute::Encrypt(true)]);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, locked)),
        RvError::KeyUnextractable
    );
    let mut value = CK_ATTRIBUTE {
        type_: CKA_VALUE,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    };
    // SAFETY: one attribute, asking for its length.
    let code = unsafe { raw().C_GetAttributeValue(s.handle(), locked.handle(), &mut value, 1) };
    assert_eq!(code, CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(value.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    let (ec, ec_public) = ec_pair(&s, &[]);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, ec)),
        RvError::KeyUnextractable
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, ec_public)),
        RvError::KeyNotWrappable
    );
    // CKA_WRAP_WITH_TRUSTED: only a CKA_TRUSTED wrapping key may wrap it.
    let guarded = key(&s, "guarded", ObjectClass::SECRET_KEY);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, guarded)),
        RvError::KeyNotWrappable
    );
    let trusted = key(&s, "trusted-kek", ObjectClass::SECRET_KEY);
    let wrapped = s
        .wrap_key(&Mechanism::AesKeyWrap, trusted, guarded)
        .unwrap();
    assert_eq!(wrapped.len(), 24);
    // A wrapping key without CKA_WRAP.
    let no_wrap = aes(&s, 32, &[Attribute::Wrap(false), Attribute::Encrypt(true)]);
    let extractable = aes(&s, 16, &[Attribute::Extractable(true)]);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, no_wrap, extractable)),
        RvError::KeyFunctionNotPermitted
    );
    s.wrap_key(&Mechanism::AesKeyWrap, wrapping, extractable)
        .unwrap();
}

#[test]
fn wrapping_errors() {
    let s = session();
    let wrapping = aes(&s, 32, &[Attribute::Wrap(true), Attribute::Unwrap(true)]);
    let target = aes(&s, 16, &[Attribute::Extractable(true)]);
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let rsa_private = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
    ];
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, rsa_public, target)),
        RvError::WrappingKeyTypeInconsistent
    );
    assert_eq!(
        rv(s.wrap_key(
            &Mechanism::AesKeyWrap,
            unsafe { ObjectHandle::new_from_raw(0xdead) },
            target
        )),
        RvError::WrappingKeyHandleInvalid
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, unsafe {
            ObjectHandle::new_from_raw(0xdead)
        })),
        RvError::KeyHandleInvalid
    );
    // An EC private key's PKCS#8 is not a multiple of 8 bytes: RFC 3394 cannot take it.
    let (ec, _) = ec_pair(&s, &[Attribute::Extractable(true)]);
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, wrapping, ec)),
        RvError::KeySizeRange
    );
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesEcb, wrapping, target)),
        RvError::MechanismInvalid
    );

    let wrapped = s
        .wrap_key(&Mechanism::AesKeyWrap, wrapping, target)
        .unwrap();
    let mut tampered = wrapped.clone();
    tampered[3] ^= 1;
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, wrapping, &tampered, &template)),
        RvError::WrappedKeyInvalid
    );
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, wrapping, &wrapped[..20], &template)),
        RvError::WrappedKeyLenRange
    );
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, wrapping, &wrapped, &template[1..])),
        RvError::TemplateIncomplete
    );
    assert_eq!(
        rv(s.unwrap_key(
            &Mechanism::AesKeyWrap,
            wrapping,
            &wrapped,
            &[&template[..], &[Attribute::ValueLen(32.into())]].concat()
        )),
        RvError::TemplateInconsistent
    );
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, rsa_private, &wrapped, &template)),
        RvError::UnwrappingKeyTypeInconsistent
    );
    assert_eq!(
        rv(s.unwrap_key(
            &Mechanism::AesKeyWrap,
            unsafe { ObjectHandle::new_from_raw(0xdead) },
            &wrapped,
            &template
        )),
        RvError::UnwrappingKeyHandleInvalid
    );
    let no_unwrap = aes(&s, 32, &[Attribute::Unwrap(false), Attribute::Wrap(true)]);
    assert_eq!(
        rv(s.unwrap_key(&Mechanism::AesKeyWrap, no_unwrap, &wrapped, &template)),
        RvError::KeyFunctionNotPermitted
    );
    // A wrapped AES key is no PKCS#8.
    assert_eq!(
        rv(s.unwrap_key(
            &Mechanism::AesKeyWrap,
            wrapping,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
                Attribute::Token(false),
            ]
        )),
        RvError::WrappedKeyInvalid
    );
    // A non-default RFC 3394 IV.
    let mut m = raw_mechanism(CKM_AES_KEY_WRAP, &[1u8; 8]);
    assert_eq!(
        raw_wrap(&s, &mut m, wrapping, target),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
}

// ---------------------------------------------------------------------------------------------
// Errors of the sign and cipher functions.

#[test]
fn initialization_errors() {
    let s = session();
    let (ec, ec_public) = ec_pair(&s, &[]);
    let rsa = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let secret = aes(
        &s,
        32,
        &[
            Attribute::Encrypt(true),
            Attribute::Sign(false),
            Attribute::Decrypt(false),
        ],
    );
    let generic = s
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap();
    let k = InitKeys {
        ec,
        ec_public,
        rsa,
        rsa_public,
        secret,
        generic,
    };
    wrong_key_types_at_init(&s, &k);
    usage_flags_at_init(&s, &k);
    bad_mechanisms_at_init(&s, &k);
    bad_raw_mechanisms_at_init(&s, &k);
    one_operation_of_a_kind(&s, ec);
}

/// The keys [`initialization_errors`] tries.
#[derive(Clone, Copy)]
struct InitKeys {
    ec: ObjectHandle,
    ec_public: ObjectHandle,
    rsa: ObjectHandle,
    rsa_public: ObjectHandle,
    /// AES, encrypt only.
    secret: ObjectHandle,
    /// A generic secret, encrypt only.
    generic: ObjectHandle,
}

/// Wrong key type for the mechanism.
fn wrong_key_types_at_init(s: &Session, k: &InitKeys) {
    let InitKeys {
        ec,
        rsa,
        rsa_public,
        secret,
        generic,
        ..
    } = *k;
    for (mechanism, k) in [
        (Mechanism::Ecdsa, rsa),
        (Mechanism::Sha256RsaPkcs, ec),
        (Mechanism::Sha256Hmac, ec),
        (Mechanism::AesCMac, generic),
    ] {
        assert_eq!(
            rv(s.sign_init(&mechanism, k)),
            RvError::KeyTypeInconsistent,
            "{mechanism:?}"
        );
    }
    for (mechanism, k) in [
        (Mechanism::AesEcb, rsa_public),
        (Mechanism::RsaPkcs, secret),
        (Mechanism::AesCbc([0; 16]), generic),
    ] {
        assert_eq!(
            rv(s.encrypt_init(&mechanism, k)),
            RvError::KeyTypeInconsistent,
            "{mechanism:?}"
        );
    }
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::RsaPkcs, secret)),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.verify_init(&Mechanism::EcdsaSha256, rsa_public)),
        RvError::KeyTypeInconsistent
    );
}

/// Usage flags.
fn usage_flags_at_init(s: &Session, k: &InitKeys) {
    let InitKeys {
        ec_public,
        rsa,
        secret,
        ..
    } = *k;
    assert_eq!(
        rv(s.sign_init(&Mechanism::Sha256Hmac, secret)),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(
        rv(s.decrypt_init(&Mechanism::AesEcb, secret)),
        RvError::KeyFunctionNotPermitted
    );
    assert_eq!(
        rv(s.sign_init(&Mechanism::Ecdsa, ec_public)),
        RvError::KeyFunctionNotPermitted,
        "a public key does not sign"
    );
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::RsaPkcs, rsa)),
        RvError::KeyFunctionNotPermitted,
        "a private key does not encrypt"
    );
    let (no_sign, _) = ec_pair(s, &[Attribute::Sign(false)]);
    assert_eq!(
        rv(s.sign_init(&Mechanism::Ecdsa, no_sign)),
        RvError::KeyFunctionNotPermitted
    );
}

/// Mechanisms and their parameters.
fn bad_mechanisms_at_init(s: &Session, k: &InitKeys) {
    let InitKeys { rsa, secret, .. } = *k;
    assert_eq!(
        rv(s.sign_init(&Mechanism::AesEcb, secret)),
        RvError::MechanismInvalid
    );
    assert_eq!(
        rv(s.encrypt_init(&Mechanism::Sha256, secret)),
        RvError::MechanismInvalid
    );
    let bad_pss = [
        // The hash of a hashing mechanism must be its parameters'.
        Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 32)),
        // MGF1 must use the message hash.
        Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA1, 32)),
        // A salt that cannot fit a 2048-bit key.
        Mechanism::RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 300)),
    ];
    for mechanism in bad_pss {
        assert_eq!(
            rv(s.sign_init(&mechanism, rsa)),
            RvError::MechanismParamInvalid,
            "{mechanism:?}"
        );
    }
    let mut nonce = [0u8; 12];
    let tag_bits_odd = Mechanism::AesGcm(GcmParams::new(&mut nonce, &[], 100.into()).unwrap());
    assert_eq!(
        rv(s.encrypt_init(&tag_bits_odd, secret)),
        RvError::MechanismParamInvalid
    );
    let mut nonce = [0u8; 12];
    let tag_too_short = Mechanism::AesGcm(GcmParams::new(&mut nonce, &[], 64.into()).unwrap());
    assert_eq!(
        rv(s.encrypt_init(&tag_too_short, secret)),
        RvError::MechanismParamInvalid
    );
    let mut long_nonce = [0u8; 16];
    let other_iv = Mechanism::AesGcm(GcmParams::new(&mut long_nonce, &[], 128.into()).unwrap());
    assert_eq!(
        rv(s.encrypt_init(&other_iv, secret)),
        RvError::MechanismParamInvalid
    );
}

/// Raw: a CBC IV of 8 bytes, CTR parameters of a wrong size, a NULL mechanism, an OAEP MGF
/// that does not exist, a counter width the core does not take.
fn bad_raw_mechanisms_at_init(s: &Session, k: &InitKeys) {
    let InitKeys {
        ec,
        rsa_public,
        secret,
        ..
    } = *k;
    let mut m = raw_mechanism(CKM_AES_CBC, &[0u8; 8]);
    assert_eq!(
        raw_encrypt_init(s, &mut m, secret),
        CKR_MECHANISM_PARAM_INVALID
    );
    let mut m = raw_mechanism(CKM_AES_CTR, &[0u8; 16]);
    assert_eq!(
        raw_encrypt_init(s, &mut m, secret),
        CKR_MECHANISM_PARAM_INVALID
    );
    let ctr = CK_AES_CTR_PARAMS {
        ulCounterBits: 20,
        cb: [0; 16],
    };
    let mut m = raw_mechanism(CKM_AES_CTR, &ctr);
    assert_eq!(
        raw_encrypt_init(s, &mut m, secret),
        CKR_MECHANISM_PARAM_INVALID
    );
    let oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: 0x77,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: std::ptr::null_mut(),
        ulSourceDataLen: 0,
    };
    let mut m = raw_mechanism(CKM_RSA_PKCS_OAEP, &oaep);
    assert_eq!(
        raw_encrypt_init(s, &mut m, rsa_public),
        CKR_MECHANISM_PARAM_INVALID
    );
    // SAFETY: a NULL mechanism is what is being tested.
    let rv_null = unsafe { raw().C_SignInit(s.handle(), std::ptr::null_mut(), ec.handle()) };
    assert_eq!(rv_null, CKR_ARGUMENTS_BAD);
    assert_eq!(
        rv(s.sign_init(&Mechanism::Ecdsa, unsafe {
            ObjectHandle::new_from_raw(0xdead)
        })),
        RvError::KeyHandleInvalid
    );
}

/// One operation of a kind at a time; the first goes on.
fn one_operation_of_a_kind(s: &Session, ec: ObjectHandle) {
    s.sign_init(&Mechanism::EcdsaSha256, ec).unwrap();
    assert_eq!(
        rv(s.sign_init(&Mechanism::EcdsaSha256, ec)),
        RvError::OperationActive
    );
    s.sign_update(b"still running").unwrap();
    s.sign_final().unwrap();
    assert_eq!(rv(s.sign_final()), RvError::OperationNotInitialized);
    assert_eq!(rv(s.sign_update(b"x")), RvError::OperationNotInitialized);
    assert_eq!(
        rv(s.verify_final(&[0; 64])),
        RvError::OperationNotInitialized
    );
    assert_eq!(rv(s.encrypt_final()), RvError::OperationNotInitialized);
    assert_eq!(rv(s.decrypt_update(b"x")), RvError::OperationNotInitialized);
}

#[test]
fn operation_errors() {
    let s = session();
    let (ec, ec_public) = ec_pair(&s, &[]);
    let rsa = key(&s, "rsa", ObjectClass::PRIVATE_KEY);
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    let k = aes(
        &s,
        16,
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    signing_errors(&s, (ec, ec_public), (rsa, rsa_public));
    length_and_ciphertext_errors(&s, ec, (rsa, rsa_public), k);
}

/// Single-part-only mechanisms, a single-part call after an update, bad signatures.
fn signing_errors(
    s: &Session,
    (ec, ec_public): (ObjectHandle, ObjectHandle),
    (rsa, rsa_public): (ObjectHandle, ObjectHandle),
) {
    // Single-part-only mechanisms refuse updates and final calls (as pkcs11-tool --test
    // expects), which ends them.
    s.sign_init(&Mechanism::Ecdsa, ec).unwrap();
    assert_eq!(rv(s.sign_update(b"part")), RvError::FunctionNotSupported);
    assert_eq!(
        rv(s.sign_final()),
        RvError::OperationNotInitialized,
        "ended"
    );
    s.sign_init(&Mechanism::RsaPkcs, rsa).unwrap();
    assert_eq!(rv(s.sign_update(b"part")), RvError::FunctionNotSupported);
    s.sign_init(&Mechanism::RsaPkcs, rsa).unwrap();
    assert_eq!(rv(s.sign_final()), RvError::FunctionNotSupported);
    s.verify_init(&Mechanism::Ecdsa, ec_public).unwrap();
    assert_eq!(rv(s.verify_update(b"part")), RvError::FunctionNotSupported);
    assert_eq!(
        rv(s.verify_final(&[0; 64])),
        RvError::OperationNotInitialized
    );

    // After an update, the single-part call is refused (and the operation ends).
    let sig_raw = |data: &[u8]| {
        let mut sig = [0u8; 64];
        let mut len = sig.len() as CK_ULONG;
        // SAFETY: valid buffers.
        unsafe {
            raw().C_Sign(
                s.handle(),
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                sig.as_mut_ptr(),
                &mut len,
            )
        }
    };
    s.sign_init(&Mechanism::EcdsaSha256, ec).unwrap();
    s.sign_update(b"part").unwrap();
    assert_eq!(sig_raw(b"more"), CKR_OPERATION_ACTIVE);

    // Verification.
    let sig = s.sign(&Mechanism::EcdsaSha256, ec, b"m").unwrap();
    assert_eq!(
        rv(s.verify(&Mechanism::EcdsaSha256, ec_public, b"other", &sig)),
        RvError::SignatureInvalid
    );
    assert_eq!(
        rv(s.verify(&Mechanism::EcdsaSha256, ec_public, b"m", &sig[..63])),
        RvError::SignatureLenRange
    );
    assert_eq!(
        rv(s.verify(
            &Mechanism::EcdsaSha256,
            ec_public,
            b"m",
            &[sig.clone(), vec![0]].concat()
        )),
        RvError::SignatureLenRange
    );
    let rsa_sig = s.sign(&Mechanism::Sha256RsaPkcs, rsa, b"m").unwrap();
    assert_eq!(
        rv(s.verify(&Mechanism::Sha256RsaPkcs, rsa_public, b"m", &rsa_sig[1..])),
        RvError::SignatureLenRange
    );
}

/// Input lengths, ciphertexts, padding; after an error the operation is over.
fn length_and_ciphertext_errors(
    s: &Session,
    ec: ObjectHandle,
    (rsa, rsa_public): (ObjectHandle, ObjectHandle),
    k: ObjectHandle,
) {
    // Input lengths.
    assert_eq!(
        rv(s.sign(&Mechanism::Ecdsa, ec, b"")),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.sign(&Mechanism::RsaPkcs, rsa, &[1u8; 246])),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesEcb, k, &[0u8; 15])),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesCbc([0; 16]), k, &[0u8; 17])),
        RvError::DataLenRange
    );
    assert_eq!(
        rv(s.encrypt(
            &Mechanism::RsaPkcsOaep(oaep_sha256()),
            rsa_public,
            &[0u8; 191]
        )),
        RvError::DataLenRange
    );
    // Ciphertext lengths and contents.
    assert_eq!(
        rv(s.decrypt(&Mechanism::AesCbc([0; 16]), k, &[0u8; 15])),
        RvError::EncryptedDataLenRange
    );
    assert_eq!(
        rv(s.decrypt(&Mechanism::AesCbcPad([0; 16]), k, &[])),
        RvError::EncryptedDataLenRange
    );
    assert_eq!(
        rv(s.decrypt(&Mechanism::RsaPkcsOaep(oaep_sha256()), rsa, &[1u8; 255])),
        RvError::EncryptedDataLenRange
    );
    let ct = s
        .encrypt(&Mechanism::RsaPkcsOaep(oaep_sha256()), rsa_public, b"x")
        .unwrap();
    let mut bad = ct.clone();
    bad[100] ^= 1;
    assert_eq!(
        rv(s.decrypt(&Mechanism::RsaPkcsOaep(oaep_sha256()), rsa, &bad)),
        RvError::EncryptedDataInvalid
    );
    // Bad padding in the last CBC block.
    let ct = s
        .encrypt(&Mechanism::AesCbc([0; 16]), k, &[0x11u8; 32])
        .unwrap();
    assert_eq!(
        rv(s.decrypt(&Mechanism::AesCbcPad([0; 16]), k, &ct)),
        RvError::EncryptedDataInvalid
    );
    let mut nonce = [5u8; 12];
    let gcm = Mechanism::AesGcm(GcmParams::new(&mut nonce, b"", 128.into()).unwrap());
    assert_eq!(
        rv(s.decrypt(&gcm, k, &[0u8; 15])),
        RvError::EncryptedDataLenRange
    );
    // After an error the operation is over.
    s.decrypt_init(&Mechanism::AesCbc([0; 16]), k).unwrap();
    s.decrypt_update(&[0u8; 15]).unwrap();
    assert_eq!(rv(s.decrypt_final()), RvError::EncryptedDataLenRange);
    assert_eq!(rv(s.decrypt_final()), RvError::OperationNotInitialized);
}

#[test]
fn always_authenticate_keys_sign_after_a_context_login() {
    let s = session();
    let k = key(&s, "p256-auth", ObjectClass::PRIVATE_KEY);
    let public = key(&s, "p256-auth", ObjectClass::PUBLIC_KEY);
    let point = bytes(&s, public, AttributeType::EcPoint);
    assert_eq!(
        s.get_attributes(k, &[AttributeType::AlwaysAuthenticate])
            .unwrap(),
        [Attribute::AlwaysAuthenticate(true)]
    );
    let login_exists = !matches!(
        s.login(UserType::User, Some(&AuthPin::new(PIN.into()))),
        Err(ref e) if rv_of(e) == RvError::FunctionNotSupported
    );
    // libp11's order: C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_Sign.
    s.sign_init(&Mechanism::EcdsaSha256, k).unwrap();
    if login_exists {
        s.login(UserType::ContextSpecific, Some(&AuthPin::new(PIN.into())))
            .unwrap();
    }
    let mut sig = vec![0u8; 64];
    let mut len = 64 as CK_ULONG;
    // SAFETY: valid buffers.
    let code = unsafe {
        raw().C_Sign(
            s.handle(),
            b"m".as_ptr() as *mut u8,
            1,
            sig.as_mut_ptr(),
            &mut len,
        )
    };
    assert_eq!(code, CKR_OK);
    assert!(p256_verifies(&point, &sha256(b"m"), &sig));
    if login_exists {
        // Each use needs its own login.
        s.sign_init(&Mechanism::EcdsaSha256, k).unwrap();
        assert_eq!(
            rv(s.sign_final()),
            RvError::UserNotLoggedIn,
            "CKA_ALWAYS_AUTHENTICATE without C_Login(CKU_CONTEXT_SPECIFIC)"
        );
        // A context login given before the operation (during another one) does not count.
        s.verify_init(&Mechanism::EcdsaSha256, public).unwrap();
        s.login(UserType::ContextSpecific, Some(&AuthPin::new(PIN.into())))
            .unwrap();
        s.sign_init(&Mechanism::EcdsaSha256, k).unwrap();
        assert_eq!(rv(s.sign_final()), RvError::UserNotLoggedIn);
        // Without any key operation, a context login has nothing to authenticate.
        assert_eq!(rv(s.verify_final(&[0; 64])), RvError::SignatureInvalid);
        assert_eq!(
            rv(s.login(UserType::ContextSpecific, Some(&AuthPin::new(PIN.into())))),
            RvError::OperationNotInitialized
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The two-call convention, through raw calls.

fn raw_mechanism<T>(mechanism: CK_MECHANISM_TYPE, params: &T) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism,
        pParameter: params as *const T as *mut std::ffi::c_void,
        ulParameterLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

fn raw_encrypt_init(s: &Session, m: &mut CK_MECHANISM, k: ObjectHandle) -> CK_RV {
    // SAFETY: a valid mechanism whose parameter outlives the call.
    unsafe { raw().C_EncryptInit(s.handle(), m, k.handle()) }
}

/// A two-call output: `f(buffer, &mut len)` asked with NULL first, then with the length.
fn two_call(mut f: impl FnMut(*mut u8, &mut CK_ULONG) -> CK_RV) -> Result<Vec<u8>, CK_RV> {
    let mut len: CK_ULONG = 0;
    match f(std::ptr::null_mut(), &mut len) {
        CKR_OK => {}
        code => return Err(code),
    }
    let mut out = vec![0u8; len as usize];
    match f(out.as_mut_ptr(), &mut len) {
        CKR_OK => {}
        code => return Err(code),
    }
    out.truncate(len as usize);
    Ok(out)
}

fn raw_encrypt(
    s: &Session,
    m: &mut CK_MECHANISM,
    k: ObjectHandle,
    data: &[u8],
) -> Result<Vec<u8>, CK_RV> {
    match raw_encrypt_init(s, m, k) {
        CKR_OK => {}
        code => return Err(code),
    }
    two_call(|out, len| {
        // SAFETY: valid buffers (`out` NULL or of `*len` bytes).
        unsafe {
            raw().C_Encrypt(
                s.handle(),
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                out,
                len,
            )
        }
    })
}

fn raw_decrypt(
    s: &Session,
    m: &mut CK_MECHANISM,
    k: ObjectHandle,
    data: &[u8],
) -> Result<Vec<u8>, CK_RV> {
    // SAFETY: a valid mechanism.
    match unsafe { raw().C_DecryptInit(s.handle(), m, k.handle()) } {
        CKR_OK => {}
        code => return Err(code),
    }
    two_call(|out, len| {
        // SAFETY: valid buffers.
        unsafe {
            raw().C_Decrypt(
                s.handle(),
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                out,
                len,
            )
        }
    })
}

fn raw_wrap(
    s: &Session,
    m: &mut CK_MECHANISM,
    wrapping: ObjectHandle,
    target: ObjectHandle,
) -> Result<Vec<u8>, CK_RV> {
    two_call(|out, len| {
        // SAFETY: valid mechanism and buffers.
        unsafe { raw().C_WrapKey(s.handle(), m, wrapping.handle(), target.handle(), out, len) }
    })
}

#[test]
fn short_buffers_keep_the_operation() {
    let s = session();
    short_buffers_in_signing(&s);
    let k = aes(
        &s,
        16,
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    short_buffers_in_single_part_cbc(&s, k);
    short_buffers_in_multi_part_cbc(&s, k);
    short_buffers_in_gcm_and_wrapping(&s, k);
}

/// Signing: the length without signing, a short buffer, then the signature; `C_SignFinal`.
fn short_buffers_in_signing(s: &Session) {
    let (ec, ec_public) = ec_pair(s, &[]);
    let point = bytes(s, ec_public, AttributeType::EcPoint);
    let h_s = s.handle();
    let data = b"two calls";
    let mut m = raw_mechanism::<()>(CKM_ECDSA_SHA256, &());
    m.pParameter = std::ptr::null_mut();
    m.ulParameterLen = 0;
    // SAFETY (all raw calls below): valid buffers of the stated lengths.
    assert_eq!(
        unsafe { raw().C_SignInit(h_s, &mut m, ec.handle()) },
        CKR_OK
    );
    let sign = |out: *mut u8, len: &mut CK_ULONG| unsafe {
        raw().C_Sign(
            h_s,
            data.as_ptr() as *mut u8,
            data.len() as CK_ULONG,
            out,
            len,
        )
    };
    let mut len: CK_ULONG = 0;
    assert_eq!(sign(std::ptr::null_mut(), &mut len), CKR_OK);
    assert_eq!(len, 64, "2 × the field length, known without signing");
    let mut buf = [0u8; 80];
    len = 10;
    assert_eq!(sign(buf.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 64);
    assert_eq!(buf, [0u8; 80], "nothing written");
    len = 80;
    assert_eq!(sign(buf.as_mut_ptr(), &mut len), CKR_OK);
    assert_eq!(len, 64);
    assert!(p256_verifies(&point, &sha256(data), &buf[..64]));
    assert_eq!(
        sign(buf.as_mut_ptr(), &mut len),
        CKR_OPERATION_NOT_INITIALIZED,
        "done"
    );
    // A NULL length pointer is a bad argument (and ends the operation).
    assert_eq!(
        unsafe { raw().C_SignInit(h_s, &mut m, ec.handle()) },
        CKR_OK
    );
    assert_eq!(
        unsafe {
            raw().C_Sign(
                h_s,
                data.as_ptr() as *mut u8,
                9,
                buf.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        },
        CKR_ARGUMENTS_BAD
    );

    // C_SignFinal after updates.
    assert_eq!(
        unsafe { raw().C_SignInit(h_s, &mut m, ec.handle()) },
        CKR_OK
    );
    assert_eq!(
        unsafe { raw().C_SignUpdate(h_s, data.as_ptr() as *mut u8, data.len() as CK_ULONG) },
        CKR_OK
    );
    len = 3;
    assert_eq!(
        unsafe { raw().C_SignFinal(h_s, buf.as_mut_ptr(), &mut len) },
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(len, 64);
    assert_eq!(
        unsafe { raw().C_SignFinal(h_s, buf.as_mut_ptr(), &mut len) },
        CKR_OK
    );
    assert!(p256_verifies(&point, &sha256(data), &buf[..64]));
}

/// Single-part CBC-PAD: the exact ciphertext length, the plaintext's bound then its exact
/// length.
fn short_buffers_in_single_part_cbc(s: &Session, k: ObjectHandle) {
    // SAFETY (all raw calls below): valid buffers of the stated lengths.
    let h_s = s.handle();
    let mut buf = [0u8; 80];
    let mut len: CK_ULONG;
    // Encryption: the exact ciphertext length before any work.
    let iv = [1u8; 16];
    let mut cbc_pad = raw_mechanism(CKM_AES_CBC_PAD, &iv);
    assert_eq!(raw_encrypt_init(s, &mut cbc_pad, k), CKR_OK);
    let plain = [6u8; 20];
    let encrypt = |out: *mut u8, len: &mut CK_ULONG| unsafe {
        raw().C_Encrypt(h_s, plain.as_ptr() as *mut u8, 20, out, len)
    };
    len = 0;
    assert_eq!(encrypt(std::ptr::null_mut(), &mut len), CKR_OK);
    assert_eq!(len, 32);
    len = 31;
    assert_eq!(encrypt(buf.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 32);
    assert_eq!(encrypt(buf.as_mut_ptr(), &mut len), CKR_OK);
    let ct = buf[..32].to_vec();

    // Decryption: the most the plaintext can be, then the exact length; a buffer that holds
    // the plaintext but not the bound is enough.
    assert_eq!(
        unsafe { raw().C_DecryptInit(h_s, &mut cbc_pad, k.handle()) },
        CKR_OK
    );
    let decrypt = |out: *mut u8, len: &mut CK_ULONG| unsafe {
        raw().C_Decrypt(h_s, ct.as_ptr() as *mut u8, 32, out, len)
    };
    len = 0;
    assert_eq!(decrypt(std::ptr::null_mut(), &mut len), CKR_OK);
    assert_eq!(len, 32);
    let mut small = [0u8; 20];
    len = 19;
    assert_eq!(decrypt(small.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 20, "the exact length");
    assert_eq!(decrypt(small.as_mut_ptr(), &mut len), CKR_OK);
    assert_eq!((len, small), (20, plain));
}

/// Multi-part CBC-PAD, both ways.
fn short_buffers_in_multi_part_cbc(s: &Session, k: ObjectHandle) {
    // SAFETY (all raw calls below): valid buffers of the stated lengths.
    let h_s = s.handle();
    let mut buf = [0u8; 80];
    let mut len: CK_ULONG;
    let iv = [1u8; 16];
    let mut cbc_pad = raw_mechanism(CKM_AES_CBC_PAD, &iv);
    let plain = [6u8; 20];
    // Multi-part CBC: each update returns the whole blocks ready, with the two calls; the
    // final call the padded rest.
    assert_eq!(raw_encrypt_init(s, &mut cbc_pad, k), CKR_OK);
    let mut ct = Vec::new();
    for want in [16, 16] {
        let update = |out: *mut u8, len: &mut CK_ULONG| unsafe {
            raw().C_EncryptUpdate(h_s, plain.as_ptr() as *mut u8, 20, out, len)
        };
        len = 0;
        assert_eq!(update(std::ptr::null_mut(), &mut len), CKR_OK);
        assert_eq!(len, want, "a length query takes nothing");
        len = want - 1;
        assert_eq!(update(buf.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
        assert_eq!(len, want);
        len = 80;
        assert_eq!(update(buf.as_mut_ptr(), &mut len), CKR_OK);
        assert_eq!(len, want);
        ct.extend_from_slice(&buf[..want as usize]);
    }
    len = 0;
    assert_eq!(
        unsafe { raw().C_EncryptFinal(h_s, std::ptr::null_mut(), &mut len) },
        CKR_OK
    );
    assert_eq!(len, 16, "8 bytes held back, padded");
    len = 15;
    assert_eq!(
        unsafe { raw().C_EncryptFinal(h_s, buf.as_mut_ptr(), &mut len) },
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(
        unsafe { raw().C_EncryptFinal(h_s, buf.as_mut_ptr(), &mut len) },
        CKR_OK
    );
    ct.extend_from_slice(&buf[..16]);
    let mut dm = raw_mechanism(CKM_AES_CBC_PAD, &iv);
    assert_eq!(
        raw_decrypt(s, &mut dm, k, &ct).unwrap(),
        [plain, plain].concat()
    );
    // Decrypting with padding: the final call answers the most it can be, then the rest.
    assert_eq!(
        unsafe { raw().C_DecryptInit(h_s, &mut dm, k.handle()) },
        CKR_OK
    );
    len = 80;
    assert_eq!(
        unsafe {
            raw().C_DecryptUpdate(h_s, ct.as_ptr() as *mut u8, 48, buf.as_mut_ptr(), &mut len)
        },
        CKR_OK
    );
    assert_eq!(len, 32, "the last block waits: it holds the padding");
    len = 0;
    assert_eq!(
        unsafe { raw().C_DecryptFinal(h_s, std::ptr::null_mut(), &mut len) },
        CKR_OK
    );
    assert_eq!(len, 16);
    let mut small = [0u8; 8];
    len = 7;
    assert_eq!(
        unsafe { raw().C_DecryptFinal(h_s, small.as_mut_ptr(), &mut len) },
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(len, 8, "the exact length");
    assert_eq!(
        unsafe { raw().C_DecryptFinal(h_s, small.as_mut_ptr(), &mut len) },
        CKR_OK
    );
    assert_eq!(small, plain[12..]);
}

/// GCM (updates answer nothing, the final call everything); wrapping.
fn short_buffers_in_gcm_and_wrapping(s: &Session, k: ObjectHandle) {
    // SAFETY (all raw calls below): valid buffers of the stated lengths.
    let h_s = s.handle();
    let mut buf = [0u8; 80];
    let mut len: CK_ULONG;
    let plain = [6u8; 20];
    // GCM gathers: updates answer 0 bytes, the final call everything.
    let nonce = [4u8; 12];
    let gcm_params = CK_GCM_PARAMS {
        pIv: nonce.as_ptr() as *mut u8,
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: std::ptr::null_mut(),
        ulAADLen: 0,
        ulTagBits: 128,
    };
    let mut gcm = raw_mechanism(CKM_AES_GCM, &gcm_params);
    assert_eq!(raw_encrypt_init(s, &mut gcm, k), CKR_OK);
    len = 80;
    assert_eq!(
        unsafe {
            raw().C_EncryptUpdate(
                h_s,
                plain.as_ptr() as *mut u8,
                20,
                buf.as_mut_ptr(),
                &mut len,
            )
        },
        CKR_OK
    );
    assert_eq!(len, 0);
    len = 0;
    assert_eq!(
        unsafe { raw().C_EncryptFinal(h_s, std::ptr::null_mut(), &mut len) },
        CKR_OK
    );
    assert_eq!(len, 36, "20 bytes and the tag");

    // Wrapping: the length first.
    let wrapping = aes(s, 32, &[Attribute::Wrap(true)]);
    let target = aes(s, 32, &[Attribute::Extractable(true)]);
    let mut kw = raw_mechanism::<()>(CKM_AES_KEY_WRAP, &());
    kw.pParameter = std::ptr::null_mut();
    kw.ulParameterLen = 0;
    let wrap = |out: *mut u8, len: &mut CK_ULONG| unsafe {
        raw().C_WrapKey(
            h_s,
            &mut kw.clone(),
            wrapping.handle(),
            target.handle(),
            out,
            len,
        )
    };
    len = 0;
    assert_eq!(wrap(std::ptr::null_mut(), &mut len), CKR_OK);
    assert_eq!(len, 40);
    len = 39;
    assert_eq!(wrap(buf.as_mut_ptr(), &mut len), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 40);
    assert_eq!(wrap(buf.as_mut_ptr(), &mut len), CKR_OK);
    assert_eq!(len, 40);
}

/// pkcs11-tool encrypts a file in 1,024-byte parts and gives `C_EncryptFinal` a buffer of
/// 1,024 bytes: updates must hand back their output as they go.
#[test]
fn large_multi_part_messages_stream() {
    let s = session();
    let k = aes(
        &s,
        32,
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let iv = [0x5au8; 16];
    let ctr = CK_AES_CTR_PARAMS {
        ulCounterBits: 32,
        cb: [7; 16],
    };
    let mut mechanisms = [
        raw_mechanism(CKM_AES_CBC_PAD, &iv),
        raw_mechanism(CKM_AES_CBC, &iv),
        raw_mechanism(CKM_AES_CTR, &ctr),
    ];
    for m in mechanisms.iter_mut() {
        let len = if m.mechanism == CKM_AES_CBC {
            99_984
        } else {
            data.len()
        };
        let data = &data[..len];
        let one = raw_encrypt(&s, m, k, data).unwrap();
        assert_eq!(raw_encrypt_init(&s, m, k), CKR_OK);
        let mut streamed = Vec::new();
        let mut out = [0u8; 1024];
        for chunk in data.chunks(1024) {
            let mut n = out.len() as CK_ULONG;
            // SAFETY: valid buffers.
            let code = unsafe {
                raw().C_EncryptUpdate(
                    s.handle(),
                    chunk.as_ptr() as *mut u8,
                    chunk.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut n,
                )
            };
            assert_eq!(code, CKR_OK);
            streamed.extend_from_slice(&out[..n as usize]);
        }
        let mut n = out.len() as CK_ULONG;
        // SAFETY: valid buffers.
        let code = unsafe { raw().C_EncryptFinal(s.handle(), out.as_mut_ptr(), &mut n) };
        assert_eq!(code, CKR_OK, "{:#x}", m.mechanism);
        streamed.extend_from_slice(&out[..n as usize]);
        assert_eq!(streamed, one, "{:#x}", m.mechanism);

        // SAFETY: a valid mechanism.
        assert_eq!(
            unsafe { raw().C_DecryptInit(s.handle(), m, k.handle()) },
            CKR_OK
        );
        let mut back = Vec::new();
        for chunk in one.chunks(1024) {
            let mut n = out.len() as CK_ULONG;
            // SAFETY: valid buffers.
            let code = unsafe {
                raw().C_DecryptUpdate(
                    s.handle(),
                    chunk.as_ptr() as *mut u8,
                    chunk.len() as CK_ULONG,
                    out.as_mut_ptr(),
                    &mut n,
                )
            };
            assert_eq!(code, CKR_OK);
            back.extend_from_slice(&out[..n as usize]);
        }
        let mut n = out.len() as CK_ULONG;
        // SAFETY: valid buffers.
        let code = unsafe { raw().C_DecryptFinal(s.handle(), out.as_mut_ptr(), &mut n) };
        assert_eq!(code, CKR_OK);
        back.extend_from_slice(&out[..n as usize]);
        assert_eq!(back, data, "{:#x}", m.mechanism);
    }
    // RSA is single-part only.
    let rsa_public = key(&s, "rsa", ObjectClass::PUBLIC_KEY);
    s.encrypt_init(&Mechanism::RsaPkcs, rsa_public).unwrap();
    assert_eq!(rv(s.encrypt_update(b"part")), RvError::FunctionNotSupported);
    assert_eq!(rv(s.encrypt_final()), RvError::OperationNotInitialized);
}
