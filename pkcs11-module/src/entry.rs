//! The one shape of every exported `C_*` function.
//!
//! [`cryptoki_fn!`] declares a function of the C ABI; its body is a closure returning
//! `Result<(), CK_RV>`. Around it, [`run`] does the same for every function: the initialized
//! and fork checks (for functions declared `with module`), catching panics
//! (`CKR_GENERAL_ERROR`, never unwinding into C) and one log line with the result.
//!
//! ```ignore
//! cryptoki_fn! {
//!     /// C_GetSessionInfo: ...
//!     pub fn C_GetSessionInfo(h: CK_SESSION_HANDLE, info: CK_SESSION_INFO_PTR) with module {
//!         let session = module.sessions.get(h)?;
//!         // SAFETY: `info` is C_GetSessionInfo's `pInfo`, NULL or writable for a
//!         // CK_SESSION_INFO by the PKCS#11 caller's contract.
//!         unsafe { ptr::write(info, session.info()) }
//!     }
//! }
//! ```
//! `pub fn` exports the symbol (`#[unsafe(no_mangle)]`); a plain `fn` is only reachable
//! through a function table. `with NAME` binds the initialized [`Module`] to `NAME` (and
//! answers `CKR_CRYPTOKI_NOT_INITIALIZED` without one, or in a forked child that has not
//! initialized again); `with NAME, ARG` also replaces the session handle argument `ARG` with
//! its `&Session` (`CKR_SESSION_HANDLE_INVALID` for an unknown handle, [`with_session`]);
//! `always` runs without it (`C_Initialize`, `C_GetFunctionList`, ...).
//!
//! ## Why `unsafe extern "C"`
//! Every function is declared `unsafe extern "C" fn`, with a `# Safety` section naming the
//! PKCS#11 caller's contract (each pointer NULL or valid for what the function reads or
//! writes). The other way to keep them out of safe Rust, private modules, would be weaker:
//! inside the crate any code could still call a safe `extern "C" fn` with a dangling
//! pointer, and the exported symbol stays reachable through an `extern` block anyway. With
//! `unsafe fn` the contract travels with the type: every Rust caller (the tests, the
//! function tables) needs an `unsafe` block, and C sees the same ABI (the tables' entries
//! are `Option<unsafe extern "C" fn ...>` in cryptoki-sys). The body is not an unsafe
//! context (`deny(unsafe_op_in_unsafe_fn)`): each dereference goes through an `unsafe fn`
//! of [`crate::ptr`] in its own `unsafe` block, whose `// SAFETY:` comment names the
//! argument and the contract it meets.
//!
//! Calling one from safe Rust does not compile:
//! ```compile_fail,E0133
//! let _ = mhsm_pkcs11::general::C_Finalize(std::ptr::null_mut());
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};

use cryptoki_sys::{
    CK_RV, CK_SESSION_HANDLE, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_GENERAL_ERROR, CKR_OK,
};

use crate::error::rv_name;
use crate::state::sessions::Session;
use crate::state::{self, Module};

/// Declares a PKCS#11 function with the module's one entry shape; see the module docs.
macro_rules! cryptoki_fn {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $($rest:tt)+) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The PKCS#11 caller's contract for this function: each pointer argument is NULL or
        /// valid for what the specification says the function reads or writes, and stays so
        /// for the call.
        // The C name; `no_mangle` makes it the C symbol; `unsafe` blocks in the body hand
        // the caller's pointers to `crate::ptr`.
        #[allow(non_snake_case, unsafe_code)]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> cryptoki_sys::CK_RV {
            $crate::entry::cryptoki_fn!(@body $name $($rest)+)
        }
    };
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $($rest:tt)+) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As the exported functions: the PKCS#11 caller's contract for this function.
        #[allow(non_snake_case, unsafe_code)]
        pub(crate) unsafe extern "C" fn $name($($arg: $ty),*) -> cryptoki_sys::CK_RV {
            $crate::entry::cryptoki_fn!(@body $name $($rest)+)
        }
    };
    (@body $name:ident with $module:ident $body:block) => {
        $crate::entry::run(stringify!($name), || {
            $crate::entry::with_module(|$module: &$crate::state::Module| $body)
        })
    };
    (@body $name:ident with $module:ident, $session:ident $body:block) => {
        $crate::entry::run(stringify!($name), || {
            $crate::entry::with_session(
                $session,
                // Many bodies need only the session.
                |#[allow(unused_variables)] $module: &$crate::state::Module,
                 $session: &$crate::state::sessions::Session| $body,
            )
        })
    };
    (@body $name:ident always $body:block) => {
        $crate::entry::run(stringify!($name), || $body)
    };
}

/// Declares functions this increment does not implement: after the initialized check they
/// answer `CKR_FUNCTION_NOT_SUPPORTED`.
macro_rules! not_supported {
    ($($name:ident($($arg:ident: $ty:ty),* $(,)?);)+) => {
        $(
            $crate::entry::cryptoki_fn! {
                #[doc = concat!("`", stringify!($name), "`: not supported yet (`CKR_FUNCTION_NOT_SUPPORTED`).")]
                #[allow(unused_variables)]
                pub fn $name($($arg: $ty),*) with _module {
                    Err(cryptoki_sys::CKR_FUNCTION_NOT_SUPPORTED)
                }
            }
        )+
    };
}

pub(crate) use {cryptoki_fn, not_supported};

/// Runs one call in its span (the function; the session, recorded when the call looks its
/// session up; the pool, key and version of a key operation, recorded by
/// `BoundKey::record_in_span`; never an argument that could be secret): catches panics, maps
/// the result to a `CK_RV`, logs it. Without a `debug` subscriber no span is made at all
/// (with `tracing`'s `log` feature, which a workspace build turns on, even a disabled span
/// nearly doubles the fixed cost of a call).
pub(crate) fn run(function: &'static str, f: impl FnOnce() -> Result<(), CK_RV>) -> CK_RV {
    if !spans_on() {
        return guarded(function, f);
    }
    let span = tracing::debug_span!(
        "pkcs11",
        function,
        session = tracing::field::Empty,
        pool = tracing::field::Empty,
        key = tracing::field::Empty,
        version = tracing::field::Empty,
    );
    let _entered = span.enter();
    let rv = guarded(function, f);
    tracing::debug!(rv = rv_name(rv), "call");
    rv
}

/// Runs `f`, catching a panic (`CKR_GENERAL_ERROR`, logged).
fn guarded(function: &'static str, f: impl FnOnce() -> Result<(), CK_RV>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(rv)) => rv,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(function, panic = %what, "panic caught at the C boundary");
            CKR_GENERAL_ERROR
        }
    }
}

/// Whether the calls' spans record anything (a `debug` subscriber is installed): without
/// one, fields are not looked up or recorded at all (one relaxed load; a call takes the
/// current span up to three times).
#[inline]
pub(crate) fn spans_on() -> bool {
    tracing::level_enabled!(tracing::Level::DEBUG)
}

/// Runs `f` on the initialized module of this process: `CKR_CRYPTOKI_NOT_INITIALIZED` when
/// there is none, or when the one there was inherited through `fork()` (the child must call
/// `C_Initialize` itself). Taking the module writes no memory shared with other threads
/// (`ArcSwap`'s per-thread slots), unlike an `Arc` clone, whose shared counter two threads
/// calling at once would pass back and forth.
pub(crate) fn with_module(f: impl FnOnce(&Module) -> Result<(), CK_RV>) -> Result<(), CK_RV> {
    match state::current().as_deref() {
        Some(m) if m.in_this_process() => f(m),
        _ => Err(CKR_CRYPTOKI_NOT_INITIALIZED),
    }
}

/// Runs `f` on the session `handle` of the initialized module (as [`with_module`], then
/// `CKR_SESSION_HANDLE_INVALID` for a handle it does not have; see `SessionTable::get`).
///
/// A session holds no reference to its module (which would save the module's load, a few
/// nanoseconds per call, at the price of a module–session cycle that only the table's
/// close paths break, and a shared counter written at every open and close).
pub(crate) fn with_session(
    handle: CK_SESSION_HANDLE,
    f: impl FnOnce(&Module, &Session) -> Result<(), CK_RV>,
) -> Result<(), CK_RV> {
    with_module(|module| {
        let session = module.sessions.get(handle)?;
        f(module, &session)
    })
}
