//! A tool run's standard streams as the shell connected them, and the buffer that carries
//! bytes between commands without holding them all in memory.
//!
//! Owns [`Spill`] (memory up to a limit, then an unnamed temp file) and [`ToolStdio`] (what a
//! tool's stdin holds and where its stdout and stderr go). The shell builds a `ToolStdio` for
//! every routed tool; the plugin runtime wires the processes a plugin spawns with `inherit` to
//! it. Knows nothing of either.

use std::io::{Read, Seek, Write};

/// Bytes held in memory up to [`Spill::MEMORY_LIMIT`]; past it, in an unnamed temp file, so a
/// gigabyte of tool output costs disk, not memory.
#[derive(Debug, Default)]
pub struct Spill {
    memory: Vec<u8>,
    file: Option<std::fs::File>,
    len: u64,
}

impl Spill {
    pub const MEMORY_LIMIT: usize = 4 << 20;

    pub fn new() -> Spill {
        Spill::default()
    }

    pub fn from_vec(bytes: Vec<u8>) -> Spill {
        let len = bytes.len() as u64;
        Spill { memory: bytes, file: None, len }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn append(&mut self, data: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() && self.memory.len() + data.len() > Self::MEMORY_LIMIT {
            let mut file = tempfile::tempfile()?;
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write_all(data)?,
            None => self.memory.extend_from_slice(data),
        }
        self.len += data.len() as u64;
        Ok(())
    }

    /// Everything, from the start.
    pub fn into_reader(self) -> std::io::Result<Box<dyn Read + Send>> {
        match self.file {
            Some(mut file) => {
                file.rewind()?;
                Ok(Box::new(std::io::BufReader::with_capacity(1 << 16, file)))
            }
            None => Ok(Box::new(std::io::Cursor::new(self.memory))),
        }
    }

    /// Everything, in memory (for consumers that need it whole).
    pub fn into_vec(self) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(self.len as usize);
        self.into_reader()?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// Where one output stream of a tool goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sink {
    /// devshell's own stdout or stderr (the terminal, or whatever devshell's caller gave it):
    /// the tool writes there directly, live.
    Terminal,
    /// Discarded (`> /dev/null`): the tool writes to `/dev/null`.
    Null,
    /// Collected into the run's captured stream (a redirect to a workspace file, a pipe into
    /// the next command).
    Capture,
}

/// A tool run's standard streams.
#[derive(Debug)]
pub struct ToolStdio {
    /// What the tool reads: `None` is the terminal; `Some` the bytes of a pipe or `<` redirect,
    /// then end of file.
    pub stdin: Option<Spill>,
    pub stdout: Sink,
    pub stderr: Sink,
    /// `2>&1` onto a captured stdout: one stream, in the order the tool wrote it.
    pub stderr_to_stdout: bool,
}

impl ToolStdio {
    /// All three on the terminal.
    pub fn terminal() -> ToolStdio {
        ToolStdio { stdin: None, stdout: Sink::Terminal, stderr: Sink::Terminal, stderr_to_stdout: false }
    }

    /// Both outputs collected, no stdin (as a command substitution would run it).
    pub fn captured() -> ToolStdio {
        ToolStdio { stdin: None, stdout: Sink::Capture, stderr: Sink::Capture, stderr_to_stdout: false }
    }

    /// True when any output is collected rather than written where it goes.
    pub fn captures(&self) -> bool {
        self.stdout == Sink::Capture || self.stderr == Sink::Capture
    }
}

/// What a tool run wrote to its captured streams.
#[derive(Debug, Default)]
pub struct Captured {
    pub stdout: Spill,
    pub stderr: Spill,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spill_moves_to_disk_past_its_limit_and_keeps_every_byte() {
        let mut spill = Spill::new();
        let chunk: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        for _ in 0..6 {
            spill.append(&chunk).unwrap();
        }
        assert!(spill.file.is_some() && spill.memory.is_empty());
        assert_eq!(spill.len(), 6 << 20);
        let bytes = spill.into_vec().unwrap();
        assert_eq!(bytes.len(), 6 << 20);
        assert!(bytes.chunks(1 << 20).all(|c| c == chunk.as_slice()));
        let small = Spill::from_vec(b"abc".to_vec());
        assert_eq!(small.into_vec().unwrap(), b"abc");
    }
}
