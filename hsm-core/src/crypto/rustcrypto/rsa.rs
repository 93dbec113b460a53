//! RSA keys: RSASSA-PKCS1-v1_5, RSASSA-PSS, RSAES-PKCS1-v1_5 and RSAES-OAEP, with key wrapping
//! as encryption. Private operations always run blinded (the `rsa` crate blinds whenever it is
//! handed a generator, which every call here does).

use ::rsa::pkcs1v15::{Pkcs1v15Encrypt, Pkcs1v15Sign};
use ::rsa::traits::{PrivateKeyParts, PublicKeyParts};
use ::rsa::{BoxedUint, Oaep, Pss};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::random::SysRng;
use super::{private_key_needed, with_hash, wrong_family};
use crate::crypto::alg::{CipherAlgorithm, Ciphertext, HashAlg, SignAlgorithm, WrapAlgorithm};
use crate::crypto::material::{KeyMaterial, KeySpec, PublicKey, RsaPrivateParts, bit_len};
use crate::crypto::provider::LoadedKey;
use crate::crypto::shared::trim_leading_zeros;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// Smallest modulus accepted at this level (pools ask for 2048 and more).
pub const MIN_BITS: u32 = 1024;
/// Largest modulus accepted.
pub const MAX_BITS: u32 = 8192;
/// Largest public exponent accepted (the `rsa` crate's bound, 2^33 - 1).
const MAX_E: u64 = (1 << 33) - 1;

/// Generates an RSA key of `bits` bits with e = 65537.
pub fn generate(bits: u32) -> Result<KeyMaterial> {
    Ok(KeyMaterial::Rsa(parts_of(&generate_private(bits)?)?))
}

fn generate_private(bits: u32) -> Result<::rsa::PrivateKey> {
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(Error::bad_parameter(format!(
            "RSA key size {bits} is not supported ({MIN_BITS} to {MAX_BITS} bits)"
        )));
    }
    let bits_usize = usize::try_from(bits).map_err(|_| Error::internal("RSA key size"))?;
    let key = ::rsa::PrivateKey::new(&mut SysRng, bits_usize).map_err(|e| match e {
        ::rsa::Error::Rng => Error::RandomFailure,
        _ => Error::internal("RSA key generation failed"),
    })?;
    Ok(key)
}

/// A loaded RSA key: the public key, and the private key unless loaded from a public key.
pub struct RsaKey {
    public: ::rsa::PublicKey,
    private: Option<::rsa::PrivateKey>,
    bits: u32,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.private {
            Some(_) => write!(f, "RsaKey({} bits, private: [REDACTED])", self.bits),
            None => write!(f, "RsaKey({} bits, public only)", self.bits),
        }
    }
}

impl RsaKey {
    /// Parses and validates private key material (see [`private_key_from_parts`]).
    pub fn from_parts(parts: &RsaPrivateParts) -> Result<Self> {
        let private = private_key_from_parts(parts)?;
        Ok(Self {
            bits: bit_len(&private.n_bytes()),
            public: private.to_public_key(),
            private: Some(private),
        })
    }

    /// Generates a key of `bits` bits (e = 65537), loaded as it is made: the crate's own key
    /// needs no re-validation.
    pub fn generate(bits: u32) -> Result<Self> {
        let private = generate_private(bits)?;
        Ok(Self {
            bits: bit_len(&private.n_bytes()),
            public: private.to_public_key(),
            private: Some(private),
        })
    }

    /// The private key's components (JWK-style), for sealing.
    pub fn parts(&self) -> Result<RsaPrivateParts> {
        parts_of(self.private("exporting the components")?)
    }

    /// Parses a public key from its modulus and exponent (big-endian).
    pub fn from_public(n: &[u8], e: &[u8]) -> Result<Self> {
        let public = public_key_from(n, e)?;
        Ok(Self {
            bits: bit_len(&public.n_bytes()),
            public,
            private: None,
        })
    }

    /// The modulus length in bytes.
    fn k(&self) -> usize {
        self.public.size()
    }

    fn private(&self, operation: &str) -> Result<&::rsa::PrivateKey> {
        self.private
            .as_ref()
            .ok_or_else(|| private_key_needed(operation))
    }

    fn check_pss(&self, hash: HashAlg, mgf1: HashAlg, salt_len: usize, input: &[u8]) -> Result<()> {
        if mgf1 != hash {
            return Err(Error::unsupported(format!(
                "RSA-PSS with {hash} and MGF1 with {mgf1} (the MGF1 hash must be the message hash)"
            )));
        }
        digest_len(hash, input)?;
        // RFC 8017 9.1.1: emLen >= hLen + sLen + 2, emLen = ceil((modBits - 1) / 8).
        let em_len = usize::try_from(self.bits.saturating_sub(1))
            .map_err(|_| Error::internal("RSA key size"))?
            .div_ceil(8);
        if em_len < hash.output_len().saturating_add(salt_len).saturating_add(2) {
            return Err(Error::param(format!(
                "PSS salt of {salt_len} bytes is too long for a {}-bit key",
                self.bits
            )));
        }
        Ok(())
    }

    fn pkcs1_sign_scheme(&self, hash: Option<HashAlg>, input: &[u8]) -> Result<Pkcs1v15Sign> {
        match hash {
            Some(hash) => {
                digest_len(hash, input)?;
                Ok(with_hash!(hash, D => Pkcs1v15Sign::new::<D>()))
            }
            None if input.len().saturating_add(11) > self.k() => Err(Error::input_length(format!(
                "PKCS#1 v1.5 input of {} bytes does not fit a {}-byte modulus",
                input.len(),
                self.k()
            ))),
            None => Ok(Pkcs1v15Sign::new_unprefixed()),
        }
    }

    /// RSASP1 / RSADP without padding: `input` is k bytes below the modulus; the result is
    /// k bytes. Blinded, with the CRT fault check.
    fn raw_private(&self, input: &[u8], operation: &str) -> Result<SecretBytes> {
        let key = self.private(operation)?;
        let k = self.k();
        raw_len(k, input)?;
        let c = BoxedUint::from_be_slice(input, key.n_bits_precision()).map_err(|_| below_n())?;
        // `rsa_decrypt` refuses c >= n (with the error it gives bad ciphertexts).
        let mut m = ::rsa::hazmat::rsa_decrypt_and_check(key, Some(&mut SysRng), &c).map_err(
            |e| match e {
                ::rsa::Error::Decryption => below_n(),
                ::rsa::Error::Rng => Error::RandomFailure,
                _ => Error::internal("raw RSA failed"),
            },
        )?;
        let out = fixed_len(&Zeroizing::new(m.to_be_bytes()), k);
        zeroize::Zeroize::zeroize(&mut m);
        out.map(SecretBytes::from)
    }

    /// RSAEP / RSAVP1 without padding: `input` is k bytes below the modulus.
    fn raw_public(&self, input: &[u8]) -> Result<Vec<u8>> {
        let k = self.k();
        raw_len(k, input)?;
        let n = self.public.n();
        let m = BoxedUint::from_be_slice(input, self.public.n_bits_precision())
            .map_err(|_| below_n())?;
        if m >= *n.as_ref() {
            return Err(below_n());
        }
        let c = ::rsa::hazmat::rsa_encrypt(&self.public, &m)
            .map_err(|_| Error::internal("raw RSA failed"))?;
        fixed_len(&Zeroizing::new(c.to_be_bytes()), k).map(|z| z.to_vec())
    }

    fn encrypt_bytes(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Vec<u8>> {
        let k = self.k();
        match alg {
            CipherAlgorithm::RsaPkcs1v15 => {
                if plaintext.len().saturating_add(11) > k {
                    return Err(Error::input_length(format!(
                        "RSA1_5 takes at most {} bytes with this key",
                        k.saturating_sub(11)
                    )));
                }
                self.public
                    .encrypt(&mut SysRng, Pkcs1v15Encrypt, plaintext)
                    .map_err(encrypt_error)
            }
            CipherAlgorithm::RsaOaep { hash, mgf1, label } => {
                let overhead = 2 * hash.output_len() + 2;
                if plaintext.len().saturating_add(overhead) > k {
                    return Err(Error::input_length(format!(
                        "RSA-OAEP with {hash} takes at most {} bytes with this key",
                        k.saturating_sub(overhead)
                    )));
                }
                with_hash!(hash, D => with_hash!(mgf1, M => {
                    let oaep = Oaep::<D, M>::new_with_mgf_hash_and_label(label.clone());
                    self.public.encrypt(&mut SysRng, oaep, plaintext).map_err(encrypt_error)
                }))
            }
            CipherAlgorithm::RsaRaw => self.raw_public(plaintext),
            _ => Err(wrong_family("AES encryption", &self.spec())),
        }
    }

    fn decrypt_bytes(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        let k = self.k();
        if !matches!(
            alg,
            CipherAlgorithm::RsaPkcs1v15
                | CipherAlgorithm::RsaOaep { .. }
                | CipherAlgorithm::RsaRaw
        ) {
            return Err(wrong_family("AES decryption", &self.spec()));
        }
        if *alg == CipherAlgorithm::RsaRaw {
            return self
                .raw_private(ciphertext, "decryption")
                .map_err(|e| match e {
                    // Not below the modulus: no ciphertext of this key.
                    Error::InvalidInputLength { .. } if ciphertext.len() == k => {
                        Error::DecryptionFailed
                    }
                    e => e,
                });
        }
        let key = self.private("decryption")?;
        if ciphertext.len() != k {
            return Err(Error::input_length(format!(
                "RSA ciphertext must be {k} bytes, got {}",
                ciphertext.len()
            )));
        }
        let plaintext = match alg {
            // Implicit rejection: bad padding yields a synthetic message, not an error.
            CipherAlgorithm::RsaPkcs1v15 => {
                key.decrypt_blinded(&mut SysRng, Pkcs1v15Encrypt, ciphertext)
            }
            CipherAlgorithm::RsaOaep { hash, mgf1, label } => {
                let decoded = with_hash!(hash, D => with_hash!(mgf1, M => {
                    let oaep = Oaep::<D, M>::new_with_mgf_hash_and_label(label.clone());
                    key.decrypt_blinded(&mut SysRng, oaep, ciphertext)
                }));
                // Always computed, and folded into one outcome, so that a nonzero first
                // octet is not distinguishable from other failures (Manger's attack).
                let first_octet_is_zero = oaep_first_octet_is_zero(key, ciphertext);
                match decoded {
                    Ok(plaintext) if first_octet_is_zero => Ok(plaintext),
                    Ok(mut plaintext) => {
                        zeroize::Zeroize::zeroize(&mut plaintext);
                        Err(::rsa::Error::Decryption)
                    }
                    Err(e) => Err(e),
                }
            }
            _ => return Err(wrong_family("AES decryption", &self.spec())),
        };
        plaintext
            .map(SecretBytes::new)
            .map_err(|_| Error::DecryptionFailed)
    }
}

impl LoadedKey for RsaKey {
    fn spec(&self) -> KeySpec {
        KeySpec::Rsa { bits: self.bits }
    }

    fn has_private(&self) -> bool {
        self.private.is_some()
    }

    fn public_key(&self) -> Option<PublicKey> {
        Some(PublicKey::Rsa {
            n: self.public.n_bytes().to_vec(),
            e: self.public.e_bytes().to_vec(),
        })
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        match alg {
            SignAlgorithm::RsaPkcs1v15 { hash } => {
                let key = self.private("signing")?;
                let scheme = self.pkcs1_sign_scheme(*hash, input)?;
                key.sign_with_rng(&mut SysRng, scheme, input)
                    .map_err(sign_error)
            }
            SignAlgorithm::RsaPss {
                hash,
                mgf1,
                salt_len,
            } => {
                let key = self.private("signing")?;
                self.check_pss(*hash, *mgf1, *salt_len, input)?;
                with_hash!(hash, D => key
                    .sign_with_rng(&mut SysRng, Pss::<D>::new_with_salt(*salt_len), input)
                    .map_err(sign_error))
            }
            SignAlgorithm::RsaRaw => {
                Ok(self.raw_private(input, "signing")?.expose_secret().to_vec())
            }
            SignAlgorithm::Ecdsa { .. } => Err(wrong_family("ECDSA", &self.spec())),
            SignAlgorithm::Hmac { .. } | SignAlgorithm::Cmac => {
                Err(wrong_family("a MAC", &self.spec()))
            }
        }
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        match alg {
            SignAlgorithm::RsaPkcs1v15 { hash } => {
                let scheme = self.pkcs1_sign_scheme(*hash, input)?;
                Ok(self.public.verify(scheme, input, signature).is_ok())
            }
            SignAlgorithm::RsaPss {
                hash,
                mgf1,
                salt_len,
            } => {
                self.check_pss(*hash, *mgf1, *salt_len, input)?;
                Ok(with_hash!(hash, D => self
                    .public
                    .verify(Pss::<D>::new_with_salt(*salt_len), input, signature)
                    .is_ok()))
            }
            SignAlgorithm::RsaRaw => {
                raw_len(self.k(), input)?;
                // A malformed signature is a wrong one.
                Ok(self
                    .raw_public(signature)
                    .is_ok_and(|m| bool::from(m.as_slice().ct_eq(input))))
            }
            SignAlgorithm::Ecdsa { .. } => Err(wrong_family("ECDSA", &self.spec())),
            SignAlgorithm::Hmac { .. } | SignAlgorithm::Cmac => {
                Err(wrong_family("a MAC", &self.spec()))
            }
        }
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
        let cipher = alg
            .as_rsa_cipher()
            .ok_or_else(|| wrong_family("AES key wrap", &self.spec()))?;
        self.encrypt_bytes(&cipher, key)
    }

    fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        let cipher = alg
            .as_rsa_cipher()
            .ok_or_else(|| wrong_family("AES key unwrap", &self.spec()))?;
        self.decrypt_bytes(&cipher, wrapped)
    }

    fn ecdh(&self, _peer_point: &[u8]) -> Result<SecretBytes> {
        Err(wrong_family("ECDH", &self.spec()))
    }
}

/// RFC 8017 7.1.2 step 3g: the first octet `Y` of the OAEP encoded message must be zero.
///
/// The `rsa` crate's OAEP decoder ignores `Y` (so `m + 2^(8(k-1))` decrypts like `m`, a
/// malleability Wycheproof flags), and keeps the encoded message to itself; this runs the
/// blinded private operation once more to look at it.
fn oaep_first_octet_is_zero(key: &::rsa::PrivateKey, ciphertext: &[u8]) -> bool {
    let k = key.size();
    let Ok(c) = BoxedUint::from_be_slice(ciphertext, key.n_bits_precision()) else {
        return false;
    };
    let Ok(mut m) = ::rsa::hazmat::rsa_decrypt_and_check(key, Some(&mut SysRng), &c) else {
        return false;
    };
    let em = Zeroizing::new(m.to_be_bytes());
    zeroize::Zeroize::zeroize(&mut m);
    // `em` is at least k bytes (the precision covers the modulus); all octets above the low
    // k - 1 must be zero.
    let Some(head) = em
        .len()
        .checked_sub(k.saturating_sub(1))
        .and_then(|l| em.get(..l))
    else {
        return false;
    };
    let any = head.iter().fold(0u8, |acc, b| acc | b);
    bool::from(any.ct_eq(&0))
}

fn raw_len(k: usize, input: &[u8]) -> Result<()> {
    if input.len() != k {
        return Err(Error::input_length(format!(
            "raw RSA takes exactly {k} bytes with this key, got {}",
            input.len()
        )));
    }
    Ok(())
}

fn below_n() -> Error {
    Error::input_length("raw RSA input must be below the modulus")
}

/// The low `k` bytes of a big-endian integer known to be below a `k`-byte modulus.
fn fixed_len(be: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; k]);
    if be.len() >= k {
        let (head, tail) = be.split_at(be.len() - k);
        if head.iter().any(|b| *b != 0) {
            return Err(Error::internal("raw RSA result above the modulus"));
        }
        out.copy_from_slice(tail);
    } else {
        out[k - be.len()..].copy_from_slice(be);
    }
    Ok(out)
}

fn digest_len(hash: HashAlg, input: &[u8]) -> Result<()> {
    if input.len() != hash.output_len() {
        return Err(Error::input_length(format!(
            "a {hash} digest is {} bytes, got {}",
            hash.output_len(),
            input.len()
        )));
    }
    Ok(())
}

fn sign_error(e: ::rsa::Error) -> Error {
    match e {
        ::rsa::Error::Rng => Error::RandomFailure,
        ::rsa::Error::InputNotHashed | ::rsa::Error::MessageTooLong => {
            Error::input_length("the input does not fit this RSA key")
        }
        _ => Error::internal("RSA signing failed"),
    }
}

fn encrypt_error(e: ::rsa::Error) -> Error {
    match e {
        ::rsa::Error::Rng => Error::RandomFailure,
        ::rsa::Error::MessageTooLong => Error::input_length("the input does not fit this RSA key"),
        ::rsa::Error::LabelTooLong => Error::param("the OAEP label is too long"),
        _ => Error::internal("RSA encryption failed"),
    }
}

/// Checks the public numbers (trimmed): modulus size and parity, exponent range and parity.
fn check_public_numbers(n: &[u8], e: &[u8]) -> Result<()> {
    let bits = bit_len(n);
    if !(MIN_BITS..=MAX_BITS).contains(&bits) {
        return Err(Error::material(format!(
            "an RSA modulus of {bits} bits is not supported ({MIN_BITS} to {MAX_BITS} bits)"
        )));
    }
    if n.last().is_none_or(|b| b % 2 == 0) {
        return Err(Error::material("the RSA modulus is even"));
    }
    let e_value = if e.len() <= 8 {
        e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    } else {
        u64::MAX
    };
    if e_value < 3 || e_value % 2 == 0 || e_value > MAX_E {
        return Err(Error::material(
            "the RSA public exponent must be odd, at least 3 and below 2^33",
        ));
    }
    Ok(())
}

/// A big-endian unsigned integer of at most `bits_precision` bits.
fn uint(bytes: &[u8], bits_precision: u32, what: &str) -> Result<BoxedUint> {
    BoxedUint::from_be_slice(trim_leading_zeros(bytes), bits_precision)
        .map_err(|_| Error::material(format!("the RSA {what} is longer than the modulus")))
}

/// Builds a public key from big-endian `n` and `e`.
pub(crate) fn public_key_from(n: &[u8], e: &[u8]) -> Result<::rsa::PublicKey> {
    let (n, e) = (trim_leading_zeros(n), trim_leading_zeros(e));
    check_public_numbers(n, e)?;
    let precision = precision_of(n)?;
    let n = uint(n, precision, "modulus")?;
    let e = uint(e, 64, "public exponent")?;
    ::rsa::PublicKey::new(n, e).map_err(|err| Error::material(format!("RSA public key: {err}")))
}

fn precision_of(n: &[u8]) -> Result<u32> {
    u32::try_from(n.len() * 8).map_err(|_| Error::material("the RSA modulus is too long"))
}

/// Parses and validates private key material: `p * q = n`, `d` inverts `e` modulo `p - 1`
/// and `q - 1`, the size and exponent are in range, and any CRT values given match the ones
/// computed from `d`, `p` and `q`.
pub(crate) fn private_key_from_parts(parts: &RsaPrivateParts) -> Result<::rsa::PrivateKey> {
    let (n, e) = (trim_leading_zeros(&parts.n), trim_leading_zeros(&parts.e));
    check_public_numbers(n, e)?;
    let precision = precision_of(n)?;
    let (d, p, q) = (
        parts.d.expose_secret(),
        parts.p.expose_secret(),
        parts.q.expose_secret(),
    );
    if trim_leading_zeros(p).is_empty() || trim_leading_zeros(q).is_empty() {
        return Err(Error::material("the RSA primes are missing"));
    }
    let key = ::rsa::PrivateKey::from_components(
        uint(n, precision, "modulus")?,
        uint(e, 64, "public exponent")?,
        uint(d, precision, "private exponent")?,
        vec![
            uint(p, precision, "first prime")?,
            uint(q, precision, "second prime")?,
        ],
    )
    .map_err(|err| Error::material(format!("inconsistent RSA key: {err}")))?;

    let computed = crt_values(&key)?;
    let given = [&parts.dp, &parts.dq, &parts.qi];
    for ((given, computed), name) in given.into_iter().zip(&computed).zip(["dp", "dq", "qi"]) {
        if let Some(given) = given {
            let given = trim_leading_zeros(given.expose_secret());
            let computed = trim_leading_zeros(computed);
            if !bool::from(given.ct_eq(computed)) {
                return Err(Error::material(format!(
                    "the RSA CRT value {name} does not match the key"
                )));
            }
        }
    }
    Ok(key)
}

/// `dp`, `dq` and `qi` of a key, big-endian.
fn crt_values(key: &::rsa::PrivateKey) -> Result<[Zeroizing<Box<[u8]>>; 3]> {
    let missing = || Error::internal("RSA CRT values were not computed");
    let dp = key.dp().ok_or_else(missing)?.to_be_bytes();
    let dq = key.dq().ok_or_else(missing)?.to_be_bytes();
    let mut qi = key.crt_coefficient().ok_or_else(missing)?;
    let qi_bytes = qi.to_be_bytes();
    zeroize::Zeroize::zeroize(&mut qi);
    Ok([
        Zeroizing::new(dp),
        Zeroizing::new(dq),
        Zeroizing::new(qi_bytes),
    ])
}

/// The components of a key, as [`KeyMaterial`] holds them (minimal big-endian).
pub(crate) fn parts_of(key: &::rsa::PrivateKey) -> Result<RsaPrivateParts> {
    let secret = |bytes: &[u8]| SecretBytes::from_slice(trim_leading_zeros(bytes));
    let primes = key.primes();
    let (Some(p), Some(q), 2) = (primes.first(), primes.get(1), primes.len()) else {
        return Err(Error::internal("an RSA key without exactly two primes"));
    };
    let d = Zeroizing::new(key.d().to_be_bytes());
    let p = Zeroizing::new(p.to_be_bytes());
    let q = Zeroizing::new(q.to_be_bytes());
    let [dp, dq, qi] = crt_values(key)?;
    Ok(RsaPrivateParts {
        n: key.n_bytes().to_vec(),
        e: key.e_bytes().to_vec(),
        d: secret(&d),
        p: secret(&p),
        q: secret(&q),
        dp: Some(secret(&dp)),
        dq: Some(secret(&dq)),
        qi: Some(secret(&qi)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rustcrypto::test_keys::rsa2048;

    const ALL_HASHES: [HashAlg; 5] = [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];

    fn parts() -> &'static RsaPrivateParts {
        match rsa2048() {
            KeyMaterial::Rsa(parts) => parts,
            _ => unreachable!(),
        }
    }

    fn key() -> RsaKey {
        RsaKey::from_parts(parts()).unwrap()
    }

    fn copy(parts: &RsaPrivateParts) -> RsaPrivateParts {
        RsaPrivateParts {
            n: parts.n.clone(),
            e: parts.e.clone(),
            d: parts.d.duplicate(),
            p: parts.p.duplicate(),
            q: parts.q.duplicate(),
            dp: parts.dp.as_ref().map(SecretBytes::duplicate),
            dq: parts.dq.as_ref().map(SecretBytes::duplicate),
            qi: parts.qi.as_ref().map(SecretBytes::duplicate),
        }
    }

    fn code<T>(r: Result<T>) -> &'static str {
        r.err().map_or("ok", |e| e.code())
    }

    fn digest(hash: HashAlg, msg: &[u8]) -> Vec<u8> {
        super::super::hash::digest(hash, msg)
    }

    #[test]
    fn generated_key_has_the_asked_size_and_e() {
        let p = parts();
        assert_eq!(bit_len(&p.n), 2048);
        assert_eq!(p.e, vec![1, 0, 1]);
        assert!(p.dp.is_some() && p.dq.is_some() && p.qi.is_some());
        let k = key();
        assert_eq!(k.spec(), KeySpec::Rsa { bits: 2048 });
        assert!(k.has_private());
        assert_eq!(
            k.public_key(),
            Some(PublicKey::Rsa {
                n: p.n.clone(),
                e: p.e.clone()
            })
        );
        assert_eq!(code(generate(512)), "BadParameter");
        assert_eq!(code(generate(16384)), "BadParameter");
    }

    #[test]
    fn pkcs1v15_sign_verify_every_hash() {
        let k = key();
        for hash in ALL_HASHES {
            let alg = SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) };
            let d = digest(hash, b"message");
            let sig = k.sign(&alg, &d).unwrap();
            assert_eq!(sig.len(), 256);
            assert!(k.verify(&alg, &d, &sig).unwrap(), "{hash}");
            let other = digest(hash, b"other");
            assert!(!k.verify(&alg, &other, &sig).unwrap());
            // PKCS#1 v1.5 is deterministic.
            assert_eq!(k.sign(&alg, &d).unwrap(), sig);
            assert_eq!(code(k.sign(&alg, &d[1..])), "InvalidInputLength");
            assert_eq!(code(k.verify(&alg, &d[1..], &sig)), "InvalidInputLength");
        }
    }

    #[test]
    fn pkcs1v15_without_hash_signs_the_digest_info_as_given() {
        let k = key();
        let d = digest(HashAlg::Sha256, b"message");
        // DigestInfo prefix of SHA-256 (RFC 8017 9.2 note 1).
        let mut info = hex::decode("3031300d060960864801650304020105000420").unwrap();
        info.extend_from_slice(&d);
        let raw = SignAlgorithm::RsaPkcs1v15 { hash: None };
        let sig = k.sign(&raw, &info).unwrap();
        let rs256 = SignAlgorithm::RsaPkcs1v15 {
            hash: Some(HashAlg::Sha256),
        };
        assert_eq!(sig, k.sign(&rs256, &d).unwrap());
        assert!(k.verify(&raw, &info, &sig).unwrap());
        assert!(k.verify(&rs256, &d, &sig).unwrap());
        // Any bytes up to k - 11 can be signed raw.
        let sig = k.sign(&raw, &[0xab; 245]).unwrap();
        assert!(k.verify(&raw, &[0xab; 245], &sig).unwrap());
        assert_eq!(code(k.sign(&raw, &[0xab; 246])), "InvalidInputLength");
    }

    #[test]
    fn verify_is_false_for_malformed_signatures() {
        let k = key();
        let alg = SignAlgorithm::RsaPkcs1v15 {
            hash: Some(HashAlg::Sha256),
        };
        let d = digest(HashAlg::Sha256, b"m");
        let sig = k.sign(&alg, &d).unwrap();
        let mut tampered = sig.clone();
        tampered[100] ^= 0x40;
        assert!(!k.verify(&alg, &d, &tampered).unwrap());
        assert!(!k.verify(&alg, &d, &sig[1..]).unwrap());
        let mut longer = vec![0];
        longer.extend_from_slice(&sig);
        assert!(!k.verify(&alg, &d, &longer).unwrap());
        assert!(!k.verify(&alg, &d, &[]).unwrap());
        assert!(!k.verify(&alg, &d, &[0xff; 256]).unwrap());
        assert!(!k.verify(&alg, &d, &parts().n).unwrap());
    }

    #[test]
    fn pss_sign_verify() {
        let k = key();
        for hash in ALL_HASHES {
            for salt_len in [0, hash.output_len(), 20] {
                let alg = SignAlgorithm::RsaPss {
                    hash,
                    mgf1: hash,
                    salt_len,
                };
                let d = digest(hash, b"message");
                let sig = k.sign(&alg, &d).unwrap();
                assert!(k.verify(&alg, &d, &sig).unwrap(), "{hash} {salt_len}");
                assert!(!k.verify(&alg, &digest(hash, b"x"), &sig).unwrap());
                let mut bad = sig.clone();
                bad[0] ^= 1;
                assert!(!k.verify(&alg, &d, &bad).unwrap());
                assert!(!k.verify(&alg, &d, &sig[..255]).unwrap());
                // The salt length is checked.
                let other_salt = SignAlgorithm::RsaPss {
                    hash,
                    mgf1: hash,
                    salt_len: salt_len + 1,
                };
                assert!(!k.verify(&other_salt, &d, &sig).unwrap());
                if salt_len > 0 {
                    // Randomised: two signatures differ.
                    assert_ne!(k.sign(&alg, &d).unwrap(), sig);
                }
            }
        }
        // The largest salt a 2048-bit key takes with SHA-512: 256 - 64 - 2.
        let max = SignAlgorithm::RsaPss {
            hash: HashAlg::Sha512,
            mgf1: HashAlg::Sha512,
            salt_len: 190,
        };
        let d = digest(HashAlg::Sha512, b"m");
        let sig = k.sign(&max, &d).unwrap();
        assert!(k.verify(&max, &d, &sig).unwrap());
        let too_long = SignAlgorithm::RsaPss {
            hash: HashAlg::Sha512,
            mgf1: HashAlg::Sha512,
            salt_len: 191,
        };
        assert_eq!(code(k.sign(&too_long, &d)), "InvalidAlgorithmParameter");
    }

    #[test]
    fn absurd_salt_lengths_are_refused_cleanly() {
        let k = key();
        let alg = SignAlgorithm::RsaPss {
            hash: HashAlg::Sha256,
            mgf1: HashAlg::Sha256,
            salt_len: usize::MAX,
        };
        let d = digest(HashAlg::Sha256, b"m");
        assert_eq!(code(k.sign(&alg, &d)), "InvalidAlgorithmParameter");
        assert_eq!(
            code(k.verify(&alg, &d, &[0; 256])),
            "InvalidAlgorithmParameter"
        );
    }

    #[test]
    fn pss_with_another_mgf1_hash_is_unsupported() {
        let k = key();
        let alg = SignAlgorithm::RsaPss {
            hash: HashAlg::Sha256,
            mgf1: HashAlg::Sha1,
            salt_len: 32,
        };
        let d = digest(HashAlg::Sha256, b"m");
        assert_eq!(code(k.sign(&alg, &d)), "UnsupportedAlgorithm");
        assert_eq!(code(k.verify(&alg, &d, &[0; 256])), "UnsupportedAlgorithm");
    }

    #[test]
    fn oaep_round_trips_with_any_label_and_mgf1_hash() {
        let k = key();
        for hash in ALL_HASHES {
            for mgf1 in [hash, HashAlg::Sha1, HashAlg::Sha512] {
                for label in [vec![], b"label".to_vec()] {
                    let alg = CipherAlgorithm::RsaOaep {
                        hash,
                        mgf1,
                        label: label.clone(),
                    };
                    let max = 256 - 2 * hash.output_len() - 2;
                    for msg in [&b""[..], b"secret", &vec![0x5a; max]] {
                        let ct = k.encrypt(&alg, msg).unwrap();
                        assert_eq!(ct.data.len(), 256);
                        assert_eq!((ct.iv.as_ref(), ct.tag.as_ref()), (None, None));
                        let pt = k.decrypt(&alg, &ct.data).unwrap();
                        assert_eq!(pt.expose_secret(), msg, "{hash} {mgf1}");
                    }
                    assert_eq!(
                        code(k.encrypt(&alg, &vec![0; max + 1])),
                        "InvalidInputLength"
                    );
                }
            }
        }
    }

    #[test]
    fn oaep_failures_are_decryption_failed() {
        let k = key();
        let alg = |label: &[u8], mgf1| CipherAlgorithm::RsaOaep {
            hash: HashAlg::Sha256,
            mgf1,
            label: label.to_vec(),
        };
        let ct = k
            .encrypt(&alg(b"l", HashAlg::Sha256), b"secret")
            .unwrap()
            .data;
        let mut tampered = ct.clone();
        tampered[10] ^= 1;
        let err = k
            .decrypt(&alg(b"l", HashAlg::Sha256), &tampered)
            .unwrap_err();
        assert_eq!(err.code(), "DecryptionFailed");
        assert_eq!(err.to_string(), "decryption failed");
        assert_eq!(
            code(k.decrypt(&alg(b"other", HashAlg::Sha256), &ct)),
            "DecryptionFailed"
        );
        assert_eq!(
            code(k.decrypt(&alg(b"l", HashAlg::Sha1), &ct)),
            "DecryptionFailed"
        );
        assert_eq!(
            code(k.decrypt(&alg(b"l", HashAlg::Sha256), &ct[1..])),
            "InvalidInputLength"
        );
        assert_eq!(
            code(k.decrypt(&alg(b"l", HashAlg::Sha256), &[0xff; 256])),
            "DecryptionFailed"
        );
    }

    #[test]
    fn oaep_refuses_a_nonzero_first_octet() {
        // c' encrypts m + 2^(8(k-1)): the same OAEP encoding behind a first octet of 1.
        let k = key();
        let alg = CipherAlgorithm::RsaOaep {
            hash: HashAlg::Sha256,
            mgf1: HashAlg::Sha256,
            label: vec![],
        };
        let ct = k.encrypt(&alg, b"secret").unwrap().data;
        let private = k.private.as_ref().unwrap();
        let precision = private.n_bits_precision();
        let c = BoxedUint::from_be_slice(&ct, precision).unwrap();
        let m = ::rsa::hazmat::rsa_decrypt_and_check(private, None::<&mut SysRng>, &c).unwrap();
        let shifted = BoxedUint::one_with_precision(precision)
            .shl_vartime(8 * 255)
            .unwrap();
        let m2 = m.wrapping_add(&shifted);
        assert!(m2 < *private.n().as_ref());
        let c2 = ::rsa::hazmat::rsa_encrypt(private, &m2).unwrap();
        let ct2 = c2.to_be_bytes();
        let ct2 = &ct2[ct2.len() - 256..];
        assert_eq!(k.decrypt(&alg, &ct).unwrap().expose_secret(), b"secret");
        assert_eq!(code(k.decrypt(&alg, ct2)), "DecryptionFailed");
    }

    #[test]
    fn pkcs1v15_encryption_round_trip_and_implicit_rejection() {
        let k = key();
        let alg = CipherAlgorithm::RsaPkcs1v15;
        for msg in [&b""[..], b"secret", &[7; 245]] {
            let ct = k.encrypt(&alg, msg).unwrap();
            assert_eq!(k.decrypt(&alg, &ct.data).unwrap().expose_secret(), msg);
        }
        assert_eq!(code(k.encrypt(&alg, &[7; 246])), "InvalidInputLength");
        let ct = k.encrypt(&alg, b"secret").unwrap().data;
        let mut tampered = ct.clone();
        tampered[5] ^= 0x10;
        // Implicit rejection: a deterministic synthetic message, never the plaintext.
        match k.decrypt(&alg, &tampered) {
            Ok(pt) => {
                assert_ne!(pt.expose_secret(), b"secret");
                let again = k.decrypt(&alg, &tampered).unwrap();
                assert_eq!(again.expose_secret(), pt.expose_secret());
            }
            Err(e) => assert_eq!(e.code(), "DecryptionFailed"),
        }
        assert_eq!(code(k.decrypt(&alg, &ct[..255])), "InvalidInputLength");
    }

    #[test]
    fn wrap_is_encryption() {
        let k = key();
        let aes_key = [0x42u8; 32];
        for alg in [
            WrapAlgorithm::RsaPkcs1v15,
            WrapAlgorithm::RsaOaep {
                hash: HashAlg::Sha256,
                mgf1: HashAlg::Sha256,
                label: vec![],
            },
        ] {
            let wrapped = k.wrap(&alg, &aes_key).unwrap();
            assert_eq!(wrapped.len(), 256);
            assert_eq!(k.unwrap(&alg, &wrapped).unwrap().expose_secret(), &aes_key);
        }
        assert_eq!(
            code(k.wrap(&WrapAlgorithm::AesKw { key_bits: None }, &aes_key)),
            "KeyTypeMismatch"
        );
        assert_eq!(
            code(k.unwrap(&WrapAlgorithm::AesKwp { key_bits: None }, &[0; 24])),
            "KeyTypeMismatch"
        );
    }

    #[test]
    fn public_only_key_verifies_and_encrypts_but_cannot_sign_or_decrypt() {
        let private = key();
        let p = parts();
        let public = RsaKey::from_public(&p.n, &p.e).unwrap();
        assert!(!public.has_private());
        assert_eq!(public.spec(), KeySpec::Rsa { bits: 2048 });
        assert_eq!(public.public_key(), private.public_key());

        let alg = SignAlgorithm::RsaPkcs1v15 {
            hash: Some(HashAlg::Sha256),
        };
        let d = digest(HashAlg::Sha256, b"m");
        let err = public.sign(&alg, &d).unwrap_err();
        assert_eq!(err.code(), "KeyTypeMismatch");
        assert!(err.to_string().contains("private key"), "{err}");
        let pss = SignAlgorithm::RsaPss {
            hash: HashAlg::Sha256,
            mgf1: HashAlg::Sha256,
            salt_len: 32,
        };
        assert_eq!(code(public.sign(&pss, &d)), "KeyTypeMismatch");
        let sig = private.sign(&alg, &d).unwrap();
        assert!(public.verify(&alg, &d, &sig).unwrap());

        let oaep = CipherAlgorithm::RsaOaep {
            hash: HashAlg::Sha1,
            mgf1: HashAlg::Sha1,
            label: vec![],
        };
        let ct = public.encrypt(&oaep, b"to the private key").unwrap();
        assert_eq!(
            private.decrypt(&oaep, &ct.data).unwrap().expose_secret(),
            b"to the private key"
        );
        let err = public.decrypt(&oaep, &ct.data).unwrap_err();
        assert_eq!(err.code(), "KeyTypeMismatch");
        assert!(err.to_string().contains("private key"));
        assert_eq!(
            code(public.unwrap(&WrapAlgorithm::RsaPkcs1v15, &ct.data)),
            "KeyTypeMismatch"
        );
    }

    #[test]
    fn other_families_algorithms_are_key_type_mismatch() {
        let k = key();
        let ecdsa = SignAlgorithm::Ecdsa {
            hash: None,
            curve: None,
        };
        assert_eq!(code(k.sign(&ecdsa, &[1; 32])), "KeyTypeMismatch");
        assert_eq!(
            code(k.verify(&ecdsa, &[1; 32], &[1; 64])),
            "KeyTypeMismatch"
        );
        let hmac = SignAlgorithm::Hmac {
            hash: HashAlg::Sha256,
        };
        assert_eq!(code(k.sign(&hmac, b"m")), "KeyTypeMismatch");
        assert_eq!(code(k.sign(&SignAlgorithm::Cmac, b"m")), "KeyTypeMismatch");
        let gcm = CipherAlgorithm::AesGcm {
            key_bits: None,
            iv: None,
            aad: vec![],
            tag_len: 16,
        };
        assert_eq!(code(k.encrypt(&gcm, b"m")), "KeyTypeMismatch");
        assert_eq!(
            code(k.decrypt(&CipherAlgorithm::AesEcb, &[0; 16])),
            "KeyTypeMismatch"
        );
        assert_eq!(code(k.ecdh(&[4; 65])), "KeyTypeMismatch");
    }

    #[test]
    fn load_computes_missing_crt_values() {
        let mut p = copy(parts());
        p.dp = None;
        p.dq = None;
        p.qi = None;
        let k = RsaKey::from_parts(&p).unwrap();
        let back = parts_of(k.private.as_ref().unwrap()).unwrap();
        let original = parts();
        for (a, b) in [
            (&back.dp, &original.dp),
            (&back.dq, &original.dq),
            (&back.qi, &original.qi),
        ] {
            assert_eq!(
                a.as_ref().unwrap().expose_secret(),
                b.as_ref().unwrap().expose_secret()
            );
        }
        // Leading zeros are accepted.
        let mut padded = copy(parts());
        padded.n.insert(0, 0);
        padded.d = SecretBytes::new([&[0u8, 0][..], parts().d.expose_secret()].concat());
        assert!(RsaKey::from_parts(&padded).is_ok());
    }

    #[test]
    fn load_rejects_inconsistent_material() {
        fn bump(s: &SecretBytes) -> SecretBytes {
            let mut v = s.expose_secret().to_vec();
            if let Some(last) = v.last_mut() {
                *last ^= 2;
            }
            SecretBytes::new(v)
        }
        type Mutation = Box<dyn Fn(&mut RsaPrivateParts)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("p", Box::new(|p| p.p = bump(&p.p))),
            ("q", Box::new(|p| p.q = bump(&p.q))),
            ("d", Box::new(|p| p.d = bump(&p.d))),
            ("n", Box::new(|p| p.n[100] ^= 1)),
            ("e even", Box::new(|p| p.e = vec![1, 0, 0])),
            ("e = 1", Box::new(|p| p.e = vec![1])),
            ("e = 3 (wrong d)", Box::new(|p| p.e = vec![3])),
            ("e too big", Box::new(|p| p.e = vec![1, 0, 0, 0, 0, 1])),
            ("e empty", Box::new(|p| p.e = vec![])),
            ("dp", Box::new(|p| p.dp = p.dp.as_ref().map(bump))),
            ("dq", Box::new(|p| p.dq = p.dq.as_ref().map(bump))),
            ("qi", Box::new(|p| p.qi = p.qi.as_ref().map(bump))),
            ("p empty", Box::new(|p| p.p = SecretBytes::default())),
            (
                "q zero",
                Box::new(|p| p.q = SecretBytes::from_slice(&[0; 128])),
            ),
            (
                "d longer than n",
                Box::new(|p| p.d = SecretBytes::from_slice(&[1; 257])),
            ),
            ("n even", Box::new(|p| p.n[255] &= 0xfe)),
            ("n empty", Box::new(|p| p.n = vec![])),
            ("n too big", Box::new(|p| p.n = vec![0xff; 1025])),
        ];
        for (name, mutate) in cases {
            let mut p = copy(parts());
            mutate(&mut p);
            let err = RsaKey::from_parts(&p).unwrap_err();
            assert_eq!(err.code(), "InvalidKeyMaterial", "{name}: {err}");
        }
        // Swapping p and q (and recomputing qi) is a valid key.
        let mut swapped = copy(parts());
        std::mem::swap(&mut swapped.p, &mut swapped.q);
        std::mem::swap(&mut swapped.dp, &mut swapped.dq);
        swapped.qi = None;
        assert!(RsaKey::from_parts(&swapped).is_ok());
    }

    #[test]
    fn load_rejects_small_moduli() {
        // The 512-bit key of the rsa crate's own tests.
        let h = |s: &str| hex::decode(s).unwrap();
        let small = RsaPrivateParts {
            n: h(
                "B2990F49C47DFA8CD400AE6A4D1B8A3B6A13642B23F28B003BFB97790ADE9A4C\
                  C82B8B2A81747DDEC08B6296E53A08C331687EF25C4BF4936BA1C0E6041E9D15",
            ),
            e: vec![1, 0, 1],
            d: SecretBytes::new(h(
                "8ABD6A69F4D1A4B487F0AB8D7AAEFD38609405C999984E30F567E1E8AEEFF44E\
                 8B18BDB1EC78DFA31A55E32A48D7FB131F5AF1F44D7D6B2CED2A9DF5E5AE4535",
            )),
            p: SecretBytes::new(h(
                "DAB2F18048BAA68DE7DF04D2D35D5D80E60E2DFA42D50A9B04219032715E46B3",
            )),
            q: SecretBytes::new(h(
                "D10F2E66B1D0C13F10EF9927BF5324A379CA218146CBF9CAFC795221F16A3117",
            )),
            dp: None,
            dq: None,
            qi: None,
        };
        assert_eq!(code(RsaKey::from_parts(&small)), "InvalidKeyMaterial");
        assert_eq!(
            code(RsaKey::from_public(&small.n, &small.e)),
            "InvalidKeyMaterial"
        );
    }

    #[test]
    fn load_public_rejects_bad_numbers() {
        let p = parts();
        assert!(RsaKey::from_public(&p.n, &p.e).is_ok());
        let mut even = p.n.clone();
        even[255] &= 0xfe;
        for (n, e) in [
            (even, p.e.clone()),
            (p.n.clone(), vec![]),
            (p.n.clone(), vec![2]),
            (p.n.clone(), vec![0xff; 9]),
            (vec![], p.e.clone()),
            (vec![0xff; 2000], p.e.clone()),
        ] {
            assert_eq!(code(RsaKey::from_public(&n, &e)), "InvalidKeyMaterial");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let k = key();
        let shown = format!("{k:?}");
        assert_eq!(shown, "RsaKey(2048 bits, private: [REDACTED])");
        let d_hex = hex::encode(&parts().d.expose_secret()[..8]);
        assert!(!shown.to_lowercase().contains(&d_hex));
        let p = parts();
        let public = RsaKey::from_public(&p.n, &p.e).unwrap();
        assert_eq!(format!("{public:?}"), "RsaKey(2048 bits, public only)");
    }

    #[test]
    fn raw_rsa_is_the_padded_schemes_core() {
        let k = key();
        let public = RsaKey::from_public(&parts().n, &parts().e).unwrap();
        // RSASP1 over the EMSA-PKCS1-v1_5 encoding is a PKCS#1 v1.5 signature.
        let digest_info = [
            &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ][..],
            &[0x5a; 32],
        ]
        .concat();
        let mut em = vec![0x00, 0x01];
        em.resize(256 - digest_info.len() - 1, 0xff);
        em.push(0x00);
        em.extend_from_slice(&digest_info);
        let raw = k.sign(&SignAlgorithm::RsaRaw, &em).unwrap();
        let pkcs1 = k
            .sign(&SignAlgorithm::RsaPkcs1v15 { hash: None }, &digest_info)
            .unwrap();
        assert_eq!(raw, pkcs1);
        assert!(public.verify(&SignAlgorithm::RsaRaw, &em, &raw).unwrap());
        let mut other = em.clone();
        other[100] ^= 1;
        assert!(!public.verify(&SignAlgorithm::RsaRaw, &other, &raw).unwrap());
        assert!(
            !public
                .verify(&SignAlgorithm::RsaRaw, &em, &raw[1..])
                .unwrap()
        );

        // RSAEP then RSADP gives the input back, whatever its leading bytes.
        for first in [0x00, 0x01, 0x7f] {
            let mut m = vec![0x33u8; 256];
            m[0] = first;
            m[1] = 0;
            let c = public.encrypt(&CipherAlgorithm::RsaRaw, &m).unwrap().data;
            assert_eq!(c.len(), 256);
            assert_eq!(
                k.decrypt(&CipherAlgorithm::RsaRaw, &c)
                    .unwrap()
                    .expose_secret(),
                m.as_slice()
            );
        }
        // PKCS#1 v1.5 encryption is RSAEP over its padding: RSADP shows the padding.
        let c = public
            .encrypt(&CipherAlgorithm::RsaPkcs1v15, b"hello")
            .unwrap()
            .data;
        let em = k.decrypt(&CipherAlgorithm::RsaRaw, &c).unwrap();
        assert_eq!(&em.expose_secret()[..2], &[0x00, 0x02]);
        assert!(em.expose_secret().ends_with(b"\x00hello"));
    }

    #[test]
    fn raw_rsa_refuses_values_and_lengths() {
        let k = key();
        let n = parts().n.clone();
        assert_eq!(
            code(k.sign(&SignAlgorithm::RsaRaw, &n)),
            "InvalidInputLength"
        );
        assert_eq!(
            code(k.sign(&SignAlgorithm::RsaRaw, &[0xff; 256])),
            "InvalidInputLength"
        );
        assert_eq!(
            code(k.sign(&SignAlgorithm::RsaRaw, &[1; 255])),
            "InvalidInputLength"
        );
        assert_eq!(
            code(k.encrypt(&CipherAlgorithm::RsaRaw, &n)),
            "InvalidInputLength"
        );
        assert_eq!(
            code(k.decrypt(&CipherAlgorithm::RsaRaw, &n)),
            "DecryptionFailed"
        );
        assert_eq!(
            code(k.decrypt(&CipherAlgorithm::RsaRaw, &[1; 257])),
            "InvalidInputLength"
        );
        let public = RsaKey::from_public(&parts().n, &parts().e).unwrap();
        assert!(code(public.sign(&SignAlgorithm::RsaRaw, &[0; 256])) != "ok");
        assert!(code(public.decrypt(&CipherAlgorithm::RsaRaw, &[0; 256])) != "ok");
    }
}
