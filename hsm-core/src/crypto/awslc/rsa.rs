//! RSA with aws-lc-rs: PKCS#1 v1.5 and PSS signatures over a digest, their verification,
//! OAEP and PKCS#1 v1.5 encryption and decryption, and key generation. Everything else (raw RSA,
//! unusual hash, salt and MGF1 combinations, keys under 2048 bits) goes to the RustCrypto key,
//! which is also what validates imported material, so both providers accept the same keys.

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
use crate::crypto::material::{KeyMaterial, KeySpec, PublicKey, RsaPrivateParts};
use crate::crypto::provider::LoadedKey;
use crate::crypto::rustcrypto::rsa::RsaKey as RcRsaKey;
use crate::crypto::rustcrypto::trim_leading_zeros;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// Sizes aws-lc-rs generates.
pub fn fast_size(bits: u32) -> bool {
    matches!(bits, 2048 | 3072 | 4096 | 8192)
}

/// Generates a key (e = 65537) with AWS-LC, as material and loaded.
pub fn generate_loaded(bits: u32) -> Result<(KeyMaterial, Arc<dyn LoadedKey>)> {
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
    // The RustCrypto key is the delegate; the material is AWS-LC's own, so it is consistent.
    let delegate = RcRsaKey::from_parts(&parts)?;
    let key = RsaKey::new(delegate, Some(pair))?;
    Ok((KeyMaterial::Rsa(parts), Arc::new(key)))
}

/// Parses and validates private key material (by the RustCrypto provider's rules).
pub fn load(parts: &RsaPrivateParts) -> Result<Arc<dyn LoadedKey>> {
    let delegate = RcRsaKey::from_parts(parts)?;
    let pair = if delegate_bits(&delegate) >= 2048 {
        // With the CRT values the delegate computed when they were absent.
        let full = delegate.parts()?;
        let components = KeyPairComponents {
            public_key: PublicKeyComponents {
                n: trim_leading_zeros(&full.n),
                e: trim_leading_zeros(&full.e),
            },
            d: full.d.expose_secret(),
            p: full.p.expose_secret(),
            q: full.q.expose_secret(),
            dP: secret_or_empty(&full.dp),
            dQ: secret_or_empty(&full.dq),
            qInv: secret_or_empty(&full.qi),
        };
        Some(
            KeyPair::from_components(&components)
                .map_err(|_| Error::material("the RSA key is inconsistent"))?,
        )
    } else {
        None
    };
    Ok(Arc::new(RsaKey::new(delegate, pair)?))
}

fn secret_or_empty(s: &Option<SecretBytes>) -> &[u8] {
    s.as_ref().map_or(&[], SecretBytes::expose_secret)
}

/// Parses a public key (checked by the RustCrypto provider's rules).
pub fn load_public(n: &[u8], e: &[u8]) -> Result<Arc<dyn LoadedKey>> {
    Ok(Arc::new(RsaKey::new(RcRsaKey::from_public(n, e)?, None)?))
}

fn delegate_bits(key: &RcRsaKey) -> u32 {
    match key.spec() {
        KeySpec::Rsa { bits } => bits,
        _ => 0,
    }
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

/// A loaded RSA key: the RustCrypto key (validation, public parts, delegate), the aws-lc key
/// pair (None for public-only keys and keys under 2048 bits), and aws-lc objects made on
/// first use.
pub struct RsaKey {
    delegate: RcRsaKey,
    pair: Option<KeyPair>,
    /// n and e without leading zeros, when the fast path is on (2048 bits and more).
    fast_public: Option<(Vec<u8>, Vec<u8>)>,
    k: usize,
    verifiers: [OnceLock<Option<ParsedPublicKey>>; 6],
    encryptor: OnceLock<Option<PublicEncryptingKey>>,
    decryptors: OnceLock<Option<Decryptors>>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bits = delegate_bits(&self.delegate);
        match self.has_private() {
            true => write!(f, "RsaKey({bits} bits, aws-lc, private: [REDACTED])"),
            false => write!(f, "RsaKey({bits} bits, aws-lc, public only)"),
        }
    }
}

impl RsaKey {
    fn new(delegate: RcRsaKey, pair: Option<KeyPair>) -> Result<Self> {
        let bits = delegate_bits(&delegate);
        let Some(PublicKey::Rsa { n, e }) = delegate.public_key() else {
            return Err(Error::internal("RSA key without public parts"));
        };
        let k = usize::try_from(bits)
            .map_err(|_| Error::internal("RSA size"))?
            .div_ceil(8);
        let fast_public = (bits >= 2048).then(|| {
            (
                trim_leading_zeros(&n).to_vec(),
                trim_leading_zeros(&e).to_vec(),
            )
        });
        Ok(Self {
            delegate,
            pair,
            fast_public,
            k,
            verifiers: Default::default(),
            encryptor: OnceLock::new(),
            decryptors: OnceLock::new(),
        })
    }

    fn components(&self) -> Option<PublicKeyComponents<&[u8]>> {
        self.fast_public.as_ref().map(|(n, e)| PublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        })
    }

    fn verifier(&self, slot: usize) -> Option<&ParsedPublicKey> {
        let cell = self.verifiers.get(slot)?;
        cell.get_or_init(|| {
            let params = VERIFIERS.get(slot)?;
            self.components()?.to_parsed_public_key(params).ok()
        })
        .as_ref()
    }

    fn encryptor(&self) -> Option<&PublicEncryptingKey> {
        self.encryptor
            .get_or_init(|| self.components()?.try_into().ok())
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
        self.fast_public.as_ref()?;
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

    fn encrypt_bytes(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Vec<u8>> {
        match self.fast_encrypt(alg, plaintext) {
            Some(result) => result,
            None => Ok(self.delegate.encrypt(alg, plaintext)?.data),
        }
    }

    /// The fast path of decryption: a private key of 2048 bits or more, a ciphertext of the
    /// modulus' length, PKCS#1 v1.5 or OAEP that AWS-LC offers.
    ///
    /// PKCS#1 v1.5 with bad padding is `DecryptionFailed` here (AWS-LC checks the padding in
    /// constant time but has no implicit rejection); the RustCrypto provider returns a
    /// synthetic message instead.
    fn decrypt_bytes(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        if ciphertext.len() == self.k
            && let Some(d) = self.decryptors()
        {
            let mut out = Zeroizing::new(vec![0; self.k]);
            let result = match alg {
                CipherAlgorithm::RsaPkcs1v15 => Some(d.pkcs1.decrypt(ciphertext, &mut out)),
                CipherAlgorithm::RsaOaep { hash, mgf1, label } => oaep_alg(*hash, *mgf1)
                    .map(|oaep| d.oaep.decrypt(oaep, ciphertext, &mut out, label_of(label))),
                _ => None,
            };
            if let Some(result) = result {
                let len = result.map_err(|_| Error::DecryptionFailed)?.len();
                out.truncate(len);
                return Ok(SecretBytes::from(out));
            }
        }
        self.delegate.decrypt(alg, ciphertext)
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

impl LoadedKey for RsaKey {
    fn spec(&self) -> KeySpec {
        self.delegate.spec()
    }

    fn has_private(&self) -> bool {
        self.delegate.has_private()
    }

    fn public_key(&self) -> Option<PublicKey> {
        self.delegate.public_key()
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        if let Some(pair) = &self.pair
            && let Some((encoding, _, digest)) = self.fast_scheme(alg, input)
        {
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign_digest(encoding, &digest, &mut sig)
                .map_err(|_| Error::internal("RSA signing failed"))?;
            return Ok(sig);
        }
        self.delegate.sign(alg, input)
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        if let Some((_, slot, digest)) = self.fast_scheme(alg, input)
            && let Some(verifier) = self.verifier(slot)
        {
            return Ok(verifier.verify_digest_sig(&digest, signature).is_ok());
        }
        self.delegate.verify(alg, input, signature)
    }

    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext> {
        Ok(Ciphertext {
            data: self.encrypt_bytes(alg, plaintext)?,
            iv: None,
            tag: None,
        })
    }

    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        self.decrypt_bytes(alg, ciphertext)
    }

    fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>> {
        match alg.as_rsa_cipher() {
            Some(cipher) => self.encrypt_bytes(&cipher, key),
            None => self.delegate.wrap(alg, key),
        }
    }

    fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        match alg.as_rsa_cipher() {
            Some(cipher) => self.decrypt_bytes(&cipher, wrapped),
            None => self.delegate.unwrap(alg, wrapped),
        }
    }

    fn ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes> {
        self.delegate.ecdh(peer_point)
    }
}
