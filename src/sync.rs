//! A small synchronisation shim.
//!
//! In normal builds it re-exports `parking_lot` and `std` atomics behind a by-value
//! condition-variable API; under `--cfg breakwater_loom` the same names come from
//! `loom`, so the model tests explore the real state machines. Only untimed paths
//! are modelled: timed waits exist only in normal builds.

#[cfg(not(breakwater_loom))]
#[allow(unused_imports, reason = "each policy uses a different subset")]
mod imp {
    pub(crate) use parking_lot::MutexGuard;
    pub(crate) use std::sync::Arc;
    pub(crate) use std::sync::atomic::{
        AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };

    /// A mutex with the parking_lot API (no poisoning).
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(parking_lot::Mutex<T>);

    impl<T> Mutex<T> {
        /// Creates a mutex holding `value`.
        pub(crate) const fn new(value: T) -> Self {
            Mutex(parking_lot::const_mutex(value))
        }

        /// Locks the mutex.
        #[inline]
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock()
        }

        /// Locks the mutex if it is free.
        #[inline]
        #[allow(dead_code, reason = "not every build uses every shim method")]
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock()
        }

        /// Gives the value back.
        #[allow(dead_code, reason = "not every build uses every shim method")]
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    /// A condition variable whose waits take and return the guard by value.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        /// Creates a condition variable.
        pub(crate) const fn new() -> Self {
            Condvar(parking_lot::Condvar::new())
        }

        /// Blocks until notified.
        pub(crate) fn wait<'a, T>(&self, mut guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(&mut guard);
            guard
        }

        /// Blocks until notified or until `deadline` (real time) passes; `true` when it timed out.
        pub(crate) fn wait_until<'a, T>(
            &self,
            mut guard: MutexGuard<'a, T>,
            deadline: std::time::Instant,
        ) -> (MutexGuard<'a, T>, bool) {
            let timed_out = self.0.wait_until(&mut guard, deadline).timed_out();
            (guard, timed_out)
        }

        /// Wakes one waiter.
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        /// Wakes every waiter.
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[cfg(breakwater_loom)]
#[allow(unused_imports, reason = "each policy uses a different subset")]
mod imp {
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::sync::MutexGuard;
    pub(crate) use loom::sync::atomic::{
        AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
    };

    /// loom's mutex behind the parking_lot API.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
        #[allow(dead_code, reason = "not every build uses every shim method")]
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
        #[allow(dead_code, reason = "not every build uses every shim method")]
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner().unwrap()
        }
    }

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    /// loom's condition variable; timed waits are not modelled and behave as untimed.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Condvar(loom::sync::Condvar::new())
        }
        pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
            self.0.wait(guard).unwrap()
        }
        pub(crate) fn wait_until<'a, T>(
            &self,
            guard: MutexGuard<'a, T>,
            _deadline: std::time::Instant,
        ) -> (MutexGuard<'a, T>, bool) {
            (self.0.wait(guard).unwrap(), false)
        }
        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}

#[allow(unused_imports, reason = "each policy uses a different subset")]
pub(crate) use imp::*;
