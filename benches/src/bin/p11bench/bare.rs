//! The baseline: the same operations called directly on hsm-core's crypto provider (the one
//! `Hsm::open` picks, so `MHSM_CRYPTO_PROVIDER` applies as it does in the module), with no
//! PKCS#11, no pool and no policy in between. The module's overhead is the ratio to this.
//! An mhsm child measures it in the same process as the module, in rounds taken in turn with
//! the module's ([`crate::p11`]), so that the machine's drift hits both alike.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail, ensure};
use hsm_core::crypto::{
    CipherAlgorithm, CryptoProvider, Curve, HashAlg, KeyMaterial, KeySpec, LoadedKey, SignAlgorithm,
};
use hsm_core::{Hsm, HsmConfig, SecretBytes};

use crate::{aes_key, digest, hmac_key, message};

/// Runs the operation `make` makes for each thread on `threads` threads for `dur`.
fn measure<M, F>(threads: usize, dur: Duration, make: M) -> Result<f64>
where
    M: Fn(usize) -> F + Sync,
    F: FnMut() -> Result<()>,
{
    crate::on_threads(threads, |t, start| {
        let op = make(t);
        start();
        crate::timed_loop(dur, op)
    })
}

/// The provider the core picks in this process (as the module's embedded core does).
pub fn provider() -> Result<Arc<dyn CryptoProvider>> {
    let hsm = Hsm::open(HsmConfig::in_memory())?;
    Ok(hsm.provider().clone())
}

/// The keys, inputs and algorithms of the bare cases, made (and checked) once.
pub struct Bare<'p> {
    p: &'p dyn CryptoProvider,
    ec: Arc<dyn LoadedKey>,
    rsa: Arc<dyn LoadedKey>,
    aes: Arc<dyn LoadedKey>,
    hmac: Arc<dyn LoadedKey>,
    /// 32 bytes: the message of the signatures and of OAEP.
    msg: Vec<u8>,
    /// SHA-256 of `msg`.
    d: Vec<u8>,
    kib: Vec<u8>,
    four_kib: Vec<u8>,
    ecdsa: SignAlgorithm,
    pkcs1: SignAlgorithm,
    pss: SignAlgorithm,
    oaep: CipherAlgorithm,
    hmac_alg: SignAlgorithm,
    cbc: CipherAlgorithm,
    ec_sig: Vec<u8>,
    rsa_sig: Vec<u8>,
    oaep_ct: Vec<u8>,
}

impl<'p> Bare<'p> {
    /// Makes the keys and checks a signature, a verification and an OAEP round trip, so a
    /// broken provider cannot look fast.
    pub fn new(p: &'p dyn CryptoProvider) -> Result<Bare<'p>> {
        let ec = p.generate_loaded(KeySpec::Ec { curve: Curve::P256 })?.1;
        let rsa = p.generate_loaded(KeySpec::Rsa { bits: 2048 })?.1;
        let aes = p.load(&KeyMaterial::Aes(SecretBytes::new(aes_key(u64::MAX))))?;
        let hmac = p.load(&KeyMaterial::Secret(SecretBytes::new(hmac_key().to_vec())))?;
        let msg = message(32);
        let d = digest(p, &msg);
        let ecdsa = SignAlgorithm::Ecdsa {
            hash: None,
            curve: None,
        };
        let pkcs1 = SignAlgorithm::RsaPkcs1v15 {
            hash: Some(HashAlg::Sha256),
        };
        let oaep = CipherAlgorithm::RsaOaep {
            hash: HashAlg::Sha1,
            mgf1: HashAlg::Sha1,
            label: vec![],
        };
        let ec_sig = ec.sign(&ecdsa, &d)?;
        ensure!(
            ec.verify(&ecdsa, &d, &ec_sig)?,
            "bare ECDSA does not verify"
        );
        let rsa_sig = rsa.sign(&pkcs1, &d)?;
        ensure!(
            rsa.verify(&pkcs1, &d, &rsa_sig)?,
            "bare RSA does not verify"
        );
        let oaep_ct = rsa.encrypt(&oaep, &msg)?.data;
        ensure!(
            rsa.decrypt(&oaep, &oaep_ct)?.expose_secret() == msg,
            "bare OAEP does not round-trip"
        );
        Ok(Bare {
            p,
            ec,
            rsa,
            aes,
            hmac,
            msg,
            d,
            kib: message(1024),
            four_kib: message(4096),
            ecdsa,
            pkcs1,
            pss: SignAlgorithm::RsaPss {
                hash: HashAlg::Sha256,
                mgf1: HashAlg::Sha256,
                salt_len: 32,
            },
            oaep,
            hmac_alg: SignAlgorithm::Hmac {
                hash: HashAlg::Sha256,
            },
            cbc: CipherAlgorithm::AesCbc {
                key_bits: None,
                iv: [7; 16],
                padding: true,
            },
            ec_sig,
            rsa_sig,
            oaep_ct,
        })
    }

    /// Ops/s of case `id` on `t` threads for `dur`.
    pub fn ops_per_sec(&self, id: &str, t: usize, dur: Duration) -> Result<f64> {
        let p = self.p;
        match id {
            "random" => measure(t, dur, |_| {
                let mut buf = [0u8; 32];
                move || Ok(p.fill_random(&mut buf)?)
            }),
            "sha256" => measure(t, dur, |_| {
                || {
                    digest(p, &self.kib);
                    Ok(())
                }
            }),
            "ecdsa-sign" | "ecdsa-verify" | "rsa-pkcs1-sign" | "rsa-pss-sign" | "rsa-verify" => {
                self.signatures(id, t, dur)
            }
            "rsa-oaep-decrypt" => measure(t, dur, |_| {
                || {
                    self.rsa.decrypt(&self.oaep, &self.oaep_ct)?;
                    Ok(())
                }
            }),
            "aes-gcm" => measure(t, dur, |thread| {
                let mut n = 0u64;
                let aes: &dyn LoadedKey = self.aes.as_ref();
                let four_kib = &self.four_kib;
                move || {
                    n += 1;
                    let alg = CipherAlgorithm::AesGcm {
                        key_bits: None,
                        iv: Some(crate::p11::gcm_iv(thread, n).to_vec()),
                        aad: vec![],
                        tag_len: 16,
                    };
                    aes.encrypt(&alg, four_kib)?;
                    Ok(())
                }
            }),
            "aes-cbc-pad" => measure(t, dur, |_| {
                || {
                    self.aes.encrypt(&self.cbc, &self.four_kib)?;
                    Ok(())
                }
            }),
            "hmac" => measure(t, dur, |_| {
                || {
                    self.hmac.sign(&self.hmac_alg, &self.kib)?;
                    Ok(())
                }
            }),
            "gen-ec" | "gen-aes" | "gen-rsa" => {
                let spec = match id {
                    "gen-ec" => KeySpec::Ec { curve: Curve::P256 },
                    "gen-aes" => KeySpec::Aes { bits: 256 },
                    _ => KeySpec::Rsa { bits: 2048 },
                };
                measure(t, dur, |_| {
                    || {
                        p.generate_loaded(spec)?;
                        Ok(())
                    }
                })
            }
            other => bail!("no bare measurement for {other}"),
        }
    }

    /// The signature cases.
    fn signatures(&self, id: &str, t: usize, dur: Duration) -> Result<f64> {
        let (p, ec, rsa, d) = (self.p, &self.ec, &self.rsa, &self.d);
        match id {
            "ecdsa-sign" => measure(t, dur, |_| {
                || {
                    ec.sign(&self.ecdsa, d)?;
                    Ok(())
                }
            }),
            "ecdsa-verify" => measure(t, dur, |_| {
                || {
                    ensure!(
                        ec.verify(&self.ecdsa, d, &self.ec_sig)?,
                        "ECDSA verify failed"
                    );
                    Ok(())
                }
            }),
            // The module hashes the message for CKM_SHA256_RSA_PKCS(_PSS); so does this.
            "rsa-pkcs1-sign" | "rsa-pss-sign" => {
                let alg = if id == "rsa-pss-sign" {
                    &self.pss
                } else {
                    &self.pkcs1
                };
                measure(t, dur, |_| {
                    || {
                        rsa.sign(alg, &digest(p, &self.msg))?;
                        Ok(())
                    }
                })
            }
            _ => measure(t, dur, |_| {
                || {
                    let ok = rsa.verify(&self.pkcs1, &digest(p, &self.msg), &self.rsa_sig)?;
                    ensure!(ok, "RSA verify failed");
                    Ok(())
                }
            }),
        }
    }
}
