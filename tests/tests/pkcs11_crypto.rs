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

// The suite's sections, one file each under `pkcs11_crypto/` (explicit paths: the same lines
// must resolve when `pkcs11_crypto_remote.rs` compiles this file as its module `suite`).
#[path = "pkcs11_crypto/encryption.rs"]
mod encryption;
#[path = "pkcs11_crypto/errors.rs"]
mod errors;
#[path = "pkcs11_crypto/signatures.rs"]
mod signatures;
#[path = "pkcs11_crypto/two_call.rs"]
mod two_call;
#[path = "pkcs11_crypto/wrapping.rs"]
mod wrapping;

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
// Raw calls: the two-call convention, and parameters `cryptoki` cannot pass.

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
