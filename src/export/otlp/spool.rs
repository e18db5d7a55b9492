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

/// The unit a file system allocates a file's data in, on most of them: a
/// segment counts against the budget as the whole blocks it fills, so that
/// many small segments (an outage of a quiet service writes one a second)
/// cannot take many times the budget on disk.
pub(crate) const DISK_BLOCK: u64 = 4096;

/// What a file of `len` bytes takes on disk, in whole blocks.
fn disk_size(len: u64) -> u64 {
    len.div_ceil(DISK_BLOCK).saturating_mul(DISK_BLOCK)
}

/// One spooled request.
#[derive(Debug)]
struct Segment {
    sequence: u64,
    /// What its file takes on disk ([`disk_size`]).
    bytes: u64,
    records: u64,
    /// Whose file it must be to be replayed (see [`owner_of`]): the user
    /// who made it, for a segment this process wrote, so that a program
    /// that drops its privileges after `init` still replays (and does not
    /// delete as foreign) what it wrote since; the spool's user for one
    /// found at open.
    owner: Option<u32>,
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
    /// The records the segments hold, by their headers.
    records: u64,
    next_sequence: u64,
    /// Set by a failed write (a full disk, a directory that cannot be
    /// made again): until then the spool only gives back what it holds,
    /// and writes are tried again afterwards (space may have been freed).
    read_only_until: Option<Instant>,
    /// How many times in a row the oldest segment failed to be read.
    failed_reads: u32,
    /// Segments done with (delivered, refused or evicted) whose file could
    /// not be deleted. Deleting them is tried again at each later removal:
    /// a file left behind is read back at the next start, and its records
    /// sent again.
    unremoved: Vec<u64>,
    /// Whose files the spool's are (see [`owner_of`]).
    owner: Option<u32>,
    /// Whether the spool said it evicts segments for its budget: said the
    /// first time, as a full queue is.
    evictions_said: bool,
    /// Whether a segment that could not be deleted was said, since the
    /// last one that could: a directory where nothing can be deleted (a
    /// read-only file system) would otherwise say so for every segment.
    delete_failure_said: bool,
    /// Held locked while the spool is open, so that a second process
    /// pointed at the same directory does not write segments with the same
    /// sequence numbers, or replay and delete this one's. `None` once the
    /// directory vanished, until it is made and locked again.
    lock: Option<fs::File>,
    /// The directory [`Spool::lock`] locked (see [`identity_of`]): one
    /// found removed or replaced since is no longer this spool's.
    identity: Option<(u64, u64)>,
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

/// Makes the entries of `dir` durable: a new file's data is, once synced,
/// but its name in the directory only once the directory is (POSIX), and
/// a segment whose name a power loss took would be lost uncounted.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match fs::File::open(dir)?.sync_all() {
        // Some file systems (network, FUSE) cannot sync a directory: the
        // segment is kept, as durable as they make it.
        Err(error)
            if error.kind() == std::io::ErrorKind::Unsupported
                || error.kind() == std::io::ErrorKind::InvalidInput =>
        {
            Ok(())
        }
        synced => synced,
    }
}

/// Elsewhere a directory cannot be opened as a file to be synced.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Opens `path` for writing, creating it readable by its owner only on
/// Unix. `new` creates a file that is not there yet, and fails on anything
/// already there, a symbolic link included (which it does not follow);
/// otherwise a file already there is opened as it is.
fn open_private_file(path: &Path, new: bool) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if new {
        options.create_new(true);
    } else {
        options.create(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// The user whose files this process makes (on Unix; elsewhere `None`),
/// told by a file it just made. The spool replays only that user's files:
/// in a directory others can write into (a volume shared by a group, a
/// `tmpfs` writable by all), a segment planted by someone else would be
/// sent to the collector as the application's records.
fn owner_of(file: &fs::File) -> std::io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Ok(Some(file.metadata()?.uid()))
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(None)
    }
}

/// What tells the directory at `path` from another made under its name
/// later (on Unix, its device and inode; elsewhere nothing); `None` when
/// it is gone.
fn identity_of(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        fs::metadata(path)
            .ok()
            .map(|metadata| (metadata.dev(), metadata.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Whether `metadata` is of a regular file `owner` made (a symbolic link, a
/// pipe or a device is none: reading them could block, never end, or read
/// another file).
fn is_own_file(metadata: &fs::Metadata, owner: Option<u32>) -> bool {
    #[cfg(unix)]
    let owned = {
        use std::os::unix::fs::MetadataExt as _;
        owner.is_none_or(|owner| metadata.uid() == owner)
    };
    #[cfg(not(unix))]
    let owned = owner.is_none();
    metadata.is_file() && owned
}

/// Proves the directory writable now, not at the first outage (the lock
/// file may be an old one, opened without writing to the directory), and
/// tells whose files this process makes. The probe is created anew: a
/// probe left by a process killed meanwhile, or anything else under its
/// name, is removed first (a link is removed, never followed).
fn probe_dir(dir: &Path) -> std::io::Result<Option<u32>> {
    let path = dir.join(format!(".write-test-{}", std::process::id()));
    let probe = match open_private_file(&path, true) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            fs::remove_file(&path)?;
            open_private_file(&path, true)?
        }
        opened => opened?,
    };
    let owner = owner_of(&probe);
    drop(probe);
    fs::remove_file(&path)?;
    owner
}

/// Locks the spool directory for this process, or says who holds it.
fn lock_dir(dir: &Path) -> std::io::Result<fs::File> {
    let path = dir.join(".lock");
    // Opening a pipe for writing waits for a reader: anything but a file
    // under that name is refused.
    if fs::symlink_metadata(&path).is_ok_and(|metadata| !metadata.is_file()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    // Kept, not emptied: another process may hold it locked.
    let lock = open_private_file(&path, false)?;
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
        // The directory's own name is made durable too, as a segment's is:
        // a power loss could otherwise take a new directory and the
        // segments synced into it. Its parent may not be readable (a
        // directory others may only enter), where this cannot be done.
        if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            let _ = sync_dir(parent);
        }
        let owner = probe_dir(dir)?;
        let lock = lock_dir(dir)?;
        let mut segments: Vec<Segment> = Vec::new();
        // Files under segment names that are not the spool's: said once,
        // as they are neither replayed nor deleted.
        let mut foreign: Vec<PathBuf> = Vec::new();
        // Segments of another format (a later version of this crate's,
        // run before this one): left for that version, and said once.
        let mut other_format: Vec<PathBuf> = Vec::new();
        // The largest number a file that is not the spool's has, below
        // [`FOREIGN_NUMBERS_PASSED`]: new segments are numbered past it,
        // so that many such files in a row (a former user's segments) do
        // not take the numbers the next writes try.
        let mut foreign_numbers: Option<u64> = None;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
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
            // On Unix, `DirEntry::metadata` describes a link, not what it
            // points to. A file gone since the listing is no segment.
            let own = match entry.metadata() {
                Ok(metadata) => is_own_file(&metadata, owner),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            // A header that does not parse is looked at again only then:
            // a start-up reads thousands of segments.
            let header = if own { read_header(&path) } else { None };
            let other = own && header.is_none() && is_of_another_format(&path);
            if !own || other {
                if sequence < FOREIGN_NUMBERS_PASSED {
                    foreign_numbers = foreign_numbers.max(Some(sequence));
                }
                if other {
                    other_format.push(path);
                } else {
                    foreign.push(path);
                }
                continue;
            }
            let len = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            // No more records than payload bytes: a corrupt count would
            // otherwise be added to the counters when the segment is
            // skipped.
            let records = header.map_or(0, |header| {
                header.records.min(len.saturating_sub(HEADER_LEN as u64))
            });
            segments.push(Segment {
                sequence,
                bytes: disk_size(len),
                records,
                owner,
            });
        }
        segments.sort_by_key(|segment| segment.sequence);
        // Numbered after the spool's own segments, and after other files
        // under segment names unless their numbers are large: a file
        // someone else put under a large number must not use the numbers
        // up.
        let next_sequence = segments
            .last()
            .map(|segment| segment.sequence)
            .max(foreign_numbers)
            .map_or(0, |sequence| sequence + 1);
        if let Some(example) = other_format.first() {
            crate::diag::warn(format_args!(
                "{} spool segment(s), such as {}, are of another format than this version's ({}), written by another version of otel-log-bridge: they are left in place for it, not replayed",
                other_format.len(),
                example.display(),
                String::from_utf8_lossy(MAGIC)
            ));
        }
        if let Some(example) = foreign.first() {
            crate::diag::warn(format_args!(
                "{} file(s) in the spool directory under a segment's name, such as {}, are not regular files of this process's user (a former user of the directory's, or another's): they are not replayed, nor deleted, nor counted against the spool's budget",
                foreign.len(),
                example.display()
            ));
        }
        // Saturating: sparse files can claim sizes that add up past `u64`.
        let bytes = segments
            .iter()
            .fold(0, |sum: u64, segment| sum.saturating_add(segment.bytes));
        let records = segments
            .iter()
            .fold(0, |sum: u64, segment| sum.saturating_add(segment.records));
        Ok(Spool {
            dir: dir.to_owned(),
            budget,
            segments: segments.into(),
            bytes,
            records,
            next_sequence,
            read_only_until: None,
            failed_reads: 0,
            unremoved: Vec::new(),
            owner,
            evictions_said: false,
            delete_failure_said: false,
            lock: Some(lock),
            identity: identity_of(dir),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The records the spool holds, and the bytes they take on disk as the
    /// budget counts them.
    pub(crate) fn held(&self) -> (u64, u64) {
        (self.records, self.bytes)
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
        self.bytes
            .saturating_add(disk_size((HEADER_LEN + payload_len) as u64))
            <= self.budget
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
        let size = disk_size((HEADER_LEN + payload.len()) as u64);
        // Evicting everything would not make room: keep what is spooled.
        if size > self.budget {
            // Without the request's size: each such request is said, and
            // the same text is said once.
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!(
                    "a request larger than the spool budget of {} bytes is not spooled",
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
        // Not written without the lock: another process may have taken the
        // directory since it vanished.
        self.check_directory();
        if self.lock.is_none() {
            if let Err(error) = self.remake_dir() {
                return self.failed_to_write(error);
            }
        }
        // The file first: when it cannot even be made (no file descriptor
        // is left), nothing is evicted for it. A number a file that is not
        // the spool's already has is left to it, a few times in a row.
        let mut sequence = self.next_sequence;
        let mut remade = false;
        let mut file = loop {
            match open_private_file(&self.path(sequence), true) {
                Ok(file) => break file,
                // The directory is gone (a cleaner of old temporary files
                // removes one a long-running service left untouched for
                // days): it is made again, and locked again, as at open.
                // The segments it held are gone with it; the replay counts
                // them as failed when it comes to them.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && !remade => {
                    remade = true;
                    self.lock = None;
                    if let Err(error) = self.remake_dir() {
                        return self.failed_to_write(error);
                    }
                }
                Err(error)
                    if error.kind() == std::io::ErrorKind::AlreadyExists
                        && sequence - self.next_sequence < TAKEN_NUMBERS_SKIPPED
                        && sequence < u64::MAX - 1 =>
                {
                    sequence += 1;
                }
                Err(error) => {
                    if error.kind() == std::io::ErrorKind::AlreadyExists {
                        self.next_sequence = sequence.saturating_add(1);
                    }
                    return self.failed_to_write(error);
                }
            }
        };
        self.next_sequence = sequence;
        while self.bytes.saturating_add(size) > self.budget {
            let Some(oldest) = self.segments.pop_front() else {
                break;
            };
            // The failed reads counted were the evicted segment's.
            self.failed_reads = 0;
            self.delete(oldest.sequence);
            self.bytes = self.bytes.saturating_sub(oldest.bytes);
            self.records = self.records.saturating_sub(oldest.records);
            *evicted = evicted.saturating_add(oldest.records);
            if !std::mem::replace(&mut self.evictions_said, true) {
                crate::diag::warn(format_args!(
                    "the spool {} reached its budget of {} bytes: its oldest requests are deleted to make room for new ones, and their records counted in Guard::stats().spool_evicted",
                    self.dir.display(),
                    self.budget
                ));
            }
        }
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&records.to_le_bytes());
        header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        header.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        let written = file
            .write_all(&header)
            .and_then(|()| file.write_all(payload))
            .and_then(|()| file.sync_data())
            .and_then(|()| sync_dir(&self.dir));
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
        self.bytes = self.bytes.saturating_add(size);
        self.records = self.records.saturating_add(records);
        // The file was made by this process, whatever user it runs as now.
        let owner = owner_of(&file).unwrap_or(self.owner);
        self.segments.push_back(Segment {
            sequence,
            bytes: size,
            records,
            owner,
        });
        Ok(())
    }

    /// Lets go of the lock when the directory it is in was removed or
    /// replaced (removed, then made again by another process, which may
    /// hold its own lock in it): its files are no longer this spool's.
    fn check_directory(&mut self) {
        if self.lock.is_some() && identity_of(&self.dir) != self.identity {
            self.lock = None;
        }
    }

    /// Makes the vanished directory again and locks it, and says so.
    fn remake_dir(&mut self) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        self.lock = Some(lock_dir(&self.dir)?);
        self.identity = identity_of(&self.dir);
        crate::diag::warn(format_args!(
            "the spool directory {} was removed while in use; it was made again, and the segments it held are counted as failed",
            self.dir.display()
        ));
        Ok(())
    }

    /// Reads the oldest segment without removing it.
    pub(crate) fn oldest(&mut self) -> Oldest {
        self.check_directory();
        let Some(segment) = self.segments.front() else {
            return Oldest::Empty;
        };
        let records = segment.records;
        if self.lock.is_none() {
            // The directory was removed while in use and could not be
            // made and locked again: another process may have made it
            // since, and the files under this spool's numbers would be
            // that one's. They are neither read nor deleted; the
            // segments the removal took count as failed.
            self.failed_reads = 0;
            if let Some(gone) = self.segments.pop_front() {
                self.bytes = self.bytes.saturating_sub(gone.bytes);
                self.records = self.records.saturating_sub(gone.records);
            }
            return Oldest::Skipped {
                records,
                reason: "the spool directory was removed while in use".to_owned(),
            };
        }
        let path = self.path(segment.sequence);
        match read_segment(&path, segment.owner) {
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
            self.records = self.records.saturating_sub(segment.records);
        }
    }

    /// Deletes a segment's file, and tries again for those that could not
    /// be deleted before. One that still cannot is said on stderr: its
    /// records would be sent again after a restart.
    fn delete(&mut self, sequence: u64) {
        self.unremoved
            .retain(|&earlier| remove_segment_file(&self.dir, earlier).is_err());
        if let Err(error) = remove_segment_file(&self.dir, sequence) {
            if !std::mem::replace(&mut self.delete_failure_said, true) {
                crate::diag::warn(format_args!(
                    "could not delete the spool segment {}: {error}; deleting it is tried again later, and its records are sent again if the process restarts first (further segments that cannot be deleted are not said until one can)",
                    segment_path(&self.dir, sequence).display()
                ));
            }
            // Bounded: a directory where nothing can be deleted any more
            // would otherwise grow the list with every segment.
            if self.unremoved.len() < UNREMOVED_KEPT {
                self.unremoved.push(sequence);
            }
        } else {
            self.delete_failure_said = false;
        }
    }
}

/// How many numbers in a row a new segment passes over when files that are
/// not the spool's already have them, before the write fails.
const TAKEN_NUMBERS_SKIPPED: u64 = 16;

/// Files that are not the spool's, found at open under numbers below this,
/// have new segments numbered past them; above it, they are too close to
/// the last number to be passed over for good.
const FOREIGN_NUMBERS_PASSED: u64 = u64::MAX / 2;

/// Whether the file at `path` starts as a segment of another version of
/// the format does: `OLBSPOOL` and another version.
fn is_of_another_format(path: &Path) -> bool {
    use std::io::Read as _;
    let mut start = [0u8; MAGIC.len()];
    let read = fs::File::open(path).and_then(|mut file| file.read_exact(&mut start));
    let family = &MAGIC[..MAGIC.len() - 1];
    read.is_ok() && start.starts_with(family) && start != *MAGIC
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

/// A segment's header.
struct Header {
    /// What the header says, at most one per payload byte: a count that
    /// cannot be true (a corrupt header) would otherwise be added to the
    /// counters as it is.
    records: u64,
    len: u64,
    crc: u32,
}

/// Reads only the header: at start-up every segment is looked at, and a
/// segment can be as large as a request.
fn read_header(path: &Path) -> Option<Header> {
    use std::io::Read as _;
    let mut header = [0u8; HEADER_LEN];
    fs::File::open(path).ok()?.read_exact(&mut header).ok()?;
    parse_header(&header)
}

fn parse_header(header: &[u8; HEADER_LEN]) -> Option<Header> {
    if &header[..MAGIC.len()] != MAGIC {
        return None;
    }
    let number = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(header.get(at..at + 8)?.try_into().ok()?))
    };
    let len = number(MAGIC.len() + 8)?;
    let records = number(MAGIC.len())?.min(len);
    let crc = u32::from_le_bytes(header.get(MAGIC.len() + 16..HEADER_LEN)?.try_into().ok()?);
    Some(Header { records, len, crc })
}

/// The request a segment holds; `None` when it is cut short, corrupt or
/// gone; an error when it could not be read, or is not a file. The payload is
/// read only once the header's length matches the file's and no request
/// could be longer: a corrupt length, or a huge file, must not be read
/// into memory whole.
fn read_segment(path: &Path, owner: Option<u32>) -> std::io::Result<Option<Spooled>> {
    use std::io::Read as _;
    // Looked at before it is opened (opening a pipe would wait for a
    // writer), and again once open, as what was opened.
    let own = |metadata: &fs::Metadata| -> std::io::Result<bool> {
        if !metadata.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is not a regular file",
            ));
        }
        // `false`: put there by someone else since the spool was opened.
        Ok(is_own_file(metadata, owner))
    };
    let opened = fs::symlink_metadata(path).and_then(|metadata| {
        own(&metadata)?;
        fs::File::open(path)
    });
    let mut file = match opened {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let metadata = file.metadata()?;
    if !own(&metadata)? {
        return Ok(None);
    }
    let mut header = [0u8; HEADER_LEN];
    if file.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    let Some(Header { records, len, crc }) = parse_header(&header) else {
        return Ok(None);
    };
    if len > super::MAX_REQUEST_BYTES as u64 || metadata.len() != HEADER_LEN as u64 + len {
        return Ok(None);
    }
    let mut payload = Vec::with_capacity(len as usize);
    // One byte more than the header says: a file that grew meanwhile is
    // found out, not read whole.
    file.take(len + 1).read_to_end(&mut payload)?;
    if payload.len() as u64 != len || crc32fast::hash(&payload) != crc {
        return Ok(None);
    }
    Ok(Some(Spooled { payload, records }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("olb-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    /// Opens `dir`'s spool again, the last one dropped. A child process
    /// another test starts (`mkfifo`) shares this process's open files
    /// between its fork and its exec, the lock file's among them, and
    /// holds the lock that long after this process closed it: the open is
    /// tried again meanwhile.
    fn reopen(dir: &Path) -> std::io::Result<Spool> {
        for _ in 0..500 {
            match Spool::open(dir, 1 << 20) {
                Err(error) if error.kind() == std::io::ErrorKind::ResourceBusy => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                result => return result,
            }
        }
        Spool::open(dir, 1 << 20)
    }

    #[test]
    fn segments_come_back_in_order_across_reopening() {
        let dir = dir("order");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        spool.append(b"first", 1).written.expect("written");
        spool.append(b"second", 2).written.expect("written");
        drop(spool);
        let mut reopened = reopen(&dir).expect("writable");
        let mut seen = Vec::new();
        while let Oldest::Request(spooled) = reopened.oldest() {
            seen.push((spooled.payload, spooled.records));
            reopened.remove_oldest();
        }
        assert_eq!(seen, vec![(b"first".to_vec(), 1), (b"second".to_vec(), 2)]);
        assert!(reopened.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: the user whose segments the spool replays was fixed
    /// when it opened, so a program that dropped its privileges after
    /// `init` took the segments it wrote since for someone else's, and
    /// deleted them unsent. A segment someone else's file replaced is
    /// still not replayed.
    #[cfg(unix)]
    #[test]
    fn segments_written_after_a_change_of_user_are_replayed() {
        use std::os::unix::fs::MetadataExt as _;

        let dir = dir("changed-user");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        let own = fs::metadata(&dir).expect("directory").uid();
        // As if the spool had been opened by another user (root, before
        // the program dropped its privileges).
        spool.owner = Some(own.wrapping_add(1));
        spool.append(b"written since", 2).written.expect("written");
        match spool.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.payload, b"written since"),
            other => panic!("expected the request, got {other:?}"),
        }
        spool.remove_oldest();
        // A file of another user in a segment's place is not the spool's.
        spool.append(b"replaced", 1).written.expect("written");
        let path = spool.path(1);
        let whole = fs::read(&path).expect("segment");
        fs::remove_file(&path).expect("removed");
        fs::write(&path, whole).expect("a well-formed segment, planted");
        // Only a privileged user can give a file to another: this half
        // runs as root (as CI runs).
        if std::os::unix::fs::chown(&path, Some(own.wrapping_add(1)), None).is_ok() {
            assert!(matches!(spool.oldest(), Oldest::Skipped { records: 1, .. }));
        } else {
            eprintln!("not checked: giving a file to another user needs privileges");
        }
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
        let mut reopened = reopen(&dir).expect("writable");
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
        let mut evicting = Spool::open(&dir.join("evicting"), DISK_BLOCK).expect("a spool");
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
        // Regression: each segment that could not be deleted was said, a
        // line per segment where nothing can be deleted; once is enough
        // until one can be.
        assert!(spool.delete_failure_said);
        // Whatever stood in the way is gone by the next removal.
        fs::remove_dir_all(&first).expect("removed");
        fs::write(&first, b"a segment file again").expect("written");
        spool.remove_oldest();
        assert!(!first.exists(), "deleted on the next removal");
        assert!(!spool.path(1).exists());
        assert!(spool.unremoved.is_empty());
        assert!(!spool.delete_failure_said);
        drop(spool);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_budget_evicts_the_oldest_segments() {
        let dir = dir("budget");
        let budget = disk_size(HEADER_LEN as u64 + 100) * 2;
        let mut spool = Spool::open(&dir, budget).expect("writable");
        for (payload, records, evicted) in [(0, 10, 0), (1, 20, 0), (2, 30, 10)] {
            // Regression: evictions were counted, never said.
            assert!(!spool.evictions_said);
            let appended = spool.append(&[payload; 100], records);
            assert!(appended.written.is_ok());
            assert_eq!(appended.evicted, evicted);
        }
        assert!(spool.evictions_said);
        match spool.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.records, 20),
            other => panic!("{other:?}"),
        }
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: the budget counted a segment's bytes, so an outage of a
    /// quiet service, one small segment a second, took many times the
    /// budget on disk, in whole blocks.
    #[test]
    fn small_segments_count_as_the_blocks_they_take() {
        let dir = dir("blocks");
        let mut spool = Spool::open(&dir, 2 * DISK_BLOCK).expect("writable");
        for (records, evicted) in [(1, 0), (2, 0), (3, 1)] {
            let appended = spool.append(b"small", records);
            assert!(appended.written.is_ok());
            assert_eq!(appended.evicted, evicted);
        }
        assert!(!spool.has_room_for(5));
        // Sizes near the limit of `u64` (sparse files can claim them) do
        // not overflow.
        spool.bytes = u64::MAX - 1;
        assert!(!spool.has_room_for(5));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_request_larger_than_the_budget_evicts_nothing_and_is_refused() {
        let dir = dir("oversized");
        let budget = disk_size(HEADER_LEN as u64 + 100) * 2;
        let mut spool = Spool::open(&dir, budget).expect("writable");
        spool.append(&[0; 100], 10).written.expect("written");
        let appended = spool.append(&[1; 3 * DISK_BLOCK as usize], 20);
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
        let budget = disk_size(HEADER_LEN as u64 + 100) * 2;
        let mut spool = Spool::open(&dir, budget).expect("writable");
        spool.append(&[0; 100], 10).written.expect("written");
        spool.append(&[1; 100], 20).written.expect("written");
        let kept = fs::read_dir(&dir).expect("dir").count();
        // A file where the directory was: no segment can be made (even
        // for root), the directory cannot be made again, and nothing is
        // evicted for a segment.
        let moved = dir.with_extension("moved");
        fs::rename(&dir, &moved).expect("moved away");
        fs::write(&dir, b"not a directory").expect("a file in its place");
        let appended = spool.append(&[2; 100], 30);
        assert!(appended.written.is_err());
        assert_eq!(appended.evicted, 0);
        assert!(!spool.is_writable());
        fs::remove_file(&dir).expect("the file removed");
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

    /// Regression: a spool whose directory was removed while in use (by a
    /// cleaner of old temporary files) failed every write until the
    /// process restarted, each minute.
    #[test]
    fn a_directory_removed_while_in_use_is_made_again_and_locked() {
        let dir = dir("vanished");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        spool.append(b"lost", 3).written.expect("written");
        fs::remove_dir_all(&dir).expect("removed");
        let appended = spool.append(b"kept", 4);
        assert!(appended.written.is_ok(), "{:?}", appended.written);
        assert!(spool.is_writable());
        // Locked again: a second spool cannot take it.
        assert!(Spool::open(&dir, 1 << 20).is_err());
        // The segment the directory held is counted, the new one sent.
        match spool.oldest() {
            Oldest::Skipped { records, .. } => assert_eq!(records, 3),
            other => panic!("{other:?}"),
        }
        match spool.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.payload, b"kept"),
            other => panic!("{other:?}"),
        }
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: a file whose name parsed to a number was taken for a
    /// segment: "5.otlpseg" was looked for as another file and counted as
    /// failed at every start, and the largest number left none for the
    /// next segment, which overwrote the newest one.
    /// Regression: a spool whose directory was removed, then made and
    /// locked by another process, went on reading and deleting files
    /// under its own numbers: the other process's segments, sent as this
    /// one's and lost to the other.
    #[test]
    fn a_directory_another_spool_took_after_its_removal_is_not_read() {
        let dir = dir("taken-over");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        spool.append(b"lost", 3).written.expect("written");
        fs::remove_dir_all(&dir).expect("removed");
        let mut other = reopen(&dir).expect("made and locked by another");
        other.append(b"the other's", 5).written.expect("written");
        assert!(spool.append(b"not written", 1).written.is_err());
        match spool.oldest() {
            Oldest::Skipped { records, .. } => assert_eq!(records, 3),
            other => panic!("{other:?}"),
        }
        assert!(matches!(spool.oldest(), Oldest::Empty));
        assert_eq!(spool.held(), (0, 0));
        match other.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.payload, b"the other's"),
            unexpected => panic!("{unexpected:?}"),
        }
        drop((spool, other));
        let _ = fs::remove_dir_all(&dir);
    }

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
        let mut spool = reopen(&dir).expect("writable");
        assert!(spool.append(b"logs", 1).written.is_err());
        assert_eq!(fs::read(&full).expect("kept"), b"not a segment either");
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: new segments were numbered after the spool's own only,
    /// so a run of files under segment names that are not the spool's (a
    /// former user's segments) took the numbers the next writes tried:
    /// every 16 of them made the spool read-only for a minute.
    #[cfg(unix)]
    #[test]
    fn segments_are_numbered_past_files_that_are_not_the_spools() {
        let dir = dir("foreign-run");
        fs::create_dir_all(&dir).expect("dir");
        let taken = Spool::open(&dir, 1 << 20).expect("writable");
        for sequence in 0..100 {
            // A link is never the spool's, whoever runs the test.
            std::os::unix::fs::symlink("nowhere", taken.path(sequence)).expect("a link");
        }
        drop(taken);
        let mut spool = reopen(&dir).expect("writable");
        spool.append(b"logs", 1).written.expect("written");
        assert_eq!(
            spool.segments.back().map(|segment| segment.sequence),
            Some(100)
        );
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: a segment of a later version of the format (left by a
    /// newer release, before a rollback) was deleted as corrupt, its
    /// records lost.
    #[test]
    fn a_segment_of_another_format_is_left_for_its_version() {
        let dir = dir("other-format");
        let spool = Spool::open(&dir, 1 << 20).expect("writable");
        let newer = spool.path(0);
        drop(spool);
        let mut content = b"OLBSPOOL2".to_vec();
        content.extend_from_slice(&[7; 40]);
        fs::write(&newer, &content).expect("written");
        let mut spool = reopen(&dir).expect("writable");
        assert!(spool.is_empty());
        spool.append(b"logs", 1).written.expect("written");
        assert!(matches!(spool.oldest(), Oldest::Request(spooled) if spooled.payload == b"logs"));
        spool.remove_oldest();
        assert!(matches!(spool.oldest(), Oldest::Empty));
        assert_eq!(fs::read(&newer).expect("kept"), content);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_another_spool_holds_is_an_error() {
        let dir = dir("locked");
        let spool = Spool::open(&dir, 1 << 20).expect("writable");
        let error = Spool::open(&dir, 1 << 20).expect_err("locked");
        assert_eq!(error.kind(), std::io::ErrorKind::ResourceBusy);
        drop(spool);
        assert!(reopen(&dir).is_ok(), "released with the spool");
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

    /// Writes a segment file as the spool does, by hand.
    fn forge_segment(path: &Path, payload: &[u8], records: u64) {
        let mut data = Vec::new();
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&records.to_le_bytes());
        data.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        data.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        data.extend_from_slice(payload);
        fs::write(path, data).expect("a segment");
    }

    /// Regression: the spool trusted what it found in its directory. In a
    /// directory others can write into, a link planted under the probe's
    /// name made it empty the file the link pointed to, and a segment
    /// someone else wrote would have been replayed to the collector as the
    /// application's records. Such a directory is still used (volumes
    /// shared by a group are common), without trusting others' files.
    #[cfg(unix)]
    #[test]
    fn in_a_directory_others_can_write_into_their_files_are_neither_followed_nor_replayed() {
        use std::os::unix::fs::PermissionsExt as _;
        let shared = dir("shared");
        fs::create_dir_all(&shared).expect("a directory");
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).expect("chmod");
        let victim = std::env::temp_dir().join(format!("olb-victim-{}", std::process::id()));
        fs::write(&victim, b"not the spool's").expect("a victim file");
        let probe = shared.join(format!(".write-test-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &probe).expect("a planted link");
        // A segment someone else wrote, where this process can make a file
        // another user's (as root, which CI runs as).
        // The last number but one too: numbering after it would leave
        // the spool no number to write under.
        for forged in [
            segment_path(&shared, 0),
            segment_path(&shared, u64::MAX - 1),
        ] {
            forge_segment(&forged, b"forged", 1);
            if std::os::unix::fs::chown(&forged, Some(65534), None).is_err() {
                fs::remove_file(&forged).expect("removed");
            }
        }
        let mut spool = Spool::open(&shared, 1 << 20).expect("opened");
        assert_eq!(fs::read(&victim).expect("readable"), b"not the spool's");
        assert!(
            fs::symlink_metadata(&probe).is_err(),
            "the link was removed"
        );
        assert!(matches!(spool.oldest(), Oldest::Empty));
        // The forged segment's number is passed over.
        spool.append(b"own", 1).written.expect("written");
        match spool.oldest() {
            Oldest::Request(spooled) => assert_eq!(spooled.payload, b"own"),
            other => panic!("{other:?}"),
        }
        drop(spool);
        let _ = fs::remove_file(&victim);
        let _ = fs::remove_dir_all(&shared);
    }

    /// Regression: a new segment was opened as any file of its name, a
    /// symbolic link included, and written through it.
    #[cfg(unix)]
    #[test]
    fn a_segment_is_never_written_through_a_link_in_its_place() {
        let dir = dir("linked-segment");
        let mut spool = Spool::open(&dir, 1 << 20).expect("writable");
        let victim = std::env::temp_dir().join(format!("olb-victim2-{}", std::process::id()));
        fs::write(&victim, b"not the spool's").expect("a victim file");
        std::os::unix::fs::symlink(&victim, spool.path(0)).expect("a planted link");
        // The number is left to the link; the write takes the next.
        spool.append(b"request", 1).written.expect("written");
        assert_eq!(fs::read(&victim).expect("readable"), b"not the spool's");
        assert!(spool.path(1).is_file());
        // Numbers taken in a long row are not searched without end.
        for sequence in 2..2 + TAKEN_NUMBERS_SKIPPED + 1 {
            std::os::unix::fs::symlink(&victim, spool.path(sequence)).expect("a link");
        }
        assert!(spool.append(b"request", 1).written.is_err());
        assert_eq!(fs::read(&victim).expect("readable"), b"not the spool's");
        let _ = fs::remove_file(&victim);
        let _ = fs::remove_dir_all(&dir);
    }

    /// Regression: a segment was read into memory whole before its header
    /// was checked against its size (a huge or endless file made the
    /// process run out of memory), a pipe under a segment's name made
    /// opening the spool wait for ever, and a header's record count was
    /// believed whatever it said.
    #[cfg(unix)]
    #[test]
    fn odd_files_among_the_segments_are_neither_read_whole_nor_waited_on() {
        let dir = dir("odd-files");
        fs::create_dir_all(&dir).expect("a directory");
        // A header that claims a gigabyte and every record there is, in
        // a sparse file of 256 MiB: never read.
        let mut header = Vec::new();
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&u64::MAX.to_le_bytes());
        header.extend_from_slice(&(1u64 << 30).to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        let huge = fs::File::create(segment_path(&dir, 0)).expect("a file");
        (&huge).write_all(&header).expect("written");
        huge.set_len(256 << 20).expect("sparse");
        let fifo = segment_path(&dir, 1);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|status| status.success()), "mkfifo");
        let mut spool = Spool::open(&dir, 1 << 20).expect("opened without waiting");
        // No more records than the file has bytes.
        match spool.oldest() {
            Oldest::Skipped { records, .. } => {
                assert_eq!(records, (256 << 20) - HEADER_LEN as u64)
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(spool.oldest(), Oldest::Empty),
            "the pipe is no segment"
        );
        drop(spool);
        // A pipe as the lock file is refused, not waited on.
        fs::remove_file(dir.join(".lock")).expect("removed");
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join(".lock"))
            .status();
        assert!(made.is_ok_and(|status| status.success()), "mkfifo");
        let error = Spool::open(&dir, 1 << 20).expect_err("refused");
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }
}
