//! The compile cache: precompiled components in the user's cache dir, so only the first load of
//! a component pays for Cranelift.
//!
//! Key: the component's BLAKE3 hash and the engine's compatibility hash (wasmtime version and
//! every setting that changes generated code). The artifact is treated as untrusted: its BLAKE3
//! checksum sits beside it (`NAME.cwasm.b3`), and any mismatch, truncation or failed deserialize
//! recompiles and rewrites both. The artifact itself stays a plain wasmtime file so that it can
//! be mapped straight from disk (`deserialize_file`) instead of copied into fresh memory, which
//! was most of a cached load. Writes are atomic (temp file + rename), so a crash mid-write leaves
//! the old files or a mismatch, and a mismatch only costs a recompile.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::Component;
use wasmtime::Engine;

const MAGIC: &[u8; 8] = b"DSHCWASM";

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

    fn artifact_path(&self, engine: &Engine, component: &[u8]) -> Option<PathBuf> {
        let mut engine_hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hasher);
        let component_hash = blake3::hash(component);
        let name = format!("{}-{:016x}.cwasm", &component_hash.to_hex()[..32], engine_hasher.finish());
        self.dir.as_ref().map(|d| d.join(name))
    }

    pub fn load(&self, engine: &Engine, component: &[u8]) -> Result<(Component, LoadPath)> {
        let Some(path) = self.artifact_path(engine, component) else {
            return Ok((Component::new(engine, component)?, LoadPath::Compiled));
        };
        let checksum_path = checksum_path(&path);
        let existed = path.exists();
        if existed {
            match verify(&path, &checksum_path).and_then(|()| {
                // SAFETY: the file was produced by `precompile_component` of an engine with the
                // same compatibility hash and matches its checksum; wasmtime checks its own header.
                unsafe { Component::deserialize_file(engine, &path) }.map_err(anyhow::Error::from)
            }) {
                Ok(loaded) => return Ok((loaded, LoadPath::Cached)),
                Err(e) => tracing::warn!("compile cache entry {} is unusable ({e:#}); rebuilding", path.display()),
            }
        }
        let code = engine.precompile_component(component)?;
        let written = write_atomic(&path, &code).and_then(|()| {
            let mut checksum = MAGIC.to_vec();
            checksum.extend_from_slice(blake3::hash(&code).as_bytes());
            write_atomic(&checksum_path, &checksum)
        });
        if let Err(e) = written {
            tracing::warn!("cannot write compile cache entry {}: {e:#}", path.display());
        }
        let loaded = unsafe { Component::deserialize(engine, &code)? };
        Ok((loaded, if existed { LoadPath::Rebuilt } else { LoadPath::Compiled }))
    }
}

fn checksum_path(artifact: &Path) -> PathBuf {
    let mut name = artifact.as_os_str().to_owned();
    name.push(".b3");
    PathBuf::from(name)
}

fn verify(artifact: &Path, checksum_path: &Path) -> Result<()> {
    let checksum = std::fs::read(checksum_path).context("no checksum")?;
    anyhow::ensure!(checksum.len() == MAGIC.len() + 32 && &checksum[..MAGIC.len()] == MAGIC, "bad checksum file");
    let bytes = std::fs::read(artifact)?;
    anyhow::ensure!(blake3::hash(&bytes).as_bytes() == &checksum[MAGIC.len()..], "checksum mismatch");
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
