//! One module per benchmark of the issue; each measures waci, then its peer, on the same
//! machine, and adds figures to the report.

mod density;
mod kubernetes;
mod languages;
mod logs;
mod names;
mod neighbours;
mod startup;
mod throughput;

use crate::Ctx;
use crate::report::Report;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

type Run =
    for<'a> fn(&'a Ctx, &'a mut Report) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

pub struct Section {
    pub name: &'static str,
    pub run: Run,
}

/// In the order they run: the cheap ones first, so a failure late costs the least.
pub const ALL: &[Section] = &[
    Section {
        name: "startup",
        run: |c, r| Box::pin(startup::run(c, r)),
    },
    Section {
        name: "throughput",
        run: |c, r| Box::pin(throughput::run(c, r)),
    },
    Section {
        name: "languages",
        run: |c, r| Box::pin(languages::run(c, r)),
    },
    Section {
        name: "neighbours",
        run: |c, r| Box::pin(neighbours::run(c, r)),
    },
    Section {
        name: "logs",
        run: |c, r| Box::pin(logs::run(c, r)),
    },
    Section {
        name: "names",
        run: |c, r| Box::pin(names::run(c, r)),
    },
    Section {
        name: "density",
        run: |c, r| Box::pin(density::run(c, r)),
    },
    Section {
        name: "kubernetes",
        run: |c, r| Box::pin(kubernetes::run(c, r)),
    },
];

/// Runs `f(0..n)` with at most `concurrency` calls in flight; the results in index order.
/// The first error ends the run.
pub async fn each<T, F, Fut>(n: usize, concurrency: usize, f: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(n));
    let worker = || async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                return Ok::<_, anyhow::Error>(());
            }
            let v = f(i).await?;
            done.lock().unwrap_or_else(|e| e.into_inner()).push((i, v));
        }
    };
    for r in futures::future::join_all((0..concurrency.max(1)).map(|_| worker())).await {
        r?;
    }
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, v)| v).collect())
}
