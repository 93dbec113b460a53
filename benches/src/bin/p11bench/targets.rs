//! The modules the parent measures (mhsm per provider, an earlier mhsm build, SoftHSMv2,
//! kryoptic): where each library is, the token configuration each needs, and running this
//! binary as a child against one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};

use crate::Args;
use crate::report::ChildOutput;

const SOFTHSM_LIB: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Where `scripts/build-kryoptic` leaves kryoptic, under the target directory.
const KRYOPTIC_LIB: &str = "kryoptic/libkryoptic_pkcs11.so";

/// One module the parent measures.
pub struct Target {
    /// Column name: `mhsm (rustcrypto)`, `SoftHSMv2`, `kryoptic`.
    pub name: String,
    /// `mhsm`, or a peer: `softhsm`, `kryoptic`.
    pub kind: &'static str,
    /// The PKCS#11 library.
    pub lib: PathBuf,
    /// `MHSM_CRYPTO_PROVIDER` (None: unset).
    pub provider: Option<String>,
}

/// The targets of this run, in column order: mhsm per provider (each after its `--before-lib`
/// build), SoftHSMv2 (installed if missing; skipped in a smoke run if it cannot be), kryoptic
/// (if built). What is left out, and why, goes to `notes`.
pub fn targets(
    args: &Args,
    work: &Path,
    smoke: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<Target>> {
    let mhsm = mhsm_lib(args)?;
    let softhsm = PathBuf::from(args.value("--softhsm-lib").unwrap_or(SOFTHSM_LIB));
    let mut targets = Vec::new();
    let providers = providers(args, &mhsm, work)?;
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
            notes.push(format!(
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
            notes.push(format!(
                "kryoptic skipped: {} not found (`scripts/build-kryoptic` builds it).",
                lib.display()
            ));
        }
        None => notes.push("kryoptic left out (`--no-kryoptic`).".into()),
    }
    Ok(targets)
}

/// Runs this binary as a child; its stdout parsed, its stderr passed through.
pub fn child(args: &[&str], env: &[(&str, Option<&str>)]) -> Result<ChildOutput> {
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
pub fn mhsm_env<'a>(
    dir: &'a str,
    provider: Option<&'a str>,
) -> Vec<(&'static str, Option<&'a str>)> {
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
pub fn peer_conf(kind: &str, dir: &Path) -> Result<(&'static str, PathBuf)> {
    match kind {
        "softhsm" => Ok(("SOFTHSM2_CONF", softhsm_conf(dir)?)),
        "kryoptic" => Ok(("KRYOPTIC_CONF", kryoptic_conf(dir)?)),
        other => bail!("no configuration for {other}"),
    }
}

/// The variable that names a peer's configuration.
pub fn conf_var(kind: &str) -> &'static str {
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
