//! Shared setup of the core's behaviour suites: every suite runs on every storage engine.
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
            self.hsm = open_dir(dir.path(), &self.clock);
        }
    }
}

pub fn open_dir(dir: &Path, clock: &ManualClock) -> Hsm {
    Hsm::open(HsmConfig::new(dir).clock(Arc::new(clock.clone()))).unwrap()
}

/// A fresh HSM per storage engine (memory, sled), each with pool `p1` (default settings).
pub fn envs() -> Vec<Env> {
    let mut out = Vec::new();
    for engine in ["memory", "sled"] {
        let clock = ManualClock::new(START);
        let (hsm, dir) = if engine == "memory" {
            let cfg = HsmConfig::in_memory()
                .clock(Arc::new(clock.clone()))
                .root_key(RootKeySource::Bytes(SecretBytes::from_slice(&[7; 32])));
            (Hsm::open(cfg).unwrap(), None)
        } else {
            let dir = tempfile::tempdir().unwrap();
            (open_dir(dir.path(), &clock), Some(dir))
        };
        hsm.create_pool("pool1", PoolSettings::default(), Tags::new())
            .unwrap();
        out.push(Env {
            engine,
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
