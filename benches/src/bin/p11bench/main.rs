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
//! - `--bare --seconds S`: the same operations on hsm-core's provider directly;
//! - `--fill-core DIR N`: an mhsm data directory with the pool `bench`, its user PIN and N AES
//!   keys, made with the core (much faster than through the module: no PKCS#11 round trip).
//!
//! `P11BENCH_CASES=aes-gcm,ecdsa-sign` limits a run to those cases (ids in `Case::ALL`).
//!
//! Children print `R case threads ops/s` and `I key value` lines; any error ends the child
//! with a non-zero status, and the parent stops with it: an error is never a number.

mod bare;
mod p11;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hsm_core::crypto::{CryptoProvider, HashAlg, KeyMaterial};
use hsm_core::key::KeyOptions;
use hsm_core::names::Tags;
use hsm_core::pin::PinRole;
use hsm_core::{Hsm, HsmConfig, PoolSettings, SecretBytes};

use report::{ChildOutput, emit_info, ops, ratio};

/// The label of the token (mhsm: the pool) every target uses.
pub const TOKEN_LABEL: &str = "bench";
/// The user PIN.
pub const USER_PIN: &str = "123456";
/// The SO PIN.
pub const SO_PIN: &str = "12345678";
/// Thread counts; one session per thread.
const THREADS: [usize; 2] = [1, 2];
const SOFTHSM_LIB: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Where `scripts/build-kryoptic` leaves kryoptic, under the target directory.
const KRYOPTIC_LIB: &str = "kryoptic/libkryoptic_pkcs11.so";
/// The most objects the runner stores in kryoptic through `C_CreateObject` (each call scans
/// its store).
const KRYOPTIC_BIG_MAX: usize = 10_000;

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
        let _ = kind;
        return match args.need("--phase")? {
            "setup" => p11::setup_token(lib, objects),
            "cases" => p11::run_cases(lib, objects, args.seconds()?, &THREADS),
            "big" => p11::run_big(lib, objects, args.seconds()?, &THREADS),
            "probe" => p11::probe(lib),
            other => bail!("unknown phase {other}"),
        };
    }
    if args.flag("--bare") {
        return bare::run(args.seconds()?, &THREADS);
    }
    if let Some(dir) = args.value("--fill-core") {
        let n: usize = args.need(dir)?.parse().context("--fill-core DIR N")?;
        return fill_core(Path::new(dir), n);
    }
    if args.flag("--help") || args.flag("-h") {
        println!("{}", USAGE);
        return Ok(());
    }
    parent(args)
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

/// One module the parent measures.
struct Target {
    /// Column name: `mhsm (rustcrypto)`, `SoftHSMv2`, `kryoptic`.
    name: String,
    /// `mhsm`, or a peer: `softhsm`, `kryoptic`.
    kind: &'static str,
    lib: PathBuf,
    /// `MHSM_CRYPTO_PROVIDER` (None: unset).
    provider: Option<String>,
}

/// Runs this binary as a child; its stdout parsed, its stderr passed through.
fn child(args: &[&str], env: &[(&str, Option<&str>)]) -> Result<ChildOutput> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(&exe);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().context("run a p11bench child")?;
    let parsed = ChildOutput::parse(&String::from_utf8_lossy(&out.stdout))?;
    ensure!(
        out.status.success(),
        "child `p11bench {}` failed ({})",
        args.join(" "),
        out.status
    );
    Ok(parsed)
}

/// The environment of an mhsm child: its data directory, its provider, nothing inherited
/// that would change the module's mode.
fn mhsm_env<'a>(dir: &'a str, provider: Option<&'a str>) -> Vec<(&'static str, Option<&'a str>)> {
    vec![
        ("MHSM_DATA_DIR", Some(dir)),
        ("MHSM_CRYPTO_PROVIDER", provider),
        ("MHSM_PKCS11_CONFIG", None),
        ("MHSM_URL", None),
        ("MHSM_TOKEN", None),
        ("MHSM_TOKEN_FILE", None),
        ("MHSM_LOG", None),
    ]
}

/// A peer's configuration for a blank token under `dir`: the variable that names it and its
/// path. The setup phase then initializes the token and the user PIN through PKCS#11.
fn peer_conf(kind: &str, dir: &Path) -> Result<(&'static str, PathBuf)> {
    match kind {
        "softhsm" => Ok(("SOFTHSM2_CONF", softhsm_conf(dir)?)),
        "kryoptic" => Ok(("KRYOPTIC_CONF", kryoptic_conf(dir)?)),
        other => bail!("no configuration for {other}"),
    }
}

/// The variable that names a peer's configuration.
fn conf_var(kind: &str) -> &'static str {
    match kind {
        "kryoptic" => "KRYOPTIC_CONF",
        _ => "SOFTHSM2_CONF",
    }
}

/// A kryoptic configuration: one slot over an SQLite database not yet created (a blank
/// token, for `C_InitToken`).
fn kryoptic_conf(dir: &Path) -> Result<PathBuf> {
    let db = dir.join("token.sql");
    let _ = std::fs::remove_file(&db);
    let conf = dir.join("kryoptic.conf");
    let db = db.to_str().context("utf-8 path")?;
    ensure!(!db.contains(['"', '\\']), "kryoptic token path {db}");
    std::fs::write(
        &conf,
        format!("[[slots]]\nslot = 1\ndbtype = \"sqlite\"\ndbargs = \"{db}\"\n"),
    )?;
    Ok(conf)
}

/// kryoptic: `--kryoptic-lib`, else where `scripts/build-kryoptic` leaves it (the target
/// directory this binary is in). None: `--no-kryoptic`.
fn kryoptic_lib(args: &Args) -> Result<Option<PathBuf>> {
    if args.flag("--no-kryoptic") {
        return Ok(None);
    }
    if let Some(p) = args.value("--kryoptic-lib") {
        return Ok(Some(PathBuf::from(p)));
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/p11bench → target/kryoptic/...
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("the target directory")?;
    Ok(Some(target.join(KRYOPTIC_LIB)))
}

/// A SoftHSMv2 configuration with an empty token directory under `dir`.
fn softhsm_conf(dir: &Path) -> Result<PathBuf> {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens)?;
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )?;
    Ok(conf)
}

/// The built module: `--mhsm-lib`, `MHSM_PKCS11_MODULE`, or next to this binary.
fn mhsm_lib(args: &Args) -> Result<PathBuf> {
    if let Some(p) = args
        .value("--mhsm-lib")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("MHSM_PKCS11_MODULE").map(PathBuf::from))
    {
        return Ok(p);
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("exe dir")?;
    [
        dir.join("libmhsm_pkcs11.so"),
        dir.join("deps/libmhsm_pkcs11.so"),
    ]
    .into_iter()
    // The newest: a dependency build refreshes only deps/, leaving an old copy beside.
    .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
    .max()
    .map(|(_, p)| p)
    .with_context(|| {
        format!(
            "libmhsm_pkcs11.so not found near {} (build it: cargo build --release -p pkcs11-module, or pass --mhsm-lib)",
            exe.display()
        )
    })
}

/// Installs SoftHSMv2 with apt-get when `lib` is missing.
fn ensure_softhsm(lib: &Path) -> Result<()> {
    if lib.is_file() {
        return Ok(());
    }
    eprintln!("p11bench: {} missing: installing softhsm2", lib.display());
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        let status = cmd
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .context("run apt-get")?;
        ensure!(status.success(), "apt-get {} failed", args.join(" "));
        Ok(())
    };
    apt(&["update", "-qq"])?;
    apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "softhsm2",
    ])?;
    ensure!(
        lib.is_file(),
        "softhsm2 installed but {} is missing",
        lib.display()
    );
    Ok(())
}

/// The mhsm providers to run: `--providers`, else both when the module reads
/// `MHSM_CRYPTO_PROVIDER` (it then refuses an unknown one), else the one it has.
fn providers(args: &Args, lib: &Path, work: &Path) -> Result<Vec<Option<String>>> {
    if let Some(list) = args.value("--providers") {
        return Ok(list
            .split(',')
            .map(|p| Some(p.trim().to_string()))
            .collect());
    }
    let dir = work.join("probe");
    std::fs::create_dir_all(&dir)?;
    let d = dir.to_str().context("utf-8 path")?;
    let out = child(
        &[
            "--module",
            "mhsm",
            "--lib",
            lib.to_str().context("utf-8 path")?,
            "--phase",
            "probe",
        ],
        &mhsm_env(d, Some("no-such-provider")),
    )?;
    if out.info.get("init_ok").map(String::as_str) == Some("false") {
        Ok(vec![Some("rustcrypto".into()), Some("aws-lc".into())])
    } else {
        eprintln!(
            "p11bench: the module ignores MHSM_CRYPTO_PROVIDER: one mhsm column, labelled default"
        );
        Ok(vec![None])
    }
}

/// All measurements of one run.
#[derive(Default)]
struct Run {
    /// target name → (case, threads) → ops/s.
    results: BTreeMap<String, BTreeMap<(String, usize), f64>>,
    /// Lines under the table.
    notes: Vec<String>,
}

fn parent(args: &Args) -> Result<()> {
    let started = Instant::now();
    let mut run = Run::default();
    let smoke = args.flag("--smoke");
    let seconds = match args.value("--seconds") {
        Some(s) => s.to_string(),
        None if smoke => "0.05".into(),
        None => "2".into(),
    };
    let (small, big) = if smoke {
        (100, 1_000)
    } else {
        (1_000, 100_000)
    };
    let big: usize = match args.value("--objects") {
        Some(n) => n.parse().context("--objects N")?,
        None => big,
    };
    // Token stores on tmpfs by default: this measures the modules, not the machine's disk
    // (SoftHSMv2's file store creates an object in ~3 ms on tmpfs, ~100 ms on this VM's disk).
    let store_root = match args.value("--store-dir") {
        Some(d) => PathBuf::from(d),
        None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
        None => std::env::temp_dir(),
    };
    let work = tempfile::Builder::new()
        .prefix("p11bench-")
        .tempdir_in(&store_root)
        .with_context(|| format!("a directory in {}", store_root.display()))?;
    run.notes.push(format!(
        "Token stores (mhsm's data directory, SoftHSMv2's token directory, kryoptic's database) in {}.",
        store_root.display()
    ));
    let mhsm = mhsm_lib(args)?;
    let softhsm = PathBuf::from(args.value("--softhsm-lib").unwrap_or(SOFTHSM_LIB));
    let mut targets = Vec::new();
    let providers = providers(args, &mhsm, work.path())?;
    let before = args.value("--before-lib").map(PathBuf::from);
    for p in &providers {
        let provider = p.as_deref().unwrap_or("default");
        if let Some(lib) = &before {
            targets.push(Target {
                name: format!("mhsm before ({provider})"),
                kind: "mhsm",
                lib: lib.clone(),
                provider: p.clone(),
            });
        }
        targets.push(Target {
            name: format!("mhsm ({provider})"),
            kind: "mhsm",
            lib: mhsm.clone(),
            provider: p.clone(),
        });
    }
    let skip_softhsm = match ensure_softhsm(&softhsm) {
        Ok(()) => false,
        Err(e) if smoke => {
            eprintln!("p11bench: SoftHSMv2 skipped: it is not installed and cannot be: {e:#}");
            run.notes.push(format!(
                "SoftHSMv2 skipped: not installed and cannot be ({e:#})."
            ));
            true
        }
        Err(e) => return Err(e.context("SoftHSMv2 is needed (the smoke mode may skip it)")),
    };
    if !skip_softhsm {
        targets.push(Target {
            name: "SoftHSMv2".into(),
            kind: "softhsm",
            lib: softhsm.clone(),
            provider: None,
        });
    }
    match kryoptic_lib(args)? {
        Some(lib) if lib.is_file() => targets.push(Target {
            name: "kryoptic".into(),
            kind: "kryoptic",
            lib,
            provider: None,
        }),
        Some(lib) => {
            eprintln!(
                "p11bench: kryoptic skipped: {} not found (build it with scripts/build-kryoptic)",
                lib.display()
            );
            run.notes.push(format!(
                "kryoptic skipped: {} not found (`scripts/build-kryoptic` builds it).",
                lib.display()
            ));
        }
        None => run
            .notes
            .push("kryoptic left out (`--no-kryoptic`).".into()),
    }

    let sec = seconds.as_str();
    let mut fills: BTreeMap<&str, f64> = BTreeMap::new();
    let mut big_dirs: BTreeMap<&str, PathBuf> = BTreeMap::new();
    let mut big_lines = Vec::new();
    let mut libs = Vec::new();
    // (target, case) left out on purpose, with a note saying why.
    let mut no_figure: Vec<(String, &str)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        eprintln!("p11bench: {} ...", t.name);
        let lib = t.lib.to_str().context("utf-8 path")?;
        let store = |name: &str, objects: usize| -> Result<(PathBuf, f64)> {
            let dir = work.path().join(format!("{i}-{name}"));
            std::fs::create_dir_all(&dir)?;
            let n = objects.to_string();
            let filled = if t.kind == "mhsm" {
                let d = dir.to_str().context("utf-8 path")?;
                child(&["--fill-core", d, &n], &mhsm_env(d, t.provider.as_deref()))?
            } else {
                let (var, conf) = peer_conf(t.kind, &dir)?;
                let c = conf.to_str().context("utf-8 path")?;
                let out = child(
                    &[
                        "--module",
                        t.kind,
                        "--lib",
                        lib,
                        "--phase",
                        "setup",
                        "--objects",
                        &n,
                    ],
                    &[(var, Some(c))],
                )?;
                return Ok((conf, out.num("fill_secs")?));
            };
            Ok((dir, filled.num("fill_secs")?))
        };
        let env_for = |path: &Path| -> Vec<(&'static str, Option<String>)> {
            let p = path.to_string_lossy().to_string();
            if t.kind == "mhsm" {
                mhsm_env(&p, t.provider.as_deref())
                    .into_iter()
                    .map(|(k, v)| (k, v.map(str::to_string)))
                    .collect()
            } else {
                vec![(conf_var(t.kind), Some(p))]
            }
        };
        let run_child = |args: &[&str], path: &Path| -> Result<ChildOutput> {
            let env = env_for(path);
            let env: Vec<(&str, Option<&str>)> =
                env.iter().map(|(k, v)| (*k, v.as_deref())).collect();
            child(args, &env)
        };

        // The cases over a store of `small` keys.
        let (store_small, _) = store("small", small)?;
        let cases = run_child(
            &[
                "--module",
                t.kind,
                "--lib",
                lib,
                "--phase",
                "cases",
                "--objects",
                &small.to_string(),
                "--seconds",
                sec,
            ],
            &store_small,
        )?;
        if let Some(l) = cases.info.get("library") {
            libs.push(format!("{}: {l}", t.name));
        }
        let entry = run.results.entry(t.name.clone()).or_default();
        entry.extend(cases.results);

        if !Case::is_selected("find-big") {
            continue;
        }
        if t.kind == "kryoptic" && big > KRYOPTIC_BIG_MAX {
            // Its C_CreateObject scans the store: 3,000 objects take ~14 s here, and the time
            // grows with the square of the count (100,000: hours).
            eprintln!(
                "p11bench: kryoptic: the store of {big} objects skipped (its fill grows with the square of the count)"
            );
            run.notes.push(format!(
                "kryoptic has no figure with {} keys stored: each of its `C_CreateObject` calls \
                 scans its SQLite store (3,000 objects take ~14 s to create here, and the time \
                 grows with the square of the count), so the runner fills it only up to {}.",
                ops(big as f64),
                ops(KRYOPTIC_BIG_MAX as f64)
            ));
            no_figure.push((t.name.clone(), "find-big"));
            continue;
        }
        // The big store: made once per module kind (mhsm's providers share it; nothing in
        // the big phase writes).
        if !big_dirs.contains_key(t.kind) {
            let (dir, secs) = store("big", big)?;
            fills.insert(t.kind, secs);
            big_dirs.insert(t.kind, dir);
        }
        let out = run_child(
            &[
                "--module",
                t.kind,
                "--lib",
                lib,
                "--phase",
                "big",
                "--objects",
                &big.to_string(),
                "--seconds",
                sec,
            ],
            &big_dirs[t.kind],
        )?;
        entry.extend(out.results.clone());
        big_lines.push(format!(
            "- {}: `C_Initialize` {:.1} ms; resident {:.1} MiB after it ({:.1} MiB with the \
             library loaded, {:.1} MiB after the finds); first find {:.2} ms",
            t.name,
            out.num("init_secs")? * 1e3,
            out.num("rss_init_kib")? / 1024.0,
            out.num("rss_loaded_kib")? / 1024.0,
            out.num("rss_found_kib")? / 1024.0,
            out.num("first_find_secs")? * 1e3,
        ));
    }

    // The bare provider, once per mhsm provider.
    let mut bare_names = BTreeMap::new();
    for t in targets.iter().filter(|t| t.kind == "mhsm") {
        let env = [("MHSM_CRYPTO_PROVIDER", t.provider.as_deref())];
        let out = child(&["--bare", "--seconds", sec], &env)?;
        let got = out.info.get("provider").cloned().unwrap_or_default();
        if let Some(p) = &t.provider
            && p != &got
        {
            run.notes.push(format!(
                "Bare provider for {}: the core chose `{got}` (not `{p}`).",
                t.name
            ));
        }
        bare_names.insert(t.name.clone(), got.clone());
        run.results.insert(format!("bare {}", t.name), out.results);
    }

    // Every case, thread count and target has a number > 0, or the run failed.
    for t in &targets {
        for c in Case::selected() {
            if no_figure.contains(&(t.name.clone(), c.id)) {
                continue;
            }
            for th in THREADS {
                let v = run.results[&t.name].get(&(c.id.to_string(), th));
                ensure!(
                    v.is_some_and(|v| *v > 0.0),
                    "{}: no result for {} at {th} threads",
                    t.name,
                    c.id
                );
                if c.bare && t.kind == "mhsm" {
                    let b = run.results[&format!("bare {}", t.name)].get(&(c.id.to_string(), th));
                    ensure!(
                        b.is_some_and(|v| *v > 0.0),
                        "bare provider: no result for {} at {th} threads",
                        c.id
                    );
                }
            }
        }
    }

    let md = render(
        &run,
        &targets,
        small,
        big,
        &fills,
        &big_lines,
        &libs,
        &bare_names,
        smoke,
        sec,
    );
    println!("{md}");
    let out = PathBuf::from(args.value("--out").unwrap_or("target/bench-p11.md"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&out, &md).with_context(|| format!("write {}", out.display()))?;
    eprintln!("p11bench: wrote {}", out.display());
    if let Some(tsv) = args.value("--results") {
        let mut s = String::new();
        for (target, res) in &run.results {
            for ((case, th), v) in res {
                s.push_str(&format!("{target}\t{case}\t{th}\t{v}\n"));
            }
        }
        std::fs::write(tsv, s)?;
    }
    eprintln!("p11bench: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn render(
    run: &Run,
    targets: &[Target],
    small: usize,
    big: usize,
    fills: &BTreeMap<&str, f64>,
    big_lines: &[String],
    libs: &[String],
    bare_names: &BTreeMap<String, String>,
    smoke: bool,
    seconds: &str,
) -> String {
    let mhsm: Vec<&Target> = targets.iter().filter(|t| t.kind == "mhsm").collect();
    let peers: Vec<&Target> = targets.iter().filter(|t| t.kind != "mhsm").collect();
    let bare = |t: &Target| format!("bare {}", t.name);
    let mut header = vec!["case".to_string(), "threads".to_string()];
    for t in mhsm.iter().chain(&peers) {
        header.push(format!("{} ops/s", t.name));
    }
    for t in &mhsm {
        header.push(format!("{} ops/s", bare(t)));
    }
    for t in &mhsm {
        for p in &peers {
            header.push(format!("{}/{}", t.name, p.name));
        }
        if peers.len() > 1 {
            header.push(format!("{}/best peer", t.name));
        }
        header.push(format!("{}/bare", t.name));
    }
    let get = |target: &str, case: &str, th: usize| {
        run.results
            .get(target)
            .and_then(|r| r.get(&(case.to_string(), th)))
            .copied()
    };
    let cell = |v: Option<f64>| v.map(ops).unwrap_or("—".into());
    let mut rows = Vec::new();
    for c in Case::selected() {
        for th in THREADS {
            let label = c
                .label
                .replace("{small}", &ops(small as f64))
                .replace("{big}", &ops(big as f64));
            let mut row = vec![label, th.to_string()];
            for t in mhsm.iter().chain(&peers) {
                row.push(cell(get(&t.name, c.id, th)));
            }
            for t in &mhsm {
                row.push(cell(get(&bare(t), c.id, th)));
            }
            let best = peers
                .iter()
                .filter_map(|p| get(&p.name, c.id, th))
                .max_by(f64::total_cmp);
            for t in &mhsm {
                let v = get(&t.name, c.id, th);
                for p in &peers {
                    row.push(ratio(v, get(&p.name, c.id, th)));
                }
                if peers.len() > 1 {
                    row.push(ratio(v, best));
                }
                row.push(ratio(v, get(&bare(t), c.id, th)));
            }
            rows.push(row);
        }
    }
    let mut md = String::new();
    md.push_str(&format!(
        "{}Machine: {}. {} s per case{}.\n\n",
        if smoke {
            "**Smoke run (figures mean nothing).** "
        } else {
            ""
        },
        report::machine(),
        seconds,
        if libs.is_empty() {
            String::new()
        } else {
            format!("; {}", libs.join("; "))
        }
    ));
    md.push_str(&report::table(&header, &rows));
    md.push_str(&format!("\nWith {} AES keys stored:\n", ops(big as f64)));
    for l in big_lines {
        md.push_str(l);
        md.push('\n');
    }
    if let Some(s) = fills.get("mhsm") {
        md.push_str(&format!(
            "- fill: mhsm {} keys through the core (`Pool::import_key`, one durable write each, \
             before the module loads) in {:.1} s",
            ops(big as f64),
            s
        ));
        for p in &peers {
            if let Some(s) = fills.get(p.kind) {
                md.push_str(&format!(
                    "; {} through `C_CreateObject` in {s:.1} s",
                    p.name
                ));
            }
        }
        md.push('\n');
    }
    md.push_str(&format!(
        "\nbare = the same operation on hsm-core's crypto provider called directly ({}), no \
         PKCS#11. best peer = the faster of the peers in that row. Generated keys are token keys, destroyed after the timed window (untimed). \
         GCM takes a fresh caller IV per call. OAEP uses SHA-1 because SoftHSMv2 2.6 accepts \
         no other OAEP hash.\n",
        bare_names
            .iter()
            .map(|(t, p)| format!("{t}: `{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for n in &run.notes {
        md.push_str(&format!("\n{n}\n"));
    }
    md
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
