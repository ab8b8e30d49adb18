//! The interactive loop: line editing, persistent history, completion, prompt, Ctrl-C / Ctrl-D.
//!
//! Owns only the terminal conversation (rustyline); every line goes to the caller's `run_line`,
//! which holds the workspace around it (never while the prompt waits).

use std::borrow::Cow;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::{Context, Editor, Helper, Highlighter, Hinter, Validator};

use crate::shell::{pattern, syntax, Flow, Shell, Status};
use crate::vfs::{self, NodeKind};

/// Completion candidates, refreshed before each prompt (the helper cannot borrow the shell).
#[derive(Helper, Highlighter, Hinter, Validator, Default)]
struct ShellHelper {
    commands: Vec<String>,
    /// Variable names, for `$NA<Tab>` and `${NA<Tab>`.
    variables: Vec<String>,
    /// Every workspace path with a trailing `/` on directories.
    paths: Vec<String>,
    /// The workspace generation `paths` was taken at: rebuilt only after a change.
    paths_generation: Option<u64>,
    cwd: String,
}

impl ShellHelper {
    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<Pair>) {
        // A word starts after blanks, operators and redirects (`>out<Tab>`, `<in<Tab>`).
        let start = line[..pos].rfind(|c: char| c.is_whitespace() || ";|&<>()".contains(c)).map(|i| i + 1).unwrap_or(0);
        let word = &line[start..pos];
        let before = line[..start].trim_end();
        let after_redirect = before.ends_with(['<', '>']);
        let first_word = !after_redirect && (before.is_empty() || before.ends_with([';', '|', '&', '(']));
        let mut candidates: Vec<Pair> = Vec::new();
        if let Some(at) = word.rfind('$') {
            let typed = &word[at + 1..];
            let braced = typed.starts_with('{');
            let name = typed.trim_start_matches('{');
            if name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
                for variable in self.variables.iter().filter(|v| v.starts_with(name)) {
                    let close = if braced { "}" } else { "" };
                    candidates.push(Pair {
                        display: format!("${variable}"),
                        replacement: format!("{}${}{variable}{close}", &word[..at], if braced { "{" } else { "" }),
                    });
                }
                return (start, candidates);
            }
        }
        if first_word && !word.contains('/') {
            candidates.extend(
                self.commands
                    .iter()
                    .filter(|c| c.starts_with(word))
                    .map(|c| Pair { display: c.clone(), replacement: format!("{c} ") }),
            );
        }
        // Paths: keep the directory part the user typed (globs included), complete the last
        // segment.
        let (dir_part, name_part) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        let dir = vfs::resolve(&self.cwd, if dir_part.is_empty() { "." } else { dir_part });
        let dir_pattern = pattern::has_wildcards(&dir).then(|| pattern::Pattern::new(&dir));
        for path in &self.paths {
            let trimmed = path.trim_end_matches('/');
            let name = vfs::file_name(trimmed);
            let parent = vfs::parent_of(trimmed);
            let in_dir = match &dir_pattern {
                Some(matcher) => matcher.matches(parent),
                None => parent == dir,
            };
            if in_dir && !name.is_empty() && name.starts_with(name_part) && (!name.starts_with('.') || name_part.starts_with('.')) {
                let suffix = if path.ends_with('/') { "/" } else { " " };
                candidates.push(Pair { display: format!("{name}{}", suffix.trim()), replacement: format!("{dir_part}{name}{suffix}") });
            }
        }
        candidates.sort_by(|a, b| a.display.cmp(&b.display));
        candidates.dedup_by(|a, b| a.replacement == b.replacement);
        (start, candidates)
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        Ok(self.candidates(line, pos))
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
    helper.variables = shell.vars().map(|(name, _)| name.clone()).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ShellHelper {
        ShellHelper {
            commands: vec!["cargo".into(), "cat".into(), "echo".into()],
            variables: vec!["HOME".into(), "HOSTNAME".into(), "PATH".into()],
            paths: ["/p/", "/p/src/", "/p/src/main.rs", "/p/src/util/", "/p/src/util/mod.rs", "/p/tests/", "/p/tests/mod.rs", "/p/.hidden"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            paths_generation: Some(0),
            cwd: "/p".into(),
        }
    }

    fn replacements(line: &str) -> Vec<String> {
        helper().candidates(line, line.len()).1.into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn completes_commands_paths_variables_after_redirects_and_globs() {
        assert_eq!(replacements("ca"), ["cargo ", "cat "]);
        assert_eq!(replacements("cat src/ma"), ["src/main.rs "]);
        assert_eq!(replacements("echo hi >src/m"), ["src/main.rs "]);
        assert_eq!(replacements("cat < src/u"), ["src/util/"]);
        assert_eq!(replacements("echo $HO"), ["$HOME", "$HOSTNAME"]);
        assert_eq!(replacements("echo \"${PA"), ["\"${PATH}"]);
        assert_eq!(replacements("ls */mo"), ["*/mod.rs "]);
        assert_eq!(replacements("ls src/*/m"), ["src/*/mod.rs "]);
        assert_eq!(replacements("ls ."), [".hidden "]);
        assert!(replacements("ls ").iter().all(|r| !r.starts_with('.')), "dot files only when asked for");
    }
}
