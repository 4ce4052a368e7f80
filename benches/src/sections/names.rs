//! Names and recovery, on one platform holding N named hello-http groups:
//! - DNS: `dnsperf` against the embedded server with the N FQDNs, beside Knot DNS serving the
//!   same names from a zone file on another loopback port.
//! - Recovery: SIGKILL the platform, start it again on the same data dir, and time until every
//!   group answers 200 at its IP again; beside as many `wasmtime serve` processes (one per
//!   app), killed and started again at once.

use super::{each, startup::CONCURRENCY};
use crate::peers::{self, Knot};
use crate::probe::{self, Pace};
use crate::report::{Better::*, Report};
use crate::waci::{self, PORT};
use crate::{Ctx, tools};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

const S_DNS: &str = "DNS";
const S_REC: &str = "recovery";
const TIMEOUT: Duration = Duration::from_secs(900);
/// dnsperf's simulated clients and queries in flight, the same against both servers.
const DNS_CLIENTS: usize = 8;
const DNS_OUTSTANDING: usize = 64;
/// Waiters probing the recovered groups at once.
const PROBERS: usize = 32;

pub async fn run(ctx: &Ctx, r: &mut Report) -> anyhow::Result<()> {
    let n = ctx.sizes.names;
    let mut w = ctx.start_waci("names").await?;
    w.put("warm", &waci::http_group(None)).await?;
    w.wait_state("warm", "Running", TIMEOUT, Duration::ZERO)
        .await?;
    eprintln!("creating {n} named groups");
    let t = Instant::now();
    let records: Vec<(String, Ipv4Addr)> = each(n, CONCURRENCY, |i| {
        let w = &w;
        async move {
            let name = format!("name-{i:05}");
            let g = w.put(&name, &waci::http_group(Some(&name))).await?;
            let fqdn = g["properties"]["ipAddress"]["fqdn"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("{name} has no FQDN"))?
                .to_string();
            Ok((fqdn, waci::ip_of(&g)?))
        }
    })
    .await?;
    all_answer(&records, Instant::now()).await?;
    eprintln!("{n} groups answer after {:.1} s", t.elapsed().as_secs_f64());

    // DNS.
    let queries = ctx.work.join("queries.txt");
    let text: String = records.iter().map(|(f, _)| format!("{f} A\n")).collect();
    std::fs::write(&queries, text)?;
    anyhow::ensure!(
        peers::resolves(w.dns, &records[0].0).await,
        "the embedded DNS server does not resolve {}",
        records[0].0
    );
    let d = ctx.sizes.load;
    eprintln!("dnsperf {}s against waci", d.as_secs());
    let waci_dns = tools::dnsperf(w.dns, &queries, d, DNS_CLIENTS, DNS_OUTSTANDING).await?;
    {
        let knot = Knot::start(
            &ctx.knotd,
            &ctx.work.join("knot"),
            "waci.localhost",
            &records,
        )
        .await?;
        eprintln!("dnsperf {}s against Knot", d.as_secs());
        let knot_dns = tools::dnsperf(knot.addr, &queries, d, DNS_CLIENTS, DNS_OUTSTANDING).await?;
        r.add(
            S_DNS,
            format!("DNS queries/s, {n} FQDNs"),
            "q/s",
            Higher,
            Some(waci_dns.qps),
            Some(knot_dns.qps),
        );
        r.add(
            S_DNS,
            "DNS average latency",
            "ms",
            Lower,
            Some(waci_dns.avg_latency_ms),
            Some(knot_dns.avg_latency_ms),
        );
        for (who, x) in [("waci", &waci_dns), ("Knot", &knot_dns)] {
            if x.lost > 0 {
                r.note(format!("DNS: {who} lost {} queries", x.lost));
            }
        }
    }
    r.peer(
        S_DNS,
        format!(
            "Knot DNS {} serving the same {n} names from a zone file on another loopback port; \
             dnsperf -c {DNS_CLIENTS} -q {DNS_OUTSTANDING} -l {} against both",
            tools::version(&ctx.knotd.to_string_lossy(), &["--version"]),
            d.as_secs()
        ),
    );

    // Recovery.
    eprintln!("recovery: SIGKILL and restart with {n} groups");
    w.kill();
    let t = Instant::now();
    let api = w.launch().await?;
    let every = all_answer(&records, t).await?;
    drop(w);

    eprintln!("peer: {n} wasmtime serve killed and started again");
    let peer = restart_peers(ctx, n).await?;
    r.add(
        S_REC,
        format!("SIGKILL → all {n} groups answer again"),
        "s",
        Lower,
        Some(every.as_secs_f64()),
        Some(peer.as_secs_f64()),
    );
    r.add(
        S_REC,
        "SIGKILL → API answers (endpoints.json)",
        "s",
        Lower,
        Some(api.as_secs_f64()),
        None,
    );
    r.peer(
        S_REC,
        format!(
            "{n} `wasmtime serve` processes (one per app) on the precompiled hello-http, SIGKILLed \
             and started again at once, until every one answers 200"
        ),
    );
    Ok(())
}

/// Waits until every group answers 200 at its IP; the time from `since` to the last one.
async fn all_answer(records: &[(String, Ipv4Addr)], since: Instant) -> anyhow::Result<Duration> {
    let times = each(records.len(), PROBERS, |i| async move {
        let addr = SocketAddr::from((records[i].1, PORT));
        probe::until_200(addr, since, Pace::Millisecond, TIMEOUT).await
    })
    .await?;
    Ok(times.into_iter().max().unwrap_or_default())
}

/// Starts `k` `wasmtime serve` processes, waits until all answer, SIGKILLs them, starts them
/// again on the same ports at once; the time from the kill until all answer again.
async fn restart_peers(ctx: &Ctx, k: usize) -> anyhow::Result<Duration> {
    let mut addrs = Vec::with_capacity(k);
    for _ in 0..k {
        addrs.push(SocketAddr::from(([127, 0, 0, 1], peers::free_port()?)));
    }
    let mut procs = Vec::with_capacity(k);
    for a in &addrs {
        procs.push(ctx.wasmtime.serve(&ctx.hello_http_cwasm, *a, false)?);
    }
    let wait_all = |since: Instant| {
        let addrs = &addrs;
        async move {
            let times = each(addrs.len(), PROBERS, |i| {
                probe::until_200(addrs[i], since, Pace::Millisecond, TIMEOUT)
            })
            .await?;
            Ok::<_, anyhow::Error>(times.into_iter().max().unwrap_or_default())
        }
    };
    wait_all(Instant::now()).await?;
    for p in &mut procs {
        let _ = p.child.start_kill();
    }
    for p in &mut procs {
        let _ = p.child.wait().await;
    }
    let t = Instant::now();
    let mut again = Vec::with_capacity(k);
    for a in &addrs {
        again.push(ctx.wasmtime.serve(&ctx.hello_http_cwasm, *a, false)?);
    }
    let took = wait_all(t).await;
    for p in &mut again {
        let _ = p.child.kill().await;
    }
    took
}
