//! The mock backend: the smallest complete devshell backend, and the one the tests use.
//!
//! * `guest-fs` is an in-memory tree under the guest mount, deterministic (mtimes count up from 1).
//! * `run-tool` runs a tiny script given as arguments, one operation per argument:
//!
//! | op                 | effect                                                                 |
//! |--------------------|------------------------------------------------------------------------|
//! | `print:TEXT`       | TEXT and a newline on stdout                                           |
//! | `eprint:TEXT`      | TEXT and a newline on stderr                                           |
//! | `write:PATH=TEXT`  | create or replace a file (relative to the tool's cwd)                  |
//! | `mkdir:PATH`       | create a directory and its parents                                     |
//! | `delete:PATH`      | remove a file or a directory tree                                      |
//! | `cat:PATH`         | print a file (any path: shows what WASI lets the plugin read)           |
//! | `spawn:PROG ARGS…` | spawn a host program through `host-process` and take its exit status   |
//! | `stdin`            | copy the tool's stdin to its stdout through `tool-io`                  |
//! | `flood:BYTES`      | write BYTES bytes (`a`…`z` repeated) to stdout through `tool-io`       |
//! | `granted`          | the effective grant, a `grant …` line per item, on stdout              |
//! | `options`          | the session's options, an `option KEY=VALUE` line each, on stdout      |
//! | `wait-cancel`      | wait until the user cancels (Ctrl-C), then return `cancelled`          |
//! | `exit:N`           | stop here with exit code N                                             |
//!
//! Output goes through `tool-io`, so the host sends it where the user's command line says.
//! A run whose first argument is not an op (`cargo --version`) runs the tool itself on the
//! host, in the staging dir, as a real Mode S backend would (its built-in grant is the routed
//! tools, offline), so the mock passes the conformance check every backend must.
//! In Mode S the file operations act on the staging dir (through the plugin's WASI preopen); in
//! Mode P on the in-memory guest filesystem. The program name is ignored, so any routed tool name
//! works (`cargo print:hi`).

// A component for wasm32-wasip2 only; on the host target (`cargo build --workspace`) the
// crate is empty instead of failing to link its imports.
#![cfg(target_family = "wasm")]

use std::cell::RefCell;
use std::collections::BTreeMap;

use devshell::backend::host_log;
use devshell::backend::host_process::{self, Command, Stdio};
use devshell::backend::tool_io;
use devshell::backend::types::{
    BackendInfo, DirEntry, EntryKind, EntryStat, ExitStatus, FsError, SessionConfig, SessionError, ToolRequest,
    WorkspaceMode,
};
use devshell_plugin_kit::confine_to_mount;

wit_bindgen::generate!({ path: "../../wit/0.2.0", world: "guest-backend" });

devshell_plugin_kit::manifest!(
    r#"{"name":"mock","version":"0.1.0","description":"In-memory guest filesystem and a scripted run-tool, for tests and as an example","capabilities":{"programs":["*"],"dirs":["staging"],"network":false}}"#
);

const DEFAULT_MOUNT: &str = "/workspace";

/// The in-memory guest filesystem: one map from normalized absolute path to node.
#[derive(Default)]
struct GuestTree {
    mount: String,
    nodes: BTreeMap<String, Node>,
    clock: u64,
}

#[derive(Clone)]
enum Node {
    Dir { mtime: u64 },
    File { data: Vec<u8>, mtime: u64 },
}

thread_local! {
    static TREE: RefCell<GuestTree> = RefCell::new(GuestTree::with_mount(DEFAULT_MOUNT));
}

impl GuestTree {
    fn with_mount(mount: &str) -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(mount.to_string(), Node::Dir { mtime: 0 });
        GuestTree { mount: mount.to_string(), nodes, clock: 0 }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn confine(&self, path: &str) -> Result<String, FsError> {
        confine_to_mount(path, &self.mount).map_err(FsError::InvalidPath)
    }

    fn parent_must_be_dir(&self, path: &str) -> Result<(), FsError> {
        let parent = match path.rfind('/') {
            Some(0) => "/",
            Some(i) => &path[..i],
            None => return Err(FsError::InvalidPath(path.into())),
        };
        match self.nodes.get(parent) {
            Some(Node::Dir { .. }) => Ok(()),
            Some(Node::File { .. }) => Err(FsError::NotADirectory(parent.into())),
            None => Err(FsError::NotFound(parent.into())),
        }
    }

    fn stat(&self, path: &str) -> Result<EntryStat, FsError> {
        match self.nodes.get(path) {
            Some(Node::Dir { mtime }) => {
                Ok(EntryStat { kind: EntryKind::Directory, size: 0, mtime_ns: *mtime, executable: true })
            }
            Some(Node::File { data, mtime }) => {
                Ok(EntryStat { kind: EntryKind::File, size: data.len() as u64, mtime_ns: *mtime, executable: false })
            }
            None => Err(FsError::NotFound(path.into())),
        }
    }

    fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        match self.nodes.get(path) {
            Some(Node::Dir { .. }) => {}
            Some(Node::File { .. }) => return Err(FsError::NotADirectory(path.into())),
            None => return Err(FsError::NotFound(path.into())),
        }
        let prefix = if path == "/" { "/".to_string() } else { format!("{path}/") };
        let children = self.nodes.range(prefix.clone()..).take_while(|(p, _)| p.starts_with(&prefix));
        children
            .filter(|(p, _)| !p[prefix.len()..].contains('/'))
            .map(|(p, _)| Ok(DirEntry { name: p[prefix.len()..].to_string(), stat: self.stat(p)? }))
            .collect()
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, FsError> {
        match self.nodes.get(path) {
            Some(Node::File { data, .. }) => Ok(data.clone()),
            Some(Node::Dir { .. }) => Err(FsError::IsADirectory(path.into())),
            None => Err(FsError::NotFound(path.into())),
        }
    }

    fn write_file(&mut self, path: &str, data: Vec<u8>) -> Result<(), FsError> {
        if let Some(Node::Dir { .. }) = self.nodes.get(path) {
            return Err(FsError::IsADirectory(path.into()));
        }
        self.parent_must_be_dir(path)?;
        let mtime = self.tick();
        self.nodes.insert(path.to_string(), Node::File { data, mtime });
        Ok(())
    }

    fn mkdir(&mut self, path: &str) -> Result<(), FsError> {
        let mut current = String::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            current.push('/');
            current.push_str(segment);
            if current.len() < self.mount.len() {
                continue; // above the mount: exists by definition
            }
            match self.nodes.get(&current) {
                Some(Node::Dir { .. }) => {}
                Some(Node::File { .. }) => return Err(FsError::NotADirectory(current)),
                None => {
                    let mtime = self.tick();
                    self.nodes.insert(current.clone(), Node::Dir { mtime });
                }
            }
        }
        Ok(())
    }

    fn remove(&mut self, path: &str) -> Result<(), FsError> {
        if path == self.mount {
            return Err(FsError::Denied(format!("refusing to remove the guest mount {path}")));
        }
        if self.nodes.remove(path).is_none() {
            return Err(FsError::NotFound(path.into()));
        }
        let prefix = format!("{path}/");
        self.nodes.retain(|p, _| !p.starts_with(&prefix));
        Ok(())
    }
}

fn with_tree<T>(f: impl FnOnce(&mut GuestTree) -> Result<T, FsError>) -> Result<T, FsError> {
    TREE.with(|tree| f(&mut tree.borrow_mut()))
}

struct Mock;

impl exports::devshell::backend::guest_fs::Guest for Mock {
    fn list_dir(path: String) -> Result<Vec<DirEntry>, FsError> {
        with_tree(|t| t.confine(&path).and_then(|p| t.list_dir(&p)))
    }
    fn stat(path: String) -> Result<EntryStat, FsError> {
        with_tree(|t| t.confine(&path).and_then(|p| t.stat(&p)))
    }
    fn read_file(path: String) -> Result<Vec<u8>, FsError> {
        with_tree(|t| t.confine(&path).and_then(|p| t.read_file(&p)))
    }
    fn write_file(path: String, data: Vec<u8>) -> Result<(), FsError> {
        with_tree(|t| t.confine(&path).and_then(|p| t.write_file(&p, data)))
    }
    fn mkdir(path: String) -> Result<(), FsError> {
        with_tree(|t| t.confine(&path).and_then(|p| t.mkdir(&p)))
    }
    fn remove(path: String) -> Result<(), FsError> {
        with_tree(|t| t.confine(&path).and_then(|p| t.remove(&p)))
    }
}

struct MockSession {
    config: SessionConfig,
    ready: RefCell<bool>,
}

impl exports::devshell::backend::session::Guest for Mock {
    type Session = MockSession;
}

impl exports::devshell::backend::session::GuestSession for MockSession {
    fn new(config: SessionConfig) -> Self {
        TREE.with(|tree| *tree.borrow_mut() = GuestTree::with_mount(&config.guest_mount));
        MockSession { config, ready: RefCell::new(false) }
    }

    fn ensure_ready(&self) -> Result<(), SessionError> {
        if self.config.mode == WorkspaceMode::Sync && self.config.staging_dir.is_empty() {
            return Err(SessionError::Unavailable("mock: Mode S needs a staging dir".into()));
        }
        if !*self.ready.borrow() {
            host_log::log(host_log::Level::Debug, "mock session ready");
            *self.ready.borrow_mut() = true;
        }
        Ok(())
    }

    fn run_tool(&self, request: ToolRequest) -> Result<ExitStatus, SessionError> {
        let mut run = ScriptRun { session: self, request: &request };
        let code = run.run_all()?;
        Ok(ExitStatus { code: Some(code), signal: None })
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "mock".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            mode: self.config.mode,
            guest_mount: self.config.guest_mount.clone(),
            syncs: self.config.mode == WorkspaceMode::Sync,
        }
    }

    fn shutdown(&self) -> Result<(), SessionError> {
        *self.ready.borrow_mut() = false;
        Ok(())
    }
}

/// One `run-tool` call.
struct ScriptRun<'a> {
    session: &'a MockSession,
    request: &'a ToolRequest,
}

impl ScriptRun<'_> {
    fn run_all(&mut self) -> Result<i32, SessionError> {
        const BARE_OPS: &[&str] = &["stdin", "granted", "options", "wait-cancel"];
        let is_op = |arg: &String| arg.contains(':') || BARE_OPS.contains(&arg.as_str());
        if !self.request.args.first().is_some_and(is_op) && self.is_sync() {
            let command_line = std::iter::once(&self.request.program).chain(&self.request.args);
            let words: Vec<String> = command_line.cloned().collect();
            return Ok(self.spawn_words(words).unwrap_or_else(|message| {
                self.err(&format!("mock: {message}"));
                1
            }));
        }
        for op in &self.request.args {
            if op == "wait-cancel" {
                return Err(wait_for_cancel());
            }
            match self.run_op(op) {
                Ok(None) => {}
                Ok(Some(code)) => return Ok(code),
                Err(message) => {
                    self.err(&format!("mock: {op}: {message}"));
                    return Ok(1);
                }
            }
        }
        Ok(0)
    }

    fn out(&mut self, text: &str) {
        let _ = tool_io::write(tool_io::Output::Stdout, format!("{text}\n").as_bytes());
    }

    fn err(&mut self, text: &str) {
        let _ = tool_io::write(tool_io::Output::Stderr, format!("{text}\n").as_bytes());
    }

    /// Runs one op; `Some(code)` ends the script with that exit code.
    fn run_op(&mut self, op: &str) -> Result<Option<i32>, String> {
        let (verb, rest) = op.split_once(':').unwrap_or((op, ""));
        match verb {
            "print" => self.out(rest),
            "eprint" => self.err(rest),
            "stdin" => {
                while let Some(chunk) = tool_io::read_stdin(64 * 1024, 1000).map_err(io_message)? {
                    tool_io::write(tool_io::Output::Stdout, &chunk).map_err(io_message)?;
                }
            }
            "flood" => {
                let total: u64 = rest.parse().map_err(|_| format!("byte count {rest:?} is not a number"))?;
                let chunk: Vec<u8> = (b'a'..=b'z').cycle().take(64 * 26).collect();
                let mut left = total;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    tool_io::write(tool_io::Output::Stdout, &chunk[..n]).map_err(io_message)?;
                    left -= n as u64;
                }
            }
            "granted" => {
                let grant = host_process::granted();
                for program in grant.programs {
                    let args = program.args.map_or("any arguments".to_string(), |a| a.join(" "));
                    self.out(&format!("grant program {} ({}) {args}", program.name, program.path));
                }
                for dir in grant.dirs {
                    self.out(&format!("grant dir {dir}"));
                }
                for dir in grant.read_dirs {
                    self.out(&format!("grant read-dir {dir}"));
                }
                for name in grant.env {
                    self.out(&format!("grant env {name}"));
                }
                self.out(&format!("grant network {}", grant.network));
            }
            "options" => {
                for (key, value) in self.session.config.options.clone() {
                    self.out(&format!("option {key}={value}"));
                }
            }
            "exit" => return rest.parse().map(Some).map_err(|_| format!("exit code {rest:?} is not a number")),
            "write" => {
                let (path, text) = rest.split_once('=').ok_or("expected write:PATH=TEXT")?;
                self.write(path, text.as_bytes())?;
            }
            "mkdir" => self.mkdir(rest)?,
            "delete" => self.delete(rest)?,
            "cat" => {
                let data = self.read(rest)?;
                self.out(String::from_utf8_lossy(&data).trim_end_matches('\n'));
            }
            "spawn" => return self.spawn(rest).map(Some),
            _ => return Err("unknown op (ops: print: eprint: write:PATH=TEXT mkdir: delete: cat: spawn: exit:)".into()),
        }
        Ok(None)
    }

    fn is_sync(&self) -> bool {
        self.session.config.mode == WorkspaceMode::Sync
    }

    /// Where a relative op path lands: under the staging dir (Mode S) or the guest mount (Mode P).
    /// Absolute paths are taken as they are, so tests can probe what the plugin can reach.
    fn resolve(&self, path: &str) -> String {
        if path.starts_with('/') {
            return path.to_string();
        }
        let root = if self.is_sync() { &self.session.config.staging_dir } else { &self.session.config.guest_mount };
        let cwd = &self.request.cwd;
        if cwd.is_empty() {
            format!("{root}/{path}")
        } else {
            format!("{root}/{cwd}/{path}")
        }
    }

    fn write(&self, path: &str, data: &[u8]) -> Result<(), String> {
        let full = self.resolve(path);
        if self.is_sync() {
            std::fs::write(&full, data).map_err(|e| format!("{full}: {e}"))
        } else {
            with_tree(|t| t.confine(&full).and_then(|p| t.write_file(&p, data.to_vec()))).map_err(fs_message)
        }
    }

    fn mkdir(&self, path: &str) -> Result<(), String> {
        let full = self.resolve(path);
        if self.is_sync() {
            std::fs::create_dir_all(&full).map_err(|e| format!("{full}: {e}"))
        } else {
            with_tree(|t| t.confine(&full).and_then(|p| t.mkdir(&p))).map_err(fs_message)
        }
    }

    fn delete(&self, path: &str) -> Result<(), String> {
        let full = self.resolve(path);
        if self.is_sync() {
            let meta = std::fs::symlink_metadata(&full).map_err(|e| format!("{full}: {e}"))?;
            let removed = if meta.is_dir() { std::fs::remove_dir_all(&full) } else { std::fs::remove_file(&full) };
            removed.map_err(|e| format!("{full}: {e}"))
        } else {
            with_tree(|t| t.confine(&full).and_then(|p| t.remove(&p))).map_err(fs_message)
        }
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let full = self.resolve(path);
        if self.is_sync() || path.starts_with('/') && !full.starts_with(&self.session.config.guest_mount) {
            std::fs::read(&full).map_err(|e| format!("{full}: {e}"))
        } else {
            with_tree(|t| t.confine(&full).and_then(|p| t.read_file(&p))).map_err(fs_message)
        }
    }

    fn spawn(&mut self, command_line: &str) -> Result<i32, String> {
        self.spawn_words(command_line.split_whitespace().map(String::from).collect())
    }

    /// Run `words` (a program and its arguments) on the host with the run's own streams.
    fn spawn_words(&mut self, words: Vec<String>) -> Result<i32, String> {
        let mut words = words.into_iter();
        let program = words.next().ok_or("expected spawn:PROGRAM ARGS...")?;
        let cwd = self.is_sync().then(|| self.resolve("."));
        let command = Command {
            program,
            args: words.collect(),
            cwd,
            env: self.request.env.clone(),
            stdin: Stdio::Inherit,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            timeout_ms: self.request.timeout_ms,
        };
        let child = host_process::spawn(&command).map_err(process_message)?;
        let status = child.wait(None).map_err(process_message)?.ok_or("child still running")?;
        Ok(status.code.unwrap_or(128 + status.signal.unwrap_or(0)))
    }
}

fn fs_message(error: FsError) -> String {
    match error {
        FsError::InvalidPath(m) => format!("invalid path: {m}"),
        FsError::NotFound(m) => format!("not found: {m}"),
        FsError::NotADirectory(m) => format!("not a directory: {m}"),
        FsError::IsADirectory(m) => format!("is a directory: {m}"),
        FsError::Denied(m) => format!("denied: {m}"),
        FsError::Io(m) | FsError::Backend(m) => m,
    }
}

fn process_message(error: host_process::ProcessError) -> String {
    match error {
        host_process::ProcessError::Denied(m) => format!("denied: {m}"),
        host_process::ProcessError::NotFound(m) => format!("not found: {m}"),
        host_process::ProcessError::Timeout(m) => format!("timeout: {m}"),
        host_process::ProcessError::Cancelled(m) => format!("cancelled: {m}"),
        host_process::ProcessError::Io(m) => format!("io: {m}"),
    }
}

fn io_message(error: tool_io::IoError) -> String {
    match error {
        tool_io::IoError::NoRun => "no tool run".into(),
        tool_io::IoError::Cancelled => "cancelled".into(),
        tool_io::IoError::Io(m) => m,
    }
}

/// `wait-cancel`: what a backend with work in flight does when the user presses Ctrl-C (here
/// nothing is in flight, so it only notices and says so).
fn wait_for_cancel() -> SessionError {
    // Until the call's time limit stops it, if nobody cancels.
    loop {
        if tool_io::cancelled() {
            return SessionError::Cancelled("mock: stopped on request".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

export!(Mock);
