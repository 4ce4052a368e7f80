//! CPU for guests: where guest code runs, how the cores are shared among containers, and how
//! a container's `limits.cpu` caps it (DESIGN.md §4, ARCHITECTURE.md "CPU").
//!
//! - **Where.** Guest code runs on a tokio runtime of its own (the *guest pool*), whose
//!   threads run at a lower OS priority than the platform's: a spinning guest cannot delay
//!   the platform's I/O, control API, DNS or front door, since the kernel runs the platform's
//!   threads first whenever they have work. The one exception is the first slice of a
//!   service request, run inline on its connection's task so a small request answers with no
//!   hop between threads; whatever is left of the request after that slice moves to the pool.
//! - **Shares.** A guest runs only while it holds one of the scheduler's *slots*, one per
//!   pool thread, for one slice at a time (a slice ends at the next epoch tick, or earlier
//!   when the guest waits for I/O). A run that yielded at the end of its slice queues again
//!   as it gives its slot back, and a freed slot goes to the queued run whose container has
//!   the least *virtual runtime*: the CPU it has used divided by its `requests.cpu`, as
//!   Linux's CFS does with its shares. So under contention containers get cores in
//!   proportion to their requests, per container however many instances it runs; without
//!   contention every guest runs at once. A container that waited (a service between
//!   requests) is placed a little ahead of the least-run container ([`WAKE_CREDIT`]), not
//!   ahead by all the time it slept, so it gets the next slot but no long monopoly. When it
//!   finds every slot held by containers that have run longer, its slice runs at once
//!   without a slot, beside them, as CFS preempts for a task that woke: a quiet service's
//!   request runs on its connection's platform thread the moment it arrives, however many
//!   spinners hold the slots, and the kernel runs that thread before theirs.
//! - **Limits.** `limits.cpu` is a bandwidth: per period of [`PERIOD`], a container's guests
//!   may run `limit × PERIOD` in all; once they have, each of its slices waits for the next
//!   period (throttled, never killed). The throttled time is counted in its stats, and the
//!   first throttle is reported once through the container's `on_throttle`.
//!
//! CPU time is the thread's own CPU clock around each slice, so a thread the kernel took
//! away mid-slice does not charge its container for the wait.

use super::stats::ContainerStats;
use futures::task::AtomicWaker;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The window of a CPU limit: per period, a container runs at most `limit × PERIOD`.
/// 100 ms, as Linux's CFS bandwidth control.
pub const PERIOD: Duration = Duration::from_millis(100);

/// How far ahead of the least-run container a container that waited is placed, in virtual
/// nanoseconds: enough to win the next slot, not enough to hold the cores for long.
const WAKE_CREDIT: u64 = 3_000_000;

/// How far behind every running slice's container one must be for its slice to run without
/// a slot (1 ms of virtual runtime): a container that waited gets in at once; spinners of
/// like weight never do.
const BORROW_MARGIN: u64 = 1_000_000;

/// Niceness of the guest pool's threads: with the platform's threads at 0, the kernel gives
/// the platform about nine tenths of a contended core whenever it has work, and preempts a
/// guest thread as soon as a platform thread wakes.
pub(super) const GUEST_NICE: libc::c_int = 10;

/// The guest pool and its slots. One per engine.
pub struct Scheduler {
    pool: Pool,
    state: Mutex<State>,
    /// Slices run without a slot so far (see the module's doc).
    pub borrowed: AtomicU64,
}

/// The guest runtime, shut down without waiting when the scheduler goes (a runtime may not
/// be dropped from an async context, which is where the last engine handle often goes).
struct Pool {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[derive(Default)]
struct State {
    free: usize,
    /// The least virtual runtime of the containers running or waiting; only grows.
    min_vruntime: u64,
    /// Waiting slices, the least virtual runtime first (ties: first come).
    waiting: BTreeMap<(u64, u64), Arc<Waiter>>,
    /// The virtual runtimes the running slices were granted at, by ticket.
    running: Vec<(u64, u64)>,
    next_ticket: u64,
}

impl State {
    /// `share`'s virtual runtime for its next slice: no further ahead than a little before
    /// the least-run container, as the time it spent waiting for I/O or for requests is not
    /// a credit to spend all at once.
    fn placed(&self, share: &Share) -> u64 {
        let floor = self.min_vruntime.saturating_sub(WAKE_CREDIT);
        let key = share.vruntime.load(Relaxed).max(floor);
        share.vruntime.fetch_max(key, Relaxed);
        key
    }

    fn ticket(&mut self) -> u64 {
        self.next_ticket += 1;
        self.next_ticket
    }

    fn enqueue(&mut self, key: u64) -> Place {
        let waiter = Arc::new(Waiter {
            granted: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        let ticket = self.ticket();
        self.waiting.insert((key, ticket), waiter.clone());
        (waiter, (key, ticket))
    }

    /// The least virtual runtime among the running and the waiting, never going back: where
    /// a container that waited is placed from.
    fn advance_min(&mut self) {
        let running = self.running.iter().map(|&(_, v)| v).min();
        let waiting = self.waiting.first_key_value().map(|(&(v, _), _)| v);
        if let Some(least) = running.into_iter().chain(waiting).min() {
            self.min_vruntime = self.min_vruntime.max(least);
        }
    }
}

struct Waiter {
    granted: AtomicBool,
    waker: AtomicWaker,
}

/// A place in the queue: the waiter and its key (virtual runtime, ticket).
type Place = (Arc<Waiter>, (u64, u64));

/// The waker a run's slice is polled with: it tells whether the run woke itself during the
/// slice (it yielded at the end of its slice and is runnable at once) rather than waiting for
/// I/O, and passes every wake on to the task's own waker.
#[derive(Default)]
struct SliceWaker {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl std::task::Wake for SliceWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Relaxed);
        self.task.wake();
    }
}

impl Scheduler {
    /// A guest pool of `threads` threads (at least one), with as many slots.
    pub fn new(threads: usize) -> std::io::Result<Arc<Scheduler>> {
        let threads = threads.max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("waci-guest")
            .on_thread_start(lower_priority)
            // A slice ends at the next tick; the pool's own I/O (guests' outgoing requests)
            // and its queue of newly spawned runs are checked between slices.
            .event_interval(1)
            .global_queue_interval(1)
            .enable_all()
            .build()?;
        Ok(Arc::new(Scheduler {
            pool: Pool {
                handle: runtime.handle().clone(),
                runtime: Some(runtime),
            },
            state: Mutex::new(State {
                free: threads,
                ..State::default()
            }),
            borrowed: AtomicU64::new(0),
        }))
    }

    /// Runs `run` on the guest pool.
    pub fn spawn<F>(&self, run: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.pool.handle.spawn(run)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slice for `share` now, or its place in the queue for the next slot.
    fn start_slice(&self, share: &Share) -> Start {
        let mut s = self.lock();
        let key = s.placed(share);
        if s.free > 0 && s.waiting.is_empty() {
            s.free -= 1;
            let ticket = s.ticket();
            s.running.push((ticket, key));
            s.advance_min();
            return Start::Slot(ticket);
        }
        // Behind every running slice's container: it runs now, beside them (the kernel runs
        // its thread first if it is the platform's), rather than wait a slice for a slot.
        if s.free == 0
            && s.running
                .iter()
                .all(|&(_, v)| key.saturating_add(BORROW_MARGIN) < v)
        {
            self.borrowed.fetch_add(1, Relaxed);
            return Start::Borrowed;
        }
        let place = s.enqueue(key);
        Self::grant_next(&mut s);
        Start::Queued(place)
    }

    /// A slice is over: its slot (if it held one) goes back, and if its run is still
    /// runnable (it yielded at the end of its slice) it queues again in the same step, so
    /// the slot goes to whoever has the least virtual runtime, itself included.
    fn finish(&self, ticket: Option<u64>, requeue: Option<&Share>) -> Option<Place> {
        let mut s = self.lock();
        if let Some(ticket) = ticket {
            s.running.retain(|&(t, _)| t != ticket);
            s.free += 1;
        }
        let place = requeue.map(|share| {
            let key = s.placed(share);
            s.enqueue(key)
        });
        Self::grant_next(&mut s);
        place
    }

    /// Gives a free slot to the first waiter, if there are both.
    fn grant_next(s: &mut State) {
        if s.free == 0 {
            return;
        }
        if let Some(((key, ticket), waiter)) = s.waiting.pop_first() {
            s.free -= 1;
            s.running.push((ticket, key));
            s.advance_min();
            waiter.granted.store(true, Relaxed);
            waiter.waker.wake();
        }
    }

    /// A waiting slice went away: out of the queue, or, if it had just been granted its
    /// slot, the slot to the next.
    fn abandon(&self, waiter: &Waiter, key: (u64, u64)) {
        let mut s = self.lock();
        if s.waiting.remove(&key).is_none() && waiter.granted.load(Relaxed) {
            s.running.retain(|&(t, _)| t != key.1);
            s.free += 1;
            Self::grant_next(&mut s);
        }
    }
}

/// How a slice may start.
enum Start {
    /// With a slot, by its ticket.
    Slot(u64),
    /// Without one: the container is far behind every running one.
    Borrowed,
    /// Later: its place in the queue.
    Queued(Place),
}

/// Lowers the calling thread's priority to [`GUEST_NICE`] (Linux sets niceness per thread).
fn lower_priority() {
    set_nice(GUEST_NICE);
}

/// Sets the calling thread's niceness (Linux sets it per thread); a failure leaves it as is.
pub(super) fn set_nice(nice: libc::c_int) {
    // SAFETY: plain system calls on the calling thread.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice);
    }
}

/// The CPU time of the calling thread, in nanoseconds.
pub fn thread_cpu_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; the clock exists on every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// One container's claim on the cores: its weight (`requests.cpu`), its limit, and the CPU
/// its guests have used, shared by every instance of the container.
pub struct Share {
    scheduler: Arc<Scheduler>,
    /// `requests.cpu` in thousandths of a core (at least 1).
    weight: u64,
    limit: Option<Bandwidth>,
    /// CPU used divided by the weight, in virtual nanoseconds (see the module's doc).
    vruntime: AtomicU64,
    stats: Arc<ContainerStats>,
    /// Told once, the first time the container is throttled.
    on_throttle: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

/// A container's CPU limit as a bandwidth per [`PERIOD`].
struct Bandwidth {
    quota: Duration,
    /// The current period's start and the CPU used in it.
    period: Mutex<(Instant, Duration)>,
}

impl Share {
    /// A claim of `request` cores, capped at `limit` cores if given.
    pub fn new(
        scheduler: Arc<Scheduler>,
        request: f64,
        limit: Option<f64>,
        stats: Arc<ContainerStats>,
    ) -> Arc<Share> {
        let weight = (request * 1000.0).round().max(1.0) as u64;
        let limit = limit.filter(|l| *l > 0.0).map(|l| Bandwidth {
            quota: PERIOD.mul_f64(l),
            period: Mutex::new((Instant::now(), Duration::ZERO)),
        });
        Arc::new(Share {
            scheduler,
            weight,
            limit,
            vruntime: AtomicU64::new(0),
            stats,
            on_throttle: Mutex::new(None),
        })
    }

    /// Calls `f` the first time the container is throttled.
    pub fn on_throttle(&self, f: impl FnOnce() + Send + 'static) {
        *self.on_throttle.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    /// Charges one slice of `nanos`; returns how long the container must now wait if that
    /// used up its quota for the period.
    fn charge(&self, nanos: u64) -> Option<Duration> {
        self.stats.add_cpu_nanos(nanos);
        self.vruntime
            .fetch_add(nanos.saturating_mul(1000) / self.weight, Relaxed);
        let limit = self.limit.as_ref()?;
        let mut period = limit.period.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        // Each period that began since refills the quota; what a slice ran over its quota is
        // owed to the next period, so over time the container gets its limit, not its limit
        // plus a slice per period.
        let passed = now.saturating_duration_since(period.0).as_nanos() / PERIOD.as_nanos();
        if passed > 0 {
            let passed = u32::try_from(passed).unwrap_or(u32::MAX);
            period.0 += PERIOD.saturating_mul(passed);
            period.1 = period.1.saturating_sub(limit.quota.saturating_mul(passed));
        }
        period.1 += Duration::from_nanos(nanos);
        if period.1 < limit.quota {
            return None;
        }
        // Until the period in which the debt is paid off begins.
        let owed =
            u32::try_from(period.1.as_nanos() / limit.quota.as_nanos().max(1)).unwrap_or(u32::MAX);
        let wait = (period.0 + PERIOD.saturating_mul(owed)).saturating_duration_since(now);
        drop(period);
        if wait.is_zero() {
            return None;
        }
        self.stats.add_throttled(wait);
        if let Some(f) = self
            .on_throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            f();
        }
        Some(wait)
    }

    /// `run`, each of whose polls (a slice of guest code) waits for a slot of the scheduler
    /// and is charged to this container.
    pub fn gate<F: Future + Unpin>(self: &Arc<Self>, run: F) -> Gated<F> {
        Gated {
            run,
            share: Some(self.clone()),
            stats: self.stats.clone(),
            place: None,
            throttled: None,
            slices: 0,
            waker: None,
        }
    }
}

/// A guest's run whose slices are scheduled by a [`Share`] (or, without one, only counted).
/// The run is `Unpin` (boxed by its caller): a run lives as long as an instance, one box
/// per run is nothing beside it.
pub struct Gated<F> {
    run: F,
    share: Option<Arc<Share>>,
    stats: Arc<ContainerStats>,
    /// Waiting for a slot: the place in the queue.
    place: Option<Place>,
    throttled: Option<Pin<Box<tokio::time::Sleep>>>,
    slices: u64,
    /// The waker its slices are polled with, made at the first slice.
    waker: Option<(Arc<SliceWaker>, Waker)>,
}

impl<F: Future + Unpin> Gated<F> {
    /// `run`, with the time of each poll counted into `stats` and no scheduling: for runs
    /// outside any scheduler (a core test).
    pub fn ungated(run: F, stats: Arc<ContainerStats>) -> Gated<F> {
        Gated {
            run,
            share: None,
            stats,
            place: None,
            throttled: None,
            slices: 0,
            waker: None,
        }
    }

    /// Slices run so far: 0 while the run still waits for its first slot.
    pub fn slices(&self) -> u64 {
        self.slices
    }
}

impl<F: Future + Unpin> Future for Gated<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if let Some(sleep) = this.throttled.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.throttled = None;
        }
        let Some(share) = this.share.clone() else {
            let start = thread_cpu_nanos();
            let out = Pin::new(&mut this.run).poll(cx);
            this.stats
                .add_cpu_nanos(thread_cpu_nanos().saturating_sub(start));
            this.slices += 1;
            return out;
        };
        let scheduler = &share.scheduler;
        let start = match this.place.take() {
            Some(place) => Start::Queued(place),
            None => scheduler.start_slice(&share),
        };
        let ticket = match start {
            Start::Slot(ticket) => Some(ticket),
            Start::Borrowed => None,
            Start::Queued((waiter, key)) => {
                waiter.waker.register(cx.waker());
                if !waiter.granted.load(Relaxed) {
                    this.place = Some((waiter, key));
                    return Poll::Pending;
                }
                Some(key.1)
            }
        };
        // The slice, polled with a waker that tells a yield from a wait.
        let slice_waker = this.waker.get_or_insert_with(|| {
            let w = Arc::new(SliceWaker::default());
            (w.clone(), Waker::from(w))
        });
        slice_waker.0.task.register(cx.waker());
        slice_waker.0.woken.store(false, Relaxed);
        let start = thread_cpu_nanos();
        let out = Pin::new(&mut this.run).poll(&mut Context::from_waker(&slice_waker.1));
        let used = thread_cpu_nanos().saturating_sub(start);
        let yielded = slice_waker.0.woken.load(Relaxed);
        this.slices += 1;
        let throttle = share.charge(used);
        let requeue = out.is_pending() && yielded && throttle.is_none();
        this.place = scheduler.finish(ticket, requeue.then_some(&*share));
        if let Some(place) = &this.place {
            place.0.waker.register(cx.waker());
        }
        if let Some(wait) = throttle
            && out.is_pending()
        {
            let mut sleep = Box::pin(tokio::time::sleep(wait));
            // Registers the wake-up; the run goes on once the period is over.
            let _ = sleep.as_mut().poll(cx);
            this.throttled = Some(sleep);
        }
        out
    }
}

impl<F> Drop for Gated<F> {
    fn drop(&mut self) {
        if let (Some((waiter, key)), Some(share)) = (self.place.take(), self.share.as_ref()) {
            share.scheduler.abandon(&waiter, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that burns about `slice` of its thread's CPU per poll and yields, forever.
    fn burner(slice: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(std::future::poll_fn(move |cx| {
            let start = thread_cpu_nanos();
            while thread_cpu_nanos() - start < slice.as_nanos() as u64 {
                std::hint::spin_loop();
            }
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        }))
    }

    /// Runs one burner per share on the scheduler's pool for `time`; the CPU each got.
    async fn contend(
        scheduler: &Arc<Scheduler>,
        shares: &[Arc<Share>],
        time: Duration,
    ) -> Vec<f64> {
        let tasks: Vec<_> = shares
            .iter()
            .map(|s| scheduler.spawn(s.gate(burner(Duration::from_millis(1)))))
            .collect();
        tokio::time::sleep(time).await;
        for t in &tasks {
            t.abort();
        }
        shares.iter().map(|s| s.stats.cpu_seconds()).collect()
    }

    #[tokio::test]
    async fn one_slot_is_shared_in_proportion_to_requests() {
        let scheduler = Scheduler::new(1).unwrap();
        let share = |request| Share::new(scheduler.clone(), request, None, Arc::default());
        let shares = [share(1.0), share(1.0), share(0.5)];
        let got = contend(&scheduler, &shares, Duration::from_millis(900)).await;
        let [a, b, half] = got[..] else {
            unreachable!()
        };
        assert!(a > 0.0 && b > 0.0 && half > 0.0, "{got:?}");
        assert!((a - b).abs() <= 0.1 * a.max(b), "equal requests: {got:?}");
        let ratio = half / ((a + b) / 2.0);
        assert!(
            (0.4..=0.6).contains(&ratio),
            "half the request: {got:?} ({ratio:.2})"
        );
    }

    #[tokio::test]
    async fn a_limit_throttles_and_is_told_once() {
        let scheduler = Scheduler::new(2).unwrap();
        let told = Arc::new(AtomicU64::new(0));
        // A fiftieth of a core: 2 ms per period, two of the burner's slices, so it is
        // throttled in any period it runs at all, however little CPU a loaded machine gives
        // the pool's (niced) threads.
        let limited = Share::new(scheduler.clone(), 0.02, Some(0.02), Arc::default());
        let counter = told.clone();
        limited.on_throttle(move || {
            counter.fetch_add(1, Relaxed);
        });
        let free = Share::new(scheduler.clone(), 1.0, None, Arc::default());
        let started = Instant::now();
        let got = contend(
            &scheduler,
            &[limited.clone(), free.clone()],
            Duration::from_millis(700),
        )
        .await;
        let elapsed = started.elapsed().as_secs_f64();
        // An upper bound: a busy machine can only give it less.
        assert!(got[0] <= 0.02 * elapsed + 0.01, "{got:?} in {elapsed:.3} s");
        let (waited, throttles) = limited.stats.throttled();
        assert!(waited > 0.0 && throttles >= 1, "{waited} {throttles}");
        assert_eq!(told.load(Relaxed), 1);
        assert_eq!(free.stats.throttled(), (0.0, 0));
    }

    #[tokio::test]
    async fn places_given_up_return_their_slots_and_far_behind_runs_borrow() {
        let scheduler = Scheduler::new(1).unwrap();
        let share = || Share::new(scheduler.clone(), 1.0, None, Arc::default());
        let (a, b, c) = (share(), share(), share());
        let slot = |start| match start {
            Start::Slot(t) => t,
            _ => panic!("no slot"),
        };
        let queued = |start| match start {
            Start::Queued(p) => p,
            _ => panic!("not queued"),
        };
        let counts = || {
            let s = scheduler.lock();
            (s.free, s.waiting.len(), s.running.len())
        };
        let t = slot(scheduler.start_slice(&a));
        // b has run as long as a: it waits for the slot, and can give up its place.
        let (waiter, key) = queued(scheduler.start_slice(&b));
        assert_eq!(counts(), (0, 1, 1));
        scheduler.abandon(&waiter, key);
        assert_eq!(counts(), (0, 0, 1));
        // Queued again and granted the slot as a's slice ends, then gone before it ran.
        let (waiter, key) = queued(scheduler.start_slice(&b));
        assert!(scheduler.finish(Some(t), None).is_none());
        assert!(waiter.granted.load(Relaxed));
        assert_eq!(counts(), (0, 0, 1));
        scheduler.abandon(&waiter, key);
        assert_eq!(counts(), (1, 0, 0));

        // a runs on and on; c, which never ran, is far behind it and runs without a slot.
        let t = slot(scheduler.start_slice(&a));
        a.charge(50_000_000);
        let place = scheduler.finish(Some(t), Some(&a)).expect("a queues again");
        assert!(place.0.granted.load(Relaxed), "alone, a gets the slot back");
        assert_eq!(counts(), (0, 0, 1));
        assert!(matches!(scheduler.start_slice(&c), Start::Borrowed));
        assert_eq!(scheduler.borrowed.load(Relaxed), 1);
        assert_eq!(counts(), (0, 0, 1));
    }
}
