//! Mode S sync between the workspace (VFS) and a backend's staging directory on the host.
//!
//! [`Mirror`] is the one owner of the mirror: the staging dir's location and identity, the
//! handle every staging operation goes through, the sync manifest, the lazy rules and the
//! watcher. The session calls [`Mirror::prepare`] when a backend starts, then
//! [`Mirror::before_tool`] and [`Mirror::after_tool`] around each tool run and
//! [`Mirror::at_exit`] at shutdown. Knows nothing of plugins; the shell never sees these types.
//!
//! The staging dir of a workspace is `<cache>/staging/<TOKEN>/tree`, where TOKEN is a random
//! name recorded in the manifest, and `<cache>/staging/<TOKEN>/owner` names the state file it
//! belongs to. A new state file gets a new token (so nothing comes back from an older staging
//! dir); a staging dir that is missing, replaced, emptied or owned by another state file is
//! never read as "everything was deleted": the manifest is forgotten, the whole workspace is
//! pushed again and nothing is deleted.

mod engine;
mod rules;

use std::collections::{BTreeSet, HashSet};
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use engine::{Report, SyncError, SyncManifest};
pub use rules::Rules;

use crate::beneath::Beneath;
use crate::vfs::{LazySource, Vfs};
use crate::watch::Watcher;
use engine::{Identity, Scan};

/// Files above this many bytes stay in the staging dir (lazy) instead of being read into
/// memory, unless the config says otherwise.
pub const DEFAULT_MAX_IN_MEMORY: u64 = 64 << 20;

/// The staging dir's path and handle, shared with the workspace for lazy reads.
#[derive(Debug)]
struct StagingDir {
    handle: Mutex<Option<Arc<Beneath>>>,
    tree: Mutex<PathBuf>,
    limit: u64,
}

impl StagingDir {
    /// The handle of the staging root, opened on first use.
    fn handle(&self) -> std::io::Result<Arc<Beneath>> {
        let mut handle = self.handle.lock().expect("staging handle poisoned");
        if let Some(open) = handle.as_ref() {
            return Ok(open.clone());
        }
        let opened = Arc::new(Beneath::open(&self.tree.lock().expect("staging path poisoned"))?);
        *handle = Some(opened.clone());
        Ok(opened)
    }

    fn move_to(&self, tree: PathBuf) {
        *self.tree.lock().expect("staging path poisoned") = tree;
        *self.handle.lock().expect("staging handle poisoned") = None;
    }
}

impl LazySource for StagingDir {
    fn read(&self, relative: &Path) -> Result<Vec<u8>, String> {
        let relative = relative.to_str().ok_or("not a UTF-8 path")?;
        let handle = self.handle().map_err(|e| {
            format!("the staging dir holding this build output is gone ({e}); run a tool to sync again")
        })?;
        handle.read_file(relative, self.limit).map(|(data, _)| data).map_err(|e| match e {
            crate::beneath::ReadError::TooBig { .. } => {
                format!("{e} (raise `max_file_mb` in the config to read it)")
            }
            other => format!("cannot read it from the staging dir: {other}"),
        })
    }
}

pub struct Mirror {
    base: PathBuf,
    owner: PathBuf,
    staging: Arc<StagingDir>,
    manifest: SyncManifest,
    rules: Rules,
    /// Changes the watcher saw between tool runs, kept for the next pull.
    pending: Option<BTreeSet<String>>,
    /// A tool ran and the pull after it did not succeed: the final reconciliation walks.
    needs_pull: bool,
    /// Armed by the first full pull; from then on pulls look only at what it saw change.
    watcher: Option<Watcher>,
    /// Skipped staging entries already reported (each is reported once per process).
    reported: HashSet<String>,
    /// The staging dir's contents were lost: the workspace's lazy files (build output kept
    /// there) are gone too, and are dropped before the next push.
    lazy_lost: bool,
}

pub(super) fn new_token() -> String {
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_err() {
        // No urandom: time and pid still make a collision between two state files unlikely.
        let seed = format!("{}-{}", crate::vfs::now_ns(), std::process::id());
        bytes.copy_from_slice(&blake3::hash(seed.as_bytes()).as_bytes()[..16]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Create `dir` (and its parents) private to the user.
fn create_private(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Read a small file of ours beside the staging dir, never through a symlink.
fn read_ours(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut bytes = Vec::new();
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?
        .take(1 << 16)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Replace a small file of ours beside the staging dir (a symlink there is replaced).
fn write_ours(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("a file in a token dir");
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut file, contents)?;
    file.persist(path).map(drop).map_err(|e| e.error)
}

impl Mirror {
    /// The mirror of the workspace saved at `owner` (the state file), with staging dirs under
    /// `base` (`<cache>/staging`). Files above `limit` bytes stay lazy.
    pub fn new(base: PathBuf, owner: &Path, mut manifest: SyncManifest, rules: Rules, limit: u64) -> Mirror {
        let owner = std::path::absolute(owner).unwrap_or_else(|_| owner.to_path_buf());
        let token = manifest.identity.get_or_insert_with(|| Identity::new()).token.clone();
        let staging =
            Arc::new(StagingDir { handle: Mutex::new(None), tree: Mutex::new(base.join(&token).join("tree")), limit });
        Mirror {
            base,
            owner,
            staging,
            manifest,
            rules,
            pending: None,
            needs_pull: false,
            watcher: None,
            reported: HashSet::new(),
            lazy_lost: false,
        }
    }

    /// Where workspace lazy files are read from.
    pub fn lazy_source(&self) -> Arc<dyn LazySource> {
        self.staging.clone()
    }

    /// The staging dir (what the backend is granted).
    pub fn path(&self) -> PathBuf {
        self.staging.tree.lock().expect("staging path poisoned").clone()
    }

    pub fn manifest(&self) -> &SyncManifest {
        &self.manifest
    }

    /// Take a manifest saved by another devshell process (with the workspace it describes).
    /// What the watcher saw is no longer meaningful against it: the next pull walks.
    pub fn replace_manifest(&mut self, mut manifest: SyncManifest) {
        let token = manifest.identity.get_or_insert_with(|| Identity::new()).token.clone();
        if token != self.token() {
            self.staging.move_to(self.base.join(&token).join("tree"));
        }
        self.manifest = manifest;
        self.watcher = None;
        self.pending = None;
        self.needs_pull = false;
    }

    fn token(&self) -> &str {
        &self.manifest.identity.as_ref().expect("set in new").token
    }

    /// Forget what was synced, so the next push writes everything and nothing is deleted;
    /// `contents_lost` when the staging dir no longer holds what it did (lazy files included).
    fn forget(&mut self, why: &str, contents_lost: bool, notices: &mut Vec<String>) {
        self.lazy_lost |= contents_lost;
        if self.manifest.initialized {
            notices.push(format!("{why}; pushing the whole workspace to it again (nothing is deleted)"));
        }
        self.manifest.forget();
        self.watcher = None;
        self.pending = None;
    }

    /// Make the staging dir ready and check it is this workspace's: created private if missing,
    /// adopted when the state file moved, forked when the state file is a copy of another.
    /// Returns what the user should be told.
    pub fn prepare(&mut self) -> anyhow::Result<Vec<String>> {
        use anyhow::Context;
        let mut notices = Vec::new();
        let token_dir = self.base.join(self.token());
        let owner_file = token_dir.join("owner");
        match read_ours(&owner_file) {
            Ok(recorded) if recorded == self.owner.as_os_str().as_encoded_bytes() => {}
            Ok(recorded) => {
                let other = PathBuf::from(String::from_utf8_lossy(&recorded).into_owned());
                let same_file =
                    other.canonicalize().ok().zip(self.owner.canonicalize().ok()).is_some_and(|(a, b)| a == b);
                if other.exists() && !same_file {
                    // A copied state file: both copies must not share one staging dir.
                    self.manifest.identity = Some(Identity::new());
                    self.staging.move_to(self.base.join(self.token()).join("tree"));
                    self.forget(
                        &format!("this workspace is a copy of {}; it gets a staging dir of its own", other.display()),
                        true,
                        &mut notices,
                    );
                }
            }
            Err(_) => self.forget("the staging dir of this workspace was missing (cache cleared?)", true, &mut notices),
        }
        let token_dir = self.base.join(self.token());
        let tree = token_dir.join("tree");
        create_private(&tree).with_context(|| format!("cannot create the staging dir {}", tree.display()))?;
        write_ours(&token_dir.join("owner"), self.owner.as_os_str().as_encoded_bytes())
            .with_context(|| format!("cannot write {}", token_dir.join("owner").display()))?;
        let handle =
            self.staging.handle().with_context(|| format!("cannot open the staging dir {}", tree.display()))?;
        // Through the handle: a symlink put in place of `tree` was refused by the open.
        rustix::fs::fchmod(handle.fd(), rustix::fs::Mode::from_raw_mode(0o700))?;
        let root = handle.root_meta()?;
        let serial =
            read_ours(&token_dir.join("serial")).ok().and_then(|s| String::from_utf8(s).ok()?.trim().parse().ok());
        let identity = self.manifest.identity.as_mut().expect("set in new");
        if (identity.dev, identity.ino) != (root.dev, root.ino) {
            let was_known = identity.ino != 0;
            identity.dev = root.dev;
            identity.ino = root.ino;
            self.manifest.dirty = true;
            if was_known {
                self.forget("the staging dir was replaced", true, &mut notices);
            }
        } else if serial != Some(identity.serial) {
            // Another sync happened since this manifest was saved (it was restored from a
            // backup, or a save was lost): it cannot tell a deletion from what it never saw.
            self.forget("the workspace's sync record is older than its staging dir", false, &mut notices);
        }
        Ok(notices)
    }

    /// Record a sync that changed the manifest, beside the staging dir as well.
    fn count_sync(&mut self) {
        if !self.manifest.dirty {
            return;
        }
        let identity = self.manifest.identity.as_mut().expect("set in new");
        identity.serial += 1;
        let serial = identity.serial.to_string();
        let file = self.base.join(&identity.token).join("serial");
        if let Err(e) = write_ours(&file, serial.as_bytes()) {
            tracing::warn!("cannot record the sync in {}: {e}", file.display());
        }
    }

    /// Before a tool runs: remember what changed in the staging dir since the last pull, then
    /// push what changed in the workspace.
    pub fn before_tool(&mut self, vfs: &mut Vfs) -> anyhow::Result<Report> {
        let handle = self.staging.handle()?;
        if std::mem::take(&mut self.lazy_lost) {
            vfs.forget_lazy_files(); // build output: the next build makes it again
        }
        if let Some(watcher) = &mut self.watcher {
            self.pending = watcher.changed();
        }
        let mut report = engine::push(vfs, &handle, &mut self.manifest, self.staging.limit);
        self.count_sync();
        if let Some(watcher) = &mut self.watcher {
            watcher.discard(); // our own writes
        }
        self.needs_pull = true;
        self.keep_unreported(&mut report);
        Ok(report)
    }

    /// After a tool ran (whether or not it succeeded): pull what it changed.
    pub fn after_tool(&mut self, vfs: &mut Vfs) -> Result<Report, SyncError> {
        let pending = self.pending.take();
        let result = self.pull(vfs, pending, true);
        match &result {
            Ok(_) => self.needs_pull = false,
            Err(_) => self.watcher = None,
        }
        result
    }

    /// At shutdown: what changed since the last pull (a build daemon writing late), as the
    /// watcher saw it; everything when the last pull failed or nothing watches.
    pub fn at_exit(&mut self, vfs: &mut Vfs) -> Result<Report, SyncError> {
        let since_last_pull = (!self.needs_pull).then(BTreeSet::new);
        let result = self.pull(vfs, since_last_pull, false);
        drop(self.watcher.take()); // released now, not on the exit path
        result
    }

    /// Pull what the watcher saw change (plus `since`); without a usable watcher, or with
    /// `since` `None`, walk everything, and with `arm` watch the tree for later runs. An
    /// emptied staging dir is pushed again in full instead of deleting the workspace.
    fn pull(&mut self, vfs: &mut Vfs, since: Option<BTreeSet<String>>, arm: bool) -> Result<Report, SyncError> {
        let mut report_recreated = false;
        let handle = self.staging.handle().map_err(|_| SyncError::RootVanished);
        let result = handle.and_then(|handle| self.pull_from(vfs, &handle, since, arm));
        let mut report = match result {
            Err(SyncError::RootVanished) => {
                let mut notices = Vec::new();
                self.forget("the staging dir was emptied or removed", true, &mut notices);
                // A removed dir is made anew: the old handle (and the backend's view) are stale.
                self.staging.move_to(self.path());
                report_recreated = true;
                let mut report = match self.prepare() {
                    Ok(more) => {
                        notices.extend(more);
                        if std::mem::take(&mut self.lazy_lost) {
                            vfs.forget_lazy_files();
                        }
                        let handle = self.staging.handle().map_err(|e| SyncError::Io {
                            path: self.path().display().to_string(),
                            message: e.to_string(),
                        })?;
                        engine::push(vfs, &handle, &mut self.manifest, self.staging.limit)
                    }
                    Err(e) => {
                        return Err(SyncError::Io {
                            path: self.path().display().to_string(),
                            message: format!("{e:#}"),
                        })
                    }
                };
                report.skipped.extend(notices.into_iter().map(|n| (String::new(), n)));
                report
            }
            other => other?,
        };
        report.staging_recreated = report_recreated;
        self.count_sync();
        self.keep_unreported(&mut report);
        Ok(report)
    }

    fn pull_from(
        &mut self,
        vfs: &mut Vfs,
        handle: &Beneath,
        since: Option<BTreeSet<String>>,
        arm: bool,
    ) -> Result<Report, SyncError> {
        let limit = self.staging.limit;
        let latest = self.watcher.as_mut().and_then(Watcher::changed);
        if let (Some(mut changed), Some(latest)) = (since, latest) {
            changed.extend(latest);
            tracing::debug!(paths = changed.len(), "pull: what the watcher saw");
            let watcher = self.watcher.as_ref().expect("checked above");
            let (scan, new_dirs) = engine::scan_changed(handle, &self.manifest, &changed, &|dir| watcher.watches(dir))?;
            let report = engine::apply(vfs, handle, &mut self.manifest, &self.rules, limit, scan)?;
            let watcher = self.watcher.as_mut().expect("checked above");
            if new_dirs.iter().any(|dir| watcher.watch(dir).is_err()) {
                self.watcher = None;
            }
            return Ok(report);
        }
        let walking = std::time::Instant::now();
        let walk = engine::walk(handle, "").map_err(|_| SyncError::RootVanished)?;
        let report = engine::apply(vfs, handle, &mut self.manifest, &self.rules, limit, Scan::Full(walk))?;
        tracing::debug!(elapsed = ?walking.elapsed(), "pull: walked the staging dir");
        if arm {
            // Watch every directory the walk found, for the next runs.
            let watcher = match self.watcher.take() {
                Some(mut watcher) => {
                    engine::synced_dirs(&self.manifest).try_for_each(|dir| watcher.watch(dir)).map(|_| watcher)
                }
                None => Watcher::new(handle.path(), engine::synced_dirs(&self.manifest)),
            };
            self.watcher =
                watcher.inspect_err(|e| tracing::debug!("not watching the staging dir ({e}); pulls will walk it")).ok();
        }
        Ok(report)
    }

    /// Keep in `report.skipped` only what this process has not reported yet.
    fn keep_unreported(&mut self, report: &mut Report) {
        report.skipped.retain(|(path, why)| self.reported.insert(format!("{path}\0{why}")));
    }
}

/// Staging dirs under `base` whose state file is gone or no longer uses them, with their
/// sizes on disk, for `devshell gc`.
pub fn orphaned_staging_dirs(base: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut orphans = Vec::new();
    let entries = match std::fs::read_dir(base) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(orphans),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let dir = entry?.path();
        let token = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let why = match std::fs::read(dir.join("owner")) {
            Err(_) => Some("no owner recorded (made by an older devshell)".to_string()),
            Ok(owner) => {
                let owner = PathBuf::from(String::from_utf8_lossy(&owner).into_owned());
                match crate::state::load(&owner) {
                    Ok(Some(state)) if state.sync.identity.as_ref().is_some_and(|i| i.token == token) => None,
                    Ok(Some(_)) => Some(format!("{} uses another staging dir now", owner.display())),
                    Ok(None) => Some(format!("its state file {} is gone", owner.display())),
                    // Unreadable or from a newer devshell: not ours to judge.
                    Err(_) => None,
                }
            }
        };
        if let Some(why) = why {
            orphans.push((dir, why));
        }
    }
    orphans.sort();
    Ok(orphans)
}
