//! Shared helpers of the PKCS#11 tests: finding the built module, a fresh data directory per
//! test process, raw access to the exported C functions, and the two backends.
//!
//! One behaviour suite, two backends: every suite `tests/<suite>.rs` also runs as
//! `tests/<suite>_remote.rs` (a file that only `include!`s it). [`remote()`] tells them apart
//! by the crate name. In remote mode the first load of the module ([`module_path`]) starts
//! `mhsm serve` in this process over the process's data directory ([`Served`]); the module
//! finds it through `server.json` and becomes its client. The core is reached with
//! [`with_core`], which in remote mode pauses the server around the call (only one process may
//! open a data directory) and starts it again on the same port.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use cryptoki_sys::*;
use hsm_core::names::Tags;
use hsm_core::{Hsm, HsmConfig, PoolSettings};

/// True in the `*_remote` test binaries: the module runs as a client of `mhsm serve`.
pub fn remote() -> bool {
    env!("CARGO_CRATE_NAME").ends_with("_remote")
}

/// Prints why a test does nothing in this mode; true when it should stop.
pub fn skip_in_remote(why: &str) -> bool {
    if remote() {
        eprintln!("skipped in remote mode: {why}");
    }
    remote()
}

/// The built `libmhsm_pkcs11.so`: `MHSM_PKCS11_MODULE` if set, else the one cargo built
/// beside this test binary (the tests crate depends on the module, so cargo builds the
/// cdylib into `deps/` before the tests; `CARGO_TARGET_DIR` and profiles need no care).
pub fn module_path() -> PathBuf {
    if remote() {
        ensure_server();
    }
    built_module_path()
}

/// The built module, without starting anything.
pub fn built_module_path() -> PathBuf {
    if let Some(p) = std::env::var_os("MHSM_PKCS11_MODULE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let deps = exe.parent().expect("exe dir");
    let candidates = [
        deps.join("libmhsm_pkcs11.so"),
        deps.join("deps/libmhsm_pkcs11.so"),
        deps.parent()
            .map(|p| p.join("libmhsm_pkcs11.so"))
            .unwrap_or_default(),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("libmhsm_pkcs11.so not found near {}", exe.display()))
}

/// The `pkcs11_probe` helper binary (built by cargo with the tests).
pub fn probe_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pkcs11_probe"))
}

/// This process's data directory: fresh, and named in `MHSM_DATA_DIR` before the module is
/// first initialized. Every test binary is its own process, so each gets its own.
pub fn data_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: runs once, before any test of this process loads the module (every test
        // goes through this function first); nothing else sets the environment.
        unsafe {
            std::env::set_var("MHSM_DATA_DIR", dir.path());
            std::env::remove_var("MHSM_PKCS11_CONFIG");
            // Remote mode: the server is found through `server.json`; the module (and the
            // tools this process starts) send this bearer token, naming the suite's user.
            std::env::remove_var("MHSM_URL");
            std::env::remove_var("MHSM_TOKEN_FILE");
            if remote() {
                std::env::set_var("MHSM_TOKEN", suite_token());
            }
        }
        dir
    })
    .path()
}

/// The bearer token of the remote suites: a JWT (unsigned; the server checks no signature
/// unless told to) whose `oid` and `upn` name the suite's user.
pub fn suite_token() -> String {
    use base64::Engine;
    let part = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.c2ln",
        part(r#"{"alg":"none","typ":"JWT"}"#),
        part(
            r#"{"oid":"0b1f5c3e-0000-4000-8000-000000000011","upn":"pkcs11-suite@contoso.example","exp":4102444800}"#
        )
    )
}

/// Opens a data directory with the core, waiting a moment if this process only just let go
/// of it (sled releases its lock a little after the last handle drops).
pub fn open_hsm(dir: &Path) -> Hsm {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match Hsm::open(HsmConfig::new(dir)) {
            Err(hsm_core::Error::StoreLocked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.unwrap(),
        }
    }
}

/// Creates pools in this process's data directory with the core (the module never creates
/// one), while the module is not initialized.
pub fn create_pools(names: &[&str]) {
    with_core(|hsm| {
        for name in names {
            hsm.create_pool(name, PoolSettings::default(), Tags::new())
                .unwrap();
        }
    });
}

/// Runs `f` with the core on this process's data directory. Embedded: opens it (the module
/// must not hold it: call this while it is finalized). Remote, once the server runs: stops
/// the server, runs `f`, starts it again on the same port.
pub fn with_core<R>(f: impl FnOnce(&Hsm) -> R) -> R {
    let dir = data_dir();
    if remote() {
        let mut server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(server) = server.as_mut() {
            return server.with_core(f);
        }
    }
    let hsm = open_hsm(dir);
    f(&hsm)
}

/// A fresh data directory holding `pools`, made by another process (`pkcs11_probe`), so no
/// lock of this process lingers on it when another process (a tool, the probe) opens it. In
/// remote mode a server runs over it (in this process) for as long as it lives.
pub fn dir_with_pools(pools: &[&str]) -> PoolDir {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(probe_path())
        .arg("create-pools")
        .arg(dir.path())
        .args(pools)
        .env_remove("MHSM_LOG")
        .status()
        .expect("run pkcs11_probe");
    assert!(status.success(), "pkcs11_probe create-pools failed");
    if remote() {
        // The token the tools will send is in this process's environment from here on.
        data_dir();
    }
    let server = remote().then(|| Served::start(dir.path()));
    PoolDir { server, dir }
}

/// A data directory from [`dir_with_pools`], with its server in remote mode.
pub struct PoolDir {
    /// Declared first: stops before the directory is removed.
    pub server: Option<Served>,
    dir: tempfile::TempDir,
}

impl PoolDir {
    /// The directory (what `MHSM_DATA_DIR` names).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The runtime every in-process server of this process runs on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("mhsm-serve")
            .enable_all()
            .build()
            .unwrap()
    })
}

/// The server over [`data_dir`] in remote mode, once the module was first loaded.
static SERVER: Mutex<Option<Served>> = Mutex::new(None);

/// Starts the server over [`data_dir`] unless it runs.
pub fn ensure_server() {
    let dir = data_dir();
    let mut server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    if server.is_none() {
        *server = Some(Served::start(dir));
    }
}

/// Runs `f` on the server over [`data_dir`] (started if needed).
pub fn with_server<R>(f: impl FnOnce(&mut Served) -> R) -> R {
    ensure_server();
    let mut server = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    f(server.as_mut().expect("the server"))
}

/// `mhsm serve` in this process over a data directory (`server::start`, as the binary does),
/// on a port that stays the same across [`Served::stop`] and [`Served::restart`].
pub struct Served {
    running: Option<server::Running>,
    dir: PathBuf,
    /// The address (its port is kept across restarts).
    pub addr: SocketAddr,
    /// The pool the server's own address serves: the directory's first pool when it had one
    /// (so the server adds no pool the suite did not make), else `default`.
    pub default_pool: String,
    /// Only Azure's API (see [`Served::start_with`]).
    standard_api_only: bool,
}

impl Served {
    /// Starts a server over `dir`, on a free port.
    pub fn start(dir: &Path) -> Served {
        Served::start_with(dir, false)
    }

    /// Starts a server over `dir`, on a free port; with `standard_api_only`, serving only what
    /// Azure Managed HSM serves (no `/mhsm/`, no `/x-mhsm/`).
    pub fn start_with(dir: &Path, standard_api_only: bool) -> Served {
        let default_pool = {
            let hsm = open_hsm(dir);
            let mut names: Vec<String> = hsm
                .list_pools()
                .unwrap()
                .into_iter()
                .map(|p| p.name)
                .collect();
            names.sort();
            names.into_iter().next().unwrap_or_else(|| "default".into())
        };
        let mut served = Served {
            running: None,
            dir: dir.to_path_buf(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            default_pool,
            standard_api_only,
        };
        served.restart();
        served
    }

    /// Starts the server again (same directory, same port) unless it runs.
    pub fn restart(&mut self) {
        if self.running.is_some() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let running = loop {
            let mut config = server::ServeConfig::new(&self.dir);
            config.listen = self.addr;
            config.default_pool = self.default_pool.clone();
            config.standard_api_only = self.standard_api_only;
            // The sled lock of a just-stopped server may linger a moment; so may the port.
            match runtime().block_on(server::start(config)) {
                Ok(r) => break r,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("mhsm serve over {}: {e:#}", self.dir.display()),
            }
        };
        self.addr = running.addr;
        self.running = Some(running);
    }

    /// Stops the server (graceful; `server.json` goes away).
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            runtime().block_on(r.shutdown()).unwrap();
        }
    }

    /// True while it serves.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Stops the server, runs `f` with the core on its directory, starts it again.
    pub fn with_core<R>(&mut self, f: impl FnOnce(&Hsm) -> R) -> R {
        let was_running = self.is_running();
        self.stop();
        let result = {
            let hsm = open_hsm(&self.dir);
            f(&hsm)
        };
        if was_running {
            self.restart();
        }
        result
    }

    /// The base URL of the default pool.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// The CA certificate the server's certificate chains to.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The exported C functions of the module, loaded with `dlopen` (the same instance the
/// `cryptoki` crate gets in this process).
pub fn raw() -> &'static Pkcs11 {
    static RAW: OnceLock<Pkcs11> = OnceLock::new();
    RAW.get_or_init(|| {
        data_dir();
        // SAFETY: loads our own module.
        unsafe { Pkcs11::new(module_path()) }.expect("load the module")
    })
}

/// The module's 2.40 function table.
pub fn table() -> &'static CK_FUNCTION_LIST {
    let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { raw().C_GetFunctionList(&mut list) }, CKR_OK);
    // SAFETY: the module hands out a pointer to an immutable static.
    unsafe { &*list }
}

/// The module's 3.0 function table (through `C_GetInterface`).
pub fn table_3_0() -> &'static CK_FUNCTION_LIST_3_0 {
    let mut iface: *mut CK_INTERFACE = std::ptr::null_mut();
    let mut version = CK_VERSION { major: 3, minor: 0 };
    // SAFETY: valid pointers; the name is NUL-terminated.
    let rv = unsafe {
        raw().C_GetInterface(c"PKCS 11".as_ptr() as *mut u8, &mut version, &mut iface, 0)
    };
    assert_eq!(rv, CKR_OK);
    // SAFETY: the module hands out pointers to immutable statics.
    unsafe { &*((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0) }
}

/// Calls `C_Initialize(NULL)` through the raw table.
pub fn initialize() -> CK_RV {
    // SAFETY: NULL is a valid argument.
    unsafe { raw().C_Initialize(std::ptr::null_mut()) }
}

/// Calls `C_Finalize(NULL)` through the raw table.
pub fn finalize() -> CK_RV {
    // SAFETY: NULL is the required argument.
    unsafe { raw().C_Finalize(std::ptr::null_mut()) }
}

/// The slots through the raw two-call convention.
pub fn slot_ids() -> Vec<CK_SLOT_ID> {
    let mut count: CK_ULONG = 0;
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe { raw().C_GetSlotList(0, std::ptr::null_mut(), &mut count) },
        CKR_OK
    );
    let mut ids = vec![0; count as usize];
    // SAFETY: `ids` has room for `count` ids.
    assert_eq!(
        unsafe { raw().C_GetSlotList(0, ids.as_mut_ptr(), &mut count) },
        CKR_OK
    );
    ids.truncate(count as usize);
    ids
}

/// A blank-padded field as a trimmed string.
pub fn field(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(' ')
        .to_string()
}

/// The name of a return value, for messages.
pub fn rv_hex(rv: CK_RV) -> String {
    format!("{rv:#x}")
}
