//! The thread-pool bulkhead: a named pool of `workers` threads and a bounded queue, one per dependency, so that a slow dependency cannot starve the others (payments keep their 10 threads while email's 5 are stuck). See [`ThreadPool`].

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bulkhead::check_duration;
use crate::clock::{Clock, Monitor};
use crate::ctx::CancelToken;
use crate::error::{ConfigError, Error, PolicyKind, RejectReason};
use crate::registry::Registry;
use crate::sync::MutexGuard;

/// The configuration of a [`ThreadPool`].
///
/// # Examples
///
/// ```
/// use breakwater::PoolConfig;
/// let email = PoolConfig { name: "email".into(), workers: 5, queue_capacity: 10 };
/// assert_eq!(email.workers, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The pool's name, and the prefix of its worker threads' names. Empty means
    /// `"pool"`; the registry uses its own name for the pools it builds.
    pub name: String,
    /// How many worker threads at most (at least 1).
    pub workers: u32,
    /// How many tasks may wait for a worker (0: hand-off only).
    pub queue_capacity: u32,
}

impl Default for PoolConfig {
    /// 10 workers, a queue of 100, no name.
    fn default() -> Self {
        PoolConfig {
            name: String::new(),
            workers: 10,
            queue_capacity: 100,
        }
    }
}

/// How [`ThreadPool::shutdown`] treats the queued tasks.
///
/// ```
/// assert_ne!(breakwater::ShutdownMode::Drain, breakwater::ShutdownMode::Cancel);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShutdownMode {
    /// Run every queued task, then stop.
    Drain,
    /// Cancel the queued tasks (each gets [`TaskError::Cancelled`]); running ones finish.
    Cancel,
}

/// What a shutdown did, and what it left.
///
/// ```
/// use breakwater::{ShutdownMode, ThreadPool};
/// let pool = ThreadPool::builder().workers(2).build()?;
/// let report = pool.shutdown(ShutdownMode::Drain);
/// assert!(report.terminated);
/// assert!(report.busy_workers.is_empty());
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// The pool's mode after this call (a `Cancel` upgrades an earlier `Drain`).
    pub mode: ShutdownMode,
    /// Every worker had exited when the call returned.
    pub terminated: bool,
    /// Queued tasks this call cancelled.
    pub cancelled: u64,
    /// Tasks still queued when the call returned (a `Drain` that timed out; the workers
    /// go on running them).
    pub still_queued: u32,
    /// Names of the workers still running a task when the call returned.
    pub busy_workers: Vec<String>,
}

/// A snapshot of a pool's counters.
///
/// ```
/// let pool = breakwater::ThreadPool::builder().workers(3).queue_capacity(7).build()?;
/// let m = pool.metrics();
/// assert_eq!((m.workers, m.spawned, m.queue_capacity), (3, 0, 7));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// The configured number of workers.
    pub workers: u32,
    /// Worker threads spawned so far (lazily, at most `workers`).
    pub spawned: u32,
    /// Workers running a task now.
    pub busy: u32,
    /// Tasks waiting in the queue now.
    pub queue_depth: u32,
    /// The configured queue capacity.
    pub queue_capacity: u32,
    /// Submissions refused (queue full or shut down), in total.
    pub rejected: u64,
    /// Tasks that returned, in total.
    pub completed: u64,
    /// Tasks that panicked, in total.
    pub panicked: u64,
    /// Queued tasks cancelled by a shutdown, in total.
    pub cancelled: u64,
    /// The deepest the queue has been.
    pub peak_queue: u32,
}

/// A submission the pool refused. Converts into [`Error::Rejected`] with policy
/// [`PolicyKind::ThreadPool`].
///
/// ```
/// use breakwater::{RejectReason, ShutdownMode, ThreadPool};
/// let pool = ThreadPool::builder().workers(1).build()?;
/// pool.shutdown(ShutdownMode::Cancel);
/// assert_eq!(pool.submit(|| ()).unwrap_err().reason(), RejectReason::Shutdown);
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolRejected {
    reason: RejectReason,
}

impl PoolRejected {
    /// [`RejectReason::QueueFull`] or [`RejectReason::Shutdown`].
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().workers(1).queue_capacity(0).build()?;
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let busy = pool.submit(move || rx.recv()).unwrap();
    /// assert_eq!(pool.submit(|| ()).unwrap_err().reason(), breakwater::RejectReason::QueueFull);
    /// tx.send(()).unwrap();
    /// busy.join().unwrap().unwrap();
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn reason(&self) -> RejectReason {
        self.reason
    }
}

impl fmt::Display for PoolRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thread pool rejected the task: {}", self.reason)
    }
}

impl std::error::Error for PoolRejected {}

impl<E> From<PoolRejected> for Error<E> {
    fn from(r: PoolRejected) -> Error<E> {
        Error::Rejected {
            policy: PolicyKind::ThreadPool,
            reason: r.reason,
            retry_after: None,
        }
    }
}

/// Why a task gave no value.
///
/// ```
/// let e = breakwater::TaskError::Panicked("boom".into());
/// assert_eq!(e.to_string(), "task panicked: boom");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; the panic's message (or a placeholder for a non-string payload).
    Panicked(String),
    /// A shutdown cancelled the task before it started.
    Cancelled,
    /// [`TaskHandle::join_timeout`] or [`TaskHandle::join_deadline`] gave up waiting; the
    /// task goes on, and the handle can be joined again.
    TimedOut,
    /// An earlier `join_timeout` or `join_deadline` on this handle already took the outcome.
    AlreadyJoined,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(msg) => write!(f, "task panicked: {msg}"),
            TaskError::Cancelled => f.write_str("task cancelled by a pool shutdown"),
            TaskError::TimedOut => f.write_str("timed out waiting for the task"),
            TaskError::AlreadyJoined => f.write_str("the task's outcome was already taken"),
        }
    }
}

impl std::error::Error for TaskError {}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Where a task's outcome lands.
enum Slot<T> {
    Pending,
    Ready(Result<T, TaskError>),
    Taken,
}

type SlotRef<T> = Arc<Monitor<Slot<T>>>;

fn deliver<T>(slot: &Monitor<Slot<T>>, outcome: Result<T, TaskError>) {
    *slot.lock() = Slot::Ready(outcome);
    slot.notify_all();
}

/// How a job ended, for the pool's counters.
pub(crate) enum Outcome {
    Done,
    Panicked,
}

/// A queued task, type-erased. Running and publishing are separate steps so that the
/// worker can update the pool's counters before the outcome becomes visible: whoever
/// joins a task sees it counted in the metrics.
pub(crate) trait Job: Send {
    /// Runs the task (catching its panic) and keeps its outcome.
    fn run(&mut self) -> Outcome;
    /// Moves the kept outcome into the handle's slot and wakes the joiners. Drops no
    /// user value, so it may run under the pool's lock.
    fn publish(&mut self);
}

struct Task<T, F> {
    f: Option<F>,
    outcome: Option<Result<T, TaskError>>,
    slot: SlotRef<T>,
}

impl<T, F> Job for Task<T, F>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    fn run(&mut self) -> Outcome {
        let Some(f) = self.f.take() else {
            return Outcome::Done;
        };
        let (outcome, result) = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(value) => (Outcome::Done, Ok(value)),
            Err(payload) => (
                Outcome::Panicked,
                Err(TaskError::Panicked(panic_message(&*payload))),
            ),
        };
        self.outcome = Some(result);
        outcome
    }

    fn publish(&mut self) {
        if let Some(outcome) = self.outcome.take() {
            deliver(&self.slot, outcome);
        }
    }
}

impl<T, F> Drop for Task<T, F> {
    /// A task dropped without running (cancelled, or refused) tells its handle so.
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            // Tell the handle first: dropping `f` runs user code, which may panic.
            deliver(&self.slot, Err(TaskError::Cancelled));
            drop(f);
        }
    }
}

/// The pool's state, guarded by the monitor's mutex.
///
/// Invariants: `queue.len() + busy <= workers + queue_capacity` (checked at submit);
/// `alive <= spawned <= workers`; while not shut down, `queue.len() > spawned - busy`
/// only when `spawned == workers` (a task that finds no free worker spawns one).
struct PoolState {
    queue: VecDeque<Box<dyn Job>>,
    shutdown: Option<ShutdownMode>,
    spawned: u32,
    alive: u32,
    busy: u32,
    /// Per spawned worker (by index): running a task now.
    worker_busy: Vec<bool>,
    rejected: u64,
    completed: u64,
    panicked: u64,
    cancelled: u64,
    peak_queue: u32,
}

struct Shared {
    name: String,
    config: PoolConfig,
    clock: Clock,
    monitor: Arc<Monitor<PoolState>>,
    /// The workers' join handles, joined by a shutdown that saw every worker exit, so
    /// that their threads are gone (not just leaving) when it returns.
    threads: parking_lot::Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Shared {
    fn id(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    fn worker_name(&self, index: usize) -> String {
        format!("{}-{index}", self.name)
    }

    /// Queues `job`, spawning a worker for it if none is free. Gives the job back on refusal
    /// (to be dropped outside the lock: dropping runs user code).
    fn submit_job(self: &Arc<Self>, job: Box<dyn Job>) -> Result<(), (PoolRejected, Box<dyn Job>)> {
        let mut st = self.monitor.lock();
        let refuse = |st: &mut PoolState, reason| {
            st.rejected += 1;
            PoolRejected { reason }
        };
        if st.shutdown.is_some() {
            return Err((refuse(&mut st, RejectReason::Shutdown), job));
        }
        let capacity = u64::from(self.config.workers) + u64::from(self.config.queue_capacity);
        if st.queue.len() as u64 + u64::from(st.busy) >= capacity {
            return Err((refuse(&mut st, RejectReason::QueueFull), job));
        }
        st.queue.push_back(job);
        let depth = u32::try_from(st.queue.len()).unwrap_or(u32::MAX);
        st.peak_queue = st.peak_queue.max(depth);
        let free = st.spawned - st.busy;
        if depth > free && st.spawned < self.config.workers {
            let index = st.spawned as usize;
            let shared = Arc::clone(self);
            match spawn_thread(self.worker_name(index), move || worker_loop(shared, index)) {
                Ok(handle) => {
                    self.threads.lock().extend(handle);
                    st.spawned += 1;
                    st.alive += 1;
                    st.worker_busy.push(false);
                }
                Err(_) if st.alive == 0 => {
                    // No worker at all to run it: refuse rather than strand the task.
                    let job = st.queue.pop_back().expect("the job just pushed");
                    return Err((refuse(&mut st, RejectReason::QueueFull), job));
                }
                // Another worker will get to it; the next submission tries to spawn again.
                Err(_) => self.monitor.notify_one(),
            }
        } else {
            self.monitor.notify_one();
        }
        Ok(())
    }

    /// Sets the shutdown mode and takes the queued jobs out when cancelling; returns them
    /// (to drop outside the lock) and the mode now in force.
    fn begin_shutdown(&self, mode: ShutdownMode) -> (VecDeque<Box<dyn Job>>, ShutdownMode) {
        let mut st = self.monitor.lock();
        let now = match (st.shutdown, mode) {
            (Some(ShutdownMode::Cancel), _) | (_, ShutdownMode::Cancel) => ShutdownMode::Cancel,
            _ => ShutdownMode::Drain,
        };
        st.shutdown = Some(now);
        let jobs = if now == ShutdownMode::Cancel {
            std::mem::take(&mut st.queue)
        } else {
            VecDeque::new()
        };
        st.cancelled += jobs.len() as u64;
        self.monitor.notify_all();
        (jobs, now)
    }

    /// Waits until every worker (but the calling one, if the caller is a worker of this
    /// pool) has exited, or until `deadline` on `clock`.
    fn await_workers(
        self: &Arc<Self>,
        deadline: Option<(Instant, &Clock)>,
        mode: ShutdownMode,
        cancelled: u64,
    ) -> ShutdownReport {
        let own = u32::from(current_pool() == self.id());
        let mut st = self.monitor.lock();
        while st.alive > own {
            match deadline {
                None => st = self.monitor.wait(st),
                Some((d, clock)) => {
                    let (g, result) = clock.wait_until(&self.monitor, st, d);
                    st = g;
                    if result.timed_out() {
                        break;
                    }
                }
            }
        }
        let report = self.report(&st, mode, cancelled);
        drop(st);
        if report.terminated {
            self.join_threads();
        }
        report
    }

    /// Joins the exited workers' threads, unless called from one of them (which cannot
    /// join itself: the handles are then left, and dropped, detached, with the pool).
    fn join_threads(self: &Arc<Self>) {
        if current_pool() == self.id() {
            return;
        }
        let handles = std::mem::take(&mut *self.threads.lock());
        for handle in handles {
            let _ = handle.join();
        }
    }

    fn report(
        &self,
        st: &MutexGuard<'_, PoolState>,
        mode: ShutdownMode,
        cancelled: u64,
    ) -> ShutdownReport {
        ShutdownReport {
            mode,
            terminated: st.alive == 0,
            cancelled,
            still_queued: u32::try_from(st.queue.len()).unwrap_or(u32::MAX),
            busy_workers: st
                .worker_busy
                .iter()
                .enumerate()
                .filter(|(_, busy)| **busy)
                .map(|(i, _)| self.worker_name(i))
                .collect(),
        }
    }

    fn shutdown(
        self: &Arc<Self>,
        mode: ShutdownMode,
        deadline: Option<(Instant, &Clock)>,
    ) -> ShutdownReport {
        let (jobs, now) = self.begin_shutdown(mode);
        let cancelled = jobs.len() as u64;
        for job in jobs {
            drop_quietly(Some(job)); // delivers Cancelled to its handle
        }
        self.await_workers(deadline, now, cancelled)
    }
}

/// A worker: takes queued jobs until the pool shuts down and the queue is empty.
///
/// A finished job is published under the pool's lock (counters first), and dropped
/// later outside it (dropping it may drop the task's value, which is user code).
fn worker_loop(shared: Arc<Shared>, index: usize) {
    set_current_pool(shared.id());
    let monitor = Arc::clone(&shared.monitor);
    let mut finished: Option<Box<dyn Job>> = None;
    let mut st = monitor.lock();
    loop {
        if let Some(mut job) = st.queue.pop_front() {
            st.busy += 1;
            st.worker_busy[index] = true;
            drop(st);
            drop_quietly(finished.take());
            // The task's own panic is caught inside `run`; this catch only guards the
            // worker against the unexpected (a panicking panic payload's message).
            let outcome = catch_unwind(AssertUnwindSafe(|| job.run())).unwrap_or(Outcome::Panicked);
            st = monitor.lock();
            st.busy -= 1;
            st.worker_busy[index] = false;
            match outcome {
                Outcome::Done => st.completed += 1,
                Outcome::Panicked => st.panicked += 1,
            }
            job.publish();
            finished = Some(job);
            continue;
        }
        if finished.is_some() {
            drop(st);
            drop_quietly(finished.take());
            st = monitor.lock();
            continue;
        }
        if st.shutdown.is_some() {
            st.alive -= 1;
            monitor.notify_all();
            return;
        }
        st = monitor.wait(st);
    }
}

/// Drops a finished job; a panic in a user value's destructor must not kill the worker.
fn drop_quietly(job: Option<Box<dyn Job>>) {
    if job.is_some() {
        let _ = catch_unwind(AssertUnwindSafe(move || drop(job)));
    }
}

#[cfg(not(breakwater_loom))]
fn spawn_thread(
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    std::thread::Builder::new().name(name).spawn(f).map(Some)
}

#[cfg(breakwater_loom)]
fn spawn_thread(
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    loom::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map(|_| None)
}

#[cfg(not(breakwater_loom))]
std::thread_local! {
    /// The pool whose worker this thread is (0: none).
    static CURRENT_POOL: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(breakwater_loom)]
loom::thread_local! {
    static CURRENT_POOL: std::cell::Cell<usize> = std::cell::Cell::new(0);
}

fn current_pool() -> usize {
    CURRENT_POOL.with(std::cell::Cell::get)
}

fn set_current_pool(id: usize) {
    CURRENT_POOL.with(|c| c.set(id));
}

/// The user-facing handle; the pool shuts down when the last one is dropped.
struct PoolHandle {
    shared: Arc<Shared>,
    drop_wait: Duration,
}

impl Drop for PoolHandle {
    fn drop(&mut self) {
        let clock = Clock::monotonic();
        let deadline = clock.deadline_after(self.drop_wait);
        self.shared
            .shutdown(ShutdownMode::Cancel, Some((deadline, &clock)));
    }
}

/// A thread-pool bulkhead. Cloning is cheap; clones share the pool, which shuts down when
/// the last clone is dropped.
///
/// # Capacity
///
/// A pool holds at most `workers + queue_capacity` tasks (running or queued);
/// [`ThreadPool::submit`] refuses the next one at once with
/// [`RejectReason::QueueFull`]. A `queue_capacity` of 0 makes a hand-off pool: a task
/// is accepted only when a worker is free for it.
///
/// # Workers
///
/// Workers are spawned lazily, when a task arrives and no worker is free, up to
/// `workers`; they are named `"<name>-0"`, `"<name>-1"`, ... in spawn order and stay
/// (idle, parked) until the pool shuts down. A panic in a task becomes that task's
/// [`TaskError::Panicked`]; the worker survives.
///
/// # Shutdown and outcomes
///
/// Every accepted task gets exactly one outcome: done, panicked or cancelled, whether or
/// not its [`TaskHandle`] is still around (a dropped handle detaches the task; it still
/// runs). [`ShutdownMode::Drain`] runs the queued tasks, [`ShutdownMode::Cancel`] cancels
/// them (their handles see [`TaskError::Cancelled`]); running tasks always finish, since
/// threads cannot be interrupted. [`ThreadPool::shutdown`] waits for every worker to
/// exit; [`ThreadPool::shutdown_timeout`] never waits longer than its timeout and reports
/// the workers still busy.
///
/// Dropping the last [`ThreadPool`] handle shuts the pool down with
/// [`ShutdownMode::Cancel`] and waits for running tasks for at most the builder's
/// [`drop_wait`](ThreadPoolBuilder::drop_wait) (1 s by default) of *real* time, whatever
/// the pool's clock (a manual clock would never end that wait); workers still busy then
/// are left to finish and exit on their own.
///
/// # Examples
///
/// ```
/// use breakwater::ThreadPool;
///
/// let pool = ThreadPool::builder().name("payments").workers(10).queue_capacity(100).build()?;
/// let handle = pool.submit(|| std::thread::current().name().map(str::to_owned)).unwrap();
/// assert_eq!(handle.join().unwrap().as_deref(), Some("payments-0"));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
///
/// # Examples
///
/// ```
/// use breakwater::{ShutdownMode, ThreadPool};
///
/// let pool = ThreadPool::builder().name("analytics").workers(20).build()?;
/// let handles: Vec<_> = (0..5u64).map(|i| pool.submit(move || i * i).unwrap()).collect();
/// let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 30);
/// assert!(pool.shutdown(ShutdownMode::Drain).terminated);
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    handle: Arc<PoolHandle>,
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("name", &self.handle.shared.name)
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// Builds a [`ThreadPool`].
///
/// # Examples
///
/// ```
/// let pool = breakwater::ThreadPool::builder()
///     .name("email")
///     .workers(5)
///     .queue_capacity(50)
///     .build()?;
/// assert_eq!(pool.name(), "email");
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ThreadPoolBuilder {
    config: PoolConfig,
    clock: Clock,
    drop_wait: Duration,
}

impl Default for ThreadPoolBuilder {
    fn default() -> Self {
        ThreadPoolBuilder {
            config: PoolConfig::default(),
            clock: Clock::monotonic(),
            drop_wait: Duration::from_secs(1),
        }
    }
}

impl ThreadPoolBuilder {
    /// The pool's name, the prefix of its workers' thread names.
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().name("reports").build()?;
    /// assert_eq!(pool.name(), "reports");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to `"pool"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The number of worker threads (spawned lazily); 0 is refused by
    /// [`ThreadPoolBuilder::build`].
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().workers(4).build()?;
    /// assert_eq!(pool.metrics().workers, 4);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to 10.
    pub fn workers(mut self, workers: u32) -> Self {
        self.config.workers = workers;
        self
    }

    /// How many tasks may wait for a worker; 0 makes a hand-off pool.
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().queue_capacity(0).build()?;
    /// assert_eq!(pool.metrics().queue_capacity, 0);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to 100.
    pub fn queue_capacity(mut self, capacity: u32) -> Self {
        self.config.queue_capacity = capacity;
        self
    }

    /// The whole configuration at once (replaces earlier setters' values).
    ///
    /// ```
    /// use breakwater::{PoolConfig, ThreadPool};
    /// let pool = ThreadPool::builder()
    ///     .config(PoolConfig { name: "db".into(), workers: 2, queue_capacity: 4 })
    ///     .build()?;
    /// assert_eq!(pool.config().queue_capacity, 4);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to [`PoolConfig::default`].
    pub fn config(mut self, config: PoolConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock that timed waits ([`TaskHandle::join_timeout`],
    /// [`ThreadPool::shutdown_timeout`]) go through.
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder()
    ///     .clock(breakwater::ManualClock::new().into())
    ///     .build()?;
    /// assert!(pool.clock().is_manual());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to the monotonic clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How long dropping the last handle waits (in real time, on the monotonic clock) for
    /// running tasks after cancelling the queued ones. Zero does not wait.
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder()
    ///     .drop_wait(std::time::Duration::ZERO)
    ///     .build()?;
    /// drop(pool);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to 1 second.
    pub fn drop_wait(mut self, wait: Duration) -> Self {
        self.drop_wait = wait;
        self
    }

    /// Builds the pool (no thread is spawned yet).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `workers` when it is 0, `name` when it contains a NUL
    /// byte (thread names cannot), or `drop_wait` when it overflows a deadline.
    ///
    /// ```
    /// let e = breakwater::ThreadPool::builder().workers(0).build().unwrap_err();
    /// assert_eq!(e.field, "workers");
    /// ```
    pub fn build(self) -> Result<ThreadPool, ConfigError> {
        let config = self.config;
        if config.workers == 0 {
            return Err(ConfigError::new(
                PolicyKind::ThreadPool,
                "workers",
                "must be at least 1",
            ));
        }
        if config.name.contains('\0') {
            return Err(ConfigError::new(
                PolicyKind::ThreadPool,
                "name",
                "must not contain a NUL byte",
            ));
        }
        check_duration(PolicyKind::ThreadPool, "drop_wait", self.drop_wait)?;
        let name = if config.name.is_empty() {
            "pool".to_owned()
        } else {
            config.name.clone()
        };
        let state = PoolState {
            queue: VecDeque::new(),
            shutdown: None,
            spawned: 0,
            alive: 0,
            busy: 0,
            worker_busy: Vec::new(),
            rejected: 0,
            completed: 0,
            panicked: 0,
            cancelled: 0,
            peak_queue: 0,
        };
        Ok(ThreadPool {
            handle: Arc::new(PoolHandle {
                shared: Arc::new(Shared {
                    name,
                    config,
                    clock: self.clock,
                    monitor: Monitor::new(state),
                    threads: parking_lot::Mutex::new(Vec::new()),
                }),
                drop_wait: self.drop_wait,
            }),
        })
    }
}

impl ThreadPool {
    /// A builder with the default configuration.
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().build()?;
    /// assert_eq!(pool.metrics().workers, 10);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::default()
    }

    /// A pool on the monotonic clock from `config`.
    ///
    /// # Errors
    ///
    /// See [`ThreadPoolBuilder::build`].
    ///
    /// ```
    /// use breakwater::{PoolConfig, ThreadPool};
    /// let pool = ThreadPool::from_config(PoolConfig { workers: 5, ..Default::default() })?;
    /// assert_eq!(pool.name(), "pool");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn from_config(config: PoolConfig) -> Result<ThreadPool, ConfigError> {
        ThreadPool::builder().config(config).build()
    }

    /// The pool's name.
    ///
    /// ```
    /// assert_eq!(breakwater::ThreadPool::builder().name("x").build()?.name(), "x");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.handle.shared.name
    }

    /// The configuration it was built with.
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().workers(3).build()?;
    /// assert_eq!(pool.config().workers, 3);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn config(&self) -> &PoolConfig {
        &self.handle.shared.config
    }

    /// The clock its timed waits go through.
    ///
    /// ```
    /// assert!(!breakwater::ThreadPool::builder().build()?.clock().is_manual());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.handle.shared.clock
    }

    /// Queues `f` to run on a worker; never waits.
    ///
    /// # Errors
    ///
    /// [`PoolRejected`] with [`RejectReason::QueueFull`] when the pool holds
    /// `workers + queue_capacity` tasks already, or [`RejectReason::Shutdown`] after a
    /// shutdown began. `f` is dropped, not run.
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().workers(2).build()?;
    /// let h = pool.submit(|| 6 * 7).unwrap();
    /// assert_eq!(h.join(), Ok(42));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn submit<T, F>(&self, f: F) -> Result<TaskHandle<T>, PoolRejected>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let slot: SlotRef<T> = Monitor::new(Slot::Pending);
        let job = Box::new(Task {
            f: Some(f),
            outcome: None,
            slot: Arc::clone(&slot),
        });
        match self.handle.shared.submit_job(job) {
            Ok(()) => Ok(TaskHandle {
                slot,
                clock: self.handle.shared.clock.clone(),
            }),
            Err((rejected, job)) => {
                drop(job);
                Err(rejected)
            }
        }
    }

    /// Queues a type-erased job (the time limiter's calls); `Err` gives it back unrun.
    pub(crate) fn submit_job(&self, job: Box<dyn Job>) -> Result<(), (PoolRejected, Box<dyn Job>)> {
        self.handle.shared.submit_job(job)
    }

    /// Shuts the pool down and waits until every worker has exited (running tasks finish;
    /// queued ones run with [`ShutdownMode::Drain`], are cancelled with
    /// [`ShutdownMode::Cancel`]). Submissions are refused from now on. Called from one of
    /// the pool's own tasks, it waits for the other workers only.
    ///
    /// ```
    /// use breakwater::{ShutdownMode, ThreadPool};
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let h = pool.submit(|| 1).unwrap();
    /// let report = pool.shutdown(ShutdownMode::Drain);
    /// assert!(report.terminated);
    /// assert_eq!(h.join(), Ok(1));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn shutdown(&self, mode: ShutdownMode) -> ShutdownReport {
        self.handle.shared.shutdown(mode, None)
    }

    /// Like [`ThreadPool::shutdown`], but waits at most `timeout` (on the pool's clock) and
    /// reports the workers still busy then.
    ///
    /// ```
    /// use breakwater::{ShutdownMode, ThreadPool};
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let report = pool.shutdown_timeout(ShutdownMode::Cancel, std::time::Duration::from_secs(1));
    /// assert!(report.terminated);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn shutdown_timeout(&self, mode: ShutdownMode, timeout: Duration) -> ShutdownReport {
        let shared = &self.handle.shared;
        let deadline = shared.clock.deadline_after(timeout);
        shared.shutdown(mode, Some((deadline, &shared.clock)))
    }

    /// Like [`ThreadPool::shutdown_timeout`], but waits at most `wait` of real time (on
    /// the monotonic clock, whatever the pool's clock), as dropping the last handle does.
    /// For the C ABI's `_free` functions.
    #[cfg_attr(not(feature = "ffi"), allow(dead_code, reason = "used by the C ABI"))]
    pub(crate) fn shutdown_real_time(&self, mode: ShutdownMode, wait: Duration) -> ShutdownReport {
        let clock = Clock::monotonic();
        let deadline = clock.deadline_after(wait);
        self.handle.shared.shutdown(mode, Some((deadline, &clock)))
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().workers(1).build()?;
    /// pool.submit(|| ()).unwrap().join().unwrap();
    /// let m = pool.metrics();
    /// assert_eq!((m.spawned, m.completed), (1, 1));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn metrics(&self) -> PoolMetrics {
        let shared = &self.handle.shared;
        let st = shared.monitor.lock();
        PoolMetrics {
            workers: shared.config.workers,
            spawned: st.spawned,
            busy: st.busy,
            queue_depth: u32::try_from(st.queue.len()).unwrap_or(u32::MAX),
            queue_capacity: shared.config.queue_capacity,
            rejected: st.rejected,
            completed: st.completed,
            panicked: st.panicked,
            cancelled: st.cancelled,
            peak_queue: st.peak_queue,
        }
    }
}

/// The handle of a submitted task: wait for its outcome. Dropping it detaches the task
/// (it still runs, and still counts in the pool's metrics).
///
/// # Examples
///
/// ```
/// use breakwater::{TaskError, ThreadPool};
/// let pool = ThreadPool::builder().workers(1).build()?;
/// let h = pool.submit(|| -> u8 { panic!("bad input") }).unwrap();
/// assert_eq!(h.join(), Err(TaskError::Panicked("bad input".into())));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub struct TaskHandle<T> {
    slot: SlotRef<T>,
    clock: Clock,
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*self.slot.lock() {
            Slot::Pending => "pending",
            Slot::Ready(_) => "ready",
            Slot::Taken => "taken",
        };
        f.debug_struct("TaskHandle").field("state", &state).finish()
    }
}

impl<T: Send + 'static> TaskHandle<T> {
    /// Waits for the outcome.
    ///
    /// # Errors
    ///
    /// [`TaskError::Panicked`], [`TaskError::Cancelled`], or
    /// [`TaskError::AlreadyJoined`] after a successful [`TaskHandle::join_timeout`].
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().build()?;
    /// assert_eq!(pool.submit(|| "done").unwrap().join(), Ok("done"));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn join(self) -> Result<T, TaskError> {
        let mut g = self.slot.lock();
        loop {
            if let Some(outcome) = take(&mut g) {
                return outcome;
            }
            g = self.slot.wait(g);
        }
    }

    /// Waits at most `timeout` (on the pool's clock) for the outcome.
    ///
    /// # Errors
    ///
    /// As [`TaskHandle::join`], plus [`TaskError::TimedOut`] (the handle stays usable).
    ///
    /// ```
    /// use breakwater::{TaskError, ThreadPool};
    /// let pool = ThreadPool::builder().build()?;
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let mut h = pool.submit(move || rx.recv().is_ok()).unwrap();
    /// assert_eq!(h.join_timeout(std::time::Duration::from_millis(1)), Err(TaskError::TimedOut));
    /// tx.send(()).unwrap();
    /// assert_eq!(h.join(), Ok(true));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<T, TaskError> {
        let deadline = self.clock.deadline_after(timeout);
        self.join_deadline(deadline)
    }

    /// Waits until `deadline` (on the pool's clock) at the latest for the outcome.
    ///
    /// # Errors
    ///
    /// As [`TaskHandle::join_timeout`].
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().build()?;
    /// let mut h = pool.submit(|| 5).unwrap();
    /// let far = pool.clock().now() + std::time::Duration::from_secs(60);
    /// assert_eq!(h.join_deadline(far), Ok(5));
    /// assert_eq!(h.join_deadline(far), Err(breakwater::TaskError::AlreadyJoined));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn join_deadline(&mut self, deadline: Instant) -> Result<T, TaskError> {
        let mut g = self.slot.lock();
        loop {
            if let Some(outcome) = take(&mut g) {
                return outcome;
            }
            let (g2, result) = self.clock.wait_until(&self.slot, g, deadline);
            g = g2;
            if result.timed_out() {
                return take(&mut g).unwrap_or(Err(TaskError::TimedOut));
            }
        }
    }

    /// Waits for the outcome at most `timeout` (none: forever) on the pool's clock,
    /// giving up early (`None`) when `cancel` is cancelled; the task goes on either way.
    /// For the C ABI's `bw_task_join`.
    #[cfg_attr(not(feature = "ffi"), allow(dead_code, reason = "used by the C ABI"))]
    pub(crate) fn join_cancellable(
        &mut self,
        timeout: Option<Duration>,
        cancel: Option<&CancelToken>,
    ) -> Option<Result<T, TaskError>> {
        let deadline = timeout.map(|t| self.clock.deadline_after(t));
        // Registered before the flag is checked under the slot's lock: no lost wake-up.
        let _wake = cancel.map(|t| t.wake_on_cancel(&self.slot));
        let mut g = self.slot.lock();
        loop {
            if let Some(outcome) = take(&mut g) {
                return Some(outcome);
            }
            if cancel.is_some_and(CancelToken::is_cancelled) {
                return None;
            }
            match deadline {
                None => g = self.slot.wait(g),
                Some(d) => {
                    let (g2, result) = self.clock.wait_until(&self.slot, g, d);
                    g = g2;
                    if result.timed_out() {
                        return Some(take(&mut g).unwrap_or(Err(TaskError::TimedOut)));
                    }
                }
            }
        }
    }

    /// `true` once the task has an outcome (done, panicked or cancelled).
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().build()?;
    /// let mut h = pool.submit(|| ()).unwrap();
    /// h.join_timeout(std::time::Duration::from_secs(5)).unwrap();
    /// assert!(h.is_finished());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        !matches!(*self.slot.lock(), Slot::Pending)
    }
}

/// The outcome, if there is one (`Pending`: `None`; already taken: `AlreadyJoined`).
fn take<T>(slot: &mut Slot<T>) -> Option<Result<T, TaskError>> {
    match std::mem::replace(slot, Slot::Taken) {
        Slot::Pending => {
            *slot = Slot::Pending;
            None
        }
        Slot::Ready(outcome) => Some(outcome),
        Slot::Taken => Some(Err(TaskError::AlreadyJoined)),
    }
}

impl Registry {
    /// The thread pool registered as `name`, built from the registry's default
    /// [`PoolConfig`] (or [`PoolConfig::default`]) on first use, named `name`.
    ///
    /// # Errors
    ///
    /// The build's [`ConfigError`] when the default configuration is invalid.
    ///
    /// ```
    /// let r = breakwater::Registry::new();
    /// let pool = r.thread_pool("analytics")?;
    /// assert_eq!(pool.name(), "analytics");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn thread_pool(&self, name: &str) -> Result<ThreadPool, ConfigError> {
        self.get_or_build_exported(PolicyKind::ThreadPool, name, None, |c: &PoolConfig| {
            ThreadPool::from_config(PoolConfig {
                name: name.to_owned(),
                ..c.clone()
            })
        })
    }

    /// The thread pool registered as `name`, built from `config` on first use. The
    /// registry's name wins over `config.name`, which is not compared.
    ///
    /// # Errors
    ///
    /// The build's [`ConfigError`], or one naming `name` when the pool exists with a
    /// different configuration.
    ///
    /// ```
    /// use breakwater::{Registry, PoolConfig};
    /// let r = Registry::new();
    /// let payments = r.thread_pool_with("payments", PoolConfig { workers: 10, ..Default::default() })?;
    /// let email = r.thread_pool_with("email", PoolConfig { workers: 5, ..Default::default() })?;
    /// assert_eq!((payments.metrics().workers, email.metrics().workers), (10, 5));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn thread_pool_with(
        &self,
        name: &str,
        config: PoolConfig,
    ) -> Result<ThreadPool, ConfigError> {
        let config = PoolConfig {
            name: String::new(),
            ..config
        };
        self.get_or_build_exported(
            PolicyKind::ThreadPool,
            name,
            Some(config),
            |c: &PoolConfig| {
                ThreadPool::from_config(PoolConfig {
                    name: name.to_owned(),
                    ..c.clone()
                })
            },
        )
    }
}

#[cfg(all(test, breakwater_loom))]
mod loom_tests {
    use super::*;

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(f);
    }

    fn pool(workers: u32, queue: u32) -> ThreadPool {
        ThreadPool::builder()
            .workers(workers)
            .queue_capacity(queue)
            .drop_wait(Duration::ZERO)
            .build()
            .unwrap()
    }

    #[test]
    fn loom_drain_runs_every_queued_task() {
        model(|| {
            let pool = pool(1, 2);
            let a = pool.submit(|| 1).unwrap();
            let b = pool.submit(|| 2).unwrap();
            let report = pool.shutdown(ShutdownMode::Drain);
            assert!(report.terminated);
            assert_eq!((a.join(), b.join()), (Ok(1), Ok(2)));
            let m = pool.metrics();
            assert_eq!(
                (m.completed, m.cancelled, m.busy, m.queue_depth),
                (2, 0, 0, 0)
            );
        });
    }

    #[test]
    fn loom_cancel_gives_every_task_one_outcome() {
        model(|| {
            let pool = pool(1, 1);
            let a = pool.submit(|| 1).unwrap();
            let b = pool.submit(|| 2).unwrap();
            let report = pool.shutdown(ShutdownMode::Cancel);
            assert!(report.terminated);
            let outcomes = [a.join(), b.join()];
            let done = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
            let cancelled = outcomes
                .iter()
                .filter(|o| **o == Err(TaskError::Cancelled))
                .count() as u64;
            assert_eq!(done + cancelled, 2);
            let m = pool.metrics();
            assert_eq!((m.completed, m.cancelled), (done, cancelled));
            assert_eq!(report.cancelled, cancelled);
        });
    }

    #[test]
    fn loom_submit_racing_shutdown_is_accepted_or_refused() {
        model(|| {
            let pool = pool(1, 1);
            let p2 = pool.clone();
            let submitter = loom::thread::spawn(move || p2.submit(|| 7).map(TaskHandle::join));
            let report = pool.shutdown(ShutdownMode::Cancel);
            assert!(report.terminated);
            match submitter.join().unwrap() {
                Ok(outcome) => assert!(outcome == Ok(7) || outcome == Err(TaskError::Cancelled)),
                Err(rejected) => assert_eq!(rejected.reason(), RejectReason::Shutdown),
            }
            let m = pool.metrics();
            assert_eq!(m.completed + m.cancelled + m.rejected, 1);
        });
    }
}
