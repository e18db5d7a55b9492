//! Configuration: the builder, the environment, and how they combine.
//!
//! Precedence is the same for every setting: code (the [`Builder`]) beats
//! environment variables, which beat defaults.

pub(crate) mod env;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;
mod resource;

use std::fmt;
use std::io::Write;
use std::time::Duration;

use crate::capture::{CaptureOptions, SpanFields};
use crate::diag::{self, DiagLevel};
use crate::error::InitError;

pub(crate) use self::env::Env;
#[cfg(feature = "otlp")]
pub use self::otlp::{Compression, Protocol};
#[cfg(feature = "fuzzing")]
pub(crate) use self::resource::parse_resource_attributes;
pub use self::resource::AttributeValue;
pub(crate) use self::resource::Resource;
use self::resource::ResourceInputs;

/// An output the bridge can write records to, as named by
/// `OTEL_LOGS_EXPORTER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Exporter {
    /// Flat JSON lines (`json`), on stdout unless a writer is given.
    Json,
    /// Human-readable lines for development (`console`), on stderr so they
    /// never mix into a JSON stream on stdout.
    Console,
    /// OTLP to a collector (`otlp`), configured by the `with_otlp_*`
    /// builder methods and the `OTEL_EXPORTER_OTLP_*` variables.
    #[cfg(feature = "otlp")]
    Otlp,
    /// OTLP-JSON lines (`otlp/stdout`): one `LogsData` object per line, on
    /// stdout unless a writer is given, for the collector's `otlpjsonfile`
    /// receiver or `otlpjson` connector.
    #[cfg(feature = "otlp")]
    OtlpJson,
}

impl Exporter {
    #[cfg(feature = "otlp")]
    const ACCEPTED: &'static str = "otlp, otlp/stdout, json, console, none";
    #[cfg(not(feature = "otlp"))]
    const ACCEPTED: &'static str = "json, console, none";

    /// The outputs `list` names, in order and without repeats. As the
    /// specification requires of enum values, an unknown name is reported
    /// and ignored; `None` when no name was recognised, which leaves the
    /// default in force. A known name this build leaves out (`otlp` without
    /// the `otlp` feature) is an error instead: ignoring it would send the
    /// records elsewhere, where the fix is a feature of the build.
    fn parse_list(list: &str) -> Result<Option<Vec<Exporter>>, InitError> {
        let mut exporters = Vec::new();
        let mut recognised = false;
        let mut saw_none = false;
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let exporter = match name.to_ascii_lowercase().as_str() {
                "json" => Exporter::Json,
                "console" => Exporter::Console,
                #[cfg(feature = "otlp")]
                "otlp" => Exporter::Otlp,
                #[cfg(feature = "otlp")]
                "otlp/stdout" => Exporter::OtlpJson,
                #[cfg(not(feature = "otlp"))]
                "otlp" | "otlp/stdout" => {
                    return Err(InitError::invalid(
                        env::LOGS_EXPORTER,
                        format!(
                        "{name:?} needs the crate's `otlp` feature, which this build leaves out"
                    ),
                    ))
                }
                "none" => {
                    recognised = true;
                    saw_none = true;
                    continue;
                }
                _ => {
                    diag::warn(format_args!(
                        "{}: ignoring unknown exporter {name:?} (accepted: {})",
                        env::LOGS_EXPORTER,
                        Self::ACCEPTED
                    ));
                    continue;
                }
            };
            recognised = true;
            if !exporters.contains(&exporter) {
                exporters.push(exporter);
            }
        }
        if saw_none && !exporters.is_empty() {
            // The list contradicts itself; the exporters it names win, as
            // losing records is the worse mistake.
            diag::warn(format_args!(
                "{}={list:?} names \"none\" beside other exporters; ignoring \"none\"",
                env::LOGS_EXPORTER
            ));
        }
        Ok(recognised.then_some(exporters))
    }

    /// The name `OTEL_LOGS_EXPORTER` gives this output.
    fn name(self) -> &'static str {
        match self {
            Exporter::Json => "json",
            Exporter::Console => "console",
            #[cfg(feature = "otlp")]
            Exporter::Otlp => "otlp",
            #[cfg(feature = "otlp")]
            Exporter::OtlpJson => "otlp/stdout",
        }
    }
}

/// Code configuration for the bridge, ending in [`init`](Builder::init),
/// [`try_init`](Builder::try_init) or [`layer`](Builder::layer).
///
/// Everything set here beats the corresponding environment variable.
///
/// ```no_run
/// use std::time::Duration;
///
/// let _guard = otel_log_bridge::builder()
///     .with_service_name("checkout")
///     .with_resource_attribute("deployment.environment.name", "staging")
///     .with_env_filter("info,checkout=debug")
///     .with_span_fields(otel_log_bridge::SpanFields::only(["http.route"]))
///     .with_shutdown_timeout(Duration::from_secs(2))
///     .init();
/// ```
#[must_use = "a builder does nothing until `init`, `try_init` or `layer` is called"]
pub struct Builder {
    pub(crate) service_name: Option<String>,
    pub(crate) resource_attributes: Vec<(String, AttributeValue)>,
    pub(crate) json_writer: Option<crate::export::Output>,
    pub(crate) console_writer: Option<Box<dyn Write + Send>>,
    #[cfg(feature = "otlp")]
    pub(crate) otlp_json_writer: Option<crate::export::Output>,
    pub(crate) exporters: Option<Vec<Exporter>>,
    pub(crate) filter: Option<String>,
    pub(crate) capture: CaptureOptions,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) panic_hook: bool,
    pub(crate) log_bridge: bool,
    pub(crate) queue_budget: usize,
    pub(crate) target_metrics: bool,
    pub(crate) redacted_keys: Option<Vec<String>>,
    /// `with_redacted_keys` was given words, all of them blank.
    pub(crate) redacted_keys_blank: bool,
    /// `Some(None)`: turned off in code, whatever the environment says.
    pub(crate) rate_limit: Option<Option<crate::capture::storm::RateLimit>>,
    pub(crate) attribute_count_limit: Option<usize>,
    pub(crate) attribute_value_length_limit: Option<usize>,
    pub(crate) legacy_code_attributes: Option<bool>,
    /// What `with_runtime_lint` said, when it was called.
    pub(crate) runtime_lint_in_code: Option<bool>,
    pub(crate) disabled: Option<bool>,
    pub(crate) diagnostics: Option<DiagLevel>,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: otlp::OtlpOptions,
    #[cfg(feature = "sdk")]
    pub(crate) logger_provider: Option<opentelemetry_sdk::logs::SdkLoggerProvider>,
    #[cfg(feature = "metrics")]
    pub(crate) meter: Option<opentelemetry::metrics::Meter>,
    pub(crate) env: Env,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("service_name", &self.service_name)
            .field("resource_attributes", &self.resource_attributes)
            .field("json_writer", &self.json_writer.as_ref().map(|_| "custom"))
            .field("exporters", &self.exporters)
            .field("filter", &self.filter)
            .field("capture", &self.capture)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("panic_hook", &self.panic_hook)
            .field("log_bridge", &self.log_bridge)
            .field("queue_budget", &self.queue_budget)
            .finish_non_exhaustive()
    }
}

/// Starts a [`Builder`] with the defaults.
pub fn builder() -> Builder {
    Builder::default()
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            service_name: None,
            resource_attributes: Vec::new(),
            json_writer: None,
            console_writer: None,
            #[cfg(feature = "otlp")]
            otlp_json_writer: None,
            exporters: None,
            filter: None,
            capture: CaptureOptions::default(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            panic_hook: true,
            log_bridge: true,
            queue_budget: DEFAULT_QUEUE_BUDGET,
            target_metrics: false,
            redacted_keys: None,
            redacted_keys_blank: false,
            rate_limit: None,
            attribute_count_limit: None,
            attribute_value_length_limit: None,
            legacy_code_attributes: None,
            runtime_lint_in_code: None,
            disabled: None,
            diagnostics: None,
            #[cfg(feature = "otlp")]
            otlp: otlp::OtlpOptions::default(),
            #[cfg(feature = "sdk")]
            logger_provider: None,
            #[cfg(feature = "metrics")]
            meter: None,
            env: Env::process(),
        }
    }
}

/// How long dropping the guard may wait for records to be written.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The memory the queues may hold, whatever the record sizes.
pub(crate) const DEFAULT_QUEUE_BUDGET: usize = 64 * 1024 * 1024;
/// How often the JSON and console writers are flushed at the latest.
pub(crate) const WRITER_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

impl Builder {
    /// Sets `service.name`, beating `OTEL_SERVICE_NAME` and a `service.name`
    /// given to [`with_resource_attribute`](Builder::with_resource_attribute).
    /// A blank name makes [`try_init`](Builder::try_init) and
    /// [`layer`](Builder::layer) return
    /// [`InitError::InvalidConfig`](crate::InitError::InvalidConfig) (and
    /// [`init`](Builder::init) panic with it).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute, beating the same key in
    /// `OTEL_RESOURCE_ATTRIBUTES`. An empty or blank key, or a
    /// `service.name` that is blank or not a string, makes [`try_init`](Builder::try_init) and
    /// [`layer`](Builder::layer) return
    /// [`InitError::InvalidConfig`](crate::InitError::InvalidConfig) (and
    /// [`init`](Builder::init) panic with it).
    pub fn with_resource_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<AttributeValue>,
    ) -> Self {
        self.resource_attributes.push((key.into(), value.into()));
        self
    }

    /// Writes the JSON lines to `writer` instead of stdout. Unless
    /// [`with_exporters`](Builder::with_exporters) says otherwise, giving a
    /// JSON writer selects the JSON exporter whatever `OTEL_LOGS_EXPORTER`
    /// says.
    ///
    /// The writer is used from a background thread, which flushes it at
    /// least every 100 ms and when the guard is dropped. Give it unbuffered
    /// (a `File`, not a `BufWriter` around one): the thread writes whole
    /// batches already, and counts a record as exported or failed by what
    /// its write and flush say, which a buffer in between blurs (a failed
    /// flush counts every record of the batch as failed, though the buffer
    /// may write some of them later). A write or flush that answers
    /// [`WouldBlock`](std::io::ErrorKind::WouldBlock) is tried again after
    /// a pause, as a blocking writer would wait, until shortly (at most
    /// 100 ms) before the shutdown deadline, so that what it could not
    /// write is counted as failed by then. Standard output, given as
    /// `std::io::stdout()` or by default, is locked from the first byte of
    /// a batch to its last, so that a line another thread prints cannot
    /// land inside a record's; a writer around it is written as it is.
    pub fn with_json_writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.json_writer = Some(crate::export::Output::of(writer));
        self
    }

    /// Writes the console format to `writer` instead of stderr. Unless
    /// [`with_exporters`](Builder::with_exporters) says otherwise, giving a
    /// console writer selects the console exporter, whatever
    /// `OTEL_LOGS_EXPORTER` says. Writers and an OTLP endpoint given in code
    /// add up: each selects its own exporter.
    pub fn with_console_writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.console_writer = Some(Box::new(writer));
        self
    }

    /// Writes OTLP-JSON lines to `writer` (a file, say) instead of stdout.
    /// Unless [`with_exporters`](Builder::with_exporters) says otherwise,
    /// this selects the `otlp/stdout` exporter.
    #[cfg(feature = "otlp")]
    pub fn with_otlp_json_writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.otlp_json_writer = Some(crate::export::Output::of(writer));
        self
    }

    /// Chooses the outputs, beating `OTEL_LOGS_EXPORTER`. An empty list
    /// exports nothing, like `OTEL_LOGS_EXPORTER=none`.
    ///
    /// ```no_run
    /// use otel_log_bridge::Exporter;
    ///
    /// // JSON lines for the container's log collector, and human-readable
    /// // lines on stderr for whoever is watching.
    /// let _guard = otel_log_bridge::builder()
    ///     .with_exporters([Exporter::Json, Exporter::Console])
    ///     .init();
    /// ```
    pub fn with_exporters(mut self, exporters: impl IntoIterator<Item = Exporter>) -> Self {
        let mut chosen: Vec<Exporter> = Vec::new();
        for exporter in exporters {
            if !chosen.contains(&exporter) {
                chosen.push(exporter);
            }
        }
        self.exporters = Some(chosen);
        self
    }

    /// Sets the `EnvFilter` directives [`init`](Builder::init) installs,
    /// beating `RUST_LOG` (default: `info`). An invalid directive, or none
    /// at all (an empty or blank string; `"off"` turns logging off), is an
    /// [`InitError`]. [`layer`](Builder::layer) brings no filter: it
    /// ignores this, and says so on stderr.
    pub fn with_env_filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Some(directives.into());
        self
    }

    /// Chooses which enclosing-span fields each record carries (default:
    /// all).
    pub fn with_span_fields(mut self, span_fields: SpanFields) -> Self {
        self.capture.span_fields = span_fields;
        self
    }

    /// Whether records carry `code.file.path` and `code.line.number`
    /// (default: yes).
    pub fn with_code_attributes(mut self, enabled: bool) -> Self {
        self.capture.code_attributes = enabled;
        self
    }

    /// Whether records also carry the deprecated names of the source
    /// location beside the current ones: `code.filepath`, `code.lineno`
    /// and, on panic records, `code.column` (default: no). Beats
    /// `OTEL_SEMCONV_STABILITY_OPT_IN=code/dup`, for backends that still
    /// query the old names.
    pub fn with_legacy_code_attributes(mut self, enabled: bool) -> Self {
        self.legacy_code_attributes = Some(enabled);
        self
    }

    /// Whether records carry `thread.id` and `thread.name` (default: yes).
    pub fn with_thread_attributes(mut self, enabled: bool) -> Self {
        self.capture.thread_attributes = enabled;
        self
    }

    /// Replaces the list of keys whose values are redacted (replaced by
    /// `"[REDACTED]"` before any output sees them, and counted in
    /// [`Stats::redacted`](crate::Stats::redacted)). A key is redacted when
    /// one of its dot-separated segments ends in a word of the list,
    /// ignoring case: its last `_`, `-` or camelCase parts (an acronym
    /// being one part) are the word, once parts that only say how a secret
    /// is held (`_value`, `_header`, `_b64`…) are looked past. With the
    /// default list ([`DEFAULT_REDACTED_KEYS`](crate::DEFAULT_REDACTED_KEYS)),
    /// `db.password`, `db_password`, `DBPassword`, `stripe_api_key`,
    /// `authorization_header` and `http.request.header.authorization` are
    /// redacted, `token_count` is not. An empty list turns redaction off; words that
    /// are all blank (an empty setting split on commas, say) do not, and
    /// are reported on stderr instead. Beats
    /// `OTEL_LOG_BRIDGE_REDACTED_KEYS` (a comma list; `none` turns it off).
    ///
    /// Words are compared ignoring the `_` and `-` between their parts, so
    /// `access_token` also redacts `accessToken`; a dotted word such as
    /// `user.ssn` redacts a key whose segments include it in a row
    /// (`app.user.ssn`). Inside maps and lists each key is matched on its
    /// own: a dotted word does not reach `ssn` inside a `user` map. A `log`
    /// value captured with `:serde`, or a `valuable` field, whose
    /// serialization fails becomes `"[withheld: serialization failed]"`
    /// (and counts as redacted): its text would hold what it serialized
    /// before failing, or its `Debug` text, where no key can be matched,
    /// and its error may quote the value. With redaction off (an empty
    /// list), such a value is that text, unless part of it nests more than
    /// 64 levels deep: then it is `"[nested too deep]"`, since its text
    /// would be made without a depth bound.
    pub fn with_redacted_keys<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut given = 0;
        let words: Vec<String> = words
            .into_iter()
            .inspect(|_| given += 1)
            .map(|word| word.into().trim().to_ascii_lowercase())
            .filter(|word| !word.is_empty())
            .collect();
        // Blank words are a slip more likely than a wish to export
        // secrets: they leave the list to the environment and the default.
        self.redacted_keys_blank = given > 0 && words.is_empty();
        self.redacted_keys = (!self.redacted_keys_blank).then_some(words);
        self
    }

    /// Whether bearer tokens (`Bearer …`) and JSON Web Tokens are redacted
    /// inside the body and every string value too, and in the keys of maps
    /// (default: off, as it scans every string of every record).
    pub fn with_value_redaction(mut self, enabled: bool) -> Self {
        self.capture.redaction.values = enabled;
        self
    }

    /// Limits how many events each callsite may emit, beating
    /// `OTEL_LOG_BRIDGE_RATE_LIMIT` (`<per second>[,<burst>]`; default: no
    /// limit). Events over the limit are dropped and counted in
    /// [`Stats::suppressed`](crate::Stats::suppressed). A WARN record
    /// (`otel_log_bridge.suppressed`) says how many were suppressed, with
    /// the callsite's location (its `code.*` attributes, unless
    /// `with_code_attributes(false)` turned them off): when the callsite is
    /// let through again (at most once a second while a storm lasts), with
    /// the thread of the event let through; when the storm has ended (a
    /// second with nothing suppressed) and another event or `log` record
    /// comes, other than OpenTelemetry's own (within about two seconds of
    /// the storm's last event, as long as others come); and at shutdown.
    /// `log`
    /// records are not limited, whether
    /// they come through the crate's `log` bridge or `tracing-log`: they
    /// have no callsite of their own.
    ///
    /// ```no_run
    /// use otel_log_bridge::RateLimit;
    ///
    /// // 100 events a second from each callsite, bursts of up to 1000.
    /// let _guard = otel_log_bridge::builder()
    ///     .with_rate_limit(RateLimit::per_callsite(100, 1000))
    ///     .init();
    /// ```
    pub fn with_rate_limit(mut self, limit: crate::capture::storm::RateLimit) -> Self {
        self.rate_limit = Some(Some(limit));
        self
    }

    /// No rate limit, whatever `OTEL_LOG_BRIDGE_RATE_LIMIT` says (the
    /// default when it is unset).
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = Some(None);
        self
    }

    /// Counts emitted records per target (instrumentation scope) and
    /// severity in [`Stats::by_target`](crate::Stats::by_target), the
    /// Prometheus text and the OpenTelemetry metrics (default: off: it costs
    /// a hash and an uncontended lock per record, and targets can be many).
    ///
    /// At most 2000 targets are counted by name (fewer when their names'
    /// hashes fall unevenly; the bound is kept per shard of the counters):
    /// the records of further targets (`log` targets made at run time,
    /// say) count together under the target `[other targets]`, and the
    /// OpenTelemetry metric marks them `otel.metric.overflow=true` instead
    /// of naming a scope. The metric `otel_log_bridge.log.volume` has a
    /// series per target and severity, and names at most 1990 of them, the
    /// first seen, so as to stay under the OpenTelemetry SDK's default
    /// cardinality limit of 2000 series per metric (past it, the SDK would
    /// keep one value of those it folds, not their sum): the records of
    /// further series count in one overflow series per severity, also
    /// marked `otel.metric.overflow=true`. The bound is the pipeline's:
    /// two pipelines with target metrics on one meter can pass the SDK's
    /// limit together (give each a meter of its own, or raise the limit
    /// with a view). `Stats::by_target` and the Prometheus text name every
    /// target counted by name.
    pub fn with_target_metrics(mut self, enabled: bool) -> Self {
        self.target_metrics = enabled;
        self
    }

    /// At most this many attributes per record, beating
    /// `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT` (default 128). Attributes
    /// past the limit are dropped and counted in the record's
    /// `dropped_attributes_count`, in the OTLP and JSON outputs: the log
    /// record of a provider given to `with_logger_provider` (feature
    /// `sdk`) has no such count, so there they are dropped uncounted.
    pub fn with_attribute_count_limit(mut self, limit: usize) -> Self {
        self.attribute_count_limit = Some(limit);
        self
    }

    /// Cuts string attribute values to this many characters (on character
    /// boundaries) and byte values to this many bytes, beating
    /// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT` (default: no limit).
    /// A limit of `isize::MAX` or more, which no value can reach, is the
    /// same as no limit.
    pub fn with_attribute_value_length_limit(mut self, limit: usize) -> Self {
        self.attribute_value_length_limit = Some(limit);
        self
    }

    /// Whether each callsite is checked when it is first used, with the
    /// rules of the [`lint`](crate::lint) module that need no source code:
    /// reserved, badly named and secret-looking keys (OLB003–OLB005),
    /// warn/error events without `name:` (OLB009, when turned on with
    /// [`with_lint_rule`](Builder::with_lint_rule)), and callsites whose
    /// message changes from event to event (OLB001). Findings are printed
    /// once per callsite on stderr, never exported. Default: on in debug
    /// builds, off in release builds.
    ///
    /// The check sees callsites, not source code, so the source linter's
    /// `// otel-log-lint: allow(…)` comments and `otel-log-lint.toml` do
    /// not apply to it, and it checks the callsites of dependencies too: a
    /// rule is turned off here with [`with_lint_rule`](Builder::with_lint_rule).
    pub fn with_runtime_lint(mut self, enabled: bool) -> Self {
        self.capture.lint.enabled = enabled;
        self.runtime_lint_in_code = Some(enabled);
        self
    }

    /// Turns one rule of the runtime lint on or off, over its default
    /// level (rules that are `allow` by default, like OLB009, are off).
    /// The runtime lint checks OLB001, OLB003–OLB005 and OLB009 (see
    /// [`with_runtime_lint`](Builder::with_runtime_lint)); the other rules
    /// need source code, so setting them here changes nothing.
    pub fn with_lint_rule(mut self, rule: crate::lint::Rule, enabled: bool) -> Self {
        self.capture.lint.overrides.push((rule, enabled));
        self
    }

    /// Exports nothing when `true`: the subscriber is installed (so other
    /// layers still run) but no output, OTLP connection or panic hook is
    /// set up, as with `OTEL_SDK_DISABLED=true`. Beats the variable either
    /// way.
    ///
    /// ```no_run
    /// // Logging off in unit tests, whatever the environment says.
    /// let _guard = otel_log_bridge::builder()
    ///     .with_disabled(cfg!(test))
    ///     .init();
    /// ```
    pub fn with_disabled(mut self, disabled: bool) -> Self {
        self.disabled = Some(disabled);
        self
    }

    /// How much the crate reports about itself on stderr (configuration
    /// it ignored, exports that keep failing, dropped records): `OFF`,
    /// `ERROR`, `WARN`, `INFO` (the default) or `DEBUG` (`TRACE` reads as
    /// `DEBUG`). Beats `OTEL_LOG_LEVEL`. The setting is process-wide: the
    /// last pipeline built sets it.
    ///
    /// ```no_run
    /// use tracing::level_filters::LevelFilter;
    ///
    /// let _guard = otel_log_bridge::builder()
    ///     .with_diagnostics(LevelFilter::ERROR)
    ///     .init();
    /// ```
    pub fn with_diagnostics(mut self, level: tracing::level_filters::LevelFilter) -> Self {
        use tracing::level_filters::LevelFilter;
        self.diagnostics = Some(match level {
            LevelFilter::OFF => DiagLevel::None,
            LevelFilter::ERROR => DiagLevel::Error,
            LevelFilter::WARN => DiagLevel::Warn,
            LevelFilter::INFO => DiagLevel::Info,
            _ => DiagLevel::Debug,
        });
        self
    }

    /// How long dropping the [`Guard`](crate::Guard) (or a flush) may wait
    /// for queued records to be written (default: 5 s). Zero does not wait:
    /// a flush reports a timeout at once, and the records still queued when
    /// the guard is dropped get one attempt each, with no retry and no wait
    /// for an output that would block, if the process goes on long enough
    /// (what is not delivered is counted in
    /// [`Stats::failed`](crate::Stats::failed) when the worker can tell);
    /// nothing is said about them at shutdown, as the wait it would report
    /// was not asked for.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether [`init`](Builder::init) installs a panic hook that records
    /// each panic as a FATAL record and flushes it, waiting at most 250 ms
    /// (default: yes). The hook calls the previously installed hook
    /// afterwards. A logger provider given to `with_logger_provider` is
    /// handed the record on the panicking thread, outside that bound: a
    /// processor that exports as it is handed a record (a
    /// `SimpleLogProcessor`) makes the hook wait for its export.
    pub fn with_panic_hook(mut self, enabled: bool) -> Self {
        self.panic_hook = enabled;
        self
    }

    /// Whether [`init`](Builder::init) installs the `log` bridge as the
    /// global logger (default: yes).
    pub fn with_log_bridge(mut self, enabled: bool) -> Self {
        self.log_bridge = enabled;
        self
    }

    /// Sends OTLP to this URL, beating `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`
    /// and `OTEL_EXPORTER_OTLP_ENDPOINT`. For HTTP it is the full URL
    /// (`http://collector:4318/v1/logs`), as the logs-specific variable is;
    /// a URL without a path (`http://collector:4318`) is used as given, and
    /// a warning says the collector's path is missing. Selects the OTLP
    /// exporter unless
    /// [`with_exporters`](Builder::with_exporters) says otherwise.
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// // The full URL: nothing is appended to it.
    /// let _guard = otel_log_bridge::builder()
    ///     .with_otlp_endpoint("https://collector.internal:4318/v1/logs")
    ///     .with_otlp_header("x-tenant", "checkout")
    ///     .with_otlp_timeout(Duration::from_secs(5))
    ///     .init();
    /// ```
    #[cfg(feature = "otlp")]
    pub fn with_otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.otlp.endpoint = Some(url.into());
        self
    }

    /// Whether a gRPC endpoint given without a scheme (`collector:4317`)
    /// is reached in plaintext (`true`) or over TLS (`false`, the default);
    /// beats `OTEL_EXPORTER_OTLP_LOGS_INSECURE` and
    /// `OTEL_EXPORTER_OTLP_INSECURE`. An endpoint's `http://` or `https://`
    /// scheme decides for itself, as it does over HTTP.
    #[cfg(feature = "otlp")]
    pub fn with_otlp_insecure(mut self, insecure: bool) -> Self {
        self.otlp.insecure = Some(insecure);
        self
    }

    /// Chooses the OTLP protocol, beating `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`
    /// and `OTEL_EXPORTER_OTLP_PROTOCOL` (default: `http/protobuf`).
    #[cfg(feature = "otlp")]
    pub fn with_otlp_protocol(mut self, protocol: Protocol) -> Self {
        self.otlp.protocol = Some(protocol);
        self
    }

    /// Adds a header to every OTLP request, replacing a header of the same
    /// name (in any case) from `OTEL_EXPORTER_OTLP_HEADERS` or from an
    /// earlier call: each name is sent once, with the last value given. A
    /// name or value HTTP cannot
    /// carry (a space in the name, a line break in the value) makes
    /// [`try_init`](Builder::try_init) fail with
    /// [`InitError::InvalidConfig`](crate::InitError::InvalidConfig).
    #[cfg(feature = "otlp")]
    pub fn with_otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.otlp.headers.push((name.into(), value.into()));
        self
    }

    /// How long one OTLP request may take (default 10 s): over gRPC the
    /// whole request, over HTTP each of its phases (connecting, sending,
    /// waiting for the response, reading it). [`Duration::ZERO`] means no
    /// timeout, as `0` does in `OTEL_EXPORTER_OTLP_TIMEOUT`: a request then
    /// waits as long as the collector takes (bounded only by
    /// `OTEL_BLRP_EXPORT_TIMEOUT`, when that is not 0 either).
    #[cfg(feature = "otlp")]
    pub fn with_otlp_timeout(mut self, timeout: Duration) -> Self {
        self.otlp.timeout = Some(timeout);
        self
    }

    /// Compresses OTLP requests (default: none).
    #[cfg(feature = "otlp")]
    pub fn with_otlp_compression(mut self, compression: Compression) -> Self {
        self.otlp.compression = Some(compression);
        self
    }

    /// Trusts the CA certificates in this PEM file, instead of the Mozilla
    /// roots built into the crate, for an `https` collector; beats
    /// `OTEL_EXPORTER_OTLP_[LOGS_]CERTIFICATE`. With an endpoint given in
    /// code that is not `https://`, [`try_init`](Builder::try_init) fails:
    /// the file would not be used, and the logs would be sent unencrypted
    /// (with one from the variables, a warning says so).
    #[cfg(feature = "otlp")]
    pub fn with_otlp_certificate(mut self, pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.otlp.certificate = Some(pem_file.into());
        self
    }

    /// Presents this client certificate and key (PEM files) to an `https`
    /// collector that asks for one (mutual TLS); beats
    /// `OTEL_EXPORTER_OTLP_[LOGS_]CLIENT_CERTIFICATE` and `…_CLIENT_KEY`.
    /// With an endpoint given in code that is not `https://`,
    /// [`try_init`](Builder::try_init) fails, as for
    /// [`with_otlp_certificate`](Builder::with_otlp_certificate).
    #[cfg(feature = "otlp")]
    pub fn with_otlp_client_certificate(
        mut self,
        certificate_pem_file: impl Into<std::path::PathBuf>,
        key_pem_file: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.otlp.client_identity = Some((certificate_pem_file.into(), key_pem_file.into()));
        self
    }

    /// The batch export timeout (default 30 s), beating
    /// `OTEL_BLRP_EXPORT_TIMEOUT`: each request (over HTTP, each phase of
    /// it) is bounded by the smaller of this and
    /// [`with_otlp_timeout`](Builder::with_otlp_timeout). Retries are not
    /// counted in it: a batch is retried until the collector answers or
    /// shutdown stops waiting.
    /// [`Duration::ZERO`] means no bound, as `0` does in the variable.
    #[cfg(feature = "otlp")]
    pub fn with_otlp_export_timeout(mut self, timeout: Duration) -> Self {
        self.otlp.export_timeout = Some(timeout);
        self
    }

    /// How long the export worker lets records gather before it sends a
    /// partial batch (default 1 s); beats `OTEL_BLRP_SCHEDULE_DELAY`.
    #[cfg(feature = "otlp")]
    pub fn with_otlp_schedule_delay(mut self, delay: Duration) -> Self {
        self.otlp.schedule_delay = Some(delay);
        self
    }

    /// The most records one OTLP request carries (default 512, at least 1);
    /// beats `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE`. A batch size over the
    /// queue's record bound is cut to it.
    #[cfg(feature = "otlp")]
    pub fn with_otlp_batch_size(mut self, records: u64) -> Self {
        self.otlp.max_export_batch_size = Some(records.max(1));
        self
    }

    /// Bounds the OTLP queue to this many records (at least 1), on top of
    /// its byte budget ([`with_queue_budget`](Builder::with_queue_budget)),
    /// which alone bounds it by default; beats `OTEL_BLRP_MAX_QUEUE_SIZE`.
    /// As in the SDK's batch processor, the bound counts the records that
    /// wait for the export thread, not those it took: it takes all that
    /// wait each cycle, so while a collector is retried, up to twice this
    /// many records are held (the byte budget counts them all).
    #[cfg(feature = "otlp")]
    pub fn with_otlp_max_queue_size(mut self, records: u64) -> Self {
        self.otlp.max_queue_size = Some(records.max(1));
        self
    }

    /// Emits every record into `provider`, an application's own
    /// OpenTelemetry SDK pipeline, with this crate's mapping: its processors
    /// and exporters take it from there. The provider is then the only
    /// destination, unless [`with_exporters`](Builder::with_exporters), a
    /// writer or an OTLP endpoint given in code adds outputs;
    /// `OTEL_LOGS_EXPORTER` is not read.
    ///
    /// Four things differ from the crate's own outputs:
    /// - Records are handed to the provider on the thread that logs, as the
    ///   SDK's appenders do, so the provider's processors decide what that
    ///   costs: give it a `BatchLogProcessor`, not a simple (synchronous)
    ///   exporter, in production.
    /// - The provider's own resource applies to its records; the resource
    ///   configured here ([`with_service_name`](Builder::with_service_name),
    ///   [`with_resource_attribute`](Builder::with_resource_attribute),
    ///   `OTEL_RESOURCE_ATTRIBUTES`) describes the crate's outputs only.
    /// - A record that lost attributes to the count limit reaches the
    ///   provider without its `dropped_attributes_count`: the SDK's log
    ///   record has no place for it, so its exporters send 0.
    /// - The SDK has no empty value: a null (`None` captured with `:serde`)
    ///   is left out, as an attribute and inside maps and lists, where the
    ///   items after it move up a place (`[1, null, 3]` arrives as
    ///   `[1, 3]`).
    ///
    /// As the official bridge does, each record is offered only when one of
    /// the provider's processors is enabled for it
    /// (`Logger::event_enabled`); the others count in
    /// [`Stats::declined`](crate::Stats::declined). An event given
    /// `parent: None` is emitted under an empty OpenTelemetry context, so
    /// that the SDK does not give it the span `tracing-opentelemetry` keeps
    /// current; its processors see no baggage for it then.
    ///
    /// The [`Guard`](crate::Guard) flushes the provider when it is dropped,
    /// but does not shut it down: the provider is the application's. Keep
    /// a clone (as below) and call its `shutdown` once the guard is
    /// dropped. The layer holds the provider given here for as long as the
    /// subscriber lives (for a global one, the process), so a provider
    /// given without keeping a clone is never shut down; its batched
    /// records are still flushed by the guard.
    ///
    /// What the provider's own stack logs:
    /// - OpenTelemetry's own records about its context (`Context.*`, which
    ///   it logs while it holds that context borrowed), and every `log`
    ///   record of the `opentelemetry` target (which is how `tracing`'s
    ///   `log-always` forwards those, without their name), reach the other
    ///   outputs but not the provider, whose logger would read that
    ///   context: they count in [`Stats::failed`](crate::Stats::failed).
    ///   So does the rate limit's summary of a storm of `Context.*`
    ///   records given just before the one it lets through (see
    ///   [`with_rate_limit`](Builder::with_rate_limit)).
    /// - Where OpenTelemetry suppresses telemetry (the thread of the SDK's
    ///   `BatchLogProcessor`, though not of its experimental async-runtime
    ///   processor, and whatever runs inside
    ///   `Context::enter_telemetry_suppressed_scope`), the provider declines
    ///   it; it reaches the crate's other outputs.
    /// - On the thread emitting into a provider (a processor or a simple
    ///   exporter that logs), it goes to no provider and counts in
    ///   [`Stats::failed`](crate::Stats::failed).
    /// - On threads of the exporter's own that do not suppress telemetry,
    ///   such as an async runtime's workers that an HTTP or gRPC client
    ///   logs on, it is emitted into the provider like any record: each
    ///   export's logs become records of the next one, and with a simple
    ///   exporter, which holds a lock while it exports, the client's thread
    ///   can wait for that lock while the export waits for the client. Keep
    ///   such clients' targets (`hyper`, `h2`, `tonic`, `reqwest`) out of
    ///   the layer with a filter, as for the official bridge.
    ///
    /// ```
    /// use opentelemetry_sdk::logs::{BatchLogProcessor, InMemoryLogExporter, SdkLoggerProvider};
    ///
    /// let exporter = InMemoryLogExporter::default();
    /// let provider = SdkLoggerProvider::builder()
    ///     .with_log_processor(BatchLogProcessor::builder(exporter.clone()).build())
    ///     .build();
    /// let (layer, guard) = otel_log_bridge::builder()
    ///     .with_logger_provider(provider.clone())
    ///     .layer()?;
    /// // … install `layer`, run the application …
    /// # drop(layer);
    /// drop(guard); // flushes the provider
    /// provider.shutdown().expect("the provider shuts down");
    /// # Ok::<(), otel_log_bridge::InitError>(())
    /// ```
    #[cfg(feature = "sdk")]
    pub fn with_logger_provider(
        mut self,
        provider: opentelemetry_sdk::logs::SdkLoggerProvider,
    ) -> Self {
        self.logger_provider = Some(provider);
        self
    }

    /// Registers the metrics about the logs on `meter` instead of a meter
    /// of the global `MeterProvider` (which is what is used otherwise): the
    /// records emitted by severity (`otel.sdk.log.created`), exported and
    /// failed (`otel.sdk.exporter.log.exported`), dropped
    /// (`otel.sdk.processor.log.processed`), each OTLP export's duration
    /// (`otel.sdk.exporter.operation.duration`), redacted values, records
    /// the rate limit suppressed or the spool evicted, what became of the
    /// records offered to a logger provider, export retries, and each
    /// queue's bytes and capacity: what [`Stats`](crate::Stats) counts.
    ///
    /// Without it, the global provider is asked for a meter when the
    /// pipeline starts (`init`, `layer`), and the instruments stay with
    /// that provider: set the global one before, or the metrics go to the
    /// no-op provider that is global until then.
    #[cfg(feature = "metrics")]
    pub fn with_meter(mut self, meter: opentelemetry::metrics::Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Writes OTLP requests the collector cannot take to segment files in
    /// `dir` instead of holding them in memory, and replays them in order
    /// when it is back and at the next start, beating
    /// `OTEL_LOG_BRIDGE_SPOOL_DIR`. Delivery is at least once: a request
    /// sent just before a crash may be sent again. A long backlog is sent a
    /// tenth of a second at a time, new records going out between, so that
    /// the queue keeps moving (and does not fill up and drop) while it is
    /// replayed. An unusable directory is reported on stderr and the
    /// exporter continues without a spool.
    ///
    /// One process uses a directory at a time (a lock file in it says
    /// which): give each process, say each replica, a directory of its own.
    /// A process that finds the directory held by another (the one a
    /// rolling restart replaces, still draining) says so, runs without a
    /// spool, and tries again every minute: once free, it takes the
    /// directory and replays what the other left.
    /// On Unix a directory the spool creates is readable by its owner
    /// only, and so are the segments, since they hold the application's
    /// logs; an existing directory keeps its permissions. In a directory
    /// others can write into (a volume shared by a group), the spool
    /// trusts none of their files: it creates its files anew, never
    /// writing through a link or file already there, and on Unix replays
    /// only regular files of its own user, so that no one else's file is
    /// sent as the application's records. Others can still delete or rename
    /// its files there, or hold its lock: a directory only this user can
    /// write to is the safe choice (one inside a shared volume that does not
    /// exist yet is made so). Segments a former user of the directory left
    /// are reported on stderr, and neither replayed nor deleted.
    #[cfg(feature = "spool")]
    pub fn with_spool_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.otlp.spool_dir = Some(Some(dir.into()));
        self
    }

    /// No spool, whatever `OTEL_LOG_BRIDGE_SPOOL_DIR` says (the default
    /// when it is unset): for a program that must not write its records to
    /// disk.
    #[cfg(feature = "spool")]
    pub fn without_spool(mut self) -> Self {
        self.otlp.spool_dir = Some(None);
        self
    }

    /// The most disk the spool may take (default: 256 MiB); past it the
    /// oldest segments are evicted and counted in
    /// [`Stats::spool_evicted`](crate::Stats::spool_evicted). Each segment
    /// (one request) counts as the 4 KiB blocks its file fills, as most
    /// file systems store it, so a budget under 4 KiB holds nothing.
    #[cfg(feature = "spool")]
    pub fn with_spool_budget(mut self, bytes: u64) -> Self {
        self.otlp.spool_budget = Some(bytes);
        self
    }

    /// The most memory, in bytes, that queued records may take per output
    /// (default: 64 MiB). Records that do not fit are dropped and counted in
    /// [`Stats::dropped`](crate::Stats::dropped): a budget smaller than one
    /// record drops every record.
    pub fn with_queue_budget(mut self, bytes: usize) -> Self {
        self.queue_budget = bytes;
        self
    }
}

/// Everything resolved from code, environment and defaults.
pub(crate) struct Resolved {
    pub(crate) exporters: Vec<Exporter>,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<otlp::OtlpSettings>,
    pub(crate) resource: Resource,
    pub(crate) disabled: bool,
}

impl Builder {
    /// Applies the precedence rules. Also sets the crate's own diagnostic
    /// level, first, so that later warnings obey it.
    pub(crate) fn resolve(&mut self) -> Result<Resolved, InitError> {
        diag::set_level(self.diag_level());
        let disabled = self.disabled.unwrap_or_else(|| self.env.sdk_disabled());
        let default_limits = crate::record::AttributeLimits::default();
        self.capture.limits = crate::record::AttributeLimits {
            count: self
                .attribute_count_limit
                .or_else(|| {
                    let default = format!("the default, {}", default_limits.count);
                    self.env.limit(env::ATTRIBUTE_COUNT_LIMITS, &default)
                })
                .unwrap_or(default_limits.count),
            // No value is longer than `isize::MAX` bytes, so a limit that
            // large cuts nothing. Taking it as no limit keeps the direct
            // path, which only runs without one, and spares each record
            // a scan of its strings.
            value_length: self
                .attribute_value_length_limit
                .or_else(|| {
                    self.env
                        .limit(env::ATTRIBUTE_VALUE_LENGTH_LIMITS, "the default, no limit")
                })
                .filter(|&limit| limit < isize::MAX as usize),
        };
        self.capture.duplicate_legacy_code_attributes = self
            .legacy_code_attributes
            .unwrap_or_else(|| self.env.semconv_code_dup());
        // The legacy names duplicate the current ones: without those,
        // there is nothing to duplicate. Said only when both are the
        // program's: the variable may be set for every service of a
        // platform.
        if self.legacy_code_attributes == Some(true) && !self.capture.code_attributes {
            diag::warn(format_args!(
                "Builder::with_legacy_code_attributes(true) is not used: Builder::with_code_attributes(false) turns the source location off"
            ));
        }
        let env_words = match self.redacted_keys {
            Some(_) => None,
            None => self.env.redacted_keys(),
        };
        if self.redacted_keys_blank {
            diag::warn(format_args!(
                "Builder::with_redacted_keys was given only blank words; keeping {} (an empty list turns redaction off)",
                if env_words.is_some() {
                    env::REDACTED_KEYS
                } else {
                    "the default list"
                }
            ));
        }
        if let Some(words) = self.redacted_keys.clone().or(env_words) {
            self.capture.redaction.words = words;
        }
        if self.rate_limit.is_none() {
            self.rate_limit = Some(self.env.get(env::RATE_LIMIT).and_then(|value| {
                let limit = crate::capture::storm::RateLimit::parse(&value);
                if limit.is_none() {
                    env::report_invalid(
                        env::RATE_LIMIT,
                        &value,
                        "<events per second>[,<burst>], whole numbers from 1",
                        "no limit",
                    );
                }
                limit
            }));
        }
        // A disabled bridge exports nothing, so the exporter list is not
        // read, nor a bad name in it reported.
        // A rule turned on in code for a check turned off in code does
        // nothing: said, as the program contradicts itself. (Off by
        // default in release builds, the check is no contradiction then:
        // a rule turned on for the debug builds.)
        let lint = &self.capture.lint;
        if let (Some((rule, _)), Some(false)) = (
            lint.overrides.iter().find(|(_, on)| *on),
            self.runtime_lint_in_code,
        ) {
            diag::warn(format_args!(
                "Builder::with_lint_rule({}, true) is not used: Builder::with_runtime_lint(false) turns the runtime lint off",
                rule.id()
            ));
        }
        // Code wins over the variable; an operator who set it to other
        // outputs (to `none`, say) is told that it is not used. One that
        // names the outputs the code chose (a platform that sets `otlp`
        // for every service) is no conflict.
        let overridden = |used: &[Exporter], how: &str| {
            let Some(list) = self.env.get(env::LOGS_EXPORTER) else {
                return;
            };
            let mut named: Vec<String> = list
                .split(',')
                .map(|name| name.trim().to_ascii_lowercase())
                .filter(|name| !name.is_empty() && name != "none")
                .collect();
            let mut names: Vec<String> = used
                .iter()
                .map(|exporter| exporter.name().to_owned())
                .collect();
            named.sort();
            named.dedup();
            names.sort();
            if named == names {
                return;
            }
            diag::warn(format_args!(
                "{}={list:?} is not used: the program chooses its outputs in code ({how}): {}",
                env::LOGS_EXPORTER,
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ));
        };
        let exporters = match (&self.exporters, self.exporters_chosen_in_code()) {
            _ if disabled => Vec::new(),
            (Some(exporters), _) => {
                overridden(exporters, "Builder::with_exporters");
                exporters.clone()
            }
            (None, Some(chosen)) => {
                overridden(
                    &chosen,
                    "a writer, an OTLP endpoint or a logger provider given to the Builder",
                );
                chosen
            }
            (None, None) => match self.env.get(env::LOGS_EXPORTER) {
                Some(list) => Exporter::parse_list(&list)?.unwrap_or_else(|| {
                    let default = self.default_exporter();
                    diag::warn(format_args!(
                        "{}={list:?} names no exporter this build knows; using the default, {}",
                        env::LOGS_EXPORTER,
                        default.name()
                    ));
                    vec![default]
                }),
                None => vec![self.default_exporter()],
            },
        };
        // The specification asks for non-empty keys, and an empty
        // `service.name` would merge the service with every other one
        // that has none.
        if self
            .resource_attributes
            .iter()
            .any(|(key, _)| key.trim().is_empty())
        {
            return Err(InitError::invalid(
                "Builder::with_resource_attribute",
                "a resource attribute's key must not be empty or blank",
            ));
        }
        // The semantic conventions define `service.name` as a string.
        let unfit_service_name = self.resource_attributes.iter().any(|(key, value)| {
            key == "service.name"
                && !matches!(value, AttributeValue::String(name) if !name.trim().is_empty())
        });
        if unfit_service_name {
            return Err(InitError::invalid(
                "Builder::with_resource_attribute",
                "`service.name` must be a string, not empty or blank",
            ));
        }
        if self
            .service_name
            .as_deref()
            .is_some_and(|name| name.trim().is_empty())
        {
            return Err(InitError::invalid(
                "Builder::with_service_name",
                "the service name must not be empty or blank",
            ));
        }
        let env_attributes = self.env.get(env::RESOURCE_ATTRIBUTES);
        let env_service_name = self.env.get(env::SERVICE_NAME);
        let resource = resource::build(&ResourceInputs {
            env_attributes: env_attributes.as_deref(),
            env_service_name: env_service_name.as_deref(),
            code_attributes: &self.resource_attributes,
            code_service_name: self.service_name.as_deref(),
        });
        #[cfg(feature = "otlp")]
        let otlp = if exporters.contains(&Exporter::Otlp) {
            Some(otlp::OtlpSettings::resolve(&self.otlp, &self.env)?)
        } else {
            self.otlp.check_without_env()?;
            None
        };
        #[cfg(all(feature = "otlp", not(feature = "spool")))]
        if let Some(warning) = spool_without_the_feature(&self.env, &exporters) {
            diag::warn(format_args!("{warning}"));
        }
        #[cfg(feature = "otlp")]
        if let Some(warning) = otlp_settings_unused(&self.otlp, &exporters, disabled) {
            diag::warn(format_args!("{warning}"));
        }
        for warning in writer_warnings(&self.writers_given(), &exporters, disabled) {
            diag::warn(format_args!("{warning}"));
        }
        Ok(Resolved {
            exporters,
            #[cfg(feature = "otlp")]
            otlp,
            resource,
            disabled,
        })
    }
}

impl Builder {
    /// The line outputs given a writer in code, each with the builder
    /// method that gave it.
    fn writers_given(&self) -> Vec<(Exporter, &'static str)> {
        let mut given = Vec::new();
        if self.json_writer.is_some() {
            given.push((Exporter::Json, "Builder::with_json_writer"));
        }
        if self.console_writer.is_some() {
            given.push((Exporter::Console, "Builder::with_console_writer"));
        }
        #[cfg(feature = "otlp")]
        if self.otlp_json_writer.is_some() {
            given.push((Exporter::OtlpJson, "Builder::with_otlp_json_writer"));
        }
        given
    }

    /// The outputs that code configuration implies without
    /// [`with_exporters`](Builder::with_exporters): each writer or endpoint
    /// given selects its exporter, and a logger provider alone means no
    /// other output. `None` when code chose nothing, leaving it to
    /// `OTEL_LOGS_EXPORTER` and the default.
    fn exporters_chosen_in_code(&self) -> Option<Vec<Exporter>> {
        let mut chosen = Vec::new();
        if self.json_writer.is_some() {
            chosen.push(Exporter::Json);
        }
        if self.console_writer.is_some() {
            chosen.push(Exporter::Console);
        }
        #[cfg(feature = "otlp")]
        {
            if self.otlp_json_writer.is_some() {
                chosen.push(Exporter::OtlpJson);
            }
            if self.otlp.endpoint.is_some() {
                chosen.push(Exporter::Otlp);
            }
        }
        #[cfg(feature = "sdk")]
        if self.logger_provider.is_some() {
            return Some(chosen);
        }
        (!chosen.is_empty()).then_some(chosen)
    }

    /// The diagnostic level from code, else from `OTEL_LOG_LEVEL`, else the
    /// default, `info`: never the level an earlier pipeline set, which
    /// would silence this one's warnings about its own configuration.
    fn diag_level(&self) -> DiagLevel {
        self.diagnostics
            .or_else(|| self.env.diag_level())
            .unwrap_or(DiagLevel::Info)
    }

    /// `otlp` when an OTLP endpoint variable is set, `json` otherwise. A
    /// build without the `otlp` feature says so when an endpoint is set,
    /// rather than send the records to stdout unannounced; it does not
    /// fail, as the variable may be set for every service of a platform.
    fn default_exporter(&self) -> Exporter {
        #[cfg(feature = "otlp")]
        if otlp::endpoint_configured(&self.env) {
            return Exporter::Otlp;
        }
        #[cfg(not(feature = "otlp"))]
        if let Some(name) = endpoint_variable_set(&self.env) {
            diag::warn(format_args!(
                "{name} is set, but this build has no `otlp` feature; records go to the default exporter, json (stdout)"
            ));
        }
        Exporter::Json
    }
}

/// The OTLP endpoint variable that is set, the logs-specific one first.
#[cfg(not(feature = "otlp"))]
fn endpoint_variable_set(env: &Env) -> Option<&'static str> {
    [
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .find(|name| env.get(name).is_some())
}

/// What to say when the spool's variable is set for OTLP export in a
/// build without the `spool` feature: an operator who set it for a whole
/// platform would otherwise believe that records outlive an outage.
#[cfg(all(feature = "otlp", not(feature = "spool")))]
fn spool_without_the_feature(env: &Env, exporters: &[Exporter]) -> Option<String> {
    let dir = env.path(env::SPOOL_DIR)?;
    exporters.contains(&Exporter::Otlp).then(|| {
        format!(
            "{}={:?} is set, but this build has no `spool` feature; requests the collector cannot take are kept in memory only",
            env::SPOOL_DIR,
            dir.display()
        )
    })
}

/// What to say when OTLP settings were given in code but nothing selects
/// the OTLP exporter: a program that sets a protocol and headers, leaving
/// the endpoint to a variable that is not set, would otherwise write JSON
/// to stdout without a word.
#[cfg(feature = "otlp")]
fn otlp_settings_unused(
    options: &otlp::OtlpOptions,
    exporters: &[Exporter],
    disabled: bool,
) -> Option<&'static str> {
    (!disabled && options.any_given() && !exporters.contains(&Exporter::Otlp)).then_some(
        "OTLP settings were given in code, but the OTLP exporter is not selected, so they do nothing; give an endpoint (Builder::with_otlp_endpoint or OTEL_EXPORTER_OTLP_ENDPOINT), set OTEL_LOGS_EXPORTER=otlp, or choose it with Builder::with_exporters",
    )
}

/// What the chosen `exporters` make of the writers given in code (see
/// [`Builder::writers_given`]): a writer whose output is not chosen does
/// nothing, and the two JSON outputs left to their default both write to
/// stdout, where their lines mix and no reader can parse them.
fn writer_warnings(
    given: &[(Exporter, &'static str)],
    exporters: &[Exporter],
    disabled: bool,
) -> Vec<String> {
    // A disabled bridge writes nothing anywhere, as it was asked.
    if disabled {
        return Vec::new();
    }
    // Only the `otlp` feature has a second output on stdout.
    #[cfg(feature = "otlp")]
    let shared_stdout = {
        let on_stdout = |exporter: Exporter| {
            exporters.contains(&exporter)
                && !given
                    .iter()
                    .any(|(with_writer, _)| *with_writer == exporter)
        };
        (on_stdout(Exporter::Json) && on_stdout(Exporter::OtlpJson)).then(|| {
            "the json and otlp/stdout exporters both write to stdout, where their lines mix; give one a writer of its own (Builder::with_json_writer, Builder::with_otlp_json_writer)".to_owned()
        })
    };
    #[cfg(not(feature = "otlp"))]
    let shared_stdout = None;
    given
        .iter()
        .filter(|(exporter, _)| !exporters.contains(exporter))
        .map(|(exporter, method)| {
            format!(
                "{method} gave a writer, but the {} exporter is not selected (Builder::with_exporters), so it writes nothing",
                exporter.name()
            )
        })
        .chain(shared_stdout)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a writer given in code for an output that was not
    /// chosen did nothing, and the two JSON outputs, both on stdout by
    /// default, mixed their lines there, without a word.
    #[test]
    fn writers_that_do_nothing_or_share_stdout_are_named() {
        let warnings = |builder: Builder, vars: &[(&str, &str)]| {
            let given = builder.writers_given();
            let resolved = resolve(builder, vars).expect("valid");
            writer_warnings(&given, &resolved.exporters, resolved.disabled)
        };
        let unused = warnings(
            builder()
                .with_json_writer(std::io::sink())
                .with_exporters([Exporter::Console]),
            &[],
        );
        assert_eq!(
            unused,
            ["Builder::with_json_writer gave a writer, but the json exporter is not selected (Builder::with_exporters), so it writes nothing"]
        );
        assert!(warnings(builder().with_json_writer(std::io::sink()), &[]).is_empty());
        let none_chosen = builder()
            .with_console_writer(std::io::sink())
            .with_exporters([]);
        assert_eq!(warnings(none_chosen, &[]).len(), 1);
        assert!(warnings(
            builder()
                .with_json_writer(std::io::sink())
                .with_exporters([Exporter::Console]),
            &[("OTEL_SDK_DISABLED", "true")]
        )
        .is_empty());
        #[cfg(feature = "otlp")]
        {
            let both = [("OTEL_LOGS_EXPORTER", "json,otlp/stdout")];
            let shared = warnings(builder(), &both);
            assert_eq!(shared.len(), 1, "{shared:?}");
            assert!(
                shared[0].starts_with("the json and otlp/stdout exporters both write to stdout")
            );
            assert!(warnings(
                builder()
                    .with_json_writer(std::io::sink())
                    .with_exporters([Exporter::Json, Exporter::OtlpJson]),
                &[]
            )
            .is_empty());
            assert!(warnings(builder(), &[("OTEL_LOGS_EXPORTER", "otlp/stdout")]).is_empty());
        }
    }

    /// Regression: OTLP settings given in code without an endpoint, where
    /// nothing selected the OTLP exporter, did nothing, without a word.
    #[cfg(feature = "otlp")]
    #[test]
    fn otlp_settings_that_nothing_uses_are_named() {
        let unused = |builder: Builder, vars: &[(&str, &str)]| {
            let options = builder.otlp.clone();
            let resolved = resolve(builder, vars).expect("valid");
            otlp_settings_unused(&options, &resolved.exporters, resolved.disabled).is_some()
        };
        let with_protocol = || builder().with_otlp_protocol(Protocol::HttpJson);
        assert!(unused(with_protocol(), &[]));
        assert!(!unused(with_protocol(), &[("OTEL_LOGS_EXPORTER", "otlp")]));
        assert!(!unused(
            with_protocol(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]
        ));
        assert!(!unused(with_protocol(), &[("OTEL_SDK_DISABLED", "true")]));
        assert!(!unused(builder(), &[]));
    }

    /// Regression: in a build without the `spool` feature, the spool's
    /// variable was ignored without a word.
    #[cfg(all(feature = "otlp", not(feature = "spool")))]
    #[test]
    fn a_spool_directory_without_the_spool_feature_is_named() {
        let env = Env::from_pairs(&[("OTEL_LOG_BRIDGE_SPOOL_DIR", "/var/spool/logs")]);
        let warning = spool_without_the_feature(&env, &[Exporter::Json, Exporter::Otlp]);
        assert!(
            warning.as_deref().is_some_and(|warning| warning
                .starts_with("OTEL_LOG_BRIDGE_SPOOL_DIR=\"/var/spool/logs\" is set")),
            "{warning:?}"
        );
        // Nothing to say where no OTLP export would use it, nor unset.
        assert_eq!(spool_without_the_feature(&env, &[Exporter::Json]), None);
        let unset = Env::from_pairs(&[]);
        assert_eq!(spool_without_the_feature(&unset, &[Exporter::Otlp]), None);
    }

    /// Regression: in a build without the `otlp` feature, an OTLP endpoint
    /// variable sent the records to stdout as JSON without a word; the
    /// default stays, and the variable is named in a warning.
    #[cfg(not(feature = "otlp"))]
    #[test]
    fn an_endpoint_without_the_otlp_feature_is_named_and_json_stays() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://collector:4318/v1/logs",
            ),
        ];
        let resolved = resolve(builder(), &vars).expect("valid");
        assert_eq!(resolved.exporters, vec![Exporter::Json]);
        assert_eq!(
            endpoint_variable_set(&Env::from_pairs(&vars)),
            Some("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
        );
        assert_eq!(
            endpoint_variable_set(&Env::from_pairs(&vars[..1])),
            Some("OTEL_EXPORTER_OTLP_ENDPOINT")
        );
        assert_eq!(endpoint_variable_set(&Env::from_pairs(&[])), None);
    }

    fn resolve(builder: Builder, vars: &[(&str, &str)]) -> Result<Resolved, InitError> {
        let mut builder = Builder {
            env: Env::from_pairs(vars),
            ..builder
        };
        builder.resolve()
    }

    /// Regression: OTLP settings given in code were checked only when the
    /// OTLP exporter was selected, so a program started where the SDK was
    /// disabled (or another exporter chosen) and failed where it was on.
    #[cfg(feature = "otlp")]
    #[test]
    fn mistakes_in_otlp_settings_from_code_fail_wherever_the_exporter_is_off() {
        use crate::Protocol;
        let off: [&[(&str, &str)]; 2] = [&[("OTEL_SDK_DISABLED", "true")], &[]];
        for vars in off {
            let json_only = || builder().with_exporters([Exporter::Json]);
            let mistakes = [
                (
                    json_only().with_otlp_header("x tenant", "a"),
                    "Builder::with_otlp_header",
                ),
                (
                    json_only()
                        .with_otlp_protocol(Protocol::HttpProtobuf)
                        .with_otlp_endpoint("collector:4318"),
                    "Builder::with_otlp_endpoint",
                ),
                (
                    json_only().with_otlp_endpoint("grpc://collector:4317"),
                    "Builder::with_otlp_endpoint",
                ),
                // No scheme, so a gRPC one's, but no port either protocol
                // takes.
                (
                    json_only().with_otlp_endpoint("collector:0"),
                    "Builder::with_otlp_endpoint",
                ),
                // Named as `resolve` names it: the endpoint comes first.
                (
                    json_only()
                        .with_otlp_header("x tenant", "a")
                        .with_otlp_endpoint("grpc://collector:4317"),
                    "Builder::with_otlp_endpoint",
                ),
                (
                    json_only()
                        .with_otlp_endpoint("http://collector:4318/v1/logs")
                        .with_otlp_certificate("ca.pem"),
                    "Builder::with_otlp_certificate",
                ),
            ];
            for (mistake, named) in mistakes {
                match resolve(mistake, vars) {
                    Err(InitError::InvalidConfig { setting, .. }) => assert_eq!(setting, named),
                    Err(other) => panic!("{named}: expected an invalid configuration, got {other}"),
                    Ok(_) => panic!("{named}: expected an invalid configuration with {vars:?}"),
                }
            }
            // What the environment decides is left to it: without a
            // protocol in code, an endpoint without a scheme may be gRPC's.
            #[cfg_attr(not(feature = "grpc"), allow(unused_mut))]
            let mut fine = vec![json_only().with_otlp_certificate("ca.pem")];
            // Whether it uses TLS is the insecure variable's to say.
            #[cfg(feature = "grpc")]
            fine.extend([
                json_only().with_otlp_endpoint("collector:4317"),
                json_only()
                    .with_otlp_protocol(Protocol::Grpc)
                    .with_otlp_endpoint("collector:4317")
                    .with_otlp_certificate("ca.pem"),
            ]);
            for fine in fine {
                assert!(resolve(fine, vars).is_ok(), "{vars:?}");
            }
        }
    }

    /// Regression: an empty resource key or service name given in code was
    /// exported as it was, where the same from the environment is refused.
    #[test]
    fn an_empty_resource_key_or_service_name_from_code_is_an_error() {
        let setting = |result: Result<Resolved, InitError>| match result {
            Err(InitError::InvalidConfig { setting, .. }) => setting,
            Err(other) => panic!("expected an invalid configuration, got {other}"),
            Ok(_) => panic!("expected an invalid configuration"),
        };
        assert_eq!(
            setting(resolve(builder().with_resource_attribute("", "x"), &[])),
            "Builder::with_resource_attribute"
        );
        assert_eq!(
            setting(resolve(builder().with_service_name(" "), &[])),
            "Builder::with_service_name"
        );
        assert_eq!(
            setting(resolve(
                builder().with_resource_attribute("service.name", ""),
                &[]
            )),
            "Builder::with_resource_attribute"
        );
        assert_eq!(
            setting(resolve(
                builder().with_resource_attribute("service.name", 5_i64),
                &[]
            )),
            "Builder::with_resource_attribute"
        );
        assert_eq!(
            setting(resolve(builder().with_resource_attribute(" ", "x"), &[])),
            "Builder::with_resource_attribute"
        );
        let resolved = resolve(builder().with_resource_attribute(" k", "x"), &[]);
        assert!(resolved.is_ok());
    }

    #[test]
    fn exporters_come_from_code_then_env_then_default() {
        let env = [("OTEL_LOGS_EXPORTER", "console")];
        let resolved = resolve(builder(), &env).expect("valid");
        assert_eq!(resolved.exporters, vec![Exporter::Console]);
        let resolved = resolve(builder().with_exporters([Exporter::Json]), &env).expect("valid");
        assert_eq!(resolved.exporters, vec![Exporter::Json]);
        let resolved = resolve(builder().with_json_writer(std::io::sink()), &env).expect("valid");
        assert_eq!(resolved.exporters, vec![Exporter::Json]);
        let resolved = resolve(builder(), &[]).expect("valid");
        assert_eq!(resolved.exporters, vec![Exporter::Json]);
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn writers_and_endpoints_given_in_code_choose_their_exporters() {
        let env = [("OTEL_LOGS_EXPORTER", "json")];
        let chosen = |builder: Builder| resolve(builder, &env).expect("valid").exporters;
        assert_eq!(
            chosen(builder().with_console_writer(std::io::sink())),
            vec![Exporter::Console]
        );
        assert_eq!(
            chosen(builder().with_otlp_endpoint("http://collector:4318/v1/logs")),
            vec![Exporter::Otlp]
        );
        assert_eq!(
            chosen(
                builder()
                    .with_json_writer(std::io::sink())
                    .with_otlp_json_writer(std::io::sink())
            ),
            vec![Exporter::Json, Exporter::OtlpJson]
        );
        assert_eq!(
            chosen(
                builder()
                    .with_console_writer(std::io::sink())
                    .with_exporters([Exporter::Json])
            ),
            vec![Exporter::Json],
            "with_exporters decides"
        );
    }

    #[test]
    fn exporter_lists_accept_several_and_none() {
        let env = [("OTEL_LOGS_EXPORTER", " console , json,console")];
        let resolved = resolve(builder(), &env).expect("valid");
        assert_eq!(resolved.exporters, vec![Exporter::Console, Exporter::Json]);
        let resolved = resolve(builder(), &[("OTEL_LOGS_EXPORTER", "none")]).expect("valid");
        assert!(resolved.exporters.is_empty());
    }

    #[test]
    fn unknown_exporter_names_are_ignored_as_the_specification_requires() {
        let resolved = resolve(builder(), &[("OTEL_LOGS_EXPORTER", "jsonn,console")])
            .expect("a warning, not an error");
        assert_eq!(resolved.exporters, [Exporter::Console]);
        for list in ["jsonn", "jsonn,,"] {
            let resolved = resolve(builder(), &[("OTEL_LOGS_EXPORTER", list)]).expect("valid");
            assert_eq!(resolved.exporters, [Exporter::Json], "the default");
        }
        let resolved = resolve(builder(), &[("OTEL_LOGS_EXPORTER", "jsonn,none")]).expect("valid");
        assert!(resolved.exporters.is_empty(), "none is a known name");
    }

    #[test]
    fn attribute_limits_come_from_code_then_env_then_default() {
        let env = [
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "50"),
            ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "7"),
        ];
        let mut resolved = Builder {
            env: Env::from_pairs(&env),
            ..builder()
        };
        resolved.resolve().expect("valid");
        assert_eq!(
            resolved.capture.limits.count, 10,
            "logs-specific beats generic"
        );
        assert_eq!(resolved.capture.limits.value_length, Some(7));
        let mut resolved = Builder {
            env: Env::from_pairs(&env),
            ..builder().with_attribute_count_limit(3)
        };
        resolved.resolve().expect("valid");
        assert_eq!(resolved.capture.limits.count, 3, "code beats env");
        let mut resolved = Builder {
            env: Env::from_pairs(&[]),
            ..builder()
        };
        resolved.resolve().expect("valid");
        assert_eq!(
            resolved.capture.limits,
            crate::record::AttributeLimits::default()
        );
    }

    #[test]
    fn redacted_keys_come_from_code_then_env_then_default() {
        let env = [("OTEL_LOG_BRIDGE_REDACTED_KEYS", " PIN , iban ")];
        let mut from_env = Builder {
            env: Env::from_pairs(&env),
            ..builder()
        };
        from_env.resolve().expect("valid");
        assert_eq!(from_env.capture.redaction.words, ["pin", "iban"]);
        let mut from_code = Builder {
            env: Env::from_pairs(&env),
            ..builder().with_redacted_keys(["ssn"])
        };
        from_code.resolve().expect("valid");
        assert_eq!(from_code.capture.redaction.words, ["ssn"]);
        let mut off = Builder {
            env: Env::from_pairs(&[("OTEL_LOG_BRIDGE_REDACTED_KEYS", "none")]),
            ..builder()
        };
        off.resolve().expect("valid");
        assert!(off.capture.redaction.words.is_empty());
        // Regression: a value with only separators turned redaction off
        // without a word said.
        let mut no_words = Builder {
            env: Env::from_pairs(&[("OTEL_LOG_BRIDGE_REDACTED_KEYS", " , ,")]),
            ..builder()
        };
        no_words.resolve().expect("valid");
        assert_eq!(
            no_words.capture.redaction.words,
            crate::DEFAULT_REDACTED_KEYS
        );
        // Regression: the same slip in code (an empty setting split on
        // commas) turned redaction off; only an empty list does.
        let mut blank = builder().with_redacted_keys([" ", ""]);
        blank.env = Env::from_pairs(&[]);
        blank.resolve().expect("valid");
        assert_eq!(blank.capture.redaction.words, crate::DEFAULT_REDACTED_KEYS);
        let mut blank = builder().with_redacted_keys("".split(','));
        blank.env = Env::from_pairs(&env);
        blank.resolve().expect("valid");
        assert_eq!(blank.capture.redaction.words, ["pin", "iban"]);
        let mut empty = builder().with_redacted_keys(Vec::<String>::new());
        empty.env = Env::from_pairs(&env);
        empty.resolve().expect("valid");
        assert!(empty.capture.redaction.words.is_empty());
    }

    /// Regression: with `OTEL_LOG_BRIDGE_RATE_LIMIT` or
    /// `OTEL_LOG_BRIDGE_SPOOL_DIR` set for a whole platform, code had no
    /// way to turn the limit or the spool off.
    #[test]
    fn code_turns_off_what_a_variable_turns_on() {
        let env = [
            ("OTEL_LOG_BRIDGE_RATE_LIMIT", "10"),
            ("OTEL_LOG_BRIDGE_SPOOL_DIR", "/var/spool/logs"),
            (
                "OTEL_LOGS_EXPORTER",
                if cfg!(feature = "otlp") {
                    "otlp"
                } else {
                    "json"
                },
            ),
        ];
        let mut from_env = builder();
        from_env.env = Env::from_pairs(&env);
        let _resolved = from_env.resolve().expect("valid");
        assert_eq!(
            from_env.rate_limit,
            Some(Some(crate::capture::storm::RateLimit::per_callsite(10, 10)))
        );
        #[cfg(feature = "spool")]
        assert!(_resolved.otlp.expect("otlp").spool.is_some());
        let off = builder().without_rate_limit();
        #[cfg(feature = "spool")]
        let off = off.without_spool();
        let mut off = off;
        off.env = Env::from_pairs(&env);
        let _resolved = off.resolve().expect("valid");
        assert_eq!(off.rate_limit, Some(None));
        #[cfg(feature = "spool")]
        assert!(_resolved.otlp.expect("otlp").spool.is_none());
    }

    #[cfg(not(feature = "otlp"))]
    #[test]
    fn otlp_in_a_build_without_it_is_an_error() {
        let error = resolve(builder(), &[("OTEL_LOGS_EXPORTER", "json,otlp")])
            .err()
            .expect("unbuilt");
        assert!(error.to_string().contains("`otlp` feature"), "{error}");
    }

    /// Puts the process-wide diagnostic level back to the default, also
    /// when a test fails.
    struct DefaultLevelAfter;

    impl Drop for DefaultLevelAfter {
        fn drop(&mut self) {
            diag::set_level(DiagLevel::Info);
        }
    }

    #[test]
    fn settings_given_in_code_beat_their_variables_either_way() {
        let _restore = DefaultLevelAfter;
        let env = [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_SEMCONV_STABILITY_OPT_IN", "code/dup"),
            ("OTEL_LOG_LEVEL", "debug"),
        ];
        let mut from_env = Builder {
            env: Env::from_pairs(&env),
            ..builder()
        };
        assert_eq!(from_env.diag_level(), DiagLevel::Debug);
        assert!(from_env.resolve().expect("valid").disabled);
        assert!(from_env.capture.duplicate_legacy_code_attributes);
        let mut from_code = Builder {
            env: Env::from_pairs(&env),
            ..builder()
                .with_disabled(false)
                .with_legacy_code_attributes(false)
                .with_diagnostics(tracing::level_filters::LevelFilter::OFF)
        };
        assert_eq!(from_code.diag_level(), DiagLevel::None);
        assert!(!from_code.resolve().expect("valid").disabled);
        assert!(!from_code.capture.duplicate_legacy_code_attributes);
        let mut from_code = Builder {
            env: Env::from_pairs(&[]),
            ..builder()
                .with_disabled(true)
                .with_legacy_code_attributes(true)
                .with_diagnostics(tracing::level_filters::LevelFilter::TRACE)
        };
        assert_eq!(from_code.diag_level(), DiagLevel::Debug);
        // Regression: with neither code nor the variable giving a level,
        // the one an earlier pipeline set stayed, silencing this one.
        let unset = Builder {
            env: Env::from_pairs(&[]),
            ..builder()
        };
        assert_eq!(unset.diag_level(), DiagLevel::Info);
        let resolved = from_code.resolve().expect("valid");
        assert!(resolved.disabled);
        assert!(resolved.exporters.is_empty());
        assert!(from_code.capture.duplicate_legacy_code_attributes);
    }

    #[test]
    fn sdk_disabled_exports_nothing() {
        let env = [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_LOGS_EXPORTER", "json"),
        ];
        let resolved = resolve(builder(), &env).expect("valid");
        assert!(resolved.disabled);
        assert!(resolved.exporters.is_empty());
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn a_zero_otlp_timeout_in_code_means_no_timeout() {
        let resolved = resolve(
            builder()
                .with_otlp_endpoint("http://collector:4318/v1/logs")
                .with_otlp_timeout(Duration::ZERO),
            &[],
        )
        .expect("valid");
        let otlp = resolved.otlp.expect("otlp settings");
        assert_eq!(otlp.timeout, None);
        assert_eq!(otlp.request_timeout(), Some(Duration::from_secs(30)));
    }
}
