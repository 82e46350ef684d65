//! Fan-out: independent calls in parallel on a thread-pool bulkhead under one deadline, each branch with its own pipeline and fallback (graceful degradation). See [`FanOut`].

use std::time::Duration;

use crate::Ctx;
use crate::error::{Error, PolicyKind, RejectReason};
use crate::pool::{TaskError, ThreadPool};

type BranchFn<T, E> = Box<dyn FnOnce(&Ctx) -> Result<T, Error<E>> + Send>;
type BranchFallback<T, E> = Box<dyn FnOnce(&Error<E>) -> T + Send>;

/// One independent call of a [`FanOut`].
///
/// # Examples
///
/// ```
/// use breakwater::{Error, Branch};
/// let branch = Branch::<&str, ()>::new("author", |_ctx| Err(Error::failed(())))
///     .fallback(|_err| "temporary unavailable");
/// assert_eq!(branch.name(), "author");
/// ```
pub struct Branch<T, E> {
    name: String,
    run: BranchFn<T, E>,
    fallback: Option<BranchFallback<T, E>>,
}

impl<T, E> std::fmt::Debug for Branch<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Branch")
            .field("name", &self.name)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl<T, E> Branch<T, E> {
    /// A branch named `name` that runs `run` (typically a pipeline's `call_ctx`).
    ///
    /// ```
    /// let b = breakwater::Branch::<u8, ()>::new("x", |_| Ok(1));
    /// assert_eq!(b.name(), "x");
    /// ```
    pub fn new(
        name: impl Into<String>,
        run: impl FnOnce(&Ctx) -> Result<T, Error<E>> + Send + 'static,
    ) -> Branch<T, E> {
        Branch {
            name: name.into(),
            run: Box::new(run),
            fallback: None,
        }
    }

    /// The answer when the branch fails, is rejected, or misses the deadline: the branch
    /// becomes non-critical. Without one, the error is returned for that branch.
    /// Defaults to no fallback.
    ///
    /// ```
    /// use breakwater::{Error, Branch};
    /// let b = Branch::<u8, ()>::new("x", |_| Err(Error::failed(()))).fallback(|_| 0);
    /// ```
    pub fn fallback(mut self, answer: impl FnOnce(&Error<E>) -> T + Send + 'static) -> Self {
        self.fallback = Some(Box::new(answer));
        self
    }

    /// The branch's name.
    ///
    /// ```
    /// assert_eq!(breakwater::Branch::<(), ()>::new("n", |_| Ok(())).name(), "n");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What one branch of a fan-out gave.
///
/// ```
/// use breakwater::BranchOutcome;
/// let o: BranchOutcome<u8, ()> = BranchOutcome { name: "x".into(), result: Ok(1), degraded: false };
/// assert!(o.result.is_ok());
/// ```
#[derive(Debug)]
pub struct BranchOutcome<T, E> {
    /// The branch's name.
    pub name: String,
    /// Its value (or its fallback's), or its error when it had no fallback.
    pub result: Result<T, Error<E>>,
    /// `true` when the value came from the fallback.
    pub degraded: bool,
}

/// Runs independent branches in parallel on a thread pool under one deadline.
///
/// The total time is the slowest branch (at most the deadline), not the sum. A branch
/// that fails, is rejected, or is still running at the deadline answers with its
/// fallback when it has one (its result is then marked `degraded`); a branch still
/// running at the deadline sees its cancellation flag set and its late result is dropped.
///
/// # Examples
///
/// ```
/// use breakwater::{Ctx, Error, ThreadPool, Branch, FanOut};
/// use std::time::Duration;
///
/// let pool = ThreadPool::builder().name("fan").workers(3).build().unwrap();
/// let fan = FanOut::new(pool, Duration::from_secs(5));
/// let outcomes = fan.run(&Ctx::new(), vec![
///     Branch::<String, &str>::new("presentation", |_| Ok("Rust at scale".to_string())),
///     Branch::new("author", |_| Err(Error::failed("authors down")))
///         .fallback(|_| "temporary unavailable".to_string()),
/// ]);
/// assert_eq!(outcomes[0].result.as_ref().unwrap(), "Rust at scale");
/// assert_eq!(outcomes[1].result.as_ref().unwrap(), "temporary unavailable");
/// assert!(outcomes[1].degraded);
/// ```
#[derive(Debug, Clone)]
pub struct FanOut {
    pool: ThreadPool,
    timeout: Duration,
}

impl FanOut {
    /// A fan-out on `pool` whose branches share a deadline `timeout` from the start of
    /// each [`FanOut::run`] (narrowed by the caller's context deadline).
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().workers(2).build().unwrap();
    /// let fan = breakwater::FanOut::new(pool, std::time::Duration::from_secs(1));
    /// assert_eq!(fan.timeout(), std::time::Duration::from_secs(1));
    /// ```
    pub fn new(pool: ThreadPool, timeout: Duration) -> FanOut {
        FanOut { pool, timeout }
    }

    /// The shared timeout.
    ///
    /// ```
    /// let pool = breakwater::ThreadPool::builder().workers(1).build().unwrap();
    /// assert_eq!(breakwater::FanOut::new(pool, std::time::Duration::ZERO).timeout(), std::time::Duration::ZERO);
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs every branch in parallel and returns their outcomes in the order given, at
    /// the latest at the deadline (on the pool's clock).
    ///
    /// ```
    /// use breakwater::{Ctx, ThreadPool, Branch, FanOut};
    /// let pool = ThreadPool::builder().workers(2).build().unwrap();
    /// let fan = FanOut::new(pool, std::time::Duration::from_secs(1));
    /// let out = fan.run(&Ctx::new(), vec![Branch::<u8, ()>::new("a", |_| Ok(1)), Branch::new("b", |_| Ok(2))]);
    /// assert_eq!(out.iter().map(|o| *o.result.as_ref().unwrap()).sum::<u8>(), 3);
    /// ```
    pub fn run<T, E>(&self, ctx: &Ctx, branches: Vec<Branch<T, E>>) -> Vec<BranchOutcome<T, E>>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let clock = self.pool.clock().clone();
        let own = clock.deadline_after(self.timeout);
        let deadline = ctx.deadline().map_or(own, |d| d.min(own));
        let shared = ctx.with_deadline(deadline);
        let mut started = Vec::with_capacity(branches.len());
        for branch in branches {
            let branch_ctx = shared.with_child_cancel();
            let Branch {
                name,
                run,
                fallback,
            } = branch;
            let task_ctx = branch_ctx.clone();
            let handle = self.pool.submit(move || run(&task_ctx));
            started.push((name, branch_ctx, handle, fallback));
        }
        started
            .into_iter()
            .map(|(name, branch_ctx, handle, fallback)| {
                let result = match handle {
                    Err(rejected) => Err(Error::from(rejected)),
                    Ok(mut handle) => match handle.join_deadline(deadline) {
                        Ok(result) => result,
                        Err(TaskError::TimedOut) => {
                            if let Some(token) = branch_ctx.cancel_token() {
                                token.cancel();
                            }
                            Err(Error::TimedOut {
                                policy: PolicyKind::Pipeline,
                            })
                        }
                        Err(TaskError::Cancelled) => Err(Error::Rejected {
                            policy: PolicyKind::ThreadPool,
                            reason: RejectReason::Shutdown,
                            retry_after: None,
                        }),
                        Err(TaskError::Panicked(message)) => {
                            std::panic::resume_unwind(Box::new(message))
                        }
                        Err(_) => Err(Error::Rejected {
                            policy: PolicyKind::ThreadPool,
                            reason: RejectReason::Shutdown,
                            retry_after: None,
                        }),
                    },
                };
                match (result, fallback) {
                    (Err(e), Some(answer)) => BranchOutcome {
                        name,
                        result: Ok(answer(&e)),
                        degraded: true,
                    },
                    (result, _) => BranchOutcome {
                        name,
                        result,
                        degraded: false,
                    },
                }
            })
            .collect()
    }
}
