//! A ring of words that one thread writes records into and one reader
//! takes them out of, without a lock: a thread's hand-off to its queue's
//! worker.
//!
//! The writer only loads the reader's position and stores its own, and the
//! reader the other way round, so neither side pays for a locked
//! instruction: on x86 every operation here is a plain load or store. That
//! is what makes it cheaper than a lock taken and released per record,
//! which costs two atomic read-modify-write operations.
//!
//! A record is a word holding its length, then its bytes, eight to a word
//! (little-endian, the last word padded), wrapping around the end.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[derive(Debug)]
pub(crate) struct Ring {
    words: Box<[AtomicU64]>,
    /// Words written, ever (wrapping): stored only by the writer, with
    /// `Release` once a record's words are in place.
    tail: AtomicUsize,
    /// Words read, ever (wrapping): stored only by the reader, with
    /// `Release` once it has copied the words out.
    head: AtomicUsize,
    /// Records written and records read, ever, each stored by its side
    /// only.
    written: AtomicU64,
    read: AtomicU64,
}

/// How full the ring is after a record was written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fill {
    /// Bytes in the ring before and after the record went in.
    pub(crate) bytes_before: usize,
    pub(crate) bytes_after: usize,
    /// Records in the ring, this one included.
    pub(crate) records: u64,
}

impl Ring {
    /// A ring of `bytes` (rounded down to a power of two, at least one
    /// word).
    pub(crate) fn new(bytes: usize) -> Ring {
        let words = (bytes / 8).max(1);
        let words = 1 << words.ilog2();
        Ring {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            tail: AtomicUsize::new(0),
            head: AtomicUsize::new(0),
            written: AtomicU64::new(0),
            read: AtomicU64::new(0),
        }
    }

    /// The ring's size in bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.words.len() * 8
    }

    fn word(&self, position: usize) -> Option<&AtomicU64> {
        self.words.get(position & (self.words.len() - 1))
    }

    /// Appends one record; `None`, writing nothing, when it does not fit.
    /// Only one thread may call this (the shard's own).
    pub(crate) fn push(&self, record: &[u8]) -> Option<Fill> {
        let needed = 1 + record.len().div_ceil(8);
        let tail = self.tail.load(Ordering::Relaxed);
        // `Acquire`: the reader's copies of the words it freed happen
        // before they are written again.
        let head = self.head.load(Ordering::Acquire);
        let used = tail.wrapping_sub(head);
        if used + needed > self.words.len() {
            return None;
        }
        let (words, last) = record.as_chunks::<8>();
        let start = tail & (self.words.len() - 1);
        match self.words.get(start..start + needed) {
            Some([length, slots @ ..]) => {
                // The usual case: the record does not wrap around the end.
                length.store(record.len() as u64, Ordering::Relaxed);
                for (slot, word) in slots.iter().zip(words) {
                    slot.store(u64::from_le_bytes(*word), Ordering::Relaxed);
                }
                if let Some(slot) = slots.get(words.len()) {
                    slot.store(padded_word(last), Ordering::Relaxed);
                }
            }
            _ => {
                let mut position = tail;
                let mut store = |word: u64| {
                    if let Some(slot) = self.word(position) {
                        slot.store(word, Ordering::Relaxed);
                    }
                    position = position.wrapping_add(1);
                };
                store(record.len() as u64);
                for word in words {
                    store(u64::from_le_bytes(*word));
                }
                if !last.is_empty() {
                    store(padded_word(last));
                }
            }
        }
        // `Release`: the words are in place before the reader sees them.
        self.tail
            .store(tail.wrapping_add(needed), Ordering::Release);
        let written = self.written.load(Ordering::Relaxed) + 1;
        self.written.store(written, Ordering::Relaxed);
        Some(Fill {
            bytes_before: used * 8,
            bytes_after: (used + needed) * 8,
            records: written.wrapping_sub(self.read.load(Ordering::Relaxed)),
        })
    }

    /// Appends every record written so far to `out`, one after the other,
    /// and frees their words; returns how many there were. Only one thread
    /// at a time may call this.
    pub(crate) fn drain(&self, out: &mut Vec<u8>) -> u64 {
        let head = self.head.load(Ordering::Relaxed);
        // `Acquire`: the writer's words are in place.
        let tail = self.tail.load(Ordering::Acquire);
        let mut position = head;
        let mut records = 0;
        let load = |position: &mut usize| {
            let word = self
                .word(*position)
                .map_or(0, |slot| slot.load(Ordering::Relaxed));
            *position = position.wrapping_add(1);
            word
        };
        while position != tail {
            let len = usize::try_from(load(&mut position)).unwrap_or(usize::MAX);
            let words = len.div_ceil(8);
            if words > tail.wrapping_sub(position) {
                // Not written by `push`: skip the rest rather than misread.
                break;
            }
            let start = position & (self.words.len() - 1);
            let at = out.len();
            // Zeroed first, then overwritten: safe code cannot write into
            // spare capacity, and zeroing costs less than a bounds check
            // per word.
            out.resize(at + words * 8, 0);
            let bytes = out.get_mut(at..).unwrap_or_default().chunks_exact_mut(8);
            match self.words.get(start..start + words) {
                // The usual case: the record does not wrap around the end.
                Some(slots) => {
                    for (bytes, slot) in bytes.zip(slots) {
                        bytes.copy_from_slice(&slot.load(Ordering::Relaxed).to_le_bytes());
                    }
                    position = position.wrapping_add(words);
                }
                None => {
                    for bytes in bytes {
                        bytes.copy_from_slice(&load(&mut position).to_le_bytes());
                    }
                }
            }
            // The last word's padding goes.
            out.truncate(at + len);
            records += 1;
        }
        self.head.store(tail, Ordering::Release);
        let read = self.read.load(Ordering::Relaxed) + records;
        self.read.store(read, Ordering::Relaxed);
        records
    }

    /// Records written and not read yet.
    pub(crate) fn pending(&self) -> u64 {
        let read = self.read.load(Ordering::Acquire);
        self.written.load(Ordering::Acquire).saturating_sub(read)
    }
}

/// The last bytes of a record, padded to a word.
fn padded_word(last: &[u8]) -> u64 {
    let mut padded = [0; 8];
    if let Some(start) = padded.get_mut(..last.len()) {
        start.copy_from_slice(last);
    }
    u64::from_le_bytes(padded)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn record(number: u32, len: usize) -> Vec<u8> {
        let mut record = number.to_le_bytes().repeat(len.div_ceil(4));
        record.truncate(len);
        record
    }

    #[test]
    fn records_of_any_length_come_out_as_they_went_in_across_the_end() {
        let ring = Ring::new(256);
        let mut expected = Vec::new();
        let mut out = Vec::new();
        // Lengths that are and are not multiples of a word, written and
        // read in turns so that records wrap around the end many times.
        for round in 0..200_u32 {
            for len in [0, 1, 7, 8, 9, 23] {
                let record = record(round, len + round as usize % 5);
                ring.push(&record).expect("room after the last drain");
                expected.extend_from_slice(&record);
            }
            assert_eq!(ring.pending(), 6);
            assert_eq!(ring.drain(&mut out), 6);
            assert_eq!(ring.pending(), 0);
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn a_record_that_does_not_fit_is_refused_whole() {
        let ring = Ring::new(64);
        assert_eq!(ring.capacity(), 64);
        let fill = ring.push(&[1; 40]).expect("six of eight words");
        assert_eq!(
            (fill.bytes_before, fill.bytes_after, fill.records),
            (0, 48, 1)
        );
        assert!(ring.push(&[2; 17]).is_none(), "four words, two free");
        ring.push(&[3; 8]).expect("two words, two free");
        let mut out = Vec::new();
        assert_eq!(ring.drain(&mut out), 2);
        assert_eq!(out, [[1; 40].as_slice(), &[3; 8]].concat());
        assert!(ring.push(&[4; 48]).is_some(), "all words free again");
    }

    #[test]
    fn a_reader_on_another_thread_gets_every_record_in_order() {
        let ring = Arc::new(Ring::new(4096));
        let writer = {
            let ring = Arc::clone(&ring);
            std::thread::spawn(move || {
                for number in 0..100_000_u32 {
                    let record = record(number, 1 + number as usize % 40);
                    while ring.push(&record).is_none() {
                        std::thread::yield_now();
                    }
                }
            })
        };
        let mut out = Vec::new();
        let mut next = 0_u32;
        while next < 100_000 {
            out.clear();
            ring.drain(&mut out);
            let mut rest = out.as_slice();
            while !rest.is_empty() {
                let expected = record(next, 1 + next as usize % 40);
                let (got, after) = rest.split_at(expected.len());
                assert_eq!(got, expected, "record {next}");
                rest = after;
                next += 1;
            }
        }
        writer.join().expect("the writer finishes");
    }
}
