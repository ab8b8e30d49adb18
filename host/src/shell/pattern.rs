//! Shell patterns (`*`, `?`, `[…]`): matching for `case`, `[[ == ]]` and `${v#p}`-style
//! removal, and filename expansion over the workspace.
//!
//! A pattern here is text in which a backslash makes the next character literal: the expander
//! escapes every quoted character, so `"*"` matches a star and `*` anything. Reads the workspace
//! only through `Vfs::list`/`exists`; never writes.

use regex::Regex;

use crate::vfs::{self, Vfs};

const META: &[char] = &['*', '?', '[', ']', '\\'];

/// `text` with every pattern character made literal.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if META.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The text a pattern stands for when it is taken literally (escapes removed).
pub fn unescape(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// True when the pattern has an unescaped `*`, `?` or `[`: only then is it a pattern at all.
pub fn has_wildcards(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// A compiled pattern, matching whole strings.
pub struct Pattern {
    regex: Option<Regex>,
    literal: String,
}

impl Pattern {
    pub fn new(pattern: &str) -> Pattern {
        let regex = brush_parser::pattern::pattern_to_regex_str(pattern, false)
            .ok()
            .and_then(|body| Regex::new(&format!("(?s)^(?:{body})$")).ok());
        Pattern { regex, literal: unescape(pattern) }
    }

    pub fn matches(&self, text: &str) -> bool {
        match &self.regex {
            Some(regex) => regex.is_match(text),
            // A pattern the translator cannot express (an odd bracket) is taken literally.
            None => text == self.literal,
        }
    }

    /// The byte offsets where a prefix of `text` ends that the pattern matches, shortest first.
    fn prefix_ends(&self, text: &str) -> Vec<usize> {
        boundaries(text).into_iter().filter(|&end| self.matches(&text[..end])).collect()
    }

    /// `${v#p}` (`longest` false) and `${v##p}`.
    pub fn remove_prefix(&self, text: &str, longest: bool) -> String {
        let ends = self.prefix_ends(text);
        let end = if longest { ends.last() } else { ends.first() }.copied();
        end.map_or_else(|| text.to_string(), |end| text[end..].to_string())
    }

    /// `${v%p}` (`longest` false) and `${v%%p}`.
    pub fn remove_suffix(&self, text: &str, longest: bool) -> String {
        let starts = boundaries(text);
        let mut matching = starts.iter().copied().filter(|&start| self.matches(&text[start..]));
        let start = if longest { matching.next() } else { matching.next_back() };
        start.map_or_else(|| text.to_string(), |start| text[..start].to_string())
    }

    /// The longest match starting at byte `start`, as its end.
    fn longest_at(&self, text: &str, start: usize) -> Option<usize> {
        boundaries(text).into_iter().rev().filter(|&end| end >= start).find(|&end| self.matches(&text[start..end]))
    }

    /// `${v/p/r}` (`all` false), `${v//p/r}`, `${v/#p/r}` (`anchor` Start), `${v/%p/r}` (End).
    pub fn replace(&self, text: &str, replacement: &str, all: bool, anchor: Anchor) -> String {
        match anchor {
            Anchor::Start => match self.longest_at(text, 0) {
                Some(end) => format!("{replacement}{}", &text[end..]),
                None => text.to_string(),
            },
            Anchor::End => match boundaries(text).into_iter().find(|&start| self.matches(&text[start..])) {
                Some(start) => format!("{}{replacement}", &text[..start]),
                None => text.to_string(),
            },
            Anchor::None => {
                let mut out = String::new();
                let mut position = 0;
                for start in boundaries(text) {
                    if start < position {
                        continue;
                    }
                    // Empty matches replace nothing, as in bash.
                    if let Some(end) = self.longest_at(text, start).filter(|&end| end > start) {
                        out.push_str(&text[position..start]);
                        out.push_str(replacement);
                        position = end;
                        if !all {
                            break;
                        }
                    }
                }
                out.push_str(&text[position..]);
                out
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum Anchor {
    None,
    Start,
    End,
}

/// Every char boundary of `text`, 0 and `len` included.
fn boundaries(text: &str) -> Vec<usize> {
    text.char_indices().map(|(i, _)| i).chain(std::iter::once(text.len())).collect()
}

/// Filename expansion: the workspace paths `pattern` matches, sorted as bash sorts them in the
/// C locale; empty when none does (the caller then keeps the word as it was). `*` and `?` do
/// not match a leading `.` unless the pattern spells it, nor `/`.
pub fn glob(vfs: &Vfs, cwd: &str, pattern: &str) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let mut partial: Vec<String> = vec![if absolute { "/".into() } else { String::new() }];
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let trailing_slash = pattern.ends_with('/') && !components.is_empty();
    for (index, component) in components.iter().enumerate() {
        let last = index + 1 == components.len();
        let mut next = Vec::new();
        for prefix in &partial {
            let join = |name: &str| if prefix.is_empty() || prefix.ends_with('/') { format!("{prefix}{name}") } else { format!("{prefix}/{name}") };
            if !has_wildcards(component) {
                let candidate = join(&unescape(component));
                let on_disk = vfs::resolve(cwd, &candidate);
                if (last && !trailing_slash && vfs.exists(&on_disk)) || vfs.is_dir(&on_disk) {
                    next.push(candidate);
                }
                continue;
            }
            let dir = vfs::resolve(cwd, if prefix.is_empty() { "." } else { prefix });
            let Ok(entries) = vfs.list(&dir) else { continue };
            let matcher = Pattern::new(component);
            let dot_ok = component.starts_with('.') || component.starts_with("\\.");
            for (name, _) in entries {
                if (name.starts_with('.') && !dot_ok) || !matcher.matches(&name) {
                    continue;
                }
                let candidate = join(&name);
                if (!last || trailing_slash) && !vfs.is_dir(&vfs::resolve(cwd, &candidate)) {
                    continue;
                }
                next.push(candidate);
            }
        }
        partial = next;
        if partial.is_empty() {
            return partial;
        }
    }
    if trailing_slash {
        for path in &mut partial {
            path.push('/');
        }
    }
    partial.sort();
    partial
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_and_replacement_follow_bash() {
        let star_dot = Pattern::new("*.");
        assert_eq!(star_dot.remove_prefix("a.b.c", false), "b.c");
        assert_eq!(star_dot.remove_prefix("a.b.c", true), "c");
        let dot_star = Pattern::new(".*");
        assert_eq!(dot_star.remove_suffix("a.b.c", false), "a.b");
        assert_eq!(dot_star.remove_suffix("a.b.c", true), "a");
        let o = Pattern::new("o");
        assert_eq!(o.replace("foo boo", "0", false, Anchor::None), "f0o boo");
        assert_eq!(o.replace("foo boo", "0", true, Anchor::None), "f00 b00");
        assert_eq!(Pattern::new("f").replace("foo", "F", false, Anchor::Start), "Foo");
        assert_eq!(o.replace("foo", "O", false, Anchor::End), "foO");
        assert_eq!(Pattern::new("o*").replace("foo boo", "X", false, Anchor::None), "fX");
        assert!(Pattern::new("[a-c]?\\*").matches("bx*"));
        assert!(!Pattern::new("[a-c]?\\*").matches("bxy"));
        assert!(Pattern::new("[!a]").matches("b") && !Pattern::new("[!a]").matches("a"));
    }
}
