//! Installing the bridge, and the guard that keeps it running.

use std::fmt;
use std::sync::Arc;

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::EnvFilter;

use crate::capture::storm::StormControl;
use crate::capture::{install_panic_hook, BridgeLayer};
use crate::config::{env, Builder, Exporter, Resolved, WRITER_FLUSH_INTERVAL};
use crate::error::InitError;
use crate::export::{self, FlushError, Pipeline, SinkSettings, Stats};

/// Installs the bridge with the configuration from the environment and
/// returns the guard that flushes it on drop.
///
/// This sets the global `tracing` subscriber (a `Registry` with an
/// `EnvFilter` from `RUST_LOG`, default `info`, and the bridge layer), the
/// global `log` logger, and a panic hook (none when `OTEL_SDK_DISABLED` is
/// `true`: a disabled bridge exports nothing, panics included).
///
/// # Panics
///
/// When [`try_init`] would return an error, with that error's message.
///
/// ```no_run
/// let _guard = otel_log_bridge::init();
/// tracing::info!(user.id = 42, "signed in");
/// ```
pub fn init() -> Guard {
    crate::builder().init()
}

/// Like [`init`], but returns an error instead of panicking.
///
/// # Errors
///
/// [`InitError::SubscriberAlreadySet`] or [`InitError::LoggerAlreadySet`]
/// when something else was installed first; [`InitError::InvalidConfig`]
/// for a setting that cannot be used: an OTLP endpoint that is not an
/// `http://` or `https://` URL (gRPC also takes `host:port`), or one with
/// a user name or password in it, a TLS certificate or key file of an
/// `https://` endpoint that cannot be read or holds no PEM data, a client
/// certificate without its key (or a key without its certificate), an
/// exporter or protocol this
/// build leaves out (`otlp` without the `otlp` feature, `grpc` without
/// `grpc`), or a setting given in code that cannot be used (malformed
/// variables that can be ignored are reported on stderr instead);
/// [`InitError::Worker`] when the export thread (or the gRPC runtime)
/// cannot start.
pub fn try_init() -> Result<Guard, InitError> {
    crate::builder().try_init()
}

/// Keeps the bridge's export running; dropping it flushes everything queued
/// (waiting at most the shutdown timeout, default 5 s) and tells the
/// background workers to stop. A worker still busy when the timeout runs
/// out is not waited for: it finishes its last cycle on its own (each
/// remaining batch tried once, a spool's backlog replayed) while the
/// program goes on.
///
/// Keep it alive for as long as the program logs, typically as
/// `let _guard = otel_log_bridge::init();` in `main`. Events logged after
/// the guard is dropped are ignored.
///
/// `std::process::exit` runs no destructor, so a guard still alive then
/// (or kept in a `static`) flushes nothing: what was queued since the last
/// export (up to the schedule delay, 1 s by default for OTLP) is lost.
/// Shut down first:
///
/// ```no_run
/// let guard = otel_log_bridge::init();
/// tracing::error!("cannot continue");
/// drop(guard.shutdown());
/// std::process::exit(1);
/// ```
///
/// A process that forks after `init` leaves the export workers in the
/// parent: the child's records are queued for nobody, and dropping its
/// guard waits for the whole shutdown timeout. Fork first (as daemonizing
/// does), then call `init` in the process that logs.
#[must_use = "dropping the guard flushes and stops the export: bind it with `let _guard = …`"]
pub struct Guard {
    pipeline: Arc<Pipeline>,
    #[cfg(feature = "metrics")]
    _metrics: export::metrics::LogMetrics,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Guard {
    /// Writes or exports everything emitted so far, waiting at most the
    /// shutdown timeout.
    ///
    /// # Errors
    ///
    /// [`FlushError::Timeout`] when the outputs did not take everything in
    /// time (the records stay queued and are retried);
    /// [`FlushError::Failed`] when one of them could not flush at all, or
    /// when this is called on one of the crate's own threads (from a
    /// writer given to the builder, say), where it would wait for itself.
    /// `Ok` says every record was handed to its destination, not that the
    /// destination accepted it: [`Guard::stats`] says which were exported,
    /// failed or rejected. With a spool, a record the collector could not
    /// take now counts as handed over once it is written to the spool, to
    /// be sent when the collector is back (or by the next start).
    pub fn flush(&self) -> Result<(), FlushError> {
        self.pipeline.flush()
    }

    /// The pipeline's counters: emitted, exported, dropped, failed, ….
    ///
    /// ```no_run
    /// let guard = otel_log_bridge::init();
    /// tracing::info!("work done");
    /// let stats = guard.stats();
    /// if stats.dropped > 0 || stats.failed > 0 {
    ///     eprintln!("logs were lost: {stats:?}");
    /// }
    /// ```
    pub fn stats(&self) -> Stats {
        self.pipeline.stats()
    }

    /// Does what dropping the guard does (flush within the shutdown
    /// timeout, stop the workers) and returns the counters as they are when
    /// it stops waiting: records that could not be delivered in time are in
    /// `failed`, or, when a request was still waiting for the collector as
    /// the timeout ran out, in `queued_bytes`. Such a request's records
    /// move to `failed` (or `exported`) when it ends, which can be shortly
    /// after this returns. With a spool, records written to it are in
    /// none of these: they are on disk, for the next start to send.
    ///
    /// ```no_run
    /// let guard = otel_log_bridge::init();
    /// tracing::info!("last words");
    /// let stats = guard.shutdown();
    /// eprintln!("{} of {} records exported", stats.exported, stats.emitted);
    /// ```
    pub fn shutdown(self) -> Stats {
        self.pipeline.shutdown();
        self.pipeline.stats()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.pipeline.shutdown();
    }
}

/// Whether a global `tracing` subscriber is set. `dispatcher::has_been_set`
/// says so too after any scoped subscriber (`with_default`, `set_default`),
/// which leaves the global one free; a new thread sees no scoped one, only
/// the global subscriber, or none.
fn global_subscriber_is_set() -> bool {
    std::thread::Builder::new()
        .name("otel-log-bridge-init".to_owned())
        .spawn(|| {
            tracing::dispatcher::get_default(|dispatch| {
                !dispatch.is::<tracing::subscriber::NoSubscriber>()
            })
        })
        .ok()
        .and_then(|probe| probe.join().ok())
        // Without a thread to ask, the broader answer stands.
        .unwrap_or_else(tracing::dispatcher::has_been_set)
}

impl Builder {
    /// Installs the bridge globally; see [`init`](crate::init).
    ///
    /// # Panics
    ///
    /// When [`try_init`](Builder::try_init) would return an error, with that
    /// error's message and its causes.
    pub fn init(self) -> Guard {
        match self.try_init() {
            Ok(guard) => guard,
            Err(error) => panic!("otel-log-bridge: {}", crate::error::WithCauses(&error)),
        }
    }

    /// Installs the bridge globally; see [`try_init`](crate::try_init).
    ///
    /// # Errors
    ///
    /// As [`try_init`](crate::try_init). Nothing stays installed when an
    /// error is returned, with one exception neither `log` nor `tracing`
    /// lets the crate undo: when another thread installs a global
    /// subscriber between this call's check and its own installation (or
    /// when the global subscriber is a `NoSubscriber`, which the check
    /// cannot tell from none), the `log` bridge it installed just before
    /// stays, and ignores records.
    pub fn try_init(self) -> Result<Guard, InitError> {
        // The diagnostics level the configuration sets is put back when
        // it fails, as everything else is.
        let level = crate::diag::saved_level();
        self.install().inspect_err(|_| level.restore())
    }

    fn install(mut self) -> Result<Guard, InitError> {
        if global_subscriber_is_set() {
            return Err(InitError::SubscriberAlreadySet);
        }
        let resolved = self.resolve()?;
        let filter = self.env_filter()?;
        let capture = self.capture.clone();
        let (layer, guard) = self.start(&resolved)?;
        if self.log_bridge {
            // Dropping `guard` on this error path stops the workers again.
            log::set_boxed_logger(Box::new(layer.log_bridge()))
                .map_err(|_| InitError::LoggerAlreadySet)?;
        }
        let subscriber = tracing_subscriber::registry().with(filter).with(layer);
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|_| InitError::SubscriberAlreadySet)?;
        // Another logger, kept with `with_log_bridge(false)`, keeps its own
        // level.
        if self.log_bridge {
            log::set_max_level(log_level_filter(
                tracing::level_filters::LevelFilter::current(),
            ));
        }
        // Installed last, so that a failed `try_init` leaves no hook behind.
        if self.panic_hook && !resolved.disabled {
            install_panic_hook(&guard.pipeline, capture);
        }
        Ok(guard)
    }

    /// Builds the layer for a subscriber you compose yourself, with the
    /// guard that flushes it. Keep the guard for as long as the layer
    /// should export: `let (layer, _) = …` drops it at once, which shuts
    /// the pipeline down (the first event then says on stderr that events
    /// are discarded). Nothing global is installed: no subscriber,
    /// no logger (see [`BridgeLayer::log_bridge`]), no panic hook (see
    /// [`BridgeLayer::install_panic_hook`]), and the filter set with
    /// [`with_env_filter`](Builder::with_env_filter) is not used (a warning
    /// on stderr says so: add the filter to your subscriber instead).
    ///
    /// # Errors
    ///
    /// [`InitError::InvalidConfig`] or [`InitError::Worker`], as
    /// [`try_init`](crate::try_init).
    pub fn layer(mut self) -> Result<(BridgeLayer, Guard), InitError> {
        let level = crate::diag::saved_level();
        // Resolved first: the diagnostics level it applies governs this
        // warning too.
        let resolved = self.resolve().inspect_err(|_| level.restore())?;
        if let Some(directives) = &self.filter {
            crate::diag::warn(format_args!(
                "Builder::with_env_filter({directives:?}) is not used by Builder::layer(): add the filter to your subscriber"
            ));
        }
        self.start(&resolved).inspect_err(|_| level.restore())
    }

    fn start(&mut self, resolved: &Resolved) -> Result<(BridgeLayer, Guard), InitError> {
        let settings = SinkSettings {
            queue_budget: self.queue_budget,
            max_queue_records: None,
            interval: WRITER_FLUSH_INTERVAL,
        };
        // Asked for before the outputs start, whose workers record into
        // some of its instruments from their first export.
        #[cfg(feature = "metrics")]
        let meter = self
            .meter
            .take()
            .unwrap_or_else(|| opentelemetry::global::meter("otel-log-bridge"));
        #[cfg(feature = "otlp")]
        let worker_metrics = export::WorkerMetrics {
            #[cfg(feature = "metrics")]
            export_duration: Some(export::metrics::export_duration_histogram(&meter)),
        };
        let mut sinks = Vec::new();
        for exporter in &resolved.exporters {
            let sink = match exporter {
                Exporter::Json => {
                    let writer = self.json_writer.take().unwrap_or(export::Output::Stdout);
                    export::json_sink(&resolved.resource, writer, &settings)
                }
                Exporter::Console => {
                    // Standard error is not held locked for a chunk as
                    // standard output is: the crate's own warnings and the
                    // panic hook write there, and must not wait for a
                    // stream nobody reads; its lines are for people.
                    let writer = self
                        .console_writer
                        .take()
                        .unwrap_or_else(|| Box::new(std::io::stderr()));
                    let writer = export::Output::Writer(writer);
                    export::console_sink(writer, &settings)
                }
                #[cfg(feature = "otlp")]
                Exporter::OtlpJson => {
                    let writer = self
                        .otlp_json_writer
                        .take()
                        .unwrap_or(export::Output::Stdout);
                    export::otlp_json_sink(&resolved.resource, writer, &settings)
                }
                #[cfg(feature = "otlp")]
                Exporter::Otlp => match &resolved.otlp {
                    Some(otlp) => {
                        sinks.push(export::otlp_sink(
                            &resolved.resource,
                            otlp,
                            self.queue_budget,
                            &worker_metrics,
                        )?);
                        continue;
                    }
                    None => continue,
                },
            };
            // On error, the sinks already started stop as `sinks` drops.
            sinks.push(sink.map_err(InitError::Worker)?);
        }
        let pipeline = Pipeline::new(sinks, self.shutdown_timeout)
            .with_target_counts(self.target_metrics)
            .with_redaction(self.capture.redaction.clone())
            .with_storm_control(
                self.rate_limit
                    .flatten()
                    .map(|limit| StormControl::new(limit, self.capture.clone())),
            );
        #[cfg(feature = "sdk")]
        let pipeline = match self.logger_provider.take() {
            Some(provider) if !resolved.disabled => pipeline.with_sdk(provider),
            _ => pipeline,
        };
        let pipeline = Arc::new(pipeline);
        let layer = BridgeLayer::new(Arc::clone(&pipeline), self.capture.clone());
        #[cfg(feature = "metrics")]
        let metrics = export::metrics::register(&meter, &pipeline);
        Ok((
            layer,
            Guard {
                pipeline,
                #[cfg(feature = "metrics")]
                _metrics: metrics,
            },
        ))
    }

    /// The filter [`try_init`](Builder::try_init) installs: code, then
    /// `RUST_LOG`, then `info`.
    fn env_filter(&self) -> Result<EnvFilter, InitError> {
        if let Some(directives) = &self.filter {
            let trimmed = trimmed_directives(directives);
            // `EnvFilter` takes no directive for "off": every event would
            // be dropped without a word, where the likelier meaning is a
            // setting left empty.
            if trimmed.is_empty() {
                return Err(InitError::invalid(
                    "Builder::with_env_filter",
                    format!(
                        "{directives:?} names no directive (to log nothing, give \"off\"; to use RUST_LOG, do not call it)"
                    ),
                ));
            }
            return EnvFilter::builder().parse(trimmed).map_err(|error| {
                InitError::invalid("Builder::with_env_filter", error.to_string())
            });
        }
        let from_env = self
            .env
            .get(env::RUST_LOG)
            .map(|directives| (trimmed_directives(&directives), directives))
            // A value of commas and blanks names no directive: as unset.
            .filter(|(trimmed, _)| !trimmed.is_empty());
        match from_env {
            Some((trimmed, directives)) => EnvFilter::builder().parse(trimmed).or_else(|error| {
                env::report_invalid(
                    env::RUST_LOG,
                    &directives,
                    &format!("EnvFilter directives ({error})"),
                    "info",
                );
                Ok(EnvFilter::new("info"))
            }),
            None => Ok(EnvFilter::new("info")),
        }
    }
}

/// `EnvFilter` directives with the blanks around each one removed, and
/// empty ones left out. `tracing-subscriber` splits directives at commas
/// but keeps the blanks: `"info "` (a line break or space left by a `.env`
/// file, a YAML block or a unit file) would parse, with no error, as a
/// directive for a target named `info ` that no event has, turning every
/// record off without a word.
fn trimmed_directives(directives: &str) -> String {
    directives
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

fn log_level_filter(level: tracing::level_filters::LevelFilter) -> log::LevelFilter {
    use tracing::level_filters::LevelFilter;
    match level {
        LevelFilter::OFF => log::LevelFilter::Off,
        LevelFilter::ERROR => log::LevelFilter::Error,
        LevelFilter::WARN => log::LevelFilter::Warn,
        LevelFilter::INFO => log::LevelFilter::Info,
        LevelFilter::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::Env;

    /// The directives of the filter `init` would install, as
    /// `tracing-subscriber` prints them.
    fn installed_filter(code: Option<&str>, rust_log: &str) -> Result<String, InitError> {
        let mut builder = crate::builder();
        builder.env = Env::from_pairs(&[(env::RUST_LOG, rust_log)]);
        if let Some(directives) = code {
            builder = builder.with_env_filter(directives);
        }
        builder.env_filter().map(|filter| filter.to_string())
    }

    /// Regression: `RUST_LOG="info\n"` (a line break left by a YAML block
    /// or a `.env` file) parsed as a directive for a target named `info\n`,
    /// which no event has: every record was turned off, and nothing said
    /// so.
    #[test]
    fn blanks_around_rust_log_directives_are_not_part_of_them() {
        assert_eq!(installed_filter(None, "info\n").unwrap(), "info");
        assert_eq!(
            installed_filter(None, " app=debug , info ").unwrap(),
            "app=debug,info"
        );
        // Commas and blanks alone name no directive: as unset.
        assert_eq!(installed_filter(None, " , ").unwrap(), "info");
        assert_eq!(
            installed_filter(Some(" noisy=warn,\tinfo "), "trace").unwrap(),
            "noisy=warn,info"
        );
    }

    /// Regression: directives given in code that name none (an empty
    /// setting passed on) made a filter with no directive, which turns
    /// every event off, and nothing said so.
    #[test]
    fn code_directives_that_name_none_are_an_error() {
        for blank in ["", " ", " , "] {
            let error = installed_filter(Some(blank), "debug").unwrap_err();
            assert!(
                matches!(&error, InitError::InvalidConfig { setting, message }
                    if setting == "Builder::with_env_filter" && message.contains("names no directive")),
                "{error:?}"
            );
        }
        assert_eq!(installed_filter(Some("off"), "debug").unwrap(), "off");
    }
}
