//! p11bench: mhsm's PKCS#11 module beside its peers, SoftHSMv2 and kryoptic, through the same
//! `cryptoki` client, in one run, with the bare crypto provider as the baseline of the module's
//! overhead.
//!
//! ```text
//! p11bench [--seconds S] [--smoke] [--mhsm-lib PATH] [--softhsm-lib PATH]
//!          [--kryoptic-lib PATH] [--no-kryoptic] [--providers rustcrypto,aws-lc]
//!          [--before-lib PATH] [--out FILE.md] [--results FILE.tsv]
//! ```
//! `--before-lib` adds another build of mhsm's module (columns `mhsm before (...)`), so a
//! change to the module is measured before and after in one run.
//! The parent makes the token stores and runs this same binary as a child per target and
//! phase, so every module (and every mhsm crypto provider) gets a clean process and its own
//! resident-memory figure:
//! - `--module mhsm|softhsm|kryoptic --lib PATH --phase setup|cases|big|probe --objects N
//!   --seconds S`
//! - `--fill-core DIR N`: an mhsm data directory with the pool `bench`, its user PIN and N AES
//!   keys, made with the core (much faster than through the module: no PKCS#11 round trip).
//!
//! `P11BENCH_CASES=aes-gcm,ecdsa-sign` limits a run to those cases (ids in `Case::ALL`).
//!
//! An mhsm child also measures the bare provider (the same operations on hsm-core's provider
//! directly), in rounds taken in turn with the module's: on a shared, noisy machine a
//! baseline measured in another process seconds later drifts by ±15%, as much as the
//! overhead it is there to show.
//!
//! Children print `R case threads ops/s`, `B case threads ops/s` (bare) and `I key value`
//! lines; any error ends the child with a non-zero status, and the parent stops with it: an
//! error is never a number.

mod bare;
mod p11;
mod parent;
mod report;
mod table;
mod targets;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hsm_core::crypto::{CryptoProvider, HashAlg, KeyMaterial};
use hsm_core::key::KeyOptions;
use hsm_core::names::Tags;
use hsm_core::pin::PinRole;
use hsm_core::{Hsm, HsmConfig, PoolSettings, SecretBytes};

use report::emit_info;

/// The label of the token (mhsm: the pool) every target uses.
pub const TOKEN_LABEL: &str = "bench";
/// The user PIN.
pub const USER_PIN: &str = "123456";
/// The SO PIN.
pub const SO_PIN: &str = "12345678";
/// Thread counts; one session per thread.
const THREADS: [usize; 2] = [1, 2];

/// One benchmark case.
pub struct Case {
    /// Its id in the children's output.
    pub id: &'static str,
    /// Its row label (`{small}` and `{big}` are the object counts).
    pub label: &'static str,
    /// Whether the bare provider has it.
    pub bare: bool,
}

impl Case {
    /// Every case, in table order.
    pub const ALL: &'static [Case] = &[
        Case::new("session", "session open+close", false),
        Case::new("call", "one call (C_GetSessionInfo)", false),
        Case::new("random", "random 32 bytes", true),
        Case::new("sha256", "SHA-256 of 1 KiB", true),
        Case::new(
            "ecdsa-sign",
            "ECDSA P-256 sign (CKM_ECDSA on a 32-byte digest)",
            true,
        ),
        Case::new("ecdsa-verify", "ECDSA P-256 verify (CKM_ECDSA)", true),
        Case::new(
            "rsa-pkcs1-sign",
            "RSA-2048 PKCS#1 v1.5 sign (CKM_SHA256_RSA_PKCS, 32 B)",
            true,
        ),
        Case::new(
            "rsa-pss-sign",
            "RSA-2048 PSS sign (CKM_SHA256_RSA_PKCS_PSS, salt 32)",
            true,
        ),
        Case::new(
            "rsa-verify",
            "RSA-2048 PKCS#1 v1.5 verify (CKM_SHA256_RSA_PKCS)",
            true,
        ),
        Case::new(
            "rsa-oaep-decrypt",
            "RSA-2048 OAEP decrypt (SHA-1, MGF1-SHA-1)",
            true,
        ),
        Case::new("aes-gcm", "AES-256-GCM encrypt 4 KiB", true),
        Case::new("aes-cbc-pad", "AES-256-CBC-PAD encrypt 4 KiB", true),
        Case::new("hmac", "HMAC-SHA256 of 1 KiB (generic secret)", true),
        Case::new("gen-ec", "generate EC P-256 key pair (token)", true),
        Case::new("gen-aes", "generate AES-256 key (token)", true),
        Case::new("gen-rsa", "generate RSA-2048 key pair (token)", true),
        Case::new("find-small", "find by label among {small} keys", false),
        Case::new("find-big", "find by label among {big} keys", false),
        Case::new(
            "create-destroy",
            "token object create+destroy (AES key)",
            false,
        ),
    ];

    const fn new(id: &'static str, label: &'static str, bare: bool) -> Case {
        Case { id, label, bare }
    }

    /// The cases this run measures: all, or those named in `P11BENCH_CASES` (comma-separated
    /// ids, for profiling one case; children inherit it).
    pub fn selected() -> impl Iterator<Item = &'static Case> {
        let only = std::env::var("P11BENCH_CASES").ok();
        Case::ALL.iter().filter(move |c| {
            only.as_deref()
                .is_none_or(|list| list.split(',').any(|id| id.trim() == c.id))
        })
    }

    /// Whether this run measures the case `id`.
    pub fn is_selected(id: &str) -> bool {
        Case::selected().any(|c| c.id == id)
    }
}

/// The label of the i-th filler object.
pub fn object_label(i: usize) -> String {
    format!("obj-{i:06}")
}

/// A deterministic 32-byte AES key (filler keys need not be secret; the checks need to know
/// the case key).
pub fn aes_key(i: u64) -> Vec<u8> {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    (0..4)
        .flat_map(|_| {
            // splitmix64
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)).to_be_bytes()
        })
        .collect()
}

/// The HMAC case's key.
pub fn hmac_key() -> [u8; 32] {
    [0x42; 32]
}

/// `len` bytes of input.
pub fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 1) as u8).collect()
}

/// SHA-256 with the provider.
pub fn digest(p: &dyn CryptoProvider, data: &[u8]) -> Vec<u8> {
    let mut h = p.hasher(HashAlg::Sha256);
    h.update(data);
    h.finish()
}

/// Command-line options.
struct Args(Vec<String>);

impl Args {
    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
    fn value(&self, name: &str) -> Option<&str> {
        let i = self.0.iter().position(|a| a == name)?;
        self.0.get(i + 1).map(String::as_str)
    }
    fn need(&self, name: &str) -> Result<&str> {
        self.value(name)
            .with_context(|| format!("{name} is required"))
    }
    fn seconds(&self) -> Result<Duration> {
        let s: f64 = self.value("--seconds").unwrap_or("2").parse()?;
        Ok(Duration::from_secs_f64(s))
    }
}

fn main() {
    let args = Args(std::env::args().skip(1).collect());
    if let Err(e) = run(&args) {
        eprintln!("p11bench: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<()> {
    if let Some(kind) = args.value("--module") {
        let lib = args.need("--lib")?;
        let objects: usize = args.value("--objects").unwrap_or("0").parse()?;
        return match args.need("--phase")? {
            "setup" => p11::setup_token(lib, objects),
            "cases" => p11::run_cases(lib, objects, args.seconds()?, &THREADS, kind == "mhsm"),
            "big" => p11::run_big(lib, objects, args.seconds()?, &THREADS),
            "probe" => p11::probe(lib),
            other => bail!("unknown phase {other}"),
        };
    }
    if let Some(dir) = args.value("--fill-core") {
        let n: usize = args.need(dir)?.parse().context("--fill-core DIR N")?;
        return fill_core(Path::new(dir), n);
    }
    if args.flag("--help") || args.flag("-h") {
        println!("{}", USAGE);
        return Ok(());
    }
    parent::run(args)
}

const USAGE: &str = "usage: p11bench [--seconds S] [--smoke] [--objects N] [--store-dir DIR] \
[--mhsm-lib PATH] [--softhsm-lib PATH] [--kryoptic-lib PATH] [--no-kryoptic] \
[--providers rustcrypto,aws-lc] [--before-lib PATH] [--out FILE.md] [--results FILE.tsv]";

/// `--fill-core DIR N`: the pool `bench` with its user PIN and N AES keys, through the core.
fn fill_core(dir: &Path, n: usize) -> Result<()> {
    let hsm = Hsm::open(HsmConfig::new(dir))?;
    hsm.create_pool(TOKEN_LABEL, PoolSettings::default(), Tags::new())?;
    let pool = hsm.pool(TOKEN_LABEL)?;
    pool.set_pin(PinRole::User, USER_PIN.as_bytes())?;
    let start = Instant::now();
    for i in 0..n {
        let material = KeyMaterial::Aes(SecretBytes::new(aes_key(i as u64)));
        pool.import_key(&object_label(i), material, &KeyOptions::default())?;
    }
    emit_info("fill_secs", start.elapsed().as_secs_f64());
    Ok(())
}

/// Runs `thread(t, start)` on `threads` threads; each does its untimed setup, calls
/// `start()` (all threads start together), and returns how many operations it did in how
/// long. Ops/s: the total over the slowest thread's time.
pub fn on_threads<F>(threads: usize, thread: F) -> Result<f64>
where
    F: Fn(usize, &dyn Fn()) -> Result<(u64, Duration)> + Sync,
{
    let barrier = std::sync::Barrier::new(threads);
    let results: Vec<Result<(u64, Duration)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (thread, barrier) = (&thread, &barrier);
                scope.spawn(move || {
                    thread(t, &|| {
                        barrier.wait();
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a bench thread panicked"))
            .collect()
    });
    let mut total = 0u64;
    let mut slowest = Duration::ZERO;
    for r in results {
        let (n, e) = r?;
        total += n;
        slowest = slowest.max(e);
    }
    Ok(total as f64 / slowest.as_secs_f64())
}

/// Calls `op` until `dur` has passed: (calls, time taken).
pub fn timed_loop(dur: Duration, mut op: impl FnMut() -> Result<()>) -> Result<(u64, Duration)> {
    let mut n = 0u64;
    let start = Instant::now();
    loop {
        op()?;
        n += 1;
        let e = start.elapsed();
        if e >= dur {
            return Ok((n, e));
        }
    }
}

/// Rounds of a case measured beside the bare provider: each side runs `dur / ROUNDS` per
/// round, the module first, and reports the median of its rounds.
const ROUNDS: u32 = 5;

/// Ops/s of `a` and of `b` (the medians of [`ROUNDS`] rounds, each side `dur / ROUNDS` per
/// round, taken in turn).
pub fn in_turn(
    dur: Duration,
    a: impl Fn(Duration) -> Result<f64>,
    b: impl Fn(Duration) -> Result<f64>,
) -> Result<(f64, f64)> {
    let slice = dur / ROUNDS;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        xs.push(a(slice)?);
        ys.push(b(slice)?);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok((median(xs), median(ys)))
}
