//! The child that loads one PKCS#11 module: token setup, the fill, every case, and the
//! measurements with a big store. Results go to stdout as lines for the parent
//! ([`crate::report::emit`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use hsm_core::SecretBytes;
use hsm_core::crypto::{
    CipherAlgorithm, CryptoProvider, Curve, HashAlg, KeyMaterial, LoadedKey, PublicKey,
    SignAlgorithm,
};

use crate::report::{emit, emit_bare, emit_info, vm_rss_kib};
use crate::{Case, SO_PIN, TOKEN_LABEL, USER_PIN, aes_key, hmac_key, message, object_label};

/// DER of the P-256 curve OID (`CKA_EC_PARAMS`).
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// A loaded, initialized module and the bench token's slot.
struct Module {
    ctx: Pkcs11,
    slot: Slot,
}

/// Loads and initializes `lib` (OS locking, as p11-kit and OpenSSL ask), timing
/// `C_Initialize`.
fn load(lib: &str) -> Result<(Pkcs11, Duration)> {
    let ctx = Pkcs11::new(lib).with_context(|| format!("load {lib}"))?;
    emit_info("rss_loaded_kib", vm_rss_kib()? as f64);
    let start = Instant::now();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .context("C_Initialize")?;
    Ok((ctx, start.elapsed()))
}

fn pin(p: &str) -> AuthPin {
    AuthPin::new(p.into())
}

/// The slot whose token is labelled [`TOKEN_LABEL`].
fn bench_slot(ctx: &Pkcs11) -> Result<Slot> {
    for slot in ctx.get_slots_with_initialized_token()? {
        if ctx.get_token_info(slot)?.label().trim_end() == TOKEN_LABEL {
            return Ok(slot);
        }
    }
    bail!("no token labelled {TOKEN_LABEL}")
}

/// Opens the module on the bench token and logs the user in (login is per application).
fn open(lib: &str) -> Result<(Module, Duration)> {
    let (ctx, init) = load(lib)?;
    let slot = bench_slot(&ctx)?;
    let s = ctx.open_rw_session(slot)?;
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .context("C_Login")?;
    // Another session keeps the login for the application while cases open and close theirs.
    std::mem::forget(s);
    Ok((Module { ctx, slot }, init))
}

/// A peer (SoftHSMv2, kryoptic): initializes the first free token as [`TOKEN_LABEL`] and sets
/// the user PIN, then stores `objects` AES keys through `C_CreateObject`.
pub fn setup_token(lib: &str, objects: usize) -> Result<()> {
    let (ctx, _) = load(lib)?;
    let free = ctx
        .get_slots_with_token()?
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|t| !t.token_initialized())
                .unwrap_or(false)
        })
        .context("no slot with an uninitialized token")?;
    ctx.init_token(free, &pin(SO_PIN), TOKEN_LABEL)
        .context("C_InitToken")?;
    let slot = bench_slot(&ctx)?;
    {
        let s = ctx.open_rw_session(slot)?;
        s.login(UserType::So, Some(&pin(SO_PIN)))?;
        s.init_pin(&pin(USER_PIN)).context("C_InitPIN")?;
        s.logout()?;
    }
    let s = ctx.open_rw_session(slot)?;
    s.login(UserType::User, Some(&pin(USER_PIN)))?;
    let start = Instant::now();
    for i in 0..objects {
        s.create_object(&aes_template(&object_label(i), &aes_key(i as u64)))
            .context("C_CreateObject")?;
        if (i + 1) % 10_000 == 0 {
            eprintln!(
                "p11bench: {} objects in {:.0} s",
                i + 1,
                start.elapsed().as_secs_f64()
            );
        }
    }
    emit_info("fill_secs", start.elapsed().as_secs_f64());
    drop(s);
    ctx.finalize()?;
    Ok(())
}

fn aes_template(label: &str, value: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(value.to_vec()),
    ]
}

/// Runs `op` on `threads` threads (one session each) for `dur`; ops/s over the slowest
/// thread's time. Objects `op` returns are destroyed after the timing, untimed.
/// [`measure`] for a case whose calls are all alike and make no objects.
fn measure_each<T>(
    m: &Module,
    threads: usize,
    dur: Duration,
    op: impl Fn(&Session) -> cryptoki::error::Result<T> + Sync,
) -> Result<f64> {
    measure(m, threads, dur, |_| {
        let op = &op;
        move |s: &Session| {
            op(s)?;
            Ok(vec![])
        }
    })
}

fn measure<M, F>(m: &Module, threads: usize, dur: Duration, make: M) -> Result<f64>
where
    M: Fn(usize) -> F + Sync,
    F: FnMut(&Session) -> Result<Vec<ObjectHandle>>,
{
    crate::on_threads(threads, |t, start| {
        let session = m.ctx.open_rw_session(m.slot);
        let mut op = make(t);
        start();
        let session = session?;
        let mut made = Vec::new();
        let counted = crate::timed_loop(dur, || {
            made.extend(op(&session)?);
            Ok(())
        })?;
        for h in made {
            match session.destroy_object(h) {
                // mhsm holds a key pair as one key: its halves go together.
                Err(CkError::Pkcs11(RvError::ObjectHandleInvalid, _)) | Ok(()) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(counted)
    })
}

/// One key-pair generation per call (token keys, destroyed after the window) with
/// `EccKeyPairGen` (P-256) or `RsaPkcsKeyPairGen` (2048); the first pair signs `input` and
/// verifies it once, so a broken generator cannot look fast.
fn gen_pair<'a>(
    thread: usize,
    case: &'static str,
    generate: Mechanism<'static>,
    input: &'a [u8],
) -> impl FnMut(&Session) -> Result<Vec<ObjectHandle>> + 'a {
    let mut first = true;
    move |s: &Session| {
        let label = fresh_label(case, thread);
        let ((p, k), sign) = match generate {
            Mechanism::EccKeyPairGen => (ec_pair_templates(&label), Mechanism::Ecdsa),
            _ => (rsa_pair_templates(&label), Mechanism::Sha256RsaPkcs),
        };
        let (pubk, privk) = s.generate_key_pair(&generate, &p, &k)?;
        if std::mem::take(&mut first) {
            let sig = s.sign(&sign, privk, input)?;
            s.verify(&sign, pubk, input, &sig)?;
        }
        Ok(vec![pubk, privk])
    }
}

/// The keys every case uses, made once.
struct Keys {
    ec_priv: ObjectHandle,
    ec_pub: ObjectHandle,
    ec_public: std::sync::Arc<dyn LoadedKey>,
    rsa_priv: ObjectHandle,
    rsa_pub: ObjectHandle,
    rsa_public: std::sync::Arc<dyn LoadedKey>,
    aes: ObjectHandle,
    hmac: ObjectHandle,
}

fn ec_pair_templates(label: &str) -> (Vec<Attribute>, Vec<Attribute>) {
    pair_templates(label, vec![Attribute::EcParams(P256_OID.to_vec())], vec![])
}

fn rsa_pair_templates(label: &str) -> (Vec<Attribute>, Vec<Attribute>) {
    pair_templates(
        label,
        vec![
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Encrypt(true),
        ],
        vec![Attribute::Decrypt(true)],
    )
}

/// Token key-pair templates that sign and verify, labelled `label`, with what the key type
/// adds to each half.
fn pair_templates(
    label: &str,
    public: Vec<Attribute>,
    private: Vec<Attribute>,
) -> (Vec<Attribute>, Vec<Attribute>) {
    let l = Attribute::Label(label.as_bytes().to_vec());
    let mut p = vec![Attribute::Token(true), Attribute::Verify(true), l.clone()];
    p.extend(public);
    let mut k = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        l,
    ];
    k.extend(private);
    (p, k)
}

fn attr_bytes(s: &Session, h: ObjectHandle, t: AttributeType) -> Result<Vec<u8>> {
    match s.get_attributes(h, &[t])?.into_iter().next() {
        Some(
            Attribute::EcPoint(v)
            | Attribute::Modulus(v)
            | Attribute::PublicExponent(v)
            | Attribute::Label(v),
        ) => Ok(v),
        other => bail!("attribute {t:?}: {other:?}"),
    }
}

fn make_keys(m: &Module, provider: &dyn CryptoProvider) -> Result<Keys> {
    let s = m.ctx.open_rw_session(m.slot)?;
    let (p, k) = ec_pair_templates("bench-ec");
    let (ec_pub, ec_priv) = s
        .generate_key_pair(&Mechanism::EccKeyPairGen, &p, &k)
        .context("generate EC P-256")?;
    // CKA_EC_POINT: a DER OCTET STRING around 04 || x || y (some modules give it raw).
    let point = attr_bytes(&s, ec_pub, AttributeType::EcPoint)?;
    let point = match point.as_slice() {
        [0x04, 65, rest @ ..] if rest.len() == 65 => rest.to_vec(),
        _ => point,
    };
    ensure!(point.len() == 65 && point[0] == 4, "EC point {point:02x?}");
    let ec_public = provider.load_public(&PublicKey::Ec {
        curve: Curve::P256,
        x: point[1..33].to_vec(),
        y: point[33..].to_vec(),
    })?;
    let (p, k) = rsa_pair_templates("bench-rsa");
    let (rsa_pub, rsa_priv) = s
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &p, &k)
        .context("generate RSA-2048")?;
    let rsa_public = provider.load_public(&PublicKey::Rsa {
        n: attr_bytes(&s, rsa_pub, AttributeType::Modulus)?,
        e: attr_bytes(&s, rsa_pub, AttributeType::PublicExponent)?,
    })?;
    let aes = s
        .create_object(&aes_template("bench-aes", &aes_key(u64::MAX)))
        .context("create AES key")?;
    let hmac = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Verify(true),
            Attribute::Label(b"bench-hmac".to_vec()),
            Attribute::Value(hmac_key().to_vec()),
        ])
        .context("create generic secret")?;
    Ok(Keys {
        ec_priv,
        ec_pub,
        ec_public,
        rsa_priv,
        rsa_pub,
        rsa_public,
        aes,
        hmac,
    })
}

fn pss() -> Mechanism<'static> {
    Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    })
}

fn oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
}

/// A fresh 12-byte GCM IV per operation: thread and counter.
pub fn gcm_iv(thread: usize, n: u64) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[0] = thread as u8;
    iv[4..].copy_from_slice(&n.to_be_bytes());
    iv
}

const CBC_IV: [u8; 16] = [7; 16];

/// A unique label for objects made while measuring (mhsm refuses a second key of a name).
fn fresh_label(kind: &str, thread: usize) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!("{kind}-{thread}-{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Signs `msg` with the token's private key, checks the signature against the provider's
/// public key (over `digest`, what `alg` takes) and with the token's `C_Verify`, and checks
/// that a corrupted signature gets `CKR_SIGNATURE_INVALID`.
fn sign_and_verify(
    check: &Session,
    mech: &Mechanism,
    (private, public, provider_key): (ObjectHandle, ObjectHandle, &dyn LoadedKey),
    alg: &SignAlgorithm,
    msg: &[u8],
    digest: &[u8],
    name: &str,
) -> Result<()> {
    let sig = check.sign(mech, private, msg)?;
    ensure!(
        provider_key.verify(alg, digest, &sig)?,
        "{name} signature does not verify"
    );
    check.verify(mech, public, msg, &sig)?;
    let mut bad = sig.clone();
    bad[5] ^= 1;
    expect_rv(
        check.verify(mech, public, msg, &bad),
        RvError::SignatureInvalid,
        &format!("{name} verify of a bad signature"),
    )
}

fn expect_rv<T>(r: cryptoki::error::Result<T>, want: RvError, what: &str) -> Result<()> {
    match r {
        Err(CkError::Pkcs11(rv, _)) if rv == want => Ok(()),
        Err(e) => bail!("{what}: expected {want:?}, got {e}"),
        Ok(_) => bail!("{what}: expected {want:?}, got success"),
    }
}

fn find_one(s: &Session, label: &str) -> Result<Vec<ObjectHandle>> {
    Ok(s.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])?)
}

/// `cases` phase: makes the keys, runs every case at each thread count. With `paired` (an
/// mhsm module), a case the bare provider has runs in rounds taken in turn with the bare
/// provider's ([`crate::in_turn`]), which is reported beside it.
pub fn run_cases(
    lib: &str,
    objects: usize,
    dur: Duration,
    threads: &[usize],
    paired: bool,
) -> Result<()> {
    let provider = hsm_core::crypto::default_provider();
    let provider = provider.as_ref();
    let (m, _) = open(lib)?;
    let info = m.ctx.get_library_info()?;
    emit_info(
        "library",
        format!(
            "{} {}",
            info.library_description().trim_end(),
            info.library_version()
        ),
    );
    let keys = make_keys(&m, provider)?;
    let msg = message(32);
    let cases = Cases {
        m: &m,
        keys,
        digest: crate::digest(provider, &msg),
        msg,
        kib: message(1024),
        four_kib: message(4096),
        objects,
    };
    let check = m.ctx.open_rw_session(m.slot)?;
    // The provider the module's core picked (`MHSM_CRYPTO_PROVIDER` as the module reads it).
    let bare_provider = if paired {
        Some(crate::bare::provider()?)
    } else {
        None
    };
    let bare = match &bare_provider {
        Some(p) => {
            emit_info("bare_provider", p.name());
            Some(crate::bare::Bare::new(p.as_ref())?)
        }
        None => None,
    };

    for case in Case::selected() {
        if case.id == "find-big" {
            continue;
        }
        // Each case checks its result once, so a broken module cannot look fast.
        cases.check(case.id, &check, provider)?;
        for &t in threads {
            let module = |d| cases.ops_per_sec(case.id, &check, t, d);
            let r = match &bare {
                Some(bare) if case.bare => {
                    crate::in_turn(dur, module, |d| bare.ops_per_sec(case.id, t, d)).map(
                        |(m, b)| {
                            emit_bare(case.id, t, b);
                            m
                        },
                    )
                }
                _ => module(dur),
            };
            emit(case.id, t, r.with_context(|| format!("case {}", case.id))?);
        }
    }
    Ok(())
}

/// What the cases run with: the module, the keys made once, the inputs.
struct Cases<'a> {
    m: &'a Module,
    keys: Keys,
    /// 32 bytes: the message of the signatures and of OAEP.
    msg: Vec<u8>,
    /// SHA-256 of `msg`.
    digest: Vec<u8>,
    /// 1 KiB: digests and MACs.
    kib: Vec<u8>,
    /// 4 KiB: AES encryption.
    four_kib: Vec<u8>,
    /// How many filler objects the store holds.
    objects: usize,
}

impl Cases<'_> {
    /// Checks the result of case `id` once through the session `check`, against the
    /// provider where the module's answer can be recomputed.
    fn check(&self, id: &str, check: &Session, provider: &dyn CryptoProvider) -> Result<()> {
        let (m, keys) = (self.m, &self.keys);
        let (msg, digest, kib) = (&self.msg[..], &self.digest[..], &self.kib[..]);
        match id {
            "session" => {
                let s = m.ctx.open_rw_session(m.slot)?;
                ensure!(s.get_session_info()?.read_write(), "session not read-write");
            }
            "call" => ensure!(
                check.get_session_info()?.slot_id() == m.slot,
                "session info names another slot"
            ),
            "random" => {
                let r = check.generate_random_vec(32)?;
                ensure!(
                    r.len() == 32 && r.iter().any(|b| *b != 0),
                    "random: {r:02x?}"
                );
            }
            "sha256" => {
                let d = check.digest(&Mechanism::Sha256, kib)?;
                ensure!(d == crate::digest(provider, kib), "wrong SHA-256");
            }
            "ecdsa-sign" | "ecdsa-verify" => {
                let alg = SignAlgorithm::Ecdsa {
                    hash: None,
                    curve: None,
                };
                let pair = (keys.ec_priv, keys.ec_pub, &*keys.ec_public);
                sign_and_verify(
                    check,
                    &Mechanism::Ecdsa,
                    pair,
                    &alg,
                    digest,
                    digest,
                    "ECDSA",
                )?;
            }
            "rsa-pkcs1-sign" | "rsa-verify" => {
                let alg = SignAlgorithm::RsaPkcs1v15 {
                    hash: Some(HashAlg::Sha256),
                };
                let pair = (keys.rsa_priv, keys.rsa_pub, &*keys.rsa_public);
                let mech = Mechanism::Sha256RsaPkcs;
                sign_and_verify(check, &mech, pair, &alg, msg, digest, "RSA")?;
            }
            "rsa-pss-sign" => {
                let sig = check.sign(&pss(), keys.rsa_priv, msg)?;
                let alg = SignAlgorithm::RsaPss {
                    hash: HashAlg::Sha256,
                    mgf1: HashAlg::Sha256,
                    salt_len: 32,
                };
                ensure!(
                    keys.rsa_public.verify(&alg, digest, &sig)?,
                    "PSS signature does not verify"
                );
            }
            "rsa-oaep-decrypt" => {
                let ct = oaep_ciphertext(&*keys.rsa_public, msg)?;
                let pt = check.decrypt(&oaep(), keys.rsa_priv, &ct)?;
                ensure!(pt == msg, "OAEP decrypt gave the wrong plaintext");
            }
            "aes-gcm" | "aes-cbc-pad" => self.check_aes(id, check, provider)?,
            "hmac" => {
                let tag = check.sign(&Mechanism::Sha256Hmac, keys.hmac, kib)?;
                ensure!(
                    provider.verify_hmac(HashAlg::Sha256, &hmac_key(), kib, &tag)?,
                    "HMAC tag is wrong"
                );
            }
            "gen-ec" | "gen-aes" | "gen-rsa" => {} // checked on the first key made
            "find-small" | "create-destroy" => self.check_objects(id, check)?,
            other => bail!("no check for case {other}"),
        }
        Ok(())
    }

    /// The AES cases: the module's ciphertext decrypted by the provider.
    fn check_aes(&self, id: &str, check: &Session, provider: &dyn CryptoProvider) -> Result<()> {
        let four_kib = &self.four_kib[..];
        let key = || provider.load(&KeyMaterial::Aes(SecretBytes::new(aes_key(u64::MAX))));
        if id == "aes-gcm" {
            let mut iv = gcm_iv(99, 0);
            let ct = check.encrypt(
                &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into())?),
                self.keys.aes,
                four_kib,
            )?;
            let pt = key()?.decrypt(
                &CipherAlgorithm::AesGcm {
                    key_bits: None,
                    iv: Some(iv.to_vec()),
                    aad: vec![],
                    tag_len: 16,
                },
                &ct,
            )?;
            ensure!(pt.expose_secret() == four_kib, "GCM ciphertext is wrong");
        } else {
            let ct = check.encrypt(&Mechanism::AesCbcPad(CBC_IV), self.keys.aes, four_kib)?;
            ensure!(ct.len() == 4096 + 16, "CBC-PAD length {}", ct.len());
            let pt = key()?.decrypt(
                &CipherAlgorithm::AesCbc {
                    key_bits: None,
                    iv: CBC_IV,
                    padding: true,
                },
                &ct,
            )?;
            ensure!(
                pt.expose_secret() == four_kib,
                "CBC-PAD ciphertext is wrong"
            );
        }
        Ok(())
    }

    /// The object cases: a filler found by label; an object created, found, destroyed.
    fn check_objects(&self, id: &str, check: &Session) -> Result<()> {
        if id == "find-small" {
            let label = object_label(self.objects / 2);
            let found = find_one(check, &label)?;
            ensure!(found.len() == 1, "{} objects labelled {label}", found.len());
            let got = attr_bytes(check, found[0], AttributeType::Label)?;
            ensure!(got == label.as_bytes(), "found the wrong object");
        } else {
            let label = fresh_label("cd", 99);
            let h = check.create_object(&aes_template(&label, &aes_key(1)))?;
            ensure!(
                find_one(check, &label)?.len() == 1,
                "created object not found"
            );
            check.destroy_object(h)?;
            ensure!(
                find_one(check, &label)?.is_empty(),
                "destroyed object found"
            );
        }
        Ok(())
    }

    /// Ops/s of case `id` on `t` threads for `dur` (`check` makes the signatures and
    /// ciphertexts the verify and decrypt cases take).
    fn ops_per_sec(&self, id: &str, check: &Session, t: usize, dur: Duration) -> Result<f64> {
        let (m, keys) = (self.m, &self.keys);
        let (msg, digest) = (&self.msg[..], &self.digest[..]);
        let (kib, four_kib) = (&self.kib[..], &self.four_kib[..]);
        match id {
            "session" => measure_each(m, t, dur, |_: &Session| {
                m.ctx.open_rw_session(m.slot)?.close()
            }),
            "call" => measure_each(m, t, dur, |s: &Session| s.get_session_info()),
            "random" => measure(m, t, dur, |_| {
                let mut buf = [0u8; 32];
                move |s: &Session| {
                    s.generate_random_slice(&mut buf)?;
                    Ok(vec![])
                }
            }),
            "sha256" => measure_each(m, t, dur, |s: &Session| s.digest(&Mechanism::Sha256, kib)),
            "ecdsa-sign" => measure_each(m, t, dur, |s: &Session| {
                s.sign(&Mechanism::Ecdsa, keys.ec_priv, digest)
            }),
            "ecdsa-verify" => {
                let sig = check.sign(&Mechanism::Ecdsa, keys.ec_priv, digest)?;
                measure_each(m, t, dur, |s: &Session| {
                    s.verify(&Mechanism::Ecdsa, keys.ec_pub, digest, &sig)
                })
            }
            "rsa-pkcs1-sign" => measure_each(m, t, dur, |s: &Session| {
                s.sign(&Mechanism::Sha256RsaPkcs, keys.rsa_priv, msg)
            }),
            "rsa-pss-sign" => {
                measure_each(m, t, dur, |s: &Session| s.sign(&pss(), keys.rsa_priv, msg))
            }
            "rsa-verify" => {
                let sig = check.sign(&Mechanism::Sha256RsaPkcs, keys.rsa_priv, msg)?;
                measure_each(m, t, dur, |s: &Session| {
                    s.verify(&Mechanism::Sha256RsaPkcs, keys.rsa_pub, msg, &sig)
                })
            }
            "rsa-oaep-decrypt" => {
                let ct = oaep_ciphertext(&*keys.rsa_public, msg)?;
                measure_each(m, t, dur, |s: &Session| {
                    s.decrypt(&oaep(), keys.rsa_priv, &ct)
                })
            }
            "aes-gcm" => measure(m, t, dur, |thread| {
                let mut n = 0u64;
                move |s: &Session| {
                    n += 1;
                    let mut iv = gcm_iv(thread, n);
                    let p = GcmParams::new(&mut iv, &[], 128.into())?;
                    s.encrypt(&Mechanism::AesGcm(p), keys.aes, four_kib)?;
                    Ok(vec![])
                }
            }),
            "aes-cbc-pad" => measure_each(m, t, dur, |s: &Session| {
                s.encrypt(&Mechanism::AesCbcPad(CBC_IV), keys.aes, four_kib)
            }),
            "hmac" => measure_each(m, t, dur, |s: &Session| {
                s.sign(&Mechanism::Sha256Hmac, keys.hmac, kib)
            }),
            "gen-ec" => measure(m, t, dur, |thread| {
                gen_pair(thread, "gen-ec", Mechanism::EccKeyPairGen, digest)
            }),
            "gen-aes" => measure(m, t, dur, |thread| gen_aes(thread, kib)),
            "gen-rsa" => measure(m, t, dur, |thread| {
                gen_pair(thread, "gen-rsa", Mechanism::RsaPkcsKeyPairGen, msg)
            }),
            "find-small" => {
                let label = object_label(self.objects / 2);
                measure(m, t, dur, |_| find_op(label.clone()))
            }
            "create-destroy" => measure(m, t, dur, |thread| {
                move |s: &Session| {
                    let h =
                        s.create_object(&aes_template(&fresh_label("cd", thread), &aes_key(2)))?;
                    s.destroy_object(h)?;
                    Ok(vec![])
                }
            }),
            other => bail!("no measurement for case {other}"),
        }
    }
}

/// One AES-256 key generation per call (token keys, destroyed after the window); the first
/// key encrypts and decrypts `input` once, so a broken generator cannot look fast.
fn gen_aes(thread: usize, input: &[u8]) -> impl FnMut(&Session) -> Result<Vec<ObjectHandle>> + '_ {
    let mut first = true;
    move |s: &Session| {
        let h = s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::ValueLen(32.into()),
                Attribute::Label(fresh_label("gen-aes", thread).into_bytes()),
            ],
        )?;
        if std::mem::take(&mut first) {
            let ct = s.encrypt(&Mechanism::AesCbcPad(CBC_IV), h, input)?;
            let pt = s.decrypt(&Mechanism::AesCbcPad(CBC_IV), h, &ct)?;
            ensure!(pt == input, "generated AES key does not round-trip");
        }
        Ok(vec![h])
    }
}

fn find_op(label: String) -> impl FnMut(&Session) -> Result<Vec<ObjectHandle>> {
    let template = [Attribute::Label(label.into_bytes())];
    move |s: &Session| {
        let found = s.find_objects(&template)?;
        ensure!(found.len() == 1, "found {} objects", found.len());
        Ok(vec![])
    }
}

fn oaep_ciphertext(public: &dyn LoadedKey, msg: &[u8]) -> Result<Vec<u8>> {
    let alg = CipherAlgorithm::RsaOaep {
        hash: HashAlg::Sha1,
        mgf1: HashAlg::Sha1,
        label: vec![],
    };
    Ok(public.encrypt(&alg, msg)?.data)
}

/// `big` phase: the store holds `objects` keys. Resident memory before and after
/// `C_Initialize`, its time, and the find among them.
pub fn run_big(lib: &str, objects: usize, dur: Duration, threads: &[usize]) -> Result<()> {
    let (m, init) = open(lib)?;
    emit_info("init_secs", init.as_secs_f64());
    emit_info("rss_init_kib", vm_rss_kib()? as f64);
    let label = object_label(objects / 2);
    let s = m.ctx.open_rw_session(m.slot)?;
    let start = Instant::now();
    let found = find_one(&s, &label)?;
    emit_info("first_find_secs", start.elapsed().as_secs_f64());
    ensure!(found.len() == 1, "{} objects labelled {label}", found.len());
    ensure!(
        attr_bytes(&s, found[0], AttributeType::Label)? == label.as_bytes(),
        "found the wrong object"
    );
    for &t in threads {
        let r = measure(&m, t, dur, |_| find_op(label.clone()))?;
        emit("find-big", t, r);
    }
    emit_info("rss_found_kib", vm_rss_kib()? as f64);
    Ok(())
}

/// `probe` phase: does `C_Initialize` succeed in this environment? (Tells whether the module
/// reads `MHSM_CRYPTO_PROVIDER`: a module that does refuses an unknown provider.)
pub fn probe(lib: &str) -> Result<()> {
    let ctx = Pkcs11::new(lib).with_context(|| format!("load {lib}"))?;
    let ok = ctx
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .is_ok();
    emit_info("init_ok", ok);
    if ok {
        let info = ctx.get_library_info()?;
        emit_info(
            "library",
            format!(
                "{} {}",
                info.library_description().trim_end(),
                info.library_version()
            ),
        );
    }
    Ok(())
}
