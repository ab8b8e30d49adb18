//! Progress lines for long host-side work, such as the first sync of a large workspace.
//!
//! Shown on a terminal only, and only once the work has run longer than [`DELAY`], so the quick
//! case (nearly every tool run) prints nothing and scripts' output stays clean. Owns only the
//! display; callers count their own items.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long work runs before a progress line appears.
pub const DELAY: Duration = Duration::from_millis(400);

pub struct Progress {
    label: &'static str,
    started: Instant,
    visible: bool,
    delay: Duration,
    done: u64,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Counts items for `label` ("pushing the workspace"); shown on stderr when it is a terminal.
    pub fn new(label: &'static str) -> Progress {
        Progress::shown_if(label, std::io::IsTerminal::is_terminal(&std::io::stderr()), DELAY)
    }

    fn shown_if(label: &'static str, visible: bool, delay: Duration) -> Progress {
        Progress { label, started: Instant::now(), visible, delay, done: 0, bar: None }
    }

    /// One more item done.
    pub fn inc(&mut self) {
        self.done += 1;
        // Checking the clock on every item would cost more than the items themselves.
        if self.done.is_multiple_of(128) {
            self.refresh();
        }
    }

    fn refresh(&mut self) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
        } else if self.visible && self.started.elapsed() >= self.delay {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("devshell: {spinner} {msg}: {pos} files ({elapsed})")
                .expect("the template is valid");
            bar.set_style(style);
            bar.set_message(self.label);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_position(self.done);
            self.bar = Some(bar);
        }
    }

    #[cfg(test)]
    fn is_shown(&self) -> bool {
        self.bar.is_some()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appears_only_on_a_terminal_and_only_after_the_delay() {
        let mut quick = Progress::shown_if("t", true, Duration::from_secs(3600));
        let mut hidden = Progress::shown_if("t", false, Duration::ZERO);
        let mut slow = Progress::shown_if("t", true, Duration::ZERO);
        for _ in 0..1000 {
            quick.inc();
            hidden.inc();
            slow.inc();
        }
        assert!(!quick.is_shown(), "work quicker than the delay prints nothing");
        assert!(!hidden.is_shown(), "nothing when stderr is not a terminal");
        assert!(slow.is_shown());
        assert_eq!(slow.bar.as_ref().unwrap().position(), 896, "position as of the last refresh");
    }
}
