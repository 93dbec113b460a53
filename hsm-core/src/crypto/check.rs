//! Provider-independent checks: does the algorithm fit the key, and the input the algorithm?
//!
//! Run by the core before every provider call, so both providers accept and refuse exactly
//! the same inputs, with the same typed errors.

use super::alg::{CipherAlgorithm, Ciphertext, HashAlg, SignAlgorithm, WrapAlgorithm};
use super::material::{KeyKind, KeySpec};
use super::provider::LoadedKey;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// The largest input any operation accepts (64 MiB).
pub const MAX_INPUT: usize = 64 << 20;

fn modulus_len(spec: &KeySpec) -> Result<usize> {
    match spec {
        KeySpec::Rsa { bits } => Ok((*bits as usize).div_ceil(8)),
        other => Err(Error::key_type(format!(
            "an RSA key is needed, not {other}"
        ))),
    }
}

fn need_aes(spec: &KeySpec, key_bits: Option<u32>) -> Result<()> {
    match spec {
        KeySpec::Aes { bits } => match key_bits {
            Some(want) if want != *bits => Err(Error::key_type(format!(
                "the algorithm needs a {want}-bit AES key, this one has {bits} bits"
            ))),
            _ => Ok(()),
        },
        other => Err(Error::key_type(format!(
            "an AES key is needed, not {other}"
        ))),
    }
}

/// HMAC takes an AES key's bytes or a generic secret.
fn need_hmac_key(spec: &KeySpec) -> Result<()> {
    match spec {
        KeySpec::Aes { .. } | KeySpec::Secret { .. } => Ok(()),
        other => Err(Error::key_type(format!(
            "HMAC needs a generic secret or an AES key, not {other}"
        ))),
    }
}

/// Checks an input against [`MAX_INPUT`].
pub fn max_input(len: usize) -> Result<()> {
    if len > MAX_INPUT {
        return Err(Error::input_length(format!(
            "input exceeds {MAX_INPUT} bytes"
        )));
    }
    Ok(())
}

/// Raw RSA takes exactly the modulus' length (the value below the modulus is the provider's
/// to check: it needs the number).
fn raw_len(spec: &KeySpec, len: usize) -> Result<()> {
    let k = modulus_len(spec)?;
    if len != k {
        return Err(Error::input_length(format!(
            "raw RSA takes exactly {k} bytes with this key, got {len}"
        )));
    }
    Ok(())
}

fn digest_len(hash: HashAlg, len: usize) -> Result<()> {
    if len != hash.output_len() {
        return Err(Error::input_length(format!(
            "a {hash} digest is {} bytes, got {len}",
            hash.output_len()
        )));
    }
    Ok(())
}

/// Checks a signature (or MAC) algorithm against a key, before any input is seen (what
/// PKCS#11's `C_SignInit` and `C_VerifyInit` must refuse): type, size, curve, parameters.
pub fn sign_key(spec: &KeySpec, alg: &SignAlgorithm) -> Result<()> {
    match alg {
        SignAlgorithm::RsaPkcs1v15 { .. } | SignAlgorithm::RsaRaw => modulus_len(spec).map(drop),
        SignAlgorithm::RsaPss {
            hash,
            mgf1,
            salt_len,
        } => {
            let KeySpec::Rsa { bits } = spec else {
                return Err(Error::key_type("RSA-PSS needs an RSA key"));
            };
            if mgf1 != hash {
                return Err(Error::param(format!(
                    "RSA-PSS with {hash} needs MGF1 with {hash}, not {mgf1}"
                )));
            }
            // RFC 8017 9.1.1: emLen >= hLen + sLen + 2, emLen = ceil((modBits - 1) / 8).
            let em_len = (*bits as usize).saturating_sub(1).div_ceil(8);
            if em_len < hash.output_len() + salt_len + 2 {
                return Err(Error::param(format!(
                    "PSS salt of {salt_len} bytes is too long for a {bits}-bit key"
                )));
            }
            Ok(())
        }
        SignAlgorithm::Ecdsa { curve, .. } => {
            let KeySpec::Ec { curve: key_curve } = spec else {
                return Err(Error::key_type("ECDSA needs an EC key"));
            };
            if let Some(want) = curve
                && want != key_curve
            {
                return Err(Error::key_type(format!(
                    "the algorithm needs a {want} key, this one is on {key_curve}"
                )));
            }
            Ok(())
        }
        SignAlgorithm::Hmac { .. } => need_hmac_key(spec),
        SignAlgorithm::Cmac => need_aes(spec, None),
    }
}

/// Checks a signature (or MAC) operation: algorithm against key, input length.
pub fn sign(spec: &KeySpec, alg: &SignAlgorithm, input_len: usize) -> Result<()> {
    max_input(input_len)?;
    sign_key(spec, alg)?;
    match alg {
        SignAlgorithm::RsaPkcs1v15 { hash } => {
            let k = modulus_len(spec)?;
            match hash {
                Some(h) => digest_len(*h, input_len),
                None if input_len + 11 > k => Err(Error::input_length(format!(
                    "PKCS#1 v1.5 input of {input_len} bytes does not fit a {k}-byte modulus"
                ))),
                None => Ok(()),
            }
        }
        SignAlgorithm::RsaPss { hash, .. } => digest_len(*hash, input_len),
        SignAlgorithm::RsaRaw => raw_len(spec, input_len),
        SignAlgorithm::Ecdsa { hash, .. } => match hash {
            Some(h) => digest_len(*h, input_len),
            None if input_len == 0 => Err(Error::input_length("ECDSA input is empty")),
            None => Ok(()),
        },
        SignAlgorithm::Hmac { .. } | SignAlgorithm::Cmac => Ok(()),
    }
}

/// Checks a cipher algorithm against a key, before any input is seen (what PKCS#11's
/// `C_EncryptInit` and `C_DecryptInit` must refuse): type, size, parameters.
pub fn cipher_key(spec: &KeySpec, alg: &CipherAlgorithm) -> Result<()> {
    match alg {
        CipherAlgorithm::RsaPkcs1v15 | CipherAlgorithm::RsaRaw => modulus_len(spec).map(drop),
        CipherAlgorithm::RsaOaep { label, .. } => {
            modulus_len(spec)?;
            max_input(label.len())
        }
        CipherAlgorithm::AesGcm {
            key_bits,
            iv,
            tag_len,
            aad,
        } => {
            need_aes(spec, *key_bits)?;
            gcm_params(iv.as_deref(), *tag_len, aad.len())
        }
        CipherAlgorithm::AesCbc { key_bits, .. } => need_aes(spec, *key_bits),
        CipherAlgorithm::AesEcb => need_aes(spec, None),
        CipherAlgorithm::AesCtr { counter_bits, .. } => {
            need_aes(spec, None)?;
            ctr_params(*counter_bits)
        }
    }
}

/// Checks an encryption: algorithm against key, plaintext length, parameters.
pub fn encrypt(spec: &KeySpec, alg: &CipherAlgorithm, plaintext_len: usize) -> Result<()> {
    max_input(plaintext_len)?;
    cipher_key(spec, alg)?;
    match alg {
        CipherAlgorithm::RsaRaw => raw_len(spec, plaintext_len),
        CipherAlgorithm::RsaPkcs1v15 => {
            let k = modulus_len(spec)?;
            if plaintext_len + 11 > k {
                return Err(Error::input_length(format!(
                    "RSA1_5 takes at most {} bytes with this key",
                    k.saturating_sub(11)
                )));
            }
            Ok(())
        }
        CipherAlgorithm::RsaOaep { hash, .. } => {
            let k = modulus_len(spec)?;
            let overhead = 2 * hash.output_len() + 2;
            if plaintext_len + overhead > k {
                return Err(Error::input_length(format!(
                    "RSA-OAEP with {hash} takes at most {} bytes with this key",
                    k.saturating_sub(overhead)
                )));
            }
            Ok(())
        }
        CipherAlgorithm::AesCbc { padding: false, .. } if !plaintext_len.is_multiple_of(16) => Err(
            Error::input_length("AES-CBC without padding takes whole 16-byte blocks"),
        ),
        CipherAlgorithm::AesEcb if !plaintext_len.is_multiple_of(16) => {
            Err(Error::input_length("AES-ECB takes whole 16-byte blocks"))
        }
        CipherAlgorithm::AesGcm { .. }
        | CipherAlgorithm::AesCbc { .. }
        | CipherAlgorithm::AesEcb
        | CipherAlgorithm::AesCtr { .. } => Ok(()),
    }
}

/// Checks a decryption: algorithm against key, ciphertext length, parameters.
pub fn decrypt(spec: &KeySpec, alg: &CipherAlgorithm, ciphertext_len: usize) -> Result<()> {
    max_input(ciphertext_len)?;
    cipher_key(spec, alg)?;
    match alg {
        CipherAlgorithm::RsaPkcs1v15
        | CipherAlgorithm::RsaOaep { .. }
        | CipherAlgorithm::RsaRaw => {
            let k = modulus_len(spec)?;
            if ciphertext_len != k {
                return Err(Error::input_length(format!(
                    "RSA ciphertext must be {k} bytes, got {ciphertext_len}"
                )));
            }
            Ok(())
        }
        CipherAlgorithm::AesGcm { iv, tag_len, .. } => {
            if iv.is_none() {
                return Err(Error::param("AES-GCM decryption needs the IV"));
            }
            if ciphertext_len < *tag_len {
                return Err(Error::input_length("AES-GCM input is shorter than its tag"));
            }
            Ok(())
        }
        CipherAlgorithm::AesCbc { padding, .. } => {
            if !ciphertext_len.is_multiple_of(16) || (*padding && ciphertext_len == 0) {
                return Err(Error::input_length(
                    "AES-CBC ciphertext must be whole 16-byte blocks",
                ));
            }
            Ok(())
        }
        CipherAlgorithm::AesEcb => encrypt(spec, alg, ciphertext_len),
        CipherAlgorithm::AesCtr { .. } => Ok(()),
    }
}

fn gcm_params(iv: Option<&[u8]>, tag_len: usize, aad_len: usize) -> Result<()> {
    if let Some(iv) = iv
        && iv.len() != 12
    {
        return Err(Error::param(format!(
            "AES-GCM IVs are 12 bytes, got {}",
            iv.len()
        )));
    }
    if !(12..=16).contains(&tag_len) {
        return Err(Error::param(format!(
            "AES-GCM tags are 12 to 16 bytes, got {tag_len}"
        )));
    }
    max_input(aad_len)
}

fn ctr_params(counter_bits: u32) -> Result<()> {
    if !matches!(counter_bits, 32 | 64 | 128) {
        return Err(Error::param(format!(
            "AES-CTR counters of {counter_bits} bits are not supported (32, 64 or 128)"
        )));
    }
    Ok(())
}

/// Checks a key-wrapping algorithm against a wrapping (or unwrapping) key, before any key is
/// seen: type and size.
pub fn wrap_key(spec: &KeySpec, alg: &WrapAlgorithm) -> Result<()> {
    if let Some(cipher) = alg.as_rsa_cipher() {
        return cipher_key(spec, &cipher);
    }
    match alg {
        WrapAlgorithm::AesKw { key_bits } | WrapAlgorithm::AesKwp { key_bits } => {
            need_aes(spec, *key_bits)
        }
        WrapAlgorithm::RsaPkcs1v15 | WrapAlgorithm::RsaOaep { .. } => Ok(()),
    }
}

/// Checks a key wrap: algorithm against wrapping key, length of the key to wrap.
pub fn wrap(spec: &KeySpec, alg: &WrapAlgorithm, key_len: usize) -> Result<()> {
    if let Some(cipher) = alg.as_rsa_cipher() {
        return encrypt(spec, &cipher, key_len);
    }
    max_input(key_len)?;
    wrap_key(spec, alg)?;
    match alg {
        WrapAlgorithm::AesKw { .. } => {
            if key_len < 16 || !key_len.is_multiple_of(8) {
                return Err(Error::input_length(
                    "AES-KW wraps keys of 16 bytes or more, in 8-byte steps",
                ));
            }
            Ok(())
        }
        WrapAlgorithm::AesKwp { .. } => {
            if key_len == 0 {
                return Err(Error::input_length("AES-KWP cannot wrap an empty key"));
            }
            Ok(())
        }
        WrapAlgorithm::RsaPkcs1v15 | WrapAlgorithm::RsaOaep { .. } => Ok(()),
    }
}

/// Checks a key unwrap: algorithm against unwrapping key, length of the wrapped key.
pub fn unwrap(spec: &KeySpec, alg: &WrapAlgorithm, wrapped_len: usize) -> Result<()> {
    if let Some(cipher) = alg.as_rsa_cipher() {
        return decrypt(spec, &cipher, wrapped_len);
    }
    max_input(wrapped_len)?;
    wrap_key(spec, alg)?;
    match alg {
        WrapAlgorithm::AesKw { .. } => {
            if wrapped_len < 24 || !wrapped_len.is_multiple_of(8) {
                return Err(Error::input_length(
                    "AES-KW output is 24 bytes or more, in 8-byte steps",
                ));
            }
            Ok(())
        }
        WrapAlgorithm::AesKwp { .. } => {
            if wrapped_len < 16 || !wrapped_len.is_multiple_of(8) {
                return Err(Error::input_length(
                    "AES-KWP output is 16 bytes or more, in 8-byte steps",
                ));
            }
            Ok(())
        }
        WrapAlgorithm::RsaPkcs1v15 | WrapAlgorithm::RsaOaep { .. } => Ok(()),
    }
}

/// Checks that a key of this kind can do ECDH.
pub fn ecdh(spec: &KeySpec) -> Result<()> {
    match spec.kind() {
        KeyKind::Ec => Ok(()),
        _ => Err(Error::key_type(format!("ECDH needs an EC key, not {spec}"))),
    }
}

/// The length of a signature (or MAC) by `alg` with a key of `spec`: every scheme offered has
/// one fixed length (RSA: the modulus; ECDSA: `r || s`; MACs: the tag).
pub fn signature_len(spec: &KeySpec, alg: &SignAlgorithm) -> Result<usize> {
    sign_key(spec, alg)?;
    match (alg, spec) {
        (
            SignAlgorithm::RsaPkcs1v15 { .. }
            | SignAlgorithm::RsaPss { .. }
            | SignAlgorithm::RsaRaw,
            _,
        ) => modulus_len(spec),
        (SignAlgorithm::Ecdsa { .. }, KeySpec::Ec { curve }) => Ok(2 * curve.field_len()),
        (SignAlgorithm::Hmac { hash }, _) => Ok(hash.output_len()),
        (SignAlgorithm::Cmac, _) => Ok(16),
        (SignAlgorithm::Ecdsa { .. }, _) => Err(Error::key_type("ECDSA needs an EC key")),
    }
}

/// The length of the ciphertext (with its tag) of `plaintext_len` bytes.
pub fn ciphertext_len(
    spec: &KeySpec,
    alg: &CipherAlgorithm,
    plaintext_len: usize,
) -> Result<usize> {
    cipher_key(spec, alg)?;
    Ok(match alg {
        CipherAlgorithm::RsaPkcs1v15
        | CipherAlgorithm::RsaOaep { .. }
        | CipherAlgorithm::RsaRaw => modulus_len(spec)?,
        CipherAlgorithm::AesGcm { tag_len, .. } => plaintext_len.saturating_add(*tag_len),
        CipherAlgorithm::AesCbc { padding: true, .. } => (plaintext_len / 16 + 1) * 16,
        CipherAlgorithm::AesCbc { .. }
        | CipherAlgorithm::AesEcb
        | CipherAlgorithm::AesCtr { .. } => plaintext_len,
    })
}

/// The most plaintext `ciphertext_len` bytes can hold (the exact length where the scheme has
/// no padding).
pub fn plaintext_max_len(
    spec: &KeySpec,
    alg: &CipherAlgorithm,
    ciphertext_len: usize,
) -> Result<usize> {
    cipher_key(spec, alg)?;
    Ok(match alg {
        CipherAlgorithm::RsaPkcs1v15 => modulus_len(spec)?.saturating_sub(11),
        CipherAlgorithm::RsaRaw => modulus_len(spec)?,
        CipherAlgorithm::RsaOaep { hash, .. } => {
            modulus_len(spec)?.saturating_sub(2 * hash.output_len() + 2)
        }
        CipherAlgorithm::AesGcm { tag_len, .. } => ciphertext_len.saturating_sub(*tag_len),
        CipherAlgorithm::AesCbc { .. }
        | CipherAlgorithm::AesEcb
        | CipherAlgorithm::AesCtr { .. } => ciphertext_len,
    })
}

/// The length of a wrapped key of `key_len` bytes.
pub fn wrapped_len(spec: &KeySpec, alg: &WrapAlgorithm, key_len: usize) -> Result<usize> {
    wrap_key(spec, alg)?;
    Ok(match alg {
        WrapAlgorithm::RsaPkcs1v15 | WrapAlgorithm::RsaOaep { .. } => modulus_len(spec)?,
        WrapAlgorithm::AesKw { .. } => key_len.saturating_add(8),
        WrapAlgorithm::AesKwp { .. } => key_len.div_ceil(8).saturating_mul(8).saturating_add(8),
    })
}

/// A loaded key with its spec: every operation checks its input first, then calls the
/// provider. Pool keys and in-memory keys both go through it, so they refuse alike.
/// Encrypting into a buffer: the output carries no IV, so an AES-GCM encryption must name
/// its own (a generated one would be lost).
pub(crate) fn names_its_iv(alg: &CipherAlgorithm) -> Result<()> {
    match alg {
        CipherAlgorithm::AesGcm { iv: None, .. } => Err(Error::bad_parameter(
            "AES-GCM into a buffer needs its IV: the output carries none",
        )),
        _ => Ok(()),
    }
}

pub(crate) struct Checked<'a> {
    pub spec: &'a KeySpec,
    pub key: &'a dyn LoadedKey,
}

impl Checked<'_> {
    pub(crate) fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        sign(self.spec, alg, input.len())?;
        self.key.sign(alg, input)
    }

    /// Signs into `out` ([`LoadedKey::sign_into`]).
    pub(crate) fn sign_into(
        &self,
        alg: &SignAlgorithm,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        sign(self.spec, alg, input.len())?;
        // A short `out` is the provider's `InvalidInputLength`.
        self.key.sign_into(alg, input, out)
    }

    pub(crate) fn verify(
        &self,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        sign(self.spec, alg, input.len())?;
        self.key.verify(alg, input, signature)
    }

    pub(crate) fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext> {
        encrypt(self.spec, alg, plaintext.len())?;
        self.key.encrypt(alg, plaintext)
    }

    /// Encrypts into `out` ([`LoadedKey::encrypt_into`]): an AES-GCM encryption needs its IV
    /// given (a generated one would be lost).
    pub(crate) fn encrypt_into(
        &self,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        names_its_iv(alg)?;
        encrypt(self.spec, alg, plaintext.len())?;
        // A short `out` is the provider's `InvalidInputLength`.
        self.key.encrypt_into(alg, plaintext, out)
    }

    pub(crate) fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        decrypt(self.spec, alg, ciphertext.len())?;
        self.key.decrypt(alg, ciphertext)
    }

    pub(crate) fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>> {
        wrap(self.spec, alg, key.len())?;
        self.key.wrap(alg, key)
    }

    pub(crate) fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        unwrap(self.spec, alg, wrapped.len())?;
        self.key.unwrap(alg, wrapped)
    }

    pub(crate) fn ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes> {
        ecdh(self.spec)?;
        self.key.ecdh(peer_point)
    }
}

#[cfg(test)]
mod tests;
