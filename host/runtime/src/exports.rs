//! What the host calls on a plugin, whatever contract version it was built against: one trait,
//! [`Exports`], with an implementation per version. Older versions convert their types at this
//! boundary (`v0_1`), so the rest of the runtime speaks only the current contract.

use wasmtime::component::{Instance, InstancePre, ResourceAny};
use wasmtime::Store;

use crate::bindings::devshell::backend::types::{
    BackendInfo, DirEntry, EntryStat, ExitStatus, FsError, SessionConfig, SessionError, ToolRequest,
};
use crate::bindings::exports::devshell::backend::{guest_fs, session};
use crate::PluginState;

type Call<T> = wasmtime::Result<T>;

/// A plugin's exports, in the current contract's terms.
pub(crate) trait Exports: Send + Sync {
    fn new_session(&self, store: &mut Store<PluginState>, config: &SessionConfig) -> Call<ResourceAny>;
    fn ensure_ready(&self, store: &mut Store<PluginState>, session: ResourceAny) -> Call<Result<(), SessionError>>;
    fn run_tool(
        &self,
        store: &mut Store<PluginState>,
        session: ResourceAny,
        request: &ToolRequest,
    ) -> Call<Result<ExitStatus, SessionError>>;
    fn info(&self, store: &mut Store<PluginState>, session: ResourceAny) -> Call<BackendInfo>;
    fn shutdown(&self, store: &mut Store<PluginState>, session: ResourceAny) -> Call<Result<(), SessionError>>;
    fn list_dir(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<Vec<DirEntry>, FsError>>;
    fn stat(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<EntryStat, FsError>>;
    fn read_file(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<Vec<u8>, FsError>>;
    fn write_file(&self, store: &mut Store<PluginState>, path: &str, data: &[u8]) -> Call<Result<(), FsError>>;
    fn mkdir(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<(), FsError>>;
    fn remove(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<(), FsError>>;
}

/// Where a current-contract component's exports are, found once per load.
#[derive(Clone)]
pub(crate) struct CurrentIndices {
    session: session::GuestIndices,
    /// `None`: a Mode S backend (world `backend`), which exports no `guest-fs`.
    guest_fs: Option<guest_fs::GuestIndices>,
}

impl CurrentIndices {
    pub(crate) fn new(pre: &InstancePre<PluginState>) -> wasmtime::Result<CurrentIndices> {
        Ok(CurrentIndices {
            session: session::GuestIndices::new(pre)?,
            guest_fs: guest_fs::GuestIndices::new(pre).ok(),
        })
    }

    pub(crate) fn load(&self, store: &mut Store<PluginState>, instance: &Instance) -> Call<Current> {
        Ok(Current {
            session: self.session.load(&mut *store, instance)?,
            guest_fs: self.guest_fs.as_ref().map(|g| g.load(&mut *store, instance)).transpose()?,
        })
    }
}

pub(crate) struct Current {
    session: session::Guest,
    guest_fs: Option<guest_fs::Guest>,
}

impl Current {
    fn fs<T>(
        &self,
        store: &mut Store<PluginState>,
        call: impl FnOnce(&guest_fs::Guest, &mut Store<PluginState>) -> Call<Result<T, FsError>>,
    ) -> Call<Result<T, FsError>> {
        match &self.guest_fs {
            Some(fs) => call(fs, store),
            None => Ok(Err(FsError::Backend("this backend has no guest filesystem: it serves sync mode only".into()))),
        }
    }
}

impl Exports for Current {
    fn new_session(&self, store: &mut Store<PluginState>, config: &SessionConfig) -> Call<ResourceAny> {
        self.session.session().call_constructor(store, config)
    }
    fn ensure_ready(&self, store: &mut Store<PluginState>, session: ResourceAny) -> Call<Result<(), SessionError>> {
        self.session.session().call_ensure_ready(store, session)
    }
    fn run_tool(
        &self,
        store: &mut Store<PluginState>,
        session: ResourceAny,
        request: &ToolRequest,
    ) -> Call<Result<ExitStatus, SessionError>> {
        self.session.session().call_run_tool(store, session, request)
    }
    fn info(&self, store: &mut Store<PluginState>, session: ResourceAny) -> Call<BackendInfo> {
        self.session.session().call_info(store, session)
    }
    fn shutdown(&self, store: &mut Store<PluginState>, session: ResourceAny) -> Call<Result<(), SessionError>> {
        self.session.session().call_shutdown(store, session)
    }
    fn list_dir(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<Vec<DirEntry>, FsError>> {
        self.fs(store, |fs, store| fs.call_list_dir(store, path))
    }
    fn stat(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<EntryStat, FsError>> {
        self.fs(store, |fs, store| fs.call_stat(store, path))
    }
    fn read_file(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<Vec<u8>, FsError>> {
        self.fs(store, |fs, store| fs.call_read_file(store, path))
    }
    fn write_file(&self, store: &mut Store<PluginState>, path: &str, data: &[u8]) -> Call<Result<(), FsError>> {
        self.fs(store, |fs, store| fs.call_write_file(store, path, data))
    }
    fn mkdir(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<(), FsError>> {
        self.fs(store, |fs, store| fs.call_mkdir(store, path))
    }
    fn remove(&self, store: &mut Store<PluginState>, path: &str) -> Call<Result<(), FsError>> {
        self.fs(store, |fs, store| fs.call_remove(store, path))
    }
}
