//! Wrapping a token key through PKCS#11 moves no plaintext out of hsm-core: two keys of one
//! pool are wrapped inside the core (embedded: the module's; remote: the server's), and the
//! length query (NULL buffer) wraps nothing. Every export of key material in the clear is
//! logged by the core ("key material exported in the clear"); this suite counts those lines in
//! the module's log (`MHSM_LOG=...@FILE`, embedded) and in this process's own log (the
//! in-process server's core, remote mode), and shows the count does move on a real export (a
//! non-sensitive key's `CKA_VALUE`), so it can fail.

mod pkcs11_common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use hsm_core::Hsm;
use hsm_core::crypto::{Curve, KeySpec};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions};
use pkcs11_common::*;

const POOL: &str = "audit";
const PIN: &str = "user-pin-1";
const EXPORTED: &str = "key material exported in the clear";

/// This process's log lines (the in-process server's core, in remote mode).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter("hsm_core=info")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        log
    })
}

fn module_log() -> &'static std::path::Path {
    static FILE: OnceLock<tempfile::NamedTempFile> = OnceLock::new();
    FILE.get_or_init(|| tempfile::NamedTempFile::new().unwrap())
        .path()
}

/// Exports in the clear so far, by either core.
fn exports() -> usize {
    let module = std::fs::read_to_string(module_log()).unwrap_or_default();
    let local = String::from_utf8(captured().0.lock().unwrap().clone()).unwrap();
    module.matches(EXPORTED).count() + local.matches(EXPORTED).count()
}

fn make_keys(hsm: &Hsm) {
    use KeyOperation::*;
    let pool = hsm.pool(POOL).unwrap();
    pool.set_pin(hsm_core::pin::PinRole::So, b"so-pin-12")
        .unwrap();
    pool.set_pin(hsm_core::pin::PinRole::User, PIN.as_bytes())
        .unwrap();
    let opts = |ops: &[KeyOperation], exportable: bool| KeyOptions {
        ops: Some(KeyOps::of(ops)),
        exportable,
        ..KeyOptions::default()
    };
    pool.create_key(
        "kek",
        KeySpec::Aes { bits: 256 },
        &opts(&[WrapKey, UnwrapKey], false),
    )
    .unwrap();
    pool.create_key(
        "data",
        KeySpec::Aes { bits: 128 },
        &opts(&[Encrypt, Decrypt, Export], true),
    )
    .unwrap();
    pool.create_key(
        "ec",
        KeySpec::Ec { curve: Curve::P256 },
        &opts(&[Sign, Verify, Export], true),
    )
    .unwrap();
}

fn session() -> Session {
    static CTX: OnceLock<Pkcs11> = OnceLock::new();
    let p = CTX.get_or_init(|| {
        captured();
        // SAFETY: before the module is loaded; no other thread reads the environment yet.
        unsafe {
            std::env::set_var(
                "MHSM_LOG",
                format!("hsm_core=info@{}", module_log().display()),
            )
        };
        create_pools(&[POOL]);
        with_core(make_keys);
        let p = Pkcs11::new(module_path()).unwrap();
        p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        p
    });
    let slot = p
        .get_all_slots()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label() == POOL)
        .expect("the pool's slot");
    let s = p.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::new(PIN.into())))
        .unwrap();
    s
}

fn find(s: &Session, label: &str, class: ObjectClass) -> ObjectHandle {
    let found = s
        .find_objects(&[Attribute::Label(label.into()), Attribute::Class(class)])
        .unwrap();
    assert_eq!(found.len(), 1, "{label}");
    found[0]
}

/// `C_WrapKey` with a NULL buffer: the length it answers.
fn length_query(
    s: &Session,
    mech: CK_MECHANISM_TYPE,
    kek: ObjectHandle,
    key: ObjectHandle,
) -> CK_ULONG {
    let f = table();
    let mut m = CK_MECHANISM {
        mechanism: mech,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    let mut len: CK_ULONG = 0;
    // SAFETY: a valid session handle and mechanism; NULL output asks for the length.
    let rv = unsafe {
        (f.C_WrapKey.unwrap())(
            s.handle(),
            &mut m,
            kek.handle(),
            key.handle(),
            std::ptr::null_mut(),
            &mut len,
        )
    };
    assert_eq!(rv, CKR_OK, "{}", rv_hex(rv));
    len
}

#[test]
fn wrapping_token_keys_moves_no_plaintext_out_of_the_core() {
    let s = session();
    let kek = find(&s, "kek", ObjectClass::SECRET_KEY);
    let data = find(&s, "data", ObjectClass::SECRET_KEY);
    let ec = find(&s, "ec", ObjectClass::PRIVATE_KEY);
    let before = exports();

    // The length query: exact for a secret key, a bound for a private key; nothing wrapped.
    assert_eq!(length_query(&s, CKM_AES_KEY_WRAP_KWP, kek, data), 24);
    let bound = length_query(&s, CKM_AES_KEY_WRAP_PAD, kek, ec);
    assert_eq!(exports(), before, "a length query exported key material");

    // The wraps themselves happen inside the core.
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrapPad, kek, data).unwrap();
    assert_eq!(wrapped.len(), 24);
    let wrapped_ec = s.wrap_key(&Mechanism::AesKeyWrapPad, kek, ec).unwrap();
    assert!(
        wrapped_ec.len() as CK_ULONG <= bound,
        "{} > {bound}",
        wrapped_ec.len()
    );
    assert_eq!(exports(), before, "wrapping exported key material");

    // They unwrap to the same keys: the AES key encrypts alike.
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(cryptoki::object::KeyType::AES),
        Attribute::Token(false),
        Attribute::Encrypt(true),
    ];
    let back = s
        .unwrap_key(&Mechanism::AesKeyWrapPad, kek, &wrapped, &template)
        .unwrap();
    let block = [7u8; 16];
    assert_eq!(
        s.encrypt(&Mechanism::AesEcb, back, &block).unwrap(),
        s.encrypt(&Mechanism::AesEcb, data, &block).unwrap()
    );

    // A real export is seen: the counter can move. The session copy made by unwrapping is
    // in the module's memory, so read a token key's value: make "data" non-sensitive first
    // is not allowed (CKA_SENSITIVE is one-way), so copy-and-read a fresh extractable key.
    let plain = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Label("readable".into()),
                Attribute::ValueLen(16.into()),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap();
    let value = s.get_attributes(plain, &[AttributeType::Value]).unwrap();
    assert!(matches!(&value[..], [Attribute::Value(v)] if v.len() == 16));
    assert!(
        exports() > before,
        "the audit saw no export: it cannot fail"
    );
}
