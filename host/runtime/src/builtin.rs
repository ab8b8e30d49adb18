//! The backends compiled into the binary, and paths of the test-only components.

use super::PluginSource;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
}

/// Path of the `faulty` test component (traps, spins, hogs memory). Not embedded.
#[doc(hidden)]
pub use generated::FAULTY_PATH;
/// Path of the `hostile` test component (climbing symlinks, special files, huge and deep trees in
/// the staging dir). Not embedded.
#[doc(hidden)]
pub use generated::HOSTILE_PATH;
/// Paths of the built-in components on disk, for tests and benchmarks that load from a file.
#[doc(hidden)]
pub use generated::{HOST_SANDBOX_PATH, MOCK_PATH};

/// Every built-in backend, by name.
pub fn all() -> impl Iterator<Item = PluginSource> {
    generated::EMBEDDED.iter().map(|(name, bytes)| PluginSource::Builtin { name, bytes })
}

pub fn find(name: &str) -> Option<PluginSource> {
    all().find(|source| matches!(source, PluginSource::Builtin { name: n, .. } if *n == name))
}
