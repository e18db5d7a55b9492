//! Export: encode each record once per sink, queue the bytes, and let one
//! background worker per sink do batching and I/O.
//!
//! Architecture invariant: nothing here blocks the thread that logs, and
//! nothing here panics on any record or any failure of the output.

pub(crate) mod callsites;
mod console;
pub(crate) mod failure;
mod json;
#[cfg(feature = "metrics")]
pub(crate) mod metrics;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;
mod queue;
#[cfg(feature = "sdk")]
mod sdk;
mod stats;
mod stream;
pub(crate) mod timestamp;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::capture::redact::{RedactionSettings, Redactor};
use crate::capture::storm::StormControl;
use crate::capture::suppress_current_thread;
use crate::config::Resource;
use crate::diag;
use crate::record::Record;

pub(crate) use self::console::ConsoleEncoder;
use self::failure::{FailedByCause, FailureCause};
pub(crate) use self::json::JsonEncoder;
#[cfg(feature = "otlp")]
pub(crate) use self::otlp::FrameContext;
pub(crate) use self::queue::LocalShard;
pub(crate) use self::queue::Queue;
use self::queue::{deadline_after, Chunk, WakePolicy};
#[cfg(feature = "sdk")]
pub(crate) use self::sdk::{a_providers_repeated_panic, inside_the_api_context, reporting_a_panic};

/// A callsite's slot in the table of callsite parts of the one sink it is
/// written to (see [`Sink::stream`]), once known. Slots are never given
/// to another callsite, so a known one stays right for the sink's life.
#[derive(Debug)]
pub(crate) struct KnownSlot(AtomicU32);

impl KnownSlot {
    const UNKNOWN: u32 = u32::MAX;

    pub(crate) fn new() -> KnownSlot {
        KnownSlot(AtomicU32::new(KnownSlot::UNKNOWN))
    }

    /// Acquires what [`KnownSlot::set`] released: the slot's parts, set up
    /// before, are then seen by the frames this thread writes, and so by
    /// the worker that reads the slot back.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    fn get(&self) -> Option<u32> {
        let slot = self.0.load(Ordering::Acquire);
        (slot != KnownSlot::UNKNOWN).then_some(slot)
    }

    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    fn set(&self, slot: u32) {
        self.0.store(slot, Ordering::Release);
    }
}

/// Without the `sdk` feature no provider can panic.
#[cfg(not(feature = "sdk"))]
pub(crate) fn a_providers_repeated_panic() -> bool {
    false
}
pub(crate) use self::stats::{severity_range, SEVERITY_RANGES};
pub use self::stats::{LatencyHistogram, SeverityCounts, Stats};
use self::stats::{LatencyRecorder, SeverityCounters, TargetCounters};
pub(crate) use self::stream::{EncodedAttributes, EncodedKey, Encoding, EventStream, FieldKeys};

/// Why a flush did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushError {
    /// Some records were still being exported when the timeout ran out.
    Timeout(Duration),
    /// An output could not flush: its export worker stopped unexpectedly,
    /// whatever the wait, or the logger provider given to
    /// `Builder::with_logger_provider` reported a failed flush (its
    /// exporter failed, it was shut down, or its processors' own flush
    /// ran out of time, `Timeout(…)` in the text, which a longer
    /// `Builder::with_shutdown_timeout` does not lengthen). The text says
    /// which.
    Failed(String),
}

impl std::fmt::Display for FlushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlushError::Timeout(timeout) => {
                write!(
                    f,
                    "the flush did not complete within {timeout:?} (Builder::with_shutdown_timeout sets the wait; Guard::stats() tells what is still queued or being retried)"
                )
            }
            FlushError::Failed(reason) => write!(f, "the flush failed: {reason}"),
        }
    }
}

/// How one output's flush ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flushed {
    Done,
    TimedOut,
    Failed(String),
}

impl std::error::Error for FlushError {}

/// How a sink turns a record into bytes.
#[derive(Debug)]
pub(crate) enum Encoder {
    Json(JsonEncoder),
    Console(ConsoleEncoder),
    /// OTLP protobuf `LogRecord` frames, referring to the per-callsite
    /// parts in the table the sink's worker shares.
    #[cfg(feature = "otlp")]
    Otlp(Arc<otlp::OtlpCallsites>),
}

impl Encoder {
    /// The encoding records can be written in straight from events, if
    /// this encoder's can (see `capture::direct`).
    fn streams(&self) -> Option<Encoding> {
        match self {
            Encoder::Json(_) => Some(Encoding::Json),
            Encoder::Console(_) => None,
            #[cfg(feature = "otlp")]
            Encoder::Otlp(_) => Some(Encoding::Otlp),
        }
    }

    fn encode(&self, record: &Record, out: &mut Vec<u8>) {
        match self {
            Encoder::Json(encoder) => encoder.encode(record, out),
            Encoder::Console(encoder) => encoder.encode(record, out),
            #[cfg(feature = "otlp")]
            Encoder::Otlp(callsites) => otlp::encode_frame(record, callsites, out),
        }
    }
}

/// Where a worker delivers the chunks it takes from its queue.
pub(crate) trait Drain: Send + 'static {
    /// Delivers complete encoded records; counts its successes and failures.
    /// `queue` is there to wait on between retries.
    fn deliver(&mut self, chunk: &[u8], records: u64, queue: &Queue);
    /// Called after each drain cycle, e.g. to flush a writer or send the
    /// last partial batch.
    fn end_cycle(&mut self, queue: &Queue);
    /// Records handed to [`Drain::deliver`] whose outcome is not counted
    /// yet: written but not flushed, or batched but not sent. After a
    /// crash of the worker, these are lost.
    fn unsettled(&self) -> u64;
    /// Whether the drain has work it left for the next cycle and could do
    /// now (a spool's backlog, replayed a slice at a time): the worker
    /// then starts the next cycle at once instead of waiting.
    fn has_backlog(&self) -> bool {
        false
    }
}

/// Counters a sink's worker updates; only that worker writes them.
#[derive(Debug, Default)]
pub(crate) struct SinkCounters {
    /// Records the worker took from the queue for its exporter: processed,
    /// as the SDK self-observability metrics count a batching processor's
    /// records once handed to the exporter, however the export ends.
    pub(crate) handed_over: AtomicU64,
    pub(crate) exported: AtomicU64,
    /// Failed records: counted with [`SinkCounters::count_failed`], which
    /// keeps their causes too.
    pub(crate) failed: AtomicU64,
    pub(crate) failed_by_cause: FailedByCause,
    pub(crate) rejected: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) spool_evicted: AtomicU64,
    /// The records the spool holds now, and the bytes they take; set by
    /// the worker at the end of each cycle.
    pub(crate) spooled: AtomicU64,
    pub(crate) spooled_bytes: AtomicU64,
    pub(crate) latency: LatencyRecorder,
    /// The OpenTelemetry histogram each export's duration goes to, when
    /// metrics are registered on a meter. Only OTLP exporters send
    /// requests.
    #[cfg(all(feature = "metrics", feature = "otlp"))]
    pub(crate) export_duration: Option<metrics::ExportDuration>,
}

impl SinkCounters {
    /// Counts `records` as failed, for `cause`.
    pub(crate) fn count_failed(&self, records: u64, cause: FailureCause) {
        self.failed_by_cause.add(records, cause);
        self.failed.fetch_add(records, Ordering::Release);
    }
}

/// The OpenTelemetry instruments an OTLP output's worker records into as
/// it works, given to it when it starts, so that none of its exports goes
/// unrecorded: a histogram has no observable form the metrics could read
/// later.
#[cfg(feature = "otlp")]
#[derive(Debug, Default)]
pub(crate) struct WorkerMetrics {
    #[cfg(feature = "metrics")]
    pub(crate) export_duration: Option<opentelemetry::metrics::Histogram<f64>>,
}

/// A sink: an encoder, a queue and the worker that drains it.
#[derive(Debug)]
pub(crate) struct Sink {
    encoder: Encoder,
    queue: Arc<Queue>,
    counters: Arc<SinkCounters>,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// What the sink's exporter is, for the SDK self-observability metrics.
    exporter: Component,
}

/// A part of the pipeline as OpenTelemetry's SDK self-observability
/// metrics name it: `otel.component.type` and `otel.component.name`
/// (`{type}/{instance}`, the instance counted across the process).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct Component {
    pub(crate) kind: &'static str,
    instance: u64,
}

impl Component {
    pub(crate) fn new(kind: &'static str) -> Component {
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        Component {
            kind,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
        }
    }

    #[cfg(feature = "metrics")]
    pub(crate) fn name(&self) -> String {
        format!("{}/{}", self.kind, self.instance)
    }
}

/// One sink's counters, with the component names its metrics carry.
pub(crate) struct SinkCounts {
    /// The names only the `metrics` feature reports.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) exporter: Component,
    /// `server.address` and `server.port` of the collector an OTLP output
    /// sends to, when metrics are registered; empty for the others.
    #[cfg(feature = "metrics")]
    pub(crate) server: Vec<opentelemetry::KeyValue>,
    /// The failed records by cause (see [`failure`]).
    #[cfg(feature = "metrics")]
    pub(crate) failed_by_cause: Vec<(FailureCause, u64)>,
    /// The sink's queue and worker: the batching processor in front of
    /// its exporter.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) processor: Component,
    /// Records its worker took from the queue for the exporter.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) handed_over: u64,
    pub(crate) exported: u64,
    pub(crate) failed: u64,
    pub(crate) rejected: u64,
    /// Dropped for want of room in the queue.
    pub(crate) dropped_full: u64,
    /// Dropped because the queue was closed after its worker stopped.
    pub(crate) dropped_closed: u64,
    /// Dropped because the queue was closed by its shutdown.
    pub(crate) dropped_shut_down: u64,
    pub(crate) retries: u64,
    /// Spooled records evicted for the spool's size budget.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) spool_evicted: u64,
    /// The records its spool holds, and the bytes they take on disk.
    pub(crate) spooled: u64,
    pub(crate) spooled_bytes: u64,
    /// The bytes its queue holds.
    pub(crate) queued_bytes: u64,
    /// The bytes its queue may hold.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) queue_budget: u64,
}

/// Settings shared by the sinks of one pipeline.
#[derive(Clone, Debug)]
pub(crate) struct SinkSettings {
    pub(crate) queue_budget: usize,
    pub(crate) max_queue_records: Option<u64>,
    pub(crate) interval: Duration,
}

impl Sink {
    /// The collector's `server.*` attributes, for an OTLP output whose
    /// export durations are recorded (see [`metrics::ExportDuration`]).
    #[cfg(feature = "metrics")]
    fn server_attributes(&self) -> Vec<opentelemetry::KeyValue> {
        #[cfg(feature = "otlp")]
        if let Some(durations) = &self.counters.export_duration {
            return durations.server().to_vec();
        }
        Vec::new()
    }

    /// Starts a sink that writes to `writer`, flushing it every cycle;
    /// `exporter` names it in the metrics.
    pub(crate) fn start_writer(
        name: &'static str,
        exporter: &'static str,
        encoder: Encoder,
        output: Output,
        settings: &SinkSettings,
    ) -> std::io::Result<Sink> {
        let counters = Arc::new(SinkCounters::default());
        let drain = WriterDrain {
            name,
            output,
            counters: Arc::clone(&counters),
            unflushed: 0,
            failure_reported: false,
            mid_line: false,
        };
        let wake = WakePolicy {
            bytes: 1024 * 1024,
            records: u64::MAX,
        };
        let exporter = Component::new(exporter);
        Sink::start(name, exporter, encoder, drain, counters, wake, settings)
    }

    fn start(
        name: &'static str,
        exporter: Component,
        encoder: Encoder,
        drain: impl Drain,
        counters: Arc<SinkCounters>,
        wake: WakePolicy,
        settings: &SinkSettings,
    ) -> std::io::Result<Sink> {
        let queue = Arc::new(
            Queue::new(name, settings.queue_budget, wake)
                .with_record_limit(settings.max_queue_records),
        );
        crate::record::clock::calibrate_in_background();
        let worker = {
            let queue = Arc::clone(&queue);
            // A zero interval would make the worker spin between wake-ups.
            let interval = settings.interval.max(Duration::from_millis(1));
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name(format!("otel-log-bridge-{name}"))
                .spawn(move || run_worker(&queue, drain, interval, &counters))?
        };
        Ok(Sink {
            encoder,
            queue,
            counters,
            worker: Mutex::new(Some(worker)),
            exporter,
        })
    }

    fn push(&self, record: &Record) {
        self.queue.push(|out| self.encoder.encode(record, out));
    }

    /// Starts writing a record straight from an event into `out`; `None`
    /// when this sink's encoding cannot (see [`EventStream`]). `known`
    /// keeps the callsite's slot in this sink's table of callsite parts
    /// once it has one, so that its later records skip the lookup.
    #[inline]
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
    pub(crate) fn stream(
        &self,
        out: &mut Vec<u8>,
        time_unix_nano: u64,
        callsite: usize,
        known: &KnownSlot,
        template: impl FnOnce() -> Record,
    ) -> Option<EventStream<'_>> {
        match &self.encoder {
            Encoder::Json(encoder) => encoder
                .stream(out, time_unix_nano, callsite, template)
                .map(EventStream::Json),
            Encoder::Console(_) => None,
            #[cfg(feature = "otlp")]
            Encoder::Otlp(callsites) => {
                if let Some(slot) = known.get() {
                    return Some(EventStream::Otlp(otlp::stream_frame_in_slot(
                        out,
                        time_unix_nano,
                        slot,
                    )));
                }
                let (stream, slot) =
                    otlp::stream_frame(callsites, out, time_unix_nano, callsite, template)?;
                known.set(slot);
                Some(EventStream::Otlp(stream))
            }
        }
    }

    /// Waits until `deadline` for the worker, which
    /// [`Queue::request_shutdown`] told to stop, and joins it when it
    /// exited. Returns whether it did.
    fn wait_shut_down(&self, deadline: Instant) -> bool {
        if !self.queue.wait_exited(deadline) {
            return false;
        }
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        true
    }
}

impl Drop for Sink {
    /// Tells the worker to drain and exit without waiting for it; a sink is
    /// only dropped without a shutdown when setup failed part-way.
    fn drop(&mut self) {
        self.queue.shutdown_until(Instant::now());
    }
}

/// The worker loop: wait for a wake-up or the interval, take everything
/// queued, deliver it, repeat; on shutdown, one last full drain.
fn run_worker(queue: &Queue, mut drain: impl Drain, interval: Duration, counters: &SinkCounters) {
    suppress_current_thread();
    let mut pool = Vec::new();
    let mut chunks: Vec<Chunk> = Vec::new();
    // How many of this cycle's chunks were delivered, so that a crash
    // counts exactly the others as lost.
    let mut delivered = 0;
    // Whether the last cycle found records: then the worker first polls a
    // moment for a wake-up before it waits as an idle one.
    let mut busy = false;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop {
        let deadline = if drain.has_backlog() {
            Instant::now()
        } else {
            deadline_after(interval)
        };
        let cycle = queue.wait_for_cycle(deadline, busy);
        queue.take(&mut pool, &mut chunks);
        busy = !chunks.is_empty();
        let taken: u64 = chunks.iter().map(|chunk| chunk.records).sum();
        counters.handed_over.fetch_add(taken, Ordering::Release);
        delivered = 0;
        while let Some(chunk) = chunks.get(delivered) {
            drain.deliver(&chunk.bytes, chunk.records, queue);
            delivered += 1;
        }
        // The chunks' budget is held until the drain has sent what it
        // batched from them: until then the records count as queued, also
        // for a shutdown that stops waiting for a hung collector.
        drain.end_cycle(queue);
        for chunk in chunks.drain(..) {
            queue.recycle(&mut pool, chunk);
        }
        queue.complete(cycle);
        if cycle.shutdown {
            queue.report_drops_at_shutdown();
            break;
        }
        queue.report_drops();
    }));
    if outcome.is_err() {
        // Nothing will deliver what the drain held, this cycle's rest or
        // what is still queued: count it, give its budget back, and close
        // the queue so that producers count further records as dropped
        // instead of queueing them for nobody. The chunk being delivered
        // when the drain crashed is among what it held.
        let mut lost: u64 = drain.unsettled()
            + chunks
                .iter()
                .skip(delivered + 1)
                .map(|c| c.records)
                .sum::<u64>();
        for chunk in chunks.drain(..) {
            queue.recycle(&mut pool, chunk);
        }
        queue.close_after_worker_stopped();
        queue.take(&mut pool, &mut chunks);
        let mut taken = 0;
        for chunk in chunks.drain(..) {
            taken += chunk.records;
            queue.recycle(&mut pool, chunk);
        }
        // Taken from the queue to fail as the exporter's: processed, as
        // the exporter's count of them says.
        counters.handed_over.fetch_add(taken, Ordering::Release);
        lost += taken;
        counters.count_failed(lost, FailureCause::WORKER_PANICKED);
        queue.mark_crashed();
        // Said once all is counted: writing to stderr can block.
        diag::error(format_args!(
            "an export worker stopped unexpectedly; the records it held are counted as failed, and later ones as dropped"
        ));
    }
    // The drain goes before the worker says it exited: the guard joins an
    // exited worker without a deadline, and a drain's drop may take long
    // (a writer on a hung file system, a runtime's blocking tasks).
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(drain)));
    queue.mark_exited();
}

impl Drain for Box<dyn Drain> {
    fn deliver(&mut self, chunk: &[u8], records: u64, queue: &Queue) {
        (**self).deliver(chunk, records, queue);
    }

    fn end_cycle(&mut self, queue: &Queue) {
        (**self).end_cycle(queue);
    }

    fn unsettled(&self) -> u64 {
        (**self).unsettled()
    }

    fn has_backlog(&self) -> bool {
        (**self).has_backlog()
    }
}

/// Where a writer's records go: the process's standard output, or another
/// writer.
pub(crate) enum Output {
    Stdout,
    Writer(Box<dyn Write + Send>),
}

impl Output {
    /// The output for a writer the program gave: standard output, given as
    /// `std::io::stdout()`, is known as such.
    pub(crate) fn of(writer: impl Write + Send + 'static) -> Output {
        if (&writer as &dyn std::any::Any).is::<std::io::Stdout>() {
            Output::Stdout
        } else {
            Output::Writer(Box::new(writer))
        }
    }

    /// Runs `write` with the output, standard output locked throughout.
    /// Each write to an unlocked stream locks it for that write alone, so
    /// when a non-blocking stream took part of a chunk, a line another
    /// thread printed while the rest waited would land inside a record's
    /// line and split it. Such a thread now waits for the chunk, as it
    /// would for a blocking stream that is full.
    pub(crate) fn locked<R>(&mut self, write: impl FnOnce(&mut dyn Write) -> R) -> R {
        match self {
            Output::Stdout => write(&mut std::io::stdout().lock()),
            Output::Writer(writer) => write(writer.as_mut()),
        }
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Output::Stdout => "Stdout",
            Output::Writer(_) => "Writer",
        })
    }
}

/// Delivers to an `io::Write` (stdout, a file, a test buffer).
struct WriterDrain {
    name: &'static str,
    output: Output,
    counters: Arc<SinkCounters>,
    /// Records written this cycle but not flushed yet: a buffering writer
    /// reports some errors only when flushed, so they count as exported
    /// only once the flush succeeded.
    unflushed: u64,
    failure_reported: bool,
    /// Whether a failed write left the output in the middle of a line: the
    /// next write starts a new line, so that the cut record does not run
    /// into the next one.
    mid_line: bool,
}

impl WriterDrain {
    fn report_failure(&mut self, error: &std::io::Error) {
        if !std::mem::replace(&mut self.failure_reported, true) {
            diag::warn(format_args!(
                "writing {} records failed: {error}; failed records are counted in Guard::stats().failed",
                self.name
            ));
        }
    }
}

/// Writes all of `bytes`, as `write_all` does, and says how many were
/// written when it fails, so that a caller knows whether the output was
/// left in the middle of a line. An output that would block is waited for
/// until `give_up` says otherwise (see [`WouldBlockWait`]).
pub(crate) fn write_all_counting(
    writer: &mut (impl Write + ?Sized),
    bytes: &[u8],
    give_up: GiveUp<'_>,
) -> Result<(), (usize, std::io::Error)> {
    let mut written = 0;
    let mut wait = WouldBlockWait::new(give_up);
    while written < bytes.len() {
        match writer.write(&bytes[written..]) {
            Ok(0) => {
                let error = std::io::Error::from(std::io::ErrorKind::WriteZero);
                return Err((written, error));
            }
            Ok(n) => {
                written += n;
                wait = WouldBlockWait::new(give_up);
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock && wait.waited() => {}
            Err(error) => return Err((written, error)),
        }
    }
    Ok(())
}

/// Flushes `writer`, waiting for an output that would block as
/// [`write_all_counting`] does.
pub(crate) fn flush_waiting(
    writer: &mut (impl Write + ?Sized),
    give_up: GiveUp<'_>,
) -> std::io::Result<()> {
    let mut wait = WouldBlockWait::new(give_up);
    loop {
        match writer.flush() {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock && wait.waited() => {}
            flushed => return flushed,
        }
    }
}

/// Says, given how long an output has made no progress, whether to stop
/// waiting for it (see [`WouldBlockWait`]).
pub(crate) type GiveUp<'a> = &'a dyn Fn(Duration) -> bool;

/// How the worker waits for an output that would block: standard output
/// is non-blocking when a parent process made the pipe so (some process
/// managers and language runtimes do), and a full pipe then answers
/// `WouldBlock` where a blocking one would make the write wait. Such a
/// write is tried again after a pause that grows to [`WouldBlockWait::MAX`],
/// as a blocking write would wait for the reader, rather than failing the
/// records. Only the worker writes, so the logging threads never wait
/// (a thread that prints to standard output itself waits for the chunk
/// being written, see [`Output::locked`]);
/// meanwhile the queue fills, and what it cannot hold is dropped and
/// counted, as with a reader that is slow on a blocking pipe. The caller
/// says when to stop: the JSON writers at the shutdown deadline, after
/// which the records count as failed (cause `would_block`), so that the
/// counts settle and the worker ends.
struct WouldBlockWait<'a> {
    pause: Duration,
    since: Instant,
    give_up: GiveUp<'a>,
}

impl<'a> WouldBlockWait<'a> {
    const MAX: Duration = Duration::from_millis(50);

    fn new(give_up: GiveUp<'a>) -> WouldBlockWait<'a> {
        WouldBlockWait {
            pause: Duration::from_millis(1),
            since: Instant::now(),
            give_up,
        }
    }

    /// Waits before the next attempt; `false`, without waiting, when the
    /// caller gives up.
    fn waited(&mut self) -> bool {
        if (self.give_up)(self.since.elapsed()) {
            return false;
        }
        std::thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(Self::MAX);
        true
    }
}

impl Drain for WriterDrain {
    /// Writes a chunk of lines, one record each. When the write fails part
    /// way, the records it wrote whole count as written and the rest as
    /// failed.
    fn deliver(&mut self, chunk: &[u8], records: u64, queue: &Queue) {
        // Counted before the write, which may be a user's writer that
        // panics, so that a crash counts this chunk among the lost.
        self.unflushed += records;
        let give_up = |_| queue.past_shutdown_deadline();
        let mid_line = &mut self.mid_line;
        let written = self.output.locked(|writer| {
            if *mid_line {
                // Failed, the newline that ends a cut line leaves nothing
                // of the chunk written, and the line still open.
                write_all_counting(writer, b"\n", &give_up).map_err(|(_, error)| (0, error))?;
                *mid_line = false;
            }
            write_all_counting(writer, chunk, &give_up)
        });
        let Err((written, error)) = written else {
            return;
        };
        let whole = chunk[..written]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count() as u64;
        let whole = whole.min(records);
        self.unflushed -= records - whole;
        if written > 0 {
            self.mid_line = chunk[written - 1] != b'\n';
        }
        self.counters
            .count_failed(records - whole, FailureCause::of_io(&error));
        self.report_failure(&error);
    }

    fn end_cycle(&mut self, queue: &Queue) {
        // Flushed before the count is taken: a writer that panics in its
        // flush leaves these records unsettled, for the crash to count.
        let flushed = self
            .output
            .locked(|writer| flush_waiting(writer, &|_| queue.past_shutdown_deadline()));
        let written = std::mem::take(&mut self.unflushed);
        match flushed {
            Ok(()) => {
                self.counters.exported.fetch_add(written, Ordering::Release);
            }
            Err(error) => {
                self.counters
                    .count_failed(written, FailureCause::of_io(&error));
                self.report_failure(&error);
            }
        }
    }

    fn unsettled(&self) -> u64 {
        self.unflushed
    }
}

/// Everything between the capture side and the outputs.
#[derive(Debug)]
pub(crate) struct Pipeline {
    sinks: Vec<Sink>,
    #[cfg(feature = "sdk")]
    sdk: Option<sdk::SdkSink>,
    emitted: SeverityCounters,
    by_target: Option<TargetCounters>,
    redactor: Redactor,
    storm: Option<StormControl>,
    open: AtomicBool,
    /// Runs the shutdown once: a later call (the guard's drop after
    /// `Guard::shutdown`) waits for that one instead of waiting again.
    shut_down: std::sync::Once,
    /// Whether a panic hook records into this pipeline already: a second
    /// one would record every panic twice.
    panic_hook: AtomicBool,
    /// Whether a subscriber took a layer of this pipeline (see
    /// [`Pipeline::note_layered`]).
    layered: AtomicBool,
    /// Whether the pipeline was shut down before any subscriber took its
    /// layer: its guard was dropped at once.
    shut_down_unlayered: AtomicBool,
    /// Whether an event that came after the shutdown was looked at (see
    /// [`Pipeline::note_discarded`]).
    discard_noted: AtomicBool,
    timeout: Duration,
    /// Tells this pipeline apart from every other of the process, for
    /// what the layers keep per pipeline (span data, a thread's span
    /// snapshots and entered spans). Not its address: a span that outlives
    /// its pipeline would otherwise lend its data, and a thread its cached
    /// snapshots (in another encoding), to a later pipeline the allocator
    /// put at the same address.
    id: u64,
}

impl Pipeline {
    pub(crate) fn new(sinks: Vec<Sink>, timeout: Duration) -> Pipeline {
        static PIPELINES: AtomicU64 = AtomicU64::new(0);
        Pipeline {
            id: PIPELINES.fetch_add(1, Ordering::Relaxed),
            open: AtomicBool::new(!sinks.is_empty()),
            sinks,
            #[cfg(feature = "sdk")]
            sdk: None,
            emitted: SeverityCounters::default(),
            by_target: None,
            redactor: Redactor::new(RedactionSettings::default()),
            storm: None,
            shut_down: std::sync::Once::new(),
            panic_hook: AtomicBool::new(false),
            layered: AtomicBool::new(false),
            shut_down_unlayered: AtomicBool::new(false),
            discard_noted: AtomicBool::new(false),
            timeout,
        }
    }

    /// What tells this pipeline apart from every other of the process.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Claims the pipeline's one panic hook: `true` the first time only.
    pub(crate) fn claim_panic_hook(&self) -> bool {
        !self.panic_hook.swap(true, Ordering::Relaxed)
    }

    /// Adds the application's SDK pipeline as one more destination.
    #[cfg(feature = "sdk")]
    pub(crate) fn with_sdk(
        mut self,
        provider: opentelemetry_sdk::logs::SdkLoggerProvider,
    ) -> Pipeline {
        self.sdk = Some(sdk::SdkSink::new(provider));
        self.open.store(true, Ordering::Relaxed);
        self
    }

    /// Redacts the values of these keys (see `capture::redact`).
    pub(crate) fn with_redaction(mut self, settings: RedactionSettings) -> Pipeline {
        self.redactor = Redactor::new(settings);
        self
    }

    /// Limits each callsite's rate (see `capture::storm`).
    pub(crate) fn with_storm_control(mut self, storm: Option<StormControl>) -> Pipeline {
        self.storm = storm;
        self
    }

    pub(crate) fn storm(&self) -> Option<&StormControl> {
        self.storm.as_ref()
    }

    /// The redaction decisions and count shared by every capture path.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Counts emitted records per target too.
    pub(crate) fn with_target_counts(mut self, enabled: bool) -> Pipeline {
        self.by_target = enabled.then(TargetCounters::default);
        self
    }

    /// Whether records are still accepted; `false` once shut down, and for
    /// a pipeline with no sinks (`OTEL_LOGS_EXPORTER=none`).
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    /// Called when a subscriber takes a layer of this pipeline.
    pub(crate) fn note_layered(&self) {
        self.layered.store(true, Ordering::Relaxed);
    }

    /// Called for an event the pipeline does not take because it is not
    /// open. The first one after a shutdown that came before any
    /// subscriber took the pipeline's layer says so: the guard was
    /// dropped at once (`let (layer, _) = builder.layer()?`, where `_`
    /// drops it), and every event would vanish without a word. Events
    /// after the shutdown of a pipeline in use, as a program's other
    /// threads log while it ends, are no mistake and are not reported.
    pub(crate) fn note_discarded(&self) {
        if !self.shut_down_unlayered.load(Ordering::Relaxed)
            || self.discard_noted.load(Ordering::Relaxed)
            || self.discard_noted.swap(true, Ordering::Relaxed)
        {
            return;
        }
        diag::warn(format_args!(
            "events are discarded: this pipeline was shut down before a subscriber took its layer, so its Guard was dropped at once; keep the Guard for as long as the layer should export (`let (layer, _guard) = …`, not `let (layer, _) = …`)"
        ));
    }

    /// The encoding records can be written in straight from events (to the
    /// [`single sink`](Pipeline::single_sink)), when this pipeline has just
    /// one sink and nothing else needs the whole record: no SDK adapter, no
    /// redaction of tokens inside values. Fixed once the pipeline is built;
    /// the layer asks once.
    pub(crate) fn direct_encoding(&self) -> Option<Encoding> {
        #[cfg(feature = "sdk")]
        if self.sdk.is_some() {
            return None;
        }
        if self.redactor.settings().values {
            return None;
        }
        self.single_sink().and_then(|sink| sink.encoder.streams())
    }

    /// The pipeline's sink, when it has exactly one.
    pub(crate) fn single_sink(&self) -> Option<&Sink> {
        match self.sinks.as_slice() {
            [sink] => Some(sink),
            _ => None,
        }
    }

    /// Queues a record that `sink` (this pipeline's
    /// [`single sink`](Pipeline::single_sink)) wrote, and counts it as
    /// emitted: in the sink's queue, which counts it under the lock it
    /// takes anyway. `local` is the calling thread's shard of the sink's
    /// queue, kept between records (see [`LocalShard`]). The bytes are
    /// copied into the queue.
    ///
    /// `encoded` is the writer's buffer itself rather than a slice of it: a
    /// slice made by the caller read the buffer's pointer and length in one
    /// 16-byte load right after the encoder's separate writes to them, which
    /// the processor cannot forward from its store buffer. That stall cost
    /// about a tenth of an event on the direct path (`scripts/bench-ab`);
    /// here the slice is made after a call, by which time the writes have
    /// left the store buffer.
    #[expect(
        clippy::ptr_arg,
        reason = "the slice must be made here, not by the caller (see above)"
    )]
    pub(crate) fn emit_encoded(
        &self,
        sink: &Sink,
        local: &mut Option<LocalShard>,
        severity_number: u8,
        target: &str,
        encoded: &Vec<u8>,
    ) {
        self.count_by_target(target, severity_number);
        sink.queue.push_emitted(local, severity_number, encoded);
    }

    /// Counts a record by target, when the pipeline counts by target.
    #[inline]
    fn count_by_target(&self, target: &str, severity_number: u8) {
        if let Some(by_target) = &self.by_target {
            by_target.increment(target, severity_number);
        }
    }

    /// Like [`Pipeline::emit_encoded`], for an OTLP frame ended with
    /// [`OtlpStream::finish_in_context`](otlp::OtlpStream::finish_in_context):
    /// its `context` goes into the queue once for the records that share it.
    /// `frame` is the writer's buffer itself, for the reason
    /// [`Pipeline::emit_encoded`] gives.
    #[cfg(feature = "otlp")]
    #[expect(
        clippy::ptr_arg,
        reason = "the slice must be made here, not by the caller (see emit_encoded)"
    )]
    #[inline]
    pub(crate) fn emit_encoded_in_context(
        &self,
        sink: &Sink,
        local: &mut Option<LocalShard>,
        severity_number: u8,
        target: &str,
        frame: &Vec<u8>,
        context: otlp::FrameContext<'_>,
    ) {
        self.count_by_target(target, severity_number);
        sink.queue
            .push_emitted_with(local, severity_number, |out, note| {
                otlp::push_frame_in_context(out, note, frame, context);
            });
    }

    /// Cuts `record`'s values to the length limit, then encodes it for
    /// every sink and queues it. Callers redact before: see
    /// [`Record::limit_value_lengths`].
    pub(crate) fn emit(&self, record: &mut Record) {
        record.limit_value_lengths();
        self.emitted.increment(record.severity.number);
        self.count_by_target(record.scope_name(), record.severity.number);
        for sink in &self.sinks {
            sink.push(record);
        }
        #[cfg(feature = "sdk")]
        if let Some(sdk) = &self.sdk {
            sdk.emit(record);
        }
    }

    /// Exports everything emitted so far, waiting at most the configured
    /// timeout.
    pub(crate) fn flush(&self) -> Result<(), FlushError> {
        // On the crate's own threads (a writer, an exporter or a panic hook
        // running on an export worker), a flush would wait for the very
        // worker asking for it, until the timeout, while the queue fills.
        if crate::capture::is_suppressed() {
            return Err(FlushError::Failed(
                "the flush was asked for on one of otel-log-bridge's own threads (a writer, an exporter or a panic hook running on it), which would wait for itself".to_owned(),
            ));
        }
        self.flush_within(self.timeout)
    }

    /// Like [`Pipeline::flush`], waiting at most `timeout` (and at most the
    /// configured timeout).
    pub(crate) fn flush_within(&self, timeout: Duration) -> Result<(), FlushError> {
        let timeout = timeout.min(self.timeout);
        let deadline = deadline_after(timeout);
        // Every output is asked first and waited for after, so that they
        // flush at the same time: one after the other, a slow one would
        // leave the others only what remained of the deadline.
        let requested: Vec<Option<u64>> = self
            .sinks
            .iter()
            .map(|sink| sink.queue.request_flush())
            .collect();
        #[cfg(feature = "sdk")]
        let sdk = self.sdk.as_ref().map(|sdk| sdk.flush_until(deadline));
        #[cfg_attr(not(feature = "sdk"), allow(unused_mut))]
        let mut outcomes: Vec<Flushed> = self
            .sinks
            .iter()
            .zip(requested)
            .map(|(sink, wanted)| sink.queue.wait_flushed(wanted, deadline))
            .collect();
        #[cfg(feature = "sdk")]
        outcomes.extend(sdk);
        // Records still on their way say more than an output that failed.
        if outcomes.contains(&Flushed::TimedOut) {
            return Err(FlushError::Timeout(timeout));
        }
        match outcomes
            .into_iter()
            .find(|outcome| *outcome != Flushed::Done)
        {
            Some(Flushed::Failed(reason)) => Err(FlushError::Failed(reason)),
            _ => Ok(()),
        }
    }

    /// Stops accepting records, exports what is queued within the timeout,
    /// and stops the workers. Idempotent.
    pub(crate) fn shutdown(&self) {
        self.shut_down.call_once_force(|_| self.shut_down_now());
    }

    fn shut_down_now(&self) {
        // The summaries below are counted in: into an application's logger
        // provider they are exported on this thread, as every record is.
        let deadline = deadline_after(self.timeout);
        // Suppressed events are reported before the outputs close, so a
        // storm that lasted until the end still shows up.
        if let (Some(storm), true) = (&self.storm, self.is_open()) {
            storm.flush_summaries(self);
        }
        self.open.store(false, Ordering::Relaxed);
        // Only a pipeline that had outputs could have lost anything.
        let had_outputs = !self.sinks.is_empty() || {
            #[cfg(feature = "sdk")]
            {
                self.sdk.is_some()
            }
            #[cfg(not(feature = "sdk"))]
            {
                false
            }
        };
        if had_outputs && !self.layered.load(Ordering::Relaxed) {
            self.shut_down_unlayered.store(true, Ordering::Relaxed);
        }
        // Every output is told to stop first and waited for after: one
        // after the other, an output whose collector holds a request would
        // leave the others none of the deadline, and their last records
        // would be lost.
        for sink in &self.sinks {
            sink.queue.request_shutdown(deadline);
        }
        // The application owns its provider and shuts it down itself; what
        // the bridge emitted into it is flushed here, by the same deadline.
        #[cfg(feature = "sdk")]
        let provider_flushed = self.sdk.as_ref().map(|sdk| sdk.flush_until(deadline));
        let mut unfinished: Vec<&'static str> = self
            .sinks
            .iter()
            .filter(|sink| !sink.wait_shut_down(deadline))
            .map(|sink| sink.queue.name())
            .collect();
        // A zero timeout asks for no wait: no output can have finished by
        // then, whether or not it had anything left, and a warning on
        // every shutdown would say so with no news in it. The outputs go on
        // writing while the process runs.
        let asked_for_no_wait = self.timeout.is_zero();
        if asked_for_no_wait {
            unfinished.clear();
        }
        // What the waits found is said, since nothing else would tell it
        // (the program is ending), but only once every wait has ended, and
        // without waiting long: writing to a stderr nobody reads can block,
        // and an output that did not finish may be stuck writing to it.
        // All of them from one thread, waited for once.
        #[cfg_attr(not(feature = "sdk"), allow(unused_mut))]
        let mut warnings: Vec<String> = unfinished
            .into_iter()
            .map(|name| format!(
                "at shutdown, the {name} output did not finish within the shutdown timeout of {:?}: the records it had not delivered yet (with a spool, not written to it yet) are lost; raise the timeout with Builder::with_shutdown_timeout",
                self.timeout
            ))
            .collect();
        #[cfg(feature = "sdk")]
        match (provider_flushed, &self.sdk) {
            (Some(Flushed::TimedOut), _) if asked_for_no_wait => {}
            (Some(Flushed::TimedOut), _) => warnings.push(
                "at shutdown, the logger provider given to Builder::with_logger_provider did not finish flushing within the shutdown timeout; its processors may still hold records".to_owned()
            ),
            // The application shut its provider down first, as the
            // OpenTelemetry examples do at the end of `main`: that shutdown
            // flushed it.
            (Some(Flushed::Failed(_)), Some(sdk)) if sdk.provider_shut_down() => {}
            (Some(Flushed::Failed(reason)), _) => warnings.push(format!(
                "at shutdown, flushing the logger provider given to Builder::with_logger_provider failed: {reason}"
            )),
            _ => {}
        }
        diag::warn_at_shutdown(warnings);
    }

    /// The records emitted so far, by severity.
    pub(crate) fn emitted_by_severity(&self) -> SeverityCounts {
        let mut by_severity = self.emitted.snapshot();
        for sink in &self.sinks {
            by_severity.add(sink.queue.emitted());
        }
        by_severity
    }

    /// The records emitted so far, by target and severity, when the
    /// pipeline counts them (see [`Stats::by_target`]).
    pub(crate) fn emitted_by_target(&self) -> Vec<(String, SeverityCounts)> {
        self.by_target
            .as_ref()
            .map(TargetCounters::snapshot)
            .unwrap_or_default()
    }

    pub(crate) fn stats(&self) -> Stats {
        // What became of records is read before how many were emitted, so
        // that a record is never seen settled before it is seen emitted:
        // with one output, `emitted` is at least the sum of the outcomes,
        // the difference being what is still on its way. The outcomes are
        // read with `Acquire`, their counts being added with `Release`
        // after the record was counted as emitted.
        let outcomes: Vec<SinkCounts> = self.sink_counts().collect();
        #[cfg(feature = "sdk")]
        let sdk_outcomes = self
            .sdk
            .as_ref()
            .map(|sdk| (sdk.emitted(), sdk.declined(), sdk.failed()));
        let by_severity = self.emitted_by_severity();
        let mut stats = Stats {
            emitted: by_severity.iter().map(|(_, count)| count).sum(),
            by_severity,
            redacted: self.redactor.redacted(),
            suppressed: self.storm.as_ref().map_or(0, StormControl::suppressed),
            by_target: self.emitted_by_target(),
            ..Stats::default()
        };
        for counts in outcomes {
            stats.spool_evicted += counts.spool_evicted;
            stats.spooled += counts.spooled;
            stats.spooled_bytes += counts.spooled_bytes;
            stats.queued_bytes += counts.queued_bytes;
            stats.exported += counts.exported;
            stats.failed += counts.failed;
            stats.rejected += counts.rejected;
            stats.retries += counts.retries;
            stats.dropped += counts.dropped_full + counts.dropped_closed + counts.dropped_shut_down;
        }
        for sink in &self.sinks {
            sink.counters.latency.add_to(&mut stats.export_latency);
        }
        #[cfg(feature = "sdk")]
        if let Some((exported, declined, failed)) = sdk_outcomes {
            stats.exported += exported;
            stats.declined += declined;
            stats.failed += failed;
        }
        stats
    }
}

impl Pipeline {
    /// Each sink's counters. Records handed to an application's logger
    /// provider are not among them: that provider's own processors and
    /// exporters count them.
    pub(crate) fn sink_counts(&self) -> impl Iterator<Item = SinkCounts> + '_ {
        self.sinks.iter().map(|sink| SinkCounts {
            exporter: sink.exporter,
            processor: Component {
                kind: "batching_log_processor",
                instance: sink.exporter.instance,
            },
            handed_over: sink.counters.handed_over.load(Ordering::Acquire),
            exported: sink.counters.exported.load(Ordering::Acquire),
            failed: sink.counters.failed.load(Ordering::Acquire),
            rejected: sink.counters.rejected.load(Ordering::Acquire),
            dropped_full: sink.queue.dropped_full(),
            dropped_closed: sink.queue.dropped_closed(),
            dropped_shut_down: sink.queue.dropped_shut_down(),
            retries: sink.counters.retries.load(Ordering::Relaxed),
            spool_evicted: sink.counters.spool_evicted.load(Ordering::Relaxed),
            spooled: sink.counters.spooled.load(Ordering::Relaxed),
            spooled_bytes: sink.counters.spooled_bytes.load(Ordering::Relaxed),
            queued_bytes: sink.queue.reserved_bytes() as u64,
            queue_budget: sink.queue.budget() as u64,
            #[cfg(feature = "metrics")]
            server: sink.server_attributes(),
            #[cfg(feature = "metrics")]
            failed_by_cause: sink.counters.failed_by_cause.snapshot(),
        })
    }
}

/// Builds the sinks for the chosen exporters.
pub(crate) fn json_sink(
    resource: &Resource,
    output: Output,
    settings: &SinkSettings,
) -> std::io::Result<Sink> {
    Sink::start_writer(
        "json",
        "otel_log_bridge::json",
        Encoder::Json(JsonEncoder::new(resource)),
        output,
        settings,
    )
}

pub(crate) fn console_sink(output: Output, settings: &SinkSettings) -> std::io::Result<Sink> {
    Sink::start_writer(
        "console",
        "otel_log_bridge::console",
        Encoder::Console(ConsoleEncoder),
        output,
        settings,
    )
}

/// Starts the OTLP sink: batches of `max_export_batch_size` records, sent
/// at least every schedule delay.
#[cfg(feature = "otlp")]
pub(crate) fn otlp_sink(
    resource: &Resource,
    settings: &crate::config::otlp::OtlpSettings,
    queue_budget: usize,
    worker_metrics: &WorkerMetrics,
) -> Result<Sink, crate::InitError> {
    let exporter = Component::new(match settings.protocol {
        crate::config::otlp::Protocol::HttpProtobuf => "otlp_http_log_exporter",
        crate::config::otlp::Protocol::HttpJson => "otlp_http_json_log_exporter",
        #[cfg(feature = "grpc")]
        crate::config::otlp::Protocol::Grpc => "otlp_grpc_log_exporter",
    });
    let counters = Arc::new(SinkCounters {
        #[cfg(feature = "metrics")]
        export_duration: worker_metrics.export_duration.as_ref().map(|histogram| {
            metrics::ExportDuration::new(histogram.clone(), exporter, &settings.endpoint)
        }),
        ..SinkCounters::default()
    });
    #[cfg(not(feature = "metrics"))]
    let _ = worker_metrics;
    let callsites = Arc::new(otlp::OtlpCallsites::default());
    let drain = otlp::start_drain(
        settings,
        resource,
        Arc::clone(&callsites),
        Arc::clone(&counters),
    )?;
    let wake = WakePolicy {
        bytes: 4 * 1024 * 1024,
        records: settings.batch.max_export_batch_size,
    };
    let sink_settings = SinkSettings {
        queue_budget,
        max_queue_records: settings.batch.max_queue_size,
        interval: settings.batch.schedule_delay,
    };
    Sink::start(
        "otlp",
        exporter,
        Encoder::Otlp(callsites),
        drain,
        counters,
        wake,
        &sink_settings,
    )
    .map_err(crate::InitError::Worker)
}

/// Starts the OTLP-JSON lines sink (`otlp/stdout`).
#[cfg(feature = "otlp")]
pub(crate) fn otlp_json_sink(
    resource: &Resource,
    output: Output,
    settings: &SinkSettings,
) -> std::io::Result<Sink> {
    let counters = Arc::new(SinkCounters::default());
    let callsites = Arc::new(otlp::OtlpCallsites::default());
    let drain = otlp::json_lines_drain(
        output,
        resource,
        Arc::clone(&callsites),
        512,
        Arc::clone(&counters),
    );
    let wake = WakePolicy {
        bytes: 4 * 1024 * 1024,
        records: 512,
    };
    Sink::start(
        "otlp-json",
        Component::new("otel_log_bridge::otlp_json_lines"),
        Encoder::Otlp(callsites),
        drain,
        counters,
        wake,
        settings,
    )
}

/// Formats `value` with `Debug` onto `out`, in place; returns where the
/// text starts.
pub(crate) fn write_debug(out: &mut Vec<u8>, value: &dyn std::fmt::Debug) -> usize {
    use std::fmt::Write as _;
    let start = out.len();
    // Formatting only fails when a `Debug` impl returns an error; what it
    // wrote before failing is kept.
    let _ = write!(VecWriter(out), "{value:?}");
    start
}

/// For text that [`write_debug`] formatted in place but that has to be
/// written differently after all (escaped, or behind a longer length):
/// moves the text from `start` to `scratch`, cuts `out` back to `at`, and
/// has `write` write it again.
pub(crate) fn rewrite_text(
    out: &mut Vec<u8>,
    at: usize,
    start: usize,
    scratch: &mut String,
    write: impl FnOnce(&mut Vec<u8>, &str),
) {
    let mark = scratch.len();
    // The bytes came from `str`s, so they are UTF-8.
    if let Ok(text) = std::str::from_utf8(out.get(start..).unwrap_or_default()) {
        scratch.push_str(text);
    }
    out.truncate(at);
    write(out, scratch.get(mark..).unwrap_or_default());
    scratch.truncate(mark);
}

/// An `fmt::Write` adapter that appends to a byte buffer.
pub(crate) struct VecWriter<'a>(pub(crate) &'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
