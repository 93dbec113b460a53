//! ECDSA on P-256, P-384 and P-521 (raw `r || s`) with aws-lc-rs; ECDH and what it cannot
//! sign are passed on.

use std::sync::Arc;

use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair,
    ParsedPublicKey, UnparsedPublicKey,
};
use zeroize::Zeroizing;

use super::import_digest;
use crate::crypto::alg::{HashAlg, SignAlgorithm};
use crate::crypto::material::{Curve, KeyMaterial, KeySpec, PublicKey};
use crate::crypto::provider::PartialKey;
use crate::crypto::shared::{bits2field, field_bytes};
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// The aws-lc-rs algorithms of a curve: signing, verifying, and the hash whose length the
/// digest handed to AWS-LC has (it must not exceed the order's bit length, see [`z_digest`]).
fn algs(
    curve: Curve,
) -> Result<(
    &'static EcdsaSigningAlgorithm,
    &'static EcdsaVerificationAlgorithm,
    HashAlg,
    &'static [u8],
)> {
    match curve {
        Curve::P256 => Ok((
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &signature::ECDSA_P256_SHA256_FIXED,
            HashAlg::Sha256,
            &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        )),
        Curve::P384 => Ok((
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &signature::ECDSA_P384_SHA384_FIXED,
            HashAlg::Sha384,
            &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        )),
        Curve::P521 => Ok((
            &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            &signature::ECDSA_P521_SHA512_FIXED,
            HashAlg::Sha512,
            &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        )),
        Curve::Secp256k1 => Err(Error::internal("secp256k1 is the RustCrypto provider's")),
    }
}

/// Generates a key on `curve`, as material and loaded.
pub fn generate(curve: Curve) -> Result<(KeyMaterial, Arc<dyn PartialKey>)> {
    let (signing, ..) = algs(curve)?;
    let pair = EcdsaKeyPair::generate(signing).map_err(|_| Error::RandomFailure)?;
    let d = scalar_of(&pair)?;
    let point = pair.public_key().as_ref().to_vec();
    let key = EcKey::new(curve, Some(pair), &point)?;
    Ok((KeyMaterial::Ec { curve, d }, Arc::new(key)))
}

/// The private scalar of a key pair, big-endian, the field length.
fn scalar_of(pair: &EcdsaKeyPair) -> Result<SecretBytes> {
    let bin = pair
        .private_key()
        .as_be_bytes()
        .map_err(|_| Error::internal("EC private key export"))?;
    Ok(SecretBytes::from_slice(bin.as_ref()))
}

/// Loads a private key from its scalar (left-padded to the field length, in `[1, n - 1]`);
/// `None` for a scalar it refuses (the full provider then says why).
pub fn load(curve: Curve, d: &SecretBytes) -> Option<Result<Arc<dyn PartialKey>>> {
    let (signing, _, _, oid) = algs(curve).ok()?;
    let d = field_bytes(curve, d.expose_secret(), "private scalar").ok()?;
    // RFC 5915 ECPrivateKey without the public key: AWS-LC computes it, once.
    let inner_len = 3 + 2 + d.len() + 2 + oid.len();
    let mut der = Zeroizing::new(Vec::with_capacity(2 + inner_len));
    der.extend_from_slice(&[0x30, len_byte(inner_len)?, 0x02, 0x01, 0x01, 0x04]);
    der.push(len_byte(d.len())?);
    der.extend_from_slice(&d);
    der.extend_from_slice(&[0xa0, len_byte(oid.len())?]);
    der.extend_from_slice(oid);
    let pair = EcdsaKeyPair::from_private_key_der(signing, &der).ok()?;
    let point = pair.public_key().as_ref().to_vec();
    Some(EcKey::new(curve, Some(pair), &point).map(|k| Arc::new(k) as Arc<dyn PartialKey>))
}

/// A short DER length (all of an ECPrivateKey's are).
fn len_byte(len: usize) -> Option<u8> {
    u8::try_from(len).ok().filter(|l| *l < 0x80)
}

/// Loads a public key from its affine coordinates (which the full provider has checked to be
/// on the curve); `None` for coordinates longer than the field.
pub fn load_public(curve: Curve, x: &[u8], y: &[u8]) -> Option<Result<Arc<dyn PartialKey>>> {
    let mut point = vec![4];
    point.extend_from_slice(&field_bytes(curve, x, "x coordinate").ok()?);
    point.extend_from_slice(&field_bytes(curve, y, "y coordinate").ok()?);
    Some(EcKey::new(curve, None, &point).map(|k| Arc::new(k) as Arc<dyn PartialKey>))
}

/// A loaded EC key: the aws-lc key pair (unless public only) and the parsed public key.
pub struct EcKey {
    curve: Curve,
    pair: Option<EcdsaKeyPair>,
    verifying: ParsedPublicKey,
    public: PublicKey,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pair {
            Some(_) => write!(f, "EcKey({}, aws-lc, private: [REDACTED])", self.curve),
            None => write!(f, "EcKey({}, aws-lc, public only)", self.curve),
        }
    }
}

impl EcKey {
    /// The key of `pair` (None: public only) whose public point is `point` (uncompressed SEC1).
    fn new(curve: Curve, pair: Option<EcdsaKeyPair>, point: &[u8]) -> Result<Self> {
        let (_, verifying_alg, ..) = algs(curve)?;
        let flen = curve.field_len();
        let (x, y) = match point.split_first() {
            Some((4, rest)) if rest.len() == 2 * flen => rest.split_at(flen),
            _ => return Err(Error::internal("EC public point encoding")),
        };
        let public = PublicKey::Ec {
            curve,
            x: x.to_vec(),
            y: y.to_vec(),
        };
        let verifying = UnparsedPublicKey::new(verifying_alg, point)
            .parse()
            .map_err(|_| Error::material(format!("the point is not on {curve}")))?;
        Ok(Self {
            curve,
            pair,
            verifying,
            public,
        })
    }

    /// The input as the digest AWS-LC signs or verifies, when the fast path takes it: the
    /// algorithm fits this key and the input its length (otherwise it is passed on, for the
    /// full provider's errors), and `bits2int` of the input fits the digest AWS-LC takes (it does
    /// not truncate a digest no longer than the order, so the value is kept).
    fn z_digest(&self, alg: &SignAlgorithm, input: &[u8]) -> Option<aws_lc_rs::digest::Digest> {
        let SignAlgorithm::Ecdsa { hash, curve } = alg else {
            return None;
        };
        if curve.is_some_and(|c| c != self.curve) {
            return None;
        }
        match hash {
            Some(h) if input.len() != h.output_len() => return None,
            None if input.is_empty() => return None,
            _ => {}
        }
        let (_, _, hash, _) = algs(self.curve).ok()?;
        let z = bits2field(self.curve, input).ok()?;
        let (high, low) = z.split_at(z.len().checked_sub(hash.output_len())?);
        if high.iter().any(|b| *b != 0) {
            return None;
        }
        import_digest(hash, low)
    }
}

impl PartialKey for EcKey {
    fn spec(&self) -> KeySpec {
        KeySpec::Ec { curve: self.curve }
    }

    fn has_private(&self) -> bool {
        self.pair.is_some()
    }

    fn public_key(&self) -> Option<PublicKey> {
        Some(self.public.clone())
    }

    fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Option<Result<Vec<u8>>> {
        let pair = self.pair.as_ref()?;
        let z = self.z_digest(alg, input)?;
        Some(
            pair.sign_digest(&z)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| Error::internal("ECDSA signing failed")),
        )
    }

    fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Option<Result<bool>> {
        let z = self.z_digest(alg, input)?;
        Some(Ok(self.verifying.verify_digest_sig(&z, signature).is_ok()))
    }
}
