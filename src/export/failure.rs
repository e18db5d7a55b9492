//! Why records failed to be exported: the `error.type` the exporter metrics
//! give each failure, from a bounded set of values, as the semantic
//! conventions ask ("the failure cause", "predictable" and "low
//! cardinality"; for the exporter metrics, that of the final attempt).
//!
//! The values:
//! - an HTTP status the collector answered, as its number (`"400"`,
//!   `"503"`), as the HTTP conventions give it;
//! - a gRPC status the collector answered, as its name
//!   (`"INVALID_ARGUMENT"`, `"UNAVAILABLE"`), as the gRPC conventions give
//!   it;
//! - `timeout`: the request's time ran out;
//! - `connection_refused`, `connection_reset`, `connection_aborted`,
//!   `connection_failed` (no connection, for another reason, a name that
//!   does not resolve included), `host_unreachable`, `network_unreachable`;
//! - `server_certificate_invalid`, `tls_handshake_failed`;
//! - `protocol_error`: the answer was no HTTP or HTTP/2 the client reads;
//! - `invalid_endpoint`: the URL or proxy cannot be used;
//! - `broken_pipe`, `storage_full`, `write_zero`, `would_block`,
//!   `permission_denied`, `not_found`: a line writer's output failed so
//!   (`would_block`: it made no progress until the shutdown deadline, or
//!   for 10 s for the OTLP-JSON lines);
//! - `record_too_large`: a record larger than any request may be;
//! - `spool_unreadable`: a spooled request could not be read back;
//! - `worker_panicked`: the export worker stopped on a panic;
//! - `internal_error`: the crate could not encode a request;
//! - `_OTHER`: anything else, as the conventions name it.

use std::borrow::Cow;

/// The cause of a failed export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureCause {
    /// An HTTP status the collector answered.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    HttpStatus(u16),
    /// A gRPC status code the collector answered.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    GrpcStatus(i32),
    /// A cause of the module's list.
    Named(&'static str),
}

/// The gRPC status codes' names, by number.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

impl FailureCause {
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) const TIMEOUT: FailureCause = FailureCause::Named("timeout");
    pub(crate) const OTHER: FailureCause = FailureCause::Named("_OTHER");
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) const INTERNAL_ERROR: FailureCause = FailureCause::Named("internal_error");
    pub(crate) const WORKER_PANICKED: FailureCause = FailureCause::Named("worker_panicked");

    /// The cause of an I/O error: its kind, when the list has one.
    pub(crate) fn of_io(error: &std::io::Error) -> FailureCause {
        use std::io::ErrorKind;
        FailureCause::Named(match error.kind() {
            ErrorKind::TimedOut => "timeout",
            ErrorKind::ConnectionRefused => "connection_refused",
            ErrorKind::ConnectionReset => "connection_reset",
            ErrorKind::ConnectionAborted => "connection_aborted",
            ErrorKind::NotConnected | ErrorKind::AddrNotAvailable => "connection_failed",
            ErrorKind::HostUnreachable => "host_unreachable",
            ErrorKind::NetworkUnreachable | ErrorKind::NetworkDown => "network_unreachable",
            ErrorKind::BrokenPipe => "broken_pipe",
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
                "storage_full"
            }
            ErrorKind::WriteZero => "write_zero",
            ErrorKind::WouldBlock => "would_block",
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => "permission_denied",
            ErrorKind::NotFound => "not_found",
            _ => return FailureCause::OTHER,
        })
    }

    /// The cause of a failure to make or use a TLS connection.
    #[cfg(feature = "otlp")]
    pub(crate) fn of_tls(error: &rustls::Error) -> FailureCause {
        FailureCause::Named(match error {
            rustls::Error::InvalidCertificate(_) => "server_certificate_invalid",
            _ => "tls_handshake_failed",
        })
    }

    /// The cause of an I/O error, or of the TLS error it may carry.
    #[cfg(feature = "otlp")]
    fn of_io_or_tls(io: &std::io::Error) -> FailureCause {
        match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => FailureCause::of_tls(tls),
            None => FailureCause::of_io(io),
        }
    }

    /// The cause an error's chain of sources tells, the outermost first:
    /// a TLS or I/O error among them; `None` when none is.
    #[cfg(feature = "otlp")]
    pub(crate) fn of_sources(error: &(dyn std::error::Error + 'static)) -> Option<FailureCause> {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(tls) = error.downcast_ref::<rustls::Error>() {
                return Some(FailureCause::of_tls(tls));
            }
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                return Some(FailureCause::of_io_or_tls(io));
            }
            // After an answer's headers, `hyper` passes a lost
            // connection on as the HTTP/2 error that holds it, which
            // does not give it as a source.
            #[cfg(feature = "grpc")]
            if let Some(io) = error
                .downcast_ref::<h2::Error>()
                .and_then(h2::Error::get_io)
            {
                return Some(FailureCause::of_io_or_tls(io));
            }
            next = error.source();
        }
        None
    }

    /// The value of `error.type`: the causes are only reported by the
    /// metrics.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn error_type(self) -> Cow<'static, str> {
        match self {
            FailureCause::HttpStatus(status @ 100..=599) => Cow::Owned(status.to_string()),
            FailureCause::GrpcStatus(code) => usize::try_from(code)
                .ok()
                .and_then(|code| GRPC_CODES.get(code))
                .map_or(Cow::Borrowed("_OTHER"), |name| Cow::Borrowed(*name)),
            FailureCause::Named(name) => Cow::Borrowed(name),
            FailureCause::HttpStatus(_) => Cow::Borrowed("_OTHER"),
        }
    }
}

/// How many causes a sink counts apart; the records of further ones count
/// as [`FailureCause::OTHER`]. The causes are bounded already (statuses
/// and a list); this bounds the series a sink reports however many
/// distinct statuses a collector answers.
const MOST_CAUSES: usize = 32;

/// Failed records by cause, for one sink.
#[derive(Debug, Default)]
pub(crate) struct FailedByCause {
    counts: std::sync::Mutex<Vec<(FailureCause, u64)>>,
}

impl FailedByCause {
    pub(crate) fn add(&self, records: u64, cause: FailureCause) {
        if records == 0 {
            return;
        }
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Causes with one `error.type` are one series: the metric keeps
        // the last value observed for a set of attributes, not the sum.
        let cause = if cause.error_type() == FailureCause::OTHER.error_type() {
            FailureCause::OTHER
        } else {
            cause
        };
        let cause = if counts.len() >= MOST_CAUSES
            && !counts.iter().any(|(counted, _)| *counted == cause)
        {
            FailureCause::OTHER
        } else {
            cause
        };
        match counts.iter_mut().find(|(counted, _)| *counted == cause) {
            Some((_, count)) => *count += records,
            None => counts.push((cause, records)),
        }
    }

    /// Each cause counted so far, with its records: an entry is never
    /// removed, as an observable counter's series must not go back.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn snapshot(&self) -> Vec<(FailureCause, u64)> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: an HTTP/2 error that holds an I/O error (a connection
    /// lost after an answer's headers) gives it as no source, and the
    /// failure's cause was the `UNKNOWN` status `tonic` made of it.
    #[cfg(feature = "grpc")]
    #[test]
    fn an_http2_error_holding_an_io_error_gives_its_cause() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let error = runtime.block_on(async {
            let (client, server) = tokio::io::duplex(64);
            drop(server);
            h2::client::handshake(client).await.err()
        });
        let error = error.expect("no handshake with a closed peer");
        assert!(error.is_io(), "{error}");
        assert_eq!(
            FailureCause::of_sources(&error).map(FailureCause::error_type),
            Some("broken_pipe".into())
        );
    }

    #[test]
    fn causes_are_statuses_or_names_from_a_bounded_list() {
        assert_eq!(FailureCause::HttpStatus(503).error_type(), "503");
        assert_eq!(FailureCause::HttpStatus(1000).error_type(), "_OTHER");
        assert_eq!(FailureCause::GrpcStatus(3).error_type(), "INVALID_ARGUMENT");
        assert_eq!(FailureCause::GrpcStatus(16).error_type(), "UNAUTHENTICATED");
        assert_eq!(FailureCause::GrpcStatus(-1).error_type(), "_OTHER");
        assert_eq!(FailureCause::GrpcStatus(99).error_type(), "_OTHER");
        let broken = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert_eq!(FailureCause::of_io(&broken).error_type(), "broken_pipe");
        let other = std::io::Error::other("odd");
        assert_eq!(FailureCause::of_io(&other), FailureCause::OTHER);
    }

    /// Regression: an HTTP status out of range, a gRPC code out of range
    /// and an unnamed cause were counted apart under one `error.type`,
    /// `_OTHER`, and the metric kept only the last count of the three.
    #[test]
    fn causes_with_one_error_type_are_counted_together() {
        let failed = FailedByCause::default();
        failed.add(1, FailureCause::HttpStatus(999));
        failed.add(2, FailureCause::GrpcStatus(99));
        failed.add(4, FailureCause::OTHER);
        failed.add(8, FailureCause::HttpStatus(503));
        assert_eq!(
            failed.snapshot(),
            [(FailureCause::OTHER, 7), (FailureCause::HttpStatus(503), 8)]
        );
    }

    #[test]
    fn causes_past_the_bound_count_as_other() {
        let failed = FailedByCause::default();
        for status in 0..40 {
            failed.add(1, FailureCause::HttpStatus(400 + status));
        }
        failed.add(0, FailureCause::TIMEOUT);
        failed.add(2, FailureCause::HttpStatus(400));
        let counts = failed.snapshot();
        assert_eq!(counts.len(), MOST_CAUSES + 1);
        assert_eq!(counts[0], (FailureCause::HttpStatus(400), 3));
        assert_eq!(counts.last(), Some(&(FailureCause::OTHER, 8)));
        assert!(!counts
            .iter()
            .any(|(cause, _)| *cause == FailureCause::TIMEOUT));
    }
}
