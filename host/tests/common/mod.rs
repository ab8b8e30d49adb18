//! Running the real `devshell` binary in an isolated environment (own state, cache, config, HOME).

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("tempdir") }
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
            .env_remove("DEVSHELL_VM_BACKEND")
            .env_remove("DEVSHELL_VM");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(self.path()).args(args).stdin(Stdio::null()).output().expect("run devshell")
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
