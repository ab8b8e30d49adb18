//! Text from untrusted sources (staging-dir names, plugin messages) made safe for a terminal.

/// Control characters (escape sequences included) shown as `\xNN` instead of acted on.
pub fn for_terminal(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_shown_not_acted_on() {
        assert_eq!(super::for_terminal("a\u{1b}[2Jb\r\n\tc"), "a\\u{1b}[2Jb\\r\\n\tc");
        assert_eq!(super::for_terminal("plain ünïcode"), "plain ünïcode");
    }
}
