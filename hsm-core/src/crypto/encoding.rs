//! Standard encodings of keys: X.509 SubjectPublicKeyInfo and PKCS#8 DER, for RSA and the
//! four EC curves.
//!
//! Everything parsed here goes through the same validation as [`super::CryptoProvider::load`]
//! (RSA consistency and size policy, EC scalar range, points on the curve). AES keys have no
//! SPKI or PKCS#8 form.

use der::Decode;
use pkcs8::{EncodePrivateKey, PrivateKeyInfoRef};
use spki::{EncodePublicKey, ObjectIdentifier, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use super::material::{Curve, KeyMaterial, PublicKey, RsaPrivateParts};
use super::rustcrypto::ec::{self, EcCurve, with_curve};
use super::rustcrypto::rsa as rsa_impl;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// `rsaEncryption` (RFC 8017).
const RSA_OID: ObjectIdentifier = ::rsa::pkcs1::ALGORITHM_OID;
/// `id-ecPublicKey` (RFC 5480).
const EC_OID: ObjectIdentifier = elliptic_curve::ALGORITHM_OID;

fn malformed(what: &str) -> Error {
    Error::material(format!("malformed {what}"))
}

fn encode_error(what: &str) -> Error {
    Error::internal(format!("{what} encoding failed"))
}

/// The curve whose named-curve OID is `oid`.
fn curve_of(oid: Option<ObjectIdentifier>) -> Result<Curve> {
    let oid = oid.ok_or_else(|| malformed("EC key: no named curve"))?;
    Curve::ALL
        .into_iter()
        .find(|curve| with_curve!(curve, C => <C as elliptic_curve::pkcs8::AssociatedOid>::OID == oid))
        .ok_or_else(|| Error::unsupported(format!("elliptic curve {oid}")))
}

impl PublicKey {
    /// The DER SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----` once in PEM).
    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        let doc = match self {
            PublicKey::Rsa { n, e } => rsa_impl::public_key_from(n, e)?.to_public_key_der(),
            PublicKey::Ec { curve, x, y } => {
                with_curve!(curve, C => ec::public_key::<C>(x, y)?.to_public_key_der())
            }
        };
        doc.map(|d| d.as_bytes().to_vec())
            .map_err(|_| encode_error("SubjectPublicKeyInfo"))
    }

    /// Parses a DER SubjectPublicKeyInfo holding an RSA or EC (named curve) key.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|_| malformed("SubjectPublicKeyInfo"))?;
        let (oid, params) = spki
            .algorithm
            .oids()
            .map_err(|_| malformed("SubjectPublicKeyInfo algorithm"))?;
        if oid == RSA_OID {
            let key = ::rsa::PublicKey::try_from(spki)
                .map_err(|_| malformed("RSA SubjectPublicKeyInfo"))?;
            let (n, e) = {
                use ::rsa::traits::PublicKeyParts;
                (key.n_bytes().to_vec(), key.e_bytes().to_vec())
            };
            // The same policy as a loaded public key (size, exponent).
            rsa_impl::public_key_from(&n, &e)?;
            Ok(PublicKey::Rsa { n, e })
        } else if oid == EC_OID {
            let curve = curve_of(params)?;
            with_curve!(curve, C => spki_ec::<C>(spki))
        } else {
            Err(Error::unsupported(format!("public key algorithm {oid}")))
        }
    }
}

fn spki_ec<C: EcCurve>(spki: SubjectPublicKeyInfoRef<'_>) -> Result<PublicKey> {
    let key = elliptic_curve::PublicKey::<C>::try_from(spki)
        .map_err(|_| Error::material(format!("the SPKI point is not on {}", C::CURVE)))?;
    ec::coordinates(&key)
}

impl KeyMaterial {
    /// The DER PKCS#8 PrivateKeyInfo (`-----BEGIN PRIVATE KEY-----` once in PEM).
    ///
    /// The key is validated first; AES keys and generic secrets have no PKCS#8 form
    /// (`KeyTypeMismatch`).
    pub fn to_pkcs8_der(&self) -> Result<SecretBytes> {
        let doc = match self {
            KeyMaterial::Rsa(parts) => rsa_impl::private_key_from_parts(parts)?.to_pkcs8_der(),
            KeyMaterial::Ec { curve, d } => with_curve!(curve, C => {
                let signing = ec::signing_key::<C>(d.expose_secret())?;
                elliptic_curve::SecretKey::<C>::from(&signing).to_pkcs8_der()
            }),
            KeyMaterial::Aes(_) | KeyMaterial::Secret(_) => {
                return Err(Error::key_type(
                    "PKCS#8 holds RSA and EC private keys, not symmetric keys",
                ));
            }
        };
        doc.map(|d| SecretBytes::from_slice(d.as_bytes()))
            .map_err(|_| encode_error("PKCS#8"))
    }

    /// Parses a DER PKCS#8 PrivateKeyInfo holding an RSA or EC (named curve) key, validated as
    /// [`super::CryptoProvider::load`] would.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<KeyMaterial> {
        let info = PrivateKeyInfoRef::from_der(der).map_err(|_| malformed("PKCS#8"))?;
        let (oid, params) = info
            .algorithm
            .oids()
            .map_err(|_| malformed("PKCS#8 algorithm"))?;
        if oid == RSA_OID {
            let parts = rsa_parts(&info)?;
            // Checks consistency, size and the CRT values.
            rsa_impl::private_key_from_parts(&parts)?;
            Ok(KeyMaterial::Rsa(parts))
        } else if oid == EC_OID {
            let curve = curve_of(params)?;
            with_curve!(curve, C => pkcs8_ec::<C>(info))
        } else {
            Err(Error::unsupported(format!("private key algorithm {oid}")))
        }
    }
}

/// All eight components of a PKCS#1 RSAPrivateKey inside a PKCS#8 envelope.
fn rsa_parts(info: &PrivateKeyInfoRef<'_>) -> Result<RsaPrivateParts> {
    let key = ::rsa::pkcs1::RsaPrivateKeyRef::try_from(info.private_key)
        .map_err(|_| malformed("PKCS#1 RSAPrivateKey"))?;
    if key.other_prime_infos.is_some() {
        return Err(Error::material("multi-prime RSA keys are not supported"));
    }
    let secret = |u: ::rsa::pkcs1::UintRef<'_>| SecretBytes::from_slice(u.as_bytes());
    Ok(RsaPrivateParts {
        n: key.modulus.as_bytes().to_vec(),
        e: key.public_exponent.as_bytes().to_vec(),
        d: secret(key.private_exponent),
        p: secret(key.prime1),
        q: secret(key.prime2),
        dp: Some(secret(key.exponent1)),
        dq: Some(secret(key.exponent2)),
        qi: Some(secret(key.coefficient)),
    })
}

fn pkcs8_ec<C: EcCurve>(info: PrivateKeyInfoRef<'_>) -> Result<KeyMaterial> {
    let key = elliptic_curve::SecretKey::<C>::try_from(info)
        .map_err(|_| Error::material(format!("malformed PKCS#8 key for {}", C::CURVE)))?;
    let d = Zeroizing::new(key.to_bytes());
    Ok(KeyMaterial::Ec {
        curve: C::CURVE,
        d: SecretBytes::from_slice(&d),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CryptoProvider;
    use crate::crypto::rustcrypto::RustCryptoProvider;
    use crate::crypto::rustcrypto::test_keys::rsa2048;

    fn code<T>(r: Result<T>) -> &'static str {
        r.err().map_or("ok", |e| e.code())
    }

    fn public_of(material: &KeyMaterial) -> PublicKey {
        RustCryptoProvider::new()
            .load(material)
            .unwrap()
            .public_key()
            .unwrap()
    }

    fn same_material(a: &KeyMaterial, b: &KeyMaterial) -> bool {
        a.encode().expose_secret() == b.encode().expose_secret()
    }

    #[test]
    fn rsa_round_trips() {
        let material = rsa2048();
        let public = public_of(material);
        let spki = public.to_spki_der().unwrap();
        // SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING }
        assert_eq!(&spki[..4], &[0x30, 0x82, 0x01, 0x22]);
        assert_eq!(PublicKey::from_spki_der(&spki).unwrap(), public);

        let pkcs8 = material.to_pkcs8_der().unwrap();
        let back = KeyMaterial::from_pkcs8_der(pkcs8.expose_secret()).unwrap();
        assert!(same_material(&back, material));
    }

    #[test]
    fn ec_round_trips_every_curve() {
        let provider = RustCryptoProvider::new();
        for curve in Curve::ALL {
            let material = provider
                .generate(crate::crypto::KeySpec::Ec { curve })
                .unwrap();
            let public = public_of(&material);
            let spki = public.to_spki_der().unwrap();
            assert_eq!(PublicKey::from_spki_der(&spki).unwrap(), public, "{curve}");
            // The point is the last 1 + 2 * field_len bytes, uncompressed.
            let point = public.ec_point_uncompressed().unwrap();
            assert_eq!(&spki[spki.len() - point.len()..], &point[..]);

            let pkcs8 = material.to_pkcs8_der().unwrap();
            let back = KeyMaterial::from_pkcs8_der(pkcs8.expose_secret()).unwrap();
            assert!(same_material(&back, &material), "{curve}");
        }
    }

    #[test]
    fn p256_spki_has_the_standard_header() {
        let material = RustCryptoProvider::new()
            .generate(crate::crypto::KeySpec::Ec { curve: Curve::P256 })
            .unwrap();
        let spki = public_of(&material).to_spki_der().unwrap();
        let header = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
        assert_eq!(&spki[..header.len()], &header[..]);
        assert_eq!(spki.len(), header.len() + 65);
    }

    #[test]
    fn aes_has_no_standard_encoding() {
        let aes = KeyMaterial::Aes(SecretBytes::from_slice(&[1; 16]));
        assert_eq!(code(aes.to_pkcs8_der()), "KeyTypeMismatch");
    }

    #[test]
    fn malformed_input_is_refused() {
        for der in [
            &b""[..],
            b"\x30\x00",
            b"not der at all",
            &[0x30, 0x82, 0xff, 0xff],
        ] {
            assert_eq!(code(PublicKey::from_spki_der(der)), "InvalidKeyMaterial");
            assert_eq!(code(KeyMaterial::from_pkcs8_der(der)), "InvalidKeyMaterial");
        }
        // Truncations of a valid encoding never pass and never panic.
        let pkcs8 = rsa2048().to_pkcs8_der().unwrap();
        let bytes = pkcs8.expose_secret();
        for cut in (0..bytes.len()).step_by(97) {
            assert!(KeyMaterial::from_pkcs8_der(&bytes[..cut]).is_err());
        }
        // A modified modulus no longer matches p * q.
        let mut tampered = bytes.to_vec();
        tampered[40] ^= 0x01;
        assert_eq!(
            code(KeyMaterial::from_pkcs8_der(&tampered)),
            "InvalidKeyMaterial"
        );

        let spki = public_of(rsa2048()).to_spki_der().unwrap();
        for cut in (0..spki.len()).step_by(13) {
            assert!(PublicKey::from_spki_der(&spki[..cut]).is_err());
        }
        // An EC point moved off the curve.
        let material = RustCryptoProvider::new()
            .generate(crate::crypto::KeySpec::Ec { curve: Curve::P384 })
            .unwrap();
        let mut spki = public_of(&material).to_spki_der().unwrap();
        let last = spki.len() - 1;
        spki[last] ^= 1;
        assert_eq!(code(PublicKey::from_spki_der(&spki)), "InvalidKeyMaterial");
    }

    #[test]
    fn unknown_algorithms_and_curves_are_unsupported() {
        // An Ed25519 SPKI (RFC 8410 example) and a P-224 one.
        let ed25519 = hex::decode(
            "302a300506032b657003210019bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1",
        )
        .unwrap();
        assert_eq!(
            code(PublicKey::from_spki_der(&ed25519)),
            "UnsupportedAlgorithm"
        );
        let p224 = hex::decode(
            "304e301006072a8648ce3d020106052b81040021033a0004\
             b70e0cbd6bb4bf7f321390b94a03c1d356c21122343280d6115c1d21\
             bd376388b5f723fb4c22dfe6cd4375a05a07476444d5819985007e34",
        )
        .unwrap();
        assert_eq!(
            code(PublicKey::from_spki_der(&p224)),
            "UnsupportedAlgorithm"
        );
    }

    #[test]
    fn invalid_material_is_refused_before_encoding() {
        let zero = KeyMaterial::Ec {
            curve: Curve::P256,
            d: SecretBytes::from_slice(&[0; 32]),
        };
        assert_eq!(code(zero.to_pkcs8_der()), "InvalidKeyMaterial");
        let off_curve = PublicKey::Ec {
            curve: Curve::P256,
            x: vec![1; 32],
            y: vec![2; 32],
        };
        assert_eq!(code(off_curve.to_spki_der()), "InvalidKeyMaterial");
        let small = PublicKey::Rsa {
            n: vec![0xc5; 64],
            e: vec![1, 0, 1],
        };
        assert_eq!(code(small.to_spki_der()), "InvalidKeyMaterial");
    }
}
