//! Contract 0.1 at the boundary. A 0.1 component's imports are served by the 0.2 host functions
//! and its exports are wrapped in the 0.2 shapes, so nothing past this module knows 0.1 exists.
//! Only types are converted here: grants are checked where 0.2's calls are, once.
//!
//! What 0.1 lacks maps onto 0.2 as: `tool-output`'s own bytes are written to the run's streams
//! through the same path as `tool-io.write`; `process-error.cancelled` reaches a 0.1 plugin as
//! `timeout`; a 0.1 component always exports `guest-fs` (so it serves both modes).

use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime::Store;

use crate::bindings::devshell::backend::{host_log as log2, host_process as process2, tool_io, types as types2};
use crate::process::ChildProcess;
use crate::PluginState;

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/0.1.0",
        world: "backend",
        with: { "devshell:backend/host-process.child": crate::process::ChildProcess },
    });
}

use bindings::devshell::backend::{host_log, host_process, types};
use bindings::exports::devshell::backend::{guest_fs, session};
pub(crate) use bindings::{Backend, BackendPre};

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    Backend::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |s| s)
}

/// Field-by-field and case-by-case conversions between the two versions' identical shapes.
macro_rules! convert {
    (record $from:path => $to:ident { $($field:ident),* }) => {
        impl From<$from> for $to {
            fn from(v: $from) -> $to {
                $to { $($field: v.$field.into()),* }
            }
        }
    };
    (enum $from:ident => $to:ident { $($case:ident),* }) => {
        impl From<$from> for $to {
            fn from(v: $from) -> $to {
                match v { $($from::$case => $to::$case),* }
            }
        }
    };
    (variant $from:ident => $to:ident { $($case:ident),* }) => {
        impl From<$from> for $to {
            fn from(v: $from) -> $to {
                match v { $($from::$case(m) => $to::$case(m)),* }
            }
        }
    };
}

// Host → 0.1 plugin.
use types::{
    BackendInfo as BackendInfo1, DirEntry as DirEntry1, EntryKind as EntryKind1, EntryStat as EntryStat1,
    ExitStatus as ExitStatus1, FsError as FsError1, SessionConfig as SessionConfig1, SessionError as SessionError1,
    ToolRequest as ToolRequest1, WorkspaceMode as WorkspaceMode1,
};
use types2::{
    BackendInfo, DirEntry, EntryKind, EntryStat, ExitStatus, FsError, SessionConfig, SessionError, ToolRequest,
    WorkspaceMode,
};
use host_process::{Command as Command1, ProcessError as ProcessError1, Stdio as Stdio1};
use process2::{Command, ProcessError, Stdio};

convert!(enum WorkspaceMode => WorkspaceMode1 { Sync, Guest });
convert!(enum WorkspaceMode1 => WorkspaceMode { Sync, Guest });
convert!(record SessionConfig => SessionConfig1 { mode, guest_mount, staging_dir, options });
convert!(record ToolRequest => ToolRequest1 { program, args, cwd, env, capture, timeout_ms });
convert!(record ExitStatus => ExitStatus1 { code, signal });
convert!(record ExitStatus1 => ExitStatus { code, signal });
convert!(record BackendInfo1 => BackendInfo { name, version, mode, guest_mount, syncs });
convert!(enum EntryKind1 => EntryKind { File, Directory, Symlink });
convert!(record EntryStat1 => EntryStat { kind, size, mtime_ns, executable });
convert!(record DirEntry1 => DirEntry { name, stat });
convert!(variant FsError1 => FsError { InvalidPath, NotFound, NotADirectory, IsADirectory, Denied, Io, Backend });
convert!(variant SessionError1 => SessionError { Unavailable, Timeout, Denied, Sync, Backend });
convert!(enum Stdio1 => Stdio { Inherit, Pipe, Null });
convert!(record Command1 => Command { program, args, cwd, env, stdin, stdout, stderr, timeout_ms });

impl From<ProcessError> for ProcessError1 {
    fn from(error: ProcessError) -> ProcessError1 {
        match error {
            ProcessError::Denied(m) => ProcessError1::Denied(m),
            ProcessError::NotFound(m) => ProcessError1::NotFound(m),
            ProcessError::Timeout(m) | ProcessError::Cancelled(m) => ProcessError1::Timeout(m),
            ProcessError::Io(m) => ProcessError1::Io(m),
        }
    }
}

convert!(enum Level1 => Level { Trace, Debug, Info, Warn, Error });
use host_log::Level as Level1;
use log2::Level;

type Result1<T> = Result<T, ProcessError1>;

impl types::Host for PluginState {}

impl host_process::Host for PluginState {
    fn spawn(&mut self, cmd: Command1) -> Result1<Resource<ChildProcess>> {
        process2::Host::spawn(self, cmd.into()).map_err(Into::into)
    }
}

impl host_process::HostChild for PluginState {
    fn id(&mut self, child: Resource<ChildProcess>) -> u32 {
        process2::HostChild::id(self, child)
    }
    fn write_stdin(&mut self, child: Resource<ChildProcess>, data: Vec<u8>) -> Result1<()> {
        process2::HostChild::write_stdin(self, child, data).map_err(Into::into)
    }
    fn close_stdin(&mut self, child: Resource<ChildProcess>) {
        process2::HostChild::close_stdin(self, child)
    }
    fn read_stdout(&mut self, child: Resource<ChildProcess>, max: u32, timeout_ms: u64) -> Result1<Option<Vec<u8>>> {
        process2::HostChild::read_stdout(self, child, max, timeout_ms).map_err(Into::into)
    }
    fn read_stderr(&mut self, child: Resource<ChildProcess>, max: u32, timeout_ms: u64) -> Result1<Option<Vec<u8>>> {
        process2::HostChild::read_stderr(self, child, max, timeout_ms).map_err(Into::into)
    }
    fn read_stdout_line(&mut self, child: Resource<ChildProcess>, timeout_ms: u64) -> Result1<Option<String>> {
        process2::HostChild::read_stdout_line(self, child, timeout_ms).map_err(Into::into)
    }
    fn wait(&mut self, child: Resource<ChildProcess>, timeout_ms: Option<u64>) -> Result1<Option<ExitStatus1>> {
        process2::HostChild::wait(self, child, timeout_ms).map(|e| e.map(Into::into)).map_err(Into::into)
    }
    fn kill(&mut self, child: Resource<ChildProcess>) {
        process2::HostChild::kill(self, child)
    }
    fn drop(&mut self, child: Resource<ChildProcess>) -> wasmtime::Result<()> {
        process2::HostChild::drop(self, child)
    }
}

impl host_log::Host for PluginState {
    fn log(&mut self, level: Level1, message: String) {
        log2::Host::log(self, level.into(), message)
    }
    fn progress(&mut self, message: String) {
        log2::Host::progress(self, message)
    }
    fn hint(&mut self, message: String) {
        log2::Host::hint(self, message)
    }
}

/// A 0.1 component's exports, called in 0.2 terms.
pub(crate) struct Adapted(pub(crate) Backend);

type Call<T> = wasmtime::Result<T>;

impl Adapted {
    fn session(&self) -> session::GuestSession<'_> {
        self.0.devshell_backend_session().session()
    }

    fn fs(&self) -> &guest_fs::Guest {
        self.0.devshell_backend_guest_fs()
    }
}

impl crate::exports::Exports for Adapted {
    fn new_session(
        &self,
        store: &mut Store<PluginState>,
        config: &SessionConfig,
    ) -> Call<wasmtime::component::ResourceAny> {
        self.session().call_constructor(store, &config.clone().into())
    }

    fn ensure_ready(
        &self,
        store: &mut Store<PluginState>,
        session: wasmtime::component::ResourceAny,
    ) -> Call<Result<(), SessionError>> {
        Ok(self.session().call_ensure_ready(store, session)?.map_err(Into::into))
    }

    /// 0.1's `tool-output` carries the plugin's own bytes; they go to the run's streams the way
    /// 0.2's `tool-io.write` sends them.
    fn run_tool(
        &self,
        store: &mut Store<PluginState>,
        session: wasmtime::component::ResourceAny,
        request: &ToolRequest,
    ) -> Call<Result<ExitStatus, SessionError>> {
        let output = match self.session().call_run_tool(&mut *store, session, &request.clone().into())? {
            Ok(output) => output,
            Err(e) => return Ok(Err(e.into())),
        };
        for (stream, bytes) in [(tool_io::Output::Stdout, output.stdout), (tool_io::Output::Stderr, output.stderr)] {
            if !bytes.is_empty() {
                // Best effort, as a write to a closed pipe would be for the tool itself.
                let _ = tool_io::Host::write(store.data_mut(), stream, bytes);
            }
        }
        Ok(Ok(output.status.into()))
    }

    fn info(
        &self,
        store: &mut Store<PluginState>,
        session: wasmtime::component::ResourceAny,
    ) -> Call<BackendInfo> {
        Ok(self.session().call_info(store, session)?.into())
    }

    fn shutdown(
        &self,
        store: &mut Store<PluginState>,
        session: wasmtime::component::ResourceAny,
    ) -> Call<Result<(), SessionError>> {
        Ok(self.session().call_shutdown(store, session)?.map_err(Into::into))
    }

    fn list_dir(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<Vec<DirEntry>, FsError>> {
        Ok(self.fs().call_list_dir(store, path)?.map(|l| l.into_iter().map(Into::into).collect()).map_err(Into::into))
    }

    fn stat(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<EntryStat, FsError>> {
        Ok(self.fs().call_stat(store, path)?.map(Into::into).map_err(Into::into))
    }

    fn read_file(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<Vec<u8>, FsError>> {
        Ok(self.fs().call_read_file(store, path)?.map_err(Into::into))
    }

    fn write_file(
        &self,
        store: &mut Store<PluginState>,
        path: &str,
        data: &[u8],
    ) -> Call<Result<(), FsError>> {
        Ok(self.fs().call_write_file(store, path, data)?.map_err(Into::into))
    }

    fn mkdir(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<(), FsError>> {
        Ok(self.fs().call_mkdir(store, path)?.map_err(Into::into))
    }

    fn remove(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<(), FsError>> {
        Ok(self.fs().call_remove(store, path)?.map_err(Into::into))
    }
}
