//! The windows of the rate policies: the last N outcomes (a ring buffer) and the last T
//! (time buckets no wider than T/10). Both are allocated when the breaker is built and
//! never allocate afterwards; both live under the breaker's lock.

use super::config::Window;
use super::events::WindowFigures;

/// Sums over a window's outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    /// Successes and failures.
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Sums {
    fn add(&mut self, failure: bool, slow: bool) {
        self.calls += 1;
        self.failures += u64::from(failure);
        self.slow += u64::from(slow);
    }
}

const FAILURE: u8 = 1;
const SLOW: u8 = 2;

/// The last `capacity` outcomes.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[u8]>,
    next: usize,
    len: usize,
    sums: Sums,
}

impl CountWindow {
    pub(crate) fn new(capacity: u32) -> CountWindow {
        let capacity = capacity.max(1) as usize;
        CountWindow {
            slots: vec![0; capacity].into_boxed_slice(),
            next: 0,
            len: 0,
            sums: Sums::default(),
        }
    }

    pub(crate) fn push(&mut self, failure: bool, slow: bool) {
        let cap = self.slots.len();
        if self.len == cap {
            let old = self.slots[self.next];
            self.sums.calls -= 1;
            self.sums.failures -= u64::from(old & FAILURE != 0);
            self.sums.slow -= u64::from(old & SLOW != 0);
        } else {
            self.len += 1;
        }
        self.slots[self.next] = (if failure { FAILURE } else { 0 }) | (if slow { SLOW } else { 0 });
        self.sums.add(failure, slow);
        self.next += 1;
        if self.next == cap {
            self.next = 0;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.next = 0;
        self.len = 0;
        self.sums = Sums::default();
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    index: u64,
    sums: Sums,
}

const NO_BUCKET: u64 = u64::MAX;

/// The outcomes of the last `span` nanoseconds, in buckets `width = max(1, span / 10)`
/// wide. Bucket `b` holds the outcomes stamped in `[b * width, (b + 1) * width)`; it leaves
/// the window once `(b + 1) * width + span <= now`, that is when its newest possible
/// outcome is `span` old: every outcome stays at least `span` and leaves at most one
/// bucket width later.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    span: u64,
    width: u64,
    buckets: Box<[Bucket]>,
    /// The oldest bucket index whose counts may still be in `sums`.
    tail: u64,
    /// The latest time seen (stamps are made monotonic with it).
    last: u64,
    sums: Sums,
    /// The bucket outcomes go to until `cur_end`, and its slot: while `now < cur_end` and
    /// `now < next_expiry`, a push is two additions (no division).
    cur_slot: usize,
    cur_end: u64,
    /// The earliest time a bucket holding outcomes leaves the window (`u64::MAX` when
    /// the window is empty).
    next_expiry: u64,
    /// Something left the window since the owner last looked (see `take_evicted`).
    evicted: bool,
}

impl TimeWindow {
    pub(crate) fn new(span: u64) -> TimeWindow {
        let span = span.max(1);
        let width = (span / 10).max(1);
        // Live buckets span at most ceil(span / width) + 1 indices; two spare slots.
        let n = span.div_ceil(width) + 2;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        TimeWindow {
            span,
            width,
            buckets: vec![
                Bucket {
                    index: NO_BUCKET,
                    sums: Sums::default(),
                };
                n
            ]
            .into_boxed_slice(),
            tail: 0,
            last: 0,
            sums: Sums::default(),
            cur_slot: 0,
            cur_end: 0,
            next_expiry: u64::MAX,
            evicted: false,
        }
    }

    /// When bucket `index` leaves the window: once its newest possible outcome is
    /// `span` old.
    #[inline]
    fn expiry(&self, index: u64) -> u64 {
        index
            .saturating_add(1)
            .saturating_mul(self.width)
            .saturating_add(self.span)
    }

    #[inline]
    fn slot(&self, index: u64) -> usize {
        // The remainder is smaller than the slice length, a usize.
        (index % self.buckets.len() as u64) as usize
    }

    /// Drops the buckets that have left the window at `now` (made monotonic).
    pub(crate) fn advance(&mut self, now: u64) -> u64 {
        let now = now.max(self.last);
        self.last = now;
        let first_live = if now >= self.span {
            (now - self.span) / self.width
        } else {
            0
        };
        if first_live <= self.tail {
            return now;
        }
        self.evicted |= self.sums.calls > 0;
        if first_live - self.tail >= self.buckets.len() as u64 {
            for b in self.buckets.iter_mut() {
                *b = Bucket {
                    index: NO_BUCKET,
                    sums: Sums::default(),
                };
            }
            self.sums = Sums::default();
        } else {
            for index in self.tail..first_live {
                let slot = self.slot(index);
                let b = &mut self.buckets[slot];
                if b.index == index {
                    self.sums.calls -= b.sums.calls;
                    self.sums.failures -= b.sums.failures;
                    self.sums.slow -= b.sums.slow;
                    *b = Bucket {
                        index: NO_BUCKET,
                        sums: Sums::default(),
                    };
                }
            }
        }
        self.tail = first_live;
        self.next_expiry = self
            .buckets
            .iter()
            .filter(|b| b.index != NO_BUCKET && b.sums.calls > 0)
            .map(|b| self.expiry(b.index))
            .min()
            .unwrap_or(u64::MAX);
        now
    }

    #[inline]
    pub(crate) fn push(&mut self, now: u64, failure: bool, slow: bool) {
        let now = now.max(self.last);
        if now < self.cur_end && now < self.next_expiry {
            self.last = now;
            self.buckets[self.cur_slot].sums.add(failure, slow);
            self.sums.add(failure, slow);
            return;
        }
        self.push_slow(now, failure, slow);
    }

    #[inline(never)]
    fn push_slow(&mut self, now: u64, failure: bool, slow: bool) {
        let now = self.advance(now);
        let index = now / self.width;
        let slot = self.slot(index);
        let b = &mut self.buckets[slot];
        if b.index != index {
            // The slot's previous bucket (index - k * len) has left the window already.
            *b = Bucket {
                index,
                sums: Sums::default(),
            };
        }
        b.sums.add(failure, slow);
        self.sums.add(failure, slow);
        self.cur_slot = slot;
        self.cur_end = index.saturating_mul(self.width).saturating_add(self.width);
        self.next_expiry = self.next_expiry.min(self.expiry(index));
    }

    pub(crate) fn clear(&mut self) {
        for b in self.buckets.iter_mut() {
            *b = Bucket {
                index: NO_BUCKET,
                sums: Sums::default(),
            };
        }
        self.sums = Sums::default();
        self.tail = self.last.saturating_sub(self.span) / self.width;
        self.cur_end = 0;
        self.next_expiry = u64::MAX;
        self.evicted = false;
    }
}

/// The window of a rate policy.
#[derive(Debug)]
pub(crate) enum RateWindow {
    Count(CountWindow),
    Time(TimeWindow),
}

impl RateWindow {
    pub(crate) fn new(window: Window) -> RateWindow {
        match window {
            Window::Count(n) => RateWindow::Count(CountWindow::new(n)),
            Window::Time(d) => RateWindow::Time(TimeWindow::new(crate::clock::duration_nanos(d))),
        }
    }

    /// `true` when outcomes left the window (other than by a push replacing one in a
    /// full count window) since the last call; clears the flag.
    pub(crate) fn take_evicted(&mut self) -> bool {
        match self {
            RateWindow::Count(_) => false,
            RateWindow::Time(w) => std::mem::take(&mut w.evicted),
        }
    }

    /// Adds `n` fast successes counted lock-free while [`RateWindow::lock_free_until`]
    /// had not passed: they belong to the current bucket.
    pub(crate) fn add_successes(&mut self, n: u64) {
        if let RateWindow::Time(w) = self {
            w.buckets[w.cur_slot].sums.calls += n;
            w.sums.calls += n;
        }
    }

    /// Until when a fast success may be counted lock-free and added to the current
    /// bucket later: before the current bucket ends and before anything leaves the
    /// window, while the window holds `minimum_calls` evaluated outcomes (such a success
    /// cannot raise a rate). 0 for count windows and otherwise.
    pub(crate) fn lock_free_until(&self, minimum_calls: u64) -> u64 {
        match self {
            RateWindow::Time(w) if !w.evicted && w.sums.calls >= minimum_calls => {
                w.cur_end.min(w.next_expiry)
            }
            _ => 0,
        }
    }

    /// The sums as of the last push or read.
    /// The current sums, as a transition carries them.
    pub(crate) fn figures(&self) -> WindowFigures {
        let s = self.current();
        WindowFigures {
            calls: s.calls,
            failures: s.failures,
            slow: s.slow,
        }
    }

    pub(crate) fn current(&self) -> Sums {
        match self {
            RateWindow::Count(w) => w.sums,
            RateWindow::Time(w) => w.sums,
        }
    }

    pub(crate) fn push(&mut self, now: u64, failure: bool, slow: bool) {
        match self {
            RateWindow::Count(w) => w.push(failure, slow),
            RateWindow::Time(w) => w.push(now, failure, slow),
        }
    }

    /// The sums at `now` (a time window first drops what has left it).
    pub(crate) fn sums(&mut self, now: u64) -> Sums {
        match self {
            RateWindow::Count(w) => w.sums,
            RateWindow::Time(w) => {
                w.advance(now);
                w.sums
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        match self {
            RateWindow::Count(w) => w.clear(),
            RateWindow::Time(w) => w.clear(),
        }
    }
}

#[cfg(all(test, not(breakwater_loom)))]
mod tests {
    use super::*;

    #[test]
    fn count_window_keeps_the_last_n() {
        let mut w = CountWindow::new(3);
        w.push(true, false);
        w.push(false, true);
        w.push(true, true);
        assert_eq!(
            w.sums,
            Sums {
                calls: 3,
                failures: 2,
                slow: 2
            }
        );
        w.push(false, false); // evicts the first failure
        assert_eq!(
            w.sums,
            Sums {
                calls: 3,
                failures: 1,
                slow: 2
            }
        );
        w.clear();
        assert_eq!(w.sums, Sums::default());
    }

    #[test]
    fn time_window_outcome_stays_span_and_leaves_within_one_bucket() {
        // span 100, width 10.
        let mut w = TimeWindow::new(100);
        w.push(15, true, false); // bucket 1: [10, 20)
        assert_eq!(w.sums.calls, 1);
        // Still in at 15 + 100 - 1 and at 115 (exactly span old, the bucket ends at 20).
        w.advance(114);
        assert_eq!(w.sums.calls, 1);
        w.advance(119);
        assert_eq!(w.sums.calls, 1);
        // Gone once the whole bucket is span old: 20 + 100.
        w.advance(120);
        assert_eq!(w.sums.calls, 0);
    }

    #[test]
    fn time_window_long_idle_clears_everything() {
        let mut w = TimeWindow::new(100);
        for t in 0..100 {
            w.push(t, t % 2 == 0, false);
        }
        assert_eq!(w.sums.calls, 100);
        assert_eq!(w.sums.failures, 50);
        w.advance(1_000_000);
        assert_eq!(w.sums, Sums::default());
        w.push(1_000_001, true, true);
        assert_eq!(
            w.sums,
            Sums {
                calls: 1,
                failures: 1,
                slow: 1
            }
        );
    }

    #[test]
    fn time_window_fast_path_respects_bucket_ends_and_expiry() {
        // span 100, width 10.
        let mut w = TimeWindow::new(100);
        w.push(5, true, false); // slow path: bucket 0, leaves at 110
        assert_eq!((w.cur_end, w.next_expiry), (10, 110));
        w.push(9, false, false); // fast path
        assert_eq!(w.buckets[0].sums.calls, 2);
        w.push(10, false, false); // new bucket 1
        assert_eq!((w.cur_end, w.next_expiry), (20, 110));
        assert_eq!(w.buckets[1].sums.calls, 1);
        assert!(!w.evicted);
        w.push(109, false, false); // bucket 10
        assert_eq!(w.sums.calls, 4);
        w.push(110, false, false); // bucket 0 leaves now
        assert!(w.evicted);
        assert_eq!(
            w.sums,
            Sums {
                calls: 3,
                failures: 0,
                slow: 0
            }
        );
        assert_eq!(w.next_expiry, 120);
    }

    #[test]
    fn time_window_older_stamp_is_placed_at_the_latest_time() {
        let mut w = TimeWindow::new(100);
        w.push(500, false, false);
        w.push(450, true, false); // stamped 500
        w.advance(609);
        assert_eq!(w.sums.calls, 2);
        w.advance(610);
        assert_eq!(w.sums.calls, 0);
    }
}
