//! Severity mapping from `tracing` and `log` levels to the Logs Data Model.

/// An OpenTelemetry severity: the number (1–24) and the text written beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Severity {
    pub(crate) number: u8,
    pub(crate) text: &'static str,
}

impl Severity {
    pub(crate) const TRACE: Severity = Severity {
        number: 1,
        text: "TRACE",
    };
    pub(crate) const DEBUG: Severity = Severity {
        number: 5,
        text: "DEBUG",
    };
    pub(crate) const INFO: Severity = Severity {
        number: 9,
        text: "INFO",
    };
    pub(crate) const WARN: Severity = Severity {
        number: 13,
        text: "WARN",
    };
    pub(crate) const ERROR: Severity = Severity {
        number: 17,
        text: "ERROR",
    };
    /// Produced for panics only: neither `tracing` nor `log` has a fatal level.
    pub(crate) const FATAL: Severity = Severity {
        number: 21,
        text: "FATAL",
    };

    /// Each `tracing` level is alone in its range, so it takes the range's
    /// minimum, as the data model asks.
    pub(crate) fn from_tracing(level: tracing_core::Level) -> Severity {
        match level {
            tracing_core::Level::TRACE => Severity::TRACE,
            tracing_core::Level::DEBUG => Severity::DEBUG,
            tracing_core::Level::INFO => Severity::INFO,
            tracing_core::Level::WARN => Severity::WARN,
            tracing_core::Level::ERROR => Severity::ERROR,
        }
    }

    pub(crate) fn from_log(level: log::Level) -> Severity {
        match level {
            log::Level::Trace => Severity::TRACE,
            log::Level::Debug => Severity::DEBUG,
            log::Level::Info => Severity::INFO,
            log::Level::Warn => Severity::WARN,
            log::Level::Error => Severity::ERROR,
        }
    }
}
