//! The workspace: an in-memory tree of directories, files and symlinks with Unix-style logical
//! paths.
//!
//! Owns path normalization (`..` never climbs above `/`), node metadata (executable bit, mtime)
//! and change tracking: every mutation stamps the node with a new generation, deletions leave a
//! tombstone, so the sync engine can ask "what changed since generation G" without a walk. File
//! content may be bytes in memory, a file in the backend's staging dir read lazily (build
//! output), through a [`LazySource`] the session attaches, or, above a size threshold, a file
//! in the [`BlobStore`] beside the state file (a redirect of a gigabyte of output). Knows nothing of the shell, sessions
//! or the host filesystem. A loaded workspace is untrusted until [`Vfs::check`] accepts it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::blobs::BlobStore;
use crate::stdio::Spill;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Content {
    /// Bytes held in memory.
    Bytes(Arc<Vec<u8>>),
    /// A file in the staging dir read on demand (kept out of memory); `path` is relative to
    /// the staging root, `size` as of the last sync.
    Host { path: PathBuf, size: u64 },
    /// A big file kept in the [`BlobStore`], named by the hash of its content.
    Blob { hash: String, size: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NodeKind {
    Dir,
    File { content: Content, executable: bool },
    Symlink { target: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub kind: NodeKind,
    pub mtime_ns: u64,
    /// Generation of the last change to this node.
    pub changed: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VfsError {
    #[error("{0}: No such file or directory")]
    NotFound(String),
    #[error("{0}: Not a directory")]
    NotADirectory(String),
    #[error("{0}: Is a directory")]
    IsADirectory(String),
    #[error("{0}: File exists")]
    Exists(String),
    #[error("{0}: Directory not empty")]
    NotEmpty(String),
    #[error("{0}: {1}")]
    Io(String, String),
    #[error("{0}: refusing to operate on the workspace root")]
    Root(String),
}

pub type VfsResult<T> = Result<T, VfsError>;

/// What changed since a generation: paths to (re)write and paths deleted.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub changed: Vec<String>,
    pub deleted: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vfs {
    #[serde(with = "sorted_map")]
    nodes: BTreeMap<String, Node>,
    #[serde(with = "sorted_map")]
    tombstones: BTreeMap<String, u64>,
    generation: u64,
    /// Where lazy (`Content::Host`) files are read from; attached by the session.
    #[serde(skip)]
    lazy: Option<Arc<dyn LazySource>>,
    /// Where big files live; attached by whoever knows the state file.
    #[serde(skip)]
    blobs: Option<Arc<BlobStore>>,
}

/// Reads the lazy files of a workspace (the staging dir, beneath its handle).
pub trait LazySource: std::fmt::Debug + Send + Sync {
    /// The bytes of the file at `relative` (a path below the staging root), bounded in size.
    fn read(&self, relative: &std::path::Path) -> Result<Vec<u8>, String>;
}

/// Serde for large `BTreeMap`s as a sorted sequence: loading then bulk-builds the tree in one
/// pass instead of inserting key by key (10,000 paths load several times faster).
pub mod sorted_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        // Already sorted on disk, so `from_iter`'s sort is a linear check before the bulk build.
        Ok(Vec::<(K, V)>::deserialize(deserializer)?.into_iter().collect())
    }
}

impl Default for Vfs {
    fn default() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_string(), Node { kind: NodeKind::Dir, mtime_ns: now_ns(), changed: 0 });
        Vfs { nodes, tombstones: BTreeMap::new(), generation: 0, lazy: None, blobs: None }
    }
}

pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Join `path` onto `cwd` (unless absolute) and normalize lexically.
pub fn resolve(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{cwd}/{path}") };
    devshell_plugin_kit::normalize_absolute(&joined).unwrap_or_else(|| "/".into())
}

pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

fn child_prefix(dir: &str) -> String {
    if dir == "/" {
        "/".into()
    } else {
        format!("{dir}/")
    }
}

impl Vfs {
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Read lazy files through `source` from now on.
    pub fn set_lazy_source(&mut self, source: Arc<dyn LazySource>) {
        self.lazy = Some(source);
    }

    /// Keep files above the store's threshold in `store` from now on.
    pub fn set_blob_store(&mut self, store: Arc<BlobStore>) {
        self.blobs = Some(store);
    }

    /// The hashes of every file kept in the blob store.
    pub fn blob_hashes(&self) -> impl Iterator<Item = &str> {
        self.nodes.values().filter_map(|node| match &node.kind {
            NodeKind::File { content: Content::Blob { hash, .. }, .. } => Some(hash.as_str()),
            _ => None,
        })
    }

    /// Remove the stored big files this workspace no longer refers to (after a save).
    pub fn prune_blobs(&self) {
        if let Some(store) = &self.blobs {
            store.retain(&self.blob_hashes().collect());
        }
    }

    fn blob_store(&self, path: &str) -> VfsResult<&BlobStore> {
        self.blobs.as_deref().ok_or_else(|| VfsError::Io(path.into(), "a big file, and no file store is attached".into()))
    }

    fn open_blob(&self, path: &str, hash: &str) -> VfsResult<std::fs::File> {
        self.blob_store(path)?.open(hash).map_err(|e| VfsError::Io(path.into(), format!("its content is gone: {e}")))
    }

    fn read_lazy(&self, path: &str, relative: &std::path::Path) -> VfsResult<Vec<u8>> {
        let source = self.lazy.as_ref().ok_or_else(|| {
            VfsError::Io(path.into(), "build output kept in the backend's staging dir; no backend is attached".into())
        })?;
        source.read(relative).map_err(|e| VfsError::Io(path.into(), e))
    }

    fn bump(&mut self) -> u64 {
        // `check` refuses loaded generations near the top, so this cannot wrap.
        self.generation = self.generation.checked_add(1).expect("workspace generation overflow");
        self.generation
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    pub fn exists(&self, path: &str) -> bool {
        self.nodes.contains_key(path)
    }

    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.nodes.get(path), Some(Node { kind: NodeKind::Dir, .. }))
    }

    /// Follow symlinks (inside the workspace, at most 16 hops) to the final path.
    pub fn follow(&self, path: &str) -> VfsResult<String> {
        let mut current = path.to_string();
        for _ in 0..16 {
            match self.nodes.get(&current) {
                Some(Node { kind: NodeKind::Symlink { target }, .. }) => current = resolve(parent_of(&current), target),
                Some(_) => return Ok(current),
                None => return Err(VfsError::NotFound(path.into())),
            }
        }
        Err(VfsError::Io(path.into(), "too many levels of symbolic links".into()))
    }

    fn require_parent_dir(&self, path: &str) -> VfsResult<()> {
        let parent = parent_of(path);
        match self.nodes.get(parent) {
            Some(Node { kind: NodeKind::Dir, .. }) => Ok(()),
            Some(_) => Err(VfsError::NotADirectory(parent.into())),
            None => Err(VfsError::NotFound(parent.into())),
        }
    }

    fn insert(&mut self, path: &str, kind: NodeKind, mtime_ns: u64) {
        let changed = self.bump();
        self.tombstones.remove(path);
        self.nodes.insert(path.to_string(), Node { kind, mtime_ns, changed });
    }

    /// Names of a directory's direct children, sorted.
    pub fn list(&self, dir: &str) -> VfsResult<Vec<(String, &Node)>> {
        match self.nodes.get(dir) {
            Some(Node { kind: NodeKind::Dir, .. }) => {}
            Some(_) => return Err(VfsError::NotADirectory(dir.into())),
            None => return Err(VfsError::NotFound(dir.into())),
        }
        let prefix = child_prefix(dir);
        Ok(self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, _)| p.len() > prefix.len() && !p[prefix.len()..].contains('/'))
            .map(|(p, n)| (p[prefix.len()..].to_string(), n))
            .collect())
    }

    /// Every path at or below `root`, in sorted order.
    pub fn walk<'a>(&'a self, root: &str) -> impl Iterator<Item = (&'a String, &'a Node)> + 'a {
        let root = root.to_string();
        let prefix = child_prefix(&root);
        self.nodes.range(root.clone()..).take_while(move |(p, _)| **p == root || p.starts_with(&prefix))
    }

    pub fn read(&self, path: &str) -> VfsResult<Vec<u8>> {
        let real = self.follow(path)?;
        match &self.nodes[&real].kind {
            NodeKind::File { content: Content::Bytes(bytes), .. } => Ok(bytes.as_ref().clone()),
            NodeKind::File { content: Content::Host { path: relative, .. }, .. } => self.read_lazy(path, relative),
            NodeKind::File { content: Content::Blob { hash, .. }, .. } => {
                let mut bytes = Vec::new();
                self.open_blob(path, hash)?.read_to_end(&mut bytes).map_err(|e| VfsError::Io(path.into(), e.to_string()))?;
                Ok(bytes)
            }
            NodeKind::Dir => Err(VfsError::IsADirectory(path.into())),
            NodeKind::Symlink { .. } => unreachable!("follow resolves symlinks"),
        }
    }

    /// A file's content as a stream: a big one is never read whole into memory.
    pub fn reader(&self, path: &str) -> VfsResult<Box<dyn Read + Send>> {
        let real = self.follow(path)?;
        match &self.nodes[&real].kind {
            NodeKind::File { content: Content::Blob { hash, .. }, .. } => {
                Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, self.open_blob(path, hash)?)))
            }
            _ => Ok(Box::new(std::io::Cursor::new(self.read(path)?))),
        }
    }

    pub fn size(node: &Node) -> u64 {
        match &node.kind {
            NodeKind::File { content: Content::Bytes(b), .. } => b.len() as u64,
            NodeKind::File { content: Content::Host { size, .. } | Content::Blob { size, .. }, .. } => *size,
            NodeKind::Symlink { target } => target.len() as u64,
            NodeKind::Dir => 0,
        }
    }

    /// Create or replace a file's content, keeping its executable bit.
    pub fn write(&mut self, path: &str, data: Vec<u8>) -> VfsResult<()> {
        let real = self.writable_file(path)?;
        let executable = matches!(self.nodes.get(&real), Some(Node { kind: NodeKind::File { executable: true, .. }, .. }));
        self.insert(&real, NodeKind::File { content: Content::Bytes(Arc::new(data)), executable }, now_ns());
        Ok(())
    }

    /// Where a write to `path` lands (through symlinks), refused when that is a directory or
    /// its parent is not one.
    fn writable_file(&self, path: &str) -> VfsResult<String> {
        let real = match self.follow(path) {
            Ok(real) => real,
            Err(VfsError::NotFound(_)) => path.to_string(),
            Err(e) => return Err(e),
        };
        self.require_parent_dir(&real)?;
        if let Some(Node { kind: NodeKind::Dir, .. }) = self.nodes.get(&real) {
            return Err(VfsError::IsADirectory(path.into()));
        }
        Ok(real)
    }

    /// Create or replace a file with what `spill` holds: above the blob store's threshold it
    /// goes to the store without passing through memory whole.
    pub fn write_spill(&mut self, path: &str, spill: Spill) -> VfsResult<()> {
        self.write_spilled(path, spill.len(), spill.into_reader().map_err(|e| VfsError::Io(path.into(), e.to_string()))?)
    }

    /// Append what `spill` holds, by the same rule as [`Vfs::write_spill`].
    pub fn append_spill(&mut self, path: &str, spill: Spill) -> VfsResult<()> {
        let existing = match self.follow(path) {
            Ok(real) => self.nodes.get(&real).map_or(0, Vfs::size),
            Err(VfsError::NotFound(_)) => 0,
            Err(e) => return Err(e),
        };
        let total = existing + spill.len();
        let added = spill.into_reader().map_err(|e| VfsError::Io(path.into(), e.to_string()))?;
        if existing == 0 {
            return self.write_spilled(path, total, added);
        }
        let current = self.reader(path)?;
        self.write_spilled(path, total, Box::new(current.chain(added)))
    }

    fn write_spilled(&mut self, path: &str, size: u64, mut bytes: Box<dyn Read + Send>) -> VfsResult<()> {
        let io = |e: std::io::Error| VfsError::Io(path.into(), e.to_string());
        let store = match &self.blobs {
            Some(store) if size > store.threshold() => Arc::clone(store),
            _ => {
                let mut data = Vec::with_capacity(size as usize);
                bytes.read_to_end(&mut data).map_err(io)?;
                return self.write(path, data);
            }
        };
        // Checked before the store is written, so a refused path leaves no orphan behind.
        let real = self.writable_file(path)?;
        let (hash, size) = store.store(&mut bytes).map_err(io)?;
        let executable = matches!(self.nodes.get(&real), Some(Node { kind: NodeKind::File { executable: true, .. }, .. }));
        self.insert(&real, NodeKind::File { content: Content::Blob { hash, size }, executable }, now_ns());
        Ok(())
    }

    pub fn append(&mut self, path: &str, data: &[u8]) -> VfsResult<()> {
        let mut current = match self.read(path) {
            Ok(bytes) => bytes,
            Err(VfsError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        current.extend_from_slice(data);
        self.write(path, current)
    }

    /// Put a node exactly as given (sync's pull); creates missing parents.
    pub fn put(&mut self, path: &str, kind: NodeKind, mtime_ns: u64) -> VfsResult<()> {
        self.mkdir_p(parent_of(path))?;
        if let Some(Node { kind: NodeKind::Dir, .. }) = self.nodes.get(path) {
            if !matches!(kind, NodeKind::Dir) {
                self.remove(path, true)?;
            }
        }
        self.insert(path, kind, mtime_ns);
        Ok(())
    }

    /// Update mtime without content change (touch on an existing path).
    pub fn touch(&mut self, path: &str) -> VfsResult<()> {
        if let Ok(real) = self.follow(path) {
            let changed = self.bump();
            let node = self.nodes.get_mut(&real).expect("followed path exists");
            node.mtime_ns = now_ns();
            node.changed = changed;
            return Ok(());
        }
        self.write(path, Vec::new())
    }

    pub fn set_executable(&mut self, path: &str, value: bool) -> VfsResult<()> {
        let real = self.follow(path)?;
        let changed = self.bump();
        match self.nodes.get_mut(&real) {
            Some(Node { kind: NodeKind::File { executable, .. }, changed: c, .. }) => {
                *executable = value;
                *c = changed;
                Ok(())
            }
            _ => Err(VfsError::IsADirectory(path.into())),
        }
    }

    pub fn mkdir(&mut self, path: &str) -> VfsResult<()> {
        if self.nodes.contains_key(path) {
            return Err(VfsError::Exists(path.into()));
        }
        self.require_parent_dir(path)?;
        self.insert(path, NodeKind::Dir, now_ns());
        Ok(())
    }

    pub fn mkdir_p(&mut self, path: &str) -> VfsResult<()> {
        let mut current = String::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            current.push('/');
            current.push_str(segment);
            match self.nodes.get(&current) {
                Some(Node { kind: NodeKind::Dir, .. }) => {}
                Some(_) => return Err(VfsError::NotADirectory(current)),
                None => self.insert(&current, NodeKind::Dir, now_ns()),
            }
        }
        Ok(())
    }

    pub fn symlink(&mut self, target: &str, path: &str) -> VfsResult<()> {
        if self.nodes.contains_key(path) {
            return Err(VfsError::Exists(path.into()));
        }
        self.require_parent_dir(path)?;
        self.insert(path, NodeKind::Symlink { target: target.into() }, now_ns());
        Ok(())
    }

    /// Remove a node; a non-empty directory needs `recursive`.
    pub fn remove(&mut self, path: &str, recursive: bool) -> VfsResult<()> {
        if path == "/" {
            return Err(VfsError::Root(path.into()));
        }
        let node = self.nodes.get(path).ok_or_else(|| VfsError::NotFound(path.into()))?;
        if matches!(node.kind, NodeKind::Dir) {
            let descendants: Vec<String> = self.walk(path).skip(1).map(|(p, _)| p.clone()).collect();
            if !descendants.is_empty() && !recursive {
                return Err(VfsError::NotEmpty(path.into()));
            }
            for descendant in descendants {
                self.nodes.remove(&descendant);
                let generation = self.bump();
                self.tombstones.insert(descendant, generation);
            }
        }
        self.nodes.remove(path);
        let generation = self.bump();
        self.tombstones.insert(path.to_string(), generation);
        Ok(())
    }

    /// Copy `from` to `to` (a directory tree needs `recursive`).
    pub fn copy(&mut self, from: &str, to: &str, recursive: bool) -> VfsResult<()> {
        let source = self.nodes.get(from).ok_or_else(|| VfsError::NotFound(from.into()))?.clone();
        if matches!(source.kind, NodeKind::Dir) {
            if !recursive {
                return Err(VfsError::IsADirectory(from.into()));
            }
            if to == from || to.starts_with(&child_prefix(from)) {
                return Err(VfsError::Io(to.into(), format!("cannot copy {from} into itself")));
            }
            let entries: Vec<(String, Node)> = self.walk(from).map(|(p, n)| (p.clone(), n.clone())).collect();
            self.require_parent_dir(to)?;
            for (path, node) in entries {
                let target = format!("{to}{}", &path[from.len()..]);
                self.insert(&target, node.kind, node.mtime_ns);
            }
            return Ok(());
        }
        if self.is_dir(to) {
            return Err(VfsError::IsADirectory(to.into()));
        }
        self.require_parent_dir(to)?;
        let kind = match source.kind {
            NodeKind::File { content: Content::Host { path, .. }, executable } => {
                let bytes = self.read_lazy(from, &path)?;
                NodeKind::File { content: Content::Bytes(Arc::new(bytes)), executable }
            }
            other => other,
        };
        self.insert(to, kind, now_ns());
        Ok(())
    }

    /// Move `from` to `to`, keeping content and metadata.
    pub fn rename(&mut self, from: &str, to: &str) -> VfsResult<()> {
        if from == "/" {
            return Err(VfsError::Root(from.into()));
        }
        if to.starts_with(&child_prefix(from)) {
            return Err(VfsError::Io(to.into(), format!("cannot move {from} into itself")));
        }
        let entries: Vec<(String, Node)> = self.walk(from).map(|(p, n)| (p.clone(), n.clone())).collect();
        if entries.is_empty() {
            return Err(VfsError::NotFound(from.into()));
        }
        self.require_parent_dir(to)?;
        if self.exists(to) {
            self.remove(to, true)?;
        }
        self.remove(from, true)?;
        for (path, node) in entries {
            let target = format!("{to}{}", &path[from.len()..]);
            self.insert(&target, node.kind, node.mtime_ns);
        }
        Ok(())
    }

    /// Paths changed and deleted since `generation` (at or below `root`).
    pub fn changes_since(&self, generation: u64, root: &str) -> Changes {
        if generation >= self.generation {
            // Nothing has been stamped since: no need to look at every node.
            return Changes { changed: Vec::new(), deleted: Vec::new() };
        }
        let under = |p: &str| p == root || root == "/" || p.starts_with(&child_prefix(root));
        Changes {
            changed: self
                .nodes
                .iter()
                .filter(|(p, n)| n.changed > generation && under(p))
                .map(|(p, _)| p.clone())
                .collect(),
            deleted: self
                .tombstones
                .iter()
                .filter(|(p, g)| **g > generation && under(p) && !self.nodes.contains_key(*p))
                .map(|(p, _)| p.clone())
                .collect(),
        }
    }

    /// Mark `path` (a node, or a deletion) as changed again now, so the next sync retries it.
    pub fn restamp(&mut self, path: &str) {
        let generation = self.bump();
        if let Some(node) = self.nodes.get_mut(path) {
            node.changed = generation;
        } else if let Some(deleted) = self.tombstones.get_mut(path) {
            *deleted = generation;
        }
    }

    /// Forget tombstones older than `generation` (after a sync has consumed them).
    pub fn prune_tombstones(&mut self, generation: u64) {
        self.tombstones.retain(|_, g| *g > generation);
    }
}

/// True for a normalized relative path: non-empty `/`-separated components, none of them `.`,
/// `..` or containing NUL. What a path from an untrusted file must look like.
pub fn is_normal_relative(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'))
}

impl Vfs {
    /// Accept a workspace read from an untrusted file only when it is one this code could have
    /// made: normalized absolute paths, every parent a directory, a root directory, lazy files
    /// pointing below the staging root, no generation from the future. The error names the
    /// first bad entry.
    pub fn check(&self) -> Result<(), String> {
        if !self.is_dir("/") {
            return Err("the workspace has no root directory".into());
        }
        if self.generation > u64::MAX / 2 {
            return Err(format!("workspace generation {} is not one this code reaches", self.generation));
        }
        for (path, node) in &self.nodes {
            if path == "/" {
                continue;
            }
            let bad = |why: &str| Err(format!("workspace entry {path:?}: {why}"));
            if !path.strip_prefix('/').is_some_and(is_normal_relative) {
                return bad("not a normalized absolute path");
            }
            if !self.is_dir(parent_of(path)) {
                return bad("its parent is not a directory");
            }
            if node.changed > self.generation {
                return bad("changed in a generation that has not happened yet");
            }
            match &node.kind {
                NodeKind::File { content: Content::Host { path: host, .. }, .. }
                    if !host.to_str().is_some_and(is_normal_relative) =>
                {
                    return bad("lazy content outside the staging dir");
                }
                NodeKind::File { content: Content::Blob { hash, .. }, .. } if !crate::blobs::valid_hash(hash) => {
                    return bad("a big file's name is not a content hash");
                }
                _ => {}
            }
        }
        if let Some((path, _)) = self
            .tombstones
            .iter()
            .find(|(p, g)| **g > self.generation || !p.strip_prefix('/').is_some_and(is_normal_relative))
        {
            return Err(format!("deleted-entry record {path:?} is not valid"));
        }
        Ok(())
    }

    /// Drop every lazy (staging-backed) file: used when the staging dir they pointed into is
    /// no longer this workspace's (an older state format).
    pub fn forget_lazy_files(&mut self) {
        let lazy: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n.kind, NodeKind::File { content: Content::Host { .. }, .. }))
            .map(|(p, _)| p.clone())
            .collect();
        for path in lazy {
            let _ = self.remove(&path, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_normalizes_and_never_climbs_above_root() {
        assert_eq!(resolve("/a/b", "../c"), "/a/c");
        assert_eq!(resolve("/a", "../../../x"), "/x");
        assert_eq!(resolve("/a", "/b/./c/"), "/b/c");
        assert_eq!(resolve("/", "."), "/");
    }

    #[test]
    fn write_read_list_remove() {
        let mut vfs = Vfs::default();
        vfs.mkdir_p("/p/src").unwrap();
        vfs.write("/p/src/main.rs", b"fn main() {}".to_vec()).unwrap();
        assert_eq!(vfs.read("/p/src/main.rs").unwrap(), b"fn main() {}");
        assert_eq!(vfs.list("/p").unwrap().iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["src"]);
        assert!(matches!(vfs.write("/nope/x", vec![]), Err(VfsError::NotFound(p)) if p == "/nope"));
        assert!(matches!(vfs.remove("/p", false), Err(VfsError::NotEmpty(_))));
        vfs.remove("/p", true).unwrap();
        assert!(!vfs.exists("/p/src/main.rs"));
        assert!(matches!(vfs.remove("/", true), Err(VfsError::Root(_))));
    }

    #[test]
    fn change_tracking_reports_edits_and_deletes() {
        let mut vfs = Vfs::default();
        vfs.mkdir_p("/p").unwrap();
        vfs.write("/p/a", b"1".to_vec()).unwrap();
        vfs.write("/p/b", b"2".to_vec()).unwrap();
        let mark = vfs.generation();
        assert_eq!(vfs.changes_since(mark, "/"), Changes::default());
        vfs.write("/p/a", b"changed".to_vec()).unwrap();
        vfs.remove("/p/b", false).unwrap();
        let changes = vfs.changes_since(mark, "/p");
        assert_eq!(changes.changed, ["/p/a"]);
        assert_eq!(changes.deleted, ["/p/b"]);
        vfs.write("/p/b", b"back".to_vec()).unwrap();
        assert!(vfs.changes_since(mark, "/").deleted.is_empty());
    }

    #[test]
    fn copy_and_rename_trees() {
        let mut vfs = Vfs::default();
        vfs.mkdir_p("/a/d").unwrap();
        vfs.write("/a/d/f", b"x".to_vec()).unwrap();
        vfs.set_executable("/a/d/f", true).unwrap();
        assert!(matches!(vfs.copy("/a", "/b", false), Err(VfsError::IsADirectory(_))));
        vfs.copy("/a", "/b", true).unwrap();
        assert_eq!(vfs.read("/b/d/f").unwrap(), b"x");
        assert!(vfs.copy("/a", "/a/d/inner", true).is_err());
        vfs.rename("/b", "/c").unwrap();
        assert!(!vfs.exists("/b/d/f"));
        assert!(matches!(vfs.get("/c/d/f").unwrap().kind, NodeKind::File { executable: true, .. }));
    }

    #[derive(Debug)]
    struct OneFile;
    impl LazySource for OneFile {
        fn read(&self, relative: &std::path::Path) -> Result<Vec<u8>, String> {
            if relative == std::path::Path::new("t/big.bin") {
                Ok(b"from disk".to_vec())
            } else {
                Err("no such file".into())
            }
        }
    }

    #[test]
    fn lazy_content_is_read_on_demand_through_the_attached_source() {
        let mut vfs = Vfs::default();
        let lazy = NodeKind::File { content: Content::Host { path: "t/big.bin".into(), size: 9 }, executable: false };
        vfs.put("/t/big.bin", lazy, 1).unwrap();
        assert!(vfs.read("/t/big.bin").unwrap_err().to_string().contains("no backend"));
        vfs.set_lazy_source(Arc::new(OneFile));
        assert_eq!(vfs.read("/t/big.bin").unwrap(), b"from disk");
    }

    #[test]
    fn check_refuses_what_this_code_could_not_have_made() {
        let mut vfs = Vfs::default();
        vfs.write("/ok", b"x".to_vec()).unwrap();
        assert_eq!(vfs.check(), Ok(()));
        for bad in ["/../../.bashrc", "/a//b", "relative", "/a/./b", "/x/", "/nul\0"] {
            let mut crafted = vfs.clone();
            crafted.nodes.insert(bad.into(), Node { kind: NodeKind::Dir, mtime_ns: 0, changed: 0 });
            assert!(crafted.check().is_err(), "{bad:?} accepted");
        }
        let mut orphan = vfs.clone();
        orphan.nodes.insert("/no/parent".into(), Node { kind: NodeKind::Dir, mtime_ns: 0, changed: 0 });
        assert!(orphan.check().unwrap_err().contains("parent"));
        let mut escaping = vfs.clone();
        let kind = NodeKind::File { content: Content::Host { path: "/etc/passwd".into(), size: 1 }, executable: false };
        escaping.nodes.insert("/t".into(), Node { kind, mtime_ns: 0, changed: 0 });
        assert!(escaping.check().unwrap_err().contains("outside the staging dir"));
        let mut crafted_blob = vfs.clone();
        let kind = NodeKind::File { content: Content::Blob { hash: "../../x".into(), size: 1 }, executable: false };
        crafted_blob.nodes.insert("/b".into(), Node { kind, mtime_ns: 0, changed: 0 });
        assert!(crafted_blob.check().unwrap_err().contains("content hash"));
    }

    #[test]
    fn files_above_the_threshold_live_in_the_blob_store_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut vfs = Vfs::default();
        vfs.set_blob_store(Arc::new(BlobStore::beside(&dir.path().join("state"), 8)));
        vfs.write_spill("/small", Spill::from_vec(b"tiny".to_vec())).unwrap();
        assert!(matches!(vfs.get("/small").unwrap().kind, NodeKind::File { content: Content::Bytes(_), .. }));
        vfs.write_spill("/big", Spill::from_vec(b"0123456789".to_vec())).unwrap();
        assert!(matches!(vfs.get("/big").unwrap().kind, NodeKind::File { content: Content::Blob { size: 10, .. }, .. }));
        vfs.append_spill("/big", Spill::from_vec(b"ab".to_vec())).unwrap();
        vfs.append_spill("/small", Spill::from_vec(b" grows past it".to_vec())).unwrap();
        assert_eq!(vfs.read("/big").unwrap(), b"0123456789ab");
        assert_eq!(vfs.read("/small").unwrap(), b"tiny grows past it");
        assert_eq!(Vfs::size(vfs.get("/small").unwrap()), 18);
        assert_eq!(vfs.blob_hashes().count(), 2);
        assert!(vfs.write_spill("/", Spill::from_vec(vec![0; 20])).is_err(), "a directory is refused");
        vfs.remove("/big", false).unwrap();
        vfs.prune_blobs();
        assert_eq!(std::fs::read_dir(dir.path().join("state.blobs")).unwrap().count(), 1, "only /small's is left");
    }

    #[test]
    fn symlinks_resolve_inside_the_workspace() {
        let mut vfs = Vfs::default();
        vfs.write("/f", b"target".to_vec()).unwrap();
        vfs.symlink("f", "/link").unwrap();
        assert_eq!(vfs.read("/link").unwrap(), b"target");
        vfs.symlink("loop", "/loop").unwrap();
        assert!(vfs.read("/loop").is_err());
    }
}
