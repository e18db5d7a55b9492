//! Turn the `tracing` events and `log` records a program already writes into
//! [OpenTelemetry log records], correlated with the spans they happen in.
//!
//! Add one call at the start of `main` and keep every existing macro:
//!
//! ```no_run
//! let _guard = otel_log_bridge::init();
//!
//! let span = tracing::info_span!("request", http.route = "/users/{id}");
//! let _entered = span.enter();
//! tracing::info!(user.id = 42, latency_ms = 3.5, "request handled");
//! log::warn!(attempt = 2; "retrying");
//! ```
//!
//! Each record is written as one JSON object per line on stdout:
//!
//! ```json
//! {"timestamp":"2026-11-25T15:42:44.123456789Z","observed_timestamp":"2026-11-25T15:42:44.123456789Z",
//!  "severity_text":"INFO","severity_number":9,"body":"request handled",
//!  "attributes":{"user.id":42,"latency_ms":3.5,"http.route":"/users/{id}",
//!                "code.file.path":"src/main.rs","code.line.number":5,"thread.id":1,"thread.name":"main"},
//!  "resource":{"service.name":"unknown_service:app","telemetry.sdk.name":"otel-log-bridge",…},
//!  "scope":{"name":"app"},"trace_id":"5b8efff798038103d269b633813fc60c",
//!  "span_id":"eee19b7ec3c1b174","trace_flags":"00"}
//! ```
//!
//! (wrapped here for reading; each record is one line).
//!
//! # Mapping
//!
//! | Logs Data Model field | Taken from |
//! |---|---|
//! | Timestamp | the wall-clock time the event was recorded (never 0) |
//! | ObservedTimestamp | when the bridge saw it: equal to Timestamp for in-process events |
//! | SeverityNumber / SeverityText | TRACE→1 `TRACE`, DEBUG→5 `DEBUG`, INFO→9 `INFO`, WARN→13 `WARN`, ERROR→17 `ERROR` (same for `log` levels); panics → 21 `FATAL` |
//! | Body | the `message` field (the format string and its arguments), a string; a `message` field given a number or a bool is an attribute of that name instead |
//! | Attributes | event fields, typed (below), then enclosing span fields, then `code.*` and `thread.*`: their order in JSON lines; an OTLP record may hold them in another (its attributes are a map) |
//! | EventName | only an explicit `name:`; the `"event src/x.rs:42"` name `tracing` generates is never copied |
//! | InstrumentationScope name | the event's target (`log`: the record's target; panics: `panic`) |
//! | TraceId / SpanId / TraceFlags | the span the event belongs to (contextual or explicit `parent:`), see below |
//! | Resource | `service.name`, `OTEL_RESOURCE_ATTRIBUTES`, `telemetry.sdk.*`, `process.pid`, `host.name` |
//!
//! Field values keep their types:
//!
//! | Field value | Attribute value |
//! |---|---|
//! | `i64`, and `u64`/`i128`/`u128` that fit in `i64` | integer |
//! | `u64`/`i128`/`u128` beyond the `i64` range | string (OTLP integers are signed 64-bit) |
//! | `f64` | double (JSON lines: `"NaN"`, `"Infinity"`, `"-Infinity"` for non-finite values; OTLP/JSON: a string value of that text) |
//! | `bool` | boolean |
//! | `&str` | string |
//! | `&[u8]` | bytes (JSON: base64) |
//! | `%value` (Display), `?value` (Debug) | string |
//! | a `log` value captured with `:serde` that is a map or a sequence | OTLP `kvlistValue` / `arrayValue`; nested JSON |
//! | `&dyn Error` | `exception.message` (its `Display`) and, when it has sources, `exception.stacktrace` with one `caused by: …` line per source; `exception.type` only through [`TypedError`] |
//!
//! Values of keys that name a secret are replaced by `"[REDACTED]"` before
//! any output sees them, and counted in [`Stats::redacted`]. A key names
//! one when, ignoring case and the `_` or `-` between words, one of its
//! dot-separated segments ends in a word of [`DEFAULT_REDACTED_KEYS`] (or of
//! the list given to [`Builder::with_redacted_keys`]) as its last `_`, `-`
//! or camelCase parts (`db_password`, `csrfToken`, `DBPassword`,
//! `stripe_api_key`), also past parts that only say how the secret is held
//! (`authorization_header`, `token_value`), or consecutive segments spell a
//! dotted word (`user.ssn` redacts `app.user.ssn`).
//!
//! Keys are unique per record: a later field of the same event replaces an
//! earlier one, event fields win over span fields, and a nearer span wins
//! over its ancestors. The bridge's own `code.*` and `thread.*` attributes
//! never overwrite a field of the same name. A second error field in one
//! event keeps its own key with the error's message.
//!
//! Other attributes the bridge adds: `code.file.path` and `code.line.number`
//! ([`Builder::with_code_attributes`]), `thread.id` and `thread.name`
//! ([`Builder::with_thread_attributes`]).
//!
//! ## Trace context
//!
//! - With the `tracing-opentelemetry` feature and its layer installed, a
//!   record carries the trace id, span id and sampled flag of its span's
//!   OpenTelemetry context, also for events with an explicit `parent:`.
//! - Otherwise the bridge assigns W3C-valid ids itself: a root span draws a
//!   random trace id, every span a random span id, children inherit the
//!   trace id, so all records of one request share a trace id. Flags are
//!   `00`: no trace was sampled (a span under one that
//!   `tracing-opentelemetry` tracks takes that trace's id and flags, and a
//!   span id of its own, as a span made inside an OpenTelemetry API span
//!   does: with a filter on the `tracing-opentelemetry` layer that leaves
//!   out debug spans, the records of a debug span carry a span id no
//!   trace backend has, under the right trace; `opentelemetry-appender-tracing`
//!   gives them the tracked span's id instead).
//! - A span that a bridge layer's per-layer filter hides gives that layer
//!   nothing: an event in it carries the context of the nearest enclosing
//!   span the layer sees (also with `tracing-opentelemetry`, whose context
//!   for the hidden span is not asked), or, with none, what an event
//!   outside any span carries. An event whose explicit `parent:` is such a
//!   span, with no span the layer sees around it, carries that span's own
//!   ids. For an event in the current span, "nearest" is as
//!   `tracing-subscriber` gives a filtered layer its current span: the
//!   innermost span the layer sees entered on the thread. That is the
//!   nearest enclosing one unless the hidden span is no descendant of it
//!   (a `parent: None` span entered inside a request's span), when the
//!   event takes the request's context all the same, where a `log` record
//!   and [`trace_context`] there take none. Finding the hidden span's own
//!   ancestors would cost every event in a span a lookup in the registry.
//! - Events outside any span carry no trace context, except, with the
//!   `tracing-opentelemetry` feature, the one the OpenTelemetry API holds
//!   as current (an event given `parent: None` carries none).
//! - [`continue_trace`] makes a span continue a caller's trace (from its
//!   `traceparent` header, [`TraceContext::from_traceparent`]);
//!   [`trace_context`] gives a span's context to pass on to the services it
//!   calls ([`TraceContext::to_traceparent`]).
//!
//! ## Panics
//!
//! [`init`] installs a panic hook (chained to the previous one) that emits a
//! FATAL record with `exception.type = "panic"`, `exception.message`, the
//! location as `code.*` and, when `RUST_BACKTRACE` is set and not `0`,
//! `exception.stacktrace` (every frame with `full`, as the standard
//! library's hook shows it), then flushes it, waiting at most 250 ms
//! (and up to 500 ms more for the current span, when the panicking
//! thread holds it locked), before the process unwinds or aborts (a flush that takes longer is reported on
//! stderr; the record still goes out with the guard's flush if the process
//! lives on; a logger provider's processors are handed the record on the
//! panicking thread, outside that bound, and one that exports as it is
//! handed a record, such as a `SimpleLogProcessor`, makes the hook wait
//! for its export). [`Builder::layer`] installs no hook: with a composed
//! subscriber, [`BridgeLayer::install_panic_hook`] installs the same one.
//!
//! # Configuration
//!
//! Code configuration ([`builder`]) beats environment variables, which beat
//! defaults. Every variable below has a [`Builder`] method: the
//! `with_otlp_*` methods for the OTLP and `OTEL_BLRP_*` variables,
//! [`Builder::with_disabled`] for `OTEL_SDK_DISABLED`,
//! [`Builder::with_diagnostics`] for `OTEL_LOG_LEVEL`,
//! [`Builder::with_legacy_code_attributes`] for
//! `OTEL_SEMCONV_STABILITY_OPT_IN`, and so on. What a variable turns on,
//! code can turn off: [`Builder::without_rate_limit`], `without_spool`
//! (feature `spool`), an empty [`Builder::with_redacted_keys`] list.
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `OTEL_LOGS_EXPORTER` | `otlp` when an OTLP endpoint is set, else `json` | comma list of `otlp`, `otlp/stdout` (OTLP-JSON lines on stdout), `json` (flat JSON lines on stdout), `console` (human-readable, stderr), `none` (alone; beside other names it is reported and ignored); an unknown name is reported on stderr and ignored (the default applies when no name is known); `otlp` or `otlp/stdout` in a build without the `otlp` feature is an error, and such a build keeps `json` when an endpoint is set, saying so on stderr |
//! | `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` | – | full URL of the logs endpoint, used as is |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318` (gRPC: `http://localhost:4317`) | base URL, `http://` or `https://` in any case; HTTP appends `/v1/logs` to its path (before a query) |
//! | `OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL` | `http/protobuf` | `http/protobuf`, `http/json`, `grpc` (feature `grpc`), in any case; an unknown value is reported and ignored; `grpc` in a build without the `grpc` feature is an error |
//! | `OTEL_EXPORTER_OTLP_[LOGS_]HEADERS` | – | `key=value,…`, percent-decoded; malformed pairs reported and skipped; the logs-specific variable replaces the generic one unless it holds no header that can be sent |
//! | `OTEL_EXPORTER_OTLP_[LOGS_]TIMEOUT` | `10000` | ms; over HTTP, each phase of a request (connecting, sending, waiting for the response, reading it) at most; over gRPC, the whole request; `0` for none from this variable (requests stay bounded by `OTEL_BLRP_EXPORT_TIMEOUT` unless it is `0` too) |
//! | `OTEL_EXPORTER_OTLP_[LOGS_]COMPRESSION` | `none` | `gzip` or `none`, in any case; a malformed `LOGS_` value leaves the generic one in force |
//! | `OTEL_EXPORTER_OTLP_[LOGS_]CERTIFICATE` | – | PEM file of the CA certificates to trust, instead of the Mozilla roots built into the crate (`webpki-roots`); read for `https://` endpoints only |
//! | `OTEL_EXPORTER_OTLP_[LOGS_]CLIENT_CERTIFICATE`, `…_CLIENT_KEY` | – | PEM files for mutual TLS (`https://` endpoints) |
//! | `OTEL_EXPORTER_OTLP_[LOGS_]INSECURE` | `false` | gRPC endpoints given without a scheme: `true` (in any case) for plaintext; any other value is false, as the specification's booleans are, and a value other than `false` is reported; read only with the `grpc` protocol, for an endpoint without a scheme (a scheme decides for itself) |
//! | `OTEL_BLRP_SCHEDULE_DELAY` | `1000` | ms between exports at the latest (`otlp` exporter; the other outputs write every 100 ms) |
//! | `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` | `512` | records per request at most (`otlp` exporter; `otlp/stdout` writes up to 512 records a line); cut to `OTEL_BLRP_MAX_QUEUE_SIZE` when larger |
//! | `OTEL_BLRP_EXPORT_TIMEOUT` | `30000` | ms; bounds each request together with the OTLP timeout (`otlp` exporter); `0` for none |
//! | `OTEL_BLRP_MAX_QUEUE_SIZE` | unbounded by count | a record-count bound on top of the 64 MiB byte budget (`otlp` exporter; the other outputs have the byte budget only) |
//! | `OTEL_SERVICE_NAME` | `unknown_service:<executable>` (`unknown_service` when the executable's name is unavailable) | `service.name`, trimmed |
//! | `OTEL_RESOURCE_ATTRIBUTES` | – | `key=value,…`, keys and values percent-decoded; a malformed pair (or an invalid `%` escape) is reported once on stderr and the whole variable is ignored, as the specification asks; a key given twice is reported, and only its last value counts |
//! | `OTEL_SDK_DISABLED` | `false` | `true` exports nothing |
//! | `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT` (then `OTEL_ATTRIBUTE_COUNT_LIMIT`) | `128` | attributes per record; the rest are dropped and counted in `dropped_attributes_count` (in the OTLP and JSON outputs: a logger provider's log record has no such count) |
//! | `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT` (then `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`) | no limit | attribute strings cut to this many characters, bytes to this many bytes; the body is not cut, nor the text of a number (an integer beyond 64 bits, or inside a map or list a string of up to 39 digits, `NaN` or `Infinity`), which cutting would make another number |
//! | `OTEL_SEMCONV_STABILITY_OPT_IN` | current names | `code/dup` also writes `code.filepath`, `code.lineno` (and `code.column` on panic records) |
//! | `OTEL_LOG_BRIDGE_REDACTED_KEYS` | `password,passwords,passwd,passphrase,secret,secrets,client_secret,token,access_token,refresh_token,id_token,api_key,api_keys,apikey,x-api-key,authorization,proxy-authorization,cookie,cookies,set-cookie,private_key,secret_key,access_key,signing_key,encryption_key,credential,credentials,jwt,bearer,session_id,session_key` | words whose keys are redacted (per dot-separated segment, also as its last parts, `db_password`, `stripe_api_key`, past parts such as `_value` or `_header` and a number or version, `password2`, `api_key_v2`); `none` turns it off |
//! | `OTEL_LOG_BRIDGE_SPOOL_DIR` | – | with the `spool` feature: the directory for undeliverable OTLP requests (budget 256 MiB, `Builder::with_spool_budget`) |
//! | `OTEL_LOG_BRIDGE_RATE_LIMIT` | no limit | `<per second>[,<burst>]`, both at least 1: storm control per callsite; suppressed events are counted and summarised in a WARN record; a malformed value is reported and no limit applies |
//! | `OTEL_LOG_LEVEL` | `info` | the crate's own diagnostics on stderr: `none`, `error`, `warn`, `info`, `debug`; an unknown value is reported and `info` is used |
//! | `RUST_LOG` | `info` | `EnvFilter` directives for [`init`]; invalid directives are reported and `info` is used |
//!
//! # OTLP delivery
//!
//! HTTP 429, 502, 503, 504 and connection failures are retried with
//! exponential backoff and jitter (from 100 ms, doubling up to 5 s), a
//! `Retry-After` being honoured as the least wait, up to 60 s; gRPC retries the specification's retryable codes,
//! streams the collector refused or left unprocessed when it went away,
//! and connections that failed before the collector answered, and honours
//! `RetryInfo` alike. A batch that failed
//! four times in a row is reported on stderr with the reason, once per
//! exporter and cause. Other errors count as [`Stats::failed`], a partial success as
//! [`Stats::rejected`]. While the collector is unreachable, records queue up
//! to the byte budget; dropping the [`Guard`] waits at most the shutdown
//! timeout. Records still being sent then are counted as failed when the
//! export worker gives up, which can be shortly after the guard returned. The HTTP and gRPC
//! stacks run on the export thread, whose own events are never exported.
//!
//! # Composing your own subscriber
//!
//! [`Builder::layer`] returns the [`BridgeLayer`] and its [`Guard`] without
//! installing anything; [`BridgeLayer::log_bridge`] gives the `log` bridge
//! and [`BridgeLayer::install_panic_hook`] the panic hook.
//!
//! # Feature flags
//!
//! | Feature | Default | Adds |
//! |---|---|---|
//! | `otlp` | yes | OTLP/HTTP export, protobuf and JSON (its wire types come from `opentelemetry-proto`, which brings `opentelemetry_sdk`'s logs module) |
//! | `grpc` | no | OTLP/gRPC export, driven on the export worker's thread by a single-threaded runtime of the crate's own |
//! | `sdk` | no | `Builder::with_logger_provider`: emit into your own `SdkLoggerProvider`; enables `tracing-opentelemetry` |
//! | `metrics` | no | metrics about the logs on an OpenTelemetry `Meter` (`Builder::with_meter`) |
//! | `valuable` | no | nested values from `tracing::field::valuable` fields (with `--cfg tracing_unstable`) |
//! | `spool` | no | `Builder::with_spool_dir`: a durable spool for OTLP requests the collector could not take |
//! | `tracing-opentelemetry` | no (`sdk` enables it) | trace context from `tracing-opentelemetry` spans, and from a span the application activated through the OpenTelemetry API |
//! | `lint` | no | the checks of [`lint`] (`check_*`, `assert_clean`): source checks for logging calls that lose structure (needs `syn`); its `Rule`, `Level` and `Config` are there without it |
//! | `cli` | no | the `otel-log-lint` command (needs `clap`, `ignore`, `toml`) |
//! | `fuzzing` | no | internal: the entry points of the fuzz targets (no stability guarantee) |
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.89.
//!
//! [OpenTelemetry log records]: https://opentelemetry.io/docs/specs/otel/logs/data-model/
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod capture;
mod config;
mod diag;
mod error;
mod export;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod init;
pub mod lint;
mod record;

pub use crate::capture::redact::DEFAULT_REDACTED_KEYS;
pub use crate::capture::storm::RateLimit;
pub use crate::capture::{continue_trace, trace_context, BridgeLayer, LogBridge, SpanFields};
pub use crate::config::{builder, AttributeValue, Builder, Exporter};
#[cfg(feature = "otlp")]
pub use crate::config::{Compression, Protocol};
pub use crate::error::InitError;
pub use crate::export::{FlushError, LatencyHistogram, SeverityCounts, Stats};
pub use crate::init::{init, try_init, Guard};
pub use crate::record::{TraceContext, TypedError};

/// The README's code blocks, compiled as doctests (they use the `lint`
/// feature's API, so they run when it is enabled, as in the test suite).
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "lint"))]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    /// The guard, the layer and the `log` bridge are moved to and shared
    /// between threads (an async runtime's workers, a global logger).
    #[test]
    fn the_guard_the_layer_and_the_log_bridge_are_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<crate::Guard>();
        shareable::<crate::BridgeLayer>();
        shareable::<crate::LogBridge>();
    }
}
