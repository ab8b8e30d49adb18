//! The command language's grammar: bash's, as `brush-parser` (the parser of the brush shell,
//! maintained against bash) reads it, plus the check that refuses what devshell does not run.
//!
//! Pure: no execution, no workspace. A unit either parses and passes [`check`] whole, or fails
//! with an error naming its line and the construct, and nothing of it runs.

use std::fmt;

use brush_parser::ast::{self, Command, CompoundCommand, CompoundList, IoFileRedirectTarget, IoRedirect};
pub use brush_parser::ast::Program;
use brush_parser::{ParseError, ParserOptions, TokenizerError};

/// The options every parse in devshell uses: bash's, without extended globbing.
pub fn options() -> ParserOptions {
    ParserOptions { enable_extended_globbing: false, ..ParserOptions::default() }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: syntax error: {}", self.line, self.message)
    }
}

pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Parse a whole unit (a script file, a `-c` string, one REPL entry) and check that devshell
/// runs every construct in it.
pub fn parse(source: &str) -> Result<Program, SyntaxError> {
    check_nesting(source)?;
    let mut parser = brush_parser::Parser::new(std::io::Cursor::new(source.as_bytes()), &options());
    let program = without_panics(|| parser.parse_program())
        .map_err(|message| SyntaxError { line: 1, message })?
        .map_err(|error| describe(source, &error))?;
    check(&program)?;
    Ok(program)
}

/// Run one of `brush-parser`'s word-level parsers, which panic on some inputs (a number too
/// long for its integer type, as in `~99999999999999999999`): the panic becomes an error.
pub fn without_panics<T>(parse: impl FnOnce() -> T) -> Result<T, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse));
    std::panic::set_hook(previous);
    outcome.map_err(|panic| {
        let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
        format!("cannot be parsed ({})", message.unwrap_or_else(|| "the parser failed".into()))
    })
}

/// How deeply brackets may nest in one unit: far beyond what people write, well inside the
/// parser's and the interpreter's stack.
const MAX_NESTING: usize = 1000;

/// Refuse absurd nesting before the (recursive) parser sees it. Counts every bracket, quoted
/// or not: a guard, not a grammar.
fn check_nesting(source: &str) -> Result<(), SyntaxError> {
    let mut depth = 0usize;
    let mut line = 1;
    for c in source.chars() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            '\n' => line += 1,
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(SyntaxError { line, message: format!("nested more than {MAX_NESTING} levels deep") });
        }
    }
    let words = source.split_whitespace().filter(|w| matches!(*w, "if" | "while" | "until" | "for" | "case")).count();
    if words > 20 * MAX_NESTING {
        return Err(SyntaxError { line: 1, message: format!("more than {} compound commands in one unit", 20 * MAX_NESTING) });
    }
    Ok(())
}

/// True when `source` fails only because a construct is still open (the REPL then reads on).
pub fn is_incomplete(source: &str) -> bool {
    let trailing_backslashes = source.trim_end().chars().rev().take_while(|&c| c == '\\').count();
    if trailing_backslashes % 2 == 1 {
        return true;
    }
    if check_nesting(source).is_err() {
        return false;
    }
    let mut parser = brush_parser::Parser::new(std::io::Cursor::new(source.as_bytes()), &options());
    let Ok(parsed) = without_panics(|| parser.parse_program()) else { return false };
    match parsed {
        Ok(_) => false,
        Err(ParseError::Tokenizing { inner, .. }) => matches!(
            inner,
            TokenizerError::UnterminatedSingleQuote(_)
                | TokenizerError::UnterminatedDoubleQuote(_)
                | TokenizerError::UnterminatedBackquote(_)
                | TokenizerError::UnterminatedEscapeSequence
                | TokenizerError::UnterminatedExpansion
                | TokenizerError::UnterminatedCommandSubstitution
                | TokenizerError::UnterminatedHereDocuments(..)
        ),
        Err(ParseError::ParsingAtEndOfInput) => unmatched_closer(source).is_none(),
        Err(_) => false,
    }
}

/// The parser's error as a line and a message a user can act on.
fn describe(source: &str, error: &ParseError) -> SyntaxError {
    match error {
        ParseError::ParsingNear(position) => {
            // The parser reports where it stopped, which can be the line's end: the last
            // token at or before it is the one to name.
            let tokens = brush_parser::tokenize_str_with_options(source, &options().tokenizer_options()).unwrap_or_default();
            let token = tokens
                .iter()
                .rev()
                .find(|t| t.location().start.index <= position.index && !t.to_str().trim().is_empty());
            match token {
                Some(token) => SyntaxError {
                    line: token.location().start.line.max(1),
                    message: format!("unexpected `{}`", token.to_str()),
                },
                None => SyntaxError { line: position.line.max(1), message: "unexpected input".into() },
            }
        }
        ParseError::ParsingAtEndOfInput => match unmatched_closer(source) {
            Some((line, word)) => SyntaxError { line, message: format!("unexpected `{word}`") },
            None => SyntaxError {
                line: source.lines().count().max(1),
                message: "unexpected end of input (an `if`, loop, `case`, group or quote is not closed)".into(),
            },
        },
        ParseError::Tokenizing { inner, position } => {
            SyntaxError { line: position.as_ref().map(|p| p.line).unwrap_or(1).max(1), message: inner.to_string() }
        }
    }
}

/// The first closing keyword (`fi`, `done`, `esac`, `}`, `)`) with nothing open to close: a
/// stray one is an error, not an incomplete unit. Counts words in command position only roughly,
/// which is all an error message and the REPL's "read on?" need.
fn unmatched_closer(source: &str) -> Option<(usize, String)> {
    // Not `(`/`)`: a `case` pattern ends with a bare `)`.
    const PAIRS: &[(&str, &str)] = &[("if", "fi"), ("do", "done"), ("case", "esac"), ("{", "}")];
    let tokens = brush_parser::tokenize_str_with_options(source, &options().tokenizer_options()).ok()?;
    let mut open: Vec<&str> = Vec::new();
    for token in &tokens {
        let text = token.to_str();
        if let Some((opener, _)) = PAIRS.iter().find(|(o, _)| *o == text) {
            open.push(opener);
        } else if let Some((opener, closer)) = PAIRS.iter().find(|(_, c)| *c == text) {
            if open.last() == Some(opener) {
                open.pop();
            } else if !open.contains(opener) {
                let line = token.location().start.line.max(1);
                return Some((line, closer.to_string()));
            }
        }
    }
    None
}

/// Refuse, before anything runs, the constructs devshell does not run, naming each.
fn check(program: &Program) -> Result<(), SyntaxError> {
    program.complete_commands.iter().try_for_each(check_list)
}

fn check_list(list: &CompoundList) -> Result<(), SyntaxError> {
    for item in &list.0 {
        if matches!(item.1, ast::SeparatorOperator::Async) {
            return Err(unsupported(&item.0.first.seq, "background jobs (`&`)"));
        }
        for pipeline in std::iter::once(&item.0.first).chain(item.0.additional.iter().map(|a| match a {
            ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
        })) {
            if pipeline.timed.is_some() {
                return Err(unsupported(&pipeline.seq, "`time`"));
            }
            pipeline.seq.iter().try_for_each(check_command)?;
        }
    }
    Ok(())
}

fn check_command(command: &Command) -> Result<(), SyntaxError> {
    let line = line_of(command);
    let refuse = |what: &str| Err(SyntaxError { line, message: format!("{what} are not supported in devshell") });
    match command {
        Command::Simple(simple) => {
            let items = simple.prefix.iter().flat_map(|p| &p.0).chain(simple.suffix.iter().flat_map(|s| &s.0));
            for item in items {
                match item {
                    ast::CommandPrefixOrSuffixItem::ProcessSubstitution(..) => return refuse("process substitutions"),
                    ast::CommandPrefixOrSuffixItem::AssignmentWord(assignment, _) => {
                        if matches!(assignment.value, ast::AssignmentValue::Array(_))
                            || matches!(assignment.name, ast::AssignmentName::ArrayElementName(..))
                        {
                            return refuse("arrays");
                        }
                    }
                    ast::CommandPrefixOrSuffixItem::IoRedirect(redirect) => check_redirect(redirect, line)?,
                    ast::CommandPrefixOrSuffixItem::Word(_) => {}
                }
            }
            Ok(())
        }
        Command::Compound(compound, redirects) => {
            redirects.iter().flat_map(|r| &r.0).try_for_each(|r| check_redirect(r, line))?;
            check_compound(compound, line)
        }
        Command::Function(function) => {
            function.body.1.iter().flat_map(|r| &r.0).try_for_each(|r| check_redirect(r, line))?;
            check_compound(&function.body.0, line)
        }
        Command::ExtendedTest(_, redirects) => redirects.iter().flat_map(|r| &r.0).try_for_each(|r| check_redirect(r, line)),
    }
}

fn check_redirect(redirect: &IoRedirect, line: usize) -> Result<(), SyntaxError> {
    let refuse = |what: &str| Err(SyntaxError { line, message: format!("{what} are not supported in devshell") });
    match redirect {
        IoRedirect::File(_, _, IoFileRedirectTarget::ProcessSubstitution(..)) => refuse("process substitutions"),
        IoRedirect::File(Some(fd), ..) | IoRedirect::HereDocument(Some(fd), _) | IoRedirect::HereString(Some(fd), _)
            if *fd > 2 =>
        {
            refuse("redirects of file descriptors above 2")
        }
        IoRedirect::File(_, ast::IoFileRedirectKind::ReadAndWrite, _) => refuse("`<>` redirects"),
        _ => Ok(()),
    }
}

fn check_compound(compound: &CompoundCommand, line: usize) -> Result<(), SyntaxError> {
    match compound {
        CompoundCommand::Arithmetic(_) => Ok(()),
        CompoundCommand::ArithmeticForClause(c) => check_list(&c.body.list),
        CompoundCommand::BraceGroup(c) => check_list(&c.list),
        CompoundCommand::Subshell(c) => check_list(&c.list),
        CompoundCommand::ForClause(c) => check_list(&c.body.list),
        CompoundCommand::CaseClause(c) => c.cases.iter().flat_map(|item| &item.cmd).try_for_each(check_list),
        CompoundCommand::IfClause(c) => {
            check_list(&c.condition)?;
            check_list(&c.then)?;
            for branch in c.elses.iter().flatten() {
                branch.condition.iter().try_for_each(check_list)?;
                check_list(&branch.body)?;
            }
            Ok(())
        }
        CompoundCommand::WhileClause(c) | CompoundCommand::UntilClause(c) => {
            check_list(&c.0)?;
            check_list(&c.1.list)
        }
        CompoundCommand::Coprocess(_) => {
            Err(SyntaxError { line, message: "coprocesses are not supported in devshell".into() })
        }
    }
}

fn unsupported(seq: &[Command], what: &str) -> SyntaxError {
    SyntaxError { line: seq.first().map(line_of).unwrap_or(1), message: format!("{what} are not supported in devshell") }
}

/// The line a command starts on, for messages.
pub fn line_of(command: &Command) -> usize {
    use brush_parser::ast::SourceLocation;
    command.location().map(|span| span.start.line).unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_line_and_what_was_wrong() {
        let e = parse("echo ok\nif true; then echo\ndone\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "unexpected `done`"), "{e}");
        let e = parse("echo 'open").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("unterminated single quote"), "{e}");
        let e = parse("echo ok\nfi").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "unexpected `fi`"));
        assert!(parse("echo a )").unwrap_err().message.contains("unexpected `)`"));
    }

    #[test]
    fn absurd_nesting_is_refused_before_parsing() {
        let deep = format!("{}echo;{}", "{ ".repeat(5000), " }".repeat(5000));
        assert!(parse(&deep).unwrap_err().message.contains("nested more than"));
        let fine = format!("{}echo;{}", "{ ".repeat(50), " }".repeat(50));
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn unsupported_constructs_are_named_before_anything_runs() {
        for (source, named) in [
            ("echo a &", "background jobs"),
            ("a=(1 2)", "arrays"),
            ("cat <(echo a)", "process substitutions"),
            ("coproc cat", "coprocesses"),
            ("echo a 3>x", "file descriptors above 2"),
            ("f() { :; } <> x", "`<>` redirects"),
            ("f() { echo in; } 3>x", "file descriptors above 2"),
            ("if true; then\n  sleep 1 &\nfi", "background jobs"),
        ] {
            let e = parse(source).unwrap_err();
            assert!(e.message.contains(named) && e.message.contains("not supported"), "{source}: {e}");
        }
    }

    #[test]
    fn incomplete_units_read_on_and_stray_closers_do_not() {
        for open in ["if true; then", "echo \"abc", "for x in a; do", "f() {", "cat <<EOF", "echo $(", "a &&", "echo \\"] {
            assert!(is_incomplete(open), "{open}");
        }
        assert!(is_incomplete("case a in\na) echo hi;;"), "a case pattern's `)` closes nothing");
        for done in ["echo fine", "fi", "echo a; done", "echo )", "}", "echo a\\\\"] {
            assert!(!is_incomplete(done), "{done}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Any input parses or fails with a located error; nothing panics.
        #[test]
        fn arbitrary_text_never_panics(source in "\\PC{0,160}") {
            if let Err(e) = parse(&source) {
                proptest::prop_assert!(e.line >= 1 && e.line <= source.lines().count().max(1) + 1, "{e}");
            }
            let _ = is_incomplete(&source);
        }

        /// Inputs made of the language's own punctuation, where a parser's edge cases live.
        #[test]
        fn shell_alphabet_never_panics(source in "[a-z2 $'\"\\\\#;|&<>{}()\n=-]{0,120}|(if|then|fi|for|do|done|case|esac|in|;;|;| |x|\n|\\$\\{|\\}|\\$\\(|\\))*") {
            let _ = parse(&source);
            let _ = is_incomplete(&source);
        }
    }
}
