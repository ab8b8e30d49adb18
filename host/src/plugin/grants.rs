//! Capability grants: what one plugin may do on the host, and the single place that checks it.
//!
//! Every `host-process.spawn` goes through [`CapabilityGranter::check_spawn`], and every guest
//! path the plugin hands the host (a child's cwd) through [`CapabilityGranter::host_dir`]. WASI
//! preopens come from the same grant ([`Grant::dirs`]). Nothing else in the host grants anything.

use std::path::{Path, PathBuf};

use devshell_plugin_kit::normalize_absolute;

/// A program the plugin may spawn, with optional argv patterns.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramGrant {
    /// Canonical absolute path on the host.
    pub path: PathBuf,
    /// `None`: any arguments. Otherwise patterns: a literal, `*` (one argument), or a trailing
    /// `**` (all remaining arguments).
    pub args: Option<Vec<String>>,
}

/// A host directory the plugin sees through a WASI preopen.
#[derive(Debug, Clone, PartialEq)]
pub struct DirGrant {
    /// Canonical absolute host path.
    pub host: PathBuf,
    /// Where the plugin sees it (an absolute path in its WASI view).
    pub guest: String,
}

/// Everything one plugin instance is allowed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grant {
    pub programs: Vec<ProgramGrant>,
    pub dirs: Vec<DirGrant>,
    pub network: bool,
}

/// The reason a request was refused; the message names the exact capability that is missing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    NotFound(String),
}

impl Grant {
    /// Grant a program by name or path, resolving it the same way a spawn is checked.
    pub fn allow_program(&mut self, program: &str, args: Option<Vec<String>>) -> Result<(), GrantError> {
        let resolved = resolve_program(program)?;
        let path = canonical(&resolved)?;
        self.programs.push(ProgramGrant { path, args });
        Ok(())
    }

    /// Grant a host directory, seen by the plugin at `guest`.
    pub fn allow_dir(&mut self, host: &Path, guest: &str) -> Result<(), GrantError> {
        let host = canonical(host)?;
        self.dirs.push(DirGrant { host, guest: guest.to_string() });
        Ok(())
    }
}

/// Checks one plugin's requests against its grant.
pub struct CapabilityGranter {
    plugin: String,
    grant: Grant,
}

impl CapabilityGranter {
    pub fn new(plugin: impl Into<String>, grant: Grant) -> Self {
        CapabilityGranter { plugin: plugin.into(), grant }
    }

    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Resolve `program` and check it and `args` against the grant. Returns the path to execute.
    pub fn check_spawn(&self, program: &str, args: &[String]) -> Result<PathBuf, GrantError> {
        let resolved = resolve_program(program)?;
        let canonical = canonical(&resolved)?;
        let Some(granted) = self.grant.programs.iter().find(|g| g.path == canonical) else {
            return Err(GrantError::Denied(format!(
                "plugin `{}` may not spawn `{program}` (resolved to {}): program not in its grant",
                self.plugin,
                canonical.display()
            )));
        };
        if let Some(patterns) = &granted.args {
            if !argv_matches(patterns, args) {
                return Err(GrantError::Denied(format!(
                    "plugin `{}` may spawn `{program}` only with arguments matching [{}], not [{}]",
                    self.plugin,
                    patterns.join(" "),
                    args.join(" ")
                )));
            }
        }
        Ok(resolved)
    }

    /// Map a directory as the plugin sees it to the host directory, refusing anything outside
    /// the granted directories (after normalization and symlink resolution).
    pub fn host_dir(&self, guest_path: &str) -> Result<PathBuf, GrantError> {
        let denied = || {
            GrantError::Denied(format!(
                "plugin `{}` may not use directory `{guest_path}`: outside its granted directories",
                self.plugin
            ))
        };
        let normalized = normalize_absolute(guest_path).ok_or_else(denied)?;
        for dir in &self.grant.dirs {
            let Some(rest) = strip_dir_prefix(&normalized, &dir.guest) else { continue };
            let host = dir.host.join(rest);
            let real = canonical(&host)?;
            if real.starts_with(&dir.host) {
                return Ok(real);
            }
            return Err(denied());
        }
        Err(denied())
    }

    /// The first granted directory: where a child runs when the plugin names no cwd.
    pub fn default_dir(&self) -> Result<PathBuf, GrantError> {
        self.grant.dirs.first().map(|d| d.host.clone()).ok_or_else(|| {
            GrantError::Denied(format!("plugin `{}` has no granted directory to run a program in", self.plugin))
        })
    }
}

fn strip_dir_prefix<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    let dir = dir.trim_end_matches('/');
    if path == dir {
        Some("")
    } else if dir.is_empty() {
        Some(path.trim_start_matches('/'))
    } else {
        path.strip_prefix(dir)?.strip_prefix('/')
    }
}

/// `*` matches one argument, a trailing `**` the rest, anything else itself.
fn argv_matches(patterns: &[String], args: &[String]) -> bool {
    match (patterns.first().map(String::as_str), args.first()) {
        (Some("**"), _) if patterns.len() == 1 => true,
        (None, None) => true,
        (Some("*"), Some(_)) => argv_matches(&patterns[1..], &args[1..]),
        (Some(literal), Some(arg)) if literal == arg => argv_matches(&patterns[1..], &args[1..]),
        _ => false,
    }
}

/// Bare names go through the host's PATH; absolute paths stay; relative paths are refused, so a
/// plugin cannot reach a program by placing it in a directory it controls.
pub fn resolve_program(program: &str) -> Result<PathBuf, GrantError> {
    if program.is_empty() {
        return Err(GrantError::Denied("empty program name".into()));
    }
    let path = Path::new(program);
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    if program.contains('/') {
        return Err(GrantError::Denied(format!(
            "relative program path `{program}` is not allowed: use a bare name or an absolute path"
        )));
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| GrantError::NotFound(format!("program `{program}` not found on the host's PATH")))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

fn canonical(path: &Path) -> Result<PathBuf, GrantError> {
    path.canonicalize().map_err(|e| GrantError::NotFound(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn argv_patterns() {
        assert!(argv_matches(&strings(&["run", "*"]), &strings(&["run", "x"])));
        assert!(!argv_matches(&strings(&["run", "*"]), &strings(&["run"])));
        assert!(!argv_matches(&strings(&["run", "*"]), &strings(&["run", "x", "y"])));
        assert!(argv_matches(&strings(&["run", "**"]), &strings(&["run"])));
        assert!(argv_matches(&strings(&["run", "**"]), &strings(&["run", "a", "b"])));
        assert!(!argv_matches(&strings(&["run", "**"]), &strings(&["exec", "a"])));
        assert!(argv_matches(&[], &[]));
    }

    #[test]
    fn spawn_checks() {
        let mut grant = Grant::default();
        grant.allow_program("true", None).unwrap();
        grant.allow_program("echo", Some(strings(&["hi", "*"]))).unwrap();
        let granter = CapabilityGranter::new("t", grant);
        assert!(granter.check_spawn("true", &[]).is_ok());
        let true_path = resolve_program("true").unwrap();
        assert!(granter.check_spawn(true_path.to_str().unwrap(), &[]).is_ok());
        assert!(matches!(granter.check_spawn("./true", &[]), Err(GrantError::Denied(m)) if m.contains("relative")));
        assert!(matches!(granter.check_spawn("false", &[]), Err(GrantError::Denied(m)) if m.contains("`false`")));
        assert!(granter.check_spawn("echo", &strings(&["hi", "there"])).is_ok());
        assert!(matches!(granter.check_spawn("echo", &strings(&["bye"])), Err(GrantError::Denied(_))));
        assert!(matches!(granter.check_spawn("no-such-program-xyz", &[]), Err(GrantError::NotFound(_))));
    }

    #[test]
    fn dirs_are_confined() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("stage")).unwrap();
        std::fs::create_dir(root.path().join("stage/sub")).unwrap();
        std::os::unix::fs::symlink("/etc", root.path().join("stage/out")).unwrap();
        let mut grant = Grant::default();
        grant.allow_dir(&root.path().join("stage"), "/staging").unwrap();
        let granter = CapabilityGranter::new("t", grant);
        let stage = root.path().join("stage").canonicalize().unwrap();
        assert_eq!(granter.host_dir("/staging").unwrap(), stage);
        assert_eq!(granter.host_dir("/staging/sub/.").unwrap(), stage.join("sub"));
        assert!(granter.host_dir("/staging/../etc").is_err());
        assert!(granter.host_dir("/staging/out").is_err(), "symlink out of the grant");
        assert!(granter.host_dir("/stagingx").is_err());
        assert!(granter.host_dir("relative").is_err());
    }
}
