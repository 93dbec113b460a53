//! AES keys: GCM, HMAC and key wrap (RFC 3394 and 5649, 128- and 256-bit keys) with
//! aws-lc-rs; CBC, ECB, CTR, CMAC, 192-bit key wrap and GCM opening with tags shorter than 16
//! bytes on the RustCrypto key (already AES-NI accelerated).

use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap, KeyWrapPadded};
use zeroize::Zeroizing;

use super::{fill, hmac_alg};
use crate::crypto::alg::{CipherAlgorithm, Ciphertext, SignAlgorithm, WrapAlgorithm};
use crate::crypto::material::{KeySpec, PublicKey};
use crate::crypto::provider::LoadedKey;
use crate::crypto::rustcrypto::aes::AesKey as RcAesKey;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// GCM nonce and full tag lengths.
const GCM_IV_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;
/// The key-wrap integrity block.
const KW_IV_LEN: usize = 8;

/// A loaded AES key: the GCM key schedule and the RustCrypto key (which holds the bytes, for
/// HMAC keys and the delegated modes).
pub struct AesKey {
    delegate: RcAesKey,
    gcm: LessSafeKey,
    bits: u32,
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKey({} bits, aws-lc, [REDACTED])", self.bits)
    }
}

impl AesKey {
    /// Loads raw key bytes: 16, 24 or 32 bytes (the delegate checks, with its errors).
    pub fn new(key: &[u8]) -> Result<Self> {
        let delegate = RcAesKey::new(key)?;
        let alg = match key.len() {
            16 => &AES_128_GCM,
            24 => &AES_192_GCM,
            _ => &AES_256_GCM,
        };
        let unbound = UnboundKey::new(alg, key)
            .map_err(|_| Error::material("AES key of an invalid length"))?;
        Ok(Self {
            delegate,
            gcm: LessSafeKey::new(unbound),
            bits: u32::try_from(key.len() * 8).unwrap_or_default(),
        })
    }

    fn bits_fit(&self, key_bits: Option<u32>) -> bool {
        key_bits.is_none_or(|b| b == self.bits)
    }

    /// A key-encryption key for `alg` (AES-KW or AES-KWP) when aws-lc has this key size.
    fn kek(&self, alg: &WrapAlgorithm) -> Option<AesKek> {
        let (WrapAlgorithm::AesKw { key_bits } | WrapAlgorithm::AesKwp { key_bits }) = alg else {
            return None;
        };
        let cipher = match self.bits {
            128 => &AES_128,
            256 => &AES_256,
            _ => return None,
        };
        if !self.bits_fit(*key_bits) {
            return None;
        }
        AesKek::new(cipher, self.delegate.key_bytes()).ok()
    }

    /// HMAC under this key's bytes.
    fn hmac_key(&self, alg: &SignAlgorithm) -> Option<hmac::Key> {
        let SignAlgorithm::Hmac { hash } = alg else {
            return None;
        };
        Some(hmac::Key::new(hmac_alg(*hash), self.delegate.key_bytes()))
    }
}

impl LoadedKey for AesKey {
    fn spec(&self) -> KeySpec {
        self.delegate.spec()
    }

    fn has_private(&self) -> bool {
        true
    }

    fn public_key(&self) -> Option<PublicKey> {
        None
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        match self.hmac_key(alg) {
            Some(key) => Ok(hmac::sign(&key, input).as_ref().to_vec()),
            None => self.delegate.sign(alg, input),
        }
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        match self.hmac_key(alg) {
            // Constant time; a tag of any other length is wrong.
            Some(key) => Ok(hmac::verify(&key, input, signature).is_ok()),
            None => self.delegate.verify(alg, input, signature),
        }
    }

    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext> {
        if let CipherAlgorithm::AesGcm {
            key_bits,
            iv,
            aad,
            tag_len,
        } = alg
            && self.bits_fit(*key_bits)
            && (12..=GCM_TAG_LEN).contains(tag_len)
            && iv.as_ref().is_none_or(|iv| iv.len() == GCM_IV_LEN)
        {
            let mut nonce = [0u8; GCM_IV_LEN];
            match iv {
                Some(iv) => nonce.copy_from_slice(iv),
                None => fill(&mut nonce)?,
            }
            // Room for the tag, which PKCS#11 callers append.
            let mut data = Vec::with_capacity(plaintext.len() + GCM_TAG_LEN);
            data.extend_from_slice(plaintext);
            let tag = self
                .gcm
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut data,
                )
                .map_err(|_| Error::input_length("AES-GCM input is too long"))?;
            // A shorter GCM tag is the full tag truncated (NIST SP 800-38D 5.2.1.2).
            let tag = tag.as_ref().get(..*tag_len).unwrap_or_default().to_vec();
            return Ok(Ciphertext {
                data,
                iv: Some(nonce.to_vec()),
                tag: Some(tag),
            });
        }
        self.delegate.encrypt(alg, plaintext)
    }

    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        if let CipherAlgorithm::AesGcm {
            key_bits,
            iv: Some(iv),
            aad,
            tag_len: GCM_TAG_LEN,
        } = alg
            && self.bits_fit(*key_bits)
            && let Ok(nonce) = Nonce::try_assume_unique_for_key(iv)
            && let Some(split) = ciphertext.len().checked_sub(GCM_TAG_LEN)
        {
            let (data, tag) = ciphertext.split_at(split);
            let mut buf = Zeroizing::new(data.to_vec());
            self.gcm
                .open_in_place_separate_tag(nonce, Aad::from(aad), tag, &mut buf)
                .map_err(|_| Error::DecryptionFailed)?;
            return Ok(SecretBytes::from(buf));
        }
        self.delegate.decrypt(alg, ciphertext)
    }

    fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>> {
        // Input the scheme cannot take goes to the delegate, for its precise error.
        let fits = match alg {
            WrapAlgorithm::AesKw { .. } => key.len() >= 16 && key.len().is_multiple_of(8),
            _ => !key.is_empty() && u32::try_from(key.len()).is_ok(),
        };
        if let Some(kek) = self.kek(alg).filter(|_| fits) {
            let mut out = vec![0; key.len().div_ceil(8) * 8 + KW_IV_LEN];
            let len = match alg {
                WrapAlgorithm::AesKw { .. } => kek.wrap(key, &mut out),
                _ => kek.wrap_with_padding(key, &mut out),
            }
            .map_err(|_| Error::internal("AES key wrap failed"))?
            .len();
            out.truncate(len);
            return Ok(out);
        }
        self.delegate.wrap(alg, key)
    }

    fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        let min = match alg {
            WrapAlgorithm::AesKw { .. } => 24,
            _ => 16,
        };
        if wrapped.len() >= min
            && wrapped.len().is_multiple_of(8)
            && let Some(kek) = self.kek(alg)
        {
            let mut out = Zeroizing::new(vec![0; wrapped.len() - KW_IV_LEN]);
            let len = match alg {
                WrapAlgorithm::AesKw { .. } => kek.unwrap(wrapped, &mut out),
                _ => kek.unwrap_with_padding(wrapped, &mut out),
            }
            .map_err(|_| Error::DecryptionFailed)?
            .len();
            out.truncate(len);
            return Ok(SecretBytes::from(out));
        }
        self.delegate.unwrap(alg, wrapped)
    }

    fn ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes> {
        self.delegate.ecdh(peer_point)
    }
}
