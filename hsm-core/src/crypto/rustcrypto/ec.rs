//! Elliptic-curve keys on P-256, P-384, P-521 and secp256k1: ECDSA (raw `r || s`) and ECDH.
//!
//! One generic implementation over the RustCrypto curve types; [`with_curve!`] picks the type
//! for a [`Curve`].

use std::sync::Arc;

use ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use ecdsa::{DigestAlgorithm, EcdsaCurve, Signature, SigningKey, VerifyingKey};
use elliptic_curve::pkcs8::AssociatedOid;
use elliptic_curve::sec1::{FromSec1Point, ModulusSize, ToSec1Point};
use elliptic_curve::{CurveArithmetic, Generate};
use zeroize::Zeroizing;

use super::random::SysRng;
use super::{private_key_needed, wrong_family};
use crate::crypto::alg::{CipherAlgorithm, Ciphertext, SignAlgorithm, WrapAlgorithm};
use crate::crypto::material::{Curve, KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::LoadedKey;
use crate::crypto::shared::{bits2field, field_bytes};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// A RustCrypto curve with everything this provider needs from it.
pub trait EcCurve:
    EcdsaCurve
    + DigestAlgorithm
    + AssociatedOid
    + CurveArithmetic<AffinePoint: FromSec1Point<Self> + ToSec1Point<Self>>
    + elliptic_curve::Curve<FieldBytesSize: ModulusSize>
    + Send
    + Sync
    + 'static
{
    /// The mhsm name of the curve.
    const CURVE: Curve;
}

impl EcCurve for p256::NistP256 {
    const CURVE: Curve = Curve::P256;
}

impl EcCurve for p384::NistP384 {
    const CURVE: Curve = Curve::P384;
}

impl EcCurve for p521::NistP521 {
    const CURVE: Curve = Curve::P521;
}

impl EcCurve for k256::Secp256k1 {
    const CURVE: Curve = Curve::Secp256k1;
}

/// Runs `$body` with `$c` bound to the RustCrypto curve type of a [`Curve`].
macro_rules! with_curve {
    ($curve:expr, $c:ident => $body:expr) => {
        match $curve {
            $crate::crypto::material::Curve::P256 => {
                type $c = ::p256::NistP256;
                $body
            }
            $crate::crypto::material::Curve::P384 => {
                type $c = ::p384::NistP384;
                $body
            }
            $crate::crypto::material::Curve::P521 => {
                type $c = ::p521::NistP521;
                $body
            }
            $crate::crypto::material::Curve::Secp256k1 => {
                type $c = ::k256::Secp256k1;
                $body
            }
        }
    };
}
pub(crate) use with_curve;

/// Generates a key on `curve`.
pub fn generate(curve: Curve) -> Result<KeyMaterial> {
    with_curve!(curve, C => {
        let key = SigningKey::<C>::try_generate_from_rng(&mut SysRng)
            .map_err(|_| Error::RandomFailure)?;
        let d = Zeroizing::new(key.to_bytes());
        Ok(KeyMaterial::Ec {
            curve,
            d: SecretBytes::from_slice(&d),
        })
    })
}

/// Generates a key on `curve`, returned both as material and loaded (one scalar
/// multiplication instead of two).
pub fn generate_loaded(curve: Curve) -> Result<(KeyMaterial, Arc<dyn LoadedKey>)> {
    with_curve!(curve, C => {
        let signing = SigningKey::<C>::try_generate_from_rng(&mut SysRng)
            .map_err(|_| Error::RandomFailure)?;
        let d = Zeroizing::new(signing.to_bytes());
        let material = KeyMaterial::Ec {
            curve,
            d: SecretBytes::from_slice(&d),
        };
        let key: Arc<dyn LoadedKey> = Arc::new(EcKey::<C> {
            verifying: *signing.verifying_key(),
            signing: Some(signing),
        });
        Ok((material, key))
    })
}

/// Loads a private key from its scalar.
pub fn load(curve: Curve, d: &SecretBytes) -> Result<Arc<dyn LoadedKey>> {
    with_curve!(curve, C => {
        let key: Arc<dyn LoadedKey> = Arc::new(EcKey::<C>::from_scalar(d.expose_secret())?);
        Ok(key)
    })
}

/// Loads a public key from its affine coordinates.
pub fn load_public(curve: Curve, x: &[u8], y: &[u8]) -> Result<Arc<dyn LoadedKey>> {
    with_curve!(curve, C => {
        let key: Arc<dyn LoadedKey> = Arc::new(EcKey::<C>::from_public(public_key::<C>(x, y)?));
        Ok(key)
    })
}

/// The signing key of scalar `d` (big-endian, at most the field length), in `[1, n - 1]`.
pub(crate) fn signing_key<C: EcCurve>(d: &[u8]) -> Result<SigningKey<C>> {
    let d = field_bytes(C::CURVE, d, "private scalar")?;
    SigningKey::<C>::from_slice(&d).map_err(|_| {
        Error::material(format!(
            "the private scalar is not in [1, n - 1] for {}",
            C::CURVE
        ))
    })
}

/// The public key of affine coordinates `x`, `y`, which must be on the curve.
pub(crate) fn public_key<C: EcCurve>(x: &[u8], y: &[u8]) -> Result<elliptic_curve::PublicKey<C>> {
    let curve = C::CURVE;
    let mut sec1 = Vec::with_capacity(1 + 2 * curve.field_len());
    sec1.push(4);
    sec1.extend_from_slice(&field_bytes(curve, x, "x coordinate")?);
    sec1.extend_from_slice(&field_bytes(curve, y, "y coordinate")?);
    elliptic_curve::PublicKey::<C>::from_sec1_bytes(&sec1)
        .map_err(|_| Error::material(format!("the point is not on {curve}")))
}

/// The affine coordinates of a public key.
pub(crate) fn coordinates<C: EcCurve>(public: &elliptic_curve::PublicKey<C>) -> Result<PublicKey> {
    let point = public.to_sec1_point(false);
    match (point.x(), point.y()) {
        (Some(x), Some(y)) => Ok(PublicKey::Ec {
            curve: C::CURVE,
            x: x.to_vec(),
            y: y.to_vec(),
        }),
        _ => Err(Error::internal("a public key without coordinates")),
    }
}

/// A loaded EC key: the verifying key, and the signing key unless loaded from a public key.
pub struct EcKey<C: EcCurve> {
    signing: Option<SigningKey<C>>,
    verifying: VerifyingKey<C>,
}

impl<C: EcCurve> std::fmt::Debug for EcKey<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.signing {
            Some(_) => write!(f, "EcKey({}, private: [REDACTED])", C::CURVE),
            None => write!(f, "EcKey({}, public only)", C::CURVE),
        }
    }
}

impl<C: EcCurve> EcKey<C> {
    /// A private key from its scalar.
    pub fn from_scalar(d: &[u8]) -> Result<Self> {
        let signing = signing_key::<C>(d)?;
        Ok(Self {
            verifying: *signing.verifying_key(),
            signing: Some(signing),
        })
    }

    /// A public-only key.
    pub fn from_public(public: elliptic_curve::PublicKey<C>) -> Self {
        Self {
            signing: None,
            verifying: VerifyingKey::from(&public),
        }
    }

    /// The ECDSA input as the curve's `bits2int` sees it: a digest must have its hash's
    /// length; raw input is truncated to the order's bit length or left-padded.
    fn ecdsa_input(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let SignAlgorithm::Ecdsa { hash, curve } = alg else {
            return Err(wrong_family(
                "this signature scheme",
                &KeySpec::Ec { curve: C::CURVE },
            ));
        };
        if let Some(want) = curve
            && *want != C::CURVE
        {
            return Err(Error::key_type(format!(
                "the algorithm needs a {want} key, this one is on {}",
                C::CURVE
            )));
        }
        match hash {
            Some(h) if input.len() != h.output_len() => {
                return Err(Error::input_length(format!(
                    "a {h} digest is {} bytes, got {}",
                    h.output_len(),
                    input.len()
                )));
            }
            None if input.is_empty() => return Err(Error::input_length("ECDSA input is empty")),
            _ => {}
        }
        bits2field(C::CURVE, input)
    }
}

/// Parses a peer's SEC1 point (uncompressed or compressed) on `C`.
fn parse_peer_point<C: EcCurve>(bytes: &[u8]) -> Result<elliptic_curve::PublicKey<C>> {
    let curve = C::CURVE;
    let flen = curve.field_len();
    let well_formed = match bytes.first() {
        Some(4) => bytes.len() == 1 + 2 * flen,
        Some(2 | 3) => bytes.len() == 1 + flen,
        _ => false,
    };
    if !well_formed {
        return Err(Error::bad_parameter(format!(
            "the peer key is not a SEC1 point encoding for {curve}"
        )));
    }
    elliptic_curve::PublicKey::<C>::from_sec1_bytes(bytes)
        .map_err(|_| Error::bad_parameter(format!("the peer point is not on {curve}")))
}

impl<C: EcCurve> LoadedKey for EcKey<C> {
    fn spec(&self) -> KeySpec {
        KeySpec::Ec { curve: C::CURVE }
    }

    fn has_private(&self) -> bool {
        self.signing.is_some()
    }

    fn public_key(&self) -> Option<PublicKey> {
        coordinates(&elliptic_curve::PublicKey::<C>::from(&self.verifying)).ok()
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        if !matches!(alg, SignAlgorithm::Ecdsa { .. }) {
            return Err(wrong_family("this signature scheme", &self.spec()));
        }
        let signing = self
            .signing
            .as_ref()
            .ok_or_else(|| private_key_needed("signing"))?;
        let z = self.ecdsa_input(alg, input)?;
        // RFC 6979 nonces hedged with fresh randomness.
        let signature: Signature<C> = signing
            .sign_prehash_with_rng(&mut SysRng, &z)
            .map_err(|_| Error::RandomFailure)?;
        Ok(signature.to_bytes().to_vec())
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        let z = self.ecdsa_input(alg, input)?;
        let Ok(signature) = Signature::<C>::from_slice(signature) else {
            return Ok(false);
        };
        // Plain ECDSA accepts both s and n - s; the secp256k1 type insists on low s.
        let signature = if C::NORMALIZE_S {
            signature.normalize_s()
        } else {
            signature
        };
        Ok(self.verifying.verify_prehash(&z, &signature).is_ok())
    }

    fn encrypt(&self, _alg: &CipherAlgorithm, _plaintext: &[u8]) -> Result<Ciphertext> {
        Err(wrong_family("encryption", &self.spec()))
    }

    fn decrypt(&self, _alg: &CipherAlgorithm, _ciphertext: &[u8]) -> Result<SecretBytes> {
        Err(wrong_family("decryption", &self.spec()))
    }

    fn wrap(&self, _alg: &WrapAlgorithm, _key: &[u8]) -> Result<Vec<u8>> {
        Err(wrong_family("key wrapping", &self.spec()))
    }

    fn unwrap(&self, _alg: &WrapAlgorithm, _wrapped: &[u8]) -> Result<SecretBytes> {
        Err(wrong_family("key unwrapping", &self.spec()))
    }

    fn ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes> {
        let signing = self
            .signing
            .as_ref()
            .ok_or_else(|| private_key_needed("ECDH"))?;
        let peer = parse_peer_point::<C>(peer_point)?;
        let shared =
            elliptic_curve::ecdh::diffie_hellman(signing.as_nonzero_scalar(), peer.as_affine());
        Ok(SecretBytes::from_slice(shared.raw_secret_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::alg::HashAlg;
    use crate::crypto::rustcrypto::hash::digest;

    fn code<T>(r: Result<T>) -> &'static str {
        r.err().map_or("ok", |e| e.code())
    }

    fn hash_of(curve: Curve) -> HashAlg {
        match curve {
            Curve::P256 | Curve::Secp256k1 => HashAlg::Sha256,
            Curve::P384 => HashAlg::Sha384,
            Curve::P521 => HashAlg::Sha512,
        }
    }

    fn order(curve: Curve) -> Vec<u8> {
        let hex_order = match curve {
            Curve::P256 => "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
            Curve::P384 => {
                "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf\
                 581a0db248b0a77aecec196accc52973"
            }
            Curve::P521 => {
                "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
                 fffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409"
            }
            Curve::Secp256k1 => "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        };
        hex::decode(hex_order).unwrap()
    }

    /// `a - b` for big-endian numbers of the same length, `a >= b`.
    fn sub(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut out = vec![0; a.len()];
        let mut borrow = 0i16;
        for i in (0..a.len()).rev() {
            let mut v = i16::from(a[i]) - i16::from(b[i]) - borrow;
            borrow = i16::from(v < 0);
            if v < 0 {
                v += 256;
            }
            out[i] = u8::try_from(v).unwrap();
        }
        out
    }

    fn pair(curve: Curve) -> (Arc<dyn LoadedKey>, Arc<dyn LoadedKey>) {
        let KeyMaterial::Ec { d, .. } = generate(curve).unwrap() else {
            unreachable!()
        };
        assert_eq!(d.len(), curve.field_len());
        let private = load(curve, &d).unwrap();
        let Some(PublicKey::Ec { x, y, .. }) = private.public_key() else {
            unreachable!()
        };
        let public = load_public(curve, &x, &y).unwrap();
        (private, public)
    }

    fn ecdsa(hash: Option<HashAlg>) -> SignAlgorithm {
        SignAlgorithm::Ecdsa { hash, curve: None }
    }

    #[test]
    fn sign_verify_every_curve() {
        for curve in Curve::ALL {
            let (private, public) = pair(curve);
            assert_eq!(private.spec(), KeySpec::Ec { curve });
            assert!(private.has_private() && !public.has_private());
            assert_eq!(private.public_key(), public.public_key());
            let hash = hash_of(curve);
            let alg = SignAlgorithm::Ecdsa {
                hash: Some(hash),
                curve: Some(curve),
            };
            let d = digest(hash, b"message");
            let sig = private.sign(&alg, &d).unwrap();
            assert_eq!(sig.len(), 2 * curve.field_len(), "{curve}");
            assert!(public.verify(&alg, &d, &sig).unwrap(), "{curve}");
            assert!(private.verify(&alg, &d, &sig).unwrap());
            assert!(!public.verify(&alg, &digest(hash, b"other"), &sig).unwrap());

            let (r, s) = sig.split_at(curve.field_len());
            // Standard ECDSA: (r, n - s) is valid too, on every curve.
            let flipped = [r, &sub(&order(curve), s)].concat();
            assert!(public.verify(&alg, &d, &flipped).unwrap(), "{curve} n - s");
            // Malformed signatures are false, never errors.
            let mut bad = sig.clone();
            bad[3] ^= 1;
            assert!(!public.verify(&alg, &d, &bad).unwrap());
            assert!(!public.verify(&alg, &d, &sig[1..]).unwrap());
            assert!(
                !public
                    .verify(&alg, &d, &[sig.clone(), vec![0]].concat())
                    .unwrap()
            );
            assert!(!public.verify(&alg, &d, &[]).unwrap());
            let zeros = vec![0; sig.len()];
            assert!(!public.verify(&alg, &d, &zeros).unwrap());
            let r_is_n = [&order(curve)[..], s].concat();
            assert!(!public.verify(&alg, &d, &r_is_n).unwrap());
            // The digest must have the hash's length.
            assert_eq!(code(private.sign(&alg, &d[1..])), "InvalidInputLength");
            assert_eq!(
                code(public.verify(&alg, &d[1..], &sig)),
                "InvalidInputLength"
            );
        }
    }

    #[test]
    fn raw_input_follows_bits2int() {
        for curve in Curve::ALL {
            let (private, public) = pair(curve);
            // A digest signed raw verifies as that digest, and the other way round.
            let sha512 = digest(HashAlg::Sha512, b"m");
            let sig = private.sign(&ecdsa(None), &sha512).unwrap();
            assert!(
                public
                    .verify(&ecdsa(Some(HashAlg::Sha512)), &sha512, &sig)
                    .unwrap()
            );
            // Input longer than the order: only the leftmost bits count.
            let long: Vec<u8> = (0..100u8).collect();
            let sig = private.sign(&ecdsa(None), &long).unwrap();
            assert!(public.verify(&ecdsa(None), &long, &sig).unwrap());
            let qbytes = usize::try_from(curve.bits()).unwrap().div_ceil(8);
            let mut same_prefix = long.clone();
            same_prefix[qbytes + 1] ^= 0xff;
            assert!(public.verify(&ecdsa(None), &same_prefix, &sig).unwrap());
            let mut other_prefix = long.clone();
            other_prefix[0] ^= 0x01;
            assert!(!public.verify(&ecdsa(None), &other_prefix, &sig).unwrap());
            // Shorter input is a smaller integer: leading zeros do not matter.
            let sig = private.sign(&ecdsa(None), &[1, 2, 3]).unwrap();
            assert!(public.verify(&ecdsa(None), &[0, 0, 1, 2, 3], &sig).unwrap());
            assert!(!public.verify(&ecdsa(None), &[1, 2, 3, 0], &sig).unwrap());
            assert_eq!(code(private.sign(&ecdsa(None), &[])), "InvalidInputLength");
        }
    }

    #[test]
    fn rfc6979_p256_sha256_signature_verifies() {
        // RFC 6979 A.2.5, message "sample" with SHA-256.
        let h = |s: &str| hex::decode(s).unwrap();
        let public = load_public(
            Curve::P256,
            &h("60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"),
            &h("7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"),
        )
        .unwrap();
        let sig = h(
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716\
                     f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
        );
        let alg = ecdsa(Some(HashAlg::Sha256));
        let d = digest(HashAlg::Sha256, b"sample");
        assert!(public.verify(&alg, &d, &sig).unwrap());
        assert!(
            !public
                .verify(&alg, &digest(HashAlg::Sha256, b"test"), &sig)
                .unwrap()
        );
        let private = load(
            Curve::P256,
            &SecretBytes::new(h(
                "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
            )),
        )
        .unwrap();
        assert_eq!(private.public_key(), public.public_key());
    }

    #[test]
    fn algorithm_and_key_mismatches() {
        let (private, public) = pair(Curve::P256);
        let es384 = SignAlgorithm::Ecdsa {
            hash: Some(HashAlg::Sha384),
            curve: Some(Curve::P384),
        };
        assert_eq!(code(private.sign(&es384, &[0; 48])), "KeyTypeMismatch");
        assert_eq!(
            code(public.verify(&es384, &[0; 48], &[0; 64])),
            "KeyTypeMismatch"
        );
        for input in [&[1u8; 32][..], &[]] {
            let err = public.sign(&ecdsa(None), input).unwrap_err();
            assert_eq!(err.code(), "KeyTypeMismatch");
            assert!(err.to_string().contains("private key"), "{err}");
        }
        let err = public.ecdh(&[4; 65]).unwrap_err();
        assert!(err.to_string().contains("private key"), "{err}");
        let rs256 = SignAlgorithm::RsaPkcs1v15 {
            hash: Some(HashAlg::Sha256),
        };
        assert_eq!(code(private.sign(&rs256, &[0; 32])), "KeyTypeMismatch");
        assert_eq!(
            code(private.sign(&SignAlgorithm::Cmac, b"m")),
            "KeyTypeMismatch"
        );
        assert_eq!(
            code(private.encrypt(&CipherAlgorithm::RsaPkcs1v15, b"m")),
            "KeyTypeMismatch"
        );
        assert_eq!(
            code(private.decrypt(&CipherAlgorithm::AesEcb, &[0; 16])),
            "KeyTypeMismatch"
        );
        assert_eq!(
            code(private.wrap(&WrapAlgorithm::AesKw { key_bits: None }, &[0; 16])),
            "KeyTypeMismatch"
        );
        assert_eq!(
            code(private.unwrap(&WrapAlgorithm::RsaPkcs1v15, &[0; 16])),
            "KeyTypeMismatch"
        );
    }

    #[test]
    fn ecdh_agrees_and_validates_the_peer() {
        for curve in Curve::ALL {
            let (a, _) = pair(curve);
            let (b, _) = pair(curve);
            let point =
                |k: &Arc<dyn LoadedKey>| k.public_key().unwrap().ec_point_uncompressed().unwrap();
            let ab = a.ecdh(&point(&b)).unwrap();
            let ba = b.ecdh(&point(&a)).unwrap();
            assert_eq!(ab.len(), curve.field_len());
            assert_eq!(ab.expose_secret(), ba.expose_secret(), "{curve}");
            // Compressed form of b's point.
            let Some(PublicKey::Ec { x, y, .. }) = b.public_key() else {
                unreachable!()
            };
            let tag = if y.last().unwrap() % 2 == 0 { 2 } else { 3 };
            let compressed = [&[tag][..], &x].concat();
            assert_eq!(
                a.ecdh(&compressed).unwrap().expose_secret(),
                ab.expose_secret()
            );
            // Off the curve, wrong lengths, bad tags, the identity.
            let mut off = point(&b);
            let last = off.len() - 1;
            off[last] ^= 1;
            assert_eq!(code(a.ecdh(&off)), "BadParameter");
            assert_eq!(code(a.ecdh(&point(&b)[1..])), "BadParameter");
            let mut hybrid = point(&b);
            hybrid[0] = 6;
            assert_eq!(code(a.ecdh(&hybrid)), "BadParameter");
            assert_eq!(code(a.ecdh(&[0])), "BadParameter");
            assert_eq!(code(a.ecdh(&[])), "BadParameter");
            let wrong_tag = [&[5][..], &x].concat();
            assert_eq!(code(a.ecdh(&wrong_tag)), "BadParameter");
        }
        // A point of another curve.
        let (p256, _) = pair(Curve::P256);
        let (p384, _) = pair(Curve::P384);
        let (k256, _) = pair(Curve::Secp256k1);
        let p384_point = p384.public_key().unwrap().ec_point_uncompressed().unwrap();
        let p256_point = p256.public_key().unwrap().ec_point_uncompressed().unwrap();
        assert_eq!(code(p256.ecdh(&p384_point)), "BadParameter");
        assert_eq!(code(k256.ecdh(&p256_point)), "BadParameter");
    }

    #[test]
    fn load_checks_the_scalar_and_the_point() {
        for curve in Curve::ALL {
            let n = order(curve);
            let flen = curve.field_len();
            let load_d = |d: Vec<u8>| load(curve, &SecretBytes::new(d));
            assert_eq!(code(load_d(vec![0; flen])), "InvalidKeyMaterial");
            assert_eq!(code(load_d(n.clone())), "InvalidKeyMaterial");
            assert_eq!(code(load_d(vec![0xff; flen])), "InvalidKeyMaterial");
            assert_eq!(code(load_d(vec![1; flen + 1])), "InvalidKeyMaterial");
            assert_eq!(code(load_d(vec![])), "InvalidKeyMaterial");
            let n_minus_1 = sub(&n, &[vec![0; flen - 1], vec![1]].concat());
            assert!(load_d(n_minus_1).is_ok());
            // Shorter scalars are left-padded.
            let short = load_d(vec![1; flen - 3]).unwrap();
            let padded = load_d([vec![0; 3], vec![1; flen - 3]].concat()).unwrap();
            assert_eq!(short.public_key(), padded.public_key());
            assert!(load_d(vec![7]).is_ok());

            let Some(PublicKey::Ec { x, mut y, .. }) = short.public_key() else {
                unreachable!()
            };
            assert!(load_public(curve, &x, &y).is_ok());
            assert!(load_public(curve, &x[1..], &y).is_err() || x[0] == 0);
            assert_eq!(
                code(load_public(curve, &[&[0][..], &x].concat(), &y)),
                "InvalidKeyMaterial"
            );
            y[flen - 1] ^= 1;
            assert_eq!(code(load_public(curve, &x, &y)), "InvalidKeyMaterial");
            assert_eq!(
                code(load_public(curve, &vec![0; flen], &vec![0; flen])),
                "InvalidKeyMaterial"
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        let d = SecretBytes::new(vec![0x11; 32]);
        let key = EcKey::<p256::NistP256>::from_scalar(d.expose_secret()).unwrap();
        let shown = format!("{key:?}");
        assert_eq!(shown, "EcKey(P-256, private: [REDACTED])");
        assert!(!shown.contains("1111"));
        let public = EcKey::<p256::NistP256>::from_public(elliptic_curve::PublicKey::<
            p256::NistP256,
        >::from(key.verifying));
        assert_eq!(format!("{public:?}"), "EcKey(P-256, public only)");
    }
}
