//! Start-up: PUT → `Running` for a cached `hello-http` (one at a time, then 16 at a time),
//! PUT → first 200 from the group's IP, and PUT → `Succeeded` for `hello-cli`.
//! Peers: a fresh `wasmtime serve` process on the precompiled component, from spawn to its
//! first 200 (one at a time, then 16 at a time); `wasmtime run` of the precompiled
//! `hello-cli` as a fresh process, timed by hyperfine.

use super::each;
use crate::probe::{self, Pace};
use crate::report::{Better::*, Report};
use crate::stats::Latencies;
use crate::waci::{self, PORT, Waci};
use crate::{Ctx, tools};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Creates in flight at once in the concurrent measurement (the "16 at a time").
pub const CONCURRENCY: usize = 16;
/// A pause between measurements: a supervisor goes on writing events and states after its
/// group is `Running`, and the next measurement should not start behind that queue.
const SETTLE: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(120);

const S: &str = "start-up";

pub async fn run(ctx: &Ctx, r: &mut Report) -> anyhow::Result<()> {
    let sz = &ctx.sizes;
    let w = ctx.start_waci("startup").await?;
    // The first group of each image compiles it; every later one is a cache hit.
    w.put("warm-http", &waci::http_group(None)).await?;
    w.wait_state("warm-http", "Running", TIMEOUT, Duration::ZERO)
        .await?;
    w.put("warm-cli", &waci::cli_group()).await?;
    w.wait_state("warm-cli", "Succeeded", TIMEOUT, Duration::ZERO)
        .await?;

    tokio::time::sleep(SETTLE).await;
    eprintln!("PUT → Running, {} one at a time", sz.creates);
    let (seq, _) = to_state(&w, "seq", sz.creates, 1, "Running").await?;
    tokio::time::sleep(SETTLE).await;
    eprintln!("PUT → Running, {} at {CONCURRENCY} at a time", sz.creates);
    let (conc, conc_took) = to_state(&w, "conc", sz.creates, CONCURRENCY, "Running").await?;
    tokio::time::sleep(SETTLE).await;
    eprintln!("PUT → first 200, {}", sz.first_200);
    let first = each(sz.first_200, 1, |i| {
        let w = &w;
        async move {
            let name = format!("first-{i:05}");
            let t = Instant::now();
            let g = w.put(&name, &waci::http_group(None)).await?;
            let addr = SocketAddr::from((waci::ip_of(&g)?, PORT));
            probe::until_200(addr, t, Pace::Spin, TIMEOUT).await
        }
    })
    .await?;
    tokio::time::sleep(SETTLE).await;
    eprintln!("PUT → Succeeded (hello-cli), {}", sz.cli_runs);
    let (cli, _) = to_state(&w, "cli", sz.cli_runs, 1, "Succeeded").await?;
    drop(w);

    eprintln!("peer: wasmtime serve spawn → first 200, {}", sz.peer_spawns);
    let (peer_seq, _) = spawn_to_200(ctx, sz.peer_spawns, 1).await?;
    let (peer_conc, peer_conc_took) = spawn_to_200(ctx, sz.peer_spawns, CONCURRENCY).await?;
    eprintln!("peer: hyperfine wasmtime run hello-cli, {}", sz.cli_runs);
    let line = ctx.wasmtime.run_line(&ctx.hello_cli_cwasm, &[]);
    let times = tools::hyperfine(&line, sz.cli_runs, &ctx.work.join("hyperfine-cli.json")).await?;
    let peer_cli = Latencies::of_ms(times.iter().map(|s| s * 1000.0).collect());

    let (seq, conc, first) = (
        Latencies::of(&seq),
        Latencies::of(&conc),
        Latencies::of(&first),
    );
    let (cli, peer_seq, peer_conc) = (
        Latencies::of(&cli),
        Latencies::of(&peer_seq),
        Latencies::of(&peer_conc),
    );
    let p50 = |l: &Option<Latencies>| l.as_ref().map(|l| l.p50);
    let p99 = |l: &Option<Latencies>| l.as_ref().map(|l| l.p99);
    r.add(
        S,
        "PUT → Running, hello-http, p50",
        "ms",
        Lower,
        p50(&seq),
        p50(&peer_seq),
    );
    r.add(
        S,
        "PUT → Running, hello-http, p99",
        "ms",
        Lower,
        p99(&seq),
        p99(&peer_seq),
    );
    r.add(
        S,
        "PUT → Running, 16 at a time, p50",
        "ms",
        Lower,
        p50(&conc),
        p50(&peer_conc),
    );
    r.add(
        S,
        "PUT → Running, 16 at a time, p99",
        "ms",
        Lower,
        p99(&conc),
        p99(&peer_conc),
    );
    r.add(
        S,
        "creates/s, 16 at a time",
        "/s",
        Higher,
        Some(sz.creates as f64 / conc_took.as_secs_f64()),
        Some(sz.peer_spawns as f64 / peer_conc_took.as_secs_f64()),
    );
    r.add(
        S,
        "PUT → first 200 from the group's IP, p50",
        "ms",
        Lower,
        p50(&first),
        p50(&peer_seq),
    );
    r.add(
        S,
        "PUT → first 200 from the group's IP, p99",
        "ms",
        Lower,
        p99(&first),
        p99(&peer_seq),
    );
    r.add(
        S,
        "PUT → Succeeded, hello-cli, p50",
        "ms",
        Lower,
        p50(&cli),
        p50(&peer_cli),
    );
    r.add(
        S,
        "PUT → Succeeded, hello-cli, p99",
        "ms",
        Lower,
        p99(&cli),
        p99(&peer_cli),
    );
    r.peer(
        S,
        format!(
            "`wasmtime serve` as a fresh process on the precompiled hello-http, spawn → first 200 \
             ({} spawns, one at a time and {CONCURRENCY} at a time), beside PUT → Running and PUT → first 200; \
             `wasmtime run` of the precompiled hello-cli under hyperfine ({} runs) beside PUT → Succeeded",
            sz.peer_spawns, sz.cli_runs
        ),
    );
    r.note(format!(
        "start-up: {} creates per figure, a second's pause between figures; waci is polled with \
         back-to-back GETs (16 at a time: 1 ms apart), the first 200 with back-to-back connects; \
         images cached (the first group of each compiled it)",
        sz.creates
    ));
    Ok(())
}

/// `n` creates of `prefix-i` (hello-http for `Running`, hello-cli for `Succeeded`), each
/// timed from its PUT until its GET shows `state`; with the wall time of them all.
async fn to_state(
    w: &Waci,
    prefix: &str,
    n: usize,
    concurrency: usize,
    state: &str,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let body = if state == "Running" {
        waci::http_group(None)
    } else {
        waci::cli_group()
    };
    // One poller back to back measures finest; sixteen would spend the platform's CPU on
    // GETs, so they pause a millisecond between an answer and the next poll.
    let pause = if concurrency == 1 {
        Duration::ZERO
    } else {
        Duration::from_millis(1)
    };
    let start = Instant::now();
    let times = each(n, concurrency, |i| {
        let (w, body) = (w, &body);
        async move {
            let name = format!("{prefix}-{i:05}");
            let t = Instant::now();
            w.put(&name, body).await?;
            w.wait_state(&name, state, TIMEOUT, pause).await?;
            Ok(t.elapsed())
        }
    })
    .await?;
    Ok((times, start.elapsed()))
}

/// `n` fresh `wasmtime serve` processes, `concurrency` at a time, each timed from spawn to
/// its first 200 and then killed; with the wall time of them all.
pub async fn spawn_to_200(
    ctx: &Ctx,
    n: usize,
    concurrency: usize,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let pace = if concurrency == 1 {
        Pace::Spin
    } else {
        Pace::Millisecond
    };
    let start = Instant::now();
    let times = each(n, concurrency, |_| async move {
        let addr: SocketAddr = format!("127.0.0.1:{}", crate::peers::free_port()?).parse()?;
        let t = Instant::now();
        let mut served = ctx.wasmtime.serve(&ctx.hello_http_cwasm, addr, false)?;
        let took = probe::until_200(addr, t, pace, TIMEOUT).await;
        let _ = served.child.kill().await;
        took
    })
    .await?;
    Ok((times, start.elapsed()))
}
