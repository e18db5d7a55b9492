//! The runtime lint: each callsite's keys are checked once, when `tracing`
//! registers it, with the same rules as the source linter; and a callsite
//! whose bodies differ from event to event around the same constant text is
//! reported as an interpolated message. Findings go to stderr once per
//! callsite, never through the export pipeline.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;

use tracing_core::Metadata;

use crate::diag;
use crate::lint::keys::{check_key, KeySite};
use crate::lint::Rule;

/// How many events of a callsite are compared before its message counts as
/// stable and the callsite is no longer watched.
const BODIES_TO_COMPARE: u8 = 8;

/// Which runtime checks run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LintSettings {
    pub(crate) enabled: bool,
    /// Rules turned on or off in code, over their default levels.
    pub(crate) overrides: Vec<(Rule, bool)>,
}

impl Default for LintSettings {
    fn default() -> Self {
        LintSettings {
            // On where mistakes are made and cheap to see, off in release
            // builds where every nanosecond per event counts.
            enabled: cfg!(debug_assertions),
            overrides: Vec::new(),
        }
    }
}

impl LintSettings {
    fn rule_enabled(&self, rule: Rule) -> bool {
        self.overrides
            .iter()
            .rev()
            .find(|(overridden, _)| *overridden == rule)
            .map_or(
                rule.default_level() != crate::lint::Level::Allow,
                |(_, on)| *on,
            )
    }
}

/// How many callsites' messages can be watched at once. A callsite whose
/// slot is taken by another is not watched: this is a debugging aid, and a
/// fixed table keeps the per-event cost to one atomic load.
const SLOTS: usize = 4096;

/// Marks a slot whose callsite has been decided (reported or stable).
const DONE: u64 = 1;
/// Marks a slot being claimed: its first body is not stored yet.
const CLAIMING: u64 = 2;

/// One callsite's watch: its metadata address (with [`DONE`] once decided),
/// the hash and the text of its first body, and how many bodies matched it.
#[derive(Debug, Default)]
struct Slot {
    callsite: AtomicU64,
    first_body: AtomicU64,
    first_text: OnceLock<Box<str>>,
    seen: AtomicU8,
}

/// Whether two different bodies of one callsite share constant text: a
/// whole word, or the same first or last character (leading and trailing
/// whitespace aside).
///
/// A template with values in it (`"user {user} signed in from {ip}"`)
/// leaves its constant text in every body: words of its own, or text
/// glued to a value at one end (`"count={n}"`). A message that is one
/// placeholder alone (`info!("{line}")`) is a message built elsewhere,
/// which the source rule OLB001 does not flag either: its bodies are
/// reported only when two of them happen to share a word or an end, which
/// the bodies alone cannot tell from a template. Whitespace is not
/// constant text, as in the source rule.
fn share_constant_text(first: &str, other: &str) -> bool {
    let (first, other) = (first.trim(), other.trim());
    let same_end =
        |end: fn(&str) -> Option<char>| end(first).is_some_and(|c| end(other) == Some(c));
    same_end(|text| text.chars().next())
        || same_end(|text| text.chars().next_back())
        || first
            .split_whitespace()
            .any(|word| other.split_whitespace().any(|theirs| theirs == word))
}

/// The runtime check's state, shared by the layer and the `log` bridge.
#[derive(Debug)]
pub(crate) struct RuntimeLint {
    settings: LintSettings,
    hasher: RandomState,
    slots: Box<[Slot]>,
}

impl RuntimeLint {
    pub(crate) fn new(settings: LintSettings) -> RuntimeLint {
        // Without the check there is no table, and `check_body` finds no
        // slot to look at.
        let watch_bodies = settings.enabled && settings.rule_enabled(Rule::InterpolatedMessage);
        let slots = if watch_bodies {
            (0..SLOTS).map(|_| Slot::default()).collect()
        } else {
            Box::default()
        };
        RuntimeLint {
            settings,
            hasher: RandomState::new(),
            slots,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Checks a callsite's keys and name; called once per callsite.
    pub(crate) fn check_callsite(&self, metadata: &'static Metadata<'static>, explicit_name: bool) {
        if !self.settings.enabled {
            return;
        }
        let site = if metadata.is_span() {
            KeySite::Span
        } else {
            KeySite::Event
        };
        for field in metadata.fields() {
            for finding in check_key(field.name(), site) {
                if self.settings.rule_enabled(finding.rule) {
                    report(metadata, finding.rule, &finding.message, &finding.help);
                }
            }
        }
        let warns = *metadata.level() <= tracing_core::Level::WARN;
        if metadata.is_event()
            && warns
            && !explicit_name
            && self.settings.rule_enabled(Rule::MissingEventName)
        {
            report(
                metadata,
                Rule::MissingEventName,
                "this warn/error event has no name:",
                "give it a stable event name: `warn!(name: \"payment.declined\", ..)`",
            );
        }
    }

    /// Watches a callsite's bodies: the same callsite logging different
    /// messages around the same constant text means values are formatted
    /// into the message. Once a callsite is decided, this costs one atomic
    /// load per event.
    pub(crate) fn check_body(&self, metadata: &'static Metadata<'static>, body: Option<&str>) {
        let Some(body) = body else {
            return;
        };
        let address = metadata as *const Metadata<'static> as usize as u64;
        if self.watch(address, body) {
            report(
                metadata,
                Rule::InterpolatedMessage,
                "this callsite logs a different message each time around the same text: values are formatted into it",
                "pass the values as fields and keep the message constant: `info!(user.id = id, \"signed in\")`",
            );
        }
    }

    /// Compares a body with the first one of the callsite at `address`, and
    /// returns whether the callsite is now found to interpolate values (at
    /// most once per callsite).
    fn watch(&self, address: u64, body: &str) -> bool {
        // Metadata is at least 8-byte aligned, so bits 0 and 1 are free for
        // DONE and CLAIMING.
        let Some(slot) = self.slots.get((address >> 3) as usize % SLOTS) else {
            return false;
        };
        let claimed = slot.callsite.load(Ordering::Acquire);
        if claimed == address | DONE {
            return false;
        }
        let hash = self.hasher.hash_one(body);
        if claimed == 0 {
            // Claimed in two steps, so that no thread compares against the
            // first body before it is stored.
            if slot
                .callsite
                .compare_exchange(0, address | CLAIMING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                slot.first_body.store(hash, Ordering::Release);
                let _ = slot.first_text.set(body.into());
                slot.seen.store(1, Ordering::Release);
                slot.callsite.store(address, Ordering::Release);
            }
            return false;
        }
        if claimed != address {
            return false;
        }
        if slot.first_body.load(Ordering::Acquire) != hash {
            // The first different body decides: a template's bodies all
            // share its constant text, so waiting for more would only give a
            // message built elsewhere more chances to agree by accident.
            let decided = slot
                .callsite
                .compare_exchange(address, address | DONE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
            decided
                && slot
                    .first_text
                    .get()
                    .is_some_and(|first| share_constant_text(first, body))
        } else {
            if slot.seen.fetch_add(1, Ordering::AcqRel) + 1 >= BODIES_TO_COMPARE {
                slot.callsite.store(address | DONE, Ordering::Release);
            }
            false
        }
    }
}

fn report(metadata: &Metadata<'_>, rule: Rule, message: &str, help: &str) {
    let location = match (metadata.file(), metadata.line()) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        _ => metadata.target().to_owned(),
    };
    diag::lint(format_args!(
        "{} {location}: {message}\n  help: {help}",
        rule.id()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint() -> RuntimeLint {
        RuntimeLint::new(LintSettings {
            enabled: true,
            overrides: Vec::new(),
        })
    }

    /// Regression: a callsite whose message is one placeholder alone
    /// (`info!("{line}")`) was reported as soon as two bodies differed,
    /// although the source rule OLB001 does not flag that form and OLB008
    /// recommends it.
    #[test]
    fn a_message_that_is_one_placeholder_is_not_reported_at_run_time() {
        let lint = lint();
        let callsite = 8;
        assert!(!lint.watch(callsite, "starting the worker pool"));
        assert!(!lint.watch(callsite, "listening on 127.0.0.1:8080"));
        // Decided once: later bodies change nothing.
        assert!(!lint.watch(callsite, "starting again"));
    }

    #[test]
    fn bodies_around_the_same_constant_text_are_reported_once() {
        let lint = lint();
        for (callsite, bodies) in [
            (8, ["user ada signed in", "user grace signed in"]),
            (16, ["user ada", "user grace"]),
            (24, ["ada signed in", "grace signed in"]),
            // Regression: a template that starts and ends with a value
            // shares no end, and was no longer reported.
            (
                32,
                [
                    "ada signed in from 10.0.0.1",
                    "grace signed in from 10.0.0.7",
                ],
            ),
        ] {
            assert!(!lint.watch(callsite, bodies[0]), "{bodies:?}");
            assert!(lint.watch(callsite, bodies[1]), "{bodies:?}");
            assert!(!lint.watch(callsite, bodies[1]), "{bodies:?}");
        }
    }

    #[test]
    fn whitespace_at_the_ends_is_not_constant_text() {
        let lint = lint();
        assert!(!lint.watch(8, "  ada "));
        assert!(!lint.watch(8, "  grace "));
        assert!(!lint.watch(16, ""));
        assert!(!lint.watch(16, " "));
    }

    #[test]
    fn a_constant_message_is_never_reported() {
        let lint = lint();
        for _ in 0..2 * BODIES_TO_COMPARE {
            assert!(!lint.watch(8, "user signed in"));
        }
    }
}
