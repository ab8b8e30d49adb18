//! The interpreter: runs parsed scripts against the workspace.
//!
//! Owns variables, positional parameters, `$?`, `set -e`, control flow, redirects and pipes,
//! and dispatch (builtin, routed tool, or "command not found"). Builtins live in `builtins`;
//! tools go to the [`ToolBackend`] (the session). Never touches the host filesystem itself.

pub mod syntax;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::sync::atomic::Ordering;

use self::syntax::{AndOr, Command, Connector, Part, RedirectKind, Script, Word};
use crate::builtins;
use crate::stdio::{Captured, Sink, Spill, ToolStdio};
use crate::vfs::{self, Vfs};

/// Nesting limit for `source`, so a file that sources itself fails instead of overflowing.
const MAX_SOURCE_DEPTH: usize = 32;
/// The one host-like path redirects understand without a workspace file.
const DEV_NULL: &str = "/dev/null";

/// Where routed tools run (the session). Implemented by `session::Sessions`.
pub trait ToolBackend {
    /// Run `program` with the workspace in `vfs`, from logical directory `cwd`. With `capture`
    /// the output is returned, otherwise it streams to the terminal.
    fn run_tool(&mut self, vfs: &mut Vfs, request: ToolCall) -> anyhow::Result<ToolResult>;
    /// One line per fact for the `backend` builtin.
    fn describe(&mut self) -> Vec<String>;
    /// Start the session now (DEVSHELL_VM_EAGER, `backend start`).
    fn start(&mut self, vfs: &mut Vfs) -> anyhow::Result<()>;
    /// Throw away a failed session so the next tool starts a new one.
    fn restart(&mut self);
    /// End the session (final pull in Mode S).
    fn shutdown(&mut self, vfs: &mut Vfs) -> anyhow::Result<()>;
    /// The short name for the prompt.
    fn prompt_name(&self) -> String;
    fn is_routed(&self, program: &str) -> bool;
    fn routed(&self) -> Vec<String>;
    /// The sync manifest to persist with the workspace.
    fn manifest(&self) -> &crate::sync::SyncManifest;
    /// A workspace was (re)loaded from the state file: continue from the manifest saved with
    /// it, and serve its lazy files.
    fn replace_manifest(&mut self, manifest: crate::sync::SyncManifest, vfs: &mut Vfs);
}

pub struct ToolCall {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: String,
    pub env: Vec<(String, String)>,
    /// Its stdin, and where its output goes.
    pub stdio: ToolStdio,
}

pub struct ToolResult {
    pub status: i32,
    /// What it wrote to the streams `stdio` captures.
    pub captured: Captured,
}

/// Non-local control flow out of a command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Flow {
    Break(usize),
    Continue(usize),
    Exit(i32),
}

pub type Status = Result<i32, Flow>;

/// Writes the workspace to its state file (`save`); returns what to tell the user.
pub type Saver = Box<dyn FnMut(&Shell) -> anyhow::Result<String>>;

/// What a loop does after one pass of its body.
enum Step {
    Next(i32),
    Break,
}

/// Interpret a loop body's outcome: `break`/`continue` for this loop end here, deeper counts
/// (`break 2`) travel outwards one level less.
fn loop_step(outcome: Status) -> Result<Step, Flow> {
    match outcome {
        Ok(status) => Ok(Step::Next(status)),
        Err(Flow::Break(n)) if n > 1 => Err(Flow::Break(n - 1)),
        Err(Flow::Break(_)) => Ok(Step::Break),
        Err(Flow::Continue(n)) if n > 1 => Err(Flow::Continue(n - 1)),
        Err(Flow::Continue(_)) => Ok(Step::Next(0)),
        Err(flow) => Err(flow),
    }
}

enum TargetKind {
    /// `/dev/null`: discarded.
    Null,
    Stdout,
    Stderr,
    File {
        path: String,
        append: bool,
    },
    Pipe,
}

struct Target {
    kind: TargetKind,
    /// What a file or pipe target collected (bounded in memory: see [`Spill`]).
    buffer: Spill,
}

/// A command's standard streams: stdin bytes (from a pipe or `<`), and where stdout and stderr go.
pub struct Io {
    pub stdin: Option<Spill>,
    targets: Vec<Target>,
    out: usize,
    err: usize,
}

impl Io {
    fn terminal() -> Io {
        Io {
            stdin: None,
            targets: vec![
                Target { kind: TargetKind::Stdout, buffer: Spill::new() },
                Target { kind: TargetKind::Stderr, buffer: Spill::new() },
            ],
            out: 0,
            err: 1,
        }
    }

    fn write_to(&mut self, index: usize, data: &[u8]) {
        let target = &mut self.targets[index];
        match target.kind {
            TargetKind::Stdout => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(data).and_then(|_| stdout.flush());
            }
            TargetKind::Stderr => {
                let _ = std::io::stderr().write_all(data);
            }
            TargetKind::Null => {}
            _ => {
                if let Err(e) = target.buffer.append(data) {
                    eprintln!("devshell: cannot hold command output: {e}");
                }
            }
        }
    }

    /// Write all of `spill` to target `index`: moved as it is into an empty file or pipe
    /// target, else copied in chunks.
    fn spill_to(&mut self, index: usize, spill: Spill) {
        let target = &mut self.targets[index];
        match target.kind {
            TargetKind::Null => return,
            TargetKind::File { .. } | TargetKind::Pipe if target.buffer.is_empty() => {
                target.buffer = spill;
                return;
            }
            _ => {}
        }
        let copied = spill.into_reader().and_then(|mut reader| {
            let mut chunk = vec![0; 1 << 16];
            loop {
                let n = reader.read(&mut chunk)?;
                if n == 0 {
                    return Ok(());
                }
                self.write_to(index, &chunk[..n]);
            }
        });
        if let Err(e) = copied {
            eprintln!("devshell: cannot read command output back: {e}");
        }
    }

    /// Copy stdin (all of it, then end of file) to stdout, as `cat` does.
    /// Everything on stdin (nothing when it is the terminal).
    pub fn take_stdin(&mut self) -> Vec<u8> {
        match self.stdin.take().map(Spill::into_vec) {
            Some(Ok(bytes)) => bytes,
            Some(Err(e)) => {
                self.err(format!("devshell: cannot read stdin back: {e}\n"));
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    pub fn stdin_to_out(&mut self) {
        if let Some(stdin) = self.stdin.take() {
            self.spill_to(self.out, stdin);
        }
    }

    /// Where a tool's streams go, for the plugin runtime to wire its processes to (stdin is
    /// taken).
    fn tool_stdio(&mut self) -> ToolStdio {
        let sink = |kind: &TargetKind, terminal: bool| match kind {
            TargetKind::Null => Sink::Null,
            _ if terminal => Sink::Terminal,
            _ => Sink::Capture,
        };
        let stdout = sink(&self.targets[self.out].kind, matches!(self.targets[self.out].kind, TargetKind::Stdout));
        let stderr = sink(&self.targets[self.err].kind, matches!(self.targets[self.err].kind, TargetKind::Stderr));
        ToolStdio {
            stdin: self.stdin.take(),
            stdout,
            stderr,
            stderr_to_stdout: self.err == self.out && stdout == Sink::Capture,
        }
    }

    pub fn out(&mut self, data: impl AsRef<[u8]>) {
        self.write_to(self.out, data.as_ref());
    }

    pub fn err(&mut self, data: impl AsRef<[u8]>) {
        self.write_to(self.err, data.as_ref());
    }

    /// Print `name: message` on stderr, the form every builtin error takes.
    pub fn error(&mut self, name: &str, message: impl std::fmt::Display) {
        self.err(format!("{name}: {message}\n"));
    }
}

pub struct Shell {
    pub vfs: Vfs,
    pub cwd: String,
    vars: BTreeMap<String, String>,
    exported: BTreeSet<String>,
    positional: Vec<String>,
    script_name: String,
    pub last_status: i32,
    pub errexit: bool,
    /// Depth of contexts where a failure must not trigger `set -e` (conditions, `&&` lists).
    condition_depth: usize,
    source_depth: usize,
    pub history: Vec<String>,
    pub backend: Box<dyn ToolBackend>,
    /// Called by `save`; set by the entry point that owns the state file.
    pub saver: Option<Saver>,
}

impl Shell {
    pub fn new(vfs: Vfs, backend: Box<dyn ToolBackend>) -> Shell {
        let vars: BTreeMap<String, String> = std::env::vars().collect();
        let exported = vars.keys().cloned().collect();
        Shell {
            vfs,
            cwd: "/".into(),
            vars,
            exported,
            positional: vec![],
            script_name: "devshell".into(),
            last_status: 0,
            errexit: false,
            condition_depth: 0,
            source_depth: 0,
            history: vec![],
            backend,
            saver: None,
        }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn set_var(&mut self, name: &str, value: impl Into<String>) {
        self.vars.insert(name.to_string(), value.into());
    }

    pub fn unset_var(&mut self, name: &str) {
        self.vars.remove(name);
        self.exported.remove(name);
    }

    pub fn export_var(&mut self, name: &str) {
        self.exported.insert(name.to_string());
    }

    /// Exported variables, for `env`.
    pub fn exported_vars(&self) -> Vec<(String, String)> {
        self.exported.iter().filter_map(|k| self.vars.get(k).map(|v| (k.clone(), v.clone()))).collect()
    }

    /// Variables the user exported in this session that differ from the process environment
    /// (what a routed tool receives on top of the backend's own environment).
    fn tool_env(&self) -> Vec<(String, String)> {
        self.exported_vars().into_iter().filter(|(k, v)| std::env::var(k).ok().as_ref() != Some(v)).collect()
    }

    pub fn set_positional(&mut self, script_name: &str, args: Vec<String>) {
        self.script_name = script_name.to_string();
        self.positional = args;
    }

    /// Parse and run a whole unit. A syntax error runs nothing and returns status 2.
    pub fn run_source(&mut self, source: &str, origin: &str) -> Status {
        match syntax::parse(source) {
            Ok(script) => self.run_script(&script),
            Err(error) => {
                eprintln!("devshell: {origin}: {error}");
                self.last_status = 2;
                if self.errexit {
                    Err(Flow::Exit(2))
                } else {
                    Ok(2)
                }
            }
        }
    }

    pub fn run_script(&mut self, script: &Script) -> Status {
        let mut status = 0;
        for and_or in script {
            if crate::INTERRUPTED.swap(false, Ordering::SeqCst) {
                eprintln!("devshell: interrupted");
                self.last_status = 130;
                return Err(Flow::Exit(130));
            }
            status = self.run_and_or(and_or)?;
        }
        Ok(status)
    }

    fn run_and_or(&mut self, list: &AndOr) -> Status {
        // Every pipeline but the last is a condition: its failure does not trigger `set -e`.
        let mut status = self.run_guarded(&list.first, !list.rest.is_empty())?;
        let mut last_ran = list.rest.is_empty();
        for (index, (connector, pipeline)) in list.rest.iter().enumerate() {
            let run = match connector {
                Connector::And => status == 0,
                Connector::Or => status != 0,
            };
            if run {
                last_ran = index + 1 == list.rest.len();
                status = self.run_guarded(pipeline, !last_ran)?;
            }
        }
        self.last_status = status;
        if status != 0 && last_ran && self.errexit && self.condition_depth == 0 {
            return Err(Flow::Exit(status));
        }
        Ok(status)
    }

    fn run_guarded(&mut self, pipeline: &[Command], guarded: bool) -> Status {
        self.condition_depth += usize::from(guarded);
        let status = self.run_pipeline(pipeline);
        self.condition_depth -= usize::from(guarded);
        status
    }

    fn run_pipeline(&mut self, pipeline: &[Command]) -> Status {
        let mut stdin = None;
        let mut status = 0;
        for (index, command) in pipeline.iter().enumerate() {
            let mut io = Io::terminal();
            io.stdin = stdin.take();
            let last = index + 1 == pipeline.len();
            if !last {
                io.targets.push(Target { kind: TargetKind::Pipe, buffer: Spill::new() });
                io.out = 2;
            }
            status = self.run_command(command, &mut io)?;
            self.last_status = status;
            if !last {
                stdin = Some(std::mem::take(&mut io.targets[2].buffer));
            }
        }
        Ok(status)
    }

    fn run_command(&mut self, command: &Command, io: &mut Io) -> Status {
        match command {
            Command::Simple { assigns, words, redirects, .. } => {
                let mut argv = Vec::new();
                for word in words {
                    argv.extend(self.expand(word));
                }
                let mut assigned = Vec::new();
                for (name, value) in assigns {
                    assigned.push((name.clone(), self.expand(value).join(" ")));
                }
                if let Err(message) = self.apply_redirects(redirects, io) {
                    io.error("devshell", message);
                    return Ok(1);
                }
                let status = if argv.is_empty() {
                    for (name, value) in assigned {
                        self.set_var(&name, value);
                    }
                    Ok(0)
                } else {
                    self.dispatch(&argv, assigned, io)
                };
                self.flush_redirects(io);
                status
            }
            Command::If { branches, otherwise } => {
                for (cond, body) in branches {
                    self.condition_depth += 1;
                    let cond_status = self.run_script(cond);
                    self.condition_depth -= 1;
                    if cond_status? == 0 {
                        return self.run_script(body);
                    }
                }
                match otherwise {
                    Some(body) => self.run_script(body),
                    None => Ok(0),
                }
            }
            Command::For { var, items, body } => {
                let mut values = Vec::new();
                for item in items {
                    values.extend(self.expand(item));
                }
                let mut status = 0;
                for value in values {
                    self.set_var(var, value);
                    match loop_step(self.run_script(body))? {
                        Step::Next(s) => status = s,
                        Step::Break => break,
                    }
                }
                Ok(status)
            }
            Command::While { cond, body, until } => {
                let mut status = 0;
                loop {
                    self.condition_depth += 1;
                    let cond_status = self.run_script(cond);
                    self.condition_depth -= 1;
                    if (cond_status? == 0) == *until {
                        break;
                    }
                    match loop_step(self.run_script(body))? {
                        Step::Next(s) => status = s,
                        Step::Break => break,
                    }
                }
                Ok(status)
            }
        }
    }

    fn apply_redirects(&mut self, redirects: &[syntax::Redirect], io: &mut Io) -> Result<(), String> {
        for redirect in redirects {
            let target = self.expand(&redirect.target).join(" ");
            let path = vfs::resolve(&self.cwd, &target);
            match redirect.kind {
                RedirectKind::In if path == DEV_NULL => io.stdin = Some(Spill::new()),
                RedirectKind::In => {
                    io.stdin = Some(Spill::from_vec(self.vfs.read(&path).map_err(|e| e.to_string())?));
                }
                RedirectKind::Out | RedirectKind::Append | RedirectKind::Err | RedirectKind::ErrAppend => {
                    let append = matches!(redirect.kind, RedirectKind::Append | RedirectKind::ErrAppend);
                    let kind = if path == DEV_NULL {
                        TargetKind::Null
                    } else {
                        TargetKind::File { path: path.clone(), append }
                    };
                    if path != DEV_NULL {
                        if self.vfs.is_dir(&path) {
                            return Err(format!("{path}: Is a directory"));
                        }
                        if !self.vfs.is_dir(vfs::parent_of(&path)) {
                            return Err(format!("{path}: No such file or directory"));
                        }
                    }
                    io.targets.push(Target { kind, buffer: Spill::new() });
                    let index = io.targets.len() - 1;
                    if matches!(redirect.kind, RedirectKind::Out | RedirectKind::Append) {
                        io.out = index;
                    } else {
                        io.err = index;
                    }
                }
                RedirectKind::ErrToOut => io.err = io.out,
            }
        }
        Ok(())
    }

    /// Write redirect buffers into the workspace (`>` truncates even when nothing was printed).
    fn flush_redirects(&mut self, io: &mut Io) {
        for target in &mut io.targets {
            if let TargetKind::File { path, append } = &target.kind {
                let data = std::mem::take(&mut target.buffer);
                let written = if *append { self.vfs.append_spill(path, data) } else { self.vfs.write_spill(path, data) };
                if let Err(e) = written {
                    eprintln!("devshell: {e}");
                }
            }
        }
    }

    /// Run one command (a builtin, a text tool, a routed tool or a workspace program) with
    /// `io` as its streams: what `xargs` does with the lines it reads.
    pub fn run_argv(&mut self, argv: &[String], io: &mut Io) -> Status {
        self.dispatch(argv, Vec::new(), io)
    }

    fn dispatch(&mut self, argv: &[String], assigned: Vec<(String, String)>, io: &mut Io) -> Status {
        let name = argv[0].as_str();
        if let Some(builtin) = builtins::find(name) {
            // `NAME=value builtin`: visible to the builtin only.
            let saved: Vec<(String, Option<String>)> =
                assigned.iter().map(|(k, _)| (k.clone(), self.vars.get(k).cloned())).collect();
            for (k, v) in &assigned {
                self.set_var(k, v.clone());
            }
            let status = builtin(self, &argv[1..], io);
            for (k, old) in saved {
                match old {
                    Some(v) => self.set_var(&k, v),
                    None => {
                        self.vars.remove(&k);
                    }
                }
            }
            return status;
        }
        if let Some(status) = builtins::text_tool(self, name, &argv[1..], io) {
            return status;
        }
        if self.backend.is_routed(name) {
            return Ok(self.run_tool(argv, assigned, io));
        }
        if name.contains('/') {
            return Ok(self.run_workspace_program(argv, assigned, io));
        }
        io.error("devshell", format!("{name}: command not found (try `help`)"));
        Ok(127)
    }

    /// `./target/debug/app`, `target/release/app --flag`: a workspace file run in the backend
    /// like a routed tool (same sync, same statuses); 126 when it cannot be run, 127 when there
    /// is no such file.
    fn run_workspace_program(&mut self, argv: &[String], assigned: Vec<(String, String)>, io: &mut Io) -> i32 {
        let name = &argv[0];
        let path = vfs::resolve(&self.cwd, name);
        let node = self.vfs.follow(&path).ok().and_then(|real| self.vfs.get(&real));
        match node.map(|n| &n.kind) {
            Some(vfs::NodeKind::File { executable: true, .. }) => self.run_tool(argv, assigned, io),
            Some(vfs::NodeKind::File { .. }) => {
                io.error("devshell", format!("{name}: Permission denied (not executable; `chmod +x {name}`)"));
                126
            }
            Some(_) => {
                io.error("devshell", format!("{name}: Is a directory"));
                126
            }
            None => {
                io.error("devshell", format!("{name}: No such file or directory"));
                127
            }
        }
    }

    fn run_tool(&mut self, argv: &[String], assigned: Vec<(String, String)>, io: &mut Io) -> i32 {
        let mut env = self.tool_env();
        env.extend(assigned);
        let call = ToolCall {
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
            cwd: self.cwd.trim_start_matches('/').to_string(),
            env,
            stdio: io.tool_stdio(),
        };
        match self.backend.run_tool(&mut self.vfs, call) {
            Ok(result) => {
                io.spill_to(io.out, result.captured.stdout);
                io.spill_to(io.err, result.captured.stderr);
                result.status
            }
            Err(error) => {
                io.error(&argv[0], format!("{error:#}"));
                // Stopped by Ctrl-C: the status bash gives a command SIGINT ended.
                if crate::plugin::cancelled() {
                    130
                } else {
                    126
                }
            }
        }
    }

    /// Expand a word into fields: variables substituted, unquoted expansions split on whitespace.
    pub fn expand(&self, word: &Word) -> Vec<String> {
        let mut fields: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut has_field = false;
        for part in &word.0 {
            match part {
                Part::Lit { text, .. } => {
                    current.push_str(text);
                    has_field = true;
                }
                Part::Var { name, quoted } if name == "@" => {
                    for (i, arg) in self.positional.iter().enumerate() {
                        if i > 0 {
                            fields.push(std::mem::take(&mut current));
                        }
                        if *quoted {
                            current.push_str(arg);
                        } else {
                            current.push_str(arg.split_whitespace().collect::<Vec<_>>().join(" ").as_str());
                        }
                        has_field = true;
                    }
                }
                Part::Var { name, quoted } => {
                    let value = self.lookup(name);
                    if *quoted {
                        current.push_str(&value);
                        has_field = true;
                    } else {
                        let mut pieces = value.split_whitespace().peekable();
                        if value.starts_with(char::is_whitespace) && has_field && !current.is_empty() {
                            fields.push(std::mem::take(&mut current));
                        }
                        while let Some(piece) = pieces.next() {
                            current.push_str(piece);
                            has_field = true;
                            if pieces.peek().is_some() {
                                fields.push(std::mem::take(&mut current));
                            }
                        }
                        if value.ends_with(char::is_whitespace) && !current.is_empty() {
                            fields.push(std::mem::take(&mut current));
                            has_field = false;
                        }
                    }
                }
            }
        }
        if has_field {
            fields.push(current);
        }
        fields
    }

    fn lookup(&self, name: &str) -> String {
        match name {
            "?" => self.last_status.to_string(),
            "#" => self.positional.len().to_string(),
            "0" => self.script_name.clone(),
            _ if name.chars().all(|c| c.is_ascii_digit()) => {
                let index: usize = name.parse().unwrap_or(0);
                index.checked_sub(1).and_then(|i| self.positional.get(i)).cloned().unwrap_or_default()
            }
            _ => self.vars.get(name).cloned().unwrap_or_default(),
        }
    }

    /// `source FILE ARGS…`: run a workspace file with its own positional parameters.
    pub fn source(&mut self, path: &str, args: Vec<String>) -> Status {
        if self.source_depth >= MAX_SOURCE_DEPTH {
            eprintln!("source: {path}: nested more than {MAX_SOURCE_DEPTH} levels deep");
            return Ok(1);
        }
        let resolved = vfs::resolve(&self.cwd, path);
        let source = match self.vfs.read(&resolved) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                eprintln!("source: {e}");
                return Ok(1);
            }
        };
        let saved = if args.is_empty() { None } else { Some(std::mem::replace(&mut self.positional, args)) };
        self.source_depth += 1;
        let status = self.run_source(&source, &resolved);
        self.source_depth -= 1;
        if let Some(saved) = saved {
            self.positional = saved;
        }
        status
    }
}
