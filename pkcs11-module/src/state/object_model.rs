//! What a handle names ([`ObjectId`]), the key behind an object ([`Backing`]: a pool key, a
//! session key, a public key given by attributes) and the [`Object`] a function group works
//! on: its attributes and its crypto calls, each going to the pool (`PoolApi`) or the
//! session key. Resolution and the search index are in [`super::objects`].

use std::sync::Arc;

use crate::state::PoolHandle;
use crate::state::login::LoginTable;
use cryptoki_sys::*;
use hsm_core::crypto::shared::copy_out;
use hsm_core::crypto::{
    CipherAlgorithm, Ciphertext, Curve, KeyMaterial, KeySpec, PublicKey, SignAlgorithm,
    WrapAlgorithm,
};
use hsm_core::key::{EphemeralKey, KeyInfo, KeyOperation, KeyOps};
use hsm_core::{Error, Hsm, KeyRef, OpKey, SecretBytes};
use parking_lot::RwLock;

use crate::attributes::{self, Attrs, Part, curve_of_params, ec_point_raw, is_true};
use crate::error::CoreResult;

/// What a handle names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ObjectId {
    /// One part of a pool key.
    Key {
        /// The pool.
        pool: Arc<str>,
        /// The key name.
        name: Arc<str>,
        /// Which object of the key.
        part: Part,
    },
    /// An object kept as a pool document.
    Doc {
        /// The pool.
        pool: Arc<str>,
        /// The document id.
        id: Arc<str>,
    },
    /// A session object of the session with this handle.
    Session(CK_SESSION_HANDLE),
}

/// A session object: attributes, and the key behind them if it is a key.
pub(crate) struct SessionObject {
    /// The attributes (for keys: the stored ones, laid over the key's computed ones).
    pub attrs: RwLock<Attrs>,
    /// The key, for key objects.
    pub key: Option<SessionKey>,
}

/// The key of a session key object.
pub(crate) enum SessionKey {
    /// A key of its own, in memory.
    Own(Arc<EphemeralKey>, Part),
    /// A session copy of a pool key (`C_CopyObject` with `CKA_TOKEN` false): it uses the
    /// pool's key, with its own attributes.
    Alias {
        /// The key name in the session's pool.
        name: String,
        /// Which object of the key.
        part: Part,
    },
}

/// Where an object's key is.
#[derive(Clone)]
pub(crate) enum Backing {
    /// No key (certificate, data object).
    None,
    /// A pool key, at the version the attributes show.
    Pool {
        /// The pool.
        pool: PoolHandle,
        /// The key.
        info: Arc<KeyInfo>,
    },
    /// An in-memory key.
    Ephemeral(Arc<EphemeralKey>),
    /// A public key given by its attributes (a created public key object).
    #[allow(dead_code)] // the crypto functions are in progress
    Public(PublicKey),
}

/// An object, resolved from its handle for one call.
#[derive(Clone)]
pub(crate) struct Object {
    /// Its handle.
    pub handle: CK_OBJECT_HANDLE,
    /// What the handle names.
    pub id: ObjectId,
    /// Its attributes (without secret components); shared with the pool's index.
    pub attrs: Arc<Attrs>,
    /// The key behind it.
    pub backing: Backing,
    /// The key part, for key objects.
    pub part: Option<Part>,
}

impl Object {
    /// A token object.
    pub fn is_token(&self) -> bool {
        is_true(&self.attrs, CKA_TOKEN)
    }

    /// A private object (seen only by a logged-in user).
    pub fn is_private(&self) -> bool {
        is_true(&self.attrs, CKA_PRIVATE)
    }

    /// The key's type and size, for key objects.
    pub fn spec(&self) -> Option<KeySpec> {
        match &self.backing {
            Backing::None => None,
            Backing::Pool { info, .. } => Some(info.spec),
            Backing::Ephemeral(k) => Some(k.spec()),
            Backing::Public(p) => Some(public_spec(p)),
        }
    }

    /// Checks a usage attribute (`CKA_SIGN`, ...): `CKR_KEY_FUNCTION_NOT_PERMITTED` when it is
    /// false or absent, `CKR_KEY_HANDLE_INVALID` when this is not a key.
    pub fn check_usage(&self, usage: CK_ATTRIBUTE_TYPE) -> Result<(), CK_RV> {
        if self.part.is_none() {
            return Err(CKR_KEY_HANDLE_INVALID);
        }
        if is_true(&self.attrs, usage) {
            Ok(())
        } else {
            Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
        }
    }

    /// `CKA_ALWAYS_AUTHENTICATE`: each use needs `C_Login(CKU_CONTEXT_SPECIFIC)`.
    pub fn always_authenticate(&self) -> bool {
        is_true(&self.attrs, CKA_ALWAYS_AUTHENTICATE)
    }

    /// The key bound for one kind of operation: what a `C_*Init` keeps for the operation's
    /// calls. A pool key is resolved by its pool (its rules checked, the key parsed).
    pub fn bind(&self, hsm: &Hsm, op: KeyOperation) -> Result<BoundKey, CK_RV> {
        match &self.backing {
            Backing::Pool { pool, info } => Ok(BoundKey::Pool(pool.resolve(info, op).ck()?)),
            Backing::Ephemeral(k) => Ok(BoundKey::Own(k.clone())),
            Backing::Public(p) => hsm
                .public_ephemeral(p, KeyOps::of(&[op]))
                .map(|k| BoundKey::Own(Arc::new(k)))
                .ck(),
            Backing::None => Err(CKR_KEY_TYPE_INCONSISTENT),
        }
    }

    /// Wraps key bytes.
    pub fn wrap_key(&self, hsm: &Hsm, alg: &WrapAlgorithm, key: &[u8]) -> Result<Vec<u8>, CK_RV> {
        match &self.backing {
            Backing::Pool { pool, info } => {
                pool.wrap_key(&info.name, Some(&info.version), alg, key)
            }
            Backing::Ephemeral(k) => k.wrap_key(alg, key),
            Backing::Public(p) => hsm
                .public_ephemeral(p, KeyOps::of(&[KeyOperation::WrapKey]))
                .and_then(|k| k.wrap_key(alg, key)),
            Backing::None => return Err(CKR_KEY_TYPE_INCONSISTENT),
        }
        .ck()
    }

    /// Wraps `target` under this key. Two keys of one pool are wrapped inside the core (the
    /// target's material never leaves it); otherwise (a session key on either side) the
    /// target's material is taken (`export`, which the core allows only for exportable keys)
    /// and wrapped at once. The caller has checked `CKA_EXTRACTABLE` and the trusted rules.
    pub fn wrap_target(
        &self,
        hsm: &Hsm,
        alg: &WrapAlgorithm,
        target: &Object,
    ) -> Result<Vec<u8>, CK_RV> {
        // The core keeps export as an operation of its own; to PKCS#11 it is extraction.
        let unextractable = |rv| match rv {
            CKR_KEY_FUNCTION_NOT_PERMITTED => CKR_KEY_UNEXTRACTABLE,
            rv => rv,
        };
        if let (Backing::Pool { pool, info }, Backing::Pool { pool: tp, info: ti }) =
            (&self.backing, &target.backing)
            && pool.name() == tp.name()
        {
            let wrapping = KeyRef {
                name: &info.name,
                version: Some(&info.version),
            };
            let stored = KeyRef {
                name: &ti.name,
                version: Some(&ti.version),
            };
            return match pool.wrap_stored_key(wrapping, alg, stored) {
                Err(Error::OperationNotPermitted { name, .. }) if name == ti.name => {
                    Err(CKR_KEY_UNEXTRACTABLE)
                }
                other => other.ck(),
            };
        }
        let form = hsm_core::pool::wrap_form(target.export().map_err(unextractable)?).ck()?;
        self.wrap_key(hsm, alg, form.expose_secret())
    }

    /// Unwraps key bytes.
    pub fn unwrap_key(&self, alg: &WrapAlgorithm, wrapped: &[u8]) -> Result<SecretBytes, CK_RV> {
        match &self.backing {
            Backing::Pool { pool, info } => {
                pool.unwrap_key(&info.name, Some(&info.version), alg, wrapped)
            }
            Backing::Ephemeral(k) => k.unwrap_key(alg, wrapped),
            Backing::Public(_) | Backing::None => return Err(CKR_KEY_TYPE_INCONSISTENT),
        }
        .ck()
    }

    /// ECDH with a peer's point (raw or DER): the shared secret.
    pub fn derive_ecdh(&self, peer: &[u8]) -> Result<SecretBytes, CK_RV> {
        let Some(KeySpec::Ec { curve }) = self.spec() else {
            return Err(CKR_KEY_TYPE_INCONSISTENT);
        };
        let point = ec_point_raw(peer, curve);
        match &self.backing {
            Backing::Pool { pool, info } => {
                pool.derive_ecdh(&info.name, Some(&info.version), &point)
            }
            Backing::Ephemeral(k) => k.derive_ecdh(&point),
            Backing::Public(_) | Backing::None => return Err(CKR_KEY_TYPE_INCONSISTENT),
        }
        .ck()
    }

    /// The key's material, for wrapping it or reading a non-sensitive component. The caller
    /// has checked `CKA_EXTRACTABLE` (and, to read, `CKA_SENSITIVE`).
    pub fn export(&self) -> Result<KeyMaterial, CK_RV> {
        match &self.backing {
            Backing::Pool { pool, info } => pool
                .export_key(&info.name, Some(&info.version))
                .map(|(_, m)| m),
            Backing::Ephemeral(k) => k.export(),
            Backing::Public(_) | Backing::None => return Err(CKR_KEY_UNEXTRACTABLE),
        }
        .ck()
    }
}

/// An object's key bound for one kind of operation ([`Object::bind`]).
pub(crate) enum BoundKey {
    /// A pool key version, resolved by its pool.
    Pool(Arc<dyn OpKey>),
    /// An in-memory key (a session key, or a public key object's key).
    Own(Arc<EphemeralKey>),
}

impl BoundKey {
    /// Names the pool key in the call's span (`entry::run`): pool, key and version.
    pub fn record_in_span(&self, pool: &PoolHandle) {
        if let (BoundKey::Pool(k), true) = (self, crate::entry::spans_on()) {
            let span = tracing::Span::current();
            span.record("pool", pool.name());
            span.record("key", k.name());
            span.record("version", k.version());
        }
    }

    /// The key's type and size.
    pub fn spec(&self) -> KeySpec {
        match self {
            BoundKey::Pool(k) => k.spec(),
            BoundKey::Own(k) => k.spec(),
        }
    }

    /// Signs (or MACs) `input`.
    pub fn sign(&self, alg: &SignAlgorithm, input: &[u8]) -> Result<Vec<u8>, CK_RV> {
        match self {
            BoundKey::Pool(k) => k.sign(alg, input),
            BoundKey::Own(k) => k.sign(alg, input),
        }
        .ck()
    }

    /// Signs (or MACs) `input` into `out`; returns the length written. `out` holds at
    /// least `check::signature_len` bytes.
    pub fn sign_into(
        &self,
        alg: &SignAlgorithm,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CK_RV> {
        match self {
            BoundKey::Pool(k) => k.sign_into(alg, input, out),
            BoundKey::Own(k) => k.sign(alg, input).and_then(|s| copy_out(&s, out)),
        }
        .ck()
    }

    /// Verifies a signature (or MAC); `Ok(false)` when it does not match.
    pub fn verify(&self, alg: &SignAlgorithm, input: &[u8], sig: &[u8]) -> Result<bool, CK_RV> {
        match self {
            BoundKey::Pool(k) => k.verify(alg, input, sig),
            BoundKey::Own(k) => k.verify(alg, input, sig),
        }
        .ck()
    }

    /// Encrypts.
    pub fn encrypt(&self, alg: &CipherAlgorithm, plaintext: &[u8]) -> Result<Ciphertext, CK_RV> {
        match self {
            BoundKey::Pool(k) => k.encrypt(alg, plaintext),
            BoundKey::Own(k) => k.encrypt(alg, plaintext),
        }
        .ck()
    }

    /// Encrypts into `out` (PKCS#11's layout: data, then an AEAD tag); returns the length
    /// written. `out` holds at least `check::ciphertext_len` bytes.
    pub fn encrypt_into(
        &self,
        alg: &CipherAlgorithm,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CK_RV> {
        match self {
            BoundKey::Pool(k) => k.encrypt_into(alg, plaintext, out),
            BoundKey::Own(k) => k.encrypt(alg, plaintext).and_then(|c| c.copy_into(out)),
        }
        .ck()
    }

    /// Decrypts (AEAD input is `ciphertext || tag`).
    pub fn decrypt(&self, alg: &CipherAlgorithm, ciphertext: &[u8]) -> Result<SecretBytes, CK_RV> {
        match self {
            BoundKey::Pool(k) => k.decrypt(alg, ciphertext),
            BoundKey::Own(k) => k.decrypt(alg, ciphertext),
        }
        .ck()
    }
}

/// A session's pool keys as its recent `C_*Init` calls resolved and bound them, so that the
/// next operation on the same key neither resolves the handle nor the key again while
/// nothing changed: the pool's generation (which every change of a key, its attributes or
/// the pool moves) and the version's validity window ([`OpKey::is_current`]). Only objects
/// of an embedded pool are kept: a client's pool moves its generation only when it asks the
/// server, so its objects are resolved through the index each time (where the refresh is).
#[derive(Default)]
pub(crate) struct KeyCache(Vec<Cached>);

/// One binding of a [`KeyCache`]: the key and the two attributes a later `*Init` needs.
struct Cached {
    handle: CK_OBJECT_HANDLE,
    op: KeyOperation,
    key: Arc<dyn OpKey>,
    /// `CKA_PRIVATE`: visible only while a user is logged in (which the generation does not
    /// follow).
    private: bool,
    /// For a private object: the login table's [`LoginTable::changes`] when a logged-in
    /// user was last seen (`u64::MAX`: not yet).
    login_seen: u64,
    /// `CKA_ALWAYS_AUTHENTICATE`.
    always_authenticate: bool,
}

impl KeyCache {
    /// How many bindings a session keeps.
    const CAPACITY: usize = 8;

    /// The key of `handle` bound for `op` and its `CKA_ALWAYS_AUTHENTICATE`, if still current
    /// (a stale binding is dropped). A private object needs the user logged in to `slot`
    /// (read from `logins` only when a login or logout happened since it was last seen).
    pub fn get(
        &mut self,
        handle: CK_OBJECT_HANDLE,
        op: KeyOperation,
        logins: &LoginTable,
        slot: CK_SLOT_ID,
    ) -> Option<(BoundKey, bool)> {
        let i = self
            .0
            .iter()
            .position(|c| c.handle == handle && c.op == op)?;
        let c = &mut self.0[i];
        if !c.key.is_current() {
            self.0.swap_remove(i);
            return None;
        }
        if c.private {
            let changes = logins.changes();
            if changes != c.login_seen {
                if !logins.user_logged_in(slot) {
                    return None;
                }
                c.login_seen = changes;
            }
        }
        Some((BoundKey::Pool(c.key.clone()), c.always_authenticate))
    }

    /// Keeps the binding of an embedded pool's key object (the oldest goes when full).
    pub fn put(&mut self, object: &Object, op: KeyOperation, bound: &BoundKey) {
        let (ObjectId::Key { .. }, Backing::Pool { pool, .. }, BoundKey::Pool(key)) =
            (&object.id, &object.backing, bound)
        else {
            return;
        };
        if !pool.is_local() {
            return;
        }
        self.0
            .retain(|c| !(c.handle == object.handle && c.op == op));
        if self.0.len() >= Self::CAPACITY {
            self.0.remove(0);
        }
        self.0.push(Cached {
            handle: object.handle,
            op,
            key: key.clone(),
            private: object.is_private(),
            login_seen: u64::MAX,
            always_authenticate: object.always_authenticate(),
        });
    }
}

/// The spec of a public key.
#[allow(dead_code)] // the crypto functions are in progress
pub(crate) fn public_spec(p: &PublicKey) -> KeySpec {
    match p {
        PublicKey::Rsa { n, .. } => KeySpec::Rsa {
            bits: hsm_core::crypto::material::bit_len(n),
        },
        PublicKey::Ec { curve, .. } => KeySpec::Ec { curve: *curve },
    }
}

/// The public key described by a public key object's attributes.
pub(crate) fn public_from_attrs(attrs: &Attrs) -> Result<PublicKey, CK_RV> {
    match attrs
        .get(&CKA_KEY_TYPE)
        .and_then(|v| attributes::parse_ulong(v).ok())
    {
        Some(CKK_RSA) => {
            let n = attrs.get(&CKA_MODULUS).ok_or(CKR_TEMPLATE_INCOMPLETE)?;
            let e = attrs
                .get(&CKA_PUBLIC_EXPONENT)
                .ok_or(CKR_TEMPLATE_INCOMPLETE)?;
            Ok(PublicKey::Rsa {
                n: strip_zeros(n),
                e: strip_zeros(e),
            })
        }
        Some(CKK_EC) => {
            let curve = curve_of_params(attrs.get(&CKA_EC_PARAMS).ok_or(CKR_TEMPLATE_INCOMPLETE)?)?;
            let point = ec_point_raw(
                attrs.get(&CKA_EC_POINT).ok_or(CKR_TEMPLATE_INCOMPLETE)?,
                curve,
            );
            ec_public(curve, &point).ok_or(CKR_ATTRIBUTE_VALUE_INVALID)
        }
        _ => Err(CKR_KEY_TYPE_INCONSISTENT),
    }
}

/// An uncompressed point as a public key.
pub(crate) fn ec_public(curve: Curve, point: &[u8]) -> Option<PublicKey> {
    let n = curve.field_len();
    match point {
        [4, xy @ ..] if xy.len() == 2 * n => Some(PublicKey::Ec {
            curve,
            x: xy[..n].to_vec(),
            y: xy[n..].to_vec(),
        }),
        _ => None,
    }
}

fn strip_zeros(v: &[u8]) -> Vec<u8> {
    let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    v[start..].to_vec()
}
