//! The runtime lint: each callsite's keys are checked once, when `tracing`
//! registers it, with the same rules as the source linter; and a callsite
//! whose bodies differ from event to event is reported as an interpolated
//! message. Findings go to stderr once per callsite, never through the
//! export pipeline.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{PoisonError, RwLock};

use tracing_core::callsite::Identifier;
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

/// What is known about a callsite's message so far.
#[derive(Clone, Copy, Debug)]
enum BodyWatch {
    Comparing { first: u64, seen: u8 },
    Done,
}

/// The runtime check's state, shared by the layer and the `log` bridge.
#[derive(Debug)]
pub(crate) struct RuntimeLint {
    settings: LintSettings,
    hasher: RandomState,
    bodies: RwLock<HashMap<Identifier, BodyWatch>>,
}

impl RuntimeLint {
    pub(crate) fn new(settings: LintSettings) -> RuntimeLint {
        RuntimeLint {
            settings,
            hasher: RandomState::new(),
            bodies: RwLock::new(HashMap::new()),
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
    /// messages means values are formatted into the message.
    pub(crate) fn check_body(&self, metadata: &'static Metadata<'static>, body: Option<&str>) {
        if !self.settings.enabled || !self.settings.rule_enabled(Rule::InterpolatedMessage) {
            return;
        }
        let Some(body) = body else {
            return;
        };
        let id = metadata.callsite();
        let known = self
            .bodies
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .copied();
        if matches!(known, Some(BodyWatch::Done)) {
            return;
        }
        let hash = self.hasher.hash_one(body);
        let mut bodies = self.bodies.write().unwrap_or_else(PoisonError::into_inner);
        let watch = bodies.entry(id).or_insert(BodyWatch::Comparing {
            first: hash,
            seen: 0,
        });
        if let BodyWatch::Comparing { first, seen } = watch {
            if *first != hash {
                *watch = BodyWatch::Done;
                drop(bodies);
                report(
                    metadata,
                    Rule::InterpolatedMessage,
                    "this callsite logs a different message each time: values are formatted into it",
                    "pass the values as fields and keep the message constant: `info!(user.id = id, \"signed in\")`",
                );
            } else if *seen + 1 >= BODIES_TO_COMPARE {
                *watch = BodyWatch::Done;
            } else {
                *seen += 1;
            }
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
