//! What the bridge keeps per span: its fields and its trace context.

use std::sync::OnceLock;

use tracing::dispatcher::WeakDispatch;
use tracing::Dispatch;
use tracing_subscriber::registry::{LookupSpan, Registry, SpanRef};

use crate::capture::visit::OwnedValue;
use crate::capture::{is_bridge_key, CaptureOptions};
use crate::export::{CopiedAttributes, EncodedAttributes, Encoding};
use crate::record::{Key, OnDuplicate, Record, TraceContext};

/// The span extension this crate stores in the registry.
#[derive(Debug, Default)]
pub(crate) struct SpanData {
    pub(crate) fields: Vec<(&'static str, OwnedValue)>,
    /// Resolved on first use and then fixed for the span's lifetime, so
    /// every record of the span carries the same ids.
    trace: OnceLock<TraceContext>,
    /// Whether a field uses a key the bridge writes itself (see
    /// [`is_bridge_key`]); kept up to date by [`SpanData::fields_changed`].
    bridge_keys: bool,
    /// The fields as the direct path writes them, per encoding: encoded on
    /// first use, dropped when the fields change.
    encoded: [OnceLock<EncodedAttributes>; Encoding::COUNT],
    /// The trace context as the direct path writes it, per encoding.
    encoded_trace: [OnceLock<Box<[u8]>>; Encoding::COUNT],
}

impl SpanData {
    /// Updates what is derived from the fields after they changed.
    pub(crate) fn fields_changed(&mut self) {
        self.bridge_keys = self.fields.iter().any(|(key, _)| is_bridge_key(key));
        self.encoded = Default::default();
    }

    /// The fields encoded in `encoding`, made on first use.
    fn encoded(&self, encoding: Encoding) -> Option<&EncodedAttributes> {
        if self.fields.is_empty() {
            return None;
        }
        let encoded = self.encoded.get(encoding.index())?.get_or_init(|| {
            let fields = self
                .fields
                .iter()
                .map(|(key, value)| (*key, value.as_value_ref()));
            EncodedAttributes::new(encoding, fields)
        });
        Some(encoded)
    }

    /// Makes the span continue a remote caller's trace: the span becomes a
    /// child of `parent`. Returns `false` when the span's ids were already
    /// fixed by an earlier record.
    pub(crate) fn continue_trace(&self, parent: TraceContext) -> bool {
        self.trace.set(parent.new_child()).is_ok()
    }
}

/// Where the dispatcher comes from when the `tracing-opentelemetry`
/// context of a span has to be looked up: the layer holds it weakly, the
/// `log` bridge has it at hand. It is only upgraded when needed, which is
/// once per span at most.
#[derive(Clone, Copy)]
pub(crate) enum DispatchRef<'a> {
    Weak(&'a OnceLock<WeakDispatch>),
    Strong(&'a Dispatch),
}

impl DispatchRef<'_> {
    #[cfg_attr(not(feature = "tracing-opentelemetry"), allow(dead_code))]
    fn get(self) -> Option<Dispatch> {
        match self {
            DispatchRef::Weak(weak) => weak.get().and_then(WeakDispatch::upgrade),
            DispatchRef::Strong(dispatch) => Some(dispatch.clone()),
        }
    }
}

/// Adds what the record's span contributes: its trace context, and the
/// fields of the span and its ancestors (nearest first, each only when no
/// field of the event or of a nearer span has the same key). The span's
/// extensions are locked once for both.
pub(crate) fn add_span_context<S>(
    record: &mut Record,
    span: &SpanRef<'_, S>,
    dispatch: DispatchRef<'_>,
    fields: bool,
) where
    S: for<'a> LookupSpan<'a>,
{
    let known = {
        let extensions = span.extensions();
        let data = extensions.get::<SpanData>();
        if fields {
            if let Some(data) = data {
                add_fields(record, data);
            }
        }
        data.and_then(|data| data.trace.get().copied())
    };
    record.trace = Some(known.unwrap_or_else(|| trace_context(span, dispatch)));
    if fields {
        for ancestor in span.scope().skip(1) {
            if let Some(data) = ancestor.extensions().get::<SpanData>() {
                add_fields(record, data);
            }
        }
    }
}

/// What the direct path (`capture::direct`) needs from an event's spans
/// before it writes anything, read in one pass.
pub(crate) struct SpanSummary<'a> {
    pub(crate) encoding: Encoding,
    /// Receives the span's trace context as `encoding` writes it.
    pub(crate) trace: &'a mut Vec<u8>,
    /// Receives the encoded fields of the span and its ancestors, nearest
    /// first, when span fields are copied; they are written after the
    /// event's own fields without looking the spans up again.
    pub(crate) fields: Option<&'a mut CopiedAttributes>,
}

impl SpanSummary<'_> {
    /// Fills the summary from `span`; returns whether one of the spans has
    /// a field with a key the bridge writes itself.
    pub(crate) fn read<S>(&mut self, span: &SpanRef<'_, S>, dispatch: DispatchRef<'_>) -> bool
    where
        S: for<'a> LookupSpan<'a>,
    {
        let index = self.encoding.index();
        let mut bridge_keys = false;
        let known = {
            let extensions = span.extensions();
            let data = extensions.get::<SpanData>();
            if let Some(data) = data {
                bridge_keys |= self.add_fields(data);
                if let (Some(trace), Some(cache)) =
                    (data.trace.get(), data.encoded_trace.get(index))
                {
                    let encoded =
                        cache.get_or_init(|| encode_trace(self.encoding, trace).into_boxed_slice());
                    self.trace.extend_from_slice(encoded);
                }
            }
            data.and_then(|data| data.trace.get().copied())
        };
        if known.is_none() {
            // The span's first record: its ids are decided now, and encoded
            // into the cache from its next record on.
            let trace = trace_context(span, dispatch);
            self.encoding.write_trace(&trace, self.trace);
        }
        if self.fields.is_some() {
            // Parent by parent: `scope()` would look the span itself up again.
            let mut next = span.parent();
            while let Some(ancestor) = next {
                if let Some(data) = ancestor.extensions().get::<SpanData>() {
                    bridge_keys |= self.add_fields(data);
                }
                next = ancestor.parent();
            }
        }
        bridge_keys
    }

    /// Takes `data`'s encoded fields; returns whether one of them has a key
    /// the bridge writes itself.
    fn add_fields(&mut self, data: &SpanData) -> bool {
        match &mut self.fields {
            Some(fields) => {
                if let Some(encoded) = data.encoded(self.encoding) {
                    fields.push(encoded);
                }
                data.bridge_keys
            }
            None => false,
        }
    }
}

fn encode_trace(encoding: Encoding, trace: &TraceContext) -> Vec<u8> {
    let mut encoded = Vec::new();
    encoding.write_trace(trace, &mut encoded);
    encoded
}

fn add_fields(record: &mut Record, data: &SpanData) {
    for (key, value) in &data.fields {
        if record.has_key(key) {
            continue;
        }
        let value = value.to_value(record);
        record.set_attribute(Key::Static(key), value, OnDuplicate::Keep);
    }
}

/// The trace context of `span`: from `tracing-opentelemetry` when that layer
/// tracks the span, else native ids (the root span of a trace draws a random
/// trace id; every span draws a span id; children inherit the trace id).
fn trace_context<S>(span: &SpanRef<'_, S>, dispatch: DispatchRef<'_>) -> TraceContext
where
    S: for<'a> LookupSpan<'a>,
{
    if let Some(known) = cached(span) {
        return known;
    }
    // The extensions lock is released while resolving: looking up the
    // OpenTelemetry context locks the same span's extensions again.
    let resolved = otel::span_context(span, dispatch).unwrap_or_else(|| match span.parent() {
        Some(parent) => trace_context(&parent, dispatch).new_child(),
        None => TraceContext::new_root(),
    });
    match span.extensions().get::<SpanData>() {
        Some(data) => *data.trace.get_or_init(|| resolved),
        None => resolved,
    }
}

fn cached<S>(span: &SpanRef<'_, S>) -> Option<TraceContext>
where
    S: for<'a> LookupSpan<'a>,
{
    span.extensions()
        .get::<SpanData>()
        .and_then(|data| data.trace.get().copied())
}

/// Fills the trace context and span fields of a record that did not come
/// through the layer (a `log` record or a panic) from the current span of
/// the current dispatcher, when that dispatcher is built on a `Registry`.
pub(crate) fn add_current_span(record: &mut Record, options: &CaptureOptions) {
    tracing::dispatcher::get_default(|dispatch| {
        let current = dispatch.current_span();
        let span = current
            .id()
            .and_then(|id| Some((dispatch.downcast_ref::<Registry>()?, id)))
            .and_then(|(registry, id)| registry.span(id));
        match span {
            Some(span) => add_span_context(
                record,
                &span,
                DispatchRef::Strong(dispatch),
                !options.span_fields.is_none(),
            ),
            None => record.trace = otel::current_context(),
        }
    });
}

/// Makes `span` continue a remote caller's trace; see [`crate::continue_trace`].
pub(crate) fn continue_trace(span: &tracing::Span, parent: TraceContext) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        let extensions = span.extensions();
        Some(extensions.get::<SpanData>()?.continue_trace(parent))
    })
    .flatten()
    .unwrap_or(false)
}

/// Reads trace context from the optional `tracing-opentelemetry` layer.
#[cfg(feature = "tracing-opentelemetry")]
pub(crate) mod otel {
    use opentelemetry::trace::TraceContextExt;
    use tracing_subscriber::registry::{LookupSpan, SpanRef};

    use super::DispatchRef;
    use crate::record::TraceContext;

    pub(crate) fn span_context<S>(
        span: &SpanRef<'_, S>,
        dispatch: DispatchRef<'_>,
    ) -> Option<TraceContext>
    where
        S: for<'a> LookupSpan<'a>,
    {
        let cx = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch.get()?)?;
        from_otel(&cx)
    }

    /// The context an application activated with the OpenTelemetry API
    /// directly, for records outside any `tracing` span.
    pub(crate) fn current_context() -> Option<TraceContext> {
        opentelemetry::Context::map_current(from_otel)
    }

    fn from_otel(cx: &opentelemetry::Context) -> Option<TraceContext> {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| TraceContext {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
            flags: sc.trace_flags().to_u8(),
        })
    }
}

/// Without the `tracing-opentelemetry` feature every span gets native ids.
#[cfg(not(feature = "tracing-opentelemetry"))]
pub(crate) mod otel {
    use tracing_subscriber::registry::{LookupSpan, SpanRef};

    use super::DispatchRef;
    use crate::record::TraceContext;

    pub(crate) fn span_context<S>(
        _span: &SpanRef<'_, S>,
        _dispatch: DispatchRef<'_>,
    ) -> Option<TraceContext>
    where
        S: for<'a> LookupSpan<'a>,
    {
        None
    }

    pub(crate) fn current_context() -> Option<TraceContext> {
        None
    }
}
