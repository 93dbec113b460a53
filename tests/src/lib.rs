//! Shared helpers for mhsm's cross-crate tests.

use std::path::PathBuf;

/// The Python of the venv with the Azure SDK (`MHSM_PYTHON`, else `target/pyenv`, which
/// `./scripts/test-all` makes).
pub fn python() -> PathBuf {
    let from_env = std::env::var_os("MHSM_PYTHON").map(PathBuf::from);
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyenv/bin/python");
    let python = from_env.unwrap_or(default);
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/test-all, which creates the venv with the Azure SDK",
        python.display()
    );
    python
}
