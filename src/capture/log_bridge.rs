//! The `log` bridge: `log` records, key-values included, into the same
//! pipeline as `tracing` events.

use std::cell::Cell;
use std::error::Error;
use std::sync::Arc;

use log::kv::{self, VisitSource, VisitValue};
use tracing_core::callsite::{Callsite, Identifier};
use tracing_core::field::FieldSet;
use tracing_core::metadata::Kind;
use tracing_core::{Interest, Metadata};

use crate::capture::redact::{RedactionSettings, REDACTED, WITHHELD};
use crate::capture::runtime_lint::{LogSite, RuntimeLint};
use crate::capture::span::LayerKey;
use crate::capture::visit::record_exception;
use crate::capture::{
    add_common_attributes, is_suppressed, span, with_scratch, CaptureOptions, SourceFile,
};
use crate::export::Pipeline;
use crate::record::tree::{non_finite_double, Tree, Unserializable, TOO_DEEP};
use crate::record::{
    i128_value, u128_value, unsigned_value, Key, OnDuplicate, Record, ScopeName, Severity, Value,
};

/// A [`log::Log`] that sends `log` records through this crate's pipeline.
///
/// Filtering follows the current `tracing` dispatcher: a record is written
/// when the bridge's layer in that subscriber would take an event of its
/// level and target, whether a global filter (`RUST_LOG`, an `EnvFilter`
/// layer) or a filter around the layer itself (`Layer::with_filter`)
/// decides. A subscriber without the bridge's layer takes no `log`
/// records. A record inside an entered `tracing` span gets that span's
/// trace context and fields.
/// `flush` flushes the pipeline, bounded by the shutdown timeout.
#[derive(Clone, Debug)]
pub struct LogBridge {
    pipeline: Arc<Pipeline>,
    options: CaptureOptions,
    lint: Arc<RuntimeLint>,
}

impl LogBridge {
    pub(crate) fn new(
        pipeline: Arc<Pipeline>,
        options: CaptureOptions,
        lint: Arc<RuntimeLint>,
    ) -> LogBridge {
        LogBridge {
            pipeline,
            options,
            lint,
        }
    }
}

/// A callsite of the bridge's own: `tracing` filters need one to answer,
/// and a `log` record has none. It holds its metadata, which also keeps it
/// from being zero-sized: callsites are told apart by address, and a
/// zero-sized static may share its address with another static.
struct BridgeCallsite {
    metadata: &'static Metadata<'static>,
}

impl Callsite for BridgeCallsite {
    fn set_interest(&self, _: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        self.metadata
    }
}

/// The callsite that `log` records are filtered under.
static LOG_CALLSITE: BridgeCallsite = BridgeCallsite {
    metadata: &LOG_CALLSITE_METADATA,
};

static LOG_CALLSITE_METADATA: Metadata<'static> = Metadata::new(
    "log record",
    "log",
    tracing_core::Level::TRACE,
    None,
    None,
    None,
    FieldSet::new(&[], tracing_core::identify_callsite!(&LOG_CALLSITE)),
    Kind::EVENT,
);

/// The callsite of the question that clears what per-layer filters kept of
/// the last one (see [`enabled_by_dispatcher`]); the bridge's layer is
/// never interested in it.
static FILTER_RESET_CALLSITE: BridgeCallsite = BridgeCallsite {
    metadata: &FILTER_RESET_METADATA,
};

static FILTER_RESET_METADATA: Metadata<'static> = Metadata::new(
    "log record filtered",
    "log",
    tracing_core::Level::ERROR,
    None,
    None,
    None,
    FieldSet::new(
        &[],
        tracing_core::identify_callsite!(&FILTER_RESET_CALLSITE),
    ),
    Kind::EVENT,
);

fn tracing_level(level: log::Level) -> tracing_core::Level {
    match level {
        log::Level::Error => tracing_core::Level::ERROR,
        log::Level::Warn => tracing_core::Level::WARN,
        log::Level::Info => tracing_core::Level::INFO,
        log::Level::Debug => tracing_core::Level::DEBUG,
        log::Level::Trace => tracing_core::Level::TRACE,
    }
}

/// Whether `metadata` is the bridge's filter-clearing question, which its
/// layer refuses.
pub(crate) fn is_filter_reset(metadata: &Metadata<'_>) -> bool {
    metadata.callsite() == Identifier(&FILTER_RESET_CALLSITE)
}

thread_local! {
    /// While a bridge asks the dispatcher about a record: its pipeline's
    /// key, and whether that pipeline's layer was asked in turn.
    static ASKING: Cell<Option<(LayerKey, bool)>> = const { Cell::new(None) };
}

/// Called by the layer of pipeline `key` when the subscriber asks it
/// whether it wants `metadata`: notes that a `log` record's question
/// reached the layer, which a per-layer filter around it lets happen only
/// when it takes the record.
pub(crate) fn note_question(metadata: &Metadata<'_>, key: LayerKey) {
    if metadata.callsite() != Identifier(&LOG_CALLSITE) {
        return;
    }
    let _ = ASKING.try_with(|asking| {
        if let Some((asking_key, _)) = asking.get() {
            if asking_key == key {
                asking.set(Some((key, true)));
            }
        }
    });
}

/// Asks the current dispatcher whether the layer of pipeline `key` would
/// take a record of this level and target, as if it were a `tracing`
/// event.
///
/// The dispatcher's own answer is not enough: with per-layer filters
/// (`Layer::with_filter`), `tracing-subscriber` answers `true` whenever any
/// layer might want the record (and with fewer than 64 filters, always),
/// leaving each filtered layer to skip an event it refused when the event
/// comes. A `log` record never comes as an event, so the record is taken
/// only when the question also reached the bridge's layer, which a filter
/// around that layer passes on only when it enables the record (see
/// [`note_question`]).
///
/// `tracing-subscriber`'s per-layer filters keep their answers for the
/// thread's next event or span, which consumes them; a `log` record is
/// neither, so the answers would stay and hide the next event or span whose
/// callsite skips filtering from the layers they disabled. A second
/// question clears them: the bridge's layer refuses it, and a layer that
/// refuses makes `tracing-subscriber` clear the per-layer answers. It is
/// asked with the record's target and location, which a filter that took
/// the record passes on to the layer. (A per-layer filter around the
/// bridge's own layer that refuses an ERROR question for them keeps this
/// from working.)
fn enabled_by_dispatcher(
    level: log::Level,
    target: &str,
    location: Option<&log::Record<'_>>,
    key: LayerKey,
) -> bool {
    // What `tracing`'s own macros check first: a record more verbose than
    // every subscriber alive takes (a dependency's `trace!` under an
    // `info` filter, with `log`'s own maximum left at `Trace`) asks no
    // layer anything, twice.
    if tracing_level(level) > tracing::level_filters::LevelFilter::current() {
        return false;
    }
    let file = location.and_then(log::Record::file);
    let line = location.and_then(log::Record::line);
    let module_path = location.and_then(log::Record::module_path);
    // A filter may go by the source location, as a `tracing` event's (or
    // a record `tracing-log` forwards) would have it; `Log::enabled` is
    // given none to ask with.
    let metadata = |name, level, callsite| {
        Metadata::new(
            name,
            target,
            level,
            file,
            line,
            module_path,
            FieldSet::new(&[], callsite),
            Kind::EVENT,
        )
    };
    let question = metadata(
        "log record",
        tracing_level(level),
        Identifier(&LOG_CALLSITE),
    );
    let reset = metadata(
        "log record filtered",
        tracing_core::Level::ERROR,
        Identifier(&FILTER_RESET_CALLSITE),
    );
    tracing::dispatcher::get_default(|dispatch| {
        // While the thread is being torn down, the dispatcher answers alone.
        let previous = ASKING.try_with(|asking| asking.replace(Some((key, false))));
        let enabled = dispatch.enabled(&question);
        let reached = match previous {
            Ok(previous) => ASKING
                .try_with(|asking| asking.replace(previous))
                .ok()
                .flatten()
                .is_some_and(|(_, reached)| reached),
            Err(_) => true,
        };
        let _ = dispatch.enabled(&reset);
        enabled && reached
    })
}

impl LogBridge {
    /// Whether the bridge takes a record of `metadata`, at `location` when
    /// the record is at hand.
    fn takes(&self, metadata: &log::Metadata<'_>, location: Option<&log::Record<'_>>) -> bool {
        // The crate's own threads log nothing (see `log`): a caller that
        // asks first (`log_enabled!`) is told so, and formats nothing.
        !is_suppressed()
            && self.pipeline.is_open()
            && enabled_by_dispatcher(
                metadata.level(),
                metadata.target(),
                location,
                LayerKey::of(&self.pipeline),
            )
    }
}

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.takes(metadata, None)
    }

    fn log(&self, source: &log::Record<'_>) {
        if !self.takes(source.metadata(), Some(source)) {
            if !is_suppressed() && !self.pipeline.is_open() {
                self.pipeline.note_discarded();
            }
            return;
        }
        // Records are not limited, but they give the summaries of storms
        // that ended, as `tracing` events do.
        if let Some(storm) = self.pipeline.storm() {
            storm.summarize_ended(&self.pipeline, source.target());
        }
        with_scratch(|record| {
            record.set_limits(self.options.limits);
            record.reset(
                crate::record::clock::now_unix_nanos(),
                Severity::from_log(source.level()),
                ScopeName::Static(""),
            );
            record.scope = ScopeName::Arena(record.push_text(source.target()));
            let body = match source.args().as_str() {
                Some(text) => record.push_text(text),
                None => record.push_fmt(*source.args()),
            };
            record.body = Some(body);
            let mut key_values = KeyValues {
                record,
                redaction: self.pipeline.redactor().settings(),
                redacted: 0,
            };
            let _ = source.key_values().visit(&mut key_values);
            self.pipeline.redactor().count(key_values.redacted);
            let lint_site = self.lint.enabled().then(|| LogSite {
                target: source.target(),
                file: source.file(),
                line: source.line(),
            });
            if let Some(site) = &lint_site {
                let _ = source.key_values().visit(&mut LintedKeys {
                    lint: &self.lint,
                    site,
                });
            }
            span::add_current_span(
                record,
                span::LayerKey::of(&self.pipeline),
                &self.options,
                source.target(),
            );
            let file = source
                .file_static()
                .map(SourceFile::Static)
                .or_else(|| source.file().map(SourceFile::Borrowed));
            add_common_attributes(record, &self.options, file, source.line());
            self.pipeline.redactor().redact_values(record);
            // After redaction, as for `tracing` events: the lint keeps a
            // call's first message, which must not hold a token.
            if let Some(site) = &lint_site {
                // A message of constant text formats no value. Only the
                // others are watched: calls that share a source position
                // (two on one line, or in one `macro_rules!` expansion)
                // would have their constant messages taken for one
                // message with values formatted into it.
                let formats_values = source.args().as_str().is_none();
                self.lint
                    .check_log_body(site, record.body().filter(|_| formats_values));
            }
            self.pipeline.emit(record);
        });
    }

    fn flush(&self) {
        // `log` has no way to say a flush failed; on one of the crate's own
        // threads (a writer that flushes the `log` logger), it fails at
        // once rather than waiting for itself.
        let _ = self.pipeline.flush();
    }
}

/// Hands a `log` record's keys to the runtime lint.
struct LintedKeys<'a> {
    lint: &'a RuntimeLint,
    site: &'a LogSite<'a>,
}

impl<'kvs> VisitSource<'kvs> for LintedKeys<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, _: kv::Value<'kvs>) -> Result<(), kv::Error> {
        self.lint.check_log_key(self.site, key_name(&key));
        Ok(())
    }
}

/// A `log` key's name. The `log` macros name a key given as an
/// identifier by `stringify!`, which keeps a raw identifier's `r#`
/// (`r#type = "a"` is the key `r#type`); `tracing` strips it from field
/// names, and so does this, so that both name the attribute `type`.
fn key_name<'k>(key: &'k kv::Key<'_>) -> &'k str {
    let key = key.as_str();
    match key.strip_prefix("r#") {
        Some(name) if !name.is_empty() && name.chars().all(|c| c == '_' || c.is_alphanumeric()) => {
            name
        }
        _ => key,
    }
}

/// Visits a `log` record's key-values into typed attributes.
struct KeyValues<'r> {
    record: &'r mut Record,
    redaction: &'r RedactionSettings,
    redacted: u64,
}

impl<'kvs> VisitSource<'kvs> for KeyValues<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let name = key_name(&key);
        if self.redaction.is_sensitive(name) {
            self.redacted += 1;
            let key = Key::Arena(self.record.push_text(name));
            self.record
                .set_attribute(key, Value::StaticStr(REDACTED), OnDuplicate::Replace);
            return Ok(());
        }
        // The record's first error becomes its `exception.*` attributes
        // whatever its key, so it is not one of those the count limit
        // drops by key.
        let exception = !self.record.has_exception && value.to_borrowed_error().is_some();
        if !exception && self.record.is_full_without(name) {
            // Dropped for the count limit: only counted, so its value is
            // not formatted nor serialized, and its key is kept only as
            // far as counting needs. A `Source` of a million pairs then
            // costs a visit per pair, not a million values in memory.
            self.record.drop_attribute(name);
            return Ok(());
        }
        let key = Key::Arena(self.record.push_text(name));
        let mut typed = TypedValue {
            record: self.record,
            redaction: self.redaction,
            redacted: &mut self.redacted,
            value: None,
        };
        // Visiting only fails when the visitor fails, and this one never
        // does. `None` means the value became the record's exception.
        let _ = value.visit(&mut typed);
        if let Some(value) = typed.value {
            self.record.set_attribute(key, value, OnDuplicate::Replace);
        }
        Ok(())
    }
}

/// Reads one `log` value with its type.
struct TypedValue<'r> {
    record: &'r mut Record,
    /// For secret-named keys inside maps and lists.
    redaction: &'r RedactionSettings,
    redacted: &'r mut u64,
    value: Option<Value>,
}

impl<'v> VisitValue<'v> for TypedValue<'_> {
    fn visit_any(&mut self, value: kv::Value<'_>) -> Result<(), kv::Error> {
        // Values captured with `:serde` keep their structure: maps and
        // sequences become OTLP kvlist and array values, and a number, a
        // bool or nothing (a newtype or an `Option` around one) is that
        // value, as it is inside a map. Everything else (`Display`,
        // `Debug`) is its text: such a value serializes as that text,
        // which is kept rather than formatted a second time (the user's
        // impl runs once).
        let (redaction, redacted) = (self.redaction, &mut *self.redacted);
        let tree = crate::record::tree::to_tree(&value, |tree| {
            *redacted += redaction.redact_tree(tree);
        });
        self.value = Some(match tree {
            Ok(Tree::Value(
                tree @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)),
            )) => self.record.push_nested(tree),
            // A number JSON cannot hold, in a newtype, is that number, as
            // a plain value of its type is: a non-finite double, or an
            // integer beyond 64 bits as its text, which the length limit
            // keeps whole.
            Ok(Tree::Numeral(text)) => match non_finite_double(&text) {
                Some(double) => Value::Double(double),
                None => Value::Numeral(self.record.push_text(&text)),
            },
            Ok(Tree::Value(serde_json::Value::String(text))) => {
                Value::Str(self.record.push_text(&text))
            }
            Ok(Tree::Bytes(bytes)) => Value::Bytes(self.record.push_bytes(&bytes)),
            Ok(Tree::Value(serde_json::Value::Bool(b))) => Value::Bool(b),
            Ok(Tree::Value(serde_json::Value::Null)) => {
                self.record.push_nested(serde_json::Value::Null)
            }
            Ok(Tree::Value(serde_json::Value::Number(number))) => {
                match (number.as_i64(), number.as_u64(), number.as_f64()) {
                    (Some(int), _, _) => Value::Int(int),
                    (None, Some(unsigned), _) => unsigned_value(self.record, unsigned),
                    (None, None, Some(float)) => Value::Double(float),
                    (None, None, None) => {
                        Value::Str(self.record.push_fmt(format_args!("{number}")))
                    }
                }
            }
            // The `log` crate formats such a value by serializing it again:
            // the text holds whatever came before the failure, and secret
            // names in it cannot be found. With redaction on, neither is
            // kept, nor the error, which may quote the value it refused.
            Err(_) if self.redaction.is_active() => {
                *self.redacted += 1;
                Value::StaticStr(WITHHELD)
            }
            Err(Unserializable::TooDeepToFormat) => Value::StaticStr(TOO_DEEP),
            Err(Unserializable::Formattable) => {
                Value::Str(self.record.push_fmt(format_args!("{value}")))
            }
        });
        Ok(())
    }

    fn visit_null(&mut self) -> Result<(), kv::Error> {
        // An empty value: the data model keeps it as such (an empty
        // `AnyValue` in OTLP, `null` in JSON) rather than as a text.
        self.value = Some(self.record.push_nested(serde_json::Value::Null));
        Ok(())
    }

    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        self.value = Some(unsigned_value(self.record, value));
        Ok(())
    }

    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        self.value = Some(Value::Int(value));
        Ok(())
    }

    fn visit_u128(&mut self, value: u128) -> Result<(), kv::Error> {
        self.value = Some(u128_value(self.record, value));
        Ok(())
    }

    fn visit_i128(&mut self, value: i128) -> Result<(), kv::Error> {
        self.value = Some(i128_value(self.record, value));
        Ok(())
    }

    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        self.value = Some(Value::Double(value));
        Ok(())
    }

    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        self.value = Some(Value::Bool(value));
        Ok(())
    }

    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.value = Some(Value::Str(self.record.push_text(value)));
        Ok(())
    }

    fn visit_char(&mut self, value: char) -> Result<(), kv::Error> {
        let mut buf = [0u8; 4];
        self.value = Some(Value::Str(
            self.record.push_text(value.encode_utf8(&mut buf)),
        ));
        Ok(())
    }

    fn visit_borrowed_error(&mut self, err: &'v (dyn Error + 'static)) -> Result<(), kv::Error> {
        // `log`'s default would render the error as `visit_any`.
        self.visit_error(err)
    }

    fn visit_error(&mut self, err: &(dyn Error + 'static)) -> Result<(), kv::Error> {
        if self.record.has_exception {
            self.value = Some(Value::Str(self.record.push_fmt(format_args!("{err}"))));
        } else {
            // The first error becomes the record's exception; its key is
            // not repeated as a plain attribute.
            record_exception(self.record, err);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use log::Log as _;
    use tracing_subscriber::prelude::*;

    use crate::capture::suppress_current_thread;

    /// Regression: on the crate's own threads, whose records are dropped,
    /// `enabled` still said yes, and `log_enabled!` callers (the HTTP and
    /// TLS stacks the exporters use) formatted records for nothing.
    #[test]
    fn a_suppressed_thread_is_told_its_records_are_not_wanted() {
        let (layer, guard) = crate::builder()
            .with_json_writer(std::io::sink())
            .layer()
            .expect("valid configuration");
        let bridge = layer.log_bridge();
        let answers = std::thread::spawn(move || {
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
                let metadata = log::Metadata::builder()
                    .level(log::Level::Error)
                    .target("app")
                    .build();
                let before = bridge.enabled(&metadata);
                suppress_current_thread();
                (before, bridge.enabled(&metadata))
            })
        })
        .join()
        .expect("the thread");
        drop(guard);
        assert_eq!(answers, (true, false));
    }
}
