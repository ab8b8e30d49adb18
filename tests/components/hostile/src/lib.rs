//! A backend that attacks the host through its staging dir, for `host/tests/hostile_sync.rs`.
//!
//! A Mode S backend whose only capabilities are the staging dir (through WASI) and `sh` (through
//! `host-process`): exactly what an untrusted plugin, or any tool or build script it runs, has.
//! It swaps directories and files for symlinks that climb out of the staging dir, and leaves
//! sparse huge files, deep nesting, FIFOs, sockets, devices and non-UTF-8 names behind, so the
//! tests can check that the host's sync never follows, opens or chokes on them.
//!
//! `run-tool` runs one op per argument (the program name is ignored, so `cargo write:x=y` works);
//! the first op that fails ends the run with status 1 and its error on the tool's stderr:
//!
//! * `symlink:LINK=TARGET`: remove LINK (a file, a symlink or a whole tree) if present, then make
//!   it a symlink to TARGET, kept verbatim (so `../../../../canary` climbs out).
//! * `sparse:PATH=BYTES`: create PATH and set its length to BYTES (a sparse file).
//! * `deep:PATH=DEPTH,NAMELEN`: under PATH, DEPTH nested directories each named NAMELEN `d`s,
//!   each created relative to a descriptor of its parent (so no limit on the whole path's
//!   length applies), and a file `leaf` in the deepest one; stops quietly at the first error.
//! * `sh:SCRIPT`: `sh -c SCRIPT` in the staging root, through `host-process`; a non-zero exit
//!   ends the run with that status. For what WASI cannot make: FIFOs, sockets, devices,
//!   non-UTF-8 names.
//! * `spawn:PROGRAM ARG…`: PROGRAM with the space-separated ARGs, the same way (for the grant
//!   tests: aliases, argv patterns, environment routes; `./NAME` is NAME in the staging root);
//!   a refused spawn ends the run with status 1 and the host's message.
//! * `setenv:NAME=VALUE`: ask for NAME=VALUE in the environment of every later spawn of this run.
//! * `write:PATH=TEXT`: create or replace a file (parents created).
//! * `read:PATH`: print a file's text on stdout.
//! * `read-each:PREFIX=N`: try to read PREFIX0 … PREFIX{N-1}, whatever each gives.
//! * `rm:PATH`: remove a file, a symlink or a directory tree (never following a symlink).
//! * `print:TEXT`: TEXT and a newline on stdout.
//! * `options`: the session's options, `option KEY=VALUE` per line on stdout.
//! * `exit:N`: stop here with status N.
//!
//! Relative paths are relative to the staging root (`config.staging_dir`, which the plugin sees
//! through its preopen), not to the user's cwd; absolute paths are taken as they are.
//!
//! The plan: `ensure-ready` and `shutdown` read `.hostile-plan` in the staging root, if it exists,
//! and run each line `ensure-ready OP` or `shutdown OP` (in file order) at that stage. A failing
//! line is reported on stderr and the next one runs. So a test puts a plan into the workspace and
//! runs a tool (whose push copies it into the staging dir): that process's shutdown runs the
//! `shutdown` lines after its final pull, and the next process's ensure-ready runs the
//! `ensure-ready` lines just before its first push. End a plan with `ensure-ready
//! rm:.hostile-plan` (or `shutdown …`) to make it run once.

// A component for wasm32-wasip2 only; on the host target (`cargo build --workspace`) the
// crate is empty instead of failing to link its imports.
#![cfg(target_family = "wasm")]

use std::ffi::CString;
use std::path::{Path, PathBuf};

use devshell::backend::host_process::{self, Command, ProcessError, Stdio};
use devshell::backend::tool_io;
use devshell::backend::types::{BackendInfo, ExitStatus, SessionConfig, SessionError, ToolRequest, WorkspaceMode};

wit_bindgen::generate!({ path: "../../../wit/0.2.0", world: "backend" });

devshell_plugin_kit::manifest!(
    r#"{"name":"hostile","version":"0.1.0","description":"Attacks the host's sync through the staging dir: climbing symlinks, special files, huge and deep trees (tests only)","capabilities":{"programs":["*"],"dirs":["staging"],"read_dirs":["*"],"network":true,"env":["*"]}}"#
);

/// The plan file, at the staging root.
const PLAN: &str = ".hostile-plan";

struct Hostile;

struct Session {
    config: SessionConfig,
    /// What `setenv` asked for, passed to every later spawn of the run.
    env: std::cell::RefCell<Vec<(String, String)>>,
}

impl exports::devshell::backend::session::Guest for Hostile {
    type Session = Session;
}

impl exports::devshell::backend::session::GuestSession for Session {
    fn new(config: SessionConfig) -> Self {
        Session { config, env: Default::default() }
    }

    fn ensure_ready(&self) -> Result<(), SessionError> {
        if self.config.staging_dir.is_empty() {
            return Err(SessionError::Unavailable("hostile: needs Mode S (a staging dir)".into()));
        }
        self.run_plan("ensure-ready");
        Ok(())
    }

    fn run_tool(&self, request: ToolRequest) -> Result<ExitStatus, SessionError> {
        let mut output = Output;
        self.env.borrow_mut().clear();
        let mut code = 0;
        for op in &request.args {
            match self.run_op(op, &mut output, request.timeout_ms) {
                Ok(None) => {}
                Ok(Some(exit)) => {
                    code = exit;
                    break;
                }
                Err(message) => {
                    output.err(&format!("hostile: {op}: {message}"));
                    code = 1;
                    break;
                }
            }
        }
        Ok(ExitStatus { code: Some(code), signal: None })
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            mode: self.config.mode,
            guest_mount: self.config.guest_mount.clone(),
            syncs: self.config.mode == WorkspaceMode::Sync,
        }
    }

    fn shutdown(&self) -> Result<(), SessionError> {
        self.run_plan("shutdown");
        Ok(())
    }
}

/// Where an op's output goes: the tool run's streams (through `tool-io`) during `run-tool`,
/// else (the plan's stages) the plugin's own stdout/stderr.
struct Output;

impl Output {
    fn out(&mut self, text: &str) {
        if tool_io::write(tool_io::Output::Stdout, format!("{text}\n").as_bytes()).is_err() {
            println!("{text}");
        }
    }

    fn err(&mut self, text: &str) {
        if tool_io::write(tool_io::Output::Stderr, format!("{text}\n").as_bytes()).is_err() {
            eprintln!("{text}");
        }
    }
}

impl Session {
    /// Run the plan's lines for `stage`; each failure is reported and the next line runs.
    fn run_plan(&self, stage: &str) {
        let Ok(plan) = std::fs::read_to_string(self.resolve(PLAN)) else { return };
        let mut output = Output;
        for line in plan.lines().map(str::trim) {
            let Some((line_stage, op)) = line.split_once(' ') else { continue };
            if line_stage != stage {
                continue;
            }
            if let Err(message) = self.run_op(op.trim(), &mut output, None) {
                output.err(&format!("hostile: {stage} {op}: {message}"));
            }
        }
    }

    /// Runs one op; `Some(code)` ends the run with that status.
    fn run_op(&self, op: &str, output: &mut Output, timeout_ms: Option<u64>) -> Result<Option<i32>, String> {
        let (verb, rest) = op.split_once(':').unwrap_or((op, ""));
        match verb {
            "print" => output.out(rest),
            "options" => {
                for (key, value) in &self.config.options {
                    output.out(&format!("option {key}={value}"));
                }
            }
            "exit" => return rest.parse().map(Some).map_err(|_| format!("exit code {rest:?} is not a number")),
            "write" => {
                let (path, text) = rest.split_once('=').ok_or("expected write:PATH=TEXT")?;
                let path = self.resolve(path);
                make_parent(&path)?;
                std::fs::write(&path, text).map_err(|e| at(&path, e))?;
            }
            "rm" => remove_any(&self.resolve(rest))?,
            "read-each" => {
                // PREFIX0 … PREFIX{N-1}, whatever each gives: many different refused paths.
                let (prefix, count) = rest.split_once('=').ok_or("expected read-each:PREFIX=N")?;
                let count: u32 = count.parse().map_err(|_| format!("count {count:?} is not a number"))?;
                for n in 0..count {
                    let _ = std::fs::read(self.resolve(&format!("{prefix}{n}")));
                }
            }
            "read" => {
                let path = self.resolve(rest);
                let text = std::fs::read(&path).map_err(|e| at(&path, e))?;
                output.out(&String::from_utf8_lossy(&text));
            }
            "symlink" => {
                let (link, target) = rest.split_once('=').ok_or("expected symlink:LINK=TARGET")?;
                let link = self.resolve(link);
                match remove_any(&link) {
                    Ok(()) => {}
                    Err(_) if std::fs::symlink_metadata(&link).is_err() => {} // nothing there
                    Err(e) => return Err(e),
                }
                make_parent(&link)?;
                symlink(target, &link).map_err(|e| at(&link, e))?;
            }
            "sparse" => {
                let (path, bytes) = rest.split_once('=').ok_or("expected sparse:PATH=BYTES")?;
                let bytes: u64 = bytes.parse().map_err(|_| format!("size {bytes:?} is not a number"))?;
                let path = self.resolve(path);
                make_parent(&path)?;
                let file = std::fs::File::create(&path).map_err(|e| at(&path, e))?;
                file.set_len(bytes).map_err(|e| at(&path, e))?;
            }
            "deep" => {
                let (path, spec) = rest.split_once('=').ok_or("expected deep:PATH=DEPTH,NAMELEN")?;
                let numbers = spec.split_once(',').and_then(|(d, n)| Some((d.parse().ok()?, n.parse().ok()?)));
                let (depth, name_len) = numbers.ok_or_else(|| format!("{spec:?}: expected DEPTH,NAMELEN"))?;
                deep(&self.resolve(path), depth, name_len)?;
            }
            "sh" | "spawn" => {
                let mut argv: Vec<String> = match verb {
                    "sh" => vec!["sh".into(), "-c".into(), rest.into()],
                    _ => rest.split(' ').map(String::from).collect(),
                };
                // `./NAME`: a program the plugin put in its staging dir, by absolute path.
                if let Some(name) = argv[0].strip_prefix("./") {
                    argv[0] = self.resolve(name).display().to_string();
                }
                let code = self.spawn(&argv, timeout_ms)?;
                if code != 0 {
                    return Ok(Some(code));
                }
            }
            "setenv" => {
                let (name, value) = rest.split_once('=').ok_or("expected setenv:NAME=VALUE")?;
                self.env.borrow_mut().push((name.into(), value.into()));
            }
            _ => {
                return Err("unknown op (ops: symlink:LINK=TARGET sparse:PATH=BYTES deep:PATH=DEPTH,NAMELEN sh:SCRIPT \
                     spawn:PROGRAM ARG… setenv:NAME=VALUE write:PATH=TEXT read:PATH read-each:PREFIX=N rm:PATH print:TEXT options exit:N)"
                    .into())
            }
        }
        Ok(None)
    }

    /// An op path: relative ones are relative to the staging root.
    fn resolve(&self, path: &str) -> PathBuf {
        Path::new(&self.config.staging_dir).join(path)
    }

    /// `argv` in the staging root; returns its exit status (128 + signal when killed).
    fn spawn(&self, argv: &[String], timeout_ms: Option<u64>) -> Result<i32, String> {
        let command = Command {
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
            cwd: Some(self.config.staging_dir.clone()),
            env: self.env.borrow().clone(),
            stdin: Stdio::Null,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            timeout_ms,
        };
        let child = host_process::spawn(&command).map_err(process_message)?;
        let status = child.wait(None).map_err(process_message)?.ok_or("the program is still running")?;
        Ok(status.code.unwrap_or(128 + status.signal.unwrap_or(0)))
    }
}

/// DEPTH nested directories named `name_len` `d`s under `start`, each created and opened relative
/// to a descriptor of its parent, so only WASI's per-call limits (one name) apply, not the length
/// of the whole path. Stops quietly at the first error; a file `leaf` in the deepest one reached.
fn deep(start: &Path, depth: usize, name_len: usize) -> Result<(), String> {
    std::fs::create_dir_all(start).map_err(|e| at(start, e))?;
    let start_c = CString::new(start.to_str().ok_or("the path is not UTF-8")?).map_err(|e| e.to_string())?;
    let name = CString::new("d".repeat(name_len)).map_err(|e| e.to_string())?;
    // SAFETY: plain libc calls on NUL-terminated strings and descriptors this function owns.
    unsafe {
        let mut dir = libc::open(start_c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        if dir < 0 {
            return Err(at(start, std::io::Error::last_os_error()));
        }
        for _ in 0..depth {
            if libc::mkdirat(dir, name.as_ptr(), 0o755) != 0
                && std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST)
            {
                break;
            }
            let next = libc::openat(dir, name.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
            if next < 0 {
                break;
            }
            libc::close(dir);
            dir = next;
        }
        let leaf = libc::openat(dir, c"leaf".as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644);
        if leaf >= 0 {
            libc::write(leaf, b"leaf\n".as_ptr().cast(), 5);
            libc::close(leaf);
        }
        libc::close(dir);
    }
    Ok(())
}

/// `std::os::wasi::fs::symlink_path` is unstable; wasi-libc's `symlink` is the same call
/// (`path_symlink` beneath the preopen holding `link`; the target is stored verbatim).
fn symlink(target: &str, link: &Path) -> std::io::Result<()> {
    let invalid = |_| std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let target = CString::new(target).map_err(invalid)?;
    let link = CString::new(link.to_str().ok_or(std::io::ErrorKind::InvalidInput)?).map_err(invalid)?;
    // SAFETY: both arguments are NUL-terminated strings that outlive the call.
    if unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Remove a file, a symlink (never what it points to) or a whole directory tree.
fn remove_any(path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| at(path, e))?;
    let removed = if meta.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    removed.map_err(|e| at(path, e))
}

fn make_parent(path: &Path) -> Result<(), String> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent).map_err(|e| at(parent, e)),
        None => Ok(()),
    }
}

fn at(path: &Path, error: std::io::Error) -> String {
    format!("{}: {error}", path.display())
}

/// Append a read chunk; false once the stream reached end of file.
fn process_message(error: ProcessError) -> String {
    match error {
        ProcessError::Denied(m) => format!("denied: {m}"),
        ProcessError::NotFound(m) => format!("not found: {m}"),
        ProcessError::Timeout(m) => format!("timeout: {m}"),
        ProcessError::Cancelled(m) => format!("cancelled: {m}"),
        ProcessError::Io(m) => format!("io: {m}"),
    }
}

export!(Hostile);
