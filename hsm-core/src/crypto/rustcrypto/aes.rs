//! AES keys: GCM, CBC (with and without PKCS#7 padding), ECB, CTR, key wrap (RFC 3394 and
//! RFC 5649), CMAC, and HMAC keyed by the same bytes.

use ::aes::cipher::block_padding::{NoPadding, Padding, Pkcs7};
use ::aes::cipher::{
    Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt,
    BlockSizeUser, KeyInit, KeyIvInit, StreamCipher,
    consts::{U12, U13, U14, U15, U16},
};
use ::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{AeadInOut, AesGcm};
use aes_kw::{AesKw, AesKwp};
use cmac::{Cmac, Mac};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{hmac, random, wrong_family};
use crate::crypto::alg::{CipherAlgorithm, Ciphertext, SignAlgorithm, WrapAlgorithm};
use crate::crypto::material::{KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::LoadedKey;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// GCM nonce length (the only one accepted).
const GCM_IV_LEN: usize = 12;
/// AES block length.
const BLOCK: usize = 16;

/// Generates an AES key of `bits` bits (128, 192 or 256).
pub fn generate(bits: u32) -> Result<KeyMaterial> {
    let len = key_len(bits).ok_or_else(|| {
        Error::bad_parameter(format!(
            "AES key size {bits} is not supported (128, 192 or 256)"
        ))
    })?;
    let mut key = SecretBytes::zeroed(len);
    random::fill(key.expose_secret_mut())?;
    Ok(KeyMaterial::Aes(key))
}

fn key_len(bits: u32) -> Option<usize> {
    match bits {
        128 => Some(16),
        192 => Some(24),
        256 => Some(32),
        _ => None,
    }
}

/// Runs `$body` with `$c` bound to the AES type of the key length; other lengths are an
/// internal error (keys are checked when loaded).
macro_rules! with_aes {
    ($key:expr, $c:ident => $body:expr) => {
        match $key.len() {
            16 => {
                type $c = Aes128;
                $body
            }
            24 => {
                type $c = Aes192;
                $body
            }
            32 => {
                type $c = Aes256;
                $body
            }
            _ => Err(Error::internal("AES key of an invalid length")),
        }
    };
}

/// A loaded AES key (also the key of HMAC and CMAC).
pub struct AesKey {
    key: SecretBytes,
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKey({} bits, [REDACTED])", self.bits())
    }
}

impl AesKey {
    /// Loads raw key bytes: 16, 24 or 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self> {
        if !matches!(key.len(), 16 | 24 | 32) {
            return Err(Error::material(format!(
                "an AES key is 16, 24 or 32 bytes, not {}",
                key.len()
            )));
        }
        Ok(Self {
            key: SecretBytes::from_slice(key),
        })
    }

    fn bits(&self) -> u32 {
        match self.key.len() {
            16 => 128,
            24 => 192,
            _ => 256,
        }
    }

    fn check_bits(&self, key_bits: Option<u32>) -> Result<()> {
        match key_bits {
            Some(want) if want != self.bits() => Err(Error::key_type(format!(
                "the algorithm needs a {want}-bit AES key, this one has {} bits",
                self.bits()
            ))),
            _ => Ok(()),
        }
    }

    fn key(&self) -> &[u8] {
        self.key.expose_secret()
    }
}

impl LoadedKey for AesKey {
    fn spec(&self) -> KeySpec {
        KeySpec::Aes { bits: self.bits() }
    }

    fn has_private(&self) -> bool {
        true
    }

    fn public_key(&self) -> Option<PublicKey> {
        None
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        match alg {
            SignAlgorithm::Hmac { hash } => hmac::sign(*hash, self.key(), input),
            SignAlgorithm::Cmac => cmac(self.key(), input),
            other => Err(wrong_family(sign_name(other), &self.spec())),
        }
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        match alg {
            SignAlgorithm::Hmac { hash } => hmac::verify(*hash, self.key(), input, signature),
            SignAlgorithm::Cmac => {
                let expected = cmac(self.key(), input)?;
                Ok(expected.ct_eq(signature).into())
            }
            other => Err(wrong_family(sign_name(other), &self.spec())),
        }
    }

    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext> {
        match alg {
            CipherAlgorithm::AesGcm {
                key_bits,
                iv,
                aad,
                tag_len,
            } => {
                self.check_bits(*key_bits)?;
                let iv = match iv {
                    Some(iv) => iv.clone(),
                    None => random::bytes(GCM_IV_LEN)?,
                };
                // Room for the tag, which PKCS#11 callers append.
                let mut data = Vec::with_capacity(plaintext.len() + *tag_len);
                data.extend_from_slice(plaintext);
                let tag = gcm_seal(self.key(), &iv, aad, *tag_len, &mut data)?;
                Ok(Ciphertext {
                    data,
                    iv: Some(iv),
                    tag: Some(tag),
                })
            }
            CipherAlgorithm::AesCbc {
                key_bits,
                iv,
                padding,
            } => {
                self.check_bits(*key_bits)?;
                let data = cbc_encrypt(self.key(), iv, plaintext, *padding)?;
                Ok(Ciphertext {
                    data,
                    iv: Some(iv.to_vec()),
                    tag: None,
                })
            }
            CipherAlgorithm::AesEcb => {
                let mut data = plaintext.to_vec();
                ecb(self.key(), &mut data, true)?;
                Ok(Ciphertext {
                    data,
                    iv: None,
                    tag: None,
                })
            }
            CipherAlgorithm::AesCtr {
                counter_block,
                counter_bits,
            } => {
                let mut data = plaintext.to_vec();
                ctr(self.key(), counter_block, *counter_bits, &mut data)?;
                Ok(Ciphertext {
                    data,
                    iv: Some(counter_block.to_vec()),
                    tag: None,
                })
            }
            CipherAlgorithm::RsaPkcs1v15
            | CipherAlgorithm::RsaOaep { .. }
            | CipherAlgorithm::RsaRaw => Err(wrong_family("RSA encryption", &self.spec())),
        }
    }

    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        match alg {
            CipherAlgorithm::AesGcm {
                key_bits,
                iv,
                aad,
                tag_len,
            } => {
                self.check_bits(*key_bits)?;
                let iv = iv
                    .as_deref()
                    .ok_or_else(|| Error::param("AES-GCM decryption needs the IV"))?;
                let split = ciphertext
                    .len()
                    .checked_sub(*tag_len)
                    .ok_or_else(|| Error::input_length("AES-GCM input is shorter than its tag"))?;
                let (data, tag) = ciphertext.split_at(split);
                let mut buf = Zeroizing::new(data.to_vec());
                gcm_open(self.key(), iv, aad, tag, &mut buf)?;
                Ok(SecretBytes::from(buf))
            }
            CipherAlgorithm::AesCbc {
                key_bits,
                iv,
                padding,
            } => {
                self.check_bits(*key_bits)?;
                if *padding {
                    cbc_decrypt::<Pkcs7>(self.key(), iv, ciphertext)
                } else {
                    cbc_decrypt::<NoPadding>(self.key(), iv, ciphertext)
                }
            }
            CipherAlgorithm::AesEcb => {
                let mut buf = Zeroizing::new(ciphertext.to_vec());
                ecb(self.key(), &mut buf, false)?;
                Ok(SecretBytes::from(buf))
            }
            CipherAlgorithm::AesCtr {
                counter_block,
                counter_bits,
            } => {
                let mut buf = Zeroizing::new(ciphertext.to_vec());
                ctr(self.key(), counter_block, *counter_bits, &mut buf)?;
                Ok(SecretBytes::from(buf))
            }
            CipherAlgorithm::RsaPkcs1v15
            | CipherAlgorithm::RsaOaep { .. }
            | CipherAlgorithm::RsaRaw => Err(wrong_family("RSA decryption", &self.spec())),
        }
    }

    fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>> {
        match alg {
            WrapAlgorithm::AesKw { key_bits } => {
                self.check_bits(*key_bits)?;
                kw_wrap(self.key(), key)
            }
            WrapAlgorithm::AesKwp { key_bits } => {
                self.check_bits(*key_bits)?;
                kwp_wrap(self.key(), key)
            }
            WrapAlgorithm::RsaPkcs1v15 | WrapAlgorithm::RsaOaep { .. } => {
                Err(wrong_family("RSA key wrapping", &self.spec()))
            }
        }
    }

    fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        match alg {
            WrapAlgorithm::AesKw { key_bits } => {
                self.check_bits(*key_bits)?;
                kw_unwrap(self.key(), wrapped)
            }
            WrapAlgorithm::AesKwp { key_bits } => {
                self.check_bits(*key_bits)?;
                kwp_unwrap(self.key(), wrapped)
            }
            WrapAlgorithm::RsaPkcs1v15 | WrapAlgorithm::RsaOaep { .. } => {
                Err(wrong_family("RSA key unwrapping", &self.spec()))
            }
        }
    }

    fn ecdh(&self, _peer_point: &[u8]) -> Result<SecretBytes> {
        Err(wrong_family("ECDH", &self.spec()))
    }
}

fn sign_name(alg: &SignAlgorithm) -> &'static str {
    match alg {
        SignAlgorithm::RsaPkcs1v15 { .. } => "RSASSA-PKCS1-v1_5",
        SignAlgorithm::RsaPss { .. } => "RSASSA-PSS",
        SignAlgorithm::Ecdsa { .. } => "ECDSA",
        SignAlgorithm::Hmac { .. } => "HMAC",
        SignAlgorithm::Cmac => "CMAC",
        SignAlgorithm::RsaRaw => "raw RSA",
    }
}

// --- GCM -------------------------------------------------------------------------------------

fn gcm_params(iv: &[u8], tag_len: usize) -> Result<()> {
    if iv.len() != GCM_IV_LEN {
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
    Ok(())
}

/// Runs `$body` with `$t` bound to the tag-size type of `$tag_len` (12 to 16).
macro_rules! with_tag_size {
    ($tag_len:expr, $t:ident => $body:expr) => {
        match $tag_len {
            12 => {
                type $t = U12;
                $body
            }
            13 => {
                type $t = U13;
                $body
            }
            14 => {
                type $t = U14;
                $body
            }
            15 => {
                type $t = U15;
                $body
            }
            16 => {
                type $t = U16;
                $body
            }
            other => Err(Error::param(format!(
                "AES-GCM tags are 12 to 16 bytes, got {other}"
            ))),
        }
    };
}

/// Encrypts `data` in place; returns the tag.
fn gcm_seal(key: &[u8], iv: &[u8], aad: &[u8], tag_len: usize, data: &mut [u8]) -> Result<Vec<u8>> {
    gcm_params(iv, tag_len)?;
    with_aes!(key, C => with_tag_size!(tag_len, T => gcm_seal_with::<AesGcm<C, U12, T>>(key, iv, aad, data)))
}

fn gcm_seal_with<A: AeadInOut + KeyInit>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    data: &mut [u8],
) -> Result<Vec<u8>> {
    let cipher = A::new_from_slice(key).map_err(|_| Error::internal("AES-GCM key length"))?;
    let nonce = <&aes_gcm::aead::Nonce<A>>::try_from(iv)
        .map_err(|_| Error::param("AES-GCM IVs are 12 bytes"))?;
    let tag = cipher
        .encrypt_inout_detached(nonce, aad, data.into())
        .map_err(|_| Error::input_length("AES-GCM input is too long"))?;
    Ok(tag.to_vec())
}

/// Decrypts `data` in place after checking `tag`; any failure is `DecryptionFailed`.
fn gcm_open(key: &[u8], iv: &[u8], aad: &[u8], tag: &[u8], data: &mut [u8]) -> Result<()> {
    gcm_params(iv, tag.len())?;
    with_aes!(key, C => with_tag_size!(tag.len(), T => gcm_open_with::<AesGcm<C, U12, T>>(key, iv, aad, tag, data)))
}

fn gcm_open_with<A: AeadInOut + KeyInit>(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    tag: &[u8],
    data: &mut [u8],
) -> Result<()> {
    let cipher = A::new_from_slice(key).map_err(|_| Error::internal("AES-GCM key length"))?;
    let nonce = <&aes_gcm::aead::Nonce<A>>::try_from(iv)
        .map_err(|_| Error::param("AES-GCM IVs are 12 bytes"))?;
    let tag = <&aes_gcm::aead::Tag<A>>::try_from(tag).map_err(|_| Error::DecryptionFailed)?;
    cipher
        .decrypt_inout_detached(nonce, aad, data.into(), tag)
        .map_err(|_| Error::DecryptionFailed)
}

// --- CBC and ECB -----------------------------------------------------------------------------

fn cbc_encrypt(key: &[u8], iv: &[u8; 16], plaintext: &[u8], padding: bool) -> Result<Vec<u8>> {
    let padded_len = if padding {
        (plaintext.len() / BLOCK + 1) * BLOCK
    } else if plaintext.len().is_multiple_of(BLOCK) {
        plaintext.len()
    } else {
        return Err(Error::input_length(
            "AES-CBC without padding takes whole 16-byte blocks",
        ));
    };
    let mut out = vec![0; padded_len];
    let len = with_aes!(key, C => {
        let enc = cbc::Encryptor::<C>::new_from_slices(key, iv)
            .map_err(|_| Error::internal("AES-CBC key length"))?;
        let written = if padding {
            enc.encrypt_padded_b2b::<Pkcs7>(plaintext, &mut out)
        } else {
            enc.encrypt_padded_b2b::<NoPadding>(plaintext, &mut out)
        };
        written
            .map(<[u8]>::len)
            .map_err(|_| Error::internal("AES-CBC output buffer"))
    })?;
    out.truncate(len);
    Ok(out)
}

fn cbc_decrypt<P: Padding>(key: &[u8], iv: &[u8; 16], ciphertext: &[u8]) -> Result<SecretBytes> {
    if !ciphertext.len().is_multiple_of(BLOCK) {
        return Err(Error::input_length(
            "AES-CBC ciphertext must be whole 16-byte blocks",
        ));
    }
    let mut out = Zeroizing::new(vec![0; ciphertext.len()]);
    let len = with_aes!(key, C => {
        let dec = cbc::Decryptor::<C>::new_from_slices(key, iv)
            .map_err(|_| Error::internal("AES-CBC key length"))?;
        dec.decrypt_padded_b2b::<P>(ciphertext, &mut out)
            .map(<[u8]>::len)
            .map_err(|_| Error::DecryptionFailed)
    })?;
    out.truncate(len);
    Ok(SecretBytes::from(out))
}

/// AES-ECB in place over whole blocks.
fn ecb(key: &[u8], data: &mut [u8], encrypt: bool) -> Result<()> {
    if !data.len().is_multiple_of(BLOCK) {
        return Err(Error::input_length("AES-ECB takes whole 16-byte blocks"));
    }
    with_aes!(key, C => {
        let cipher = C::new_from_slice(key).map_err(|_| Error::internal("AES key length"))?;
        for chunk in data.chunks_exact_mut(BLOCK) {
            let block = <&mut Array<u8, <C as BlockSizeUser>::BlockSize>>::try_from(chunk)
                .map_err(|_| Error::internal("AES block length"))?;
            if encrypt {
                cipher.encrypt_block(block);
            } else {
                cipher.decrypt_block(block);
            }
        }
        Ok(())
    })
}

// --- CTR -------------------------------------------------------------------------------------

/// Checks that `len` bytes fit before the low `counter_bits` of the counter block wrap around.
fn ctr_fits(counter_block: &[u8; 16], counter_bits: u32, len: usize) -> Result<()> {
    let mask = match counter_bits {
        32 => u128::from(u32::MAX),
        64 => u128::from(u64::MAX),
        128 => u128::MAX,
        other => {
            return Err(Error::param(format!(
                "AES-CTR counters of {other} bits are not supported (32, 64 or 128)"
            )));
        }
    };
    let counter = u128::from_be_bytes(*counter_block) & mask;
    let blocks = u128::try_from(len.div_ceil(BLOCK)).unwrap_or(u128::MAX);
    // The last block uses counter + blocks - 1, which must not exceed the mask.
    if blocks > 0 && blocks - 1 > mask - counter {
        return Err(Error::input_length(format!(
            "the {counter_bits}-bit AES-CTR counter would wrap around"
        )));
    }
    Ok(())
}

fn ctr(key: &[u8], counter_block: &[u8; 16], counter_bits: u32, data: &mut [u8]) -> Result<()> {
    ctr_fits(counter_block, counter_bits, data.len())?;
    let wrapped = || Error::input_length("the AES-CTR counter would wrap around");
    with_aes!(key, C => {
        match counter_bits {
            32 => ctr::Ctr32BE::<C>::new_from_slices(key, counter_block)
                .map_err(|_| Error::internal("AES-CTR key length"))?
                .try_apply_keystream(data)
                .map_err(|_| wrapped()),
            64 => ctr::Ctr64BE::<C>::new_from_slices(key, counter_block)
                .map_err(|_| Error::internal("AES-CTR key length"))?
                .try_apply_keystream(data)
                .map_err(|_| wrapped()),
            _ => ctr::Ctr128BE::<C>::new_from_slices(key, counter_block)
                .map_err(|_| Error::internal("AES-CTR key length"))?
                .try_apply_keystream(data)
                .map_err(|_| wrapped()),
        }
    })
}

// --- Key wrap --------------------------------------------------------------------------------

fn kw_wrap(kek: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    if key.len() < 16 || !key.len().is_multiple_of(8) {
        return Err(Error::input_length(
            "AES-KW wraps keys of 16 bytes or more, in 8-byte steps",
        ));
    }
    let mut out = vec![0; key.len() + aes_kw::IV_LEN];
    with_aes!(kek, C => {
        AesKw::<C>::new_from_slice(kek)
            .map_err(|_| Error::internal("AES-KW key length"))?
            .wrap_key(key, &mut out)
            .map(|_| ())
            .map_err(|_| Error::internal("AES-KW output buffer"))
    })?;
    Ok(out)
}

fn kw_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes> {
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return Err(Error::input_length(
            "AES-KW output is 24 bytes or more, in 8-byte steps",
        ));
    }
    let mut out = Zeroizing::new(vec![0; wrapped.len() - aes_kw::IV_LEN]);
    with_aes!(kek, C => {
        AesKw::<C>::new_from_slice(kek)
            .map_err(|_| Error::internal("AES-KW key length"))?
            .unwrap_key(wrapped, &mut out)
            .map(|_| ())
            .map_err(|_| Error::DecryptionFailed)
    })?;
    Ok(SecretBytes::from(out))
}

fn kwp_wrap(kek: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    if key.is_empty() || u32::try_from(key.len()).is_err() {
        return Err(Error::input_length("AES-KWP wraps keys of 1 byte to 4 GiB"));
    }
    let mut out = vec![0; key.len().div_ceil(8) * 8 + aes_kw::IV_LEN];
    let len = with_aes!(kek, C => {
        AesKwp::<C>::new_from_slice(kek)
            .map_err(|_| Error::internal("AES-KWP key length"))?
            .wrap_key(key, &mut out)
            .map(<[u8]>::len)
            .map_err(|_| Error::internal("AES-KWP output buffer"))
    })?;
    out.truncate(len);
    Ok(out)
}

fn kwp_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes> {
    if wrapped.len() < 16 || !wrapped.len().is_multiple_of(8) {
        return Err(Error::input_length(
            "AES-KWP output is 16 bytes or more, in 8-byte steps",
        ));
    }
    let mut out = Zeroizing::new(vec![0; wrapped.len() - aes_kw::IV_LEN]);
    let len = with_aes!(kek, C => {
        AesKwp::<C>::new_from_slice(kek)
            .map_err(|_| Error::internal("AES-KWP key length"))?
            .unwrap_key(wrapped, &mut out)
            .map(<[u8]>::len)
            .map_err(|_| Error::DecryptionFailed)
    })?;
    out.truncate(len);
    Ok(SecretBytes::from(out))
}

// --- CMAC ------------------------------------------------------------------------------------

fn cmac(key: &[u8], message: &[u8]) -> Result<Vec<u8>> {
    with_aes!(key, C => {
        let mut mac = <Cmac<C> as KeyInit>::new_from_slice(key)
            .map_err(|_| Error::internal("CMAC key length"))?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    })
}

#[cfg(test)]
mod tests;
