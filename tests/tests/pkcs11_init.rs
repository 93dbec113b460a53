//! What `C_Initialize` does with its environment, seen from fresh processes (the
//! `pkcs11_probe` helper): a data directory held by another process fails at once with a
//! line naming it and its holder; the configuration file's slot ids apply, and a bad file is
//! refused with its reason; without `MHSM_DATA_DIR` the documented default is used.
//!
//! In remote mode a directory held by `mhsm serve` is the normal case: the module finds the
//! server through `server.json` and does not open the directory at all.

mod pkcs11_common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cryptoki_sys::*;
use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, PoolSettings};
use pkcs11_common::*;

/// Runs the probe with `MHSM_DATA_DIR=dir` (when given) and extra variables.
fn probe(dir: Option<&Path>, env: &[(&str, &str)]) -> (Output, Duration) {
    let mut cmd = Command::new(probe_path());
    cmd.arg(module_path())
        .env_remove("MHSM_DATA_DIR")
        .env_remove("MHSM_PKCS11_CONFIG")
        .env_remove("MHSM_LOG");
    if let Some(dir) = dir {
        cmd.env("MHSM_DATA_DIR", dir);
    }
    cmd.envs(env.iter().copied());
    let started = Instant::now();
    let out = cmd.output().expect("run pkcs11_probe");
    (out, started.elapsed())
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_directory_held_by_another_process_fails_at_once_naming_it() {
    if remote() {
        return a_directory_held_by_a_server_is_reached_through_it();
    }
    let dir = tempfile::tempdir().unwrap();
    let holder = Hsm::open(HsmConfig::new(dir.path())).unwrap();
    holder
        .create_pool("held", PoolSettings::default(), Tags::new())
        .unwrap();
    let (out, took) = probe(Some(dir.path()), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("rv={CKR_GENERAL_ERROR:#x}"));
    assert!(
        took < Duration::from_secs(5),
        "no waiting for the lock: {took:?}"
    );
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("C_Initialize failed"), "{err}");
    assert!(
        err.contains(&dir.path().display().to_string()),
        "names the directory: {err}"
    );
    assert!(
        err.contains(&format!("held by process {}", std::process::id())),
        "names the holder: {err}"
    );

    // The same in this process, with logging to a file: the line goes there.
    let log = dir.path().join("p11.log");
    let (out, _) = probe(
        Some(dir.path()),
        &[("MHSM_LOG", &format!("info@{}", log.display()))],
    );
    assert_eq!(stdout(&out).trim(), format!("rv={CKR_GENERAL_ERROR:#x}"));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("in use by another process"), "{logged}");

    // Released (sled lets go a moment after the handle drops): it works, the pool is a slot.
    drop(holder);
    let deadline = Instant::now() + Duration::from_secs(5);
    let out = loop {
        let (out, _) = probe(Some(dir.path()), &[]);
        if !stdout(&out).starts_with(&format!("rv={CKR_GENERAL_ERROR:#x}"))
            || Instant::now() > deadline
        {
            break out;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = stdout(&out);
    assert!(text.starts_with("rv=0x0\nslots="), "{text}{}", stderr(&out));
    assert!(text.contains("finalize rv=0x0"), "{text}");
}

/// Remote mode's version of the test above: the holder is a live server, so the module is
/// its client; once the server has stopped, or when `server.json` names a dead process, the
/// module opens the directory itself.
fn a_directory_held_by_a_server_is_reached_through_it() {
    let dir = dir_with_pools(&["held"]);
    let served = dir.server.as_ref().expect("a server in remote mode");
    assert!(dir.path().join("server.json").is_file());
    let (out, took) = probe(Some(dir.path()), &[]);
    let text = stdout(&out);
    assert!(text.starts_with("rv=0x0\nslots="), "{text}{}", stderr(&out));
    assert!(text.contains("finalize rv=0x0"), "{text}");
    assert_eq!(served.default_pool, "held");
    let slots = text.lines().find_map(|l| l.strip_prefix("slots=")).unwrap();
    assert_eq!(
        slots.split(',').count(),
        2,
        "held's and the uninitialized: {text}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Stopped: server.json is gone, the directory is free, the module opens it.
    let mut dir = dir;
    dir.server.as_mut().unwrap().stop();
    assert!(!dir.path().join("server.json").exists());
    let (out, _) = probe(Some(dir.path()), &[]);
    assert!(
        stdout(&out).starts_with("rv=0x0\nslots="),
        "{}",
        stderr(&out)
    );

    // A stale server.json (its process is gone): the same.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(
        dir.path().join("server.json"),
        format!(r#"{{"url": "https://127.0.0.1:9", "ca": null, "pid": {pid}}}"#),
    )
    .unwrap();
    let (out, _) = probe(Some(dir.path()), &[]);
    assert!(
        stdout(&out).starts_with("rv=0x0\nslots="),
        "a dead server's file is ignored: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn held_in_this_very_process_too() {
    if skip_in_remote("the module never opens the data directory in remote mode") {
        return;
    }
    // This process holds its data directory through the core; the module, loaded here,
    // cannot open it either (it retries for two seconds, in case this process only just let
    // go of it, then gives up).
    let _holder = Hsm::open(HsmConfig::new(data_dir())).unwrap();
    let started = Instant::now();
    assert_eq!(initialize(), CKR_GENERAL_ERROR);
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut info = CK_INFO::default();
    // SAFETY: a valid out pointer.
    assert_eq!(
        unsafe { raw().C_GetInfo(&mut info) },
        CKR_CRYPTOKI_NOT_INITIALIZED
    );
}

#[test]
fn the_config_file_sets_slot_ids() {
    let dir = dir_with_pools(&["first", "second"]);
    let config = dir.path().join("mhsm.toml");
    std::fs::write(
        &config,
        "[slots]\nuninitialized = 100\n[slots.pools]\nsecond = 7\n\n[pin]\nmin_len = 6\n",
    )
    .unwrap();
    let (out, _) = probe(
        Some(dir.path()),
        &[("MHSM_PKCS11_CONFIG", config.to_str().unwrap())],
    );
    let text = stdout(&out);
    let slots = text
        .lines()
        .find_map(|l| l.strip_prefix("slots="))
        .unwrap_or_else(|| panic!("{text}{}", stderr(&out)));
    let ids: Vec<u64> = slots.split(',').map(|s| s.parse().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[1], 7, "second's fixed id");
    assert_eq!(ids[2], 100, "the uninitialized slot's id");
    assert!(ids[0] != 7 && ids[0] != 100 && ids[0] >= 1);

    // Without the file: derived ids, slot 0 for the uninitialized token.
    let (out, _) = probe(Some(dir.path()), &[]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("slots={},", ids[0])),
        "first's id is stable: {text}"
    );
    assert!(text.contains(",0\n"), "{text}");
}

#[test]
fn a_bad_config_file_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[pin]\nmax_failure = 3\n", "unknown field `max_failure`"),
        ("[slots.pools]\na1b = 1\nc2d = 1\n", "slot id 1"),
        ("[pin]\nmin_len = 0\n", "min_len"),
        ("not toml at all = = =", "config file"),
    ];
    for (text, says) in cases {
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, text).unwrap();
        let (out, _) = probe(
            Some(dir.path()),
            &[("MHSM_PKCS11_CONFIG", config.to_str().unwrap())],
        );
        assert_eq!(
            stdout(&out).trim(),
            format!("rv={CKR_GENERAL_ERROR:#x}"),
            "{text}"
        );
        let err = stderr(&out);
        assert!(err.contains(says), "{text:?}: {err}");
        assert!(
            err.contains(&config.display().to_string()),
            "names the file: {err}"
        );
    }
    let missing = dir.path().join("missing.toml");
    let (out, _) = probe(
        Some(dir.path()),
        &[("MHSM_PKCS11_CONFIG", missing.to_str().unwrap())],
    );
    assert_eq!(stdout(&out).trim(), format!("rv={CKR_GENERAL_ERROR:#x}"));
    assert!(
        stderr(&out).contains("cannot read the config file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn without_mhsm_data_dir_the_default_directory_is_used() {
    if skip_in_remote("about where the embedded store lives; no server runs over it") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let xdg = home.path().join("xdg");
    let (out, _) = probe(None, &[("XDG_DATA_HOME", xdg.to_str().unwrap())]);
    assert!(
        stdout(&out).starts_with("rv=0x0"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        xdg.join("mhsm/store").is_dir(),
        "the store is under $XDG_DATA_HOME/mhsm"
    );
    assert!(xdg.join("mhsm/root.key").is_file());
    // No pool was created: only the uninitialized token's slot.
    assert!(stdout(&out).contains("slots=0\n"), "{}", stdout(&out));

    // Else ~/.local/share/mhsm; and data_dir in the config file when the variable is unset.
    let (out, _) = probe(
        None,
        &[
            ("HOME", home.path().to_str().unwrap()),
            ("XDG_DATA_HOME", ""),
        ],
    );
    assert!(stdout(&out).starts_with("rv=0x0"), "{}", stderr(&out));
    assert!(home.path().join(".local/share/mhsm/store").is_dir());
    let config = home.path().join("c.toml");
    let configured = home.path().join("configured");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", configured.to_str().unwrap()),
    )
    .unwrap();
    let (out, _) = probe(None, &[("MHSM_PKCS11_CONFIG", config.to_str().unwrap())]);
    assert!(stdout(&out).starts_with("rv=0x0"), "{}", stderr(&out));
    assert!(configured.join("store").is_dir());
}
