//! The session lifecycle, backend-agnostic: pick the backend, start it lazily on the first routed
//! tool (or eagerly), sync around each tool run in Mode S, shut down with a final pull.
//!
//! Owns the plugin runtime's lifetime (created on first use, so a run with no tool pays nothing)
//! and each built-in backend's grant. A plugin fault ends the session, never the shell: the
//! workspace is untouched and the next tool starts a new session.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};

use crate::config::Settings;
use crate::plugin::cache::CompileCache;
use crate::plugin::grants::Grant;
use crate::plugin::manifest::Manifest;
use crate::plugin::{
    builtin, BackendInfo, Limits, PluginInstance, PluginSource, Runtime, SessionConfig, SessionHandle, ToolRequest,
    WorkspaceMode,
};
use crate::shell::{ToolBackend, ToolCall, ToolResult};
use crate::sync::{self, SyncManifest};
use crate::vfs::Vfs;
use crate::watch::Watcher;

struct Active {
    instance: PluginInstance,
    session: SessionHandle,
    info: BackendInfo,
}

pub struct Sessions {
    settings: Settings,
    staging: PathBuf,
    runtime: Option<Runtime>,
    active: Option<Active>,
    last_failure: Option<String>,
    /// The sync manifest; persisted with the workspace by the caller.
    pub manifest: SyncManifest,
    /// A tool ran and the pull after it did not succeed: the watcher's view is not enough, and
    /// the final reconciliation walks everything.
    needs_pull: bool,
    /// Armed by the first full pull; from then on pulls look only at what it saw change.
    watcher: Option<Watcher>,
}

impl Sessions {
    pub fn new(settings: Settings, staging: PathBuf, manifest: SyncManifest) -> Sessions {
        Sessions {
            settings,
            staging,
            runtime: None,
            active: None,
            last_failure: None,
            manifest,
            needs_pull: false,
            watcher: None,
        }
    }

    pub fn staging_dir(&self) -> &PathBuf {
        &self.staging
    }

    fn syncs(&self) -> bool {
        self.settings.mode == WorkspaceMode::Sync
    }

    fn source(&self) -> Result<PluginSource> {
        if let Some(source) = builtin::find(&self.settings.backend) {
            return Ok(source);
        }
        let plugin = self
            .settings
            .plugins
            .get(&self.settings.backend)
            .ok_or_else(|| anyhow!("unknown backend {}", self.settings.backend))?;
        Ok(PluginSource::File(plugin.path.clone()))
    }

    /// The grant for the chosen backend: built-ins come with theirs; third-party plugins get
    /// exactly what the config file grants (nothing when it grants nothing).
    fn grant(&self, manifest: &Manifest) -> Result<Grant> {
        let asked = &manifest.capabilities;
        let mut grant = Grant::default();
        let staging = self.staging.canonicalize().with_context(|| format!("staging dir {}", self.staging.display()))?;
        let (programs, dirs, network): (Vec<String>, Vec<String>, bool) = match self.settings.backend.as_str() {
            "host-sandbox" => (self.settings.routed.clone(), vec!["staging".into()], false),
            "mock" => (vec![], vec!["staging".into()], false),
            name => {
                let granted = self.settings.plugins.get(name).and_then(|p| p.grant.clone()).unwrap_or_default();
                eprintln!(
                    "devshell: plugin `{name}` ({} {}) asks for programs [{}], dirs [{}], network {}; granted programs [{}], dirs [{}], network {}",
                    manifest.name,
                    manifest.version,
                    asked.programs.join(", "),
                    asked.dirs.join(", "),
                    asked.network,
                    granted.programs.join(", "),
                    granted.dirs.join(", "),
                    granted.network
                );
                (granted.programs, granted.dirs, granted.network)
            }
        };
        for entry in programs {
            // `"podman"` grants any arguments; `"podman run **"` only those matching the patterns.
            let mut words = entry.split_whitespace();
            let program = words.next().unwrap_or_default();
            let patterns: Vec<String> = words.map(String::from).collect();
            let args = (!patterns.is_empty()).then_some(patterns);
            // A toolchain program that is not installed is simply not granted.
            if let Err(e) = grant.allow_program(program, args) {
                tracing::debug!("not granting {program}: {e}");
            }
        }
        for dir in dirs {
            let host = if dir == "staging" { staging.clone() } else { PathBuf::from(&dir) };
            grant
                .allow_dir(&host, host.to_str().unwrap_or_default())
                .map_err(|e| anyhow!("granted directory {dir}: {e}"))?;
        }
        grant.network = network;
        Ok(grant)
    }

    fn ensure_started(&mut self, vfs: &mut Vfs) -> Result<()> {
        if self.active.is_some() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.staging)
            .with_context(|| format!("cannot create staging dir {}", self.staging.display()))?;
        if self.runtime.is_none() {
            let runtime = Runtime::new(CompileCache::new(self.settings.cache_dir.clone()))?;
            self.runtime = Some(runtime.with_rustup_shortcut(self.settings.rustup_shortcut));
        }
        let runtime = self.runtime.as_ref().expect("just created");
        let loaded = runtime.load(&self.source()?)?;
        let limits = Limits { call_timeout: self.settings.call_timeout, memory_bytes: self.settings.memory_bytes };
        let grant = self.grant(&loaded.description.manifest)?;
        let mut instance = runtime.instantiate(&loaded, grant, limits)?;
        let config = SessionConfig {
            mode: self.settings.mode,
            guest_mount: self.settings.guest_mount.clone(),
            staging_dir: if self.syncs() {
                self.staging.canonicalize()?.to_string_lossy().into_owned()
            } else {
                String::new()
            },
            options: vec![],
        };
        let session = instance.new_session(&config)?;
        instance.ensure_ready(session)?;
        let info = instance.info(session)?;
        if self.syncs() {
            let report =
                sync::push(vfs, &self.staging, &mut self.manifest).context("initial push to the staging dir")?;
            tracing::debug!(?report, "initial push");
            report_conflicts(&report);
        }
        self.active = Some(Active { instance, session, info });
        self.last_failure = None;
        Ok(())
    }

    /// Record a failure and drop the session, so the next tool starts a new one.
    fn fail(&mut self, error: anyhow::Error) -> anyhow::Error {
        if self.active.as_ref().is_some_and(|a| a.instance.poisoned().is_some()) {
            self.active = None;
        }
        self.last_failure = Some(format!("{error:#}"));
        error
    }
}

impl Sessions {
    /// Pull what changed in the staging dir since the last pull, as the watcher saw it (`since`
    /// adds what it saw before the tool ran). Without a usable watcher, or with `since` `None`
    /// (the last pull failed), walk everything, and with `arm` watch the tree for later runs.
    fn pull_changes(
        &mut self,
        vfs: &mut Vfs,
        since: Option<BTreeSet<String>>,
        arm: bool,
    ) -> Result<sync::Report, sync::SyncError> {
        let latest = self.watcher.as_mut().and_then(Watcher::changed);
        if let (Some(mut changed), Some(latest)) = (since, latest) {
            changed.extend(latest);
            tracing::debug!(paths = changed.len(), "pull: what the watcher saw");
            let (report, new_dirs) =
                sync::pull_changed(vfs, &self.staging, &mut self.manifest, &self.settings.lazy, &changed)?;
            let watcher = self.watcher.as_mut().expect("checked above");
            if new_dirs.iter().any(|dir| watcher.watch(dir).is_err()) {
                self.watcher = None;
            }
            return Ok(report);
        }
        let walking = std::time::Instant::now();
        let report = sync::pull(vfs, &self.staging, &mut self.manifest, &self.settings.lazy)?;
        tracing::debug!(elapsed = ?walking.elapsed(), "pull: walked the staging dir");
        if !arm {
            return Ok(report);
        }
        // Watch every directory the walk found, for the next runs.
        let watcher = match self.watcher.take() {
            Some(mut watcher) => {
                sync::synced_dirs(&self.manifest).try_for_each(|dir| watcher.watch(dir)).map(|_| watcher)
            }
            None => Watcher::new(&self.staging, sync::synced_dirs(&self.manifest)),
        };
        self.watcher =
            watcher.inspect_err(|e| tracing::debug!("not watching the staging dir ({e}); pulls will walk it")).ok();
        Ok(report)
    }
}

fn report_conflicts(report: &sync::Report) {
    for (path, kept) in &report.conflicts {
        eprintln!("devshell: conflict: {path} changed in the workspace and in the backend; kept the workspace version, the backend's is in {kept}");
    }
}

impl ToolBackend for Sessions {
    fn run_tool(&mut self, vfs: &mut Vfs, call: ToolCall) -> Result<ToolResult> {
        if let Err(e) = self.ensure_started(vfs) {
            return Err(self.fail(e));
        }
        // Changes made in the staging dir between tool runs: kept for the pull, unlike the
        // events of our own push, which are discarded.
        let between_runs = match &mut self.watcher {
            Some(watcher) => watcher.changed(),
            None => None,
        };
        if self.syncs() {
            let report = sync::push(vfs, &self.staging, &mut self.manifest)
                .map_err(|e| anyhow!("sync to the backend failed: {e}"))?;
            report_conflicts(&report);
            if let Some(watcher) = &mut self.watcher {
                watcher.discard();
            }
        }
        let request = ToolRequest {
            program: call.program,
            args: call.args,
            cwd: call.cwd,
            env: call.env,
            capture: call.capture,
            timeout_ms: self.settings.exec_timeout.map(|t| t.as_millis() as u64),
        };
        let active = self.active.as_mut().expect("started");
        self.needs_pull = true;
        let outcome = active.instance.run_tool(active.session, &request);
        // Pull even after a failed run: whatever the tool changed must not be lost.
        if self.syncs() {
            match self.pull_changes(vfs, between_runs, true) {
                Ok(report) => {
                    report_conflicts(&report);
                    self.needs_pull = false;
                }
                Err(e) => {
                    self.watcher = None;
                    eprintln!("devshell: sync from the backend failed, the workspace is unchanged: {e}");
                }
            }
        }
        match outcome {
            Ok(output) => Ok(ToolResult {
                status: output.status.code.unwrap_or_else(|| 128 + output.status.signal.unwrap_or(0)),
                stdout: output.stdout,
                stderr: output.stderr,
            }),
            Err(e) => Err(self.fail(e.into())),
        }
    }

    fn describe(&mut self) -> Vec<String> {
        let mut lines = vec![format!("backend:  {}", self.settings.backend)];
        match &mut self.active {
            Some(active) => {
                let info = &active.info;
                lines.push(format!("version:  {}", info.version));
                lines.push(format!(
                    "mode:     {}",
                    if info.mode == WorkspaceMode::Sync { "sync (Mode S)" } else { "guest (Mode P)" }
                ));
                lines.push("state:    ready".into());
            }
            None => {
                lines.push(format!("mode:     {}", if self.syncs() { "sync (Mode S)" } else { "guest (Mode P)" }));
                let state = match &self.last_failure {
                    Some(reason) => format!("failed ({reason})"),
                    None => "not started (starts on the first routed tool)".into(),
                };
                lines.push(format!("state:    {state}"));
            }
        }
        if self.syncs() {
            lines.push(format!("staging:  {}", self.staging.display()));
        }
        lines.push(format!("routed:   {}", self.settings.routed.join(" ")));
        lines.push(format!(
            "rustup:   {}",
            if self.settings.rustup_shortcut {
                "shortcut on: a plain toolchain choice runs the toolchain's binary directly \
                 (DEVSHELL_RUSTUP_SHORTCUT=0 always uses the proxy)"
            } else {
                "shortcut off: every call goes through the rustup proxy"
            }
        ));
        lines
    }

    fn start(&mut self, vfs: &mut Vfs) -> Result<()> {
        self.ensure_started(vfs).map_err(|e| self.fail(e))
    }

    fn restart(&mut self) {
        self.active = None;
        self.last_failure = None;
    }

    fn shutdown(&mut self, vfs: &mut Vfs) -> Result<()> {
        let Some(mut active) = self.active.take() else { return Ok(()) };
        // The final reconciliation: what changed in the staging dir since the last pull (a build
        // daemon or background job writing late), as the watcher saw it; a full walk when the
        // last pull failed or nothing watches.
        let pulled = if self.syncs() {
            let since_last_pull = (!self.needs_pull).then(BTreeSet::new);
            self.pull_changes(vfs, since_last_pull, false)
                .map(|r| report_conflicts(&r))
                .map_err(|e| anyhow!("final sync failed: {e}"))
        } else {
            Ok(())
        };
        let stopped = active.instance.shutdown(active.session).map_err(anyhow::Error::from);
        // Released now, not at exit: its `Drop` keeps the release off the exit path.
        drop(self.watcher.take());
        pulled.and(stopped)
    }

    fn prompt_name(&self) -> String {
        self.settings.backend.clone()
    }

    fn is_routed(&self, program: &str) -> bool {
        self.settings.routed.iter().any(|r| r == program)
    }

    fn routed(&self) -> Vec<String> {
        self.settings.routed.clone()
    }

    fn manifest(&self) -> &SyncManifest {
        &self.manifest
    }
}
