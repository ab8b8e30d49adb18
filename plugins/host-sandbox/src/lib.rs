//! The default backend: runs tools on the host, in the session's staging directory.
//!
//! Mode S only: the host syncs the workspace into the staging dir (granted to this plugin as a
//! WASI preopen) before each tool run and pulls changes after it. The plugin itself only maps the
//! user's cwd into the staging dir and spawns the tool through `host-process`, which the host
//! checks against the grant (the toolchain programs found on PATH).

// A component for wasm32-wasip2 only; on the host target (`cargo build --workspace`) the
// crate is empty instead of failing to link its imports.
#![cfg(target_family = "wasm")]

use devshell::backend::host_process::{self, Command, ProcessError, Stdio};
use devshell::backend::types::{BackendInfo, ExitStatus, SessionConfig, SessionError, ToolRequest, WorkspaceMode};

wit_bindgen::generate!({ path: "../../wit/0.2.0", world: "backend" });

devshell_plugin_kit::manifest!(
    r#"{"name":"host-sandbox","version":"0.1.0","description":"Runs the tools routed to it (cargo, rustup, rustc and routed_tools) on the host, confined, in a persistent staging dir synced with the workspace","capabilities":{"programs":["*"],"dirs":["staging"],"network":true}}"#
);

struct HostSandbox;

struct Session {
    config: SessionConfig,
}

impl exports::devshell::backend::session::Guest for HostSandbox {
    type Session = Session;
}

impl exports::devshell::backend::session::GuestSession for Session {
    fn new(config: SessionConfig) -> Self {
        Session { config }
    }

    fn ensure_ready(&self) -> Result<(), SessionError> {
        if self.config.mode != WorkspaceMode::Sync {
            return Err(SessionError::Unavailable(
                "host-sandbox supports only the sync workspace mode (DEVSHELL_VM_WORKSPACE_MODE=sync)".into(),
            ));
        }
        // The staging dir is the host's to create and check, and it does both before a session
        // starts (a spawn there fails naming it if it vanishes later). Checking it again through
        // WASI would start wasmtime-wasi's I/O runtime, threads and all, for every devshell run.
        Ok(())
    }

    fn run_tool(&self, request: ToolRequest) -> Result<ExitStatus, SessionError> {
        let cwd = if request.cwd.is_empty() {
            self.config.staging_dir.clone()
        } else {
            format!("{}/{}", self.config.staging_dir, request.cwd)
        };
        // `inherit`: the host connects the tool to the run's own streams (the terminal, a
        // redirect, a pipe, piped stdin) and moves the bytes itself, so nothing passes through
        // this plugin's memory, whatever the size.
        // A workspace program (`./target/debug/app`) is its file in the staging dir; the
        // host lets exactly that file run because the user named it.
        let program = if request.program.contains('/') && !request.program.starts_with('/') {
            format!("{cwd}/{}", request.program)
        } else {
            request.program.clone()
        };
        let command = Command {
            program,
            args: request.args.clone(),
            cwd: Some(cwd),
            env: request.env.clone(),
            stdin: Stdio::Inherit,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            timeout_ms: request.timeout_ms,
        };
        let child = host_process::spawn(&command).map_err(|e| session_error(&request.program, e))?;
        let status = child.wait(None).map_err(|e| session_error(&request.program, e))?;
        Ok(status.unwrap_or(ExitStatus { code: None, signal: None }))
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "host-sandbox".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            mode: self.config.mode,
            guest_mount: self.config.staging_dir.clone(),
            syncs: true,
        }
    }

    fn shutdown(&self) -> Result<(), SessionError> {
        Ok(())
    }
}

fn session_error(program: &str, error: ProcessError) -> SessionError {
    match error {
        ProcessError::Denied(m) => SessionError::Denied(m),
        ProcessError::NotFound(m) => SessionError::Unavailable(format!("{program}: {m}")),
        ProcessError::Timeout(m) => SessionError::Timeout(m),
        ProcessError::Cancelled(m) => SessionError::Cancelled(m),
        ProcessError::Io(m) => SessionError::Backend(format!("{program}: {m}")),
    }
}

export!(HostSandbox);
