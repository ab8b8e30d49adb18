//! The session lifecycle, backend-agnostic: pick the backend, start it lazily on the first routed
//! tool (or eagerly), sync around each tool run in Mode S, shut down with a final pull.
//!
//! Owns the plugin runtime's lifetime (created on first use, so a run with no tool pays nothing)
//! and each built-in backend's grant; orchestrates the [`Mirror`], which owns everything about
//! the staging dir. A plugin fault ends the session, never the shell: the workspace is
//! untouched and the next tool starts a new session.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::config::Settings;
use crate::plugin::cache::CompileCache;
use crate::plugin::grants::Grant;
use crate::plugin::manifest::{Capabilities, Manifest};
use crate::plugin::{
    builtin, BackendInfo, Limits, PluginInstance, PluginSource, Runtime, SessionConfig, SessionHandle, ToolRequest,
    WorkspaceMode,
};
use crate::shell::{ToolBackend, ToolCall, ToolResult};
use crate::sync::{self, Mirror, SyncManifest};
use crate::vfs::Vfs;

struct Active {
    instance: PluginInstance,
    session: SessionHandle,
    info: BackendInfo,
}

pub struct Sessions {
    settings: Settings,
    mirror: Mirror,
    runtime: Option<Runtime>,
    active: Option<Active>,
    last_failure: Option<String>,
}

impl Sessions {
    /// Sessions for the workspace saved at `state_path`, whose last sync is `manifest`; lazy
    /// files of `vfs` are read from its staging dir from now on.
    pub fn new(settings: Settings, state_path: &Path, manifest: SyncManifest, vfs: &mut Vfs) -> Sessions {
        let base = settings.cache_base.join("staging");
        let mirror = Mirror::new(base, state_path, manifest, settings.lazy.clone(), settings.max_file_bytes);
        vfs.set_lazy_source(mirror.lazy_source());
        Sessions { settings, mirror, runtime: None, active: None, last_failure: None }
    }

    /// What the running backend spawned and was denied since the last call (see
    /// [`crate::plugin::Record`]); empty when no session runs.
    pub fn take_record(&mut self) -> crate::plugin::Record {
        self.active.as_mut().map(|a| a.instance.take_record()).unwrap_or_default()
    }

    /// The staging dir (what a Mode S backend is granted).
    pub fn staging_dir(&self) -> PathBuf {
        self.mirror.path()
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
    /// what the config file grants (nothing when it grants nothing); either narrowed to what
    /// the plugin's manifest asks for.
    fn grant(&self, manifest: &Manifest) -> Result<Grant> {
        let asked = &manifest.capabilities;
        let mut grant = Grant::default();
        let staging = self.staging_dir();
        let staging = staging.canonicalize().with_context(|| format!("staging dir {}", staging.display()))?;
        let staging_only = || vec!["staging".to_string()];
        let granted = match self.settings.backend.as_str() {
            "host-sandbox" => Capabilities {
                programs: self.settings.routed.clone(),
                dirs: staging_only(),
                network: self.settings.sandbox_network,
                ..Capabilities::default()
            },
            // The routed tools, offline: what the mock runs when a run is not a script of ops.
            "mock" => Capabilities { programs: self.settings.routed.clone(), dirs: staging_only(), ..Capabilities::default() },
            name => self.settings.plugins.get(name).and_then(|p| p.grant.clone()).unwrap_or_default(),
        };
        // Never more than the plugin declared, whatever the config grants.
        let (effective, not_asked) = granted.within(asked);
        if !not_asked.is_empty() {
            eprintln!(
                "devshell: granted to `{}` but not asked for in its manifest, so not given: {}",
                self.settings.backend,
                not_asked.join(", ")
            );
        }
        if !matches!(self.settings.backend.as_str(), "host-sandbox" | "mock") {
            // One short line; the whole grant is under `backend` and `devshell plugin list`.
            eprintln!(
                "devshell: backend `{}` ({} {}): granted {}",
                self.settings.backend,
                manifest.name,
                manifest.version,
                effective.summary()
            );
        }
        let Capabilities { programs, dirs, read_dirs, network, env } = effective;
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
        let dirs = dirs.into_iter().map(|d| (d, true)).chain(read_dirs.into_iter().map(|d| (d, false)));
        for (dir, writable) in dirs {
            let host = if dir == "staging" { staging.clone() } else { PathBuf::from(&dir) };
            // Its error names the directory.
            grant.allow_dir(&host, host.to_str().unwrap_or_default(), writable)?;
        }
        // Never suggested in a denial: what the plugin could use to change its own grant or the
        // code devshell runs (its config, compiled components, binary, other plugins' files),
        // as named and as they really are.
        let config_dir = crate::config::config_path().and_then(|path| Some(path.parent()?.to_path_buf()));
        let binary_dir = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.to_path_buf()));
        let plugin_dirs = self.settings.plugins.values().filter_map(|p| Some(p.path.parent()?.to_path_buf()));
        let protected: Vec<PathBuf> =
            config_dir.into_iter().chain(self.settings.cache_dir.clone()).chain(binary_dir).chain(plugin_dirs).collect();
        let real = protected.iter().filter_map(|dir| dir.canonicalize().ok()).collect::<Vec<_>>();
        grant.protected.extend(protected.into_iter().chain(real));
        grant.network = network;
        grant.env = env;
        grant.entry = self.settings.plugins.contains_key(&self.settings.backend).then(|| self.settings.backend.clone());
        Ok(grant)
    }

    fn ensure_started(&mut self) -> Result<()> {
        if self.active.is_some() {
            return Ok(());
        }
        if self.syncs() {
            for notice in self.mirror.prepare()? {
                eprintln!("devshell: {notice}");
            }
        }
        if self.runtime.is_none() {
            let runtime = Runtime::new(CompileCache::new(self.settings.cache_dir.clone()))?;
            self.runtime = Some(
                runtime
                    .with_rustup_shortcut(self.settings.rustup_shortcut)
                    .with_confinement_required(self.settings.require_confinement),
            );
        }
        let runtime = self.runtime.as_ref().expect("just created");
        let loaded = runtime.load(&self.source()?)?;
        if self.settings.mode == WorkspaceMode::Guest && !loaded.description.guest_fs {
            bail!(
                "backend `{}` serves only the sync workspace mode (it exports no guest-fs); unset {} or set it to sync",
                self.settings.backend,
                crate::config::ENV_WORKSPACE_MODE
            );
        }
        let limits = Limits { call_timeout: self.settings.call_timeout, memory_bytes: self.settings.memory_bytes };
        let grant = self.grant(&loaded.description.manifest)?;
        let mut instance = runtime.instantiate(&loaded, grant, limits)?;
        let config = SessionConfig {
            mode: self.settings.mode,
            guest_mount: self.settings.guest_mount.clone(),
            staging_dir: if self.syncs() {
                self.staging_dir().canonicalize()?.to_string_lossy().into_owned()
            } else {
                String::new()
            },
            options: self
                .settings
                .plugins
                .get(&self.settings.backend)
                .map(|p| p.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        };
        let session = instance.new_session(&config)?;
        instance.ensure_ready(session)?;
        let info = instance.info(session)?;
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

/// Tell the user what a sync could not do as asked: conflicts, and entries it left out.
fn report(report: &sync::Report) {
    for (path, kept) in &report.conflicts {
        let (path, kept) = (crate::escape::for_terminal(path), crate::escape::for_terminal(kept));
        eprintln!("devshell: conflict: {path} changed in the workspace and in the backend; kept the workspace version, the backend's is in {kept}");
    }
    for (path, why) in &report.skipped {
        let path = crate::escape::for_terminal(path);
        if path.is_empty() {
            eprintln!("devshell: {}", crate::escape::for_terminal(why));
        } else {
            eprintln!("devshell: sync left out {path}: {}", crate::escape::for_terminal(why));
        }
    }
}

impl ToolBackend for Sessions {
    fn run_tool(&mut self, vfs: &mut Vfs, call: ToolCall) -> Result<ToolResult> {
        if let Err(e) = self.ensure_started() {
            return Err(self.fail(e));
        }
        if self.syncs() {
            let pushed = self.mirror.before_tool(vfs).map_err(|e| anyhow!("sync to the backend failed: {e:#}"))?;
            report(&pushed);
        }
        let request = ToolRequest {
            program: call.program,
            args: call.args,
            cwd: call.cwd,
            env: call.env,
            capture: call.stdio.captures(),
            timeout_ms: self.settings.exec_timeout.map(|t| t.as_millis() as u64),
        };
        // A workspace program (`./target/debug/app`): its file in the staging dir, which the
        // plugin may run because the user named it.
        let workspace_program = (self.syncs() && request.program.contains('/')).then(|| {
            let logical = crate::vfs::resolve(&format!("/{}", request.cwd), &request.program);
            self.staging_dir().join(logical.trim_start_matches('/'))
        });
        let active = self.active.as_mut().expect("started");
        let outcome = active.instance.run_tool(active.session, &request, call.stdio, workspace_program);
        // Pull even after a failed run: whatever the tool changed must not be lost.
        if self.syncs() {
            match self.mirror.after_tool(vfs) {
                Ok(pulled) => {
                    report(&pulled);
                    if pulled.staging_recreated {
                        self.active = None; // the next tool starts a session on the new dir
                    }
                }
                Err(e) => eprintln!("devshell: sync from the backend failed, the workspace is unchanged: {e}"),
            }
        }
        match outcome {
            Ok((status, captured)) => {
                Ok(ToolResult { status: status.code.unwrap_or_else(|| 128 + status.signal.unwrap_or(0)), captured })
            }
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
            lines.push(format!("staging:  {}", self.staging_dir().display()));
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

    fn start(&mut self, _: &mut Vfs) -> Result<()> {
        self.ensure_started().map_err(|e| self.fail(e))
    }

    fn restart(&mut self) {
        self.active = None;
        self.last_failure = None;
    }

    fn shutdown(&mut self, vfs: &mut Vfs) -> Result<()> {
        let Some(mut active) = self.active.take() else { return Ok(()) };
        let pulled = if self.syncs() {
            self.mirror.at_exit(vfs).map(|r| report(&r)).map_err(|e| anyhow!("final sync failed: {e}"))
        } else {
            Ok(())
        };
        let stopped = active.instance.shutdown(active.session).map_err(anyhow::Error::from);
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
        self.mirror.manifest()
    }

    fn replace_manifest(&mut self, manifest: SyncManifest, vfs: &mut Vfs) {
        self.mirror.replace_manifest(manifest);
        vfs.set_lazy_source(self.mirror.lazy_source());
    }
}
