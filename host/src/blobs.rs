//! Big workspace files, kept out of memory and out of the state file's single blob: each is an
//! immutable file named by the BLAKE3 hash of its content in a directory beside the state file
//! (`STATE.blobs/`), and the workspace holds only the hash and the size. So `cargo run >
//! big.log` costs disk, not memory, and a save writes what changed, not the gigabyte again.
//!
//! Owns that directory. Knows nothing of the shell or sync; the workspace (`vfs`) decides
//! which files live here (those above the threshold) and the state's save prunes what no
//! workspace refers to any more ([`BlobStore::retain`]).

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct BlobStore {
    dir: PathBuf,
    threshold: u64,
}

/// True for what [`BlobStore::store`] names files: 64 lowercase hex digits (a crafted state
/// file can name nothing else, so never a path).
pub fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl BlobStore {
    /// The store beside `state` (`STATE.blobs`); files above `threshold` bytes go there.
    pub fn beside(state: &Path, threshold: u64) -> BlobStore {
        let mut dir = state.as_os_str().to_owned();
        dir.push(".blobs");
        BlobStore { dir: PathBuf::from(dir), threshold }
    }

    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// Keep everything `reader` yields; returns its hash and size. Written to a temp file and
    /// renamed, so a blob is whole or absent.
    pub fn store(&self, reader: &mut dyn Read) -> std::io::Result<(String, u64)> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir)?;
        self.check_dir()?;
        let mut temp = tempfile::Builder::new().prefix(".incoming").tempfile_in(&self.dir)?;
        let mut hasher = blake3::Hasher::new();
        let mut chunk = vec![0; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&chunk[..n]);
            temp.write_all(&chunk[..n])?;
            size += n as u64;
        }
        let hash = hasher.finalize().to_hex().to_string();
        temp.persist(self.dir.join(&hash)).map_err(|e| e.error)?;
        Ok((hash, size))
    }

    /// The blob named `hash`: a regular file of the store, never reached through a symlink
    /// (a cloned repository can carry the store, and a planted link would read a host file).
    pub fn open(&self, hash: &str) -> std::io::Result<File> {
        if !valid_hash(hash) {
            return Err(std::io::Error::other(format!("{hash:?} is not a blob name")));
        }
        self.check_dir()?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(self.dir.join(hash))?;
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::other(format!("{hash} in {} is not a regular file", self.dir.display())));
        }
        Ok(file)
    }

    /// Remove every blob not in `live` (and temp files a killed write left behind); nothing
    /// else, and nothing at all when the store is not a real directory of its own.
    pub fn retain(&self, live: &HashSet<&str>) {
        if self.check_dir().is_err() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(String::from) else { continue };
            let ours = valid_hash(&name) || name.starts_with(".incoming");
            if ours && !live.contains(name.as_str()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// The store must be a directory itself, not a symlink to one: a cloned repository could
    /// point it at the user's home, whose files a prune would then delete.
    fn check_dir(&self) -> std::io::Result<()> {
        match std::fs::symlink_metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(std::io::Error::other(format!(
                "{} is not a directory (a symlink?); move it aside to keep big files again",
                self.dir.display()
            ))),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_content_and_prunes_what_is_not_live() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::beside(&dir.path().join("state"), 10);
        let (hash, size) = store.store(&mut &b"hello world"[..]).unwrap();
        assert!(valid_hash(&hash));
        assert_eq!(size, 11);
        let mut back = String::new();
        store.open(&hash).unwrap().read_to_string(&mut back).unwrap();
        assert_eq!(back, "hello world");
        assert!(store.open("../state").is_err(), "a crafted name is never a path");
        let (other, _) = store.store(&mut &b"other"[..]).unwrap();
        std::fs::write(dir.path().join("state.blobs/notes"), "not a blob").unwrap();
        store.retain(&HashSet::from([hash.as_str()]));
        assert!(store.open(&hash).is_ok());
        assert!(store.open(&other).is_err());
        assert!(dir.path().join("state.blobs/notes").exists(), "a prune removes blobs only");
    }

    #[test]
    fn a_planted_symlink_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let canary = "a".repeat(64);
        std::fs::write(home.join(&canary), "secret").unwrap();
        // The store itself a link to the user's home: nothing read, nothing pruned, nothing stored.
        std::os::unix::fs::symlink(&home, dir.path().join("state.blobs")).unwrap();
        let store = BlobStore::beside(&dir.path().join("state"), 10);
        assert!(store.open(&canary).is_err());
        store.retain(&HashSet::new());
        assert!(store.store(&mut &b"data"[..]).is_err());
        assert_eq!(std::fs::read_to_string(home.join(&canary)).unwrap(), "secret");
        assert_eq!(std::fs::read_dir(&home).unwrap().count(), 1);
        // A blob that is a link to a host file.
        let other = BlobStore::beside(&dir.path().join("other"), 10);
        std::fs::create_dir(dir.path().join("other.blobs")).unwrap();
        std::os::unix::fs::symlink(home.join(&canary), dir.path().join("other.blobs").join(&canary)).unwrap();
        assert!(other.open(&canary).is_err());
    }
}
