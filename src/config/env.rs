//! Environment variables: names, reading, and the reports for bad values.

use std::ffi::OsString;
use std::fmt;
use std::sync::Arc;

use crate::diag::{self, DiagLevel};

pub(crate) const LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
pub(crate) const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
pub(crate) const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub(crate) const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
pub(crate) const LOG_LEVEL: &str = "OTEL_LOG_LEVEL";
pub(crate) const RUST_LOG: &str = "RUST_LOG";
pub(crate) const SEMCONV_STABILITY_OPT_IN: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
pub(crate) const RATE_LIMIT: &str = "OTEL_LOG_BRIDGE_RATE_LIMIT";
pub(crate) const REDACTED_KEYS: &str = "OTEL_LOG_BRIDGE_REDACTED_KEYS";
#[cfg(feature = "otlp")]
pub(crate) const SPOOL_DIR: &str = "OTEL_LOG_BRIDGE_SPOOL_DIR";
/// The logs-specific limit variable first, then the generic one.
pub(crate) const ATTRIBUTE_COUNT_LIMITS: [&str; 2] = [
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
];
pub(crate) const ATTRIBUTE_VALUE_LENGTH_LIMITS: [&str; 2] = [
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
];

/// Where configuration variables are read from: the process environment,
/// or a fixed map in unit tests.
#[derive(Clone)]
pub(crate) struct Env {
    lookup: Arc<Lookup>,
}

type Lookup = dyn Fn(&str) -> Option<OsString> + Send + Sync;

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Env")
    }
}

impl Env {
    pub(crate) fn process() -> Env {
        Env {
            lookup: Arc::new(|name| std::env::var_os(name)),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env::from_os_pairs(
            &pairs
                .iter()
                .map(|(name, value)| (*name, OsString::from(value)))
                .collect::<Vec<_>>(),
        )
    }

    /// A fixed map whose values need not be UTF-8, as the environment's
    /// need not.
    #[cfg(test)]
    pub(crate) fn from_os_pairs(pairs: &[(&str, OsString)]) -> Env {
        let map: std::collections::HashMap<String, OsString> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        Env {
            lookup: Arc::new(move |name| map.get(name).cloned()),
        }
    }

    /// The variable's value; an empty value counts as unset, as the OTel
    /// specification asks. A value that is not UTF-8 is reported and
    /// counts as unset: every setting but a path is text.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        match (self.lookup)(name)?.into_string() {
            Ok(value) => Some(value).filter(|value| !value.trim().is_empty()),
            Err(_) => {
                diag::warn(format_args!("{name} is not valid UTF-8 and is ignored"));
                None
            }
        }
    }

    /// A variable that names a file or directory: any value the system
    /// allows in a path, which need not be UTF-8. A UTF-8 value is
    /// trimmed, as every other variable is: a line break left by the tool
    /// that wrote it would otherwise name a path that does not exist. An
    /// empty value counts as unset.
    #[cfg(feature = "otlp")]
    pub(crate) fn path(&self, name: &str) -> Option<std::path::PathBuf> {
        let value = (self.lookup)(name)?;
        match value.to_str() {
            Some(text) => Some(text.trim())
                .filter(|text| !text.is_empty())
                .map(std::path::PathBuf::from),
            None => Some(std::path::PathBuf::from(value)),
        }
    }

    /// `OTEL_SDK_DISABLED`: only a case-insensitive `true` disables.
    pub(crate) fn sdk_disabled(&self) -> bool {
        self.get(SDK_DISABLED)
            .is_some_and(|value| boolean(SDK_DISABLED, &value))
    }

    /// The first of `names` (the logs-specific variable, then the generic
    /// one) that is set to a whole number. A malformed value is reported
    /// and skipped, naming what applies instead (see [`Env::limit_fallback`]);
    /// `default` describes the limit used when neither variable applies.
    pub(crate) fn limit(&self, names: [&str; 2], default: &str) -> Option<usize> {
        names.iter().find_map(|name| {
            let value = self.get(name)?;
            match whole_size(&value) {
                Some(limit) => Some(limit),
                None => {
                    let fallback = self.limit_fallback(names, name, default);
                    report_invalid(name, &value, "a whole number", fallback);
                    None
                }
            }
        })
    }

    /// What applies in place of the malformed limit variable `rejected`:
    /// the generic variable when the logs-specific one is rejected and the
    /// generic one is a whole number, else `default`. Nothing comes after the generic
    /// variable but the default.
    fn limit_fallback<'a>(&self, names: [&'a str; 2], rejected: &str, default: &'a str) -> &'a str {
        let [specific, generic] = names;
        let generic_applies = self
            .get(generic)
            .is_some_and(|value| whole_size(&value).is_some());
        if rejected == specific && generic_applies {
            generic
        } else {
            default
        }
    }

    /// `OTEL_SEMCONV_STABILITY_OPT_IN`: `code/dup` asks for the deprecated
    /// `code.*` names beside the current ones; `code` (or nothing) for the
    /// current ones only. Other entries concern other signals.
    pub(crate) fn semconv_code_dup(&self) -> bool {
        self.get(SEMCONV_STABILITY_OPT_IN).is_some_and(|list| {
            // Case is ignored, as in every other enumerated value.
            list.split(',')
                .any(|entry| entry.trim().eq_ignore_ascii_case("code/dup"))
        })
    }

    /// `OTEL_LOG_BRIDGE_REDACTED_KEYS`: a comma list of words, or `none`. A
    /// value with no word in it (`","`) is reported and ignored: only
    /// `none` turns redaction off, so that a slip cannot export secrets.
    pub(crate) fn redacted_keys(&self) -> Option<Vec<String>> {
        let list = self.get(REDACTED_KEYS)?;
        if list.trim().eq_ignore_ascii_case("none") {
            return Some(Vec::new());
        }
        let words: Vec<String> = list
            .split(',')
            .map(|word| word.trim().to_ascii_lowercase())
            .filter(|word| !word.is_empty())
            .collect();
        if words.is_empty() {
            report_invalid(
                REDACTED_KEYS,
                &list,
                "a comma list of words, or none",
                "the default list",
            );
            return None;
        }
        Some(words)
    }

    /// `OTEL_LOG_LEVEL`; a value it does not know is reported and the
    /// default, `info`, used. The level is process-wide, so ignoring the
    /// value instead would keep whatever an earlier pipeline set, which the
    /// report could not name truthfully.
    pub(crate) fn diag_level(&self) -> Option<DiagLevel> {
        let value = self.get(LOG_LEVEL)?;
        DiagLevel::parse(&value).or_else(|| {
            report_invalid(LOG_LEVEL, &value, DiagLevel::ACCEPTED, "the default, info");
            Some(DiagLevel::Info)
        })
    }
}

/// A boolean variable's value, as the specification reads booleans: only
/// `true` (in any case) is true; a value other than `false` is reported.
pub(crate) fn boolean(name: &str, value: &str) -> bool {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        _ => {
            report_invalid(name, value, "true, false", "false");
            false
        }
    }
}

/// A variable's whole number (the counts, limits and milliseconds they
/// hold). A number too large for 64 bits reads as the largest there is:
/// such a value asks for "no practical bound", which every setting that
/// takes one bounds or reads as unlimited, where the default it would
/// otherwise fall back to is the opposite of what was asked.
pub(crate) fn whole_number(value: &str) -> Option<u64> {
    match value.trim().parse::<u64>() {
        Ok(number) => Some(number),
        Err(error) if *error.kind() == std::num::IntErrorKind::PosOverflow => Some(u64::MAX),
        Err(_) => None,
    }
}

/// [`whole_number`] as a size or count in memory.
fn whole_size(value: &str) -> Option<usize> {
    whole_number(value).map(|number| usize::try_from(number).unwrap_or(usize::MAX))
}

/// Reports an unusable value once, with what is accepted and what is used
/// instead.
pub(crate) fn report_invalid(name: &str, value: &str, accepted: &str, fallback: &str) {
    diag::warn(format_args!(
        "{name}={value:?} is not valid (accepted: {accepted}); using {fallback}"
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let env = Env::from_pairs(&[("OTEL_SERVICE_NAME", "  ")]);
        assert_eq!(env.get(SERVICE_NAME), None);
    }

    /// Regression: `CODE/DUP` was ignored, where every other enumerated
    /// value ignores case.
    #[test]
    fn semconv_opt_in_ignores_case() {
        let env = Env::from_pairs(&[(SEMCONV_STABILITY_OPT_IN, "http, Code/Dup ")]);
        assert!(env.semconv_code_dup());
        assert!(!Env::from_pairs(&[(SEMCONV_STABILITY_OPT_IN, "code")]).semconv_code_dup());
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn a_path_is_trimmed_and_empty_counts_as_unset() {
        let env = Env::from_pairs(&[("DIR", " /var/spool\n"), ("EMPTY", " ")]);
        assert_eq!(env.path("DIR"), Some("/var/spool".into()));
        assert_eq!(env.path("EMPTY"), None);
        assert_eq!(env.path("UNSET"), None);
    }

    #[test]
    fn sdk_disabled_accepts_only_booleans() {
        assert!(Env::from_pairs(&[(SDK_DISABLED, "TRUE")]).sdk_disabled());
        assert!(!Env::from_pairs(&[(SDK_DISABLED, "yes")]).sdk_disabled());
        assert!(!Env::from_pairs(&[]).sdk_disabled());
    }

    /// Regression: a number too large for 64 bits, meant as "no practical
    /// bound", was reported as not a whole number and replaced by the
    /// default, the opposite of what was asked.
    #[test]
    fn a_number_too_large_reads_as_the_largest() {
        let huge = "99999999999999999999";
        assert_eq!(whole_number(huge), Some(u64::MAX));
        assert_eq!(whole_number(" 42 "), Some(42));
        for malformed in ["-1", "1e3", "ten", "4.5", &format!("-{huge}")] {
            assert_eq!(whole_number(malformed), None, "{malformed:?}");
        }
        let [specific, generic] = ATTRIBUTE_COUNT_LIMITS;
        let env = Env::from_pairs(&[(specific, huge), (generic, "64")]);
        assert_eq!(
            env.limit(ATTRIBUTE_COUNT_LIMITS, "the default"),
            Some(usize::MAX)
        );
    }

    /// Regression: a malformed limit was reported as "using the next
    /// setting", also for the generic variable, after which only the
    /// default comes.
    #[test]
    fn a_malformed_limit_names_what_applies_instead() {
        let [specific, generic] = ATTRIBUTE_COUNT_LIMITS;
        let default = "the default, 128";
        let only_specific = Env::from_pairs(&[(specific, "many")]);
        assert_eq!(
            only_specific.limit_fallback(ATTRIBUTE_COUNT_LIMITS, specific, default),
            default
        );
        assert_eq!(only_specific.limit(ATTRIBUTE_COUNT_LIMITS, default), None);
        let both = Env::from_pairs(&[(specific, "many"), (generic, "64")]);
        assert_eq!(
            both.limit_fallback(ATTRIBUTE_COUNT_LIMITS, specific, default),
            generic
        );
        assert_eq!(both.limit(ATTRIBUTE_COUNT_LIMITS, default), Some(64));
        let only_generic = Env::from_pairs(&[(generic, "many")]);
        assert_eq!(
            only_generic.limit_fallback(ATTRIBUTE_COUNT_LIMITS, generic, default),
            default
        );
        // Regression: with both malformed, the first warning named the
        // generic variable, which does not apply either.
        let both_malformed = Env::from_pairs(&[(specific, "many"), (generic, "lots")]);
        assert_eq!(
            both_malformed.limit_fallback(ATTRIBUTE_COUNT_LIMITS, specific, default),
            default
        );
        assert_eq!(both_malformed.limit(ATTRIBUTE_COUNT_LIMITS, default), None);
    }

    /// Regression: an unknown `OTEL_LOG_LEVEL` was reported as "using info"
    /// but left the process-wide level as it was.
    #[test]
    fn an_unknown_log_level_uses_info() {
        let env = Env::from_pairs(&[(LOG_LEVEL, "verbose")]);
        assert_eq!(env.diag_level(), Some(DiagLevel::Info));
        let env = Env::from_pairs(&[(LOG_LEVEL, "WARNING")]);
        assert_eq!(env.diag_level(), Some(DiagLevel::Warn));
        assert_eq!(Env::from_pairs(&[]).diag_level(), None);
    }
}
