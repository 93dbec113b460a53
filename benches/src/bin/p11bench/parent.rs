//! The parent: makes the token stores, runs a child per target and phase (an mhsm child
//! measures the bare provider too), checks every figure is there, and writes the page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, ensure};

use crate::report::{ChildOutput, ops};
use crate::targets::{Target, child, conf_var, mhsm_env, peer_conf};
use crate::{Args, Case, THREADS};

/// The most objects the runner stores in kryoptic through `C_CreateObject` (each call scans
/// its store).
const KRYOPTIC_BIG_MAX: usize = 10_000;

/// What the command line asks of a run.
pub struct Settings {
    /// `--smoke`: tiny stores and windows, SoftHSMv2 optional.
    pub smoke: bool,
    /// Seconds per case, as the children take it.
    pub seconds: String,
    /// Keys in the store the cases run over.
    pub small: usize,
    /// Keys in the big store (`--objects`).
    pub big: usize,
}

impl Settings {
    fn from_args(args: &Args) -> Result<Settings> {
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
        Ok(Settings {
            smoke,
            seconds,
            small,
            big,
        })
    }
}

/// All measurements of one run.
#[derive(Default)]
pub struct Run {
    /// target name → (case, threads) → ops/s.
    pub results: BTreeMap<String, BTreeMap<(String, usize), f64>>,
    /// Lines under the table.
    pub notes: Vec<String>,
    /// Seconds to fill the big store, by module kind.
    pub fills: BTreeMap<&'static str, f64>,
    /// One line per target about the big store (start-up time, memory, first find).
    pub big_lines: Vec<String>,
    /// The library each target reports (`target: library`).
    pub libs: Vec<String>,
    /// mhsm target name → the provider its bare run used.
    pub bare_names: BTreeMap<String, String>,
    /// (target, case) left out on purpose, with a note saying why.
    no_figure: Vec<(String, &'static str)>,
}

/// The parent's run: every target, the bare provider, the checks, the page.
pub fn run(args: &Args) -> Result<()> {
    let started = Instant::now();
    let settings = Settings::from_args(args)?;
    let mut run = Run::default();
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
    let targets = crate::targets::targets(args, work.path(), settings.smoke, &mut run.notes)?;

    // The big store of each module kind (mhsm's providers share it; nothing in the big phase
    // writes).
    let mut big_dirs: BTreeMap<&'static str, PathBuf> = BTreeMap::new();
    for (i, t) in targets.iter().enumerate() {
        eprintln!("p11bench: {} ...", t.name);
        let child = TargetChild {
            target: t,
            lib: t.lib.to_str().context("utf-8 path")?,
            work: work.path(),
            index: i,
        };
        measure(&mut run, &settings, &child, &mut big_dirs)?;
    }
    check_complete(&run, &targets)?;

    let md = crate::table::render(&run, &targets, &settings);
    println!("{md}");
    write_outputs(args, &run, &md)?;
    eprintln!("p11bench: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// One target's children: its stores under the work directory, its environment.
struct TargetChild<'a> {
    target: &'a Target,
    /// The target's library, as a child's argument.
    lib: &'a str,
    work: &'a Path,
    /// The target's place in the run (its stores' prefix).
    index: usize,
}

impl TargetChild<'_> {
    /// Makes a store of `objects` keys: (what the children are pointed at, seconds the
    /// fill took). mhsm: a data directory filled through the core; a peer: its configuration,
    /// the token filled through PKCS#11.
    fn store(&self, name: &str, objects: usize) -> Result<(PathBuf, f64)> {
        let t = self.target;
        let dir = self.work.join(format!("{}-{name}", self.index));
        std::fs::create_dir_all(&dir)?;
        let n = objects.to_string();
        if t.kind == "mhsm" {
            let d = dir.to_str().context("utf-8 path")?;
            let filled = child(&["--fill-core", d, &n], &mhsm_env(d, t.provider.as_deref()))?;
            return Ok((dir, filled.num("fill_secs")?));
        }
        let (var, conf) = peer_conf(t.kind, &dir)?;
        let c = conf.to_str().context("utf-8 path")?;
        let out = child(
            &[
                "--module",
                t.kind,
                "--lib",
                self.lib,
                "--phase",
                "setup",
                "--objects",
                &n,
            ],
            &[(var, Some(c))],
        )?;
        Ok((conf, out.num("fill_secs")?))
    }

    /// The environment of a child over the store at `path`.
    fn env_for(&self, path: &Path) -> Vec<(&'static str, Option<String>)> {
        let t = self.target;
        let p = path.to_string_lossy().to_string();
        if t.kind == "mhsm" {
            mhsm_env(&p, t.provider.as_deref())
                .into_iter()
                .map(|(k, v)| (k, v.map(str::to_string)))
                .collect()
        } else {
            vec![(conf_var(t.kind), Some(p))]
        }
    }

    /// Runs the phase `phase` over the store at `path` with `objects` keys in it.
    fn phase(
        &self,
        phase: &str,
        objects: usize,
        seconds: &str,
        path: &Path,
    ) -> Result<ChildOutput> {
        let env = self.env_for(path);
        let env: Vec<(&str, Option<&str>)> = env.iter().map(|(k, v)| (*k, v.as_deref())).collect();
        let objects = objects.to_string();
        child(
            &[
                "--module",
                self.target.kind,
                "--lib",
                self.lib,
                "--phase",
                phase,
                "--objects",
                &objects,
                "--seconds",
                seconds,
            ],
            &env,
        )
    }
}

/// One target: the cases over a store of `small` keys, then the finds over the big store.
fn measure(
    run: &mut Run,
    settings: &Settings,
    child: &TargetChild<'_>,
    big_dirs: &mut BTreeMap<&'static str, PathBuf>,
) -> Result<()> {
    let t = child.target;
    let sec = settings.seconds.as_str();
    let (store_small, _) = child.store("small", settings.small)?;
    let cases = child.phase("cases", settings.small, sec, &store_small)?;
    if let Some(l) = cases.info.get("library") {
        run.libs.push(format!("{}: {l}", t.name));
    }
    run.results
        .entry(t.name.clone())
        .or_default()
        .extend(cases.results);
    if t.kind == "mhsm" {
        let got = cases.info.get("bare_provider").cloned().unwrap_or_default();
        if let Some(p) = &t.provider
            && p != &got
        {
            run.notes.push(format!(
                "Bare provider for {}: the core chose `{got}` (not `{p}`).",
                t.name
            ));
        }
        run.bare_names.insert(t.name.clone(), got);
        run.results.insert(format!("bare {}", t.name), cases.bare);
    }

    if !Case::is_selected("find-big") {
        return Ok(());
    }
    let big = settings.big;
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
        run.no_figure.push((t.name.clone(), "find-big"));
        return Ok(());
    }
    if !big_dirs.contains_key(t.kind) {
        let (dir, secs) = child.store("big", big)?;
        run.fills.insert(t.kind, secs);
        big_dirs.insert(t.kind, dir);
    }
    let out = child.phase("big", big, sec, &big_dirs[t.kind])?;
    run.results
        .entry(t.name.clone())
        .or_default()
        .extend(out.results.clone());
    run.big_lines.push(format!(
        "- {}: `C_Initialize` {:.1} ms; resident {:.1} MiB after it ({:.1} MiB with the \
         library loaded, {:.1} MiB after the finds); first find {:.2} ms",
        t.name,
        out.num("init_secs")? * 1e3,
        out.num("rss_init_kib")? / 1024.0,
        out.num("rss_loaded_kib")? / 1024.0,
        out.num("rss_found_kib")? / 1024.0,
        out.num("first_find_secs")? * 1e3,
    ));
    Ok(())
}

/// Every case, thread count and target has a number > 0, or the run failed.
fn check_complete(run: &Run, targets: &[Target]) -> Result<()> {
    for t in targets {
        for c in Case::selected() {
            if run.no_figure.contains(&(t.name.clone(), c.id)) {
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
    Ok(())
}

/// The page to `--out` (default `target/bench-p11.md`), the figures to `--results` as TSV.
fn write_outputs(args: &Args, run: &Run, md: &str) -> Result<()> {
    let out = PathBuf::from(args.value("--out").unwrap_or("target/bench-p11.md"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(&out, md).with_context(|| format!("write {}", out.display()))?;
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
    Ok(())
}
