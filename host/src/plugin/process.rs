//! Host processes started on a plugin's behalf: spawn (after the grant check), pipes, wait with
//! timeouts, and killing the whole process group.
//!
//! Every blocking operation here carries its own host-side timeout, because an epoch deadline
//! cannot interrupt a host call: a tool that hangs is killed here, not in the plugin.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StdioMode {
    Inherit,
    Pipe,
    Null,
}

impl From<StdioMode> for Stdio {
    fn from(mode: StdioMode) -> Stdio {
        match mode {
            StdioMode::Inherit => Stdio::inherit(),
            StdioMode::Pipe => Stdio::piped(),
            StdioMode::Null => Stdio::null(),
        }
    }
}

/// A checked request: the program is already resolved and granted, the cwd mapped to the host.
pub struct SpawnRequest {
    pub program: std::path::PathBuf,
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
    Io(String),
}

/// How a child ended, in contract terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// A pipe drained by a thread into a channel, so reads can time out.
struct PipeReader {
    chunks: Receiver<Vec<u8>>,
    buffer: Vec<u8>,
    eof: bool,
}

impl PipeReader {
    fn start(mut source: impl Read + Send + 'static) -> PipeReader {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut chunk = vec![0u8; 64 * 1024];
            while let Ok(n) = source.read(&mut chunk) {
                if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        PipeReader { chunks: rx, buffer: Vec::new(), eof: false }
    }

    /// Pull whatever arrives within `timeout` into the buffer.
    fn fill(&mut self, timeout: Duration) {
        if self.eof {
            return;
        }
        match self.chunks.recv_timeout(timeout) {
            Ok(chunk) => {
                self.buffer.extend_from_slice(&chunk);
                while let Ok(more) = self.chunks.try_recv() {
                    self.buffer.extend_from_slice(&more);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.eof = true,
        }
    }

    fn read(&mut self, max: usize, timeout: Duration) -> Option<Vec<u8>> {
        if self.buffer.is_empty() {
            self.fill(timeout);
        }
        if self.buffer.is_empty() && self.eof {
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
            if self.eof {
                if self.buffer.is_empty() {
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
}

impl ChildProcess {
    pub fn spawn(request: SpawnRequest) -> Result<ChildProcess, ProcessError> {
        for (key, _) in &request.env {
            if key.starts_with("LD_") || key.starts_with("DYLD_") || key.contains('=') || key.is_empty() {
                return Err(ProcessError::Denied(format!("environment variable `{key}` may not be set for a child")));
            }
        }
        let label = request.program.display().to_string();
        let mut command = std::process::Command::new(&request.program);
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
        command.stdin(request.stdin).stdout(request.stdout).stderr(request.stderr);
        // Its own process group, so a kill reaches everything it starts. (Via posix_spawn when
        // possible: forking a process of wasmtime's size costs about a millisecond.)
        command.process_group(0);
        // A tool that reads the terminal must own it (else SIGTTIN stops it), and then Ctrl-C
        // reaches it directly instead of devshell.
        let owns_terminal = request.stdin == StdioMode::Inherit && unsafe { libc::isatty(0) } == 1;
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
        let mut child = command.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ProcessError::NotFound(format!("{label}: {e}")),
            _ => ProcessError::Io(format!("cannot start {label}: {e}")),
        })?;
        let pid = child.id();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(PipeReader::start);
        let stderr = child.stderr.take().map(PipeReader::start);
        let (exit_tx, exit_rx) = mpsc::channel();
        let finished = Arc::new(AtomicBool::new(false));
        let finished_flag = finished.clone();
        std::thread::spawn(move || {
            let status = child.wait();
            finished_flag.store(true, Ordering::SeqCst);
            let _ = exit_tx.send(status);
        });
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
        })
    }

    pub fn id(&self) -> u32 {
        self.pid
    }

    pub fn write_stdin(&mut self, data: &[u8]) -> Result<(), ProcessError> {
        let stdin = self.stdin.as_mut().ok_or_else(|| ProcessError::Io("stdin is not a pipe (or closed)".into()))?;
        stdin.write_all(data).map_err(|e| ProcessError::Io(format!("write to {} stdin: {e}", self.label)))
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
        if data.as_ref().is_some_and(|d| d.is_empty()) {
            self.enforce_deadline()?;
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
            other => other,
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
            if INTERRUPTED.swap(false, Ordering::SeqCst) {
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
            unsafe {
                // SIGTTOU is ignored for the duration: we are a background group at this point.
                let previous = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
                libc::tcsetpgrp(0, libc::getpgrp());
                libc::signal(libc::SIGTTOU, previous);
            }
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.kill();
        }
    }
}
