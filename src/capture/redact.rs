//! Redaction: values of attributes whose key names a secret are replaced
//! before any sink sees the record.
//!
//! A key is sensitive when one of its dot-separated segments equals, ignoring
//! case, a word of the list (default: [`DEFAULT_REDACTED_KEYS`]). So
//! `password`, `http.request.header.authorization` and `auth.token` are
//! redacted, while `token_count` or `session_len` are not: their segments
//! are other words.
//!
//! The decision for an event's fields is made once per callsite and kept
//! in a fixed table, so the per-event cost is one atomic load; span fields
//! are redacted when they are recorded; `log` key-values, whose keys are
//! only known per record, are checked per record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use tracing_core::Metadata;

/// The value that replaces a redacted one.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// The keys redacted unless the builder says otherwise.
pub const DEFAULT_REDACTED_KEYS: [&str; 11] = [
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "set-cookie",
    "private_key",
    "credential",
];

/// How many callsites' decisions are kept; a callsite whose slot another
/// one took is decided on every event instead (correct, only slower).
const SLOTS: usize = 4096;

/// Which keys are redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RedactionSettings {
    /// Lower-case words; empty turns redaction off.
    pub(crate) words: Vec<String>,
}

impl Default for RedactionSettings {
    fn default() -> Self {
        RedactionSettings {
            words: DEFAULT_REDACTED_KEYS
                .iter()
                .map(|w| (*w).to_owned())
                .collect(),
        }
    }
}

impl RedactionSettings {
    pub(crate) fn is_sensitive(&self, key: &str) -> bool {
        !self.words.is_empty()
            && key.split('.').any(|segment| {
                self.words
                    .iter()
                    .any(|word| segment.eq_ignore_ascii_case(word))
            })
    }
}

/// The redaction state of one pipeline.
#[derive(Debug)]
pub(crate) struct Redactor {
    settings: RedactionSettings,
    /// Per callsite (by metadata address): the bit mask of the fields to
    /// redact, by field index.
    callsites: Box<[OnceLock<(usize, u64)>]>,
    redacted: AtomicU64,
}

impl Redactor {
    pub(crate) fn new(settings: RedactionSettings) -> Redactor {
        let callsites = if settings.words.is_empty() {
            Box::default()
        } else {
            (0..SLOTS).map(|_| OnceLock::new()).collect()
        };
        Redactor {
            settings,
            callsites,
            redacted: AtomicU64::new(0),
        }
    }

    pub(crate) fn settings(&self) -> &RedactionSettings {
        &self.settings
    }

    /// How many values were redacted so far.
    pub(crate) fn redacted(&self) -> u64 {
        self.redacted.load(Ordering::Relaxed)
    }

    pub(crate) fn count(&self, values: u64) {
        if values > 0 {
            self.redacted.fetch_add(values, Ordering::Relaxed);
        }
    }

    /// The fields of `metadata` to redact, as a bit mask by field index.
    pub(crate) fn field_mask(&self, metadata: &'static Metadata<'static>) -> u64 {
        if self.callsites.is_empty() {
            return 0;
        }
        let address = metadata as *const Metadata<'static> as usize;
        let Some(slot) = self.callsites.get((address >> 3) % SLOTS) else {
            return 0;
        };
        match slot.get_or_init(|| (address, self.compute_mask(metadata))) {
            (owner, mask) if *owner == address => *mask,
            _ => self.compute_mask(metadata),
        }
    }

    fn compute_mask(&self, metadata: &Metadata<'_>) -> u64 {
        metadata
            .fields()
            .iter()
            .filter(|field| field.index() < 64 && self.settings.is_sensitive(field.name()))
            .fold(0, |mask, field| mask | 1 << field.index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_per_segment_ignoring_case() {
        let settings = RedactionSettings::default();
        for sensitive in [
            "password",
            "PASSWORD",
            "db.password",
            "http.request.header.authorization",
            "auth.token",
            "api_key",
            "apiKey",
            "set-cookie",
            "user.Credential",
        ] {
            assert!(settings.is_sensitive(sensitive), "{sensitive}");
        }
        for plain in [
            "token_count",
            "session_len",
            "password_len",
            "tokens",
            "user.id",
            "secretary",
            "cookie_jar.size",
        ] {
            assert!(!settings.is_sensitive(plain), "{plain}");
        }
    }

    #[test]
    fn an_empty_list_redacts_nothing() {
        let settings = RedactionSettings { words: Vec::new() };
        assert!(!settings.is_sensitive("password"));
    }
}
