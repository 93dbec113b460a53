//! Random numbers: `C_GenerateRandom` from the core's generator (`Hsm::random`);
//! `C_SeedRandom` is refused, as the generator takes no seed.

use cryptoki_sys::*;
use hsm_core::hsm::MAX_RANDOM;

use crate::entry::cryptoki_fn;
use crate::error::CoreResult;
use crate::ptr;

cryptoki_fn! {
    /// `C_GenerateRandom`: any length (asked of the core in chunks of at most 1 MiB).
    pub fn C_GenerateRandom(session: CK_SESSION_HANDLE, out: CK_BYTE_PTR, len: CK_ULONG) with module {
        module.sessions.get(session)?;
        let hsm = module.core.hsm();
        // SAFETY: `pRandomData` is NULL or writable for `ulRandomLen` bytes (caller's
        // contract for C_GenerateRandom).
        unsafe { ptr::fill_exact(out, len, |buffer| {
            for chunk in buffer.chunks_mut(MAX_RANDOM) {
                chunk.copy_from_slice(&hsm.random(chunk.len()).ck()?);
            }
            Ok(())
        }) }
    }
}

cryptoki_fn! {
    /// `C_SeedRandom`: `CKR_RANDOM_SEED_NOT_SUPPORTED` (the system generator needs no seed).
    pub fn C_SeedRandom(session: CK_SESSION_HANDLE, seed: CK_BYTE_PTR, len: CK_ULONG) with module {
        module.sessions.get(session)?;
        // SAFETY: `pSeed` is NULL or `ulSeedLen` readable bytes (caller's contract).
        unsafe { ptr::slice(seed, len) }?;
        Err(CKR_RANDOM_SEED_NOT_SUPPORTED)
    }
}
