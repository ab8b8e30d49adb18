//! devshell: a development shell for Rust projects over an in-memory workspace, with toolchain
//! commands run in a pluggable, sandboxed execution backend (a WebAssembly component).
//!
//! Modules, in the order data flows: `repl` reads a line, `shell` parses (`shell::syntax`) and
//! runs it, `builtins` act on the workspace (`vfs`), routed tools go to `session`, which syncs
//! (`sync`, every staging-dir operation through `beneath`) and calls the backend through
//! `plugin` (the `devshell-runtime` crate in `host/runtime`: wasmtime, grants, confinement,
//! cache, tool streams in `stdio`). `config` and `state` hold settings and persistence (big
//! files in `blobs`, beside the state file), `lock` lets one command at a time hold a
//! workspace; `progress` shows long syncs, `escape` makes untrusted text safe for the terminal;
//! `cli` is the entry point, and `manage`, `plugin_test` and `scaffold` are `devshell plugin …`.

pub mod beneath;
pub mod blobs;
pub mod builtins;
pub mod cli;
pub mod config;
pub mod lock;
pub mod manage;
pub mod plugin_test;
pub mod progress;
pub mod repl;
pub mod scaffold;
pub mod session;
pub mod shell;
pub mod state;
pub mod sync;
pub mod textutil;
pub mod vfs;
pub mod watch;

pub use devshell_runtime as plugin;
pub use devshell_runtime::{escape, stdio, INTERRUPTED};
