//! The operations of a pool's keys: the one operation API both front ends map onto (sign,
//! verify, encrypt, decrypt, wrap, unwrap, ECDH), export, and wrapping one stored key under
//! another without its material leaving the core.

use std::sync::{Arc, OnceLock};

use super::{KeyEntry, Pool, VersionEntry, key_info, live_key};
use crate::crypto::{
    CipherAlgorithm, Ciphertext, Curve, KeyMaterial, KeySpec, LoadedKey, SignAlgorithm,
    WrapAlgorithm, check,
};
use crate::error::{Error, Result};
use crate::key::{KeyInfo, KeyOperation};
use crate::secret::SecretBytes;

/// A stored key by name, at a version (`None`: the latest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef<'a> {
    /// The key's name.
    pub name: &'a str,
    /// The version, or `None` for the latest.
    pub version: Option<&'a str>,
}

/// A key version resolved for one operation ([`Pool::resolve_key`]): one lookup yields the
/// version used, its spec and the parsed key, so a front end names the version that did the
/// work (REST's `kid`) without looking the key up again, and a PKCS#11 session keeps it for
/// the operations it starts on the key while [`ResolvedKey::is_current`]. It may do only the
/// operation it was resolved for; the key's rules were checked when it was resolved.
pub struct ResolvedKey {
    /// The pool, to tell whether anything changed since.
    pool: Pool,
    /// The pool's generation when the key was resolved.
    generation: u64,
    name: String,
    version: Arc<VersionEntry>,
    key: Arc<dyn LoadedKey>,
    op: KeyOperation,
}

impl std::fmt::Debug for ResolvedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedKey")
            .field("name", &self.name)
            .field("version", &self.version.record.id)
            .field("spec", &self.version.record.spec)
            .field("op", &self.op)
            .finish()
    }
}

impl ResolvedKey {
    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version resolved (the latest, when none was named).
    pub fn version(&self) -> &str {
        &self.version.record.id
    }

    /// The key's type and size.
    pub fn spec(&self) -> &KeySpec {
        &self.version.record.spec
    }

    /// The operation it was resolved for.
    pub fn operation(&self) -> KeyOperation {
        self.op
    }

    /// Whether it still stands: nothing in the pool changed since it was resolved (keys,
    /// their attributes and operations, the pool's own state all move its generation) and
    /// the version is still inside its validity window ([`VersionAttributes::usable_at`]:
    /// stricter than the rules of verifying or decrypting, which allow an expired version,
    /// so a holder resolves again then). The clock is read only for a version with a window.
    ///
    /// [`VersionAttributes::usable_at`]: crate::key::VersionAttributes::usable_at
    pub fn is_current(&self) -> bool {
        if self.pool.generation() != self.generation {
            return false;
        }
        let a = &self.version.record.attributes;
        match (a.not_before, a.expires) {
            (None, None) => true,
            _ => a.usable_at(self.pool.hsm.now()),
        }
    }

    fn checked(&self) -> check::Checked<'_> {
        check::Checked {
            spec: &self.version.record.spec,
            key: self.key.as_ref(),
        }
    }

    /// The checked key, for `op` only.
    fn for_op(&self, op: KeyOperation) -> Result<check::Checked<'_>> {
        self.op.expect_use(op)?;
        Ok(self.checked())
    }

    /// Signs (resolved for `sign`).
    pub fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        self.for_op(KeyOperation::Sign)?.sign(alg, input)
    }

    /// Signs into `out` (resolved for `sign`); returns the signature's length. `out` holds
    /// at least [`check::signature_len`] bytes.
    pub fn sign_into(&self, alg: &SignAlgorithm, input: &[u8], out: &mut [u8]) -> Result<usize> {
        self.for_op(KeyOperation::Sign)?.sign_into(alg, input, out)
    }

    /// Verifies (resolved for `verify`).
    pub fn verify(&self, alg: &SignAlgorithm, input: &[u8], signature: &[u8]) -> Result<bool> {
        self.for_op(KeyOperation::Verify)?
            .verify(alg, input, signature)
    }

    /// Encrypts (resolved for `encrypt`).
    pub fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext> {
        self.for_op(KeyOperation::Encrypt)?.encrypt(alg, plaintext)
    }

    /// Encrypts into `out` (resolved for `encrypt`), in PKCS#11's layout (data, then an AEAD
    /// tag); returns the length written. `out` holds at least
    /// [`check::ciphertext_len`] bytes, and an AES-GCM encryption names its IV.
    pub fn encrypt_into(
        &self,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize> {
        self.for_op(KeyOperation::Encrypt)?
            .encrypt_into(alg, plaintext, out)
    }

    /// Decrypts (resolved for `decrypt`).
    pub fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes> {
        self.for_op(KeyOperation::Decrypt)?.decrypt(alg, ciphertext)
    }

    /// Wraps key bytes (resolved for `wrapKey`).
    pub fn wrap(&self, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>> {
        self.for_op(KeyOperation::WrapKey)?.wrap(alg, key)
    }

    /// Unwraps key bytes (resolved for `unwrapKey`).
    pub fn unwrap(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes> {
        self.for_op(KeyOperation::UnwrapKey)?.unwrap(alg, wrapped)
    }

    /// ECDH with a peer's SEC1 point (resolved for `deriveKey`).
    pub fn ecdh(&self, peer_point: &[u8]) -> Result<SecretBytes> {
        self.for_op(KeyOperation::Derive)?.ecdh(peer_point)
    }
}

impl Pool {
    /// Opens the material of an exportable version whose key allows `export`.
    fn open_exportable(&self, name: &str, version: Option<&str>) -> Result<(KeyInfo, KeyMaterial)> {
        let data = self.read()?;
        let entry = live_key(&data, name)?;
        let v = entry.version(version)?;
        self.check_use(entry, v, KeyOperation::Export)?;
        if !v.record.attributes.exportable {
            return Err(Error::NotExportable { name: name.into() });
        }
        let material = self.state.open_material(name, &v.record)?;
        Ok((key_info(&data.record.settings, entry, v), material))
    }

    fn check_use(&self, entry: &KeyEntry, v: &VersionEntry, op: KeyOperation) -> Result<()> {
        let name = &entry.record.name;
        if !entry.record.ops.contains(op) {
            return Err(Error::OperationNotPermitted {
                name: name.clone(),
                operation: op.to_string(),
            });
        }
        v.record.attributes.check_use(name, op, self.hsm.now())
    }

    /// Resolves a key version for one operation: finds it (`None`: the latest), checks that
    /// it may do `op` now, and parses it (from the cache when possible; the pool lock is not
    /// held while parsing or while the caller computes).
    pub fn resolve_key(
        &self,
        name: &str,
        version: Option<&str>,
        op: KeyOperation,
    ) -> Result<ResolvedKey> {
        let (generation, v) = {
            let data = self.read()?;
            // Read under the lock writers bump it under: a pair that belongs together.
            let generation = self.generation();
            let entry = live_key(&data, name)?;
            let v = entry.version(version)?;
            self.check_use(entry, v, op)?;
            (generation, v.clone())
        };
        let key = match v.cache_id.and_then(|id| self.hsm.cache.get(id)) {
            Some(key) => key,
            None => {
                let material = self.state.open_material(name, &v.record)?;
                let key = self.hsm.provider.load(&material)?;
                if let Some(id) = v.cache_id {
                    self.hsm.cache.insert(id, key.clone());
                }
                key
            }
        };
        Ok(ResolvedKey {
            pool: self.clone(),
            generation,
            name: name.to_string(),
            version: v,
            key,
            op,
        })
    }

    /// Signs `input` (a digest, or raw input or a message, as `alg` says).
    pub fn sign(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
    ) -> Result<Vec<u8>> {
        let r = self.resolve_key(name, version, KeyOperation::Sign)?;
        r.checked().sign(alg, input)
    }

    /// Verifies a signature; `Ok(false)` when it does not match.
    pub fn verify(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &SignAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        let r = self.resolve_key(name, version, KeyOperation::Verify)?;
        r.checked().verify(alg, input, signature)
    }

    /// Encrypts.
    pub fn encrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
    ) -> Result<Ciphertext> {
        let r = self.resolve_key(name, version, KeyOperation::Encrypt)?;
        r.checked().encrypt(alg, plaintext)
    }

    /// Decrypts (AEAD input is `ciphertext || tag`).
    pub fn decrypt(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &CipherAlgorithm,
        ciphertext: &[u8],
    ) -> Result<SecretBytes> {
        let r = self.resolve_key(name, version, KeyOperation::Decrypt)?;
        r.checked().decrypt(alg, ciphertext)
    }

    /// Wraps caller-supplied key bytes.
    pub fn wrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        key: &[u8],
    ) -> Result<Vec<u8>> {
        let r = self.resolve_key(name, version, KeyOperation::WrapKey)?;
        r.checked().wrap(alg, key)
    }

    /// Unwraps key bytes.
    pub fn unwrap_key(
        &self,
        name: &str,
        version: Option<&str>,
        alg: &WrapAlgorithm,
        wrapped: &[u8],
    ) -> Result<SecretBytes> {
        let r = self.resolve_key(name, version, KeyOperation::UnwrapKey)?;
        r.checked().unwrap(alg, wrapped)
    }

    /// ECDH with a peer's SEC1 point: the shared secret. Needs `deriveKey`.
    pub fn derive_ecdh(
        &self,
        name: &str,
        version: Option<&str>,
        peer_point: &[u8],
    ) -> Result<SecretBytes> {
        self.resolve_key(name, version, KeyOperation::Derive)?
            .ecdh(peer_point)
    }

    /// Wraps the stored key `target` under the stored key `wrapping`, both of this pool:
    /// secret keys as their raw bytes, private keys as PKCS#8 DER. The target's material is
    /// opened, wrapped and dropped here; it never leaves the core in the clear. The target must
    /// be exportable and allow `export` (a wrapped key leaves the HSM), the wrapping key must
    /// allow `wrapKey`, and both must be usable now.
    pub fn wrap_stored_key(
        &self,
        wrapping: KeyRef<'_>,
        alg: &WrapAlgorithm,
        target: KeyRef<'_>,
    ) -> Result<Vec<u8>> {
        let r = self.resolve_key(wrapping.name, wrapping.version, KeyOperation::WrapKey)?;
        // Refuse an algorithm the wrapping key cannot do before the target is opened at all
        // (`wrap` checks it again, with the length).
        check::wrap_key(&r.version.record.spec, alg)?;
        let form = wrap_form(self.open_exportable(target.name, target.version)?.1)?;
        let wrapped = r.checked().wrap(alg, form.expose_secret())?;
        tracing::debug!(pool = %self.name(), key = wrapping.name, target = target.name, "stored key wrapped in the core");
        Ok(wrapped)
    }

    /// Exports the material of an exportable version whose key allows `export`.
    /// The one way secret material leaves the pool in the clear; callers wrap it at once.
    pub fn export_key(&self, name: &str, version: Option<&str>) -> Result<(KeyInfo, KeyMaterial)> {
        let exported = self.open_exportable(name, version)?;
        self.hsm.count_plaintext_export();
        tracing::info!(pool = %self.name(), key = name, version = %exported.0.version, "key material exported in the clear");
        Ok(exported)
    }
}

/// The bytes a key is wrapped as: secret keys raw, private keys as PKCS#8 DER.
pub fn wrap_form(material: KeyMaterial) -> Result<SecretBytes> {
    match material {
        KeyMaterial::Aes(bytes) | KeyMaterial::Secret(bytes) => Ok(bytes),
        other => other.to_pkcs8_der(),
    }
}

/// The most bytes a key of `spec` takes in the form it is wrapped in ([`wrap_form`]),
/// from its spec alone: exact for secret and EC keys (whose forms have fixed lengths: an EC
/// key's is measured once per curve on a fixed, public scalar); for RSA keys an upper bound on
/// their PKCS#8 DER (each integer at its largest, with a sign byte and a long-form header),
/// since DER's minimal integers make the exact length depend on the key.
pub fn wrap_form_len_bound(spec: &KeySpec) -> usize {
    match *spec {
        KeySpec::Aes { bits } | KeySpec::Secret { bits } => (bits as usize).div_ceil(8),
        KeySpec::Rsa { bits } => {
            let n = (bits as usize).div_ceil(8);
            let half = n.div_ceil(2);
            // n and d; e; p, q, dp, dq, qinv; each INTEGER with a sign byte and a 4-byte header.
            let ints = 2 * (n + 5) + 13 + 5 * (half + 5);
            // RSAPrivateKey, OCTET STRING, PrivateKeyInfo headers; version; AlgorithmIdentifier.
            ints + 3 * 4 + 3 + 15
        }
        KeySpec::Ec { curve } => ec_form_len(curve),
    }
}

/// The length of an EC key's PKCS#8 form on `curve`: the same for every key of the curve (a
/// scalar of the field's length, an uncompressed point), measured once on the public scalar
/// 0x0101…01 (below every supported curve's order).
fn ec_form_len(curve: Curve) -> usize {
    static LENS: [OnceLock<usize>; Curve::ALL.len()] = [const { OnceLock::new() }; 4];
    let index = Curve::ALL.iter().position(|c| *c == curve).unwrap_or(0);
    *LENS[index].get_or_init(|| {
        let f = curve.field_len();
        let probe = KeyMaterial::Ec {
            curve,
            d: SecretBytes::new(vec![1; f]),
        };
        // An upper bound should the encoder ever refuse the probe (it does not).
        probe
            .to_pkcs8_der()
            .map_or(f + (2 * f + 1) + 96, |der| der.expose_secret().len())
    })
}

/// The length of a wrapped key, or a bound on it, from the two keys' specs alone: what the
/// two-call convention answers before any wrapping (nothing secret is touched).
pub fn wrapped_len_bound(
    wrapping: &KeySpec,
    alg: &WrapAlgorithm,
    target: &KeySpec,
) -> Result<usize> {
    check::wrapped_len(wrapping, alg, wrap_form_len_bound(target))
}
