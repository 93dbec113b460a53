//! JSON Web Algorithm names (as Azure uses them) for the algorithms of the operation API,
//! both ways.
//!
//! The REST server parses `alg` strings here, and a remote front end names its algorithms
//! here, so which name means what is decided in the core once. Azure's name is used whenever
//! it means exactly the algorithm asked for with the key at hand (`ES256` only for SHA-256 on
//! a P-256 key, `PS256` only with MGF1-SHA-256 and a 32-byte salt, `A256GCM` only for a
//! 256-bit key and a 16-byte tag, `A256CBC` never: it zero-pads, see [`zero_pad`]). Every
//! other algorithm has a vendor name, `MHSM-` followed by `-`-separated tokens that carry
//! each parameter; only mhsm understands them:
//!
//! | algorithm | name | carried in the request |
//! |---|---|---|
//! | PKCS#1 v1.5 signature over another digest | `MHSM-RS-{H}` (`MHSM-RS-SHA1`) | |
//! | PSS | `MHSM-PS-{H}-MGF1-{H}-S{salt bytes}` | |
//! | ECDSA without a hash, another hash or curve | `MHSM-ES-{H\|NONE}[-{curve}]` (`MHSM-ES-NONE`, `MHSM-ES-SHA384-P256`) | |
//! | HMAC with SHA-1 or SHA-224 | `MHSM-HS-{H}` | |
//! | AES-CMAC | `MHSM-CMAC` | |
//! | raw RSA (sign, encrypt) | `MHSM-RSA-RAW` | |
//! | OAEP with other hashes or a label | `MHSM-RSA-OAEP-{H}-MGF1-{H}` | label in `aad` |
//! | AES-GCM, other tag or key size | `MHSM-AES-GCM-T{tag bytes}[-K{key bits}]` | `iv`, `aad` |
//! | AES-CBC without padding (whole blocks), PKCS#7 with another key size | `MHSM-AES-CBC[PAD][-K{key bits}]` | `iv` |
//! | AES-ECB | `MHSM-AES-ECB` | |
//! | AES-CTR | `MHSM-AES-CTR-C{counter bits}` | counter block in `iv` |
//! | AES key wrap, other key size | `MHSM-AES-KW[P]-K{key bits}` | |
//!
//! `{H}` is `SHA1`, `SHA224`, `SHA256`, `SHA384` or `SHA512`; a curve is its JWK name without
//! the hyphen (`P256`, `P384`, `P521`, `P256K`). Names are case-sensitive. A `-K{bits}` token
//! appears only when the algorithm itself demands a key size; Azure's names demand one.

use super::alg::{CipherAlgorithm, HashAlg, SignAlgorithm, WrapAlgorithm};
use super::material::{Curve, KeySpec};
use crate::error::{Error, Result};

/// The prefix of mhsm's own algorithm names.
pub const VENDOR_PREFIX: &str = "MHSM-";

/// An algorithm as a REST request carries it: the `alg` name with the `iv` and `aad` fields
/// that complete it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwaRequest {
    /// The `alg` name.
    pub alg: String,
    /// The `iv` field: GCM and CBC IVs, the CTR counter block.
    pub iv: Option<Vec<u8>>,
    /// The `aad` field: GCM's additional data, the OAEP label.
    pub aad: Option<Vec<u8>>,
}

impl JwaRequest {
    fn name(alg: impl Into<String>) -> JwaRequest {
        JwaRequest {
            alg: alg.into(),
            iv: None,
            aad: None,
        }
    }
}

const HASHES: [HashAlg; 5] = [
    HashAlg::Sha1,
    HashAlg::Sha224,
    HashAlg::Sha256,
    HashAlg::Sha384,
    HashAlg::Sha512,
];

fn hash_token(hash: HashAlg) -> &'static str {
    match hash {
        HashAlg::Sha1 => "SHA1",
        HashAlg::Sha224 => "SHA224",
        HashAlg::Sha256 => "SHA256",
        HashAlg::Sha384 => "SHA384",
        HashAlg::Sha512 => "SHA512",
    }
}

fn curve_token(curve: Curve) -> &'static str {
    match curve {
        Curve::P256 => "P256",
        Curve::P384 => "P384",
        Curve::P521 => "P521",
        Curve::Secp256k1 => "P256K",
    }
}

/// The tokens of a vendor name, checked one by one; any surprise is `UnsupportedAlgorithm`
/// naming the whole name.
struct Tokens<'a> {
    name: &'a str,
    rest: std::str::Split<'a, char>,
}

impl<'a> Tokens<'a> {
    fn of(name: &'a str) -> Option<Tokens<'a>> {
        let body = name.strip_prefix(VENDOR_PREFIX)?;
        Some(Tokens {
            name,
            rest: body.split('-'),
        })
    }

    fn unsupported(&self) -> Error {
        Error::unsupported(self.name)
    }

    fn next(&mut self) -> Result<&'a str> {
        self.rest.next().ok_or_else(|| self.unsupported())
    }

    fn peek_done(&self) -> bool {
        self.rest.clone().next().is_none()
    }

    fn expect(&mut self, token: &str) -> Result<()> {
        if self.next()? == token {
            Ok(())
        } else {
            Err(self.unsupported())
        }
    }

    fn hash(&mut self) -> Result<HashAlg> {
        let t = self.next()?;
        HASHES
            .into_iter()
            .find(|h| hash_token(*h) == t)
            .ok_or_else(|| self.unsupported())
    }

    fn optional_hash(&mut self) -> Result<Option<HashAlg>> {
        if self.rest.clone().next() == Some("NONE") {
            self.next()?;
            return Ok(None);
        }
        self.hash().map(Some)
    }

    /// A number after a one-letter tag (`S32`, `T12`, `K256`, `C64`).
    fn number<T: std::str::FromStr>(&mut self, tag: char) -> Result<T> {
        let t = self.next()?;
        let digits = t.strip_prefix(tag).ok_or_else(|| self.unsupported())?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.unsupported());
        }
        digits
            .parse()
            .map_err(|_| Error::param(format!("{}: the value {digits} is out of range", self.name)))
    }

    /// An optional trailing `-K{bits}`.
    fn key_bits(&mut self) -> Result<Option<u32>> {
        if self.peek_done() {
            return Ok(None);
        }
        self.number('K').map(Some)
    }

    fn end<T>(&mut self, value: T) -> Result<T> {
        if self.peek_done() {
            Ok(value)
        } else {
            Err(self.unsupported())
        }
    }
}

/// Azure's PS/RS/HS names by hash (SHA-256, -384, -512 only).
fn azure_hash_suffix(hash: HashAlg) -> Option<&'static str> {
    match hash {
        HashAlg::Sha256 => Some("256"),
        HashAlg::Sha384 => Some("384"),
        HashAlg::Sha512 => Some("512"),
        HashAlg::Sha1 | HashAlg::Sha224 => None,
    }
}

/// Azure's ES name, and the hash and curve it means.
const ES_NAMES: [(&str, HashAlg, Curve); 4] = [
    ("ES256", HashAlg::Sha256, Curve::P256),
    ("ES384", HashAlg::Sha384, Curve::P384),
    ("ES512", HashAlg::Sha512, Curve::P521),
    ("ES256K", HashAlg::Sha256, Curve::Secp256k1),
];

/// The `alg` name of a signature scheme used with a key of `key` (Azure's when it means
/// exactly this, else a vendor name).
pub fn sign_name(alg: &SignAlgorithm, key: &KeySpec) -> String {
    match alg {
        SignAlgorithm::RsaPkcs1v15 { hash: None } => "RSNULL".into(),
        SignAlgorithm::RsaPkcs1v15 { hash: Some(h) } => match azure_hash_suffix(*h) {
            Some(s) => format!("RS{s}"),
            None => format!("{VENDOR_PREFIX}RS-{}", hash_token(*h)),
        },
        SignAlgorithm::RsaPss {
            hash,
            mgf1,
            salt_len,
        } => match azure_hash_suffix(*hash) {
            Some(s) if mgf1 == hash && *salt_len == hash.output_len() => format!("PS{s}"),
            _ => format!(
                "{VENDOR_PREFIX}PS-{}-MGF1-{}-S{salt_len}",
                hash_token(*hash),
                hash_token(*mgf1)
            ),
        },
        SignAlgorithm::Ecdsa { hash, curve } => {
            let key_curve = match key {
                KeySpec::Ec { curve } => Some(*curve),
                _ => None,
            };
            let azure = ES_NAMES.iter().find(|(_, h, c)| {
                *hash == Some(*h) && key_curve == Some(*c) && curve.is_none_or(|want| want == *c)
            });
            match azure {
                Some((name, ..)) => (*name).into(),
                None => {
                    let mut name = format!("{VENDOR_PREFIX}ES-{}", hash.map_or("NONE", hash_token));
                    if let Some(c) = curve {
                        name.push('-');
                        name.push_str(curve_token(*c));
                    }
                    name
                }
            }
        }
        SignAlgorithm::Hmac { hash } => match azure_hash_suffix(*hash) {
            Some(s) => format!("HS{s}"),
            None => format!("{VENDOR_PREFIX}HS-{}", hash_token(*hash)),
        },
        SignAlgorithm::Cmac => format!("{VENDOR_PREFIX}CMAC"),
        SignAlgorithm::RsaRaw => format!("{VENDOR_PREFIX}RSA-RAW"),
    }
}

/// The signature scheme of a JWS `alg` name (`RS256`, `PS384`, `ES256K`, `HS512`, `RSNULL`)
/// or of a vendor name (see the module docs).
pub fn sign_algorithm(name: &str) -> Result<SignAlgorithm> {
    if let Some(mut t) = Tokens::of(name) {
        return vendor_sign(&mut t);
    }
    let pss = |hash: HashAlg| SignAlgorithm::RsaPss {
        hash,
        mgf1: hash,
        salt_len: hash.output_len(),
    };
    let pkcs1 = |hash| SignAlgorithm::RsaPkcs1v15 { hash: Some(hash) };
    if let Some((_, hash, curve)) = ES_NAMES.iter().find(|(n, ..)| *n == name) {
        return Ok(SignAlgorithm::Ecdsa {
            hash: Some(*hash),
            curve: Some(*curve),
        });
    }
    Ok(match name {
        "RS256" => pkcs1(HashAlg::Sha256),
        "RS384" => pkcs1(HashAlg::Sha384),
        "RS512" => pkcs1(HashAlg::Sha512),
        "RSNULL" => SignAlgorithm::RsaPkcs1v15 { hash: None },
        "PS256" => pss(HashAlg::Sha256),
        "PS384" => pss(HashAlg::Sha384),
        "PS512" => pss(HashAlg::Sha512),
        "HS256" => SignAlgorithm::Hmac {
            hash: HashAlg::Sha256,
        },
        "HS384" => SignAlgorithm::Hmac {
            hash: HashAlg::Sha384,
        },
        "HS512" => SignAlgorithm::Hmac {
            hash: HashAlg::Sha512,
        },
        other => return Err(Error::unsupported(other)),
    })
}

fn vendor_sign(t: &mut Tokens) -> Result<SignAlgorithm> {
    let alg = match t.next()? {
        "RS" => SignAlgorithm::RsaPkcs1v15 {
            hash: t.optional_hash()?,
        },
        "PS" => {
            let hash = t.hash()?;
            t.expect("MGF1")?;
            let mgf1 = t.hash()?;
            let salt_len = t.number('S')?;
            SignAlgorithm::RsaPss {
                hash,
                mgf1,
                salt_len,
            }
        }
        "ES" => {
            let hash = t.optional_hash()?;
            let curve = if t.peek_done() {
                None
            } else {
                let c = t.next()?;
                Some(
                    Curve::ALL
                        .into_iter()
                        .find(|k| curve_token(*k) == c)
                        .ok_or_else(|| t.unsupported())?,
                )
            };
            SignAlgorithm::Ecdsa { hash, curve }
        }
        "HS" => SignAlgorithm::Hmac { hash: t.hash()? },
        "CMAC" => SignAlgorithm::Cmac,
        "RSA" => {
            t.expect("RAW")?;
            SignAlgorithm::RsaRaw
        }
        _ => return Err(t.unsupported()),
    };
    t.end(alg)
}

/// Azure's AES key sizes.
fn azure_aes_bits(bits: u32) -> bool {
    matches!(bits, 128 | 192 | 256)
}

fn aes_bits(name: &str, suffix: &str) -> Option<u32> {
    match name.strip_suffix(suffix)? {
        "A128" => Some(128),
        "A192" => Some(192),
        "A256" => Some(256),
        _ => None,
    }
}

/// The Azure name an AES algorithm may take with this key: its size when the algorithm
/// demands none or that one.
fn azure_aes_size(key_bits: Option<u32>, key: &KeySpec) -> Option<u32> {
    match key {
        KeySpec::Aes { bits } if azure_aes_bits(*bits) && key_bits.is_none_or(|b| b == *bits) => {
            Some(*bits)
        }
        _ => None,
    }
}

fn with_key_bits(mut name: String, key_bits: Option<u32>) -> String {
    if let Some(b) = key_bits {
        name.push_str(&format!("-K{b}"));
    }
    name
}

/// The RSA-OAEP request: Azure's name for SHA-1/SHA-1 and SHA-256/SHA-256 without a label.
fn oaep_request(hash: HashAlg, mgf1: HashAlg, label: &[u8]) -> JwaRequest {
    let alg = match (hash, mgf1) {
        (HashAlg::Sha1, HashAlg::Sha1) if label.is_empty() => "RSA-OAEP".into(),
        (HashAlg::Sha256, HashAlg::Sha256) if label.is_empty() => "RSA-OAEP-256".into(),
        _ => format!(
            "{VENDOR_PREFIX}RSA-OAEP-{}-MGF1-{}",
            hash_token(hash),
            hash_token(mgf1)
        ),
    };
    JwaRequest {
        alg,
        iv: None,
        aad: (!label.is_empty()).then(|| label.to_vec()),
    }
}

/// The request naming an encryption scheme used with a key of `key`: the name, and the
/// IV (or counter block) and additional data (or OAEP label) that complete it.
pub fn cipher_request(alg: &CipherAlgorithm, key: &KeySpec) -> JwaRequest {
    match alg {
        CipherAlgorithm::RsaPkcs1v15 => JwaRequest::name("RSA1_5"),
        CipherAlgorithm::RsaRaw => JwaRequest::name(format!("{VENDOR_PREFIX}RSA-RAW")),
        CipherAlgorithm::RsaOaep { hash, mgf1, label } => oaep_request(*hash, *mgf1, label),
        CipherAlgorithm::AesGcm {
            key_bits,
            iv,
            aad,
            tag_len,
        } => {
            let alg = match azure_aes_size(*key_bits, key) {
                Some(bits) if *tag_len == 16 => format!("A{bits}GCM"),
                _ => with_key_bits(format!("{VENDOR_PREFIX}AES-GCM-T{tag_len}"), *key_bits),
            };
            JwaRequest {
                alg,
                iv: iv.clone(),
                aad: (!aad.is_empty()).then(|| aad.clone()),
            }
        }
        CipherAlgorithm::AesCbc {
            key_bits,
            iv,
            padding,
        } => {
            // Azure's `A*CBC` zero-pads a partial block ([`zero_pad`]): CBC without padding,
            // which takes whole blocks only, has the vendor name.
            let mode = if *padding { "CBCPAD" } else { "CBC" };
            let alg = match azure_aes_size(*key_bits, key) {
                Some(bits) if *padding => format!("A{bits}{mode}"),
                _ => with_key_bits(format!("{VENDOR_PREFIX}AES-{mode}"), *key_bits),
            };
            JwaRequest {
                alg,
                iv: Some(iv.to_vec()),
                aad: None,
            }
        }
        CipherAlgorithm::AesEcb => JwaRequest::name(format!("{VENDOR_PREFIX}AES-ECB")),
        CipherAlgorithm::AesCtr {
            counter_block,
            counter_bits,
        } => JwaRequest {
            alg: format!("{VENDOR_PREFIX}AES-CTR-C{counter_bits}"),
            iv: Some(counter_block.to_vec()),
            aad: None,
        },
    }
}

/// The request naming a key-wrapping scheme used with a key of `key` (the OAEP label, if
/// any, in `aad`).
pub fn wrap_request(alg: &WrapAlgorithm, key: &KeySpec) -> JwaRequest {
    match alg {
        WrapAlgorithm::RsaPkcs1v15 => JwaRequest::name("RSA1_5"),
        WrapAlgorithm::RsaOaep { hash, mgf1, label } => oaep_request(*hash, *mgf1, label),
        WrapAlgorithm::AesKw { key_bits } => JwaRequest::name(match key_bits {
            Some(b) if azure_aes_bits(*b) => format!("A{b}KW"),
            Some(b) => format!("{VENDOR_PREFIX}AES-KW-K{b}"),
            None => match azure_aes_size(None, key) {
                Some(bits) => format!("A{bits}KW"),
                None => "CKM_AES_KEY_WRAP".into(),
            },
        }),
        WrapAlgorithm::AesKwp { key_bits } => JwaRequest::name(match key_bits {
            Some(b) => format!("{VENDOR_PREFIX}AES-KWP-K{b}"),
            None => "CKM_AES_KEY_WRAP_PAD".into(),
        }),
    }
}

/// The RSA scheme of `RSA1_5`, `RSA-OAEP` (SHA-1), `RSA-OAEP-256` or a vendor OAEP name
/// (whose label is `aad`); None for other names.
fn rsa(name: &str, aad: Option<&[u8]>) -> Option<Result<WrapAlgorithm>> {
    let oaep = |hash, mgf1, label: Vec<u8>| WrapAlgorithm::RsaOaep { hash, mgf1, label };
    match name {
        "RSA1_5" => return Some(Ok(WrapAlgorithm::RsaPkcs1v15)),
        "RSA-OAEP" => return Some(Ok(oaep(HashAlg::Sha1, HashAlg::Sha1, Vec::new()))),
        "RSA-OAEP-256" => return Some(Ok(oaep(HashAlg::Sha256, HashAlg::Sha256, Vec::new()))),
        _ => {}
    }
    let mut t = Tokens::of(name)?;
    if t.next().ok()? != "RSA" || t.next().ok()? != "OAEP" {
        return None;
    }
    let label = aad.map(<[u8]>::to_vec).unwrap_or_default();
    Some((|| {
        let hash = t.hash()?;
        t.expect("MGF1")?;
        let mgf1 = t.hash()?;
        t.end(oaep(hash, mgf1, label))
    })())
}

/// A vendor AES name (`MHSM-AES-...`): its mode token and the tokens after it.
fn vendor_aes(name: &str) -> Option<(&str, Tokens<'_>)> {
    let mut t = Tokens::of(name)?;
    if t.next().ok()? != "AES" {
        return None;
    }
    let mode = t.next().ok()?;
    Some((mode, t))
}

/// Pads a plaintext as Azure's `name` encrypts it: `A128CBC`, `A192CBC` and `A256CBC` (no
/// PKCS#7 padding) take a plaintext of any length and pad it with zero bytes to whole
/// 16-byte blocks, as the service does (decryption returns the padded plaintext). Every other
/// name takes its plaintext as it is: mhsm's own `MHSM-AES-CBC` names (and PKCS#11's
/// `CKM_AES_CBC`) take whole blocks only.
pub fn zero_pad(name: &str, plaintext: &mut crate::SecretBytes) {
    let partial = plaintext.len() % 16;
    if aes_bits(name, "CBC").is_some() && partial != 0 {
        plaintext.extend_from_slice(&[0; 16][partial..]);
    }
}

/// The encryption scheme of a JWE `alg` name for encrypt/decrypt, or of a vendor name.
///
/// `iv` is the caller's IV (required for CBC; for GCM encryption `None` generates one) or
/// the CTR counter block, `aad` the additional authenticated data (GCM) or the label (vendor
/// OAEP names).
pub fn cipher_algorithm(
    name: &str,
    iv: Option<Vec<u8>>,
    aad: Option<Vec<u8>>,
) -> Result<CipherAlgorithm> {
    if let Some(w) = rsa(name, aad.as_deref())
        && let Some(cipher) = w?.as_rsa_cipher()
    {
        return Ok(cipher);
    }
    if name == format!("{VENDOR_PREFIX}RSA-RAW") {
        return Ok(CipherAlgorithm::RsaRaw);
    }
    let gcm = |key_bits, tag_len, iv, aad: Option<Vec<u8>>| CipherAlgorithm::AesGcm {
        key_bits,
        iv,
        aad: aad.unwrap_or_default(),
        tag_len,
    };
    if let Some(bits) = aes_bits(name, "GCM") {
        return Ok(gcm(Some(bits), 16, iv, aad));
    }
    let block = |iv: Option<Vec<u8>>, what: &str| -> Result<[u8; 16]> {
        let iv = iv.ok_or_else(|| Error::param(format!("{name} needs {what}")))?;
        let len = iv.len();
        iv.try_into()
            .map_err(|_| Error::param(format!("{name} needs a 16-byte {what}, got {len}")))
    };
    let cbc = |key_bits, padding, iv| -> Result<CipherAlgorithm> {
        Ok(CipherAlgorithm::AesCbc {
            key_bits,
            iv: block(iv, "IV")?,
            padding,
        })
    };
    if let Some(bits) = aes_bits(name, "CBCPAD") {
        return cbc(Some(bits), true, iv);
    }
    if let Some(bits) = aes_bits(name, "CBC") {
        return cbc(Some(bits), false, iv);
    }
    if let Some((mode, mut t)) = vendor_aes(name) {
        match mode {
            "GCM" => {
                let tag_len = t.number('T')?;
                let key_bits = t.key_bits()?;
                return t.end(gcm(key_bits, tag_len, iv, aad));
            }
            "CBC" | "CBCPAD" => {
                let key_bits = t.key_bits()?;
                t.end(())?;
                return cbc(key_bits, mode == "CBCPAD", iv);
            }
            "ECB" => return t.end(CipherAlgorithm::AesEcb),
            "CTR" => {
                let counter_bits = t.number('C')?;
                t.end(())?;
                return Ok(CipherAlgorithm::AesCtr {
                    counter_block: block(iv, "counter block")?,
                    counter_bits,
                });
            }
            _ => {}
        }
    }
    if wrap_algorithm(name).is_ok() {
        return Err(Error::bad_parameter(format!(
            "{name} is a key-wrapping algorithm: use wrapKey"
        )));
    }
    Err(Error::unsupported(name))
}

/// The wrapping scheme of a JWE `alg` name for wrapKey/unwrapKey, or of a vendor name (a
/// vendor OAEP name with an empty label: see [`wrap_algorithm_with_aad`]).
pub fn wrap_algorithm(name: &str) -> Result<WrapAlgorithm> {
    wrap_algorithm_with_aad(name, None)
}

/// The wrapping scheme of an `alg` name and the request's `aad` (a vendor OAEP name's label).
pub fn wrap_algorithm_with_aad(name: &str, aad: Option<Vec<u8>>) -> Result<WrapAlgorithm> {
    if let Some(w) = rsa(name, aad.as_deref()) {
        return w;
    }
    if let Some(bits) = aes_bits(name, "KW") {
        return Ok(WrapAlgorithm::AesKw {
            key_bits: Some(bits),
        });
    }
    match name {
        "CKM_AES_KEY_WRAP" => return Ok(WrapAlgorithm::AesKw { key_bits: None }),
        "CKM_AES_KEY_WRAP_PAD" => return Ok(WrapAlgorithm::AesKwp { key_bits: None }),
        _ => {}
    }
    if let Some((mode @ ("KW" | "KWP"), mut t)) = vendor_aes(name) {
        let key_bits = Some(t.number('K')?);
        return t.end(if mode == "KW" {
            WrapAlgorithm::AesKw { key_bits }
        } else {
            WrapAlgorithm::AesKwp { key_bits }
        });
    }
    Err(Error::unsupported(name))
}

#[cfg(test)]
mod tests;
