//! Key operations (`sign`, `verify`, `encrypt`, `decrypt`, `wrapkey`, `unwrapkey`), their
//! answers, and the `{"value": ...}` bodies of backups, restores and random bytes; with
//! the conversion of each request to the core's arguments.

use hsm_core::SecretBytes;
use hsm_core::crypto::{CipherAlgorithm, KeyMaterial, KeySpec, SignAlgorithm, WrapAlgorithm, jwa};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use zeroize::Zeroize;

use crate::b64::{b64_json, unb64, unb64_opt, unb64_raw};
use crate::{Result, WireError};

/// `KeySignParameters`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SignRequest {
    /// The JWA name (or a vendor name).
    pub alg: String,
    /// The digest (or the message, for vendor names that hash).
    pub value: String,
}

impl SignRequest {
    /// The body signing `input` with the JWA (or vendor) algorithm `alg`.
    pub fn new(alg: &str, input: &[u8]) -> SignRequest {
        SignRequest {
            alg: alg.to_string(),
            value: crate::b64(input),
        }
    }

    /// The algorithm and the input.
    pub fn to_core(&self) -> Result<(SignAlgorithm, Vec<u8>)> {
        Ok((
            jwa::sign_algorithm(&self.alg)?,
            unb64(&self.value, "value")?,
        ))
    }
}

/// `KeyVerifyParameters`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct VerifyRequest {
    /// The JWA name (or a vendor name).
    pub alg: String,
    /// The digest (or the message).
    pub digest: String,
    /// The signature.
    pub value: String,
}

/// What a verification takes: algorithm, digest, signature.
pub type VerifyInput = (SignAlgorithm, Vec<u8>, Vec<u8>);

impl VerifyRequest {
    /// The body verifying `signature` over `digest` with `alg`.
    pub fn new(alg: &str, digest: &[u8], signature: &[u8]) -> VerifyRequest {
        VerifyRequest {
            alg: alg.to_string(),
            digest: crate::b64(digest),
            value: crate::b64(signature),
        }
    }

    /// The algorithm, the digest and the signature.
    pub fn to_core(&self) -> Result<VerifyInput> {
        Ok((
            jwa::sign_algorithm(&self.alg)?,
            unb64(&self.digest, "digest")?,
            unb64(&self.value, "value")?,
        ))
    }
}

/// `KeyVerifyResult`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct VerifyResult {
    /// Whether the signature is valid.
    pub value: bool,
}

/// `KeyOperationsParameters` (encrypt, decrypt, wrap, unwrap). The value may be a secret
/// (plaintext, a key to wrap): its string is zeroized when dropped; no `Debug`, no `Clone`.
#[derive(Serialize, Deserialize)]
pub struct KeyOperationRequest {
    /// The JWA name (or a vendor name).
    pub alg: String,
    /// The input.
    pub value: String,
    /// The IV (CBC, GCM decryption) or counter block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
    /// Additional authenticated data (GCM), or the label of vendor OAEP names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad: Option<String>,
    /// The authentication tag (GCM decryption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl Drop for KeyOperationRequest {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

/// What an encryption takes: the scheme, the plaintext, and the AAD to answer with.
pub type EncryptInput = (CipherAlgorithm, SecretBytes, Option<Vec<u8>>);

impl KeyOperationRequest {
    /// A request with `value` and optional IV and AAD.
    pub fn new(alg: &str, value: &[u8], iv: Option<&[u8]>, aad: Option<&[u8]>) -> Self {
        KeyOperationRequest {
            alg: alg.to_string(),
            value: crate::b64(value),
            iv: iv.map(crate::b64),
            aad: aad.map(crate::b64),
            tag: None,
        }
    }

    fn iv(&self) -> Result<Option<Vec<u8>>> {
        unb64_opt(self.iv.as_deref(), "iv")
    }

    fn aad(&self) -> Result<Option<Vec<u8>>> {
        unb64_opt(self.aad.as_deref(), "aad")
    }

    fn value(&self) -> Result<SecretBytes> {
        unb64(&self.value, "value").map(SecretBytes::new)
    }

    /// For `encrypt`: the scheme, the plaintext, and the AAD (answered with the tag).
    /// Azure's `A*CBC` plaintexts are zero-padded to whole blocks ([`jwa::zero_pad`]).
    pub fn encrypt_input(&self) -> Result<EncryptInput> {
        let aad = self.aad()?;
        let alg = jwa::cipher_algorithm(&self.alg, self.iv()?, aad.clone())?;
        let mut plaintext = self.value()?;
        jwa::zero_pad(&self.alg, &mut plaintext);
        Ok((alg, plaintext, aad))
    }

    /// For `decrypt`: the scheme and the input (`ciphertext || tag` for AEAD).
    pub fn decrypt_input(&self) -> Result<(CipherAlgorithm, Vec<u8>)> {
        let alg = jwa::cipher_algorithm(&self.alg, self.iv()?, self.aad()?)?;
        let mut data = unb64(&self.value, "value")?;
        if let Some(tag) = unb64_opt(self.tag.as_deref(), "tag")? {
            data.extend_from_slice(&tag);
        }
        Ok((alg, data))
    }

    /// For `wrapkey` (the key to wrap, a secret) and `unwrapkey` (the wrapped key). A
    /// vendor OAEP name takes its label from `aad`.
    pub fn wrap_input(&self) -> Result<(WrapAlgorithm, SecretBytes)> {
        let alg = jwa::wrap_algorithm_with_aad(&self.alg, self.aad()?)?;
        Ok((alg, self.value()?))
    }
}

/// `KeyOperationResult` (`iv`, `tag` and `aad` for AES-GCM encryption only). The values
/// are JSON strings printed as they are ([`b64_json`]).
#[derive(Serialize, Deserialize, Debug)]
pub struct KeyOperationResult {
    /// The additional authenticated data, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad: Option<Box<RawValue>>,
    /// The IV used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<Box<RawValue>>,
    /// The id of the key version used.
    #[serde(default)]
    pub kid: String,
    /// The authentication tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Box<RawValue>>,
    /// The result.
    pub value: Box<RawValue>,
}

impl KeyOperationResult {
    /// The answer of `kid` with `value` (no IV, tag or AAD).
    pub fn new(kid: String, value: &[u8]) -> KeyOperationResult {
        KeyOperationResult {
            aad: None,
            iv: None,
            kid,
            tag: None,
            value: b64_json(value),
        }
    }

    /// The result bytes (public: a signature, ciphertext, wrapped key).
    pub fn value(&self) -> Result<Vec<u8>> {
        unb64_raw(&self.value, "value")
    }

    /// The IV, if answered.
    pub fn iv(&self) -> Result<Option<Vec<u8>>> {
        self.iv.as_deref().map(|v| unb64_raw(v, "iv")).transpose()
    }

    /// The tag, if answered.
    pub fn tag(&self) -> Result<Option<Vec<u8>>> {
        self.tag.as_deref().map(|v| unb64_raw(v, "tag")).transpose()
    }
}

/// `{"value": b64url}` with public bytes: `BackupKeyResult`, `KeyRestoreParameters`, a
/// random-bytes answer, an ECDH peer point.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ValueBody {
    /// The bytes, base64url.
    pub value: String,
}

impl ValueBody {
    /// The body of `bytes`.
    pub fn of(bytes: &[u8]) -> ValueBody {
        ValueBody {
            value: crate::b64(bytes),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        unb64(&self.value, "value")
    }
}

/// `{"value": b64url}` with secret bytes (a plaintext, an unwrapped key, a shared secret,
/// exported material, a document): zeroized when dropped; no `Debug`, no `Clone`.
#[derive(Serialize, Deserialize)]
pub struct SecretValue {
    /// The bytes, base64url.
    pub value: String,
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl SecretValue {
    /// The body of `bytes`.
    pub fn of(bytes: &[u8]) -> SecretValue {
        SecretValue {
            value: crate::b64(bytes),
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> Result<SecretBytes> {
        unb64(&self.value, "value").map(SecretBytes::new)
    }

    /// The answer of an export (`/x-mhsm/pkcs11/keys/{name}/{version}/export`): PKCS#8 DER
    /// for RSA and EC private keys, the raw key for AES keys and generic secrets.
    pub fn of_material(material: &KeyMaterial) -> Result<SecretValue> {
        let bytes = match material {
            KeyMaterial::Aes(k) | KeyMaterial::Secret(k) => k.duplicate(),
            KeyMaterial::Rsa(_) | KeyMaterial::Ec { .. } => material.to_pkcs8_der()?,
        };
        Ok(SecretValue::of(bytes.expose_secret()))
    }

    /// The material of an export answer, for a key of `spec` (which tells PKCS#8 from a
    /// raw symmetric key); material of another type than `spec` is refused.
    pub fn to_material(&self, spec: &KeySpec) -> Result<KeyMaterial> {
        let bytes = self.bytes()?;
        let material = match spec {
            KeySpec::Aes { .. } => KeyMaterial::Aes(bytes),
            KeySpec::Secret { .. } => KeyMaterial::Secret(bytes),
            KeySpec::Rsa { .. } | KeySpec::Ec { .. } => {
                KeyMaterial::from_pkcs8_der(bytes.expose_secret())?
            }
        };
        let fits = matches!(
            (&material, spec),
            (KeyMaterial::Aes(_), KeySpec::Aes { .. })
                | (KeyMaterial::Secret(_), KeySpec::Secret { .. })
                | (KeyMaterial::Rsa(_), KeySpec::Rsa { .. })
        ) || matches!((&material, spec), (KeyMaterial::Ec { curve, .. }, KeySpec::Ec { curve: c }) if curve == c);
        if !fits {
            return Err(WireError::invalid(
                "the exported material is not of the key's type",
            ));
        }
        Ok(material)
    }
}

/// Azure's limit on one random-bytes request.
pub const MAX_RANDOM: i64 = 128;

/// `GetRandomBytesRequest`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RandomRequest {
    /// How many bytes (1 to 128).
    pub count: i64,
}

impl RandomRequest {
    /// The count, checked.
    pub fn to_core(&self) -> Result<usize> {
        if !(1..=MAX_RANDOM).contains(&self.count) {
            return Err(WireError::invalid(format!(
                "count must be 1 to {MAX_RANDOM}"
            )));
        }
        Ok(self.count as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_requests_convert() {
        let sign: SignRequest = crate::parse(br#"{"alg":"ES256","value":"AQID"}"#).unwrap();
        assert_eq!(sign.to_core().unwrap().1, [1, 2, 3]);
        let bad: SignRequest = crate::parse(br#"{"alg":"XX999","value":"AQID"}"#).unwrap();
        assert!(matches!(bad.to_core(), Err(WireError::Core(_))));
        let dec: KeyOperationRequest =
            crate::parse(br#"{"alg":"A256GCM","value":"AQ","iv":"AAAAAAAAAAAAAAAA","tag":"Ag"}"#)
                .unwrap();
        assert_eq!(dec.decrypt_input().unwrap().1, [1, 2]);
        let enc = KeyOperationRequest::new("A256GCM", b"hi", None, Some(b"a"));
        let (_, plain, aad) = enc.encrypt_input().unwrap();
        assert_eq!(
            (plain.expose_secret(), aad.as_deref()),
            (&b"hi"[..], Some(&b"a"[..]))
        );
        let bad_iv: KeyOperationRequest =
            crate::parse(br#"{"alg":"A256CBC","value":"AQ","iv":"*"}"#).unwrap();
        assert_eq!(
            bad_iv.decrypt_input().unwrap_err().to_string(),
            "'iv' is not valid base64url"
        );
        assert!(crate::parse::<VerifyRequest>(br#"{"alg":"ES256","value":"AQ"}"#).is_err());
    }

    #[test]
    fn results_read_back() {
        let mut r = KeyOperationResult::new("https://h/keys/k/v".into(), &[0xff; 40]);
        r.tag = Some(b64_json(&[1; 16]));
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, serde_json::json!(r).to_string());
        let back: KeyOperationResult = crate::parse(text.as_bytes()).unwrap();
        assert_eq!(back.value().unwrap(), [0xff; 40]);
        assert_eq!(back.tag().unwrap(), Some(vec![1; 16]));
        assert_eq!(back.iv().unwrap(), None);
        assert!(RandomRequest { count: 0 }.to_core().is_err());
        assert_eq!(RandomRequest { count: 128 }.to_core().unwrap(), 128);
        assert_eq!(SecretValue::of(&[4]).bytes().unwrap().expose_secret(), [4]);
    }

    #[test]
    fn exported_material_is_pkcs8_or_a_raw_aes_key() {
        use hsm_core::crypto::Curve;
        let ec = KeyMaterial::Ec {
            curve: Curve::P256,
            d: SecretBytes::new(vec![1; 32]),
        };
        let answer = SecretValue::of_material(&ec).unwrap();
        // PKCS#8 DER: a SEQUENCE.
        assert_eq!(answer.bytes().unwrap().expose_secret()[0], 0x30);
        let back = answer
            .to_material(&KeySpec::Ec { curve: Curve::P256 })
            .unwrap();
        assert!(
            matches!(back, KeyMaterial::Ec { curve: Curve::P256, ref d } if d.expose_secret() == [1; 32])
        );
        assert!(
            answer
                .to_material(&KeySpec::Ec { curve: Curve::P384 })
                .is_err()
        );
        assert!(answer.to_material(&KeySpec::Rsa { bits: 2048 }).is_err());
        let aes =
            SecretValue::of_material(&KeyMaterial::Aes(SecretBytes::new(vec![7; 16]))).unwrap();
        let back = aes.to_material(&KeySpec::Aes { bits: 128 }).unwrap();
        assert!(matches!(back, KeyMaterial::Aes(ref k) if k.expose_secret() == [7; 16]));
    }
}
