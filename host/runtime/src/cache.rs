//! The compile cache: precompiled components in the user's cache dir, so only the first load of
//! a component pays for Cranelift.
//!
//! Key: the component's BLAKE3 hash and the engine's compatibility hash (wasmtime version and
//! every setting that changes generated code). Beside each artifact sits a checksum file
//! (`NAME.cwasm.b3`): BLAKE3 of the artifact keyed with the full hash of the component it was
//! compiled from. That binds the artifact to its component as well as to its bytes, so a
//! truncated or corrupt artifact, and an entry copied or swapped in from another component
//! (checksum file and all), fail the check; any mismatch or failed deserialize recompiles and
//! rewrites both. Writes are atomic (temp file + rename), so a crash mid-write leaves the old
//! files or a mismatch, and a mismatch only costs a recompile.
//!
//! **The cache dir must be as trusted as `~/.cargo`.** wasmtime deserializes an artifact as
//! native code without checking it, and the checksum is not a signature: whoever can write the
//! cache dir can write a matching checksum for code of their own, and that code then runs in
//! devshell with the user's rights. The checksum guards against corruption and mix-ups, not
//! against an attacker. The artifact stays a plain wasmtime file so that it can be mapped
//! straight from disk (`deserialize_file`) instead of copied into fresh memory, which was most
//! of a cached load.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The checksum file's first bytes. Version 2 is keyed by the component's hash; a version 1
/// file (an unkeyed hash) is refused, and the entry rebuilt.
const MAGIC: &[u8; 8] = b"DSHCWAS2";

/// Where a component came from this time: useful for tests and `DEVSHELL_LOG=debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPath {
    Compiled,
    Cached,
    /// The artifact existed but was corrupt or stale; it was rebuilt.
    Rebuilt,
}

pub struct CompileCache {
    dir: Option<PathBuf>,
}

impl CompileCache {
    /// `None` disables caching (every load compiles).
    pub fn new(dir: Option<PathBuf>) -> Self {
        CompileCache { dir }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn artifact_path(&self, engine: &Engine, component_hash: &blake3::Hash) -> Option<PathBuf> {
        let mut engine_hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hasher);
        let name = format!("{}-{:016x}.cwasm", &component_hash.to_hex()[..32], engine_hasher.finish());
        self.dir.as_ref().map(|d| d.join(name))
    }

    pub fn load(&self, engine: &Engine, component: &[u8]) -> Result<(Component, LoadPath)> {
        let component_hash = blake3::hash(component);
        let Some(path) = self.artifact_path(engine, &component_hash) else {
            return Ok((Component::new(engine, component)?, LoadPath::Compiled));
        };
        let checksum_path = checksum_path(&path);
        let existed = path.exists();
        if existed {
            match verify(&path, &checksum_path, &component_hash).and_then(|()| {
                // SAFETY: the cache dir is trusted (see the module doc), and the file matches the
                // checksum of an artifact compiled from this very component; wasmtime checks its
                // own header against this engine.
                unsafe { Component::deserialize_file(engine, &path) }.map_err(anyhow::Error::from)
            }) {
                Ok(loaded) => return Ok((loaded, LoadPath::Cached)),
                Err(e) => tracing::warn!("compile cache entry {} is unusable ({e:#}); rebuilding", path.display()),
            }
        }
        let code = engine.precompile_component(component)?;
        let written = write_atomic(&path, &code).and_then(|()| {
            let mut checksum = MAGIC.to_vec();
            checksum.extend_from_slice(artifact_checksum(&component_hash, &code).as_bytes());
            write_atomic(&checksum_path, &checksum)
        });
        if let Err(e) = written {
            tracing::warn!("cannot write compile cache entry {}: {e:#}", path.display());
        }
        // SAFETY: compiled just now, by this engine, from this component.
        let loaded = unsafe { Component::deserialize(engine, &code)? };
        Ok((loaded, if existed { LoadPath::Rebuilt } else { LoadPath::Compiled }))
    }
}

fn checksum_path(artifact: &Path) -> PathBuf {
    let mut name = artifact.as_os_str().to_owned();
    name.push(".b3");
    PathBuf::from(name)
}

/// BLAKE3 of the artifact, keyed with the hash of the component it was compiled from.
fn artifact_checksum(component_hash: &blake3::Hash, artifact: &[u8]) -> blake3::Hash {
    blake3::keyed_hash(component_hash.as_bytes(), artifact)
}

fn verify(artifact: &Path, checksum_path: &Path, component_hash: &blake3::Hash) -> Result<()> {
    let checksum = std::fs::read(checksum_path).context("no checksum")?;
    anyhow::ensure!(checksum.len() == MAGIC.len() + 32 && &checksum[..MAGIC.len()] == MAGIC, "bad checksum file");
    let bytes = std::fs::read(artifact)?;
    anyhow::ensure!(
        artifact_checksum(component_hash, &bytes).as_bytes() == &checksum[MAGIC.len()..],
        "checksum mismatch (corrupt, or compiled from another component)"
    );
    Ok(())
}

fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    file.persist(path)?;
    Ok(())
}
