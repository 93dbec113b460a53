//! The module's state between `C_Initialize` and `C_Finalize`: the core, the slots and the
//! sessions, and the rules for `fork()`.
//!
//! One [`Module`] per initialized process sits in a lock-free cell ([`arc_swap`]): every call
//! loads it without taking a lock. Its pid is checked on each call, so a child created by
//! `fork()` sees no module until it calls `C_Initialize` itself.
//!
//! ## fork()
//! A child inherits a copy of the parent's memory, including the open core (whose store is
//! the parent's sled database, locked by the parent) but none of its threads. No atfork
//! handler is installed. In the child:
//! - every call answers `CKR_CRYPTOKI_NOT_INITIALIZED` until `C_Initialize`;
//! - `C_Initialize` adopts the inherited core handle (a second open of the directory would
//!   fail: the parent holds its lock) and starts with no sessions. The inherited module is
//!   leaked, never dropped, and so is the adopted core when the child finalizes: dropping
//!   them would close (and flush) the parent's database from the child. The child sees the
//!   pools as they were at the fork, and the adopted core is made read-only
//!   ([`Hsm::set_read_only`]): its writes answer `CKR_TOKEN_WRITE_PROTECTED`, its tokens show
//!   `CKF_WRITE_PROTECTED`, and it logs in (a right PIN needs no write) but cannot count a
//!   wrong PIN, so it refuses one with `CKR_TOKEN_WRITE_PROTECTED`.
//! - In remote mode nothing is adopted: the parent's connections are leaked with its module
//!   (closing them from the child would end the parent's TLS sessions) and the child makes
//!   a client of its own, which may write.

pub(crate) mod login;
pub(crate) mod object_model;
pub(crate) mod objects;
mod remote;
pub(crate) mod sessions;
pub(crate) mod slots;

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use cryptoki_sys::{
    CK_RV, CKR_CRYPTOKI_ALREADY_INITIALIZED, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_GENERAL_ERROR,
};
use hsm_core::pin::{InitialPins, PinPolicy};
use hsm_core::{Hsm, HsmApi, HsmConfig, PoolApi};
use parking_lot::Mutex;

use crate::config::Config;
use crate::logging;
use login::LoginTable;
use objects::ObjectTable;
use sessions::SessionTable;
use slots::SlotTable;

/// The initialized module.
pub(crate) struct Module {
    /// The [`crate::ptr::process_epoch`] of the process that initialized it: a fork
    /// child's differs.
    pub epoch: u64,
    /// The in-process HSM.
    pub core: Core,
    /// The configuration read at initialization.
    pub config: Config,
    /// Slots and their tokens.
    pub slots: SlotTable,
    /// Open sessions.
    pub sessions: SessionTable,
    /// Object handles and search indexes.
    pub objects: ObjectTable,
    /// Who is logged in to each slot's token.
    pub logins: LoginTable,
}

/// One pool of the tokens' HSM, local or behind a server: the one API of the core.
pub(crate) type PoolHandle = Arc<dyn PoolApi>;

/// The core handle; leaked instead of dropped when it was inherited through `fork()`.
pub(crate) struct Core {
    hsm: Option<Hsm>,
    inherited: bool,
    /// Where the tokens' pools are: the local core (embedded mode) or a server (remote mode).
    pools: Arc<dyn HsmApi>,
    /// Remote mode's server URL.
    remote_url: Option<String>,
}

impl Core {
    /// The local core: the data directory's pools in embedded mode; digests, random numbers
    /// and session keys in both modes.
    pub fn hsm(&self) -> &Hsm {
        // Only `Drop` takes it out.
        self.hsm.as_ref().expect("core present until drop")
    }

    /// The server's URL, in remote mode.
    pub fn remote_url(&self) -> Option<&str> {
        self.remote_url.as_deref()
    }

    /// A pool, by name.
    pub fn pool(&self, name: &str) -> hsm_core::Result<PoolHandle> {
        self.pools.pool(name)
    }

    /// The names of the live pools.
    pub fn list_pools(&self) -> hsm_core::Result<Vec<String>> {
        self.pools.list_pools()
    }

    /// Writes are refused (a forked child's adopted core).
    pub fn is_read_only(&self) -> bool {
        self.pools.is_read_only()
    }

    /// What tells this HSM apart from others, for token serial numbers: the security domain,
    /// or the server's URL.
    pub fn identity(&self) -> String {
        self.pools.identity()
    }

    /// Creates a pool for `C_InitToken` with its PIN policy and SO PIN, in one commit of the
    /// core (the server's, in remote mode).
    pub fn create_token_pool(
        &self,
        name: &str,
        policy: &PinPolicy,
        so_pin: &[u8],
    ) -> hsm_core::Result<()> {
        self.pools.create_pool_with_pins(
            name,
            &InitialPins {
                policy: Some(*policy),
                so: Some(so_pin),
                user: None,
            },
        )
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if self.inherited
            && let Some(hsm) = self.hsm.take()
        {
            // Closing it would flush and unlock the parent's store from the child.
            std::mem::forget(hsm);
        }
    }
}

static STATE: ArcSwapOption<Module> = ArcSwapOption::const_empty();
/// Serialises `C_Initialize` and `C_Finalize` (never taken by other calls).
static LIFECYCLE: Mutex<()> = Mutex::new(());

/// The module, if one is initialized (possibly by a parent process: see
/// [`Module::in_this_process`]), through `ArcSwap`'s per-thread slot (no shared counter).
pub(crate) fn current() -> arc_swap::Guard<Option<Arc<Module>>> {
    STATE.load()
}

impl Module {
    /// Whether this process initialized it (not a `fork()` child that inherited it).
    pub fn in_this_process(&self) -> bool {
        self.epoch == crate::ptr::process_epoch()
    }
}

/// `C_Initialize` after its argument checks.
pub(crate) fn initialize() -> Result<(), CK_RV> {
    let _lifecycle = LIFECYCLE.lock();
    let pid = std::process::id();
    let mut inherited = None;
    if let Some(existing) = STATE.load_full() {
        if existing.in_this_process() {
            return Err(CKR_CRYPTOKI_ALREADY_INITIALIZED);
        }
        // A child after fork(): adopt the parent's core (remote mode: only make new
        // connections), leak the parent's module.
        if existing.core.remote_url.is_none() {
            inherited = Some(existing.core.hsm().clone());
        }
        std::mem::forget(STATE.swap(None));
        std::mem::forget(existing);
    }
    let config = Config::load().map_err(|message| {
        logging::init_failure(&message);
        CKR_GENERAL_ERROR
    })?;
    logging::init(&config);
    let core = match inherited {
        Some(hsm) => {
            // The parent owns the store: the child may read it, never write.
            hsm.set_read_only();
            tracing::info!(parent_hsm = ?hsm, "initialized in a forked child: adopting the parent's core, read-only");
            Core {
                pools: Arc::new(hsm.clone()),
                hsm: Some(hsm),
                inherited: true,
                remote_url: None,
            }
        }
        None => open_core(&config)?,
    };
    let slots = SlotTable::new();
    let module = Module {
        epoch: crate::ptr::process_epoch(),
        core,
        config,
        slots,
        sessions: SessionTable::new(),
        objects: ObjectTable::new(),
        logins: LoginTable::new(),
    };
    match module.core.remote_url() {
        None => {
            module.slots.refresh(&module.core, &module.config)?;
            tracing::info!(data_dir = ?module.core.hsm().data_dir(), pid, "initialized");
        }
        Some(url) => {
            // A server that is down now may be up at the next C_GetSlotList.
            if let Err(rv) = module.slots.refresh(&module.core, &module.config) {
                tracing::warn!(url, rv, "no pools listed yet");
            }
            tracing::info!(url, pid, "initialized (remote mode)");
        }
    }
    STATE.store(Some(Arc::new(module)));
    Ok(())
}

/// `C_Finalize` after its argument checks.
pub(crate) fn finalize() -> Result<(), CK_RV> {
    let _lifecycle = LIFECYCLE.lock();
    match STATE.load_full() {
        Some(m) if m.in_this_process() => {
            drop(STATE.swap(None));
            m.sessions.clear();
            m.logins.clear();
            tracing::info!("finalized");
            Ok(())
        }
        // Not initialized, or only the parent's module inherited through fork(): the
        // latter must stay untouched.
        _ => Err(CKR_CRYPTOKI_NOT_INITIALIZED),
    }
}

/// Opens the HSM: a client of the configured or discovered server (remote mode), else the
/// configured data directory. Never creates a pool.
fn open_core(config: &Config) -> Result<Core, CK_RV> {
    let failure = |message: String| {
        logging::init_failure(&message);
        CKR_GENERAL_ERROR
    };
    if let Some(endpoint) = config.endpoint().map_err(failure)? {
        let (url, pools) = remote::connect(config, &endpoint).map_err(failure)?;
        let hsm = Hsm::open(HsmConfig::in_memory())
            .map_err(|e| failure(format!("cannot start the local core: {e}")))?;
        return Ok(Core {
            hsm: Some(hsm),
            inherited: false,
            remote_url: Some(url),
            pools,
        });
    }
    let Some(dir) = config.data_dir() else {
        return Err(failure(
            "no data directory: set MHSM_DATA_DIR (or HOME, or data_dir in the config file)".into(),
        ));
    };
    let mut hsm_config = HsmConfig::new(&dir);
    // MHSM_CRYPTO_PROVIDER wins: the core reads it when no provider is set here.
    if let Some(name) = &config.crypto.provider
        && std::env::var_os(hsm_core::crypto::PROVIDER_ENV).is_none_or(|v| v.is_empty())
    {
        hsm_config = hsm_config.provider(
            hsm_core::crypto::provider_by_name(name).map_err(|e| failure(format!("{e}")))?,
        );
    }
    let opened = Hsm::open(hsm_config);
    let hsm = opened.map_err(|e| {
        // SoftHSMv2 answers CKR_GENERAL_ERROR when its store cannot be opened, and
        // C_Initialize may not return CKR_DEVICE_ERROR.
        failure(format!(
            "cannot open the data directory {}: {e}",
            dir.display()
        ))
    })?;
    Ok(Core {
        pools: Arc::new(hsm.clone()),
        hsm: Some(hsm),
        inherited: false,
        remote_url: None,
    })
}
