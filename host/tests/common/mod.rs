//! Running the real `devshell` binary in an isolated environment (own state, cache, config, HOME).

#![allow(dead_code)] // each test binary uses a different subset

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("home")).expect("create the sandbox HOME");
        Sandbox { dir }
    }

    /// The `HOME` devshell and everything it starts see: an empty directory of the sandbox.
    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    /// `devshell` with this sandbox's state, cache and config, run in `cwd`.
    pub fn command(&self, cwd: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_devshell"));
        command
            .current_dir(cwd)
            .env("DEVSHELL_STATE", self.state())
            .env("DEVSHELL_CACHE_DIR", self.path().join("cache"))
            .env("DEVSHELL_CONFIG", self.path().join("config.toml"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("HOME", self.home())
            .env_remove("DEVSHELL_VM_BACKEND")
            .env_remove("DEVSHELL_VM");
        // The toolchain stays the one the tests run with, wherever HOME points.
        for (var, default) in [("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")] {
            if let Some(dir) = toolchain_home(var, default) {
                command.env(var, dir);
            }
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(self.path()).args(args).stdin(Stdio::null()).output().expect("run devshell")
    }
}

/// What `Sandbox::run_watched` saw.
pub struct Watched {
    pub output: Output,
    /// The child's peak resident set (`ru_maxrss` from `wait4`, KiB): this child's alone, not
    /// the maximum over every child the test process has waited for.
    pub peak_rss_kib: i64,
}

impl Sandbox {
    /// `run`, under a watchdog: a devshell still running after `limit` is killed (SIGKILL) and
    /// the test fails, naming the command and showing what it printed so far.
    pub fn run_watched(&self, args: &[&str], limit: Duration) -> Watched {
        self.watch(self.command(self.path()).args(args), limit)
    }

    /// `command` (one of [`Sandbox::command`]'s), under the watchdog of [`Sandbox::run_watched`].
    pub fn watch(&self, command: &mut Command, limit: Duration) -> Watched {
        let args: Vec<_> = command.get_args().map(|a| a.to_os_string()).collect();
        let mut child =
            command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn devshell");
        let stdout = collect(child.stdout.take().expect("piped"));
        let stderr = collect(child.stderr.take().expect("piped"));
        let pid = child.id() as libc::pid_t;
        let deadline = Instant::now() + limit;
        let (status, usage) = loop {
            let mut status = 0;
            // SAFETY: an all-zero `rusage` is a valid value; wait4 fills it in.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: waits for our own child; both out-pointers are valid for the call.
            let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            assert!(reaped >= 0, "wait4 on devshell: {}", std::io::Error::last_os_error());
            if reaped == pid {
                break (status, usage);
            }
            if Instant::now() > deadline {
                child.kill().expect("kill devshell");
                // SAFETY: as above; reaps the killed child.
                unsafe { libc::wait4(pid, &mut status, 0, std::ptr::null_mut()) };
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "devshell {args:?} did not finish within {limit:?} and was killed (hung on something in the \
                     staging dir?)\n--- stdout so far:\n{}\n--- stderr so far:\n{}",
                    text(&stdout.lock().unwrap()),
                    text(&stderr.lock().unwrap())
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The pipes close when devshell and anything it left running have exited; a stray
        // grandchild holding them must not hang the test.
        let settled = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&stdout) + Arc::strong_count(&stderr) > 2 && Instant::now() < settled {
            std::thread::sleep(Duration::from_millis(5));
        }
        use std::os::unix::process::ExitStatusExt;
        let output = Output {
            status: std::process::ExitStatus::from_raw(status),
            stdout: stdout.lock().unwrap().clone(),
            stderr: stderr.lock().unwrap().clone(),
        };
        Watched { output, peak_rss_kib: usage.ru_maxrss }
    }
}

/// Read a pipe to its end on a thread; the buffer fills as bytes arrive (the thread holds the
/// second reference until end of file).
fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let filling = Arc::clone(&buffer);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 64 * 1024];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            filling.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buffer
}

/// `RUSTUP_HOME`/`CARGO_HOME` as the test process resolves them (the variable, else under the
/// real HOME), so a sandboxed HOME does not lose the toolchain.
fn toolchain_home(var: &str, default: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(var) {
        return Some(PathBuf::from(dir));
    }
    let dir = PathBuf::from(std::env::var_os("HOME")?).join(default);
    dir.is_dir().then_some(dir)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
