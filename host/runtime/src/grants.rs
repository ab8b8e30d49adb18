//! Capability grants: what one plugin may do on the host, and the single place that checks it.
//!
//! Every `host-process.spawn` goes through [`CapabilityGranter::check_spawn`] (the program, its
//! arguments and the environment it asks for), and every guest path the plugin hands the host
//! (a child's cwd) through [`CapabilityGranter::host_dir`]. WASI preopens and the confinement
//! of spawned tools come from the same grant ([`Grant::dirs`]). Nothing else in the host grants
//! anything. A denial names the exact capability missing and the config line that would allow
//! it.

use std::path::{Path, PathBuf};

use devshell_plugin_kit::normalize_absolute;

/// A program the plugin may spawn, with optional argv patterns.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramGrant {
    /// The name it was granted by (`cargo`, or an absolute path): what it runs as (`argv[0]`),
    /// which is what a multi-call binary such as rustup's proxy decides by.
    pub name: String,
    /// Canonical absolute path on the host: exactly the file that runs.
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
    /// Whether the plugin and its tools may change it (else they may only read it).
    pub writable: bool,
    /// Its device and inode when granted: the preopen must open this very directory.
    pub identity: (u64, u64),
}

/// Everything one plugin instance is allowed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grant {
    pub programs: Vec<ProgramGrant>,
    pub dirs: Vec<DirGrant>,
    pub network: bool,
    /// Environment variables it may set for a child beyond [`DEFAULT_ENV`].
    pub env: Vec<String>,
    /// The config file's `[plugins.KEY]` entry this grant comes from (`None` for the built-ins):
    /// where a denial tells the user to add what is missing.
    pub entry: Option<String>,
    /// Directories a denial never suggests granting, nor any directory inside or holding one:
    /// devshell's config and compiled-plugin cache, the instance's private directories.
    pub protected: Vec<PathBuf>,
}

/// Kernel filesystems: granting them would hand over the host's memory, devices and sockets.
const KERNEL_DIRS: &[&str] = &["/proc", "/sys", "/dev", "/run"];

/// Variables any plugin may set for a child: presentation only, none of them chooses a program,
/// a file to read or code to run.
pub const DEFAULT_ENV: &[&str] = &[
    "CARGO_TERM_COLOR",
    "CARGO_TERM_VERBOSE",
    "CARGO_TERM_QUIET",
    "CARGO_TERM_PROGRESS_WHEN",
    "CARGO_TERM_PROGRESS_WIDTH",
    "CARGO_INCREMENTAL",
    "CARGO_BUILD_JOBS",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "COLUMNS",
    "LINES",
    "TERM",
    "LANG",
    "LC_ALL",
    "TZ",
];

/// What to execute for a granted spawn: exactly this file, as this name.
#[derive(Debug, Clone, PartialEq)]
pub struct Exec {
    pub path: PathBuf,
    pub argv0: String,
}

/// The reason a request was refused; the message names the exact capability that is missing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    NotFound(String),
}

/// What a plugin's WASI file access wanted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FsAccess {
    Read,
    /// Open a directory to list it.
    ReadDir,
    Write,
}

/// Why a plugin's WASI file access was refused (paths as the plugin sees them).
#[derive(Debug, Clone, PartialEq)]
pub enum FsRefusal {
    /// The path is outside every granted directory.
    Outside { path: String },
    /// The same, reached through `.`/`..` (`spelled` is how): granting the place would not help,
    /// as WASI picks a granted directory by the spelling.
    Escape { path: String, spelled: String },
    /// The path names a place in the granted `dir`, but through `.`/`..` from elsewhere (WASI
    /// resolves a path by its spelling against the granted directories).
    Roundabout { path: String, dir: String },
    /// An absolute path given to a directory descriptor, which resolves only relative ones.
    Absolute { path: String },
    /// A write below a directory granted only for reading (`dir`, when known).
    ReadOnly { path: String, dir: Option<String> },
    /// Inside a granted directory by name, but a symbolic link on the way leads out of it.
    LinkOutside { path: String },
    /// A symbolic link to an absolute path, which would lead out of the granted directories.
    AbsoluteLink { path: String, target: String },
}

impl Grant {
    /// Grant a program by name or path, resolving it the same way a spawn is checked.
    pub fn allow_program(&mut self, program: &str, args: Option<Vec<String>>) -> Result<(), GrantError> {
        let resolved = resolve_program(program)?;
        let path = canonical(&resolved)?;
        self.programs.push(ProgramGrant { name: program.to_string(), path, args });
        Ok(())
    }

    /// Grant a host directory, seen by the plugin at `guest`, to read (and to write if
    /// `writable`).
    /// Refused: a relative path; one not named as it is (through a symbolic link or `..`); a
    /// directory holding the user's home or cargo's or rustup's (credentials live there); a
    /// read-only directory inside a writable one (it could be written through the parent).
    pub fn allow_dir(&mut self, host: &Path, guest: &str, writable: bool) -> Result<(), GrantError> {
        let denied = |why: String| Err(GrantError::Denied(format!("granted directory {}: {why}", host.display())));
        if !host.is_absolute() {
            return denied("not an absolute path; grant directories by absolute path (or \"staging\")".into());
        }
        let given = host;
        let host = canonical(host)?;
        if host != given {
            // The grant is resolved at every start: a symbolic link on the way (one the plugin
            // can write, say) could point it elsewhere next time.
            return denied(format!("it is reached through a symbolic link or `..`; grant {} itself", host.display()));
        }
        if let Some(kernel) = KERNEL_DIRS.iter().find(|k| host.starts_with(k)) {
            return denied(format!("it is in {kernel}, a kernel filesystem (the host's processes, devices or sockets)"));
        }
        let Some(guest) = normalize_absolute(guest) else {
            return denied(format!("it is seen at {guest:?}, which is not an absolute path"));
        };
        if let Some(secret) = secret_homes().into_iter().find(|home| home.starts_with(&host)) {
            return denied(format!(
                "it holds {}, where credentials live; grant a directory inside it instead",
                secret.display()
            ));
        }
        for other in &self.dirs {
            let (read, write) = if writable { (&other.host, &host) } else { (&host, &other.host) };
            if other.writable != writable && read.starts_with(write) {
                return denied(format!(
                    "the read-only {} lies inside the writable {}, so it could be written through it",
                    read.display(),
                    write.display()
                ));
            }
        }
        let meta = std::fs::metadata(&host).map_err(|e| GrantError::NotFound(format!("{}: {e}", host.display())))?;
        let identity = (std::os::unix::fs::MetadataExt::dev(&meta), std::os::unix::fs::MetadataExt::ino(&meta));
        self.dirs.push(DirGrant { host, guest, writable, identity });
        Ok(())
    }

    /// The directories the plugin may write, or only read.
    pub fn dirs_where(&self, writable: bool) -> impl Iterator<Item = &Path> {
        self.dirs.iter().filter(move |d| d.writable == writable).map(|d| d.host.as_path())
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

    /// What the user runs (or writes) to allow `value` as one of `field` (`programs`, `env`):
    /// the end of every denial.
    fn how_to_allow(&self, field: &str, value: &str) -> String {
        let flag = match field {
            "programs" => "program",
            "dirs" => "dir",
            "read_dirs" => "read-dir",
            other => other,
        };
        let quoted = shell_quoted(value);
        // As TOML writes it: the plugin chose the value, quotes and backslashes included.
        let toml_value = toml::Value::String(value.to_string()).to_string();
        match (&self.grant.entry, self.plugin.as_str()) {
            // Run straight from a file (`--backend ./x.wasm`): grants belong to installed plugins.
            (Some(file), plugin) if file.ends_with(".wasm") || file.contains('/') => format!(
                "to allow it, install it (`devshell plugin install {file}`), then run `devshell plugin grant {plugin} --{flag} {quoted}`"
            ),
            (Some(key), _) => format!(
                "to allow it, run `devshell plugin grant {key} --{flag} {quoted}` (or add {toml_value} to {field} in the grant of [plugins.{key}] in the config file)"
            ),
            // The built-in host-sandbox is granted by settings of its own.
            (None, "host-sandbox") if field.ends_with("dirs") => {
                "the built-in host-sandbox is granted the workspace's staging dir only".into()
            }
            (None, "host-sandbox") => format!(
                "to allow it, add {toml_value} to the config file's routed_tools (programs) or set network = true"
            ),
            (None, plugin) => format!("to allow it, run `devshell plugin grant {plugin} --{flag} {quoted}`"),
        }
    }

    /// The denial for a WASI file access the preopens refused: the path, why, and the directory
    /// to grant when granting it is safe and would allow the access.
    pub fn fs_denial(&self, access: FsAccess, refusal: &FsRefusal) -> String {
        let (verb, writable) = match access {
            FsAccess::Read | FsAccess::ReadDir => ("read", false),
            FsAccess::Write => ("write", true),
        };
        let plugin = &self.plugin;
        match refusal {
            FsRefusal::Outside { path } => {
                // A file is allowed through its directory.
                let dir = match access {
                    FsAccess::ReadDir => Some(path.as_str()),
                    _ => Path::new(path).parent().and_then(Path::to_str),
                };
                let field = if writable { "dirs" } else { "read_dirs" };
                let advice = match dir.filter(|dir| self.safe_to_suggest(dir, writable)) {
                    Some(dir) => self.how_to_allow(field, dir),
                    None => NO_SUGGESTION.into(),
                };
                format!("plugin `{plugin}` may not {verb} {}: outside its granted directories; {advice}", shown(path))
            }
            FsRefusal::Escape { path, spelled } => format!(
                "plugin `{plugin}` may not {verb} {}: outside its granted directories (spelled {}); {NO_SUGGESTION}",
                shown(path),
                shown(spelled)
            ),
            FsRefusal::Roundabout { path, dir } => format!(
                "plugin `{plugin}` may not {verb} {}: it names a place in the granted {} by way of `.` or `..` \
                 from outside it; spell the path without them",
                shown(path),
                shown(dir)
            ),
            FsRefusal::Absolute { path } => format!(
                "plugin `{plugin}` may not {verb} {}: an absolute path given to an open directory (only paths \
                 relative to it are resolved)",
                shown(path)
            ),
            FsRefusal::ReadOnly { path, dir: None } => {
                format!("plugin `{plugin}` may not write {}: its directory is granted for reading only", shown(path))
            }
            FsRefusal::ReadOnly { path, dir: Some(dir) } if self.safe_to_suggest(dir, true) => format!(
                "plugin `{plugin}` may not write {}: {} is granted for reading only (revoke its --read-dir grant \
                 first); {}",
                shown(path),
                shown(dir),
                self.how_to_allow("dirs", dir)
            ),
            FsRefusal::ReadOnly { path, dir: Some(dir) } => format!(
                "plugin `{plugin}` may not write {}: {} is granted for reading only; {NO_SUGGESTION}",
                shown(path),
                shown(dir)
            ),
            FsRefusal::AbsoluteLink { path, target } => format!(
                "plugin `{plugin}` may not make {} a symbolic link to {}: links within its granted directories \
                 must be relative",
                shown(path),
                shown(target)
            ),
            FsRefusal::LinkOutside { path } => format!(
                "plugin `{plugin}` may not {verb} {}: a symbolic link on the way leads outside its granted \
                 directories (links are followed only within a granted directory)",
                shown(path)
            ),
        }
    }

    /// Whether a denial may tell the user to grant `dir`. Only when the user's home is known,
    /// and `dir` is a real directory named as it is (no symbolic link the plugin could repoint)
    /// in plain characters (what is shown is what pastes), with no hidden component (`~/.ssh`,
    /// `.git`, `.cargo`), not `/` nor a kernel filesystem, not inside or holding a protected or
    /// writable granted directory, one the grant itself would accept, and, to be written, inside
    /// the home (system directories hold what runs: `/usr/local/bin`, `/etc/cron.d`).
    fn safe_to_suggest(&self, dir: &str, writable: bool) -> bool {
        let path = Path::new(dir);
        let near = |other: &PathBuf| path.starts_with(other) || other.starts_with(path);
        let home = std::env::var_os("HOME").map(PathBuf::from).filter(|home| home.is_absolute());
        let home = home.and_then(|home| home.canonicalize().ok());
        let Some(home) = home else { return false };
        let mut trial = self.grant.clone();
        trial.dirs.retain(|d| d.host != path);
        (!writable || path.starts_with(&home))
            && dir.len() > 1
            && dir.chars().all(plain_char)
            && !dir.split('/').any(|part| part.starts_with('.'))
            && !KERNEL_DIRS.iter().any(|kernel| path.starts_with(kernel))
            && path.canonicalize().is_ok_and(|real| real == path)
            && !self.grant.protected.iter().any(near)
            && !self.grant.dirs.iter().filter(|d| d.writable).any(|d| near(&d.host))
            && trial.allow_dir(path, dir, writable).is_ok()
    }

    pub fn grant(&self) -> &Grant {
        &self.grant
    }

    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Resolve `program` and check it, `args` and the environment it asks for against the
    /// grant. `user_env` is what the user exported for the tool run being served: those exact
    /// pairs may be passed on. Returns exactly what to execute.
    pub fn check_spawn(
        &self,
        program: &str,
        args: &[String],
        env: &[(String, String)],
        user_env: &[(String, String)],
    ) -> Result<Exec, GrantError> {
        let resolved = resolve_program(program)?;
        let canonical = canonical(&resolved)?;
        if let Some(dir) =
            self.grant.dirs_where(true).find(|dir| resolved.starts_with(dir) || canonical.starts_with(dir))
        {
            return Err(GrantError::Denied(format!(
                "plugin `{}` may not spawn `{program}`: it lies in {}, a directory the plugin can write, so it \
                 could be anything; only programs outside its directories can be granted",
                self.plugin,
                dir.display()
            )));
        }
        let same_file: Vec<&ProgramGrant> = self.grant.programs.iter().filter(|g| g.path == canonical).collect();
        if same_file.is_empty() {
            return Err(GrantError::Denied(format!(
                "plugin `{}` may not spawn `{program}` (resolved to {}); {}",
                self.plugin,
                canonical.display(),
                self.how_to_allow("programs", program)
            )));
        }
        // Any granted pattern may match; the grant named like the request wins, so an alias of a
        // multi-call binary runs as the name it was granted by, never as the alias.
        let requested_name = resolved.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let allowed = same_file
            .iter()
            .filter(|g| g.args.as_ref().is_none_or(|patterns| argv_matches(patterns, args)))
            .min_by_key(|g| Path::new(&g.name).file_name().and_then(|n| n.to_str()) != Some(requested_name));
        let Some(granted) = allowed else {
            let patterns: Vec<String> =
                same_file.iter().filter_map(|g| g.args.as_ref()).map(|p| format!("[{}]", p.join(" "))).collect();
            return Err(GrantError::Denied(format!(
                "plugin `{}` may spawn `{program}` only with arguments matching {}, not [{}]; {}",
                self.plugin,
                patterns.join(" or "),
                args.join(" "),
                self.how_to_allow("programs", &format!("{program} {}", args.join(" ")))
            )));
        };
        self.check_env(env, user_env)?;
        Ok(Exec { path: canonical, argv0: granted.name.clone() })
    }

    /// The user's own command line is the grant for one file: a workspace program it names
    /// (`./target/debug/app`), found at `allowed` (the host path the host resolved it to). The
    /// plugin may run exactly that file, confined like any tool, under the name typed; the
    /// environment it sets is checked as for any spawn.
    pub fn check_workspace_program(
        &self,
        program: &str,
        env: &[(String, String)],
        user_env: &[(String, String)],
        allowed: &Path,
    ) -> Result<Option<Exec>, GrantError> {
        let Ok(asked) = Path::new(program).canonicalize() else { return Ok(None) };
        if !Path::new(program).is_absolute() || allowed.canonicalize().ok().as_deref() != Some(asked.as_path()) {
            return Ok(None);
        }
        // Through a symlink to a host program it would be that program, which the user did
        // not name: only a file that really lies in the plugin's directories.
        if !self.grant.dirs_where(true).any(|dir| asked.starts_with(dir)) {
            return Err(GrantError::Denied(format!(
                "`{program}` leads to {}, outside the workspace; only the workspace's own files run by path",
                asked.display()
            )));
        }
        self.check_env(env, user_env)?;
        Ok(Some(Exec { path: asked, argv0: program.to_string() }))
    }

    /// Every variable the plugin sets must be harmless by default, granted by name, or exactly
    /// what the user exported for this tool run.
    fn check_env(&self, env: &[(String, String)], user_env: &[(String, String)]) -> Result<(), GrantError> {
        for (key, value) in env {
            let valid_name = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !value.contains('\0');
            let allowed = DEFAULT_ENV.contains(&key.as_str())
                || self.grant.env.iter().any(|granted| granted == key)
                || user_env.iter().any(|(k, v)| k == key && v == value);
            if !valid_name {
                // Echoing it into a command to paste would hand the plugin the user's shell.
                return Err(GrantError::Denied(format!(
                    "plugin `{}` asked to set an environment variable whose name is not valid: {:?}",
                    self.plugin,
                    key.chars().take(64).collect::<String>()
                )));
            }
            if !allowed {
                return Err(GrantError::Denied(format!(
                    "plugin `{}` may not set the environment variable `{key}` for a program (it can choose what \
                     runs); {}",
                    self.plugin,
                    self.how_to_allow("env", key)
                )));
            }
        }
        Ok(())
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

    /// The first writable granted directory: where a child runs when the plugin names no cwd.
    pub fn default_dir(&self) -> Result<PathBuf, GrantError> {
        self.grant.dirs_where(true).next().map(Path::to_path_buf).ok_or_else(|| {
            GrantError::Denied(format!(
                "plugin `{}` has no writable granted directory to run a program in",
                self.plugin
            ))
        })
    }
}

/// The part of `path` below `dir` (`""` for `dir` itself), by whole components.
pub(crate) fn strip_dir_prefix<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
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

/// The user's home and cargo's and rustup's (as they are set, or their defaults), canonical.
fn secret_homes() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let under_home = |var: &str, default: &str| {
        std::env::var_os(var).map(PathBuf::from).or_else(|| Some(home.as_ref()?.join(default)))
    };
    [home.clone(), under_home("CARGO_HOME", ".cargo"), under_home("RUSTUP_HOME", ".rustup")]
        .into_iter()
        .flatten()
        .filter_map(|dir| dir.canonicalize().ok())
        .collect()
}

/// `value` as one shell word: as it is when it holds nothing a shell reads, else in single
/// quotes. Denials end in a command to paste, and the plugin chose the value.
fn shell_quoted(value: &str) -> String {
    if !value.is_empty() && value.chars().all(plain_char) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// A character a shell reads as itself.
fn plain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c)
}

/// The end of a denial when no grant is safe to suggest.
const NO_SUGGESTION: &str = "no grant is suggested for it";

/// A path the plugin chose, as a message shows it: quoted with escapes, and cut short when long
/// (a plugin must not fill the terminal or memory through its denials).
fn shown(path: &str) -> String {
    const MAX_CHARS: usize = 200;
    match path.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &path[..cut], path.len()),
        None => format!("{path:?}"),
    }
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
        let check = |program: &str, args: &[&str]| granter.check_spawn(program, &strings(args), &[], &[]);
        assert!(check("true", &[]).is_ok());
        let true_path = resolve_program("true").unwrap();
        assert!(check(true_path.to_str().unwrap(), &[]).is_ok());
        assert!(matches!(check("./true", &[]), Err(GrantError::Denied(m)) if m.contains("relative")));
        assert!(
            matches!(check("false", &[]), Err(GrantError::Denied(m)) if m.contains("`false`") && m.contains("devshell plugin grant t --program false"))
        );
        assert!(check("echo", &["hi", "there"]).is_ok());
        assert!(matches!(check("echo", &["bye"]), Err(GrantError::Denied(_))));
        assert!(matches!(check("no-such-program-xyz", &[]), Err(GrantError::NotFound(_))));
    }

    #[test]
    fn every_pattern_granted_for_a_program_is_considered() {
        let mut grant = Grant::default();
        grant.allow_program("nice", Some(strings(&["-n", "10", "cargo", "**"]))).unwrap();
        grant.allow_program("nice", Some(strings(&["-n", "10", "rustc", "**"]))).unwrap();
        let granter = CapabilityGranter::new("t", grant);
        for args in [["-n", "10", "cargo", "build"], ["-n", "10", "rustc", "-V"]] {
            assert!(granter.check_spawn("nice", &strings(&args), &[], &[]).is_ok(), "{args:?}");
        }
        let denied = granter.check_spawn("nice", &strings(&["-n", "10", "sh"]), &[], &[]).unwrap_err();
        assert!(
            matches!(&denied, GrantError::Denied(m) if m.contains("cargo **") && m.contains("rustc **")),
            "{denied:?}"
        );
    }

    #[test]
    fn an_alias_runs_only_the_granted_file_under_its_granted_name() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("multi");
        std::fs::copy(resolve_program("true").unwrap(), &real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("cargo")).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("rust-gdb")).unwrap();
        let mut grant = Grant::default();
        let cargo = dir.path().join("cargo");
        grant.allow_program(cargo.to_str().unwrap(), Some(strings(&["metadata", "**"]))).unwrap();
        let granter = CapabilityGranter::new("t", grant);
        let alias = dir.path().join("rust-gdb");
        let exec = granter.check_spawn(alias.to_str().unwrap(), &strings(&["metadata"]), &[], &[]).unwrap();
        assert_eq!(exec.path, real.canonicalize().unwrap(), "exactly the checked file");
        assert_eq!(exec.argv0, cargo.to_str().unwrap(), "as the granted name, not the alias");
    }

    #[test]
    fn programs_in_a_plugin_writable_dir_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("tool");
        std::fs::copy(resolve_program("true").unwrap(), &inside).unwrap();
        let mut grant = Grant::default();
        grant.allow_program(inside.to_str().unwrap(), None).unwrap();
        grant.allow_dir(dir.path(), "/staging", true).unwrap();
        let granter = CapabilityGranter::new("t", grant);
        let refused = granter.check_spawn(inside.to_str().unwrap(), &[], &[], &[]).unwrap_err();
        assert!(matches!(&refused, GrantError::Denied(m) if m.contains("can write")), "{refused:?}");
    }

    #[test]
    fn environment_is_allowed_by_name_only() {
        let mut grant = Grant::default();
        grant.allow_program("true", None).unwrap();
        grant.env.push("RUSTFLAGS".into());
        let granter = CapabilityGranter::new("t", grant);
        let pair = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(granter.check_spawn("true", &[], &pair("CARGO_TERM_COLOR", "always"), &[]).is_ok());
        assert!(granter.check_spawn("true", &[], &pair("RUSTFLAGS", "-Dwarnings"), &[]).is_ok());
        for key in [
            "RUSTC_WRAPPER",
            "GIT_SSH_COMMAND",
            "CARGO_NET_GIT_FETCH_WITH_CLI",
            "PATH",
            "BASH_ENV",
            "LD_PRELOAD",
            "RUSTUP_TOOLCHAIN",
        ] {
            let denied = granter.check_spawn("true", &[], &pair(key, "x"), &[]).unwrap_err();
            assert!(matches!(&denied, GrantError::Denied(m) if m.contains(key) && m.contains("env")), "{denied:?}");
        }
        // What the user exported for this run passes, exactly as exported.
        let user = pair("RUSTC_WRAPPER", "sccache");
        assert!(granter.check_spawn("true", &[], &user, &user).is_ok());
        assert!(granter.check_spawn("true", &[], &pair("RUSTC_WRAPPER", "/tmp/evil"), &user).is_err());
    }

    #[test]
    fn dirs_are_confined() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("stage")).unwrap();
        std::fs::create_dir(root.path().join("stage/sub")).unwrap();
        std::os::unix::fs::symlink("/etc", root.path().join("stage/out")).unwrap();
        let mut grant = Grant::default();
        grant.allow_dir(&root.path().join("stage"), "/staging", true).unwrap();
        let granter = CapabilityGranter::new("t", grant);
        let stage = root.path().join("stage").canonicalize().unwrap();
        assert_eq!(granter.host_dir("/staging").unwrap(), stage);
        assert_eq!(granter.host_dir("/staging/sub/.").unwrap(), stage.join("sub"));
        assert!(granter.host_dir("/staging/../etc").is_err());
        assert!(granter.host_dir("/staging/out").is_err(), "symlink out of the grant");
        assert!(granter.host_dir("/stagingx").is_err());
        assert!(granter.host_dir("relative").is_err());
    }

    #[test]
    fn broad_relative_and_nested_read_only_dirs_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let project = root.path().join("project");
        std::fs::create_dir_all(project.join(".git")).unwrap();
        let mut grant = Grant::default();
        let refused = |grant: &mut Grant, dir: &Path, writable: bool| match grant.allow_dir(dir, "/g", writable) {
            Err(GrantError::Denied(message)) => message,
            other => panic!("{} was not refused: {other:?}", dir.display()),
        };
        assert!(refused(&mut grant, Path::new("/"), false).contains("where credentials live"));
        let home = PathBuf::from(std::env::var_os("HOME").unwrap());
        assert!(refused(&mut grant, &home, true).contains("where credentials live"));
        assert!(refused(&mut grant, Path::new("project"), false).contains("not an absolute path"));
        grant.allow_dir(&project, "/p", true).unwrap();
        assert!(refused(&mut grant, &project.join(".git"), false).contains("lies inside the writable"));
        assert!(refused(&mut grant, &project, false).contains("lies inside the writable"));
        // The other order is refused too; a writable dir inside a read-only one is fine.
        let mut grant = Grant::default();
        grant.allow_dir(&project.join(".git"), "/g", false).unwrap();
        assert!(refused(&mut grant, &project, true).contains("lies inside the writable"));
        std::fs::create_dir_all(root.path().join("shelf/out")).unwrap();
        grant.allow_dir(&root.path().join("shelf"), "/s", false).unwrap();
        grant.allow_dir(&root.path().join("shelf/out"), "/o", true).unwrap();
    }
}
