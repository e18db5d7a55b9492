//! The crate's own diagnostics: written to stderr, never through the logging
//! pipeline (which may be what is failing), and filtered by `OTEL_LOG_LEVEL`.

use std::collections::HashSet;
use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// How much the crate says about itself, from `OTEL_LOG_LEVEL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum DiagLevel {
    None = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl DiagLevel {
    /// The spelling `OTEL_LOG_LEVEL` accepts, case-insensitively.
    pub(crate) const ACCEPTED: &'static str = "none, error, warn, info, debug";

    pub(crate) fn parse(value: &str) -> Option<DiagLevel> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" | "off" => Some(DiagLevel::None),
            "error" => Some(DiagLevel::Error),
            "warn" | "warning" => Some(DiagLevel::Warn),
            "info" => Some(DiagLevel::Info),
            "debug" | "trace" => Some(DiagLevel::Debug),
            _ => None,
        }
    }
}

/// `info` until configuration says otherwise, so warnings about the
/// configuration itself are shown.
static LEVEL: AtomicU8 = AtomicU8::new(DiagLevel::Info as u8);

pub(crate) fn set_level(level: DiagLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The level as it is now, to be put back with [`SavedLevel::restore`]
/// by a configuration that fails after setting its own.
pub(crate) fn saved_level() -> SavedLevel {
    SavedLevel(LEVEL.load(Ordering::Relaxed))
}

/// A level [`saved_level`] kept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SavedLevel(u8);

impl SavedLevel {
    pub(crate) fn restore(self) {
        LEVEL.store(self.0, Ordering::Relaxed);
    }
}

fn enabled(level: DiagLevel) -> bool {
    level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// How many distinct messages [`emit`] remembers having said.
const REMEMBERED_MESSAGES: usize = 1024;

/// Notes `text` as said; `false` when it was already.
fn remember(said: &mut HashSet<String>, text: &str) -> bool {
    if said.contains(text) {
        return false;
    }
    if said.len() >= REMEMBERED_MESSAGES {
        said.clear();
    }
    said.insert(text.to_owned())
}

fn emit(level: DiagLevel, label: &str, message: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    // Not `to_string`, which panics when a `Display` impl fails (an I/O
    // error may wrap the application's own error type): a warning must
    // never end the worker that says it.
    let mut text = String::new();
    let _ = fmt::Write::write_fmt(&mut text, message);
    // Each distinct message is said once per process: a misconfiguration
    // seen by every pipeline a test suite builds is still one problem. The
    // memory of what was said is bounded: messages that carry a server's
    // text (a retry's reason) may all differ, for as long as an outage
    // lasts; once full it starts afresh, and a message may be said again.
    static SAID: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let first_time = remember(
        &mut SAID
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
        &text,
    );
    if first_time {
        let _ = writeln!(std::io::stderr().lock(), "otel-log-bridge: {label}: {text}");
    }
}

pub(crate) fn error(message: fmt::Arguments<'_>) {
    emit(DiagLevel::Error, "error", message);
}

pub(crate) fn warn(message: fmt::Arguments<'_>) {
    emit(DiagLevel::Warn, "warning", message);
}

/// How long a shutdown waits for a warning to be written (see
/// [`warn_at_shutdown`]).
const SHUTDOWN_WARNING_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Says `messages` at the `warn` level from a thread of its own, waiting
/// for them at most [`SHUTDOWN_WARNING_WAIT`] in all: a stderr nobody reads
/// (a full pipe, or an output stuck writing to it, which holds its lock)
/// would otherwise hold the thread that shuts down for ever, past its
/// deadline. Warnings not written by then are written later, if the
/// process lives.
pub(crate) fn warn_at_shutdown(messages: Vec<String>) {
    if messages.is_empty() {
        return;
    }
    let (written, wait) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("otel-log-bridge-warning".to_owned())
        .spawn(move || {
            for message in messages {
                warn(format_args!("{message}"));
            }
            let _ = written.send(());
        });
    if spawned.is_ok() {
        let _ = wait.recv_timeout(SHUTDOWN_WARNING_WAIT);
    }
}

/// A runtime lint finding: shown at the `warn` level.
pub(crate) fn lint(message: fmt::Arguments<'_>) {
    emit(DiagLevel::Warn, "lint", message);
}

#[cfg(feature = "otlp")]
pub(crate) fn debug(message: fmt::Arguments<'_>) {
    emit(DiagLevel::Debug, "debug", message);
}

/// `text` with what a terminal would act on escaped (as Rust escapes it),
/// for a program's own text inside a diagnostic.
pub(crate) fn escaped(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(acts_on_a_terminal) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts_on_a_terminal(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    std::borrow::Cow::Owned(shown)
}

/// Whether a terminal would act on `c` rather than show it: control
/// characters (an escape sequence can move the cursor, rewrite the title,
/// or forge a line), the line and paragraph separators, and the marks that
/// change the direction text is shown in (which can make a line read as
/// something else than it holds).
pub(crate) fn acts_on_a_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: every distinct message was kept for the life of the
    /// process, and retry reasons that carry a server's text may all
    /// differ for as long as an outage lasts.
    #[test]
    fn what_was_said_is_remembered_within_a_bound() {
        let mut said = HashSet::new();
        assert!(remember(&mut said, "once"));
        assert!(!remember(&mut said, "once"));
        for i in 0..10 * REMEMBERED_MESSAGES {
            remember(&mut said, &format!("retrying: request {i}"));
        }
        assert!(said.len() <= REMEMBERED_MESSAGES);
    }

    /// An error whose `Display` fails, as an application's error type
    /// wrapped in an I/O error may.
    struct FailsToDisplay;

    impl fmt::Display for FailsToDisplay {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("partly said")?;
            Err(fmt::Error)
        }
    }

    /// Regression: a diagnostic was formatted with `to_string`, which
    /// panics when a `Display` impl fails, and the worker saying it ended
    /// with its records uncounted.
    #[test]
    fn a_diagnostic_whose_display_fails_does_not_panic() {
        warn(format_args!("a writer failed: {FailsToDisplay}"));
    }
}
