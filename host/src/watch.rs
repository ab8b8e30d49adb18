//! Watching the staging dir while tools run, so a pull can look only at what changed.
//!
//! Owns one inotify instance with a watch per staging directory. It answers one question —
//! which paths changed since the last drain — or says it cannot tell (queue overflow, a watch
//! that could not be added), and then the caller falls back to a full walk. It never decides
//! what a change means: that is `sync`'s job.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

pub struct Watcher {
    inotify: Inotify,
    root: PathBuf,
    dirs: HashMap<WatchDescriptor, String>,
    /// The same directories by path: a directory removed and made again is not watched until
    /// someone watches it anew.
    watched: HashSet<String>,
    /// Set when events may have been lost; the next `changed` returns `None`.
    blind: bool,
    buffer: Vec<u8>,
}

fn mask() -> WatchMask {
    WatchMask::MODIFY
        | WatchMask::ATTRIB
        | WatchMask::CLOSE_WRITE
        | WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF
        | WatchMask::MOVED_FROM
        | WatchMask::MOVED_TO
        | WatchMask::DONT_FOLLOW
        | WatchMask::ONLYDIR
        | WatchMask::EXCL_UNLINK
}

impl Watcher {
    /// Watch `root` and the given directories below it (relative, `/`-separated).
    pub fn new<'a>(root: &Path, dirs: impl IntoIterator<Item = &'a str>) -> std::io::Result<Watcher> {
        let mut watcher = Watcher {
            inotify: Inotify::init()?,
            root: root.to_path_buf(),
            dirs: HashMap::new(),
            watched: HashSet::new(),
            blind: false,
            buffer: vec![0; 64 * 1024],
        };
        watcher.watch("")?;
        for dir in dirs {
            watcher.watch(dir)?;
        }
        Ok(watcher)
    }

    /// Add a watch for one directory (relative to the root).
    pub fn watch(&mut self, relative: &str) -> std::io::Result<()> {
        let path = if relative.is_empty() { self.root.clone() } else { self.root.join(relative) };
        match self.inotify.watches().add(&path, mask()) {
            Ok(wd) => {
                self.dirs.insert(wd, relative.to_string());
                self.watched.insert(relative.to_string());
                Ok(())
            }
            // Gone already: its removal shows up as an event on the parent.
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => {
                self.blind = true;
                Err(e)
            }
        }
    }

    /// Whether the directory at `relative` has a live watch.
    pub fn watches(&self, relative: &str) -> bool {
        self.watched.contains(relative)
    }

    /// Forget pending events (the host's own writes during a push).
    pub fn discard(&mut self) {
        let _ = self.drain();
    }

    /// Relative paths changed since the last call (`""` is the root itself), or `None` when
    /// events may have been missed and only a full walk can tell.
    pub fn changed(&mut self) -> Option<BTreeSet<String>> {
        let changed = self.drain();
        if std::mem::take(&mut self.blind) {
            return None;
        }
        changed
    }

    fn drain(&mut self) -> Option<BTreeSet<String>> {
        let mut changed = BTreeSet::new();
        loop {
            let events = match self.inotify.read_events(&mut self.buffer) {
                Ok(events) => events,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.blind = true;
                    return None;
                }
            };
            let mut removed = Vec::new();
            for event in events {
                // A lost event, or a renamed directory (whose watch would now report under its
                // old name): only a full walk can tell what happened.
                let dir_moved = event.mask.contains(EventMask::ISDIR)
                    && event.mask.intersects(EventMask::MOVED_FROM | EventMask::MOVED_TO);
                if event.mask.intersects(EventMask::Q_OVERFLOW | EventMask::MOVE_SELF) || dir_moved {
                    self.blind = true;
                    continue;
                }
                let Some(dir) = self.dirs.get(&event.wd) else { continue };
                let path = match &event.name {
                    Some(name) if dir.is_empty() => name.to_string_lossy().into_owned(),
                    Some(name) => format!("{dir}/{}", name.to_string_lossy()),
                    None => dir.clone(),
                };
                changed.insert(path);
                if event.mask.contains(EventMask::IGNORED) {
                    removed.push(event.wd.clone());
                }
            }
            for wd in removed {
                if let Some(dir) = self.dirs.remove(&wd) {
                    self.watched.remove(&dir);
                }
            }
        }
        Some(changed)
    }
}

impl Drop for Watcher {
    /// Releasing an inotify instance waits for a kernel grace period (5–15 ms measured), which
    /// would stall devshell's exit after every tool run. A short-lived helper process inherits
    /// one reference: our close is then not the last one and returns at once, and the helper
    /// pays the wait after devshell is gone. Without the helper we simply pay it.
    fn drop(&mut self) {
        hand_off(self.inotify.as_raw_fd());
    }
}

#[allow(clippy::zombie_processes)] // not waited for: reaped by init once devshell exits
fn hand_off(fd: i32) {
    use std::process::{Command, Stdio};
    // Let the descriptor survive exec. Done in the parent, not in a pre_exec hook, so std can
    // use posix_spawn instead of a fork of this large process; devshell starts processes from
    // one thread only, and the descriptor is closed right after.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
    }
    let _ =
        Command::new("/bin/sleep").arg("1").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
}
