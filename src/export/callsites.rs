//! Per-callsite caches of encoded bytes.
//!
//! Severity, scope, event name and source location are the same for every
//! record of a `tracing` callsite. An encoder renders them once, from the
//! callsite's first record (the layer likewise decides a callsite's event
//! name once), into a slot of a [`CallsiteTable`] found by the
//! callsite's metadata address, and copies or refers to them afterwards.
//! Finding a slot costs two atomic loads; a callsite whose slot another
//! callsite holds is encoded in full, which is correct, only slower.

use std::sync::OnceLock;

use crate::record::Record;

/// Slots are allocated this many at a time, when a callsite first needs
/// one of them, so a sink that sees a few callsites holds a few chunks.
const CHUNK: usize = 64;
/// How many callsites have an entry.
const SLOTS: usize = 64 * CHUNK;

/// A callsite's metadata address (as in [`Record::callsite`]) and what was
/// rendered for it.
type Slot<T> = OnceLock<(usize, T)>;

/// `CHUNK` slots, allocated together.
type Chunk<T> = Box<[Slot<T>]>;

/// Encoded parts per callsite, of the type `T` an encoder chooses.
#[derive(Debug)]
pub(crate) struct CallsiteTable<T> {
    chunks: Box<[OnceLock<Chunk<T>>]>,
}

impl<T> Default for CallsiteTable<T> {
    fn default() -> Self {
        CallsiteTable {
            chunks: (0..SLOTS / CHUNK).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl<T> CallsiteTable<T> {
    /// The slot and parts of `record`'s callsite, rendered by `render` from
    /// `record` on the callsite's first record; `None` when the record has
    /// no callsite, its source location could not be shared (a field took
    /// one of its keys, or the count limit dropped one), or another
    /// callsite holds the slot.
    pub(crate) fn slot_for(
        &self,
        record: &Record,
        render: impl FnOnce(&Record) -> T,
    ) -> Option<(u32, &T)> {
        let callsite = record.callsite?;
        record.callsite_attributes?;
        self.get_or_render(callsite, || render(record))
    }

    /// The slot and parts of `callsite` (a metadata address), rendered by
    /// `render` the first time; `None` when another callsite holds the
    /// slot.
    pub(crate) fn get_or_render(
        &self,
        callsite: usize,
        render: impl FnOnce() -> T,
    ) -> Option<(u32, &T)> {
        // Metadata is at least 8-byte aligned: the low bits carry nothing.
        let index = (callsite >> 3) % SLOTS;
        let slot = self
            .chunks
            .get(index / CHUNK)?
            .get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect())
            .get(index % CHUNK)?;
        // Looked at before `get_or_init`, whose closure would otherwise be
        // built on every call: copying its captures back from the stack
        // right after writing them stalls the logging thread.
        let (owner, parts) = match slot.get() {
            Some(entry) => entry,
            None => slot.get_or_init(|| (callsite, render())),
        };
        if *owner != callsite {
            return None;
        }
        Some((u32::try_from(index).ok()?, parts))
    }

    /// The parts of a slot that [`CallsiteTable::slot_for`] returned.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) fn get(&self, slot: u32) -> Option<&T> {
        let index = usize::try_from(slot).ok()?;
        let (_, parts) = self
            .chunks
            .get(index / CHUNK)?
            .get()?
            .get(index % CHUNK)?
            .get()?;
        Some(parts)
    }
}
