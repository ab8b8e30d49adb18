//! Text from untrusted sources (staging-dir names, plugin messages) made safe for a terminal.

/// Control characters (escape sequences included) and invisible format characters (bidi
/// overrides, zero-width ones) shown as `\u{NN}` instead of acted on: a plugin must not be able
/// to reorder or hide what the user reads.
pub fn for_terminal(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if (c.is_control() && c != '\t') || is_format_char(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// Unicode's invisible format characters that change how the text around them shows: bidi
/// embeddings, overrides, isolates and marks, zero-width spaces and joiners, the BOM.
pub fn is_format_char(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_and_format_characters_are_shown_not_acted_on() {
        assert_eq!(super::for_terminal("a\u{1b}[2Jb\r\n\tc"), "a\\u{1b}[2Jb\\r\\n\tc");
        assert_eq!(super::for_terminal("plain ünïcode"), "plain ünïcode");
        assert_eq!(super::for_terminal("x\u{202E}txt.exe"), "x\\u{202e}txt.exe");
    }
}
