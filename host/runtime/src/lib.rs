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
mod exports;
mod fs_guard;
pub mod grants;
pub mod log;
pub mod manifest;
mod plugin_stderr;
pub mod process;
pub mod rustup;
pub mod stdio;
mod v0_1;

pub use process::{cancelled, interrupt, INTERRUPTED};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use devshell_plugin_kit::normalize_absolute;
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, Resource, ResourceAny, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use self::cache::{CompileCache, LoadPath};
use self::exports::{CurrentIndices, Exports};
use self::grants::{CapabilityGranter, Grant, GrantError};
use self::log::LogGate;
use self::manifest::Manifest;
use self::process::{
    ChildLimit, ChildProcess, ProcessError as HostProcessError, SpawnRequest, StdioMode, ToolStreams, MAX_LIVE_CHILDREN,
};
use crate::stdio::{Captured, ToolStdio};

/// The current contract (`wit/0.2.0`), world `guest-backend`: every import a backend may use,
/// and both exports (`guest-fs` is looked up per component: a Mode S backend has none).
mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "guest-backend",
        with: { "devshell:backend/host-process.child": super::process::ChildProcess },
    });
}

pub use bindings::devshell::backend::types::{
    BackendInfo, DirEntry, EntryKind, EntryStat, ExitStatus, FsError, SessionConfig, SessionError, ToolRequest,
    WorkspaceMode,
};
use bindings::devshell::backend::{host_log, host_process, tool_io, types};

/// A plugin's `session` resource, as the host holds it.
pub type SessionHandle = ResourceAny;

/// The contract version this host implements (the `package` line of `wit/0.2.0/backend.wit`).
pub const CONTRACT_VERSION: &str = "0.2.0";
/// Older contract minors this host still loads, adapted at its boundary (`v0_1`).
pub const ADAPTED_VERSIONS: &[&str] = &["0.1"];
/// How long a call may go on after Ctrl-C (wall-clock), to stop what it started and return
/// `cancelled`, before the host stops it (and closes its session).
const CANCEL_GRACE: Duration = Duration::from_millis(500);
/// How many different denials one instance prints (and records for `plugin test`).
const MAX_DENIALS_SHOWN: usize = 100;
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
    /// Whether it exports `guest-fs`, so it can serve the guest workspace mode (Mode P).
    pub guest_fs: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("{0}")]
    Session(String),
    #[error("{0}")]
    Fs(String),
    #[error("the backend `{plugin}` {reason}; its session is closed (the workspace is unharmed) and the next tool starts a new one")]
    Fault { plugin: String, reason: String },
    #[error("the backend `{plugin}` is unusable after an earlier failure ({reason}); the next tool starts a new session")]
    Poisoned { plugin: String, reason: String },
}

/// Read a component's manifest and contract version; refuse incompatible versions.
pub fn describe(bytes: &[u8]) -> Result<PluginDescription> {
    let manifest = Manifest::from_component(bytes)?;
    let exports = manifest::contract_exports(bytes)?;
    Ok(PluginDescription { manifest, contract_version: exports.version, guest_fs: exports.guest_fs })
}

/// Which of the contracts this host loads a component built against `version` speaks, by
/// Cargo's semver rule (see `wit/0.2.0/backend.wit`): `None` when it loads none.
fn contract_of(version: &str) -> Option<Contract> {
    let major_minor = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    let same_series = |ours: &str| match (major_minor(version), major_minor(ours)) {
        (Some((0, minor)), Some((0, our_minor))) => minor == our_minor,
        (Some((major, minor)), Some((our_major, our_minor))) => major == our_major && minor <= our_minor,
        _ => false,
    };
    if same_series(CONTRACT_VERSION) {
        Some(Contract::Current)
    } else if ADAPTED_VERSIONS.iter().any(|v| same_series(v)) {
        Some(Contract::V0_1)
    } else {
        None
    }
}

/// True when a component built against `version` can be loaded by this host.
pub fn contract_compatible(version: &str) -> bool {
    contract_of(version).is_some()
}

/// The versions this host loads, for messages (`0.2.x, 0.1.x`).
pub fn loadable_versions() -> String {
    let current = CONTRACT_VERSION.rsplit_once('.').map_or(CONTRACT_VERSION, |(series, _)| series);
    std::iter::once(current).chain(ADAPTED_VERSIONS.iter().copied()).map(|v| format!("{v}.x")).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Contract {
    Current,
    V0_1,
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
    pre: Linked,
}

/// A component linked against the contract it speaks, ready to instantiate.
#[derive(Clone)]
enum Linked {
    Current(InstancePre<PluginState>, CurrentIndices),
    V0_1(v0_1::BackendPre<PluginState>),
}

impl Linked {
    fn instantiate(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Box<dyn Exports>> {
        Ok(match self {
            Linked::Current(pre, indices) => {
                let instance = pre.instantiate(&mut *store)?;
                Box::new(indices.load(store, &instance)?)
            }
            Linked::V0_1(pre) => Box::new(v0_1::Adapted(pre.instantiate(store)?)),
        })
    }
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
        fs_guard::add_to_linker(&mut linker)?;
        bindings::GuestBackend::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)?;
        v0_1::add_to_linker(&mut linker)?;
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
        let Some(contract) = contract_of(&description.contract_version) else {
            anyhow::bail!(
                "plugin `{}` ({}) was built against contract devshell:backend@{}, but this devshell loads {}; \
                 rebuild the plugin against this devshell's wit/{CONTRACT_VERSION} (or use a devshell that loads {})",
                description.manifest.name,
                source.describe(),
                description.contract_version,
                loadable_versions(),
                description.contract_version
            );
        };
        let (component, load_path) = self.cache.load(&self.engine, &bytes)?;
        let pre =
            self.link(&component, contract).with_context(|| format!("plugin `{}`", description.manifest.name))?;
        tracing::debug!(plugin = %description.manifest.name, ?load_path, "loaded");
        Ok(LoadedPlugin { description, load_path, pre })
    }

    fn link(&self, component: &Component, contract: Contract) -> Result<Linked> {
        let instance_pre = self
            .linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .context("it asks for imports devshell does not provide")?;
        let linked = match contract {
            Contract::Current => CurrentIndices::new(&instance_pre).map(|i| Linked::Current(instance_pre, i)),
            Contract::V0_1 => v0_1::BackendPre::new(instance_pre).map(Linked::V0_1),
        };
        linked.map_err(anyhow::Error::from).context("it does not export the contract's `session` interface")
    }

    /// A fresh instance with exactly `grant`: WASI preopens from its dirs, no environment, no
    /// network unless granted.
    pub fn instantiate(&self, plugin: &LoadedPlugin, mut grant: Grant, limits: Limits) -> Result<PluginInstance> {
        let name = plugin.description.manifest.name.clone();
        let mut wasi = WasiCtx::builder();
        // Calls into a plugin are synchronous: its file operations run on this thread instead of
        // a round trip through tokio's blocking pool (set before the preopens, which copy it).
        wasi.allow_blocking_current_thread(true);
        let stderr = plugin_stderr::PluginStderr::new(&name);
        wasi.inherit_stdout().stderr(stderr.clone());
        for dir in &grant.dirs {
            let perms = if dir.writable { wasmtime_wasi::FsPerms::ReadWrite } else { wasmtime_wasi::FsPerms::ReadOnly };
            wasi.preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot open granted directory {}", dir.host.display()))?;
        }
        // Everything else the plugin names reaches the host through an empty stand-in for `/`,
        // so it is refused as a denial instead of looking absent (see `fs_guard`).
        let root_stand_in = tempfile::Builder::new()
            .prefix("devshell-root-")
            .tempdir()
            .context("cannot create the plugin's empty root directory")?;
        if grant.dirs.iter().any(|d| normalize_absolute(&d.guest).as_deref() == Some(fs_guard::ROOT)) {
            anyhow::bail!("plugin `{name}`: a granted directory cannot be seen at `/`");
        }
        wasi.preopened_dir(root_stand_in.path(), fs_guard::ROOT, wasmtime_wasi::FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)
            .context("cannot open the plugin's empty root directory")?;
        if grant.network {
            wasi.inherit_network().allow_ip_name_lookup(true);
        }
        let tmp = tempfile::Builder::new()
            .prefix("devshell-tools-")
            .tempdir()
            .context("cannot create a temp dir for tools")?;
        let writable: Vec<PathBuf> = grant.dirs_where(true).map(Path::to_path_buf).collect();
        // Granted programs live outside the standard dirs sometimes (a rustup in a custom home):
        // the files themselves, not their directories, which may hold anything.
        let program_files = grant.programs.iter().map(|p| p.path.as_path());
        let readable: Vec<PathBuf> = grant.dirs_where(false).chain(program_files).map(Path::to_path_buf).collect();
        let confinement = confine::Confinement::new(&writable, tmp.path(), &readable, grant.network);
        grant.protected.extend([tmp.path().to_path_buf(), root_stand_in.path().to_path_buf()]);
        if let Some(shortfall) = &confinement.shortfall {
            if self.require_confinement {
                anyhow::bail!(
                    "{shortfall}; refusing to start `{name}` because require_confinement is set (unset it in the config file to run tools unconfined)"
                );
            }
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| eprintln!("devshell: warning: {shortfall} (set require_confinement = true to refuse)"));
        }
        let mut state = PluginState {
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
            workspace_program: None,
            streams: None,
            confinement,
            tmp,
            _root_stand_in: root_stand_in,
            preopens: fs_guard::Preopens::default(),
            denials_shown: Default::default(),
            denials_hidden: false,
            refused_files: Vec::new(),
            record: Record::default(),
            cancelled_at: None,
            stderr,
        };
        state.preopens = fs_guard::Preopens::learn(&mut state)?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if process::cancelled() {
                // Told through its host calls (which return at once from now on); it has a
                // moment to stop what it started.
                let since = *state.cancelled_at.get_or_insert_with(Instant::now);
                if since.elapsed() > CANCEL_GRACE {
                    return Err(wasmtime::Error::msg("interrupted (Ctrl-C) and did not stop in time"));
                }
            }
            if state.own_time() > state.call_timeout {
                return Err(wasmtime::Error::msg(format!(
                    "ran for more than {:?} without returning (time limit)",
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
    /// The workspace program the tool run names, at its host path: the plugin may run it.
    workspace_program: Option<PathBuf>,
    /// The streams of the tool run being served, for children spawned with `inherit`.
    streams: Option<ToolStreams>,
    /// Applied to every process the plugin spawns.
    confinement: confine::Confinement,
    /// The spawned tools' private temp dir (`TMPDIR`), removed with the instance.
    tmp: tempfile::TempDir,
    /// The empty directory the plugin sees as `/` (see `fs_guard`), removed with the instance.
    _root_stand_in: tempfile::TempDir,
    /// Its preopens, to name the paths of refused WASI file access in full.
    preopens: fs_guard::Preopens,
    /// Denials already printed (each is printed once).
    denials_shown: std::collections::HashSet<String>,
    /// Whether denials went unprinted past [`MAX_DENIALS_SHOWN`].
    denials_hidden: bool,
    /// WASI file access refused during the current call, reported when it returns.
    refused_files: Vec<(grants::FsAccess, grants::FsRefusal)>,
    /// What it spawned and was denied since the last [`PluginInstance::take_record`].
    record: Record,
    /// When the current call was first seen cancelled (its grace runs from there).
    cancelled_at: Option<Instant>,
    /// Its WASI stderr, which holds back a panic's report for the fault message.
    stderr: plugin_stderr::PluginStderr,
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
            // Checked first: a child that always has output ready must not keep a cancelled
            // call going.
            if process::cancelled() {
                state.child(child).kill();
                return Err(HostProcessError::Cancelled("cancelled (Ctrl-C); the tool was killed".into()));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if let Some(done) = attempt(state.child(child), left.map_or(SLICE, |l| l.min(SLICE)))? {
                return Ok(Some(done));
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

    /// Record a refusal and say it on the host side, whatever the plugin does with the error
    /// value; each message once, so a plugin retrying in a loop cannot flood the terminal.
    /// Past [`MAX_DENIALS_SHOWN`] different ones, one line says the rest are not shown (a
    /// plugin can make endless different paths).
    fn report_denial(&mut self, message: String) {
        if self.record.denied.len() < MAX_DENIALS_SHOWN && !self.record.denied.contains(&message) {
            self.record.denied.push(message.clone());
        }
        if self.denials_shown.contains(&message) {
            return;
        }
        if self.denials_shown.len() < MAX_DENIALS_SHOWN {
            eprintln!("devshell: denied: {}", crate::escape::for_terminal(&message));
            self.denials_shown.insert(message);
        } else {
            if !self.denials_hidden {
                eprintln!(
                    "devshell: plugin `{}` was denied more; further denials are not shown (DEVSHELL_LOG=debug logs them)",
                    self.granter.plugin()
                );
                self.denials_hidden = true;
            }
            tracing::debug!(plugin = self.granter.plugin(), "denied: {}", crate::escape::for_terminal(&message));
        }
    }

    /// Keep a refused WASI file access to report when the call returns (each once; one past
    /// [`MAX_DENIALS_SHOWN`] per call, so the report can say that more were denied).
    fn defer_fs_denial(&mut self, access: grants::FsAccess, refusal: grants::FsRefusal) {
        let entry = (access, refusal);
        if self.refused_files.len() <= MAX_DENIALS_SHOWN && !self.refused_files.contains(&entry) {
            self.refused_files.push(entry);
        }
    }

    fn report_fs_denials(&mut self) {
        for (access, refusal) in std::mem::take(&mut self.refused_files) {
            let message = self.granter.fs_denial(access, &refusal);
            self.report_denial(message);
        }
    }

    fn child(&mut self, handle: &Resource<ChildProcess>) -> &mut ChildProcess {
        // The handle comes from our own table; a stale one is a wasmtime invariant violation.
        self.table.get_mut(handle).expect("child handle belongs to this store")
    }

    fn checked_spawn(&mut self, cmd: host_process::Command) -> Result<ChildProcess, HostProcessError> {
        if process::cancelled() {
            return Err(HostProcessError::Cancelled("the tool run was cancelled (Ctrl-C)".into()));
        }
        let granter = self.granter.clone();
        let denied = |e: GrantError| match e {
            GrantError::Denied(m) => HostProcessError::Denied(m),
            GrantError::NotFound(m) => HostProcessError::NotFound(m),
        };
        let workspace_program = match &self.workspace_program {
            Some(allowed) => granter.check_workspace_program(&cmd.program, &cmd.env, &self.user_env, allowed),
            None => Ok(None),
        };
        let exec = match workspace_program.map_err(denied)? {
            Some(exec) => exec,
            None => granter.check_spawn(&cmd.program, &cmd.args, &cmd.env, &self.user_env).map_err(denied)?,
        };
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
        self.record.spawned.push(std::iter::once(exec.argv0.as_str()).chain(cmd.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" "));
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
            HostProcessError::Cancelled(m) => host_process::ProcessError::Cancelled(m),
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
                self.report_denial(message.clone());
            } else {
                tracing::debug!(%program, "spawn failed: {e}");
            }
        })?;
        self.table.push(child).map_err(|e| host_process::ProcessError::Io(e.to_string()))
    }

    fn granted(&mut self) -> types::GrantInfo {
        let grant = self.granter.grant();
        let dirs = |writable: bool| grant.dirs.iter().filter(|d| d.writable == writable).map(|d| d.guest.clone()).collect();
        types::GrantInfo {
            programs: grant
                .programs
                .iter()
                .map(|p| types::ProgramGrant {
                    name: p.name.clone(),
                    path: p.path.to_string_lossy().into_owned(),
                    args: p.args.clone(),
                })
                .collect(),
            dirs: dirs(true),
            read_dirs: dirs(false),
            env: grant.env.clone(),
            network: grant.network,
        }
    }
}

/// The tool run's own streams, for the bytes a backend moves itself.
impl tool_io::Host for PluginState {
    fn write(&mut self, stream: tool_io::Output, data: Vec<u8>) -> Result<(), tool_io::IoError> {
        if process::cancelled() {
            return Err(tool_io::IoError::Cancelled);
        }
        let stdout = stream == tool_io::Output::Stdout;
        self.timed(|state| match &mut state.streams {
            None => Err(tool_io::IoError::NoRun),
            Some(streams) => streams.write(stdout, &data).map_err(|e| tool_io::IoError::Io(e.to_string())),
        })
    }

    fn read_stdin(&mut self, max: u32, _timeout_ms: u64) -> Result<Option<Vec<u8>>, tool_io::IoError> {
        if process::cancelled() {
            return Err(tool_io::IoError::Cancelled);
        }
        // Piped stdin is held whole by the time the tool runs, so a read never waits.
        match &mut self.streams {
            None => Err(tool_io::IoError::NoRun),
            Some(streams) => streams.read_stdin(max as usize).map_err(|e| tool_io::IoError::Io(e.to_string())),
        }
    }

    fn cancelled(&mut self) -> bool {
        process::cancelled()
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

/// What a plugin asked of the host: each spawn that was allowed (`argv[0]` as granted, then
/// its arguments) and each denial's message, in order (`devshell plugin test` checks them).
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub spawned: Vec<String>,
    pub denied: Vec<String>,
}

/// One live plugin instance and the handle of its session resource.
pub struct PluginInstance {
    name: String,
    store: Store<PluginState>,
    bindings: Option<Box<dyn Exports>>,
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

    /// What it spawned and was denied since the last call of this.
    pub fn take_record(&mut self) -> Record {
        std::mem::take(&mut self.store.data_mut().record)
    }

    /// Run one call into the plugin under the limits; a trap or timeout poisons the instance.
    fn call<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(Option<&dyn Exports>, &mut Store<PluginState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        if let Some(reason) = &self.poisoned {
            return Err(PluginError::Poisoned { plugin: self.name.clone(), reason: reason.clone() });
        }
        let state = self.store.data_mut();
        state.call_started = Instant::now();
        state.host_time = Duration::ZERO;
        state.cancelled_at = None;
        process::begin_call();
        self.store.set_epoch_deadline(1);
        let result = f(self.bindings.as_deref(), &mut self.store);
        // Lines the rate limit dropped during the call are reported now, not at some later line.
        self.store.data_mut().log.report_dropped();
        self.store.data_mut().report_fs_denials();
        match result {
            Ok(value) => Ok(value),
            Err(error) => {
                let reason = match self.store.data().stderr.take_panic() {
                    Some(panic) => format!("panicked: {panic}, during {what}"),
                    None => describe_fault(what, &error),
                };
                // The caller reports it; logged for DEVSHELL_LOG=debug only, so it shows once.
                tracing::debug!(plugin = %self.name, "{reason}: {error:?}");
                self.poisoned = Some(reason.clone());
                Err(PluginError::Fault { plugin: self.name.clone(), reason })
            }
        }
    }

    pub fn new_session(&mut self, config: &SessionConfig) -> Result<ResourceAny, PluginError> {
        self.call("session constructor", |b, store| {
            b.expect("instantiated").new_session(store, config)
        })
    }

    pub fn ensure_ready(&mut self, session: ResourceAny) -> Result<(), PluginError> {
        self.call("ensure-ready", |b, store| {
            b.expect("instantiated").ensure_ready(store, session)
        })?
        .map_err(|e| PluginError::Session(session_error_message(&e)))
    }

    /// Run one tool with `stdio` as its streams: children the plugin spawns with `inherit` get
    /// them, and so do the bytes it writes through `tool-io`. Returns how the tool ended and
    /// what the captured streams received.
    /// `workspace_program`: the host path of the workspace file the request names as its
    /// program (`./target/debug/app`), which the plugin may then run.
    pub fn run_tool(
        &mut self,
        session: ResourceAny,
        request: &ToolRequest,
        stdio: ToolStdio,
        workspace_program: Option<PathBuf>,
    ) -> Result<(ExitStatus, Captured), PluginError> {
        self.store.data_mut().user_env.clone_from(&request.env);
        self.store.data_mut().workspace_program = workspace_program;
        let streams = ToolStreams::new(stdio)
            .map_err(|e| PluginError::Session(format!("cannot read the tool's stdin: {e}")))?;
        let state = self.store.data_mut();
        state.streams = Some(streams);
        let outcome = self.call("run-tool", |b, store| {
            b.expect("instantiated").run_tool(store, session, request)
        });
        let captured = self.store.data_mut().streams.take().map(ToolStreams::finish).unwrap_or_default();
        let status = outcome?.map_err(|e| PluginError::Session(session_error_message(&e)))?;
        if process::cancelled() {
            // The plugin stopped in time; the session stays, the run is what the user stopped.
            return Err(PluginError::Session("interrupted (Ctrl-C)".into()));
        }
        Ok((status, captured))
    }

    pub fn info(&mut self, session: ResourceAny) -> Result<BackendInfo, PluginError> {
        self.call("info", |b, store| {
            b.expect("instantiated").info(store, session)
        })
    }

    pub fn shutdown(&mut self, session: ResourceAny) -> Result<(), PluginError> {
        self.call("shutdown", |b, store| {
            b.expect("instantiated").shutdown(store, session)
        })?
        .map_err(|e| PluginError::Session(session_error_message(&e)))
    }

    pub fn list_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, PluginError> {
        self.call("list-dir", |b, store| {
            b.expect("instantiated").list_dir(store, path)
        })?
        .map_err(fs_error)
    }

    pub fn stat(&mut self, path: &str) -> Result<EntryStat, PluginError> {
        self.call("stat", |b, store| b.expect("instantiated").stat(store, path))?
            .map_err(fs_error)
    }

    pub fn read_file(&mut self, path: &str) -> Result<Vec<u8>, PluginError> {
        self.call("read-file", |b, store| {
            b.expect("instantiated").read_file(store, path)
        })?
        .map_err(fs_error)
    }

    pub fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), PluginError> {
        self.call("write-file", |b, store| {
            b.expect("instantiated").write_file(store, path, data)
        })?
        .map_err(fs_error)
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), PluginError> {
        self.call("mkdir", |b, store| b.expect("instantiated").mkdir(store, path))?
            .map_err(fs_error)
    }

    pub fn remove(&mut self, path: &str) -> Result<(), PluginError> {
        self.call("remove", |b, store| b.expect("instantiated").remove(store, path))?
            .map_err(fs_error)
    }
}

fn describe_fault(what: &str, error: &wasmtime::Error) -> String {
    let detail = if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        match trap {
            wasmtime::Trap::AllocationTooLarge => "tried to use more memory than its cap".to_string(),
            other => format!("trapped ({other})"),
        }
    } else {
        let root = error.root_cause().to_string();
        if root.contains("forcing trap when growing memory") || root.contains("memory") && root.contains("limit") {
            "tried to use more memory than its cap".to_string()
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
        SessionError::Cancelled(m) => format!("interrupted (Ctrl-C): {m}"),
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
