//! The rustup shortcut: run the toolchain binary a rustup proxy would run, without the proxy.
//!
//! A rustup proxy (`cargo`, `rustc` … linked to the `rustup` binary) spends about 5 ms on every
//! call working out which toolchain applies before it execs the real binary — more than the real
//! `cargo --version` takes. When the answer is plainly the default toolchain, this module gives
//! it directly: the toolchain's binary and exactly the environment the proxy would set
//! (`tests/rustup_shortcut.rs` compares the two environments through a real rustup). Cargo does
//! the same for the `rustc` it runs (rust-lang/cargo#11917: same proxy test, same toolchain path).
//!
//! "Plainly" means: no `+toolchain` argument and no `RUSTUP_*` variable from the plugin; a
//! settings format this module knows; and either the host's `RUSTUP_TOOLCHAIN` names an
//! installed toolchain exactly, or nothing names one at all (no `rust-toolchain` file in the
//! working directory or above it, no directory override covering it) and the default toolchain
//! is installed. In every other case [`shortcut`] returns `None` and the proxy runs as usual, so
//! rustup stays the authority (short names, installing, errors).
//!
//! Called by the runtime after the grant check: the plugin was granted the proxy, and this only
//! skips the proxy's own lookup. It never widens what runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A program to run instead of the proxy, and the variables the proxy would have set.
#[derive(Debug, Clone, PartialEq)]
pub struct Shortcut {
    pub program: PathBuf,
    pub env: Vec<(String, String)>,
}

/// The `settings.toml` fields rustup's toolchain choice depends on.
#[derive(serde::Deserialize)]
struct Settings {
    version: Option<String>,
    default_toolchain: Option<String>,
    #[serde(default)]
    overrides: BTreeMap<String, String>,
}

/// The one settings format this was written against (rustup 1.2x–1.29 write "12").
const SETTINGS_VERSION: &str = "12";

/// Where rustup keeps its state, as rustup itself finds it.
struct Homes {
    rustup: PathBuf,
    cargo: PathBuf,
}

impl Homes {
    fn from_env() -> Option<Homes> {
        let home = || std::env::var_os("HOME").map(PathBuf::from);
        let rustup = std::env::var_os("RUSTUP_HOME").map(PathBuf::from).or_else(|| Some(home()?.join(".rustup")))?;
        let cargo = std::env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| Some(home()?.join(".cargo")))?;
        Some(Homes { rustup, cargo })
    }
}

/// What to run instead of `program` (already resolved and granted, as `granted_name`) with
/// `args` in `cwd`, or `None` to run it as it is. The toolchain binary is chosen by the granted
/// name, never by the name the plugin asked for. `plugin_env` is what the plugin asked to set.
pub fn shortcut(
    program: &Path,
    granted_name: &str,
    args: &[String],
    cwd: &Path,
    plugin_env: &[(String, String)],
) -> Option<Shortcut> {
    if plugin_names_toolchain(args, plugin_env) {
        return None;
    }
    let host_choice = std::env::var("RUSTUP_TOOLCHAIN").ok();
    let tool = Path::new(granted_name).file_name()?.to_str()?;
    shortcut_in(&Homes::from_env()?, program, tool, cwd, host_choice)
}

/// A `+toolchain` argument, or the plugin setting rustup's own variables.
fn plugin_names_toolchain(args: &[String], plugin_env: &[(String, String)]) -> bool {
    plugin_env.iter().any(|(key, _)| key.starts_with("RUSTUP_") || key == "CARGO_HOME")
        || args.first().is_some_and(|a| a.starts_with('+'))
}

/// `host_choice`: the host's `RUSTUP_TOOLCHAIN`, which rustup puts above files and overrides.
fn shortcut_in(homes: &Homes, program: &Path, tool: &str, cwd: &Path, host_choice: Option<String>) -> Option<Shortcut> {
    if tool.starts_with("rustup") || !same_file(program, &homes.cargo.join("bin/rustup")) {
        return None;
    }
    let text = std::fs::read_to_string(homes.rustup.join("settings.toml")).ok()?;
    let settings: Settings = toml::from_str(&text).ok()?;
    if settings.version.as_deref() != Some(SETTINGS_VERSION) {
        return None;
    }
    let (toolchain, source) = match host_choice {
        Some(name) => (name, "env"),
        None => {
            let toolchain_file =
                |dir: &Path| dir.join("rust-toolchain").exists() || dir.join("rust-toolchain.toml").exists();
            if cwd.ancestors().any(toolchain_file) || settings.overrides.keys().any(|dir| cwd.starts_with(dir)) {
                return None;
            }
            (settings.default_toolchain?, "default")
        }
    };
    // Only an installed toolchain named exactly: short names ("stable") and paths are rustup's to resolve.
    if toolchain.is_empty() || toolchain.contains('/') || toolchain.starts_with('.') {
        return None;
    }
    let toolchain_dir = homes.rustup.join("toolchains").join(&toolchain);
    let binary = toolchain_dir.join("bin").join(tool);
    if !binary.is_file() {
        return None;
    }
    let path_text = |p: &Path| p.to_string_lossy().into_owned();
    Some(Shortcut {
        program: binary,
        env: vec![
            ("RUSTUP_HOME".into(), path_text(&homes.rustup)),
            ("CARGO_HOME".into(), path_text(&homes.cargo)),
            ("RUSTUP_TOOLCHAIN".into(), toolchain),
            ("RUSTUP_TOOLCHAIN_SOURCE".into(), source.into()),
            ("RUST_RECURSION_COUNT".into(), "1".into()),
            ("LD_LIBRARY_PATH".into(), path_text(&toolchain_dir.join("lib"))),
        ],
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rustup home with toolchains `one` (the default) and `two`, proxies (a hard link and a
    /// symlink to `rustup`), and a project: the root, the homes, the `cargo` proxy, `project/src`.
    fn fake_rustup() -> (tempfile::TempDir, Homes, PathBuf, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let homes = Homes { rustup: root.path().join("rustup"), cargo: root.path().join("cargo") };
        for toolchain in ["one", "two"] {
            let bin = homes.rustup.join("toolchains").join(toolchain).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("cargo"), "").unwrap();
        }
        std::fs::write(homes.rustup.join("settings.toml"), "version = \"12\"\ndefault_toolchain = \"one\"\n").unwrap();
        std::fs::create_dir_all(homes.cargo.join("bin")).unwrap();
        std::fs::write(homes.cargo.join("bin/rustup"), "").unwrap();
        std::fs::hard_link(homes.cargo.join("bin/rustup"), homes.cargo.join("bin/cargo")).unwrap();
        std::os::unix::fs::symlink("rustup", homes.cargo.join("bin/rustc")).unwrap();
        let cwd = root.path().join("project/src");
        std::fs::create_dir_all(&cwd).unwrap();
        let cargo = homes.cargo.join("bin/cargo");
        (root, homes, cargo, cwd)
    }

    #[test]
    fn default_toolchain_is_taken_directly() {
        let (_root, homes, cargo, cwd) = fake_rustup();
        let found = shortcut_in(&homes, &cargo, "cargo", &cwd, None).expect("plain case");
        assert_eq!(found.program, homes.rustup.join("toolchains/one/bin/cargo"));
        assert!(found.env.contains(&("RUSTUP_TOOLCHAIN".into(), "one".into())));
        // A proxy the toolchain lacks, rustup itself, and a program that is not a proxy: no shortcut.
        assert_eq!(shortcut_in(&homes, &homes.cargo.join("bin/rustc"), "rustc", &cwd, None), None);
        assert_eq!(shortcut_in(&homes, &homes.cargo.join("bin/rustup"), "rustup", &cwd, None), None);
        assert_eq!(shortcut_in(&homes, &homes.rustup.join("toolchains/two/bin/cargo"), "cargo", &cwd, None), None);
        // The binary is chosen by the granted name, whatever alias of the proxy was asked for.
        let by_grant = shortcut_in(&homes, &homes.cargo.join("bin/rustc"), "cargo", &cwd, None).expect("granted cargo");
        assert_eq!(by_grant.program, homes.rustup.join("toolchains/one/bin/cargo"));
    }

    #[test]
    fn any_other_source_of_a_toolchain_defers_to_rustup() {
        let (root, homes, cargo, cwd) = fake_rustup();
        std::fs::write(root.path().join("project/rust-toolchain.toml"), "[toolchain]\nchannel = \"two\"\n").unwrap();
        assert_eq!(shortcut_in(&homes, &cargo, "cargo", &cwd, None), None, "toolchain file above the cwd");
        std::fs::remove_file(root.path().join("project/rust-toolchain.toml")).unwrap();
        assert!(shortcut_in(&homes, &cargo, "cargo", &cwd, None).is_some());

        let settings = homes.rustup.join("settings.toml");
        let project = root.path().join("project");
        let with_override = format!(
            "version = \"12\"\ndefault_toolchain = \"one\"\n[overrides]\n{:?} = \"two\"\n",
            project.display().to_string()
        );
        std::fs::write(&settings, with_override).unwrap();
        assert_eq!(shortcut_in(&homes, &cargo, "cargo", &cwd, None), None, "directory override");
        std::fs::write(&settings, "version = \"13\"\ndefault_toolchain = \"one\"\n").unwrap();
        assert_eq!(shortcut_in(&homes, &cargo, "cargo", &cwd, None), None, "unknown settings format");
        std::fs::write(&settings, "version = \"12\"\n").unwrap();
        assert_eq!(shortcut_in(&homes, &cargo, "cargo", &cwd, None), None, "no default toolchain");
        std::fs::write(&settings, "version = \"12\"\ndefault_toolchain = \"three\"\n").unwrap();
        assert_eq!(shortcut_in(&homes, &cargo, "cargo", &cwd, None), None, "default toolchain not installed");
    }

    #[test]
    fn host_rustup_toolchain_wins_over_files_when_installed() {
        let (root, homes, cargo, cwd) = fake_rustup();
        std::fs::write(root.path().join("project/rust-toolchain"), "one\n").unwrap();
        let found = shortcut_in(&homes, &cargo, "cargo", &cwd, Some("two".into())).expect("env choice");
        assert_eq!(found.program, homes.rustup.join("toolchains/two/bin/cargo"));
        assert!(found.env.contains(&("RUSTUP_TOOLCHAIN_SOURCE".into(), "env".into())));
        for unresolved in ["three", "", "../toolchains/two", "/abs/toolchain"] {
            assert_eq!(shortcut_in(&homes, &cargo, "cargo", &cwd, Some(unresolved.into())), None, "{unresolved:?}");
        }
    }

    #[test]
    fn arguments_and_plugin_environment_can_name_a_toolchain() {
        let build = vec!["build".to_string(), "+x".to_string()];
        let plus = vec!["+two".to_string(), "build".to_string()];
        let colour = [("CARGO_TERM_COLOR".to_string(), "always".to_string())];
        assert!(!plugin_names_toolchain(&build, &colour));
        assert!(plugin_names_toolchain(&plus, &[]));
        assert!(plugin_names_toolchain(&build, &[("RUSTUP_TOOLCHAIN".into(), "two".into())]));
        assert!(plugin_names_toolchain(&build, &[("CARGO_HOME".into(), "/elsewhere".into())]));
    }
}
