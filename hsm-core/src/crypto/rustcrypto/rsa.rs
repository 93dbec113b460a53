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
mod tests;
