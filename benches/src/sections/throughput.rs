//! Throughput: `wrk` against hello-http at the group's own IP, through the front door by
//! FQDN (`Host` header), and at the IP of a group with `instanceReuse` (warm instances),
//! beside `wasmtime serve` on the same component with the same connections and duration.

use crate::Ctx;
use crate::probe::{self, Pace};
use crate::report::{Better::*, Report};
use crate::tools::{self, WrkResult};
use crate::waci::{self, PORT};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// wrk's threads and connections, the same for both sides. Two threads: the machine's
/// cores are shared by the load generator and the server, as they are for the peer.
const THREADS: usize = 2;
const CONNECTIONS: usize = 32;

const S: &str = "throughput";

pub async fn run(ctx: &Ctx, r: &mut Report) -> anyhow::Result<()> {
    let d = ctx.sizes.load;
    let w = ctx.start_waci("throughput").await?;
    let g = w.put("tput", &waci::http_group(Some("tput-hello"))).await?;
    w.wait_state("tput", "Running", Duration::from_secs(120), Duration::ZERO)
        .await?;
    let ip = waci::ip_of(&g)?;
    let fqdn = g["properties"]["ipAddress"]["fqdn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let addr = SocketAddr::from((ip, PORT));
    probe::until_200(
        addr,
        Instant::now(),
        Pace::Millisecond,
        Duration::from_secs(30),
    )
    .await?;
    eprintln!("wrk {}s at the group's IP", d.as_secs());
    let at_ip = tools::wrk(&format!("http://{addr}/"), None, THREADS, CONNECTIONS, d).await?;
    eprintln!("wrk {}s through the front door", d.as_secs());
    let front = tools::wrk(
        &format!("http://{}/", w.front_door),
        Some(&fqdn),
        THREADS,
        CONNECTIONS,
        d,
    )
    .await?;

    // The same component with `instanceReuse`: warm instances kept between requests.
    let mut reuse = waci::http_group(None);
    reuse["properties"]["containers"][0]["properties"]["instanceReuse"] = serde_json::json!(true);
    let g = w.put("tput-reuse", &reuse).await?;
    w.wait_state(
        "tput-reuse",
        "Running",
        Duration::from_secs(120),
        Duration::ZERO,
    )
    .await?;
    let addr = SocketAddr::from((waci::ip_of(&g)?, PORT));
    probe::until_200(
        addr,
        Instant::now(),
        Pace::Millisecond,
        Duration::from_secs(30),
    )
    .await?;
    eprintln!("wrk {}s at the group's IP, warm instances", d.as_secs());
    let warm = tools::wrk(&format!("http://{addr}/"), None, THREADS, CONNECTIONS, d).await?;
    drop(w);

    eprintln!("peer: wrk {}s against wasmtime serve", d.as_secs());
    let addr: SocketAddr = format!("127.0.0.1:{}", crate::peers::free_port()?).parse()?;
    let mut served = ctx.wasmtime.serve(&ctx.hello_http_cwasm, addr, false)?;
    probe::until_200(
        addr,
        Instant::now(),
        Pace::Millisecond,
        Duration::from_secs(30),
    )
    .await?;
    let peer = tools::wrk(&format!("http://{addr}/"), None, THREADS, CONNECTIONS, d).await;
    let _ = served.child.kill().await;
    let peer = peer?;

    let figures = |r: &mut Report, how: &str, x: &WrkResult| {
        r.add(
            S,
            format!("req/s, {how}"),
            "req/s",
            Higher,
            Some(x.requests_per_sec),
            Some(peer.requests_per_sec),
        );
        r.add(
            S,
            format!("latency p99, {how}"),
            "ms",
            Lower,
            Some(x.p99_ms),
            Some(peer.p99_ms),
        );
    };
    figures(r, "at the group's IP", &at_ip);
    figures(r, "front door by FQDN", &front);
    figures(r, "at the group's IP, instanceReuse", &warm);
    r.peer(
        S,
        format!(
            "`wasmtime serve -Scli` on the same precompiled hello-http (guest stdout to /dev/null), \
             wrk -t{THREADS} -c{CONNECTIONS} -d{}s, the same for all four",
            d.as_secs()
        ),
    );
    for (who, x) in [
        ("waci at the IP", &at_ip),
        ("waci front door", &front),
        ("waci warm instances", &warm),
        ("wasmtime serve", &peer),
    ] {
        if x.errors > 0 {
            r.note(format!(
                "throughput: {who} had {} non-2xx answers or socket errors",
                x.errors
            ));
        }
    }
    r.note(
        "throughput: hello-http logs one line per request; waci stores each in SQLite \
         (bounded per container), wasmtime serve writes it to /dev/null",
    );
    Ok(())
}
