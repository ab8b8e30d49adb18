//! Filesystem operations confined beneath one open directory, never following a symlink.
//!
//! Owns the only way the host touches a directory that something else can write at any moment
//! (a backend's staging dir, an `export` target): every path is resolved from the directory's
//! handle with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` (or, on kernels without it, one
//! `O_NOFOLLOW` component at a time), so a symlink swapped into any component, at any moment,
//! makes the operation fail instead of redirecting it. Special files (FIFOs, sockets, devices)
//! are never opened for reading: opens are non-blocking and checked with `fstat` first. Knows
//! nothing of the workspace or of sync: paths here are relative, `/`-separated strings.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// What a path is, as seen without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device: never opened.
    Special,
}

/// `lstat` of one entry, in the terms sync needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub size: u64,
    pub mtime_ns: i128,
    pub ino: u64,
    pub dev: u64,
    pub executable: bool,
}

impl Meta {
    fn of(stat: &rustix::fs::Stat) -> Meta {
        let kind = match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Special,
        };
        Meta {
            kind,
            size: if kind == Kind::Dir { 0 } else { stat.st_size as u64 },
            mtime_ns: i128::from(stat.st_mtime) * 1_000_000_000 + i128::from(stat.st_mtime_nsec),
            ino: stat.st_ino,
            dev: stat.st_dev,
            executable: kind == Kind::File && stat.st_mode & 0o111 != 0,
        }
    }
}

/// Why a bounded read did not return the file's bytes.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not a regular file (a {0:?}); not read")]
    NotRegular(Kind),
    #[error("{size} bytes, more than the {limit}-byte limit for reading into memory")]
    TooBig { size: u64, limit: u64 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A directory handle; every operation resolves beneath it.
#[derive(Debug)]
pub struct Beneath {
    fd: OwnedFd,
    path: PathBuf,
}

/// Set once the kernel has said it has no `openat2` (before Linux 5.6).
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

fn resolve_flags() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS
}

fn io(errno: Errno) -> std::io::Error {
    errno.into()
}

/// Split `relative` into its parent and last component (`""` parent for a top-level name).
fn split(relative: &str) -> (&str, &str) {
    match relative.rfind('/') {
        Some(i) => (&relative[..i], &relative[i + 1..]),
        None => ("", relative),
    }
}

impl Beneath {
    /// Open `path` as the confining root. Its own last component must not be a symlink (the
    /// components above it are the caller's to trust).
    pub fn open(path: &Path) -> std::io::Result<Beneath> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        Ok(Beneath { fd, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root's own descriptor.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The root's own metadata (its identity: device and inode).
    pub fn root_meta(&self) -> std::io::Result<Meta> {
        rustix::fs::fstat(&self.fd).map(|s| Meta::of(&s)).map_err(io)
    }

    /// Open `relative` (`""` is the root itself) without following any symlink.
    fn open_at(&self, relative: &str, flags: OFlags, mode: Mode) -> std::io::Result<OwnedFd> {
        let flags = flags | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let relative = if relative.is_empty() { "." } else { relative };
        if !NO_OPENAT2.load(Ordering::Relaxed) {
            loop {
                match rustix::fs::openat2(&self.fd, relative, flags, mode, resolve_flags()) {
                    // A rename elsewhere raced the lookup: the kernel asks us to retry.
                    Err(Errno::AGAIN) => continue,
                    Err(Errno::NOSYS) => {
                        NO_OPENAT2.store(true, Ordering::Relaxed);
                        break;
                    }
                    // Escaping or meeting a symlink: report it as the symlink it is.
                    Err(Errno::XDEV) => return Err(io(Errno::LOOP)),
                    other => return other.map_err(io),
                }
            }
        }
        self.open_by_components(relative, flags, mode)
    }

    /// The portable fallback: one `openat(O_NOFOLLOW)` per component.
    fn open_by_components(&self, relative: &str, flags: OFlags, mode: Mode) -> std::io::Result<OwnedFd> {
        let (parent, name) = split(relative);
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut dir: Option<OwnedFd> = None;
        for component in parent.split('/').filter(|c| !c.is_empty()) {
            if component == ".." {
                return Err(io(Errno::LOOP));
            }
            let at = dir.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
            dir = Some(rustix::fs::openat(at, component, dir_flags, Mode::empty()).map_err(io)?);
        }
        if name == ".." {
            return Err(io(Errno::LOOP));
        }
        let at = dir.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
        rustix::fs::openat(at, name, flags, mode).map_err(io)
    }

    /// Open a directory beneath the root.
    pub fn open_dir(&self, relative: &str) -> std::io::Result<OwnedFd> {
        self.open_at(relative, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
    }

    /// Metadata of `relative` itself (a symlink is reported as one), through its parent's handle.
    pub fn lstat(&self, relative: &str) -> std::io::Result<Meta> {
        if relative.is_empty() {
            return self.root_meta();
        }
        let (parent, name) = split(relative);
        let dir = self.open_dir(parent)?;
        rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).map(|s| Meta::of(&s)).map_err(io)
    }

    /// The entries of a directory: names as raw bytes with their metadata.
    pub fn list(&self, relative: &str) -> std::io::Result<Vec<(Vec<u8>, std::io::Result<Meta>)>> {
        let dir = self.open_dir(relative)?;
        let mut entries = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let meta = rustix::fs::statat(&dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW).map(|s| Meta::of(&s));
            entries.push((name.to_vec(), meta.map_err(io)));
        }
        Ok(entries)
    }

    /// Read a regular file of at most `limit` bytes. A FIFO, socket or device is never opened
    /// for reading in a way that could block or stream forever.
    pub fn read_file(&self, relative: &str, limit: u64) -> Result<(Vec<u8>, Meta), ReadError> {
        let fd = self.open_at(relative, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())?;
        let meta = Meta::of(&rustix::fs::fstat(&fd).map_err(io)?);
        if meta.kind != Kind::File {
            return Err(ReadError::NotRegular(meta.kind));
        }
        if meta.size > limit {
            return Err(ReadError::TooBig { size: meta.size, limit });
        }
        let mut data = Vec::with_capacity(meta.size as usize);
        // Bounded even if the file grows while we read it.
        File::from(fd).take(limit + 1).read_to_end(&mut data)?;
        if data.len() as u64 > limit {
            return Err(ReadError::TooBig { size: data.len() as u64, limit });
        }
        Ok((data, meta))
    }

    /// A symlink's target, as text.
    pub fn read_link(&self, relative: &str) -> std::io::Result<String> {
        let (parent, name) = split(relative);
        let dir = self.open_dir(parent)?;
        let target = rustix::fs::readlinkat(&dir, name, Vec::new()).map_err(io)?;
        target.into_string().map_err(|_| std::io::Error::other("symlink target is not UTF-8"))
    }

    /// Make `relative` a directory, creating missing parents and replacing whatever non-directory
    /// is in the way (a symlink is removed, never followed). Returns the shallowest path that
    /// was replaced, so the caller knows what the staging dir held below it is gone.
    pub fn ensure_dir(&self, relative: &str) -> std::io::Result<Option<String>> {
        let mut replaced = None;
        let mut current = String::new();
        for component in relative.split('/').filter(|c| !c.is_empty()) {
            let parent = self.open_dir(&current)?;
            match rustix::fs::statat(&parent, component, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {}
                Ok(_) => {
                    rustix::fs::unlinkat(&parent, component, AtFlags::empty()).map_err(io)?;
                    rustix::fs::mkdirat(&parent, component, Mode::from_raw_mode(0o755)).map_err(io)?;
                    let path =
                        if current.is_empty() { component.to_string() } else { format!("{current}/{component}") };
                    replaced.get_or_insert(path);
                }
                Err(Errno::NOENT) => rustix::fs::mkdirat(&parent, component, Mode::from_raw_mode(0o755)).map_err(io)?,
                Err(e) => return Err(io(e)),
            }
            if !current.is_empty() {
                current.push('/');
            }
            current.push_str(component);
        }
        Ok(replaced)
    }

    /// Write a file from scratch with its executable bit and mtime: into a new temp file beside
    /// it, then renamed over whatever is there. A symlink, FIFO, hard link or directory in the way
    /// is replaced, never written through or opened, and a failure leaves the old file whole.
    /// Returns the new file's metadata and the parent path that had to be replaced, if any.
    pub fn write_file(
        &self,
        relative: &str,
        data: &mut dyn std::io::Read,
        executable: bool,
        mtime_ns: u64,
    ) -> std::io::Result<(Meta, Option<String>)> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let (parent, name) = split(relative);
        let mut replaced_parent = None;
        let dir = match self.open_dir(parent) {
            Ok(dir) => dir,
            Err(_) => {
                replaced_parent = self.ensure_dir(parent)?;
                self.open_dir(parent)?
            }
        };
        let temp = format!(".devshell-tmp-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(if executable { 0o755 } else { 0o644 });
        let fd = rustix::fs::openat(&dir, temp.as_str(), flags, mode).map_err(io)?;
        let written = (|| -> std::io::Result<Meta> {
            let mut file = File::from(fd);
            std::io::copy(data, &mut file)?;
            // The mode asked for at creation is cut by the umask; set it exactly.
            let current = file.metadata()?.permissions().mode();
            let wanted = if executable { current | 0o111 } else { current & !0o111 };
            if wanted != current {
                file.set_permissions(std::fs::Permissions::from_mode(wanted))?;
            }
            file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(mtime_ns))?;
            let meta = Meta::of(&rustix::fs::fstat(&file).map_err(io)?);
            match rustix::fs::renameat(&dir, temp.as_str(), &dir, name) {
                // A directory in the way: it goes, then the file takes its place.
                Err(Errno::ISDIR | Errno::NOTEMPTY | Errno::EXIST) => {
                    remove_entry(&dir, OsStr::from_bytes(name.as_bytes()))?;
                    rustix::fs::renameat(&dir, temp.as_str(), &dir, name).map_err(io)?
                }
                other => other.map_err(io)?,
            }
            Ok(meta)
        })();
        if written.is_err() {
            let _ = rustix::fs::unlinkat(&dir, temp.as_str(), AtFlags::empty());
        }
        Ok((written?, replaced_parent))
    }

    /// Make `relative` a symlink to `target`, replacing what is there (and, like
    /// [`Beneath::write_file`], returning the parent path that had to be replaced).
    pub fn symlink(&self, relative: &str, target: &str) -> std::io::Result<(Meta, Option<String>)> {
        let (parent, name) = split(relative);
        let replaced = self.ensure_dir(parent)?;
        if self.lstat(relative).is_ok() {
            self.remove(relative)?;
        }
        let dir = self.open_dir(parent)?;
        rustix::fs::symlinkat(target, &dir, name).map_err(io)?;
        Ok((self.lstat(relative)?, replaced))
    }

    /// Rename within the root (both ends resolved beneath it).
    pub fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        let (from_parent, from_name) = split(from);
        let (to_parent, to_name) = split(to);
        let from_dir = self.open_dir(from_parent)?;
        let to_dir = self.open_dir(to_parent)?;
        rustix::fs::renameat(&from_dir, from_name, &to_dir, to_name).map_err(io)
    }

    /// Remove `relative` and, for a directory, everything in it; symlinks are removed, never
    /// followed. Missing is fine.
    pub fn remove(&self, relative: &str) -> std::io::Result<()> {
        if relative.is_empty() {
            return Err(std::io::Error::other("refusing to remove the root itself"));
        }
        let (parent, name) = split(relative);
        let dir = match self.open_dir(parent) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        remove_entry(&dir, OsStr::from_bytes(name.as_bytes()))
    }
}

/// Remove `name` inside the open directory `dir`, depth first, through handles only.
fn remove_entry(dir: &OwnedFd, name: &OsStr) -> std::io::Result<()> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(io(e)),
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let inner = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(io)?;
            let names: Vec<Vec<u8>> = rustix::fs::Dir::read_from(&inner)
                .map_err(io)?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_bytes().to_vec())
                .filter(|n| n != b"." && n != b"..")
                .collect();
            for child in names {
                remove_entry(&inner, OsStr::from_bytes(&child))?;
            }
            rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(io)
        }
        Ok(_) => rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(io),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Beneath, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"canary").unwrap();
        let beneath = Beneath::open(&root).unwrap();
        (dir, beneath, outside)
    }

    #[test]
    fn a_symlinked_component_redirects_nothing() {
        let (_dir, root, outside) = setup();
        std::os::unix::fs::symlink("../outside", root.path().join("d")).unwrap();
        std::os::unix::fs::symlink("../outside/secret", root.path().join("f")).unwrap();
        assert!(root.read_file("d/secret", 1 << 20).is_err(), "read through a symlinked dir");
        assert!(root.read_file("f", 1 << 20).is_err(), "read through a symlinked file");
        // Writes replace the symlink with a real directory/file instead of writing through.
        let (_, replaced) = root.write_file("d/secret", &mut &b"mine"[..], false, 0).unwrap();
        assert_eq!(replaced.as_deref(), Some("d"));
        root.write_file("f", &mut &b"mine"[..], false, 0).unwrap();
        // A hard link to an outside file is replaced, not written through.
        std::fs::hard_link(outside.join("secret"), root.path().join("hard")).unwrap();
        root.write_file("hard", &mut &b"mine"[..], false, 0).unwrap();
        root.remove("d").unwrap();
        assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"canary");
        assert!(std::fs::symlink_metadata(root.path().join("f")).unwrap().is_file());
    }

    #[test]
    fn removing_a_symlink_to_a_tree_leaves_the_tree() {
        let (_dir, root, outside) = setup();
        std::os::unix::fs::symlink("../outside", root.path().join("link")).unwrap();
        root.ensure_dir("real/sub").unwrap();
        std::os::unix::fs::symlink("../../outside", root.path().join("real/sub/up")).unwrap();
        root.remove("link").unwrap();
        root.remove("real").unwrap();
        assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"canary");
        assert!(!root.path().join("real").exists());
    }

    #[test]
    fn special_files_are_not_read_and_sizes_are_bounded() {
        let (_dir, root, _) = setup();
        let fifo = root.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        assert!(matches!(root.read_file("fifo", 10), Err(ReadError::NotRegular(Kind::Special))));
        assert_eq!(root.lstat("fifo").unwrap().kind, Kind::Special);
        // Writing where a FIFO is replaces it without opening it (which would block).
        root.write_file("fifo", &mut &b"data"[..], false, 0).unwrap();
        assert_eq!(root.read_file("fifo", 10).unwrap().0, b"data");
        root.write_file("big", &mut &[0u8; 100][..], false, 0).unwrap();
        assert!(matches!(root.read_file("big", 99), Err(ReadError::TooBig { size: 100, limit: 99 })));
        assert_eq!(root.read_file("big", 100).unwrap().0.len(), 100);
    }

    #[test]
    fn the_component_fallback_refuses_symlinks_too() {
        let (_dir, root, _) = setup();
        std::os::unix::fs::symlink("../outside", root.path().join("d")).unwrap();
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        assert!(root.open_by_components("d/secret", flags, Mode::empty()).is_err());
        assert!(root.open_by_components("../outside/secret", flags, Mode::empty()).is_err());
        root.write_file("x/y", &mut &b"ok"[..], false, 0).unwrap();
        assert!(root.open_by_components("x/y", flags, Mode::empty()).is_ok());
    }
}
