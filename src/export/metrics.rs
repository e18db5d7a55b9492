//! Metrics about the logs, pushed through an OpenTelemetry `Meter`: the
//! application's `MeterProvider` exports them with its other metrics.
//!
//! The instruments are observable: their callbacks read the pipeline's
//! counters when the metrics are collected, so the per-event path does no
//! extra work. The one exception, the export duration histogram, has no
//! observable form: the OTLP workers record into it as each export ends.
//! Names follow the OpenTelemetry SDK self-observability
//! conventions (`otel.sdk.*`) where they define one, and use the
//! `otel_log_bridge.*` namespace otherwise.

use std::borrow::Cow;
use std::sync::{Arc, Weak};

#[cfg(feature = "otlp")]
use opentelemetry::metrics::Histogram;
use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge};
use opentelemetry::KeyValue;

#[cfg(feature = "otlp")]
use crate::export::otlp::ExportEnd;
use crate::export::stats::OTHER_TARGETS;
use crate::export::{Component, Pipeline, SinkCounts};

/// Keeps the registered instruments alive for as long as the guard.
#[derive(Debug)]
pub(crate) struct LogMetrics {
    _counters: Vec<ObservableCounter<u64>>,
    _gauges: Vec<ObservableGauge<u64>>,
}

/// `otel.sdk.exporter.operation.duration` for one OTLP output: a
/// histogram has no observable form, so the output's worker records each
/// export into it as the export ends.
#[cfg(feature = "otlp")]
#[derive(Debug)]
pub(crate) struct ExportDuration {
    histogram: Histogram<f64>,
    exporter: Component,
    /// The collector's `server.address` and `server.port`.
    server: Vec<KeyValue>,
    succeeded: Vec<KeyValue>,
    rejected: Vec<KeyValue>,
}

#[cfg(feature = "otlp")]
impl ExportDuration {
    /// The histogram's points for `exporter`, which sends to `endpoint`.
    pub(crate) fn new(
        histogram: Histogram<f64>,
        exporter: Component,
        endpoint: &str,
    ) -> ExportDuration {
        let server = server_attributes(endpoint);
        ExportDuration {
            histogram,
            exporter,
            succeeded: with_server(exporter, None, &server),
            rejected: with_server(exporter, Some(Cow::Borrowed("rejected")), &server),
            server,
        }
    }

    /// The collector's `server.address` and `server.port`, which the
    /// exporter's other metrics carry too.
    pub(crate) fn server(&self) -> &[KeyValue] {
        &self.server
    }

    /// Records one export that took `seconds`, first attempt to last, and
    /// ended as `end` says.
    pub(crate) fn record(&self, seconds: f64, end: ExportEnd) {
        match end {
            ExportEnd::Succeeded => self.histogram.record(seconds, &self.succeeded),
            ExportEnd::Rejected => self.histogram.record(seconds, &self.rejected),
            // Made for each failed export, which is rare: the causes are
            // many.
            ExportEnd::Failed(cause) => {
                let attributes = with_server(self.exporter, Some(cause.error_type()), &self.server);
                self.histogram.record(seconds, &attributes);
            }
        }
    }
}

/// The attributes of an exporter's observation: its component, `error.type`
/// when it failed, and the collector's `server.*`.
fn with_server(
    exporter: Component,
    error: Option<Cow<'static, str>>,
    server: &[KeyValue],
) -> Vec<KeyValue> {
    let mut attributes = component(exporter, error);
    attributes.extend_from_slice(server);
    attributes
}

/// `server.address` and `server.port` of the collector at `endpoint` (an
/// absolute URL, checked at `init`), which the convention recommends; the
/// port is the scheme's when the URL gives none.
#[cfg(feature = "otlp")]
fn server_attributes(endpoint: &str) -> Vec<KeyValue> {
    let Ok(uri) = endpoint.parse::<ureq::http::Uri>() else {
        return Vec::new();
    };
    let mut attributes = Vec::new();
    if let Some(host) = uri.host() {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        attributes.push(KeyValue::new("server.address", host.to_owned()));
    }
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    if let Some(port) = port {
        attributes.push(KeyValue::new("server.port", i64::from(port)));
    }
    attributes
}

/// The buckets of `otel.sdk.exporter.operation.duration`: those of each
/// request's latency (`Stats::export_latency`), and longer ones, since an
/// export lasts from its first attempt to its last, the waits between
/// retries included: a collector that is down for a minute would put
/// every export of that minute past the last of a request's buckets.
#[cfg(feature = "otlp")]
const EXPORT_DURATION_BOUNDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0,
];

/// The histogram of `otel.sdk.exporter.operation.duration`, made before
/// the outputs start (see [`crate::export::WorkerMetrics`]).
#[cfg(feature = "otlp")]
pub(crate) fn export_duration_histogram(meter: &Meter) -> Histogram<f64> {
    meter
        .f64_histogram("otel.sdk.exporter.operation.duration")
        .with_description(
            "How long each export to a collector took, from its first attempt to its last; error.type rejected for a partial success, else the cause of a failure (an HTTP status, a gRPC status name, timeout...).",
        )
        .with_unit("s")
        .with_boundaries(EXPORT_DURATION_BOUNDS.to_vec())
        .build()
}

/// Reads the observations of one instrument from the pipeline's counters:
/// each value with its attributes. The second argument is what says which
/// pipeline they are about.
trait Observe: Fn(&Pipeline, &[KeyValue]) -> Vec<(u64, Vec<KeyValue>)> + Send + Sync + 'static {}

impl<F> Observe for F where
    F: Fn(&Pipeline, &[KeyValue]) -> Vec<(u64, Vec<KeyValue>)> + Send + Sync + 'static
{
}

/// What an observable counter of a pipeline is registered with.
struct Instruments<'a> {
    meter: &'a Meter,
    pipeline: &'a Arc<Pipeline>,
    /// The attributes that name the pipeline itself.
    bridge: Arc<[KeyValue]>,
}

/// Registers an observable counter that reports what `observe` reads.
fn counter(
    instruments: &Instruments<'_>,
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    observe: impl Observe,
) -> ObservableCounter<u64> {
    let pipeline: Weak<Pipeline> = Arc::downgrade(instruments.pipeline);
    let bridge = Arc::clone(&instruments.bridge);
    instruments
        .meter
        .u64_observable_counter(name)
        .with_description(description)
        .with_unit(unit)
        .with_callback(move |observer| {
            if let Some(pipeline) = pipeline.upgrade() {
                for (value, attributes) in observe(&pipeline, &bridge) {
                    observer.observe(value, &attributes);
                }
            }
        })
        .build()
}

/// How many series of `otel_log_bridge.log.volume` name their target, per
/// pipeline: with the overflow series (one per severity), fewer than the
/// OpenTelemetry SDK's default limit of 2000 series per metric. Past that
/// limit the SDK would fold the series itself, and for an observable
/// counter it keeps the last value folded, not their sum.
const NAMED_VOLUME_SERIES: usize = 1990;

/// The series of `otel_log_bridge.log.volume` that name their target: the
/// first [`NAMED_VOLUME_SERIES`] seen, for as long as the pipeline lives,
/// so that a series never moves into the overflow series (a count that
/// would seem to go back) as more targets come.
#[derive(Default)]
struct VolumeSeries {
    /// Each named target with its named severities (a bit per range of
    /// [`crate::SeverityCounts::iter`]), and how many series that is.
    named: std::sync::Mutex<(std::collections::HashMap<String, u8>, usize)>,
}

impl VolumeSeries {
    /// Each (target, severity) count, folded into one overflow series per
    /// severity past the named ones: `(count, Some(target), severity)` for
    /// a named series, `(count, None, severity)` for an overflow one.
    fn observe(
        &self,
        by_target: Vec<(String, crate::SeverityCounts)>,
        limit: usize,
    ) -> Vec<(u64, Option<String>, &'static str)> {
        let mut named = self
            .named
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (targets, series_named) = &mut *named;
        let mut series = Vec::new();
        let mut overflow: Vec<(u64, &'static str)> = Vec::new();
        for (target, counts) in by_target {
            for (index, (severity, count)) in counts.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let bit = 1u8 << index;
                let kept = target != OTHER_TARGETS
                    && match targets.get(&target) {
                        Some(bits) if bits & bit != 0 => true,
                        _ if *series_named < limit => {
                            *targets.entry(target.clone()).or_default() |= bit;
                            *series_named += 1;
                            true
                        }
                        _ => false,
                    };
                if kept {
                    series.push((count, Some(target.clone()), severity));
                } else {
                    match overflow.iter_mut().find(|(_, folded)| *folded == severity) {
                        Some((sum, _)) => *sum += count,
                        None => overflow.push((count, severity)),
                    }
                }
            }
        }
        series.extend(
            overflow
                .into_iter()
                .map(|(count, severity)| (count, None, severity)),
        );
        series
    }
}

/// The attributes that say which component an observation is about,
/// with `error.type` when it counts failures.
fn component(part: Component, error: Option<Cow<'static, str>>) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("otel.component.type", part.kind),
        KeyValue::new("otel.component.name", part.name()),
    ];
    match error {
        Some(Cow::Borrowed(error)) => attributes.push(KeyValue::new("error.type", error)),
        Some(Cow::Owned(error)) => attributes.push(KeyValue::new("error.type", error)),
        None => {}
    }
    attributes
}

/// Registers the log-volume and pipeline-health instruments on `meter`.
///
/// Every observation says which pipeline or which of its outputs it is
/// about: the SDK keeps the last value an observable counter's callbacks
/// gave for each set of attributes, so two pipelines of one process (two
/// bridge layers, or a pipeline built again) that gave the same set would
/// each overwrite the other's count.
pub(crate) fn register(meter: &Meter, pipeline: &Arc<Pipeline>) -> LogMetrics {
    let bridge: Arc<[KeyValue]> = component(Component::new("otel_log_bridge"), None).into();
    let instruments = Instruments {
        meter,
        pipeline,
        bridge: Arc::clone(&bridge),
    };
    let counters = vec![
        counter(
            &instruments,
            "otel.sdk.log.created",
            "Log records the bridge was given, by severity: those it produced, and the events the rate limit suppressed.",
            "{log_record}",
            // The convention counts every record submitted, also those
            // dropped later on: the top of the delivery funnel. An event
            // the rate limit suppresses was submitted, and is counted.
            |pipeline, bridge| {
                let mut created = pipeline.emitted_by_severity();
                if let Some(storm) = &pipeline.storm {
                    created.add(storm.suppressed_by_severity());
                }
                created
                    .iter()
                    .map(|(severity, count)| {
                        let mut attributes = bridge.to_vec();
                        attributes.push(KeyValue::new("log.severity", severity));
                        (count, attributes)
                    })
                    .collect()
            },
        ),
        counter(
            &instruments,
            "otel_log_bridge.log.volume",
            "Log records the bridge produced, by target (scope) and severity, when turned on.",
            "{log_record}",
            {
                let volume = VolumeSeries::default();
                move |pipeline: &Pipeline, bridge: &[KeyValue]| {
                    volume
                        .observe(pipeline.emitted_by_target(), NAMED_VOLUME_SERIES)
                        .into_iter()
                        .map(|(count, target, severity)| {
                            let mut attributes = bridge.to_vec();
                            // The records of targets past the limits form
                            // the overflow series, marked as the SDK marks
                            // its own.
                            attributes.push(match target {
                                Some(target) => KeyValue::new("otel.scope.name", target),
                                None => KeyValue::new("otel.metric.overflow", true),
                            });
                            attributes.push(KeyValue::new("log.severity", severity));
                            (count, attributes)
                        })
                        .collect()
                }
            },
        ),
        counter(
            &instruments,
            "otel.sdk.exporter.log.exported",
            "Log records whose export finished, by exporter; failures carry their cause as error.type (rejected for a partial success).",
            "{log_record}",
            // With the collector's `server.*`, which the convention
            // recommends, as the export durations carry them.
            |pipeline, _| {
                pipeline
                    .sink_counts()
                    .flat_map(|sink| {
                        let attributes = |error| with_server(sink.exporter, error, &sink.server);
                        // One series per cause of failure, as the
                        // convention asks for its `error.type`.
                        let failed = sink.failed_by_cause.iter().map(|(cause, records)| {
                            (*records, attributes(Some(cause.error_type())))
                        });
                        // Records the spool evicted for its budget were
                        // handed to the exporter and are lost: their export
                        // finished, as a failure.
                        [
                            (sink.exported, attributes(None)),
                            (sink.rejected, attributes(Some(Cow::Borrowed("rejected")))),
                            (
                                sink.spool_evicted,
                                attributes(Some(Cow::Borrowed("spool_evicted"))),
                            ),
                        ]
                        .into_iter()
                        .chain(failed)
                        .collect::<Vec<_>>()
                    })
                    .collect()
            },
        ),
        counter(
            &instruments,
            "otel.sdk.processor.log.processed",
            "Log records each queue passed on to its exporter, or dropped (error.type queue_full; already_shutdown after its shutdown; queue_closed after its worker stopped).",
            "{log_record}",
            // The convention counts every record whose processing finished,
            // the successful ones without `error.type`: with those left out,
            // the share of failures would read as all of them. A record is
            // processed once handed to the exporter, not once its export
            // ends: a collector that is down holds exports for long.
            |pipeline, _| {
                pipeline
                    .sink_counts()
                    .flat_map(|sink| {
                        [
                            (sink.handed_over, component(sink.processor, None)),
                            (sink.dropped_full, component(sink.processor, Some(Cow::Borrowed("queue_full")))),
                            (
                                sink.dropped_shut_down,
                                component(sink.processor, Some(Cow::Borrowed("already_shutdown"))),
                            ),
                            (
                                sink.dropped_closed,
                                component(sink.processor, Some(Cow::Borrowed("queue_closed"))),
                            ),
                        ]
                    })
                    .collect()
            },
        ),
        counter(
            &instruments,
            "otel_log_bridge.log.redacted",
            "Values redacted: of keys that name a secret, tokens found by value redaction, and values withheld because their serialization failed.",
            "{value}",
            |pipeline, bridge| vec![(pipeline.redactor.redacted(), bridge.to_vec())],
        ),
        counter(
            &instruments,
            "otel_log_bridge.log.suppressed",
            "Events not recorded because their callsite exceeded the rate limit.",
            "{log_record}",
            |pipeline, bridge| {
                let suppressed = pipeline.storm.as_ref().map_or(0, |storm| storm.suppressed());
                vec![(suppressed, bridge.to_vec())]
            },
        ),
        counter(
            &instruments,
            "otel_log_bridge.spool.evicted",
            "Spooled records evicted because the spool reached its size budget, by exporter.",
            "{log_record}",
            |pipeline, _| {
                pipeline
                    .sink_counts()
                    .map(|sink| (sink.spool_evicted, component(sink.exporter, None)))
                    .collect()
            },
        ),
        #[cfg(feature = "sdk")]
        counter(
            &instruments,
            "otel_log_bridge.logger_provider.log.emitted",
            "Log records offered to the application's logger provider: handed over; declined by its processors (error.type declined); or not handed over (error.type emit_failed).",
            "{log_record}",
            |pipeline, bridge| {
                let Some(sdk) = &pipeline.sdk else {
                    return Vec::new();
                };
                let with_error = |error: &'static str| {
                    let mut attributes = bridge.to_vec();
                    attributes.push(KeyValue::new("error.type", error));
                    attributes
                };
                vec![
                    (sdk.emitted(), bridge.to_vec()),
                    (sdk.declined(), with_error("declined")),
                    (sdk.failed(), with_error("emit_failed")),
                ]
            },
        ),
        counter(
            &instruments,
            "otel_log_bridge.export.retries",
            "Export attempts that were retried, by exporter.",
            // Attempts, not records: a retried request holds a whole batch.
            "{retry}",
            |pipeline, _| {
                pipeline
                    .sink_counts()
                    .map(|sink| (sink.retries, component(sink.exporter, None)))
                    .collect()
            },
        ),
    ];
    // Each gauge reads a value of each output, and the component it is
    // about: the queue (the processor) or the spool (the exporter's).
    let gauge = |name: &'static str,
                 description: &'static str,
                 unit: &'static str,
                 read: fn(&SinkCounts) -> (u64, Component)| {
        let pipeline: Weak<Pipeline> = Arc::downgrade(pipeline);
        meter
            .u64_observable_gauge(name)
            .with_description(description)
            .with_unit(unit)
            .with_callback(move |observer| {
                if let Some(pipeline) = pipeline.upgrade() {
                    for sink in pipeline.sink_counts() {
                        let (value, part) = read(&sink);
                        observer.observe(value, &component(part, None));
                    }
                }
            })
            .build()
    };
    #[cfg_attr(not(feature = "spool"), allow(unused_mut))]
    let mut gauges = vec![
        gauge(
            "otel_log_bridge.queue.bytes",
            "Bytes held by each export queue.",
            "By",
            |sink| (sink.queued_bytes, sink.processor),
        ),
        gauge(
            "otel_log_bridge.queue.capacity",
            "Bytes each export queue may hold; records that do not fit are dropped.",
            "By",
            |sink| (sink.queue_budget, sink.processor),
        ),
    ];
    #[cfg(feature = "spool")]
    gauges.extend([
        gauge(
            "otel_log_bridge.spool.records",
            "Log records each exporter's spool holds, waiting to be replayed.",
            "{log_record}",
            |sink| (sink.spooled, sink.exporter),
        ),
        gauge(
            "otel_log_bridge.spool.size",
            "Bytes the records of each exporter's spool take on disk.",
            "By",
            |sink| (sink.spooled_bytes, sink.exporter),
        ),
    ]);
    LogMetrics {
        _counters: counters,
        _gauges: gauges,
    }
}
