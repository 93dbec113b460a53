//! Shared setup of the core's behaviour suites: every suite runs on every storage engine with
//! every crypto provider built in.
#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use hsm_core::crypto::{Curve, KeyMaterial, KeySpec};
use hsm_core::key::KeyOptions;
use hsm_core::names::Tags;
use hsm_core::root::RootKeySource;
use hsm_core::time::{ManualClock, UnixTime};
use hsm_core::{Hsm, HsmConfig, Pool, PoolSettings, SecretBytes};

/// Noon, 1 January 2026.
pub const START: UnixTime = UnixTime(1_767_268_800);

/// One HSM under test with its clock (and its directory, for engines on disk).
pub struct Env {
    pub engine: &'static str,
    pub provider: &'static str,
    pub hsm: Hsm,
    pub clock: ManualClock,
    pub dir: Option<tempfile::TempDir>,
}

impl Env {
    /// The pool `p1` (created by [`envs`]).
    pub fn pool(&self) -> Pool {
        self.hsm.pool("pool1").unwrap()
    }

    /// The clock's current time.
    pub fn clock_now(&self) -> UnixTime {
        use hsm_core::time::Clock;
        self.clock.now()
    }

    /// Closes and reopens the HSM (on disk), as a new process would.
    pub fn reopen(&mut self) {
        if let Some(dir) = &self.dir {
            let placeholder = Hsm::open(HsmConfig::in_memory()).unwrap();
            drop(std::mem::replace(&mut self.hsm, placeholder));
            self.hsm = open_dir_with(dir.path(), &self.clock, self.provider);
        }
    }
}

pub fn open_dir(dir: &Path, clock: &ManualClock) -> Hsm {
    Hsm::open(HsmConfig::new(dir).clock(Arc::new(clock.clone()))).unwrap()
}

/// Opens a data directory with the named crypto provider.
pub fn open_dir_with(dir: &Path, clock: &ManualClock, provider: &str) -> Hsm {
    let provider = hsm_core::crypto::provider_by_name(provider).unwrap();
    Hsm::open(
        HsmConfig::new(dir)
            .clock(Arc::new(clock.clone()))
            .provider(provider),
    )
    .unwrap()
}

/// Every crypto provider built in, the default first.
pub fn providers() -> Vec<&'static str> {
    hsm_core::crypto::provider_names().to_vec()
}

/// A fresh HSM per crypto provider (the default first) and storage engine (memory, then
/// sled), each with pool `p1` (default settings): `[0]` is memory and `[1]` sled, both with
/// the default provider, and the last is sled.
pub fn envs() -> Vec<Env> {
    let cases: Vec<_> = providers()
        .into_iter()
        .flat_map(|p| [("memory", p), ("sled", p)])
        .collect();
    envs_of(&cases)
}

/// One HSM in memory per crypto provider (the suites that test crypto, not storage).
pub fn provider_envs() -> Vec<Env> {
    let cases: Vec<_> = providers().into_iter().map(|p| ("memory", p)).collect();
    envs_of(&cases)
}

fn envs_of(cases: &[(&'static str, &'static str)]) -> Vec<Env> {
    let mut out = Vec::new();
    for &(engine, provider) in cases {
        let clock = ManualClock::new(START);
        let (hsm, dir) = if engine == "memory" {
            let cfg = HsmConfig::in_memory()
                .clock(Arc::new(clock.clone()))
                .provider(hsm_core::crypto::provider_by_name(provider).unwrap())
                .root_key(RootKeySource::Bytes(SecretBytes::from_slice(&[7; 32])));
            (Hsm::open(cfg).unwrap(), None)
        } else {
            let dir = tempfile::tempdir().unwrap();
            (open_dir_with(dir.path(), &clock, provider), Some(dir))
        };
        hsm.create_pool("pool1", PoolSettings::default(), Tags::new())
            .unwrap();
        out.push(Env {
            engine,
            provider,
            hsm,
            clock,
            dir,
        });
    }
    out
}

/// Options with everything allowed that the kind supports, for operation tests.
pub fn opts() -> KeyOptions {
    KeyOptions::default()
}

/// An RSA-2048 key's material, generated once per test binary (generation is slow).
pub fn rsa2048() -> KeyMaterial {
    static KEY: OnceLock<SecretBytes> = OnceLock::new();
    let enc = KEY.get_or_init(|| {
        hsm_core::crypto::default_provider()
            .generate(KeySpec::Rsa { bits: 2048 })
            .unwrap()
            .encode()
    });
    KeyMaterial::decode(enc.expose_secret()).unwrap()
}

/// Known EC material for `curve` (a fixed scalar).
pub fn ec_material(curve: Curve) -> KeyMaterial {
    let mut d = vec![0u8; curve.field_len()];
    d[curve.field_len() - 1] = 0x2a;
    d[curve.field_len() - 5] = 0x11;
    KeyMaterial::Ec {
        curve,
        d: SecretBytes::new(d),
    }
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Arc<dyn hsm_core::crypto::CryptoProvider>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `test` once per crypto provider built in; [`current_provider`] is that provider.
pub fn each_provider(test: fn()) {
    for provider in hsm_core::crypto::all_providers() {
        eprintln!("--- provider {}", provider.name());
        CURRENT.with(|c| *c.borrow_mut() = Some(provider));
        test();
    }
    CURRENT.with(|c| *c.borrow_mut() = None);
}

/// The provider [`each_provider`] is running, else the default.
pub fn current_provider() -> Arc<dyn hsm_core::crypto::CryptoProvider> {
    CURRENT
        .with(|c| c.borrow().clone())
        .unwrap_or_else(hsm_core::crypto::default_provider)
}
