//! The command language: tokenizer and parser into an AST. Pure: no execution, no workspace.
//!
//! Logical lines with `\` continuation and `#` comments; single/double quotes and backslash
//! escapes; `$VAR`, `${VAR}`, `$?`, `$#`, `$@`, `$0`-`$9`; `;`, `&&`, `||`, `|`, redirects
//! `<`, `>`, `>>`, `2>`, `2>>`, `2>&1`; `if/elif/else/fi`, `for/in/do/done`, `while`, `until`.
//! A syntax error names the line and what was expected; nothing of the unit runs.

use std::fmt;

/// A piece of a word, remembering how it was quoted (which decides field splitting).
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Literal text; `quoted` literals are never treated as keywords.
    Lit { text: String, quoted: bool },
    /// A parameter expansion; split into fields unless `quoted`.
    Var { name: String, quoted: bool },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Word(pub Vec<Part>);

impl Word {
    /// The word as a plain unquoted literal, if it is one (keywords, assignments).
    pub fn as_plain(&self) -> Option<&str> {
        match self.0.as_slice() {
            [Part::Lit { text, quoted: false }] => Some(text),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RedirectKind {
    In,
    Out,
    Append,
    Err,
    ErrAppend,
    ErrToOut,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub target: Word,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Simple { assigns: Vec<(String, Word)>, words: Vec<Word>, redirects: Vec<Redirect>, line: usize },
    If { branches: Vec<(Script, Script)>, otherwise: Option<Script> },
    For { var: String, items: Vec<Word>, body: Script },
    While { cond: Script, body: Script, until: bool },
}

pub type Pipeline = Vec<Command>;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connector {
    And,
    Or,
}

/// `a && b || c`: the first pipeline, then each connector with its pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
}

pub type Script = Vec<AndOr>;

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

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(Word),
    Op(&'static str),
    Newline,
}

const OPERATORS: &[&str] = &["2>&1", "2>>", "&&", "||", ">>", "2>", "|", ";", "<", ">"];
const KEYWORDS: &[&str] = &["if", "then", "elif", "else", "fi", "for", "in", "do", "done", "while", "until"];

fn tokenize(source: &str) -> Result<Vec<(Token, usize)>, SyntaxError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let mut word = Word::default();
    let mut in_word = false;

    fn push_lit(word: &mut Word, c: char, quoted: bool) {
        if let Some(Part::Lit { text, quoted: q }) = word.0.last_mut() {
            if *q == quoted {
                text.push(c);
                return;
            }
        }
        word.0.push(Part::Lit { text: c.to_string(), quoted });
    }
    let finish = |word: &mut Word, in_word: &mut bool, tokens: &mut Vec<(Token, usize)>, line: usize| {
        if *in_word {
            tokens.push((Token::Word(std::mem::take(word)), line));
            *in_word = false;
        }
    };

    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                i += 2;
                line += 1;
            }
            '\\' => {
                let next = *chars.get(i + 1).ok_or(SyntaxError { line, message: "`\\` at end of input".into() })?;
                push_lit(&mut word, next, true);
                in_word = true;
                i += 2;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\n' => {
                finish(&mut word, &mut in_word, &mut tokens, line);
                tokens.push((Token::Newline, line));
                line += 1;
                i += 1;
            }
            ' ' | '\t' | '\r' => {
                finish(&mut word, &mut in_word, &mut tokens, line);
                i += 1;
            }
            '\'' => {
                let start_line = line;
                in_word = true;
                i += 1;
                // An empty '' still makes a (empty) word.
                word.0.push(Part::Lit { text: String::new(), quoted: true });
                loop {
                    let ch = *chars
                        .get(i)
                        .ok_or(SyntaxError { line: start_line, message: "unterminated single quote".into() })?;
                    i += 1;
                    if ch == '\'' {
                        break;
                    }
                    if ch == '\n' {
                        line += 1;
                    }
                    push_lit(&mut word, ch, true);
                }
            }
            '"' => {
                let start_line = line;
                in_word = true;
                i += 1;
                word.0.push(Part::Lit { text: String::new(), quoted: true });
                loop {
                    let ch = *chars
                        .get(i)
                        .ok_or(SyntaxError { line: start_line, message: "unterminated double quote".into() })?;
                    match ch {
                        '"' => {
                            i += 1;
                            break;
                        }
                        '\\' if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            push_lit(&mut word, chars[i + 1], true);
                            i += 2;
                        }
                        '\\' if chars.get(i + 1) == Some(&'\n') => {
                            i += 2;
                            line += 1;
                        }
                        '$' => i = parse_dollar(&chars, i, &mut word, true, line)?,
                        _ => {
                            if ch == '\n' {
                                line += 1;
                            }
                            push_lit(&mut word, ch, true);
                            i += 1;
                        }
                    }
                }
            }
            '$' => {
                in_word = true;
                i = parse_dollar(&chars, i, &mut word, false, line)?;
            }
            _ => {
                let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
                let operator = OPERATORS.iter().find(|op| rest.starts_with(*op) && (!op.starts_with('2') || !in_word));
                if let Some(op) = operator {
                    finish(&mut word, &mut in_word, &mut tokens, line);
                    tokens.push((Token::Op(op), line));
                    i += op.chars().count();
                } else if c == '&' || c == '(' || c == ')' || c == '`' {
                    return Err(SyntaxError {
                        line,
                        message: format!(
                            "`{c}` is not supported (no background jobs, subshells or command substitution)"
                        ),
                    });
                } else {
                    push_lit(&mut word, c, false);
                    in_word = true;
                    i += 1;
                }
            }
        }
    }
    finish(&mut word, &mut in_word, &mut tokens, line);
    Ok(tokens)
}

/// Parse `$…` starting at `chars[i] == '$'`; returns the index after it.
fn parse_dollar(chars: &[char], i: usize, word: &mut Word, quoted: bool, line: usize) -> Result<usize, SyntaxError> {
    let next = chars.get(i + 1).copied();
    let (name, end) = match next {
        Some('{') => {
            let close = chars[i + 2..]
                .iter()
                .position(|&c| c == '}')
                .ok_or(SyntaxError { line, message: "missing `}` after `${`".into() })?;
            let name: String = chars[i + 2..i + 2 + close].iter().collect();
            if !is_name(&name) && !matches!(name.as_str(), "?" | "#" | "@") && !name.chars().all(|c| c.is_ascii_digit())
            {
                return Err(SyntaxError { line, message: format!("bad substitution `${{{name}}}`") });
            }
            (name, i + 3 + close)
        }
        Some(c @ ('?' | '#' | '@' | '0'..='9')) => (c.to_string(), i + 2),
        Some(c) if c == '_' || c.is_ascii_alphabetic() => {
            let len = chars[i + 1..].iter().take_while(|c| **c == '_' || c.is_ascii_alphanumeric()).count();
            (chars[i + 1..i + 1 + len].iter().collect(), i + 1 + len)
        }
        _ => {
            word.0.push(Part::Lit { text: "$".into(), quoted });
            return Ok(i + 1);
        }
    };
    word.0.push(Part::Var { name, quoted });
    Ok(end)
}

pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Parse a whole unit (a script file, a `-c` string, one REPL entry).
pub fn parse(source: &str) -> Result<Script, SyntaxError> {
    let tokens = tokenize(source)?;
    let last_line = tokens.last().map(|t| t.1).unwrap_or(1);
    let mut parser = Parser { tokens, pos: 0, last_line };
    let script = parser.script(&[])?;
    if let Some((token, line)) = parser.tokens.get(parser.pos) {
        return Err(SyntaxError { line: *line, message: format!("unexpected {}", describe(token)) });
    }
    Ok(script)
}

/// True when `source` fails only because a construct is still open (the REPL then reads on).
pub fn is_incomplete(source: &str) -> bool {
    match parse(source) {
        Err(e) => {
            e.message.contains("end of input")
                || e.message.starts_with("unterminated")
                || source.trim_end().ends_with('\\')
        }
        Ok(_) => false,
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => match w.as_plain() {
            Some(text) => format!("`{text}`"),
            None => "word".into(),
        },
        Token::Op(op) => format!("`{op}`"),
        Token::Newline => "newline".into(),
    }
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
    last_line: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.0)
    }

    fn line(&self) -> usize {
        self.tokens.get(self.pos).map(|t| t.1).unwrap_or(self.last_line)
    }

    fn peek_keyword(&self) -> Option<&str> {
        match self.peek() {
            Some(Token::Word(w)) => w.as_plain().filter(|t| KEYWORDS.contains(t)),
            _ => None,
        }
    }

    fn error<T>(&self, expected: &str) -> Result<T, SyntaxError> {
        let found = self.peek().map(describe).unwrap_or_else(|| "end of input".into());
        Err(SyntaxError { line: self.line(), message: format!("expected {expected}, found {found}") })
    }

    fn skip_newlines(&mut self) {
        while matches!(self.peek(), Some(Token::Newline | Token::Op(";"))) {
            self.pos += 1;
        }
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), SyntaxError> {
        self.skip_newlines();
        if self.peek_keyword() == Some(keyword) {
            self.pos += 1;
            Ok(())
        } else {
            self.error(&format!("`{keyword}`"))
        }
    }

    /// A list of and-or lists until one of `terminators` (a keyword) or the end.
    fn script(&mut self, terminators: &[&str]) -> Result<Script, SyntaxError> {
        let mut script = Vec::new();
        loop {
            self.skip_newlines();
            match self.peek() {
                None => break,
                Some(_) if self.peek_keyword().is_some_and(|k| terminators.contains(&k)) => break,
                Some(_) if self.peek_keyword().is_some_and(|k| !["if", "for", "while", "until"].contains(&k)) => {
                    let expected = match terminators {
                        [] => "a command".to_string(),
                        [one] => format!("`{one}`"),
                        [init @ .., last] => format!(
                            "{} or `{last}`",
                            init.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    return self.error(&expected);
                }
                Some(_) => script.push(self.and_or()?),
            }
            match self.peek() {
                None | Some(Token::Newline | Token::Op(";")) => {}
                Some(_) if self.peek_keyword().is_some_and(|k| terminators.contains(&k)) => {}
                Some(token) => {
                    let message = format!("unexpected {}", describe(token));
                    return Err(SyntaxError { line: self.line(), message });
                }
            }
        }
        Ok(script)
    }

    fn and_or(&mut self) -> Result<AndOr, SyntaxError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek() {
                Some(Token::Op("&&")) => Connector::And,
                Some(Token::Op("||")) => Connector::Or,
                _ => break,
            };
            self.pos += 1;
            while matches!(self.peek(), Some(Token::Newline)) {
                self.pos += 1;
            }
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, SyntaxError> {
        let mut commands = vec![self.command()?];
        while matches!(self.peek(), Some(Token::Op("|"))) {
            self.pos += 1;
            while matches!(self.peek(), Some(Token::Newline)) {
                self.pos += 1;
            }
            commands.push(self.command()?);
        }
        Ok(commands)
    }

    fn command(&mut self) -> Result<Command, SyntaxError> {
        match self.peek_keyword() {
            Some("if") => self.if_command(),
            Some("for") => self.for_command(),
            Some(k @ ("while" | "until")) => {
                let until = k == "until";
                self.pos += 1;
                let cond = self.script(&["do"])?;
                self.expect_keyword("do")?;
                let body = self.script(&["done"])?;
                self.expect_keyword("done")?;
                Ok(Command::While { cond, body, until })
            }
            Some(k) => self.error(&format!("a command (`{k}` cannot start one)")),
            None => self.simple(),
        }
    }

    fn if_command(&mut self) -> Result<Command, SyntaxError> {
        self.pos += 1; // `if`
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let cond = self.script(&["then"])?;
            if cond.is_empty() {
                return self.error("a condition after `if`/`elif`");
            }
            self.expect_keyword("then")?;
            let body = self.script(&["elif", "else", "fi"])?;
            branches.push((cond, body));
            self.skip_newlines();
            match self.peek_keyword() {
                Some("elif") => self.pos += 1,
                Some("else") => {
                    self.pos += 1;
                    otherwise = Some(self.script(&["fi"])?);
                    self.expect_keyword("fi")?;
                    break;
                }
                Some("fi") => {
                    self.pos += 1;
                    break;
                }
                _ => return self.error("`elif`, `else` or `fi`"),
            }
        }
        Ok(Command::If { branches, otherwise })
    }

    fn for_command(&mut self) -> Result<Command, SyntaxError> {
        self.pos += 1; // `for`
        let var = match self.peek() {
            Some(Token::Word(w)) if w.as_plain().is_some_and(is_name) => w.as_plain().unwrap().to_string(),
            _ => return self.error("a variable name after `for`"),
        };
        self.pos += 1;
        let mut items = Vec::new();
        if self.peek_keyword() == Some("in") {
            self.pos += 1;
            while let Some(Token::Word(w)) = self.peek() {
                items.push(w.clone());
                self.pos += 1;
            }
        } else {
            items.push(Word(vec![Part::Var { name: "@".into(), quoted: true }]));
        }
        self.expect_keyword("do")?;
        let body = self.script(&["done"])?;
        self.expect_keyword("done")?;
        Ok(Command::For { var, items, body })
    }

    fn simple(&mut self) -> Result<Command, SyntaxError> {
        let line = self.line();
        let mut assigns = Vec::new();
        let mut words = Vec::new();
        let mut redirects = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Token::Word(word)) => {
                    self.pos += 1;
                    if words.is_empty() {
                        if let Some((name, value)) = split_assignment(&word) {
                            assigns.push((name, value));
                            continue;
                        }
                    }
                    words.push(word);
                }
                Some(Token::Op(op @ ("<" | ">" | ">>" | "2>" | "2>>" | "2>&1"))) => {
                    self.pos += 1;
                    let kind = match op {
                        "<" => RedirectKind::In,
                        ">" => RedirectKind::Out,
                        ">>" => RedirectKind::Append,
                        "2>" => RedirectKind::Err,
                        "2>>" => RedirectKind::ErrAppend,
                        _ => RedirectKind::ErrToOut,
                    };
                    let target = if kind == RedirectKind::ErrToOut {
                        Word::default()
                    } else {
                        match self.peek().cloned() {
                            Some(Token::Word(w)) => {
                                self.pos += 1;
                                w
                            }
                            _ => return self.error(&format!("a file name after `{op}`")),
                        }
                    };
                    redirects.push(Redirect { kind, target });
                }
                _ => break,
            }
        }
        if words.is_empty() && assigns.is_empty() && redirects.is_empty() {
            return self.error("a command");
        }
        Ok(Command::Simple { assigns, words, redirects, line })
    }
}

/// `NAME=value` (the name unquoted) becomes an assignment.
fn split_assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Lit { text, quoted: false }) = word.0.first() else { return None };
    let (name, value) = text.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut parts = Vec::new();
    if !value.is_empty() {
        parts.push(Part::Lit { text: value.to_string(), quoted: false });
    }
    parts.extend(word.0[1..].iter().cloned());
    Some((name.to_string(), Word(parts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(text: &str) -> Part {
        Part::Lit { text: text.into(), quoted: false }
    }

    #[test]
    fn comments_quotes_and_continuations() {
        let script = parse("echo a#b 'c d' \"e $X\" # gone\necho x \\\n y").unwrap();
        assert_eq!(script.len(), 2);
        let Command::Simple { words, .. } = &script[0].first[0] else { panic!() };
        assert_eq!(words.len(), 4);
        assert_eq!(words[1].0, vec![lit("a#b")]);
        let Command::Simple { words, .. } = &script[1].first[0] else { panic!() };
        assert_eq!(words.len(), 3);
    }

    #[test]
    fn operators_and_redirects() {
        let script = parse("a | b && c || d; e > f 2>&1 < g >> h 2> i").unwrap();
        assert_eq!(script.len(), 2);
        assert_eq!(script[0].first.len(), 2);
        assert_eq!(script[0].rest.iter().map(|r| r.0).collect::<Vec<_>>(), [Connector::And, Connector::Or]);
        let Command::Simple { redirects, .. } = &script[1].first[0] else { panic!() };
        assert_eq!(redirects.len(), 5);
    }

    #[test]
    fn compound_commands_one_line_and_multi_line() {
        parse("if true; then echo y; elif false; then echo n; else echo z; fi").unwrap();
        parse("for x in a b c; do echo $x; done").unwrap();
        parse("while false\ndo\n  echo\ndone\nuntil true; do break; done").unwrap();
        let Command::Simple { assigns, words, .. } = &parse("A=1 B=\"x y\" cmd").unwrap()[0].first[0] else { panic!() };
        assert_eq!(assigns.len(), 2);
        assert_eq!(words.len(), 1);
    }

    #[test]
    fn syntax_errors_name_line_and_expectation() {
        let e = parse("echo ok\nif true; then echo\n").unwrap_err();
        assert!(e.message.contains("expected `elif`, `else` or `fi`"), "{e}");
        let e = parse("echo 'open").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("unterminated single quote"));
        let e = parse("echo a\necho b |\n\nfi").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(parse("echo >").unwrap_err().message.contains("file name after `>`"));
        assert!(parse("echo a &").is_err());
        assert!(is_incomplete("if true; then"));
        assert!(is_incomplete("echo \"abc"));
        assert!(!is_incomplete("echo fine"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, ..Default::default() })]

        /// Any input parses or fails with a located error; nothing panics.
        #[test]
        fn arbitrary_text_never_panics(source in "\\PC{0,160}") {
            if let Err(e) = parse(&source) {
                proptest::prop_assert!(e.line >= 1 && e.line <= source.lines().count().max(1) + 1);
            }
            let _ = is_incomplete(&source);
        }

        /// Inputs made of the language's own punctuation, where the parser's edge cases live.
        #[test]
        fn shell_alphabet_never_panics(source in "[a-z2 $'\"\\\\#;|&<>{}\n=-]{0,120}|(if|then|fi|for|do|done|while|in|;| |x|\n|\\$\\{|\\})*") {
            let _ = parse(&source);
            let _ = is_incomplete(&source);
        }

        /// Single-quoted words come back exactly, whatever they contain.
        #[test]
        fn single_quoted_words_round_trip(words in proptest::collection::vec("[^'\\x00]{0,12}", 1..6)) {
            let line = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
            let script = parse(&format!("echo {line}")).unwrap();
            let Command::Simple { words: parsed, .. } = &script[0].first[0] else { panic!("not a simple command") };
            let texts: Vec<String> = parsed[1..].iter().map(|w| w.0.iter().map(|p| match p {
                Part::Lit { text, .. } => text.clone(),
                Part::Var { .. } => panic!("no expansion inside single quotes"),
            }).collect()).collect();
            proptest::prop_assert_eq!(texts, words);
        }
    }

    #[test]
    fn dollar_forms() {
        let Command::Simple { words, .. } = &parse("echo $A ${B}c $? $# $@ $1 $ x").unwrap()[0].first[0] else {
            panic!()
        };
        assert_eq!(words[1].0, vec![Part::Var { name: "A".into(), quoted: false }]);
        assert_eq!(words[2].0, vec![Part::Var { name: "B".into(), quoted: false }, lit("c")]);
        assert_eq!(words[7].0, vec![lit("$")]);
        assert!(parse("echo ${A B}").is_err());
    }
}
