//! A command's standard streams, shared the way a shell shares file descriptors: every command
//! in `{ …; } > f` writes to one target, and every `read` in `while read …; done < f` takes its
//! line from one input. Cloning an [`Io`] shares; a redirect replaces one stream in a clone.
//!
//! Owns buffering (bounded in memory by [`Spill`]) and writing to devshell's own stdout and
//! stderr; the workspace files behind redirects are written by the interpreter when the
//! redirect's scope ends.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::rc::Rc;

use crate::stdio::{Sink, Spill, ToolStdio};

pub(super) enum TargetKind {
    /// `/dev/null` or a closed stream: discarded.
    Null,
    Stdout,
    Stderr,
    /// A workspace file, written when the redirect's scope ends.
    File { path: String },
    /// Collected for the next command of a pipeline or a command substitution.
    Capture,
}

pub(super) struct Target {
    pub(super) kind: TargetKind,
    /// What a file or capture target collected.
    pub(super) buffer: Spill,
}

pub(super) type Output = Rc<RefCell<Target>>;

pub(super) fn target(kind: TargetKind) -> Output {
    Rc::new(RefCell::new(Target { kind, buffer: Spill::new() }))
}

/// A stream read from: a pipe, a `<` file or a here-document, consumed as commands read it.
pub(super) struct Input {
    reader: Box<dyn BufRead>,
}

impl Input {
    pub(super) fn new(spill: Spill) -> std::io::Result<Rc<RefCell<Input>>> {
        let reader: Box<dyn BufRead> = Box::new(BufReader::new(spill.into_reader()?));
        Ok(Rc::new(RefCell::new(Input { reader })))
    }

    pub(super) fn from_bytes(bytes: Vec<u8>) -> Rc<RefCell<Input>> {
        Rc::new(RefCell::new(Input { reader: Box::new(std::io::Cursor::new(bytes)) }))
    }
}

/// A command's standard streams.
#[derive(Clone)]
pub struct Io {
    /// `None` is devshell's own stdin (the terminal, or what devshell's caller piped in).
    pub(super) stdin: Option<Rc<RefCell<Input>>>,
    pub(super) out: Output,
    pub(super) err: Output,
}

impl Io {
    /// devshell's own streams.
    pub fn terminal() -> Io {
        Io { stdin: None, out: target(TargetKind::Stdout), err: target(TargetKind::Stderr) }
    }

    fn write_to(target: &Output, data: &[u8]) {
        let mut target = target.borrow_mut();
        match target.kind {
            TargetKind::Stdout => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(data).and_then(|_| stdout.flush());
            }
            TargetKind::Stderr => {
                let _ = std::io::stderr().write_all(data);
            }
            TargetKind::Null => {}
            TargetKind::File { .. } | TargetKind::Capture => {
                if let Err(e) = target.buffer.append(data) {
                    eprintln!("devshell: cannot hold command output: {e}");
                }
            }
        }
    }

    /// Write all of `spill` to `target`: moved as it is into an empty file or capture target,
    /// else copied in chunks.
    pub(super) fn spill_to(target: &Output, spill: Spill) {
        {
            let mut held = target.borrow_mut();
            match held.kind {
                TargetKind::Null => return,
                TargetKind::File { .. } | TargetKind::Capture if held.buffer.is_empty() => {
                    held.buffer = spill;
                    return;
                }
                _ => {}
            }
        }
        let copied = spill.into_reader().and_then(|mut reader| {
            let mut chunk = vec![0; 1 << 16];
            loop {
                let n = reader.read(&mut chunk)?;
                if n == 0 {
                    return Ok(());
                }
                Self::write_to(target, &chunk[..n]);
            }
        });
        if let Err(e) = copied {
            eprintln!("devshell: cannot read command output back: {e}");
        }
    }

    /// Everything left on stdin (nothing when it is the terminal).
    pub fn take_stdin(&mut self) -> Vec<u8> {
        let Some(input) = self.stdin.clone() else { return Vec::new() };
        let mut bytes = Vec::new();
        let read = input.borrow_mut().reader.read_to_end(&mut bytes);
        if let Err(e) = read {
            self.err(format!("devshell: cannot read stdin back: {e}\n"));
        }
        bytes
    }

    /// One line of stdin up to `delimiter` (included when present); `None` at end of input.
    /// The terminal is read directly, a byte at a time past the line, as bash's `read` does.
    pub fn read_line(&mut self, delimiter: u8) -> Option<Vec<u8>> {
        let mut line = Vec::new();
        let read = match &self.stdin {
            Some(input) => input.borrow_mut().reader.read_until(delimiter, &mut line),
            None => {
                let mut stdin = std::io::stdin().lock();
                let mut byte = [0u8];
                loop {
                    match stdin.read(&mut byte) {
                        Ok(0) => break Ok(line.len()),
                        Ok(_) => {
                            line.push(byte[0]);
                            if byte[0] == delimiter {
                                break Ok(line.len());
                            }
                        }
                        Err(e) => break Err(e),
                    }
                }
            }
        };
        match read {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    }

    /// Read the rest of stdin a chunk at a time into `sink`, so a gigabyte through a pipe is
    /// never whole in memory.
    fn drain_stdin(&mut self, mut sink: impl FnMut(&[u8])) {
        let Some(input) = self.stdin.clone() else { return };
        let mut chunk = vec![0; 1 << 16];
        loop {
            let read = input.borrow_mut().reader.read(&mut chunk);
            match read {
                Ok(0) => return,
                Ok(n) => sink(&chunk[..n]),
                Err(e) => {
                    self.err(format!("devshell: cannot read stdin back: {e}\n"));
                    return;
                }
            }
        }
    }

    /// Copy stdin (all of it, then end of file) to stdout, as `cat` does.
    pub fn stdin_to_out(&mut self) {
        let out = self.out.clone();
        self.drain_stdin(|chunk| Self::write_to(&out, chunk));
    }

    /// Where a tool's streams go, for the plugin runtime to wire its processes to (the rest of
    /// stdin is handed over).
    pub(super) fn tool_stdio(&mut self) -> ToolStdio {
        let sink = |target: &Output| match target.borrow().kind {
            TargetKind::Null => Sink::Null,
            TargetKind::Stdout | TargetKind::Stderr => Sink::Terminal,
            TargetKind::File { .. } | TargetKind::Capture => Sink::Capture,
        };
        let stdout = sink(&self.out);
        let stderr = sink(&self.err);
        // A terminal target of the other kind (`1>&2` onto the real stderr) is still the
        // terminal; only a shared capture must become one stream.
        let stderr_to_stdout = Rc::ptr_eq(&self.out, &self.err) && stdout == Sink::Capture;
        let stdin = self.stdin.is_some().then(|| {
            let mut spill = Spill::new();
            let mut failed = None;
            self.drain_stdin(|chunk| {
                if let Err(e) = spill.append(chunk) {
                    failed.get_or_insert(e);
                }
            });
            if let Some(e) = failed {
                eprintln!("devshell: cannot hold the tool's stdin: {e}");
            }
            spill
        });
        ToolStdio { stdin, stdout, stderr, stderr_to_stdout }
    }

    /// Where a tool's captured output goes back: its stdout and stderr targets.
    pub(super) fn deliver(&self, stdout: Spill, stderr: Spill) {
        Self::spill_to(&self.out, stdout);
        Self::spill_to(&self.err, stderr);
    }

    pub fn out(&mut self, data: impl AsRef<[u8]>) {
        Self::write_to(&self.out, data.as_ref());
    }

    pub fn err(&mut self, data: impl AsRef<[u8]>) {
        Self::write_to(&self.err, data.as_ref());
    }

    /// Print `name: message` on stderr, the form every builtin error takes.
    pub fn error(&mut self, name: &str, message: impl std::fmt::Display) {
        self.err(format!("{name}: {message}\n"));
    }
}
