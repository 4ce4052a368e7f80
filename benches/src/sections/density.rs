//! Density: N hello-http groups on one platform (10,000 in the full run): the create rate
//! (first PUT until the last is `Running`), memory per group (the platform's PSS over N,
//! less what it held with one group), and a sample of them still answering. Beside K
//! `wasmtime serve` processes started at once: their start rate and PSS per process.

use super::{each, startup::CONCURRENCY};
use crate::Ctx;
use crate::peers;
use crate::probe::{self, Pace};
use crate::report::{Better::*, Report};
use crate::waci::{self, PORT};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

const S: &str = "density";
const TIMEOUT: Duration = Duration::from_secs(3600);
const MIB: f64 = 1024.0 * 1024.0;

pub async fn run(ctx: &Ctx, r: &mut Report) -> anyhow::Result<()> {
    let n = ctx.sizes.density;
    let w = ctx.start_waci("density").await?;
    w.put("warm", &waci::http_group(None)).await?;
    w.wait_state("warm", "Running", TIMEOUT, Duration::ZERO)
        .await?;
    let base = w.pss().unwrap_or(0);

    eprintln!("creating {n} groups, {CONCURRENCY} at a time");
    let t = Instant::now();
    let ips: Vec<Ipv4Addr> = each(n, CONCURRENCY, |i| {
        let w = &w;
        async move {
            let g = w.put(&format!("d-{i:05}"), &waci::http_group(None)).await?;
            if (i + 1).is_multiple_of(1000) {
                eprintln!("  {} PUTs after {:.0} s", i + 1, t.elapsed().as_secs_f64());
            }
            waci::ip_of(&g)
        }
    })
    .await?;
    let puts = t.elapsed();
    each(n, CONCURRENCY, |i| {
        let w = &w;
        async move {
            w.wait_state(
                &format!("d-{i:05}"),
                "Running",
                TIMEOUT,
                Duration::from_millis(5),
            )
            .await
        }
    })
    .await?;
    let running = t.elapsed();
    let sample = ctx.sizes.density_sample.min(n).max(1);
    let answered = each(sample, CONCURRENCY, |j| {
        let ip = ips[j * n / sample];
        async move {
            let addr = SocketAddr::from((ip, PORT));
            Ok(probe::until_200(
                addr,
                Instant::now(),
                Pace::Millisecond,
                Duration::from_secs(10),
            )
            .await
            .is_ok())
        }
    })
    .await?
    .into_iter()
    .filter(|ok| *ok)
    .count();
    // Read after the sample answered, as the peers' is read after each answered once.
    let total = w.pss().unwrap_or(0);
    let per_group = total.saturating_sub(base) as f64 / n as f64;
    drop(w);

    let k = ctx.sizes.density_peers;
    eprintln!("peer: {k} wasmtime serve processes");
    let (peer_rate, peer_pss) = peer(ctx, k).await?;

    r.add(
        S,
        format!("groups/s, PUT → all {n} Running"),
        "/s",
        Higher,
        Some(n as f64 / running.as_secs_f64()),
        Some(peer_rate),
    );
    r.add(
        S,
        "memory per group (PSS)",
        "KiB",
        Lower,
        Some(per_group / 1024.0),
        Some(peer_pss / 1024.0),
    );
    r.add(
        S,
        format!("memory for {n} groups (peer: per process × {n})"),
        "GiB",
        Lower,
        Some(total as f64 / MIB / 1024.0),
        Some(peer_pss * n as f64 / MIB / 1024.0),
    );
    r.add(
        S,
        format!("sample answering 200 (of {sample})"),
        "",
        Higher,
        Some(answered as f64),
        None,
    );
    r.peer(
        S,
        format!(
            "{k} `wasmtime serve` processes (one per app) on the precompiled hello-http started at once \
             (rate: spawn until all answer 200; memory: PSS summed over them, per process; {n} of \
             them would need {:.0} GiB)",
            peer_pss * n as f64 / MIB / 1024.0
        ),
    );
    r.note(format!(
        "density: {n} groups created {CONCURRENCY} at a time; PUTs alone took {:.1} s ({:.0}/s); \
         platform PSS {:.0} MiB with one group, {:.0} MiB with {n} more",
        puts.as_secs_f64(),
        n as f64 / puts.as_secs_f64(),
        base as f64 / MIB,
        total as f64 / MIB
    ));
    Ok(())
}

/// Starts `k` `wasmtime serve` processes at once; (processes per second until all answer,
/// PSS per process in bytes).
async fn peer(ctx: &Ctx, k: usize) -> anyhow::Result<(f64, f64)> {
    let mut addrs = Vec::with_capacity(k);
    for _ in 0..k {
        addrs.push(SocketAddr::from(([127, 0, 0, 1], peers::free_port()?)));
    }
    let t = Instant::now();
    let mut procs = Vec::with_capacity(k);
    for a in &addrs {
        procs.push(ctx.wasmtime.serve(&ctx.hello_http_cwasm, *a, false)?);
    }
    let addrs = &addrs;
    let waited = each(k, CONCURRENCY, |i| {
        probe::until_200(addrs[i], t, Pace::Millisecond, Duration::from_secs(120))
    })
    .await;
    let took = t.elapsed();
    // Each has answered one request, as the sampled groups have.
    let pss: u64 = procs
        .iter()
        .filter_map(|p| p.child.id().and_then(waci::pss))
        .sum();
    for p in &mut procs {
        let _ = p.child.kill().await;
    }
    waited?;
    Ok((k as f64 / took.as_secs_f64(), pss as f64 / k as f64))
}
