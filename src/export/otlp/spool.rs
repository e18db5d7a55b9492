//! The durable spool: OTLP requests the collector could not take are
//! written to a directory, one segment file per request, and replayed in
//! order when the collector is back and at the next start.
//!
//! A segment is `OLBSPOOL1`, then the record count (u64), the payload
//! length (u64) and the payload's CRC-32 (u32), all little-endian, then the
//! payload: an encoded `ExportLogsServiceRequest`. A segment cut short by a
//! crash, or whose checksum does not match, is skipped and deleted, never
//! replayed as garbage. A segment that cannot be read for another reason (no
//! file descriptor left, say) is kept and tried again later, and skipped
//! only after [`READ_ATTEMPTS`] failures in a row, so that a passing
//! error does not empty the spool and a lasting one does not block it. Delivery is at least once: a request sent just
//! before a crash, whose segment was not yet deleted, is sent again.

use std::collections::VecDeque;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MAGIC: &[u8; 9] = b"OLBSPOOL1";
const HEADER_LEN: usize = MAGIC.len() + 8 + 8 + 4;
const EXTENSION: &str = "otlpseg";

/// How many times in a row the oldest segment may fail to be read before it
/// is skipped.
pub(crate) const READ_ATTEMPTS: u32 = 5;

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
    /// Torn or corrupt, or unreadable [`READ_ATTEMPTS`] times in a row; it
    /// has been deleted. `records` is what its header said it held.
    Skipped {
        records: u64,
        reason: String,
    },
    /// It could not be read this time, and is kept to be tried again.
    Unreadable(std::io::Error),
}

/// What appending a request to the spool came to.
#[derive(Debug)]
pub(crate) struct Appended {
    /// Records of the oldest segments deleted to make room, whether or not
    /// the write then succeeded.
    pub(crate) evicted: u64,
    pub(crate) written: std::io::Result<()>,
}

/// How long the spool stays read-only after a write failed, before the
/// next write is tried.
const READ_ONLY_AFTER_A_FAILED_WRITE: Duration = Duration::from_secs(60);

/// The spool directory and what it holds.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    budget: u64,
    segments: VecDeque<Segment>,
    bytes: u64,
    next_sequence: u64,
    /// Set by a failed write (a full disk, a directory gone): until then
    /// the spool only gives back what it holds, and writes are tried
    /// again afterwards (space may have been freed, the directory made
    /// again).
    read_only_until: Option<Instant>,
    /// How many times in a row the oldest segment failed to be read.
    failed_reads: u32,
    /// Segments done with (delivered, refused or evicted) whose file could
    /// not be deleted. Deleting them is tried again at each later removal:
    /// a file left behind is read back at the next start, and its records
    /// sent again.
    unremoved: Vec<u64>,
    /// Held locked while the spool is open, so that a second process
    /// pointed at the same directory does not write segments with the same
    /// sequence numbers, or replay and delete this one's.
    _lock: fs::File,
}

/// Creates `dir` if needed, readable by its owner only on Unix: spooled
/// requests hold the application's logs.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Opens `path` for writing, creating it readable by its owner only on
/// Unix; `truncate` empties a file that is already there.
fn open_private_file(path: &Path, truncate: bool) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Locks the spool directory for this process, or says who holds it.
fn lock_dir(dir: &Path) -> std::io::Result<fs::File> {
    // Kept, not emptied: another process may hold it locked.
    let lock = open_private_file(&dir.join(".lock"), false)?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(fs::TryLockError::WouldBlock) => Err(std::io::Error::new(
            std::io::ErrorKind::ResourceBusy,
            "another process is using it",
        )),
        Err(fs::TryLockError::Error(error)) => Err(error),
    }
}

impl Spool {
    /// Opens (creating it if needed) the spool directory and finds the
    /// segments a previous run left, oldest first. Fails when the
    /// directory cannot be created or written.
    pub(crate) fn open(dir: &Path, budget: u64) -> std::io::Result<Spool> {
        create_private_dir(dir)?;
        let lock = lock_dir(dir)?;
        // Proves the directory is writable now, not at the first outage
        // (the lock file may be an old one, opened without writing to the
        // directory).
        let probe = dir.join(".write-test");
        open_private_file(&probe, true)?;
        fs::remove_file(&probe)?;
        let mut segments: Vec<Segment> = Vec::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some(EXTENSION) {
                continue;
            }
            // Only names this spool writes: another name that parses to a
            // number ("5.otlpseg") would be looked for under the name the
            // number gives, and the largest number leaves none for the next
            // segment.
            let Some(sequence) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| s.len() == 20)
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|&sequence| sequence < u64::MAX)
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
        let next_sequence = segments.last().map_or(0, |segment| segment.sequence + 1);
        let bytes = segments.iter().map(|segment| segment.bytes).sum();
        Ok(Spool {
            dir: dir.to_owned(),
            budget,
            segments: segments.into(),
            bytes,
            next_sequence,
            read_only_until: None,
            failed_reads: 0,
            unremoved: Vec::new(),
            _lock: lock,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// `false` for a while after a write failed; what is already spooled
    /// is still replayed.
    pub(crate) fn is_writable(&self) -> bool {
        self.read_only_until
            .is_none_or(|until| Instant::now() >= until)
    }

    fn failed_to_write(&mut self, error: std::io::Error) -> std::io::Result<()> {
        self.read_only_until = Some(Instant::now() + READ_ONLY_AFTER_A_FAILED_WRITE);
        Err(error)
    }

    /// Whether a request of `payload_len` bytes fits without evicting
    /// anything.
    pub(crate) fn has_room_for(&self, payload_len: usize) -> bool {
        self.bytes + (HEADER_LEN + payload_len) as u64 <= self.budget
    }

    /// Makes the spool read-only until `until`, as a failed write does.
    #[cfg(test)]
    pub(crate) fn set_read_only_until(&mut self, until: Instant) {
        self.read_only_until = Some(until);
    }

    fn path(&self, sequence: u64) -> PathBuf {
        segment_path(&self.dir, sequence)
    }

    /// Writes a request as the newest segment. Evicts the oldest segments
    /// first when the budget would be exceeded, and says how many records
    /// they held. A failed write leaves no partial segment behind and makes
    /// the spool read-only for [`READ_ONLY_AFTER_A_FAILED_WRITE`]: a disk
    /// that just filled up would fail the next write too, after costing a
    /// create and a delete.
    pub(crate) fn append(&mut self, payload: &[u8], records: u64) -> Appended {
        let mut evicted = 0;
        let written = self.write_newest(payload, records, &mut evicted);
        Appended { evicted, written }
    }

    fn write_newest(
        &mut self,
        payload: &[u8],
        records: u64,
        evicted: &mut u64,
    ) -> std::io::Result<()> {
        let size = (HEADER_LEN + payload.len()) as u64;
        // Evicting everything would not make room: keep what is spooled.
        if size > self.budget {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!(
                    "a request of {size} bytes is larger than the spool budget of {} bytes",
                    self.budget
                ),
            ));
        }
        // The last number is never written: a segment under it would not
        // be read back.
        if self.next_sequence == u64::MAX {
            return self.failed_to_write(std::io::Error::other(
                "the spool has used every segment number",
            ));
        }
        // The file first: when it cannot even be made (the directory is
        // gone, no file descriptor is left), nothing is evicted for it.
        let sequence = self.next_sequence;
        let mut file = match open_private_file(&self.path(sequence), true) {
            Ok(file) => file,
            Err(error) => return self.failed_to_write(error),
        };
        while self.bytes + size > self.budget {
            let Some(oldest) = self.segments.pop_front() else {
                break;
            };
            // The failed reads counted were the evicted segment's.
            self.failed_reads = 0;
            self.delete(oldest.sequence);
            self.bytes = self.bytes.saturating_sub(oldest.bytes);
            *evicted += oldest.records;
        }
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
            drop(file);
            // The number is not used again: should the partial file stay,
            // deleting it later must not delete a segment written since.
            self.next_sequence += 1;
            self.delete(sequence);
            return self.failed_to_write(error);
        }
        self.read_only_until = None;
        self.next_sequence += 1;
        self.bytes += size;
        self.segments.push_back(Segment {
            sequence,
            bytes: size,
            records,
        });
        Ok(())
    }

    /// Reads the oldest segment without removing it.
    pub(crate) fn oldest(&mut self) -> Oldest {
        let Some(segment) = self.segments.front() else {
            return Oldest::Empty;
        };
        let path = self.path(segment.sequence);
        let records = segment.records;
        match read_segment(&path) {
            Ok(Some(spooled)) => {
                self.failed_reads = 0;
                Oldest::Request(spooled)
            }
            Ok(None) => {
                self.remove_oldest();
                Oldest::Skipped {
                    records,
                    reason: "it was cut short or corrupted".to_owned(),
                }
            }
            Err(error) => {
                self.failed_reads += 1;
                if self.failed_reads < READ_ATTEMPTS {
                    return Oldest::Unreadable(error);
                }
                self.remove_oldest();
                Oldest::Skipped {
                    records,
                    reason: format!("it could not be read {READ_ATTEMPTS} times in a row: {error}"),
                }
            }
        }
    }

    /// Deletes the oldest segment, once it was delivered or refused.
    pub(crate) fn remove_oldest(&mut self) {
        self.failed_reads = 0;
        if let Some(segment) = self.segments.pop_front() {
            self.delete(segment.sequence);
            self.bytes = self.bytes.saturating_sub(segment.bytes);
        }
    }

    /// Deletes a segment's file, and tries again for those that could not
    /// be deleted before. One that still cannot is said on stderr: its
    /// records would be sent again after a restart.
    fn delete(&mut self, sequence: u64) {
        self.unremoved
            .retain(|&earlier| remove_segment_file(&self.dir, earlier).is_err());
        if let Err(error) = remove_segment_file(&self.dir, sequence) {
            crate::diag::warn(format_args!(
                "could not delete the spool segment {}: {error}; deleting it is tried again later, and its records are sent again if the process restarts first",
                segment_path(&self.dir, sequence).display()
            ));
            // Bounded: a directory where nothing can be deleted any more
            // would otherwise grow the list with every segment.
            if self.unremoved.len() < UNREMOVED_KEPT {
                self.unremoved.push(sequence);
            }
        }
    }
}

/// How many segments that could not be deleted the spool remembers, to
/// try again.
const UNREMOVED_KEPT: usize = 1024;

fn segment_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("{sequence:020}.{EXTENSION}"))
}

/// Deletes a segment's file; one already gone is not an error.
fn remove_segment_file(dir: &Path, sequence: u64) -> std::io::Result<()> {
    match fs::remove_file(segment_path(dir, sequence)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
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

/// The request a segment holds; `None` when it is cut short, corrupt or
/// gone, an error when it could not be read.
fn read_segment(path: &Path) -> std::io::Result<Option<Spooled>> {
    let data = match fs::read(path) {
        Ok(data) => data,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let Some((records, len, crc)) = parse_header(&data) else {
        return Ok(None);
    };
    let payload = data.get(HEADER_LEN..).unwrap_or_default();
    if payload.len() as u64 != len || crc32fast::hash(payload) != crc {
        return Ok(None);
    }
    Ok(Some(Spooled {
        payload: payload.to_vec(),
        records,
    }))
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
        spool.append(b"first", 1).written.expect("written");
        spool.append(b"second", 2).written.expect("written");
        drop(spool);
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
        spool.append(b"whole request", 3).written.expect("written");
        spool
            .append(b"cut short by a crash", 4)
            .written
            .expect("written");
        let torn = spool.path(1);
        let data = fs::read(&torn).expect("segment");
        fs::write(&torn, &data[..data.len() - 5]).expect("truncated");
        drop(spool);
        let mut reopened = Spool::open(&dir, 1 << 20).expect("writable");
        match reopened.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.payload, b"whole request"),
            other => panic!("expected the whole request, got {other:?}"),
        }
        reopened.remove_oldest();
        assert!(matches!(
            reopened.oldest(),
            Oldest::Skipped { records: 4, .. }
        ));
        assert!(matches!(reopened.oldest(), Oldest::Empty));
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: a segment that could not be read for any reason (no
    /// file descriptor left, say) was taken for a corrupt one and deleted,
    /// so one passing error emptied the whole spool.
    #[test]
    fn an_unreadable_segment_is_kept_and_skipped_only_after_repeated_failures() {
        let dir = dir("unreadable");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        spool.append(b"first", 3).written.expect("written");
        spool.append(b"second", 4).written.expect("written");
        // A directory where the segment was: reading it fails with an
        // error that is not "not found", even for root.
        let segment = spool.path(0);
        fs::remove_file(&segment).expect("removed");
        fs::create_dir(&segment).expect("a directory in its place");
        for _ in 1..READ_ATTEMPTS {
            assert!(matches!(spool.oldest(), Oldest::Unreadable(_)));
        }
        assert!(segment.exists());
        // Regression: the count of failed reads outlived the segment it was
        // for when the budget evicted it, and the next one was skipped
        // after one failure.
        let mut evicting =
            Spool::open(&dir.join("evicting"), HEADER_LEN as u64 + 10).expect("a spool");
        evicting.append(b"first", 1).written.expect("written");
        let first = evicting.path(0);
        fs::remove_file(&first).expect("removed");
        fs::create_dir(&first).expect("a directory in its place");
        for _ in 1..READ_ATTEMPTS {
            assert!(matches!(evicting.oldest(), Oldest::Unreadable(_)));
        }
        let _ = fs::remove_dir(&first);
        assert_eq!(evicting.append(b"second", 2).evicted, 1);
        let second = evicting.path(1);
        fs::remove_file(&second).expect("removed");
        fs::create_dir(&second).expect("a directory in its place");
        assert!(matches!(evicting.oldest(), Oldest::Unreadable(_)));
        let _ = fs::remove_dir(&second);
        drop(evicting);
        match spool.oldest() {
            Oldest::Skipped { records, reason } => {
                assert_eq!(records, 3);
                assert!(
                    reason.contains("could not be read 5 times in a row"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        match spool.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.payload, b"second"),
            other => panic!("{other:?}"),
        }
        let _ = fs::remove_dir(&segment);
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: a segment whose file could not be deleted once it was
    /// delivered was forgotten, and read back (its records sent again) at
    /// the next start.
    #[test]
    fn a_segment_that_could_not_be_deleted_is_deleted_later() {
        let dir = dir("undeletable");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        spool.append(b"first", 1).written.expect("written");
        spool.append(b"second", 1).written.expect("written");
        spool.append(b"third", 1).written.expect("written");
        // A non-empty directory where the oldest segment is: deleting it
        // as a file fails, even for root.
        let first = spool.path(0);
        fs::remove_file(&first).expect("removed");
        fs::create_dir(&first).expect("a directory in its place");
        fs::write(first.join("keep"), b"x").expect("a file inside");
        spool.remove_oldest();
        assert!(first.exists(), "could not be deleted");
        assert_eq!(spool.unremoved, [0]);
        // Whatever stood in the way is gone by the next removal.
        fs::remove_dir_all(&first).expect("removed");
        fs::write(&first, b"a segment file again").expect("written");
        spool.remove_oldest();
        assert!(!first.exists(), "deleted on the next removal");
        assert!(!spool.path(1).exists());
        assert!(spool.unremoved.is_empty());
        drop(spool);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_budget_evicts_the_oldest_segments() {
        let dir = dir("budget");
        let budget = (HEADER_LEN as u64 + 100) * 2;
        let mut spool = Spool::open(&dir, budget).expect("writable");
        for (payload, records, evicted) in [(0, 10, 0), (1, 20, 0), (2, 30, 10)] {
            let appended = spool.append(&[payload; 100], records);
            assert!(appended.written.is_ok());
            assert_eq!(appended.evicted, evicted);
        }
        match spool.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.records, 20),
            other => panic!("{other:?}"),
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_request_larger_than_the_budget_evicts_nothing_and_is_refused() {
        let dir = dir("oversized");
        let budget = (HEADER_LEN as u64 + 100) * 2;
        let mut spool = Spool::open(&dir, budget).expect("writable");
        spool.append(&[0; 100], 10).written.expect("written");
        let appended = spool.append(&[1; 1000], 20);
        assert_eq!(appended.evicted, 0);
        assert_eq!(
            appended.written.expect_err("too large").kind(),
            std::io::ErrorKind::FileTooLarge
        );
        assert!(spool.is_writable(), "the next request may fit");
        assert!(matches!(spool.oldest(), Oldest::Request(spooled) if spooled.records == 10));
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: one failed write (a disk full for a moment) turned the
    /// spool off until the process restarted, and evicted the oldest
    /// segments for a file that could not even be made.
    #[test]
    fn a_failed_write_makes_the_spool_read_only_for_a_while_only() {
        let dir = dir("read-only");
        let budget = (HEADER_LEN as u64 + 100) * 2;
        let mut spool = Spool::open(&dir, budget).expect("writable");
        spool.append(&[0; 100], 10).written.expect("written");
        spool.append(&[1; 100], 20).written.expect("written");
        let kept = fs::read_dir(&dir).expect("dir").count();
        // The directory is gone: no file can be made, and nothing is
        // evicted for one.
        let moved = dir.with_extension("moved");
        fs::rename(&dir, &moved).expect("moved away");
        let appended = spool.append(&[2; 100], 30);
        assert!(appended.written.is_err());
        assert_eq!(appended.evicted, 0);
        assert!(!spool.is_writable());
        fs::rename(&moved, &dir).expect("moved back");
        assert_eq!(fs::read_dir(&dir).expect("dir").count(), kept);
        // Once the pause is over, writes are tried again.
        spool.read_only_until = Some(Instant::now());
        assert!(spool.is_writable());
        let appended = spool.append(&[2; 100], 30);
        assert!(appended.written.is_ok());
        assert_eq!(appended.evicted, 10);
        assert!(spool.is_writable());
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: a file whose name parsed to a number was taken for a
    /// segment: "5.otlpseg" was looked for as another file and counted as
    /// failed at every start, and the largest number left none for the
    /// next segment, which overwrote the newest one.
    #[test]
    fn files_this_spool_did_not_name_are_left_alone() {
        let dir = dir("foreign");
        fs::create_dir_all(&dir).expect("dir");
        for name in ["5.otlpseg", "18446744073709551615.otlpseg"] {
            fs::write(dir.join(name), b"not a segment").expect("written");
        }
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        assert!(spool.is_empty());
        spool.append(b"logs", 1).written.expect("written");
        spool.append(b"more logs", 2).written.expect("written");
        assert!(matches!(spool.oldest(), Oldest::Request(spooled) if spooled.payload == b"logs"));
        assert!(dir.join("5.otlpseg").exists());
        drop(spool);
        // The second largest number: the next would be the last, which a
        // reopened spool could not read back, so nothing is written.
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let full = Spool::open(&dir, 1 << 20)
            .expect("writable")
            .path(u64::MAX - 1);
        fs::write(&full, b"not a segment either").expect("written");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        assert!(spool.append(b"logs", 1).written.is_err());
        assert_eq!(fs::read(&full).expect("kept"), b"not a segment either");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_another_spool_holds_is_an_error() {
        let dir = dir("locked");
        let spool = Spool::open(&dir, 1 << 20).expect("writable");
        let error = Spool::open(&dir, 1 << 20).expect_err("locked");
        assert_eq!(error.kind(), std::io::ErrorKind::ResourceBusy);
        drop(spool);
        assert!(
            Spool::open(&dir, 1 << 20).is_ok(),
            "released with the spool"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_and_segments_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = dir("private");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        spool.append(b"logs", 1).written.expect("written");
        let mode = |path: &Path| fs::metadata(path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&spool.path(0)), 0o600);
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
