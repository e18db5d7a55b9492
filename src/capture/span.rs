//! What the bridge keeps per span: its fields and its trace context.
//!
//! One registry may carry several bridge layers (one per output, each with
//! its own filter, say). The registry keeps one extension per type and
//! span, so they share one [`SpanState`]: the trace context, which must be
//! the same whatever layer writes a record, and each layer's [`SpanData`]
//! (its fields as its settings captured and redacted them), by pipeline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing::dispatcher::WeakDispatch;
use tracing::span::Id;
use tracing::Dispatch;
use tracing_subscriber::registry::{LookupSpan, Registry, SpanRef};

use crate::capture::visit::OwnedValue;
use crate::capture::{is_bridge_key, CaptureOptions};
use crate::export::{EncodedAttributes, Encoding, Pipeline};
use crate::record::{Key, OnDuplicate, Record, TraceContext, Value};

/// Which layer's data: the id of the layer's pipeline (see
/// [`Pipeline::id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LayerKey(u64);

impl LayerKey {
    pub(crate) fn of(pipeline: &Pipeline) -> LayerKey {
        LayerKey(pipeline.id())
    }
}

/// The span extension this crate stores in the registry.
#[derive(Debug)]
pub(crate) struct SpanState {
    /// Resolved on first use and then fixed for the span's lifetime, so
    /// every record of the span carries the same ids, whichever layer
    /// writes it.
    trace: OnceLock<TraceContext>,
    /// For a span made outside any other: the OpenTelemetry context the
    /// application had activated then, through the OpenTelemetry API, which
    /// the span continues when no `tracing-opentelemetry` span stands for it.
    api_parent: Option<TraceContext>,
    /// The data of the first layer that saw the span: nearly always the
    /// only one, kept inline so that a span costs no second allocation.
    first: (LayerKey, SpanData),
    others: Vec<(LayerKey, SpanData)>,
}

impl SpanState {
    pub(crate) fn new(key: LayerKey, data: SpanData) -> SpanState {
        SpanState {
            trace: OnceLock::new(),
            api_parent: None,
            first: (key, data),
            others: Vec::new(),
        }
    }

    /// Notes the OpenTelemetry context active while `attributes`' span was
    /// made, when it has no parent: as `tracing-opentelemetry` would, a
    /// span made in an API span's scope continues its trace, and one given
    /// `parent: None` starts its own.
    pub(crate) fn note_api_parent(&mut self, attributes: &tracing::span::Attributes<'_>) {
        if attributes.is_contextual() {
            self.api_parent = otel::current_context();
        }
    }

    /// Adds the data of another layer, or replaces that layer's.
    pub(crate) fn insert(&mut self, key: LayerKey, data: SpanData) {
        match self.layer_mut(key) {
            Some(existing) => *existing = data,
            None => self.others.push((key, data)),
        }
    }

    pub(crate) fn layer(&self, key: LayerKey) -> Option<&SpanData> {
        std::iter::once(&self.first)
            .chain(&self.others)
            .find(|(layer, _)| *layer == key)
            .map(|(_, data)| data)
    }

    pub(crate) fn layer_mut(&mut self, key: LayerKey) -> Option<&mut SpanData> {
        std::iter::once(&mut self.first)
            .chain(&mut self.others)
            .find(|(layer, _)| *layer == key)
            .map(|(_, data)| data)
    }

    /// Makes the span continue a remote caller's trace: the span becomes a
    /// child of `parent`. Returns `false` when the span's ids were already
    /// fixed by an earlier record.
    fn continue_trace(&self, parent: TraceContext) -> bool {
        self.trace.set(parent.new_child()).is_ok()
    }
}

/// What one layer keeps of a span.
#[derive(Debug, Default)]
pub(crate) struct SpanData {
    pub(crate) fields: Vec<(&'static str, OwnedValue)>,
    /// Counts changes to the fields, and is [`CLOSED`] once the span is
    /// gone: snapshots that include this span's fields compare it with the
    /// value they were made at. Made with the first snapshot.
    version: OnceLock<Arc<AtomicU64>>,
    /// The span's snapshot per encoding, shared by the threads that log in
    /// it; replaced when it is out of date.
    snapshots: [Mutex<Option<Arc<SpanSnapshot>>>; Encoding::COUNT],
}

/// The version of a span that has closed.
const CLOSED: u64 = u64::MAX;

impl SpanData {
    /// Marks the snapshots made from the fields out of date after they
    /// changed.
    pub(crate) fn fields_changed(&mut self) {
        // Under the span's write lock: a snapshot reads the version under
        // the read lock it reads the fields under, so it never pairs new
        // fields with an old version or the other way round.
        if let Some(version) = self.version.get() {
            version.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn version(&self) -> (Arc<AtomicU64>, u64) {
        let version = self.version.get_or_init(|| Arc::new(AtomicU64::new(0)));
        (Arc::clone(version), version.load(Ordering::Acquire))
    }
}

impl Drop for SpanData {
    fn drop(&mut self) {
        if let Some(version) = self.version.get() {
            version.store(CLOSED, Ordering::Release);
        }
    }
}

/// What the direct path (`capture::direct`) writes for every event in a
/// span: the span's trace context and the fields of the span and its
/// ancestors (nearest first, each key once), encoded. Made once per span and
/// encoding, and kept by the span and by the threads that log in it; before
/// each use it is checked against the versions of the spans it was made
/// from, so a field recorded later, or a closed span whose id was reused,
/// makes it be made again.
///
/// A snapshot holds its own span's version and the snapshot of the nearest
/// ancestor the layer tracks, which holds the next one's, and so on: a chain
/// of spans costs memory in proportion to its length. Holding every
/// ancestor's version in each snapshot instead made a recursion of spans
/// cost memory in proportion to its depth squared.
#[derive(Debug)]
pub(crate) struct SpanSnapshot {
    /// Unique among the process's snapshots: what the OTLP queue compares
    /// to know that a record's context is the one it already holds (see
    /// `export::otlp::encode::push_frame_in_context`).
    pub(crate) id: u64,
    /// The span's own version when its fields were read; `None` for a span
    /// the layer does not track.
    version: Option<(Arc<AtomicU64>, u64)>,
    /// The snapshot of the nearest ancestor the layer tracks, whose fields
    /// this one includes; `None` at the root, or when span fields are not
    /// copied.
    parent: Option<Arc<SpanSnapshot>>,
    pub(crate) trace: Box<[u8]>,
    pub(crate) fields: EncodedAttributes,
    /// Whether a field has a key the bridge writes itself; the direct path
    /// does not take such events.
    pub(crate) bridge_keys: bool,
}

impl SpanSnapshot {
    /// Whether the snapshot may be used again: made of a span the layer
    /// tracks, and no included span changed or closed since.
    pub(crate) fn is_current(&self) -> bool {
        self.is_tracked() && self.fields_unchanged()
    }

    /// Whether the layer keeps data of the span itself. A span it never saw
    /// open (one made before a `reload` swapped the layer in) has no
    /// version to tell that it closed, so its snapshot is never current:
    /// another span could get its id.
    pub(crate) fn is_tracked(&self) -> bool {
        self.version.is_some()
    }

    /// Whether no included span changed or closed since the snapshot was
    /// made. A span the layer does not track takes no fields later (the
    /// layer keeps none of its records), so it cannot change it.
    pub(crate) fn fields_unchanged(&self) -> bool {
        // A loop, not recursion: the chain is as long as the span is deep.
        let mut next = Some(self);
        while let Some(snapshot) = next {
            if let Some((version, seen)) = &snapshot.version {
                if version.load(Ordering::Acquire) != *seen {
                    return false;
                }
            }
            next = snapshot.parent.as_deref();
        }
        true
    }
}

impl Drop for SpanSnapshot {
    /// Drops the chain of parents in a loop: the default drop would recurse
    /// once per ancestor and could overflow the stack of the thread that
    /// lets go of a deep chain's last snapshot.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(parent) = next {
            next = Arc::into_inner(parent).and_then(|mut parent| parent.parent.take());
        }
    }
}

/// The data `key`'s layer keeps of `span`, read under the span's lock.
fn with_layer_data<S, T>(
    span: &SpanRef<'_, S>,
    key: LayerKey,
    read: impl FnOnce(&SpanData) -> T,
) -> Option<T>
where
    S: for<'a> LookupSpan<'a>,
{
    let extensions = span.extensions();
    extensions
        .get::<SpanState>()
        .and_then(|state| state.layer(key))
        .map(read)
}

/// The snapshot `span` keeps in `encoding` for `key`'s layer, when it is
/// current.
fn kept_snapshot<S>(
    span: &SpanRef<'_, S>,
    key: LayerKey,
    encoding: Encoding,
) -> Option<Arc<SpanSnapshot>>
where
    S: for<'a> LookupSpan<'a>,
{
    with_layer_data(span, key, |data| {
        data.snapshots
            .get(encoding.index())
            .and_then(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner).clone())
    })
    .flatten()
    .filter(|snapshot| snapshot.is_current())
}

/// The current snapshot of `span` in `encoding` for `key`'s layer, taken
/// from the span or made now. `fields` says whether span fields are copied
/// at all.
///
/// The ancestors whose fields it includes need current snapshots of their
/// own: those that lack one get one first, farthest first, in a loop (a
/// chain of spans can be deeper than the stack could recurse).
pub(crate) fn snapshot<S>(
    span: &SpanRef<'_, S>,
    key: LayerKey,
    dispatch: DispatchRef<'_>,
    encoding: Encoding,
    fields: bool,
) -> Arc<SpanSnapshot>
where
    S: for<'a> LookupSpan<'a>,
{
    if let Some(snapshot) = kept_snapshot(span, key, encoding) {
        return snapshot;
    }
    let mut parent = None;
    // Ancestors only matter for their fields.
    if fields {
        // The tracked ancestors without a current snapshot, nearest first,
        // up to the first that has one.
        let mut unmade = Vec::new();
        let mut next = span.parent();
        while let Some(ancestor) = next {
            next = ancestor.parent();
            if with_layer_data(&ancestor, key, |_| ()).is_none() {
                continue;
            }
            if let Some(snapshot) = kept_snapshot(&ancestor, key, encoding) {
                parent = Some(snapshot);
                break;
            }
            unmade.push(ancestor);
        }
        for ancestor in unmade.iter().rev() {
            parent = Some(make_snapshot(
                ancestor, key, dispatch, encoding, true, parent,
            ));
        }
    }
    make_snapshot(span, key, dispatch, encoding, fields, parent)
}

/// Makes `span`'s snapshot from its own fields (when `fields`) and its
/// tracked parent's snapshot, and keeps it in the span when the layer
/// tracks it.
fn make_snapshot<S>(
    span: &SpanRef<'_, S>,
    key: LayerKey,
    dispatch: DispatchRef<'_>,
    encoding: Encoding,
    fields: bool,
    parent: Option<Arc<SpanSnapshot>>,
) -> Arc<SpanSnapshot>
where
    S: for<'a> LookupSpan<'a>,
{
    // The trace context first: resolving it may lock the span's extensions.
    let trace = trace_context(span, dispatch);
    let mut encoded_trace = Vec::new();
    encoding.write_trace(&trace, &mut encoded_trace);
    let inherited = parent.as_deref().map(|parent| &parent.fields);
    let inherited_bridge_keys = parent.as_ref().is_some_and(|parent| parent.bridge_keys);
    // Encoded under the span's lock, where its fields can be borrowed.
    let encode = |own: &[(&'static str, OwnedValue)]| {
        // A key given twice keeps its first value.
        let first_of_key = own.iter().enumerate().filter_map(|(index, (key, value))| {
            let repeated = own.iter().take(index).any(|(earlier, _)| earlier == key);
            (!repeated).then(|| (*key, value.as_value_ref()))
        });
        let bridge_keys = own.iter().any(|(key, _)| is_bridge_key(key));
        (
            EncodedAttributes::with_inherited(encoding, first_of_key, inherited),
            inherited_bridge_keys || bridge_keys,
        )
    };
    let read = |data: &SpanData| {
        let own = if fields { &data.fields[..] } else { &[] };
        (data.version(), encode(own))
    };
    let (version, (encoded_fields, bridge_keys)) = match with_layer_data(span, key, read) {
        Some((version, encoded)) => (Some(version), encoded),
        None => (None, encode(&[])),
    };
    // Never 0, which stands for no context.
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let snapshot = Arc::new(SpanSnapshot {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        version,
        parent,
        trace: encoded_trace.into(),
        fields: encoded_fields,
        bridge_keys,
    });
    let extensions = span.extensions();
    if let Some(slot) = extensions
        .get::<SpanState>()
        .and_then(|state| state.layer(key))
        .and_then(|data| data.snapshots.get(encoding.index()))
    {
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&snapshot));
    }
    snapshot
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
    /// The dispatcher, when it can be had.
    fn get(self) -> Option<Dispatch> {
        match self {
            DispatchRef::Weak(weak) => match weak.get() {
                Some(weak) => weak.upgrade(),
                // A layer inside a wrapper that does not pass the
                // dispatcher on (`Option`, `Vec`) asks for the default one:
                // the global subscriber, when no scoped one is in use.
                // While one is, `tracing` answers none to a question asked
                // during its dispatch.
                None => Some(tracing::dispatcher::get_default(Dispatch::clone))
                    .filter(|dispatch| !dispatch.is::<tracing::subscriber::NoSubscriber>()),
            },
            DispatchRef::Strong(dispatch) => Some(dispatch.clone()),
        }
    }

    /// [`DispatchRef::get`] where a record loses what the dispatcher
    /// would give (the `tracing-opentelemetry` ids, the context of a span
    /// a per-layer filter hides): when it cannot be had, that is said
    /// once on stderr.
    fn get_or_say_so(self) -> Option<Dispatch> {
        let dispatch = self.get();
        // Checked with one atomic load once said: the question comes for
        // every such record.
        static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let unset = matches!(self, DispatchRef::Weak(weak) if weak.get().is_none());
        if dispatch.is_none()
            && unset
            && !SAID.load(std::sync::atomic::Ordering::Relaxed)
            && !SAID.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            crate::diag::warn(format_args!(
                "a bridge layer inside `Option` or `Vec` is not told its subscriber, and under a scoped one (`with_default`, `set_default`) cannot ask for it: records in spans carry ids the bridge draws rather than those of `tracing-opentelemetry`, and spans a per-layer filter hides lend no context; add the layer itself, and turn it off with `with_filter` instead"
            ));
        }
        dispatch
    }
}

/// Adds what the record's span contributes: its trace context, and the
/// fields of the span and its ancestors as `key`'s layer keeps them
/// (nearest first, each only when no field of the event or of a nearer
/// span has the same key). The span's extensions are locked once for both.
pub(crate) fn add_span_context<S>(
    record: &mut Record,
    span: &SpanRef<'_, S>,
    key: LayerKey,
    dispatch: DispatchRef<'_>,
    fields: bool,
) where
    S: for<'a> LookupSpan<'a>,
{
    let known = {
        let extensions = span.extensions();
        let state = extensions.get::<SpanState>();
        if fields {
            if let Some(data) = state.and_then(|state| state.layer(key)) {
                add_fields(record, data);
            }
        }
        state.and_then(|state| state.trace.get().copied())
    };
    record.trace = Some(known.unwrap_or_else(|| trace_context(span, dispatch)));
    if fields {
        for ancestor in span.scope().skip(1) {
            with_layer_data(&ancestor, key, |data| add_fields(record, data));
        }
    }
}

/// Adds the span context of an event whose explicit `parent` the layer of
/// `key` does not see (its filter hides that span): that of the nearest
/// ancestor the layer tracks, as an event in the hidden span gets, else
/// the hidden span's own trace. Returns `false` when there is no registry
/// to walk.
pub(crate) fn add_hidden_parent_context(
    record: &mut Record,
    parent: &Id,
    key: LayerKey,
    dispatch: DispatchRef<'_>,
    fields: bool,
) -> bool {
    let Some(whole) = dispatch.get_or_say_so() else {
        return false;
    };
    if add_nearest_span_context(record, &whole, parent, key, fields) {
        return true;
    }
    // No span around the parent is the layer's either: the parent's own
    // trace, which it keeps hidden as it is (see `HiddenSpanTrace`), not
    // the trace of whatever span is current.
    let Some(span) = whole
        .downcast_ref::<Registry>()
        .and_then(|registry| registry.span(parent))
    else {
        return false;
    };
    record.trace = Some(trace_context(&span, DispatchRef::Strong(&whole)));
    true
}

/// Adds the span context of the nearest span, from span `id` outwards,
/// that the layer of `key` tracks. Returns `false` when there is none, or
/// no registry to walk.
pub(crate) fn add_nearest_span_context(
    record: &mut Record,
    dispatch: &Dispatch,
    id: &Id,
    key: LayerKey,
    fields: bool,
) -> bool {
    let nearest = dispatch
        .downcast_ref::<Registry>()
        .and_then(|registry| registry.span(id))
        .and_then(|span| {
            span.scope()
                .find(|span| with_layer_data(span, key, |_| ()).is_some())
        });
    match nearest {
        Some(span) => {
            add_span_context(record, &span, key, DispatchRef::Strong(dispatch), fields);
            true
        }
        None => false,
    }
}

fn add_fields(record: &mut Record, data: &SpanData) {
    for (key, value) in &data.fields {
        if record.has_key(key) {
            continue;
        }
        if let OwnedValue::Numeral(text) = value {
            let text = record.push_text(text);
            record.set_attribute(Key::Static(key), Value::Numeral(text), OnDuplicate::Keep);
        } else {
            record.set_ref(key, value.as_value_ref(), OnDuplicate::Keep);
        }
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
    // A per-layer filter hides spans from `span.parent()`, and the context
    // resolved here is shared by every bridge layer of the registry: the
    // parents are walked in the registry itself, whose view no filter
    // narrows, when the dispatcher is at hand.
    let whole = dispatch.get();
    let unfiltered = whole
        .as_ref()
        .and_then(|dispatch| dispatch.downcast_ref::<Registry>())
        .and_then(|registry| registry.span(&span.id()));
    match unfiltered {
        Some(unfiltered) => resolve(&unfiltered, dispatch),
        None => resolve(span, dispatch),
    }
}

/// Resolves and fixes the trace context of `span`, whose own is not known
/// yet (see [`trace_context`]), and of each ancestor between it and the
/// nearest one whose context is known.
///
/// The ancestors are walked in a loop, not by recursion: a chain of tens
/// of thousands of open spans would otherwise overflow the stack the first
/// time a record is made in the innermost.
fn resolve<S>(span: &SpanRef<'_, S>, dispatch: DispatchRef<'_>) -> TraceContext
where
    S: for<'a> LookupSpan<'a>,
{
    if let Some(own) = otel::span_context(span, dispatch) {
        return fix(span, own);
    }
    let Some(mut ancestor) = span.parent() else {
        return fix(span, root_context(span));
    };
    // The ancestors still to resolve, nearest first.
    let mut unresolved = Vec::new();
    let mut inherited = loop {
        if let Some(known) = cached(&ancestor) {
            break known;
        }
        if let Some(own) = otel::span_context(&ancestor, dispatch) {
            break fix(&ancestor, own);
        }
        match ancestor.parent() {
            Some(parent) => unresolved.push(std::mem::replace(&mut ancestor, parent)),
            None => break fix(&ancestor, root_context(&ancestor)),
        }
    };
    for ancestor in unresolved.iter().rev() {
        inherited = fix(ancestor, inherited.new_child());
    }
    fix(span, inherited.new_child())
}

/// The trace context of a span without a parent: a child of the
/// OpenTelemetry API context it was made in, else a new trace.
fn root_context<S>(span: &SpanRef<'_, S>) -> TraceContext
where
    S: for<'a> LookupSpan<'a>,
{
    span.extensions()
        .get::<SpanState>()
        .and_then(|state| state.api_parent)
        .map_or_else(TraceContext::new_root, |parent| parent.new_child())
}

/// Fixes `resolved` as the trace context of `span`, unless another thread
/// fixed one first, and returns the one fixed.
fn fix<S>(span: &SpanRef<'_, S>, resolved: TraceContext) -> TraceContext
where
    S: for<'a> LookupSpan<'a>,
{
    // The extensions lock is taken only here: looking up the OpenTelemetry
    // context, before, locks the same span's extensions.
    if let Some(state) = span.extensions().get::<SpanState>() {
        return *state.trace.get_or_init(|| resolved);
    }
    // A span every bridge layer's filter hides keeps its context too:
    // otherwise each span under it that asks would draw a new root trace,
    // splitting one request into many.
    let mut extensions = span.extensions_mut();
    if let Some(HiddenSpanTrace(known)) = extensions.get_mut::<HiddenSpanTrace>() {
        return *known;
    }
    extensions.insert(HiddenSpanTrace(resolved));
    resolved
}

/// The trace context of a span no bridge layer tracks, fixed the first
/// time a span under it asks for it.
struct HiddenSpanTrace(TraceContext);

fn cached<S>(span: &SpanRef<'_, S>) -> Option<TraceContext>
where
    S: for<'a> LookupSpan<'a>,
{
    let extensions = span.extensions();
    match extensions.get::<SpanState>() {
        Some(state) => state.trace.get().copied(),
        None => extensions
            .get::<HiddenSpanTrace>()
            .map(|HiddenSpanTrace(known)| *known),
    }
}

/// Fills the trace context and span fields of a `log` record of `target`
/// from the current span of the current dispatcher, when that dispatcher
/// is built on a `Registry`, as `key`'s layer keeps them; outside any span,
/// from the OpenTelemetry API's context (see [`otel::reads_api_context`]).
pub(crate) fn add_current_span(
    record: &mut Record,
    key: LayerKey,
    options: &CaptureOptions,
    target: &str,
) {
    tracing::dispatcher::get_default(|dispatch| {
        // The nearest span the layer saw: a per-layer filter may hide the
        // innermost ones from it, as it does for events, and a span the
        // layer never saw has no ids of its own to give.
        let fields = !options.span_fields.is_none();
        let found = dispatch
            .current_span()
            .id()
            .is_some_and(|id| add_nearest_span_context(record, dispatch, id, key, fields));
        if !found && otel::reads_api_context(target) {
            record.trace = otel::current_context();
        }
    });
}

/// Makes `span` continue a remote caller's trace; see [`crate::continue_trace`].
pub(crate) fn continue_trace(span: &tracing::Span, parent: TraceContext) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        let extensions = span.extensions();
        Some(extensions.get::<SpanState>()?.continue_trace(parent))
    })
    .flatten()
    .unwrap_or(false)
}

/// The trace context records in `span` carry; see [`crate::trace_context`].
pub(crate) fn span_trace_context(span: &tracing::Span) -> Option<TraceContext> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        // The nearest span a bridge layer tracks, as for `log` records: a
        // per-layer filter may hide the innermost ones from it.
        let span = registry
            .span(id)?
            .scope()
            .find(|span| span.extensions().get::<SpanState>().is_some())?;
        Some(trace_context(&span, DispatchRef::Strong(dispatch)))
    })
    .flatten()
}

/// Reads trace context from the optional `tracing-opentelemetry` layer.
#[cfg(feature = "tracing-opentelemetry")]
pub(crate) mod otel {
    use std::cell::Cell;

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
        let cx = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch.get_or_say_so()?)?;
        from_otel(&cx)
    }

    /// The context an application activated with the OpenTelemetry API
    /// directly, for records outside any `tracing` span. None while the
    /// thread is being torn down (a record logged from a thread-local's
    /// destructor), once OpenTelemetry's thread-local context may be gone:
    /// reading it then panics.
    pub(crate) fn current_context() -> Option<TraceContext> {
        let alive = match CONTEXT_STATE.get() {
            ContextState::Alive => true,
            ContextState::Gone => false,
            // Inside the panic hook a panic aborts, caught or not, so
            // there is no probing there: the marker is made as it was
            // before the thread logged through the bridge. A thread that
            // panics while it is torn down aborts anyway.
            ContextState::Unknown if std::thread::panicking() => {
                CONTEXT_ALIVE.try_with(|_| ()).is_ok()
            }
            ContextState::Unknown => probe_context(),
        };
        if alive {
            opentelemetry::Context::map_current(from_otel)
        } else {
            None
        }
    }

    /// Whether OpenTelemetry's thread-local context on this thread can
    /// still be read: false once the thread is being torn down past the
    /// bridge's marker of it (a record logged from a thread-local's
    /// destructor), when the context may be gone and anything that reads
    /// it, the SDK's logger among them, would panic.
    #[cfg(feature = "sdk")]
    pub(crate) fn context_alive() -> bool {
        match CONTEXT_STATE.get() {
            ContextState::Alive => true,
            ContextState::Gone => false,
            ContextState::Unknown => probe_context(),
        }
    }

    /// Whether records of `target`, outside any span, take the context an
    /// application activated through the OpenTelemetry API. Not
    /// OpenTelemetry's own records: it logs some (an overflowing or
    /// out-of-order context stack) while it holds that context borrowed,
    /// and reading it then would panic. They come as `tracing` events, and
    /// as `log` records too when `tracing` forwards its events to `log`.
    pub(crate) fn reads_api_context(target: &str) -> bool {
        !target.starts_with("opentelemetry")
    }

    /// Makes [`CONTEXT_ALIVE`] on this thread now, when a span is entered
    /// or an event comes, if it is not yet, so that it is dropped before
    /// OpenTelemetry's context, as thread-locals made later are.
    pub(crate) fn note_thread() {
        if CONTEXT_STATE.get() == ContextState::Unknown {
            probe_context();
        }
    }

    /// Whether this thread is making [`CONTEXT_ALIVE`] in
    /// [`probe_context`], whose panic the panic hook lets pass unrecorded.
    pub(crate) fn probing_context() -> bool {
        PROBING.get()
    }

    /// Makes [`CONTEXT_ALIVE`] and says whether that worked. Made while the
    /// thread ends, after OpenTelemetry's context is gone, it panics
    /// reading that context: the panic is caught, kept from the panic hook
    /// (see [`probing_context`]), and the context is taken as gone.
    fn probe_context() -> bool {
        PROBING.set(true);
        let made = std::panic::catch_unwind(|| CONTEXT_ALIVE.try_with(|_| ()).is_ok());
        PROBING.set(false);
        let alive = made.unwrap_or(false);
        if !alive {
            CONTEXT_STATE.set(ContextState::Gone);
        }
        alive
    }

    thread_local! {
        static CONTEXT_ALIVE: ContextAlive = ContextAlive::new();
        /// What is known of [`CONTEXT_ALIVE`], readable at any time
        /// without making it: a thread-local without a destructor is never
        /// torn down.
        static CONTEXT_STATE: Cell<ContextState> = const { Cell::new(ContextState::Unknown) };
        static PROBING: Cell<bool> = const { Cell::new(false) };
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum ContextState {
        /// Not made on this thread yet.
        Unknown,
        Alive,
        /// Dropped, or could not be made: the thread is being torn down.
        Gone,
    }

    /// Alive on a thread while OpenTelemetry's thread-local context is:
    /// made right after that context is first read, it is dropped before
    /// it, as thread-locals are dropped in the reverse order they were
    /// made.
    struct ContextAlive;

    impl ContextAlive {
        fn new() -> ContextAlive {
            opentelemetry::Context::map_current(|_| ());
            CONTEXT_STATE.set(ContextState::Alive);
            ContextAlive
        }
    }

    impl Drop for ContextAlive {
        fn drop(&mut self) {
            CONTEXT_STATE.set(ContextState::Gone);
        }
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

    /// No record reads the OpenTelemetry API's context: without the
    /// feature there is none.
    pub(crate) fn reads_api_context(_target: &str) -> bool {
        false
    }

    pub(crate) fn note_thread() {}

    /// Nothing is probed without the feature.
    pub(crate) fn probing_context() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a layer's data was keyed by its pipeline's address, so
    /// a pipeline the allocator put where an earlier one had been read the
    /// span data and cached snapshots the earlier one left.
    #[test]
    fn a_layer_key_is_the_pipelines_not_its_address() {
        let timeout = std::time::Duration::from_secs(1);
        let pipeline = Pipeline::new(Vec::new(), timeout);
        let key = LayerKey::of(&pipeline);
        // Moved to another address, it keeps its key: the key is the
        // pipeline's, not its address's, which another may take later.
        let moved = Box::new(pipeline);
        assert_eq!(LayerKey::of(&moved), key);
        let other = Pipeline::new(Vec::new(), timeout);
        assert_ne!(LayerKey::of(&other), key);
    }

    /// Regression: the snapshot of a span the layer never saw open (made
    /// before `reload` swapped the layer in) had no version to go out of
    /// date, so the direct path kept using it after the span closed, for
    /// whichever span got its id next.
    #[test]
    fn a_snapshot_of_a_span_the_layer_never_saw_open_is_never_current() {
        let dispatch = Dispatch::new(Registry::default());
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("made before the layer", attempt = 7_i64);
            let registry = dispatch.downcast_ref::<Registry>().expect("the registry");
            let id = span.id().expect("an enabled span");
            let span_ref = registry.span(&id).expect("an open span");
            let snapshot = snapshot(
                &span_ref,
                LayerKey(1),
                DispatchRef::Strong(&dispatch),
                Encoding::Json,
                true,
            );
            assert!(!snapshot.is_current());
        });
    }
}
