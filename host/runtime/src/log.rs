//! What reaches the user's terminal from a plugin's `host-log` calls (`log`, `progress`, `hint`):
//! escaped, cut to a readable length and rate-limited. A plugin is untrusted, and a terminal
//! acts on what it prints: escape sequences can rewrite the screen, retitle the window or fake a
//! devshell line, and a flood of lines buries everything else.

use std::time::Instant;

/// The longest line shown, in characters after escaping; the rest is counted, not shown.
pub const MAX_LINE_CHARS: usize = 1000;
/// Lines one plugin instance may show at once after a quiet spell (the bucket's size)…
const BURST_LINES: f64 = 50.0;
/// …and per second when it keeps on (the bucket's refill rate).
const LINES_PER_SECOND: f64 = 50.0;

/// `message` made safe for a terminal, as one line of at most [`MAX_LINE_CHARS`] characters
/// (and a note of how many bytes were cut).
///
/// Control characters are shown as [`crate::escape::for_terminal`] shows them everywhere in
/// devshell (`\n`, `\u{1b}`; tab stays), which also keeps a message to one line; so are the
/// bidirectional overrides and isolates, which reorder what the user reads.
pub fn escape_line(message: &str) -> String {
    let mut line = String::new();
    let mut shown_chars = 0;
    let mut utf8 = [0; 4];
    for (at, c) in message.char_indices() {
        let shown = if is_bidi_control(c) {
            c.escape_default().to_string()
        } else {
            crate::escape::for_terminal(c.encode_utf8(&mut utf8))
        };
        shown_chars += shown.chars().count();
        line.push_str(&shown);
        let next = at + c.len_utf8();
        if shown_chars >= MAX_LINE_CHARS && next < message.len() {
            line.push_str(&format!("… ({} more bytes)", message.len() - next));
            break;
        }
    }
    line
}

/// The Unicode bidirectional embeddings, overrides and isolates (the "Trojan Source" set).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// One plugin instance's `host-log` lines: a token bucket admits [`BURST_LINES`] at once and
/// [`LINES_PER_SECOND`] after that. Lines over the rate are counted and dropped; the count is
/// shown once, on stderr, before the next line that passes or when the plugin call ends.
pub struct LogGate {
    /// The plugin's name as the user sees it (escaped: it comes from the plugin's manifest).
    plugin: String,
    tokens: f64,
    refilled: Instant,
    dropped: u64,
}

impl LogGate {
    pub fn new(plugin: &str) -> LogGate {
        LogGate { plugin: escape_line(plugin), tokens: BURST_LINES, refilled: Instant::now(), dropped: 0 }
    }

    /// The name to show in front of this plugin's lines.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// `message`, escaped, when the rate limit lets one more line through now; `None` (and
    /// one more line counted as dropped) when it does not.
    pub fn admit(&mut self, message: &str) -> Option<String> {
        let now = Instant::now();
        let refill = now.duration_since(self.refilled).as_secs_f64() * LINES_PER_SECOND;
        self.tokens = (self.tokens + refill).min(BURST_LINES);
        self.refilled = now;
        if self.tokens < 1.0 {
            self.dropped += 1;
            return None;
        }
        self.tokens -= 1.0;
        self.report_dropped();
        Some(escape_line(message))
    }

    /// Say how many lines were dropped since the last time this was said, if any.
    pub fn report_dropped(&mut self) {
        if self.dropped > 0 {
            eprintln!("devshell: plugin {}: {} log lines dropped (rate limit)", self.plugin, self.dropped);
            self.dropped = 0;
        }
    }
}
