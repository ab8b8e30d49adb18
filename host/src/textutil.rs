//! GNU-compatible text tools (`grep`, `head`, `tail`, `wc`, `sort`, `uniq`, `find`, `diff`, `tee`,
//! `cut`, `tr`, `basename`, `dirname`, `seq`, `sed`) as shell builtins over the workspace.
//!
//! This module owns the tools' argument parsing, their output and their exit status, which follow
//! GNU coreutils, grep, sed, findutils and diffutils run with `LC_ALL=C` (the tests compare with
//! them). It must not touch the host filesystem or the shell's state (variables, cwd, jobs): the
//! caller passes standard input and the current directory, and every file is read, listed and
//! written through [`Workspace`].
//!
//! Differences from GNU:
//! * `find` and `grep -r` walk directories in name order (GNU: the disk's order, unsorted).
//! * `diff -u` headers carry the names only, no timestamps. Where several minimal diffs exist,
//!   similar may pick another one than GNU's (as short, and valid).
//! * `wc` pads standard input like a pipe (GNU pads `wc < file` like a file).
//! * Regexes are the `regex` crate's, translated from POSIX BRE/ERE: Unicode-aware (as in a UTF-8
//!   locale); no back-references in a pattern (refused); among alternatives the first one that
//!   matches wins where GNU takes the longest match, which shows only in `grep -o` and `sed s`.
//! * `find` globs also accept `{a,b}` (globset's syntax).
//! * What is not supported is refused by name: other flags, `find` actions such as `-exec`, `sed`
//!   commands other than those listed in [`TOOLS`], `diff` of two directories.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::ops::Range;

use crate::vfs::resolve;
use globset::{GlobBuilder, GlobMatcher};
use regex::bytes::{Captures, Regex, RegexBuilder};
use similar::algorithms::{myers, Capture};
use similar::DiffOp;

/// The files the tools work on.
pub trait Workspace {
    /// Contents of the file at an absolute, normalized workspace path (`/a/b.txt`); Err(message) if missing or a directory.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
    fn is_dir(&self, path: &str) -> bool;
    fn exists(&self, path: &str) -> bool;
    /// Names of the entries of a directory, sorted (no . or ..).
    fn list(&self, path: &str) -> Result<Vec<String>, String>;
    /// Create/replace (or append to) a file; used by `tee`.
    fn write(&mut self, path: &str, data: &[u8], append: bool) -> Result<(), String>;
}

/// What a tool printed and its exit status.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: i32,
}

/// (name, usage, one-line description) for every tool, for `help`.
pub const TOOLS: &[(&str, &str, &str)] = &[
    (
        "grep",
        "grep [-ivcnlLqsowxhHarR] [-E|-F] [-A N] [-B N] [-C N] [-m N] [--include=GLOB] [--exclude=GLOB] [--exclude-dir=GLOB] (-e PATTERN... | PATTERN) [FILE]...",
        "print lines matching a pattern (basic regex by default, -E extended, -F fixed strings; -r searches directories)",
    ),
    ("head", "head [-n [-]N | -N | -c [-]N] [-qv] [FILE]...", "print the first lines (or bytes) of files"),
    ("tail", "tail [-n [+]N | -N | -c [+]N] [-qv] [FILE]...", "print the last lines (or bytes) of files; +N starts at line N"),
    ("wc", "wc [-lwmc] [FILE]...", "count lines, words, characters and bytes"),
    (
        "sort",
        "sort [-nrufbs] [-t SEP] [-k F[.C][OPTS][,F[.C][OPTS]]]... [FILE]...",
        "sort lines in byte order (as with LC_ALL=C); -n numeric, -k keys, -u unique",
    ),
    ("uniq", "uniq [-cdui] [INPUT [OUTPUT]]", "drop (or count, -c) repeated adjacent lines"),
    (
        "find",
        "find [PATH]... [-maxdepth N] [-mindepth N] [-name GLOB] [-iname GLOB] [-path GLOB] [-ipath GLOB] [-type f|d] [-print] [! -not -a -o ( )]",
        "list files below PATHs that match an expression, in name order",
    ),
    ("diff", "diff [-u | -U N | -q] FILE1 FILE2", "compare two files line by line (normal or unified format)"),
    ("tee", "tee [-a] [FILE]...", "copy standard input to standard output and to FILEs"),
    ("cut", "cut (-f LIST [-d DELIM] [-s] | -c LIST | -b LIST) [FILE]...", "print selected fields or bytes of each line"),
    ("tr", "tr [-cds] SET1 [SET2]", "translate, delete (-d) or squeeze (-s) bytes of standard input"),
    ("basename", "basename NAME [SUFFIX] | basename [-a] [-s SUFFIX] NAME...", "strip the directory (and a suffix) from names"),
    ("dirname", "dirname NAME...", "strip the last component from names"),
    ("seq", "seq [-w] [-s SEP] [FIRST [INCR]] LAST", "print a sequence of numbers"),
    (
        "sed",
        "sed [-nE] [-i] (-e SCRIPT... | SCRIPT) [FILE]...",
        "stream editor: s/RE/REPL/[gpiN], p, d, q, =, y/SRC/DST/, {...} with N, $, /RE/ addresses, ranges and ! (-i edits files in place, without backup suffix)",
    ),
];

/// Run tool `name` with `args` (not including the name), reading `stdin` when it reads standard input; relative paths resolve against `cwd` (an absolute workspace path). None when `name` is not one of TOOLS.
pub fn run(name: &str, args: &[String], stdin: &[u8], cwd: &str, ws: &mut dyn Workspace) -> Option<Output> {
    let &(name, usage, description) = TOOLS.iter().find(|tool| tool.0 == name)?;
    let tool: Tool = match name {
        "grep" => grep,
        "head" => head,
        "tail" => tail,
        "wc" => wc,
        "sort" => sort,
        "uniq" => uniq,
        "find" => find,
        "diff" => diff,
        "tee" => tee,
        "cut" => cut,
        "tr" => tr,
        "basename" => basename,
        "dirname" => dirname,
        "seq" => seq,
        "sed" => sed,
        _ => return None,
    };
    if args.len() == 1 && args[0] == "--help" {
        let stdout = format!("Usage: {usage}\n{description}\n").into_bytes();
        return Some(Output { stdout, ..Output::default() });
    }
    let mut ctx = Ctx { name, stdin, cwd, ws, out: Vec::new(), err: Vec::new(), failed: false };
    let status = match tool(&mut ctx, args) {
        Ok(status) => status,
        Err(Fail::Usage(message)) => {
            ctx.warn(message);
            ctx.err.extend_from_slice(format!("Usage: {usage}\n").as_bytes());
            trouble(name)
        }
        Err(Fail::Fatal(message)) => {
            ctx.warn(message);
            trouble(name)
        }
    };
    Some(Output { stdout: ctx.out, stderr: ctx.err, status })
}

// ---------------------------------------------------------------------------------------------
// Shared plumbing: the tool context, errors, option parsing, lines, paths.

type Tool = fn(&mut Ctx, &[String]) -> Result<i32, Fail>;

/// Why a tool stopped early: bad usage (the message is followed by the usage line) or another error.
enum Fail {
    Usage(String),
    Fatal(String),
}

/// The exit status for trouble: GNU grep, diff and sort use 2 (1 means "no match" or "differ" there).
fn trouble(name: &str) -> i32 {
    match name {
        "grep" | "diff" | "sort" => 2,
        _ => 1,
    }
}

/// One tool run: its inputs and what it has printed so far.
struct Ctx<'a> {
    name: &'static str,
    stdin: &'a [u8],
    cwd: &'a str,
    ws: &'a mut dyn Workspace,
    out: Vec<u8>,
    err: Vec<u8>,
    /// Set by `warn`: an error that did not stop the tool but changes its exit status.
    failed: bool,
}

impl<'a> Ctx<'a> {
    fn warn(&mut self, message: impl std::fmt::Display) {
        self.err.extend_from_slice(format!("{}: {message}\n", self.name).as_bytes());
        self.failed = true;
    }

    /// 0, or the trouble status if a warning was printed.
    fn status(&self) -> i32 {
        if self.failed {
            trouble(self.name)
        } else {
            0
        }
    }

    fn path(&self, arg: &str) -> String {
        resolve(self.cwd, arg)
    }

    /// Reads operand `arg` (`-` is standard input); Err is the reason, e.g. "No such file or directory".
    fn read(&self, arg: &str) -> Result<Cow<'a, [u8]>, String> {
        if arg == "-" {
            return Ok(Cow::Borrowed(self.stdin));
        }
        self.read_path(&self.path(arg)).map(Cow::Owned)
    }

    fn read_path(&self, path: &str) -> Result<Vec<u8>, String> {
        if !self.ws.exists(path) {
            Err("No such file or directory".into())
        } else if self.ws.is_dir(path) {
            Err("Is a directory".into())
        } else {
            self.ws.read(path)
        }
    }

    /// The operands, or `-` (standard input) when there are none.
    fn inputs(operands: Vec<String>) -> Vec<String> {
        if operands.is_empty() {
            vec!["-".to_string()]
        } else {
            operands
        }
    }
}

/// Which options a tool takes: short flags, short options with a value, and long options as
/// (name, key reported to the tool, takes a value).
struct Spec {
    flags: &'static str,
    valued: &'static str,
    long: &'static [(&'static str, &'static str, bool)],
    /// Options end at the first operand, and a negative number is an operand (as for seq).
    stop_at_operand: bool,
}

/// A spec with short options only.
const fn short(flags: &'static str, valued: &'static str) -> Spec {
    Spec { flags, valued, long: &[], stop_at_operand: false }
}

/// Options in command-line order as (key, value) — the key is the short letter or the long
/// option's key, the value empty for flags — and the operands.
struct Parsed {
    opts: Vec<(String, String)>,
    operands: Vec<String>,
}

/// GNU-style option parsing: clustered flags (`-rn`), values attached or separate (`-n5`,
/// `-n 5`, `--include=X`), options after operands, and `--` ending the options.
fn getopt(args: &[String], spec: &Spec) -> Result<Parsed, Fail> {
    let mut parsed = Parsed { opts: Vec::new(), operands: Vec::new() };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            parsed.operands.extend(args.cloned());
            break;
        } else if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let Some(&(_, key, valued)) = spec.long.iter().find(|option| option.0 == name) else {
                return Err(Fail::Usage(format!("unrecognized option '{arg}'")));
            };
            let value = match (valued, inline) {
                (true, Some(value)) => value,
                (true, None) => args
                    .next()
                    .cloned()
                    .ok_or_else(|| Fail::Usage(format!("option '--{name}' requires an argument")))?,
                (false, None) => String::new(),
                (false, Some(_)) => return Err(Fail::Usage(format!("option '--{name}' doesn't allow an argument"))),
            };
            parsed.opts.push((key.to_string(), value));
        } else if arg.len() > 1 && arg.starts_with('-') && !(spec.stop_at_operand && is_number_like(arg)) {
            for (i, c) in arg.char_indices().skip(1) {
                if spec.valued.contains(c) {
                    let rest = &arg[i + c.len_utf8()..];
                    let value = if rest.is_empty() {
                        args.next()
                            .cloned()
                            .ok_or_else(|| Fail::Usage(format!("option requires an argument -- '{c}'")))?
                    } else {
                        rest.to_string()
                    };
                    parsed.opts.push((c.to_string(), value));
                    break;
                } else if spec.flags.contains(c) {
                    parsed.opts.push((c.to_string(), String::new()));
                } else {
                    return Err(Fail::Usage(format!("invalid option -- '{c}'")));
                }
            }
        } else {
            parsed.operands.push(arg.clone());
            if spec.stop_at_operand {
                parsed.operands.extend(args.cloned());
                break;
            }
        }
    }
    Ok(parsed)
}

/// `-5`, `-.5`: a negative number rather than options.
fn is_number_like(arg: &str) -> bool {
    arg[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// A non-negative decimal number, or a usage error naming what it was for.
fn number(value: &str, what: &str) -> Result<usize, Fail> {
    value.parse().map_err(|_| Fail::Usage(format!("invalid {what}: '{value}'")))
}

/// The lines of `data` without their newlines; a last line without a newline is still a line.
fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.is_empty() || data.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// The lines of `data` with their newlines, so that they concatenate back to `data`.
fn lines_with_ends(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

/// The name a tool prints for a file found below `parent`, which is as the user typed it.
fn join_display(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else if parent.ends_with('/') {
        format!("{parent}{name}")
    } else {
        format!("{parent}/{name}")
    }
}

fn join_path(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The last component of `name` (POSIX basename: trailing slashes ignored, `/` stays `/`).
fn base_name(name: &str) -> &str {
    let trimmed = name.trim_end_matches('/');
    if trimmed.is_empty() {
        return if name.is_empty() { "" } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// `name` without its last component (POSIX dirname).
fn dir_name(name: &str) -> &str {
    let trimmed = name.trim_end_matches('/');
    if trimmed.is_empty() {
        return if name.is_empty() { "." } else { "/" };
    }
    match trimmed.rfind('/') {
        None => ".",
        Some(i) => match trimmed[..i].trim_end_matches('/') {
            "" => "/",
            dir => dir,
        },
    }
}

fn glob(pattern: &str, case_insensitive: bool) -> Result<GlobMatcher, Fail> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .case_insensitive(case_insensitive)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|e| Fail::Fatal(format!("invalid pattern '{pattern}': {e}")))
}

// ---------------------------------------------------------------------------------------------
// POSIX regular expressions (grep, sed) in the regex crate's syntax.

/// Translates a GNU basic (`extended == false`) or extended regular expression into the regex
/// crate's syntax. In a BRE `\( \) \{ \} \| \+ \?` are operators and `( ) { } | + ?` literals.
/// A repetition at the start of an expression (which has nothing to repeat) is literal in a BRE
/// and ignored in an ERE, as GNU grep does; stacked repetitions (`a+?`) repeat the repetition, as
/// in POSIX, instead of making it lazy. Bracket expressions follow POSIX (a backslash in them is
/// literal, `]` first is literal).
fn posix_to_regex(pattern: &str, extended: bool) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut posix = Posix {
        chars: &chars,
        i: 0,
        extended,
        out: String::new(),
        at_start: true,
        groups: Vec::new(),
        atom: None,
        repeated: false,
    };
    while posix.i < chars.len() {
        posix.step()?;
    }
    Ok(posix.out)
}

/// The state of `posix_to_regex`.
struct Posix<'p> {
    chars: &'p [char],
    i: usize,
    extended: bool,
    out: String,
    /// Where an expression starts: at the start, after an open group, an alternation or `^`.
    at_start: bool,
    /// Where the open groups start in `out`.
    groups: Vec<usize>,
    /// Where the last atom (what a repetition repeats) starts in `out`.
    atom: Option<usize>,
    /// The atom already has a repetition.
    repeated: bool,
}

impl Posix<'_> {
    fn step(&mut self) -> Result<(), String> {
        let c = self.chars[self.i];
        self.i += 1;
        let start = std::mem::replace(&mut self.at_start, false);
        match c {
            '\\' => self.escape(start)?,
            '[' => {
                let atom = self.out.len();
                self.i = bracket(self.chars, self.i, &mut self.out)?;
                (self.atom, self.repeated) = (Some(atom), false);
            }
            '^' if self.extended || start => {
                self.anchor("^");
                self.at_start = true;
            }
            '$' if self.extended || bre_ends_here(self.chars, self.i) => self.anchor("$"),
            '*' => self.repeat("*", "*", start),
            '(' | ')' | '|' | '{' | '}' | '+' | '?' if self.extended => self.operator(c, start)?,
            '.' => self.atom("."),
            _ => self.literal(&c.to_string()),
        }
        Ok(())
    }

    /// What follows a backslash.
    fn escape(&mut self, start: bool) -> Result<(), String> {
        let Some(&next) = self.chars.get(self.i) else {
            return Err("trailing backslash (\\)".into());
        };
        self.i += 1;
        match next {
            '(' | ')' | '|' | '{' | '}' | '+' | '?' if !self.extended => self.operator(next, start)?,
            '1'..='9' => return Err("back-references (\\1 to \\9) are not supported".into()),
            'w' | 'W' | 's' | 'S' => self.atom(&format!("\\{next}")),
            'b' | 'B' | '<' | '>' => self.anchor(&format!("\\{next}")),
            '`' => self.anchor(r"\A"),
            '\'' => self.anchor(r"\z"),
            'n' => self.atom(r"\n"),
            't' => self.atom(r"\t"),
            _ => self.literal(&next.to_string()),
        }
        Ok(())
    }

    /// A group, an alternation or a repetition other than `*` (escaped in a BRE).
    fn operator(&mut self, op: char, start: bool) -> Result<(), String> {
        match op {
            '(' => {
                self.groups.push(self.out.len());
                self.out.push('(');
                self.atom = None;
                self.at_start = true;
            }
            ')' => match self.groups.pop() {
                Some(open) => {
                    self.out.push(')');
                    (self.atom, self.repeated) = (Some(open), false);
                }
                // GNU takes an unmatched `)` in an ERE literally.
                None if self.extended => self.literal(")"),
                None => return Err("Unmatched ) or \\)".into()),
            },
            '|' => {
                self.out.push('|');
                self.atom = None;
                self.at_start = true;
            }
            '+' | '?' => self.repeat(&op.to_string(), &op.to_string(), start),
            '{' => match interval(self.chars, self.i, self.extended) {
                Some((min, max, next)) => {
                    let text: String = std::iter::once('{')
                        .chain(self.chars[self.i..next].iter().copied().filter(|&c| c != '\\'))
                        .collect();
                    self.i = next;
                    self.repeat(&format!("{{{min},{max}}}"), &text, start);
                }
                None if self.extended => self.literal("{"),
                None => return Err("Invalid content of \\{\\}".into()),
            },
            _ => self.literal(&op.to_string()),
        }
        Ok(())
    }

    /// A repetition `quantifier` (its source `text` for when it is literal).
    fn repeat(&mut self, quantifier: &str, text: &str, start: bool) {
        if start && self.extended {
            self.at_start = true;
            return;
        }
        match self.atom.filter(|_| !start) {
            None => self.literal(text),
            Some(atom) => {
                if self.repeated {
                    self.out.insert_str(atom, "(?:");
                    self.out.push(')');
                }
                self.out.push_str(quantifier);
                self.repeated = true;
            }
        }
    }

    fn atom(&mut self, text: &str) {
        (self.atom, self.repeated) = (Some(self.out.len()), false);
        self.out.push_str(text);
    }

    fn literal(&mut self, text: &str) {
        self.atom(&regex::escape(text));
    }

    /// An assertion: in an ERE a repetition may follow it (and makes it optional), in a BRE that
    /// repetition is literal.
    fn anchor(&mut self, text: &str) {
        (self.atom, self.repeated) = (self.extended.then_some(self.out.len()), false);
        self.out.push_str(text);
    }
}

/// Parses the interval `m}`, `m,}`, `m,n}` or `,n}` (`\}` in a BRE) starting at `i`; returns
/// its bounds as the regex crate writes them and the index after it.
fn interval(chars: &[char], mut i: usize, extended: bool) -> Option<(String, String, usize)> {
    let digits = |i: &mut usize| {
        let start = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    let min = digits(&mut i);
    let max = if chars.get(i) == Some(&',') {
        i += 1;
        digits(&mut i)
    } else if min.is_empty() {
        return None;
    } else {
        min.clone()
    };
    if !extended {
        if chars.get(i) != Some(&'\\') {
            return None;
        }
        i += 1;
    }
    if chars.get(i) != Some(&'}') {
        return None;
    }
    let min = if min.is_empty() { "0".to_string() } else { min };
    Some((min, max, i + 1))
}

/// Whether a `$` just before `i` ends a BRE expression (and so is an anchor, not a literal).
fn bre_ends_here(chars: &[char], i: usize) -> bool {
    i == chars.len() || (chars.get(i) == Some(&'\\') && matches!(chars.get(i + 1), Some(')' | '|')))
}

/// Translates the bracket expression whose `[` is just before `i` onto `out`; returns the index after its `]`.
fn bracket(chars: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    const UNMATCHED: &str = "Unmatched [, [^, [:, [., or [=";
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let first = i;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(UNMATCHED.into());
        };
        if c == ']' && i > first {
            out.push(']');
            return Ok(i + 1);
        }
        if c == '[' && matches!(chars.get(i + 1), Some(':' | '.' | '=')) {
            let kind = chars[i + 1];
            let body = i + 2;
            let end = (body..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == kind && chars[j + 1] == ']')
                .ok_or(UNMATCHED)?;
            let name: String = chars[body..end].iter().collect();
            if kind == ':' {
                out.push_str(&format!("[:{name}:]"));
            } else {
                // [.c.] and [=c=] name one character in the C locale.
                out.push_str(&regex::escape(&name));
            }
            i = end + 2;
            continue;
        }
        if c == '-' && i != first && chars.get(i + 1) != Some(&']') {
            out.push('-');
        } else {
            out.push_str(&regex::escape(&c.to_string()));
        }
        i += 1;
    }
}

fn build_regex(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        // `^` and `$` also match around newlines, so that a whole file can be searched at once.
        .multi_line(true)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            let last = text.lines().last().unwrap_or_default();
            last.strip_prefix("error: ").unwrap_or(last).to_string()
        })
}

// ---------------------------------------------------------------------------------------------
// grep

const GREP: Spec = Spec {
    flags: "ivcnlLqsoarRhHEFGwxy",
    valued: "eABCm",
    long: &[("include", "include", true), ("exclude", "exclude", true), ("exclude-dir", "exclude-dir", true)],
    stop_at_operand: false,
};

#[derive(Clone, Copy)]
enum Syntax {
    Basic,
    Extended,
    Fixed,
}

#[derive(Default)]
struct GrepOpts {
    invert: bool,
    count: bool,
    number: bool,
    /// -l (Some(true)) or -L (Some(false)): print the names of files with (without) a selected line.
    list: Option<bool>,
    quiet: bool,
    silent: bool,
    only: bool,
    text: bool,
    recursive: bool,
    with_name: Option<bool>,
    before: usize,
    after: usize,
    max: Option<usize>,
    include: Vec<GlobMatcher>,
    exclude: Vec<GlobMatcher>,
    exclude_dir: Vec<GlobMatcher>,
}

/// grep: -i -v -c -n -l -L -q -s -o -w -x -h -H -a (binary files are reported as GNU does
/// unless -a), -r/-R (directories; `.` without FILE), -E, -F, -G, -e PATTERN (repeatable),
/// -A/-B/-C N context, -m N, --include/--exclude/--exclude-dir=GLOB (base names, with -r).
/// Exit status 0 if a line was selected, 1 if none, 2 on error (0 with -q and a match).
fn grep(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &GREP)?;
    let mut o = GrepOpts::default();
    let (mut syntax, mut icase, mut word, mut whole_line) = (Syntax::Basic, false, false, false);
    let mut patterns = Vec::new();
    for (key, value) in parsed.opts {
        let context =
            |value: &str| value.parse().map_err(|_| Fail::Fatal(format!("{value}: invalid context length argument")));
        match key.as_str() {
            "E" => syntax = Syntax::Extended,
            "F" => syntax = Syntax::Fixed,
            "G" => syntax = Syntax::Basic,
            "e" => patterns.push(value),
            "i" | "y" => icase = true,
            "w" => word = true,
            "x" => whole_line = true,
            "v" => o.invert = true,
            "c" => o.count = true,
            "n" => o.number = true,
            "l" => o.list = Some(true),
            "L" => o.list = Some(false),
            "q" => o.quiet = true,
            "s" => o.silent = true,
            "o" => o.only = true,
            "a" => o.text = true,
            "r" | "R" => o.recursive = true,
            "h" => o.with_name = Some(false),
            "H" => o.with_name = Some(true),
            "A" => o.after = context(&value)?,
            "B" => o.before = context(&value)?,
            "C" => (o.before, o.after) = (context(&value)?, context(&value)?),
            "m" => o.max = Some(number(&value, "max count")?),
            "include" => o.include.push(glob(&value, false)?),
            "exclude" => o.exclude.push(glob(&value, false)?),
            _ => o.exclude_dir.push(glob(&value, false)?),
        }
    }
    let mut operands = parsed.operands.into_iter();
    if patterns.is_empty() {
        patterns.push(operands.next().ok_or_else(|| Fail::Usage("no pattern given".into()))?);
    }
    let re = grep_regex(&patterns, syntax, icase, word, whole_line).map_err(Fail::Fatal)?;
    let operands: Vec<String> = operands.collect();
    let (sources, walked) = grep_sources(ctx, &operands, &o);
    let several = operands.len() > 1 || walked;
    let mut search = GrepSearch { with_name: o.with_name.unwrap_or(several), re, o, printed: false };
    let mut selected_any = false;
    for source in sources {
        let data = match &source.path {
            None => Cow::Borrowed(ctx.stdin),
            Some(path) => match ctx.read_path(path) {
                Ok(data) => Cow::Owned(data),
                Err(reason) => {
                    if search.o.silent {
                        ctx.failed = true;
                    } else {
                        ctx.warn(format!("{}: {reason}", source.name));
                    }
                    continue;
                }
            },
        };
        if search.search(&source.name, &data, &mut ctx.out, &mut ctx.err) > 0 {
            selected_any = true;
            if search.o.quiet {
                return Ok(0);
            }
        }
    }
    Ok(if ctx.failed {
        2
    } else if selected_any {
        0
    } else {
        1
    })
}

/// One regex for all patterns. Group 1 is the match proper (what -o prints): -w needs the
/// characters around it, and the regex crate cannot look at them without consuming them.
fn grep_regex(patterns: &[String], syntax: Syntax, icase: bool, word: bool, whole_line: bool) -> Result<Regex, String> {
    let alternatives = patterns
        .iter()
        .flat_map(|pattern| pattern.split('\n'))
        .map(|pattern| match syntax {
            Syntax::Fixed => Ok(regex::escape(pattern)),
            Syntax::Basic => posix_to_regex(pattern, false),
            Syntax::Extended => posix_to_regex(pattern, true),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let body = alternatives.iter().map(|a| format!("(?:{a})")).collect::<Vec<_>>().join("|");
    let full = if whole_line {
        format!("^({body})$")
    } else if word {
        format!(r"(?:^|\W)({body})(?:\W|$)")
    } else {
        format!("({body})")
    };
    build_regex(&full, icase)
}

/// An input of grep: the name it prints and the workspace path (None for standard input).
struct GrepSource {
    name: String,
    path: Option<String>,
}

/// grep's inputs: the operands, with directories expanded under -r (`.` unnamed without
/// operands); and whether a directory was walked (then names are printed, as for several files).
fn grep_sources(ctx: &mut Ctx, operands: &[String], o: &GrepOpts) -> (Vec<GrepSource>, bool) {
    let mut sources = Vec::new();
    let mut walked = false;
    if operands.is_empty() {
        if o.recursive {
            walked = true;
            let cwd = ctx.cwd.to_string();
            grep_walk(ctx, "", &cwd, o, &mut sources);
        } else {
            sources.push(GrepSource { name: "(standard input)".into(), path: None });
        }
    }
    for arg in operands {
        let path = ctx.path(arg);
        if arg == "-" {
            sources.push(GrepSource { name: "(standard input)".into(), path: None });
        } else if o.recursive && ctx.ws.is_dir(&path) {
            walked = true;
            grep_walk(ctx, arg, &path, o, &mut sources);
        } else {
            sources.push(GrepSource { name: arg.clone(), path: Some(path) });
        }
    }
    (sources, walked)
}

fn grep_walk(ctx: &mut Ctx, name: &str, path: &str, o: &GrepOpts, sources: &mut Vec<GrepSource>) {
    let entries = match ctx.ws.list(path) {
        Ok(entries) => entries,
        Err(e) => return ctx.warn(format!("{name}: {e}")),
    };
    for entry in entries {
        let (child_name, child_path) = (join_display(name, &entry), join_path(path, &entry));
        if ctx.ws.is_dir(&child_path) {
            if !o.exclude_dir.iter().any(|g| g.is_match(&entry)) {
                grep_walk(ctx, &child_name, &child_path, o, sources);
            }
        } else if (o.include.is_empty() || o.include.iter().any(|g| g.is_match(&entry)))
            && !o.exclude.iter().any(|g| g.is_match(&entry))
        {
            sources.push(GrepSource { name: child_name, path: Some(child_path) });
        }
    }
}

struct GrepSearch {
    re: Regex,
    o: GrepOpts,
    with_name: bool,
    /// Whether any line has been printed, for the `--` between context groups (across files too).
    printed: bool,
}

impl GrepSearch {
    /// Prints what grep prints for one input; returns the number of selected lines.
    fn search(&mut self, name: &str, data: &[u8], out: &mut Vec<u8>, err: &mut Vec<u8>) -> usize {
        let o = &self.o;
        // Without a match anywhere in the input no line matches: skip the per-line work.
        let lines = if !o.invert && !self.re.is_match(data) { Vec::new() } else { split_lines(data) };
        let selected: Vec<usize> = (0..lines.len())
            .filter(|&i| self.re.is_match(lines[i]) != o.invert)
            .take(o.max.unwrap_or(usize::MAX))
            .collect();
        if o.quiet {
            return selected.len();
        }
        if let Some(with) = o.list {
            if selected.is_empty() != with {
                out.extend_from_slice(format!("{name}\n").as_bytes());
            }
        } else if o.count {
            if self.with_name {
                out.extend_from_slice(format!("{name}:").as_bytes());
            }
            out.extend_from_slice(format!("{}\n", selected.len()).as_bytes());
        } else if !selected.is_empty() && !o.text && data.contains(&0) {
            err.extend_from_slice(format!("grep: {name}: binary file matches\n").as_bytes());
        } else {
            self.print_lines(name, &lines, &selected, out);
        }
        selected.len()
    }

    /// Prints the selected lines with their context and the `--` between non-adjacent groups.
    fn print_lines(&mut self, name: &str, lines: &[&[u8]], selected: &[usize], out: &mut Vec<u8>) {
        let (before, after) = if self.o.only { (0, 0) } else { (self.o.before, self.o.after) };
        let mut next: Option<usize> = None; // the first line not printed yet, once one was
        for (k, &i) in selected.iter().enumerate() {
            let from = i.saturating_sub(before).max(next.unwrap_or(0));
            if (before > 0 || after > 0) && self.printed && next.is_none_or(|n| from > n) {
                out.extend_from_slice(b"--\n");
            }
            self.print_context(name, lines, from..i, out);
            if self.o.only {
                self.print_matches(name, i, lines[i], out);
            } else {
                self.print_line(name, i, lines[i], b':', out);
            }
            let until =
                (i + 1).saturating_add(after).min(selected.get(k + 1).copied().unwrap_or(lines.len())).min(lines.len());
            self.print_context(name, lines, i + 1..until, out);
            next = Some(until);
        }
    }

    fn print_context(&mut self, name: &str, lines: &[&[u8]], range: Range<usize>, out: &mut Vec<u8>) {
        for (offset, line) in lines[range.clone()].iter().enumerate() {
            self.print_line(name, range.start + offset, line, b'-', out);
        }
    }

    fn prefix(&mut self, name: &str, index: usize, separator: u8, out: &mut Vec<u8>) {
        self.printed = true;
        if self.with_name {
            out.extend_from_slice(name.as_bytes());
            out.push(separator);
        }
        if self.o.number {
            out.extend_from_slice((index + 1).to_string().as_bytes());
            out.push(separator);
        }
    }

    fn print_line(&mut self, name: &str, index: usize, line: &[u8], separator: u8, out: &mut Vec<u8>) {
        self.prefix(name, index, separator, out);
        out.extend_from_slice(line);
        out.push(b'\n');
    }

    /// -o: each non-empty match on a line of its own (nothing for lines selected by -v).
    fn print_matches(&mut self, name: &str, index: usize, line: &[u8], out: &mut Vec<u8>) {
        if self.o.invert {
            return;
        }
        let mut at = 0;
        while at <= line.len() {
            let Some(m) = self.re.captures_at(line, at).and_then(|c| c.get(1)) else { break };
            if m.is_empty() {
                at = m.end() + 1;
                continue;
            }
            self.prefix(name, index, b':', out);
            out.extend_from_slice(m.as_bytes());
            out.push(b'\n');
            // Resume at the end of the match proper, so that -w can use the character after it.
            at = m.end();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// head, tail

const HEAD_TAIL: Spec = short("qv", "nc");

/// How much head or tail keeps: a count of lines or bytes, and whether it was signed (`-N` for
/// head: all but the last N; `+N` for tail: from the N-th on).
struct Amount {
    bytes: bool,
    signed: bool,
    count: usize,
}

/// `-NUM` as the first argument is the obsolete form of `-n NUM`.
fn obsolete_count(args: &[String]) -> Vec<String> {
    match args.first() {
        Some(first) if first.len() > 1 && first.starts_with('-') && first[1..].bytes().all(|b| b.is_ascii_digit()) => {
            let mut args = args.to_vec();
            args.splice(0..1, ["-n".to_string(), first[1..].to_string()]);
            args
        }
        _ => args.to_vec(),
    }
}

/// Parses head's or tail's options; `sign` is the prefix that sets `Amount::signed`.
fn head_tail_options(args: &[String], sign: char) -> Result<(Amount, Option<bool>, Vec<String>), Fail> {
    let parsed = getopt(&obsolete_count(args), &HEAD_TAIL)?;
    let mut amount = Amount { bytes: false, signed: false, count: 10 };
    let mut headers = None;
    for (key, value) in parsed.opts {
        match key.as_str() {
            "q" => headers = Some(false),
            "v" => headers = Some(true),
            _ => {
                let bytes = key == "c";
                let what = if bytes { "number of bytes" } else { "number of lines" };
                let digits = value.strip_prefix(['+', '-']).unwrap_or(&value);
                let count = digits.parse().map_err(|_| Fail::Fatal(format!("invalid {what}: '{value}'")))?;
                amount = Amount { bytes, signed: value.starts_with(sign), count };
            }
        }
    }
    Ok((amount, headers, Ctx::inputs(parsed.operands)))
}

/// Runs head or tail over every input, with `==> NAME <==` headers for several.
fn head_tail(
    ctx: &mut Ctx,
    args: &[String],
    sign: char,
    part: for<'d> fn(&'d [u8], &Amount) -> &'d [u8],
) -> Result<i32, Fail> {
    let (amount, headers, inputs) = head_tail_options(args, sign)?;
    let headers = headers.unwrap_or(inputs.len() > 1);
    let mut first = true;
    for input in &inputs {
        let data = ctx.read(input);
        // GNU opens a directory (so prints its header) and fails on reading it.
        let opened = data.is_ok() || (input != "-" && ctx.ws.is_dir(&ctx.path(input)));
        if headers && opened {
            let name = if input == "-" { "standard input" } else { input };
            let blank = if first { "" } else { "\n" };
            ctx.out.extend_from_slice(format!("{blank}==> {name} <==\n").as_bytes());
            first = false;
        }
        match data {
            Ok(data) => ctx.out.extend_from_slice(part(&data, &amount)),
            Err(reason) if opened => ctx.warn(format!("error reading '{input}': {reason}")),
            Err(reason) => ctx.warn(format!("cannot open '{input}' for reading: {reason}")),
        }
    }
    Ok(ctx.status())
}

/// head: -n N, -N, -n -N (all but the last N lines), -c N, -c -N, -q, -v.
fn head(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    head_tail(ctx, args, '-', |data, amount| {
        let units = if amount.bytes { data.len() } else { lines_with_ends(data).len() };
        let keep = if amount.signed { units.saturating_sub(amount.count) } else { amount.count.min(units) };
        &data[..byte_offset(data, amount.bytes, keep)]
    })
}

/// tail: -n N, -N, -n +N (from line N on), -c N, -c +N, -q, -v.
fn tail(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    head_tail(ctx, args, '+', |data, amount| {
        let units = if amount.bytes { data.len() } else { lines_with_ends(data).len() };
        let skip =
            if amount.signed { amount.count.saturating_sub(1).min(units) } else { units.saturating_sub(amount.count) };
        &data[byte_offset(data, amount.bytes, skip)..]
    })
}

/// The offset in `data` after its first `units` bytes or lines.
fn byte_offset(data: &[u8], bytes: bool, units: usize) -> usize {
    if bytes {
        units
    } else {
        lines_with_ends(data)[..units].iter().map(|line| line.len()).sum()
    }
}

// ---------------------------------------------------------------------------------------------
// wc

/// wc: -l -w -m -c (default: lines, words, bytes), a `total` line for several files. Counts are
/// right-aligned to GNU's width: 1 for a single count of a single input, else the digits of the
/// readable inputs' total size, at least 7 when standard input or a directory is among them.
fn wc(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &short("lwmc", ""))?;
    let mut columns: Vec<char> =
        "lwmc".chars().filter(|c| parsed.opts.iter().any(|(k, _)| *k == c.to_string())).collect();
    if columns.is_empty() {
        columns = vec!['l', 'w', 'c'];
    }
    let named = !parsed.operands.is_empty();
    let inputs = Ctx::inputs(parsed.operands);
    // Per input: the counts (None if it could not be read) and whether it counts as a regular file.
    let mut rows: Vec<(Option<[usize; 4]>, bool)> = Vec::new();
    for input in &inputs {
        let row = match ctx.read(input) {
            Ok(data) => (Some(counts(&data)), input != "-"),
            Err(reason) => {
                ctx.warn(format!("{input}: {reason}"));
                let is_dir = ctx.ws.is_dir(&ctx.path(input));
                (is_dir.then_some([0; 4]), false)
            }
        };
        rows.push(row);
    }
    let width = wc_width(&rows, columns.len());
    let mut total = [0usize; 4];
    for ((row, _), input) in rows.iter().zip(&inputs) {
        let Some(row) = row else { continue };
        for k in 0..4 {
            total[k] += row[k];
        }
        let name = if named { Some(input.as_str()) } else { None };
        wc_line(&mut ctx.out, row, &columns, width, name);
    }
    if inputs.len() > 1 {
        wc_line(&mut ctx.out, &total, &columns, width, Some("total"));
    }
    Ok(ctx.status())
}

/// Lines, words, characters (UTF-8) and bytes.
fn counts(data: &[u8]) -> [usize; 4] {
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    let words = data.split(|b| b" \t\n\r\x0b\x0c".contains(b)).filter(|w| !w.is_empty()).count();
    let chars = data.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
    [lines, words, chars, data.len()]
}

fn wc_width(rows: &[(Option<[usize; 4]>, bool)], columns: usize) -> usize {
    if rows.len() == 1 && columns == 1 {
        return 1;
    }
    let size: usize = rows.iter().filter(|(_, regular)| *regular).filter_map(|(row, _)| row.map(|r| r[3])).sum();
    let any_special = rows.iter().any(|(row, regular)| row.is_some() && !regular);
    let width = size.to_string().len();
    if any_special {
        width.max(7)
    } else {
        width
    }
}

fn wc_line(out: &mut Vec<u8>, row: &[usize; 4], columns: &[char], width: usize, name: Option<&str>) {
    let fields: Vec<String> =
        columns.iter().map(|c| format!("{:>width$}", row["lwmc".find(*c).unwrap_or(0)])).collect();
    let mut line = fields.join(" ");
    if let Some(name) = name {
        line = format!("{line} {name}");
    }
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
}

// ---------------------------------------------------------------------------------------------
// sort

/// How one key compares.
#[derive(Clone, Copy, Default)]
struct Order {
    numeric: bool,
    reverse: bool,
    fold: bool,
}

/// A sort key as GNU stores it: 0-based start field and character, end field (None: end of line)
/// and character (0: end of the field), and whether leading blanks are skipped at either end.
#[derive(Clone, Copy)]
struct SortKey {
    start_field: usize,
    start_char: usize,
    end_field: Option<usize>,
    end_char: usize,
    skip_start_blanks: bool,
    skip_end_blanks: bool,
    order: Order,
}

struct Sorter {
    keys: Vec<SortKey>,
    separator: Option<u8>,
    /// -r: also reverses the last-resort comparison of whole lines.
    reverse: bool,
    /// -u or -s: no last-resort comparison.
    no_last_resort: bool,
}

/// sort: -n -r -u -f -b -s -t SEP -k F[.C][bfnr][,F[.C][bfnr]] (repeatable), files concatenated;
/// byte order and GNU's last-resort whole-line comparison, as with LC_ALL=C.
fn sort(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &short("nrufbs", "tk"))?;
    let (mut global, mut blanks, mut unique, mut stable) = (Order::default(), false, false, false);
    let mut separator = None;
    let mut key_specs = Vec::new();
    for (key, value) in parsed.opts {
        match key.as_str() {
            "n" => global.numeric = true,
            "r" => global.reverse = true,
            "f" => global.fold = true,
            "b" => blanks = true,
            "u" => unique = true,
            "s" => stable = true,
            "t" => match value.as_bytes() {
                [byte] => separator = Some(*byte),
                [] => return Err(Fail::Fatal("empty tab".into())),
                _ => return Err(Fail::Fatal(format!("multi-character tab '{value}'"))),
            },
            _ => key_specs.push(value),
        }
    }
    let mut keys = key_specs.iter().map(|spec| parse_sort_key(spec, global, blanks)).collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        let whole = SortKey {
            start_field: 0,
            start_char: 0,
            end_field: None,
            end_char: 0,
            skip_start_blanks: blanks,
            skip_end_blanks: blanks,
            order: global,
        };
        keys.push(whole);
    }
    let sorter = Sorter { keys, separator, reverse: global.reverse, no_last_resort: unique || stable };
    let mut data = Vec::new();
    for input in Ctx::inputs(parsed.operands) {
        match ctx.read(&input) {
            Ok(bytes) => data.push(bytes),
            Err(reason) => return Err(Fail::Fatal(format!("cannot read: {input}: {reason}"))),
        }
    }
    let mut lines: Vec<&[u8]> = data.iter().flat_map(|bytes| split_lines(bytes)).collect();
    lines.sort_by(|a, b| sorter.compare(a, b));
    if unique {
        lines.dedup_by(|later, earlier| sorter.compare(earlier, later) == Ordering::Equal);
    }
    for line in lines {
        ctx.out.extend_from_slice(line);
        ctx.out.push(b'\n');
    }
    Ok(0)
}

/// Parses `F[.C][OPTS][,F[.C][OPTS]]`; a key without options takes the global ones.
fn parse_sort_key(spec: &str, global: Order, global_blanks: bool) -> Result<SortKey, Fail> {
    let invalid = || Fail::Fatal(format!("invalid field specification '{spec}'"));
    let (start, end) = match spec.split_once(',') {
        Some((start, end)) => (start, Some(end)),
        None => (spec, None),
    };
    let (start_field, start_char, start_opts) = parse_key_position(start).ok_or_else(invalid)?;
    let mut key = SortKey {
        start_field: start_field.checked_sub(1).ok_or_else(invalid)?,
        start_char: start_char.unwrap_or(1).checked_sub(1).ok_or_else(invalid)?,
        end_field: None,
        end_char: 0,
        skip_start_blanks: false,
        skip_end_blanks: false,
        order: Order::default(),
    };
    let mut options: String = start_opts.to_string();
    key.skip_start_blanks = start_opts.contains('b');
    if let Some(end) = end {
        let (end_field, end_char, end_opts) = parse_key_position(end).ok_or_else(invalid)?;
        key.end_field = Some(end_field.checked_sub(1).ok_or_else(invalid)?);
        key.end_char = end_char.unwrap_or(0);
        key.skip_end_blanks = end_opts.contains('b');
        options.push_str(end_opts);
    }
    if options.is_empty() {
        key.order = global;
        key.skip_start_blanks = global_blanks;
        key.skip_end_blanks = global_blanks;
    }
    for option in options.chars() {
        match option {
            'n' => key.order.numeric = true,
            'r' => key.order.reverse = true,
            'f' => key.order.fold = true,
            'b' => {}
            _ => return Err(invalid()),
        }
    }
    Ok(key)
}

/// `F[.C]OPTS` → (F, C, OPTS).
fn parse_key_position(position: &str) -> Option<(usize, Option<usize>, &str)> {
    let digits_end = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let split = digits_end(position);
    let field = position[..split].parse().ok()?;
    let rest = &position[split..];
    match rest.strip_prefix('.') {
        Some(after_dot) => {
            let split = digits_end(after_dot);
            Some((field, Some(after_dot[..split].parse().ok()?), &after_dot[split..]))
        }
        None => Some((field, None, rest)),
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl Sorter {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        for key in &self.keys {
            let ordering = self.compare_key(key, a, b);
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        if self.no_last_resort {
            return Ordering::Equal;
        }
        let ordering = a.cmp(b);
        if self.reverse {
            ordering.reverse()
        } else {
            ordering
        }
    }

    fn compare_key(&self, key: &SortKey, a: &[u8], b: &[u8]) -> Ordering {
        let (a, b) = (self.extract(key, a), self.extract(key, b));
        let ordering = if key.order.numeric {
            numeric_cmp(a, b)
        } else if key.order.fold {
            a.iter().map(u8::to_ascii_uppercase).cmp(b.iter().map(u8::to_ascii_uppercase))
        } else {
            a.cmp(b)
        };
        if key.order.reverse {
            ordering.reverse()
        } else {
            ordering
        }
    }

    /// The key's text in `line`, as GNU's begfield and limfield find it.
    fn extract<'l>(&self, key: &SortKey, line: &'l [u8]) -> &'l [u8] {
        let mut begin = self.skip_fields(line, key.start_field, true);
        if key.skip_start_blanks {
            begin = skip_blanks(line, begin);
        }
        begin = begin.saturating_add(key.start_char).min(line.len());
        let end = match key.end_field {
            None => line.len(),
            Some(field) if key.end_char == 0 => self.skip_fields(line, field + 1, false),
            Some(field) => {
                let mut end = self.skip_fields(line, field, true);
                if key.skip_end_blanks {
                    end = skip_blanks(line, end);
                }
                end.saturating_add(key.end_char).min(line.len())
            }
        };
        &line[begin..end.max(begin)]
    }

    /// The offset after the first `fields` fields. With a separator, past the separator after
    /// each one (except after the last when `past_last_separator` is false); without one, a
    /// field is its leading blanks and the non-blanks after them.
    fn skip_fields(&self, line: &[u8], fields: usize, past_last_separator: bool) -> usize {
        let mut at = 0;
        for n in 0..fields {
            match self.separator {
                Some(separator) => {
                    while at < line.len() && line[at] != separator {
                        at += 1;
                    }
                    if at < line.len() && (past_last_separator || n + 1 < fields) {
                        at += 1;
                    }
                }
                None => {
                    at = skip_blanks(line, at);
                    while at < line.len() && !is_blank(line[at]) {
                        at += 1;
                    }
                }
            }
        }
        at
    }
}

fn skip_blanks(line: &[u8], mut at: usize) -> usize {
    while at < line.len() && is_blank(line[at]) {
        at += 1;
    }
    at
}

/// Compares leading numbers as `sort -n` does: blanks, an optional `-`, digits, an optional
/// fraction; anything else (or nothing) is zero. Exact for any length of digits.
fn numeric_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (a_negative, a_int, a_frac) = parse_number(a);
    let (b_negative, b_int, b_frac) = parse_number(b);
    let a_negative = a_negative && !(a_int.is_empty() && a_frac.is_empty());
    let b_negative = b_negative && !(b_int.is_empty() && b_frac.is_empty());
    match (a_negative, b_negative) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => {
            let magnitude = a_int.len().cmp(&b_int.len()).then(a_int.cmp(b_int)).then(a_frac.cmp(b_frac));
            if a_negative {
                magnitude.reverse()
            } else {
                magnitude
            }
        }
    }
}

/// (negative, integer digits without leading zeros, fraction digits without trailing zeros).
fn parse_number(text: &[u8]) -> (bool, &[u8], &[u8]) {
    let text = &text[skip_blanks(text, 0)..];
    let (negative, text) = match text.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let int_len = digits(text);
    let int = &text[..int_len];
    let int = &int[int.iter().take_while(|&&b| b == b'0').count()..];
    let frac = match text[int_len..].strip_prefix(b".") {
        Some(rest) => &rest[..digits(rest)],
        None => &[],
    };
    let frac = &frac[..frac.len() - frac.iter().rev().take_while(|&&b| b == b'0').count()];
    (negative, int, frac)
}

// ---------------------------------------------------------------------------------------------
// uniq

/// uniq: -c (GNU's `%7d ` counts), -d (one copy of each repeated line), -u (only unrepeated
/// lines), -i (ignore case); INPUT (default stdin) and an optional OUTPUT file.
fn uniq(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &short("cdui", ""))?;
    let has = |flag: &str| parsed.opts.iter().any(|(k, _)| k == flag);
    let (count, repeated, unrepeated, icase) = (has("c"), has("d"), has("u"), has("i"));
    let (input, output) = match parsed.operands.as_slice() {
        [] => ("-".to_string(), None),
        [input] => (input.clone(), None),
        [input, output] => (input.clone(), Some(output.clone())),
        [_, _, extra, ..] => return Err(Fail::Usage(format!("extra operand '{extra}'"))),
    };
    let data = ctx.read(&input).map_err(|reason| Fail::Fatal(format!("{input}: {reason}")))?;
    let same = |a: &[u8], b: &[u8]| if icase { a.eq_ignore_ascii_case(b) } else { a == b };
    let lines = split_lines(&data);
    let mut result = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let run = lines[i..].iter().take_while(|line| same(line, lines[i])).count();
        if (run > 1 || !repeated) && (run == 1 || !unrepeated) {
            if count {
                result.extend_from_slice(format!("{run:7} ").as_bytes());
            }
            result.extend_from_slice(lines[i]);
            result.push(b'\n');
        }
        i += run;
    }
    match output.filter(|output| output != "-") {
        None => ctx.out.extend_from_slice(&result),
        Some(output) => {
            let path = ctx.path(&output);
            ctx.ws.write(&path, &result, false).map_err(|e| Fail::Fatal(format!("{output}: {e}")))?;
        }
    }
    Ok(0)
}

// ---------------------------------------------------------------------------------------------
// find

/// A find expression.
enum Expr {
    True,
    Name(GlobMatcher),
    Path(GlobMatcher),
    /// -type: the letter.
    Type(char),
    Print,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// Parses find's expression by recursive descent: or ← and (-o and)*, and ← not ([-a] not)*,
/// not ← (! | -not) not | ( or ) | primary. Collects -maxdepth/-mindepth and whether -print appears.
struct FindParser<'t> {
    tokens: &'t [String],
    at: usize,
    max_depth: Option<usize>,
    min_depth: usize,
    has_print: bool,
}

impl FindParser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn next(&mut self) -> Option<&str> {
        self.at += 1;
        self.tokens.get(self.at - 1).map(String::as_str)
    }

    fn or(&mut self) -> Result<Expr, Fail> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("-o" | "-or")) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, Fail> {
        let mut left = self.not()?;
        loop {
            match self.peek() {
                None | Some("-o" | "-or" | ")") => return Ok(left),
                Some("-a" | "-and") => self.at += 1,
                Some(_) => {}
            }
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
    }

    fn not(&mut self) -> Result<Expr, Fail> {
        match self.next() {
            Some("!" | "-not") => Ok(Expr::Not(Box::new(self.not()?))),
            Some("(") => {
                let inner = self.or()?;
                match self.next() {
                    Some(")") => Ok(inner),
                    _ => Err(Fail::Fatal(
                        "invalid expression; I was expecting to find a ')' somewhere but did not see one.".into(),
                    )),
                }
            }
            Some(primary) => {
                let primary = primary.to_string();
                self.primary(&primary)
            }
            None => Err(Fail::Fatal("invalid expression; expected an expression".into())),
        }
    }

    fn primary(&mut self, name: &str) -> Result<Expr, Fail> {
        if name == "-print" {
            self.has_print = true;
            return Ok(Expr::Print);
        }
        if !matches!(name, "-name" | "-iname" | "-path" | "-ipath" | "-wholename" | "-type" | "-maxdepth" | "-mindepth")
        {
            return Err(Fail::Fatal(format!("unknown or unsupported predicate '{name}'")));
        }
        let argument = self.next().ok_or_else(|| Fail::Fatal(format!("missing argument to `{name}'")))?.to_string();
        let depth = |value: &str| {
            value.parse().map_err(|_| {
                Fail::Fatal(format!("Expected a positive decimal integer argument to {name}, but got '{value}'"))
            })
        };
        Ok(match name {
            "-name" => Expr::Name(glob(&argument, false)?),
            "-iname" => Expr::Name(glob(&argument, true)?),
            "-path" | "-wholename" => Expr::Path(glob(&argument, false)?),
            "-ipath" => Expr::Path(glob(&argument, true)?),
            "-type" => match argument.as_str() {
                "f" | "d" | "l" | "b" | "c" | "p" | "s" | "D" => Expr::Type(argument.chars().next().unwrap_or('f')),
                _ => return Err(Fail::Fatal(format!("Unknown argument to -type: {argument}"))),
            },
            "-maxdepth" => {
                self.max_depth = Some(depth(&argument)?);
                Expr::True
            }
            _ => {
                self.min_depth = depth(&argument)?;
                Expr::True
            }
        })
    }
}

impl Expr {
    /// Evaluates the expression on a path; -print writes it to `out`.
    fn eval(&self, display: &str, is_dir: bool, out: &mut Vec<u8>) -> bool {
        match self {
            Expr::True => true,
            Expr::Name(glob) => glob.is_match(base_name(display)),
            Expr::Path(glob) => glob.is_match(display),
            Expr::Type(kind) => match kind {
                'd' => is_dir,
                'f' => !is_dir,
                _ => false, // the workspace has no links, devices, pipes or sockets
            },
            Expr::Print => {
                out.extend_from_slice(display.as_bytes());
                out.push(b'\n');
                true
            }
            Expr::Not(inner) => !inner.eval(display, is_dir, out),
            Expr::And(left, right) => left.eval(display, is_dir, out) && right.eval(display, is_dir, out),
            Expr::Or(left, right) => left.eval(display, is_dir, out) || right.eval(display, is_dir, out),
        }
    }
}

/// find: PATH... (default `.`), then an expression of -name, -iname, -path/-wholename, -ipath,
/// -type f|d, -print, -maxdepth N, -mindepth N, with ! -not -a -and -o -or ( ). Prints each
/// path (as reached from the PATH given) that matches, or what -print prints. Directories are
/// walked in name order, where GNU find uses the unsorted on-disk order.
fn find(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let split =
        args.iter().position(|a| (a.starts_with('-') && a.len() > 1) || a == "!" || a == "(").unwrap_or(args.len());
    let (paths, tokens) = args.split_at(split);
    let mut parser = FindParser { tokens, at: 0, max_depth: None, min_depth: 0, has_print: false };
    let expr = if tokens.is_empty() { Expr::True } else { parser.or()? };
    if let Some(extra) = parser.peek() {
        return Err(Fail::Fatal(format!("unexpected '{extra}' in the expression")));
    }
    let walk = FindWalk { expr, max_depth: parser.max_depth, min_depth: parser.min_depth, print: !parser.has_print };
    let default = [".".to_string()];
    for start in if paths.is_empty() { &default[..] } else { paths } {
        let path = ctx.path(start);
        if ctx.ws.exists(&path) {
            walk.visit(ctx, start.clone(), &path, 0);
        } else {
            ctx.warn(format!("'{start}': No such file or directory"));
        }
    }
    Ok(ctx.status())
}

struct FindWalk {
    expr: Expr,
    max_depth: Option<usize>,
    min_depth: usize,
    /// Print what matches: the expression has no -print of its own.
    print: bool,
}

impl FindWalk {
    fn visit(&self, ctx: &mut Ctx, display: String, path: &str, depth: usize) {
        let is_dir = ctx.ws.is_dir(path);
        if depth >= self.min_depth && self.expr.eval(&display, is_dir, &mut ctx.out) && self.print {
            ctx.out.extend_from_slice(display.as_bytes());
            ctx.out.push(b'\n');
        }
        if !is_dir || self.max_depth.is_some_and(|max| depth >= max) {
            return;
        }
        match ctx.ws.list(path) {
            Ok(entries) => {
                for entry in entries {
                    self.visit(ctx, join_display(&display, &entry), &join_path(path, &entry), depth + 1);
                }
            }
            Err(e) => ctx.warn(format!("'{display}': {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// diff

/// diff: FILE1 FILE2 (`-` is standard input; a directory and a file compare the file with the
/// one of the same name in the directory), the normal format by default, -u / -U N unified
/// (headers without timestamps), -q brief. Exit 0 same, 1 different, 2 trouble.
fn diff(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &short("uq", "U"))?;
    let (mut context, mut brief) = (None, false);
    for (key, value) in &parsed.opts {
        match key.as_str() {
            "u" => context = Some(3),
            "U" => context = Some(number(value, "context length")?),
            _ => brief = true,
        }
    }
    let [a, b] = match parsed.operands.as_slice() {
        [a, b] => [a.clone(), b.clone()],
        [] => return Err(Fail::Usage("missing operand".into())),
        [a] => return Err(Fail::Usage(format!("missing operand after '{a}'"))),
        [_, _, extra, ..] => return Err(Fail::Usage(format!("extra operand '{extra}'"))),
    };
    let (a, b) = (diff_operand(ctx, &a, &b)?, diff_operand(ctx, &b, &a)?);
    let (old, new) = (ctx.read(&a), ctx.read(&b));
    let (old, new) = match (old, new) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(reason), _) => return Err(Fail::Fatal(format!("{a}: {reason}"))),
        (_, Err(reason)) => return Err(Fail::Fatal(format!("{b}: {reason}"))),
    };
    if old == new {
        return Ok(0);
    }
    if brief || old.contains(&0) || new.contains(&0) {
        let what = if brief { "Files" } else { "Binary files" };
        ctx.out.extend_from_slice(format!("{what} {a} and {b} differ\n").as_bytes());
        return Ok(1);
    }
    let (old, new) = (lines_with_ends(&old), lines_with_ends(&new));
    let changes = changes(&old, &new);
    match context {
        Some(context) => unified(&mut ctx.out, &a, &b, &old, &new, &changes, context),
        None => normal(&mut ctx.out, &old, &new, &changes),
    }
    Ok(1)
}

/// A directory operand stands for the file named like `other` in it (only one may be a directory).
fn diff_operand(ctx: &Ctx, operand: &str, other: &str) -> Result<String, Fail> {
    if operand == "-" || !ctx.ws.is_dir(&ctx.path(operand)) {
        return Ok(operand.to_string());
    }
    if other == "-" || ctx.ws.is_dir(&ctx.path(other)) {
        return Err(Fail::Fatal(format!("{operand}: comparing directories is not supported")));
    }
    Ok(join_display(operand, base_name(other)))
}

/// The runs of differing lines, as (old range, new range): similar's Myers diff, with the runs
/// slid as GNU diff slides them, so that hunks come out as GNU prints them. Where several
/// minimal diffs exist, similar may still pick another one than GNU (as minimal, and valid).
/// (similar's own `capture_diff_slices` compacts too, but in 2.7 it can return inconsistent
/// indices.)
fn changes(old: &[&[u8]], new: &[&[u8]]) -> Vec<(Range<usize>, Range<usize>)> {
    let mut capture = Capture::new();
    let Ok(()) = myers::diff(&mut capture, old, 0..old.len(), new, 0..new.len());
    let (mut old_changed, mut new_changed) = (vec![false; old.len()], vec![false; new.len()]);
    for op in capture.into_ops() {
        if !matches!(op, DiffOp::Equal { .. }) {
            old_changed[op.old_range()].fill(true);
            new_changed[op.new_range()].fill(true);
        }
    }
    shift_boundaries(&mut old_changed, &new_changed, |a, b| old[a] == old[b]);
    shift_boundaries(&mut new_changed, &old_changed, |a, b| new[a] == new[b]);
    // Unchanged lines pair up in order; what lies between is a change.
    let mut changes = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && !old_changed[i] && !new_changed[j] {
            (i, j) = (i + 1, j + 1);
            continue;
        }
        let (old_start, new_start) = (i, j);
        while i < old.len() && old_changed[i] {
            i += 1;
        }
        while j < new.len() && new_changed[j] {
            j += 1;
        }
        changes.push((old_start..i, new_start..j));
    }
    changes
}

/// GNU diff's shift_boundaries (analyze.c) for one file: slides each run of changed lines up to
/// merge with the runs before it, then down as far as it goes, then back up to line up with a
/// run of changes in the other file. `same(a, b)`: lines a and b of this file are equal.
fn shift_boundaries(changed: &mut [bool], other: &[bool], same: impl Fn(usize, usize) -> bool) {
    let end = changed.len();
    // Out of range is unchanged, as GNU's sentinels are.
    let other_at = |j: isize| j >= 0 && other.get(j as usize).copied().unwrap_or(false);
    let (mut i, mut j): (usize, isize) = (0, 0);
    loop {
        while i < end && !changed[i] {
            while other_at(j) {
                j += 1;
            }
            j += 1;
            i += 1;
        }
        if i == end {
            return;
        }
        let mut start = i;
        i += 1;
        while i < end && changed[i] {
            i += 1;
        }
        while other_at(j) {
            j += 1;
        }
        let mut corresponding;
        loop {
            let run = i - start;
            while start > 0 && same(start - 1, i - 1) {
                start -= 1;
                changed[start] = true;
                i -= 1;
                changed[i] = false;
                while start > 0 && changed[start - 1] {
                    start -= 1;
                }
                j -= 1;
                while other_at(j) {
                    j -= 1;
                }
            }
            corresponding = if other_at(j - 1) { i } else { end };
            while i != end && same(start, i) {
                changed[start] = false;
                start += 1;
                changed[i] = true;
                i += 1;
                while i < end && changed[i] {
                    i += 1;
                }
                j += 1;
                while other_at(j) {
                    corresponding = i;
                    j += 1;
                }
            }
            if run == i - start {
                break;
            }
        }
        while corresponding < i {
            start -= 1;
            changed[start] = true;
            i -= 1;
            changed[i] = false;
            j -= 1;
            while other_at(j) {
                j -= 1;
            }
        }
    }
}

/// One line of a diff: `prefix`, the line, and GNU's marker when it has no newline.
fn diff_line(out: &mut Vec<u8>, prefix: &str, line: &[u8]) {
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(line);
    if !line.ends_with(b"\n") {
        out.extend_from_slice(b"\n\\ No newline at end of file\n");
    }
}

/// The normal format: `3c3`, `5a6,7`, `8d8`, then `< old`, `---`, `> new`.
fn normal(out: &mut Vec<u8>, old: &[&[u8]], new: &[&[u8]], changes: &[(Range<usize>, Range<usize>)]) {
    // 1-based line range; an empty range names the line before it.
    let range = |r: &Range<usize>| match r.len() {
        0 => r.start.to_string(),
        1 => (r.start + 1).to_string(),
        _ => format!("{},{}", r.start + 1, r.end),
    };
    for (o, n) in changes {
        let letter = if o.is_empty() {
            'a'
        } else if n.is_empty() {
            'd'
        } else {
            'c'
        };
        out.extend_from_slice(format!("{}{letter}{}\n", range(o), range(n)).as_bytes());
        for line in &old[o.clone()] {
            diff_line(out, "< ", line);
        }
        if letter == 'c' {
            out.extend_from_slice(b"---\n");
        }
        for line in &new[n.clone()] {
            diff_line(out, "> ", line);
        }
    }
}

/// The unified format with `context` lines around changes; changes closer than twice that share a hunk.
fn unified(
    out: &mut Vec<u8>,
    a: &str,
    b: &str,
    old: &[&[u8]],
    new: &[&[u8]],
    changes: &[(Range<usize>, Range<usize>)],
    context: usize,
) {
    // start,length; a one-line range is just its line, an empty one names the line before it.
    let range = |start: usize, end: usize| match end - start {
        0 => format!("{start},0"),
        1 => (start + 1).to_string(),
        len => format!("{},{len}", start + 1),
    };
    out.extend_from_slice(format!("--- {a}\n+++ {b}\n").as_bytes());
    let mut first = 0;
    while first < changes.len() {
        let mut last = first;
        while last + 1 < changes.len() && changes[last + 1].0.start - changes[last].0.end <= context.saturating_mul(2) {
            last += 1;
        }
        let old_start = changes[first].0.start.saturating_sub(context);
        let new_start = changes[first].1.start.saturating_sub(context);
        let old_end = changes[last].0.end.saturating_add(context).min(old.len());
        let new_end = changes[last].1.end.saturating_add(context).min(new.len());
        let header = format!("@@ -{} +{} @@\n", range(old_start, old_end), range(new_start, new_end));
        out.extend_from_slice(header.as_bytes());
        let mut at = old_start;
        for (o, n) in &changes[first..=last] {
            for line in &old[at..o.start] {
                diff_line(out, " ", line);
            }
            for line in &old[o.clone()] {
                diff_line(out, "-", line);
            }
            for line in &new[n.clone()] {
                diff_line(out, "+", line);
            }
            at = o.end;
        }
        for line in &old[at..old_end] {
            diff_line(out, " ", line);
        }
        first = last + 1;
    }
}

// ---------------------------------------------------------------------------------------------
// tee

/// tee: FILE... copies standard input to standard output and to each FILE; -a appends.
fn tee(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &short("a", ""))?;
    let append = !parsed.opts.is_empty();
    for file in &parsed.operands {
        let path = ctx.path(file);
        if let Err(e) = ctx.ws.write(&path, ctx.stdin, append) {
            ctx.warn(format!("{file}: {e}"));
        }
    }
    ctx.out.extend_from_slice(ctx.stdin);
    Ok(ctx.status())
}

// ---------------------------------------------------------------------------------------------
// cut

/// cut: -f LIST with -d DELIM (default TAB) and -s (skip lines without DELIM), or -c/-b LIST
/// (bytes, as GNU cut counts characters). LIST: N, N-M, N-, -M, joined by commas.
fn cut(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &short("s", "fcbd"))?;
    let (mut list, mut fields, mut delimiter, mut only_delimited) = (None, false, b'\t', false);
    for (key, value) in &parsed.opts {
        match key.as_str() {
            "f" | "c" | "b" => {
                if list.is_some() {
                    return Err(Fail::Usage("only one type of list may be specified".into()));
                }
                list = Some(parse_list(value)?);
                fields = key == "f";
            }
            "d" => match value.as_bytes() {
                [byte] => delimiter = *byte,
                _ => return Err(Fail::Usage("the delimiter must be a single character".into())),
            },
            _ => only_delimited = true,
        }
    }
    let list = list.ok_or_else(|| Fail::Usage("you must specify a list of bytes, characters, or fields".into()))?;
    let selected = |n: usize| list.iter().any(|(low, high)| (*low..=*high).contains(&n));
    for input in Ctx::inputs(parsed.operands) {
        let data = match ctx.read(&input) {
            Ok(data) => data,
            Err(reason) => {
                ctx.warn(format!("{input}: {reason}"));
                continue;
            }
        };
        for line in split_lines(&data) {
            if !fields {
                ctx.out.extend(line.iter().enumerate().filter(|(i, _)| selected(i + 1)).map(|(_, &b)| b));
            } else if !line.contains(&delimiter) {
                if only_delimited {
                    continue;
                }
                ctx.out.extend_from_slice(line);
            } else {
                let chosen: Vec<&[u8]> = line
                    .split(|&b| b == delimiter)
                    .enumerate()
                    .filter(|(i, _)| selected(i + 1))
                    .map(|(_, f)| f)
                    .collect();
                ctx.out.extend_from_slice(&chosen.join(&delimiter));
            }
            ctx.out.push(b'\n');
        }
    }
    Ok(ctx.status())
}

/// Parses a cut list into inclusive 1-based ranges.
fn parse_list(list: &str) -> Result<Vec<(usize, usize)>, Fail> {
    let invalid = || Fail::Usage(format!("invalid byte, character or field list: '{list}'"));
    let bound = |s: &str, default: usize| -> Result<usize, Fail> {
        if s.is_empty() {
            return Ok(default);
        }
        match s.parse::<usize>() {
            Ok(0) => Err(Fail::Usage("fields and positions are numbered from 1".into())),
            Ok(n) => Ok(n),
            Err(_) => Err(invalid()),
        }
    };
    list.split(',')
        .map(|part| match part.split_once('-') {
            _ if part.is_empty() || part == "-" => Err(invalid()),
            None => bound(part, 0).map(|n| (n, n)),
            Some((low, high)) => {
                let (low, high) = (bound(low, 1)?, bound(high, usize::MAX)?);
                if low > high {
                    Err(Fail::Usage("invalid decreasing range".into()))
                } else {
                    Ok((low, high))
                }
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// tr

/// tr: SET1 [SET2] over standard input, bytewise: translate (SET2 padded with its last byte),
/// -d delete, -s squeeze repeats (of SET2 when translating, else of SET1), -c/-C complement SET1.
/// Sets take ranges (a-z), classes ([:alpha:] [:digit:] [:lower:] [:upper:] [:space:] …) and
/// escapes (\n \t \\ \NNN); not [c*n] repeats or [=c=] classes.
fn tr(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &short("cCds", ""))?;
    let has = |flags: &str| parsed.opts.iter().any(|(k, _)| flags.contains(k.as_str()));
    let (complement, delete, squeeze) = (has("cC"), has("d"), has("s"));
    let sets = parsed.operands.iter().map(|set| tr_set(set)).collect::<Result<Vec<_>, _>>()?;
    let (wanted, allowed) = match (delete, squeeze) {
        (true, false) => (1, 1),
        (false, true) => (1, 2),
        _ => (2, 2),
    };
    if sets.len() < wanted {
        return Err(Fail::Usage(match parsed.operands.last() {
            None => "missing operand".into(),
            Some(last) => format!("missing operand after '{last}'"),
        }));
    }
    if sets.len() > allowed {
        return Err(Fail::Usage(format!("extra operand '{}'", parsed.operands[allowed])));
    }
    let mut set1 = sets[0].clone();
    if complement {
        set1 = (0..=255).filter(|b| !set1.contains(b)).collect();
    }
    let mut map: Vec<u8> = (0..=255).collect();
    let (mut deleted, mut squeezed) = ([false; 256], [false; 256]);
    if delete {
        set1.iter().for_each(|&b| deleted[b as usize] = true);
    } else if let Some(set2) = sets.get(1) {
        let last =
            *set2.last().ok_or_else(|| Fail::Fatal("when not truncating set1, string2 must be non-empty".into()))?;
        for (i, &b) in set1.iter().enumerate() {
            map[b as usize] = set2.get(i).copied().unwrap_or(last);
        }
    }
    if squeeze {
        let squeeze_set = if sets.len() == 2 { &sets[1] } else { &set1 };
        squeeze_set.iter().for_each(|&b| squeezed[b as usize] = true);
    }
    let mut last = None;
    for &byte in ctx.stdin {
        if deleted[byte as usize] {
            continue;
        }
        let byte = map[byte as usize];
        if squeezed[byte as usize] && last == Some(byte) {
            continue;
        }
        ctx.out.push(byte);
        last = Some(byte);
    }
    Ok(0)
}

/// Expands a tr set into its bytes, in order.
fn tr_set(spec: &str) -> Result<Vec<u8>, Fail> {
    // First the escapes, remembering which bytes were escaped (an escaped `-` or `[` is literal).
    let bytes = spec.as_bytes();
    let mut items: Vec<(u8, bool)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 == bytes.len() {
            items.push((bytes[i], false));
            i += 1;
            continue;
        }
        let octal = bytes[i + 1..].iter().take(3).take_while(|b| (b'0'..=b'7').contains(b)).count();
        let (byte, used) = if octal > 0 {
            let digits = std::str::from_utf8(&bytes[i + 1..i + 1 + octal]).unwrap_or("0");
            (u32::from_str_radix(digits, 8).unwrap_or(0) as u8, octal)
        } else {
            let byte = match bytes[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'a' => 0x07,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'v' => 0x0b,
                other => other,
            };
            (byte, 1)
        };
        items.push((byte, true));
        i += 1 + used;
    }
    let mut set = Vec::new();
    let mut i = 0;
    while i < items.len() {
        if let Some((class, next)) = tr_class(&items, i)? {
            set.extend(class);
            i = next;
        } else if i + 2 < items.len() && items[i + 1] == (b'-', false) {
            let (low, high) = (items[i].0, items[i + 2].0);
            if low > high {
                return Err(Fail::Fatal(format!(
                    "range-endpoints of '{}-{}' are in reverse collating sequence order",
                    low as char, high as char
                )));
            }
            set.extend(low..=high);
            i += 3;
        } else {
            set.push(items[i].0);
            i += 1;
        }
    }
    Ok(set)
}

/// A `[:name:]` class at `i`: its bytes in order and the index after it.
fn tr_class(items: &[(u8, bool)], i: usize) -> Result<Option<(Vec<u8>, usize)>, Fail> {
    let unescaped = |j: usize, byte: u8| items.get(j) == Some(&(byte, false));
    if !(unescaped(i, b'[') && unescaped(i + 1, b':')) {
        return Ok(None);
    }
    let Some(end) = (i + 2..items.len()).find(|&j| unescaped(j, b':') && unescaped(j + 1, b']')) else {
        return Ok(None);
    };
    let name: String = items[i + 2..end].iter().map(|&(b, _)| b as char).collect();
    let test: fn(&u8) -> bool = match name.as_str() {
        "alnum" => u8::is_ascii_alphanumeric,
        "alpha" => u8::is_ascii_alphabetic,
        "blank" => |b| *b == b' ' || *b == b'\t',
        "cntrl" => u8::is_ascii_control,
        "digit" => u8::is_ascii_digit,
        "graph" => u8::is_ascii_graphic,
        "lower" => u8::is_ascii_lowercase,
        "print" => |b| b.is_ascii_graphic() || *b == b' ',
        "punct" => u8::is_ascii_punctuation,
        "space" => |b| b" \t\n\r\x0b\x0c".contains(b),
        "upper" => u8::is_ascii_uppercase,
        "xdigit" => u8::is_ascii_hexdigit,
        _ => return Err(Fail::Fatal(format!("invalid character class '{name}'"))),
    };
    Ok(Some(((0..=255).filter(test).collect(), end + 2)))
}

// ---------------------------------------------------------------------------------------------
// basename, dirname

/// basename: NAME [SUFFIX], or -a NAME... and -s SUFFIX (implies -a).
fn basename(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &short("a", "s"))?;
    let mut suffix = None;
    let mut multiple = false;
    for (key, value) in parsed.opts {
        multiple = true;
        if key == "s" {
            suffix = Some(value);
        }
    }
    let names = match (multiple, parsed.operands.as_slice()) {
        (_, []) => return Err(Fail::Usage("missing operand".into())),
        (true, names) => names.to_vec(),
        (false, [name]) => vec![name.clone()],
        (false, [name, given]) => {
            suffix = Some(given.clone());
            vec![name.clone()]
        }
        (false, [_, _, extra, ..]) => return Err(Fail::Usage(format!("extra operand '{extra}'"))),
    };
    for name in names {
        let base = base_name(&name);
        let base = match &suffix {
            Some(suffix) if base != suffix.as_str() => base.strip_suffix(suffix.as_str()).unwrap_or(base),
            _ => base,
        };
        ctx.out.extend_from_slice(format!("{base}\n").as_bytes());
    }
    Ok(0)
}

/// dirname: NAME... each without its last component.
fn dirname(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &short("", ""))?;
    if parsed.operands.is_empty() {
        return Err(Fail::Usage("missing operand".into()));
    }
    for name in &parsed.operands {
        ctx.out.extend_from_slice(format!("{}\n", dir_name(name)).as_bytes());
    }
    Ok(0)
}

// ---------------------------------------------------------------------------------------------
// seq

/// A decimal number as `units / 10^scale`, exact (seq steps by decimals without float drift).
#[derive(Clone, Copy)]
struct Decimal {
    units: i128,
    scale: u32,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let valid = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !valid(int) || !valid(frac) || frac.len() > 18 {
            return None;
        }
        let magnitude: i128 = format!("{int}{frac}").parse().ok()?;
        let sign = if text.starts_with('-') { -1 } else { 1 };
        Some(Decimal { units: sign * magnitude, scale: frac.len() as u32 })
    }

    /// The units at a larger scale; None if they do not fit.
    fn at(&self, scale: u32) -> Option<i128> {
        self.units.checked_mul(10i128.pow(scale - self.scale))
    }
}

/// `units / 10^scale` printed with `scale` decimals.
fn format_decimal(units: i128, scale: u32) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let magnitude = units.unsigned_abs();
    if scale == 0 {
        return format!("{sign}{magnitude}");
    }
    let divisor = 10u128.pow(scale);
    format!("{sign}{}.{:0width$}", magnitude / divisor, magnitude % divisor, width = scale as usize)
}

/// seq: LAST, FIRST LAST or FIRST INCR LAST (decimals allowed: printed with the precision of
/// FIRST and INCR), -s SEP, -w (pad with zeros to the width of FIRST and LAST).
fn seq(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &Spec { stop_at_operand: true, ..short("w", "s") })?;
    let (mut separator, mut equal_width) = ("\n".to_string(), false);
    for (key, value) in parsed.opts {
        match key.as_str() {
            "s" => separator = value,
            _ => equal_width = true,
        }
    }
    let operands = &parsed.operands;
    let numbers = operands
        .iter()
        .map(|a| Decimal::parse(a).ok_or_else(|| Fail::Usage(format!("invalid floating point argument: '{a}'"))))
        .collect::<Result<Vec<_>, _>>()?;
    let one = Decimal { units: 1, scale: 0 };
    let (first, step, last) = match numbers.as_slice() {
        [] => return Err(Fail::Usage("missing operand".into())),
        [last] => (one, one, *last),
        [first, last] => (*first, one, *last),
        [first, step, last] => (*first, *step, *last),
        _ => return Err(Fail::Usage(format!("extra operand '{}'", operands[3]))),
    };
    if step.units == 0 {
        return Err(Fail::Usage(format!("invalid Zero increment value: '{}'", operands[1])));
    }
    let precision = first.scale.max(step.scale);
    let scale = precision.max(last.scale);
    let too_large = || Fail::Fatal("numbers too large or too precise".into());
    let (start, step_units, end) = (first.at(scale), step.at(scale), last.at(scale));
    let (Some(mut value), Some(step_units), Some(end)) = (start, step_units, end) else {
        return Err(too_large());
    };
    let shift = 10i128.pow(scale - precision);
    // -w: the widths of FIRST and of LAST's integer part, both at the printed precision.
    let width = if equal_width {
        format_decimal(value / shift, precision).len().max(format_decimal(end / shift, precision).len())
    } else {
        0
    };
    let mut printed = false;
    while (step_units > 0 && value <= end) || (step_units < 0 && value >= end) {
        if printed {
            ctx.out.extend_from_slice(separator.as_bytes());
        }
        ctx.out.extend_from_slice(pad_number(format_decimal(value / shift, precision), width).as_bytes());
        printed = true;
        value = value.checked_add(step_units).ok_or_else(too_large)?;
    }
    if printed {
        ctx.out.push(b'\n');
    }
    Ok(0)
}

/// Pads with zeros after the sign, as printf's `%0W` does.
fn pad_number(text: String, width: usize) -> String {
    if text.len() >= width {
        return text;
    }
    let zeros = "0".repeat(width - text.len());
    match text.strip_prefix('-') {
        Some(digits) => format!("-{zeros}{digits}"),
        None => format!("{zeros}{text}"),
    }
}

// ---------------------------------------------------------------------------------------------
// sed

const SED: Spec = Spec {
    flags: "nEri",
    valued: "e",
    long: &[
        ("expression", "e", true),
        ("quiet", "n", false),
        ("silent", "n", false),
        ("regexp-extended", "E", false),
        ("in-place", "i", false),
    ],
    stop_at_operand: false,
};

/// A sed address.
#[derive(Clone)]
enum Address {
    Line(usize),
    Last,
    Regex(Regex),
}

#[derive(Clone)]
enum Command {
    Substitute {
        re: Regex,
        replacement: Vec<Piece>,
        global: bool,
        occurrence: usize,
        print: bool,
    },
    Print,
    Delete,
    Quit,
    LineNumber,
    Transliterate(Vec<u8>),
    /// `{`: when its address does not select the line, execution goes on at `end` (after the `}`).
    Block {
        end: usize,
    },
}

/// A piece of an `s` replacement: literal bytes or a group (0 for `&`).
#[derive(Clone)]
enum Piece {
    Literal(Vec<u8>),
    Group(usize),
}

#[derive(Clone)]
struct SedCommand {
    from: Option<Address>,
    to: Option<Address>,
    negate: bool,
    command: Command,
    /// Inside the `from,to` range.
    active: bool,
}

/// sed: -n, -e SCRIPT (repeatable) or one SCRIPT, -E/-r, -i (in place, each file on its own;
/// no backup suffix). Commands: s/RE/REPL/FLAGS (any delimiter;
/// flags g, p, i/I, N; `&`, `\1`..`\9`, `\n` in REPL), p, d, q, =, y/SRC/DST/, { … } blocks,
/// `#` comments, with addresses N, $, /RE/ (or \cREc, I flag), ranges A,B and `!`. Regexes are
/// BRE unless -E.
fn sed(ctx: &mut Ctx, args: &[String]) -> Result<i32, Fail> {
    let parsed = getopt(args, &SED)?;
    let has = |flag: &str| parsed.opts.iter().any(|(k, _)| k == flag);
    let (quiet, extended, in_place) = (has("n"), has("E") || has("r"), has("i"));
    let mut scripts: Vec<String> = parsed.opts.iter().filter(|(k, _)| k == "e").map(|(_, v)| v.clone()).collect();
    let mut operands = parsed.operands.into_iter();
    if scripts.is_empty() {
        scripts.push(operands.next().ok_or_else(|| Fail::Usage("no script specified".into()))?);
    }
    let mut commands = Vec::new();
    for (n, script) in scripts.iter().enumerate() {
        let mut parser = SedParser { chars: script.chars().collect(), at: 0, extended, last_regex: None };
        parser
            .script(&mut commands)
            .map_err(|e| Fail::Fatal(format!("-e expression #{}, char {}: {e}", n + 1, parser.at)))?;
    }
    let files: Vec<String> = operands.collect();
    if in_place {
        if files.is_empty() {
            return Err(Fail::Fatal("no input files".into()));
        }
        for file in &files {
            let mut editor = SedRun { commands: commands.clone(), quiet, out: Vec::new(), missing_newline: false };
            match ctx.read(file) {
                Ok(data) => {
                    editor.run(&[data.as_ref()]);
                    let path = ctx.path(file);
                    ctx.ws
                        .write(&path, &editor.out, false)
                        .map_err(|e| Fail::Fatal(format!("couldn't edit {file}: {e}")))?;
                }
                Err(reason) => ctx.warn(format!("can't read {file}: {reason}")),
            }
        }
    } else {
        let mut inputs = Vec::new();
        for file in Ctx::inputs(files) {
            match ctx.read(&file) {
                Ok(data) => inputs.push(data),
                Err(reason) => ctx.warn(format!("can't read {file}: {reason}")),
            }
        }
        let mut editor = SedRun { commands, quiet, out: Vec::new(), missing_newline: false };
        editor.run(&inputs.iter().map(|d| d.as_ref()).collect::<Vec<_>>());
        ctx.out.extend_from_slice(&editor.out);
    }
    // GNU sed exits with 2 when an input file could not be read.
    Ok(if ctx.failed { 2 } else { 0 })
}

/// Parses one sed script.
struct SedParser {
    chars: Vec<char>,
    at: usize,
    extended: bool,
    /// For an empty regex (`s//x/`), which means the last one.
    last_regex: Option<Regex>,
}

impl SedParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        self.at += 1;
        self.chars.get(self.at - 1).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.at += 1;
        }
    }

    fn script(&mut self, commands: &mut Vec<SedCommand>) -> Result<(), String> {
        // The indices of the `{` commands whose `}` is still to come.
        let mut open_blocks = Vec::new();
        loop {
            while self.peek().is_some_and(|c| c.is_whitespace() || c == ';') {
                self.at += 1;
            }
            match self.peek() {
                None if open_blocks.is_empty() => return Ok(()),
                None => return Err("unmatched `{'".into()),
                Some('}') => {
                    self.at += 1;
                    let start: usize = open_blocks.pop().ok_or("unexpected `}'")?;
                    commands[start].command = Command::Block { end: commands.len() };
                    continue;
                }
                _ => {}
            }
            if self.peek() == Some('#') {
                while self.next().is_some_and(|c| c != '\n') {}
                continue;
            }
            let from = self.address()?;
            let to = if from.is_some() && self.peek() == Some(',') {
                self.at += 1;
                self.skip_spaces();
                Some(self.address()?.ok_or("unexpected `,'")?)
            } else {
                None
            };
            self.skip_spaces();
            let mut negate = false;
            while self.peek() == Some('!') {
                negate = true;
                self.at += 1;
                self.skip_spaces();
            }
            let command = self.command()?;
            if matches!(command, Command::Quit) && to.is_some() {
                return Err("command only uses one address".into());
            }
            let opens_block = matches!(command, Command::Block { .. });
            if opens_block {
                open_blocks.push(commands.len());
            }
            commands.push(SedCommand { from, to, negate, command, active: false });
            self.skip_spaces();
            match self.peek() {
                _ if opens_block => {}
                None | Some(';' | '\n' | '}') => {}
                Some(c) => return Err(format!("extra characters after command ('{c}')")),
            }
        }
    }

    fn address(&mut self) -> Result<Option<Address>, String> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.at += 1;
                }
                let text: String = self.chars[start..self.at].iter().collect();
                match text.parse() {
                    Ok(0) | Err(_) => Err("invalid usage of line address 0".into()),
                    Ok(n) => Ok(Some(Address::Line(n))),
                }
            }
            Some('$') => {
                self.at += 1;
                Ok(Some(Address::Last))
            }
            Some('/') => {
                self.at += 1;
                self.regex_address('/').map(Some)
            }
            Some('\\') => {
                self.at += 1;
                let delimiter = self.next().ok_or("unexpected end of script")?;
                self.regex_address(delimiter).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// `/RE/` (or `\cREc`) after its opening delimiter, with an optional `I` flag.
    fn regex_address(&mut self, delimiter: char) -> Result<Address, String> {
        let text = self.delimited(delimiter, "unterminated address regex")?;
        let icase = self.peek() == Some('I');
        if icase {
            self.at += 1;
        }
        Ok(Address::Regex(self.regex(&text, icase)?))
    }

    /// The text up to the next unescaped `delimiter`; `\delimiter` becomes the delimiter itself.
    fn delimited(&mut self, delimiter: char, unterminated: &str) -> Result<String, String> {
        let mut text = String::new();
        loop {
            match self.next() {
                None => return Err(unterminated.into()),
                Some(c) if c == delimiter => return Ok(text),
                Some('\\') => match self.next() {
                    None => return Err(unterminated.into()),
                    Some(c) if c == delimiter => text.push(c),
                    Some(c) => {
                        text.push('\\');
                        text.push(c);
                    }
                },
                Some(c) => text.push(c),
            }
        }
    }

    fn regex(&mut self, text: &str, icase: bool) -> Result<Regex, String> {
        if text.is_empty() {
            return self.last_regex.clone().ok_or_else(|| "no previous regular expression".into());
        }
        let re = build_regex(&posix_to_regex(text, self.extended)?, icase)?;
        self.last_regex = Some(re.clone());
        Ok(re)
    }

    fn command(&mut self) -> Result<Command, String> {
        match self.next() {
            None => Err("missing command".into()),
            Some('p') => Ok(Command::Print),
            Some('d') => Ok(Command::Delete),
            Some('q') => Ok(Command::Quit),
            Some('=') => Ok(Command::LineNumber),
            Some('{') => Ok(Command::Block { end: 0 }), // the end is set at its `}`
            Some('s') => self.substitute(),
            Some('y') => self.transliterate(),
            Some(c) => Err(format!("unknown or unsupported command: `{c}'")),
        }
    }

    fn substitute(&mut self) -> Result<Command, String> {
        const UNTERMINATED: &str = "unterminated `s' command";
        let delimiter = self.next().filter(|&c| c != '\n' && c != '\\').ok_or(UNTERMINATED)?;
        let pattern = self.delimited(delimiter, UNTERMINATED)?;
        let replacement = self.delimited(delimiter, UNTERMINATED)?;
        let (mut global, mut print, mut icase, mut occurrence) = (false, false, false, 1);
        while let Some(flag) = self.peek() {
            match flag {
                'g' => global = true,
                'p' => print = true,
                'i' | 'I' => icase = true,
                '0'..='9' => {
                    let start = self.at;
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.at += 1;
                    }
                    let text: String = self.chars[start..self.at].iter().collect();
                    occurrence =
                        text.parse().ok().filter(|&n| n > 0).ok_or("number option to `s' command may not be zero")?;
                    continue;
                }
                ';' | '\n' | ' ' | '\t' | '}' => break,
                _ => return Err(format!("unknown option to `s': {flag}")),
            }
            self.at += 1;
        }
        let re = self.regex(&pattern, icase)?;
        let replacement = parse_replacement(&replacement);
        let groups = re.captures_len() - 1;
        if let Some(n) = replacement.iter().find_map(|p| match p {
            Piece::Group(n) if *n > groups => Some(*n),
            _ => None,
        }) {
            return Err(format!("invalid reference \\{n} on `s' command's RHS"));
        }
        Ok(Command::Substitute { re, replacement, global, occurrence, print })
    }

    fn transliterate(&mut self) -> Result<Command, String> {
        const UNTERMINATED: &str = "unterminated `y' command";
        let delimiter = self.next().filter(|&c| c != '\n' && c != '\\').ok_or(UNTERMINATED)?;
        let unescape =
            |text: String| -> Vec<char> { text.replace("\\n", "\n").replace("\\\\", "\\").chars().collect() };
        let source = unescape(self.delimited(delimiter, UNTERMINATED)?);
        let target = unescape(self.delimited(delimiter, UNTERMINATED)?);
        if source.len() != target.len() {
            return Err("strings for `y' command are different lengths".into());
        }
        let mut map: Vec<u8> = (0..=255).collect();
        for (s, t) in source.iter().zip(&target) {
            let (Ok(s), Ok(t)) = (u8::try_from(*s), u8::try_from(*t)) else {
                return Err("`y' command supports single-byte characters only".into());
            };
            map[s as usize] = t;
        }
        Ok(Command::Transliterate(map))
    }
}

/// Splits an `s` replacement into literals and groups: `&` is the match, `\1`..`\9` groups,
/// `\n` and `\t` a newline and a tab, `\c` the character c.
fn parse_replacement(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let group = match c {
            '&' => Some(0),
            '\\' => match chars.next() {
                Some(d @ '1'..='9') => Some(d as usize - '0' as usize),
                Some('n') => {
                    literal.push('\n');
                    None
                }
                Some('t') => {
                    literal.push('\t');
                    None
                }
                Some(other) => {
                    literal.push(other);
                    None
                }
                None => {
                    literal.push('\\');
                    None
                }
            },
            _ => {
                literal.push(c);
                None
            }
        };
        if let Some(n) = group {
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal).into_bytes()));
            }
            pieces.push(Piece::Group(n));
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal.into_bytes()));
    }
    pieces
}

impl Address {
    fn matches(&self, space: &[u8], line: usize, last: bool) -> bool {
        match self {
            Address::Line(n) => *n == line,
            Address::Last => last,
            Address::Regex(re) => re.is_match(space),
        }
    }
}

impl SedCommand {
    /// Whether the command applies to this line (updating the range state).
    fn selects(&mut self, space: &[u8], line: usize, last: bool) -> bool {
        let hit = match (&self.from, &self.to) {
            (None, _) => true,
            (Some(from), None) => from.matches(space, line, last),
            (Some(from), Some(to)) => {
                if self.active {
                    self.active = !match to {
                        Address::Line(n) => line >= *n,
                        _ => to.matches(space, line, last),
                    };
                    true
                } else if from.matches(space, line, last) {
                    // A line-number end at or before the start makes a one-line range; other
                    // ends are looked for from the next line on.
                    self.active = !matches!(to, Address::Line(n) if *n <= line);
                    true
                } else {
                    false
                }
            }
        };
        hit != self.negate
    }
}

/// Runs a parsed script over input lines.
struct SedRun {
    commands: Vec<SedCommand>,
    quiet: bool,
    out: Vec<u8>,
    /// The last output lacked its newline (the input's last line had none): GNU adds it before printing more.
    missing_newline: bool,
}

impl SedRun {
    fn emit(&mut self, text: &[u8], newline: bool) {
        if self.missing_newline {
            self.out.push(b'\n');
        }
        self.out.extend_from_slice(text);
        if newline {
            self.out.push(b'\n');
        }
        self.missing_newline = !newline;
    }

    /// Runs the script over the inputs' lines, as one stream.
    fn run(&mut self, inputs: &[&[u8]]) {
        let lines: Vec<&[u8]> = inputs.iter().flat_map(|data| split_lines(data)).collect();
        let ends_with_newline =
            inputs.iter().rev().find(|data| !data.is_empty()).is_none_or(|data| data.ends_with(b"\n"));
        for (index, line) in lines.iter().enumerate() {
            let last = index + 1 == lines.len();
            let newline = !last || ends_with_newline;
            let (space, deleted, quit) = self.cycle(line, index + 1, last, newline);
            if !deleted && !self.quiet {
                self.emit(&space, newline);
            }
            if quit {
                return;
            }
        }
    }

    /// Runs the commands on one line; returns the pattern space, whether it was deleted and whether to quit.
    fn cycle(&mut self, line: &[u8], number: usize, last: bool, newline: bool) -> (Vec<u8>, bool, bool) {
        let mut space = line.to_vec();
        let mut commands = std::mem::take(&mut self.commands);
        let mut result = (false, false);
        let mut at = 0;
        while at < commands.len() {
            let command = &mut commands[at];
            at += 1;
            if !command.selects(&space, number, last) {
                if let Command::Block { end } = command.command {
                    at = end;
                }
                continue;
            }
            match &command.command {
                Command::Substitute { re, replacement, global, occurrence, print } => {
                    if let Some(changed) = substitute(re, replacement, *global, *occurrence, &space) {
                        space = changed;
                        if *print {
                            self.emit(&space, newline);
                        }
                    }
                }
                Command::Print => self.emit(&space, newline),
                Command::Delete => {
                    result = (true, false);
                    break;
                }
                Command::Quit => {
                    result = (false, true);
                    break;
                }
                Command::LineNumber => self.emit(number.to_string().as_bytes(), true),
                Command::Transliterate(map) => space.iter_mut().for_each(|b| *b = map[*b as usize]),
                Command::Block { .. } => {}
            }
        }
        self.commands = commands;
        (space, result.0, result.1)
    }
}

/// Replaces the `occurrence`-th match (and, with `global`, every later one); None without a replacement.
fn substitute(re: &Regex, replacement: &[Piece], global: bool, occurrence: usize, space: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut copied = 0;
    let mut replaced = false;
    for (n, captures) in re.captures_iter(space).enumerate() {
        if n + 1 < occurrence {
            continue;
        }
        let whole = captures.get(0)?;
        out.extend_from_slice(&space[copied..whole.start()]);
        expand(replacement, &captures, &mut out);
        copied = whole.end();
        replaced = true;
        if !global {
            break;
        }
    }
    if !replaced {
        return None;
    }
    out.extend_from_slice(&space[copied..]);
    Some(out)
}

fn expand(replacement: &[Piece], captures: &Captures, out: &mut Vec<u8>) {
    for piece in replacement {
        match piece {
            Piece::Literal(bytes) => out.extend_from_slice(bytes),
            Piece::Group(n) => out.extend_from_slice(captures.get(*n).map_or(&b""[..], |m| m.as_bytes())),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each tool is compared with the GNU tool on this machine: the same files in a temporary
    //! directory on disk and in an in-memory workspace, LC_ALL=C, the same standard input; stdout,
    //! exit status and the files afterwards must be equal.

    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::Write;
    use std::path::Path;
    use std::process::{Command as Process, Stdio};

    /// The test tree: (path, contents); directories are implied, plus `empty/`.
    const FILES: &[(&str, &[u8])] = &[
        ("a.txt", b"foo\nbar\nbaz\nFoo bar\nfoo_bar\n\nlast line\n"),
        ("b.txt", b"one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven\ntwelve\n"),
        ("b2.txt", b"one\nTWO\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven\ntwelve\nthirteen\n"),
        ("old.txt", b"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"),
        // similar's own compaction returns inconsistent indices for this one.
        ("acacab.txt", b"a\nc\na\nc\na\nb\n"),
        ("new.txt", b"a\nB\nc\nd\ne\nf\nx\ny\nh\ni\nj\nk\n"),
        ("nums.txt", b"10\n9\n-3\n2.5\n100\n+4\n0\n-0\nabc\n 7\n007\n-2.5\n.5\n10\n"),
        ("words.txt", b"the quick brown fox\njumps over  the lazy dog\n\tindented line\nThe end.\n"),
        ("csv.txt", b"name,age,city\nbob,25,paris\nalice,30,london\ncarol,25,berlin\ndave,,rome\nnocomma\n"),
        ("tab.txt", b"a\tb\tc\n1\t2\t3\nx\ty\n"),
        ("people.txt", b"smith john 42\nadams  mary 35\nsmith anna 28\njones bob 42\nadams carl 19\nSmith zed 7\n"),
        ("dup.txt", b"a\na\nb\nB\nb\nc\na\na\na\n"),
        ("nonl.txt", b"first\nsecond"),
        ("nonl2.txt", b"first\nsecond\n"),
        ("empty.txt", b""),
        ("bin.dat", b"abc\0foo\nbar\n"),
        (
            "special.txt",
            b"a+b\n(x)\n{1}\na|b\nfile.rs\nfileXrs\n$HOME\n^caret\nback\\slash\n[br]\n*star\naaa\nab\nabab\nx$y\na^c\n",
        ),
        ("src/main.rs", b"fn main() {\n    println!(\"hello\");\n    helper();\n}\n\nfn helper() {}\n"),
        ("src/lib.rs", b"pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n// TODO: more\n"),
        ("src/util/mod.rs", b"pub mod fmt;\n// todo lower\n"),
        ("src/util/fmt.rs", b"pub fn fmt() {}\n"),
        ("docs/README.md", b"# Title\nSome text with fn inside.\n"),
        ("docs/Guide.MD", b"guide\n"),
        (".hidden", b"secret fn\n"),
    ];

    /// The workspace in memory.
    #[derive(Default)]
    struct MemWs {
        files: BTreeMap<String, Vec<u8>>,
        dirs: BTreeSet<String>,
    }

    impl MemWs {
        fn fixture() -> MemWs {
            let mut ws = MemWs::default();
            ws.dirs.insert("/".into());
            ws.dirs.insert("/empty".into());
            for (path, data) in FILES {
                let path = format!("/{path}");
                let mut dir = dir_name(&path).to_string();
                while dir != "/" {
                    ws.dirs.insert(dir.clone());
                    dir = dir_name(&dir).to_string();
                }
                ws.files.insert(path, data.to_vec());
            }
            ws
        }
    }

    impl Workspace for MemWs {
        fn read(&self, path: &str) -> Result<Vec<u8>, String> {
            self.files.get(path).cloned().ok_or_else(|| "No such file or directory".into())
        }
        fn is_dir(&self, path: &str) -> bool {
            self.dirs.contains(path)
        }
        fn exists(&self, path: &str) -> bool {
            self.dirs.contains(path) || self.files.contains_key(path)
        }
        fn list(&self, path: &str) -> Result<Vec<String>, String> {
            if !self.is_dir(path) {
                return Err("Not a directory".into());
            }
            let prefix = if path == "/" { "/".to_string() } else { format!("{path}/") };
            let names: BTreeSet<String> = self
                .files
                .keys()
                .chain(self.dirs.iter())
                .filter_map(|p| p.strip_prefix(&prefix))
                .filter(|rest| !rest.is_empty() && !rest.contains('/'))
                .map(String::from)
                .collect();
            Ok(names.into_iter().collect())
        }
        fn write(&mut self, path: &str, data: &[u8], append: bool) -> Result<(), String> {
            if self.is_dir(path) {
                return Err("Is a directory".into());
            }
            if !self.is_dir(dir_name(path)) {
                return Err("No such file or directory".into());
            }
            let file = self.files.entry(path.to_string()).or_default();
            if !append {
                file.clear();
            }
            file.extend_from_slice(data);
            Ok(())
        }
    }

    /// The test tree on disk.
    fn disk_fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("empty")).unwrap();
        for (path, data) in FILES {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        }
        dir
    }

    /// Every file on disk below `root`, keyed like the workspace (`/a/b`).
    fn disk_files(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                disk_files(root, &path, files);
            } else {
                let key = format!("/{}", path.strip_prefix(root).unwrap().display());
                files.insert(key, std::fs::read(&path).unwrap());
            }
        }
    }

    /// GNU's output comparable with ours: timestamps cut from diff's `---`/`+++` header lines.
    fn normalize(tool: &str, stdout: Vec<u8>) -> String {
        let text = String::from_utf8_lossy(&stdout).into_owned();
        if tool != "diff" {
            return text;
        }
        let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
        for line in lines.iter_mut().take(2) {
            if (line.starts_with("--- ") || line.starts_with("+++ ")) && line.contains('\t') {
                *line = format!("{}\n", &line[..line.find('\t').unwrap()]);
            }
        }
        lines.concat()
    }

    fn sorted_lines(text: &str) -> String {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        lines.join("\n")
    }

    /// Runs `tool args` in `cwd` (relative to the tree's root) under GNU and ours; returns a
    /// description of the difference, if any. `unordered`: compare the sets of lines (GNU walks
    /// directories in on-disk order).
    fn compare(tool: &str, cwd: &str, args: &[&str], stdin: &str, unordered: bool) -> Option<String> {
        let disk = disk_fixture();
        let mut child = Process::new(tool)
            .args(args)
            .current_dir(disk.path().join(cwd))
            .env("LC_ALL", "C")
            .env_remove("POSIXLY_CORRECT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A tool that stops early (a usage error) closes its input: not a test failure.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        let gnu = child.wait_with_output().unwrap();
        let mut ws = MemWs::fixture();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let ours = run(tool, &args, stdin.as_bytes(), &resolve("/", cwd), &mut ws).unwrap();
        let (mut expected, mut actual) =
            (normalize(tool, gnu.stdout), String::from_utf8_lossy(&ours.stdout).into_owned());
        if unordered {
            (expected, actual) = (sorted_lines(&expected), sorted_lines(&actual));
        }
        let mut disk_tree = BTreeMap::new();
        disk_files(disk.path(), disk.path(), &mut disk_tree);
        let gnu_status = gnu.status.code().unwrap_or(-1);
        if expected == actual && gnu_status == ours.status && disk_tree == ws.files {
            return None;
        }
        let files = if disk_tree == ws.files { "" } else { "\n  files differ" };
        Some(format!(
            "{tool} {args:?} (cwd {cwd}, stdin {stdin:?}):\n  GNU  {gnu_status} {expected:?}\n  ours {} {actual:?}\n  GNU stderr {:?}\n  our stderr {:?}{files}",
            ours.status,
            String::from_utf8_lossy(&gnu.stderr),
            String::from_utf8_lossy(&ours.stderr),
        ))
    }

    /// A case: arguments and standard input.
    type Case = (&'static [&'static str], &'static str);

    /// Compares every case of `tool` with GNU and fails listing all the differences.
    fn check(tool: &str, cwd: &str, cases: &[Case], unordered: bool) {
        let failures: Vec<String> =
            cases.iter().filter_map(|(args, stdin)| compare(tool, cwd, args, stdin, unordered)).collect();
        assert!(
            failures.is_empty(),
            "{} of {} cases differ from GNU:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    const GREP_CASES: &[Case] = &[
        (&["foo", "a.txt"], ""),
        (&["-i", "foo", "a.txt"], ""),
        (&["-v", "foo", "a.txt"], ""),
        (&["-c", "foo", "a.txt"], ""),
        (&["-n", "ba", "a.txt"], ""),
        (&["-in", "FOO", "a.txt", "b.txt"], ""),
        (&["-l", "o", "a.txt", "b.txt", "nums.txt"], ""),
        (&["-L", "o", "a.txt", "b.txt", "nums.txt"], ""),
        (&["-q", "foo", "a.txt"], ""),
        (&["-q", "nomatch", "a.txt"], ""),
        (&["-w", "foo", "a.txt"], ""),
        (&["-x", "foo", "a.txt"], ""),
        (&["-cv", "o", "a.txt", "b.txt"], ""),
        (&["foo", "missing.txt"], ""),
        (&["foo", "a.txt", "missing.txt"], ""),
        (&["-s", "foo", "missing.txt"], ""),
        (&["-q", "foo", "missing.txt", "a.txt"], ""),
        (&["foo", "src"], ""),
        (&["hello"], "hello world\nbye\n"),
        (&["-c", "x"], "x\ny\nx"),
        (&["-n", "b"], "a\nb\nc\nb"),
        (&["-h", "o", "a.txt", "b.txt"], ""),
        (&["-H", "foo", "a.txt"], ""),
        (&["-e", "foo", "-e", "two", "a.txt", "b.txt"], ""),
        (&["-E", "fo+|tw", "a.txt", "b.txt"], ""),
        (&["fo\\+", "a.txt"], ""),
        (&["o\\?b", "a.txt"], ""),
        (&["a+b", "special.txt"], ""),
        (&["-E", "a+b", "special.txt"], ""),
        (&["a\\|b", "special.txt"], ""),
        (&["a|b", "special.txt"], ""),
        (&["-E", "a|b", "special.txt"], ""),
        (&["(x)", "special.txt"], ""),
        (&["-E", "\\(x\\)", "special.txt"], ""),
        (&["\\(ab\\)\\{2\\}", "special.txt"], ""),
        (&["-E", "(ab){2}", "special.txt"], ""),
        (&["{1}", "special.txt"], ""),
        (&["a\\{3\\}", "special.txt"], ""),
        (&["-E", "a{2,}", "special.txt"], ""),
        (&["-E", "^a{,1}b", "special.txt"], ""),
        (&["\\$HOME", "special.txt"], ""),
        (&["^\\^caret", "special.txt"], ""),
        (&["a^c", "special.txt"], ""),
        (&["x$y", "special.txt"], ""),
        (&["e$", "a.txt", "b.txt"], ""),
        (&["[[:upper:]]", "a.txt"], ""),
        (&["[]b]r", "special.txt"], ""),
        (&["[^a-z]", "special.txt"], ""),
        (&["back\\\\slash", "special.txt"], ""),
        (&["k[\\]s", "special.txt"], ""),
        (&["*star", "special.txt"], ""),
        (&["file.rs", "special.txt"], ""),
        (&["file\\.rs", "special.txt"], ""),
        (&["-F", "a+b", "special.txt"], ""),
        (&["-F", ".", "special.txt"], ""),
        (&["-F", "-e", "(x)", "-e", "[br]", "special.txt"], ""),
        (&["-Fx", "ab", "special.txt"], ""),
        (&["-o", "ab", "special.txt"], ""),
        (&["-on", "[a-z]*", "a.txt"], ""),
        (&["-ow", "the", "words.txt"], ""),
        (&["-w", "the", "words.txt"], ""),
        (&["-iw", "the", "words.txt"], ""),
        (&["-w", "foo"], "foo foo\nfoofoo\nfoo_x\n(foo)\n"),
        (&["-ow", "foo"], "foo foo\nfoofoo foo\n"),
        (&["-c", "", "a.txt"], ""),
        (&["-E", "x?y", "special.txt"], ""),
        (&["\\<fo", "a.txt"], ""),
        (&["o\\>", "a.txt"], ""),
        (&["\\bba", "a.txt"], ""),
        (&["-x", "-E", "fo+", "a.txt"], ""),
        (&["-vc", "o", "a.txt"], ""),
        (&["-A", "1", "foo", "a.txt"], ""),
        (&["-B", "2", "^e", "b.txt"], ""),
        (&["-C", "1", "-n", "t", "b.txt"], ""),
        (&["-A1", "o", "a.txt", "b.txt"], ""),
        (&["-C1", "^f", "b.txt", "a.txt"], ""),
        (&["-m", "2", "o", "b.txt"], ""),
        (&["-m1", "-c", "e", "b.txt"], ""),
        (&["foo", "bin.dat"], ""),
        (&["-c", "foo", "bin.dat"], ""),
        (&["-l", "foo", "bin.dat", "a.txt"], ""),
        (&["-e", "-3", "nums.txt"], ""),
        (&["--", "-3", "nums.txt"], ""),
        (&["-n", "foo", "-", "a.txt"], "foo stdin\n"),
        (&["-E", "(unclosed", "a.txt"], ""),
        (&["\\(", "a.txt"], ""),
        (&["-k", "x", "a.txt"], ""),
        (&[], ""),
        (&["-y", "FOO", "a.txt"], ""),
        (&["fn", "a.txt", "src/main.rs", "-n"], ""),
        (&["-G", "a\\+", "special.txt"], ""),
        (&["-E", "[0-9]+\\.[0-9]", "nums.txt"], ""),
        (&["-e", "a", "-v", "-e", "o", "a.txt"], ""),
        (&["-E", "a+?b", "special.txt"], ""),
        (&["-E", "x{2}?y", "special.txt"], ""),
        (&["-E", "*star", "special.txt"], ""),
        (&["-E", "+c", "special.txt"], ""),
        (&["-E", "(|a)+b$", "special.txt"], ""),
        (&["\\{1\\}", "special.txt"], ""),
        (&["\\(*star\\)", "special.txt"], ""),
        (&["-E", "b\\>?$", "special.txt"], ""),
        (&["-E", "(x))", "special.txt"], ""),
    ];

    /// grep -r walks directories: GNU's order is the disk's, so lines are compared as sets.
    const GREP_RECURSIVE_CASES: &[Case] = &[
        (&["-r", "fn", "."], ""),
        (&["-rn", "fn"], ""),
        (&["-r", "fn", "src"], ""),
        (&["-r", "fn", "src/"], ""),
        (&["-rl", "fn", "."], ""),
        (&["-rL", "fn", "."], ""),
        (&["-rc", "todo", "src"], ""),
        (&["-ri", "todo", "src"], ""),
        (&["-r", "--include=*.rs", "fn", "."], ""),
        (&["-r", "--exclude=*.rs", "fn", "."], ""),
        (&["-r", "--exclude-dir=util", "fn", "src"], ""),
        (&["-rh", "fn", "src"], ""),
        (&["-r", "fn", "src/main.rs"], ""),
        (&["-r", "fn", "src/main.rs", "docs"], ""),
        (&["-rw", "fn", "."], ""),
        (&["-R", "mod", "src/util"], ""),
        (&["-r", "nothing-here", "."], ""),
        (&["-r", "x", "empty"], ""),
    ];

    #[test]
    fn grep_matches_gnu() {
        check("grep", ".", GREP_CASES, false);
        check("grep", ".", GREP_RECURSIVE_CASES, true);
        check("grep", "src", &[(&["-rn", "fn", ".."], ""), (&["-n", "fn", "../docs/README.md", "lib.rs"], "")], true);
    }

    const HEAD_CASES: &[Case] = &[
        (&["b.txt"], ""),
        (&["-n", "3", "b.txt"], ""),
        (&["-3", "b.txt"], ""),
        (&["-n3", "b.txt"], ""),
        (&["-n", "-3", "b.txt"], ""),
        (&["-c", "5", "b.txt"], ""),
        (&["-c", "-5", "b.txt"], ""),
        (&["-n", "2", "a.txt", "b.txt"], ""),
        (&["-q", "-n1", "a.txt", "b.txt"], ""),
        (&["-v", "-n1", "a.txt"], ""),
        (&["-n1", "nonl.txt"], ""),
        (&["-n", "5", "nonl.txt"], ""),
        (&["-n", "-1", "nonl.txt"], ""),
        (&["-n", "0", "b.txt"], ""),
        (&["empty.txt"], ""),
        (&["missing", "a.txt"], ""),
        (&["-n", "x", "a.txt"], ""),
        (&["-n2"], "1\n2\n3\n"),
        (&["-n1", "-", "a.txt"], "in\n"),
        (&["-x"], ""),
        (&["-c", "100", "a.txt"], ""),
        (&["-n", "-100", "a.txt"], ""),
        (&["-n", "1", "src", "a.txt"], ""),
    ];

    #[test]
    fn head_matches_gnu() {
        check("head", ".", HEAD_CASES, false);
    }

    const TAIL_CASES: &[Case] = &[
        (&["b.txt"], ""),
        (&["-n", "3", "b.txt"], ""),
        (&["-3", "b.txt"], ""),
        (&["-n", "+3", "b.txt"], ""),
        (&["-n", "+0", "b.txt"], ""),
        (&["-n", "+20", "b.txt"], ""),
        (&["-c", "4", "b.txt"], ""),
        (&["-c", "+4", "b.txt"], ""),
        (&["-n", "2", "a.txt", "b.txt"], ""),
        (&["-q", "-n1", "a.txt", "b.txt"], ""),
        (&["-n1", "nonl.txt"], ""),
        (&["-c", "3", "nonl.txt"], ""),
        (&["empty.txt"], ""),
        (&["missing"], ""),
        (&["-n", "2"], "1\n2\n3"),
        (&["-n", "0", "a.txt"], ""),
        (&["-n", "y", "a.txt"], ""),
        (&["-v", "-n", "1", "-"], "x\n"),
    ];

    #[test]
    fn tail_matches_gnu() {
        check("tail", ".", TAIL_CASES, false);
    }

    const WC_CASES: &[Case] = &[
        (&["a.txt"], ""),
        (&["-l", "a.txt"], ""),
        (&["-w", "words.txt"], ""),
        (&["-c", "a.txt"], ""),
        (&["-m", "a.txt"], ""),
        (&["a.txt", "b.txt"], ""),
        (&["-l", "a.txt", "b.txt"], ""),
        (&["-lw", "a.txt", "b.txt", "nums.txt"], ""),
        (&[], "one two\nthree\n"),
        (&["-l"], "one two\nthree\n"),
        (&["-lc"], "one two\nthree"),
        (&["src"], ""),
        (&["missing", "a.txt"], ""),
        (&["a.txt", "missing"], ""),
        (&["nonl.txt"], ""),
        (&["empty.txt"], ""),
        (&["-"], "x y z\n"),
        (&["-", "a.txt"], "x y z\n"),
        (&["-w", "-", "words.txt"], "x\n"),
        (&["-x"], ""),
    ];

    #[test]
    fn wc_matches_gnu() {
        check("wc", ".", WC_CASES, false);
    }

    const SORT_CASES: &[Case] = &[
        (&["nums.txt"], ""),
        (&["-n", "nums.txt"], ""),
        (&["-rn", "nums.txt"], ""),
        (&["-nu", "nums.txt"], ""),
        (&["-u", "dup.txt"], ""),
        (&["-f", "dup.txt"], ""),
        (&["-fu", "dup.txt"], ""),
        (&["-r", "dup.txt"], ""),
        (&["-k2", "people.txt"], ""),
        (&["-k2,2", "people.txt"], ""),
        (&["-b", "-k2,2", "people.txt"], ""),
        (&["-k2b,2", "people.txt"], ""),
        (&["-k3n", "people.txt"], ""),
        (&["-k3,3n", "-k1,1", "people.txt"], ""),
        (&["-k1,1", "-k3,3nr", "people.txt"], ""),
        (&["-k1,1", "-u", "people.txt"], ""),
        (&["-s", "-k1,1", "people.txt"], ""),
        (&["-k1.2,1.3", "people.txt"], ""),
        (&["-k", "2.2", "people.txt"], ""),
        (&["-fk1,1", "people.txt"], ""),
        (&["-t", ",", "-k2n", "csv.txt"], ""),
        (&["-t,", "-k2,2n", "-k1,1r", "csv.txt"], ""),
        (&["-t,", "-k3", "csv.txt"], ""),
        (&["-t,", "-k2,2", "csv.txt"], ""),
        (&["-r", "words.txt"], ""),
        (&["-k2", "words.txt"], ""),
        (&["a.txt", "b.txt"], ""),
        (&["nonl.txt", "b.txt"], ""),
        (&[], "b\na\nc\na\n"),
        (&["-n"], "10\n2\n-1\n1.5\n"),
        (&["missing"], ""),
        (&["-t", "ab", "a.txt"], ""),
        (&["-k0", "a.txt"], ""),
        (&["-Z", "a.txt"], ""),
        (&["empty.txt"], ""),
        (&["-t", "\t", "-k2", "tab.txt"], ""),
    ];

    #[test]
    fn sort_matches_gnu() {
        check("sort", ".", SORT_CASES, false);
    }

    const UNIQ_CASES: &[Case] = &[
        (&["dup.txt"], ""),
        (&["-c", "dup.txt"], ""),
        (&["-d", "dup.txt"], ""),
        (&["-u", "dup.txt"], ""),
        (&["-i", "dup.txt"], ""),
        (&["-ci", "dup.txt"], ""),
        (&["-cd", "dup.txt"], ""),
        (&["-du", "dup.txt"], ""),
        (&[], "x\nx\ny\n"),
        (&["-c"], "x\nx\ny"),
        (&["nonl.txt"], ""),
        (&["empty.txt"], ""),
        (&["missing"], ""),
        (&["dup.txt", "out.txt"], ""),
        (&["-x", "dup.txt"], ""),
        (&["-", "-"], "a\na\n"),
    ];

    #[test]
    fn uniq_matches_gnu() {
        check("uniq", ".", UNIQ_CASES, false);
    }

    const FIND_CASES: &[Case] = &[
        (&["."], ""),
        (&[], ""),
        (&["src"], ""),
        (&["src/"], ""),
        (&[".", "-name", "*.rs"], ""),
        (&["-name", "*.rs"], ""),
        (&[".", "-iname", "*.md"], ""),
        (&[".", "-type", "d"], ""),
        (&[".", "-type", "f", "-name", "*.txt"], ""),
        (&[".", "-maxdepth", "1"], ""),
        (&[".", "-maxdepth", "1", "-type", "f"], ""),
        (&[".", "-mindepth", "2"], ""),
        (&[".", "-mindepth", "1", "-maxdepth", "2", "-type", "d"], ""),
        (&[".", "-path", "./src/*"], ""),
        (&[".", "-path", "*util*"], ""),
        (&["src", "-name", "mod.rs"], ""),
        (&[".", "-name", "*.rs", "-o", "-name", "*.md"], ""),
        (&[".", "!", "-name", "*.txt", "-type", "f"], ""),
        (&[".", "-not", "-type", "d"], ""),
        (&[".", "(", "-name", "a.txt", "-o", "-name", "b.txt", ")", "-print"], ""),
        (&[".", "-name", "*.rs", "-print"], ""),
        (&[".", "-type", "d", "-print", "-o", "-name", "*.md", "-print"], ""),
        (&[".", "-name", "*.rs", "-a", "-path", "*util*"], ""),
        (&["missing"], ""),
        (&[".", "-bogus"], ""),
        (&[".", "-name"], ""),
        (&[".", "-type", "x"], ""),
        (&["src", "docs", "-name", "*"], ""),
        (&[".", "-name", ".*"], ""),
        (&[".", "-name", "[ab].txt"], ""),
        (&[".", "-name", "?.txt"], ""),
        (&["empty"], ""),
        (&["a.txt"], ""),
        (&["a.txt", "-name", "a.txt"], ""),
        (&["src", "-maxdepth", "0"], ""),
        (&[".", "-name", "src", "-type", "d"], ""),
        (&["./src/../docs"], ""),
        (&[".", "-ipath", "*readme*"], ""),
        (&["src", "missing", "docs"], ""),
    ];

    #[test]
    fn find_matches_gnu() {
        check("find", ".", FIND_CASES, true);
        check("find", "src", &[(&[".."], ""), (&["..", "-name", "*.md"], ""), (&["../docs", "util"], "")], true);
    }

    const DIFF_CASES: &[Case] = &[
        (&["old.txt", "new.txt"], ""),
        (&["-u", "old.txt", "new.txt"], ""),
        (&["-U1", "old.txt", "new.txt"], ""),
        (&["-U", "0", "old.txt", "new.txt"], ""),
        (&["new.txt", "old.txt"], ""),
        (&["-u", "new.txt", "old.txt"], ""),
        (&["a.txt", "a.txt"], ""),
        (&["-q", "old.txt", "new.txt"], ""),
        (&["-q", "old.txt", "old.txt"], ""),
        (&["nonl.txt", "nonl2.txt"], ""),
        (&["-u", "nonl.txt", "nonl2.txt"], ""),
        (&["-u", "nonl2.txt", "nonl.txt"], ""),
        (&["empty.txt", "a.txt"], ""),
        (&["-u", "empty.txt", "a.txt"], ""),
        (&["-u", "a.txt", "empty.txt"], ""),
        (&["a.txt", "empty.txt"], ""),
        (&["a.txt", "missing"], ""),
        (&["-", "a.txt"], "foo\nbar\nnew\n"),
        (&["-u", "a.txt", "-"], "foo\nbar\n"),
        (&["bin.dat", "a.txt"], ""),
        (&["b.txt", "b2.txt"], ""),
        (&["-u", "b.txt", "b2.txt"], ""),
        (&["-U1", "b.txt", "b2.txt"], ""),
        (&["-U", "10", "b.txt", "b2.txt"], ""),
        (&["old.txt", "docs"], ""),
        (&["a.txt"], ""),
        (&["-x", "a.txt", "b.txt"], ""),
        (&["-u", "old.txt", "b.txt"], ""),
        (&["dup.txt", "old.txt"], ""),
        (&["acacab.txt", "-"], "a\nb\nb\nb\n"),
        (&["-U1", "acacab.txt", "-"], "a\nb\nb\nb\n"),
        (&["-u", "-", "b.txt"], "one\nthree\nthree\nfour\nfive\nsix\nseven\nfour\nfive\nsix\n"),
        (&["-", "a.txt"], "foo\nbar\n\nbaz\nFoo bar\n\nfoo_bar\n\nlast line\n"),
    ];

    #[test]
    fn diff_matches_gnu() {
        check("diff", ".", DIFF_CASES, false);
    }

    const TEE_CASES: &[Case] = &[
        (&["out.txt"], "hello\n"),
        (&["-a", "a.txt"], "more\n"),
        (&["a.txt"], "replaced\n"),
        (&["x.txt", "src/y.txt"], "two files\n"),
        (&[], "just stdout\n"),
        (&["src"], "to a directory\n"),
        (&["missing/f.txt"], "no parent\n"),
    ];

    #[test]
    fn tee_matches_gnu() {
        check("tee", ".", TEE_CASES, false);
    }

    const CUT_CASES: &[Case] = &[
        (&["-d,", "-f1", "csv.txt"], ""),
        (&["-d", ",", "-f", "2,3", "csv.txt"], ""),
        (&["-d,", "-f2-", "csv.txt"], ""),
        (&["-d,", "-f-2", "csv.txt"], ""),
        (&["-d,", "-f1,3-", "csv.txt"], ""),
        (&["-d,", "-s", "-f2", "csv.txt"], ""),
        (&["-f2", "tab.txt"], ""),
        (&["-f1,3", "tab.txt"], ""),
        (&["-f3", "tab.txt"], ""),
        (&["-c1-3", "b.txt"], ""),
        (&["-c2", "b.txt"], ""),
        (&["-c-2,4-", "b.txt"], ""),
        (&["-b1-2", "b.txt"], ""),
        (&["-c", "3-3,1", "b.txt"], ""),
        (&["-d", " ", "-f2", "words.txt"], ""),
        (&["-d:", "-f1"], "a:b\nc\n"),
        (&["-f1", "missing"], ""),
        (&["-f0", "csv.txt"], ""),
        (&["csv.txt"], ""),
        (&["-d,,", "-f1", "csv.txt"], ""),
        (&["-f3-1", "csv.txt"], ""),
        (&["-c1", "nonl.txt"], ""),
        (&["-d,", "-f5", "csv.txt"], ""),
        (&["-c", "1,1,2", "b.txt"], ""),
    ];

    #[test]
    fn cut_matches_gnu() {
        check("cut", ".", CUT_CASES, false);
    }

    const TR_CASES: &[Case] = &[
        (&["a-z", "A-Z"], "Hello, World!\n"),
        (&["[:lower:]", "[:upper:]"], "Hello, World!\n"),
        (&["[:upper:]", "[:lower:]"], "Hello, World!\n"),
        (&["-d", "aeiou"], "education\n"),
        (&["-s", " "], "a   b    c\n"),
        (&["-d", "\\n"], "a\nb\nc\n"),
        (&["\\n", " "], "a\nb\nc\n"),
        (&["-c", "a-z\\n", "X"], "ab1-cd\n"),
        (&["-cd", "[:alnum:]\\n"], "a-b_c 1!\n"),
        (&["-s", "a-z"], "aabbccdd  ee\n"),
        (&["abc", "x"], "aabbcc\n"),
        (&["abc", "xyz"], "cab\n"),
        (&["-ds", "a", "b"], "abbbac\n"),
        (&["[:digit:]", "#"], "a1b22c333\n"),
        (&["-d", "[:space:]"], "a b\tc\nd\n"),
        (&["a-c", "A-C"], "abcdef\n"),
        (&["\\t", ","], "a\tb\tc\n"),
        (&["-s", "\\n"], "a\n\n\nb\n"),
        (&["\\101", "x"], "ABA\n"),
        (&["-s", "a-z", "A-Z"], "aabbcc\n"),
        (&["[:alpha:]", "*"], "a1B2\n"),
        (&["a-"], "x"),
        (&[], "x"),
        (&["a"], "x"),
        (&["-d", "a", "b"], "x"),
        (&["z-a", "x"], "x"),
        (&["ab", ""], "x"),
        (&["-z"], "x"),
    ];

    #[test]
    fn tr_matches_gnu() {
        check("tr", ".", TR_CASES, false);
    }

    const BASENAME_CASES: &[Case] = &[
        (&["/a/b/c.txt"], ""),
        (&["/a/b/c.txt", ".txt"], ""),
        (&["c.txt", "c.txt"], ""),
        (&["/"], ""),
        (&["a/b/"], ""),
        (&[""], ""),
        (&["-a", "a/b", "c/d"], ""),
        (&["-s", ".rs", "src/main.rs", "src/lib.rs"], ""),
        (&["//"], ""),
        (&["a//b///"], ""),
        (&[], ""),
        (&["a", "b", "c"], ""),
    ];

    const DIRNAME_CASES: &[Case] = &[
        (&["/a/b/c"], ""),
        (&["a/b/"], ""),
        (&["a"], ""),
        (&["/"], ""),
        (&["/a"], ""),
        (&[""], ""),
        (&["a/b", "c/d/e"], ""),
        (&["//a//b//"], ""),
        (&[], ""),
    ];

    #[test]
    fn basename_and_dirname_match_gnu() {
        check("basename", ".", BASENAME_CASES, false);
        check("dirname", ".", DIRNAME_CASES, false);
    }

    const SEQ_CASES: &[Case] = &[
        (&["5"], ""),
        (&["2", "5"], ""),
        (&["1", "2", "10"], ""),
        (&["5", "1"], ""),
        (&["10", "-3", "1"], ""),
        (&["-s,", "3"], ""),
        (&["-s", ": ", "1", "3"], ""),
        (&["-w", "8", "10"], ""),
        (&["-w", "-1", "1"], ""),
        (&["0", "0.5", "2"], ""),
        (&["1", "1.50"], ""),
        (&["-w", "1", "1.5", "10"], ""),
        (&["-3", "-1"], ""),
        (&["1", "0", "3"], ""),
        (&["x"], ""),
        (&["1", "2", "3", "4"], ""),
        (&[], ""),
        (&["0"], ""),
        (&[".5", "1", "3"], ""),
        (&["1.0", "3"], ""),
        (&["-w", "0.5", "0.25", "1"], ""),
        (&["-s", "", "3"], ""),
        (&["-w", "1", "10.5"], ""),
        (&["5", "-2", "-3"], ""),
        (&["-w", "-5", "3"], ""),
        (&["-s", "-", "-2", "2"], ""),
        (&["+3"], ""),
    ];

    #[test]
    fn seq_matches_gnu() {
        check("seq", ".", SEQ_CASES, false);
    }

    const SED_CASES: &[Case] = &[
        (&["s/foo/X/", "a.txt"], ""),
        (&["s/o/0/g", "a.txt"], ""),
        (&["s/o/0/2", "a.txt"], ""),
        (&["s/a/A/2g"], "banana\n"),
        (&["-n", "s/foo/X/p", "a.txt"], ""),
        (&["s/FOO/x/i", "a.txt"], ""),
        (&["s/FOO/x/Ig", "a.txt"], ""),
        (&["-n", "2p", "b.txt"], ""),
        (&["-n", "$p", "b.txt"], ""),
        (&["2d", "b.txt"], ""),
        (&["/e/d", "b.txt"], ""),
        (&["-n", "/^t/p", "b.txt"], ""),
        (&["-n", "2,4p", "b.txt"], ""),
        (&["-n", "/two/,/five/p", "b.txt"], ""),
        (&["-n", "3,$p", "b.txt"], ""),
        (&["-n", "/ten/,$p", "b.txt"], ""),
        (&["2,4!d", "b.txt"], ""),
        (&["5q", "b.txt"], ""),
        (&["-n", "$=", "b.txt"], ""),
        (&["=", "nonl.txt"], ""),
        (&["s/\\(o\\)\\(n\\)/\\2\\1/", "b.txt"], ""),
        (&["-E", "s/(o)(n)/\\2\\1/", "b.txt"], ""),
        (&["-r", "s/(e+)/[\\1]/g", "b.txt"], ""),
        (&["s/[aeiou]/<&>/g", "b.txt"], ""),
        (&["s/&/\\&/"], "a&b\n"),
        (&["s|/|_|g"], "/usr/local/bin\n"),
        (&["s/x*/-/g"], "abc\nxab\n"),
        (&["-e", "s/a/b/", "-e", "s/b/c/"], "a\nb\n"),
        (&["s/a/b/;s/b/c/"], "a\nb\n"),
        (&["y/abc/xyz/"], "aabbcc\n"),
        (&["p", "nonl.txt"], ""),
        (&["$d", "nonl.txt"], ""),
        (&["-n", "p", "nonl.txt"], ""),
        (&["s/$/!/", "nonl.txt"], ""),
        (&["s/^/> /", "a.txt"], ""),
        (&["s/ *$//"], "a  \nb \nc\n"),
        (&["-E", "s/[0-9]+/N/g", "nums.txt"], ""),
        (&["s/[0-9]\\+/N/g", "nums.txt"], ""),
        (&["s/a\\|b/X/g", "special.txt"], ""),
        (&["s/a|b/X/", "special.txt"], ""),
        (&["/^$/d", "a.txt"], ""),
        (&["s/a/b/x", "a.txt"], ""),
        (&["k", "a.txt"], ""),
        (&["s/a/b", "a.txt"], ""),
        (&["p", "missing.txt"], ""),
        (&["p", "missing.txt", "nonl2.txt"], ""),
        (&["-i", "s/foo/FOO/", "a.txt"], ""),
        (&["-i", "-n", "2p", "b.txt", "a.txt"], ""),
        (&["s/o/\\n/"], "foo\n"),
        (&["s/o/\\t/"], "foo\n"),
        (&["-n", "3,1p", "b.txt"], ""),
        (&["-n", "/three/,2p", "b.txt"], ""),
        (&["-n", "/e/,/e/p", "b.txt"], ""),
        (&["s/b/B/", "a.txt", "b.txt"], ""),
        (&["-n", "$p", "a.txt", "b.txt"], ""),
        (&["2q", "a.txt", "b.txt"], ""),
        (&["\\,o,d", "b.txt"], ""),
        (&["/T/Id", "b.txt"], ""),
        (&["-n", "/foo/{p}", "a.txt"], ""),
        (&["-n", "/o/{s/o/0/;/f/p;}", "a.txt"], ""),
        (&["2,4{/f/d;s/^/-/}", "b.txt"], ""),
        (&["/t/!{s/e/E/g}", "b.txt"], ""),
        (&["-n", "{p", "a.txt"], ""),
        (&["-n", "p}", "a.txt"], ""),
        (&["s/\\./!/g", "special.txt"], ""),
        (&["s/[.]/!/g", "special.txt"], ""),
        (&["-n", "/x\\$y/p", "special.txt"], ""),
        (&["s/e/E/3", "b.txt"], ""),
        (&["# comment\ns/one/1/", "b.txt"], ""),
        (&[], ""),
        (&["s/one//", "b.txt"], ""),
        (&["/one/s//ONE/", "b.txt"], ""),
        (&["s/\\(x\\)/\\2/"], "x\n"),
        (&["-E", "s/o+?/0/g", "b.txt"], ""),
        (&["s/[[:digit:]]\\{2\\}/NN/", "nums.txt"], ""),
    ];

    #[test]
    fn sed_matches_gnu() {
        check("sed", ".", SED_CASES, false);
    }

    fn run_ours(tool: &str, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        run(tool, &args, b"", "/", &mut MemWs::fixture()).unwrap()
    }

    #[test]
    fn unknown_flag_names_the_flag_and_the_usage() {
        for &(tool, _, _) in TOOLS {
            let out = run_ours(tool, &["-Q", "x", "y"]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let expected_status = if tool == "grep" || tool == "diff" || tool == "sort" { 2 } else { 1 };
            assert_eq!(out.status, expected_status, "{tool}: {stderr}");
            assert!(stderr.starts_with(&format!("{tool}: ")), "{tool}: {stderr}");
            assert!(stderr.contains("'Q'") || stderr.contains("-Q"), "{tool}: {stderr}");
        }
        let out = run_ours("grep", &["-z", "x"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("grep: invalid option -- 'z'\nUsage: {}\n", TOOLS[0].1)
        );
        let out = run_ours("sort", &["--bogus"]);
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().next(), Some("sort: unrecognized option '--bogus'"));
        let out = run_ours("head", &["-n"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).lines().next(),
            Some("head: option requires an argument -- 'n'")
        );
        assert_eq!(out.status, 1);
    }

    #[test]
    fn unsupported_features_are_named() {
        let out = run_ours("grep", &["\\(a\\)\\1", "a.txt"]);
        assert_eq!(
            (out.status, String::from_utf8_lossy(&out.stderr).as_ref()),
            (2, "grep: back-references (\\1 to \\9) are not supported\n")
        );
        let out = run_ours("find", &[".", "-exec", "rm", "{}", ";"]);
        assert_eq!(
            (out.status, String::from_utf8_lossy(&out.stderr).as_ref()),
            (1, "find: unknown or unsupported predicate '-exec'\n")
        );
        let out = run_ours("sed", &["1!G", "a.txt"]);
        assert_eq!(
            (out.status, String::from_utf8_lossy(&out.stderr).as_ref()),
            (1, "sed: -e expression #1, char 3: unknown or unsupported command: `G'\n")
        );
        let out = run_ours("diff", &["src", "docs"]);
        assert_eq!(out.status, 2);
    }

    #[test]
    fn every_tool_runs_and_others_do_not() {
        for &(tool, usage, _) in TOOLS {
            let out = run_ours(tool, &["--help"]);
            assert_eq!(out.status, 0, "{tool}");
            assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("Usage: {usage}\n")));
        }
        assert!(run("cat", &[], b"", "/", &mut MemWs::fixture()).is_none());
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let out = run_ours("grep", &["-A", "18446744073709551615", "foo", "a.txt"]);
        assert_eq!(out.status, 0);
        let out = run_ours("diff", &["-U", "18446744073709551615", "old.txt", "new.txt"]);
        assert_eq!(out.status, 1);
        let out = run_ours("sort", &["-k1.18446744073709551615,1.18446744073709551615", "a.txt"]);
        assert_eq!(out.status, 0);
        let out = run_ours(
            "seq",
            &["170141183460469231731687303715884105727", "0.1", "170141183460469231731687303715884105728"],
        );
        assert_eq!(out.status, 1);
    }

    #[test]
    fn tee_writes_through_the_workspace() {
        let mut ws = MemWs::fixture();
        let args = vec!["-a".to_string(), "log.txt".to_string()];
        for line in ["one\n", "two\n"] {
            let out = run("tee", &args, line.as_bytes(), "/src", &mut ws).unwrap();
            assert_eq!(out.stdout, line.as_bytes());
        }
        assert_eq!(ws.files["/src/log.txt"], b"one\ntwo\n");
    }
}
