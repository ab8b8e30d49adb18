//! Host processes started on a plugin's behalf: spawn (after the grant check), pipes, wait with
//! timeouts, killing the whole process group, and the bounds on what a plugin's children can make
//! the host hold.
//!
//! Every blocking operation here carries its own host-side timeout, because an epoch deadline
//! cannot interrupt a host call: a tool that hangs is killed here, not in the plugin.
//!
//! Bounds (the plugin is untrusted, and so is every program it runs):
//! * A piped output stream holds at most [`PIPE_HOLD_BYTES`] in the host. When the plugin does
//!   not read, its pipe thread stops reading and the child blocks on a full pipe (backpressure,
//!   as with any pipe), instead of the host reading into memory for as long as the child writes.
//! * One plugin instance has at most [`MAX_LIVE_CHILDREN`] children holding host resources at
//!   once ([`ChildLimit`]). A child costs a wait thread, a thread per piped output stream, three
//!   descriptors and its buffered output, so the cap bounds threads, descriptors and memory too.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::stdio::{Captured, Sink, Spill, ToolStdio};

/// How many children one plugin instance may hold at once (see [`ChildLimit`]). Generous for a
/// backend (one tool at a time, a few helpers), small enough that 32 × (three threads, three
/// descriptors, 2 MiB of output) is harmless.
pub const MAX_LIVE_CHILDREN: usize = 32;

/// What a pipe thread reads at a time.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks a pipe thread may queue ahead of the plugin's reads.
const QUEUED_CHUNKS: usize = 6;
/// The longest line [`ChildProcess::read_stdout_line`] returns whole (not counting its newline);
/// a longer one comes back in pieces of at most this size, cut between characters.
pub const MAX_LINE_BYTES: usize = 512 * 1024;
/// The most a pipe keeps taken off its queue for the plugin: a longest line and its newline.
const LINE_BUFFER_BYTES: usize = MAX_LINE_BYTES + 1;
/// The most one piped output stream holds in the host (about 1 MiB): its line buffer, the rest
/// of the chunk that did not fit there, the queue, and the chunk its thread is reading into.
pub const PIPE_HOLD_BYTES: usize = LINE_BUFFER_BYTES + (QUEUED_CHUNKS + 2) * CHUNK_BYTES;
/// How long a pipe thread waits for data before checking that its reader still exists: a
/// descendant that left the process group can hold the pipe open after the child was dropped.
const PUMP_POLL_MS: libc::c_int = 200;

/// Host environment a child may see; everything else is dropped.
const ENV_ALLOWLIST: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TERM",
    "COLORTERM",
    "TZ",
    "TMPDIR",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTUP_AUTO_INSTALL",
    "RUST_BACKTRACE",
    "CARGO_TERM_COLOR",
    "NO_COLOR",
    "CLICOLOR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Set by SIGINT while devshell waits for a tool that does not own the terminal.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Set with [`INTERRUPTED`] but consumed by no one: the plugin call running when Ctrl-C came is
/// cancelled until the next call begins ([`begin_call`]).
static CANCELLED: AtomicBool = AtomicBool::new(false);

/// What devshell's SIGINT handler calls: stop the script between commands, cancel the plugin
/// call in progress. Async-signal-safe (two atomic stores).
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    CANCELLED.store(true, Ordering::SeqCst);
}

/// True once Ctrl-C has cancelled the plugin call in progress.
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

/// A new plugin call starts uncancelled.
pub(crate) fn begin_call() {
    CANCELLED.store(false, Ordering::SeqCst);
}

#[derive(Debug)]
pub enum StdioMode {
    /// devshell's own stream (the terminal).
    Inherit,
    /// A pipe the plugin reads or writes.
    Pipe,
    Null,
    /// A pipe end the host connected to the tool run's streams ([`ToolStreams`]).
    Wired(Stdio),
}

impl From<StdioMode> for Stdio {
    fn from(mode: StdioMode) -> Stdio {
        match mode {
            StdioMode::Inherit => Stdio::inherit(),
            StdioMode::Pipe => Stdio::piped(),
            StdioMode::Null => Stdio::null(),
            StdioMode::Wired(stdio) => stdio,
        }
    }
}

/// How long captured output may keep arriving after the plugin's call returned (from a
/// descendant that left the tool's process group) before devshell stops waiting for it.
const CAPTURE_GRACE: Duration = Duration::from_secs(1);

/// One tool run's streams, for the children the plugin spawns with `inherit`: the terminal
/// stays the terminal; a captured stream gets a pipe whose bytes a host thread moves into a
/// [`Spill`] (bounded memory, whatever the size); piped stdin is fed from its bytes, then end
/// of file, to the first child that inherits it.
pub struct ToolStreams {
    /// Piped stdin not yet handed out: to the first child that inherits it, or read by the
    /// plugin itself (`tool-io.read-stdin`), whose reads go on from where it stopped.
    stdin: Option<Box<dyn Read + Send>>,
    stdout: Sink,
    stderr: Sink,
    merged: bool,
    captured: Arc<Mutex<Captured>>,
    pumps: Vec<std::thread::JoinHandle<()>>,
}

impl ToolStreams {
    pub fn new(stdio: ToolStdio) -> std::io::Result<ToolStreams> {
        Ok(ToolStreams {
            stdin: stdio.stdin.map(Spill::into_reader).transpose()?,
            stdout: stdio.stdout,
            stderr: stdio.stderr,
            merged: stdio.stderr_to_stdout,
            captured: Arc::default(),
            pumps: Vec::new(),
        })
    }

    /// The three streams for a child, with each `inherit` replaced by the run's own.
    pub fn wire(
        &mut self,
        stdin: StdioMode,
        stdout: StdioMode,
        stderr: StdioMode,
    ) -> std::io::Result<(StdioMode, StdioMode, StdioMode)> {
        let stdin = match stdin {
            StdioMode::Inherit => match self.stdin.take() {
                None => StdioMode::Inherit,
                Some(bytes) => StdioMode::Wired(feed(bytes)?),
            },
            other => other,
        };
        let (out, err) = match (stdout, stderr) {
            (StdioMode::Inherit, StdioMode::Inherit) if self.merged => {
                // One pipe for both, so the bytes keep the order the tool wrote them in.
                let (reader, writer) = std::io::pipe()?;
                self.pump(reader, true)?;
                (StdioMode::Wired(Stdio::from(writer.try_clone()?)), StdioMode::Wired(Stdio::from(writer)))
            }
            (out, err) => (self.inherited(out, self.stdout, true)?, self.inherited(err, self.stderr, false)?),
        };
        Ok((stdin, out, err))
    }

    /// `mode`, or for `inherit` the run's own stream.
    fn inherited(&mut self, mode: StdioMode, sink: Sink, stdout: bool) -> std::io::Result<StdioMode> {
        match mode {
            StdioMode::Inherit => self.output(sink, stdout),
            other => Ok(other),
        }
    }

    fn output(&mut self, sink: Sink, stdout: bool) -> std::io::Result<StdioMode> {
        Ok(match sink {
            Sink::Terminal => StdioMode::Inherit,
            Sink::Null => StdioMode::Null,
            Sink::Capture => {
                let (reader, writer) = std::io::pipe()?;
                self.pump(reader, stdout)?;
                StdioMode::Wired(Stdio::from(writer))
            }
        })
    }

    /// A thread moving `reader`'s bytes into the captured stdout (or stderr) until end of file.
    fn pump(&mut self, mut reader: std::io::PipeReader, stdout: bool) -> std::io::Result<()> {
        let captured = Arc::clone(&self.captured);
        let pump = std::thread::Builder::new().name("devshell-capture".into()).spawn(move || {
            let mut chunk = vec![0; 1 << 16];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut captured = captured.lock().unwrap_or_else(|e| e.into_inner());
                let spill = if stdout { &mut captured.stdout } else { &mut captured.stderr };
                if let Err(e) = spill.append(&chunk[..n]) {
                    eprintln!("devshell: cannot hold the tool's output: {e}");
                    break;
                }
            }
        })?;
        self.pumps.push(pump);
        Ok(())
    }

    /// Bytes the plugin writes itself (`tool-io.write`), to where the run's stdout (or stderr)
    /// goes: devshell's own stream, nowhere, or the captured stream.
    pub fn write(&mut self, stdout: bool, data: &[u8]) -> std::io::Result<()> {
        match if stdout { self.stdout } else { self.stderr } {
            Sink::Null => Ok(()),
            Sink::Terminal if stdout => std::io::stdout().lock().write_all(data).and_then(|_| std::io::stdout().flush()),
            Sink::Terminal => std::io::stderr().lock().write_all(data),
            Sink::Capture => {
                let mut captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
                let into_stdout = stdout || self.merged;
                if into_stdout { captured.stdout.append(data) } else { captured.stderr.append(data) }
            }
        }
    }

    /// Up to `max` bytes of piped stdin for the plugin itself; `None` at its end, or when the
    /// run's stdin is the terminal or was handed to a child.
    pub fn read_stdin(&mut self, max: usize) -> std::io::Result<Option<Vec<u8>>> {
        let Some(reader) = self.stdin.as_mut() else { return Ok(None) };
        let mut buffer = vec![0; max.min(1 << 20)];
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            self.stdin = None;
            return Ok(None);
        }
        buffer.truncate(n);
        Ok(Some(buffer))
    }

    /// What was captured, once every pipe reached end of file (or, past [`CAPTURE_GRACE`],
    /// what arrived so far).
    pub fn finish(self) -> Captured {
        let deadline = Instant::now() + CAPTURE_GRACE;
        while self.pumps.iter().any(|p| !p.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if self.pumps.iter().any(|p| !p.is_finished()) {
            eprintln!("devshell: a process the tool started still holds its output open; not waiting for it");
        }
        std::mem::take(&mut *self.captured.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A pipe whose reading end carries `bytes` and then end of file, fed by a thread (which ends
/// early, quietly, if the reader goes away).
fn feed(mut source: Box<dyn Read + Send>) -> std::io::Result<Stdio> {
    let (reader, mut writer) = std::io::pipe()?;
    std::thread::Builder::new().name("devshell-stdin".into()).spawn(move || {
        let _ = std::io::copy(&mut source, &mut writer);
    })?;
    Ok(Stdio::from(reader))
}

/// A checked request: the program is already resolved and granted, the cwd mapped to the host.
pub struct SpawnRequest {
    /// Exactly the file to execute (the grant's canonical path, or the rustup shortcut's).
    pub program: std::path::PathBuf,
    /// What it runs as: the name it was granted by.
    pub argv0: String,
    pub args: Vec<String>,
    pub cwd: std::path::PathBuf,
    /// Asked for by the plugin; checked.
    pub env: Vec<(String, String)>,
    /// Set by the host itself after `env` (the rustup shortcut's variables); not checked.
    pub host_env: Vec<(String, String)>,
    pub stdin: StdioMode,
    pub stdout: StdioMode,
    pub stderr: StdioMode,
    pub timeout: Option<Duration>,
    /// The Landlock confinement the child applies to itself before it runs anything.
    pub confinement: Option<super::confine::ChildConfinement>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProcessError {
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Cancelled(String),
    #[error("{0}")]
    Io(String),
}

/// How a child ended, in contract terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// One piped output stream: a thread moves what the child writes into a bounded queue, so reads
/// can time out; the plugin's reads take from the queue.
struct PipeReader {
    chunks: Receiver<Vec<u8>>,
    /// Taken off the queue and not yet returned; at most [`LINE_BUFFER_BYTES`].
    buffer: VecDeque<u8>,
    /// The part of the last chunk taken off the queue that did not fit in `buffer`.
    pending: Vec<u8>,
    /// The thread is done and the queue empty: what is in `pending` and `buffer` is the rest.
    eof: bool,
    /// Set when the plugin's side goes away, so that the thread stops too.
    closed: Arc<AtomicBool>,
}

impl PipeReader {
    fn start(source: impl Read + AsRawFd + Send + 'static) -> std::io::Result<PipeReader> {
        let (tx, rx) = mpsc::sync_channel(QUEUED_CHUNKS);
        let closed = Arc::new(AtomicBool::new(false));
        let stop = closed.clone();
        std::thread::Builder::new().name("devshell-pipe".into()).spawn(move || pump(source, &tx, &stop))?;
        Ok(PipeReader { chunks: rx, buffer: VecDeque::new(), pending: Vec::new(), eof: false, closed })
    }

    /// Move what arrives within `timeout` into the buffer, never past [`LINE_BUFFER_BYTES`]:
    /// the rest stays queued, and once the queue is full the thread stops reading the pipe.
    fn fill(&mut self, timeout: Duration) {
        let mut wait = timeout;
        while self.buffer.len() < LINE_BUFFER_BYTES {
            if self.pending.is_empty() {
                if self.eof {
                    return;
                }
                match self.chunks.recv_timeout(wait) {
                    Ok(chunk) => self.pending = chunk,
                    Err(RecvTimeoutError::Timeout) => return,
                    Err(RecvTimeoutError::Disconnected) => {
                        self.eof = true;
                        return;
                    }
                }
                // After the first chunk, take only what is already queued.
                wait = Duration::ZERO;
            }
            let room = LINE_BUFFER_BYTES - self.buffer.len();
            if self.pending.len() <= room {
                // `take` gives the chunk's allocation back instead of keeping an empty 64 KiB.
                self.buffer.extend(std::mem::take(&mut self.pending));
            } else {
                self.buffer.extend(self.pending.drain(..room));
            }
        }
    }

    /// True once everything the child wrote was read; the buffer's memory is given back then.
    fn drained(&mut self) -> bool {
        let drained = self.eof && self.pending.is_empty() && self.buffer.is_empty();
        if drained {
            self.buffer = VecDeque::new();
        }
        drained
    }

    fn read(&mut self, max: usize, timeout: Duration) -> Option<Vec<u8>> {
        if self.buffer.is_empty() {
            self.fill(timeout);
        }
        if self.drained() {
            return None;
        }
        let n = max.min(self.buffer.len());
        Some(self.buffer.drain(..n).collect())
    }

    fn read_line(&mut self, timeout: Duration) -> Result<Option<String>, ProcessError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=pos).collect();
                return Ok(Some(String::from_utf8_lossy(&line[..pos]).into_owned()));
            }
            if self.buffer.len() > MAX_LINE_BYTES {
                // Longer than any line kept whole: hand it over in pieces, cut between characters.
                let piece: Vec<u8> = self.buffer.drain(..char_boundary(&self.buffer, MAX_LINE_BYTES)).collect();
                return Ok(Some(String::from_utf8_lossy(&piece).into_owned()));
            }
            if self.eof && self.pending.is_empty() {
                if self.drained() {
                    return Ok(None);
                }
                let rest: Vec<u8> = self.buffer.drain(..).collect();
                return Ok(Some(String::from_utf8_lossy(&rest).into_owned()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ProcessError::Timeout(format!("no full line within {} ms", timeout.as_millis())));
            }
            self.fill(deadline - now);
        }
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

/// The pipe thread: copy the pipe into the queue until end of file or until the reader is gone.
/// A full queue blocks `send`, and so the child. Data is awaited in short polls, so that the
/// thread also ends when a descendant outside the process group keeps the pipe open.
fn pump(mut source: impl Read + AsRawFd, queue: &SyncSender<Vec<u8>>, closed: &AtomicBool) {
    let mut chunk = vec![0u8; CHUNK_BYTES];
    while !closed.load(Ordering::Relaxed) {
        let mut poll = libc::pollfd { fd: source.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        match unsafe { libc::poll(&mut poll, 1, PUMP_POLL_MS) } {
            0 => continue,
            n if n < 0 => {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            _ => {}
        }
        match source.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => {
                if queue.send(chunk[..n].to_vec()).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// The largest cut at or before `end` that does not split a UTF-8 sequence: step back over
/// continuation bytes, at most three (the longest sequence has four bytes). `buffer` holds more
/// than `end` bytes.
fn char_boundary(buffer: &VecDeque<u8>, end: usize) -> usize {
    let mut cut = end;
    while cut > end - 3 && buffer[cut] & 0xc0 == 0x80 {
        cut -= 1;
    }
    cut
}

/// The children of one plugin instance that still hold host resources, counted against a cap.
///
/// A child holds a slot from its spawn until the plugin drops it, or until it is spent: the
/// plugin saw it exit (`wait`) and read every piped output stream to its end. "Exited" alone is
/// not enough: an exited child's unread output (up to [`PIPE_HOLD_BYTES`] per stream) and the
/// pipe threads blocked on it are what the cap is there to bound.
///
/// A spawn beyond the cap fails with [`ProcessError::Io`], not `Denied`: like `fork` failing
/// with EAGAIN at RLIMIT_NPROC, it is a resource limit that no grant could lift, and a `Denied`
/// would send the user looking for a grant to change.
#[derive(Clone)]
pub struct ChildLimit {
    live: Arc<AtomicUsize>,
    max: usize,
}

impl ChildLimit {
    pub fn new(max: usize) -> ChildLimit {
        ChildLimit { live: Arc::new(AtomicUsize::new(0)), max }
    }

    /// Children holding a slot now.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Spawn `request` for the plugin `owner` (named in the error) if it has a slot free.
    pub fn spawn(&self, owner: &str, request: SpawnRequest) -> Result<ChildProcess, ProcessError> {
        let held = self.live.fetch_add(1, Ordering::SeqCst);
        let slot = ChildSlot(self.live.clone()); // given back on every early return below
        if held >= self.max {
            return Err(ProcessError::Io(format!(
                "plugin `{owner}` already has {} running children (the limit); wait for one and read its \
                 output to the end, or drop one, before starting another",
                self.max
            )));
        }
        let mut child = ChildProcess::spawn(request)?;
        child.slot = Some(slot);
        Ok(child)
    }
}

/// One taken slot of a [`ChildLimit`], given back when dropped.
struct ChildSlot(Arc<AtomicUsize>);

impl Drop for ChildSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running (or finished) host process in its own process group.
pub struct ChildProcess {
    label: String,
    pid: u32,
    stdin: Option<ChildStdin>,
    stdout: Option<PipeReader>,
    stderr: Option<PipeReader>,
    exit_rx: Receiver<std::io::Result<std::process::ExitStatus>>,
    exit: Option<Exit>,
    finished: Arc<AtomicBool>,
    deadline: Option<Instant>,
    owns_terminal: bool,
    /// Whether a Ctrl-C devshell received was passed on to it already.
    interrupt_forwarded: bool,
    /// Its place in its plugin's [`ChildLimit`]; `None` outside one, or once it is spent.
    slot: Option<ChildSlot>,
}

impl ChildProcess {
    /// Start a checked request. Outside the plugin runtime's [`ChildLimit`], which a plugin's
    /// spawns always go through, nothing caps how many of these exist.
    pub fn spawn(request: SpawnRequest) -> Result<ChildProcess, ProcessError> {
        for (key, _) in &request.env {
            if key.starts_with("LD_") || key.starts_with("DYLD_") || key.contains('=') || key.is_empty() {
                return Err(ProcessError::Denied(format!("environment variable `{key}` may not be set for a child")));
            }
        }
        let label = request.program.display().to_string();
        let mut command = std::process::Command::new(&request.program);
        command.arg0(&request.argv0);
        command.args(&request.args).current_dir(&request.cwd).env_clear();
        for key in ENV_ALLOWLIST {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        for (key, value) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("LC_") {
                command.env(key, value);
            }
        }
        command.envs(request.env.iter().chain(&request.host_env).map(|(k, v)| (k, v)));
        let owns_terminal = matches!(request.stdin, StdioMode::Inherit) && unsafe { libc::isatty(0) } == 1;
        command.stdin(request.stdin).stdout(request.stdout).stderr(request.stderr);
        // Its own process group, so a kill reaches everything it starts. (Via posix_spawn when
        // possible: forking a process of wasmtime's size costs about a millisecond.)
        command.process_group(0);
        // A tool that reads the terminal must own it (else SIGTTIN stops it), and then Ctrl-C
        // reaches it directly instead of devshell.
        // Before the confinement, whose filter refuses taking the terminal over.
        if owns_terminal {
            unsafe {
                command.pre_exec(|| {
                    // A background group calling tcsetpgrp gets SIGTTOU unless it is ignored.
                    let previous = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
                    libc::tcsetpgrp(0, libc::getpid());
                    libc::signal(libc::SIGTTOU, previous);
                    Ok(())
                });
            }
        }
        if let Some(confinement) = request.confinement {
            // SAFETY: `apply` makes a few syscalls and allocates nothing (see `confine`).
            unsafe { command.pre_exec(move || confinement.apply()) };
        }
        let mut child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ProcessError::NotFound(format!("{label}: {e}")),
            _ => ProcessError::Io(format!("cannot start {label}: {e}")),
        })?;
        let pid = child.id();
        let stdin = child.stdin.take();
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let (exit_tx, exit_rx) = mpsc::sync_channel(1);
        let finished = Arc::new(AtomicBool::new(false));
        let finished_flag = finished.clone();
        let watched = (move || -> std::io::Result<_> {
            let stdout = stdout.map(PipeReader::start).transpose()?;
            let stderr = stderr.map(PipeReader::start).transpose()?;
            std::thread::Builder::new().name("devshell-wait".into()).spawn(move || {
                // Once the tool ends, whatever it left running in its group goes too (a `&` job,
                // a daemon that did not setsid): killed while the tool is a zombie, so its group
                // id cannot have been given to anyone else yet.
                // SAFETY: waitid with WNOWAIT only observes; kill of our own child's group.
                unsafe {
                    let mut info: libc::siginfo_t = std::mem::zeroed();
                    if libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) == 0 {
                        libc::kill(-(pid as i32), libc::SIGKILL);
                    }
                }
                let status = child.wait();
                finished_flag.store(true, Ordering::SeqCst);
                let _ = exit_tx.send(status);
            })?;
            Ok((stdout, stderr))
        })();
        let (stdout, stderr) = watched.map_err(|e| {
            // No thread to watch it (the host is out of threads): end it now, and reap it by pid
            // because its std handle went away with the failed closure.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGKILL);
                libc::waitpid(pid as i32, std::ptr::null_mut(), 0);
            }
            if owns_terminal {
                take_back_terminal();
            }
            ProcessError::Io(format!("cannot watch {label}: {e}"))
        })?;
        tracing::debug!(pid, program = %label, "spawned");
        Ok(ChildProcess {
            label,
            pid,
            stdin,
            stdout,
            stderr,
            exit_rx,
            exit: None,
            finished,
            deadline: request.timeout.map(|t| Instant::now() + t),
            owns_terminal,
            interrupt_forwarded: false,
            slot: None,
        })
    }

    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Write all of `data`, waiting in slices while the pipe is full, so a child that never
    /// reads ends the write at the command's deadline or on Ctrl-C instead of holding it.
    pub fn write_stdin(&mut self, data: &[u8]) -> Result<(), ProcessError> {
        let mut stdin = self.stdin.take().ok_or_else(|| ProcessError::Io("stdin is not a pipe (or closed)".into()))?;
        let written = self.write_all_interruptibly(&mut stdin, data);
        self.stdin = Some(stdin);
        written
    }

    fn write_all_interruptibly(&mut self, stdin: &mut ChildStdin, data: &[u8]) -> Result<(), ProcessError> {
        let fd = stdin.as_raw_fd();
        // SAFETY: fcntl on a descriptor this child's pipe owns.
        unsafe { libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK) };
        let mut rest = data;
        while !rest.is_empty() {
            match stdin.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if cancelled() {
                        self.kill();
                        let label = &self.label;
                        return Err(ProcessError::Cancelled(format!("cancelled (Ctrl-C) while writing to {label}")));
                    }
                    self.enforce_deadline()?;
                    let mut poll = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
                    // SAFETY: one pollfd on the stack.
                    unsafe { libc::poll(&mut poll, 1, 100) };
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ProcessError::Io(format!("write to {} stdin: {e}", self.label))),
            }
        }
        Ok(())
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The read timeout, cut short at the command's own deadline.
    fn bounded(&self, timeout_ms: u64) -> Duration {
        let asked = Duration::from_millis(timeout_ms);
        self.deadline.map_or(asked, |d| asked.min(d.saturating_duration_since(Instant::now())))
    }

    /// Past the command's deadline: kill the group and report the timeout.
    fn enforce_deadline(&mut self) -> Result<(), ProcessError> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) && self.exit.is_none() {
            self.kill();
            return Err(ProcessError::Timeout(format!("{} ran past its time limit and was killed", self.label)));
        }
        Ok(())
    }

    fn pipe(&mut self, stdout: bool) -> Result<&mut PipeReader, ProcessError> {
        let (pipe, name) = if stdout { (&mut self.stdout, "stdout") } else { (&mut self.stderr, "stderr") };
        pipe.as_mut().ok_or_else(|| ProcessError::Io(format!("{name} is not a pipe")))
    }

    fn read_pipe(&mut self, stdout: bool, max: u32, timeout_ms: u64) -> Result<Option<Vec<u8>>, ProcessError> {
        let timeout = self.bounded(timeout_ms);
        let data = self.pipe(stdout)?.read(max as usize, timeout);
        match &data {
            Some(d) if d.is_empty() => self.enforce_deadline()?,
            None => self.release_if_spent(),
            Some(_) => {}
        }
        Ok(data)
    }

    pub fn read_stdout(&mut self, max: u32, timeout_ms: u64) -> Result<Option<Vec<u8>>, ProcessError> {
        self.read_pipe(true, max, timeout_ms)
    }

    pub fn read_stderr(&mut self, max: u32, timeout_ms: u64) -> Result<Option<Vec<u8>>, ProcessError> {
        self.read_pipe(false, max, timeout_ms)
    }

    pub fn read_stdout_line(&mut self, timeout_ms: u64) -> Result<Option<String>, ProcessError> {
        let timeout = self.bounded(timeout_ms);
        match self.pipe(true)?.read_line(timeout) {
            Err(ProcessError::Timeout(message)) => {
                self.enforce_deadline()?;
                Err(ProcessError::Timeout(message))
            }
            Ok(None) => {
                self.release_if_spent();
                Ok(None)
            }
            other => other,
        }
    }

    /// Give back the child's slot once it holds nothing more in the host: it was reaped and
    /// every piped output stream was read to its end, so its threads have ended. Its stdin pipe
    /// is closed then too: nothing reads it any more.
    fn release_if_spent(&mut self) {
        if self.slot.is_none() || self.exit.is_none() {
            return;
        }
        let drained = |pipe: &mut Option<PipeReader>| pipe.as_mut().is_none_or(PipeReader::drained);
        if drained(&mut self.stdout) && drained(&mut self.stderr) {
            self.stdin = None;
            self.slot = None;
        }
    }

    /// Wait up to `timeout` (forever when `None`) for the child, enforcing the command's own
    /// deadline and forwarding Ctrl-C when the child does not own the terminal.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<Exit>, ProcessError> {
        if let Some(exit) = self.exit {
            return Ok(Some(exit));
        }
        let call_deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let now = Instant::now();
            if self.deadline.is_some_and(|d| now >= d) {
                self.kill();
                let _ = self.exit_rx.recv_timeout(Duration::from_secs(5));
                return Err(ProcessError::Timeout(format!("{} ran past its time limit and was killed", self.label)));
            }
            if call_deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            // Ctrl-C reached devshell, not the tool (it does not own the terminal): pass it on,
            // once, and leave the flag for the shell, which stops the script after this command.
            if INTERRUPTED.load(Ordering::SeqCst) && !self.interrupt_forwarded {
                self.interrupt_forwarded = true;
                unsafe { libc::kill(-(self.pid as i32), libc::SIGINT) };
            }
            let slice = [self.deadline, call_deadline]
                .into_iter()
                .flatten()
                .map(|d| d.saturating_duration_since(now))
                .fold(Duration::from_millis(50), Duration::min);
            match self.exit_rx.recv_timeout(slice) {
                Ok(status) => {
                    let status = status.map_err(|e| ProcessError::Io(format!("wait for {}: {e}", self.label)))?;
                    self.reclaim_terminal();
                    let exit = Exit { code: status.code(), signal: status.signal() };
                    self.exit = Some(exit);
                    self.release_if_spent();
                    return Ok(Some(exit));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ProcessError::Io(format!("lost track of {}", self.label)));
                }
            }
        }
    }

    /// SIGKILL the whole process group (the tool and everything it started).
    pub fn kill(&mut self) {
        if !self.finished.load(Ordering::SeqCst) {
            unsafe { libc::kill(-(self.pid as i32), libc::SIGKILL) };
        }
        self.reclaim_terminal();
    }

    fn reclaim_terminal(&mut self) {
        if std::mem::take(&mut self.owns_terminal) {
            take_back_terminal();
        }
    }
}

/// Make devshell's process group the terminal's foreground group again.
fn take_back_terminal() {
    unsafe {
        // SIGTTOU is ignored for the duration: we are a background group at this point.
        let previous = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        libc::tcsetpgrp(0, libc::getpgrp());
        libc::signal(libc::SIGTTOU, previous);
    }
}

impl Drop for ChildProcess {
    /// Kill a still-running group; the slot, pipes and their threads go with the fields.
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.kill();
        }
    }
}
