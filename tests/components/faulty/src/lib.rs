//! A backend built to misbehave, for the runtime's fault tests. `run-tool` with program
//! `trap` traps, `spin` loops forever, `hog` allocates without bound, `sleep` blocks in a WASI
//! sleep for an hour, `hang-child` starts `sleep 3599.5` (if granted) and waits an hour to read
//! its output; anything else succeeds. It serves sync mode only (no guest-fs).

// A component for wasm32-wasip2 only; on the host target (`cargo build --workspace`) the
// crate is empty instead of failing to link its imports.
#![cfg(target_family = "wasm")]

use devshell::backend::types::{BackendInfo, ExitStatus, SessionConfig, SessionError, ToolRequest};

wit_bindgen::generate!({ path: "../../../wit/0.2.0", world: "backend" });

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
    fn run_tool(&self, request: ToolRequest) -> Result<ExitStatus, SessionError> {
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
                Ok(ExitStatus { code: Some(0), signal: None })
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
                Ok(ExitStatus { code: Some(0), signal: None })
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 16 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            _ => Ok(ExitStatus { code: Some(0), signal: None }),
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

export!(Faulty);
