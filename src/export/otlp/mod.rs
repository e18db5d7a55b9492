//! OTLP export: batches of pre-encoded records, sent by the sink's worker
//! with the specification's retry rules.

mod encode;
#[cfg(feature = "grpc")]
mod grpc;
mod http;
mod json_lines;
mod retry;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::config::otlp::OtlpSettings;
use crate::config::Resource;
use crate::diag;
use crate::export::{Drain, Queue, SinkCounters};

pub(crate) use self::encode::encode_frame;
use self::encode::{encode_resource, frames, Batch, Frame};
use self::http::HttpTransport;
use self::retry::Backoff;

/// The largest request the exporter sends, as the OTLP specification
/// recommends receivers accept; bigger batches are split.
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;
/// The size a batch is cut at before the record-count limit, so that large
/// records make smaller requests rather than huge ones.
const TARGET_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// What one attempt to send a request came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The collector took the request; `rejected` records of it were
    /// refused (partial success) and must not be retried.
    Accepted { rejected: u64 },
    /// Worth retrying, after `after` when the collector said so.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Not retryable: the records are lost.
    Failed { reason: String },
}

/// The transport a sink exports through.
pub(crate) trait Transport: Send + 'static {
    /// Sends one encoded `ExportLogsServiceRequest`.
    fn send(&mut self, request: &[u8]) -> Outcome;
}

/// The OTLP sink's side of the worker: cuts batches, sends, retries.
pub(crate) struct OtlpDrain<T> {
    transport: T,
    resource: Vec<u8>,
    batch: Batch,
    request: Vec<u8>,
    max_batch_records: u64,
    counters: Arc<SinkCounters>,
    failure_reported: bool,
}

impl<T: Transport> OtlpDrain<T> {
    pub(crate) fn new(
        transport: T,
        resource: &Resource,
        max_batch_records: u64,
        counters: Arc<SinkCounters>,
    ) -> Self {
        OtlpDrain {
            transport,
            resource: encode_resource(resource),
            batch: Batch::default(),
            request: Vec::new(),
            max_batch_records: max_batch_records.max(1),
            counters,
            failure_reported: false,
        }
    }

    fn add(&mut self, frame: Frame<'_>, queue: &Queue) {
        if frame.record.len() + self.resource.len() + frame.scope.len() + 64 > MAX_REQUEST_BYTES {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
            self.report(format_args!(
                "a record of {} bytes exceeds the 64 MiB OTLP request limit and was not sent",
                frame.record.len()
            ));
            return;
        }
        let full = self.batch.records() >= self.max_batch_records
            || self.batch.encoded_len() + frame.record.len() > TARGET_REQUEST_BYTES;
        if full && !self.batch.is_empty() {
            self.export(queue);
        }
        self.batch.push(frame);
    }

    /// Sends the current batch until it is accepted, refused for good, or
    /// the shutdown deadline makes waiting for another attempt pointless.
    fn export(&mut self, queue: &Queue) {
        let records = self.batch.records();
        self.batch.encode_request(&self.resource, &mut self.request);
        let mut backoff = Backoff::default();
        loop {
            let started = std::time::Instant::now();
            let outcome = self.transport.send(&self.request);
            self.counters
                .latency
                .record(started.elapsed().as_secs_f64());
            match outcome {
                Outcome::Accepted { rejected } => {
                    let rejected = rejected.min(records);
                    self.counters
                        .exported
                        .fetch_add(records - rejected, Ordering::Relaxed);
                    self.counters
                        .rejected
                        .fetch_add(rejected, Ordering::Relaxed);
                    break;
                }
                Outcome::Retry { after, reason } => {
                    diag::debug(format_args!("OTLP export will be retried: {reason}"));
                    let delay = backoff.next_delay(after);
                    if !queue.wait_before_retry(delay) {
                        self.counters.failed.fetch_add(records, Ordering::Relaxed);
                        self.report(format_args!(
                            "gave up exporting {records} records at shutdown: {reason}"
                        ));
                        break;
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Failed { reason } => {
                    self.counters.failed.fetch_add(records, Ordering::Relaxed);
                    self.report(format_args!("OTLP export failed, not retryable: {reason}"));
                    break;
                }
            }
        }
        self.batch.clear();
    }

    fn report(&mut self, message: std::fmt::Arguments<'_>) {
        // Said once per sink: after that, the counters tell the story.
        if !std::mem::replace(&mut self.failure_reported, true) {
            diag::warn(format_args!(
                "{message}; further failures are counted in Guard::stats()"
            ));
        }
    }
}

impl<T: Transport> Drain for OtlpDrain<T> {
    fn deliver(&mut self, chunk: &[u8], _records: u64, queue: &Queue) {
        for frame in frames(chunk) {
            self.add(frame, queue);
        }
    }

    fn end_cycle(&mut self, queue: &Queue) {
        if !self.batch.is_empty() {
            self.export(queue);
        }
    }
}

/// A drain that writes OTLP-JSON lines to `writer`.
pub(crate) fn json_lines_drain(
    writer: Box<dyn std::io::Write + Send>,
    resource: &Resource,
    max_batch_records: u64,
    counters: Arc<SinkCounters>,
) -> OtlpDrain<json_lines::JsonLinesWriter> {
    OtlpDrain::new(
        json_lines::JsonLinesWriter::new(writer),
        resource,
        max_batch_records,
        counters,
    )
}

/// Starts the drain with the transport the settings ask for.
pub(crate) fn start_drain(
    settings: &OtlpSettings,
    resource: &Resource,
    counters: Arc<SinkCounters>,
) -> Result<Box<dyn Drain>, String> {
    let batch = settings.batch.max_export_batch_size;
    Ok(match settings.protocol {
        crate::config::otlp::Protocol::HttpProtobuf | crate::config::otlp::Protocol::HttpJson => {
            Box::new(OtlpDrain::new(
                HttpTransport::new(settings)?,
                resource,
                batch,
                counters,
            ))
        }
        #[cfg(feature = "grpc")]
        crate::config::otlp::Protocol::Grpc => Box::new(OtlpDrain::new(
            grpc::GrpcTransport::new(settings)?,
            resource,
            batch,
            counters,
        )),
    })
}
