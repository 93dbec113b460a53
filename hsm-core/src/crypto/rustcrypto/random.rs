//! The system random generator (the OS CSPRNG through `getrandom`).

use crate::error::{Error, Result};

/// The generator handed to the RustCrypto crates (key generation, blinding, salts, nonces).
pub use getrandom::SysRng;

/// Fills `out` with random bytes from the operating system.
pub fn fill(out: &mut [u8]) -> Result<()> {
    getrandom::fill(out).map_err(|_| Error::RandomFailure)
}

/// `len` random bytes.
pub fn bytes(len: usize) -> Result<Vec<u8>> {
    let mut out = vec![0; len];
    fill(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_random() {
        let a = bytes(16).unwrap();
        let b = bytes(16).unwrap();
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert!(bytes(0).unwrap().is_empty());
    }
}
