//! The runtime lint: each callsite's keys are checked once, when `tracing`
//! registers it, with the same rules as the source linter; and a callsite
//! whose bodies differ from event to event around the same constant text is
//! reported as an interpolated message. `log` records, which have no
//! callsites, are checked alike by their source position. Findings go to
//! stderr once per callsite, never through the export pipeline.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use tracing_core::Metadata;

use crate::diag;
use crate::lint::keys::{check_key, log_message_key, KeySite};
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
    /// The start and the end of the first body (see [`kept_ends`]).
    first_text: OnceLock<(Box<str>, Box<str>)>,
    seen: AtomicU8,
}

/// How much of a body's start and of its end a callsite's slot keeps, in
/// bytes: the constant text of a template is found there, and a body of
/// megabytes must not be kept whole, or compared whole.
const KEPT_ENDS: usize = 512;

/// The start and the end of `body`, at most [`KEPT_ENDS`] bytes each (cut
/// on character boundaries).
fn kept_ends(body: &str) -> (&str, &str) {
    let mut head = body.len().min(KEPT_ENDS);
    while !body.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = body.len().saturating_sub(KEPT_ENDS);
    while !body.is_char_boundary(tail) {
        tail += 1;
    }
    (&body[..head], &body[tail..])
}

/// Whether two different bodies of one callsite share constant text.
///
/// A template with values in it leaves its constant words in every body at
/// the same places, counted from the start or from the end:
/// `"{user} signed in from {ip}"` gives bodies whose words agree at three
/// of five places. Bodies that agree at half their places or more (counted
/// on the shorter one) are taken for one template. Bodies of one word are
/// taken for one when they share a start or an end that is not all letters
/// and digits (`"count=5"`, `"count=7"`), or when what differs between them
/// is digits (`"15ms"`, `"250ms"`): words that merely share a letter
/// (`"started"`, `"stopped"`) are not.
///
/// A message that is one `Display` placeholder alone (`info!("{line}")`)
/// is a message built elsewhere, which the source rule OLB001 does not
/// flag either (one `Debug` placeholder alone it does flag): two
/// such lines rarely agree at half their places, and are only reported
/// when they do, which the bodies alone cannot tell from a template.
fn share_constant_text(first: (&str, &str), other: (&str, &str)) -> bool {
    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }
    let (first_head, first_tail) = (words(first.0), words(first.1));
    let (other_head, other_tail) = (words(other.0), words(other.1));
    let shorter = first_head.len().min(other_head.len());
    if shorter == 0 {
        return false;
    }
    if first_head.len() == 1 && other_head.len() == 1 {
        return one_word_template(first_head[0], other_head[0]);
    }
    let from_start = first_head
        .iter()
        .zip(&other_head)
        .filter(|(a, b)| a == b)
        .count();
    let from_end = first_tail
        .iter()
        .rev()
        .zip(other_tail.iter().rev())
        .filter(|(a, b)| a == b)
        .count();
    2 * from_start.max(from_end) >= shorter
}

/// Whether two different one-word bodies come from one template: see
/// [`share_constant_text`].
fn one_word_template(a: &str, b: &str) -> bool {
    let prefix: usize = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum();
    let (a_rest, b_rest) = (&a[prefix..], &b[prefix..]);
    let suffix: usize = a_rest
        .chars()
        .rev()
        .zip(b_rest.chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum();
    let shared = [&a[..prefix], &a_rest[a_rest.len() - suffix..]];
    let marked = shared
        .iter()
        .any(|part| part.chars().any(|c| !c.is_alphanumeric()));
    let numbers = [a_rest, b_rest].iter().all(|rest| {
        let differing = &rest[..rest.len() - suffix];
        !differing.is_empty() && differing.bytes().all(|byte| byte.is_ascii_digit())
    });
    (prefix > 0 || suffix > 0) && (marked || numbers)
}

/// How many (source position, key) pairs of `log` records are remembered
/// as checked; later ones are not checked.
const LOG_KEYS_REMEMBERED: usize = 4096;

/// How many callsites are remembered as checked.
const CALLSITES_REMEMBERED: usize = 4096;

/// The runtime check's state, shared by the layer and the `log` bridge.
#[derive(Debug)]
pub(crate) struct RuntimeLint {
    settings: LintSettings,
    hasher: RandomState,
    slots: Box<[Slot]>,
    /// The `log` keys checked so far, by hash of their source position
    /// and key.
    log_keys_checked: Mutex<HashSet<u64>>,
    /// The callsites checked so far, by metadata address: `tracing`
    /// registers every callsite again with each new dispatcher and at each
    /// reload, and a finding is said once per callsite.
    callsites_checked: Mutex<HashSet<usize>>,
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
            log_keys_checked: Mutex::default(),
            callsites_checked: Mutex::default(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Checks a callsite's keys and name, the first time it is registered.
    pub(crate) fn check_callsite(&self, metadata: &'static Metadata<'static>, explicit_name: bool) {
        if !self.settings.enabled || !self.first_registration(metadata) {
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

    /// Notes `metadata` as checked; `false` when it was already. Past
    /// [`CALLSITES_REMEMBERED`] callsites, new ones are checked without
    /// being noted: then only the diagnostics' own memory keeps a finding
    /// from being said again.
    fn first_registration(&self, metadata: &'static Metadata<'static>) -> bool {
        let address = std::ptr::from_ref(metadata) as usize;
        let mut checked = self
            .callsites_checked
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if checked.contains(&address) {
            return false;
        }
        if checked.len() < CALLSITES_REMEMBERED {
            checked.insert(address);
        }
        true
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

    /// Checks a key of a `log` record, once per key and source position:
    /// `log` has no callsites to check once, so the position stands for
    /// one. Positions and keys past [`LOG_KEYS_REMEMBERED`] are not
    /// checked: this is a debugging aid, and must stay bounded.
    pub(crate) fn check_log_key(&self, site: &LogSite<'_>, key: &str) {
        if !self.settings.enabled {
            return;
        }
        let pair = self
            .hasher
            .hash_one((site.target, site.file, site.line, key));
        let first_time = {
            let mut checked = self
                .log_keys_checked
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            checked.len() < LOG_KEYS_REMEMBERED && checked.insert(pair)
        };
        if !first_time {
            return;
        }
        for finding in check_key(key, KeySite::Event).chain(log_message_key(key)) {
            if self.settings.rule_enabled(finding.rule) {
                report_at(
                    &site.location(),
                    finding.rule,
                    &finding.message,
                    &finding.help,
                );
            }
        }
    }

    /// Watches the bodies of a `log` record's source position, as
    /// [`check_body`](RuntimeLint::check_body) does a callsite's.
    ///
    /// A record without a source position (built by hand, or forwarded
    /// from another logging system) is not watched: all of a target's
    /// would be taken for one call, their different messages for values.
    pub(crate) fn check_log_body(&self, site: &LogSite<'_>, body: Option<&str>) {
        let (Some(body), Some(_), Some(_)) = (body, site.file, site.line) else {
            return;
        };
        // A slot's address keeps bits 0 and 1 free, as metadata addresses
        // do; one that falls on a callsite's slot is only not watched.
        let address = self.hasher.hash_one((site.target, site.file, site.line)) & !7;
        if self.watch(address, body) {
            report_at(
                &site.location(),
                Rule::InterpolatedMessage,
                "this call logs a different message each time around the same text: values are formatted into it",
                "pass the values as key-values and keep the message constant: `log::info!(user_id = id; \"signed in\")`",
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
        // Decided, or another callsite's (or being claimed): not compared,
        // and so not hashed either.
        if claimed != 0 && claimed != address {
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
                let (head, tail) = kept_ends(body);
                let _ = slot.first_text.set((head.into(), tail.into()));
                slot.seen.store(1, Ordering::Release);
                slot.callsite.store(address, Ordering::Release);
            }
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
                    .is_some_and(|(head, tail)| share_constant_text((head, tail), kept_ends(body)))
        } else {
            // Compared before adding: with hundreds of threads racing here,
            // the count may pass 255 before one of them says done, and
            // adding to the `u8` read back would overflow.
            if slot.seen.fetch_add(1, Ordering::AcqRel) >= BODIES_TO_COMPARE - 1 {
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
    report_at(&location, rule, message, help);
}

fn report_at(location: &str, rule: Rule, message: &str, help: &str) {
    diag::lint(format_args!(
        "{}",
        finding_text(location, rule, message, help)
    ));
}

/// A finding as stderr shows it. The location and the message can carry a
/// program's own text (a `log` key, a target, a file name), escaped where a
/// terminal would act on it: a line break in a key must not forge a line.
fn finding_text(location: &str, rule: Rule, message: &str, help: &str) -> String {
    format!(
        "{} {}: {}\n  help: {help}",
        rule.id(),
        diag::escaped(location),
        diag::escaped(message)
    )
}

/// Where a `log` record was logged: what stands for a callsite, which
/// `log` does not have.
pub(crate) struct LogSite<'a> {
    pub(crate) target: &'a str,
    pub(crate) file: Option<&'a str>,
    pub(crate) line: Option<u32>,
}

impl LogSite<'_> {
    fn location(&self) -> String {
        match (self.file, self.line) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            _ => self.target.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a `log` key, a target or a file name went to stderr as
    /// it was, so a line break in a key forged a line of its own, and an
    /// escape sequence reached the terminal.
    #[test]
    fn a_findings_program_text_is_escaped_on_stderr() {
        let text = finding_text(
            "app\u{1b}[2J",
            Rule::ReservedKey,
            "key `a\nb` is reserved",
            "rename it",
        );
        assert_eq!(
            text,
            format!(
                "{} app\\u{{1b}}[2J: key `a\\nb` is reserved\n  help: rename it",
                Rule::ReservedKey.id()
            )
        );
    }

    /// Regression: a callsite registered again (each new dispatcher, each
    /// reload) was checked again, and only the diagnostics' memory, which
    /// starts afresh after 1024 messages, kept its findings from being
    /// said again.
    #[test]
    fn a_callsite_registered_again_is_not_checked_again() {
        let lint = lint();
        let callsite =
            tracing::callsite!(name: "checked", kind: tracing::metadata::Kind::EVENT, fields: []);
        let metadata = tracing::callsite::Callsite::metadata(callsite);
        assert!(lint.first_registration(metadata));
        assert!(!lint.first_registration(metadata));
    }

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

    /// Regression: two one-word messages that began or ended with the same
    /// letter (`"started"`, `"stopped"`) were taken for one template.
    #[test]
    fn one_word_bodies_are_one_template_only_around_marks_or_numbers() {
        let lint = lint();
        for (callsite, bodies, template) in [
            (8, ["started", "stopped"], false),
            (16, ["ready", "rebalancing"], false),
            (24, ["count=5", "count=17"], true),
            (32, ["15ms", "250ms"], true),
            (40, ["user:ada", "user:grace"], true),
            (48, ["v2", "v3"], true),
        ] {
            assert!(!lint.watch(callsite, bodies[0]), "{bodies:?}");
            assert_eq!(lint.watch(callsite, bodies[1]), template, "{bodies:?}");
        }
    }

    /// Regression: any word two lines shared counted as constant text, so
    /// most prose logged through one placeholder was reported.
    #[test]
    fn lines_that_share_a_word_or_two_are_not_a_template() {
        let lint = lint();
        assert!(!lint.watch(8, "failed to open the config"));
        assert!(!lint.watch(8, "unable to parse the header"));
        assert!(!lint.watch(16, "connected to the db"));
        assert!(!lint.watch(16, "the request was cancelled"));
    }

    /// Only the ends of a long body are kept and compared.
    #[test]
    fn long_bodies_are_compared_by_their_ends() {
        assert_eq!(kept_ends(&"é".repeat(1000)).0.len(), 512);
        let lint = lint();
        let body = |value: &str| format!("dump {} end", value.repeat(100_000));
        assert!(!lint.watch(8, &body("a")));
        assert!(lint.watch(8, &body("b")));
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
