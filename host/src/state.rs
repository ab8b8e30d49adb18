//! Persistence of the workspace between runs: one state file, versioned and checksummed.
//!
//! Layout: `DEVSHELL-STATE\n`, a little-endian u32 format version, the BLAKE3 hash of the
//! payload, then the payload (postcard). Writes are atomic (temp file in the same directory,
//! fsync, rename). The file is untrusted input (a cloned repository can carry one, and the
//! checksum only catches accidents): every path in it is validated on load, and a corrupt or
//! crafted file, or one in a format this build does not read, is refused by name and left
//! exactly as it is. Owns only the file format; the shell decides when to save.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::sync::SyncManifest;
use crate::vfs::Vfs;

const MAGIC: &[u8] = b"DEVSHELL-STATE\n";
/// Version 4: big files as content hashes into the blob store beside the state file. Version 3
/// (lazy files relative to the staging dir, whose identity the sync manifest records) has the
/// same layout without big files, so it is read as it is.
pub const FORMAT_VERSION: u32 = 4;
const SAME_LAYOUT_SINCE: u32 = 3;
/// Version 2 is read and converted: its lazy files pointed at a staging dir by absolute path,
/// so they are dropped (build output, rebuilt by the next build) with its sync record.
const OLDEST_READABLE: u32 = 2;
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
            "{} was written by a newer devshell (state format {version}, this one reads formats {OLDEST_READABLE} to {FORMAT_VERSION}); upgrade devshell, or {recover}",
            path.display()
        );
    }
    if version < OLDEST_READABLE {
        bail!(
            "{} is in state format {version}, which this devshell does not read (it reads formats {OLDEST_READABLE} to {FORMAT_VERSION}); {recover}",
            path.display()
        );
    }
    let payload = &bytes[header..];
    if blake3::hash(payload).as_bytes() != &bytes[MAGIC.len() + 4..header] {
        bail!("{} is corrupt (checksum mismatch); {recover}", path.display());
    }
    let state =
        decode(version, payload).with_context(|| format!("{} is corrupt or crafted; {recover}", path.display()))?;
    Ok(Some(state))
}

/// Decode and validate one payload of a readable format version.
fn decode(version: u32, payload: &[u8]) -> Result<SavedState> {
    let mut state: SavedState = if version >= SAME_LAYOUT_SINCE {
        postcard::from_bytes(payload).context("cannot decode")?
    } else {
        // Format 2 has the same workspace and directory; its sync record is not carried over.
        let (vfs, cwd): (Vfs, String) = postcard::take_from_bytes(payload).context("cannot decode")?.0;
        let mut state = SavedState { vfs, cwd, sync: SyncManifest::default() };
        state.vfs.forget_lazy_files();
        state
    };
    state.vfs.check().map_err(anyhow::Error::msg)?;
    state.sync.check(state.vfs.generation()).map_err(anyhow::Error::msg)?;
    if !state.vfs.is_dir(&state.cwd) {
        state.cwd = "/".into();
    }
    Ok(state)
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
    // Only now: until the new state is in place, the old one may still refer to them.
    state.vfs.prune_blobs();
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
        bytes[MAGIC.len()] = 0; // a format older than any this build reads
        std::fs::write(&path, &bytes).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("state format 0"));
    }

    /// A payload written with a recomputed checksum, as anyone can.
    fn write_crafted(path: &Path, version: u32, payload: &[u8]) {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&version.to_le_bytes());
        bytes.extend_from_slice(blake3::hash(payload).as_bytes());
        bytes.extend_from_slice(payload);
        std::fs::write(path, bytes).unwrap();
    }

    /// The serialized shape of a workspace, with paths this code would never make.
    #[derive(Serialize)]
    struct RawVfs {
        nodes: Vec<(String, crate::vfs::Node)>,
        tombstones: Vec<(String, u64)>,
        generation: u64,
    }

    #[test]
    fn a_crafted_escaping_path_is_refused_and_the_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let dir_node = crate::vfs::Node { kind: crate::vfs::NodeKind::Dir, mtime_ns: 0, changed: 0 };
        let file = crate::vfs::Node {
            kind: crate::vfs::NodeKind::File {
                content: crate::vfs::Content::Bytes(std::sync::Arc::new(b"pwned".to_vec())),
                executable: false,
            },
            mtime_ns: 0,
            changed: 1,
        };
        let raw = RawVfs {
            nodes: vec![("/".into(), dir_node), ("/../../../../.bashrc".into(), file)],
            tombstones: vec![],
            generation: 1,
        };
        let payload = postcard::to_allocvec(&(raw, "/".to_string(), SyncManifest::default())).unwrap();
        write_crafted(&path, FORMAT_VERSION, &payload);
        let before = std::fs::read(&path).unwrap();
        let error = format!("{:#}", load(&path).unwrap_err());
        assert!(error.contains("/../../../../.bashrc") && error.contains("untouched"), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn format_2_is_converted_without_its_staging_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let mut vfs = Vfs::default();
        vfs.write("/kept", b"source".to_vec()).unwrap();
        let lazy = crate::vfs::NodeKind::File {
            content: crate::vfs::Content::Host { path: "/home/u/.cache/devshell/staging/x/target/app".into(), size: 3 },
            executable: true,
        };
        vfs.put("/target/app", lazy, 1).unwrap();
        // Format 2 ended with a sync record of another shape: whatever follows is ignored.
        let mut payload = postcard::to_allocvec(&(&vfs, "/target")).unwrap();
        payload.extend_from_slice(b"old sync record");
        write_crafted(&path, 2, &payload);
        let state = load(&path).unwrap().unwrap();
        assert_eq!(state.vfs.read("/kept").unwrap(), b"source");
        assert!(!state.vfs.exists("/target/app"), "a lazy file of format 2 points at an absolute path");
        assert!(state.vfs.check().is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        /// Any corruption of a valid payload, checksum recomputed, is refused or yields a
        /// workspace that passes validation; the loader never panics.
        #[test]
        fn corrupted_payloads_are_refused_or_valid(
            flips in proptest::collection::vec((0usize..4096, 0u8..=255), 1..8),
            cut in proptest::option::of(0usize..4096),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state");
            let mut vfs = Vfs::default();
            vfs.mkdir_p("/p/src").unwrap();
            vfs.write("/p/src/main.rs", b"fn main() {}".to_vec()).unwrap();
            vfs.symlink("src/main.rs", "/p/link").unwrap();
            let lazy = crate::vfs::NodeKind::File {
                content: crate::vfs::Content::Host { path: "p/target/app".into(), size: 3 },
                executable: true,
            };
            vfs.put("/p/target/app", lazy, 1).unwrap();
            let mut payload = postcard::to_allocvec(&StateRef { vfs: &vfs, cwd: "/p", sync: &SyncManifest::default() }).unwrap();
            for (at, value) in flips {
                let at = at % payload.len();
                payload[at] = value;
            }
            if let Some(cut) = cut {
                payload.truncate(cut % (payload.len() + 1));
            }
            write_crafted(&path, FORMAT_VERSION, &payload);
            if let Ok(Some(state)) = load(&path) {
                proptest::prop_assert!(state.vfs.check().is_ok());
                proptest::prop_assert!(state.sync.check(state.vfs.generation()).is_ok());
                proptest::prop_assert!(state.vfs.is_dir(&state.cwd));
            }
        }
    }
}
