//! Persistence of the workspace between runs: one state file, versioned and checksummed.
//!
//! Layout: `DEVSHELL-STATE\n`, a little-endian u32 format version, the BLAKE3 hash of the
//! payload, then the payload (postcard). Writes are atomic (temp file in the same directory,
//! fsync, rename). A corrupt file, or one written by a newer devshell, is refused and left
//! exactly as it is. Owns only the file format; the shell decides when to save.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::sync::SyncManifest;
use crate::vfs::Vfs;

const MAGIC: &[u8] = b"DEVSHELL-STATE\n";
pub const FORMAT_VERSION: u32 = 2;
/// Default file name, in the directory devshell was started in.
pub const DEFAULT_FILE: &str = ".devshell-state";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SavedState {
    pub vfs: Vfs,
    pub cwd: String,
    /// The Mode S sync manifest of the host-sandbox staging dir, so a restart syncs incrementally.
    pub sync: SyncManifest,
}

/// Load the state file; `Ok(None)` when it does not exist yet.
pub fn load(path: &Path) -> Result<Option<SavedState>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read state file {}", path.display())),
    };
    let recover = format!(
        "the file was left untouched; move it aside (mv {0} {0}.bad) to start with an empty workspace, or use --state PATH",
        path.display()
    );
    let header = MAGIC.len() + 4 + 32;
    if bytes.len() < header || !bytes.starts_with(MAGIC) {
        bail!("{} is not a devshell state file (bad header); {recover}", path.display());
    }
    let version = u32::from_le_bytes(bytes[MAGIC.len()..MAGIC.len() + 4].try_into().unwrap());
    if version > FORMAT_VERSION {
        bail!(
            "{} was written by a newer devshell (state format {version}, this one reads up to {FORMAT_VERSION}); upgrade devshell, or {recover}",
            path.display()
        );
    }
    let payload = &bytes[header..];
    if blake3::hash(payload).as_bytes() != &bytes[MAGIC.len() + 4..header] {
        bail!("{} is corrupt (checksum mismatch); {recover}", path.display());
    }
    let state = postcard::from_bytes(payload)
        .with_context(|| format!("{} is corrupt (cannot decode); {recover}", path.display()))?;
    Ok(Some(state))
}

/// The same fields as [`SavedState`], borrowed, so saving needs no copy of the workspace.
#[derive(Serialize)]
pub struct StateRef<'a> {
    pub vfs: &'a Vfs,
    pub cwd: &'a str,
    pub sync: &'a SyncManifest,
}

/// Write the state atomically: readers see the old file or the new one, never a mix.
pub fn save(path: &Path, state: &StateRef<'_>) -> Result<()> {
    let payload = postcard::to_allocvec(state).context("cannot encode the workspace")?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // A recognisable name: a write killed midway leaves `.devshell-state.tmp…`, not an anonymous
    // `.tmp…`, in the user's directory.
    let mut file = tempfile::Builder::new()
        .prefix(".devshell-state.tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temp file in {}", dir.display()))?;
    file.write_all(MAGIC)?;
    file.write_all(&FORMAT_VERSION.to_le_bytes())?;
    file.write_all(blake3::hash(&payload).as_bytes())?;
    file.write_all(&payload)?;
    file.as_file().sync_all()?;
    file.persist(path).with_context(|| format!("cannot replace {}", path.display()))?;
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// The state file to use: `--state`, then `DEVSHELL_STATE`, then `.devshell-state` here.
pub fn resolve_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("DEVSHELL_STATE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals_leave_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        assert!(load(&path).unwrap().is_none());
        let mut state = SavedState { cwd: "/p".into(), ..Default::default() };
        state.vfs.mkdir_p("/p").unwrap();
        state.vfs.write("/p/f", b"hello".to_vec()).unwrap();
        save(&path, &StateRef { vfs: &state.vfs, cwd: &state.cwd, sync: &state.sync }).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(loaded.cwd, "/p");
        assert_eq!(loaded.vfs.read("/p/f").unwrap(), b"hello");

        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let error = load(&path).unwrap_err().to_string();
        assert!(error.contains("checksum") && error.contains("untouched"), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);

        bytes[MAGIC.len()] = 99; // a future format version
        std::fs::write(&path, &bytes).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("newer devshell"));
    }
}
