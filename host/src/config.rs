//! Configuration: the TOML file, the `DEVSHELL_VM_*` environment (names kept from the reference
//! implementation) and command-line flags, merged in that order of precedence (flags win).
//! Unknown or bad values are errors naming the variable and the accepted values. Owns parsing
//! only; nothing here starts anything.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::plugin::manifest::Capabilities;
use crate::plugin::WorkspaceMode;

pub const ENV_VM: &str = "DEVSHELL_VM";
pub const ENV_BACKEND: &str = "DEVSHELL_VM_BACKEND";
pub const ENV_WORKSPACE_MODE: &str = "DEVSHELL_VM_WORKSPACE_MODE";
pub const ENV_EAGER: &str = "DEVSHELL_VM_EAGER";
pub const ENV_EXEC_TIMEOUT_MS: &str = "DEVSHELL_VM_EXEC_TIMEOUT_MS";
pub const ENV_GUEST_WORKSPACE: &str = "DEVSHELL_VM_GUEST_WORKSPACE";
pub const ENV_RUSTUP_SHORTCUT: &str = "DEVSHELL_RUSTUP_SHORTCUT";

/// The config file (`~/.config/devshell/config.toml`, or `DEVSHELL_CONFIG`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub backend: Option<String>,
    pub workspace_mode: Option<String>,
    /// Extra program names routed to the backend (besides cargo, rustup, rustc).
    #[serde(default)]
    pub routed_tools: Vec<String>,
    /// Globs of build output pulled lazily (default: `["target"]`); see [`crate::sync::Rules`].
    /// Compiled while parsing, so a bad glob is reported with the file, line and column.
    #[serde(default, deserialize_with = "lazy_rules")]
    pub lazy: Option<crate::sync::Rules>,
    pub exec_timeout_ms: Option<u64>,
    pub plugin_call_timeout_ms: Option<u64>,
    pub plugin_memory_mb: Option<usize>,
    /// Run a rustup proxy's default-toolchain binary directly (default: true).
    pub rustup_shortcut: Option<bool>,
    /// Staging files above this many MiB stay lazy (read on demand, never whole into memory
    /// or the state file); also the most a lazy file read may hold (default: 64).
    pub max_file_mb: Option<u64>,
    /// Whether tools the built-in host-sandbox runs may use the network (default: true, so
    /// cargo can fetch); `false` makes builds offline and keeps build scripts from phoning home.
    pub network: Option<bool>,
    /// Refuse to run tools when the kernel cannot confine them (no Landlock); default: warn once.
    pub require_confinement: Option<bool>,
    /// Third-party backends: `[plugins.NAME] path = "…", grant = { programs = […], dirs = […] }`.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    pub path: PathBuf,
    /// What the user grants it, in the manifest's terms (`dirs`: `staging` or absolute host
    /// paths). Absent means nothing.
    #[serde(default)]
    pub grant: Option<Capabilities>,
    /// Backend-specific settings handed to its session as they are (`session-config.options`),
    /// e.g. `options = { image = "rust:1.85", cpus = "4" }`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// Everything the session layer needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backend: String,
    pub mode: WorkspaceMode,
    pub guest_mount: String,
    pub eager: bool,
    pub exec_timeout: Option<Duration>,
    pub routed: Vec<String>,
    pub lazy: crate::sync::Rules,
    pub call_timeout: Duration,
    pub memory_bytes: usize,
    pub rustup_shortcut: bool,
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Where compiled components are cached (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// devshell's cache directory: staging dirs live in its `staging/`.
    pub cache_base: PathBuf,
    /// Staging files above this size stay lazy; see [`FileConfig::max_file_mb`].
    pub max_file_bytes: u64,
    /// See [`FileConfig::network`].
    pub sandbox_network: bool,
    /// See [`FileConfig::require_confinement`].
    pub require_confinement: bool,
}

/// devshell's cache directory (`~/.cache/devshell`, or `DEVSHELL_CACHE_DIR`): compiled
/// components in `components/`, staging dirs in `staging/`.
pub fn cache_base() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DEVSHELL_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "devshell").map(|d| d.cache_dir().to_path_buf())
}

pub fn config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DEVSHELL_CONFIG") {
        return Some(PathBuf::from(path));
    }
    directories::ProjectDirs::from("", "", "devshell").map(|d| d.config_dir().join("config.toml"))
}

/// Where `devshell plugin install` keeps components: `plugins/` beside the config file.
pub fn plugins_dir() -> Option<PathBuf> {
    config_path().and_then(|path| path.parent().map(|dir| dir.join("plugins")))
}

/// Change the config file with `edit` (through `toml_edit`, so the user's comments and layout
/// stay) and write it back atomically, only if the result still loads. Returns its path.
pub fn edit_file(edit: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<()>) -> Result<PathBuf> {
    let path = config_path().context("no config dir; set DEVSHELL_CONFIG to the config file's path")?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read config file {}", path.display())),
    };
    let mut doc: toml_edit::DocumentMut =
        text.parse().with_context(|| format!("invalid config file {}", path.display()))?;
    edit(&mut doc)?;
    let edited = doc.to_string();
    toml::from_str::<FileConfig>(&edited)
        .with_context(|| format!("the change would make {} invalid, so it was not made", path.display()))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut temp = tempfile::Builder::new().prefix(".config.toml").tempfile_in(dir)?;
    std::io::Write::write_all(&mut temp, edited.as_bytes())?;
    temp.persist(&path).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn lazy_rules<'de, D: serde::Deserializer<'de>>(patterns: D) -> Result<Option<crate::sync::Rules>, D::Error> {
    let patterns = Vec::<String>::deserialize(patterns)?;
    crate::sync::Rules::new(&patterns).map(Some).map_err(serde::de::Error::custom)
}

pub fn load_file() -> Result<FileConfig> {
    let Some(path) = config_path() else { return Ok(FileConfig::default()) };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read config file {}", path.display())),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn truthy(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => bail!("{name}={value:?} is not valid; accepted: 1/true/yes/on or 0/false/no/off"),
    }
}

pub const BUILTIN_BACKENDS: &[&str] = &["host-sandbox", "mock"];

/// Merge file, environment and the `--backend` flag.
pub fn resolve(mut file: FileConfig, backend_flag: Option<String>) -> Result<Settings> {
    let vm_on = match env(ENV_VM) {
        Some(value) => truthy(ENV_VM, &value)?,
        None => true,
    };
    let requested =
        backend_flag.or_else(|| env(ENV_BACKEND)).or(file.backend.clone()).unwrap_or_else(|| "host-sandbox".into());
    let backend = match requested.as_str() {
        _ if !vm_on => "host-sandbox".to_string(),
        "host" | "host-sandbox" => "host-sandbox".into(),
        "auto" => {
            // No VM backend ships in this build yet; say which one was picked.
            eprintln!("devshell: backend auto: using host-sandbox (no VM backend is available)");
            "host-sandbox".into()
        }
        name if BUILTIN_BACKENDS.contains(&name) || file.plugins.contains_key(name) => name.into(),
        // A component file, run directly: under the grant of its config entry if it has one,
        // else with nothing granted.
        name if name.ends_with(".wasm") || name.contains('/') => {
            let path = std::fs::canonicalize(name)
                .with_context(|| format!("--backend {name:?}: cannot open the component file"))?;
            let entry = file.plugins.iter().find(|(_, p)| std::fs::canonicalize(&p.path).is_ok_and(|p| p == path));
            match entry {
                Some((key, _)) => key.clone(),
                None => {
                    let plugin = PluginConfig { path, grant: None, options: BTreeMap::new() };
                    file.plugins.insert(name.to_string(), plugin);
                    name.into()
                }
            }
        }
        name => {
            let mut known: Vec<String> = BUILTIN_BACKENDS.iter().map(|s| s.to_string()).collect();
            known.extend(file.plugins.keys().cloned());
            bail!(
                "{ENV_BACKEND}/--backend {name:?} is not a known backend; accepted: host (= host-sandbox), auto, {}, \
                 or a component file (./x.wasm) (lima and beta are not available in this build; install third-party \
                 backends with `devshell plugin install FILE.wasm`)",
                known.join(", ")
            );
        }
    };
    let mode_text = env(ENV_WORKSPACE_MODE).or(file.workspace_mode.clone()).unwrap_or_else(|| "sync".into());
    let mode = match mode_text.as_str() {
        "sync" => WorkspaceMode::Sync,
        "guest" => WorkspaceMode::Guest,
        other => bail!("{ENV_WORKSPACE_MODE}={other:?} is not valid; accepted: sync, guest"),
    };
    let eager = env(ENV_EAGER).map(|v| truthy(ENV_EAGER, &v)).transpose()?.unwrap_or(false);
    let exec_timeout_ms = match env(ENV_EXEC_TIMEOUT_MS) {
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            anyhow::anyhow!(
                "{ENV_EXEC_TIMEOUT_MS}={v:?} is not valid; accepted: a whole number of milliseconds (0 = no limit)"
            )
        })?,
        None => file.exec_timeout_ms.unwrap_or(0),
    };
    let rustup_shortcut = match env(ENV_RUSTUP_SHORTCUT) {
        Some(value) => truthy(ENV_RUSTUP_SHORTCUT, &value)?,
        None => file.rustup_shortcut.unwrap_or(true),
    };
    let guest_mount = env(ENV_GUEST_WORKSPACE).unwrap_or_else(|| "/workspace".into());
    if !guest_mount.starts_with('/') {
        bail!(
            "{ENV_GUEST_WORKSPACE}={guest_mount:?} is not valid; accepted: an absolute guest path such as /workspace"
        );
    }
    let cache_base = cache_base().context("no home directory to put devshell's cache in; set DEVSHELL_CACHE_DIR")?;
    let max_file_bytes = match file.max_file_mb {
        Some(0) => bail!("max_file_mb = 0 is not valid; accepted: a whole number of MiB, at least 1"),
        Some(mb) => mb.saturating_mul(1 << 20),
        None => crate::sync::DEFAULT_MAX_IN_MEMORY,
    };
    let mut routed: Vec<String> = ["cargo", "rustup", "rustc"].iter().map(|s| s.to_string()).collect();
    routed.extend(file.routed_tools.iter().cloned());
    Ok(Settings {
        backend,
        mode,
        guest_mount,
        eager,
        exec_timeout: (exec_timeout_ms > 0).then(|| Duration::from_millis(exec_timeout_ms)),
        routed,
        lazy: file.lazy.unwrap_or_default(),
        call_timeout: Duration::from_millis(file.plugin_call_timeout_ms.unwrap_or(10_000)),
        memory_bytes: file.plugin_memory_mb.unwrap_or(256) << 20,
        rustup_shortcut,
        plugins: file.plugins,
        cache_dir: Some(cache_base.join("components")),
        cache_base,
        max_file_bytes,
        sandbox_network: file.network.unwrap_or(true),
        require_confinement: file.require_confinement.unwrap_or(false),
    })
}
