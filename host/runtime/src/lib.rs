//! The plugin runtime: loads backend components, checks their contract version, instantiates
//! them with exactly their grant, and runs every call under a time limit, a memory cap and
//! Ctrl-C; the processes they spawn run confined (`confine`).
//!
//! Owns wasmtime (engine, linker, stores) and the host side of the imports (`host-process`,
//! `host-log`). Does not know about the workspace, sync or the shell: `session` builds on it.
//! A trap, timeout or memory blow-up poisons the one [`PluginInstance`] it happened in; the
//! caller gets [`PluginError::Fault`] and everything else keeps running.

mod bounded_sleep;
pub mod builtin;
pub mod cache;
pub mod confine;
pub mod escape;
pub mod grants;
pub mod log;
pub mod manifest;
pub mod process;
pub mod rustup;
pub mod stdio;

pub use process::INTERRUPTED;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wasmtime::component::{Component, Linker, Resource, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use self::cache::{CompileCache, LoadPath};
use self::grants::{CapabilityGranter, Grant, GrantError};
use self::log::LogGate;
use self::manifest::Manifest;
use self::process::{
    ChildLimit, ChildProcess, ProcessError as HostProcessError, SpawnRequest, StdioMode, ToolStreams, MAX_LIVE_CHILDREN,
};
use crate::stdio::{Captured, ToolStdio};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "backend",
        with: { "devshell:backend/host-process.child": super::process::ChildProcess },
    });
}

pub use bindings::devshell::backend::types::{
    BackendInfo, DirEntry, EntryKind, EntryStat, ExitStatus, FsError, SessionConfig, SessionError, ToolOutput,
    ToolRequest, WorkspaceMode,
};
use bindings::devshell::backend::{host_log, host_process, types};
use bindings::{Backend, BackendPre};

/// A plugin's `session` resource, as the host holds it.
pub type SessionHandle = ResourceAny;

/// The contract version this host implements (the `package` line of `wit/backend.wit`).
pub const CONTRACT_VERSION: &str = "0.1.0";
/// How often the epoch ticks; time limits are checked at this granularity.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-instance limits. A call may run `call_timeout` of its own time, WASI sleeps included (they
/// wake at the limit); time spent waiting on the tools it runs does not count (those carry their
/// own timeouts), but Ctrl-C ends those waits and the call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub call_timeout: Duration,
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { call_timeout: Duration::from_secs(10), memory_bytes: 256 << 20 }
    }
}

/// Where a plugin's bytes come from.
#[derive(Debug, Clone)]
pub enum PluginSource {
    Builtin { name: &'static str, bytes: &'static [u8] },
    File(PathBuf),
}

impl PluginSource {
    pub fn describe(&self) -> String {
        match self {
            PluginSource::Builtin { .. } => "built-in".into(),
            PluginSource::File(path) => path.display().to_string(),
        }
    }

    pub fn read(&self) -> Result<std::borrow::Cow<'static, [u8]>> {
        Ok(match self {
            PluginSource::Builtin { bytes, .. } => std::borrow::Cow::Borrowed(*bytes),
            PluginSource::File(path) => std::borrow::Cow::Owned(
                std::fs::read(path).with_context(|| format!("cannot read plugin {}", path.display()))?,
            ),
        })
    }
}

/// What `plugin inspect` shows, read without compiling anything.
#[derive(Debug, Clone)]
pub struct PluginDescription {
    pub manifest: Manifest,
    pub contract_version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{0}")]
    Session(String),
    #[error("{0}")]
    Fs(String),
    #[error("plugin `{plugin}` failed: {reason}. Its session is closed; the workspace is unharmed. Run `backend restart` to start a new session.")]
    Fault { plugin: String, reason: String },
    #[error("plugin `{plugin}` is unusable after an earlier failure ({reason}). Run `backend restart` to start a new session.")]
    Poisoned { plugin: String, reason: String },
}

/// Read a component's manifest and contract version; refuse incompatible versions.
pub fn describe(bytes: &[u8]) -> Result<PluginDescription> {
    let manifest = Manifest::from_component(bytes)?;
    let contract_version = manifest::contract_version(bytes)?;
    Ok(PluginDescription { manifest, contract_version })
}

/// True when a component built against `version` can be loaded by this host.
pub fn contract_compatible(version: &str) -> bool {
    let major_minor = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (major_minor(version), major_minor(CONTRACT_VERSION)) {
        (Some((0, minor)), Some((0, ours))) => minor == ours,
        (Some((major, _)), Some((ours, _))) => major == ours,
        _ => false,
    }
}

/// The engine, linker and compile cache, shared by every plugin of one devshell run.
pub struct Runtime {
    engine: Engine,
    linker: Linker<PluginState>,
    cache: CompileCache,
    rustup_shortcut: bool,
    /// Refuse to start a plugin when its tools cannot be confined (no Landlock).
    require_confinement: bool,
}

/// A compiled, version-checked plugin, ready to instantiate.
pub struct LoadedPlugin {
    pub description: PluginDescription,
    pub load_path: LoadPath,
    pre: BackendPre<PluginState>,
}

impl Runtime {
    pub fn new(cache: CompileCache) -> Result<Runtime> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let ticker = engine.weak();
        std::thread::Builder::new().name("devshell-epoch".into()).spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        bounded_sleep::add_to_linker(&mut linker)?;
        Backend::add_to_linker::<PluginState, wasmtime::component::HasSelf<PluginState>>(&mut linker, |s| s)?;
        Ok(Runtime { engine, linker, cache, rustup_shortcut: true, require_confinement: false })
    }

    /// Whether granted rustup proxies run their toolchain binary directly (see [`rustup`]).
    pub fn with_rustup_shortcut(mut self, enabled: bool) -> Runtime {
        self.rustup_shortcut = enabled;
        self
    }

    /// Whether a kernel without (full) Landlock refuses plugins instead of a warning.
    pub fn with_confinement_required(mut self, required: bool) -> Runtime {
        self.require_confinement = required;
        self
    }

    pub fn cache(&self) -> &CompileCache {
        &self.cache
    }

    /// Check the contract version, then compile (or take from the cache) and link.
    pub fn load(&self, source: &PluginSource) -> Result<LoadedPlugin> {
        let bytes = source.read()?;
        let description = describe(&bytes).with_context(|| format!("plugin {}", source.describe()))?;
        if !contract_compatible(&description.contract_version) {
            anyhow::bail!(
                "plugin `{}` ({}) was built against contract devshell:backend@{}, but this devshell accepts @{}; \
                 rebuild the plugin against this devshell's wit/ (or use a devshell that accepts {})",
                description.manifest.name,
                source.describe(),
                description.contract_version,
                CONTRACT_VERSION,
                description.contract_version
            );
        }
        let (component, load_path) = self.cache.load(&self.engine, &bytes)?;
        let pre = self.link(&component).with_context(|| format!("plugin `{}`", description.manifest.name))?;
        tracing::debug!(plugin = %description.manifest.name, ?load_path, "loaded");
        Ok(LoadedPlugin { description, load_path, pre })
    }

    fn link(&self, component: &Component) -> Result<BackendPre<PluginState>> {
        let instance_pre = self
            .linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("it asks for imports devshell does not provide")?;
        BackendPre::new(instance_pre).map_err(anyhow::Error::from).context("it does not export the `backend` world")
    }

    /// A fresh instance with exactly `grant`: WASI preopens from its dirs, no environment, no
    /// network unless granted.
    pub fn instantiate(&self, plugin: &LoadedPlugin, grant: Grant, limits: Limits) -> Result<PluginInstance> {
        let name = plugin.description.manifest.name.clone();
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout().inherit_stderr();
        for dir in &grant.dirs {
            let perms = if dir.writable { wasmtime_wasi::FsPerms::ReadWrite } else { wasmtime_wasi::FsPerms::ReadOnly };
            wasi.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot open granted directory {}", dir.host.display()))?;
        }
        if grant.network {
            wasi.inherit_network().allow_ip_name_lookup(true);
        }
        let tmp = tempfile::Builder::new()
            .prefix("devshell-tools-")
            .tempdir()
            .context("cannot create a temp dir for tools")?;
        let writable: Vec<PathBuf> = grant.dirs_where(true).chain([tmp.path()]).map(Path::to_path_buf).collect();
        // Granted programs live outside the standard dirs sometimes (a rustup in a custom home):
        // the files themselves, not their directories, which may hold anything.
        let program_files = grant.programs.iter().map(|p| p.path.as_path());
        let readable: Vec<PathBuf> = grant.dirs_where(false).chain(program_files).map(Path::to_path_buf).collect();
        let confinement = confine::Confinement::new(&writable, &readable, grant.network);
        if let Some(shortfall) = &confinement.shortfall {
            if self.require_confinement {
                anyhow::bail!(
                    "{shortfall}; refusing to start `{name}` because require_confinement is set (unset it in the config file to run tools unconfined)"
                );
            }
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| eprintln!("devshell: warning: {shortfall} (set require_confinement = true to refuse)"));
        }
        let state = PluginState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new().memory_size(limits.memory_bytes).trap_on_grow_failure(true).build(),
            granter: Arc::new(CapabilityGranter::new(name.clone(), grant)),
            children: ChildLimit::new(MAX_LIVE_CHILDREN),
            log: LogGate::new(&name),
            call_started: Instant::now(),
            host_time: Duration::ZERO,
            call_timeout: limits.call_timeout,
            rustup_shortcut: self.rustup_shortcut,
            user_env: Vec::new(),
            streams: None,
            confinement,
            tmp,
            denials_shown: Default::default(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            let state = ctx.data();
            if process::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(wasmtime::Error::msg("interrupted (Ctrl-C)"));
            }
            if state.own_time() > state.call_timeout {
                return Err(wasmtime::Error::msg(format!(
                    "it ran for more than {:?} without returning (time limit)",
                    state.call_timeout
                )));
            }
            Ok(UpdateDeadline::Continue(1))
        });
        let mut instance = PluginInstance { name, store, bindings: None, poisoned: None };
        let pre = plugin.pre.clone();
        let bindings = instance.call("instantiate", |_, store| pre.instantiate(store))?;
        instance.bindings = Some(bindings);
        Ok(instance)
    }
}

/// Per-instance host state: WASI, the grant, limits, and time accounting for the deadline.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    granter: Arc<CapabilityGranter>,
    /// The cap on this instance's live children.
    children: ChildLimit,
    /// Escaping and the rate limit for this instance's `host-log` lines.
    log: LogGate,
    call_started: Instant,
    host_time: Duration,
    call_timeout: Duration,
    rustup_shortcut: bool,
    /// What the user exported for the tool run being served: the plugin may pass these on.
    user_env: Vec<(String, String)>,
    /// The streams of the tool run being served, for children spawned with `inherit`.
    streams: Option<ToolStreams>,
    /// Applied to every process the plugin spawns.
    confinement: confine::Confinement,
    /// The spawned tools' private temp dir (`TMPDIR`), removed with the instance.
    tmp: tempfile::TempDir,
    /// Denials already printed (each is printed once).
    denials_shown: std::collections::HashSet<String>,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl PluginState {
    /// How long the current call has run on its own account (host calls on its behalf excluded).
    fn own_time(&self) -> Duration {
        self.call_started.elapsed().saturating_sub(self.host_time)
    }

    /// What is left of the current call's own time.
    fn remaining(&self) -> Duration {
        self.call_timeout.saturating_sub(self.own_time())
    }

    /// Wait on a child in slices, so Ctrl-C ends the wait however long the plugin asked for:
    /// the child's whole process group is killed and the plugin gets an error (its call then
    /// stops at the next deadline check). `attempt` returns `None` while nothing has happened.
    fn interruptible<R>(
        &mut self,
        child: &Resource<ChildProcess>,
        timeout: Option<Duration>,
        mut attempt: impl FnMut(&mut ChildProcess, Duration) -> Result<Option<R>, HostProcessError>,
    ) -> Result<Option<R>, HostProcessError> {
        const SLICE: Duration = Duration::from_millis(100);
        let deadline = timeout.map(|t| Instant::now() + t);
        self.timed(|state| loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if let Some(done) = attempt(state.child(child), left.map_or(SLICE, |l| l.min(SLICE)))? {
                return Ok(Some(done));
            }
            if process::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                state.child(child).kill();
                return Err(HostProcessError::Timeout("interrupted (Ctrl-C); the tool was killed".into()));
            }
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(None);
            }
        })
    }

    /// Run a blocking host operation; its duration does not count against the plugin's own time.
    fn timed<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let start = Instant::now();
        let result = f(self);
        self.host_time += start.elapsed();
        result
    }

    fn child(&mut self, handle: &Resource<ChildProcess>) -> &mut ChildProcess {
        // The handle comes from our own table; a stale one is a wasmtime invariant violation.
        self.table.get_mut(handle).expect("child handle belongs to this store")
    }

    fn checked_spawn(&mut self, cmd: host_process::Command) -> Result<ChildProcess, HostProcessError> {
        let granter = self.granter.clone();
        let denied = |e: GrantError| match e {
            GrantError::Denied(m) => HostProcessError::Denied(m),
            GrantError::NotFound(m) => HostProcessError::NotFound(m),
        };
        let exec = granter.check_spawn(&cmd.program, &cmd.args, &cmd.env, &self.user_env).map_err(denied)?;
        let cwd = match &cmd.cwd {
            Some(dir) => granter.host_dir(dir),
            None => granter.default_dir(),
        }
        .map_err(denied)?;
        let shortcut = self
            .rustup_shortcut
            .then(|| rustup::shortcut(&exec.path, &exec.argv0, &cmd.args, &cwd, &cmd.env))
            .flatten();
        let (program, mut host_env) = match shortcut {
            Some(shortcut) => (shortcut.program, shortcut.env),
            None => (exec.path, Vec::new()),
        };
        host_env.push(("TMPDIR".into(), self.tmp.path().to_string_lossy().into_owned()));
        if !self.granter.grant().network {
            // Offline by grant: cargo should use its cache instead of retrying the network.
            host_env.push(("CARGO_NET_OFFLINE".into(), "true".into()));
        }
        let confinement =
            self.confinement.for_child().map_err(|e| HostProcessError::Io(format!("cannot confine the tool: {e}")))?;
        let (stdin, stdout, stderr) = (cmd.stdin.into(), cmd.stdout.into(), cmd.stderr.into());
        let (stdin, stdout, stderr) = match &mut self.streams {
            Some(streams) => streams
                .wire(stdin, stdout, stderr)
                .map_err(|e| HostProcessError::Io(format!("cannot connect the tool's streams: {e}")))?,
            None => (stdin, stdout, stderr),
        };
        let request = SpawnRequest {
            program,
            argv0: exec.argv0,
            args: cmd.args,
            cwd,
            env: cmd.env,
            host_env,
            stdin,
            stdout,
            stderr,
            timeout: cmd.timeout_ms.map(Duration::from_millis),
            confinement: Some(confinement),
        };
        self.children.spawn(granter.plugin(), request)
    }
}

impl From<host_process::Stdio> for StdioMode {
    fn from(stdio: host_process::Stdio) -> StdioMode {
        match stdio {
            host_process::Stdio::Inherit => StdioMode::Inherit,
            host_process::Stdio::Pipe => StdioMode::Pipe,
            host_process::Stdio::Null => StdioMode::Null,
        }
    }
}

impl From<HostProcessError> for host_process::ProcessError {
    fn from(error: HostProcessError) -> Self {
        match error {
            HostProcessError::Denied(m) => host_process::ProcessError::Denied(m),
            HostProcessError::NotFound(m) => host_process::ProcessError::NotFound(m),
            HostProcessError::Timeout(m) => host_process::ProcessError::Timeout(m),
            HostProcessError::Io(m) => host_process::ProcessError::Io(m),
        }
    }
}

type ProcessResult<T> = Result<T, host_process::ProcessError>;

impl types::Host for PluginState {}

impl host_process::Host for PluginState {
    fn spawn(&mut self, cmd: host_process::Command) -> ProcessResult<Resource<ChildProcess>> {
        let program = cmd.program.clone();
        let child = self.checked_spawn(cmd).inspect_err(|e| {
            if let HostProcessError::Denied(message) = e {
                // Loud on the host side whatever the plugin does with the error value, and
                // once: a plugin retrying in a loop must not flood the terminal.
                if self.denials_shown.insert(message.clone()) {
                    eprintln!("devshell: denied: {}", crate::escape::for_terminal(message));
                }
            } else {
                tracing::debug!(%program, "spawn failed: {e}");
            }
        })?;
        self.table.push(child).map_err(|e| host_process::ProcessError::Io(e.to_string()))
    }
}

impl PluginState {
    /// A bounded read of one of a child's pipes, interruptible (an empty read means the timeout
    /// passed with nothing to read; `None` is the end of the stream).
    fn read_pipe(
        &mut self,
        child: &Resource<ChildProcess>,
        stdout: bool,
        max: u32,
        timeout_ms: u64,
    ) -> Result<Option<Vec<u8>>, HostProcessError> {
        let read = self.interruptible(child, Some(Duration::from_millis(timeout_ms)), |c, slice| {
            let slice = slice.as_millis() as u64;
            let data = if stdout { c.read_stdout(max, slice) } else { c.read_stderr(max, slice) }?;
            Ok(match data {
                Some(bytes) if bytes.is_empty() => None,
                other => Some(other),
            })
        })?;
        Ok(read.unwrap_or_else(|| Some(Vec::new())))
    }
}

impl host_process::HostChild for PluginState {
    fn id(&mut self, child: Resource<ChildProcess>) -> u32 {
        self.child(&child).id()
    }
    fn write_stdin(&mut self, child: Resource<ChildProcess>, data: Vec<u8>) -> ProcessResult<()> {
        self.timed(|s| s.child(&child).write_stdin(&data)).map_err(Into::into)
    }
    fn close_stdin(&mut self, child: Resource<ChildProcess>) {
        self.child(&child).close_stdin()
    }
    fn read_stdout(
        &mut self,
        child: Resource<ChildProcess>,
        max: u32,
        timeout_ms: u64,
    ) -> ProcessResult<Option<Vec<u8>>> {
        self.read_pipe(&child, true, max, timeout_ms).map_err(Into::into)
    }
    fn read_stderr(
        &mut self,
        child: Resource<ChildProcess>,
        max: u32,
        timeout_ms: u64,
    ) -> ProcessResult<Option<Vec<u8>>> {
        self.read_pipe(&child, false, max, timeout_ms).map_err(Into::into)
    }
    fn read_stdout_line(&mut self, child: Resource<ChildProcess>, timeout_ms: u64) -> ProcessResult<Option<String>> {
        let timeout = Duration::from_millis(timeout_ms);
        let line =
            self.interruptible(&child, Some(timeout), |c, slice| match c.read_stdout_line(slice.as_millis() as u64) {
                Ok(line) => Ok(Some(line)),
                Err(HostProcessError::Timeout(_)) => Ok(None),
                Err(e) => Err(e),
            })?;
        line.ok_or_else(|| host_process::ProcessError::Timeout(format!("no full line within {timeout_ms} ms")))
    }
    fn wait(&mut self, child: Resource<ChildProcess>, timeout_ms: Option<u64>) -> ProcessResult<Option<ExitStatus>> {
        let exit = self.interruptible(&child, timeout_ms.map(Duration::from_millis), |c, slice| c.wait(Some(slice)))?;
        Ok(exit.map(|e| ExitStatus { code: e.code, signal: e.signal }))
    }
    fn kill(&mut self, child: Resource<ChildProcess>) {
        self.child(&child).kill()
    }
    fn drop(&mut self, child: Resource<ChildProcess>) -> wasmtime::Result<()> {
        // ChildProcess::drop kills a still-running group and gives back its place in the cap.
        self.table.delete(child)?;
        Ok(())
    }
}

/// Plugin lines reach the terminal only through [`LogGate`]: escaped, cut and rate-limited.
impl host_log::Host for PluginState {
    fn log(&mut self, level: host_log::Level, message: String) {
        use host_log::Level;
        // A line the subscriber would discard costs nothing, so it takes no share of the rate.
        let wanted = match level {
            Level::Trace => tracing::enabled!(tracing::Level::TRACE),
            Level::Debug => tracing::enabled!(tracing::Level::DEBUG),
            Level::Info => tracing::enabled!(tracing::Level::INFO),
            Level::Warn => tracing::enabled!(tracing::Level::WARN),
            Level::Error => tracing::enabled!(tracing::Level::ERROR),
        };
        if !wanted {
            return;
        }
        let Some(line) = self.log.admit(&message) else { return };
        let plugin = self.log.plugin();
        match level {
            Level::Trace => tracing::trace!(plugin, "{line}"),
            Level::Debug => tracing::debug!(plugin, "{line}"),
            Level::Info => tracing::info!(plugin, "{line}"),
            Level::Warn => tracing::warn!(plugin, "{line}"),
            Level::Error => tracing::error!(plugin, "{line}"),
        }
    }
    fn progress(&mut self, message: String) {
        if let Some(line) = self.log.admit(&message) {
            eprintln!("[{}] {line}", self.log.plugin());
        }
    }
    fn hint(&mut self, message: String) {
        if let Some(line) = self.log.admit(&message) {
            eprintln!("[{}] hint: {line}", self.log.plugin());
        }
    }
}

/// One live plugin instance and the handle of its session resource.
pub struct PluginInstance {
    name: String,
    store: Store<PluginState>,
    bindings: Option<Backend>,
    poisoned: Option<String>,
}

impl PluginInstance {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }

    pub fn grant(&self) -> &Grant {
        self.store.data().granter.grant()
    }

    /// Run one call into the plugin under the limits; a trap or timeout poisons the instance.
    fn call<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(Option<&Backend>, &mut Store<PluginState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        if let Some(reason) = &self.poisoned {
            return Err(PluginError::Poisoned { plugin: self.name.clone(), reason: reason.clone() });
        }
        let state = self.store.data_mut();
        state.call_started = Instant::now();
        state.host_time = Duration::ZERO;
        self.store.set_epoch_deadline(1);
        let result = f(self.bindings.as_ref(), &mut self.store);
        // Lines the rate limit dropped during the call are reported now, not at some later line.
        self.store.data_mut().log.report_dropped();
        match result {
            Ok(value) => Ok(value),
            Err(error) => {
                let reason = describe_fault(what, &error);
                tracing::error!(plugin = %self.name, "{reason}");
                self.poisoned = Some(reason.clone());
                Err(PluginError::Fault { plugin: self.name.clone(), reason })
            }
        }
    }

    pub fn new_session(&mut self, config: &SessionConfig) -> Result<ResourceAny, PluginError> {
        self.call("session constructor", |b, store| {
            b.expect("instantiated").devshell_backend_session().session().call_constructor(store, config)
        })
    }

    pub fn ensure_ready(&mut self, session: ResourceAny) -> Result<(), PluginError> {
        self.call("ensure-ready", |b, store| {
            b.expect("instantiated").devshell_backend_session().session().call_ensure_ready(store, session)
        })?
        .map_err(|e| PluginError::Session(session_error_message(&e)))
    }

    /// Run one tool with `stdio` as its streams: children the plugin spawns with `inherit` get
    /// them. Returns the plugin's result and what the captured streams received (the plugin's
    /// own captured output, in its result, comes after it).
    pub fn run_tool(
        &mut self,
        session: ResourceAny,
        request: &ToolRequest,
        stdio: ToolStdio,
    ) -> Result<(ToolOutput, Captured), PluginError> {
        let state = self.store.data_mut();
        state.user_env.clone_from(&request.env);
        state.streams = Some(ToolStreams::new(stdio));
        let outcome = self.call("run-tool", |b, store| {
            b.expect("instantiated").devshell_backend_session().session().call_run_tool(store, session, request)
        });
        let captured = self.store.data_mut().streams.take().map(ToolStreams::finish).unwrap_or_default();
        let output = outcome?.map_err(|e| PluginError::Session(session_error_message(&e)))?;
        Ok((output, captured))
    }

    pub fn info(&mut self, session: ResourceAny) -> Result<BackendInfo, PluginError> {
        self.call("info", |b, store| {
            b.expect("instantiated").devshell_backend_session().session().call_info(store, session)
        })
    }

    pub fn shutdown(&mut self, session: ResourceAny) -> Result<(), PluginError> {
        self.call("shutdown", |b, store| {
            b.expect("instantiated").devshell_backend_session().session().call_shutdown(store, session)
        })?
        .map_err(|e| PluginError::Session(session_error_message(&e)))
    }

    pub fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, PluginError> {
        self.call("list-dir", |b, store| {
            b.expect("instantiated").devshell_backend_guest_fs().call_list_dir(store, path)
        })?
        .map_err(fs_error)
    }

    pub fn stat(&mut self, path: &str) -> Result<EntryStat, PluginError> {
        self.call("stat", |b, store| b.expect("instantiated").devshell_backend_guest_fs().call_stat(store, path))?
            .map_err(fs_error)
    }

    pub fn read_file(&mut self, path: &str) -> Result<Vec<u8>, PluginError> {
        self.call("read-file", |b, store| {
            b.expect("instantiated").devshell_backend_guest_fs().call_read_file(store, path)
        })?
        .map_err(fs_error)
    }

    pub fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), PluginError> {
        self.call("write-file", |b, store| {
            b.expect("instantiated").devshell_backend_guest_fs().call_write_file(store, path, data)
        })?
        .map_err(fs_error)
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), PluginError> {
        self.call("mkdir", |b, store| b.expect("instantiated").devshell_backend_guest_fs().call_mkdir(store, path))?
            .map_err(fs_error)
    }

    pub fn remove(&mut self, path: &str) -> Result<(), PluginError> {
        self.call("remove", |b, store| b.expect("instantiated").devshell_backend_guest_fs().call_remove(store, path))?
            .map_err(fs_error)
    }
}

fn describe_fault(what: &str, error: &wasmtime::Error) -> String {
    let detail = if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        match trap {
            wasmtime::Trap::AllocationTooLarge => "it tried to use more memory than its cap".to_string(),
            other => format!("it trapped ({other})"),
        }
    } else {
        let root = error.root_cause().to_string();
        if root.contains("forcing trap when growing memory") || root.contains("memory") && root.contains("limit") {
            "it tried to use more memory than its cap".to_string()
        } else {
            root
        }
    };
    format!("{detail} during {what}")
}

pub fn session_error_message(error: &SessionError) -> String {
    match error {
        SessionError::Unavailable(m) => format!("backend unavailable: {m}"),
        SessionError::Timeout(m) => format!("timed out: {m}"),
        SessionError::Denied(m) => format!("denied: {m}"),
        SessionError::Sync(m) => format!("sync failed: {m}"),
        SessionError::Backend(m) => m.clone(),
    }
}

fn fs_error(error: FsError) -> PluginError {
    PluginError::Fs(match error {
        FsError::InvalidPath(m) => format!("invalid path: {m}"),
        FsError::NotFound(m) => format!("{m}: no such file or directory"),
        FsError::NotADirectory(m) => format!("{m}: not a directory"),
        FsError::IsADirectory(m) => format!("{m}: is a directory"),
        FsError::Denied(m) => format!("denied: {m}"),
        FsError::Io(m) | FsError::Backend(m) => m,
    })
}
