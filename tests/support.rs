//! Shared helpers for the integration tests.

use std::path::Path;

use devshell::plugin::cache::CompileCache;
use devshell::plugin::grants::Grant;
use devshell::plugin::{
    builtin, ExitStatus, Limits, PluginError, PluginInstance, PluginSource, Runtime, SessionConfig, SessionHandle,
    ToolRequest, WorkspaceMode,
};
use devshell::stdio::ToolStdio;

/// A runtime whose compile cache lives in `cache_dir`.
pub fn runtime(cache_dir: &Path) -> Runtime {
    Runtime::new(CompileCache::new(Some(cache_dir.to_path_buf()))).expect("runtime")
}

pub fn mock_source() -> PluginSource {
    builtin::find("mock").expect("mock is built in")
}

pub fn faulty_source() -> PluginSource {
    PluginSource::File(builtin::FAULTY_PATH.into())
}

/// A grant of one staging dir, seen by the plugin at its real host path.
pub fn staging_grant(staging: &Path) -> Grant {
    let mut grant = Grant::default();
    let real = staging.canonicalize().unwrap();
    grant.allow_dir(&real, real.to_str().unwrap(), true).unwrap();
    grant
}

pub fn sync_config(staging: &Path) -> SessionConfig {
    SessionConfig {
        mode: WorkspaceMode::Sync,
        guest_mount: "/workspace".into(),
        staging_dir: staging.canonicalize().unwrap().to_str().unwrap().into(),
        options: vec![],
    }
}

pub fn instantiate(runtime: &Runtime, source: &PluginSource, grant: Grant, limits: Limits) -> PluginInstance {
    let loaded = runtime.load(source).expect("load");
    runtime.instantiate(&loaded, grant, limits).expect("instantiate")
}

pub fn guest_config() -> SessionConfig {
    SessionConfig {
        mode: WorkspaceMode::Guest,
        guest_mount: "/workspace".into(),
        staging_dir: String::new(),
        options: vec![],
    }
}

/// Session settings for the mock backend in Mode S, caching compiled components in `cache`.
pub fn mock_settings(cache: &Path) -> devshell::config::Settings {
    devshell::config::Settings {
        backend: "mock".into(),
        mode: WorkspaceMode::Sync,
        guest_mount: "/workspace".into(),
        eager: false,
        exec_timeout: None,
        routed: vec!["cargo".into()],
        lazy: devshell::sync::Rules::default(),
        call_timeout: std::time::Duration::from_secs(30),
        memory_bytes: 256 << 20,
        rustup_shortcut: true,
        plugins: Default::default(),
        cache_dir: Some(cache.join("components")),
        cache_base: cache.to_path_buf(),
        max_file_bytes: devshell::sync::DEFAULT_MAX_IN_MEMORY,
        sandbox_network: false,
        require_confinement: false,
    }
}

/// How a tool run ended and what it wrote.
#[derive(Debug)]
pub struct ToolOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// `run-tool` with both outputs captured (what the plugin's children and the plugin wrote).
pub fn run_tool(
    plugin: &mut PluginInstance,
    session: SessionHandle,
    request: &ToolRequest,
) -> Result<ToolOutput, PluginError> {
    let (status, captured) = plugin.run_tool(session, request, ToolStdio::captured(), None)?;
    let stdout = captured.stdout.into_vec().expect("captured stdout");
    let stderr = captured.stderr.into_vec().expect("captured stderr");
    Ok(ToolOutput { status, stdout, stderr })
}
