//! The bounded queue between the threads that log and a sink's worker.
//!
//! Each producing thread appends encoded records to its own shard, so
//! producers never contend with each other; the worker swaps a shard's
//! buffer out under that shard's lock, which costs the producer at most one
//! short wait per drain. Memory is bounded by a byte budget that producers
//! reserve in chunks (so the shared counter is touched about once per chunk,
//! not once per record); a record that does not fit is dropped and counted.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::diag;
use crate::export::stats::{severity_range, SEVERITY_RANGES};
use crate::export::Flushed;

/// How many bytes a producer reserves from the budget at a time, at most.
const CREDIT_CHUNK: usize = 64 * 1024;

/// The most buffer a shard keeps through a cycle in which its thread
/// logged nothing: enough for a thread that logs now and then not to
/// allocate anew for each record.
const IDLE_SHARD_CAPACITY: usize = 64 * 1024;

/// When the queue wakes its worker early instead of waiting for the next
/// scheduled drain.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WakePolicy {
    pub(crate) bytes: usize,
    pub(crate) records: u64,
}

#[derive(Debug)]
pub(crate) struct Queue {
    id: u64,
    name: &'static str,
    budget: usize,
    credit_chunk: usize,
    wake: WakePolicy,
    reserved: AtomicUsize,
    /// A record-count bound (`OTEL_BLRP_MAX_QUEUE_SIZE`) when one is set;
    /// without one, producers never touch `queued_records`.
    max_records: Option<u64>,
    queued_records: AtomicU64,
    /// Records dropped for want of room.
    dropped_full: AtomicU64,
    /// Records dropped because the queue was closed after its worker
    /// stopped on a panic. Counted apart from `dropped_full`, so that each
    /// count only ever grows as it is read.
    dropped_closed: AtomicU64,
    /// Records dropped because the queue was closed by its shutdown (a
    /// record that passed the pipeline's check just before it closed).
    dropped_shut_down: AtomicU64,
    /// Whether the queue was closed because its worker stopped, rather than
    /// by a shutdown.
    worker_stopped: AtomicBool,
    overflow_reported: AtomicBool,
    closed: AtomicBool,
    shards: Mutex<Vec<Arc<Shard>>>,
    /// Records counted as emitted through [`Queue::push_emitted`], by
    /// severity range, moved here from the shards at each drain (under the
    /// `shards` lock, which readers take too, so no count is seen twice or
    /// missed), and counted here directly for records that never reached a
    /// shard: atomics, so that a producer dropping records never waits for
    /// the worker's drain.
    emitted: [AtomicU64; SEVERITY_RANGES],
    control: Mutex<Control>,
    /// The worker waits on this for data, a flush request or shutdown.
    work: Condvar,
    /// Flushers and the shutting-down guard wait on this for the worker.
    done: Condvar,
    wake_pending: AtomicBool,
    /// Set while the worker waits for producers to wake it; while it is busy
    /// or polling, producers leave their wake-up in `wake_pending` for it to
    /// find, without a system call.
    worker_idle: AtomicBool,
}

/// What a retry, or a wait for an output, must leave before the shutdown
/// deadline: time for the worker to count the outcome and exit before the
/// guard stops waiting for it.
const SHUTDOWN_SLACK: Duration = Duration::from_millis(100);

/// How long a worker that found records last cycle waits without letting
/// producers wake it: a producer that crosses its wake threshold meanwhile
/// leaves the wake-up in `wake_pending`, found at the end of the poll,
/// instead of paying for a system call. While records keep coming, nobody
/// pays for one.
const BUSY_POLL: Duration = Duration::from_millis(1);

#[derive(Debug, Default)]
struct Control {
    flush_requested: u64,
    flush_completed: u64,
    shutdown: bool,
    /// When the guard stops waiting for the worker; retries give up then.
    shutdown_deadline: Option<Instant>,
    /// How long before `shutdown_deadline` the worker stops waiting for
    /// its output (see [`Queue::past_shutdown_deadline`]).
    shutdown_slack: Duration,
    exited: bool,
    /// The worker stopped on a panic: flushes can no longer succeed.
    crashed: bool,
}

#[derive(Debug, Default)]
struct Shard {
    state: Mutex<ShardState>,
}

#[derive(Debug, Default)]
struct ShardState {
    buf: Vec<u8>,
    records: u64,
    credit: usize,
    closed: bool,
    /// What the encoder noted about `buf` (see [`Queue::push_emitted_with`]);
    /// 0 whenever `buf` is empty.
    note: u64,
    /// Records counted as emitted since the last drain, by severity range.
    emitted: [u64; SEVERITY_RANGES],
}

/// Encoded records taken from one shard in one drain.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) bytes: Vec<u8>,
    pub(crate) records: u64,
}

/// What the worker does in one cycle, as the queue tells it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cycle {
    flush_generation: u64,
    pub(crate) shutdown: bool,
}

/// A thread's shard of one queue, kept by a caller between pushes (see
/// [`Queue::push_emitted`]).
#[derive(Debug)]
pub(crate) struct LocalShard {
    queue: u64,
    shard: Arc<Shard>,
}

thread_local! {
    /// This thread's shard of each live queue, by queue id.
    static SHARDS: RefCell<Vec<(u64, Arc<Shard>)>> = const { RefCell::new(Vec::new()) };
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind
    // that is still consistent enough to drain; never propagate it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Queue {
    /// What the queue's output is called in diagnostics (`otlp`, `stdout`…).
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    pub(crate) fn new(name: &'static str, budget: usize, wake: WakePolicy) -> Queue {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Queue {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name,
            budget,
            credit_chunk: (budget / 64).clamp(1, CREDIT_CHUNK),
            wake,
            reserved: AtomicUsize::new(0),
            max_records: None,
            queued_records: AtomicU64::new(0),
            dropped_full: AtomicU64::new(0),
            dropped_closed: AtomicU64::new(0),
            dropped_shut_down: AtomicU64::new(0),
            worker_stopped: AtomicBool::new(false),
            overflow_reported: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            shards: Mutex::new(Vec::new()),
            emitted: Default::default(),
            control: Mutex::new(Control::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            wake_pending: AtomicBool::new(false),
            worker_idle: AtomicBool::new(false),
        }
    }

    /// Bounds the queue by record count as well as by bytes.
    pub(crate) fn with_record_limit(mut self, max_records: Option<u64>) -> Queue {
        self.max_records = max_records;
        self
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped_full() + self.dropped_closed() + self.dropped_shut_down()
    }

    /// Of the records [`Queue::dropped`] counts, those dropped because the
    /// queue was full.
    pub(crate) fn dropped_full(&self) -> u64 {
        self.dropped_full.load(Ordering::Acquire)
    }

    /// Of the records [`Queue::dropped`] counts, those dropped because the
    /// queue was closed after its worker stopped.
    pub(crate) fn dropped_closed(&self) -> u64 {
        self.dropped_closed.load(Ordering::Acquire)
    }

    /// Of the records [`Queue::dropped`] counts, those dropped because the
    /// queue was closed by its shutdown.
    pub(crate) fn dropped_shut_down(&self) -> u64 {
        self.dropped_shut_down.load(Ordering::Acquire)
    }

    /// The bytes the queue may hold at most.
    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    /// Bytes currently held against the budget (queued, reserved by
    /// producers, or being exported).
    pub(crate) fn reserved_bytes(&self) -> usize {
        self.reserved.load(Ordering::Relaxed)
    }

    /// Appends one record, encoded by `encode`, to the calling thread's
    /// shard. Never blocks on the worker's I/O; returns `false` (and counts
    /// a drop) when the budget is exhausted or the queue is closed.
    pub(crate) fn push(&self, encode: impl FnOnce(&mut Vec<u8>)) -> bool {
        self.push_counting(None, None, |out, _| encode(out))
    }

    /// Like [`Queue::push`], and counts the record as emitted with this
    /// severity number (see [`Queue::emitted`]), queued or not: in the
    /// shard, under the lock the push takes anyway, rather than with an
    /// atomic operation of its own.
    ///
    /// `local` is the calling thread's shard as an earlier push left it
    /// there: a caller that pushes often keeps it, so that a push does not
    /// look its shard up again.
    pub(crate) fn push_emitted(
        &self,
        local: &mut Option<LocalShard>,
        severity_number: u8,
        bytes: &[u8],
    ) -> bool {
        self.push_emitted_with(local, severity_number, |out, _| {
            out.extend_from_slice(bytes)
        })
    }

    /// Like [`Queue::push_emitted`], for an encoder that keeps a note per
    /// chunk: `encode` appends the record to the shard's buffer given the
    /// note the last record left for this chunk (0 in a new chunk), and
    /// may change it. The OTLP encoder notes which context (span fields,
    /// thread, trace) the chunk holds, so that records with the same one
    /// refer to it instead of carrying it.
    #[inline]
    pub(crate) fn push_emitted_with(
        &self,
        local: &mut Option<LocalShard>,
        severity_number: u8,
        encode: impl FnOnce(&mut Vec<u8>, &mut u64),
    ) -> bool {
        self.push_counting(Some(local), Some(severity_range(severity_number)), encode)
    }

    #[inline]
    fn push_counting(
        &self,
        local: Option<&mut Option<LocalShard>>,
        emitted: Option<usize>,
        encode: impl FnOnce(&mut Vec<u8>, &mut u64),
    ) -> bool {
        if self.closed.load(Ordering::Acquire) {
            self.count_unsharded(emitted);
            self.count_drop_closed();
            return false;
        }
        // Whether the queue as a whole holds a batch now: the threads'
        // own thresholds are per thread, and many threads could fill the
        // record bound without one of them reaching its threshold.
        let mut batch_ready = false;
        if let Some(max) = self.max_records {
            let queued = self.queued_records.fetch_add(1, Ordering::AcqRel);
            if queued >= max {
                self.queued_records.fetch_sub(1, Ordering::AcqRel);
                self.count_unsharded(emitted);
                self.count_drop();
                // A full queue is drained now, not at the next scheduled
                // cycle, so that records stop being dropped.
                self.wake_worker();
                return false;
            }
            batch_ready = (queued + 1).is_multiple_of(self.wake.records.max(1));
        }
        let pushed = if let Some(shard) = local.and_then(|local| self.kept_shard(local)) {
            self.push_to(shard, emitted, encode)
        } else if SHARDS.try_with(|_| ()).is_ok() {
            SHARDS.with(|shards| match shards.try_borrow_mut() {
                Ok(mut shards) => self.push_to(self.local_shard(&mut shards), emitted, encode),
                // Not reached (encoders do not log), but a one-off shard
                // would still deliver.
                Err(_) => self.push_to(&self.register_shard(), emitted, encode),
            })
        } else {
            // The thread is being torn down; a one-off shard still delivers.
            self.push_to(&self.register_shard(), emitted, encode)
        };
        if batch_ready {
            self.wake_worker();
        }
        pushed
    }

    /// The calling thread's shard of this queue, from `local` or, when
    /// that holds another queue's, looked up and kept there; `None` while
    /// the thread is being torn down.
    #[inline]
    fn kept_shard<'l>(&self, local: &'l mut Option<LocalShard>) -> Option<&'l Shard> {
        if local.as_ref().is_none_or(|kept| kept.queue != self.id) {
            self.keep_shard(local)?;
        }
        local.as_ref().map(|kept| &*kept.shard)
    }

    /// Looks the calling thread's shard up and keeps it in `local`.
    #[cold]
    #[inline(never)]
    fn keep_shard(&self, local: &mut Option<LocalShard>) -> Option<()> {
        let shard = SHARDS
            .try_with(|shards| {
                let mut shards = shards.try_borrow_mut().ok()?;
                Some(Arc::clone(self.local_shard(&mut shards)))
            })
            .ok()
            .flatten()?;
        *local = Some(LocalShard {
            queue: self.id,
            shard,
        });
        Some(())
    }

    /// Counts an emitted record that never reached a shard.
    fn count_unsharded(&self, emitted: Option<usize>) {
        if let Some(range) = emitted {
            if let Some(count) = self.emitted.get(range) {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The records counted by [`Queue::push_emitted`], by severity range.
    pub(crate) fn emitted(&self) -> [u64; SEVERITY_RANGES] {
        let shards = lock(&self.shards);
        let mut emitted = self
            .emitted
            .each_ref()
            .map(|count| count.load(Ordering::Relaxed));
        for shard in shards.iter() {
            let state = lock(&shard.state);
            for (total, count) in emitted.iter_mut().zip(state.emitted) {
                *total += count;
            }
        }
        emitted
    }

    /// [`Queue::push`] into `shard`.
    fn push_to(
        &self,
        shard: &Shard,
        emitted: Option<usize>,
        encode: impl FnOnce(&mut Vec<u8>, &mut u64),
    ) -> bool {
        let mut state = lock(&shard.state);
        if let Some(count) = emitted.and_then(|range| state.emitted.get_mut(range)) {
            *count += 1;
        }
        if state.closed {
            drop(state);
            self.forget_counted_record();
            self.count_drop_closed();
            return false;
        }
        let start = state.buf.len();
        let note = state.note;
        let ShardState {
            buf,
            note: new_note,
            ..
        } = &mut *state;
        encode(buf, new_note);
        let len = state.buf.len() - start;
        let mut half_full = false;
        if len > state.credit {
            // Only what the shard's credit lacks: near a full budget, the
            // whole record's size may not be free where the rest is.
            match self.reserve(len - state.credit) {
                Some((granted, crossed_half)) => {
                    state.credit += granted;
                    half_full = crossed_half;
                }
                None => {
                    state.buf.truncate(start);
                    // A record too large for the budget must not leave its
                    // room in the buffer, which would then travel through
                    // the pool for as long as the shard is busy: memory
                    // held beyond the budget. Only a large record shrinks
                    // it, so that a full queue refusing small records
                    // does not free and regrow the buffer for each.
                    if len > IDLE_SHARD_CAPACITY {
                        state.buf.shrink_to(start.max(IDLE_SHARD_CAPACITY));
                    }
                    state.note = note;
                    drop(state);
                    self.forget_counted_record();
                    self.count_drop();
                    // A full queue is drained now, not at the next
                    // scheduled cycle, so that records stop being dropped.
                    self.wake_worker();
                    return false;
                }
            }
        }
        state.credit -= len;
        state.records += 1;
        let wake = (start < self.wake.bytes && state.buf.len() >= self.wake.bytes)
            || state.records == self.wake.records
            || half_full;
        // The worker is woken after the shard's lock is released: it takes
        // the shards' locks under its own to close them.
        drop(state);
        if wake {
            self.wake_worker();
        }
        true
    }

    fn forget_counted_record(&self) {
        if self.max_records.is_some() {
            self.queued_records.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn local_shard<'a>(&self, shards: &'a mut Vec<(u64, Arc<Shard>)>) -> &'a Arc<Shard> {
        let index = match shards.iter().position(|(id, _)| *id == self.id) {
            Some(index) => index,
            None => {
                // Forget the shards of queues that have shut down while here.
                shards.retain(|(_, shard)| !lock(&shard.state).closed);
                shards.push((self.id, self.register_shard()));
                shards.len() - 1
            }
        };
        &shards[index].1
    }

    fn register_shard(&self) -> Arc<Shard> {
        let shard = Arc::new(Shard::default());
        let mut shards = lock(&self.shards);
        if self.closed.load(Ordering::Acquire) {
            lock(&shard.state).closed = true;
        }
        shards.push(Arc::clone(&shard));
        shard
    }

    /// Reserves at least `needed` bytes of the budget: a whole chunk while
    /// less than half the budget is held, else exactly `needed`. Credit a
    /// thread holds but has not used is unavailable to the others until
    /// the next drain, so chunks stop before they could starve them.
    ///
    /// Also says whether this reservation took the budget past half full:
    /// the worker is woken then, whatever each thread's own threshold says,
    /// so that many threads with small shards do not fill the budget and
    /// drop records while it waits for its schedule.
    fn reserve(&self, needed: usize) -> Option<(usize, bool)> {
        let chunk = needed.max(self.credit_chunk);
        let half = self.budget / 2;
        let (granted, before) = [chunk, needed].into_iter().find_map(|amount| {
            let limit = if amount > needed { half } else { self.budget };
            self.reserved
                .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |reserved| {
                    reserved.checked_add(amount).filter(|&total| total <= limit)
                })
                .ok()
                .map(|before| (amount, before))
        })?;
        Some((granted, before < half && before + granted >= half))
    }

    fn release(&self, amount: usize) {
        // Saturating: a miscount must not wrap and make the budget look
        // exhausted forever.
        let _ = self
            .reserved
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |reserved| {
                Some(reserved.saturating_sub(amount))
            });
    }

    /// Counts a record dropped for want of room.
    fn count_drop(&self) {
        self.dropped_full.fetch_add(1, Ordering::Release);
    }

    /// Counts a record dropped because the queue no longer takes any, by
    /// why it closed.
    fn count_drop_closed(&self) {
        let count = if self.worker_stopped.load(Ordering::Acquire) {
            &self.dropped_closed
        } else {
            &self.dropped_shut_down
        };
        count.fetch_add(1, Ordering::Release);
    }

    /// Says once that records were dropped. Called by the worker only,
    /// never by the thread that dropped them nor by the one shutting the
    /// queue down: writing to stderr can block, and neither may wait.
    pub(crate) fn report_drops(&self) {
        if self.dropped() > 0 && !self.overflow_reported.swap(true, Ordering::Relaxed) {
            diag::warn(format_args!(
                "the {} queue is full or closed; records are being dropped and counted in Guard::stats().dropped",
                self.name
            ));
        }
    }

    /// [`Queue::report_drops`] in the worker's last cycle, for records
    /// dropped for want of room only. Those dropped because the queue had
    /// closed were logged while the pipeline shut down, by threads still
    /// running then: the stats count them, and saying so on stderr, which
    /// can block, would hold the last cycle, and the shutdown waiting for
    /// it, for nothing.
    pub(crate) fn report_drops_at_shutdown(&self) {
        if self.dropped_full() > 0 {
            self.report_drops();
        }
    }

    fn wake_worker(&self) {
        // A wake-up still pending will be seen by the worker, or has been
        // signalled already: another one would only cost a system call.
        if self.wake_pending.swap(true, Ordering::SeqCst) {
            return;
        }
        // A busy or polling worker finds the flag at its next look. The
        // worker sets `worker_idle` before it looks at `wake_pending` a last
        // time and waits; with both sides sequentially consistent, either
        // it sees the flag or this sees it idle.
        if !self.worker_idle.load(Ordering::SeqCst) {
            return;
        }
        // Notifying under the lock means the worker is either before its
        // check of `wake_pending` or already waiting: the wake-up cannot
        // fall between the two. This only runs when a shard crosses its
        // wake threshold.
        let _control = lock(&self.control);
        self.work.notify_one();
    }

    /// Swaps every shard's buffer for an empty one from `pool` and returns
    /// what was queued. Shards of threads that have exited are removed once
    /// empty, and their unused budget is returned.
    ///
    /// The buffers kept for reuse are those of the threads that log: an
    /// idle shard's buffer is freed unless it is small, and so are the
    /// pool's buffers that no shard took. Kept by threads that had stopped
    /// logging, every buffer a slow worker let grow stayed for as long as
    /// its thread lived, and memory grew with the number of threads, not
    /// the budget.
    pub(crate) fn take(&self, pool: &mut Vec<Vec<u8>>, chunks: &mut Vec<Chunk>) {
        let mut shards = lock(&self.shards);
        shards.retain(|shard| {
            let mut state = lock(&shard.state);
            for (total, count) in self.emitted.iter().zip(&mut state.emitted) {
                total.fetch_add(std::mem::take(count), Ordering::Relaxed);
            }
            // A closed queue takes no more records and has no later drain:
            // an idle shard's buffer, kept small for its next records while
            // the queue is open, would be held for as long as the process
            // lives.
            if state.records == 0 && (state.closed || state.buf.capacity() > IDLE_SHARD_CAPACITY) {
                state.buf = Vec::new();
            }
            if state.records > 0 {
                // A closed queue takes no more records: a buffer handed to
                // its shard would only be held by the thread, which keeps
                // its shard, for as long as it lives.
                let spare = if state.closed {
                    Vec::new()
                } else {
                    pool.pop().unwrap_or_default()
                };
                let bytes = std::mem::replace(&mut state.buf, spare);
                state.note = 0;
                let records = std::mem::take(&mut state.records);
                if self.max_records.is_some() {
                    self.queued_records.fetch_sub(records, Ordering::AcqRel);
                }
                chunks.push(Chunk { bytes, records });
            }
            // Unused credit goes back every cycle: a thread that logged once
            // must not keep a chunk of the budget for as long as it lives.
            let unused = std::mem::take(&mut state.credit);
            self.release(unused);
            // Only the queue holds the shard once its thread has exited.
            Arc::strong_count(shard) > 1
        });
        drop(shards);
        pool.clear();
    }

    /// Returns a drained chunk's budget and keeps its buffer for reuse.
    ///
    /// A buffer larger than twice the wake threshold (the most a busy
    /// shard's buffer grows to as it crosses it) is kept at that size only
    /// while its chunks fill a quarter of it, as in a burst, where growing
    /// it again for every chunk would cost a copy and fresh pages. Once
    /// chunks are small again it is cut down: grown while the output
    /// stalled, it would otherwise go round between its shard and the pool
    /// at its largest for as long as its thread logs, memory the budget
    /// does not count, more with every stall that finds the thread's other
    /// buffer in its shard, and with every thread.
    pub(crate) fn recycle(&self, pool: &mut Vec<Vec<u8>>, mut chunk: Chunk) {
        let used = chunk.bytes.len();
        self.release(used);
        chunk.bytes.clear();
        if used < chunk.bytes.capacity() / 4 {
            chunk.bytes.shrink_to(self.pooled_capacity());
        }
        pool.push(chunk.bytes);
    }

    /// The most capacity a buffer keeps for reuse (see [`Queue::recycle`]).
    fn pooled_capacity(&self) -> usize {
        self.wake.bytes.saturating_mul(2).max(IDLE_SHARD_CAPACITY)
    }

    /// Waits for a wake-up, a flush, shutdown or `deadline`, then says what
    /// to do. A worker that found records last cycle (`busy`) first polls
    /// for [`BUSY_POLL`] without being woken, then waits as an idle one;
    /// either way a cycle starts only for one of those four, so batches
    /// fill up to the wake threshold or the schedule delay.
    pub(crate) fn wait_for_cycle(&self, deadline: Instant, busy: bool) -> Cycle {
        let mut poll_until = busy.then(|| deadline.min(deadline_after(BUSY_POLL)));
        let mut control = lock(&self.control);
        loop {
            let woken = self.wake_pending.swap(false, Ordering::SeqCst);
            let now = Instant::now();
            if woken
                || control.shutdown
                || control.flush_requested > control.flush_completed
                || now >= deadline
            {
                if control.shutdown {
                    self.close_shards();
                }
                return Cycle {
                    flush_generation: control.flush_requested,
                    shutdown: control.shutdown,
                };
            }
            let until = match poll_until {
                Some(until) if now < until => until,
                _ => {
                    poll_until = None;
                    self.worker_idle.store(true, Ordering::SeqCst);
                    if self.wake_pending.load(Ordering::SeqCst) {
                        self.worker_idle.store(false, Ordering::SeqCst);
                        continue;
                    }
                    deadline
                }
            };
            control = self
                .work
                .wait_timeout(control, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            self.worker_idle.store(false, Ordering::SeqCst);
        }
    }

    /// Whether the guard has asked the worker to shut down.
    #[cfg(feature = "otlp")]
    pub(crate) fn is_shutting_down(&self) -> bool {
        lock(&self.control).shutdown
    }

    /// Whether the guard has asked the worker to shut down and the worker
    /// has not begun its last cycle yet: work that can wait (replaying
    /// the spool's backlog) gives way then, so that the last cycle comes
    /// before the guard stops waiting.
    #[cfg(feature = "spool")]
    pub(crate) fn shutdown_pending(&self) -> bool {
        self.is_shutting_down() && !self.closed.load(Ordering::Acquire)
    }

    /// Stops accepting records: they are counted as dropped from now on,
    /// as after a shutdown.
    #[cfg(test)]
    pub(crate) fn close(&self) {
        self.close_shards();
    }

    /// Stops accepting records because the worker stopped on a panic: they
    /// are counted as dropped for that reason from now on.
    pub(crate) fn close_after_worker_stopped(&self) {
        self.worker_stopped.store(true, Ordering::Release);
        self.close_shards();
    }

    fn close_shards(&self) {
        // Released, so that a producer that sees the queue closed also sees
        // why (`worker_stopped`, stored before).
        self.closed.store(true, Ordering::Release);
        for shard in lock(&self.shards).iter() {
            lock(&shard.state).closed = true;
        }
    }

    /// Waits `delay` before an export is retried. Returns `false` without
    /// waiting when the retry would come after the shutdown deadline, or
    /// less than [`SHUTDOWN_SLACK`] before it: the guard would stop waiting
    /// before the attempt's outcome was counted, so the worker gives up
    /// instead, and the records count as failed rather than as still held.
    #[cfg(feature = "otlp")]
    pub(crate) fn wait_before_retry(&self, delay: Duration) -> bool {
        // A collector that is down fills the queue while one batch is
        // retried, and the cycle that would report the drops does not end
        // until it is back: they are reported between attempts too; once
        // shutdown is asked for, as the last cycle reports them.
        if self.is_shutting_down() {
            self.report_drops_at_shutdown();
        } else {
            self.report_drops();
        }
        let until = deadline_after(delay);
        let mut control = lock(&self.control);
        loop {
            if control
                .shutdown_deadline
                .is_some_and(|deadline| until + SHUTDOWN_SLACK > deadline)
            {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            control = self
                .work
                .wait_timeout(control, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Marks a cycle done: everything queued before it started is exported.
    pub(crate) fn complete(&self, cycle: Cycle) {
        let mut control = lock(&self.control);
        control.flush_completed = control.flush_completed.max(cycle.flush_generation);
        drop(control);
        self.done.notify_all();
    }

    pub(crate) fn mark_crashed(&self) {
        lock(&self.control).crashed = true;
        // A flush waiting already learns it at once, not when the worker
        // has dropped its output.
        self.done.notify_all();
    }

    pub(crate) fn mark_exited(&self) {
        let mut control = lock(&self.control);
        control.exited = true;
        control.flush_completed = control.flush_requested;
        drop(control);
        self.done.notify_all();
    }

    /// Whether the shutdown's deadline is less than [`SHUTDOWN_SLACK`]
    /// away, or half the shutdown's time when that is shorter: the worker
    /// stops waiting for its output then, so that what it did not write is
    /// counted as failed before the guard stops waiting. Given up at the
    /// deadline itself, the records were still unsettled when the guard
    /// looked, and reported as "did not finish".
    pub(crate) fn past_shutdown_deadline(&self) -> bool {
        self.past_shutdown_deadline_at(Instant::now())
    }

    fn past_shutdown_deadline_at(&self, now: Instant) -> bool {
        let control = lock(&self.control);
        control
            .shutdown_deadline
            .is_some_and(|deadline| now + control.shutdown_slack >= deadline)
    }

    /// Asks the worker to export everything queued before this call.
    /// Returns the flush to wait for with [`Queue::wait_flushed`], `None`
    /// when the worker has exited. Asked of every queue first and waited
    /// for after, the outputs of a pipeline flush at the same time, not
    /// one after the other.
    pub(crate) fn request_flush(&self) -> Option<u64> {
        let mut control = lock(&self.control);
        if control.exited {
            return None;
        }
        control.flush_requested += 1;
        self.work.notify_one();
        Some(control.flush_requested)
    }

    /// Waits until `deadline` for the flush [`Queue::request_flush`] asked
    /// for.
    pub(crate) fn wait_flushed(&self, wanted: Option<u64>, deadline: Instant) -> Flushed {
        let mut control = lock(&self.control);
        if let Some(wanted) = wanted {
            let done;
            (control, done) = self.wait_done(control, deadline, |c| {
                // A crashed worker's flush cannot complete: said at
                // once, while it drops its output, not at the deadline.
                c.flush_completed >= wanted || c.exited || c.crashed
            });
            if !done {
                return Flushed::TimedOut;
            }
        }
        if control.crashed {
            Flushed::Failed(format!(
                "the {} export worker stopped unexpectedly",
                self.name
            ))
        } else {
            Flushed::Done
        }
    }

    /// Waits for the worker until `finished` holds or `deadline` passes;
    /// says whether it holds.
    fn wait_done<'a>(
        &self,
        control: MutexGuard<'a, Control>,
        deadline: Instant,
        finished: impl Fn(&Control) -> bool,
    ) -> (MutexGuard<'a, Control>, bool) {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let (control, _) = self
            .done
            .wait_timeout_while(control, timeout, |c| !finished(c))
            .unwrap_or_else(PoisonError::into_inner);
        let done = finished(&control);
        (control, done)
    }

    /// Closes the queue and waits until `deadline` for the worker to export
    /// what is queued and exit. Returns whether it exited in time. Drops
    /// are reported by the worker, at the end of its last cycle, and
    /// counted in the stats: the thread shutting down says nothing, since
    /// a write to stderr could hold it past `deadline` (a worker stuck
    /// writing to a stderr nobody reads holds its lock).
    pub(crate) fn shutdown_until(&self, deadline: Instant) -> bool {
        self.request_shutdown(deadline);
        self.wait_exited(deadline)
    }

    /// Closes the queue for the worker to export what is queued by
    /// `deadline` and exit, without waiting for it.
    pub(crate) fn request_shutdown(&self, deadline: Instant) {
        let mut control = lock(&self.control);
        control.shutdown = true;
        control.shutdown_deadline = Some(
            control
                .shutdown_deadline
                .map_or(deadline, |d| d.min(deadline)),
        );
        // A short shutdown timeout still leaves the output half its time.
        control.shutdown_slack =
            SHUTDOWN_SLACK.min(deadline.saturating_duration_since(Instant::now()) / 2);
        self.work.notify_one();
    }

    /// Waits until `deadline` for the worker to exit; says whether it did.
    pub(crate) fn wait_exited(&self, deadline: Instant) -> bool {
        self.wait_done(lock(&self.control), deadline, |c| c.exited)
            .1
    }
}

/// A deadline `timeout` from now, saturating instead of overflowing.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy under which no thread's own threshold wakes the worker
    /// (half the budget held still does): the tests drain the queue
    /// themselves.
    const NEVER_WOKEN: WakePolicy = WakePolicy {
        bytes: usize::MAX,
        records: u64::MAX,
    };

    fn drain(queue: &Queue) -> (Vec<u8>, u64) {
        let mut pool = Vec::new();
        let mut chunks = Vec::new();
        queue.take(&mut pool, &mut chunks);
        let mut all = Vec::new();
        let mut records = 0;
        for chunk in chunks {
            all.extend_from_slice(&chunk.bytes);
            records += chunk.records;
            queue.recycle(&mut pool, chunk);
        }
        (all, records)
    }

    #[test]
    fn records_over_budget_are_dropped_and_counted() {
        let queue = Queue::new("test", 100, NEVER_WOKEN);
        assert!(queue.push(|buf| buf.extend_from_slice(&[b'a'; 60])));
        assert!(!queue.push(|buf| buf.extend_from_slice(&[b'b'; 60])));
        assert_eq!(queue.dropped(), 1);
        // The dropping thread says nothing (stderr may block it); the
        // worker does.
        assert!(!queue.overflow_reported.load(Ordering::Relaxed));
        queue.report_drops();
        assert!(queue.overflow_reported.load(Ordering::Relaxed));
        let (bytes, records) = drain(&queue);
        assert_eq!((bytes.len(), records), (60, 1));
        // Draining returned the budget, so the same record fits now.
        assert!(queue.push(|buf| buf.extend_from_slice(&[b'b'; 60])));
        assert_eq!(drain(&queue).1, 1);
    }

    /// Regression: a record larger than its shard's credit reserved its
    /// whole size from the budget rather than what the credit lacked, so
    /// near a full budget it was dropped although the budget, with the
    /// credit, had room for it.
    #[test]
    fn a_record_uses_its_shards_credit_before_the_budget() {
        let queue = Queue::new("credit-test", 6400, NEVER_WOKEN);
        // A chunk of 100 bytes of credit, 90 of them left, which the next
        // record uses before it reserves the rest.
        assert!(queue.push(|buf| buf.extend_from_slice(&[b'a'; 10])));
        assert!(queue.push(|buf| buf.extend_from_slice(&[b'b'; 6000])));
        assert_eq!(queue.reserved_bytes(), 6010);
        // 390 bytes of the budget are free: 350 fit.
        assert!(queue.push(|buf| buf.extend_from_slice(&[b'c'; 350])));
        assert_eq!(queue.dropped(), 0);
        assert_eq!(queue.reserved_bytes(), 6360);
        let (bytes, records) = drain(&queue);
        assert_eq!((bytes.len(), records), (6360, 3));
        assert_eq!(queue.reserved_bytes(), 0);
    }

    /// Regression: records dropped because the queue had closed (logged
    /// while the pipeline shut down) were reported on stderr in the
    /// worker's last cycle, before it said it exited: a blocked stderr
    /// held the shutdown until its deadline, every record long settled.
    #[test]
    fn only_records_dropped_for_want_of_room_are_reported_at_shutdown() {
        let closed = Queue::new("closed-test", 1000, NEVER_WOKEN);
        closed.close();
        assert!(!closed.push(|buf| buf.push(b'a')));
        assert_eq!(closed.dropped(), 1);
        closed.report_drops_at_shutdown();
        assert!(!closed.overflow_reported.load(Ordering::Relaxed));
        let full = Queue::new("full-test", 10, NEVER_WOKEN);
        assert!(!full.push(|buf| buf.extend_from_slice(&[b'a'; 20])));
        full.report_drops_at_shutdown();
        assert!(full.overflow_reported.load(Ordering::Relaxed));
    }

    /// Records dropped because the queue shut down and because its worker
    /// stopped are told apart (the conventions' `already_shutdown`, and
    /// this crate's `queue_closed`); both were counted as the latter.
    #[test]
    fn records_dropped_after_shutdown_and_after_a_stopped_worker_are_counted_apart() {
        let shut_down = Queue::new("shut-down-test", 1000, NEVER_WOKEN);
        shut_down.request_shutdown(Instant::now());
        assert!(shut_down.wait_for_cycle(Instant::now(), false).shutdown);
        assert!(!shut_down.push(|buf| buf.push(b'a')));
        assert_eq!(
            (shut_down.dropped_shut_down(), shut_down.dropped_closed()),
            (1, 0)
        );
        let stopped = Queue::new("stopped-test", 1000, NEVER_WOKEN);
        stopped.close_after_worker_stopped();
        assert!(!stopped.push(|buf| buf.push(b'a')));
        assert_eq!(
            (stopped.dropped_shut_down(), stopped.dropped_closed()),
            (0, 1)
        );
        assert_eq!((shut_down.dropped(), stopped.dropped()), (1, 1));
    }

    /// Regression: a retry in the worker's last cycle reported the records
    /// dropped because the queue had closed, which the last cycle itself
    /// leaves unsaid (see the test above): a blocked stderr held that
    /// cycle, and the records after the retried batch were not delivered.
    #[cfg(feature = "otlp")]
    #[test]
    fn a_retry_during_shutdown_reports_only_records_dropped_for_want_of_room() {
        let queue = Queue::new("retry-at-shutdown-test", 1000, NEVER_WOKEN);
        queue.request_shutdown(Instant::now());
        queue.close();
        assert!(!queue.push(|buf| buf.push(b'a')));
        assert_eq!(queue.dropped(), 1);
        assert!(!queue.wait_before_retry(Duration::from_millis(1)));
        assert!(!queue.overflow_reported.load(Ordering::Relaxed));
    }

    /// Regression: the thread shutting the queue down reported its drops
    /// on stderr after its bounded wait, and stayed blocked on a stderr
    /// that another thread held (a worker stuck writing to a pipe nobody
    /// reads), past any timeout.
    #[test]
    fn shutting_down_a_queue_that_dropped_records_does_not_write_to_stderr() {
        let queue = Arc::new(Queue::new("shutdown-stderr-test", 100, NEVER_WOKEN));
        assert!(!queue.push(|buf| buf.extend_from_slice(&[b'a'; 200])));
        let stderr = std::io::stderr().lock();
        let shutting_down = std::thread::spawn({
            let queue = Arc::clone(&queue);
            move || queue.shutdown_until(Instant::now())
        });
        let patience = Instant::now() + Duration::from_secs(10);
        while !shutting_down.is_finished() && Instant::now() < patience {
            std::thread::sleep(Duration::from_millis(5));
        }
        let finished = shutting_down.is_finished();
        drop(stderr);
        assert!(finished, "shutdown waited for stderr");
        assert!(!shutting_down.join().expect("no panic"));
        assert_eq!(queue.dropped(), 1);
    }

    /// Regression: a record larger than the budget was refused, but the
    /// buffer it was encoded into kept its room, which then went round
    /// the pool with the shard's records: memory held beyond the budget
    /// for as long as the thread kept logging.
    #[test]
    fn a_refused_record_larger_than_the_budget_leaves_no_room_behind() {
        let queue = Queue::new("huge-record", 1 << 20, NEVER_WOKEN);
        assert!(queue.push(|buf| buf.extend_from_slice(b"record")));
        assert!(!queue.push(|buf| buf.resize(buf.len() + (8 << 20), b'a')));
        assert_eq!(queue.dropped(), 1);
        let mut pool = Vec::new();
        let mut chunks = Vec::new();
        queue.take(&mut pool, &mut chunks);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].bytes, b"record");
        assert!(
            chunks[0].bytes.capacity() <= IDLE_SHARD_CAPACITY,
            "{} bytes kept",
            chunks[0].bytes.capacity()
        );
    }

    /// Regression: the last drain of a closed queue handed each shard
    /// with records a pooled buffer, which its thread then kept for as
    /// long as it lived, with nothing to write into it.
    #[test]
    fn a_closed_queues_shards_are_handed_no_buffer() {
        let queue = Queue::new("closed-buffers", 1 << 20, NEVER_WOKEN);
        let mut pool = vec![Vec::with_capacity(4096)];
        assert!(queue.push(|buf| buf.extend_from_slice(b"record")));
        queue.close();
        let mut chunks = Vec::new();
        queue.take(&mut pool, &mut chunks);
        assert_eq!(chunks.len(), 1);
        assert_eq!(shard_capacity(&queue), 0);
    }

    /// The memory the queue's shards hold for records, used or not.
    fn shard_capacity(queue: &Queue) -> usize {
        lock(&queue.shards)
            .iter()
            .map(|shard| lock(&shard.state).buf.capacity())
            .sum()
    }

    /// The memory the buffers kept for reuse hold.
    fn pool_capacity(pool: &[Vec<u8>]) -> usize {
        pool.iter().map(Vec::capacity).sum()
    }

    /// Regression: the last drain of a closed queue left an idle shard the
    /// small buffer it keeps for its next records, and with no later
    /// drain, it was held for as long as the process lived, also once its
    /// thread had exited.
    #[test]
    fn a_closed_queues_idle_shards_keep_no_buffer() {
        let queue = Queue::new("closed-idle-buffers", 1 << 20, NEVER_WOKEN);
        let mut pool = vec![Vec::with_capacity(4096)];
        let mut chunks = Vec::new();
        assert!(queue.push(|buf| buf.extend_from_slice(b"record")));
        // The drain hands this thread's shard the pooled buffer; the
        // thread then logs nothing more.
        queue.take(&mut pool, &mut chunks);
        assert_eq!(chunks.len(), 1);
        for chunk in chunks.drain(..) {
            queue.recycle(&mut pool, chunk);
        }
        queue.close();
        queue.take(&mut pool, &mut chunks);
        assert!(chunks.is_empty());
        assert_eq!(shard_capacity(&queue), 0);
    }

    /// Regression: the buffer a shard was handed for reuse stayed with it
    /// after its thread stopped logging, and the pool kept one more for
    /// each: threads that each once logged a large chunk (a slow worker, a
    /// collector being retried) held memory beyond the budget, which grew
    /// with their number.
    #[test]
    fn only_the_buffers_of_threads_that_log_are_kept() {
        let queue = Arc::new(Queue::new("test", 64 << 20, NEVER_WOKEN));
        let mut pool = Vec::new();
        let mut largest_chunk = 0;
        let mut threads = Vec::new();
        for _ in 0..8 {
            let (logged, has_logged) = std::sync::mpsc::channel();
            let (stop, stopped) = std::sync::mpsc::channel::<()>();
            let queue_of_thread = Arc::clone(&queue);
            threads.push((
                stop,
                std::thread::spawn(move || {
                    for _ in 0..1024 {
                        queue_of_thread.push(|buf| buf.extend_from_slice(&[b'x'; 1024]));
                    }
                    let _ = logged.send(());
                    // Alive, and logging no more.
                    let _ = stopped.recv();
                }),
            ));
            has_logged.recv().expect("logged");
            let mut chunks = Vec::new();
            queue.take(&mut pool, &mut chunks);
            for chunk in chunks {
                largest_chunk = largest_chunk.max(chunk.bytes.capacity());
                queue.recycle(&mut pool, chunk);
            }
        }
        let (in_shards, in_pool) = (shard_capacity(&queue), pool_capacity(&pool));
        assert!(
            in_shards + in_pool <= 2 * largest_chunk,
            "{in_shards} + {in_pool} bytes kept, chunks of {largest_chunk}"
        );
        for (stop, thread) in threads {
            drop(stop);
            thread.join().expect("no panic");
        }
    }

    /// Regression: a worker waiting for a blocked output gave up at the
    /// shutdown deadline itself, the moment the guard stopped waiting for
    /// it, so its records were never counted.
    #[test]
    fn an_output_is_given_up_with_time_left_to_count_its_records() {
        let queue = Queue::new("test", 1 << 20, NEVER_WOKEN);
        assert!(!queue.past_shutdown_deadline(), "no shutdown asked for");
        let asked = Instant::now();
        let deadline = asked + Duration::from_secs(3600);
        queue.request_shutdown(deadline);
        assert!(!queue.past_shutdown_deadline_at(deadline - SHUTDOWN_SLACK * 2));
        assert!(queue.past_shutdown_deadline_at(deadline - SHUTDOWN_SLACK / 2));
        // A shutdown shorter than twice the slack leaves the output half
        // of its time.
        let queue = Queue::new("test", 1 << 20, NEVER_WOKEN);
        let asked = Instant::now();
        queue.request_shutdown(asked + SHUTDOWN_SLACK);
        assert!(!queue.past_shutdown_deadline_at(asked + SHUTDOWN_SLACK * 2 / 5));
        assert!(queue.past_shutdown_deadline_at(asked + SHUTDOWN_SLACK * 3 / 5));
    }

    /// Regression: a buffer that grew while the output stalled went round
    /// between its shard and the pool at its largest for as long as its
    /// thread logged, and a second stall grew the thread's other buffer
    /// too: memory beyond the budget that never went back.
    #[test]
    fn buffers_grown_in_stalls_are_not_kept_at_their_largest() {
        let wake = WakePolicy {
            bytes: 64 << 10,
            records: u64::MAX,
        };
        let queue = Queue::new("test", 64 << 20, wake);
        let mut pool = Vec::new();
        let cycle = |pool: &mut Vec<Vec<u8>>, records: usize| {
            for _ in 0..records {
                queue.push(|buf| buf.extend_from_slice(&[b'x'; 1024]));
            }
            let mut chunks = Vec::new();
            queue.take(pool, &mut chunks);
            for chunk in chunks {
                queue.recycle(pool, chunk);
            }
        };
        // A stall, a cycle of ordinary logging (the shard takes the grown
        // buffer back from the pool), another, a second stall, which fills
        // the thread's other buffer, and ordinary logging again.
        for records in [8192, 1, 1, 8192, 1, 1] {
            cycle(&mut pool, records);
        }
        let (in_shards, in_pool) = (shard_capacity(&queue), pool_capacity(&pool));
        assert!(
            in_shards + in_pool <= 2 * queue.pooled_capacity(),
            "{in_shards} + {in_pool} bytes kept"
        );
    }

    /// A chunk's note (which context its records share) starts at 0 in
    /// every new chunk, and a record dropped for want of budget leaves the
    /// note as it found it: its context entry is gone with it.
    #[test]
    fn a_chunks_note_is_its_own_and_outlives_no_dropped_record() {
        let queue = Queue::new("test", 100, NEVER_WOKEN);
        let mut local = None;
        let push = |local: &mut Option<LocalShard>, len: usize, new_note: u64| {
            let mut seen = None;
            let pushed = queue.push_emitted_with(local, 9, |buf, note| {
                seen = Some(*note);
                buf.extend_from_slice(&vec![b'x'; len]);
                *note = new_note;
            });
            (pushed, seen.expect("encoded"))
        };
        assert_eq!(push(&mut local, 10, 7), (true, 0));
        assert_eq!(push(&mut local, 10, 8), (true, 7));
        // Over the budget: dropped, and the note stays 8.
        assert_eq!(push(&mut local, 200, 9), (false, 8));
        assert_eq!(push(&mut local, 10, 8), (true, 8));
        assert_eq!(drain(&queue), (vec![b'x'; 30], 3));
        assert_eq!(push(&mut local, 10, 1), (true, 0), "a new chunk");
    }

    /// Regression: the worker was woken only by a thread whose own shard
    /// reached the batch size or the byte threshold, so many threads could
    /// fill the queue between two scheduled cycles and have their records
    /// dropped while it slept.
    #[test]
    fn a_queue_filling_up_wakes_its_worker_whichever_threads_fill_it() {
        let woken = |queue: &Queue| queue.wake_pending.swap(false, Ordering::SeqCst);
        // The record bound: four threads, one record each, a batch of four.
        let wake = WakePolicy {
            bytes: usize::MAX,
            records: 4,
        };
        let queue = Arc::new(Queue::new("test", 1 << 20, wake).with_record_limit(Some(4)));
        let push_on_a_thread = |queue: &Arc<Queue>| {
            let queue = Arc::clone(queue);
            std::thread::spawn(move || queue.push(|buf| buf.push(b'x')))
                .join()
                .expect("producer")
        };
        for _ in 0..3 {
            assert!(push_on_a_thread(&queue));
            assert!(!woken(&queue));
        }
        assert!(push_on_a_thread(&queue));
        assert!(woken(&queue), "a batch is queued");
        assert!(!push_on_a_thread(&queue));
        assert!(woken(&queue), "a record was dropped");
        // The byte budget: half of it held wakes the worker.
        let queue = Queue::new("test", 1000, NEVER_WOKEN);
        for _ in 0..4 {
            assert!(queue.push(|buf| buf.extend_from_slice(&[b'x'; 100])));
            assert!(!woken(&queue));
        }
        assert!(queue.push(|buf| buf.extend_from_slice(&[b'x'; 100])));
        assert!(woken(&queue), "half the budget is held");
    }

    #[test]
    fn a_record_limit_bounds_the_queue_by_count() {
        let queue = Queue::new("test", 1 << 20, NEVER_WOKEN).with_record_limit(Some(2));
        assert!(queue.push(|buf| buf.push(b'a')));
        assert!(queue.push(|buf| buf.push(b'b')));
        assert!(!queue.push(|buf| buf.push(b'c')));
        assert_eq!(queue.dropped(), 1);
        assert_eq!(drain(&queue), (b"ab".to_vec(), 2));
        assert!(queue.push(|buf| buf.push(b'd')));
    }

    #[test]
    fn each_thread_gets_its_own_shard_and_nothing_is_lost() {
        let queue = Arc::new(Queue::new("test", 1 << 20, NEVER_WOKEN));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        assert!(queue.push(|buf| buf.push(b'x')));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("producer");
        }
        assert_eq!(drain(&queue), (vec![b'x'; 4000], 4000));
        // The producers have exited: their shards are gone and their unused
        // credit is back in the budget.
        assert_eq!(lock(&queue.shards).len(), 0);
        assert_eq!(queue.reserved_bytes(), 0);
    }

    #[test]
    fn a_kept_shard_follows_the_queue_it_is_pushed_to() {
        let first = Queue::new("first", 1 << 20, NEVER_WOKEN);
        let second = Queue::new("second", 1 << 20, NEVER_WOKEN);
        let mut local = None;
        for record in [b"a", b"b", b"c", b"d"] {
            assert!(first.push_emitted(&mut local, 9, record));
            assert!(second.push_emitted(&mut local, 17, record));
        }
        assert_eq!(drain(&first), (b"abcd".to_vec(), 4));
        assert_eq!(drain(&second), (b"abcd".to_vec(), 4));
        let emitted = |queue: &Queue| queue.emitted().iter().sum::<u64>();
        assert_eq!((emitted(&first), emitted(&second)), (4, 4));
        // Records pushed through a kept shard after the queue closed are
        // dropped and counted, emitted all the same.
        second.close();
        assert!(!second.push_emitted(&mut local, 17, b"e"));
        assert_eq!(second.dropped(), 1);
        assert_eq!(emitted(&second), 5);
        assert_eq!(drain(&second), (Vec::new(), 0));
    }
}
