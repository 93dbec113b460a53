//! RSA with aws-lc-rs: PKCS#1 v1.5 and PSS signatures over a digest, their verification,
//! OAEP and PKCS#1 v1.5 encryption and decryption, and key generation. Everything else (raw RSA,
//! unusual hash, salt and MGF1 combinations, keys under 2048 bits) is passed on; imported
//! material arrives validated and complete from the full provider, so the composite accepts
//! exactly the keys that provider accepts.

use std::sync::{Arc, OnceLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPair, KeyPairComponents, KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256,
    OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey, PublicKeyComponents,
};
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaEncoding, RsaParameters};
use der::Reader;
use der::asn1::UintRef;
use zeroize::Zeroizing;

use super::import_digest;
use crate::crypto::alg::{CipherAlgorithm, Ciphertext, HashAlg, SignAlgorithm, WrapAlgorithm};
use crate::crypto::material::{KeyMaterial, KeySpec, PublicKey, RsaPrivateParts, bit_len};
use crate::crypto::provider::PartialKey;
use crate::crypto::shared::trim_leading_zeros;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// Sizes aws-lc-rs generates.
pub fn fast_size(bits: u32) -> bool {
    matches!(bits, 2048 | 3072 | 4096 | 8192)
}

/// Generates a key (e = 65537) with AWS-LC, as material and loaded.
pub fn generate(bits: u32) -> Result<(KeyMaterial, Arc<dyn PartialKey>)> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        8192 => KeySize::Rsa8192,
        _ => return Err(Error::internal("RSA size aws-lc-rs does not generate")),
    };
    let pair = KeyPair::generate(size).map_err(|_| Error::RandomFailure)?;
    let pkcs8 = pair
        .as_der()
        .map_err(|_| Error::internal("RSA key export"))?;
    let parts = parts_from_pkcs8(pkcs8.as_ref())?;
    let key = RsaKey::new(&parts.n, &parts.e, Some(pair))?;
    Ok((KeyMaterial::Rsa(parts), Arc::new(key)))
}

/// Loads private key material the full provider has validated and completed (with its CRT
/// values); `None` for keys under 2048 bits, which are not this provider's.
pub fn load(parts: &RsaPrivateParts) -> Option<Result<Arc<dyn PartialKey>>> {
    if bit_len(&parts.n) < 2048 {
        return None;
    }
    let (dp, dq, qi) = (parts.dp.as_ref()?, parts.dq.as_ref()?, parts.qi.as_ref()?);
    let components = KeyPairComponents {
        public_key: PublicKeyComponents {
            n: trim_leading_zeros(&parts.n),
            e: trim_leading_zeros(&parts.e),
        },
        d: parts.d.expose_secret(),
        p: parts.p.expose_secret(),
        q: parts.q.expose_secret(),
        dP: dp.expose_secret(),
        dQ: dq.expose_secret(),
        qInv: qi.expose_secret(),
    };
    let key = KeyPair::from_components(&components)
        .map_err(|_| Error::material("the RSA key is inconsistent"))
        .and_then(|pair| RsaKey::new(&parts.n, &parts.e, Some(pair)));
    Some(key.map(|k| Arc::new(k) as Arc<dyn PartialKey>))
}

/// Loads a public key the full provider has accepted; `None` under 2048 bits.
pub fn load_public(n: &[u8], e: &[u8]) -> Option<Result<Arc<dyn PartialKey>>> {
    if bit_len(n) < 2048 {
        return None;
    }
    Some(RsaKey::new(n, e, None).map(|k| Arc::new(k) as Arc<dyn PartialKey>))
}

/// The JWK-style components of an unencrypted PKCS#8 RSA key.
fn parts_from_pkcs8(pkcs8: &[u8]) -> Result<RsaPrivateParts> {
    let bad = || Error::internal("RSA key export is not PKCS#8");
    let info = pkcs8::PrivateKeyInfoRef::try_from(pkcs8).map_err(|_| bad())?;
    let rsa = info.private_key.as_bytes();
    let mut reader = der::SliceReader::new(rsa).map_err(|_| bad())?;
    let parts = reader
        .sequence(|r| {
            let _version: u8 = r.decode()?;
            let mut next = || -> der::Result<Zeroizing<Vec<u8>>> {
                let v: UintRef<'_> = r.decode()?;
                Ok(Zeroizing::new(v.as_bytes().to_vec()))
            };
            let n = next()?;
            let e = next()?;
            let d = next()?;
            let p = next()?;
            let q = next()?;
            let dp = next()?;
            let dq = next()?;
            let qi = next()?;
            der::Result::Ok(RsaPrivateParts {
                n: n.to_vec(),
                e: e.to_vec(),
                d: SecretBytes::from(d),
                p: SecretBytes::from(p),
                q: SecretBytes::from(q),
                dp: Some(SecretBytes::from(dp)),
                dq: Some(SecretBytes::from(dq)),
                qi: Some(SecretBytes::from(qi)),
            })
        })
        .map_err(|_: der::Error| bad())?;
    Ok(parts)
}

/// The verification algorithms kept parsed, one slot each.
const VERIFIERS: [&RsaParameters; 6] = [
    &signature::RSA_PKCS1_2048_8192_SHA256,
    &signature::RSA_PKCS1_2048_8192_SHA384,
    &signature::RSA_PKCS1_2048_8192_SHA512,
    &signature::RSA_PSS_2048_8192_SHA256,
    &signature::RSA_PSS_2048_8192_SHA384,
    &signature::RSA_PSS_2048_8192_SHA512,
];

/// The private-key decryptors, made on first decryption.
struct Decryptors {
    oaep: OaepPrivateDecryptingKey,
    pkcs1: Pkcs1PrivateDecryptingKey,
}

/// A loaded RSA key of 2048 bits or more: the aws-lc key pair (None for public-only keys), the
/// public numbers, and aws-lc objects made on first use.
pub struct RsaKey {
    pair: Option<KeyPair>,
    /// n and e without leading zeros.
    n: Vec<u8>,
    e: Vec<u8>,
    bits: u32,
    k: usize,
    verifiers: [OnceLock<Option<ParsedPublicKey>>; 6],
    encryptor: OnceLock<Option<PublicEncryptingKey>>,
    decryptors: OnceLock<Option<Decryptors>>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bits = self.bits;
        match self.pair {
            Some(_) => write!(f, "RsaKey({bits} bits, aws-lc, private: [REDACTED])"),
            None => write!(f, "RsaKey({bits} bits, aws-lc, public only)"),
        }
    }
}

impl RsaKey {
    fn new(n: &[u8], e: &[u8], pair: Option<KeyPair>) -> Result<Self> {
        let (n, e) = (trim_leading_zeros(n), trim_leading_zeros(e));
        let bits = bit_len(n);
        let k = usize::try_from(bits)
            .map_err(|_| Error::internal("RSA size"))?
            .div_ceil(8);
        Ok(Self {
            pair,
            n: n.to_vec(),
            e: e.to_vec(),
            bits,
            k,
            verifiers: Default::default(),
            encryptor: OnceLock::new(),
            decryptors: OnceLock::new(),
        })
    }

    fn components(&self) -> PublicKeyComponents<&[u8]> {
        PublicKeyComponents {
            n: self.n.as_slice(),
            e: self.e.as_slice(),
        }
    }

    fn verifier(&self, slot: usize) -> Option<&ParsedPublicKey> {
        let cell = self.verifiers.get(slot)?;
        cell.get_or_init(|| {
            let params = VERIFIERS.get(slot)?;
            self.components().to_parsed_public_key(params).ok()
        })
        .as_ref()
    }

    fn encryptor(&self) -> Option<&PublicEncryptingKey> {
        self.encryptor
            .get_or_init(|| self.components().try_into().ok())
            .as_ref()
    }

    fn decryptors(&self) -> Option<&Decryptors> {
        self.decryptors
            .get_or_init(|| {
                let pkcs8 = self.pair.as_ref()?.as_der().ok()?;
                let private = PrivateDecryptingKey::from_pkcs8(pkcs8.as_ref()).ok()?;
                Some(Decryptors {
                    oaep: OaepPrivateDecryptingKey::new(private.clone()).ok()?,
                    pkcs1: Pkcs1PrivateDecryptingKey::new(private).ok()?,
                })
            })
            .as_ref()
    }

    /// The fast path of a signature scheme: the signing encoding, the verifier slot and the
    /// digest, when the input is a digest (or a DigestInfo) of SHA-256/384/512 and PSS uses
    /// the hash for MGF1 and a salt of the hash's length.
    fn fast_scheme(
        &self,
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Option<(&'static dyn RsaEncoding, usize, aws_lc_rs::digest::Digest)> {
        let (pss, hash, digest) = match alg {
            SignAlgorithm::RsaPkcs1v15 { hash: Some(h) } => (false, *h, input),
            SignAlgorithm::RsaPkcs1v15 { hash: None } => {
                let (h, digest) = split_digest_info(input)?;
                (false, h, digest)
            }
            SignAlgorithm::RsaPss {
                hash,
                mgf1,
                salt_len,
            } if mgf1 == hash && *salt_len == hash.output_len() => (true, *hash, input),
            _ => return None,
        };
        let (encoding, slot): (&'static dyn RsaEncoding, usize) = match (pss, hash) {
            (false, HashAlg::Sha256) => (&signature::RSA_PKCS1_SHA256, 0),
            (false, HashAlg::Sha384) => (&signature::RSA_PKCS1_SHA384, 1),
            (false, HashAlg::Sha512) => (&signature::RSA_PKCS1_SHA512, 2),
            (true, HashAlg::Sha256) => (&signature::RSA_PSS_SHA256, 3),
            (true, HashAlg::Sha384) => (&signature::RSA_PSS_SHA384, 4),
            (true, HashAlg::Sha512) => (&signature::RSA_PSS_SHA512, 5),
            _ => return None,
        };
        Some((encoding, slot, import_digest(hash, digest)?))
    }

    fn fast_encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Option<Result<Vec<u8>>> {
        let key = self.encryptor()?.clone();
        let mut out = vec![0; self.k];
        let written = match alg {
            CipherAlgorithm::RsaPkcs1v15 if plaintext.len().saturating_add(11) <= self.k => {
                Pkcs1PublicEncryptingKey::new(key)
                    .ok()?
                    .encrypt(plaintext, &mut out)
                    .map(|c| c.len())
            }
            CipherAlgorithm::RsaOaep { hash, mgf1, label }
                if plaintext.len().saturating_add(2 * hash.output_len() + 2) <= self.k =>
            {
                let oaep = oaep_alg(*hash, *mgf1)?;
                OaepPublicEncryptingKey::new(key)
                    .ok()?
                    .encrypt(oaep, plaintext, &mut out, label_of(label))
                    .map(|c| c.len())
            }
            _ => return None,
        };
        Some(match written {
            Ok(len) => {
                out.truncate(len);
                Ok(out)
            }
            Err(_) => Err(Error::internal("RSA encryption failed")),
        })
    }

    /// The fast path of decryption: a private key of 2048 bits or more, a ciphertext of the
    /// modulus' length, PKCS#1 v1.5 or OAEP that AWS-LC offers.
    ///
    /// PKCS#1 v1.5 with bad padding is `DecryptionFailed` here (AWS-LC checks the padding in
    /// constant time but has no implicit rejection); the RustCrypto provider returns a
    /// synthetic message instead.
    fn fast_decrypt(
        &self,
        alg: &CipherAlgorithm,
        ciphertext: &[u8],
    ) -> Option<Result<SecretBytes>> {
        if ciphertext.len() != self.k {
            return None;
        }
        let d = self.decryptors()?;
        let mut out = Zeroizing::new(vec![0; self.k]);
        let result = match alg {
            CipherAlgorithm::RsaPkcs1v15 => d.pkcs1.decrypt(ciphertext, &mut out),
            CipherAlgorithm::RsaOaep { hash, mgf1, label } => d.oaep.decrypt(
                oaep_alg(*hash, *mgf1)?,
                ciphertext,
                &mut out,
                label_of(label),
            ),
            _ => return None,
        };
        Some(match result {
            Ok(plain) => {
                let len = plain.len();
                out.truncate(len);
                Ok(SecretBytes::from(out))
            }
            Err(_) => Err(Error::DecryptionFailed),
        })
    }
}

fn label_of(label: &[u8]) -> Option<&[u8]> {
    (!label.is_empty()).then_some(label)
}

fn oaep_alg(hash: HashAlg, mgf1: HashAlg) -> Option<&'static OaepAlgorithm> {
    match (hash, mgf1) {
        (HashAlg::Sha1, HashAlg::Sha1) => Some(&OAEP_SHA1_MGF1SHA1),
        (HashAlg::Sha256, HashAlg::Sha256) => Some(&OAEP_SHA256_MGF1SHA256),
        (HashAlg::Sha384, HashAlg::Sha384) => Some(&OAEP_SHA384_MGF1SHA384),
        (HashAlg::Sha512, HashAlg::Sha512) => Some(&OAEP_SHA512_MGF1SHA512),
        _ => None,
    }
}

/// The DER prefixes of a DigestInfo (RFC 8017 9.2 note 1) for the hashes of the fast path.
const DIGEST_INFO: [(HashAlg, &[u8]); 3] = [
    (
        HashAlg::Sha256,
        &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
    ),
    (
        HashAlg::Sha384,
        &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
    ),
    (
        HashAlg::Sha512,
        &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    ),
];

/// A DigestInfo (the input of `CKM_RSA_PKCS` signing) split into its hash and digest: signing
/// the DigestInfo raw is then exactly signing the digest with that hash.
fn split_digest_info(input: &[u8]) -> Option<(HashAlg, &[u8])> {
    DIGEST_INFO.iter().find_map(|(hash, prefix)| {
        let digest = input.strip_prefix(*prefix)?;
        (digest.len() == hash.output_len()).then_some((*hash, digest))
    })
}

impl PartialKey for RsaKey {
    fn spec(&self) -> KeySpec {
        KeySpec::Rsa { bits: self.bits }
    }

    fn has_private(&self) -> bool {
        self.pair.is_some()
    }

    fn public_key(&self) -> Option<PublicKey> {
        Some(PublicKey::Rsa {
            n: self.n.clone(),
            e: self.e.clone(),
        })
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Option<Result<Vec<u8>>> {
        let pair = self.pair.as_ref()?;
        let (encoding, _, digest) = self.fast_scheme(alg, input)?;
        let mut sig = vec![0; pair.public_modulus_len()];
        Some(
            pair.sign_digest(encoding, &digest, &mut sig)
                .map(|()| sig)
                .map_err(|_| Error::internal("RSA signing failed")),
        )
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Option<Result<bool>> {
        let (_, slot, digest) = self.fast_scheme(alg, input)?;
        let verifier = self.verifier(slot)?;
        Some(Ok(verifier.verify_digest_sig(&digest, signature).is_ok()))
    }

    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Option<Result<Ciphertext>> {
        let data = self.fast_encrypt(alg, plaintext)?;
        Some(data.map(|data| Ciphertext {
            data,
            iv: None,
            tag: None,
        }))
    }

    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Option<Result<SecretBytes>> {
        self.fast_decrypt(alg, ciphertext)
    }

    fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Option<Result<Vec<u8>>> {
        self.fast_encrypt(&alg.as_rsa_cipher()?, key)
    }

    fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Option<Result<SecretBytes>> {
        self.fast_decrypt(&alg.as_rsa_cipher()?, wrapped)
    }
}
