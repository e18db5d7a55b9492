//! The `tracing` layer: events in, records out.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record as SpanValues};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::capture::direct::{self, CallsiteFields, Direct};
use crate::capture::log_bridge;
use crate::capture::redact::Redactor;
use crate::capture::runtime_lint::RuntimeLint;
use crate::capture::span::{self, LayerKey, SpanData, SpanState};
use crate::capture::storm::{Emitter, Verdict};
use crate::capture::visit::{is_forwarded_log, EventVisitor, ForwardedLog, SpanFieldVisitor};
use crate::capture::{
    add_common_attributes, install_panic_hook, is_suppressed, with_scratch, CaptureOptions,
    LogBridge, SourceFile,
};
use crate::export::callsites::CallsiteTable;
use crate::export::{Encoding, Pipeline};
use crate::record::{ScopeName, Severity};

/// The `tracing` layer that turns events into OpenTelemetry log records.
///
/// Made by [`Builder::layer`](crate::Builder::layer) for applications that
/// compose their own subscriber; [`init`](crate::init) installs it for you.
/// It works with any subscriber that can look spans up (a
/// [`Registry`](tracing_subscriber::Registry) stack) and brings no filter of
/// its own: add one with the usual `tracing-subscriber` tools. A registry
/// may carry several bridge layers (one per output, each with its own
/// filter): each keeps span fields by its own settings, and a span's records
/// carry the same trace context in all of them.
///
/// ```
/// use tracing_subscriber::prelude::*;
///
/// let (layer, guard) = otel_log_bridge::builder()
///     .with_json_writer(std::io::sink())
///     .layer()?;
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(user.id = 42, "signed in");
/// });
/// drop(guard);
/// # Ok::<(), otel_log_bridge::InitError>(())
/// ```
#[derive(Debug)]
pub struct BridgeLayer {
    shared: Arc<Shared>,
    /// The dispatcher this layer (this clone) is part of, for looking up
    /// the OpenTelemetry context of `tracing-opentelemetry` spans. Each
    /// clone has its own: clones may serve different subscribers.
    dispatch: OnceLock<WeakDispatch>,
}

impl Clone for BridgeLayer {
    /// A layer sharing this one's pipeline, for another subscriber.
    fn clone(&self) -> BridgeLayer {
        BridgeLayer {
            shared: Arc::clone(&self.shared),
            dispatch: OnceLock::new(),
        }
    }
}

#[derive(Debug)]
struct Shared {
    pipeline: Arc<Pipeline>,
    options: CaptureOptions,
    /// How many subscribers the layer's clones were added to.
    subscribers: AtomicUsize,
    /// Set once clones of the layer serve more than one subscriber: a span
    /// id, and the spans a thread entered, may then be another registry's,
    /// so the direct path, which keys spans by pipeline and id, is not
    /// taken (for as long as the pipeline lives).
    several_subscribers: AtomicBool,
    lint: Arc<RuntimeLint>,
    /// What is decided once per callsite.
    callsites: CallsiteTable<CallsiteInfo>,
    /// The encoding events are written in straight from their fields (see
    /// `capture::direct`), when the pipeline and the options allow it:
    /// decided once, as neither changes.
    direct: Option<Encoding>,
}

/// What the layer decides once per callsite.
#[derive(Debug)]
struct CallsiteInfo {
    event_name: Option<&'static str>,
    /// Whether its events are `log` records `tracing-log` forwarded.
    forwarded_log: bool,
    /// Its fields' encoded keys, when the layer takes the direct path in
    /// that encoding and the callsite's field names allow it.
    fields: Option<CallsiteFields>,
    /// Whether its records read the OpenTelemetry API's context (see
    /// [`span::otel::reads_api_context`]).
    reads_api_context: bool,
}

impl CallsiteInfo {
    fn new(
        metadata: &'static Metadata<'static>,
        redactor: &Redactor,
        direct: Option<Encoding>,
    ) -> CallsiteInfo {
        let forwarded_log = is_forwarded_log(metadata);
        // A forwarded `log` record's `log.*` fields need the record path.
        let direct = direct.filter(|_| !forwarded_log);
        CallsiteInfo {
            event_name: explicit_event_name(metadata),
            forwarded_log,
            fields: direct.and_then(|encoding| CallsiteFields::new(metadata, redactor, encoding)),
            reads_api_context: span::otel::reads_api_context(metadata.target()),
        }
    }
}

impl BridgeLayer {
    pub(crate) fn new(pipeline: Arc<Pipeline>, options: CaptureOptions) -> BridgeLayer {
        let direct = pipeline
            .direct_encoding()
            .filter(|_| options.limits.value_length.is_none());
        BridgeLayer {
            shared: Arc::new(Shared {
                direct,
                pipeline,
                lint: Arc::new(RuntimeLint::new(options.lint.clone())),
                options,
                subscribers: AtomicUsize::new(0),
                several_subscribers: AtomicBool::new(false),
                callsites: CallsiteTable::default(),
            }),
            dispatch: OnceLock::new(),
        }
    }

    /// A `log::Log` implementation that sends `log` records through the same
    /// pipeline, with their key-values. [`init`](crate::init) installs it;
    /// with a composed subscriber install it yourself:
    ///
    /// ```
    /// # let (layer, _guard) = otel_log_bridge::builder().with_json_writer(std::io::sink()).layer()?;
    /// let bridge = layer.log_bridge();
    /// // log::set_boxed_logger(Box::new(bridge))?;
    /// // log::set_max_level(log::LevelFilter::Trace);
    /// # let _ = bridge;
    /// # Ok::<(), otel_log_bridge::InitError>(())
    /// ```
    ///
    /// Install the subscriber with `tracing::subscriber::set_global_default`,
    /// not `tracing_subscriber`'s `init()`: with its `tracing-log` feature
    /// (on by default), that also sets a `log` logger of its own, and fails
    /// when this one is set already (or keeps this one from being set).
    ///
    /// Each record is filtered by asking the current subscriber whether
    /// this layer would take an event of that level and target (a global
    /// filter or one around this layer decides; a subscriber without this
    /// layer takes no `log` records), and is then written to this layer's
    /// pipeline only; other layers do not see it. A record is asked about
    /// with its module path and source location, as a `tracing` event would
    /// be; `log::log_enabled!` is asked with the level and target alone
    /// (`log::Metadata` has nothing else), so a filter that goes by module
    /// path or file answers it as for an event without them.
    ///
    /// **Per-layer filters.** `tracing-subscriber`'s per-layer filters
    /// (`Layer::with_filter`) keep their answer to that question for the
    /// thread's next event, which is meant to consume it. The bridge asks a
    /// second question that clears those answers, so that they cannot hide
    /// the next event from a layer. That takes this layer seeing the
    /// question: a per-layer filter around this layer that refuses an
    /// ERROR event for the record's target keeps the answers in place.
    /// A record logged while an event is being dispatched (by a value's
    /// `Debug` or `Display`) clears them for that event too, which may
    /// then reach a layer whose per-layer filter refused it; a `tracing`
    /// event nested the same way does so inside `tracing-subscriber`.
    pub fn log_bridge(&self) -> LogBridge {
        LogBridge::new(
            Arc::clone(&self.shared.pipeline),
            self.shared.options.clone(),
            Arc::clone(&self.shared.lint),
        )
    }

    /// Installs a panic hook that records each panic as a FATAL record in
    /// this layer's pipeline (with `exception.*`, the source location and
    /// the current span's fields and trace context), waits at most 250 ms
    /// for it to be exported, then calls the hook installed before it.
    /// [`init`](crate::init) installs it, unless told not to with
    /// [`with_panic_hook`](crate::Builder::with_panic_hook); with a composed
    /// subscriber install it yourself, before the layer moves into the
    /// subscriber:
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// let (layer, guard) = otel_log_bridge::builder()
    ///     .with_json_writer(std::io::sink())
    ///     .layer()?;
    /// layer.install_panic_hook();
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// // tracing::subscriber::set_global_default(subscriber)?;
    /// # let _ = (subscriber, guard);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// The hook holds the pipeline weakly: once the guard has shut the
    /// pipeline down, it only calls the previous hook. A pipeline gets one
    /// hook: calling this again, or after [`init`](crate::init) installed
    /// it, does nothing.
    pub fn install_panic_hook(&self) {
        install_panic_hook(&self.shared.pipeline, self.shared.options.clone());
    }
}

impl<S> Layer<S> for BridgeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    /// Counted here rather than at registration: the wrappers that do not
    /// pass the dispatcher on (`Option`, `Vec`, the layer a `reload::Layer`
    /// starts with) still tell a layer it was added. A layer that
    /// `reload::Handle::reload` swaps in later is told neither.
    fn on_layer(&mut self, _subscriber: &mut S) {
        self.shared.pipeline.note_layered();
        if self.shared.subscribers.fetch_add(1, Ordering::Relaxed) > 0 {
            self.shared
                .several_subscribers
                .store(true, Ordering::Relaxed);
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        log_bridge::note_question(metadata, LayerKey::of(&self.shared.pipeline));
        // Refused so that the per-layer filters' answers to the `log`
        // bridge's question are cleared (see `log_bridge`).
        !log_bridge::is_filter_reset(metadata)
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // `tracing-log`'s callsites stand for every `log` record of a
        // level: their keys and names are its own, not the program's.
        if !is_suppressed() && !is_forwarded_log(metadata) {
            let explicit_name = explicit_event_name(metadata).is_some();
            self.shared.lint.check_callsite(metadata, explicit_name);
        }
        // The layer filters nothing: whether a callsite is enabled is up to
        // the subscriber's filters.
        Interest::always()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut data = SpanData::default();
        if !self.shared.options.span_fields.is_none() {
            let mut visitor = SpanFieldVisitor {
                fields: &mut data.fields,
                filter: &self.shared.options.span_fields,
                redaction: self.shared.pipeline.redactor().settings(),
                redacted: 0,
            };
            attrs.record(&mut visitor);
            self.shared.pipeline.redactor().count(visitor.redacted);
        }
        let key = LayerKey::of(&self.shared.pipeline);
        // Only a build that reads OpenTelemetry's context has a use for it.
        let root = cfg!(feature = "tracing-opentelemetry") && span.parent().is_none();
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanState>() {
            // Another bridge layer of this registry saw the span first.
            Some(state) => state.insert(key, data),
            None => {
                let mut state = SpanState::new(key, data);
                if root {
                    state.note_api_parent(attrs);
                }
                extensions.insert(state);
            }
        }
    }

    fn on_record(&self, id: &Id, values: &SpanValues<'_>, ctx: Context<'_, S>) {
        if self.shared.options.span_fields.is_none() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        // The values are formatted before the span's extensions are locked:
        // a `Debug` impl may log (which reads the extensions) or panic (the
        // panic hook reads them too), and either would wait on this lock.
        let mut updates = Vec::new();
        let mut visitor = SpanFieldVisitor {
            fields: &mut updates,
            filter: &self.shared.options.span_fields,
            redaction: self.shared.pipeline.redactor().settings(),
            redacted: 0,
        };
        values.record(&mut visitor);
        self.shared.pipeline.redactor().count(visitor.redacted);
        if updates.is_empty() {
            return;
        }
        let mut extensions = span.extensions_mut();
        let key = LayerKey::of(&self.shared.pipeline);
        if let Some(data) = extensions
            .get_mut::<SpanState>()
            .and_then(|state| state.layer_mut(key))
        {
            for (key, value) in updates {
                match data
                    .fields
                    .iter_mut()
                    .find(|(existing, _)| *existing == key)
                {
                    Some(slot) => slot.1 = value,
                    None => data.fields.push((key, value)),
                }
            }
            data.fields_changed();
        }
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        span::otel::note_thread();
        // Only the direct path looks the current span up this way.
        if self.shared.direct.is_some() {
            direct::entered(&self.shared.pipeline, id);
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        if self.shared.direct.is_some() {
            direct::exited(&self.shared.pipeline, id);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let shared = &*self.shared;
        if is_suppressed() {
            return;
        }
        if !shared.pipeline.is_open() {
            shared.pipeline.note_discarded();
            return;
        }
        let metadata = event.metadata();
        let callsite = std::ptr::from_ref(metadata) as usize;
        let (event_name, forwarded, fields, reads_api_context) =
            match shared.callsites.get_or_render(callsite, || {
                CallsiteInfo::new(metadata, shared.pipeline.redactor(), shared.direct)
            }) {
                Some((_, info)) => (
                    info.event_name,
                    info.forwarded_log,
                    info.fields.as_ref(),
                    info.reads_api_context,
                ),
                None => (
                    explicit_event_name(metadata),
                    is_forwarded_log(metadata),
                    None,
                    span::otel::reads_api_context(metadata.target()),
                ),
            };
        // OpenTelemetry's own events may come while it holds its context
        // borrowed: they must not read it, here or below.
        if reads_api_context {
            span::otel::note_thread();
        }
        // Rate limits are per callsite, and forwarded `log` records have
        // none of their own (one serves every record of a level), so they
        // are not limited, as records the `log` bridge receives are not.
        if let Some(storm) = shared.pipeline.storm() {
            let verdict = if forwarded {
                Verdict::Emit
            } else {
                storm.check(metadata)
            };
            let suppressed = match verdict {
                Verdict::Emit => false,
                Verdict::Suppress => true,
                Verdict::EmitAfterSummary(suppressed) => {
                    storm.emit_summary(&shared.pipeline, metadata, suppressed, Emitter::Callsite);
                    false
                }
            };
            // Any event, limited or not, then gives the summaries of
            // storms that ended at other callsites, before it is captured
            // or suppressed. After its own callsite's: a storm that ended
            // there is summarized with the thread of the event let through.
            storm.summarize_ended(&shared.pipeline, metadata.target());
            if suppressed {
                return;
            }
        }
        // `fields` is there only when the layer takes the direct path.
        let direct_sink = shared
            .direct
            .filter(|_| !shared.several_subscribers.load(Ordering::Relaxed))
            .zip(shared.pipeline.single_sink())
            .zip(fields);
        if let Some(((encoding, sink), fields)) = direct_sink {
            let direct = Direct {
                pipeline: &shared.pipeline,
                sink,
                encoding,
                options: &shared.options,
                lint: &shared.lint,
                dispatch: span::DispatchRef::Weak(&self.dispatch),
                event_name,
                fields,
                reads_api_context,
            };
            if direct.capture(event, &ctx) {
                return;
            }
        }
        with_scratch(|record| {
            record.set_limits(shared.options.limits);
            record.reset(
                crate::record::clock::now_unix_nanos(),
                Severity::from_tracing(*metadata.level()),
                ScopeName::Static(metadata.target()),
            );
            record.event_name = event_name;
            // A forwarded `log` record shares its callsite with every
            // record of its level: nothing of it may be cached per callsite.
            record.callsite = (!forwarded).then_some(callsite);
            let redactor = shared.pipeline.redactor();
            let mut visitor = EventVisitor {
                record: &mut *record,
                redact_mask: redactor.field_mask(metadata),
                redaction: redactor.settings(),
                redacted: 0,
                forwarded_log: forwarded.then(ForwardedLog::default),
            };
            event.record(&mut visitor);
            redactor.count(visitor.redacted);
            let forwarded_log = visitor.forwarded_log;
            match ctx.event_span(event) {
                Some(span) => span::add_span_context(
                    record,
                    &span,
                    LayerKey::of(&shared.pipeline),
                    span::DispatchRef::Weak(&self.dispatch),
                    !shared.options.span_fields.is_none(),
                ),
                // An event given `parent: None` asked for no trace; the
                // context the OpenTelemetry API holds is for the others.
                None if event.is_root() => {
                    record.trace = None;
                    record.detached = true;
                }
                None => {
                    // An explicit parent this layer's filter hides: the
                    // nearest span the layer sees, as for an event in it,
                    // else the parent's own trace.
                    let from_hidden_parent = event.parent().is_some_and(|parent| {
                        span::add_hidden_parent_context(
                            record,
                            parent,
                            LayerKey::of(&shared.pipeline),
                            span::DispatchRef::Weak(&self.dispatch),
                            !shared.options.span_fields.is_none(),
                        )
                    });
                    if !from_hidden_parent && reads_api_context {
                        record.trace = span::otel::current_context();
                    }
                }
            }
            match forwarded_log {
                Some(ForwardedLog { target, file, line }) => {
                    if let Some(target) = target {
                        record.scope = ScopeName::Arena(target);
                    }
                    add_common_attributes(
                        record,
                        &shared.options,
                        file.map(SourceFile::InRecord),
                        line,
                    );
                }
                None => {
                    add_common_attributes(
                        record,
                        &shared.options,
                        metadata.file().map(SourceFile::Static),
                        metadata.line(),
                    );
                }
            }
            redactor.redact_values(record);
            // The runtime lint compares a callsite's messages: records
            // forwarded from `log` would all look like one callsite.
            if shared.lint.enabled() && !forwarded {
                shared.lint.check_body(metadata, record.body());
            }
            shared.pipeline.emit(record);
        });
    }
}

/// The event name given with `name:`, or `None` for the `"event file:line"`
/// name that `tracing` generates when none was given (and for `tracing-log`'s
/// `"log event"`): that one names a source position, not an event, and would
/// make every record an Event.
fn explicit_event_name(metadata: &'static Metadata<'static>) -> Option<&'static str> {
    if is_forwarded_log(metadata) {
        // `tracing-log`'s name for every record it forwards.
        return None;
    }
    let name = metadata.name();
    let generated = match (
        name.strip_prefix("event "),
        metadata.file(),
        metadata.line(),
    ) {
        (Some(rest), Some(file), Some(line)) => rest
            .strip_prefix(file)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|digits| digits.parse::<u32>() == Ok(line)),
        _ => false,
    };
    (!generated && !name.is_empty()).then_some(name)
}
