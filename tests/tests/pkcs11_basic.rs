//! libmhsm_pkcs11.so through the `cryptoki` crate: slots and tokens, mechanisms, sessions,
//! random numbers and digests, with the raw calls for the two-call convention.
//!
//! One module instance for the whole process (initialized once, over a fresh data directory
//! holding the pools `alpha`, `beta` and `gamma`); tests run in parallel, each on its own pool
//! where it counts or closes sessions.

mod pkcs11_common;

use std::sync::OnceLock;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::session::SessionState;
use cryptoki::slot::{Limit, Slot};
use cryptoki_sys::*;
use pkcs11_common::*;
use sha2::Digest as _;

fn ctx() -> &'static Pkcs11 {
    static CTX: OnceLock<Pkcs11> = OnceLock::new();
    CTX.get_or_init(|| {
        create_pools(&["alpha", "beta", "gamma"]);
        let p = Pkcs11::new(module_path()).unwrap();
        p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        p
    })
}

/// The slot of a pool (by token label).
fn slot_of(label: &str) -> Slot {
    let p = ctx();
    p.get_all_slots()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label() == label)
        .unwrap_or_else(|| panic!("no slot for {label}"))
}

fn rv(e: Error) -> RvError {
    match e {
        Error::Pkcs11(rv, _) => rv,
        other => panic!("not a PKCS#11 error: {other}"),
    }
}

/// The documented derivation: 1 + (first 4 bytes of SHA-256("mhsm-slot:NAME")) % 0x7FFFFFFF.
fn derived_slot_id(name: &str) -> u64 {
    let d = sha2::Sha256::digest(format!("mhsm-slot:{name}").as_bytes());
    1 + u64::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]])) % 0x7FFF_FFFF
}

#[test]
fn slots_one_per_pool_then_the_uninitialized_token() {
    let p = ctx();
    let all = p.get_all_slots().unwrap();
    let with_token = p.get_slots_with_token().unwrap();
    assert_eq!(all, with_token, "every slot has a token");
    let ids: Vec<u64> = all.iter().map(|s| s.id()).collect();
    assert_eq!(
        ids,
        [
            derived_slot_id("alpha"),
            derived_slot_id("beta"),
            derived_slot_id("gamma"),
            0
        ],
        "pools by name with ids derived from the names, then slot 0"
    );
    let labels: Vec<String> = all
        .iter()
        .map(|s| p.get_token_info(*s).unwrap().label().to_string())
        .collect();
    assert_eq!(labels, ["alpha", "beta", "gamma", ""]);
    let initialized = p.get_slots_with_initialized_token().unwrap();
    assert_eq!(initialized, all[..3]);

    // The raw two-call convention, with and without tokenPresent.
    for token_present in [CK_FALSE, CK_TRUE] {
        let mut count: CK_ULONG = 0;
        let mut out = [0 as CK_SLOT_ID; 8];
        // SAFETY: valid pointers with the capacity given.
        unsafe {
            assert_eq!(
                raw().C_GetSlotList(token_present, std::ptr::null_mut(), &mut count),
                CKR_OK
            );
            assert_eq!(count, 4);
            count = 3;
            assert_eq!(
                raw().C_GetSlotList(token_present, out.as_mut_ptr(), &mut count),
                CKR_BUFFER_TOO_SMALL
            );
            assert_eq!(count, 4);
            count = 8;
            assert_eq!(
                raw().C_GetSlotList(token_present, out.as_mut_ptr(), &mut count),
                CKR_OK
            );
        }
        assert_eq!(count, 4);
        assert_eq!(&out[..4], &ids[..]);
    }
}

#[test]
fn slot_info() {
    let p = ctx();
    let info = p.get_slot_info(slot_of("alpha")).unwrap();
    assert_eq!(info.slot_description(), "mhsm pool alpha");
    assert_eq!(info.manufacturer_id(), "mhsm");
    assert!(info.token_present());
    assert!(!info.removable_device());
    assert!(!info.hardware_slot());
    let uninit = p.get_slot_info(Slot::try_from(0u64).unwrap()).unwrap();
    assert_eq!(uninit.slot_description(), "mhsm slot for a new pool");
    assert!(uninit.token_present());
    let err = p
        .get_slot_info(Slot::try_from(12345u64).unwrap())
        .unwrap_err();
    assert_eq!(rv(err), RvError::SlotIdInvalid);

    // Blank padding, raw.
    let mut raw_info = CK_SLOT_INFO::default();
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { raw().C_GetSlotInfo(0, &mut raw_info) }, CKR_OK);
    assert!(raw_info.slotDescription.iter().all(|b| *b != 0));
    assert_eq!(*raw_info.slotDescription.last().unwrap(), b' ');
}

#[test]
fn token_info_of_a_pool_and_of_the_uninitialized_token() {
    let p = ctx();
    let slot = slot_of("gamma");
    let t = p.get_token_info(slot).unwrap();
    assert_eq!(t.label(), "gamma");
    assert_eq!(t.manufacturer_id(), "mhsm");
    assert_eq!(t.model(), "managed HSM pool");
    assert_eq!(t.serial_number().len(), 16);
    assert!(t.serial_number().chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(
        t.serial_number(),
        p.get_token_info(slot_of("beta")).unwrap().serial_number()
    );
    assert!(t.token_initialized() && t.rng() && t.login_required() && t.clock_on_token());
    assert!(
        !t.user_pin_initialized(),
        "PINs come with the next increment"
    );
    assert!(!t.write_protected() && !t.protected_authentication_path());
    assert!(matches!(t.max_session_count(), Limit::Infinite));
    assert!(matches!(t.max_rw_session_count(), Limit::Infinite));
    assert_eq!((t.min_pin_length(), t.max_pin_length()), (4, 255));
    assert_eq!(t.total_public_memory(), None);
    assert_eq!(t.free_private_memory(), None);
    assert!(t.utc_time().is_some());
    assert_eq!(t.session_count(), Some(0));

    // Session counts (gamma is this test's own pool).
    let ro = p.open_ro_session(slot).unwrap();
    let rw = p.open_rw_session(slot).unwrap();
    let rw2 = p.open_rw_session(slot).unwrap();
    let t = p.get_token_info(slot).unwrap();
    assert_eq!(
        (t.session_count(), t.rw_session_count()),
        (Some(3), Some(2))
    );
    drop((ro, rw, rw2));
    let t = p.get_token_info(slot).unwrap();
    assert_eq!(
        (t.session_count(), t.rw_session_count()),
        (Some(0), Some(0))
    );

    // Raw: unavailable memory, blank padding, the UTC time's shape.
    let mut raw_info = CK_TOKEN_INFO::default();
    // SAFETY: a valid out pointer.
    assert_eq!(
        unsafe { raw().C_GetTokenInfo(slot.id(), &mut raw_info) },
        CKR_OK
    );
    assert_eq!(raw_info.ulTotalPublicMemory, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(raw_info.ulFreePrivateMemory, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(raw_info.ulMaxSessionCount, CK_EFFECTIVELY_INFINITE);
    assert_eq!(&raw_info.label[..6], b"gamma ");
    assert!(raw_info.label.iter().all(|b| *b != 0));
    assert!(raw_info.utcTime[..14].iter().all(u8::is_ascii_digit));
    assert_eq!(&raw_info.utcTime[14..], b"00");

    let u = p.get_token_info(Slot::try_from(0u64).unwrap()).unwrap();
    assert_eq!(u.label(), "");
    assert!(!u.token_initialized());
    assert!(u.rng());
    let err = p
        .get_token_info(Slot::try_from(99u64).unwrap())
        .unwrap_err();
    assert_eq!(rv(err), RvError::SlotIdInvalid);
}

fn raw_mechanisms(slot: CK_SLOT_ID) -> Vec<CK_MECHANISM_TYPE> {
    let mut count: CK_ULONG = 0;
    // SAFETY: valid pointers with the capacity given.
    unsafe {
        assert_eq!(
            raw().C_GetMechanismList(slot, std::ptr::null_mut(), &mut count),
            CKR_OK
        );
        let mut out = vec![0 as CK_MECHANISM_TYPE; count as usize];
        assert_eq!(
            raw().C_GetMechanismList(slot, out.as_mut_ptr(), &mut count),
            CKR_OK
        );
        out.truncate(count as usize);
        out
    }
}

#[test]
fn mechanisms_with_true_sizes_and_flags() {
    let p = ctx();
    let slot = slot_of("alpha");
    // The raw list: cryptoki's own drops the mechanisms it has no name for.
    let list = raw_mechanisms(slot.id());
    let wanted = [
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        CKM_EC_KEY_PAIR_GEN,
        CKM_AES_KEY_GEN,
        CKM_GENERIC_SECRET_KEY_GEN,
        CKM_RSA_PKCS,
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
        CKM_RSA_PKCS_PSS,
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
        CKM_RSA_PKCS_OAEP,
        CKM_ECDSA,
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512,
        CKM_SHA256_HMAC,
        CKM_SHA384_HMAC,
        CKM_SHA512_HMAC,
        CKM_AES_CMAC,
        CKM_AES_ECB,
        CKM_AES_CBC,
        CKM_AES_CBC_PAD,
        CKM_AES_CTR,
        CKM_AES_GCM,
        CKM_AES_KEY_WRAP,
        CKM_AES_KEY_WRAP_PAD,
        CKM_AES_KEY_WRAP_KWP,
        CKM_ECDH1_DERIVE,
        CKM_RSA_X_509,
        CKM_SHA_1,
        CKM_SHA224,
        CKM_SHA256,
        CKM_SHA384,
        CKM_SHA512,
    ];
    let mut sorted = list.clone();
    sorted.sort();
    let mut expected = wanted.to_vec();
    expected.sort();
    assert_eq!(sorted, expected, "exactly the mechanisms of issue 3");
    assert_eq!(list, raw_mechanisms(0), "the same for every token");
    // cryptoki sees the ones it knows.
    let known = p.get_mechanism_list(slot).unwrap();
    assert!(
        known.contains(&MechanismType::ECDSA_SHA256) && known.contains(&MechanismType::AES_GCM)
    );

    let info = |m| p.get_mechanism_info(slot, m).unwrap();
    let rsa = info(MechanismType::RSA_PKCS_KEY_PAIR_GEN);
    assert_eq!((rsa.min_key_size(), rsa.max_key_size()), (2048, 4096));
    assert!(rsa.generate_key_pair() && !rsa.sign());
    let pkcs = info(MechanismType::RSA_PKCS);
    assert!(
        pkcs.sign()
            && pkcs.verify()
            && pkcs.encrypt()
            && pkcs.decrypt()
            && pkcs.wrap()
            && pkcs.unwrap()
    );
    let ec = info(MechanismType::ECC_KEY_PAIR_GEN);
    assert_eq!((ec.min_key_size(), ec.max_key_size()), (256, 521));
    assert!(ec.ec_f_p() && ec.ec_from_oid() && ec.ec_uncompressed() && !ec.ec_f_2m());
    let ecdsa = info(MechanismType::ECDSA_SHA256);
    assert!(ecdsa.sign() && ecdsa.verify() && !ecdsa.encrypt() && ecdsa.ec_f_p());
    let aes = info(MechanismType::AES_GCM);
    assert_eq!((aes.min_key_size(), aes.max_key_size()), (16, 32));
    assert!(aes.encrypt() && aes.decrypt() && !aes.sign());
    let kw = info(MechanismType::AES_KEY_WRAP_PAD);
    assert!(kw.wrap() && kw.unwrap() && !kw.encrypt());
    let ecdh = info(MechanismType::ECDH1_DERIVE);
    assert!(ecdh.derive());
    // Generic secrets: 1 to 512 bytes (generation in bits, HMAC in bytes).
    let gen_secret = info(MechanismType::GENERIC_SECRET_KEY_GEN);
    assert_eq!(
        (gen_secret.min_key_size(), gen_secret.max_key_size()),
        (8, 4096)
    );
    let hmac = info(MechanismType::SHA256_HMAC);
    assert_eq!((hmac.min_key_size(), hmac.max_key_size()), (1, 512));
    assert!(hmac.sign() && hmac.verify() && !hmac.encrypt());
    let sha = info(MechanismType::SHA384);
    assert!(sha.digest() && !sha.sign());
    assert_eq!((sha.min_key_size(), sha.max_key_size()), (0, 0));
    let raw_rsa = info(MechanismType::RSA_X_509);
    assert!(raw_rsa.sign() && raw_rsa.decrypt() && !raw_rsa.wrap());
    assert_eq!(
        rv(p.get_mechanism_info(slot, MechanismType::DES3_CBC)
            .unwrap_err()),
        RvError::MechanismInvalid
    );
    let bad = Slot::try_from(77u64).unwrap();
    assert_eq!(
        rv(p.get_mechanism_list(bad).unwrap_err()),
        RvError::SlotIdInvalid
    );

    // Raw two-call convention.
    let mut count: CK_ULONG = 0;
    // SAFETY: valid pointers with the capacity given.
    unsafe {
        assert_eq!(
            raw().C_GetMechanismList(slot.id(), std::ptr::null_mut(), &mut count),
            CKR_OK
        );
        assert_eq!(count as usize, list.len());
        let mut out = vec![0 as CK_MECHANISM_TYPE; list.len()];
        count = 2;
        assert_eq!(
            raw().C_GetMechanismList(slot.id(), out.as_mut_ptr(), &mut count),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(count as usize, list.len());
    }
}

#[test]
fn sessions_open_describe_and_close() {
    let p = ctx();
    let alpha = slot_of("alpha");
    let ro = p.open_ro_session(alpha).unwrap();
    let rw = p.open_rw_session(alpha).unwrap();
    assert_ne!(ro.handle(), rw.handle());
    let info = ro.get_session_info().unwrap();
    assert_eq!(info.slot_id(), alpha);
    assert_eq!(info.session_state(), SessionState::RoPublic);
    assert!(!info.read_write());
    let info = rw.get_session_info().unwrap();
    assert_eq!(info.session_state(), SessionState::RwPublic);
    assert!(info.read_write());
    let handle = ro.handle();
    ro.close().unwrap();
    let mut raw_info = CK_SESSION_INFO::default();
    // SAFETY: a valid out pointer.
    assert_eq!(
        unsafe { raw().C_GetSessionInfo(handle, &mut raw_info) },
        CKR_SESSION_HANDLE_INVALID
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { raw().C_GetSessionInfo(rw.handle(), &mut raw_info) },
        CKR_OK
    );
    assert_eq!(raw_info.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    assert_eq!(raw_info.ulDeviceError, 0);

    // The uninitialized token has no sessions; unknown slots are refused.
    let err = p
        .open_ro_session(Slot::try_from(0u64).unwrap())
        .unwrap_err();
    assert_eq!(rv(err), RvError::TokenNotRecognized);
    let err = p
        .open_ro_session(Slot::try_from(4242u64).unwrap())
        .unwrap_err();
    assert_eq!(rv(err), RvError::SlotIdInvalid);
}

#[test]
fn close_all_sessions_closes_one_slots_sessions() {
    let p = ctx();
    let beta = slot_of("beta");
    let alpha = slot_of("alpha");
    let b1 = p.open_ro_session(beta).unwrap();
    let b2 = p.open_rw_session(beta).unwrap();
    let a = p.open_ro_session(alpha).unwrap();
    // SAFETY: a plain slot id (cryptoki has no wrapper for C_CloseAllSessions).
    assert_eq!(unsafe { raw().C_CloseAllSessions(beta.id()) }, CKR_OK);
    for s in [&b1, &b2] {
        assert_eq!(
            rv(s.get_session_info().unwrap_err()),
            RvError::SessionHandleInvalid
        );
    }
    assert!(
        a.get_session_info().is_ok(),
        "another slot's session stays open"
    );
    assert_eq!(p.get_token_info(beta).unwrap().session_count(), Some(0));
    // SAFETY: as above.
    assert_eq!(
        unsafe { raw().C_CloseAllSessions(31337) },
        CKR_SLOT_ID_INVALID
    );
}

#[test]
fn random_numbers() {
    let p = ctx();
    let s = p.open_ro_session(slot_of("alpha")).unwrap();
    let a = s.generate_random_vec(32).unwrap();
    let b = s.generate_random_vec(32).unwrap();
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    assert!(s.generate_random_vec(0).unwrap().is_empty());
    // More than the core's 1 MiB per call: the module asks in chunks.
    let big = s.generate_random_vec(3 * 1024 * 1024 + 5).unwrap();
    assert_eq!(big.len(), 3 * 1024 * 1024 + 5);
    let zeros = big.iter().filter(|b| **b == 0).count();
    assert!(zeros < big.len() / 128, "{zeros} zero bytes: not random");
    assert_ne!(big[..1024], big[big.len() - 1024..]);
    assert_eq!(
        rv(s.seed_random(b"seed").unwrap_err()),
        RvError::RandomSeedNotSupported
    );
}

/// FIPS 180 vectors for "abc".
const ABC: [(CK_MECHANISM_TYPE, &str); 5] = [
    (CKM_SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (
        CKM_SHA224,
        "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
    ),
    (
        CKM_SHA256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ),
    (
        CKM_SHA384,
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    ),
    (
        CKM_SHA512,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
];

#[test]
fn digests_single_and_multi_part() {
    let p = ctx();
    let s = p.open_ro_session(slot_of("alpha")).unwrap();
    for (mech, hex_digest) in ABC {
        let m = match mech {
            CKM_SHA_1 => Mechanism::Sha1,
            CKM_SHA224 => Mechanism::Sha224,
            CKM_SHA256 => Mechanism::Sha256,
            CKM_SHA384 => Mechanism::Sha384,
            _ => Mechanism::Sha512,
        };
        assert_eq!(hex::encode(s.digest(&m, b"abc").unwrap()), hex_digest);
        s.digest_init(&m).unwrap();
        s.digest_update(b"a").unwrap();
        s.digest_update(b"").unwrap();
        s.digest_update(b"bc").unwrap();
        assert_eq!(hex::encode(s.digest_final().unwrap()), hex_digest);
    }
    // A million 'a' (FIPS 180 long vector), in uneven parts.
    let data = vec![b'a'; 1_000_000];
    s.digest_init(&Mechanism::Sha256).unwrap();
    for part in data.chunks(65_537) {
        s.digest_update(part).unwrap();
    }
    assert_eq!(
        hex::encode(s.digest_final().unwrap()),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
}

/// Raw digest calls on a fresh session of alpha.
struct RawSession(CK_SESSION_HANDLE);

impl RawSession {
    fn open() -> RawSession {
        let slot = slot_of("alpha").id();
        let mut h = 0;
        // SAFETY: valid pointers.
        let rv = unsafe {
            raw().C_OpenSession(slot, CKF_SERIAL_SESSION, std::ptr::null_mut(), None, &mut h)
        };
        assert_eq!(rv, CKR_OK);
        RawSession(h)
    }
    fn init(&self, mechanism: CK_MECHANISM_TYPE) -> CK_RV {
        let mut m = CK_MECHANISM {
            mechanism,
            pParameter: std::ptr::null_mut(),
            ulParameterLen: 0,
        };
        // SAFETY: a valid mechanism.
        unsafe { raw().C_DigestInit(self.0, &mut m) }
    }
    fn digest(&self, data: &[u8], out: Option<&mut [u8]>, len: &mut CK_ULONG) -> CK_RV {
        let out = out.map_or(std::ptr::null_mut(), |o| o.as_mut_ptr());
        // SAFETY: `out` is NULL or has room for `*len` bytes (the callers keep that true).
        unsafe {
            raw().C_Digest(
                self.0,
                data.as_ptr() as *mut u8,
                data.len() as CK_ULONG,
                out,
                len,
            )
        }
    }
    fn update(&self, data: &[u8]) -> CK_RV {
        // SAFETY: valid input.
        unsafe { raw().C_DigestUpdate(self.0, data.as_ptr() as *mut u8, data.len() as CK_ULONG) }
    }
    fn finish(&self, out: Option<&mut [u8]>, len: &mut CK_ULONG) -> CK_RV {
        let out = out.map_or(std::ptr::null_mut(), |o| o.as_mut_ptr());
        // SAFETY: as in `digest`.
        unsafe { raw().C_DigestFinal(self.0, out, len) }
    }
}

impl Drop for RawSession {
    fn drop(&mut self) {
        // SAFETY: a plain handle.
        unsafe { raw().C_CloseSession(self.0) };
    }
}

#[test]
fn digest_two_call_convention_keeps_the_operation() {
    ctx();
    let s = RawSession::open();
    let want = hex::decode(ABC[2].1).unwrap();
    let mut len: CK_ULONG = 0;
    let mut buf = [0u8; 64];

    // Single part: ask the length, then too small, then right: the operation survives both.
    assert_eq!(s.init(CKM_SHA256), CKR_OK);
    assert_eq!(s.digest(b"abc", None, &mut len), CKR_OK);
    assert_eq!(len, 32);
    len = 31;
    assert_eq!(
        s.digest(b"abc", Some(&mut buf), &mut len),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(len, 32);
    len = 64;
    assert_eq!(s.digest(b"abc", Some(&mut buf), &mut len), CKR_OK);
    assert_eq!(len, 32);
    assert_eq!(&buf[..32], &want[..]);
    // Finished now.
    assert_eq!(
        s.digest(b"abc", Some(&mut buf), &mut len),
        CKR_OPERATION_NOT_INITIALIZED
    );

    // Multi-part: the same at C_DigestFinal.
    assert_eq!(s.init(CKM_SHA256), CKR_OK);
    assert_eq!(s.update(b"ab"), CKR_OK);
    assert_eq!(s.update(b"c"), CKR_OK);
    len = 0;
    assert_eq!(s.finish(None, &mut len), CKR_OK);
    assert_eq!(len, 32);
    len = 8;
    assert_eq!(s.finish(Some(&mut buf), &mut len), CKR_BUFFER_TOO_SMALL);
    assert_eq!(len, 32);
    buf = [0; 64];
    len = 32;
    assert_eq!(s.finish(Some(&mut buf), &mut len), CKR_OK);
    assert_eq!(&buf[..32], &want[..]);
    assert_eq!(
        s.finish(Some(&mut buf), &mut len),
        CKR_OPERATION_NOT_INITIALIZED
    );
}

#[test]
fn digest_operation_rules() {
    ctx();
    let s = RawSession::open();
    let mut len: CK_ULONG = 64;
    let mut buf = [0u8; 64];
    // Nothing started.
    assert_eq!(
        s.digest(b"x", Some(&mut buf), &mut len),
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_eq!(s.update(b"x"), CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(
        s.finish(Some(&mut buf), &mut len),
        CKR_OPERATION_NOT_INITIALIZED
    );
    // Not digests, or with a parameter.
    for m in [
        CKM_MD5,
        CKM_SHA256_HMAC,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA3_256,
        0xdead_beef,
    ] {
        assert_eq!(s.init(m), CKR_MECHANISM_INVALID, "{m:#x}");
    }
    let mut param = [0u8; 4];
    let mut m = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: param.as_mut_ptr().cast(),
        ulParameterLen: 4,
    };
    // SAFETY: a valid mechanism with a 4-byte parameter.
    assert_eq!(
        unsafe { raw().C_DigestInit(s.0, &mut m) },
        CKR_MECHANISM_PARAM_INVALID
    );
    // One at a time.
    assert_eq!(s.init(CKM_SHA384), CKR_OK);
    assert_eq!(s.init(CKM_SHA256), CKR_OPERATION_ACTIVE);
    // Still the SHA-384 operation.
    assert_eq!(s.digest(b"abc", Some(&mut buf), &mut len), CKR_OK);
    assert_eq!(hex::encode(&buf[..len as usize]), ABC[3].1);
    // C_Digest cannot end a multi-part operation; that ends it.
    assert_eq!(s.init(CKM_SHA_1), CKR_OK);
    assert_eq!(s.update(b"abc"), CKR_OK);
    len = 64;
    assert_eq!(
        s.digest(b"abc", Some(&mut buf), &mut len),
        CKR_OPERATION_ACTIVE
    );
    assert_eq!(
        s.finish(Some(&mut buf), &mut len),
        CKR_OPERATION_NOT_INITIALIZED
    );
    // Operations belong to their session.
    let other = RawSession::open();
    assert_eq!(s.init(CKM_SHA256), CKR_OK);
    assert_eq!(
        other.finish(Some(&mut buf), &mut len),
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_eq!(other.init(CKM_SHA_1), CKR_OK);
    len = 64;
    assert_eq!(s.finish(Some(&mut buf), &mut len), CKR_OK);
    assert_eq!(len, 32);
}
