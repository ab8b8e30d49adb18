//! A backend built to misbehave, for the runtime's fault tests. `run-tool` with program
//! `trap` traps, `spin` loops forever, `hog` allocates without bound, `sleep` blocks in a WASI
//! sleep for an hour, `hang-child` starts `sleep 3599.5` (if granted) and waits an hour to read
//! its output; anything else succeeds. Its guest-fs answers `backend` errors.

// A component for wasm32-wasip2 only; on the host target (`cargo build --workspace`) the
// crate is empty instead of failing to link its imports.
#![cfg(target_family = "wasm")]

use devshell::backend::types::{
    BackendInfo, DirEntry, EntryStat, ExitStatus, FsError, SessionConfig, SessionError, ToolOutput, ToolRequest,
};

wit_bindgen::generate!({ path: "../../../wit", world: "backend" });

devshell_plugin_kit::manifest!(
    r#"{"name":"faulty","version":"0.1.0","description":"Traps, spins and hogs memory on request (tests only)","capabilities":{"programs":["sleep"],"dirs":["staging"]}}"#
);

struct Faulty;
struct Session(SessionConfig);

impl exports::devshell::backend::session::Guest for Faulty {
    type Session = Session;
}

impl exports::devshell::backend::session::GuestSession for Session {
    fn new(config: SessionConfig) -> Self {
        Session(config)
    }
    fn ensure_ready(&self) -> Result<(), SessionError> {
        Ok(())
    }
    fn run_tool(&self, request: ToolRequest) -> Result<ToolOutput, SessionError> {
        match request.program.as_str() {
            "trap" => unreachable!("faulty: asked to trap"),
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(ToolOutput { status: ExitStatus { code: Some(0), signal: None }, stdout: vec![], stderr: vec![] })
            }
            "hang-child" => {
                use devshell::backend::host_process::{spawn, Command, Stdio};
                let command = Command {
                    program: "sleep".into(),
                    args: vec!["3599.5".into()],
                    cwd: None,
                    env: vec![],
                    stdin: Stdio::Null,
                    stdout: Stdio::Pipe,
                    stderr: Stdio::Null,
                    timeout_ms: None,
                };
                let child = spawn(&command).map_err(|e| SessionError::Backend(format!("{e:?}")))?;
                let _ = child.read_stdout(4096, 3_600_000);
                Ok(ToolOutput { status: ExitStatus { code: Some(0), signal: None }, stdout: vec![], stderr: vec![] })
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 16 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            _ => Ok(ToolOutput { status: ExitStatus { code: Some(0), signal: None }, stdout: vec![], stderr: vec![] }),
        }
    }
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "faulty".into(),
            version: "0.1.0".into(),
            mode: self.0.mode,
            guest_mount: self.0.guest_mount.clone(),
            syncs: false,
        }
    }
    fn shutdown(&self) -> Result<(), SessionError> {
        Ok(())
    }
}

fn refused<T>() -> Result<T, FsError> {
    Err(FsError::Backend("faulty has no filesystem".into()))
}

impl exports::devshell::backend::guest_fs::Guest for Faulty {
    fn list_dir(_: String) -> Result<Vec<DirEntry>, FsError> {
        refused()
    }
    fn stat(_: String) -> Result<EntryStat, FsError> {
        refused()
    }
    fn read_file(_: String) -> Result<Vec<u8>, FsError> {
        refused()
    }
    fn write_file(_: String, _: Vec<u8>) -> Result<(), FsError> {
        refused()
    }
    fn mkdir(_: String) -> Result<(), FsError> {
        refused()
    }
    fn remove(_: String) -> Result<(), FsError> {
        refused()
    }
}

export!(Faulty);
