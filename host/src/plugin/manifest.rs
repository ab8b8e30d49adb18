//! The plugin manifest: who a backend says it is and what it asks for.
//!
//! Carried inside the component, as JSON in a custom section named `devshell-manifest`
//! (`devshell_plugin_kit::manifest!` writes it). Reading it needs no compilation, only a parse of
//! the component's sections, so `plugin list` and `plugin inspect` stay cheap.

use serde::{Deserialize, Serialize};

pub const SECTION_NAME: &str = "devshell-manifest";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub capabilities: Capabilities,
}

/// What a plugin asks for. The host grants some, all or none of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Programs it wants to spawn: bare names (`cargo`) or absolute paths.
    #[serde(default)]
    pub programs: Vec<String>,
    /// Directories it may read and write: `staging` (the session's staging dir) or absolute
    /// host paths.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Directories it may only read (absolute host paths).
    #[serde(default)]
    pub read_dirs: Vec<String>,
    #[serde(default)]
    pub network: bool,
    /// Environment variables it may set for the programs it spawns, beyond the harmless
    /// default set (see `grants::DEFAULT_ENV`).
    #[serde(default)]
    pub env: Vec<String>,
}

/// One line, as `plugin list` and the session banner show it: `programs [cargo], dirs
/// [staging], network false`, then `read_dirs` and `env` when there are any.
impl std::fmt::Display for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "programs [{}], dirs [{}]", self.programs.join(", "), self.dirs.join(", "))?;
        if !self.read_dirs.is_empty() {
            write!(f, ", read_dirs [{}]", self.read_dirs.join(", "))?;
        }
        write!(f, ", network {}", self.network)?;
        if !self.env.is_empty() {
            write!(f, ", env [{}]", self.env.join(", "))?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not a WebAssembly component: {0}")]
    NotWasm(String),
    #[error("this is a core WebAssembly module, not a component; build the backend for wasm32-wasip2")]
    CoreModule,
    #[error("the component has no `{SECTION_NAME}` custom section; embed one with devshell_plugin_kit::manifest!")]
    Missing,
    #[error("the `{SECTION_NAME}` section is not a valid manifest: {0}")]
    Invalid(String),
}

impl Manifest {
    /// Find and parse the manifest section anywhere in the component (it sits in the core
    /// module the component wraps).
    pub fn from_component(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        use wasmparser::{Encoding, Parser, Payload};
        let mut found = None;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(|e| ManifestError::NotWasm(e.to_string()))? {
                Payload::Version { encoding: Encoding::Module, .. } if found.is_none() && !is_nested(bytes) => {
                    return Err(ManifestError::CoreModule)
                }
                Payload::CustomSection(section) if section.name() == SECTION_NAME => {
                    found = Some(section.data().to_vec());
                }
                _ => {}
            }
        }
        let data = found.ok_or(ManifestError::Missing)?;
        serde_json::from_slice(&data).map_err(|e| ManifestError::Invalid(e.to_string()))
    }
}

/// True when the outermost encoding is a component (core modules then appear nested).
fn is_nested(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[4..8] == [0x0d, 0x00, 0x01, 0x00]
}

/// The contract version a component was built against, read from the name of its exported
/// `devshell:backend/session@X.Y.Z` interface.
pub fn contract_version(bytes: &[u8]) -> anyhow::Result<String> {
    use wasmparser::{Parser, Payload};
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::ComponentExportSection(section) = payload? {
            for export in section {
                exports.push(export?.name.0.to_string());
            }
        }
    }
    exports.iter().find_map(|name| name.strip_prefix("devshell:backend/session@")).map(str::to_string).ok_or_else(
        || {
            anyhow::anyhow!(
                "not a devshell backend: it exports no `devshell:backend/session` interface (exports: {})",
                if exports.is_empty() { "none".to_string() } else { exports.join(", ") }
            )
        },
    )
}
