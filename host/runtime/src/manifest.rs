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

/// In a manifest's list, "whatever the user grants": a generic backend (the built-in
/// host-sandbox runs any tool the user routes to it) says so instead of naming each.
pub const ANY: &str = "*";

impl Capabilities {
    /// What a plugin gets: this grant, narrowed to what `asked` (its manifest) declares, and
    /// what was granted but not asked for (not given), one phrase each.
    pub fn within(&self, asked: &Capabilities) -> (Capabilities, Vec<String>) {
        let mut dropped = Vec::new();
        let mut programs = Vec::new();
        for entry in &self.programs {
            let kept = narrow_program(entry, &asked.programs);
            if kept.is_empty() {
                dropped.push(format!("program `{entry}`"));
            }
            programs.extend(kept);
        }
        let mut keep = |granted: &[String], asked: &[&[String]], what: &str| -> Vec<String> {
            let (kept, not_asked): (Vec<String>, Vec<String>) = granted
                .iter()
                .cloned()
                .partition(|item| asked.iter().any(|list| list.iter().any(|a| a == ANY || a == item)));
            dropped.extend(not_asked.iter().map(|item| format!("{what} `{item}`")));
            kept
        };
        let dirs = keep(&self.dirs, &[&asked.dirs], "dir");
        // Asking to write a directory includes reading it.
        let read_dirs = keep(&self.read_dirs, &[&asked.read_dirs, &asked.dirs], "read_dir");
        let env = keep(&self.env, &[&asked.env], "env");
        if self.network && !asked.network {
            dropped.push("network".into());
        }
        let network = self.network && asked.network;
        (Capabilities { programs, dirs, read_dirs, network, env }, dropped)
    }
}

/// The granted program entry `granted` (`"podman"` or `"podman run **"`) as far as the asked
/// entries allow: itself when they ask for the program with any arguments (or for [`ANY`]) or
/// with exactly these patterns; the asked entries when the grant allows any arguments; else
/// nothing.
fn narrow_program(granted: &str, asked: &[String]) -> Vec<String> {
    let words = |entry: &str| entry.split_whitespace().map(String::from).collect::<Vec<_>>();
    let granted_words = words(granted);
    let Some(program) = granted_words.first() else { return vec![] };
    let same_program: Vec<Vec<String>> = asked
        .iter()
        .map(|a| words(a))
        .filter(|a| a.first() == Some(program) || a.first().is_some_and(|p| p == ANY))
        .collect();
    if same_program.iter().any(|a| a.len() == 1 || *a == granted_words) {
        return vec![granted.to_string()];
    }
    if granted_words.len() == 1 {
        return same_program.iter().map(|a| a.join(" ")).collect();
    }
    vec![]
}

/// One line, as `plugin list` and the session banner show it: `programs [cargo], dirs
/// [staging], network false`, then `read_dirs` and `env` when there are any.
impl Capabilities {
    /// A few words for a one-line report: `2 programs, 1 dir, network` or `nothing`.
    pub fn summary(&self) -> String {
        let count = |n: usize, what: &str| match n {
            0 => None,
            1 => Some(format!("1 {what}")),
            n => Some(format!("{n} {what}s")),
        };
        let parts: Vec<String> = [
            count(self.programs.len(), "program"),
            count(self.dirs.len(), "dir"),
            count(self.read_dirs.len(), "read-only dir"),
            count(self.env.len(), "variable"),
            self.network.then(|| "network".to_string()),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "nothing".into()
        } else {
            parts.join(", ")
        }
    }
}

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
            // wasmparser's messages can span lines (a debug dump of the bytes it expected).
            let one_line = |e: wasmparser::BinaryReaderError| e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
            match payload.map_err(|e| ManifestError::NotWasm(one_line(e)))? {
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

/// What a component exports of the contract: the version (read from the name of its
/// `devshell:backend/session@X.Y.Z` interface) and whether it serves `guest-fs`.
pub struct ContractExports {
    pub version: String,
    pub guest_fs: bool,
}

pub fn contract_exports(bytes: &[u8]) -> anyhow::Result<ContractExports> {
    use wasmparser::{Parser, Payload};
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::ComponentExportSection(section) = payload? {
            for export in section {
                exports.push(export?.name.0.to_string());
            }
        }
    }
    let version = exports.iter().find_map(|name| name.strip_prefix("devshell:backend/session@")).ok_or_else(|| {
        anyhow::anyhow!(
            "not a devshell backend: it exports no `devshell:backend/session` interface (exports: {})",
            if exports.is_empty() { "none".to_string() } else { exports.join(", ") }
        )
    })?;
    let guest_fs = exports.iter().any(|name| name == &format!("devshell:backend/guest-fs@{version}"));
    Ok(ContractExports { version: version.to_string(), guest_fs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_grant_is_narrowed_to_what_the_manifest_asks_for() {
        let asked = Capabilities {
            programs: strings(&["podman run **", "limactl"]),
            dirs: strings(&["staging"]),
            read_dirs: strings(&["/srv"]),
            network: false,
            env: strings(&["RUSTFLAGS"]),
        };
        let granted = Capabilities {
            programs: strings(&["podman", "limactl list", "sh"]),
            dirs: strings(&["staging", "/home"]),
            read_dirs: strings(&["/srv", "staging", "/etc"]),
            network: true,
            env: strings(&["RUSTFLAGS", "RUSTC_WRAPPER"]),
        };
        let (effective, dropped) = granted.within(&asked);
        assert_eq!(effective.programs, strings(&["podman run **", "limactl list"]));
        assert_eq!(effective.dirs, strings(&["staging"]));
        assert_eq!(effective.read_dirs, strings(&["/srv", "staging"]));
        assert!(!effective.network);
        assert_eq!(effective.env, strings(&["RUSTFLAGS"]));
        assert_eq!(
            dropped,
            strings(&["program `sh`", "dir `/home`", "read_dir `/etc`", "env `RUSTC_WRAPPER`", "network"])
        );
    }

    #[test]
    fn a_generic_manifest_takes_what_is_granted_and_patterns_must_agree() {
        let any = Capabilities { programs: strings(&[ANY]), dirs: strings(&[ANY]), ..Capabilities::default() };
        let granted = Capabilities { programs: strings(&["cargo **", "rustc"]), dirs: strings(&["/x"]), ..any.clone() };
        assert_eq!(granted.within(&any).0.programs, granted.programs);
        let asked = Capabilities { programs: strings(&["cargo build **"]), ..Capabilities::default() };
        let granted = Capabilities { programs: strings(&["cargo test **"]), ..Capabilities::default() };
        assert!(granted.within(&asked).0.programs.is_empty());
    }
}
