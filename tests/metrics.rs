//! Metrics about the logs: pulled as Prometheus text, pushed through an
//! OpenTelemetry meter; both agree with what the collector received.

use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tracing_subscriber::prelude::*;

use crate::support::receiver::{Receiver, Response};

fn scenario() {
    for i in 0..6 {
        tracing::info!(i, "info");
    }
    tracing::warn!(target: "billing", "warn");
    // otel-log-lint: allow(OLB005)
    tracing::error!(password = "hunter2", "error");
}

/// Exports the scenario to a receiver that first answers 503 once, then
/// rejects one record, and returns the guard's counters and the receiver.
fn run(
    builder: otel_log_bridge::Builder,
) -> (otel_log_bridge::Stats, Receiver, otel_log_bridge::Guard) {
    let receiver = Receiver::http();
    receiver.respond_with([
        Response::Status {
            code: 503,
            retry_after: Some("0".into()),
        },
        Response::PartialSuccess {
            rejected: 1,
            message: "one too old".into(),
        },
    ]);
    // The counts below assume one request: only the flush sends, however
    // slowly the scenario runs.
    let (layer, guard) = builder
        .with_otlp_endpoint(format!("{}/v1/logs", receiver.endpoint()))
        .with_otlp_schedule_delay(Duration::from_secs(3600))
        .layer()
        .expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), scenario);
    guard.flush().expect("flushed");
    (guard.stats(), receiver, guard)
}

/// A meter provider whose metrics are kept in memory, and where.
fn in_memory_meter() -> (InMemoryMetricExporter, SdkMeterProvider) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (exporter, provider)
}

/// The metrics named `name`.
fn named<'m>(
    metrics: &'m [opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &'m str,
) -> impl Iterator<Item = &'m opentelemetry_sdk::metrics::data::Metric> {
    metrics
        .iter()
        .flat_map(|resource| resource.scope_metrics())
        .flat_map(|scope| scope.metrics())
        .filter(move |metric| metric.name() == name)
}

/// A data point's attributes, as text.
fn attributes_of<'a>(
    attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>,
) -> Vec<(String, String)> {
    attributes
        .map(|kv| (kv.key.to_string(), kv.value.as_str().into_owned()))
        .collect()
}

/// The data points of the counter `name`: each one's attributes (as
/// text) and value.
fn counter_points(
    metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
) -> Vec<(Vec<(String, String)>, u64)> {
    let mut points = Vec::new();
    for metric in named(metrics, name) {
        if let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() {
            points.extend(
                sum.data_points()
                    .map(|point| (attributes_of(point.attributes()), point.value())),
            );
        }
    }
    points
}

/// The latest count of the counter `name` for the series whose
/// `error.type` is `error_type` (`None`: the series without one).
fn latest_count(
    metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
    error_type: Option<&str>,
) -> u64 {
    counter_points(metrics, name)
        .into_iter()
        .filter(|(attributes, _)| attribute(attributes, "error.type") == error_type)
        .map(|(_, value)| value)
        .max()
        .unwrap_or(0)
}

/// The data points of the histogram `name`: each one's attributes (as
/// text) and count.
fn histogram_points(
    metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
) -> Vec<(Vec<(String, String)>, u64)> {
    let mut points = Vec::new();
    for metric in named(metrics, name) {
        if let AggregatedMetrics::F64(MetricData::Histogram(histogram)) = metric.data() {
            points.extend(
                histogram
                    .data_points()
                    .map(|point| (attributes_of(point.attributes()), point.count())),
            );
        }
    }
    points
}

/// The values of the gauge `name`.
fn gauge_values(
    metrics: &[opentelemetry_sdk::metrics::data::ResourceMetrics],
    name: &str,
) -> Vec<u64> {
    let mut values = Vec::new();
    for metric in named(metrics, name) {
        if let AggregatedMetrics::U64(MetricData::Gauge(gauge)) = metric.data() {
            values.extend(gauge.data_points().map(|point| point.value()));
        }
    }
    values
}

/// The value of `key` among `attributes`.
fn attribute<'a>(attributes: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, value)| value.as_str())
}

#[test]
fn prometheus_text_parses_and_matches_what_the_collector_got() {
    let (stats, receiver, _guard) = run(otel_log_bridge::builder().with_target_metrics(true));
    assert!(receiver.wait_for_records(8, Duration::from_secs(10)));
    let text = stats.to_prometheus();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("valid Prometheus text");
    // The sum of the matching samples; a metric with none fails the test,
    // so a renamed or missing metric cannot pass as a zero.
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        let values: Vec<f64> = scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                ref other => panic!("{name}: unexpected {other:?}"),
            })
            .collect();
        assert!(!values.is_empty(), "no sample of {name} {label:?}");
        values.iter().sum()
    };
    let emitted = "otel_log_bridge_records_emitted_total";
    assert_eq!(value(emitted, Some(("severity", "INFO"))), 6.0);
    assert_eq!(value(emitted, Some(("severity", "WARN"))), 1.0);
    assert_eq!(value(emitted, Some(("severity", "ERROR"))), 1.0);
    // 8 sent, 1 rejected by the partial success: 7 accepted.
    assert_eq!(value("otel_log_bridge_records_exported_total", None), 7.0);
    assert_eq!(receiver.records().len(), 8);
    assert_eq!(value("otel_log_bridge_records_rejected_total", None), 1.0);
    assert_eq!(value("otel_log_bridge_export_retries_total", None), 1.0);
    assert_eq!(value("otel_log_bridge_records_dropped_total", None), 0.0);
    assert_eq!(
        value("otel_log_bridge_attributes_redacted_total", None),
        1.0
    );
    assert_eq!(value("otel_log_bridge_events_suppressed_total", None), 0.0);
    assert_eq!(
        value("otel_log_bridge_spool_records_evicted_total", None),
        0.0
    );
    let by_target = "otel_log_bridge_records_by_target_total";
    assert_eq!(value(by_target, Some(("target", "billing"))), 1.0);
    assert_eq!(value(by_target, Some(("target", "main::metrics"))), 7.0);
    assert_eq!(
        stats
            .by_target
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>(),
        ["billing", "main::metrics"]
    );
    let histogram = scrape
        .samples
        .iter()
        .find(|s| s.metric == "otel_log_bridge_export_duration_seconds")
        .expect("the latency histogram");
    match &histogram.value {
        prometheus_parse::Value::Histogram(buckets) => {
            let total = buckets.last().expect("+Inf bucket");
            assert_eq!(total.less_than, f64::INFINITY);
            assert_eq!(total.count, 2.0, "the 503 and the accepted request");
        }
        other => panic!("not a histogram: {other:?}"),
    }
    for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
        let name = line.split_whitespace().nth(2).expect("metric name");
        if line.ends_with(" counter") {
            assert!(name.ends_with("_total"), "{line}");
        }
    }
}

#[test]
fn metrics_are_pushed_through_an_opentelemetry_meter() {
    let (exporter, provider) = in_memory_meter();
    let (stats, _receiver, guard) = run(otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_target_metrics(true));
    provider.force_flush().expect("metrics flushed");
    let metrics = exporter.get_finished_metrics().expect("metrics");
    // The points with this attribute, or without error.type.
    let sum = |name: &str, wanted: Option<(&str, &str)>| -> u64 {
        counter_points(&metrics, name)
            .into_iter()
            .filter(|(attributes, _)| match wanted {
                Some((key, value)) => attribute(attributes, key) == Some(value),
                None => attribute(attributes, "error.type").is_none(),
            })
            .map(|(_, value)| value)
            .sum()
    };
    assert_eq!(sum("otel.sdk.log.created", None), stats.emitted);
    assert_eq!(
        sum("otel.sdk.log.created", Some(("log.severity", "INFO"))),
        6
    );
    assert_eq!(sum("otel.sdk.exporter.log.exported", None), stats.exported);
    assert_eq!(
        sum(
            "otel.sdk.exporter.log.exported",
            Some(("error.type", "rejected"))
        ),
        1
    );
    // Regression: only the dropped records had a series, so a share of
    // failures read as all of them.
    assert_eq!(
        sum("otel.sdk.processor.log.processed", None),
        stats.exported + stats.failed + stats.rejected
    );
    assert_eq!(sum("otel_log_bridge.export.retries", None), 1);
    // Regression: every counter had the unit {log_record}, the retries
    // too, which count attempts.
    let unit = |name: &str| {
        named(&metrics, name)
            .next()
            .map(|metric| metric.unit().to_owned())
    };
    assert_eq!(
        unit("otel_log_bridge.export.retries").as_deref(),
        Some("{retry}")
    );
    assert_eq!(
        unit("otel.sdk.exporter.log.exported").as_deref(),
        Some("{log_record}")
    );
    assert_eq!(
        sum(
            "otel_log_bridge.log.volume",
            Some(("otel.scope.name", "billing"))
        ),
        1
    );
    assert_eq!(sum("otel_log_bridge.log.volume", None), stats.emitted);
    drop(guard);
    provider.shutdown().expect("meter provider shut down");
}

/// Regression: the counts `Stats` and the Prometheus text gave about
/// redaction, the rate limit, the spool, the queue's capacity and the
/// requests' durations had no OpenTelemetry instrument.
#[test]
fn every_count_of_the_prometheus_text_is_pushed_through_the_meter_too() {
    let (exporter, provider) = in_memory_meter();
    let (stats, receiver, guard) =
        run(otel_log_bridge::builder().with_meter(provider.meter("otel-log-bridge")));
    provider.force_flush().expect("metrics flushed");
    let metrics = exporter.get_finished_metrics().expect("metrics");
    let values = |name: &str| -> Vec<u64> {
        counter_points(&metrics, name)
            .into_iter()
            .map(|(_, value)| value)
            .collect()
    };
    assert_eq!(stats.redacted, 1, "the password");
    assert_eq!(values("otel_log_bridge.log.redacted"), [1]);
    assert_eq!(values("otel_log_bridge.log.suppressed"), [0]);
    assert_eq!(values("otel_log_bridge.spool.evicted"), [0]);
    assert_eq!(
        gauge_values(&metrics, "otel_log_bridge.queue.capacity"),
        [64 << 20]
    );
    // One export: a 503, then a partial success, which is no success.
    let mut durations: Vec<(Option<String>, u64)> =
        histogram_points(&metrics, "otel.sdk.exporter.operation.duration")
            .into_iter()
            .map(|(attributes, count)| {
                assert_eq!(
                    attribute(&attributes, "otel.component.type"),
                    Some("otlp_http_log_exporter")
                );
                // The collector's address, as the convention recommends.
                let server = format!(
                    "http://{}:{}",
                    attribute(&attributes, "server.address").expect("server.address"),
                    attribute(&attributes, "server.port").expect("server.port")
                );
                assert_eq!(server, receiver.endpoint());
                (
                    attribute(&attributes, "error.type").map(str::to_owned),
                    count,
                )
            })
            .collect();
    durations.sort();
    assert_eq!(durations, [(Some("rejected".to_owned()), 1)]);
    // Regression: the last bucket ended at 5 s, though an export lasts
    // until its last retry: every export of an outage fell past it.
    let bounds: Vec<f64> = named(&metrics, "otel.sdk.exporter.operation.duration")
        .filter_map(|metric| match metric.data() {
            AggregatedMetrics::F64(MetricData::Histogram(histogram)) => histogram
                .data_points()
                .next()
                .map(|point| point.bounds().collect::<Vec<f64>>()),
            _ => None,
        })
        .next()
        .expect("the duration histogram");
    assert_eq!(bounds.last(), Some(&1800.0), "{bounds:?}");
    assert!(bounds.contains(&60.0), "{bounds:?}");
    // Regression: the exported records' counts did not say which
    // collector they went to, though the convention recommends it there
    // too.
    let exported = counter_points(&metrics, "otel.sdk.exporter.log.exported");
    assert!(!exported.is_empty());
    for (attributes, _) in &exported {
        let server = format!(
            "http://{}:{}",
            attribute(attributes, "server.address").expect("server.address"),
            attribute(attributes, "server.port").expect("server.port")
        );
        assert_eq!(server, receiver.endpoint(), "{attributes:?}");
    }
    drop(guard);
    provider.shutdown().expect("meter provider shut down");
}

/// The rate limit's count reaches its instrument: a test of a count that
/// is not 0.
#[test]
fn events_the_rate_limit_suppressed_are_pushed_through_the_meter() {
    let (exporter, provider) = in_memory_meter();
    let builder = otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_rate_limit(otel_log_bridge::RateLimit::per_callsite(1, 1));
    let (_, stats) = crate::support::capture_with_guard(builder, |_| {
        // One second's allowance is one event: the rest of a burst is
        // suppressed.
        for _ in 0..10 {
            tracing::info!("one of a burst");
        }
        provider.force_flush().expect("metrics flushed");
    });
    assert!(stats.suppressed > 0, "{stats:?}");
    let metrics = exporter.get_finished_metrics().expect("metrics");
    let suppressed: Vec<u64> = counter_points(&metrics, "otel_log_bridge.log.suppressed")
        .into_iter()
        .map(|(_, value)| value)
        .collect();
    assert_eq!(suppressed, [stats.suppressed]);
    // Regression: the events suppressed were left out of the records
    // created, which the convention counts whatever becomes of them.
    let created: Vec<(Option<String>, u64)> = counter_points(&metrics, "otel.sdk.log.created")
        .into_iter()
        .filter(|(_, value)| *value > 0)
        .map(|(attributes, value)| {
            (
                attribute(&attributes, "log.severity").map(str::to_owned),
                value,
            )
        })
        .collect();
    assert_eq!(created, [(Some("INFO".to_owned()), 10)]);
    provider.shutdown().expect("meter provider shut down");
}

/// A processor that panics on the record whose `body` attribute asks it
/// to.
#[cfg(feature = "sdk")]
#[derive(Debug)]
struct PanicsOnOneRecord;

#[cfg(feature = "sdk")]
impl opentelemetry_sdk::logs::LogProcessor for PanicsOnOneRecord {
    fn emit(
        &self,
        record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        _scope: &opentelemetry::InstrumentationScope,
    ) {
        let asked = record.attributes_iter().any(|(key, value)| {
            key.as_str() == "body"
                && *value
                    == opentelemetry::logs::AnyValue::String(
                        "the processor panics on this one".into(),
                    )
        });
        assert!(!asked, "the processor panics on this one");
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// Regression: what became of the records offered to an application's
/// logger provider had no OpenTelemetry instrument.
#[cfg(feature = "sdk")]
#[test]
fn records_offered_to_a_logger_provider_are_counted_by_outcome() {
    let (exporter, provider) = in_memory_meter();
    let logger_provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_log_processor(PanicsOnOneRecord)
        .with_simple_exporter(opentelemetry_sdk::logs::InMemoryLogExporter::default())
        .build();
    let builder = otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_logger_provider(logger_provider);
    let (_, stats) = crate::support::capture_with_guard(builder, |_| {
        tracing::info!("handed over");
        tracing::info!("handed over too");
        tracing::info!(body = "the processor panics on this one", "not handed over");
        {
            // The SDK's logger declines records where telemetry is
            // suppressed.
            let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
            tracing::info!("declined");
        }
        // While the pipeline, which the metrics read, is running.
        provider.force_flush().expect("metrics flushed");
    });
    let metrics = exporter.get_finished_metrics().expect("metrics");
    let mut outcomes: Vec<(Option<String>, u64)> =
        counter_points(&metrics, "otel_log_bridge.logger_provider.log.emitted")
            .into_iter()
            .map(|(attributes, value)| {
                (
                    attribute(&attributes, "error.type").map(str::to_owned),
                    value,
                )
            })
            .collect();
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            (None, 2),
            (Some("declined".to_owned()), 1),
            (Some("emit_failed".to_owned()), 1)
        ]
    );
    assert_eq!((stats.declined, stats.failed), (1, 1));
    provider.shutdown().expect("meter provider shut down");
}

/// Regression: the SDK metrics added every output into one series without
/// `otel.component.type` or `otel.component.name`, so with two outputs
/// exported and processed came out at twice the records created, and the
/// collector's failures could not be told from a file's.
#[test]
fn sdk_metrics_keep_each_output_apart() {
    let (exporter, provider) = in_memory_meter();
    let (stats, _receiver, guard) = run(otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_json_writer(std::io::sink()));
    provider.force_flush().expect("metrics flushed");
    let metrics = exporter.get_finished_metrics().expect("metrics");
    // (component type, component name, error type, value), sorted.
    let series = |name: &str| -> Vec<(String, String, Option<String>, u64)> {
        let mut found: Vec<_> = counter_points(&metrics, name)
            .into_iter()
            .map(|(attributes, value)| {
                let text = |key: &str| attribute(&attributes, key).map(str::to_owned);
                (
                    text("otel.component.type").expect("a component type"),
                    text("otel.component.name").expect("a component name"),
                    text("error.type"),
                    value,
                )
            })
            .collect();
        found.sort();
        found
    };
    let exported: Vec<(String, u64)> = series("otel.sdk.exporter.log.exported")
        .into_iter()
        .filter(|(_, _, error, _)| error.is_none())
        .map(|(kind, _, _, value)| (kind, value))
        .collect();
    // The file took all 8; the collector accepted 7 and rejected one.
    assert_eq!(
        exported,
        [
            ("otel_log_bridge::json".to_owned(), 8),
            ("otlp_http_log_exporter".to_owned(), 7)
        ]
    );
    assert_eq!(stats.exported, 15);
    let rejected: Vec<_> = series("otel.sdk.exporter.log.exported")
        .into_iter()
        .filter(|(_, _, error, value)| error.as_deref() == Some("rejected") && *value > 0)
        .map(|(kind, ..)| kind)
        .collect();
    assert_eq!(rejected, ["otlp_http_log_exporter"]);
    let processed = series("otel.sdk.processor.log.processed");
    let names: std::collections::BTreeSet<&str> = processed
        .iter()
        .filter(|(kind, ..)| kind == "batching_log_processor")
        .map(|(_, name, ..)| name.as_str())
        .collect();
    assert_eq!(names.len(), 2, "one processor per output: {processed:?}");
    let retried: Vec<_> = series("otel_log_bridge.export.retries")
        .into_iter()
        .filter(|(.., value)| *value > 0)
        .map(|(kind, ..)| kind)
        .collect();
    assert_eq!(retried, ["otlp_http_log_exporter"]);
    drop(guard);
    provider.shutdown().expect("meter provider shut down");
}

/// A writer whose first write says it started, then waits until the test
/// lets it go: an export the worker has begun and not ended.
struct HeldWriter {
    started: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
    held: bool,
    /// Whether the write panics once let go, which stops the worker.
    panics_when_released: bool,
}

impl HeldWriter {
    /// The writer, what tells that its first write started, and what lets
    /// that write go.
    fn new(
        panics_when_released: bool,
    ) -> (
        HeldWriter,
        std::sync::mpsc::Receiver<()>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (started, write_started) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel();
        let writer = HeldWriter {
            started,
            release: released,
            held: false,
            panics_when_released,
        };
        (writer, write_started, release)
    }
}

impl std::io::Write for HeldWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.held {
            self.held = true;
            let _ = self.started.send(());
            let _ = self.release.recv();
            assert!(!self.panics_when_released, "the writer fails");
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Regression: a record counted as processed only once its export had
/// ended, so a collector that held exports made its processor look idle;
/// the convention counts it once it is handed to the exporter.
#[test]
fn a_record_is_processed_once_handed_to_its_exporter() {
    let (exporter, provider) = in_memory_meter();
    let (writer, export_started, release) = HeldWriter::new(false);
    let (layer, guard) = otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_json_writer(writer)
        .layer()
        .expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..3 {
            tracing::info!(i, "held by the writer");
        }
    });
    export_started.recv().expect("the worker writes");
    provider.force_flush().expect("metrics flushed");
    let metrics = exporter.get_finished_metrics().expect("metrics");
    let processed = latest_count(&metrics, "otel.sdk.processor.log.processed", None);
    assert!((1..=3).contains(&processed), "{processed}");
    assert_eq!(
        latest_count(&metrics, "otel.sdk.exporter.log.exported", None),
        0
    );
    release.send(()).expect("the writer waits");
    let stats = guard.shutdown();
    assert_eq!(stats.exported, 3);
    provider.shutdown().expect("meter provider shut down");
}

/// A writer whose first write panics, which stops its output's worker.
struct PanicsOnWrite;

impl std::io::Write for PanicsOnWrite {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        panic!("the writer fails")
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Regression: records dropped because an output's worker had stopped were
/// reported as dropped for a full queue.
#[test]
fn records_dropped_after_a_worker_stopped_are_not_called_a_full_queue() {
    let (exporter, provider) = in_memory_meter();
    let (layer, guard) = otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_json_writer(PanicsOnWrite)
        .layer()
        .expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("the write of this one panics");
        let _ = guard.flush();
        for _ in 0..3 {
            tracing::info!("after the worker stopped");
        }
    });
    provider.force_flush().expect("metrics flushed");
    let metrics = exporter.get_finished_metrics().expect("metrics");
    let dropped = |error_type| {
        latest_count(
            &metrics,
            "otel.sdk.processor.log.processed",
            Some(error_type),
        )
    };
    assert_eq!(dropped("queue_closed"), 3);
    assert_eq!(dropped("queue_full"), 0);
    assert_eq!(guard.stats().dropped, 3);
    drop(guard);
    provider.shutdown().expect("meter provider shut down");
}

/// Regression: the records still queued when a worker stopped were
/// counted as failed by the exporter, but never as processed: the
/// exporter's counts passed what its processor had passed on.
#[test]
fn records_queued_when_a_worker_stopped_are_processed_as_they_fail() {
    let (exporter, provider) = in_memory_meter();
    let (writer, write_started, release) = HeldWriter::new(true);
    let (layer, guard) = otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_json_writer(writer)
        // The flush below times out, the writer holding its record.
        .with_shutdown_timeout(Duration::from_millis(200))
        .layer()
        .expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("being written when the writer fails");
        let _ = guard.flush();
        write_started.recv().expect("the worker writes");
        for _ in 0..3 {
            tracing::info!("queued behind it");
        }
    });
    release.send(()).expect("the writer waits");
    // Fails once the worker has stopped (each try waits at most 200 ms).
    let stopped =
        (0..100).any(|_| matches!(guard.flush(), Err(otel_log_bridge::FlushError::Failed(_))));
    assert!(stopped);
    let stats = guard.stats();
    assert_eq!((stats.emitted, stats.failed), (4, 4), "{stats:?}");
    provider.force_flush().expect("metrics flushed");
    drop(guard);
    let metrics = exporter.get_finished_metrics().expect("metrics");
    assert_eq!(
        latest_count(
            &metrics,
            "otel.sdk.exporter.log.exported",
            Some("worker_panicked")
        ),
        4
    );
    assert_eq!(
        latest_count(&metrics, "otel.sdk.processor.log.processed", None),
        4
    );
    provider.shutdown().expect("meter provider shut down");
}

/// Regression: two pipelines on one meter (two bridge layers, or a
/// pipeline built again) gave `otel.sdk.log.created`,
/// `otel_log_bridge.log.volume` and `otel_log_bridge.queue.bytes` the same
/// attributes, and the SDK kept the count of whichever callback ran last:
/// 10 000 records of one pipeline could read as the other's 2.
#[test]
fn two_pipelines_on_one_meter_keep_their_own_counts() {
    let (exporter, provider) = in_memory_meter();
    let meter = provider.meter("otel-log-bridge");
    let pipeline = |records: usize| {
        let (layer, guard) = otel_log_bridge::builder()
            .with_meter(meter.clone())
            .with_target_metrics(true)
            .with_json_writer(std::io::sink())
            .layer()
            .expect("valid configuration");
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            for _ in 0..records {
                tracing::info!("one of many");
            }
        });
        guard
    };
    let guards = [pipeline(5), pipeline(2)];
    provider.force_flush().expect("metrics flushed");
    let metrics = exporter.get_finished_metrics().expect("metrics");
    for name in ["otel.sdk.log.created", "otel_log_bridge.log.volume"] {
        // Severities nothing was logged at have points of 0.
        let mut counts: Vec<(String, u64)> = counter_points(&metrics, name)
            .into_iter()
            .filter(|(_, value)| *value > 0)
            .map(|(attributes, value)| {
                let pipeline = attribute(&attributes, "otel.component.name")
                    .expect("the pipeline's name")
                    .to_owned();
                assert_eq!(
                    attribute(&attributes, "otel.component.type"),
                    Some("otel_log_bridge"),
                    "{attributes:?}"
                );
                (pipeline, value)
            })
            .collect();
        counts.sort_by_key(|(_, value)| *value);
        assert_eq!(counts.len(), 2, "{name}: {counts:?}");
        assert_ne!(counts[0].0, counts[1].0, "{name}: {counts:?}");
        assert_eq!([counts[0].1, counts[1].1], [2, 5], "{name}");
    }
    // The queue's bytes, one series per queue.
    let mut queues = Vec::new();
    for metric in named(&metrics, "otel_log_bridge.queue.bytes") {
        if let AggregatedMetrics::U64(MetricData::Gauge(gauge)) = metric.data() {
            for point in gauge.data_points() {
                let name = point
                    .attributes()
                    .find(|kv| kv.key.as_str() == "otel.component.name")
                    .map(|kv| kv.value.as_str().into_owned());
                queues.push(name.expect("the queue's name"));
            }
        }
    }
    queues.sort();
    queues.dedup();
    assert_eq!(queues.len(), 2, "{queues:?}");
    drop(guards);
    provider.shutdown().expect("meter provider shut down");
}

/// Regression: every target was counted by name, so `log` targets made at
/// run time grew a metric series each for as long as the process lived.
/// Past the limit, records count in one series marked as the SDK marks
/// its own overflow.
#[test]
fn targets_past_the_limit_count_in_the_overflow_series() {
    const TARGETS: u64 = 2100;
    let (exporter, provider) = in_memory_meter();
    let builder = otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_target_metrics(true);
    let (_, stats) = crate::support::capture_with_guard(builder, |_| {
        for tenant in 0..TARGETS {
            log::info!(target: &format!("tenant-{tenant}"), "hello");
        }
        provider.force_flush().expect("metrics flushed");
    });
    assert_eq!(stats.emitted, TARGETS);
    assert!(stats.by_target.len() <= 2001, "{}", stats.by_target.len());
    let metrics = exporter.get_finished_metrics().expect("metrics");
    let points = counter_points(&metrics, "otel_log_bridge.log.volume");
    let total: u64 = points.iter().map(|(_, value)| value).sum();
    assert_eq!(total, TARGETS);
    let overflow: u64 = points
        .iter()
        .filter(|(attributes, _)| attribute(attributes, "otel.metric.overflow") == Some("true"))
        .map(|(_, value)| value)
        .sum();
    assert!(overflow >= TARGETS - 2000, "{overflow}");
    assert!(
        points
            .iter()
            .all(|(attributes, _)| attribute(attributes, "otel.scope.name")
                != Some("[other targets]"))
    );
    provider.shutdown().expect("meter provider shut down");
}

/// Regression: `otel_log_bridge.log.volume` has a series per target and
/// severity, and past the OpenTelemetry SDK's limit of 2000 series the SDK
/// folded the rest into its overflow series keeping the last value, not
/// their sum: the metric's total fell short of the records emitted. The
/// bridge folds the series past its own limit, summed, per severity.
#[test]
fn the_volume_metric_stays_under_the_sdk_series_limit_and_adds_up() {
    const TARGETS: u64 = 450;
    const LEVELS: [log::Level; 5] = [
        log::Level::Trace,
        log::Level::Debug,
        log::Level::Info,
        log::Level::Warn,
        log::Level::Error,
    ];
    let (exporter, provider) = in_memory_meter();
    let builder = otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_target_metrics(true);
    let (_, stats) = crate::support::capture_with_guard(builder, |_| {
        for tenant in 0..TARGETS {
            for level in LEVELS {
                log::log!(target: &format!("tenant-{tenant}"), level, "hello");
            }
        }
        provider.force_flush().expect("metrics flushed");
    });
    let records = TARGETS * LEVELS.len() as u64;
    assert_eq!(stats.emitted, records);
    let metrics = exporter.get_finished_metrics().expect("metrics");
    let points = counter_points(&metrics, "otel_log_bridge.log.volume");
    assert!(points.len() < 2000, "{} series", points.len());
    let total: u64 = points.iter().map(|(_, value)| value).sum();
    assert_eq!(total, records);
    let overflow: Vec<_> = points
        .iter()
        .filter(|(attributes, _)| attribute(attributes, "otel.metric.overflow") == Some("true"))
        .collect();
    // One overflow series per severity at most, each naming its severity.
    assert!(
        !overflow.is_empty() && overflow.len() <= LEVELS.len(),
        "{overflow:?}"
    );
    for (attributes, _) in &overflow {
        assert!(
            attribute(attributes, "log.severity").is_some(),
            "{attributes:?}"
        );
        assert_eq!(attribute(attributes, "otel.scope.name"), None);
    }
    let named = points.len() - overflow.len();
    let folded: u64 = overflow.iter().map(|(_, value)| value).sum();
    assert_eq!(folded, records - named as u64);
    provider.shutdown().expect("meter provider shut down");
}

/// The spool's evictions reach their instrument, a test of a count that is
/// not 0, and so does what the spool holds. With the collector down, each
/// flush spools one request of a 4 KiB block, and a budget of two blocks
/// keeps the last two.
#[cfg(feature = "spool")]
#[test]
fn records_the_spool_evicted_and_holds_are_pushed_through_the_meter() {
    const FLUSHES: u64 = 4;
    const PER_FLUSH: u64 = 10;
    let (exporter, provider) = in_memory_meter();
    let collector = crate::support::dead_endpoint();
    let dir = crate::support::temp_path("spool-evictions-metered");
    let _ = std::fs::remove_dir_all(&dir);
    let (layer, guard) = otel_log_bridge::builder()
        .with_meter(provider.meter("otel-log-bridge"))
        .with_otlp_endpoint(collector.url())
        .with_spool_dir(&dir)
        .with_spool_budget(2 * 4096)
        // Each flush ends once its request is spooled, synced to disk
        // included, which a busy machine may take long for; the shutdown
        // retries the backlog for as long, the collector being down.
        .with_shutdown_timeout(Duration::from_secs(3))
        .layer()
        .expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for flush in 0..FLUSHES {
            for record in 0..PER_FLUSH {
                tracing::info!(flush, record, "spooled while the collector is down");
            }
            guard.flush().expect("flushed into the spool");
        }
    });
    let stats = guard.stats();
    assert_eq!(
        stats.spool_evicted,
        (FLUSHES - 2) * PER_FLUSH,
        "the oldest requests: {stats:?}"
    );
    // The two newest requests are kept, a block each.
    assert_eq!(
        (stats.spooled, stats.spooled_bytes),
        (2 * PER_FLUSH, 2 * 4096),
        "{stats:?}"
    );
    provider.force_flush().expect("metrics flushed");
    let metrics = exporter.get_finished_metrics().expect("metrics");
    let evicted: Vec<u64> = counter_points(&metrics, "otel_log_bridge.spool.evicted")
        .into_iter()
        .map(|(_, value)| value)
        .collect();
    assert_eq!(evicted, [stats.spool_evicted]);
    // Regression: the records the spool evicted were handed to the
    // exporter, and their export never counted as finished.
    let evicted_exports: Vec<u64> = counter_points(&metrics, "otel.sdk.exporter.log.exported")
        .into_iter()
        .filter(|(attributes, _)| attribute(attributes, "error.type") == Some("spool_evicted"))
        .map(|(_, value)| value)
        .collect();
    assert_eq!(evicted_exports, [stats.spool_evicted]);
    assert_eq!(
        gauge_values(&metrics, "otel_log_bridge.spool.records"),
        [stats.spooled]
    );
    assert_eq!(
        gauge_values(&metrics, "otel_log_bridge.spool.size"),
        [stats.spooled_bytes]
    );
    let prometheus = stats.to_prometheus();
    for (name, value) in [
        (
            "otel_log_bridge_spool_records_evicted_total",
            stats.spool_evicted,
        ),
        ("otel_log_bridge_spool_records", stats.spooled),
        ("otel_log_bridge_spool_bytes", stats.spooled_bytes),
    ] {
        assert!(
            prometheus.contains(&format!("\n{name} {value}\n")),
            "{name}: {prometheus}"
        );
    }
    drop(guard);
    provider.shutdown().expect("meter provider shut down");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A writer whose reader is gone.
struct ClosedPipe;

impl std::io::Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Regression: every failed export carried `error.type` `export_failed`,
/// where the convention asks for the failure's cause: the status the
/// collector answered (its number over HTTP, its name over gRPC), or what
/// the output's writer said.
#[test]
fn failed_exports_carry_their_cause_as_error_type() {
    use otel_log_bridge::Protocol;

    let http = Receiver::http();
    http.respond_with([Response::Status {
        code: 400,
        retry_after: None,
    }]);
    let grpc = Receiver::grpc();
    grpc.respond_with([Response::Grpc {
        code: tonic::Code::InvalidArgument,
        retry_after: None,
    }]);
    let cases = [
        (
            otel_log_bridge::builder()
                .with_otlp_endpoint(format!("{}/v1/logs", http.endpoint()))
                .with_otlp_protocol(Protocol::HttpProtobuf),
            "400",
            true,
        ),
        (
            otel_log_bridge::builder()
                .with_otlp_endpoint(grpc.endpoint())
                .with_otlp_protocol(Protocol::Grpc),
            "INVALID_ARGUMENT",
            true,
        ),
        (
            otel_log_bridge::builder().with_json_writer(ClosedPipe),
            "broken_pipe",
            false,
        ),
    ];
    for (builder, cause, sends_requests) in cases {
        let (exporter, provider) = in_memory_meter();
        let (layer, guard) = builder
            .with_meter(provider.meter("otel-log-bridge"))
            .layer()
            .expect("valid configuration");
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("refused");
        });
        let _ = guard.flush();
        provider.force_flush().expect("metrics flushed");
        let metrics = exporter.get_finished_metrics().expect("metrics");
        let failed: Vec<(Option<String>, u64)> =
            counter_points(&metrics, "otel.sdk.exporter.log.exported")
                .into_iter()
                .filter(|(attributes, value)| {
                    *value > 0 && attribute(attributes, "error.type").is_some()
                })
                .map(|(attributes, value)| {
                    (
                        attribute(&attributes, "error.type").map(str::to_owned),
                        value,
                    )
                })
                .collect();
        assert_eq!(failed, [(Some(cause.to_owned()), 1)], "{cause}");
        if sends_requests {
            let durations: Vec<Option<String>> =
                histogram_points(&metrics, "otel.sdk.exporter.operation.duration")
                    .into_iter()
                    .map(|(attributes, _)| attribute(&attributes, "error.type").map(str::to_owned))
                    .collect();
            assert_eq!(durations, [Some(cause.to_owned())], "{cause}");
        }
        drop(guard);
        provider.shutdown().expect("meter provider shut down");
    }
}
