//! OTLP export: batches of pre-encoded records, sent by the sink's worker
//! with the specification's retry rules.

pub(crate) mod encode;
#[cfg(feature = "grpc")]
mod grpc;
mod http;
mod json_lines;
mod proxy;
mod retry;
#[cfg(feature = "spool")]
pub(crate) mod spool;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

use crate::config::otlp::OtlpSettings;
use crate::config::Resource;
use crate::diag;
use crate::export::failure::FailureCause;
use crate::export::json::LineSafeFormatter;
use crate::export::{Drain, Queue, SinkCounters};

pub(crate) use self::encode::encode_frame;
pub(crate) use self::encode::OtlpCallsites;
use self::encode::{encode_resource, frames, Batch, Frame};
pub(crate) use self::encode::{
    push_frame_in_context, put_debug_attribute, put_debug_body, put_key_field,
    put_keyed_log_attribute, put_log_attribute, put_trace, stream_frame, stream_frame_in_slot,
    FrameContext, OtlpStream,
};
use self::http::HttpTransport;
use self::retry::Backoff;

/// The `User-Agent` of every export request, naming the exporter, its
/// language and its version, as the OTLP exporter specification asks
/// (its example: `OTel-OTLP-Exporter-Python/1.2.3`).
pub(crate) const USER_AGENT: &str = concat!(
    "OTel-OTLP-Exporter-Rust-otel-log-bridge/",
    env!("CARGO_PKG_VERSION")
);

/// The largest record the exporter sends (alone in its request); a larger
/// one is counted as failed.
pub(crate) const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;
/// The most of a collector's answer that is read. Answers are small (a
/// partial success at most); a bound keeps a misbehaving server from making
/// the worker read without end.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// The size of a whole request, envelope included, that a batch is cut
/// before, whatever the record-count limit: 4 MiB is the default message
/// limit of gRPC servers, the collector's among them, which refuse a larger
/// request and with it the whole batch. A transport that sends another
/// form than protobuf may ask for less ([`Transport::request_target`]).
pub(crate) const TARGET_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// After this many failed attempts at one batch (three backoff delays,
/// about half a second), a warning says why export keeps failing: a wrong
/// address or certificate shows up while the program runs, not only when
/// shutdown gives up.
const FAILURES_BEFORE_WARNING: u32 = 4;

/// What one attempt to send a request came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The collector took the request; `rejected` records of it were
    /// refused (partial success) and must not be retried. `message` is the
    /// partial success's `error_message`, empty when it sent none.
    Accepted { rejected: u64, message: String },
    /// Worth retrying, after `after` when the collector said so.
    Retry {
        after: Option<Duration>,
        reason: String,
        /// Why, as `error.type` names it, should this be the last attempt.
        cause: FailureCause,
    },
    /// Not retryable: the records are lost. `about_endpoint` says whether
    /// the refusal is about the endpoint (its address or path, the
    /// credentials, a server failing every request) rather than this
    /// request's content (malformed, too large): the next request would
    /// most likely be refused too.
    Failed {
        reason: String,
        about_endpoint: bool,
        cause: FailureCause,
    },
    /// Not retryable, after the first `written` records were delivered: a
    /// line writer whose output failed after the request's first lines.
    /// The rest are lost, as with `Failed` about the endpoint.
    PartlyWritten {
        written: u64,
        reason: String,
        cause: FailureCause,
    },
}

/// How an export, its retries included, ended: what
/// `otel.sdk.exporter.operation.duration` tells apart.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ExportEnd {
    /// The collector took every record.
    Succeeded,
    /// The collector took the request and rejected some of its records.
    Rejected,
    /// The records, or some of them, were lost: refused, given up at
    /// shutdown, or written in part; for the cause of the last attempt,
    /// which the metrics report.
    Failed(#[cfg_attr(not(feature = "metrics"), allow(dead_code))] FailureCause),
}

/// The rejected count and message of a response's partial success, as
/// `Outcome::Accepted` takes them; `None` when the count is negative,
/// which no collector means: such a response would otherwise pass for a
/// full success without a word.
pub(crate) fn partial_success(
    response: opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse,
) -> Option<(u64, String)> {
    let partial = response.partial_success.unwrap_or_default();
    let rejected = u64::try_from(partial.rejected_log_records).ok()?;
    Some((rejected, partial.error_message))
}

/// Appends the OTLP/JSON form of an encoded `ExportLogsServiceRequest` to
/// `out`. OTLP/JSON has rules of its own (hex ids, 64-bit integers as
/// strings, lowerCamelCase names); `opentelemetry-proto`'s serde types
/// implement them, so the request is converted through those types.
/// `LogsData`, which OTLP-JSON lines carry, has the same JSON shape.
pub(crate) fn write_otlp_json(request: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    write_json_message(&decode_for_json(request)?, out)
}

/// Decodes an encoded `ExportLogsServiceRequest` and makes every value one
/// that OTLP/JSON can carry (see [`stringify_non_finite`]).
pub(crate) fn decode_for_json(request: &[u8]) -> Result<ExportLogsServiceRequest, String> {
    use prost::Message as _;
    let mut message = ExportLogsServiceRequest::decode(request)
        .map_err(|e| format!("internal encoding error: {e}"))?;
    for resource_logs in &mut message.resource_logs {
        let resource = resource_logs
            .resource
            .iter_mut()
            .flat_map(|r| &mut r.attributes);
        let scopes = resource_logs.scope_logs.iter_mut().flat_map(|scope_logs| {
            let scope = scope_logs.scope.iter_mut().flat_map(|s| &mut s.attributes);
            let records = scope_logs.log_records.iter_mut().flat_map(|record| {
                record
                    .attributes
                    .iter_mut()
                    .filter_map(|kv| kv.value.as_mut())
                    .chain(record.body.as_mut())
            });
            scope.filter_map(|kv| kv.value.as_mut()).chain(records)
        });
        for value in resource.filter_map(|kv| kv.value.as_mut()).chain(scopes) {
            stringify_non_finite(value);
        }
    }
    Ok(message)
}

/// Appends the OTLP/JSON form of a request [`decode_for_json`] made.
pub(crate) fn write_json_message(
    message: &ExportLogsServiceRequest,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    // Escaped as the flat JSON lines are, so that one request stays one
    // line for every line-oriented reader and terminal.
    let mut serializer = serde_json::Serializer::with_formatter(out, LineSafeFormatter);
    serde::Serialize::serialize(message, &mut serializer)
        .map_err(|e| format!("OTLP/JSON encoding failed: {e}"))
}

/// JSON numbers cannot be NaN or infinite, and the serde types write such
/// a double as `null`, which loses it. As everywhere else a value cannot be
/// encoded, it becomes a string: `"NaN"`, `"Infinity"` or `"-Infinity"`,
/// as the flat JSON lines write it. Proto3's JSON mapping would put that
/// text in the `doubleValue` field itself, but readers built on
/// `opentelemetry-proto`'s serde types, as `serde_json` reads an `f64`,
/// reject a string there and with it the whole request: a string value
/// is read by every reader.
fn stringify_non_finite(value: &mut opentelemetry_proto::tonic::common::v1::AnyValue) {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match &mut value.value {
        Some(Value::DoubleValue(double)) if !double.is_finite() => {
            let text = crate::record::tree::non_finite_text(*double);
            value.value = Some(Value::StringValue(text.to_owned()));
        }
        Some(Value::ArrayValue(array)) => array.values.iter_mut().for_each(stringify_non_finite),
        Some(Value::KvlistValue(list)) => list
            .values
            .iter_mut()
            .filter_map(|kv| kv.value.as_mut())
            .for_each(stringify_non_finite),
        _ => {}
    }
}

/// Writes a request to `spool`, counting the records of the segments it
/// evicted to make room, whether or not the write then succeeded.
#[cfg(feature = "spool")]
fn spool_request(
    spool: &mut spool::Spool,
    counters: &SinkCounters,
    request: &[u8],
    records: u64,
) -> std::io::Result<()> {
    let spool::Appended { evicted, written } = spool.append(request, records);
    counters.spool_evicted.fetch_add(evicted, Ordering::Relaxed);
    written
}

/// The transport a sink exports through.
pub(crate) trait Transport: Send + 'static {
    /// Sends one encoded `ExportLogsServiceRequest`.
    fn send(&mut self, request: &[u8]) -> Outcome;

    /// The size of an encoded request, envelope included, that a batch is
    /// cut before, whatever the record-count limit.
    fn request_target(&self) -> usize {
        TARGET_REQUEST_BYTES
    }

    /// Whether a send is a request to a collector, whose duration
    /// `Stats::export_latency` shows; writing OTLP-JSON lines is not one.
    fn sends_requests(&self) -> bool {
        true
    }
}

/// The OTLP sink's side of the worker: cuts batches, sends, retries.
pub(crate) struct OtlpDrain<T> {
    transport: T,
    resource: Vec<u8>,
    /// The callsite parts the frames refer to, filled by the sink's encoder.
    callsites: Arc<OtlpCallsites>,
    batch: Batch,
    request: Vec<u8>,
    max_batch_records: u64,
    counters: Arc<SinkCounters>,
    /// The causes of failures said so far (see [`OtlpDrain::report`]).
    failures_reported: Vec<FailureCause>,
    /// The causes [`OtlpDrain::report_retrying`] has said so far.
    retries_reported: Vec<FailureCause>,
    /// Whether [`OtlpDrain::accepted`] has said a rejection.
    rejection_reported: bool,
    /// Whether [`OtlpDrain::accepted`] has said a warning on a request the
    /// collector took whole.
    warning_reported: bool,
    /// Records delivered this cycle whose outcome is not counted yet (see
    /// [`Drain::unsettled`]).
    unsettled: u64,
    #[cfg(feature = "spool")]
    spool: Option<spool::Spool>,
    /// A spool directory another process held at start: taken once it is
    /// free (see [`OtlpDrain::take_spool_when_free`]).
    #[cfg(feature = "spool")]
    busy_spool: Option<BusySpool>,
    /// While the collector is unreachable, when to try it again; requests
    /// go straight to the spool until then.
    #[cfg(feature = "spool")]
    next_attempt: Option<Deferral>,
    /// After the collector refused a request for a reason about the
    /// endpoint, until when the spool's backlog waits.
    #[cfg(feature = "spool")]
    replay_pause: Option<ReplayPause>,
    /// How long one replay of the backlog goes on ([`REPLAY_SLICE`]).
    #[cfg(feature = "spool")]
    replay_slice: Duration,
    /// When the replays before this cycle's batches give way to them; set
    /// by the cycle's first.
    #[cfg(feature = "spool")]
    replay_until: Option<std::time::Instant>,
    /// Whether the last replay stopped at the end of its slice with
    /// requests left and nothing holding it back (see
    /// [`Drain::has_backlog`]).
    #[cfg(feature = "spool")]
    replay_unfinished: bool,
}

/// A spool directory another process held when the drain started (the
/// process a rolling restart replaces, still draining; a pipeline built
/// again while the last one's worker is stuck on a hung collector).
#[cfg(feature = "spool")]
struct BusySpool {
    dir: std::path::PathBuf,
    budget: u64,
    next_try: std::time::Instant,
}

/// How often a spool directory another process holds is tried again.
#[cfg(feature = "spool")]
const BUSY_SPOOL_RETRY: Duration = Duration::from_secs(60);

/// Opens the spool at `dir`. One another process holds is returned to be
/// tried again later, and said; any other failure is said and leaves the
/// drain without a spool.
#[cfg(feature = "spool")]
fn open_spool(dir: &std::path::Path, budget: u64) -> (Option<spool::Spool>, Option<BusySpool>) {
    match spool::Spool::open(dir, budget) {
        Ok(spool) => (Some(spool), None),
        Err(error) if error.kind() == std::io::ErrorKind::ResourceBusy => {
            diag::warn(format_args!(
                "the spool directory {} cannot be used yet ({error}); continuing without a spool, and trying to take it every minute",
                dir.display()
            ));
            let busy = BusySpool {
                dir: dir.to_owned(),
                budget,
                next_try: std::time::Instant::now() + BUSY_SPOOL_RETRY,
            };
            (None, Some(busy))
        }
        Err(error) => {
            diag::error(format_args!(
                "the spool directory {} cannot be used ({error}); continuing without a spool",
                dir.display()
            ));
            (None, None)
        }
    }
}

/// Where the spool path stands while the collector is unreachable.
#[cfg(feature = "spool")]
struct Deferral {
    /// When to try the collector again.
    at: std::time::Instant,
    backoff: Backoff,
    /// Why the first attempt failed, for [`OtlpDrain::report_retrying`].
    first_failure: String,
    /// Why the last attempt failed, for the records should they be given
    /// up.
    last_cause: FailureCause,
    /// Whether the collector asked for the pause (it failed, or sent
    /// `Retry-After`), rather than the spool's disk: only then does a
    /// request sent from memory wait for it too.
    from_collector: bool,
}

/// What one attempt at a request through the spool's path came to.
#[cfg(feature = "spool")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// The collector took it.
    Accepted,
    /// The collector refused it for good, for what it holds: its records
    /// count as failed.
    Refused,
    /// The collector refused it for good, for a reason about the endpoint:
    /// its records count as failed, and the replay pauses.
    EndpointRefused,
    /// Worth retrying: it waits in the spool for the next attempt.
    Deferred,
}

/// How long the spool's replay of a backlog goes on at a time before new
/// records are sent (the replays before a cycle's batches together, and the
/// one after them). A backlog of a long outage takes minutes to send; sent
/// whole first, it would keep the worker from the queue all that time, and
/// the queue would fill up and drop new records. Between slices, new
/// records go before the rest of the backlog.
#[cfg(feature = "spool")]
const REPLAY_SLICE: Duration = Duration::from_millis(100);

/// How long the spool's replay pauses at least after a refusal about the
/// endpoint: such a refusal (a wrong path, a credential that ran out)
/// lasts longer than a collector's hiccup.
#[cfg(feature = "spool")]
const MIN_REPLAY_PAUSE: Duration = Duration::from_secs(1);

/// A pause of the spool's replay after refusals about the endpoint (see
/// [`OtlpDrain::send_once`]); new requests wait in the spool meanwhile.
#[cfg(feature = "spool")]
#[derive(Debug)]
struct ReplayPause {
    until: std::time::Instant,
    backoff: Backoff,
}

#[cfg(feature = "spool")]
impl Default for ReplayPause {
    fn default() -> ReplayPause {
        ReplayPause {
            until: std::time::Instant::now(),
            backoff: Backoff::default(),
        }
    }
}

#[cfg(feature = "spool")]
impl ReplayPause {
    fn holds(&self) -> bool {
        std::time::Instant::now() < self.until
    }
}

#[cfg(feature = "spool")]
impl Deferral {
    fn is_pending(&self) -> bool {
        std::time::Instant::now() < self.at
    }

    fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(std::time::Instant::now())
    }
}

impl<T: Transport> OtlpDrain<T> {
    pub(crate) fn new(
        transport: T,
        resource: &Resource,
        callsites: Arc<OtlpCallsites>,
        max_batch_records: u64,
        counters: Arc<SinkCounters>,
    ) -> Self {
        OtlpDrain {
            transport,
            resource: encode_resource(resource),
            callsites,
            batch: Batch::default(),
            request: Vec::new(),
            max_batch_records: max_batch_records.max(1),
            counters,
            failures_reported: Vec::new(),
            retries_reported: Vec::new(),
            rejection_reported: false,
            warning_reported: false,
            unsettled: 0,
            #[cfg(feature = "spool")]
            spool: None,
            #[cfg(feature = "spool")]
            busy_spool: None,
            #[cfg(feature = "spool")]
            next_attempt: None,
            #[cfg(feature = "spool")]
            replay_pause: None,
            #[cfg(feature = "spool")]
            replay_slice: REPLAY_SLICE,
            #[cfg(feature = "spool")]
            replay_until: None,
            #[cfg(feature = "spool")]
            replay_unfinished: false,
        }
    }

    /// Spools what the collector cannot take instead of retrying it.
    #[cfg(feature = "spool")]
    pub(crate) fn with_spool(mut self, spool: Option<spool::Spool>) -> Self {
        self.spool = spool;
        self.publish_spool();
        self
    }

    /// Tries the spool directory another process held again, every
    /// [`BUSY_SPOOL_RETRY`], and takes it once it is free.
    #[cfg(feature = "spool")]
    fn with_busy_spool(mut self, busy: Option<BusySpool>) -> Self {
        self.busy_spool = busy;
        self
    }

    #[cfg(feature = "spool")]
    fn take_spool_when_free(&mut self) {
        let Some(busy) = self
            .busy_spool
            .as_mut()
            .filter(|busy| std::time::Instant::now() >= busy.next_try)
        else {
            return;
        };
        match spool::Spool::open(&busy.dir, busy.budget) {
            Ok(spool) => {
                diag::warn(format_args!(
                    "the spool directory {} is free now, and used",
                    busy.dir.display()
                ));
                self.busy_spool = None;
                self.spool = Some(spool);
                self.publish_spool();
            }
            Err(error) if error.kind() == std::io::ErrorKind::ResourceBusy => {
                busy.next_try = std::time::Instant::now() + BUSY_SPOOL_RETRY;
            }
            Err(error) => {
                diag::error(format_args!(
                    "the spool directory {} cannot be used ({error}); continuing without a spool",
                    busy.dir.display()
                ));
                self.busy_spool = None;
            }
        }
    }

    /// Sets the counters of what the spool holds, for `Stats` and the
    /// metrics to read.
    #[cfg(feature = "spool")]
    fn publish_spool(&self) {
        let (records, bytes) = self.spool.as_ref().map_or((0, 0), spool::Spool::held);
        self.counters.spooled.store(records, Ordering::Relaxed);
        self.counters.spooled_bytes.store(bytes, Ordering::Relaxed);
    }

    fn add(&mut self, frame: Frame<'_>, queue: &Queue) {
        if frame.left_out.is_some()
            || frame.len() + self.resource.len() + frame.scope.len() + 64 > MAX_REQUEST_BYTES
        {
            self.counters
                .count_failed(1, FailureCause::Named("record_too_large"));
            self.unsettled = self.unsettled.saturating_sub(1);
            self.report(
                FailureCause::Named("record_too_large"),
                format_args!(
                    "a record of {} bytes exceeds the 64 MiB OTLP request limit and was not sent",
                    frame.left_out.unwrap_or(frame.len() as u64)
                ),
            );
            return;
        }
        let full = self.batch.records() >= self.max_batch_records
            || self.batch.request_len(self.resource.len()) + Batch::growth_for(&frame)
                > self.transport.request_target();
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
        self.send(queue, records);
        // Exported, rejected, failed or spooled: counted either way.
        self.unsettled = self.unsettled.saturating_sub(records);
        self.batch.clear();
        // The room one huge record took (up to `MAX_REQUEST_BYTES`) is not
        // kept for the rest of the process; a request of the usual size
        // reuses its buffer.
        self.request.clear();
        self.request.shrink_to(self.transport.request_target());
    }

    /// Sends the encoded request, retrying as the OTLP rules allow, and
    /// counts its outcome.
    fn send(&mut self, queue: &Queue, records: u64) {
        #[cfg(feature = "spool")]
        if self.spool.as_ref().is_some_and(spool::Spool::is_writable)
            && self.export_spooling(records, queue)
        {
            return;
        }
        let started = std::time::Instant::now();
        let mut backoff = Backoff::default();
        let mut first_failure: Option<String> = None;
        // The spool could not take the request while the collector had
        // asked for a pause (`Retry-After`, or a backoff): the pause holds.
        // It stays recorded, for the spool's replay to keep as well.
        #[cfg(feature = "spool")]
        if let Some(deferral) = self.next_attempt.as_ref().filter(|d| d.from_collector) {
            let wait = deferral.remaining();
            let reason = deferral.first_failure.clone();
            let cause = deferral.last_cause;
            if !wait.is_zero() && !queue.wait_before_retry(wait) {
                self.counters.count_failed(records, cause);
                self.report(
                    cause,
                    format_args!("gave up exporting {records} records at shutdown: {reason}"),
                );
                self.export_ended(started, ExportEnd::Failed(cause));
                return;
            }
            first_failure = Some(reason);
        }
        // One export, however many attempts it takes, is one duration;
        // none when the spool takes the request over, whose replay ends it.
        let ended = loop {
            match timed_send(&mut self.transport, &self.counters, &self.request) {
                Outcome::Accepted { rejected, message } => {
                    self.accepted(records, rejected, &message);
                    // The collector is back: what a read-only spool still
                    // holds is replayed at the end of this cycle.
                    #[cfg(feature = "spool")]
                    {
                        self.next_attempt = None;
                    }
                    break Some(accepted_end(rejected));
                }
                Outcome::Retry {
                    after,
                    reason,
                    cause,
                } => {
                    diag::debug(format_args!("OTLP export will be retried: {reason}"));
                    let delay = backoff.next_delay(after);
                    let first_failure = first_failure.get_or_insert_with(|| reason.clone());
                    if backoff.attempts() == FAILURES_BEFORE_WARNING {
                        self.report_retrying(cause, first_failure, &reason);
                    }
                    #[cfg(feature = "spool")]
                    if self.spool_instead_of_waiting(
                        records,
                        delay,
                        &mut backoff,
                        first_failure,
                        cause,
                    ) {
                        break None;
                    }
                    if !queue.wait_before_retry(delay) {
                        self.counters.count_failed(records, cause);
                        self.report(
                            cause,
                            format_args!(
                                "gave up exporting {records} records at shutdown: {reason}"
                            ),
                        );
                        break Some(ExportEnd::Failed(cause));
                    }
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Failed { reason, cause, .. } => {
                    self.counters.count_failed(records, cause);
                    self.report(
                        cause,
                        format_args!("OTLP export failed, not retryable: {reason}"),
                    );
                    break Some(ExportEnd::Failed(cause));
                }
                Outcome::PartlyWritten {
                    written,
                    reason,
                    cause,
                } => {
                    self.partly_written(records, written, &reason, cause);
                    break Some(ExportEnd::Failed(cause));
                }
            }
        };
        if let Some(end) = ended {
            self.export_ended(started, end);
        }
    }

    /// Records an export that started at `started` and ended as `end` says
    /// in `otel.sdk.exporter.operation.duration`, when metrics are on and
    /// the export sent requests (writing lines sends none).
    fn export_ended(&self, started: std::time::Instant, end: ExportEnd) {
        #[cfg(feature = "metrics")]
        if let (Some(duration), true) = (
            &self.counters.export_duration,
            self.transport.sends_requests(),
        ) {
            duration.record(started.elapsed().as_secs_f64(), end);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (started, end);
    }

    /// Counts a request of which only the first `written` records were
    /// delivered as exported, the rest as failed.
    fn partly_written(&mut self, records: u64, written: u64, reason: &str, cause: FailureCause) {
        let written = written.min(records);
        self.counters.exported.fetch_add(written, Ordering::Release);
        self.counters.count_failed(records - written, cause);
        self.report(
            cause,
            format_args!(
                "OTLP export failed after {written} of {records} records, not retryable: {reason}"
            ),
        );
    }

    /// Moves a request the collector asked to retry into the spool, when
    /// the spool takes writes again (a failed write makes it read-only for
    /// a while): there it waits for the pause, which the replay keeps,
    /// instead of holding the cycle and the queue behind it here.
    #[cfg(feature = "spool")]
    fn spool_instead_of_waiting(
        &mut self,
        records: u64,
        delay: Duration,
        backoff: &mut Backoff,
        first_failure: &str,
        cause: FailureCause,
    ) -> bool {
        let Some(spool) = self.spool.as_mut().filter(|spool| spool.is_writable()) else {
            return false;
        };
        if let Err(error) = spool_request(spool, &self.counters, &self.request, records) {
            diag::debug(format_args!("the spool is still not writable: {error}"));
            return false;
        }
        self.next_attempt = Some(Deferral {
            at: std::time::Instant::now() + delay,
            backoff: std::mem::take(backoff),
            first_failure: first_failure.to_owned(),
            last_cause: cause,
            from_collector: true,
        });
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Sends one request once and counts the outcome.
    ///
    /// A refusal that is not worth retrying counts the request as failed,
    /// as from memory. When it is about the endpoint rather than the
    /// request (a wrong path, a credential that ran out, an ingress in the
    /// middle of a rollout), it also pauses the replay of the spool's
    /// backlog for a while: the next requests would most likely be refused
    /// too, and the backlog, sent on at once, would be refused and deleted
    /// request by request, all of it within seconds.
    #[cfg(feature = "spool")]
    fn send_once(&mut self, payload: &[u8], records: u64) -> Attempt {
        // A spooled request's export may have started in an earlier cycle,
        // or an earlier run: its duration is that of the attempt that ends
        // it.
        let started = std::time::Instant::now();
        match timed_send(&mut self.transport, &self.counters, payload) {
            Outcome::Accepted { rejected, message } => {
                self.accepted(records, rejected, &message);
                self.export_ended(started, accepted_end(rejected));
                self.next_attempt = None;
                self.replay_pause = None;
                Attempt::Accepted
            }
            Outcome::Retry {
                after,
                reason,
                cause,
            } => {
                diag::debug(format_args!("OTLP export deferred to the spool: {reason}"));
                let mut deferral = self.next_attempt.take().unwrap_or_else(|| Deferral {
                    at: std::time::Instant::now(),
                    backoff: Backoff::default(),
                    first_failure: reason.clone(),
                    last_cause: cause,
                    from_collector: true,
                });
                deferral.from_collector = true;
                deferral.last_cause = cause;
                let delay = deferral.backoff.next_delay(after);
                if deferral.backoff.attempts() == FAILURES_BEFORE_WARNING {
                    self.report_retrying(cause, &deferral.first_failure, &reason);
                }
                deferral.at = std::time::Instant::now() + delay;
                self.next_attempt = Some(deferral);
                // The request stays in the spool and is tried again.
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                Attempt::Deferred
            }
            Outcome::Failed {
                reason,
                about_endpoint,
                cause,
            } => {
                self.counters.count_failed(records, cause);
                self.report(
                    cause,
                    format_args!("OTLP export failed, not retryable: {reason}"),
                );
                self.export_ended(started, ExportEnd::Failed(cause));
                if !about_endpoint {
                    return Attempt::Refused;
                }
                self.pause_replay();
                Attempt::EndpointRefused
            }
            Outcome::PartlyWritten {
                written,
                reason,
                cause,
            } => {
                self.partly_written(records, written, &reason, cause);
                self.export_ended(started, ExportEnd::Failed(cause));
                self.pause_replay();
                Attempt::EndpointRefused
            }
        }
    }

    /// Pauses the replay of the spool's backlog after a refusal about the
    /// endpoint.
    #[cfg(feature = "spool")]
    fn pause_replay(&mut self) {
        let pause = self.replay_pause.get_or_insert_with(ReplayPause::default);
        pause.until =
            std::time::Instant::now() + pause.backoff.next_delay(None).max(MIN_REPLAY_PAUSE);
    }

    /// Replays spooled requests, oldest first, while the collector takes
    /// them, until `until` (at least one request, so that a backlog always
    /// moves). Returns whether the spool is empty afterwards or the replay
    /// stopped at `until`, and nothing holds it back, so that a new request
    /// may be sent now rather than spooled behind it.
    ///
    /// A shutdown asked for meanwhile stops it: the records still queued
    /// are then spooled by the worker's last cycle (which replays after
    /// that), where a long backlog replayed to its end first would keep
    /// that cycle from coming before the guard stopped waiting, and they
    /// would be lost. That last cycle's replay does not wait for a pause
    /// after a refusal: the program is ending, and it tries once more. It
    /// does wait for a retry that the shutdown deadline leaves time for,
    /// as the in-memory path does: the records are on disk, but a program
    /// that is not started again would never send them.
    #[cfg(feature = "spool")]
    fn replay(&mut self, queue: &Queue, until: std::time::Instant) -> bool {
        self.replay_unfinished = false;
        let last_cycle = queue.is_shutting_down() && !queue.shutdown_pending();
        // Whether the retry `next_attempt` asks for is waited for now.
        let waited = |drain: &Self| {
            let wait = drain
                .next_attempt
                .as_ref()
                .filter(|deferral| deferral.is_pending())
                .map(Deferral::remaining);
            wait.is_none_or(|wait| last_cycle && queue.wait_before_retry(wait))
        };
        if !waited(self) {
            return self.spool.as_ref().is_none_or(spool::Spool::is_empty);
        }
        if !queue.is_shutting_down() && self.replay_pause.as_ref().is_some_and(ReplayPause::holds) {
            return false;
        }
        loop {
            if queue.shutdown_pending() {
                return self.spool.as_ref().is_none_or(spool::Spool::is_empty);
            }
            let Some(spool) = self.spool.as_mut() else {
                return true;
            };
            match spool.oldest() {
                spool::Oldest::Empty => return true,
                spool::Oldest::Skipped { records, reason } => {
                    self.counters
                        .count_failed(records, FailureCause::Named("spool_unreadable"));
                    self.report(
                        FailureCause::Named("spool_unreadable"),
                        format_args!("skipped a spool segment: {reason}"),
                    );
                }
                spool::Oldest::Unreadable(error) => {
                    // Tried again after a backoff, as a collector that is
                    // down is; meanwhile new requests are spooled behind it.
                    let reason = format!("reading the oldest spooled request failed: {error}");
                    diag::debug(format_args!("{reason}"));
                    let mut deferral = self.next_attempt.take().unwrap_or_else(|| Deferral {
                        at: std::time::Instant::now(),
                        backoff: Backoff::default(),
                        first_failure: reason,
                        last_cause: FailureCause::Named("spool_unreadable"),
                        from_collector: false,
                    });
                    // A collector's pause is over when the spool is read
                    // (replay waits for it otherwise): this one is the
                    // disk's.
                    deferral.from_collector = false;
                    deferral.at = std::time::Instant::now() + deferral.backoff.next_delay(None);
                    self.next_attempt = Some(deferral);
                    return false;
                }
                spool::Oldest::Request(spooled) => {
                    let attempt = self.send_once(&spooled.payload, spooled.records);
                    if attempt == Attempt::Deferred {
                        if waited(self) {
                            continue;
                        }
                        return false;
                    }
                    if let Some(spool) = self.spool.as_mut() {
                        spool.remove_oldest();
                    }
                    if attempt == Attempt::EndpointRefused {
                        return false;
                    }
                    // The worker's last cycle is not cut into slices:
                    // there is no later cycle to go on in.
                    let more = self.spool.as_ref().is_some_and(|spool| !spool.is_empty());
                    if more && !queue.is_shutting_down() && std::time::Instant::now() >= until {
                        self.replay_unfinished = true;
                        return true;
                    }
                }
            }
        }
    }

    /// Exports the current request through the spool: older spooled
    /// requests go first, a slice of them per cycle ([`REPLAY_SLICE`]),
    /// and a request the collector cannot take now is
    /// written to the spool instead of being retried here. Returns `false`
    /// when the spool failed and the request must take the in-memory path.
    ///
    /// At shutdown the request goes to the spool first when it has room,
    /// to be sent from there by the cycle's replay: the guard stops
    /// waiting at its deadline whatever a send is doing (a collector that
    /// takes the connection and never answers holds one for the whole
    /// request timeout), and what is on disk then is delivered by the next
    /// start instead of being lost. Without room it is sent before the
    /// backlog.
    #[cfg(feature = "spool")]
    fn export_spooling(&mut self, records: u64, queue: &Queue) -> bool {
        let request = std::mem::take(&mut self.request);
        // Only when the spool has room: evicting older records (of this
        // very cycle, or a backlog the replay would send first) to make it
        // would lose them with a collector that is up.
        let spool_first = queue.is_shutting_down()
            && self
                .spool
                .as_ref()
                .is_some_and(|spool| spool.has_room_for(request.len()));
        let waiting = self.next_attempt.as_ref().is_some_and(Deferral::is_pending) || spool_first;
        // At shutdown a batch that does not fit goes before the backlog,
        // which is on disk for the next start already: replayed first, a
        // long one would keep the batch until the guard stopped waiting,
        // and the batch, in memory only, would be lost.
        let settled = !waiting
            && (queue.is_shutting_down() || {
                let until = *self
                    .replay_until
                    .get_or_insert_with(|| std::time::Instant::now() + self.replay_slice);
                self.replay(queue, until)
            })
            && self.send_once(&request, records) != Attempt::Deferred;
        let mut handled = true;
        if !settled {
            let written = self
                .spool
                .as_mut()
                .map(|spool| spool_request(spool, &self.counters, &request, records));
            match written {
                Some(Ok(())) => {}
                Some(Err(error)) => {
                    let still_writable = self.spool.as_ref().is_some_and(spool::Spool::is_writable);
                    if still_writable {
                        diag::warn(format_args!("{error}; it is retried from memory"));
                    } else {
                        diag::error(format_args!(
                            "writing to the spool failed ({error}); continuing with the in-memory queue only \
                             and trying the spool again in a minute; what it already holds is still delivered"
                        ));
                    }
                    handled = false;
                }
                None => handled = false,
            }
        }
        self.request = request;
        handled
    }

    /// Says, once per sink and cause, that a batch keeps failing and why: a
    /// collector that is down or refuses the connection (its address, its
    /// certificate) is otherwise only reported at shutdown, when the
    /// retries give up.
    /// The first failure's reason is given too when it differs from the
    /// last one's: a client's later attempts can fail for a reason of its
    /// own (a connection closed after a TLS alert) that hides the cause.
    fn report_retrying(&mut self, cause: FailureCause, first: &str, last: &str) {
        if !first_of_its_cause(&mut self.retries_reported, cause) {
            return;
        }
        let prefix = format!("OTLP export failed {FAILURES_BEFORE_WARNING} times in a row and is being retried: {last}");
        if first == last {
            diag::warn(format_args!("{prefix}"));
        } else {
            diag::warn(format_args!(
                "{prefix} (the first attempt failed with: {first})"
            ));
        }
    }

    /// Counts an accepted request of `records`: what a partial success
    /// rejected, and the rest as exported. The collector's explanation is
    /// said once per sink, as the specification intends it for the user:
    /// the first rejection, and the first warning on a request it took
    /// whole, each on its own, so that a warning does not hide the
    /// rejections that come later.
    fn accepted(&mut self, records: u64, rejected: u64, message: &str) {
        let rejected = rejected.min(records);
        self.counters
            .exported
            .fetch_add(records - rejected, Ordering::Release);
        self.counters
            .rejected
            .fetch_add(rejected, Ordering::Release);
        if rejected > 0 && !std::mem::replace(&mut self.rejection_reported, true) {
            let message = if message.is_empty() {
                "no reason given".to_owned()
            } else {
                readable(message)
            };
            diag::warn(format_args!(
                "the collector rejected {rejected} of {records} records ({message}); \
                 further rejections are counted in Guard::stats().rejected"
            ));
        } else if rejected == 0
            && !message.is_empty()
            && !std::mem::replace(&mut self.warning_reported, true)
        {
            diag::warn(format_args!(
                "the collector took all {records} records, with a warning: {}; \
                 further warnings are not said",
                readable(message)
            ));
        }
    }

    /// Says a failure, once per sink and cause: after that, the counters
    /// tell the story. Per cause, so that one failure (a record too large
    /// for any request) does not hide another that begins later (a token
    /// that expired: every request refused).
    fn report(&mut self, cause: FailureCause, message: std::fmt::Arguments<'_>) {
        if first_of_its_cause(&mut self.failures_reported, cause) {
            diag::warn(format_args!(
                "{message}; further failures with this cause are counted in Guard::stats()"
            ));
        }
    }
}

/// Notes `cause` among those `reported`; whether it is new there. Causes
/// are few (status codes, I/O kinds, named ones), so the list stays short.
fn first_of_its_cause(reported: &mut Vec<FailureCause>, cause: FailureCause) -> bool {
    if reported.contains(&cause) {
        return false;
    }
    reported.push(cause);
    true
}

/// How much of a server's text a report shows, in characters.
const SERVER_TEXT_LIMIT: usize = 200;

/// A server's text made fit for a report on stderr: what a terminal would
/// act on escaped, and cut to [`SERVER_TEXT_LIMIT`] characters.
pub(crate) fn readable(text: &str) -> String {
    let end = text
        .char_indices()
        .nth(SERVER_TEXT_LIMIT)
        .map_or(text.len(), |(index, _)| index);
    let (kept, cut) = text.split_at(end);
    let mut shown = crate::diag::escaped(kept).into_owned();
    if !cut.is_empty() {
        shown.push('…');
    }
    shown
}

/// How an export the collector took ended: a partial success is no
/// success, for `otel.sdk.exporter.operation.duration`.
fn accepted_end(rejected: u64) -> ExportEnd {
    if rejected == 0 {
        ExportEnd::Succeeded
    } else {
        ExportEnd::Rejected
    }
}

/// Sends one request and records how long it took, when it was a
/// request to a collector.
fn timed_send(transport: &mut impl Transport, counters: &SinkCounters, payload: &[u8]) -> Outcome {
    let started = std::time::Instant::now();
    let outcome = transport.send(payload);
    if transport.sends_requests() {
        counters.latency.record(started.elapsed().as_secs_f64());
    }
    outcome
}

impl<T: Transport> Drain for OtlpDrain<T> {
    fn deliver(&mut self, chunk: &[u8], records: u64, queue: &Queue) {
        self.unsettled += records;
        let callsites = Arc::clone(&self.callsites);
        let mut decoded = 0;
        for frame in frames(chunk, &callsites) {
            decoded += 1;
            self.add(frame, queue);
        }
        // Frames are written by this crate and cannot fail to decode; were
        // one to, the records from there to the chunk's end would be
        // neither sent nor counted, and `emitted` would exceed every
        // outcome for good.
        if let Some(lost) = records.checked_sub(decoded).filter(|lost| *lost > 0) {
            self.counters
                .count_failed(lost, FailureCause::INTERNAL_ERROR);
            self.unsettled = self.unsettled.saturating_sub(lost);
            self.report(
                FailureCause::INTERNAL_ERROR,
                format_args!(
                    "{lost} records could not be read back from the export queue and were not sent; this is a bug in otel-log-bridge"
                ),
            );
        }
    }

    fn end_cycle(&mut self, queue: &Queue) {
        if !self.batch.is_empty() {
            self.export(queue);
        }
        // Every record of the cycle has been sent now; what is left are
        // frames that did not decode, which no batch ever held.
        self.unsettled = 0;
        #[cfg(feature = "spool")]
        {
            self.take_spool_when_free();
            // Set again only by this replay: the next cycle comes at once
            // only for a backlog that moves.
            self.replay_until = None;
            self.replay_unfinished = false;
            if self.batch.is_empty() && self.spool.as_ref().is_some_and(|s| !s.is_empty()) {
                self.replay(queue, std::time::Instant::now() + self.replay_slice);
            }
            self.publish_spool();
        }
    }

    #[cfg(feature = "spool")]
    fn has_backlog(&self) -> bool {
        self.replay_unfinished
    }

    fn unsettled(&self) -> u64 {
        self.unsettled
    }
}

/// A drain that writes OTLP-JSON lines to `output`.
pub(crate) fn json_lines_drain(
    output: crate::export::Output,
    resource: &Resource,
    callsites: Arc<OtlpCallsites>,
    max_batch_records: u64,
    counters: Arc<SinkCounters>,
) -> OtlpDrain<json_lines::JsonLinesWriter> {
    OtlpDrain::new(
        json_lines::JsonLinesWriter::new(output),
        resource,
        callsites,
        max_batch_records,
        counters,
    )
}

/// Starts the drain with the transport the settings ask for.
pub(crate) fn start_drain(
    settings: &OtlpSettings,
    resource: &Resource,
    callsites: Arc<OtlpCallsites>,
    counters: Arc<SinkCounters>,
) -> Result<Box<dyn Drain>, crate::InitError> {
    let batch = settings.batch.max_export_batch_size;
    #[cfg(feature = "spool")]
    let (spool, busy_spool) = settings
        .spool
        .as_ref()
        .map_or((None, None), |spool| open_spool(&spool.dir, spool.budget));
    let parts = DrainParts {
        resource,
        callsites,
        batch,
        counters,
        #[cfg(feature = "spool")]
        spool,
        #[cfg(feature = "spool")]
        busy_spool,
    };
    Ok(match settings.protocol {
        crate::config::otlp::Protocol::HttpProtobuf | crate::config::otlp::Protocol::HttpJson => {
            parts.with_transport(HttpTransport::new(settings)?)
        }
        #[cfg(feature = "grpc")]
        crate::config::otlp::Protocol::Grpc => {
            parts.with_transport(grpc::GrpcTransport::new(settings)?)
        }
    })
}

/// Everything an OTLP drain needs besides its transport, which is the only
/// part that differs between protocols.
struct DrainParts<'a> {
    resource: &'a Resource,
    callsites: Arc<OtlpCallsites>,
    batch: u64,
    counters: Arc<SinkCounters>,
    #[cfg(feature = "spool")]
    spool: Option<spool::Spool>,
    #[cfg(feature = "spool")]
    busy_spool: Option<BusySpool>,
}

impl DrainParts<'_> {
    fn with_transport(self, transport: impl Transport) -> Box<dyn Drain> {
        let drain = OtlpDrain::new(
            transport,
            self.resource,
            self.callsites,
            self.batch,
            self.counters,
        );
        #[cfg(feature = "spool")]
        let drain = drain
            .with_spool(self.spool)
            .with_busy_spool(self.busy_spool);
        Box::new(drain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use prost::Message as _;

    fn double(value: f64) -> AnyValue {
        AnyValue {
            value: Some(Value::DoubleValue(value)),
        }
    }

    fn attribute(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(value),
            ..KeyValue::default()
        }
    }

    /// Takes every request and keeps it.
    #[derive(Default)]
    struct Keeping {
        requests: Vec<Vec<u8>>,
    }

    impl Transport for Keeping {
        fn send(&mut self, request: &[u8]) -> Outcome {
            self.requests.push(request.to_vec());
            Outcome::Accepted {
                rejected: 0,
                message: String::new(),
            }
        }
    }

    /// A drain to `transport` at the default batch size, with its
    /// callsites and counters.
    fn drain_to<T: Transport>(
        transport: T,
        resource: &Resource,
    ) -> (OtlpDrain<T>, Arc<OtlpCallsites>, Arc<SinkCounters>) {
        let callsites = Arc::new(OtlpCallsites::default());
        let counters = Arc::new(SinkCounters::default());
        let drain = OtlpDrain::new(
            transport,
            resource,
            Arc::clone(&callsites),
            512,
            Arc::clone(&counters),
        );
        (drain, callsites, counters)
    }

    /// Appends the frame of an INFO record of `scope` with `body`.
    fn push_frame(callsites: &OtlpCallsites, scope: &'static str, body: &str, chunk: &mut Vec<u8>) {
        let mut record = crate::record::Record::default();
        record.reset(
            1,
            crate::record::Severity::INFO,
            crate::record::ScopeName::Static(scope),
        );
        record.set_body_text(body);
        encode_frame(&record, callsites, chunk);
    }

    /// Regression: the request buffer kept the size of the largest request
    /// ever sent, one huge record's, for the rest of the process.
    #[test]
    fn a_huge_records_request_buffer_is_not_kept() {
        let (mut drain, callsites, counters) = drain_to(Keeping::default(), &Resource::default());
        let mut chunk = Vec::new();
        push_frame(
            &callsites,
            "scope",
            &"h".repeat(3 * TARGET_REQUEST_BYTES),
            &mut chunk,
        );
        deliver_through(&mut drain, &chunk, 1, &idle_queue());
        assert_eq!(counters.exported.load(Ordering::Acquire), 1);
        assert!(drain.request.capacity() <= TARGET_REQUEST_BYTES);
    }

    /// Delivers the first record of every request, then fails, as a line
    /// writer whose output fails after a request's first line does.
    struct WritesOne;

    impl Transport for WritesOne {
        fn send(&mut self, _request: &[u8]) -> Outcome {
            Outcome::PartlyWritten {
                written: 1,
                reason: "disk full".to_owned(),
                cause: FailureCause::Named("storage_full"),
            }
        }
    }

    /// Regression: the records of a request's lines written whole counted
    /// as failed with the rest of the request.
    #[test]
    fn a_request_written_in_part_counts_what_was_written_as_exported() {
        let (mut drain, callsites, counters) = drain_to(WritesOne, &Resource::default());
        let mut chunk = Vec::new();
        for body in ["a", "b", "c"] {
            push_frame(&callsites, "scope", body, &mut chunk);
        }
        deliver_through(&mut drain, &chunk, 3, &idle_queue());
        assert_eq!(counters.exported.load(Ordering::Acquire), 1);
        assert_eq!(counters.failed.load(Ordering::Acquire), 2);
    }

    /// Frames that do not decode (here, a chunk cut inside its second
    /// frame) count as failed, so that every record emitted has an
    /// outcome.
    #[test]
    fn records_whose_frames_do_not_decode_count_as_failed() {
        let (mut drain, callsites, counters) = drain_to(Keeping::default(), &Resource::default());
        let mut chunk = Vec::new();
        for body in ["a", "b", "c"] {
            push_frame(&callsites, "scope", body, &mut chunk);
        }
        let first = {
            let mut one = Vec::new();
            push_frame(&callsites, "scope", "a", &mut one);
            one.len()
        };
        chunk.truncate(first + 3);
        deliver_through(&mut drain, &chunk, 3, &idle_queue());
        assert_eq!(counters.exported.load(Ordering::Acquire), 1);
        assert_eq!(counters.failed.load(Ordering::Acquire), 2);
    }

    /// A queue nobody pushes to, for driving a drain by hand.
    fn idle_queue() -> Queue {
        let wake = crate::export::queue::WakePolicy {
            bytes: usize::MAX,
            records: u64::MAX,
        };
        Queue::new("test", usize::MAX, wake)
    }

    /// Delivers `chunk` as one cycle through `queue`.
    fn deliver_through<T: Transport>(
        drain: &mut OtlpDrain<T>,
        chunk: &[u8],
        records: u64,
        queue: &Queue,
    ) {
        drain.deliver(chunk, records, queue);
        drain.end_cycle(queue);
    }

    /// Delivers `chunk` as the worker's last cycle, through a queue that
    /// is shutting down already, so that a wait for a pause is given up at
    /// once rather than waited out.
    fn deliver_at_shutdown<T: Transport>(drain: &mut OtlpDrain<T>, chunk: &[u8], records: u64) {
        let queue = idle_queue();
        queue.shutdown_until(std::time::Instant::now());
        assert!(
            queue
                .wait_for_cycle(std::time::Instant::now(), false)
                .shutdown
        );
        deliver_through(drain, chunk, records, &queue);
    }

    /// A retry deferred for `wait`, asked for by the collector or not.
    #[cfg(feature = "spool")]
    fn deferred_for(wait: Duration, reason: &str, from_collector: bool) -> Deferral {
        Deferral {
            at: std::time::Instant::now() + wait,
            backoff: Backoff::default(),
            first_failure: reason.to_owned(),
            last_cause: FailureCause::HttpStatus(503),
            from_collector,
        }
    }

    /// A drain with a spool of `budget` bytes in a fresh directory named
    /// after `name` (removed when the returned guard is dropped), to the
    /// transport `transport` makes for that directory, and the frame of
    /// one record with `body`.
    #[cfg(feature = "spool")]
    fn spooled_drain<T: Transport>(
        name: &str,
        budget: u64,
        transport: impl FnOnce(&std::path::Path) -> T,
        body: &str,
    ) -> (OtlpDrain<T>, Arc<SinkCounters>, Vec<u8>, TempDir) {
        let dir = TempDir(std::env::temp_dir().join(format!("olb-{name}-{}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        let spool = spool::Spool::open(&dir.0, budget).expect("a spool");
        let (drain, callsites, counters) = drain_to(transport(&dir.0), &Resource::default());
        let mut chunk = Vec::new();
        push_frame(&callsites, "scope", body, &mut chunk);
        (drain.with_spool(Some(spool)), counters, chunk, dir)
    }

    /// A directory removed on drop.
    #[cfg(feature = "spool")]
    struct TempDir(std::path::PathBuf);

    #[cfg(feature = "spool")]
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Asks for a pause of 200 ms at first, then takes every request;
    /// counts them.
    #[cfg(feature = "spool")]
    struct PausingFirst {
        calls: usize,
    }

    #[cfg(feature = "spool")]
    const PAUSE: Duration = Duration::from_millis(200);

    #[cfg(feature = "spool")]
    impl Transport for PausingFirst {
        fn send(&mut self, _request: &[u8]) -> Outcome {
            self.calls += 1;
            if self.calls == 1 {
                return Outcome::Retry {
                    after: Some(PAUSE),
                    reason: "HTTP 429".to_owned(),
                    cause: FailureCause::HttpStatus(429),
                };
            }
            Outcome::Accepted {
                rejected: 0,
                message: String::new(),
            }
        }
    }

    /// Regression: when the spool could not take a request (larger than
    /// its budget, or a full disk) after the collector had asked for a
    /// pause, the request was sent again at once from memory.
    #[cfg(feature = "spool")]
    #[test]
    fn a_pause_the_collector_asked_for_holds_when_the_spool_cannot_take_the_request() {
        let (mut drain, counters, chunk, _dir) = spooled_drain(
            "pause",
            16,
            |_| PausingFirst { calls: 0 },
            "larger than the spool's budget",
        );
        let started = std::time::Instant::now();
        deliver_through(&mut drain, &chunk, 1, &idle_queue());
        // Sent again only once the pause was over: a wait has no upper
        // bound here, only a lower one.
        assert_eq!(drain.transport.calls, 2);
        assert!(started.elapsed() >= PAUSE, "{:?}", started.elapsed());
        assert_eq!(counters.exported.load(Ordering::Relaxed), 1);
    }

    /// Takes every request, noting how many segments the spool's
    /// directory held as each came.
    #[cfg(feature = "spool")]
    struct CountingSegments {
        dir: std::path::PathBuf,
        segments_at_send: Vec<usize>,
    }

    #[cfg(feature = "spool")]
    fn counting_segments(dir: &std::path::Path) -> CountingSegments {
        CountingSegments {
            dir: dir.to_owned(),
            segments_at_send: Vec::new(),
        }
    }

    #[cfg(feature = "spool")]
    impl Transport for CountingSegments {
        fn send(&mut self, _request: &[u8]) -> Outcome {
            let segments = std::fs::read_dir(&self.dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter(|entry| entry.path().extension().is_some_and(|e| e == "otlpseg"))
                        .count()
                })
                .unwrap_or(0);
            self.segments_at_send.push(segments);
            Outcome::Accepted {
                rejected: 0,
                message: String::new(),
            }
        }
    }

    /// Regression: at shutdown the last batch was sent before it was
    /// spooled, and only spooled once the send failed; a collector that
    /// held the connection past the guard's deadline lost it for good, the
    /// spool notwithstanding.
    #[cfg(feature = "spool")]
    #[test]
    fn at_shutdown_a_batch_is_spooled_before_it_is_sent() {
        let (mut drain, counters, chunk, _dir) = spooled_drain(
            "spool-first",
            1024 * 1024,
            counting_segments,
            "the last words",
        );
        deliver_at_shutdown(&mut drain, &chunk, 1);
        assert_eq!(drain.transport.segments_at_send, [1]);
        assert_eq!(counters.exported.load(Ordering::Relaxed), 1);
        assert!(drain.spool.as_ref().is_some_and(spool::Spool::is_empty));
    }

    /// At shutdown, a pause the collector asked for, with a spool that
    /// cannot take the request, is given up, not cut short: the request
    /// is not sent early, and its records count as failed.
    #[cfg(feature = "spool")]
    #[test]
    fn at_shutdown_a_pause_the_collector_asked_for_is_given_up_not_cut_short() {
        let (mut drain, counters, chunk, _dir) = spooled_drain(
            "pause-end",
            16,
            |_| PausingFirst { calls: 0 },
            "larger than the spool",
        );
        drain.next_attempt = Some(deferred_for(Duration::from_secs(30), "HTTP 429", true));
        deliver_at_shutdown(&mut drain, &chunk, 1);
        assert_eq!(drain.transport.calls, 0);
        assert_eq!(counters.failed.load(Ordering::Relaxed), 1);
    }

    /// Regression: in the worker's last cycle, a spool's replay gave up at
    /// once on a retry still pending (a 503 just before shutdown), where
    /// the in-memory path waits for it until the deadline: the records
    /// stayed on disk, for a next start that may never come.
    #[cfg(feature = "spool")]
    #[test]
    fn at_shutdown_the_replay_waits_for_a_retry_the_deadline_leaves_time_for() {
        let (mut drain, counters, chunk, _dir) = spooled_drain(
            "retry-at-end",
            1024 * 1024,
            |_| PausingFirst { calls: 0 },
            "the last words",
        );
        drain.next_attempt = Some(deferred_for(Duration::from_millis(100), "HTTP 503", true));
        let queue = Arc::new(idle_queue());
        let closing = Arc::clone(&queue);
        // `shutdown_until` waits for a worker to say it exited, which none
        // does here: it returns at its deadline, on a thread of its own.
        std::thread::spawn(move || {
            closing.shutdown_until(std::time::Instant::now() + Duration::from_secs(10))
        });
        let far = std::time::Instant::now() + Duration::from_secs(60);
        assert!(queue.wait_for_cycle(far, false).shutdown);
        deliver_through(&mut drain, &chunk, 1, &queue);
        // The pending retry and the pause the first send was answered
        // with were waited for; the second send was taken.
        assert_eq!(drain.transport.calls, 2);
        assert_eq!(counters.exported.load(Ordering::Relaxed), 1);
        assert!(drain.spool.as_ref().is_some_and(spool::Spool::is_empty));
    }

    /// Asks for a pause of 100 ms five times, then takes every request.
    #[cfg(feature = "spool")]
    #[derive(Default)]
    struct PausingFiveTimes {
        calls: usize,
    }

    #[cfg(feature = "spool")]
    impl Transport for PausingFiveTimes {
        fn send(&mut self, _request: &[u8]) -> Outcome {
            self.calls += 1;
            if self.calls <= 5 {
                return Outcome::Retry {
                    after: Some(Duration::from_millis(100)),
                    reason: "HTTP 503".to_owned(),
                    cause: FailureCause::HttpStatus(503),
                };
            }
            Outcome::Accepted {
                rejected: 0,
                message: String::new(),
            }
        }
    }

    /// Regression: a request retried from memory because the spool was
    /// read-only (a write had failed) stayed there, holding the cycle and
    /// the queue behind it, for the whole outage, although the spool took
    /// writes again a minute later.
    #[cfg(feature = "spool")]
    #[test]
    fn a_request_retried_from_memory_moves_to_the_spool_once_it_takes_writes_again() {
        let (mut drain, counters, chunk, _dir) = spooled_drain(
            "rewritable",
            1024 * 1024,
            |_| PausingFiveTimes::default(),
            "",
        );
        if let Some(spool) = drain.spool.as_mut() {
            spool.set_read_only_until(std::time::Instant::now() + Duration::from_millis(50));
        }
        deliver_through(&mut drain, &chunk, 1, &idle_queue());
        assert!(drain.transport.calls < 5, "{}", drain.transport.calls);
        assert!(drain.spool.as_ref().is_some_and(|spool| !spool.is_empty()));
        assert_eq!(counters.failed.load(Ordering::Relaxed), 0);
        // The collector's pause holds for the replay too.
        assert!(drain
            .next_attempt
            .as_ref()
            .is_some_and(|deferral| deferral.from_collector));
    }

    /// Regression: a spool directory another process held at start (the
    /// process a rolling restart replaces, still draining) left this one
    /// without a spool for as long as it ran.
    #[cfg(feature = "spool")]
    #[test]
    fn a_spool_directory_another_process_held_is_taken_once_free() {
        let dir = TempDir(std::env::temp_dir().join(format!("olb-busy-{}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        let holder = spool::Spool::open(&dir.0, 1 << 20).expect("a spool");
        let (spool, busy) = open_spool(&dir.0, 1 << 20);
        assert!(spool.is_none());
        let (drain, _, _) = drain_to(Keeping::default(), &Resource::default());
        let mut drain = drain.with_spool(None).with_busy_spool(busy);
        let retry_now = |drain: &mut OtlpDrain<Keeping>| {
            if let Some(busy) = drain.busy_spool.as_mut() {
                busy.next_try = std::time::Instant::now();
            }
        };
        retry_now(&mut drain);
        drain.end_cycle(&idle_queue());
        assert!(drain.spool.is_none());
        let waiting = drain.busy_spool.as_ref().expect("tried again later");
        assert!(waiting.next_try > std::time::Instant::now());
        drop(holder);
        // A child process another test starts may hold the lock for a
        // moment after this one let it go (see the spool's tests).
        for _ in 0..500 {
            retry_now(&mut drain);
            drain.end_cycle(&idle_queue());
            if drain.spool.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(drain.spool.is_some());
        assert!(drain.busy_spool.is_none());
    }

    /// At shutdown a batch goes to the spool first only when it fits
    /// without evicting anything: else older records, which a collector
    /// that is up would have taken, would be lost for it.
    ///
    /// Regression: such a batch was sent after the backlog, which on a
    /// nearly full spool could take longer than the guard waited; the
    /// batch, the only records not on disk, was then lost.
    #[cfg(feature = "spool")]
    #[test]
    fn at_shutdown_a_batch_that_would_evict_is_sent_before_the_backlog() {
        let (mut drain, counters, chunk, _dir) = spooled_drain(
            "no-evict",
            spool::DISK_BLOCK,
            counting_segments,
            &"x".repeat(100),
        );
        if let Some(spool) = drain.spool.as_mut() {
            spool.append(&[0; 100], 3).written.expect("spooled earlier");
        }
        deliver_at_shutdown(&mut drain, &chunk, 1);
        // The batch from memory, the backlog's segment still on disk, then
        // the backlog.
        assert_eq!(drain.transport.segments_at_send, [1, 1]);
        assert_eq!(counters.exported.load(Ordering::Relaxed), 4);
        assert_eq!(counters.spool_evicted.load(Ordering::Relaxed), 0);
        assert!(drain.spool.as_ref().is_some_and(spool::Spool::is_empty));
    }

    /// Refuses requests for good: for a reason about the endpoint (as an
    /// ingress answering 404 or a collector answering 401 does), or the
    /// first `refused_for_content` of them for what they hold (as a 400
    /// does), taking the others; counts them.
    #[cfg(feature = "spool")]
    #[derive(Default)]
    struct Refusing {
        calls: usize,
        refused_for_content: Option<usize>,
    }

    #[cfg(feature = "spool")]
    impl Transport for Refusing {
        fn send(&mut self, _request: &[u8]) -> Outcome {
            self.calls += 1;
            match self.refused_for_content {
                None => Outcome::Failed {
                    reason: "HTTP 404".to_owned(),
                    about_endpoint: true,
                    cause: FailureCause::HttpStatus(404),
                },
                Some(refused) if self.calls <= refused => Outcome::Failed {
                    reason: "HTTP 400".to_owned(),
                    about_endpoint: false,
                    cause: FailureCause::HttpStatus(400),
                },
                Some(_) => Outcome::Accepted {
                    rejected: 0,
                    message: String::new(),
                },
            }
        }
    }

    /// A drain to `transport` with a spool holding three earlier requests
    /// of two records each, and the frame of a new record.
    #[cfg(feature = "spool")]
    fn drain_with_backlog(
        name: &str,
        transport: Refusing,
    ) -> (OtlpDrain<Refusing>, Arc<SinkCounters>, Vec<u8>, TempDir) {
        let (mut drain, counters, chunk, dir) =
            spooled_drain(name, 1024 * 1024, |_| transport, "new");
        if let Some(spool) = drain.spool.as_mut() {
            for _ in 0..3 {
                spool.append(&[0; 10], 2).written.expect("spooled earlier");
            }
        }
        (drain, counters, chunk, dir)
    }

    /// Regression: a collector back after a long outage was sent the whole
    /// backlog before anything else, minutes of requests during which the
    /// worker took nothing from the queue, which filled up and dropped new
    /// records. Now the backlog goes a slice at a time, new records
    /// between, and the worker comes back at once while some is left.
    #[cfg(feature = "spool")]
    #[test]
    fn a_long_backlog_is_replayed_a_slice_at_a_time_with_new_records_between() {
        let (mut drain, counters, chunk, _dir) =
            spooled_drain("slices", 1024 * 1024, |_| Keeping::default(), "new");
        let backlog: Vec<Vec<u8>> = (0..3)
            .map(|n| format!("backlog-{n}").into_bytes())
            .collect();
        if let Some(spool) = drain.spool.as_mut() {
            for request in &backlog {
                spool.append(request, 2).written.expect("spooled earlier");
            }
        }
        // A slice that ends at once: one request per replay.
        drain.replay_slice = Duration::ZERO;
        let queue = idle_queue();
        deliver_through(&mut drain, &chunk, 1, &queue);
        let requests = &drain.transport.requests;
        assert_eq!(requests.len(), 3);
        assert_eq!(requests[0], backlog[0]);
        assert!(!backlog.contains(&requests[1]), "the new record's request");
        assert_eq!(requests[2], backlog[1]);
        // As the worker holds it: boxed.
        let mut boxed: Box<dyn Drain> = Box::new(drain);
        assert!(boxed.has_backlog());
        boxed.end_cycle(&queue);
        assert!(!boxed.has_backlog());
        assert_eq!(counters.exported.load(Ordering::Relaxed), 7);
    }

    /// The record counts of the requests the spool holds, oldest first.
    #[cfg(feature = "spool")]
    fn spooled_records(drain: &mut OtlpDrain<Refusing>) -> Vec<u64> {
        let spool = drain.spool.as_mut().expect("a spool");
        let mut left = Vec::new();
        while let spool::Oldest::Request(request) = spool.oldest() {
            left.push(request.records);
            spool.remove_oldest();
        }
        left
    }

    /// Regression: a collector that refused requests for good (not
    /// retryable) during a replay had the whole backlog sent to it at
    /// once, each request refused and deleted: a short 404 or 401 emptied
    /// the spool. Now the refused request alone is lost, as it would be
    /// from memory, and the replay pauses; the batch of the cycle waits
    /// in the spool behind the backlog.
    #[cfg(feature = "spool")]
    #[test]
    fn a_refusal_about_the_endpoint_pauses_the_replay_instead_of_deleting_the_backlog() {
        let (mut drain, counters, chunk, _dir) = drain_with_backlog("refused", Refusing::default());
        deliver_through(&mut drain, &chunk, 1, &idle_queue());
        assert_eq!(drain.transport.calls, 1);
        assert_eq!(counters.failed.load(Ordering::Relaxed), 2);
        assert!(drain.replay_pause.as_ref().is_some_and(ReplayPause::holds));
        // The pause is the spool's alone: a request from memory does not
        // wait for it.
        assert!(drain.next_attempt.is_none());
        assert_eq!(spooled_records(&mut drain), [2, 2, 1]);
    }

    /// A refusal for what one request holds (a 400) loses that request
    /// and lets the replay go on with the next.
    #[cfg(feature = "spool")]
    #[test]
    fn a_refusal_of_one_request_does_not_pause_the_replay() {
        let transport = Refusing {
            refused_for_content: Some(1),
            ..Refusing::default()
        };
        let (mut drain, counters, chunk, _dir) = drain_with_backlog("refused-one", transport);
        deliver_through(&mut drain, &chunk, 1, &idle_queue());
        assert_eq!(drain.transport.calls, 4);
        assert_eq!(counters.failed.load(Ordering::Relaxed), 2);
        assert_eq!(counters.exported.load(Ordering::Relaxed), 5);
        assert!(drain.replay_pause.is_none());
        assert!(spooled_records(&mut drain).is_empty());
    }

    /// The worker's last cycle does not wait for a pause after a refusal:
    /// the program is ending, and its last batches are tried once more.
    #[cfg(feature = "spool")]
    #[test]
    fn at_shutdown_the_replay_does_not_wait_for_a_refusals_pause() {
        let transport = Refusing {
            refused_for_content: Some(0),
            ..Refusing::default()
        };
        let (mut drain, counters, chunk, _dir) = drain_with_backlog("refused-end", transport);
        drain.replay_pause = Some(ReplayPause {
            until: std::time::Instant::now() + Duration::from_secs(30),
            backoff: Backoff::default(),
        });
        deliver_at_shutdown(&mut drain, &chunk, 1);
        assert_eq!(counters.exported.load(Ordering::Relaxed), 7);
        assert!(spooled_records(&mut drain).is_empty());
    }

    /// Takes every request; the first one asks the queue to shut down, as
    /// a guard dropped while the spool's backlog is replayed does.
    #[cfg(feature = "spool")]
    struct ShuttingDownOnFirst {
        queue: Arc<Queue>,
        calls: usize,
    }

    #[cfg(feature = "spool")]
    impl Transport for ShuttingDownOnFirst {
        fn send(&mut self, _request: &[u8]) -> Outcome {
            self.calls += 1;
            if self.calls == 1 {
                self.queue.shutdown_until(std::time::Instant::now());
            }
            Outcome::Accepted {
                rejected: 0,
                message: String::new(),
            }
        }
    }

    /// Regression: a spool backlog being replayed when the guard asked for
    /// shutdown was replayed to its end first, however long that took:
    /// the worker's last cycle came after the guard had stopped waiting,
    /// and the records still queued were neither sent nor spooled.
    #[cfg(feature = "spool")]
    #[test]
    fn a_replay_gives_way_to_a_shutdown_asked_for_meanwhile() {
        let queue = Arc::new(idle_queue());
        let transport = |_: &std::path::Path| ShuttingDownOnFirst {
            queue: Arc::clone(&queue),
            calls: 0,
        };
        let (mut drain, counters, chunk, _dir) =
            spooled_drain("replay-shutdown", 1024 * 1024, transport, "the last words");
        if let Some(spool) = drain.spool.as_mut() {
            for _ in 0..3 {
                spool.append(&[0; 10], 1).written.expect("spooled earlier");
            }
        }
        // An ordinary cycle's replay, during which shutdown is asked for.
        drain.end_cycle(&queue);
        assert_eq!(drain.transport.calls, 1);
        // The last cycle: its batch is spooled behind the backlog, and the
        // replay then sends them all.
        assert!(
            queue
                .wait_for_cycle(std::time::Instant::now(), false)
                .shutdown
        );
        deliver_through(&mut drain, &chunk, 1, &queue);
        assert_eq!(drain.transport.calls, 4);
        assert_eq!(counters.exported.load(Ordering::Relaxed), 4);
        assert!(drain.spool.as_ref().is_some_and(spool::Spool::is_empty));
    }

    /// Regression: a pause the spool's disk asked for (a segment it could
    /// not read) held up requests to a collector that was fine.
    #[cfg(feature = "spool")]
    #[test]
    fn a_pause_for_the_spools_disk_does_not_hold_up_the_collector() {
        let (mut drain, callsites, counters) = drain_to(Keeping::default(), &Resource::default());
        drain.next_attempt = Some(deferred_for(
            Duration::from_secs(30),
            "reading the oldest spooled request failed",
            false,
        ));
        let mut chunk = Vec::new();
        push_frame(&callsites, "scope", "", &mut chunk);
        deliver_at_shutdown(&mut drain, &chunk, 1);
        assert_eq!(drain.transport.requests.len(), 1);
        assert_eq!(counters.exported.load(Ordering::Relaxed), 1);
    }

    /// A record larger than any request is left out of the queue, which
    /// keeps only its size, and counted as failed; the records around it
    /// are sent.
    #[test]
    fn a_record_over_the_request_limit_is_left_out_and_counted_as_failed() {
        let (mut drain, callsites, counters) = drain_to(Keeping::default(), &Resource::default());
        let mut chunk = Vec::new();
        push_frame(&callsites, "scope", "before", &mut chunk);
        let huge = "x".repeat(MAX_REQUEST_BYTES + 1);
        push_frame(&callsites, "scope", &huge, &mut chunk);
        push_frame(&callsites, "scope", "after", &mut chunk);
        assert!(chunk.len() < 1024, "the queue held {} bytes", chunk.len());
        deliver_through(&mut drain, &chunk, 3, &idle_queue());
        assert_eq!(counters.failed.load(Ordering::Relaxed), 1);
        let bodies: Vec<String> = drain
            .transport
            .requests
            .iter()
            .flat_map(|request| {
                ExportLogsServiceRequest::decode(&request[..])
                    .expect("a request")
                    .resource_logs
            })
            .flat_map(|resource| resource.scope_logs)
            .flat_map(|scope| scope.log_records)
            .map(|record| match record.body.and_then(|body| body.value) {
                Some(Value::StringValue(text)) => text,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(bodies, ["before", "after"]);
    }

    /// Regression: batches were cut on the records' bytes alone, so a
    /// request of large records passed 4 MiB with its envelope, which
    /// gRPC servers (the collector's among them) refuse, whole batch and
    /// all.
    #[test]
    fn no_request_passes_four_mib_with_its_envelope() {
        let mut resource = Resource::default();
        resource.set(
            "service.name",
            crate::config::AttributeValue::from("x".repeat(64 * 1024)),
        );
        let (mut drain, callsites, _) = drain_to(Keeping::default(), &resource);
        let mut chunk = Vec::new();
        let records = 300;
        // Large enough that 512 of them would be far over the limit, and
        // that a request of records just under it leaves no room for the
        // envelope.
        let body = "b".repeat(32 * 1024 - 9);
        for index in 0..records {
            let scope = if index % 2 == 0 { "even" } else { "odd" };
            push_frame(&callsites, scope, &body, &mut chunk);
        }
        deliver_at_shutdown(&mut drain, &chunk, records);
        let requests = &drain.transport.requests;
        assert!(requests.len() > 2, "{} requests", requests.len());
        let mut delivered = 0;
        for request in requests {
            assert!(request.len() <= TARGET_REQUEST_BYTES, "{}", request.len());
            let decoded = ExportLogsServiceRequest::decode(request.as_slice()).expect("protobuf");
            delivered += decoded.resource_logs[0]
                .scope_logs
                .iter()
                .map(|scope| scope.log_records.len())
                .sum::<usize>();
        }
        assert_eq!(delivered, 300);
        // Cut close to the limit, not far below it.
        assert!(requests[0].len() > TARGET_REQUEST_BYTES - 64 * 1024);
    }

    /// Regression: a server's text in a report escaped control characters
    /// only: a right-to-left override or a line separator from a hostile
    /// collector reached the terminal as it was.
    #[test]
    fn a_servers_text_is_shown_with_what_a_terminal_acts_on_escaped() {
        assert_eq!(
            readable("ok\u{202e}gpj.exe\u{1b}[2J\u{2028}end"),
            "ok\\u{202e}gpj.exe\\u{1b}[2J\\u{2028}end"
        );
    }

    /// Regression: OTLP/JSON (the `http/json` protocol and `otlp/stdout`)
    /// wrote a NaN or infinite double as `null`, losing it.
    #[test]
    fn non_finite_doubles_become_strings_in_otlp_json() {
        let nested = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![double(f64::NEG_INFINITY), double(1.5)],
            })),
        };
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        body: Some(double(f64::INFINITY)),
                        attributes: vec![
                            attribute("ratio", double(f64::NAN)),
                            attribute("list", nested),
                        ],
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        let mut out = Vec::new();
        write_otlp_json(&request.encode_to_vec(), &mut out).expect("encoded");
        let json: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        let record = &json["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(
            record["body"],
            serde_json::json!({"stringValue": "Infinity"})
        );
        assert_eq!(
            record["attributes"],
            serde_json::json!([
                {"key": "ratio", "value": {"stringValue": "NaN"}},
                {"key": "list", "value": {"arrayValue": {"values": [
                    {"stringValue": "-Infinity"},
                    {"doubleValue": 1.5},
                ]}}},
            ])
        );
    }
}
