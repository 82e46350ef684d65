//! The admission decision of a [`SharedBreaker`](super::SharedBreaker), before it becomes
//! a [`SharedPermit`](super::SharedPermit), and the guard that records a failure for a
//! guarded call that unwinds.

use crate::breaker::{Outcome, Permit};

use super::shared::Inner;

/// An admission, before it becomes a [`SharedPermit`](super::SharedPermit) (or not, in `call_with`).
pub(super) enum Admission {
    Shared { gn: u64, trial: bool },
    Local(Permit),
}

/// Records a failure for a guarded call that is unwinding.
pub(super) struct UnwindGuard<'a> {
    pub(super) inner: &'a Inner,
    pub(super) gn: u64,
    pub(super) trial: bool,
}

impl Drop for UnwindGuard<'_> {
    fn drop(&mut self) {
        self.inner.record(self.gn, Outcome::Failure, self.trial);
    }
}
