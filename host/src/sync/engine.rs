//! The three-way comparison between the workspace, the staging dir and the sync manifest, and
//! the push and pull built on it. Every staging operation goes through a [`Beneath`] handle of
//! the staging root, so nothing here can reach outside it, whatever the staging dir holds.
//!
//! Change detection uses nanosecond mtime, size and inode; a file whose mtime is not older than
//! the last sync is "racy" and its content is compared (git's racy-clean rule). A file changed
//! on both sides is a conflict: the workspace keeps its version and the staging version lands
//! beside it as `NAME.conflict-N`. Symlinks are recorded, never followed. Build output (the
//! lazy rules) and files above the size limit come back as lazy entries. FIFOs, sockets,
//! devices, names that are not UTF-8 and entries that cannot be read are skipped and reported;
//! they never stop the rest of a pull. A pull is planned completely before anything is
//! applied, so a failure leaves the workspace as it was.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use serde::{Deserialize, Serialize};

use super::Rules;
use crate::beneath::{Beneath, Kind, Meta, ReadError};
use crate::progress::Progress;
use crate::vfs::{self, Content, NodeKind, Vfs};

/// One path as it was at the last sync (on the staging side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Entry {
    kind: Kind,
    size: u64,
    mtime_ns: i128,
    ino: u64,
    executable: bool,
}

impl From<Meta> for Entry {
    fn from(meta: Meta) -> Entry {
        Entry { kind: meta.kind, size: meta.size, mtime_ns: meta.mtime_ns, ino: meta.ino, executable: meta.executable }
    }
}

/// Which staging dir a manifest describes: a random token naming the directory, and the
/// directory's device and inode when it was last synced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Identity {
    pub token: String,
    pub dev: u64,
    pub ino: u64,
    /// Bumped at every sync that changes the record, and kept beside the staging dir too: a
    /// manifest whose serial differs (a restored backup) is not trusted to tell deletions.
    pub serial: u64,
}

/// What the last sync saw. Persisted with the workspace so a restart syncs incrementally.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncManifest {
    /// Relative staging path (`/`-separated) → entry.
    #[serde(with = "crate::vfs::sorted_map")]
    pub(super) entries: BTreeMap<String, Entry>,
    /// VFS generation right after the last sync.
    pub(super) vfs_generation: u64,
    /// Wall clock (ns) when the last sync finished; newer mtimes are "racy".
    pub(super) synced_at_ns: i128,
    /// True once a full push has happened.
    pub(super) initialized: bool,
    /// The staging dir this manifest belongs to (`None` before the first session).
    pub(super) identity: Option<Identity>,
    /// Changed since it was loaded (so the workspace state needs saving).
    #[serde(skip)]
    pub(super) dirty: bool,
}

impl Identity {
    pub fn new() -> Identity {
        Identity { token: super::new_token(), dev: 0, ino: 0, serial: 0 }
    }
}

impl SyncManifest {
    /// True when a sync changed what is recorded since this manifest was loaded.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// How many syncs have changed this record (it grows with each): comparing two readings
    /// tells whether a sync happened in between, without looking at the entries.
    pub fn syncs(&self) -> u64 {
        self.identity.as_ref().map_or(0, |identity| identity.serial)
    }

    /// Accept a manifest read from an untrusted file only when every path is a normalized
    /// relative path and the identity token is one this code could have made.
    pub fn check(&self, workspace_generation: u64) -> Result<(), String> {
        if self.vfs_generation > workspace_generation {
            return Err(format!(
                "the sync record is from workspace generation {}, after the workspace's own {workspace_generation}",
                self.vfs_generation
            ));
        }
        if let Some(bad) = self.entries.keys().find(|p| !vfs::is_normal_relative(p)) {
            return Err(format!("sync record {bad:?} is not a normalized relative path"));
        }
        if let Some(identity) = &self.identity {
            if identity.token.len() != 32 || !identity.token.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("staging dir token {:?} is not valid", identity.token));
            }
        }
        Ok(())
    }

    /// Forget what was synced: the next push writes the whole workspace and deletes nothing.
    pub(super) fn forget(&mut self) {
        self.entries.clear();
        self.initialized = false;
        self.dirty = true;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// The staging dir is empty or missing while the last sync saw files there.
    #[error("the staging dir is empty or missing while the last sync saw files there")]
    RootVanished,
}

fn io_error(path: &str, error: impl std::fmt::Display) -> SyncError {
    SyncError::Io { path: path.to_string(), message: error.to_string() }
}

/// What a sync did, for the user and the tests.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub written: usize,
    pub deleted: usize,
    /// `(workspace path, where the other side's version was kept)`.
    pub conflicts: Vec<(String, String)>,
    /// `(staging path, why)`: entries left out of this sync.
    pub skipped: Vec<(String, String)>,
    /// The staging dir was gone and has been made anew: a running backend still sees the old one.
    pub staging_recreated: bool,
}

fn now_ns() -> i128 {
    vfs::now_ns() as i128
}

fn to_vfs(relative: &str) -> String {
    format!("/{relative}")
}

fn to_relative(vfs_path: &str) -> &str {
    vfs_path.trim_start_matches('/')
}

/// Write one workspace node into the staging dir. Returns whether anything was written, what
/// the staging dir now holds there, and the shallowest staging path that had to be replaced to
/// make room (its former contents are gone, so the caller pushes that subtree again).
fn write_node(vfs: &Vfs, vfs_path: &str, root: &Beneath) -> std::io::Result<(bool, Entry, Option<String>)> {
    let node = vfs.get(vfs_path).expect("caller checked existence");
    let relative = to_relative(vfs_path);
    let (meta, replaced) = match &node.kind {
        NodeKind::Dir => {
            let replaced = root.ensure_dir(relative)?;
            (root.lstat(relative)?, replaced)
        }
        NodeKind::File { content, executable } => {
            if let Content::Host { path, .. } = content {
                if path.to_str() == Some(relative) {
                    if let Some(meta) = root.lstat(relative).ok().filter(|m| m.kind == Kind::File) {
                        return Ok((false, meta.into(), None)); // already backed by this very file
                    }
                }
            }
            let mut data = vfs.reader(vfs_path).map_err(|e| std::io::Error::other(e.to_string()))?;
            root.write_file(relative, &mut data, *executable, node.mtime_ns)?
        }
        NodeKind::Symlink { target } => root.symlink(relative, target)?,
    };
    Ok((true, meta.into(), replaced))
}

/// True when the staging file differs from what the manifest recorded (racy files by content).
fn staging_changed(
    entry: &Entry,
    old: Option<&Entry>,
    manifest: &SyncManifest,
    vfs: &Vfs,
    relative: &str,
    root: &Beneath,
    limit: u64,
) -> bool {
    let Some(old) = old else { return true };
    if entry != old {
        return true;
    }
    if entry.kind == Kind::File && entry.mtime_ns >= manifest.synced_at_ns {
        // Racy: modified in the same instant as the last sync; compare content.
        return match (vfs.read(&to_vfs(relative)), root.read_file(relative, limit)) {
            (Ok(ours), Ok((theirs, _))) => ours != theirs,
            _ => true,
        };
    }
    false
}

/// The other side's version of a conflicting file: its bytes, or (above the size limit) the
/// file itself, moved aside in the staging dir.
enum Theirs {
    Bytes(Vec<u8>),
    /// Moved aside in the staging dir as `kept` (a workspace path) before anything overwrote it.
    InStaging {
        kept: String,
        size: u64,
    },
}

/// The first free `path.conflict-N` in the workspace.
fn conflict_name(vfs: &Vfs, path: &str) -> String {
    (1..).map(|n| format!("{path}.conflict-{n}")).find(|p| !vfs.exists(p)).expect("some free name")
}

/// Take the staging side of a conflict: its bytes, or (too big to hold) the file itself, moved
/// aside at once so the push cannot overwrite it.
fn theirs(vfs: &Vfs, root: &Beneath, path: &str, limit: u64) -> Result<Theirs, SyncError> {
    let relative = to_relative(path);
    match root.read_file(relative, limit) {
        Ok((data, _)) => Ok(Theirs::Bytes(data)),
        Err(ReadError::TooBig { size, .. }) => {
            let kept = conflict_name(vfs, path);
            root.rename(relative, to_relative(&kept)).map_err(|e| io_error(relative, e))?;
            Ok(Theirs::InStaging { kept, size })
        }
        Err(e) => Err(io_error(relative, e)),
    }
}

/// Push the workspace to the staging dir: everything on the first sync, then only what changed
/// in the VFS since the last one. A staging file that changed too is a conflict.
pub(super) fn push(vfs: &mut Vfs, root: &Beneath, manifest: &mut SyncManifest, limit: u64) -> Report {
    let mut report = Report::default();
    let changes = if manifest.initialized {
        vfs.changes_since(manifest.vfs_generation, "/")
    } else {
        vfs::Changes { changed: vfs.walk("/").map(|(p, _)| p.clone()).collect(), deleted: vec![] }
    };
    // Paths that could not be pushed: their records stay, and they are stamped again so the
    // next push retries them and a pull never mistakes the old staging file for news.
    let mut failed = Vec::new();
    let mut conflicts = Vec::new();
    let mut progress = Progress::new("pushing the workspace to the staging dir");
    let mut queue: std::collections::VecDeque<String> = changes.changed.into();
    // Subtrees already pushed again after a replacement (each at most once).
    let mut repushed: HashSet<String> = HashSet::new();
    while let Some(path) = queue.pop_front() {
        progress.inc();
        if path == "/" || !vfs.exists(&path) {
            continue;
        }
        let relative = to_relative(&path).to_string();
        if let (Some(old), Ok(meta)) = (manifest.entries.get(&relative), root.lstat(&relative)) {
            let now = Entry::from(meta);
            if now.kind == Kind::File && staging_changed(&now, Some(old), manifest, vfs, &relative, root, limit) {
                match theirs(vfs, root, &path, limit) {
                    Ok(theirs) => conflicts.push((path.clone(), theirs)),
                    Err(e) => {
                        report.skipped.push((relative, format!("kept as it is in the staging dir: {e}")));
                        failed.push(path);
                        continue;
                    }
                }
            }
        }
        match write_node(vfs, &path, root) {
            Ok((written, entry, replaced)) => {
                report.written += usize::from(written);
                manifest.entries.insert(relative, entry);
                // Something not a directory stood where the workspace has one: whatever the
                // staging dir had below it is gone, so that subtree is pushed again.
                if let Some(replaced) = replaced.filter(|r| repushed.insert(r.clone())) {
                    let subtree = to_vfs(&replaced);
                    queue.extend(vfs.walk(&subtree).map(|(p, _)| p.clone()).filter(|p| *p != path));
                }
            }
            Err(e) => {
                report.skipped.push((relative, format!("not pushed: {e}")));
                failed.push(path);
            }
        }
    }
    // Deletions last: a lazy file moved in the workspace is read from its old place above.
    for path in changes.deleted {
        let relative = to_relative(&path).to_string();
        if manifest.entries.contains_key(&relative) {
            match root.remove(&relative) {
                Ok(()) => {
                    manifest.entries.remove(&relative);
                    report.deleted += 1;
                }
                Err(e) => {
                    report.skipped.push((relative, format!("not deleted in the staging dir: {e}")));
                    failed.push(path);
                }
            }
        }
    }
    for (path, theirs) in conflicts {
        match keep_conflict(vfs, root, manifest, &path, theirs) {
            Ok(kept) => report.conflicts.push((path, kept)),
            Err(e) => report.skipped.push((to_relative(&path).to_string(), format!("conflict copy not kept: {e}"))),
        }
    }
    manifest.dirty |= !manifest.initialized || report != Report::default();
    manifest.initialized = true;
    manifest.vfs_generation = vfs.generation();
    manifest.synced_at_ns = now_ns();
    for path in failed {
        vfs.restamp(&path);
    }
    report
}

/// Store the other side's version next to `path` as `path.conflict-N` (first free N), and make
/// the staging dir match the workspace again: its version of `path`, plus the kept copy.
fn keep_conflict(
    vfs: &mut Vfs,
    root: &Beneath,
    manifest: &mut SyncManifest,
    path: &str,
    theirs: Theirs,
) -> Result<String, SyncError> {
    let (kept, content) = match theirs {
        Theirs::Bytes(data) => (conflict_name(vfs, path), Content::Bytes(Arc::new(data))),
        // Too big to hold: the staging file moved aside is the kept copy.
        Theirs::InStaging { kept, size } => {
            let relative = PathBuf::from(to_relative(&kept));
            (kept, Content::Host { path: relative, size })
        }
    };
    let kind = NodeKind::File { content, executable: false };
    vfs.put(&kept, kind, vfs::now_ns()).map_err(|e| io_error(&kept, e))?;
    for synced in [path, kept.as_str()] {
        let (_, entry, _) = write_node(vfs, synced, root).map_err(|e| io_error(synced, e))?;
        manifest.entries.insert(to_relative(synced).to_string(), entry);
    }
    manifest.dirty = true;
    Ok(kept)
}

/// One staging path and what the walk found there.
pub(super) struct Seen {
    relative: String,
    entry: Entry,
}

/// What a walk found: the usable entries, the directories it could not list (whose recorded
/// contents are neither seen nor gone), and what it left out.
#[derive(Default)]
pub(super) struct Walk {
    seen: Vec<Seen>,
    unlisted: Vec<String>,
    skipped: Vec<(String, String)>,
}

impl Walk {
    fn extend(&mut self, other: Walk) {
        self.seen.extend(other.seen);
        self.unlisted.extend(other.unlisted);
        self.skipped.extend(other.skipped);
    }
}

/// Walk threads at most; the walk is mostly `statx` calls, which scale with cores.
const MAX_WALKERS: usize = 4;

/// Directories waiting to be listed, shared by the walk threads.
struct WalkQueue {
    state: Mutex<WalkState>,
    changed: Condvar,
}

struct WalkState {
    pending: Vec<String>,
    /// Threads listing a directory right now (which may add more).
    busy: usize,
}

/// Every path below `start` (relative; `""` is the root), in no particular order. Lists
/// directories on up to [`MAX_WALKERS`] threads, starting the extra ones only once there are
/// two directories to list at the same time, so a small tree costs no thread start. Only a
/// failure to list `start` itself is an error.
pub(super) fn walk(root: &Beneath, start: &str) -> Result<Walk, SyncError> {
    let first = list_dir(root, start).map_err(|e| io_error(start, e))?;
    let queue = WalkQueue { state: Mutex::new(WalkState { pending: first.1, busy: 0 }), changed: Condvar::new() };
    let walkers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WALKERS);
    let mut found = first.0;
    std::thread::scope(|scope| {
        let mut helpers = Vec::new();
        let mut start_helpers = |state: &WalkState| {
            if helpers.is_empty() && walkers > 1 && state.pending.len() >= 2 {
                helpers.extend((1..walkers).map(|_| scope.spawn(|| walk_worker(root, &queue, &mut |_| {}))));
            }
        };
        found.extend(walk_worker(root, &queue, &mut start_helpers));
        for helper in helpers {
            found.extend(helper.join().expect("a walk thread panicked"));
        }
    });
    Ok(found)
}

/// List directories from the queue until none are left; `after_listing` sees the queue after
/// each directory.
fn walk_worker(root: &Beneath, queue: &WalkQueue, after_listing: &mut dyn FnMut(&WalkState)) -> Walk {
    let mut found = Walk::default();
    loop {
        let dir = {
            let mut state = queue.state.lock().expect("walk queue poisoned");
            loop {
                if let Some(next) = state.pending.pop() {
                    state.busy += 1;
                    break next;
                }
                if state.busy == 0 {
                    return found;
                }
                state = queue.changed.wait(state).expect("walk queue poisoned");
            }
        };
        let mut subdirs = match list_dir(root, &dir) {
            Ok((listed, subdirs)) => {
                found.extend(listed);
                subdirs
            }
            Err(e) => {
                found.skipped.push((dir.clone(), format!("cannot list: {e}")));
                found.unlisted.push(dir);
                Vec::new()
            }
        };
        let mut state = queue.state.lock().expect("walk queue poisoned");
        state.busy -= 1;
        state.pending.append(&mut subdirs);
        after_listing(&state);
        drop(state);
        queue.changed.notify_all();
    }
}

/// One directory's usable entries, and its subdirectories to list next.
fn list_dir(root: &Beneath, dir: &str) -> std::io::Result<(Walk, Vec<String>)> {
    let mut found = Walk::default();
    let mut subdirs = Vec::new();
    for (name, meta) in root.list(dir)? {
        let name = match String::from_utf8(name) {
            Ok(name) => name,
            Err(e) => {
                let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let relative = if dir.is_empty() { shown } else { format!("{dir}/{shown}") };
                found.skipped.push((relative, "the name is not UTF-8".into()));
                continue;
            }
        };
        let relative = if dir.is_empty() { name } else { format!("{dir}/{name}") };
        match meta {
            Ok(meta) if meta.kind == Kind::Special => {
                found.skipped.push((relative, "a FIFO, socket or device; never read".into()))
            }
            Ok(meta) => {
                if meta.kind == Kind::Dir {
                    subdirs.push(relative.clone());
                }
                found.seen.push(Seen { relative, entry: meta.into() });
            }
            Err(e) => found.skipped.push((relative, format!("cannot stat: {e}"))),
        }
    }
    Ok((found, subdirs))
}

enum Action {
    Put { path: String, kind: NodeKind, mtime_ns: u64 },
    Delete(String),
    Conflict { path: String, theirs: Theirs },
}

impl Action {
    fn path(&self) -> &str {
        match self {
            Action::Put { path, .. } | Action::Delete(path) | Action::Conflict { path, .. } => path,
        }
    }
}

/// What a pull looked at: every staging path (a full walk), or only the paths a watcher saw
/// change, with those found missing.
pub(super) enum Scan {
    Full(Walk),
    Partial { walk: Walk, gone: Vec<String> },
}

/// Look at only `changed` paths (relative, from a watcher). Returns the scan and the
/// directories that appeared, so the caller can watch them too.
/// A directory counts as new when the manifest does not know it or nothing watches it (it was
/// removed and made again), so it is walked whole and watched.
pub(super) fn scan_changed(
    root: &Beneath,
    manifest: &SyncManifest,
    changed: &BTreeSet<String>,
    watched: &dyn Fn(&str) -> bool,
) -> Result<(Scan, Vec<String>), SyncError> {
    let mut walk = Walk::default();
    let mut gone = Vec::new();
    let mut new_dirs = Vec::new();
    for relative in changed {
        if relative.is_empty() {
            root.lstat("").map_err(|_| SyncError::RootVanished)?;
            continue;
        }
        match root.lstat(relative) {
            Ok(meta) if meta.kind == Kind::Special => {
                walk.skipped.push((relative.clone(), "a FIFO, socket or device; never read".into()))
            }
            Ok(meta) => {
                let entry = Entry::from(meta);
                let known = matches!(manifest.entries.get(relative), Some(e) if e.kind == Kind::Dir);
                if entry.kind == Kind::Dir && (!known || !watched(relative)) {
                    // A new directory: everything in it is new, and it needs watching.
                    new_dirs.push(relative.clone());
                    match self::walk(root, relative) {
                        Ok(inner) => {
                            new_dirs.extend(
                                inner.seen.iter().filter(|s| s.entry.kind == Kind::Dir).map(|s| s.relative.clone()),
                            );
                            walk.extend(inner);
                        }
                        Err(e) => {
                            walk.skipped.push((relative.clone(), format!("cannot list: {e}")));
                            walk.unlisted.push(relative.clone());
                        }
                    }
                }
                walk.seen.push(Seen { relative: relative.clone(), entry });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => gone.push(relative.clone()),
            // A symlink in a parent (ELOOP), a name too long: the entry is not reachable as
            // itself, so whatever was recorded there is gone from the staging dir's view.
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) => {
                gone.push(relative.clone())
            }
            Err(e) => walk.skipped.push((relative.clone(), format!("cannot stat: {e}"))),
        }
    }
    Ok((Scan::Partial { walk, gone }, new_dirs))
}

/// True when `path` is `dir` or below it.
fn is_under(path: &str, dir: &str) -> bool {
    path == dir || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// Plan the whole pull (all reads done), then apply it: an error before the apply leaves the
/// workspace untouched.
pub(super) fn apply(
    vfs: &mut Vfs,
    root: &Beneath,
    manifest: &mut SyncManifest,
    rules: &Rules,
    limit: u64,
    scan: Scan,
) -> Result<Report, SyncError> {
    let (mut walk, gone, full) = match scan {
        Scan::Full(walk) => {
            // Every path seen is distinct, so if each is known and the counts match, nothing is gone.
            let known = walk.seen.iter().filter(|s| manifest.entries.contains_key(&s.relative)).count();
            let gone: Vec<String> = if known == manifest.entries.len() {
                Vec::new()
            } else {
                let present: HashSet<&str> = walk
                    .seen
                    .iter()
                    .map(|s| s.relative.as_str())
                    .chain(walk.skipped.iter().map(|(p, _)| p.as_str()))
                    .collect();
                manifest
                    .entries
                    .keys()
                    .filter(|k| !present.contains(k.as_str()) && !walk.unlisted.iter().any(|d| is_under(k, d)))
                    .cloned()
                    .collect()
            };
            (walk, gone, true)
        }
        Scan::Partial { walk, gone } => {
            // A vanished directory takes everything the manifest had below it.
            let mut all_gone = BTreeSet::new();
            for dir in gone {
                let prefix = format!("{dir}/");
                all_gone.extend(
                    manifest
                        .entries
                        .range(prefix.clone()..)
                        .take_while(|(k, _)| k.starts_with(&prefix))
                        .map(|(k, _)| k.clone()),
                );
                all_gone.insert(dir);
            }
            let gone: Vec<String> = all_gone.into_iter().filter(|k| manifest.entries.contains_key(k)).collect();
            (walk, gone, false)
        }
    };
    let remaining =
        if full { walk.seen.len() } else { manifest.entries.len().saturating_sub(gone.len()) + walk.seen.len() };
    if remaining == 0 && manifest.entries.len() > 1 && walk.unlisted.is_empty() {
        return Err(SyncError::RootVanished);
    }

    let mut actions = Vec::new();
    // Entries seen but not usable this time: their old records are kept, so they are
    // neither deleted from the workspace nor forgotten.
    let mut unusable: HashSet<String> = HashSet::new();
    // Bytes read into memory by this pull: past the budget, files stay lazy, so no number of
    // files (sparse ones cost nothing on disk) makes the host hold more.
    let mut budget = limit.saturating_mul(4);
    let mut progress = Progress::new("pulling changes from the staging dir");
    for Seen { relative, entry } in &walk.seen {
        progress.inc();
        if !staging_changed(entry, manifest.entries.get(relative), manifest, vfs, relative, root, limit) {
            continue;
        }
        let path = to_vfs(relative);
        let workspace_changed = vfs.get(&path).is_some_and(|n| n.changed > manifest.vfs_generation);
        let lazy = || NodeKind::File {
            content: Content::Host { path: PathBuf::from(relative), size: entry.size },
            executable: entry.executable,
        };
        let kind = match entry.kind {
            Kind::Dir => NodeKind::Dir,
            Kind::Symlink => match root.read_link(relative) {
                Ok(target) => NodeKind::Symlink { target },
                Err(e) => {
                    walk.skipped.push((relative.clone(), format!("cannot read the symlink: {e}")));
                    unusable.insert(relative.clone());
                    continue;
                }
            },
            Kind::File if rules.is_lazy(relative) || entry.size > limit.min(budget) => lazy(),
            Kind::File | Kind::Special => match root.read_file(relative, limit.min(budget)) {
                Ok((data, _)) if workspace_changed => {
                    budget -= data.len() as u64;
                    actions.push(Action::Conflict { path, theirs: Theirs::Bytes(data) });
                    continue;
                }
                Ok((data, _)) => {
                    budget -= data.len() as u64;
                    NodeKind::File { content: Content::Bytes(Arc::new(data)), executable: entry.executable }
                }
                Err(ReadError::TooBig { .. }) => lazy(),
                Err(e) => {
                    walk.skipped.push((relative.clone(), format!("not read: {e}")));
                    unusable.insert(relative.clone());
                    continue;
                }
            },
        };
        if entry.kind == Kind::Dir && vfs.is_dir(&path) {
            continue;
        }
        actions.push(Action::Put { path, kind, mtime_ns: entry.mtime_ns.max(0) as u64 });
    }
    for relative in &gone {
        let path = to_vfs(relative);
        let workspace_changed = vfs.get(&path).is_some_and(|n| n.changed > manifest.vfs_generation);
        if vfs.exists(&path) && !workspace_changed {
            actions.push(Action::Delete(path));
        }
    }

    // The walk's order is not the tree's: put each directory before anything inside it.
    actions.sort_by(|a, b| a.path().cmp(b.path()));
    let mut report = Report::default();
    let mut conflicts = Vec::new();
    for action in actions {
        match action {
            Action::Put { path, kind, mtime_ns } => {
                vfs.put(&path, kind, mtime_ns).map_err(|e| io_error(&path, e))?;
                report.written += 1;
            }
            Action::Delete(path) => {
                if vfs.exists(&path) {
                    vfs.remove(&path, true).map_err(|e| io_error(&path, e))?;
                    report.deleted += 1;
                }
            }
            Action::Conflict { path, theirs } => conflicts.push((path, theirs)),
        }
    }
    let unchanged = gone.is_empty() && walk.seen.iter().all(|s| manifest.entries.get(&s.relative) == Some(&s.entry));
    if !unchanged {
        manifest.dirty = true;
        let keep_old = |seen: Seen, old: &BTreeMap<String, Entry>| -> Option<(String, Entry)> {
            if unusable.contains(&seen.relative) {
                old.get(&seen.relative).map(|e| (seen.relative, e.clone()))
            } else {
                Some((seen.relative, seen.entry))
            }
        };
        if full {
            // Recorded entries below directories that could not be listed stay as they were.
            let mut entries: BTreeMap<String, Entry> = manifest
                .entries
                .iter()
                .filter(|(k, _)| walk.unlisted.iter().any(|d| is_under(k, d) && *k != d))
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect();
            entries.extend(walk.seen.into_iter().filter_map(|s| keep_old(s, &manifest.entries)));
            manifest.entries = entries;
        } else {
            for relative in &gone {
                manifest.entries.remove(relative);
            }
            let updates: Vec<(String, Entry)> =
                walk.seen.into_iter().filter_map(|s| keep_old(s, &manifest.entries)).collect();
            manifest.entries.extend(updates);
        }
    }
    report.skipped = walk.skipped;
    for (path, theirs) in conflicts {
        let kept = keep_conflict(vfs, root, manifest, &path, theirs)?;
        report.conflicts.push((path, kept));
    }
    manifest.vfs_generation = vfs.generation();
    manifest.synced_at_ns = now_ns();
    vfs.prune_tombstones(manifest.vfs_generation);
    Ok(report)
}

/// Directories recorded by the last sync (what a watcher must watch).
pub(super) fn synced_dirs(manifest: &SyncManifest) -> impl Iterator<Item = &str> {
    manifest.entries.iter().filter(|(_, e)| e.kind == Kind::Dir).map(|(p, _)| p.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threaded_walk_finds_every_path_once_and_skips_special_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = BTreeSet::new();
        for a in 0..12 {
            for b in 0..5 {
                let sub = format!("a{a}/b{b}");
                std::fs::create_dir_all(dir.path().join(&sub)).unwrap();
                expected.insert(format!("a{a}"));
                expected.insert(sub.clone());
                for f in 0..7 {
                    std::fs::write(dir.path().join(format!("{sub}/f{f}")), b"x").unwrap();
                    expected.insert(format!("{sub}/f{f}"));
                }
            }
        }
        std::os::unix::fs::symlink("/etc", dir.path().join("a0/out")).unwrap();
        expected.insert("a0/out".into());
        let fifo = std::ffi::CString::new(dir.path().join("a1/fifo").into_os_string().into_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        use std::os::unix::ffi::OsStrExt;
        std::fs::write(dir.path().join(std::ffi::OsStr::from_bytes(b"a2/bad\xffname")), b"x").unwrap();

        let root = Beneath::open(dir.path()).unwrap();
        let found = walk(&root, "").unwrap();
        assert_eq!(found.seen.len(), expected.len(), "no path twice");
        let seen: BTreeSet<String> = found.seen.iter().map(|s| s.relative.clone()).collect();
        assert_eq!(seen, expected);
        let link = found.seen.iter().find(|s| s.relative == "a0/out").unwrap();
        assert_eq!(link.entry.kind, Kind::Symlink, "recorded as a symlink, not followed");
        let skipped: BTreeSet<&str> = found.skipped.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(skipped, BTreeSet::from(["a1/fifo", "a2/bad\u{fffd}name"]));
    }
}
