//! Writing records straight from events (see `capture::direct`): a record
//! in the making, and attributes encoded once for many records.

use std::fmt;

use crate::export::json::{self, JsonStream};
#[cfg(feature = "otlp")]
use crate::export::otlp::{self, OtlpStream};
use crate::record::{key_bit, TraceContext, ValueRef};

/// The encodings records can be written in straight from events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// The flat JSON lines format.
    Json,
    /// OTLP protobuf `LogRecord` fields.
    #[cfg(feature = "otlp")]
    Otlp,
}

impl Encoding {
    /// How many encodings there are, for per-encoding caches.
    pub(crate) const COUNT: usize = 2;

    /// Appends `trace` as a record in this encoding carries it, for
    /// [`EventStream::finish`].
    pub(crate) fn write_trace(self, trace: &TraceContext, out: &mut Vec<u8>) {
        match self {
            Encoding::Json => json::write_trace(out, trace),
            #[cfg(feature = "otlp")]
            Encoding::Otlp => otlp::put_trace(trace, out),
        }
    }

    /// This encoding's index in per-encoding caches.
    pub(crate) fn index(self) -> usize {
        match self {
            Encoding::Json => 0,
            #[cfg(feature = "otlp")]
            Encoding::Otlp => 1,
        }
    }
}

/// Attributes encoded once and copied into many records: a span's fields,
/// a thread's name and id.
#[derive(Debug)]
pub(crate) struct EncodedAttributes {
    /// The attributes, encoded one after the other (in JSON, separated by
    /// commas).
    bytes: Box<[u8]>,
    /// Each attribute's key and where its encoding is in `bytes`.
    attributes: Box<[(&'static str, u32, u32)]>,
    /// The union of the keys' bits (see `record::key_bit`).
    key_bloom: u64,
}

impl EncodedAttributes {
    pub(crate) fn new<'v>(
        encoding: Encoding,
        attributes: impl Iterator<Item = (&'static str, ValueRef<'v>)>,
    ) -> EncodedAttributes {
        EncodedAttributes::with_inherited(encoding, attributes, None)
    }

    /// `attributes`, then those of `inherited` whose key is not among
    /// them, copied as they were encoded.
    pub(crate) fn with_inherited<'v>(
        encoding: Encoding,
        attributes: impl Iterator<Item = (&'static str, ValueRef<'v>)>,
        inherited: Option<&EncodedAttributes>,
    ) -> EncodedAttributes {
        let mut bytes = Vec::new();
        let mut positions = Vec::new();
        let mut key_bloom = 0;
        for (key, value) in attributes {
            separate(encoding, &mut bytes);
            let start = bytes.len();
            match encoding {
                Encoding::Json => json::write_key_value(&mut bytes, key, value),
                #[cfg(feature = "otlp")]
                Encoding::Otlp => otlp::put_log_attribute(&mut bytes, key, value),
            }
            positions.push((key, offset(start), offset(bytes.len())));
            key_bloom |= key_bit(key);
        }
        let own = positions.len();
        for (key, encoded) in inherited.into_iter().flat_map(EncodedAttributes::each) {
            let taken = key_bloom & key_bit(key) != 0
                && positions
                    .iter()
                    .take(own)
                    .any(|(taken, _, _)| *taken == key);
            if !taken {
                separate(encoding, &mut bytes);
                let start = bytes.len();
                bytes.extend_from_slice(encoded);
                positions.push((key, offset(start), offset(bytes.len())));
                key_bloom |= key_bit(key);
            }
        }
        EncodedAttributes {
            bytes: bytes.into(),
            attributes: positions.into(),
            key_bloom,
        }
    }

    /// All the attributes' bytes (in JSON, with the commas between them).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many attributes there are.
    pub(crate) fn len(&self) -> usize {
        self.attributes.len()
    }

    /// The union of the keys' bits: when it shares none with the keys of a
    /// record, no key is in both.
    pub(crate) fn key_bloom(&self) -> u64 {
        self.key_bloom
    }

    /// Each attribute's key and bytes.
    pub(crate) fn each(&self) -> impl Iterator<Item = (&'static str, &[u8])> + '_ {
        self.attributes.iter().map(|(key, start, end)| {
            let encoded = self
                .bytes
                .get(*start as usize..*end as usize)
                .unwrap_or_default();
            (*key, encoded)
        })
    }
}

/// Separates an attribute from those before it: JSON's are joined by
/// commas, OTLP's fields follow one another.
fn separate(encoding: Encoding, bytes: &mut Vec<u8>) {
    if encoding == Encoding::Json && !bytes.is_empty() {
        bytes.push(b',');
    }
}

fn offset(position: usize) -> u32 {
    u32::try_from(position).unwrap_or(u32::MAX)
}

/// A callsite's field names, each encoded once as the start of its
/// attribute (`"key":` in JSON, the `KeyValue.key` field in OTLP).
#[derive(Debug)]
pub(crate) struct FieldKeys {
    /// By field index. An entry of fixed size holds a short key whole, so
    /// that a field's key is one bounds check away (offsets into one
    /// table cost a few times that per field, in a profile of the direct
    /// path).
    entries: Box<[KeyEntry]>,
    /// The keys longer than [`KEY_WINDOW`], one after the other.
    long: Box<[u8]>,
}

#[derive(Debug)]
struct KeyEntry {
    /// A short key, then zeros.
    window: [u8; KEY_WINDOW],
    /// The key's length.
    len: u32,
    /// Where a long key starts in [`FieldKeys::long`].
    long_start: u32,
}

/// The size of the fixed block a short key is copied as (see
/// [`EncodedKey::append_to`]).
pub(crate) const KEY_WINDOW: usize = 32;

impl FieldKeys {
    pub(crate) fn new<'k>(encoding: Encoding, names: impl Iterator<Item = &'k str>) -> FieldKeys {
        let mut entries = Vec::new();
        let mut long = Vec::new();
        let mut key = Vec::new();
        for name in names {
            key.clear();
            match encoding {
                Encoding::Json => json::write_key(&mut key, name),
                #[cfg(feature = "otlp")]
                Encoding::Otlp => otlp::put_key_field(&mut key, name),
            }
            let mut entry = KeyEntry {
                window: [0; KEY_WINDOW],
                len: offset(key.len()),
                long_start: offset(long.len()),
            };
            match entry.window.get_mut(..key.len()) {
                Some(window) => window.copy_from_slice(&key),
                None => long.extend_from_slice(&key),
            }
            entries.push(entry);
        }
        FieldKeys {
            entries: entries.into(),
            long: long.into(),
        }
    }

    /// The encoded key of the field with this index.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<EncodedKey<'_>> {
        let entry = self.entries.get(index)?;
        let len = entry.len as usize;
        if len <= KEY_WINDOW {
            return Some(EncodedKey {
                bytes: entry.window.get(..len)?,
                window: Some(&entry.window),
            });
        }
        let start = entry.long_start as usize;
        Some(EncodedKey {
            bytes: self.long.get(start..start + len)?,
            window: None,
        })
    }
}

/// One field's key as [`FieldKeys`] encoded it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EncodedKey<'k> {
    bytes: &'k [u8],
    /// The key, then zeros, when it fits in a window.
    window: Option<&'k [u8; KEY_WINDOW]>,
}

impl<'k> EncodedKey<'k> {
    #[cfg(feature = "otlp")]
    pub(crate) fn len(self) -> usize {
        self.bytes.len()
    }

    /// The key, then zeros, when it fits in a window: for writers that
    /// copy a block of fixed size and keep the key's length of it.
    #[cfg(feature = "otlp")]
    pub(crate) fn window(self) -> Option<&'k [u8; KEY_WINDOW]> {
        self.window
    }

    /// Appends the key. A short key is copied as a block of fixed size and
    /// the excess cut off: the compiler makes that a few moves, where a
    /// copy whose length is only known now is a call to `memcpy`, which
    /// cost more than the rest of writing an integer attribute (a profile
    /// of the direct path).
    #[inline(always)]
    pub(crate) fn append_to(self, out: &mut Vec<u8>) {
        match self.window {
            Some(window) => {
                let end = out.len() + self.bytes.len();
                out.extend_from_slice(window);
                out.truncate(end);
            }
            None => out.extend_from_slice(self.bytes),
        }
    }
}

/// A record being written straight from an event into one sink's encoding,
/// part by part. The parts come in the order the sink's encoder writes a
/// record's: the body, the attributes (the callsite's source location in
/// its place among them), then the rest.
#[derive(Debug)]
pub(crate) enum EventStream<'e> {
    Json(JsonStream<'e>),
    #[cfg(feature = "otlp")]
    Otlp(OtlpStream),
}

impl EventStream<'_> {
    pub(crate) fn body(&mut self, out: &mut Vec<u8>, body: &str) {
        match self {
            EventStream::Json(stream) => stream.body(out, body),
            #[cfg(feature = "otlp")]
            EventStream::Otlp(stream) => stream.body(out, body),
        }
    }

    #[inline]
    pub(crate) fn attribute(&mut self, out: &mut Vec<u8>, key: &str, value: ValueRef<'_>) {
        match self {
            EventStream::Json(stream) => stream.attribute(out, key, value),
            #[cfg(feature = "otlp")]
            EventStream::Otlp(stream) => stream.attribute(out, key, value),
        }
    }

    /// Writes an attribute whose key [`FieldKeys`] encoded in this stream's
    /// encoding as `encoded_key`.
    #[inline(always)]
    pub(crate) fn keyed_attribute(
        &mut self,
        out: &mut Vec<u8>,
        encoded_key: EncodedKey<'_>,
        value: ValueRef<'_>,
    ) {
        match self {
            EventStream::Json(stream) => stream.keyed_attribute(out, encoded_key, value),
            #[cfg(feature = "otlp")]
            EventStream::Otlp(_) => otlp::put_keyed_log_attribute(out, encoded_key, value),
        }
    }

    /// Writes the body, formatting `value` with `Debug` straight into
    /// `out`; `scratch` holds the text for a moment when it has to be
    /// written differently (escaped, or with a longer length).
    pub(crate) fn debug_body(
        &mut self,
        out: &mut Vec<u8>,
        value: &dyn fmt::Debug,
        scratch: &mut String,
    ) {
        match self {
            EventStream::Json(stream) => stream.debug_body(out, value, scratch),
            #[cfg(feature = "otlp")]
            EventStream::Otlp(_) => otlp::put_debug_body(out, value, scratch),
        }
    }

    /// Writes a string attribute whose key [`FieldKeys`] encoded, its value
    /// formatted with `Debug` straight into `out` (see
    /// [`EventStream::debug_body`]).
    pub(crate) fn debug_attribute(
        &mut self,
        out: &mut Vec<u8>,
        encoded_key: EncodedKey<'_>,
        value: &dyn fmt::Debug,
        scratch: &mut String,
    ) {
        match self {
            EventStream::Json(stream) => stream.debug_attribute(out, encoded_key, value, scratch),
            #[cfg(feature = "otlp")]
            EventStream::Otlp(_) => {
                otlp::put_debug_attribute(out, encoded_key, value, scratch);
            }
        }
    }

    /// Writes attributes that [`EncodedAttributes`] encoded in this
    /// stream's encoding: all of them, or one.
    #[inline]
    pub(crate) fn encoded_attributes(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        match self {
            EventStream::Json(stream) => stream.encoded_attributes(out, bytes),
            #[cfg(feature = "otlp")]
            EventStream::Otlp(_) => out.extend_from_slice(bytes),
        }
    }

    /// Marks where the callsite's source location attributes go. An OTLP
    /// frame refers to them instead of carrying them.
    pub(crate) fn callsite_attributes(&mut self, out: &mut Vec<u8>) {
        match self {
            EventStream::Json(stream) => stream.callsite_attributes(out),
            #[cfg(feature = "otlp")]
            EventStream::Otlp(_) => {}
        }
    }

    /// Whether the record's context (span fields, thread attributes, trace)
    /// can be left to the queue, to be shared by the records that have the
    /// same: see [`Pipeline::emit_encoded_in_context`](crate::export::Pipeline::emit_encoded_in_context).
    pub(crate) fn shares_context(&self) -> bool {
        match self {
            EventStream::Json(_) => false,
            #[cfg(feature = "otlp")]
            EventStream::Otlp(_) => true,
        }
    }

    /// Writes what ends the record: `trace` is the trace context as
    /// [`Encoding::write_trace`] wrote it (empty when there is none); the
    /// observed time is the record's time.
    #[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
    pub(crate) fn finish(
        self,
        out: &mut Vec<u8>,
        trace: &[u8],
        time_unix_nano: u64,
        event_name: Option<&str>,
    ) {
        match self {
            EventStream::Json(stream) => stream.finish(out, trace, event_name),
            #[cfg(feature = "otlp")]
            EventStream::Otlp(stream) => stream.finish(out, trace, time_unix_nano),
        }
    }
}
