//! The interactive loop: line editing, persistent history, completion, prompt, Ctrl-C / Ctrl-D.
//!
//! Owns only the terminal conversation (rustyline); every line goes to the caller's `run_line`,
//! which holds the workspace around it (never while the prompt waits).

use std::borrow::Cow;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::{Context, Editor, Helper, Highlighter, Hinter, Validator};

use crate::shell::{syntax, Flow, Shell, Status};
use crate::vfs::{self, NodeKind};

/// Completion candidates, refreshed before each prompt (the helper cannot borrow the shell).
#[derive(Helper, Highlighter, Hinter, Validator, Default)]
struct ShellHelper {
    commands: Vec<String>,
    /// Every workspace path with a trailing `/` on directories.
    paths: Vec<String>,
    /// The workspace generation `paths` was taken at: rebuilt only after a change.
    paths_generation: Option<u64>,
    cwd: String,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos].rfind(|c: char| c.is_whitespace() || c == ';' || c == '|').map(|i| i + 1).unwrap_or(0);
        let word = &line[start..pos];
        let first_word = line[..start].trim().is_empty() || line[..start].trim_end().ends_with([';', '|', '&']);
        let mut candidates: Vec<Pair> = Vec::new();
        if first_word && !word.contains('/') {
            candidates.extend(
                self.commands
                    .iter()
                    .filter(|c| c.starts_with(word))
                    .map(|c| Pair { display: c.clone(), replacement: format!("{c} ") }),
            );
        }
        // Paths: keep the directory prefix the user typed, complete the last segment.
        let (dir_part, name_part) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        let dir = vfs::resolve(&self.cwd, if dir_part.is_empty() { "." } else { dir_part });
        let prefix = if dir == "/" { "/".to_string() } else { format!("{dir}/") };
        for path in &self.paths {
            if let Some(rest) = path.strip_prefix(&prefix) {
                let name = rest.trim_end_matches('/');
                if !name.contains('/') && name.starts_with(name_part) && !name.is_empty() {
                    let suffix = if rest.ends_with('/') { "/" } else { " " };
                    candidates.push(Pair {
                        display: format!("{name}{}", suffix.trim()),
                        replacement: format!("{dir_part}{name}{suffix}"),
                    });
                }
            }
        }
        Ok((start, candidates))
    }
}

fn prompt(shell: &Shell) -> String {
    format!("devshell[{}]:{}$ ", shell.backend.prompt_name(), shell.cwd)
}

fn refresh(helper: &mut ShellHelper, shell: &Shell) {
    if helper.commands.is_empty() {
        helper.commands = crate::builtins::names().map(String::from).chain(shell.backend.routed()).collect();
        helper.commands.sort();
        helper.commands.dedup();
    }
    // A prompt after a command that changed nothing must not re-list a large workspace.
    let generation = shell.vfs.generation();
    if helper.paths_generation != Some(generation) {
        helper.paths = shell
            .vfs
            .walk("/")
            .skip(1)
            .map(|(p, n)| if matches!(n.kind, NodeKind::Dir) { format!("{p}/") } else { p.clone() })
            .collect();
        helper.paths_generation = Some(generation);
    }
    helper.cwd.clone_from(&shell.cwd);
}

/// Run the REPL until `exit` or Ctrl-D; returns the exit status. `run_line` runs one entered
/// unit (`Shell::run_source` with the workspace held around it).
pub fn run(shell: &mut Shell, mut run_line: impl FnMut(&mut Shell, &str) -> Status) -> i32 {
    let history_path = directories::ProjectDirs::from("", "", "devshell").map(|d| d.data_dir().join("history"));
    let mut editor: Editor<ShellHelper, _> = match Editor::new() {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("devshell: cannot start the line editor: {e}");
            return 1;
        }
    };
    editor.set_helper(Some(ShellHelper::default()));
    if let Some(path) = &history_path {
        let _ = editor.load_history(path);
        shell.history = editor.history().iter().cloned().collect();
    }
    let mut pending = String::new();
    let status = loop {
        refresh(editor.helper_mut().expect("helper set"), shell);
        let prompt: Cow<str> = if pending.is_empty() { prompt(shell).into() } else { "> ".into() };
        match editor.readline(&prompt) {
            Ok(line) => {
                pending.push_str(&line);
                pending.push('\n');
                if syntax::is_incomplete(&pending) {
                    continue;
                }
                let entry = std::mem::take(&mut pending);
                let trimmed = entry.trim_end().to_string();
                if !trimmed.is_empty() {
                    let _ = editor.add_history_entry(trimmed.as_str());
                    shell.history.push(trimmed);
                }
                crate::INTERRUPTED.store(false, std::sync::atomic::Ordering::SeqCst);
                if let Err(Flow::Exit(code)) = run_line(shell, &entry) {
                    break code;
                }
            }
            Err(ReadlineError::Interrupted) => {
                pending.clear(); // Ctrl-C drops the line being typed, nothing else
            }
            Err(ReadlineError::Eof) => break shell.last_status,
            Err(e) => {
                eprintln!("devshell: {e}");
                break 1;
            }
        }
    };
    if let Some(path) = &history_path {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(path);
    }
    status
}
