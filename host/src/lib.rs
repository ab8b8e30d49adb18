//! devshell: a development shell for Rust projects over an in-memory workspace, with toolchain
//! commands run in a pluggable, sandboxed execution backend (a WebAssembly component).

pub mod plugin;
