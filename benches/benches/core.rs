//! Core operations beside the same operation on the bare crates, in one criterion group each,
//! so the core's overhead reads as a ratio: ES256, RS256 and PS256 signing, AES-256-GCM on
//! 4 KiB, EC P-256 and RSA-2048 key generation.
//!
//! `mhsm-<provider>` runs the core on an in-memory store with that crypto provider (each one
//! built in); `mhsm-sled` adds the durable write of a sled store (default provider) where an
//! operation writes. The bare crates: RustCrypto's (`p256`, `rsa`, `aes-gcm`) and `aws-lc-rs`.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aws_lc_rs as awslc;
use criterion::{Criterion, criterion_group, criterion_main};
use getrandom::SysRng;
use hsm_core::crypto::{CipherAlgorithm, Curve, KeySpec, jwa};
use hsm_core::key::KeyOptions;
use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, Pool, PoolSettings};
use sha2::{Digest, Sha256};

fn pool(hsm: &Hsm) -> Pool {
    hsm.create_pool("bench", PoolSettings::default(), Tags::new())
        .unwrap();
    hsm.pool("bench").unwrap()
}

/// One in-memory pool per provider built in, with the provider's name.
fn memory_pools() -> Vec<(String, Pool)> {
    hsm_core::crypto::all_providers()
        .into_iter()
        .map(|p| {
            let name = format!("mhsm-{}", p.name());
            (
                name,
                pool(&Hsm::open(HsmConfig::in_memory().provider(p)).unwrap()),
            )
        })
        .collect()
}

fn digest() -> [u8; 32] {
    Sha256::digest(b"the message to sign").into()
}

fn signing(c: &mut Criterion) {
    let pools = memory_pools();
    let d = digest();
    es256_signing(c, &pools, d);
    rsa_signing(c, &pools, d);
}

/// ES256 in each pool beside aws-lc-rs and `p256`, all with one key (exported from the first
/// pool).
fn es256_signing(c: &mut Criterion, pools: &[(String, Pool)], d: [u8; 32]) {
    let pool = &pools[0].1;
    let (_, material) = {
        let exportable = KeyOptions {
            exportable: true,
            ops: Some(hsm_core::key::KeyOps::of(&[
                hsm_core::key::KeyOperation::Sign,
                hsm_core::key::KeyOperation::Export,
            ])),
            ..KeyOptions::default()
        };
        pool.create_key("ec-x", KeySpec::Ec { curve: Curve::P256 }, &exportable)
            .unwrap();
        pool.export_key("ec-x", None).unwrap()
    };
    let hsm_core::crypto::KeyMaterial::Ec { d: scalar, .. } = material else {
        unreachable!()
    };
    let bare_ec = p256::ecdsa::SigningKey::from_slice(scalar.expose_secret()).unwrap();
    let es256 = jwa::sign_algorithm("ES256").unwrap();
    let mut g = c.benchmark_group("es256_sign");
    for (name, pool) in pools {
        let material = hsm_core::crypto::KeyMaterial::Ec {
            curve: Curve::P256,
            d: scalar.duplicate(),
        };
        pool.import_key("ec", material, &KeyOptions::default())
            .unwrap();
        g.bench_function(name.as_str(), |b| {
            b.iter(|| pool.sign("ec", None, &es256, black_box(&d)).unwrap())
        });
    }
    let aws_ec = awslc::signature::EcdsaKeyPair::generate(
        &awslc::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    g.bench_function("aws-lc-rs", |b| {
        b.iter(|| {
            let digest =
                awslc::digest::Digest::import_less_safe(black_box(&d), &awslc::digest::SHA256)
                    .unwrap();
            aws_ec.sign_digest(&digest).unwrap()
        })
    });
    g.bench_function("p256", |b| {
        use p256::ecdsa::signature::hazmat::RandomizedPrehashSigner;
        b.iter(|| {
            let sig: p256::ecdsa::Signature = bare_ec
                .sign_prehash_with_rng(&mut SysRng, black_box(&d))
                .unwrap();
            sig
        })
    });
    g.finish();
}

/// RS256 and PS256 in each pool beside aws-lc-rs and `rsa`, the pools sharing one key.
fn rsa_signing(c: &mut Criterion, pools: &[(String, Pool)], d: [u8; 32]) {
    let bare_rsa = rsa::PrivateKey::new(&mut SysRng, 2048).unwrap();
    let rsa_material = {
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let [p, q] = bare_rsa.primes() else {
            unreachable!()
        };
        hsm_core::crypto::KeyMaterial::Rsa(hsm_core::crypto::RsaPrivateParts {
            n: bare_rsa.n().to_be_bytes().to_vec(),
            e: bare_rsa.e().to_be_bytes().to_vec(),
            d: hsm_core::SecretBytes::new(bare_rsa.d().to_be_bytes().to_vec()),
            p: hsm_core::SecretBytes::new(p.to_be_bytes().to_vec()),
            q: hsm_core::SecretBytes::new(q.to_be_bytes().to_vec()),
            dp: None,
            dq: None,
            qi: None,
        })
    };
    let rsa_sealed = rsa_material.encode();
    for (_, pool) in pools {
        let material = hsm_core::crypto::KeyMaterial::decode(rsa_sealed.expose_secret()).unwrap();
        pool.import_key("rsa", material, &KeyOptions::default())
            .unwrap();
    }
    let aws_rsa = awslc::rsa::KeyPair::generate(awslc::rsa::KeySize::Rsa2048).unwrap();
    for (alg, group) in [("RS256", "rs256_sign"), ("PS256", "ps256_sign")] {
        let jws = jwa::sign_algorithm(alg).unwrap();
        let mut g = c.benchmark_group(group);
        for (name, pool) in pools {
            g.bench_function(name.as_str(), |b| {
                b.iter(|| pool.sign("rsa", None, &jws, black_box(&d)).unwrap())
            });
        }
        let encoding: &'static dyn awslc::signature::RsaEncoding = if alg == "RS256" {
            &awslc::signature::RSA_PKCS1_SHA256
        } else {
            &awslc::signature::RSA_PSS_SHA256
        };
        g.bench_function("aws-lc-rs", |b| {
            b.iter(|| {
                let digest =
                    awslc::digest::Digest::import_less_safe(black_box(&d), &awslc::digest::SHA256)
                        .unwrap();
                let mut sig = vec![0; aws_rsa.public_modulus_len()];
                aws_rsa.sign_digest(encoding, &digest, &mut sig).unwrap();
                sig
            })
        });
        g.bench_function("rsa", |b| {
            b.iter(|| {
                if alg == "RS256" {
                    bare_rsa.sign_with_rng(
                        &mut SysRng,
                        rsa::pkcs1v15::Pkcs1v15Sign::new::<Sha256>(),
                        black_box(&d),
                    )
                } else {
                    bare_rsa.sign_with_rng(
                        &mut SysRng,
                        rsa::Pss::<Sha256>::new_with_salt(32),
                        black_box(&d),
                    )
                }
                .unwrap()
            })
        });
        g.finish();
    }
}

fn aes_gcm(c: &mut Criterion) {
    let pools = memory_pools();
    let alg = jwa::cipher_algorithm("A256GCM", None, None).unwrap();
    let data = vec![0x5au8; 4096];
    let bare = aes_gcm::Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap();
    let mut g = c.benchmark_group("a256gcm_encrypt_4k");
    g.throughput(criterion::Throughput::Bytes(4096));
    for (name, pool) in &pools {
        pool.create_key("aes", KeySpec::Aes { bits: 256 }, &KeyOptions::default())
            .unwrap();
        g.bench_function(name.as_str(), |b| {
            b.iter(|| pool.encrypt("aes", None, &alg, black_box(&data)).unwrap())
        });
    }
    let aws = awslc::aead::LessSafeKey::new(
        awslc::aead::UnboundKey::new(&awslc::aead::AES_256_GCM, &[7u8; 32]).unwrap(),
    );
    g.bench_function("aws-lc-rs", |b| {
        b.iter(|| {
            let mut nonce = [0u8; 12];
            awslc::rand::fill(&mut nonce).unwrap();
            let mut buf = data.clone();
            let tag = aws
                .seal_in_place_separate_tag(
                    awslc::aead::Nonce::assume_unique_for_key(nonce),
                    awslc::aead::Aad::empty(),
                    &mut buf,
                )
                .unwrap();
            (buf, tag)
        })
    });
    g.bench_function("aes-gcm", |b| {
        b.iter(|| {
            let mut nonce = [0u8; 12];
            getrandom::fill(&mut nonce).unwrap();
            let mut buf = data.clone();
            bare.encrypt_in_place(&nonce.into(), b"", &mut buf).unwrap();
            buf
        })
    });
    g.finish();
    let _ = CipherAlgorithm::AesEcb;
}

fn keygen(c: &mut Criterion) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let next = || format!("k{}", N.fetch_add(1, Ordering::Relaxed));
    let pools = memory_pools();
    let dir = std::env::temp_dir().join(format!("mhsm-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sled_hsm = Hsm::open(HsmConfig::new(&dir)).unwrap();
    let sled = pool(&sled_hsm);
    let ec = KeySpec::Ec { curve: Curve::P256 };

    let mut g = c.benchmark_group("ec_p256_keygen");
    for (name, mem) in &pools {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| mem.create_key(&next(), ec, &KeyOptions::default()).unwrap())
        });
    }
    g.bench_function("aws-lc-rs", |b| {
        b.iter(|| {
            awslc::signature::EcdsaKeyPair::generate(
                &awslc::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            )
            .unwrap()
        })
    });
    g.bench_function("mhsm-sled", |b| {
        b.iter(|| {
            sled.create_key(&next(), ec, &KeyOptions::default())
                .unwrap()
        })
    });
    g.bench_function("p256", |b| {
        use p256::elliptic_curve::Generate;
        b.iter(|| p256::ecdsa::SigningKey::try_generate_from_rng(&mut SysRng).unwrap())
    });
    g.finish();

    let rsa = KeySpec::Rsa { bits: 2048 };
    let mut g = c.benchmark_group("rsa2048_keygen");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for (name, mem) in &pools {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| {
                mem.create_key(&next(), rsa, &KeyOptions::default())
                    .unwrap()
            })
        });
    }
    g.bench_function("aws-lc-rs", |b| {
        b.iter(|| awslc::rsa::KeyPair::generate(awslc::rsa::KeySize::Rsa2048).unwrap())
    });
    g.bench_function("rsa", |b| {
        b.iter(|| rsa::PrivateKey::new(&mut SysRng, 2048).unwrap())
    });
    g.finish();
    drop(sled);
    drop(sled_hsm);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, signing, aes_gcm, keygen);
criterion_main!(benches);
