//! The durable spool: OTLP requests the collector could not take are
//! written to a directory, one segment file per request, and replayed in
//! order when the collector is back and at the next start.
//!
//! A segment is `OLBSPOOL1`, then the record count (u64), the payload
//! length (u64) and the payload's CRC-32 (u32), all little-endian, then the
//! payload: an encoded `ExportLogsServiceRequest`. A segment cut short by a
//! crash, or whose checksum does not match, is skipped and deleted, never
//! replayed as garbage. Delivery is at least once: a request sent just
//! before a crash, whose segment was not yet deleted, is sent again.

use std::collections::VecDeque;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 9] = b"OLBSPOOL1";
const HEADER_LEN: usize = MAGIC.len() + 8 + 8 + 4;
const EXTENSION: &str = "otlpseg";

/// One spooled request.
#[derive(Debug)]
struct Segment {
    sequence: u64,
    bytes: u64,
    records: u64,
}

/// A request read back from the spool.
#[derive(Debug)]
pub(crate) struct Spooled {
    pub(crate) payload: Vec<u8>,
    pub(crate) records: u64,
}

/// What reading the oldest segment gave.
#[derive(Debug)]
pub(crate) enum Oldest {
    Empty,
    Request(Spooled),
    /// Torn or corrupt; it has been deleted.
    Corrupt,
}

/// The spool directory and what it holds.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    budget: u64,
    segments: VecDeque<Segment>,
    bytes: u64,
    next_sequence: u64,
    /// Cleared by the first failed write (a full disk, a directory gone):
    /// from then on the spool only gives back what it holds.
    writable: bool,
}

impl Spool {
    /// Opens (creating it if needed) the spool directory and finds the
    /// segments a previous run left, oldest first. Fails when the
    /// directory cannot be created or written.
    pub(crate) fn open(dir: &Path, budget: u64) -> std::io::Result<Spool> {
        fs::create_dir_all(dir)?;
        // Proves the directory is writable now, not at the first outage.
        let probe = dir.join(".write-test");
        fs::write(&probe, b"")?;
        fs::remove_file(&probe)?;
        let mut segments: Vec<Segment> = Vec::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
                continue;
            }
            let Some(sequence) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let records = read_header(&path).map_or(0, |(records, _, _)| records);
            segments.push(Segment {
                sequence,
                bytes,
                records,
            });
        }
        segments.sort_by_key(|segment| segment.sequence);
        // A file named after the largest sequence number (put there by
        // hand) must not overflow the next one.
        let next_sequence = segments
            .last()
            .map_or(0, |segment| segment.sequence.saturating_add(1));
        let bytes = segments.iter().map(|segment| segment.bytes).sum();
        Ok(Spool {
            dir: dir.to_owned(),
            budget,
            segments: segments.into(),
            bytes,
            next_sequence,
            writable: true,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// `false` once a write failed; what is already spooled is still
    /// replayed.
    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    fn path(&self, sequence: u64) -> PathBuf {
        self.dir.join(format!("{sequence:020}.{EXTENSION}"))
    }

    /// Writes a request as the newest segment. Evicts the oldest segments
    /// first when the budget would be exceeded, returning how many records
    /// they held. A failed write leaves no partial segment behind and makes
    /// the spool read-only: a disk that just filled up would fail the next
    /// write too, after costing a create and a delete.
    pub(crate) fn append(&mut self, payload: &[u8], records: u64) -> std::io::Result<u64> {
        let size = (HEADER_LEN + payload.len()) as u64;
        let mut evicted = 0;
        while self.bytes + size > self.budget {
            let Some(oldest) = self.segments.pop_front() else {
                break;
            };
            let _ = fs::remove_file(self.path(oldest.sequence));
            self.bytes = self.bytes.saturating_sub(oldest.bytes);
            evicted += oldest.records;
        }
        let sequence = self.next_sequence;
        let mut file = match fs::File::create(self.path(sequence)) {
            Ok(file) => file,
            Err(error) => {
                self.writable = false;
                return Err(error);
            }
        };
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&records.to_le_bytes());
        header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        header.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        let written = file
            .write_all(&header)
            .and_then(|()| file.write_all(payload))
            .and_then(|()| file.sync_data());
        if let Err(error) = written {
            let _ = fs::remove_file(self.path(sequence));
            self.writable = false;
            return Err(error);
        }
        self.next_sequence += 1;
        self.bytes += size;
        self.segments.push_back(Segment {
            sequence,
            bytes: size,
            records,
        });
        Ok(evicted)
    }

    /// Reads the oldest segment without removing it.
    pub(crate) fn oldest(&mut self) -> Oldest {
        let Some(segment) = self.segments.front() else {
            return Oldest::Empty;
        };
        let path = self.path(segment.sequence);
        match read_segment(&path) {
            Some(spooled) => Oldest::Request(spooled),
            None => {
                self.remove_oldest();
                Oldest::Corrupt
            }
        }
    }

    /// Deletes the oldest segment, once it was delivered or refused.
    pub(crate) fn remove_oldest(&mut self) {
        if let Some(segment) = self.segments.pop_front() {
            let _ = fs::remove_file(self.path(segment.sequence));
            self.bytes = self.bytes.saturating_sub(segment.bytes);
        }
    }
}

/// Reads only the header: at start-up every segment is looked at, and a
/// segment can be as large as a request.
fn read_header(path: &Path) -> Option<(u64, u64, u32)> {
    use std::io::Read as _;
    let mut header = [0u8; HEADER_LEN];
    fs::File::open(path).ok()?.read_exact(&mut header).ok()?;
    parse_header(&header)
}

fn parse_header(data: &[u8]) -> Option<(u64, u64, u32)> {
    let header = data.get(..HEADER_LEN)?;
    if &header[..MAGIC.len()] != MAGIC {
        return None;
    }
    let number = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(header.get(at..at + 8)?.try_into().ok()?))
    };
    let records = number(MAGIC.len())?;
    let len = number(MAGIC.len() + 8)?;
    let crc = u32::from_le_bytes(header.get(MAGIC.len() + 16..HEADER_LEN)?.try_into().ok()?);
    Some((records, len, crc))
}

fn read_segment(path: &Path) -> Option<Spooled> {
    let data = fs::read(path).ok()?;
    let (records, len, crc) = parse_header(&data)?;
    let payload = data.get(HEADER_LEN..)?;
    if payload.len() as u64 != len || crc32fast::hash(payload) != crc {
        return None;
    }
    Some(Spooled {
        payload: payload.to_vec(),
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("olb-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn segments_come_back_in_order_across_reopening() {
        let dir = dir("order");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        spool.append(b"first", 1).expect("written");
        spool.append(b"second", 2).expect("written");
        let mut reopened = Spool::open(&dir, 1 << 20).expect("writable");
        let mut seen = Vec::new();
        while let Oldest::Request(spooled) = reopened.oldest() {
            seen.push((spooled.payload, spooled.records));
            reopened.remove_oldest();
        }
        assert_eq!(seen, vec![(b"first".to_vec(), 1), (b"second".to_vec(), 2)]);
        assert!(reopened.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_segment_is_skipped_not_replayed() {
        let dir = dir("torn");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        spool.append(b"whole request", 3).expect("written");
        spool.append(b"cut short by a crash", 4).expect("written");
        let torn = spool.path(1);
        let data = fs::read(&torn).expect("segment");
        fs::write(&torn, &data[..data.len() - 5]).expect("truncated");
        let mut reopened = Spool::open(&dir, 1 << 20).expect("writable");
        match reopened.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.payload, b"whole request"),
            other => panic!("expected the whole request, got {other:?}"),
        }
        reopened.remove_oldest();
        assert!(matches!(reopened.oldest(), Oldest::Corrupt));
        assert!(matches!(reopened.oldest(), Oldest::Empty));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_budget_evicts_the_oldest_segments() {
        let dir = dir("budget");
        let budget = (HEADER_LEN as u64 + 100) * 2;
        let mut spool = Spool::open(&dir, budget).expect("writable");
        assert_eq!(spool.append(&[0; 100], 10).expect("written"), 0);
        assert_eq!(spool.append(&[1; 100], 20).expect("written"), 0);
        assert_eq!(spool.append(&[2; 100], 30).expect("written"), 10);
        match spool.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.records, 20),
            other => panic!("{other:?}"),
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unwritable_directory_is_an_error() {
        let file = std::env::temp_dir().join(format!("olb-spool-file-{}", std::process::id()));
        fs::write(&file, b"not a directory").expect("file");
        assert!(Spool::open(&file.join("spool"), 1 << 20).is_err());
        let _ = fs::remove_file(&file);
    }
}
