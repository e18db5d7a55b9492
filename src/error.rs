//! Errors of setting the bridge up.

use std::fmt;

/// Why [`try_init`](crate::try_init) or [`Builder::layer`](crate::Builder::layer)
/// failed. Nothing is installed when an error is returned (but see
/// [`Builder::try_init`](crate::Builder::try_init) for a race with another
/// thread installing a subscriber).
#[derive(Debug)]
#[non_exhaustive]
pub enum InitError {
    /// A global `tracing` subscriber was already set (by another
    /// `init`, `tracing_subscriber::fmt().init()`, …).
    SubscriberAlreadySet,
    /// A global `log` logger was already set (by `env_logger`,
    /// `tracing_log::LogTracer`, …).
    LoggerAlreadySet,
    /// A setting, from code or from the environment, has a value the crate
    /// cannot use. More fields may come: match it with `..`.
    #[non_exhaustive]
    InvalidConfig {
        /// The setting: an environment variable or a builder method; for a
        /// value that passed the crate's checks but the gRPC stack refuses,
        /// the OTLP setting by name (`OTLP endpoint`, `OTLP headers`,
        /// `OTLP TLS files`).
        setting: String,
        /// What is wrong and which values are accepted.
        message: String,
    },
    /// A background worker thread, or the gRPC exporter's runtime, could
    /// not be started.
    Worker(std::io::Error),
}

impl InitError {
    pub(crate) fn invalid(setting: impl Into<String>, message: impl Into<String>) -> InitError {
        InitError::InvalidConfig {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::SubscriberAlreadySet => f.write_str(
                "a global tracing subscriber is already set (by an earlier init, or another library's); an installed subscriber cannot take another layer, so build the bridge with Builder::layer() and add it to that subscriber before it is installed",
            ),
            InitError::LoggerAlreadySet => f.write_str(
                "a global log logger is already set; disable the log bridge with Builder::with_log_bridge(false) or remove the other logger",
            ),
            InitError::InvalidConfig { setting, message } => {
                write!(f, "invalid {setting}: {message}")
            }
            // The cause is the error's `source`: error reporters print it
            // after this, and would print it twice were it here too.
            InitError::Worker(_) => f.write_str("could not start the export worker"),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Worker(error) => Some(error),
            _ => None,
        }
    }
}

/// An error with its causes, for a message with nothing else to print them:
/// `error: cause: cause of the cause`.
pub(crate) struct WithCauses<'e>(pub(crate) &'e (dyn std::error::Error + 'static));

impl fmt::Display for WithCauses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the worker error wrote its cause into its own text and
    /// gave it as its source too, so error reporters printed it twice.
    #[test]
    fn a_cause_is_given_once() {
        let error = InitError::Worker(std::io::Error::other("no more threads"));
        assert_eq!(error.to_string(), "could not start the export worker");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("no more threads"));
        assert_eq!(
            WithCauses(&error).to_string(),
            "could not start the export worker: no more threads"
        );
    }

    /// Regression: the error of a second global subscriber told the user
    /// to add the bridge to the installed one, which cannot take a layer;
    /// a flush that timed out did not say what to do about it.
    #[test]
    fn errors_say_what_to_do() {
        let already_set = InitError::SubscriberAlreadySet.to_string();
        assert!(
            already_set.contains("add it to that subscriber before it is installed"),
            "{already_set}"
        );
        let timeout = crate::FlushError::Timeout(std::time::Duration::from_secs(5)).to_string();
        assert!(
            timeout.contains("within 5s (Builder::with_shutdown_timeout sets the wait"),
            "{timeout}"
        );
    }
}
