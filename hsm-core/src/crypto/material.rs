//! Key types, public keys and secret key material (JWK-style components).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// An elliptic curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Curve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384.
    P384,
    /// NIST P-521.
    P521,
    /// SECG secp256k1.
    Secp256k1,
}

impl Curve {
    /// All supported curves.
    pub const ALL: [Curve; 4] = [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1];

    /// Size of a field element (and of `r`, `s`, `x`, `y`, `d`) in bytes.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// Bit length of the group order (and of the key).
    pub fn bits(self) -> u32 {
        match self {
            Curve::P256 | Curve::Secp256k1 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    /// The JWK `crv` name (`P-256`, `P-256K`, ...).
    pub fn jwk_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "P-256K",
        }
    }

    /// Parses a JWK `crv` name (`SECP256K1` is accepted for secp256k1 too).
    pub fn from_jwk_name(name: &str) -> Result<Curve> {
        match name {
            "P-256" => Ok(Curve::P256),
            "P-384" => Ok(Curve::P384),
            "P-521" => Ok(Curve::P521),
            "P-256K" | "SECP256K1" => Ok(Curve::Secp256k1),
            other => Err(Error::bad_parameter(format!("unknown curve '{other}'"))),
        }
    }

    fn id(self) -> u8 {
        match self {
            Curve::P256 => 1,
            Curve::P384 => 2,
            Curve::P521 => 3,
            Curve::Secp256k1 => 4,
        }
    }

    fn from_id(id: u8) -> Option<Curve> {
        Curve::ALL.into_iter().find(|c| c.id() == id)
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jwk_name())
    }
}

/// The family of a key (the JWK `kty` without the `-HSM` suffix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyKind {
    /// RSA.
    Rsa,
    /// Elliptic curve.
    Ec,
    /// Symmetric: AES keys and generic secrets (both Azure's `oct`).
    Oct,
}

/// The type and size of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum KeySpec {
    /// RSA with a modulus of `bits` bits (public exponent 65537 when generated).
    Rsa {
        /// Modulus size in bits.
        bits: u32,
    },
    /// EC on `curve`.
    Ec {
        /// The curve.
        curve: Curve,
    },
    /// AES with a key of `bits` bits.
    Aes {
        /// Key size in bits.
        bits: u32,
    },
    /// A generic secret of `bits` bits (a whole number of bytes), for HMAC only (PKCS#11's
    /// `CKK_GENERIC_SECRET`).
    Secret {
        /// Key size in bits.
        bits: u32,
    },
}

/// The shortest generic secret, in bytes.
pub const SECRET_MIN_BYTES: usize = 1;
/// The longest generic secret, in bytes.
pub const SECRET_MAX_BYTES: usize = 512;

impl KeySpec {
    /// The key's family.
    pub fn kind(&self) -> KeyKind {
        match self {
            KeySpec::Rsa { .. } => KeyKind::Rsa,
            KeySpec::Ec { .. } => KeyKind::Ec,
            KeySpec::Aes { .. } | KeySpec::Secret { .. } => KeyKind::Oct,
        }
    }

    /// A generic secret of `len` bytes, if that length is allowed (see
    /// [`KeySpec::validate_for_pool`]).
    pub fn secret_of_len(len: usize) -> Result<KeySpec> {
        let spec = KeySpec::Secret {
            bits: u32::try_from(len.saturating_mul(8)).unwrap_or(u32::MAX),
        };
        spec.validate_for_pool()?;
        Ok(spec)
    }

    /// Whether this is a symmetric key (AES or a generic secret): raw bytes, no public half.
    pub fn is_symmetric(&self) -> bool {
        self.kind() == KeyKind::Oct
    }

    /// Size in bits (modulus, curve order, AES key or secret).
    pub fn bits(&self) -> u32 {
        match self {
            KeySpec::Rsa { bits } | KeySpec::Aes { bits } | KeySpec::Secret { bits } => *bits,
            KeySpec::Ec { curve } => curve.bits(),
        }
    }

    /// Checks that keys of this spec may live in a pool: RSA 2048/3072/4096, any supported
    /// curve, AES 128/192/256, generic secrets of 1 to 512 whole bytes. The one place these
    /// sizes are checked.
    pub fn validate_for_pool(&self) -> Result<()> {
        match self {
            KeySpec::Rsa {
                bits: 2048 | 3072 | 4096,
            } => Ok(()),
            KeySpec::Rsa { bits } => Err(Error::bad_parameter(format!(
                "RSA key size {bits} is not supported (2048, 3072 or 4096)"
            ))),
            KeySpec::Ec { .. } => Ok(()),
            KeySpec::Aes {
                bits: 128 | 192 | 256,
            } => Ok(()),
            KeySpec::Aes { bits } => Err(Error::bad_parameter(format!(
                "AES key size {bits} is not supported (128, 192 or 256)"
            ))),
            KeySpec::Secret { bits }
                if bits.is_multiple_of(8)
                    && (SECRET_MIN_BYTES..=SECRET_MAX_BYTES).contains(&(*bits as usize / 8)) =>
            {
                Ok(())
            }
            KeySpec::Secret { bits } => Err(Error::bad_parameter(format!(
                "a generic secret of {bits} bits is not supported ({SECRET_MIN_BYTES} to \
                 {SECRET_MAX_BYTES} whole bytes)"
            ))),
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySpec::Rsa { bits } => write!(f, "an RSA-{bits} key"),
            KeySpec::Ec { curve } => write!(f, "an EC {curve} key"),
            KeySpec::Aes { bits } => write!(f, "an AES-{bits} key"),
            KeySpec::Secret { bits } => write!(f, "a generic secret of {bits} bits"),
        }
    }
}

/// Public key material. Integers are big-endian and unsigned; EC coordinates are
/// fixed-length (the curve's field size).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PublicKey {
    /// RSA public key.
    Rsa {
        /// Modulus.
        #[serde(with = "crate::serde_b64")]
        n: Vec<u8>,
        /// Public exponent.
        #[serde(with = "crate::serde_b64")]
        e: Vec<u8>,
    },
    /// EC public point.
    Ec {
        /// Curve.
        curve: Curve,
        /// X coordinate.
        #[serde(with = "crate::serde_b64")]
        x: Vec<u8>,
        /// Y coordinate.
        #[serde(with = "crate::serde_b64")]
        y: Vec<u8>,
    },
}

impl PublicKey {
    /// The SEC1 uncompressed encoding `04 || x || y` of an EC point (None for RSA).
    pub fn ec_point_uncompressed(&self) -> Option<Vec<u8>> {
        match self {
            PublicKey::Ec { x, y, .. } => {
                let mut out = Vec::with_capacity(1 + x.len() + y.len());
                out.push(4);
                out.extend_from_slice(x);
                out.extend_from_slice(y);
                Some(out)
            }
            PublicKey::Rsa { .. } => None,
        }
    }
}

/// RSA private key components (JWK `n e d p q dp dq qi`), big-endian unsigned.
/// The CRT values are optional on import; providers compute them when absent.
pub struct RsaPrivateParts {
    /// Modulus.
    pub n: Vec<u8>,
    /// Public exponent.
    pub e: Vec<u8>,
    /// Private exponent.
    pub d: SecretBytes,
    /// First prime.
    pub p: SecretBytes,
    /// Second prime.
    pub q: SecretBytes,
    /// `d mod (p-1)`.
    pub dp: Option<SecretBytes>,
    /// `d mod (q-1)`.
    pub dq: Option<SecretBytes>,
    /// `q^-1 mod p`.
    pub qi: Option<SecretBytes>,
}

/// Secret key material, the JWK-style components of a private or symmetric key.
///
/// Zeroized on drop, `Debug` redacted, no `Clone`/`Serialize`. Leaves the secret world only
/// through [`KeyMaterial::encode`] (for sealing) and explicit exports.
pub enum KeyMaterial {
    /// An RSA private key.
    Rsa(RsaPrivateParts),
    /// An EC private key: the scalar `d`, big-endian, the curve's field length.
    Ec {
        /// The curve.
        curve: Curve,
        /// The private scalar.
        d: SecretBytes,
    },
    /// An AES key.
    Aes(SecretBytes),
    /// A generic secret (HMAC keys).
    Secret(SecretBytes),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMaterial::Rsa(parts) => write!(
                f,
                "KeyMaterial::Rsa({} bits, [REDACTED])",
                bit_len(&parts.n)
            ),
            KeyMaterial::Ec { curve, .. } => write!(f, "KeyMaterial::Ec({curve}, [REDACTED])"),
            KeyMaterial::Aes(k) => write!(f, "KeyMaterial::Aes({} bits, [REDACTED])", k.len() * 8),
            KeyMaterial::Secret(k) => {
                write!(f, "KeyMaterial::Secret({} bits, [REDACTED])", k.len() * 8)
            }
        }
    }
}

/// Bit length of a big-endian unsigned integer.
pub fn bit_len(be: &[u8]) -> u32 {
    let mut bytes = be.iter().skip_while(|b| **b == 0);
    match bytes.next() {
        None => 0,
        Some(first) => {
            let rest = u32::try_from(bytes.count()).unwrap_or(u32::MAX / 16);
            rest.saturating_mul(8)
                .saturating_add(8 - first.leading_zeros())
        }
    }
}

const ENCODING_VERSION: u8 = 1;
const KIND_RSA: u8 = 1;
const KIND_EC: u8 = 2;
const KIND_AES: u8 = 3;
const KIND_SECRET: u8 = 4;

impl KeyMaterial {
    /// The spec (type and size) of this material.
    pub fn spec(&self) -> KeySpec {
        match self {
            KeyMaterial::Rsa(parts) => KeySpec::Rsa {
                bits: bit_len(&parts.n),
            },
            KeyMaterial::Ec { curve, .. } => KeySpec::Ec { curve: *curve },
            KeyMaterial::Aes(k) => KeySpec::Aes {
                bits: u32::try_from(k.len() * 8).unwrap_or(0),
            },
            KeyMaterial::Secret(k) => KeySpec::Secret {
                bits: u32::try_from(k.len() * 8).unwrap_or(0),
            },
        }
    }

    /// An explicit copy.
    pub fn duplicate(&self) -> KeyMaterial {
        match self {
            KeyMaterial::Rsa(p) => KeyMaterial::Rsa(RsaPrivateParts {
                n: p.n.clone(),
                e: p.e.clone(),
                d: p.d.duplicate(),
                p: p.p.duplicate(),
                q: p.q.duplicate(),
                dp: p.dp.as_ref().map(SecretBytes::duplicate),
                dq: p.dq.as_ref().map(SecretBytes::duplicate),
                qi: p.qi.as_ref().map(SecretBytes::duplicate),
            }),
            KeyMaterial::Ec { curve, d } => KeyMaterial::Ec {
                curve: *curve,
                d: d.duplicate(),
            },
            KeyMaterial::Aes(k) => KeyMaterial::Aes(k.duplicate()),
            KeyMaterial::Secret(k) => KeyMaterial::Secret(k.duplicate()),
        }
    }

    /// Serialises the material into a zeroizing buffer, to be sealed at once.
    ///
    /// The buffer is allocated once at its final size, so no copy of a secret is left behind
    /// in memory freed by a reallocation.
    pub fn encode(&self) -> SecretBytes {
        let (header, fields): (Vec<u8>, Vec<&[u8]>) = match self {
            KeyMaterial::Rsa(p) => (
                vec![ENCODING_VERSION, KIND_RSA],
                vec![
                    &p.n[..],
                    &p.e[..],
                    p.d.expose_secret(),
                    p.p.expose_secret(),
                    p.q.expose_secret(),
                    p.dp.as_ref().map_or(&[][..], SecretBytes::expose_secret),
                    p.dq.as_ref().map_or(&[][..], SecretBytes::expose_secret),
                    p.qi.as_ref().map_or(&[][..], SecretBytes::expose_secret),
                ],
            ),
            KeyMaterial::Ec { curve, d } => (
                vec![ENCODING_VERSION, KIND_EC, curve.id()],
                vec![d.expose_secret()],
            ),
            KeyMaterial::Aes(k) => (vec![ENCODING_VERSION, KIND_AES], vec![k.expose_secret()]),
            KeyMaterial::Secret(k) => {
                (vec![ENCODING_VERSION, KIND_SECRET], vec![k.expose_secret()])
            }
        };
        let total = header.len() + fields.iter().map(|f| 4 + f.len()).sum::<usize>();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&header);
        for field in fields {
            // Fields are key components, far below 4 GiB.
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(field);
        }
        SecretBytes::new(out)
    }

    /// Parses what [`KeyMaterial::encode`] wrote. Malformed input is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<KeyMaterial> {
        let bad = || Error::material("malformed key material encoding");
        let mut r = Reader(bytes);
        if r.byte().ok_or_else(bad)? != ENCODING_VERSION {
            return Err(bad());
        }
        let material = match r.byte().ok_or_else(bad)? {
            KIND_RSA => {
                let n = r.field().ok_or_else(bad)?.to_vec();
                let e = r.field().ok_or_else(bad)?.to_vec();
                let d = SecretBytes::from_slice(r.field().ok_or_else(bad)?);
                let p = SecretBytes::from_slice(r.field().ok_or_else(bad)?);
                let q = SecretBytes::from_slice(r.field().ok_or_else(bad)?);
                let mut opt = || -> Result<Option<SecretBytes>> {
                    let f = r.field().ok_or_else(bad)?;
                    Ok((!f.is_empty()).then(|| SecretBytes::from_slice(f)))
                };
                let (dp, dq, qi) = (opt()?, opt()?, opt()?);
                KeyMaterial::Rsa(RsaPrivateParts {
                    n,
                    e,
                    d,
                    p,
                    q,
                    dp,
                    dq,
                    qi,
                })
            }
            KIND_EC => {
                let curve = Curve::from_id(r.byte().ok_or_else(bad)?).ok_or_else(bad)?;
                let d = SecretBytes::from_slice(r.field().ok_or_else(bad)?);
                KeyMaterial::Ec { curve, d }
            }
            KIND_AES => KeyMaterial::Aes(SecretBytes::from_slice(r.field().ok_or_else(bad)?)),
            KIND_SECRET => KeyMaterial::Secret(SecretBytes::from_slice(r.field().ok_or_else(bad)?)),
            _ => return Err(bad()),
        };
        if !r.0.is_empty() {
            return Err(bad());
        }
        Ok(material)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn field(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.0.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (field, rest) = rest.split_at(len);
        self.0 = rest;
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_sample() -> KeyMaterial {
        KeyMaterial::Rsa(RsaPrivateParts {
            n: vec![0x80; 256],
            e: vec![1, 0, 1],
            d: SecretBytes::from_slice(&[7; 256]),
            p: SecretBytes::from_slice(&[5; 128]),
            q: SecretBytes::from_slice(&[3; 128]),
            dp: None,
            dq: Some(SecretBytes::from_slice(&[9; 128])),
            qi: None,
        })
    }

    #[test]
    fn encode_decode_round_trip() {
        for m in [
            rsa_sample(),
            KeyMaterial::Ec {
                curve: Curve::P521,
                d: SecretBytes::from_slice(&[1; 66]),
            },
            KeyMaterial::Aes(SecretBytes::from_slice(&[2; 24])),
            KeyMaterial::Secret(SecretBytes::from_slice(&[3; 20])),
        ] {
            let enc = m.encode();
            let back = KeyMaterial::decode(enc.expose_secret()).unwrap();
            assert_eq!(back.encode().expose_secret(), enc.expose_secret());
            assert_eq!(back.spec(), m.spec());
        }
    }

    #[test]
    fn decode_rejects_truncation_and_trailing_bytes() {
        let enc = rsa_sample().encode();
        let bytes = enc.expose_secret();
        for cut in 0..bytes.len() {
            assert!(KeyMaterial::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(KeyMaterial::decode(&longer).is_err());
        assert!(KeyMaterial::decode(&[1, 9]).is_err());
        assert!(KeyMaterial::decode(&[1, KIND_EC, 99, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn debug_never_shows_material() {
        let m = KeyMaterial::Aes(SecretBytes::from_slice(b"0123456789abcdef"));
        let s = format!("{m:?}");
        assert!(!s.contains("0123456789"));
        assert_eq!(s, "KeyMaterial::Aes(128 bits, [REDACTED])");
    }

    #[test]
    fn spec_and_bit_len() {
        assert_eq!(bit_len(&[0, 0, 1]), 1);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(rsa_sample().spec(), KeySpec::Rsa { bits: 2048 });
        assert!(KeySpec::Rsa { bits: 1024 }.validate_for_pool().is_err());
        assert!(KeySpec::Aes { bits: 192 }.validate_for_pool().is_ok());
        assert!(KeySpec::Aes { bits: 64 }.validate_for_pool().is_err());
    }

    #[test]
    fn generic_secret_lengths() {
        for len in [1, 20, 64, 512] {
            let spec = KeySpec::secret_of_len(len).unwrap();
            assert_eq!(
                spec,
                KeySpec::Secret {
                    bits: len as u32 * 8
                }
            );
            assert_eq!(spec.kind(), KeyKind::Oct);
        }
        for len in [0, 513, 4096, usize::MAX] {
            assert_eq!(
                KeySpec::secret_of_len(len).unwrap_err().code(),
                "BadParameter"
            );
        }
        assert!(KeySpec::Secret { bits: 12 }.validate_for_pool().is_err());
        let m = KeyMaterial::Secret(SecretBytes::from_slice(b"0123456789abcdefghij"));
        assert_eq!(m.spec(), KeySpec::Secret { bits: 160 });
        assert_eq!(
            format!("{m:?}"),
            "KeyMaterial::Secret(160 bits, [REDACTED])"
        );
    }

    /// Stored records name specs by these serde names: AES keys stored before generic
    /// secrets existed read back unchanged.
    #[test]
    fn spec_serde_names_are_stable() {
        let aes = serde_json::to_string(&KeySpec::Aes { bits: 128 }).unwrap();
        assert_eq!(aes, r#"{"kind":"aes","bits":128}"#);
        let secret = serde_json::to_string(&KeySpec::Secret { bits: 160 }).unwrap();
        assert_eq!(secret, r#"{"kind":"secret","bits":160}"#);
        assert_eq!(
            serde_json::from_str::<KeySpec>(r#"{"kind":"aes","bits":256}"#).unwrap(),
            KeySpec::Aes { bits: 256 }
        );
    }

    #[test]
    fn curve_names_round_trip() {
        for c in Curve::ALL {
            assert_eq!(Curve::from_jwk_name(c.jwk_name()).unwrap(), c);
            assert_eq!(Curve::from_id(c.id()), Some(c));
        }
        assert!(Curve::from_jwk_name("P-192").is_err());
    }
}
