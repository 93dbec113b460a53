//! The `mhsm pool` and `mhsm time-shift` commands, on a data directory directly and through a
//! running server's management API.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use server::{ServeConfig, start};

const V: &str = "api-version=7.4";

fn mhsm(dir: &Path, args: &[&str]) -> (bool, Value, String) {
    let (status, value, err) = mhsm_status(dir, args);
    (status == 0, value, err)
}

/// Runs `mhsm` as a user would (no `MHSM_LOG`, and a backtrace asked for, which a failure
/// must not print): (exit status, stdout as JSON, stderr).
fn mhsm_status(dir: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mhsm"))
        .args(args)
        .env("MHSM_DATA_DIR", dir)
        .env_remove("MHSM_LOG")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        value,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A failure is one line on stderr, `mhsm: ...`, with no backtrace and no log lines, and
/// its exit status says what kind it is; a look at a missing data directory creates nothing.
#[test]
fn failures_are_one_line_with_a_status_of_their_kind() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none");
    let (status, _, err) = mhsm_status(&missing, &["pool", "show", "p1"]);
    assert_eq!(status, 3, "{err}");
    assert_eq!(
        err,
        format!("mhsm: no data directory at {}\n", missing.display())
    );
    assert!(!missing.exists(), "a look created the data directory");
    let (status, _, err) = mhsm_status(dir.path(), &["pool", "create", "team-b"]);
    assert_eq!((status, err.as_str()), (0, ""));
    for (args, want, line) in [
        (
            &["pool", "show", "nope"][..],
            3,
            "mhsm: pool 'nope' was not found\n",
        ),
        (&["pool", "create", "team-b"][..], 4, ""),
        (&["pool", "create", "x"][..], 5, ""),
    ] {
        let (status, _, err) = mhsm_status(dir.path(), args);
        assert_eq!(status, want, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("mhsm: ") && !err.contains("Error:"),
            "{err}"
        );
        assert!(
            !err.contains("backtrace") && !err.contains("NotFound"),
            "{err}"
        );
        if !line.is_empty() {
            assert_eq!(err, line);
        }
    }
    // Usage errors are clap's, status 2.
    assert_eq!(mhsm_status(dir.path(), &["pool", "frobnicate"]).0, 2);
}

fn jwt(oid: &str) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.sig",
        part(json!({"alg": "none"})),
        part(json!({"oid": oid}))
    )
}

#[test]
fn pools_from_the_command_line_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, v, err) = mhsm(
        dir.path(),
        &[
            "pool",
            "create",
            "team-a",
            "--retention-days",
            "7",
            "--purge-protection",
            "--so-pin",
            "so-pin-1",
            "--user-pin",
            "user-1",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        (
            v["name"].as_str(),
            v["retentionDays"].as_u64(),
            v["purgeProtection"].as_bool()
        ),
        (Some("team-a"), Some(7), Some(true))
    );
    let (ok, v, _) = mhsm(dir.path(), &["pool", "list"]);
    assert!(ok);
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    let (ok, _, err) = mhsm(dir.path(), &["pool", "create", "team-a"]);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (status, _, err) = mhsm_status(dir.path(), &["pool", "create", "x"]);
    assert_eq!(status, 5, "a bad name: {err}");
    let (ok, _, err) = mhsm(
        dir.path(),
        &["pool", "create", "pins", "--user-pin", "1234"],
    );
    assert!(!ok && err.contains("SO PIN"), "{err}");
    let (ok, v, _) = mhsm(dir.path(), &["pool", "delete", "team-a"]);
    assert!(ok && v["scheduledPurgeDate"].as_i64().unwrap() > v["deletedDate"].as_i64().unwrap());
    let (status, _, err) = mhsm_status(dir.path(), &["pool", "purge", "team-a"]);
    assert_eq!(status, 6, "purge protection: {err}");
    let (ok, v, _) = mhsm(dir.path(), &["pool", "recover", "team-a"]);
    assert!(ok && v["deletedDate"].is_null());
    // The PINs were set: the core checks them.
    let hsm = hsm_core::Hsm::open(hsm_core::HsmConfig::new(dir.path())).unwrap();
    let pool = hsm.pool("team-a").unwrap();
    pool.verify_pin(hsm_core::pin::PinRole::User, b"user-1")
        .unwrap();
    assert_eq!(
        pool.verify_pin(hsm_core::pin::PinRole::So, b"wrong!")
            .unwrap_err()
            .code(),
        "PinIncorrect"
    );
}

#[test]
fn pools_and_time_through_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.test_hooks = true;
    let running = rt.block_on(start(config)).unwrap();
    let port = running.addr.port();
    assert!(dir.path().join("server.json").exists());

    // The server holds the directory: the commands must go through it.
    let admin = "11111111-2222-3333-4444-555555555555";
    let (ok, v, err) = mhsm(
        dir.path(),
        &["pool", "create", "strict-one", "--admin", admin],
    );
    assert!(ok, "{err}");
    assert_eq!(v["rbac"], "strict");
    let (ok, v, _) = mhsm(dir.path(), &["pool", "show", "strict-one"]);
    assert!(ok && v["name"] == "strict-one");

    let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("strict-one.localhost", running.addr)
        .build()
        .unwrap();
    let create = |token: &str| {
        let url = format!("https://strict-one.localhost:{port}/keys/k/create?{V}");
        client
            .post(url)
            .bearer_auth(token)
            .json(&json!({"kty": "EC"}))
            .send()
            .unwrap()
    };
    assert_eq!(
        create("anonymous-token").status(),
        403,
        "a strict pool refuses strangers"
    );
    // As in Azure, an administrator manages roles, not keys: it grants itself Crypto User.
    let denied = create(&jwt(admin));
    assert_eq!(denied.status(), 403);
    let body: Value = denied.json().unwrap();
    assert_eq!(body["error"]["code"], "ForbiddenByRbac");
    let assignment = format!(
        "https://strict-one.localhost:{port}/providers/Microsoft.Authorization/roleAssignments/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee?{V}"
    );
    let grant = json!({"properties": {
        "roleDefinitionId": "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/21dbd100-6940-42c2-9190-5d6cb909625b",
        "principalId": admin,
    }});
    let r = client
        .put(&assignment)
        .bearer_auth(jwt(admin))
        .json(&grant)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    assert_eq!(create(&jwt(admin)).status(), 200, "now it may");

    // Time shift: a rotation policy fires when the clock moves past it.
    let policy = json!({"lifetimeActions": [{"trigger": {"timeAfterCreate": "P30D"}, "action": {"type": "Rotate"}}]});
    let url = format!("https://strict-one.localhost:{port}/keys/k/rotationpolicy?{V}");
    assert_eq!(
        client
            .put(&url)
            .bearer_auth(jwt(admin))
            .json(&policy)
            .send()
            .unwrap()
            .status(),
        200
    );
    let (ok, v, err) = mhsm(dir.path(), &["time-shift", "--days", "31"]);
    assert!(ok, "{err}");
    assert_eq!(v["offset"], 31 * 86_400);
    let url = format!("https://strict-one.localhost:{port}/keys/k/versions?{V}");
    let versions: Value = client
        .get(&url)
        .bearer_auth(jwt(admin))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(versions["value"].as_array().unwrap().len(), 2, "{versions}");

    rt.block_on(running.shutdown()).unwrap();
    assert!(
        !dir.path().join("server.json").exists(),
        "the discovery file goes with the server"
    );
    // Without a server, the time shift has nowhere to go.
    let (ok, _, err) = mhsm(dir.path(), &["time-shift", "--days", "1"]);
    assert!(!ok && err.contains("no server"), "{err}");
}

#[test]
fn the_time_shift_is_a_test_hook() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    let running = rt.block_on(start(config)).unwrap();
    let (ok, _, err) = mhsm(dir.path(), &["time-shift", "--days", "1"]);
    assert!(!ok && err.contains("--test-hooks"), "{err}");
    rt.block_on(running.shutdown()).unwrap();
}

#[test]
fn purge_protection_and_the_purge_date_over_rest() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.test_hooks = true;
    let running = rt.block_on(start(config)).unwrap();
    let port = running.addr.port();
    let (ok, _, err) = mhsm(
        dir.path(),
        &[
            "pool",
            "create",
            "guarded",
            "--retention-days",
            "7",
            "--purge-protection",
        ],
    );
    assert!(ok, "{err}");
    let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("guarded.localhost", running.addr)
        .build()
        .unwrap();
    let url = |p: &str| format!("https://guarded.localhost:{port}{p}?{V}");
    let send = |m: reqwest::Method, p: &str, body: Option<Value>| {
        let mut r = client.request(m, url(p)).bearer_auth("t");
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().unwrap();
        let s = r.status().as_u16();
        (s, r.json::<Value>().unwrap_or(Value::Null))
    };
    use reqwest::Method;
    assert_eq!(
        send(
            Method::POST,
            "/keys/k/create",
            Some(json!({"kty": "oct-HSM"}))
        )
        .0,
        200
    );
    let (s, b) = send(Method::DELETE, "/keys/k", None);
    assert_eq!(s, 200);
    assert_eq!(b["attributes"]["recoveryLevel"], "CustomizedRecoverable");
    assert_eq!(b["attributes"]["recoverableDays"], 7);
    assert_eq!(send(Method::POST, "/deletedkeys/k/recover", None).0, 200);
    assert_eq!(send(Method::DELETE, "/keys/k", None).0, 200);
    let (s, b) = send(Method::DELETE, "/deletedkeys/k", None);
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("Forbidden")),
        "purge protection"
    );
    assert_eq!(send(Method::GET, "/deletedkeys/k", None).0, 200);
    let (ok, _, err) = mhsm(dir.path(), &["time-shift", "--days", "7", "--seconds", "1"]);
    assert!(ok, "{err}");
    let (s, b) = send(Method::GET, "/deletedkeys/k", None);
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("KeyNotFound")),
        "purged at its date"
    );
    rt.block_on(running.shutdown()).unwrap();
}

/// `mhsm serve` over `dir` on a free port, and its stdout's lines.
fn spawn_serve(
    dir: &std::path::Path,
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mhsm"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("MHSM_DATA_DIR", dir)
        .env("MHSM_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Stops a server with `kill SIGNAL`: it exits cleanly and takes its `server.json` away.
fn stop_by_signal(mut child: std::process::Child, signal: &str, dir: &std::path::Path) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit}");
    assert!(!dir.join("server.json").exists());
}

#[test]
fn mhsm_serve_prints_how_to_connect_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (child, mut lines) = spawn_serve(dir.path());
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("mhsm is serving pool 'default' at https://127.0.0.1:"),
        "{first}"
    );
    let ca = lines.next().unwrap().unwrap();
    assert_eq!(
        ca,
        format!("CA certificate: {}", dir.path().join("ca.pem").display())
    );
    let example: Vec<String> = lines.by_ref().take(4).map(|l| l.unwrap()).collect();
    assert!(
        example
            .iter()
            .any(|l| l.contains("KeyClient(") && l.contains("connection_verify")),
        "{example:?}"
    );
    let url = first.rsplit(' ').next().unwrap().to_string();
    let pem = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!("{url}/keys?{V}"))
        .bearer_auth("t")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(dir.path().join("server.json").exists());
    // SIGTERM: a graceful stop that releases the directory.
    stop_by_signal(child, "-TERM", dir.path());
    hsm_core::Hsm::open(hsm_core::HsmConfig::new(dir.path())).unwrap();
}

#[test]
fn plain_http_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.insecure_http = true;
    let running = rt.block_on(start(config)).unwrap();
    assert!(running.url.starts_with("http://"), "{}", running.url);
    assert!(running.ca_path.is_none());
    let r = reqwest::blocking::get(format!("{}/keys?{V}", running.url)).unwrap();
    assert_eq!(r.status(), 401, "plain HTTP answers, with the challenge");
    rt.block_on(running.shutdown()).unwrap();
}

#[test]
fn mhsm_serve_writes_server_json_whole_and_removes_it_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let (child, mut lines) = spawn_serve(dir.path());
    let first = lines.next().unwrap().unwrap();
    let url = first.rsplit(' ').next().unwrap().to_string();
    let info: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("server.json")).unwrap()).unwrap();
    assert_eq!(info["url"], url.as_str());
    assert_eq!(info["pid"], child.id());
    assert_eq!(
        info["ca"].as_str().map(std::path::PathBuf::from),
        Some(dir.path().join("ca.pem"))
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    stop_by_signal(child, "-INT", dir.path());
}
