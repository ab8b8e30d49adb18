//! A plugin's own stderr (WASI). Its lines reach devshell's stderr escaped and marked with the
//! plugin's name; a Rust panic's report is held back instead, so the trap that follows it is
//! reported once, as "the backend NAME panicked: MESSAGE", not as a wasm `unreachable`.
//! Owns only this stream.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Cloned into WASI's stderr; the runtime keeps one to ask for the panic.
#[derive(Clone)]
pub struct PluginStderr {
    name: Arc<str>,
    state: Arc<Mutex<Lines>>,
}

#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    /// Inside a panic report: its lines are collected, not shown.
    in_panic: bool,
    /// Where the last panic happened, and its message.
    panic: Option<(String, String)>,
}

/// A panic report's lines are kept up to this many bytes (the message, not a backtrace).
const PANIC_LIMIT: usize = 1000;

impl PluginStderr {
    pub fn new(name: &str) -> PluginStderr {
        PluginStderr { name: name.into(), state: Arc::default() }
    }

    /// The message and location of a panic the plugin reported, if any, taken.
    pub fn take_panic(&self) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.in_panic = false;
        state.panic.take().map(|(at, message)| format!("{} (at {at})", message.trim()))
    }

    fn feed(&self, bytes: &[u8]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.partial.extend_from_slice(bytes);
        while let Some(end) = state.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = state.partial.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            state.line(&self.name, line);
        }
        if state.partial.len() > 64 << 10 {
            let line = String::from_utf8_lossy(&std::mem::take(&mut state.partial)).into_owned();
            state.line(&self.name, line);
        }
    }
}

impl Lines {
    fn line(&mut self, plugin: &str, line: String) {
        // std's report: "thread '<unnamed>' (1) panicked at src/lib.rs:34:23:", the message, then
        // "note: run with `RUST_BACKTRACE=1` …".
        if let Some((_, at)) = line.strip_prefix("thread '").and_then(|rest| rest.split_once(" panicked at ")) {
            self.in_panic = true;
            self.panic = Some((at.trim_end_matches(':').to_string(), String::new()));
        } else if self.in_panic {
            match &mut self.panic {
                _ if line.starts_with("note: ") => self.in_panic = false,
                Some((_, message)) if message.len() < PANIC_LIMIT => {
                    message.push(' ');
                    message.push_str(&crate::escape::for_terminal(&line));
                }
                _ => {}
            }
        } else {
            eprintln!("[{plugin}] {}", crate::escape::for_terminal(&line));
        }
    }
}

impl IsTerminal for PluginStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for PluginStderr {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for PluginStderr {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.feed(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

#[async_trait::async_trait]
impl Pollable for PluginStderr {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for PluginStderr {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.feed(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_report_is_held_and_other_lines_pass() {
        let stderr = PluginStderr::new("p");
        stderr.feed(b"ordinary line\nthread '<unnamed>' (1) panicked at src/lib.rs:34:23:\nfaulty: asked");
        stderr.feed(b" to trap\nnote: run with `RUST_BACKTRACE=1` environment variable\n");
        assert_eq!(stderr.take_panic().as_deref(), Some("faulty: asked to trap (at src/lib.rs:34:23)"));
        assert_eq!(stderr.take_panic(), None);
    }
}
