//! Remote mode end to end: one `mhsm serve` per test (in this process, the pool `default`
//! with its access log on), libmhsm_pkcs11.so as its client in other processes (the
//! `pkcs11_probe shell`, pkcs11-tool, OpenSSL with the pkcs11 engine) next to the Azure SDK
//! for Python (`tests/interop/remote-sdk.py`). The module is pointed at the server with
//! `MHSM_URL`, `MHSM_CA_FILE` and `MHSM_TOKEN`, a JWT naming the PKCS#11 user, so the access
//! log can tell it from the SDK's user. Needs the venv `scripts/test-all` makes
//! (`MHSM_PYTHON`), pkcs11-tool and the OpenSSL pkcs11 engine (which
//! `tests/interop/pkcs11-consumers.sh` installs).

mod pkcs11_common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::Mutex;

use base64::Engine;
use hsm_core::PoolSettings;
use hsm_core::names::Tags;
use hsm_core::pin::PinRole;
use pkcs11_common::*;
use serde_json::{Value, json};

const POOL: &str = "default";
const PIN: &str = "user-pin-1";
const P11_OID: &str = "5c6f0e4b-0000-4000-8000-000000001111";
const P11_UPN: &str = "pkcs11-user@contoso.example";
const SDK_OID: &str = "5c6f0e4b-0000-4000-8000-000000002222";
const SDK_UPN: &str = "sdk-user@contoso.example";

/// One test at a time: each starts several processes on a small machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A bearer token naming a principal (the server reads `oid` and `upn`; by default it checks
/// no signature).
fn token(oid: &str, upn: &str) -> String {
    let part = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2ln",
        part(json!({"alg": "none", "typ": "JWT"})),
        part(json!({"oid": oid, "upn": upn, "exp": 4_102_444_800u64}))
    )
}

use mhsm_tests::python;

fn interop(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("interop")
        .join(name)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A server over a fresh directory, and a place for the clients' files.
struct Remote {
    /// Declared first: stops before the directories go.
    server: Served,
    _dir: tempfile::TempDir,
    work: tempfile::TempDir,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Remote {
    fn start() -> Remote {
        Remote::start_with(false)
    }

    /// With `standard_api_only`, the server answers only Azure Managed HSM's API.
    fn start_with(standard_api_only: bool) -> Remote {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        {
            let hsm = open_hsm(dir.path());
            hsm.create_pool(POOL, PoolSettings::default(), Tags::new())
                .unwrap();
            let pool = hsm.pool(POOL).unwrap();
            pool.set_pin(PinRole::So, b"so-pin-12").unwrap();
            pool.set_pin(PinRole::User, PIN.as_bytes()).unwrap();
            pool.update_setting("AccessLogEnabled", "true").unwrap();
        }
        let server = Served::start_with(dir.path(), standard_api_only);
        assert_eq!(server.default_pool, POOL);
        Remote {
            server,
            _dir: dir,
            work: tempfile::tempdir().unwrap(),
            _turn: turn,
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// The environment that puts the module in remote mode against this server. The data
    /// directory it names is empty: a module that ignored the URL would find no token.
    fn module_env(&self, cmd: &mut Command) {
        let empty = self.work.path().join("no-store");
        std::fs::create_dir_all(&empty).unwrap();
        cmd.env("MHSM_URL", self.server.url())
            .env("MHSM_CA_FILE", self.server.ca_path())
            .env("MHSM_TOKEN", token(P11_OID, P11_UPN))
            .env("MHSM_DATA_DIR", &empty)
            .env_remove("MHSM_TOKEN_FILE")
            .env_remove("MHSM_PKCS11_CONFIG")
            .env_remove("MHSM_LOG");
    }

    /// Runs `remote-sdk.py` with `args`; its output, after checking it succeeded.
    fn sdk(&self, args: &[&str]) -> String {
        let out = Command::new(python())
            .arg(interop("remote-sdk.py"))
            .args(args)
            .env("MHSM_URL", self.server.url())
            .env("MHSM_CA", self.server.ca_path())
            .env("MHSM_SDK_TOKEN", token(SDK_OID, SDK_UPN))
            .output()
            .unwrap();
        let t = text(&out);
        assert!(out.status.success(), "remote-sdk.py {args:?} failed:\n{t}");
        assert!(t.contains("ok"), "{t}");
        t
    }

    /// A `pkcs11_probe shell` logged in on the pool's token.
    fn shell(&self, log: Option<&Path>) -> Shell {
        self.shell_with(log, None)
    }

    /// A `pkcs11_probe shell`, with a module config file.
    fn shell_with(&self, log: Option<&Path>, config: Option<&Path>) -> Shell {
        let mut cmd = Command::new(probe_path());
        cmd.arg("shell").arg(built_module_path()).arg(POOL).arg(PIN);
        self.module_env(&mut cmd);
        if let Some(log) = log {
            cmd.env("MHSM_LOG", format!("info@{}", log.display()));
        }
        if let Some(config) = config {
            cmd.env("MHSM_PKCS11_CONFIG", config);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut shell = Shell {
            child,
            stdin,
            stdout,
        };
        assert_eq!(shell.read(), "ready");
        shell
    }

    /// The access log's entries of the pool.
    fn access_log(&self) -> Vec<Value> {
        let logs = self.server.dir().join("logs").join(POOL);
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(&logs).unwrap_or_else(|e| panic!("{logs:?}: {e}")) {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            lines.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap()),
            );
        }
        lines
    }

    /// Asserts the access log holds `action` on `key` by the PKCS#11 user; `action` as Azure
    /// names the data action after `keys/` (`sign/action`, but `create` and `delete`).
    fn assert_logged_for_pkcs11_user(&self, action: &str, key: &str) {
        let log = self.access_log();
        let action = format!("Microsoft.KeyVault/managedHsm/keys/{action}");
        let hit = log
            .iter()
            .find(|l| l["operation"] == action.as_str() && l["key"] == key && l["status"] == 200)
            .unwrap_or_else(|| panic!("no {action} on {key} in the access log: {log:#?}"));
        assert_eq!(hit["objectId"], P11_OID, "{hit}");
        assert_eq!(hit["upn"], P11_UPN, "{hit}");
        assert_eq!(hit["pool"], POOL, "{hit}");
    }
}

/// A running `pkcs11_probe shell`.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Shell {
    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn read(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the shell ended (see its stderr above)");
        line.trim_end().to_string()
    }

    fn call(&mut self, line: &str) -> String {
        self.send(line);
        self.read()
    }

    fn quit(mut self) {
        self.send("quit");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the shell failed: {status}");
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// a. A key the SDK created signs through OpenSSL's pkcs11 engine; plain OpenSSL verifies the
/// signature with the public key the SDK returned.
#[test]
fn an_sdk_key_signs_through_the_openssl_engine() {
    let r = Remote::start();
    let public = r.file("sdk-ec.pub.pem");
    r.sdk(&["create-ec", "sdk-ec", public.to_str().unwrap()]);
    let data = r.file("data.bin");
    std::fs::write(&data, b"signed by a key the Azure SDK made\n".repeat(100)).unwrap();
    let sig = r.file("data.sig");
    let uri = format!("pkcs11:token={POOL};object=sdk-ec;type=private;pin-value={PIN}");
    let mut cmd = Command::new("bash");
    cmd.arg(interop("remote-openssl.sh"))
        .arg(built_module_path())
        .arg(&uri)
        .arg(&data)
        .arg(&public)
        .arg(&sig);
    r.module_env(&mut cmd);
    let out = cmd.output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "remote-openssl.sh failed:\n{t}");
    assert!(t.contains("Verified OK"), "{t}");
    // The server did the signing, for the PKCS#11 user.
    r.assert_logged_for_pkcs11_user("sign/action", "sdk-ec");
}

/// b. A key pair pkcs11-tool generates is one of the SDK's keys, and signs through its
/// CryptographyClient (checked with the `cryptography` package against the key's JWK).
#[test]
fn a_pkcs11_tool_key_pair_is_an_sdk_key() {
    let r = Remote::start();
    let mut cmd = Command::new("pkcs11-tool");
    cmd.arg("--module")
        .arg(built_module_path())
        .args(["--token-label", POOL, "--login", "--pin", PIN])
        .args([
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
            "--label",
            "tool-ec",
        ]);
    r.module_env(&mut cmd);
    let out = cmd.output().expect("run pkcs11-tool (package opensc)");
    let t = text(&out);
    assert!(
        out.status.success(),
        "pkcs11-tool --keypairgen failed:\n{t}"
    );
    assert!(t.contains("tool-ec"), "{t}");

    let listed = r.sdk(&["show", "tool-ec"]);
    assert!(listed.contains("listed tool-ec"), "{listed}");
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"from pkcs11-tool"));
    let sig = r.file("tool-ec.sig");
    let signed = r.sdk(&["sign", "tool-ec", &digest, sig.to_str().unwrap()]);
    assert!(signed.contains("verified tool-ec"), "{signed}");
    r.assert_logged_for_pkcs11_user("create", "tool-ec");
}

/// c. A key C_DestroyObject removed is one of the SDK's deleted keys; once the SDK recovers
/// it, the same PKCS#11 application finds it again with a fresh search.
#[test]
fn a_destroyed_key_is_recovered_with_the_sdk_and_found_again() {
    let r = Remote::start();
    let mut shell = r.shell(None);
    assert_eq!(shell.call("gen phoenix"), "gen ok");
    assert_eq!(shell.call("sign phoenix"), "sign ok");
    assert_eq!(shell.call("destroy phoenix"), "destroy ok");
    assert_eq!(shell.call("find phoenix"), "found 0");

    let deleted = r.sdk(&["deleted", "phoenix"]);
    assert!(deleted.contains("deleted phoenix"), "{deleted}");
    let recovered = r.sdk(&["recover", "phoenix"]);
    assert!(recovered.contains("recovered phoenix"), "{recovered}");

    assert_eq!(
        shell.call("find phoenix"),
        "found 1",
        "the module saw the recovery"
    );
    assert!(shell.call("sign phoenix").starts_with("sign ok"));
    shell.quit();
    r.assert_logged_for_pkcs11_user("delete", "phoenix");
}

/// d. Four processes generate and sign at once against one server, without an error; each
/// then finds every other process's keys.
#[test]
fn four_processes_share_one_server() {
    const PROCESSES: usize = 4;
    const KEYS: usize = 3;
    const SIGNS: usize = 15;
    let r = Remote::start();
    let mut shells: Vec<Shell> = (0..PROCESSES).map(|_| r.shell(None)).collect();
    for (i, shell) in shells.iter_mut().enumerate() {
        shell.send(&format!("loop proc{i} {KEYS} {SIGNS}"));
    }
    for (i, shell) in shells.iter_mut().enumerate() {
        assert_eq!(shell.read(), "loop errors=0", "process {i}");
    }
    let mut all: Vec<String> = (0..PROCESSES)
        .flat_map(|i| (0..KEYS).map(move |k| format!("proc{i}-{k}")))
        .collect();
    all.sort();
    let want = format!("labels {}", all.join(","));
    for (i, shell) in shells.iter_mut().enumerate() {
        assert_eq!(shell.call("labels"), want, "process {i}");
    }
    for shell in shells {
        shell.quit();
    }
}

/// e. The server stops mid-run: calls fail with CKR_DEVICE_ERROR and the module logs the
/// outage once; the server comes back on the same port and directory, and the same process
/// signs again without starting over.
#[test]
fn a_server_outage_is_a_device_error_and_the_module_recovers() {
    let mut r = Remote::start();
    let log = r.file("module.log");
    let mut shell = r.shell(Some(&log));
    assert_eq!(shell.call("gen survivor"), "gen ok");
    assert_eq!(shell.call("sign survivor"), "sign ok");

    let slots = shell.call("slots");
    r.server.stop();
    let before = std::fs::read_to_string(&log).unwrap_or_default().len();
    for _ in 0..3 {
        let answer = shell.call("sign survivor");
        assert!(answer.starts_with("err=DeviceError"), "{answer}");
    }
    // C_GetSlotList may not answer CKR_DEVICE_ERROR: the last list stands.
    assert_eq!(shell.call("slots"), slots);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let outage: Vec<&str> = logged[before..].lines().collect();
    assert_eq!(outage.len(), 1, "one line per outage: {outage:#?}");
    assert!(
        outage[0].contains(&format!(":{}", r.server.addr.port())),
        "names the server: {}",
        outage[0]
    );

    r.server.restart();
    let answer = shell.call("sign survivor");
    assert!(answer.starts_with("sign ok"), "{answer}");
    assert_eq!(shell.call("find survivor"), "found 1");
    shell.quit();
}

/// f. The access log names the PKCS#11 user (from its token's `oid` and `upn`) for what it
/// did through the module, and the SDK's user for what the SDK did.
#[test]
fn the_access_log_names_the_pkcs11_user() {
    let r = Remote::start();
    let mut shell = r.shell(None);
    assert_eq!(shell.call("gen audited"), "gen ok");
    assert_eq!(shell.call("sign audited"), "sign ok");
    shell.quit();
    r.assert_logged_for_pkcs11_user("create", "audited");
    r.assert_logged_for_pkcs11_user("sign/action", "audited");

    let public = r.file("by-sdk.pem");
    r.sdk(&["create-ec", "by-sdk", public.to_str().unwrap()]);
    let log = r.access_log();
    let created = log
        .iter()
        .find(|l| l["key"] == "by-sdk" && l["status"] == 200)
        .expect("the SDK's create is logged");
    assert_eq!(created["upn"], SDK_UPN);
    assert_eq!(created["objectId"], SDK_OID);
    assert!(
        !log.iter()
            .any(|l| l["upn"] == P11_UPN && l["key"] == "by-sdk"),
        "nothing of the SDK's is put on the PKCS#11 user"
    );
}

/// g. Against a server offering only Azure Managed HSM's API (no pool list, no extension), as
/// the real service would, the module still lists its one token (named in the config), and
/// generates, finds, signs with and destroys keys through the standard routes alone, with the
/// PIN checked against the configured one.
#[test]
fn the_standard_api_alone_is_enough_for_keys() {
    let r = Remote::start_with(true);
    let config = r.file("module.toml");
    std::fs::write(
        &config,
        format!("[remote]\ntoken_label = \"{POOL}\"\nuser_pin = \"{PIN}\"\n"),
    )
    .unwrap();
    let mut shell = r.shell_with(None, Some(&config));
    assert_eq!(shell.call("gen plain"), "gen ok");
    assert_eq!(shell.call("sign plain"), "sign ok");
    assert_eq!(shell.call("find plain"), "found 1");
    assert_eq!(shell.call("destroy plain"), "destroy ok");
    assert_eq!(shell.call("find plain"), "found 0");
    shell.quit();

    // The SDK sees the key the module made and destroyed.
    r.sdk(&["deleted", "plain"]);
    // Nothing but Azure's API answered the module.
    let log = r.access_log();
    let extension_used = log.iter().any(|l| {
        let req = l["request"].as_str().unwrap_or_default();
        (req.contains(" /x-mhsm/") || req.contains(" /mhsm/")) && l["status"].as_u64() < Some(300)
    });
    assert!(!extension_used, "{log:#?}");
    assert!(
        log.iter().any(|l| l["request"]
            .as_str()
            .unwrap_or_default()
            .starts_with("POST /keys/plain/create")
            && l["status"] == 200),
        "{log:#?}"
    );
}
