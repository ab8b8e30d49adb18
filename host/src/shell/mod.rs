//! The interpreter: runs parsed programs against the workspace.
//!
//! Owns variables, functions, positional parameters, `$?`, shell options, control flow,
//! redirects and pipes, and dispatch (function, builtin, text tool, routed tool, workspace
//! program, or "command not found"). The grammar is `syntax`'s, expansion `expand`'s, streams
//! `io`'s; builtins live in `builtins`; tools go to the [`ToolBackend`] (the session). Never
//! touches the host filesystem itself.

mod arith;
mod expand;
mod io;
pub mod pattern;
pub mod syntax;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::atomic::Ordering;

use brush_parser::ast::{
    self, AndOr, AndOrList, Command, CompoundCommand, CompoundList, ExtendedTestExpr, FunctionDefinition,
    IoFileRedirectKind, IoFileRedirectTarget, IoRedirect, Pipeline, SimpleCommand,
};

pub use self::io::Io;
use self::io::{Input, TargetKind};
use crate::builtins;
use crate::stdio::{Captured, ToolStdio};
use crate::vfs::{self, Vfs};

/// Nesting limit for `source`, so a file that sources itself fails instead of overflowing.
const MAX_SOURCE_DEPTH: usize = 32;
/// Nesting limit for function calls (and so for recursion), well inside the thread's stack.
const MAX_CALL_DEPTH: usize = 1000;
/// The one host-like path redirects understand without a workspace file.
const DEV_NULL: &str = "/dev/null";

/// Where routed tools run (the session). Implemented by `session::Sessions`.
pub trait ToolBackend {
    /// Run `program` with the workspace in `vfs`, from logical directory `cwd`. With `capture`
    /// the output is returned, otherwise it streams to the terminal.
    fn run_tool(&mut self, vfs: &mut Vfs, request: ToolCall) -> anyhow::Result<ToolResult>;
    /// One line per fact for the `backend` builtin.
    fn describe(&mut self) -> Vec<String>;
    /// Start the session now (DEVSHELL_VM_EAGER, `backend start`).
    fn start(&mut self, vfs: &mut Vfs) -> anyhow::Result<()>;
    /// Throw away a failed session so the next tool starts a new one.
    fn restart(&mut self);
    /// End the session (final pull in Mode S).
    fn shutdown(&mut self, vfs: &mut Vfs) -> anyhow::Result<()>;
    /// The short name for the prompt.
    fn prompt_name(&self) -> String;
    fn is_routed(&self, program: &str) -> bool;
    fn routed(&self) -> Vec<String>;
    /// The sync manifest to persist with the workspace.
    fn manifest(&self) -> &crate::sync::SyncManifest;
    /// A workspace was (re)loaded from the state file: continue from the manifest saved with
    /// it, and serve its lazy files.
    fn replace_manifest(&mut self, manifest: crate::sync::SyncManifest, vfs: &mut Vfs);
}

pub struct ToolCall {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: String,
    pub env: Vec<(String, String)>,
    /// Its stdin, and where its output goes.
    pub stdio: ToolStdio,
}

pub struct ToolResult {
    pub status: i32,
    /// What it wrote to the streams `stdio` captures.
    pub captured: Captured,
}


/// Non-local control flow out of a command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Flow {
    Break(usize),
    Continue(usize),
    /// `return`: leaves the innermost function or `source`.
    Return(i32),
    Exit(i32),
    /// An expansion failed (`${v:?}`, `set -u`, a bad `$((…))`): the unit stops, as a
    /// non-interactive bash exits; the REPL only abandons the line.
    Abort(i32),
    /// Ctrl-C: leaves every loop, subshell and function up to the unit, which stops (the REPL
    /// returns to its prompt).
    Interrupted,
}

impl Flow {
    /// The status a subshell, a script or a line ends with when this flow leaves it.
    pub fn status(self, last: i32) -> i32 {
        match self {
            Flow::Return(n) | Flow::Exit(n) | Flow::Abort(n) => n,
            Flow::Interrupted => 130,
            Flow::Break(_) | Flow::Continue(_) => last,
        }
    }
}

pub type Status = Result<i32, Flow>;

/// Writes the workspace to its state file (`save`); returns what to tell the user.
pub type Saver = Box<dyn FnMut(&Shell) -> anyhow::Result<String>>;

/// What a loop does after one pass of its body.
enum Step {
    Next(i32),
    Break,
}

/// `set -e`, `-u`, `-x`, `-f`, `-o pipefail`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub errexit: bool,
    pub nounset: bool,
    pub xtrace: bool,
    pub noglob: bool,
    pub pipefail: bool,
}

impl Options {
    /// `$-`.
    fn flags(&self) -> String {
        [(self.errexit, 'e'), (self.noglob, 'f'), (self.nounset, 'u'), (self.xtrace, 'x')]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| c)
            .collect()
    }

    /// Set or clear the option `set -o NAME` names; false when there is no such option.
    pub fn set_named(&mut self, name: &str, on: bool) -> bool {
        let option = match name {
            "errexit" => &mut self.errexit,
            "nounset" => &mut self.nounset,
            "xtrace" => &mut self.xtrace,
            "noglob" => &mut self.noglob,
            "pipefail" => &mut self.pipefail,
            _ => return false,
        };
        *option = on;
        true
    }

    /// Set or clear the option of the letter in `set -e`; false when there is no such option.
    pub fn set_letter(&mut self, letter: char, on: bool) -> bool {
        let name = match letter {
            'e' => "errexit",
            'u' => "nounset",
            'x' => "xtrace",
            'f' => "noglob",
            _ => return false,
        };
        self.set_named(name, on)
    }

    /// `set -o` listing.
    pub fn listing(&self) -> Vec<(&'static str, bool)> {
        vec![
            ("errexit", self.errexit),
            ("noglob", self.noglob),
            ("nounset", self.nounset),
            ("pipefail", self.pipefail),
            ("xtrace", self.xtrace),
        ]
    }
}

/// What a subshell copies and the parent keeps unchanged.
struct Saved {
    vars: BTreeMap<String, String>,
    exported: BTreeSet<String>,
    positional: Vec<String>,
    cwd: String,
    options: Options,
    functions: HashMap<String, Rc<FunctionDefinition>>,
    locals: Vec<HashMap<String, Option<String>>>,
}

pub struct Shell {
    pub vfs: Vfs,
    pub cwd: String,
    vars: BTreeMap<String, String>,
    exported: BTreeSet<String>,
    positional: Vec<String>,
    script_name: String,
    functions: HashMap<String, Rc<FunctionDefinition>>,
    /// One frame per running function: the values its `local`s hid, restored when it returns.
    locals: Vec<HashMap<String, Option<String>>>,
    /// The groups of the last `[[ =~ ]]` match, as `${BASH_REMATCH[n]}`.
    rematch: Vec<String>,
    /// The status of the last command substitution, for a command of assignments only.
    substitution_status: Option<i32>,
    /// How many function calls deep this runs, subshells included (recursion through `( f )`
    /// or `$(f)` counts too).
    call_depth: usize,
    /// How many loops deep this runs (a `break 5` in two loops leaves both).
    loop_depth: usize,
    /// How many command substitutions deep this runs (`set -x` marks each level with a `+`).
    substitution_depth: usize,
    pub last_status: i32,
    pub options: Options,
    /// A REPL: an aborted line returns to the prompt instead of ending devshell.
    pub interactive: bool,
    /// Depth of contexts where a failure must not trigger `set -e` (conditions, `&&` lists, `!`).
    condition_depth: usize,
    source_depth: usize,
    pub history: Vec<String>,
    pub backend: Box<dyn ToolBackend>,
    /// Called by `save`; set by the entry point that owns the state file.
    pub saver: Option<Saver>,
}

impl Shell {
    pub fn new(vfs: Vfs, backend: Box<dyn ToolBackend>) -> Shell {
        let vars: BTreeMap<String, String> = std::env::vars_os()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
            .collect();
        let exported = vars.keys().cloned().collect();
        Shell {
            vfs,
            cwd: "/".into(),
            vars,
            exported,
            positional: vec![],
            script_name: "devshell".into(),
            functions: HashMap::new(),
            locals: Vec::new(),
            rematch: Vec::new(),
            substitution_status: None,
            substitution_depth: 0,
            loop_depth: 0,
            call_depth: 0,
            last_status: 0,
            options: Options::default(),
            interactive: false,
            condition_depth: 0,
            source_depth: 0,
            history: vec![],
            backend,
            saver: None,
        }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn set_var(&mut self, name: &str, value: impl Into<String>) {
        self.vars.insert(name.to_string(), value.into());
    }

    pub fn unset_var(&mut self, name: &str) {
        self.vars.remove(name);
        self.exported.remove(name);
    }

    pub fn unset_function(&mut self, name: &str) {
        self.functions.remove(name);
    }

    pub fn export_var(&mut self, name: &str) {
        self.exported.insert(name.to_string());
    }

    /// All variables, for `set` with no arguments.
    pub fn vars(&self) -> impl Iterator<Item = (&String, &String)> {
        self.vars.iter()
    }

    /// Exported variables, for `env`.
    pub fn exported_vars(&self) -> Vec<(String, String)> {
        self.exported.iter().filter_map(|k| self.vars.get(k).map(|v| (k.clone(), v.clone()))).collect()
    }

    /// Variables the user exported in this session that differ from the process environment
    /// (what a routed tool receives on top of the backend's own environment).
    fn tool_env(&self) -> Vec<(String, String)> {
        self.exported_vars().into_iter().filter(|(k, v)| std::env::var(k).ok().as_ref() != Some(v)).collect()
    }

    pub fn set_positional(&mut self, script_name: &str, args: Vec<String>) {
        self.script_name = script_name.to_string();
        self.positional = args;
    }

    pub fn positional(&self) -> &[String] {
        &self.positional
    }

    /// `set -- ARGS`, `shift`.
    pub fn replace_positional(&mut self, args: Vec<String>) {
        self.positional = args;
    }

    /// `local NAME[=VALUE]`: false outside a function.
    pub fn make_local(&mut self, name: &str, value: Option<String>) -> bool {
        let Some(frame) = self.locals.last_mut() else { return false };
        let old = self.vars.get(name).cloned();
        frame.entry(name.to_string()).or_insert(old);
        // `local x` alone declares it unset, as bash does.
        match value {
            Some(value) => self.set_var(name, value),
            None => {
                self.vars.remove(name);
            }
        }
        true
    }

    /// Parse and run a whole unit. A syntax error runs nothing and returns status 2.
    pub fn run_source(&mut self, source: &str, origin: &str) -> Status {
        let status = match syntax::parse(source) {
            Ok(program) => self.run_program(&program, &Io::terminal()),
            Err(error) => {
                eprintln!("devshell: {origin}: {error}");
                self.last_status = 2;
                if self.options.errexit {
                    Err(Flow::Exit(2))
                } else {
                    Ok(2)
                }
            }
        };
        match status {
            Err(Flow::Interrupted) => {
                crate::INTERRUPTED.store(false, Ordering::SeqCst);
                eprintln!("devshell: interrupted");
                self.last_status = 130;
                if self.interactive {
                    Ok(130)
                } else {
                    Err(Flow::Exit(130))
                }
            }
            Err(Flow::Abort(code)) if self.interactive => {
                self.last_status = code;
                Ok(code)
            }
            Err(Flow::Abort(code)) => Err(Flow::Exit(code)),
            // `return` outside a function ends the unit, as it ends a sourced file.
            Err(Flow::Return(code)) => Ok(code),
            Err(Flow::Break(_) | Flow::Continue(_)) => Ok(self.last_status),
            other => other,
        }
    }

    fn run_program(&mut self, program: &ast::Program, io: &Io) -> Status {
        let mut status = 0;
        for list in &program.complete_commands {
            status = self.run_list(list, io)?;
        }
        Ok(status)
    }

    fn run_list(&mut self, list: &CompoundList, io: &Io) -> Status {
        let mut status = 0;
        for item in &list.0 {
            if crate::INTERRUPTED.load(Ordering::SeqCst) {
                return Err(Flow::Interrupted);
            }
            status = self.run_and_or(&item.0, io)?;
        }
        Ok(status)
    }

    fn run_and_or(&mut self, list: &AndOrList, io: &Io) -> Status {
        // Every pipeline but the last is a condition: its failure does not trigger `set -e`.
        let mut status = self.run_guarded(&list.first, !list.additional.is_empty(), io)?;
        let mut last_ran = list.additional.is_empty();
        for (index, next) in list.additional.iter().enumerate() {
            let (run, pipeline) = match next {
                AndOr::And(p) => (status == 0, p),
                AndOr::Or(p) => (status != 0, p),
            };
            if run {
                last_ran = index + 1 == list.additional.len();
                status = self.run_guarded(pipeline, !last_ran, io)?;
            }
        }
        self.last_status = status;
        let negated = list.additional.is_empty() && list.first.bang;
        if status != 0 && last_ran && !negated && self.options.errexit && self.condition_depth == 0 {
            return Err(Flow::Exit(status));
        }
        Ok(status)
    }

    fn run_guarded(&mut self, pipeline: &Pipeline, guarded: bool, io: &Io) -> Status {
        let guarded = guarded || pipeline.bang;
        self.condition_depth += usize::from(guarded);
        let status = self.run_pipeline(pipeline, io);
        self.condition_depth -= usize::from(guarded);
        let status = status?;
        Ok(if pipeline.bang { i32::from(status == 0) } else { status })
    }

    /// Commands run one after the other, each one's output the next one's input. In a pipeline
    /// of several, each runs in a copy of the shell, as bash runs them.
    fn run_pipeline(&mut self, pipeline: &Pipeline, io: &Io) -> Status {
        if let [only] = pipeline.seq.as_slice() {
            let status = self.run_command(only, io)?;
            self.last_status = status;
            return Ok(status);
        }
        let mut stdin = io.stdin.clone();
        let mut failed = 0;
        let mut status = 0;
        for (index, command) in pipeline.seq.iter().enumerate() {
            let last = index + 1 == pipeline.seq.len();
            let mut stage = io.clone();
            stage.stdin = stdin.take();
            let capture = (!last).then(|| io::target(TargetKind::Capture));
            if let Some(capture) = &capture {
                stage.out = capture.clone();
            }
            status = self.subshell(|shell| shell.run_command(command, &stage))?;
            if status != 0 {
                failed = status;
            }
            if let Some(capture) = capture {
                let buffer = std::mem::take(&mut capture.borrow_mut().buffer);
                stdin = Some(Input::new(buffer).unwrap_or_else(|e| {
                    eprintln!("devshell: cannot read command output back: {e}");
                    Input::from_bytes(Vec::new())
                }));
            }
            if crate::plugin::cancelled() || crate::INTERRUPTED.load(Ordering::SeqCst) {
                break;
            }
        }
        let status = if self.options.pipefail { failed } else { status };
        self.last_status = status;
        Ok(status)
    }

    /// Run `body` in a copy of the shell's variables, functions, options and directory; the
    /// workspace is shared, as the filesystem is in bash. Any flow out of it ends it, but
    /// Ctrl-C, which goes on up.
    fn subshell(&mut self, body: impl FnOnce(&mut Shell) -> Status) -> Status {
        let saved = Saved {
            vars: self.vars.clone(),
            exported: self.exported.clone(),
            positional: self.positional.clone(),
            cwd: self.cwd.clone(),
            options: self.options.clone(),
            functions: self.functions.clone(),
            locals: std::mem::take(&mut self.locals),
        };
        let status = body(self);
        self.vars = saved.vars;
        self.exported = saved.exported;
        self.positional = saved.positional;
        self.cwd = saved.cwd;
        self.options = saved.options;
        self.functions = saved.functions;
        self.locals = saved.locals;
        match status {
            Err(Flow::Interrupted) => Err(Flow::Interrupted),
            Err(flow) => Ok(flow.status(self.last_status)),
            Ok(status) => Ok(status),
        }
    }

    fn run_command(&mut self, command: &Command, io: &Io) -> Status {
        match command {
            Command::Simple(simple) => self.run_simple(simple, io),
            Command::Compound(compound, redirects) => {
                let redirects: Vec<&IoRedirect> = redirects.iter().flat_map(|r| &r.0).collect();
                self.with_redirects(&redirects, io, |shell, io| shell.run_compound(compound, io))
            }
            Command::Function(definition) => {
                self.functions.insert(definition.fname.value.clone(), Rc::new(definition.clone()));
                Ok(0)
            }
            Command::ExtendedTest(test, redirects) => {
                let redirects: Vec<&IoRedirect> = redirects.iter().flat_map(|r| &r.0).collect();
                self.with_redirects(&redirects, io, |shell, io| {
                    shell.trace(io, || format!("[[ {} ]]", test.expr));
                    Ok(i32::from(!shell.extended_test(&test.expr, io)?))
                })
            }
        }
    }

    fn run_compound(&mut self, compound: &CompoundCommand, io: &Io) -> Status {
        match compound {
            CompoundCommand::BraceGroup(group) => self.run_list(&group.list, io),
            CompoundCommand::Subshell(sub) => {
                self.subshell(|shell| shell.run_list(&sub.list, io))
            }
            CompoundCommand::Arithmetic(arithmetic) => {
                self.trace(io, || format!("(( {} ))", arithmetic.expr.value));
                Ok(i32::from(self.arithmetic(&arithmetic.expr.value, io)? == 0))
            }
            CompoundCommand::IfClause(clause) => {
                if self.condition(&clause.condition, io)? == 0 {
                    return self.run_list(&clause.then, io);
                }
                for branch in clause.elses.iter().flatten() {
                    match &branch.condition {
                        Some(condition) if self.condition(condition, io)? != 0 => continue,
                        _ => return self.run_list(&branch.body, io),
                    }
                }
                Ok(0)
            }
            CompoundCommand::WhileClause(_)
            | CompoundCommand::UntilClause(_)
            | CompoundCommand::ForClause(_)
            | CompoundCommand::ArithmeticForClause(_) => {
                self.loop_depth += 1;
                let status = self.run_loop(compound, io);
                self.loop_depth -= 1;
                status
            }
            CompoundCommand::CaseClause(clause) => {
                let subject = self.expand_string(&clause.value.value, io)?;
                self.trace(io, || format!("case {} in", trace_quote(&subject)));
                let mut status = 0;
                let mut fall_through = false;
                for item in &clause.cases {
                    if !fall_through {
                        let mut matched = false;
                        for pattern in &item.patterns {
                            let pattern = self.expand_pattern(&pattern.value, io)?;
                            if pattern::Pattern::new(&pattern).matches(&subject) {
                                matched = true;
                                break;
                            }
                        }
                        if !matched {
                            continue;
                        }
                    }
                    if let Some(body) = &item.cmd {
                        status = self.run_list(body, io)?;
                    }
                    match item.post_action {
                        ast::CaseItemPostAction::ExitCase => break,
                        ast::CaseItemPostAction::UnconditionallyExecuteNextCaseItem => fall_through = true,
                        ast::CaseItemPostAction::ContinueEvaluatingCases => fall_through = false,
                    }
                }
                Ok(status)
            }
            CompoundCommand::Coprocess(_) => unreachable!("refused by syntax::check"),
        }
    }

    fn run_loop(&mut self, compound: &CompoundCommand, io: &Io) -> Status {
        match compound {
            CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
                let until = matches!(compound, CompoundCommand::UntilClause(_));
                let mut status = 0;
                loop {
                    if (self.condition(&clause.0, io)? == 0) == until {
                        break;
                    }
                    let outcome = self.run_list(&clause.1.list, io);
                    match self.loop_step(outcome)? {
                        Step::Next(s) => status = s,
                        Step::Break => break,
                    }
                }
                Ok(status)
            }
            CompoundCommand::ForClause(clause) => {
                let values = match &clause.values {
                    Some(words) => self.expand_words(words.iter().map(|w| w.value.as_str()), io)?,
                    None => self.positional.clone(),
                };
                let mut status = 0;
                let listed = values.iter().map(|v| trace_quote(v)).collect::<Vec<_>>().join(" ");
                for value in values {
                    self.trace(io, || format!("for {} in {listed}", clause.variable_name));
                    self.set_var(&clause.variable_name, value);
                    let outcome = self.run_list(&clause.body.list, io);
                    match self.loop_step(outcome)? {
                        Step::Next(s) => status = s,
                        Step::Break => break,
                    }
                }
                Ok(status)
            }
            CompoundCommand::ArithmeticForClause(clause) => {
                if let Some(init) = &clause.initializer {
                    self.arithmetic(&init.value, io)?;
                }
                let mut status = 0;
                loop {
                    if let Some(condition) = &clause.condition {
                        if self.arithmetic(&condition.value, io)? == 0 {
                            break;
                        }
                    }
                    let outcome = self.run_list(&clause.body.list, io);
                    match self.loop_step(outcome)? {
                        Step::Next(s) => status = s,
                        Step::Break => break,
                    }
                    if let Some(update) = &clause.updater {
                        self.arithmetic(&update.value, io)?;
                    }
                }
                Ok(status)
            }
            _ => unreachable!("only loops come here"),
        }
    }

    /// Interpret a loop body's outcome: `break`/`continue` for this loop end here, deeper counts
    /// (`break 2`) travel outwards one level less, and stop at the outermost loop as in bash.
    fn loop_step(&self, outcome: Status) -> Result<Step, Flow> {
        let outermost = self.loop_depth <= 1;
        match outcome {
            Ok(status) => Ok(Step::Next(status)),
            Err(Flow::Break(n)) if n > 1 && !outermost => Err(Flow::Break(n - 1)),
            Err(Flow::Break(_)) => Ok(Step::Break),
            Err(Flow::Continue(n)) if n > 1 && !outermost => Err(Flow::Continue(n - 1)),
            Err(Flow::Continue(_)) => Ok(Step::Next(0)),
            Err(flow) => Err(flow),
        }
    }

    /// The condition of `if`/`while`: failures there never trigger `set -e`.
    fn condition(&mut self, list: &CompoundList, io: &Io) -> Status {
        self.condition_depth += 1;
        let status = self.run_list(list, io);
        self.condition_depth -= 1;
        status
    }

    fn run_simple(&mut self, simple: &SimpleCommand, io: &Io) -> Status {
        let mut assignments = Vec::new();
        let mut words = Vec::new();
        let mut redirects = Vec::new();
        for item in simple.prefix.iter().flat_map(|p| &p.0) {
            match item {
                ast::CommandPrefixOrSuffixItem::AssignmentWord(assignment, _) => assignments.push(assignment),
                ast::CommandPrefixOrSuffixItem::IoRedirect(redirect) => redirects.push(redirect),
                ast::CommandPrefixOrSuffixItem::Word(word) => words.push(word.value.as_str()),
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => unreachable!("refused by syntax::check"),
            }
        }
        words.extend(simple.word_or_name.iter().map(|w| w.value.as_str()));
        for item in simple.suffix.iter().flat_map(|s| &s.0) {
            match item {
                ast::CommandPrefixOrSuffixItem::IoRedirect(redirect) => redirects.push(redirect),
                // After the command name an assignment is an ordinary argument (`export A=1`).
                ast::CommandPrefixOrSuffixItem::AssignmentWord(_, word) | ast::CommandPrefixOrSuffixItem::Word(word) => {
                    words.push(word.value.as_str())
                }
                ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => unreachable!("refused by syntax::check"),
            }
        }
        self.substitution_status = None;
        let argv = self.expand_words(words, io)?;
        let mut assigned = Vec::new();
        for assignment in assignments {
            let ast::AssignmentName::VariableName(name) = &assignment.name else {
                unreachable!("refused by syntax::check")
            };
            let ast::AssignmentValue::Scalar(value) = &assignment.value else { unreachable!("refused by syntax::check") };
            let mut value = self.expand_assignment(&value.value, io)?;
            if assignment.append {
                value = format!("{}{value}", self.var(name).unwrap_or(""));
            }
            assigned.push((name.clone(), value));
        }
        self.trace(io, || {
            let mut words: Vec<String> = assigned.iter().map(|(k, v)| format!("{k}={}", trace_quote(v))).collect();
            words.extend(argv.iter().map(|a| trace_quote(a)));
            words.join(" ")
        });
        let status_of_assignments = self.substitution_status.unwrap_or(0);
        self.with_redirects(&redirects, io, move |shell, io| {
            if argv.is_empty() {
                for (name, value) in assigned {
                    shell.set_var(&name, value);
                }
                return Ok(status_of_assignments);
            }
            let mut io = io.clone();
            shell.dispatch(&argv, assigned, &mut io)
        })
    }

    /// `set -x`: show what runs on stderr, one `+` per command-substitution level.
    fn trace(&self, io: &Io, line: impl FnOnce() -> String) {
        if self.options.xtrace {
            io.clone().err(format!("{} {}\n", "+".repeat(self.substitution_depth + 1), line()));
        }
    }

    /// Run `body` with `redirects` applied to a copy of `io`; files written when it ends.
    fn with_redirects(
        &mut self,
        redirects: &[&IoRedirect],
        io: &Io,
        body: impl FnOnce(&mut Shell, &Io) -> Status,
    ) -> Status {
        if redirects.is_empty() {
            return body(self, io);
        }
        let mut inner = io.clone();
        let mut files = Vec::new();
        for redirect in redirects {
            if let Err(message) = self.apply_redirect(redirect, &mut inner, &mut files) {
                let message = match message {
                    Ok(message) => message,
                    Err(flow) => return Err(flow),
                };
                io.clone().error("devshell", message);
                self.flush_files(files);
                return Ok(1);
            }
        }
        let status = body(self, &inner);
        // Output that could not be written is a failure, whatever the command said.
        match (self.flush_files(files), status) {
            (false, Ok(0)) => Ok(1),
            (_, status) => status,
        }
    }

    fn apply_redirect(
        &mut self,
        redirect: &IoRedirect,
        io: &mut Io,
        files: &mut Vec<io::Output>,
    ) -> Result<(), Result<String, Flow>> {
        let output_target = |shell: &mut Shell, target: &str, append: bool, files: &mut Vec<io::Output>| {
            let path = vfs::resolve(&shell.cwd, target);
            if path == DEV_NULL {
                return Ok(io::target(TargetKind::Null));
            }
            if shell.vfs.is_dir(&path) {
                return Err(Ok(format!("{target}: Is a directory")));
            }
            if !shell.vfs.is_dir(vfs::parent_of(&path)) {
                return Err(Ok(format!("{target}: No such file or directory")));
            }
            // Opened now, as bash opens it: `> f` truncates (or creates) before the command runs.
            let opened = if append { shell.vfs.append(&path, b"") } else { shell.vfs.write(&path, Vec::new()) };
            opened.map_err(|e| Ok(e.to_string()))?;
            let target = io::target(TargetKind::File { path });
            files.push(target.clone());
            Ok(target)
        };
        match redirect {
            IoRedirect::File(fd, kind, target) => {
                let input = matches!(kind, IoFileRedirectKind::Read | IoFileRedirectKind::DuplicateInput);
                let fd = fd.unwrap_or(if input { 0 } else { 1 });
                let word = match target {
                    IoFileRedirectTarget::Filename(word) | IoFileRedirectTarget::Duplicate(word) => {
                        self.expand_string(&word.value, io).map_err(Err)?
                    }
                    IoFileRedirectTarget::Fd(n) => n.to_string(),
                    IoFileRedirectTarget::ProcessSubstitution(..) => unreachable!("refused by syntax::check"),
                };
                match kind {
                    IoFileRedirectKind::Read => {
                        let path = vfs::resolve(&self.cwd, &word);
                        let bytes = if path == DEV_NULL {
                            Vec::new()
                        } else {
                            self.vfs.read(&path).map_err(|e| Ok(e.to_string()))?
                        };
                        io.stdin = Some(Input::from_bytes(bytes));
                    }
                    IoFileRedirectKind::Write | IoFileRedirectKind::Clobber | IoFileRedirectKind::Append => {
                        let target = output_target(self, &word, matches!(kind, IoFileRedirectKind::Append), files)?;
                        set_fd(io, fd, target);
                    }
                    IoFileRedirectKind::DuplicateOutput => {
                        let target = match word.as_str() {
                            "1" => io.out.clone(),
                            "2" => io.err.clone(),
                            "-" => io::target(TargetKind::Null),
                            // `>&file` is `&>file`.
                            other if fd == 1 && other.parse::<u32>().is_err() => {
                                let target = output_target(self, other, false, files)?;
                                io.err = target.clone();
                                target
                            }
                            other => return Err(Ok(format!("{other}: bad file descriptor"))),
                        };
                        set_fd(io, fd, target);
                    }
                    IoFileRedirectKind::DuplicateInput => {
                        if word == "-" {
                            io.stdin = Some(Input::from_bytes(Vec::new()));
                        } else if word != "0" {
                            return Err(Ok(format!("{word}: bad file descriptor")));
                        }
                    }
                    IoFileRedirectKind::ReadAndWrite => unreachable!("refused by syntax::check"),
                }
            }
            IoRedirect::HereDocument(_, doc) => {
                let body = if doc.requires_expansion {
                    self.expand_heredoc(&doc.doc.value, io).map_err(Err)?
                } else {
                    doc.doc.value.clone()
                };
                io.stdin = Some(Input::from_bytes(body.into_bytes()));
            }
            IoRedirect::HereString(_, word) => {
                let text = self.expand_string(&word.value, io).map_err(Err)?;
                io.stdin = Some(Input::from_bytes(format!("{text}\n").into_bytes()));
            }
            IoRedirect::OutputAndError(word, append) => {
                let word = self.expand_string(&word.value, io).map_err(Err)?;
                let target = output_target(self, &word, *append, files)?;
                io.out = target.clone();
                io.err = target;
            }
        }
        Ok(())
    }

    /// Write what redirected outputs collected into their workspace files; false when one
    /// could not be written.
    fn flush_files(&mut self, files: Vec<io::Output>) -> bool {
        let mut written = true;
        for target in files {
            let mut target = target.borrow_mut();
            if let TargetKind::File { path, .. } = &target.kind {
                let path = path.clone();
                let data = std::mem::take(&mut target.buffer);
                if let Err(e) = self.vfs.append_spill(&path, data) {
                    eprintln!("devshell: {e}");
                    written = false;
                }
            }
        }
        written
    }

    /// Run one command (a function, a builtin, a text tool, a routed tool or a workspace
    /// program) with `io` as its streams: what `xargs` does with the lines it reads.
    pub fn run_argv(&mut self, argv: &[String], io: &mut Io) -> Status {
        self.dispatch(argv, Vec::new(), io)
    }

    fn dispatch(&mut self, argv: &[String], assigned: Vec<(String, String)>, io: &mut Io) -> Status {
        let name = argv[0].as_str();
        if let Some(function) = self.functions.get(name).cloned() {
            return self.with_assignments(assigned, |shell| shell.call(&function, &argv[1..], io));
        }
        if let Some(builtin) = builtins::find(name) {
            // `NAME=value builtin`: visible to the builtin only.
            return self.with_assignments(assigned, |shell| builtin(shell, &argv[1..], io));
        }
        if let Some(status) = builtins::text_tool(self, name, &argv[1..], io) {
            return status;
        }
        if self.backend.is_routed(name) {
            return Ok(self.run_tool(argv, assigned, io));
        }
        if name.contains('/') {
            return Ok(self.run_workspace_program(argv, assigned, io));
        }
        io.error("devshell", format!("{name}: command not found (try `help`)"));
        Ok(127)
    }

    /// Run `body` with `assigned` set, then put the variables back.
    fn with_assignments(&mut self, assigned: Vec<(String, String)>, body: impl FnOnce(&mut Shell) -> Status) -> Status {
        let saved: Vec<(String, Option<String>)> =
            assigned.iter().map(|(k, _)| (k.clone(), self.vars.get(k).cloned())).collect();
        for (k, v) in assigned {
            self.set_var(&k, v);
        }
        let status = body(self);
        for (k, old) in saved {
            match old {
                Some(v) => self.set_var(&k, v),
                None => {
                    self.vars.remove(&k);
                }
            }
        }
        status
    }

    /// Call a function: its arguments become `$1…`, its `local`s end with it.
    fn call(&mut self, function: &FunctionDefinition, args: &[String], io: &mut Io) -> Status {
        if self.call_depth >= MAX_CALL_DEPTH {
            io.error(&function.fname.value, format!("maximum function nesting level exceeded ({MAX_CALL_DEPTH})"));
            return Err(Flow::Abort(1));
        }
        let saved = std::mem::replace(&mut self.positional, args.to_vec());
        self.locals.push(HashMap::new());
        self.call_depth += 1;
        let body = &function.body;
        let redirects: Vec<&IoRedirect> = body.1.iter().flat_map(|r| &r.0).collect();
        let status = self.with_redirects(&redirects, io, |shell, io| shell.run_compound(&body.0, io));
        self.call_depth -= 1;
        for (name, old) in self.locals.pop().unwrap_or_default() {
            match old {
                Some(value) => self.set_var(&name, value),
                None => {
                    self.vars.remove(&name);
                }
            }
        }
        self.positional = saved;
        match status {
            Err(Flow::Return(code)) => Ok(code),
            other => other,
        }
    }

    /// `./target/debug/app`, `target/release/app --flag`: a workspace file run in the backend
    /// like a routed tool (same sync, same statuses); 126 when it cannot be run, 127 when there
    /// is no such file.
    fn run_workspace_program(&mut self, argv: &[String], assigned: Vec<(String, String)>, io: &mut Io) -> i32 {
        let name = &argv[0];
        let path = vfs::resolve(&self.cwd, name);
        let node = self.vfs.follow(&path).ok().and_then(|real| self.vfs.get(&real));
        match node.map(|n| &n.kind) {
            Some(vfs::NodeKind::File { executable: true, .. }) => self.run_tool(argv, assigned, io),
            Some(vfs::NodeKind::File { .. }) => {
                io.error("devshell", format!("{name}: Permission denied (not executable; `chmod +x {name}`)"));
                126
            }
            Some(_) => {
                io.error("devshell", format!("{name}: Is a directory"));
                126
            }
            None => {
                io.error("devshell", format!("{name}: No such file or directory"));
                127
            }
        }
    }

    fn run_tool(&mut self, argv: &[String], assigned: Vec<(String, String)>, io: &mut Io) -> i32 {
        let mut env = self.tool_env();
        env.extend(assigned);
        let call = ToolCall {
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
            cwd: self.cwd.trim_start_matches('/').to_string(),
            env,
            stdio: io.tool_stdio(),
        };
        match self.backend.run_tool(&mut self.vfs, call) {
            Ok(result) => {
                io.deliver(result.captured.stdout, result.captured.stderr);
                result.status
            }
            Err(error) => {
                io.error(&argv[0], format!("{error:#}"));
                // Stopped by Ctrl-C: the status bash gives a command SIGINT ended.
                if crate::plugin::cancelled() {
                    130
                } else {
                    126
                }
            }
        }
    }

    /// `[[ … ]]`: operands expanded without splitting or filename expansion; the right side of
    /// `==`/`!=` is a pattern, of `=~` an extended regular expression.
    fn extended_test(&mut self, expr: &ExtendedTestExpr, io: &Io) -> Result<bool, Flow> {
        use ast::BinaryPredicate as B;
        Ok(match expr {
            ExtendedTestExpr::And(left, right) => self.extended_test(left, io)? && self.extended_test(right, io)?,
            ExtendedTestExpr::Or(left, right) => self.extended_test(left, io)? || self.extended_test(right, io)?,
            ExtendedTestExpr::Not(inner) => !self.extended_test(inner, io)?,
            ExtendedTestExpr::Parenthesized(inner) => self.extended_test(inner, io)?,
            ExtendedTestExpr::UnaryTest(predicate, operand) => {
                let operand = self.expand_string(&operand.value, io)?;
                self.unary_test(predicate, &operand)
            }
            ExtendedTestExpr::BinaryTest(predicate, left, right) => {
                let left = self.expand_string(&left.value, io)?;
                match predicate {
                    B::StringExactlyMatchesPattern | B::StringDoesNotExactlyMatchPattern => {
                        let pattern = self.expand_pattern(&right.value, io)?;
                        pattern::Pattern::new(&pattern).matches(&left) == matches!(predicate, B::StringExactlyMatchesPattern)
                    }
                    B::StringMatchesRegex => {
                        let regex = self.expand_regex(&right.value, io)?;
                        match regex::Regex::new(&regex) {
                            Ok(regex) => match regex.captures(&left) {
                                Some(captures) => {
                                    self.rematch = captures
                                        .iter()
                                        .map(|m| m.map(|m| m.as_str().to_string()).unwrap_or_default())
                                        .collect();
                                    true
                                }
                                None => {
                                    self.rematch.clear();
                                    false
                                }
                            },
                            Err(e) => {
                                io.clone().error("devshell", format!("[[ =~ ]]: invalid regular expression {regex}: {e}"));
                                return Err(Flow::Abort(2));
                            }
                        }
                    }
                    B::ArithmeticEqualTo
                    | B::ArithmeticNotEqualTo
                    | B::ArithmeticLessThan
                    | B::ArithmeticLessThanOrEqualTo
                    | B::ArithmeticGreaterThan
                    | B::ArithmeticGreaterThanOrEqualTo => {
                        let right = self.expand_string(&right.value, io)?;
                        let left = self.arithmetic(&left, io)?;
                        let right = self.arithmetic(&right, io)?;
                        compare_numbers(predicate, left, right)
                    }
                    _ => {
                        let right = self.expand_string(&right.value, io)?;
                        match self.binary_test(predicate, &left, &right) {
                            Ok(result) => result,
                            Err(message) => {
                                io.clone().error("devshell", message);
                                return Err(Flow::Abort(2));
                            }
                        }
                    }
                }
            }
        })
    }

    /// `-f FILE`, `-n STRING`, …: shared by `test`, `[` and `[[`.
    pub fn unary_test(&self, predicate: &ast::UnaryPredicate, operand: &str) -> bool {
        use ast::UnaryPredicate as U;
        let path = || vfs::resolve(&self.cwd, operand);
        let node = || self.vfs.follow(&path()).ok().and_then(|real| self.vfs.get(&real).cloned());
        match predicate {
            U::StringHasZeroLength => operand.is_empty(),
            U::StringHasNonZeroLength => !operand.is_empty(),
            U::FileExists | U::FileExistsAndIsReadable | U::FileExistsAndIsWritable => node().is_some(),
            U::FileExistsAndIsDir => self.vfs.is_dir(&path()),
            U::FileExistsAndIsRegularFile => matches!(node().map(|n| n.kind), Some(vfs::NodeKind::File { .. })),
            U::FileExistsAndIsNotZeroLength => node().is_some_and(|n| match &n.kind {
                vfs::NodeKind::File { .. } => Vfs::size(&n) > 0,
                _ => true,
            }),
            U::FileExistsAndIsExecutable => {
                matches!(node().map(|n| n.kind), Some(vfs::NodeKind::File { executable: true, .. } | vfs::NodeKind::Dir))
            }
            U::FileExistsAndIsSymlink => {
                matches!(self.vfs.get(&path()).map(|n| &n.kind), Some(vfs::NodeKind::Symlink { .. }))
            }
            U::ShellVariableIsSetAndAssigned => self.vars.contains_key(operand),
            U::ShellOptionEnabled => self.options.listing().iter().any(|(name, on)| *name == operand && *on),
            _ => false,
        }
    }

    /// `A = B`, `A -lt B`, …: shared by `test`, `[` and `[[` (whose patterns and numbers are
    /// handled before this).
    pub fn binary_test(&self, predicate: &ast::BinaryPredicate, left: &str, right: &str) -> Result<bool, String> {
        use ast::BinaryPredicate as B;
        Ok(match predicate {
            B::StringExactlyMatchesString | B::StringExactlyMatchesPattern => left == right,
            B::StringDoesNotExactlyMatchString | B::StringDoesNotExactlyMatchPattern => left != right,
            B::LeftSortsBeforeRight => left < right,
            B::LeftSortsAfterRight => left > right,
            B::StringContainsSubstring => left.contains(right),
            B::StringMatchesRegex => regex::Regex::new(right).map_err(|e| e.to_string())?.is_match(left),
            B::FilesReferToSameDeviceAndInodeNumbers => {
                vfs::resolve(&self.cwd, left) == vfs::resolve(&self.cwd, right) && self.vfs.exists(&vfs::resolve(&self.cwd, left))
            }
            B::LeftFileIsNewerOrExistsWhenRightDoesNot | B::LeftFileIsOlderOrDoesNotExistWhenRightDoes => {
                let mtime = |p: &str| self.vfs.get(&vfs::resolve(&self.cwd, p)).map(|n| n.mtime_ns);
                let (l, r) = (mtime(left), mtime(right));
                match predicate {
                    B::LeftFileIsNewerOrExistsWhenRightDoesNot => l.is_some() && (r.is_none() || l > r),
                    _ => r.is_some() && (l.is_none() || l < r),
                }
            }
            numeric => {
                let number = |text: &str| {
                    text.trim().parse::<i64>().map_err(|_| format!("{text}: integer expression expected"))
                };
                compare_numbers(numeric, number(left)?, number(right)?)
            }
        })
    }

    /// `source FILE ARGS…`: run a workspace file with its own positional parameters; `return`
    /// leaves it.
    pub fn source(&mut self, path: &str, args: Vec<String>, io: &Io) -> Status {
        if self.source_depth >= MAX_SOURCE_DEPTH {
            io.clone().error("source", format!("{path}: nested more than {MAX_SOURCE_DEPTH} levels deep"));
            return Ok(1);
        }
        let resolved = vfs::resolve(&self.cwd, path);
        let source = match self.vfs.read(&resolved) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                io.clone().error("source", e);
                return Ok(1);
            }
        };
        let program = match syntax::parse(&source) {
            Ok(program) => program,
            Err(error) => {
                io.clone().error("devshell", format!("{resolved}: {error}"));
                return Ok(2);
            }
        };
        let saved = if args.is_empty() { None } else { Some(std::mem::replace(&mut self.positional, args)) };
        self.source_depth += 1;
        let status = self.run_program(&program, io);
        self.source_depth -= 1;
        if let Some(saved) = saved {
            self.positional = saved;
        }
        match status {
            Err(Flow::Return(code)) => Ok(code),
            other => other,
        }
    }
}

fn set_fd(io: &mut Io, fd: i32, target: io::Output) {
    match fd {
        2 => io.err = target,
        _ => io.out = target,
    }
}

fn compare_numbers(predicate: &ast::BinaryPredicate, left: i64, right: i64) -> bool {
    use ast::BinaryPredicate as B;
    match predicate {
        B::ArithmeticEqualTo => left == right,
        B::ArithmeticNotEqualTo => left != right,
        B::ArithmeticLessThan => left < right,
        B::ArithmeticLessThanOrEqualTo => left <= right,
        B::ArithmeticGreaterThan => left > right,
        _ => left >= right,
    }
}

/// A word as `set -x` shows it: quoted when the shell would need quotes to read it back.
fn trace_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || "_./=:,+@%^-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
