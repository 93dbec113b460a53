//! Composite operations of the core: a pool created with its PINs in one commit, and a stored
//! key wrapped under another without its material leaving the core.

mod common;

use common::{envs, rsa2048};
use hsm_core::crypto::{Curve, KeyMaterial, KeySpec, WrapAlgorithm};
use hsm_core::key::{KeyOperation, KeyOps, KeyOptions};
use hsm_core::names::Tags;
use hsm_core::pin::{InitialPins, PinPolicy, PinRole};
use hsm_core::{HsmApi, KeyRef, PoolApi, PoolSettings, pool};

#[test]
fn a_pool_is_created_with_its_pins_or_not_at_all() {
    for env in envs() {
        let hsm = &env.hsm;
        let policy = PinPolicy {
            min_len: 6,
            max_len: 16,
            max_failures: 3,
        };
        let pins = InitialPins {
            policy: Some(policy),
            so: Some(b"so-secret"),
            user: Some(b"user-secret"),
        };
        hsm.create_pool_with_pins("withpins", PoolSettings::default(), Tags::new(), &pins)
            .unwrap();
        let pool = hsm.pool("withpins").unwrap();
        assert_eq!(pool.pin_policy().unwrap(), policy);
        pool.verify_pin(PinRole::So, b"so-secret").unwrap();
        pool.verify_pin(PinRole::User, b"user-secret").unwrap();
        assert_eq!(
            pool.verify_pin(PinRole::User, b"wrong-pin")
                .unwrap_err()
                .code(),
            "PinIncorrect"
        );

        // Each refusal leaves no pool behind: the name stays free.
        let short = InitialPins {
            policy: Some(policy),
            so: Some(b"short"),
            user: None,
        };
        let user_only = InitialPins {
            policy: None,
            so: None,
            user: Some(b"user-secret"),
        };
        let bad_policy = InitialPins {
            policy: Some(PinPolicy {
                min_len: 9,
                max_len: 4,
                max_failures: 3,
            }),
            so: Some(b"so-secret"),
            user: None,
        };
        for (pins, code) in [
            (short, "PinInvalid"),
            (user_only, "BadParameter"),
            (bad_policy, "BadParameter"),
        ] {
            let e = hsm
                .create_pool_with_pins("refused", PoolSettings::default(), Tags::new(), &pins)
                .unwrap_err();
            assert_eq!(e.code(), code, "{e}");
            assert!(hsm.name_in_use("refused").is_none());
        }
        // Through the trait, as the PKCS#11 module creates a token's pool.
        let api: &dyn HsmApi = hsm;
        api.create_pool_with_pins(
            "bytrait",
            &InitialPins {
                policy: None,
                so: Some(b"1234"),
                user: None,
            },
        )
        .unwrap();
        assert!(api.list_pools().unwrap().contains(&"bytrait".to_string()));
        let p = api.pool("bytrait").unwrap();
        assert!(p.pin_status(PinRole::So).unwrap().initialized);
        assert!(!p.pin_status(PinRole::User).unwrap().initialized);
    }
}

fn wrap_ops() -> KeyOptions {
    KeyOptions {
        ops: Some(KeyOps::of(&[
            KeyOperation::WrapKey,
            KeyOperation::UnwrapKey,
        ])),
        ..KeyOptions::default()
    }
}

fn exportable() -> KeyOptions {
    KeyOptions {
        exportable: true,
        ops: Some(KeyOps::of(&[KeyOperation::Sign, KeyOperation::Export])),
        ..KeyOptions::default()
    }
}

#[test]
fn a_stored_key_is_wrapped_inside_the_core() {
    for env in envs() {
        let pool = env.pool();
        let api: &dyn PoolApi = &pool;
        pool.create_key("kek", KeySpec::Aes { bits: 256 }, &wrap_ops())
            .unwrap();
        let secret_opts = KeyOptions {
            exportable: true,
            ops: Some(KeyOps::of(&[KeyOperation::Encrypt, KeyOperation::Export])),
            ..KeyOptions::default()
        };
        pool.create_key("aes", KeySpec::Aes { bits: 128 }, &secret_opts)
            .unwrap();
        pool.create_key("ec", KeySpec::Ec { curve: Curve::P384 }, &exportable())
            .unwrap();
        pool.import_key("rsa", rsa2048(), &exportable()).unwrap();
        let kwp = WrapAlgorithm::AesKwp { key_bits: None };
        let kek = KeyRef {
            name: "kek",
            version: None,
        };
        let before = env.hsm.plaintext_exports();
        for target in ["aes", "ec", "rsa"] {
            let target_ref = KeyRef {
                name: target,
                version: None,
            };
            let wrapped = api.wrap_stored_key(kek, &kwp, target_ref).unwrap();
            let spec = pool.get_key(target, None).unwrap().spec;
            let bound = pool::wrapped_len_bound(&KeySpec::Aes { bits: 256 }, &kwp, &spec).unwrap();
            assert!(
                wrapped.len() <= bound,
                "{target}: {} > {bound}",
                wrapped.len()
            );
            // The bound is close: never more than a few dozen bytes over.
            assert!(bound - wrapped.len() < 64, "{target}: bound {bound}");
            // Unwrapped, it is the key: raw for AES, PKCS#8 for private keys.
            let form = pool.unwrap_key("kek", None, &kwp, &wrapped).unwrap();
            let (_, material) = pool.export_key(target, None).unwrap();
            match material {
                KeyMaterial::Aes(bytes) => {
                    assert_eq!(form.expose_secret(), bytes.expose_secret())
                }
                other => assert_eq!(
                    form.expose_secret(),
                    other.to_pkcs8_der().unwrap().expose_secret()
                ),
            }
        }
        // Three exports above, by the test itself; none by the wraps.
        assert_eq!(env.hsm.plaintext_exports(), before + 3);

        // The rules: the wrapping key must allow wrapKey, the target export.
        let no_export = KeyOptions {
            ops: Some(KeyOps::of(&[KeyOperation::Sign])),
            exportable: true,
            ..KeyOptions::default()
        };
        pool.create_key("fixed", KeySpec::Ec { curve: Curve::P256 }, &no_export)
            .unwrap();
        let fixed = KeyRef {
            name: "fixed",
            version: None,
        };
        assert_eq!(
            api.wrap_stored_key(kek, &kwp, fixed).unwrap_err().code(),
            "OperationNotPermitted"
        );
        let not_exportable = KeyOptions {
            ops: Some(KeyOps::of(&[KeyOperation::Sign, KeyOperation::Export])),
            ..KeyOptions::default()
        };
        pool.create_key(
            "inside",
            KeySpec::Ec { curve: Curve::P256 },
            &not_exportable,
        )
        .unwrap();
        let inside = KeyRef {
            name: "inside",
            version: None,
        };
        assert_eq!(
            api.wrap_stored_key(kek, &kwp, inside).unwrap_err().code(),
            "NotExportable"
        );
        let ec = KeyRef {
            name: "ec",
            version: None,
        };
        assert_eq!(
            api.wrap_stored_key(ec, &kwp, kek).unwrap_err().code(),
            "OperationNotPermitted"
        );
        assert_eq!(
            api.wrap_stored_key(
                kek,
                &kwp,
                KeyRef {
                    name: "missing",
                    version: None
                }
            )
            .unwrap_err()
            .code(),
            "KeyNotFound"
        );
        // AES-KW (no padding) takes a 16-byte key whole: 24 bytes out.
        let kw = WrapAlgorithm::AesKw { key_bits: None };
        let aes = KeyRef {
            name: "aes",
            version: None,
        };
        assert_eq!(api.wrap_stored_key(kek, &kw, aes).unwrap().len(), 24);
        assert_eq!(env.hsm.plaintext_exports(), before + 3);
    }
}
