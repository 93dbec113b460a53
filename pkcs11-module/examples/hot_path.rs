//! The module's own cost per operation, in process: one HMAC-SHA256 of 1 KiB through
//! `C_SignInit` + `C_Sign` (length query) + `C_Sign`, one `C_GetSessionInfo`, and the same
//! HMAC on the core's provider called directly (the bare baseline of `scripts/bench-p11`),
//! interleaved in short rounds so that the machine's drift hits both alike; prints medians.
//! No PKCS#11 client library in between (`scripts/bench-p11` measures through the
//! `cryptoki` crate, which adds its own allocation and conversions per call).
//!
//! ```text
//! d=$(mktemp -d) && cargo run --release -p mhsm-benches --bin p11bench -- --fill-core $d 1
//! MHSM_DATA_DIR=$d cargo run --release -p pkcs11-module --example hot_path
//! ```
//! (`--fill-core` makes the pool `bench` with the user PIN `123456`.)

// The example calls the module's C functions directly, as a C caller would.
#![allow(unsafe_code)]

use std::ptr::null_mut;
use std::time::Instant;

use cryptoki_sys::*;
use hsm_core::crypto::{HashAlg, KeyMaterial, SignAlgorithm};
use hsm_core::{Hsm, HsmConfig, SecretBytes};
use mhsm_pkcs11::general::C_Initialize;
use mhsm_pkcs11::object::C_CreateObject;
use mhsm_pkcs11::session::{C_GetSessionInfo, C_Login, C_OpenSession};
use mhsm_pkcs11::sign::{C_Sign, C_SignInit};
use mhsm_pkcs11::slot::C_GetSlotList;

/// Rounds, and operations of each kind per round.
const ROUNDS: usize = 150;
const PER_ROUND: u32 = 20_000;

fn ok(rv: CK_RV, what: &str) {
    assert_eq!(rv, CKR_OK, "{what}: {rv:#x}");
}

fn attr(type_: CK_ATTRIBUTE_TYPE, value: &[u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_,
        pValue: value.as_ptr() as *mut _,
        ulValueLen: value.len() as CK_ULONG,
    }
}

/// Nanoseconds per call of `f`, over `n` calls.
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let secret = [0x42u8; 32];
    let data = vec![7u8; 1024];
    let (session, key) = setup(&secret);
    let mut mechanism = CK_MECHANISM {
        mechanism: CKM_SHA256_HMAC,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    let hsm = Hsm::open(HsmConfig::in_memory()).expect("in-memory core");
    let bare = hsm
        .provider()
        .load(&KeyMaterial::Secret(SecretBytes::new(secret.to_vec())))
        .expect("bare key");
    let alg = SignAlgorithm::Hmac {
        hash: HashAlg::Sha256,
    };
    let mut rows = Vec::new();
    for _ in 0..ROUNDS {
        // SAFETY (all calls below): a session, key and mechanism made by `setup`, buffers of
        // the lengths passed.
        let op = per_call(PER_ROUND, || unsafe {
            ok(C_SignInit(session, &mut mechanism, key), "C_SignInit");
            let mut len: CK_ULONG = 0;
            let input = data.as_ptr() as *mut u8;
            ok(C_Sign(session, input, 1024, null_mut(), &mut len), "C_Sign");
            let mut mac = [0u8; 32];
            ok(
                C_Sign(session, input, 1024, mac.as_mut_ptr(), &mut len),
                "C_Sign",
            );
        });
        let mut info = CK_SESSION_INFO {
            slotID: 0,
            state: 0,
            flags: 0,
            ulDeviceError: 0,
        };
        let call = per_call(PER_ROUND * 4, || unsafe {
            ok(C_GetSessionInfo(session, &mut info), "C_GetSessionInfo");
        });
        let direct = per_call(PER_ROUND, || {
            std::hint::black_box(bare.sign(&alg, std::hint::black_box(&data)).expect("MAC"));
        });
        rows.push((op, call, direct, direct / op));
    }
    let col = |f: fn(&(f64, f64, f64, f64)) -> f64| median(rows.iter().map(f).collect());
    let (op, call, direct) = (col(|r| r.0), col(|r| r.1), col(|r| r.2));
    println!(
        "HMAC-SHA256 1 KiB, medians of {ROUNDS} rounds: module {op:.0} ns, bare {direct:.0} ns, \
         bare/module {:.3}; one call {call:.1} ns; the module's key work (module - 3 calls - \
         bare) {:.0} ns",
        col(|r| r.3),
        op - 3.0 * call - direct
    );
}

/// Initializes the module over `MHSM_DATA_DIR`, opens a session on the first slot, logs the
/// user in (PIN 123456) and creates a token generic secret of `secret`: (session, key).
fn setup(secret: &[u8; 32]) -> (CK_SESSION_HANDLE, CK_OBJECT_HANDLE) {
    // SAFETY: valid arguments and buffers, as each function's contract asks.
    unsafe {
        ok(C_Initialize(null_mut()), "C_Initialize");
        let mut count: CK_ULONG = 8;
        let mut slots = [0 as CK_SLOT_ID; 8];
        ok(
            C_GetSlotList(1, slots.as_mut_ptr(), &mut count),
            "C_GetSlotList",
        );
        assert!(
            count > 0,
            "no token: fill MHSM_DATA_DIR first (see the docs)"
        );
        let mut session: CK_SESSION_HANDLE = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        ok(
            C_OpenSession(slots[0], flags, null_mut(), None, &mut session),
            "C_OpenSession",
        );
        let pin = b"123456";
        ok(
            C_Login(session, CKU_USER, pin.as_ptr() as *mut u8, 6),
            "C_Login",
        );
        let (class, kind) = (
            CKO_SECRET_KEY.to_ne_bytes(),
            CKK_GENERIC_SECRET.to_ne_bytes(),
        );
        let yes = [CK_TRUE];
        let label = format!("hot-path-{}", std::process::id());
        let mut template = [
            attr(CKA_CLASS, &class),
            attr(CKA_KEY_TYPE, &kind),
            attr(CKA_TOKEN, &yes),
            attr(CKA_PRIVATE, &yes),
            attr(CKA_SIGN, &yes),
            attr(CKA_LABEL, label.as_bytes()),
            attr(CKA_VALUE, secret),
        ];
        let mut key: CK_OBJECT_HANDLE = 0;
        let n = template.len() as CK_ULONG;
        ok(
            C_CreateObject(session, template.as_mut_ptr(), n, &mut key),
            "C_CreateObject",
        );
        (session, key)
    }
}
