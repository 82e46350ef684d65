//! The windows of the rate policies: the last N outcomes (a ring buffer) and the last T
//! (time buckets no wider than T/10). Both are allocated when the breaker is built and
//! never allocate afterwards; both live under the breaker's lock.

use super::config::Window;

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
        }
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
        now
    }

    pub(crate) fn push(&mut self, now: u64, failure: bool, slow: bool) {
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

    /// The sums as of the last push or read.
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
