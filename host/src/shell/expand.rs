//! Word expansion, in bash's order: braces; then tilde, parameters, command substitution and
//! arithmetic, left to right; then field splitting on `IFS`; then filename expansion; then
//! quote removal. Words arrive as raw text from the parser and are read by `brush-parser`'s
//! word grammar here.
//!
//! Each expanded character remembers whether it was quoted (never split, never a wildcard) and
//! whether it came from an unquoted expansion (split on `IFS`). Owns no state: variables,
//! positional parameters and the workspace are the interpreter's.

use brush_parser::word::{
    self, BraceExpressionMember, BraceExpressionOrText, Parameter, ParameterExpr, ParameterTestType,
    SpecialParameter, SubstringMatchKind, TildeExpr, WordPiece, WordPieceWithSource,
};

use super::io::{self, Io, TargetKind};
use super::pattern::{self, Anchor, Pattern};
use super::{arith, syntax, Flow, Shell};

/// The most words one brace expansion may make (`{1..100000000}` is a typo, not a request).
const MAX_BRACE_WORDS: usize = 100_000;

/// One expanded character.
#[derive(Clone, Copy)]
struct Ch {
    c: char,
    quoted: bool,
    split: bool,
}

/// Marks where quotes stood (`""` makes an empty field); removed before use.
const MARK: Ch = Ch { c: '\0', quoted: true, split: false };

/// Expanded text, cut into fields only by `"$@"`; splitting on `IFS` comes after.
struct Expansion {
    fields: Vec<Vec<Ch>>,
}

impl Expansion {
    fn new() -> Expansion {
        Expansion { fields: vec![Vec::new()] }
    }

    fn push(&mut self, text: &str, quoted: bool, split: bool) {
        let field = self.fields.last_mut().expect("never empty");
        field.extend(text.chars().filter(|&c| c != '\0').map(|c| Ch { c, quoted, split }));
    }

    fn mark(&mut self) {
        self.fields.last_mut().expect("never empty").push(MARK);
    }

    fn break_field(&mut self) {
        self.fields.push(Vec::new());
    }

    /// All of it as one string (assignments, `[[ ]]` operands, here-documents).
    fn joined(&self) -> String {
        self.fields.iter().map(|f| text_of(f)).collect::<Vec<_>>().join(" ")
    }
}

fn text_of(chars: &[Ch]) -> String {
    chars.iter().filter(|ch| ch.c != '\0' || !ch.quoted).map(|ch| ch.c).collect()
}

/// Expanded characters as a pattern: quoted ones (and backslashes) literal, the rest wildcards.
fn pattern_of(chars: &[Ch]) -> String {
    let mut out = String::new();
    for ch in chars.iter().filter(|ch| ch.c != '\0' || !ch.quoted) {
        if ch.quoted || ch.c == '\\' {
            out.push_str(&pattern::escape(&ch.c.to_string()));
        } else {
            out.push(ch.c);
        }
    }
    out
}

/// A parameter's value before it is placed into fields.
enum Value {
    Unset,
    One(String),
    /// `$@` (`concatenate` false) or `$*`.
    Many(Vec<String>, bool),
}

impl Value {
    fn is_unset_or_null(&self, test: &ParameterTestType) -> bool {
        match self {
            Value::Unset => true,
            Value::One(s) => matches!(test, ParameterTestType::UnsetOrNull) && s.is_empty(),
            Value::Many(items, _) => items.is_empty(),
        }
    }

    fn map(self, f: impl Fn(&str) -> String) -> Value {
        match self {
            Value::Unset => Value::Unset,
            Value::One(s) => Value::One(f(&s)),
            Value::Many(items, concatenate) => Value::Many(items.iter().map(|s| f(s)).collect(), concatenate),
        }
    }
}

impl Shell {
    /// Command words and `for` lists: every step, fields out.
    pub(super) fn expand_words<'w>(
        &mut self,
        words: impl IntoIterator<Item = &'w str>,
        io: &Io,
    ) -> Result<Vec<String>, Flow> {
        let mut out = Vec::new();
        for raw in words {
            for braced in brace_expand(raw) {
                let expansion = self.expand_raw(&braced, io)?;
                for field in expansion.fields {
                    for split in self.split_field(&field) {
                        self.glob_field(&split, &mut out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Assignment values, redirect targets, `case` subjects, `[[ ]]` operands: no splitting,
    /// no filename expansion.
    pub(super) fn expand_string(&mut self, raw: &str, io: &Io) -> Result<String, Flow> {
        Ok(self.expand_raw(raw, io)?.joined())
    }

    /// An assignment's value: as [`Shell::expand_string`], with `~` also expanded after each
    /// `:` (`PATH=~/bin:~/tools`).
    pub(super) fn expand_assignment(&mut self, raw: &str, io: &Io) -> Result<String, Flow> {
        let options = brush_parser::ParserOptions { tilde_expansion_after_colon: true, ..syntax::options() };
        let pieces = parse_word(raw, &options).map_err(|e| self.expansion_error(io, e))?;
        let mut expansion = Expansion::new();
        self.expand_pieces(&pieces, false, &mut expansion, io)?;
        Ok(expansion.joined())
    }

    /// The right side of `[[ =~ ]]`: quoted characters match literally.
    pub(super) fn expand_regex(&mut self, raw: &str, io: &Io) -> Result<String, Flow> {
        let expansion = self.expand_raw(raw, io)?;
        let mut out = String::new();
        for ch in expansion.fields.iter().flatten().filter(|ch| ch.c != '\0' || !ch.quoted) {
            if ch.quoted {
                out.push_str(&regex::escape(&ch.c.to_string()));
            } else {
                out.push(ch.c);
            }
        }
        Ok(out)
    }

    /// `case` patterns, `[[ == ]]` right sides, `${v#…}`: quoted characters made literal.
    pub(super) fn expand_pattern(&mut self, raw: &str, io: &Io) -> Result<String, Flow> {
        let expansion = self.expand_raw(raw, io)?;
        let mut out = String::new();
        for (index, field) in expansion.fields.iter().enumerate() {
            if index > 0 {
                out.push(' ');
            }
            out.push_str(&pattern_of(field));
        }
        Ok(out)
    }

    /// A here-document body whose delimiter was not quoted: `$`, backquotes and `\` act,
    /// quotes are ordinary characters.
    pub(super) fn expand_heredoc(&mut self, body: &str, io: &Io) -> Result<String, Flow> {
        let body = join_continued_lines(body);
        let pieces = syntax::without_panics(|| word::parse_heredoc(&body, &syntax::options()))
            .and_then(|parsed| parsed.map_err(|e| e.to_string()))
            .map_err(|e| self.expansion_error(io, format!("here-document: {e}")))?;
        let mut expansion = Expansion::new();
        self.expand_pieces(&pieces, true, &mut expansion, io)?;
        Ok(expansion.joined())
    }

    /// `$((…))`-style text: expanded, then evaluated.
    pub(super) fn arithmetic(&mut self, text: &str, io: &Io) -> Result<i64, Flow> {
        let expanded = self.expand_heredoc(text, io)?;
        arith::evaluate(&expanded, self).map_err(|e| self.expansion_error(io, e))
    }

    /// Print an expansion error; the unit stops (a script exits, as bash's does).
    pub(super) fn expansion_error(&self, io: &Io, message: impl std::fmt::Display) -> Flow {
        io.clone().error("devshell", message);
        Flow::Abort(1)
    }

    fn expand_raw(&mut self, raw: &str, io: &Io) -> Result<Expansion, Flow> {
        let pieces = parse_word(raw, &syntax::options()).map_err(|e| self.expansion_error(io, e))?;
        let mut expansion = Expansion::new();
        self.expand_pieces(&pieces, false, &mut expansion, io)?;
        Ok(expansion)
    }

    fn expand_pieces(
        &mut self,
        pieces: &[WordPieceWithSource],
        quoted: bool,
        out: &mut Expansion,
        io: &Io,
    ) -> Result<(), Flow> {
        for piece in pieces {
            match &piece.piece {
                WordPiece::Text(text) => out.push(text, quoted, false),
                WordPiece::SingleQuotedText(text) => {
                    out.mark();
                    out.push(text, true, false);
                }
                WordPiece::AnsiCQuotedText(text) => {
                    out.mark();
                    out.push(&crate::builtins::decode_escapes(text, false).0, true, false);
                }
                WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
                    let only_at = matches!(inner.as_slice(), [only] if is_all_positional(&only.piece));
                    if !only_at {
                        out.mark();
                    }
                    self.expand_pieces(inner, true, out, io)?;
                }
                WordPiece::TildeExpansion(tilde) => {
                    let text = match tilde {
                        TildeExpr::Home => self.var("HOME").unwrap_or("/").to_string(),
                        TildeExpr::WorkingDir => self.cwd.clone(),
                        TildeExpr::OldWorkingDir => self.var("OLDPWD").unwrap_or("").to_string(),
                        TildeExpr::UserHome(user) => format!("~{user}"),
                        TildeExpr::NthDirFromTopOfDirStack { n, plus_used } => {
                            format!("~{}{n}", if *plus_used { "+" } else { "" })
                        }
                        TildeExpr::NthDirFromBottomOfDirStack { n } => format!("~-{n}"),
                    };
                    out.push(&text, true, false);
                }
                WordPiece::ParameterExpansion(expr) => {
                    let value = self.parameter_expansion(expr, quoted, io)?;
                    place(value, quoted, out, self.ifs_join());
                }
                WordPiece::CommandSubstitution(source) => {
                    let text = self.command_substitution(source, io)?;
                    out.push(&text, quoted, !quoted);
                }
                WordPiece::BackquotedCommandSubstitution(source) => {
                    let inner = source.strip_prefix('`').and_then(|s| s.strip_suffix('`')).unwrap_or(source);
                    let text = self.command_substitution(&unescape_backquoted(inner), io)?;
                    out.push(&text, quoted, !quoted);
                }
                WordPiece::EscapeSequence(escape) => {
                    let escaped = escape.strip_prefix('\\').unwrap_or(escape);
                    match escaped {
                        "\n" => {}
                        // In double quotes a backslash escapes only `$`, `` ` ``, `"`, `\`.
                        other if quoted && !matches!(other, "$" | "`" | "\"" | "\\") => out.push(escape, true, false),
                        other => out.push(other, true, false),
                    }
                }
                WordPiece::ArithmeticExpression(expr) => {
                    let value = self.arithmetic(&expr.value, io)?;
                    out.push(&value.to_string(), quoted, !quoted);
                }
            }
        }
        Ok(())
    }

    /// What `"$*"` joins with: the first character of `IFS` (a space when unset).
    fn ifs_join(&self) -> String {
        match self.var("IFS") {
            None => " ".into(),
            Some(ifs) => ifs.chars().next().map(String::from).unwrap_or_default(),
        }
    }

    fn ifs(&self) -> String {
        self.var("IFS").unwrap_or(" \t\n").to_string()
    }

    fn parameter_value(&mut self, parameter: &Parameter, indirect: bool, io: &Io) -> Result<Value, Flow> {
        let value = match parameter {
            Parameter::Positional(0) | Parameter::Special(SpecialParameter::ShellName) => {
                Value::One(self.script_name.clone())
            }
            Parameter::Positional(n) => match self.positional.get(*n as usize - 1) {
                Some(arg) => Value::One(arg.clone()),
                None => Value::Unset,
            },
            Parameter::Special(special) => match special {
                SpecialParameter::AllPositionalParameters { concatenate } => {
                    Value::Many(self.positional.clone(), *concatenate)
                }
                SpecialParameter::PositionalParameterCount => Value::One(self.positional.len().to_string()),
                SpecialParameter::LastExitStatus => Value::One(self.last_status.to_string()),
                SpecialParameter::CurrentOptionFlags => Value::One(self.options.flags()),
                SpecialParameter::ProcessId => Value::One(std::process::id().to_string()),
                SpecialParameter::LastBackgroundProcessId => Value::Unset,
                SpecialParameter::ShellName => unreachable!("matched above"),
            },
            Parameter::Named(name) => match self.var(name) {
                Some(v) => Value::One(v.to_string()),
                None => Value::Unset,
            },
            Parameter::NamedWithIndex { name, index } if name == "BASH_REMATCH" => {
                let index: usize = self.expand_string(index, io)?.trim().parse().unwrap_or(usize::MAX);
                self.rematch.get(index).cloned().map_or(Value::Unset, Value::One)
            }
            Parameter::NamedWithIndex { name, .. } | Parameter::NamedWithAllIndices { name, .. } => {
                return Err(self.expansion_error(io, format!("{name}[…]: arrays are not supported in devshell")));
            }
        };
        if !indirect {
            return Ok(value);
        }
        match value {
            Value::One(name) if syntax::is_name(&name) => {
                Ok(self.var(&name).map_or(Value::Unset, |v| Value::One(v.to_string())))
            }
            Value::One(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_digit()) => {
                self.parameter_value(&Parameter::Positional(name.parse().unwrap_or(u32::MAX)), false, io)
            }
            Value::One(name) => Err(self.expansion_error(io, format!("{name}: invalid indirect expansion"))),
            _ => Err(self.expansion_error(io, format!("{parameter}: invalid indirect expansion"))),
        }
    }

    /// The value, or the `set -u` error for an unset one.
    fn required(&mut self, parameter: &Parameter, indirect: bool, io: &Io) -> Result<Value, Flow> {
        let value = self.parameter_value(parameter, indirect, io)?;
        if matches!(value, Value::Unset) && self.options.nounset {
            return Err(self.expansion_error(io, format!("{}: unbound variable", parameter_name(parameter))));
        }
        Ok(value)
    }

    /// A `${…}` word (default values, alternatives) expanded in the surrounding quoting.
    fn expand_nested(&mut self, raw: Option<&str>, quoted: bool, io: &Io) -> Result<Value, Flow> {
        let raw = raw.unwrap_or("");
        let pieces = parse_word(raw, &syntax::options()).map_err(|e| self.expansion_error(io, e))?;
        let mut expansion = Expansion::new();
        self.expand_pieces(&pieces, quoted, &mut expansion, io)?;
        Ok(Value::One(expansion.joined()))
    }

    fn parameter_expansion(&mut self, expr: &ParameterExpr, quoted: bool, io: &Io) -> Result<Value, Flow> {
        Ok(match expr {
            ParameterExpr::Parameter { parameter, indirect } => self.required(parameter, *indirect, io)?,
            ParameterExpr::UseDefaultValues { parameter, indirect, test_type, default_value } => {
                let value = self.parameter_value(parameter, *indirect, io)?;
                if value.is_unset_or_null(test_type) {
                    self.expand_nested(default_value.as_deref(), quoted, io)?
                } else {
                    value
                }
            }
            ParameterExpr::AssignDefaultValues { parameter, indirect, test_type, default_value } => {
                let value = self.parameter_value(parameter, *indirect, io)?;
                if !value.is_unset_or_null(test_type) {
                    return Ok(value);
                }
                let Parameter::Named(name) = parameter else {
                    return Err(self.expansion_error(io, format!("{parameter}: cannot assign in this way")));
                };
                let default = self.expand_string(default_value.as_deref().unwrap_or(""), io)?;
                self.set_var(name, default.clone());
                Value::One(default)
            }
            ParameterExpr::IndicateErrorIfNullOrUnset { parameter, indirect, test_type, error_message } => {
                let value = self.parameter_value(parameter, *indirect, io)?;
                if !value.is_unset_or_null(test_type) {
                    return Ok(value);
                }
                let message = match error_message {
                    Some(raw) => self.expand_string(raw, io)?,
                    None if matches!(test_type, ParameterTestType::UnsetOrNull) => "parameter null or not set".into(),
                    None => "parameter not set".into(),
                };
                return Err(self.expansion_error(io, format!("{}: {message}", parameter_name(parameter))));
            }
            ParameterExpr::UseAlternativeValue { parameter, indirect, test_type, alternative_value } => {
                let value = self.parameter_value(parameter, *indirect, io)?;
                if value.is_unset_or_null(test_type) {
                    Value::One(String::new())
                } else {
                    self.expand_nested(alternative_value.as_deref(), quoted, io)?
                }
            }
            ParameterExpr::ParameterLength { parameter, indirect } => match self.required(parameter, *indirect, io)? {
                Value::Unset => Value::One("0".into()),
                Value::One(s) => Value::One(s.chars().count().to_string()),
                Value::Many(items, _) => Value::One(items.len().to_string()),
            },
            ParameterExpr::RemoveSmallestSuffixPattern { parameter, indirect, pattern }
            | ParameterExpr::RemoveLargestSuffixPattern { parameter, indirect, pattern }
            | ParameterExpr::RemoveSmallestPrefixPattern { parameter, indirect, pattern }
            | ParameterExpr::RemoveLargestPrefixPattern { parameter, indirect, pattern } => {
                let value = self.required(parameter, *indirect, io)?;
                let matcher = Pattern::new(&self.expand_pattern(pattern.as_deref().unwrap_or(""), io)?);
                match expr {
                    ParameterExpr::RemoveSmallestSuffixPattern { .. } => value.map(|s| matcher.remove_suffix(s, false)),
                    ParameterExpr::RemoveLargestSuffixPattern { .. } => value.map(|s| matcher.remove_suffix(s, true)),
                    ParameterExpr::RemoveSmallestPrefixPattern { .. } => value.map(|s| matcher.remove_prefix(s, false)),
                    _ => value.map(|s| matcher.remove_prefix(s, true)),
                }
            }
            ParameterExpr::Substring { parameter, indirect, offset, length } => {
                let value = self.required(parameter, *indirect, io)?;
                let offset = self.arithmetic(&offset.value, io)?;
                let length = match length {
                    Some(length) => Some(self.arithmetic(&length.value, io)?),
                    None => None,
                };
                match value {
                    Value::Unset => Value::Unset,
                    Value::One(s) => {
                        let chars: Vec<char> = s.chars().collect();
                        match slice_bounds(chars.len(), offset, length) {
                            Some((start, end)) => Value::One(chars[start..end].iter().collect()),
                            None => Value::One(String::new()),
                        }
                    }
                    Value::Many(items, concatenate) => {
                        // `${@:1}` counts `$0` as position 0.
                        let mut all = vec![self.script_name.clone()];
                        all.extend(items);
                        let (start, end) = slice_bounds(all.len(), offset, length).unwrap_or((0, 0));
                        Value::Many(all[start..end].to_vec(), concatenate)
                    }
                }
            }
            ParameterExpr::ReplaceSubstring { parameter, indirect, pattern, replacement, match_kind } => {
                let value = self.required(parameter, *indirect, io)?;
                let matcher = Pattern::new(&self.expand_pattern(pattern, io)?);
                let replacement = self.expand_string(replacement.as_deref().unwrap_or(""), io)?;
                let (all, anchor) = match match_kind {
                    SubstringMatchKind::FirstOccurrence => (false, Anchor::None),
                    SubstringMatchKind::Anywhere => (true, Anchor::None),
                    SubstringMatchKind::Prefix => (false, Anchor::Start),
                    SubstringMatchKind::Suffix => (false, Anchor::End),
                };
                value.map(|s| matcher.replace(s, &replacement, all, anchor))
            }
            ParameterExpr::UppercaseFirstChar { parameter, indirect, .. } => {
                self.required(parameter, *indirect, io)?.map(|s| change_case(s, true, true))
            }
            ParameterExpr::UppercasePattern { parameter, indirect, .. } => {
                self.required(parameter, *indirect, io)?.map(|s| change_case(s, true, false))
            }
            ParameterExpr::LowercaseFirstChar { parameter, indirect, .. } => {
                self.required(parameter, *indirect, io)?.map(|s| change_case(s, false, true))
            }
            ParameterExpr::LowercasePattern { parameter, indirect, .. } => {
                self.required(parameter, *indirect, io)?.map(|s| change_case(s, false, false))
            }
            ParameterExpr::Transform { parameter, .. } => {
                return Err(self.expansion_error(io, format!("{parameter}@…: transformations are not supported in devshell")));
            }
            ParameterExpr::VariableNames { prefix, .. } => {
                return Err(self.expansion_error(io, format!("${{!{prefix}*}}: name listing is not supported in devshell")));
            }
            ParameterExpr::MemberKeys { variable_name, .. } => {
                return Err(self.expansion_error(io, format!("{variable_name}: arrays are not supported in devshell")));
            }
        })
    }

    /// `$(…)`: run in a copy of the shell, output captured, trailing newlines removed.
    fn command_substitution(&mut self, source: &str, io: &Io) -> Result<String, Flow> {
        let program = syntax::parse(source).map_err(|e| self.expansion_error(io, format!("$({source}): {e}")))?;
        let capture = io::target(TargetKind::Capture);
        let mut inner = io.clone();
        inner.out = capture.clone();
        let status = self.subshell(|shell| {
            shell.substitution_depth += 1;
            let status = shell.run_program(&program, &inner);
            shell.substitution_depth -= 1;
            status
        })?;
        self.last_status = status;
        self.substitution_status = Some(status);
        let bytes = std::mem::take(&mut capture.borrow_mut().buffer).into_vec().unwrap_or_default();
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        text.truncate(text.trim_end_matches('\n').len());
        Ok(text)
    }

    /// Split one field on `IFS`, where the characters came from unquoted expansions.
    fn split_field(&self, field: &[Ch]) -> Vec<Vec<Ch>> {
        let ifs = self.ifs();
        let is_white = |ch: &Ch| ch.split && ifs.contains(ch.c) && matches!(ch.c, ' ' | '\t' | '\n');
        let is_hard = |ch: &Ch| ch.split && ifs.contains(ch.c) && !matches!(ch.c, ' ' | '\t' | '\n');
        let mut fields = Vec::new();
        let mut current: Vec<Ch> = Vec::new();
        let mut started = false;
        let mut i = 0;
        while i < field.len() {
            let ch = field[i];
            if is_white(&ch) || is_hard(&ch) {
                let mut j = i;
                while j < field.len() && is_white(&field[j]) {
                    j += 1;
                }
                let mut hard = false;
                if j < field.len() && is_hard(&field[j]) {
                    hard = true;
                    j += 1;
                    while j < field.len() && is_white(&field[j]) {
                        j += 1;
                    }
                }
                if started || hard {
                    fields.push(std::mem::take(&mut current));
                }
                started = false;
                i = j;
            } else {
                started = true;
                current.push(ch);
                i += 1;
            }
        }
        if started {
            fields.push(current);
        }
        fields
    }

    /// Filename expansion of one field (its unquoted wildcards), or the field as it is.
    fn glob_field(&self, field: &[Ch], out: &mut Vec<String>) {
        let text = text_of(field);
        if !self.options.noglob && field.iter().any(|ch| !ch.quoted && matches!(ch.c, '*' | '?' | '[')) {
            let matches = pattern::glob(&self.vfs, &self.cwd, &pattern_of(field));
            if !matches.is_empty() {
                out.extend(matches);
                return;
            }
        }
        out.push(text);
    }

    /// Split a line as `read` does: at most `max` fields, the last one taking the rest.
    pub fn split_for_read(&self, line: &str, max: usize) -> Vec<String> {
        let ifs = self.ifs();
        let white = |c: char| ifs.contains(c) && matches!(c, ' ' | '\t' | '\n');
        let hard = |c: char| ifs.contains(c) && !matches!(c, ' ' | '\t' | '\n');
        let mut fields = Vec::new();
        let mut rest = line.trim_start_matches(white);
        while fields.len() + 1 < max && !rest.is_empty() {
            let end = rest.find(|c| white(c) || hard(c)).unwrap_or(rest.len());
            fields.push(rest[..end].to_string());
            rest = &rest[end..];
            rest = rest.trim_start_matches(white);
            if rest.starts_with(hard) {
                rest = &rest[rest.chars().next().map_or(0, char::len_utf8)..];
                rest = rest.trim_start_matches(white);
            }
        }
        let rest = rest.trim_end_matches(white);
        if !rest.is_empty() || fields.len() + 1 == max {
            fields.push(rest.to_string());
        }
        fields
    }
}

/// Implements arithmetic's view of the variables.
impl arith::Variables for Shell {
    fn get(&self, name: &str) -> Option<String> {
        self.var(name).map(str::to_string)
    }
    fn set(&mut self, name: &str, value: i64) {
        self.set_var(name, value.to_string());
    }
    fn unset_is_error(&self) -> bool {
        self.options.nounset
    }
}

/// A parameter as messages name it: `HOME`, `1`, `@`.
fn parameter_name(parameter: &Parameter) -> String {
    parameter.to_string().trim_start_matches('$').trim_start_matches('{').trim_end_matches('}').to_string()
}

fn is_all_positional(piece: &WordPiece) -> bool {
    matches!(
        piece,
        WordPiece::ParameterExpansion(ParameterExpr::Parameter {
            parameter: Parameter::Special(SpecialParameter::AllPositionalParameters { concatenate: false }),
            ..
        })
    )
}

/// Put a parameter's value into the expansion: `"$@"` one field per argument, `"$*"` joined,
/// unquoted values marked for splitting.
fn place(value: Value, quoted: bool, out: &mut Expansion, join: String) {
    match value {
        Value::Unset => {}
        Value::One(s) => out.push(&s, quoted, !quoted),
        Value::Many(items, true) if quoted => out.push(&items.join(&join), true, false),
        // Unquoted `$*` and `$@` are joined with IFS's first character and split again, so an
        // empty argument survives a non-blank IFS, as in bash.
        Value::Many(items, _) if !quoted && !join.is_empty() => out.push(&items.join(&join), false, true),
        Value::Many(items, _) => {
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.break_field();
                }
                if quoted {
                    out.mark();
                }
                out.push(item, quoted, !quoted);
            }
        }
    }
}

/// `${v:offset:length}` on `len` items: negative offsets count from the end, a negative length
/// is an end counted from the end.
fn slice_bounds(len: usize, offset: i64, length: Option<i64>) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if offset < 0 { len + offset } else { offset };
    if start < 0 || start > len {
        return None;
    }
    let end = match length {
        None => len,
        Some(l) if l < 0 => len + l,
        Some(l) => (start + l).min(len),
    };
    (end >= start).then_some((start as usize, end as usize))
}

fn change_case(text: &str, upper: bool, first_only: bool) -> String {
    let convert = |c: char| -> String {
        if upper {
            c.to_uppercase().collect()
        } else {
            c.to_lowercase().collect()
        }
    };
    if first_only {
        let mut chars = text.chars();
        chars.next().map(|c| convert(c) + chars.as_str()).unwrap_or_default()
    } else {
        text.chars().map(convert).collect()
    }
}

/// A backslash-newline in an expanding here-document joins the lines (an escaped backslash
/// before a newline does not).
fn join_continued_lines(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('\n')) => {
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                out.extend(chars.next());
            }
            _ => out.push(c),
        }
    }
    out
}

/// Inside backquotes a backslash escapes only `$`, `` ` `` and `\`.
fn unescape_backquoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('$' | '`' | '\\')) {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// `{a,b}c` → `ac bc`, `{1..3}`, `{a..e..2}`; a word without a valid brace form is itself.
fn brace_expand(raw: &str) -> Vec<String> {
    if !raw.contains('{') {
        return vec![raw.to_string()];
    }
    match syntax::without_panics(|| word::parse_brace_expansions(raw, &syntax::options())) {
        Ok(Ok(Some(pieces))) => {
            let words = expand_brace_list(&pieces, padded_width(raw));
            if words.is_empty() {
                vec![raw.to_string()]
            } else {
                words
            }
        }
        _ => vec![raw.to_string()],
    }
}

/// A word's pieces, or what is wrong with it.
fn parse_word(raw: &str, options: &brush_parser::ParserOptions) -> Result<Vec<WordPieceWithSource>, String> {
    match syntax::without_panics(|| word::parse(raw, options)) {
        Ok(Ok(pieces)) => Ok(pieces),
        Ok(Err(e)) => Err(format!("{raw}: {e}")),
        Err(e) => Err(format!("{raw}: {e}")),
    }
}

/// The width `{01..10}` pads its numbers to (0 when it does not): the parser keeps only the
/// values, so the width is read from the word.
fn padded_width(raw: &str) -> usize {
    let Some(open) = raw.find('{') else { return 0 };
    let Some(close) = raw[open..].find('}') else { return 0 };
    let inner = &raw[open + 1..open + close];
    let mut ends = inner.split("..");
    let (Some(start), Some(end)) = (ends.next(), ends.next()) else { return 0 };
    let padded = |n: &str| n.trim_start_matches('-').len() > 1 && n.trim_start_matches('-').starts_with('0');
    if (padded(start) || padded(end)) && start.parse::<i64>().is_ok() && end.parse::<i64>().is_ok() {
        start.len().max(end.len())
    } else {
        0
    }
}

fn expand_brace_list(pieces: &[BraceExpressionOrText], width: usize) -> Vec<String> {
    let mut words = vec![String::new()];
    for piece in pieces {
        let alternatives: Vec<String> = match piece {
            BraceExpressionOrText::Text(text) => vec![text.clone()],
            BraceExpressionOrText::Expr(members) => members
                .iter()
                .flat_map(|member| match member {
                    BraceExpressionMember::NumberSequence { start, end, increment } => {
                        sequence(*start, *end, *increment)
                            .map(|n| if n < 0 { format!("-{:0>w$}", -n, w = width.saturating_sub(1)) } else { format!("{n:0>width$}") })
                            .collect::<Vec<_>>()
                    }
                    BraceExpressionMember::CharSequence { start, end, increment } => {
                        sequence(*start as i64, *end as i64, *increment)
                            .filter_map(|n| char::from_u32(n as u32).map(String::from))
                            .collect()
                    }
                    BraceExpressionMember::Child(list) => expand_brace_list(list, width),
                })
                .collect(),
        };
        if words.len().saturating_mul(alternatives.len()) > MAX_BRACE_WORDS {
            return Vec::new();
        }
        words = words.iter().flat_map(|w| alternatives.iter().map(move |a| format!("{w}{a}"))).collect();
    }
    words
}

fn sequence(start: i64, end: i64, increment: i64) -> impl Iterator<Item = i64> {
    let step = i128::from(increment.unsigned_abs().max(1));
    let count = ((i128::from(end) - i128::from(start)).abs() / step + 1).min(MAX_BRACE_WORDS as i128 + 1);
    let direction = if end >= start { step } else { -step };
    (0..count).map(move |i| (i128::from(start) + i * direction) as i64)
}
