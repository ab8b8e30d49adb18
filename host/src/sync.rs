//! Mode S sync between the workspace (VFS) and a session's staging directory on the host.
//!
//! Owns the sync manifest (what each path looked like at the last sync) and the three-way
//! comparison workspace / staging / manifest, which tells an edit from a delete on each side.
//! Change detection uses nanosecond mtime, size and inode; a file whose mtime is not older than
//! the last sync is "racy" and its content is compared (git's racy-clean rule). A file changed on
//! both sides is a conflict: the workspace keeps its version and the staging version lands beside
//! it as `NAME.conflict-N`. Symlinks are recorded, never followed. Paths under an ignored name
//! (`target` by default) come back as lazy host-backed entries. A pull is planned completely
//! before anything is applied, so a failure leaves the workspace as it was. Knows nothing of
//! plugins: the session calls [`push`] and [`pull`] around each tool run.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::progress::Progress;
use crate::vfs::{self, Content, NodeKind, Vfs};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Kind {
    File,
    Dir,
    Symlink,
}

/// One path as it was at the last sync (on the staging side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    kind: Kind,
    size: u64,
    mtime_ns: i128,
    ino: u64,
    executable: bool,
}

/// What the last sync saw. Persisted with the workspace so a restart syncs incrementally.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncManifest {
    /// Relative staging path (`/`-separated) → entry.
    #[serde(with = "crate::vfs::sorted_map")]
    entries: BTreeMap<String, Entry>,
    /// VFS generation right after the last sync.
    vfs_generation: u64,
    /// Wall clock (ns) when the last sync finished; newer mtimes are "racy".
    synced_at_ns: i128,
    /// True once a full push has happened.
    initialized: bool,
    /// Changed since it was loaded (so the workspace state needs saving).
    #[serde(skip)]
    dirty: bool,
}

impl SyncManifest {
    /// True when a sync changed what is recorded since this manifest was loaded.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("the staging dir {0} is empty or missing while the last sync saw files there; refusing to propagate that as a deletion of the whole workspace")]
    RootVanished(PathBuf),
}

fn io_error(path: &Path, error: impl std::fmt::Display) -> SyncError {
    SyncError::Io { path: path.to_path_buf(), message: error.to_string() }
}

/// What a sync did, for the user and the tests.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub written: usize,
    pub deleted: usize,
    /// `(workspace path, where the other side's version was kept)`.
    pub conflicts: Vec<(String, String)>,
}

/// Sync rules: which paths are build output, pulled as lazy host-backed entries.
///
/// Each pattern is a glob. Without a `/` it is matched against every path component (`target`,
/// `*.o`, `node_modules`); with one, against the path from the workspace root (`docs/book`,
/// `gen/**/*.bin`). A matched directory covers everything under it.
#[derive(Debug, Clone)]
pub struct Rules {
    components: GlobSet,
    paths: GlobSet,
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new(&["target".to_string()]).expect("the default pattern is a valid glob")
    }
}

impl Rules {
    /// Compile `patterns`; the error names the first bad one.
    pub fn new(patterns: &[String]) -> Result<Rules, String> {
        let mut components = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        for pattern in patterns {
            let trimmed = pattern.trim_matches('/');
            let glob = GlobBuilder::new(trimmed)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("lazy pattern {pattern:?} is not a valid glob: {e}"))?;
            let set = if trimmed.contains('/') { &mut paths } else { &mut components };
            set.add(glob);
        }
        let build = |set: GlobSetBuilder| set.build().map_err(|e| format!("lazy patterns: {e}"));
        Ok(Rules { components: build(components)?, paths: build(paths)? })
    }

    fn is_lazy(&self, relative: &str) -> bool {
        let mut end = 0;
        for component in relative.split('/') {
            end += component.len();
            if self.components.is_match(component) || self.paths.is_match(&relative[..end]) {
                return true;
            }
            end += 1;
        }
        false
    }
}

fn entry_of(meta: &std::fs::Metadata) -> Entry {
    let kind = if meta.file_type().is_symlink() {
        Kind::Symlink
    } else if meta.is_dir() {
        Kind::Dir
    } else {
        Kind::File
    };
    Entry {
        kind,
        size: if kind == Kind::Dir { 0 } else { meta.len() },
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        ino: meta.ino(),
        executable: kind == Kind::File && meta.permissions().mode() & 0o111 != 0,
    }
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

/// Write one workspace node into the staging dir. Returns whether anything was written, and what
/// the staging dir now holds there (for the manifest).
fn write_node(vfs: &Vfs, vfs_path: &str, staging: &Path) -> Result<(bool, Entry), SyncError> {
    let node = vfs.get(vfs_path).expect("caller checked existence");
    let target = staging.join(to_relative(vfs_path));
    let lstat = |path: &Path| std::fs::symlink_metadata(path).map(|m| entry_of(&m)).map_err(|e| io_error(path, e));
    match &node.kind {
        NodeKind::Dir => {
            if !target.is_dir() {
                let _ = std::fs::remove_file(&target);
                std::fs::create_dir_all(&target).map_err(|e| io_error(&target, e))?;
            }
        }
        NodeKind::File { content, executable } => {
            if let Content::Host { path, .. } = content {
                if *path == target {
                    return Ok((false, lstat(&target)?)); // lazy entry already backed by this very file
                }
            }
            let data = vfs.read(vfs_path).map_err(|e| io_error(&target, e))?;
            // One open for content, mode and mtime: a first push writes every file.
            let written = create_replacing(&target).and_then(|file| fill(&file, &data, *executable, node.mtime_ns));
            return Ok((true, written.map_err(|e| io_error(&target, e))?));
        }
        NodeKind::Symlink { target: link } => {
            let _ = std::fs::remove_file(&target);
            std::os::unix::fs::symlink(link, &target).map_err(|e| io_error(&target, e))?;
        }
    }
    Ok((true, lstat(&target)?))
}

/// Open `target` to be written from scratch, replacing a directory or symlink in the way; never
/// writes through a symlink.
fn create_replacing(target: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).custom_flags(libc::O_NOFOLLOW).open(target)
    };
    match open() {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            std::fs::remove_file(target)?;
            open()
        }
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            std::fs::remove_dir_all(target)?;
            open()
        }
        other => other,
    }
}

/// Content, executable bit and the workspace's mtime (so cargo's fingerprints stay meaningful
/// across runs), all through the open file.
fn fill(file: &std::fs::File, data: &[u8], executable: bool, mtime_ns: u64) -> std::io::Result<Entry> {
    use std::io::Write;
    let mut writer: &std::fs::File = file;
    writer.write_all(data)?;
    let mode = file.metadata()?.permissions().mode();
    let wanted = if executable { mode | 0o111 } else { mode & !0o111 };
    if wanted != mode {
        file.set_permissions(std::fs::Permissions::from_mode(wanted))?;
    }
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(mtime_ns))?;
    Ok(entry_of(&file.metadata()?))
}

fn remove_host(path: &Path) -> Result<(), SyncError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path).map_err(|e| io_error(path, e)),
        Ok(_) => std::fs::remove_file(path).map_err(|e| io_error(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(path, e)),
    }
}

/// True when the staging file differs from what the manifest recorded (racy files by content).
fn staging_changed(
    entry: &Entry,
    old: Option<&Entry>,
    manifest: &SyncManifest,
    vfs: &Vfs,
    relative: &str,
    host: &Path,
) -> bool {
    let Some(old) = old else { return true };
    if entry.kind != old.kind
        || entry.size != old.size
        || entry.mtime_ns != old.mtime_ns
        || entry.ino != old.ino
        || entry.executable != old.executable
    {
        return true;
    }
    if entry.kind == Kind::File && entry.mtime_ns >= manifest.synced_at_ns {
        // Racy: modified in the same instant as the last sync; compare content.
        return match (vfs.read(&to_vfs(relative)), std::fs::read(host)) {
            (Ok(ours), Ok(theirs)) => ours != theirs,
            _ => true,
        };
    }
    false
}

/// Push the workspace to the staging dir: everything on the first sync, then only what changed
/// in the VFS since the last one. A staging file that changed too is a conflict.
pub fn push(vfs: &mut Vfs, staging: &Path, manifest: &mut SyncManifest) -> Result<Report, SyncError> {
    std::fs::create_dir_all(staging).map_err(|e| io_error(staging, e))?;
    let mut report = Report::default();
    let changes = if manifest.initialized {
        vfs.changes_since(manifest.vfs_generation, "/")
    } else {
        vfs::Changes { changed: vfs.walk("/").map(|(p, _)| p.clone()).collect(), deleted: vec![] }
    };
    for path in changes.deleted {
        let relative = to_relative(&path).to_string();
        if manifest.entries.remove(&relative).is_some() {
            remove_host(&staging.join(&relative))?;
            report.deleted += 1;
        }
    }
    let mut conflicts = Vec::new();
    let mut progress = Progress::new("pushing the workspace to the staging dir");
    for path in changes.changed {
        progress.inc();
        if path == "/" || !vfs.exists(&path) {
            continue;
        }
        let relative = to_relative(&path).to_string();
        let host = staging.join(&relative);
        if let (Some(old), Ok(meta)) = (manifest.entries.get(&relative), std::fs::symlink_metadata(&host)) {
            let now = entry_of(&meta);
            if now.kind == Kind::File && staging_changed(&now, Some(old), manifest, vfs, &relative, &host) {
                conflicts.push((path.clone(), std::fs::read(&host).map_err(|e| io_error(&host, e))?));
            }
        }
        let (written, entry) = write_node(vfs, &path, staging)?;
        report.written += usize::from(written);
        manifest.entries.insert(relative, entry);
    }
    for (path, theirs) in conflicts {
        let kept = keep_conflict(vfs, staging, manifest, &path, theirs)?;
        report.conflicts.push((path, kept));
    }
    manifest.dirty |= !manifest.initialized || report != Report::default();
    manifest.initialized = true;
    manifest.vfs_generation = vfs.generation();
    manifest.synced_at_ns = now_ns();
    Ok(report)
}

/// Store the other side's version next to `path` as `path.conflict-N` (first free N), and make
/// the staging dir match the workspace again: its version of `path`, plus the kept copy.
fn keep_conflict(
    vfs: &mut Vfs,
    staging: &Path,
    manifest: &mut SyncManifest,
    path: &str,
    theirs: Vec<u8>,
) -> Result<String, SyncError> {
    let kept = (1..).map(|n| format!("{path}.conflict-{n}")).find(|p| !vfs.exists(p)).expect("some free name");
    let kind = NodeKind::File { content: Content::Bytes(Arc::new(theirs)), executable: false };
    vfs.put(&kept, kind, vfs::now_ns()).map_err(|e| io_error(Path::new(&kept), e))?;
    for synced in [path, kept.as_str()] {
        let (_, entry) = write_node(vfs, synced, staging)?;
        manifest.entries.insert(to_relative(synced).to_string(), entry);
    }
    manifest.dirty = true;
    Ok(kept)
}

/// One staging path and what the walk found there.
struct Seen {
    relative: String,
    entry: Entry,
}

/// Walk threads at most; the walk is mostly `statx` calls, which scale with cores.
const MAX_WALKERS: usize = 4;

/// Directories waiting to be listed, shared by the walk threads.
struct WalkQueue {
    state: Mutex<WalkState>,
    changed: Condvar,
}

struct WalkState {
    pending: Vec<(PathBuf, String)>,
    /// Threads listing a directory right now (which may add more).
    busy: usize,
    failed: bool,
}

/// Every path under `staging`, in no particular order. Lists directories on up to
/// [`MAX_WALKERS`] threads, starting the extra ones only once there are two directories to list
/// at the same time, so a small tree costs no thread start.
fn walk(staging: &Path) -> Result<Vec<Seen>, SyncError> {
    let queue = WalkQueue {
        state: Mutex::new(WalkState { pending: vec![(staging.to_path_buf(), String::new())], busy: 0, failed: false }),
        changed: Condvar::new(),
    };
    let walkers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_WALKERS);
    std::thread::scope(|scope| {
        let mut helpers = Vec::new();
        let mut start_helpers = |state: &WalkState| {
            if helpers.is_empty() && walkers > 1 && state.pending.len() >= 2 {
                helpers.extend((1..walkers).map(|_| scope.spawn(|| walk_worker(&queue, &mut |_| {}))));
            }
        };
        let mut seen = walk_worker(&queue, &mut start_helpers);
        for helper in helpers {
            let theirs = helper.join().expect("a walk thread panicked");
            seen = seen.and_then(|mut seen| {
                seen.extend(theirs?);
                Ok(seen)
            });
        }
        seen
    })
}

/// List directories from the queue until none are left (or one fails); `after_listing` sees the
/// queue after each directory.
fn walk_worker(queue: &WalkQueue, after_listing: &mut dyn FnMut(&WalkState)) -> Result<Vec<Seen>, SyncError> {
    let mut seen = Vec::new();
    let mut subdirs = Vec::new();
    loop {
        let (dir, prefix) = {
            let mut state = queue.state.lock().expect("walk queue poisoned");
            loop {
                if state.failed {
                    return Ok(seen);
                }
                if let Some(next) = state.pending.pop() {
                    state.busy += 1;
                    break next;
                }
                if state.busy == 0 {
                    return Ok(seen);
                }
                state = queue.changed.wait(state).expect("walk queue poisoned");
            }
        };
        let listed = list_dir(&dir, &prefix, &mut seen, &mut subdirs);
        let mut state = queue.state.lock().expect("walk queue poisoned");
        state.busy -= 1;
        state.failed |= listed.is_err();
        state.pending.append(&mut subdirs);
        after_listing(&state);
        drop(state);
        queue.changed.notify_all();
        listed?;
    }
}

/// One directory's entries into `seen`, its subdirectories into `subdirs`.
fn list_dir(
    dir: &Path,
    prefix: &str,
    seen: &mut Vec<Seen>,
    subdirs: &mut Vec<(PathBuf, String)>,
) -> Result<(), SyncError> {
    let reader = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    for item in reader {
        let item = item.map_err(|e| io_error(dir, e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        // Like lstat, relative to the open directory: a symlink is recorded as itself, never
        // followed, and the full path is not resolved again for every entry.
        let meta = item.metadata().map_err(|e| io_error(&item.path(), e))?;
        let entry = entry_of(&meta);
        if entry.kind == Kind::Dir {
            subdirs.push((item.path(), relative.clone()));
        }
        seen.push(Seen { relative, entry });
    }
    Ok(())
}

enum Action {
    Put { path: String, kind: NodeKind, mtime_ns: u64 },
    Delete(String),
    Conflict { path: String, theirs: Vec<u8> },
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
enum Scan {
    Full(Vec<Seen>),
    Partial { seen: Vec<Seen>, gone: Vec<String> },
}

/// Pull everything that differs from the manifest, by walking the whole staging dir.
pub fn pull(vfs: &mut Vfs, staging: &Path, manifest: &mut SyncManifest, rules: &Rules) -> Result<Report, SyncError> {
    let seen = match walk(staging) {
        Ok(seen) => seen,
        Err(_) if !staging.exists() && !manifest.entries.is_empty() => {
            return Err(SyncError::RootVanished(staging.into()))
        }
        Err(e) => return Err(e),
    };
    apply(vfs, staging, manifest, rules, Scan::Full(seen))
}

/// Pull only `changed` paths (relative, from a watcher). Returns the report and the directories
/// that appeared, so the caller can watch them too.
pub fn pull_changed(
    vfs: &mut Vfs,
    staging: &Path,
    manifest: &mut SyncManifest,
    rules: &Rules,
    changed: &BTreeSet<String>,
) -> Result<(Report, Vec<String>), SyncError> {
    let mut seen = Vec::new();
    let mut gone = Vec::new();
    let mut new_dirs = Vec::new();
    for relative in changed {
        if relative.is_empty() {
            if !staging.is_dir() {
                return Err(SyncError::RootVanished(staging.into()));
            }
            continue;
        }
        let host = staging.join(relative);
        match std::fs::symlink_metadata(&host) {
            Ok(meta) => {
                let entry = entry_of(&meta);
                if entry.kind == Kind::Dir && !matches!(manifest.entries.get(relative), Some(e) if e.kind == Kind::Dir)
                {
                    // A new directory: everything in it is new, and it needs watching.
                    new_dirs.push(relative.clone());
                    for inner in walk(&host)? {
                        if inner.entry.kind == Kind::Dir {
                            new_dirs.push(format!("{relative}/{}", inner.relative));
                        }
                        seen.push(Seen { relative: format!("{relative}/{}", inner.relative), entry: inner.entry });
                    }
                }
                seen.push(Seen { relative: relative.clone(), entry });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => gone.push(relative.clone()),
            Err(e) => return Err(io_error(&host, e)),
        }
    }
    let report = apply(vfs, staging, manifest, rules, Scan::Partial { seen, gone })?;
    Ok((report, new_dirs))
}

/// Directories recorded by the last sync (what a watcher must watch).
pub fn synced_dirs(manifest: &SyncManifest) -> impl Iterator<Item = &str> {
    manifest.entries.iter().filter(|(_, e)| e.kind == Kind::Dir).map(|(p, _)| p.as_str())
}

/// Plan the whole pull (all reads done), then apply it: an error before the apply leaves the
/// workspace untouched.
fn apply(
    vfs: &mut Vfs,
    staging: &Path,
    manifest: &mut SyncManifest,
    rules: &Rules,
    scan: Scan,
) -> Result<Report, SyncError> {
    let (seen, gone, full) = match scan {
        Scan::Full(seen) => {
            // Every path seen is distinct, so if each is known and the counts match, nothing is gone.
            let known = seen.iter().filter(|s| manifest.entries.contains_key(&s.relative)).count();
            let gone: Vec<String> = if known == manifest.entries.len() {
                Vec::new()
            } else {
                let present: std::collections::HashSet<&str> = seen.iter().map(|s| s.relative.as_str()).collect();
                manifest.entries.keys().filter(|k| !present.contains(k.as_str())).cloned().collect()
            };
            (seen, gone, true)
        }
        Scan::Partial { seen, gone } => {
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
            (seen, gone, false)
        }
    };
    let remaining = if full { seen.len() } else { manifest.entries.len().saturating_sub(gone.len()) + seen.len() };
    if remaining == 0 && manifest.entries.len() > 1 {
        return Err(SyncError::RootVanished(staging.into()));
    }

    let mut actions = Vec::new();
    let mut progress = Progress::new("pulling changes from the staging dir");
    for Seen { relative, entry } in &seen {
        progress.inc();
        let host = staging.join(relative);
        if !staging_changed(entry, manifest.entries.get(relative), manifest, vfs, relative, &host) {
            continue;
        }
        let path = to_vfs(relative);
        let workspace_changed = vfs.get(&path).is_some_and(|n| n.changed > manifest.vfs_generation);
        let kind = match entry.kind {
            Kind::Dir => NodeKind::Dir,
            Kind::Symlink => {
                let link = std::fs::read_link(&host).map_err(|e| io_error(&host, e))?;
                NodeKind::Symlink { target: link.to_string_lossy().into_owned() }
            }
            Kind::File if rules.is_lazy(relative) => NodeKind::File {
                content: Content::Host { path: host.clone(), size: entry.size },
                executable: entry.executable,
            },
            Kind::File => {
                let data = std::fs::read(&host).map_err(|e| io_error(&host, e))?;
                if workspace_changed {
                    actions.push(Action::Conflict { path, theirs: data });
                    continue;
                }
                NodeKind::File { content: Content::Bytes(Arc::new(data)), executable: entry.executable }
            }
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
                vfs.put(&path, kind, mtime_ns).map_err(|e| io_error(Path::new(&path), e))?;
                report.written += 1;
            }
            Action::Delete(path) => {
                if vfs.exists(&path) {
                    vfs.remove(&path, true).map_err(|e| io_error(Path::new(&path), e))?;
                    report.deleted += 1;
                }
            }
            Action::Conflict { path, theirs } => conflicts.push((path, theirs)),
        }
    }
    let unchanged = gone.is_empty() && seen.iter().all(|s| manifest.entries.get(&s.relative) == Some(&s.entry));
    if unchanged {
        // The common case after a no-op tool: keep the manifest as it is.
    } else if full {
        manifest.dirty = true;
        manifest.entries = seen.into_iter().map(|s| (s.relative, s.entry)).collect();
    } else {
        manifest.dirty = true;
        for relative in gone {
            manifest.entries.remove(&relative);
        }
        manifest.entries.extend(seen.into_iter().map(|s| (s.relative, s.entry)));
    }
    for (path, theirs) in conflicts {
        let kept = keep_conflict(vfs, staging, manifest, &path, theirs)?;
        report.conflicts.push((path, kept));
    }
    manifest.vfs_generation = vfs.generation();
    manifest.synced_at_ns = now_ns();
    vfs.prune_tombstones(manifest.vfs_generation);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threaded_walk_finds_every_path_once() {
        let root = tempfile::tempdir().unwrap();
        let mut expected = BTreeSet::new();
        for a in 0..12 {
            for b in 0..5 {
                let dir = format!("a{a}/b{b}");
                std::fs::create_dir_all(root.path().join(&dir)).unwrap();
                expected.insert(format!("a{a}"));
                expected.insert(dir.clone());
                for f in 0..7 {
                    std::fs::write(root.path().join(format!("{dir}/f{f}")), b"x").unwrap();
                    expected.insert(format!("{dir}/f{f}"));
                }
            }
        }
        std::os::unix::fs::symlink("/etc", root.path().join("a0/out")).unwrap();
        expected.insert("a0/out".into());

        let seen = walk(root.path()).unwrap();
        assert_eq!(seen.len(), expected.len(), "no path twice");
        let found: BTreeSet<String> = seen.iter().map(|s| s.relative.clone()).collect();
        assert_eq!(found, expected);
        let link = seen.iter().find(|s| s.relative == "a0/out").unwrap();
        assert_eq!(link.entry.kind, Kind::Symlink, "recorded as a symlink, not followed");
    }

    #[test]
    fn lazy_patterns_match_components_or_paths_and_everything_below() {
        let rules = Rules::new(&["target".into(), "*.o".into(), "docs/book".into(), "gen/*/out/".into()]).unwrap();
        for lazy in ["target", "p/target/debug/x", "a/b.o", "docs/book", "docs/book/index.html", "gen/x/out/y"] {
            assert!(rules.is_lazy(lazy), "{lazy}");
        }
        for eager in ["targets/x", "src/main.rs", "a/b.os", "p/docs/book", "docs/bookish", "gen/x/y/out/z"] {
            assert!(!rules.is_lazy(eager), "{eager}");
        }
        let bad = Rules::new(&["ok".into(), "[unclosed".into()]).unwrap_err();
        assert!(bad.contains("\"[unclosed\""), "{bad}");
    }

    #[test]
    fn a_walk_that_cannot_list_names_the_path() {
        let missing = Path::new("/nonexistent/devshell-staging");
        match walk(missing) {
            Err(SyncError::Io { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected an I/O error naming the path, got {:?}", other.map(|s| s.len())),
        }
    }
}
