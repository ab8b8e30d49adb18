//! The compile cache: precompiled components in the user's cache dir, so only the first load of
//! a component pays for Cranelift.
//!
//! Key: the component's BLAKE3 hash and the engine's compatibility hash (wasmtime version and
//! every setting that changes generated code). The file is treated as untrusted: it carries a
//! BLAKE3 checksum of its own contents, and any mismatch, truncation or failed deserialize
//! recompiles and rewrites it. Writes are atomic (temp file + rename), so a crash mid-write leaves
//! either the old artifact or none.

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
        let existed = path.exists();
        if existed {
            match read_verified(&path).and_then(|code| {
                // SAFETY: the bytes were produced by `precompile_component` of an engine with the
                // same compatibility hash and pass their checksum; wasmtime checks its own header.
                unsafe { Component::deserialize(engine, code) }.map_err(anyhow::Error::from)
            }) {
                Ok(loaded) => return Ok((loaded, LoadPath::Cached)),
                Err(e) => tracing::warn!("compile cache entry {} is unusable ({e:#}); rebuilding", path.display()),
            }
        }
        let code = engine.precompile_component(component)?;
        if let Err(e) = write_atomic(&path, &code) {
            tracing::warn!("cannot write compile cache entry {}: {e:#}", path.display());
        }
        let loaded = unsafe { Component::deserialize(engine, &code)? };
        Ok((loaded, if existed { LoadPath::Rebuilt } else { LoadPath::Compiled }))
    }
}

fn read_verified(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)?;
    let body_start = MAGIC.len() + 32;
    anyhow::ensure!(bytes.len() > body_start && &bytes[..MAGIC.len()] == MAGIC, "bad header");
    let expected = &bytes[MAGIC.len()..body_start];
    let body = &bytes[body_start..];
    anyhow::ensure!(blake3::hash(body).as_bytes() == expected, "checksum mismatch");
    Ok(body.to_vec())
}

fn write_atomic(path: &Path, code: &[u8]) -> Result<()> {
    let dir = path.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(MAGIC)?;
    file.write_all(blake3::hash(code).as_bytes())?;
    file.write_all(code)?;
    file.as_file().sync_all()?;
    file.persist(path)?;
    Ok(())
}
