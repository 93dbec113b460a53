//! AES keys: GCM, HMAC and key wrap (RFC 3394 and 5649, 128- and 256-bit keys) with
//! aws-lc-rs; CBC, ECB, CTR, CMAC, 192-bit key wrap and GCM opening with tags shorter than 16
//! bytes are passed on (the RustCrypto key is already AES-NI accelerated).

use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap, KeyWrapPadded};
use zeroize::Zeroizing;

use std::sync::Arc;

use super::{HmacKeys, fill};
use crate::crypto::alg::{CipherAlgorithm, Ciphertext, SignAlgorithm, WrapAlgorithm};
use crate::crypto::material::{KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::PartialKey;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// GCM nonce and full tag lengths.
const GCM_IV_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;
/// The key-wrap integrity block.
const KW_IV_LEN: usize = 8;

/// Generates a key of 128, 192 or 256 bits, as material and loaded.
pub fn generate(bits: u32) -> Result<(KeyMaterial, Arc<dyn PartialKey>)> {
    let mut key = SecretBytes::zeroed(bits as usize / 8);
    fill(key.expose_secret_mut())?;
    let loaded = AesKey::new(key.expose_secret())
        .ok_or_else(|| Error::internal("AES key of an invalid length"))?;
    Ok((KeyMaterial::Aes(key), Arc::new(loaded)))
}

/// A loaded AES key: the bytes (for HMAC and key-wrap keys) and the GCM key schedule.
pub struct AesKey {
    key: SecretBytes,
    gcm: LessSafeKey,
    bits: u32,
    hmac: HmacKeys,
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKey({} bits, aws-lc, [REDACTED])", self.bits)
    }
}

impl AesKey {
    /// Loads raw key bytes: 16, 24 or 32 bytes, else `None` (the full provider refuses them,
    /// with its error).
    pub fn new(key: &[u8]) -> Option<Self> {
        let alg = match key.len() {
            16 => &AES_128_GCM,
            24 => &AES_192_GCM,
            32 => &AES_256_GCM,
            _ => return None,
        };
        let unbound = UnboundKey::new(alg, key).ok()?;
        Some(Self {
            key: SecretBytes::from_slice(key),
            gcm: LessSafeKey::new(unbound),
            bits: u32::try_from(key.len() * 8).ok()?,
            hmac: HmacKeys::default(),
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
        AesKek::new(cipher, self.key.expose_secret()).ok()
    }

    /// AES-GCM encryption under `iv` (a random one when `None`), the tag truncated to
    /// `tag_len` bytes.
    fn seal(
        &self,
        iv: Option<&[u8]>,
        aad: &[u8],
        tag_len: usize,
        plaintext: &[u8],
    ) -> Result<Ciphertext> {
        let mut nonce = [0u8; GCM_IV_LEN];
        match iv {
            Some(iv) => nonce.copy_from_slice(iv),
            None => fill(&mut nonce)?,
        }
        // Room for the tag, which PKCS#11 callers append.
        let mut data = Vec::with_capacity(plaintext.len() + GCM_TAG_LEN);
        data.extend_from_slice(plaintext);
        let mut tag = vec![0; tag_len];
        self.seal_in_place(nonce, aad, &mut data, &mut tag)?;
        Ok(Ciphertext {
            data,
            iv: Some(nonce.to_vec()),
            tag: Some(tag),
        })
    }

    /// AES-GCM over `data` in place under `nonce`; the tag into `tag` (at most 16 bytes: a
    /// shorter GCM tag is the full tag truncated, NIST SP 800-38D 5.2.1.2).
    fn seal_in_place(
        &self,
        nonce: [u8; GCM_IV_LEN],
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> Result<()> {
        let full = self
            .gcm
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), data)
            .map_err(|_| Error::input_length("AES-GCM input is too long"))?;
        let full = full
            .as_ref()
            .get(..tag.len())
            .ok_or_else(|| Error::internal("a GCM tag longer than 16 bytes"))?;
        tag.copy_from_slice(full);
        Ok(())
    }
}

impl PartialKey for AesKey {
    fn spec(&self) -> KeySpec {
        KeySpec::Aes { bits: self.bits }
    }

    fn has_private(&self) -> bool {
        true
    }

    fn public_key(&self) -> Option<PublicKey> {
        None
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Option<Result<Vec<u8>>> {
        self.hmac.sign(self.key.expose_secret(), alg, input)
    }

    fn sign_into(
        &self,
        alg: &SignAlgorithm,
        input: &[u8],
        out: &mut [u8],
    ) -> Option<Result<usize>> {
        self.hmac
            .sign_into(self.key.expose_secret(), alg, input, out)
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Option<Result<bool>> {
        // Constant time; a tag of any other length is wrong.
        self.hmac
            .verify(self.key.expose_secret(), alg, input, signature)
    }

    fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Option<Result<Ciphertext>> {
        let CipherAlgorithm::AesGcm {
            key_bits,
            iv,
            aad,
            tag_len,
        } = alg
        else {
            return None;
        };
        if !(self.bits_fit(*key_bits)
            && (12..=GCM_TAG_LEN).contains(tag_len)
            && iv.as_ref().is_none_or(|iv| iv.len() == GCM_IV_LEN))
        {
            return None;
        }
        Some(self.seal(iv.as_deref(), aad, *tag_len, plaintext))
    }

    fn encrypt_into(
        &self,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Option<Result<usize>> {
        let CipherAlgorithm::AesGcm {
            key_bits,
            iv: Some(iv),
            aad,
            tag_len,
        } = alg
        else {
            return None;
        };
        if !(self.bits_fit(*key_bits) && (12..=GCM_TAG_LEN).contains(tag_len)) {
            return None;
        }
        let nonce = <[u8; GCM_IV_LEN]>::try_from(iv.as_slice()).ok()?;
        let len = plaintext.len() + tag_len;
        let Some(out) = out.get_mut(..len) else {
            return Some(Err(Error::input_length("the output buffer is too short")));
        };
        // Sealed in place in the caller's buffer: no allocation, no second copy.
        let (data, tag) = out.split_at_mut(plaintext.len());
        data.copy_from_slice(plaintext);
        Some(self.seal_in_place(nonce, aad, data, tag).map(|()| len))
    }

    fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Option<Result<SecretBytes>> {
        let CipherAlgorithm::AesGcm {
            key_bits,
            iv: Some(iv),
            aad,
            tag_len: GCM_TAG_LEN,
        } = alg
        else {
            return None;
        };
        if !self.bits_fit(*key_bits) {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(iv).ok()?;
        let split = ciphertext.len().checked_sub(GCM_TAG_LEN)?;
        let (data, tag) = ciphertext.split_at(split);
        let mut buf = Zeroizing::new(data.to_vec());
        let opened = self
            .gcm
            .open_in_place_separate_tag(nonce, Aad::from(aad), tag, &mut buf)
            .is_ok();
        Some(match opened {
            true => Ok(SecretBytes::from(buf)),
            false => Err(Error::DecryptionFailed),
        })
    }

    fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Option<Result<Vec<u8>>> {
        // Input the scheme cannot take is passed on, for the full provider's precise error.
        let fits = match alg {
            WrapAlgorithm::AesKw { .. } => key.len() >= 16 && key.len().is_multiple_of(8),
            _ => !key.is_empty() && u32::try_from(key.len()).is_ok(),
        };
        let kek = self.kek(alg).filter(|_| fits)?;
        let mut out = vec![0; key.len().div_ceil(8) * 8 + KW_IV_LEN];
        let len = match alg {
            WrapAlgorithm::AesKw { .. } => kek.wrap(key, &mut out),
            _ => kek.wrap_with_padding(key, &mut out),
        }
        .map(|w| w.len())
        .map_err(|_| Error::internal("AES key wrap failed"));
        Some(len.map(|len| {
            out.truncate(len);
            out
        }))
    }

    fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Option<Result<SecretBytes>> {
        let min = match alg {
            WrapAlgorithm::AesKw { .. } => 24,
            _ => 16,
        };
        if wrapped.len() < min || !wrapped.len().is_multiple_of(8) {
            return None;
        }
        let kek = self.kek(alg)?;
        let mut out = Zeroizing::new(vec![0; wrapped.len() - KW_IV_LEN]);
        let len = match alg {
            WrapAlgorithm::AesKw { .. } => kek.unwrap(wrapped, &mut out),
            _ => kek.unwrap_with_padding(wrapped, &mut out),
        }
        .map(|w| w.len())
        .map_err(|_| Error::DecryptionFailed);
        Some(len.map(|len| {
            out.truncate(len);
            SecretBytes::from(out)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = AesKey::new(&[0x11; 16]).unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, "AesKey(128 bits, aws-lc, [REDACTED])");
        assert!(!shown.contains("1111"));
    }

    #[test]
    fn invalid_lengths_are_passed_on() {
        assert!(AesKey::new(&[1; 15]).is_none());
        assert!(AesKey::new(&[]).is_none());
        let key = AesKey::new(&[1; 24]).unwrap();
        assert_eq!(key.spec(), KeySpec::Aes { bits: 192 });
        // CBC is not this key's: the full provider does it.
        assert!(
            key.encrypt(
                &CipherAlgorithm::AesCbc {
                    key_bits: None,
                    iv: [0; 16],
                    padding: true,
                },
                b"m"
            )
            .is_none()
        );
    }
}
