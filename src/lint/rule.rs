//! Rule identifiers and levels.
//!
//! This module needs no parser, so it is compiled without the `lint` feature:
//! the bridge's runtime callsite check names the same rules as the static linter.

use std::error::Error;
use std::fmt;
use std::str::FromStr;

/// One lint rule, identified by a stable id such as `OLB001`.
///
/// The rule documentation (what each rule catches, why it matters for
/// OpenTelemetry and how to fix it) is in the [module documentation](crate::lint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// `OLB000`: a file that could not be parsed, so it was not linted.
    UnparsableFile,
    /// `OLB001`: values formatted into the message instead of passed as fields.
    InterpolatedMessage,
    /// `OLB002`: a value turned into a string with `format!` or `.to_string()` before logging.
    PreformattedValue,
    /// `OLB003`: a key that is reserved by OpenTelemetry or written by the bridge itself.
    ReservedKey,
    /// `OLB004`: a key that is not lowercase dot-separated snake_case, or that clashes
    /// with another key of the same crate.
    KeyNaming,
    /// `OLB005`: a key or value that looks like a secret (password, token, cookie…).
    Secret,
    /// `OLB006`: an error recorded as a string, losing its type and source chain.
    ErrorAsString,
    /// `OLB007`: a request, header map, configuration or whole struct dumped with `Debug`.
    OpaqueDebug,
    /// `OLB008`: a bare identifier that was meant as the message but records a field.
    BareIdentifierMessage,
    /// `OLB009`: a warn or error event without `name:` (off by default).
    MissingEventName,
    /// `OLB010`: an error-level event without an error field (off by default).
    ErrorWithoutErrorField,
    /// `OLB011`: logging inside an OpenTelemetry exporter or processor.
    TelemetryLoop,
    /// `OLB012`: duplicate keys or a computed `log` key.
    FieldList,
    /// `OLB013`: a suppression comment naming no rule, which allows nothing.
    UnknownAllowance,
}

/// Every rule, in id order: the array behind [`Rule::ALL`], sized for
/// per-rule tables.
const RULES: [Rule; 14] = [
    Rule::UnparsableFile,
    Rule::InterpolatedMessage,
    Rule::PreformattedValue,
    Rule::ReservedKey,
    Rule::KeyNaming,
    Rule::Secret,
    Rule::ErrorAsString,
    Rule::OpaqueDebug,
    Rule::BareIdentifierMessage,
    Rule::MissingEventName,
    Rule::ErrorWithoutErrorField,
    Rule::TelemetryLoop,
    Rule::FieldList,
    Rule::UnknownAllowance,
];

impl Rule {
    /// Every rule, in id order. A slice, so that a new rule changes its
    /// length, not its type.
    pub const ALL: &'static [Rule] = &RULES;

    /// How many rules there are.
    pub(crate) const COUNT: usize = RULES.len();

    /// The stable id, such as `"OLB001"`.
    pub const fn id(self) -> &'static str {
        match self {
            Rule::UnparsableFile => "OLB000",
            Rule::InterpolatedMessage => "OLB001",
            Rule::PreformattedValue => "OLB002",
            Rule::ReservedKey => "OLB003",
            Rule::KeyNaming => "OLB004",
            Rule::Secret => "OLB005",
            Rule::ErrorAsString => "OLB006",
            Rule::OpaqueDebug => "OLB007",
            Rule::BareIdentifierMessage => "OLB008",
            Rule::MissingEventName => "OLB009",
            Rule::ErrorWithoutErrorField => "OLB010",
            Rule::TelemetryLoop => "OLB011",
            Rule::FieldList => "OLB012",
            Rule::UnknownAllowance => "OLB013",
        }
    }

    /// A readable name, such as `"interpolated-message"`; accepted wherever an id is.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::UnparsableFile => "unparsable-file",
            Rule::InterpolatedMessage => "interpolated-message",
            Rule::PreformattedValue => "preformatted-value",
            Rule::ReservedKey => "reserved-key",
            Rule::KeyNaming => "key-naming",
            Rule::Secret => "secret",
            Rule::ErrorAsString => "error-as-string",
            Rule::OpaqueDebug => "opaque-debug",
            Rule::BareIdentifierMessage => "bare-identifier-message",
            Rule::MissingEventName => "missing-event-name",
            Rule::ErrorWithoutErrorField => "error-without-error-field",
            Rule::TelemetryLoop => "telemetry-loop",
            Rule::FieldList => "field-list",
            Rule::UnknownAllowance => "unknown-allowance",
        }
    }

    /// One sentence saying what the rule catches.
    pub const fn summary(self) -> &'static str {
        match self {
            Rule::UnparsableFile => "The file could not be parsed as Rust, so it was not linted.",
            Rule::InterpolatedMessage => {
                "Values are formatted into the message instead of being passed as fields."
            }
            Rule::PreformattedValue => {
                "A value is turned into a string with format! or .to_string() before it is logged."
            }
            Rule::ReservedKey => {
                "A key is reserved by OpenTelemetry or written by the bridge itself."
            }
            Rule::KeyNaming => {
                "A key is not lowercase dot-separated snake_case, or clashes with another key of the crate."
            }
            Rule::Secret => "A key or value looks like a secret.",
            Rule::ErrorAsString => {
                "An error is recorded as a string, losing its type and source chain."
            }
            Rule::OpaqueDebug => {
                "A request, header map, configuration or whole struct is dumped with Debug."
            }
            Rule::BareIdentifierMessage => {
                "A bare identifier meant as the message records a field and leaves the body empty."
            }
            Rule::MissingEventName => "A warn or error event has no name:.",
            Rule::ErrorWithoutErrorField => "An error-level event carries no error field.",
            Rule::TelemetryLoop => {
                "Logging inside an OpenTelemetry exporter or processor feeds the pipeline back into itself."
            }
            Rule::FieldList => {
                "A call repeats a key, or a log call computes a key at run time."
            }
            Rule::UnknownAllowance => {
                "A suppression comment names a rule that does not exist, so it allows nothing."
            }
        }
    }

    /// The level a rule has when nothing configures it.
    pub const fn default_level(self) -> Level {
        match self {
            Rule::ReservedKey | Rule::Secret | Rule::TelemetryLoop | Rule::FieldList => Level::Deny,
            Rule::MissingEventName | Rule::ErrorWithoutErrorField => Level::Allow,
            Rule::UnparsableFile
            | Rule::InterpolatedMessage
            | Rule::PreformattedValue
            | Rule::KeyNaming
            | Rule::ErrorAsString
            | Rule::OpaqueDebug
            | Rule::BareIdentifierMessage
            | Rule::UnknownAllowance => Level::Warn,
        }
    }

    /// The position of the rule in [`Rule::ALL`].
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Rule {
    type Err = UnknownRule;

    /// Accepts an id (`OLB001`, any case) or a name (`interpolated-message`,
    /// with `-` or `_`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim();
        Rule::ALL
            .iter()
            .copied()
            .find(|rule| {
                rule.id().eq_ignore_ascii_case(wanted)
                    || rule.name().eq_ignore_ascii_case(&wanted.replace('_', "-"))
            })
            .ok_or_else(|| UnknownRule {
                text: text.to_owned(),
            })
    }
}

/// How a finding of a rule is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Level {
    /// The rule is off: its findings are dropped.
    Allow,
    /// Findings are reported; the command-line tool still exits 0.
    Warn,
    /// Findings are reported and make the command-line tool exit 1.
    Deny,
}

impl Level {
    /// The configuration spelling: `"allow"`, `"warn"` or `"deny"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Allow => "allow",
            Level::Warn => "warn",
            Level::Deny => "deny",
        }
    }

    /// The word a report shows for a finding of this level, as rustc does:
    /// `"warning"` or `"error"` (`"allow"` for a rule that is off).
    pub const fn label(self) -> &'static str {
        match self {
            Level::Allow => "allow",
            Level::Warn => "warning",
            Level::Deny => "error",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Accepts `allow`, `warn` or `deny`, in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim();
        [Level::Allow, Level::Warn, Level::Deny]
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownLevel {
                text: text.to_owned(),
            })
    }
}

/// The error of parsing a [`Rule`] from text that names no rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownRule {
    /// The text that names no rule.
    pub text: String,
}

impl fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown lint rule `{}` (expected an id such as OLB001 or a name such as interpolated-message)",
            self.text
        )
    }
}

impl Error for UnknownRule {}

/// The error of parsing a [`Level`] from text other than `allow`, `warn` or `deny`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownLevel {
    /// The text that names no level.
    pub text: String,
}

impl fmt::Display for UnknownLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown lint level `{}` (expected allow, warn or deny)",
            self.text
        )
    }
}

impl Error for UnknownLevel {}
