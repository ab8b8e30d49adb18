//! One command at a time per workspace, as in Bazel: a command holds the workspace while it
//! runs, and another devshell waits, naming the holder, then goes on.
//!
//! Owns the lock file beside the state file (`STATE.lock`, 0600): an exclusive advisory `flock`,
//! which the kernel releases however the holder ends, and a `PID COMMAND` line in it by which a
//! waiter names the holder. Also the stamp of the state file, by which a REPL sees that another
//! devshell saved. Never reads or writes the state file itself (`state` does), and never deletes
//! the lock file: a waiter may have it open, and a new file would be a second, separate lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The holder's command is shown on one line, cut after this many characters.
const MAX_COMMAND_CHARS: usize = 80;
/// How often a waiter tries again. A blocking `flock` would not do: the SIGINT handler restarts
/// interrupted calls, so Ctrl-C could not stop the wait.
const POLL: Duration = Duration::from_millis(25);

/// The workspace, held by this process until dropped (closing the file releases the lock).
#[derive(Debug)]
pub struct WorkspaceLock {
    _file: File,
}

impl WorkspaceLock {
    /// Hold the workspace of `state_path` for `command` (what a waiter is shown). When another
    /// devshell holds it, say so once on stderr and wait; Ctrl-C stops the wait with an error.
    pub fn acquire(state_path: &Path, command: &str) -> Result<WorkspaceLock> {
        let path = lock_path(state_path);
        let file = open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                eprintln!("devshell: waiting for the workspace {}: held by {}", state_path.display(), holder(&file));
                wait(&file, &path)?;
            }
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
        // Best effort: a waiter that finds no readable line says "another devshell".
        let line = format!("{} {}\n", std::process::id(), one_line(command));
        let _ = file.set_len(0).and_then(|()| file.write_all_at(line.as_bytes(), 0));
        Ok(WorkspaceLock { _file: file })
    }
}

/// The lock file of a state file: its path with `.lock` appended.
pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut path = state_path.as_os_str().to_owned();
    path.push(".lock");
    PathBuf::from(path)
}

fn open(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        // A lock file planted as a symlink (a cloned repository can carry one) must not make us
        // truncate its target.
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| {
            format!(
                "cannot create or open the lock file {}; make its directory writable, or choose another \
                 state file with --state PATH or DEVSHELL_STATE",
                path.display()
            )
        })?;
    if !file.metadata()?.is_file() {
        bail!(
            "the lock file {} is not a regular file; remove it, or choose another state file with --state PATH",
            path.display()
        );
    }
    Ok(file)
}

/// Try again every [`POLL`] until the holder lets go.
fn wait(file: &File, path: &Path) -> Result<()> {
    // Only a Ctrl-C pressed while waiting stops the wait, not one left from an earlier command.
    crate::INTERRUPTED.store(false, Ordering::SeqCst);
    loop {
        std::thread::sleep(POLL);
        if crate::INTERRUPTED.swap(false, Ordering::SeqCst) {
            bail!("interrupted while waiting for the workspace");
        }
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
    }
}

/// Who holds the lock, from its `PID COMMAND` line. The file is anyone's to write (and the
/// holder may not have written it yet), so anything else is "another devshell".
fn holder(file: &File) -> String {
    let mut buffer = [0u8; 1024];
    let read = file.read_at(&mut buffer, 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&buffer[..read]);
    match text.lines().next().and_then(|line| line.split_once(' ')) {
        Some((pid, command)) if pid.parse::<u32>().is_ok() && !command.trim().is_empty() => {
            format!("pid {pid} ({})", one_line(command))
        }
        _ => "another devshell".into(),
    }
}

/// `text` as one short line safe to print on a terminal: whitespace becomes spaces, control
/// characters are escaped, and it is cut after [`MAX_COMMAND_CHARS`].
fn one_line(text: &str) -> String {
    let text = text.trim();
    let mut line: String =
        text.chars().take(MAX_COMMAND_CHARS).map(|c| if c.is_whitespace() { ' ' } else { c }).collect();
    if text.chars().nth(MAX_COMMAND_CHARS).is_some() {
        line.push('…');
    }
    crate::escape::for_terminal(&line)
}

/// Which version of the state file is on disk. Every save replaces the file (a new inode, a new
/// mtime), so a different stamp means someone saved since the stamp was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

/// The stamp of the state file at `path`; `None` when there is none.
pub fn state_stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}
