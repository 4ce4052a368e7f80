//! Logs: lines per second stored from the `log-flood` guest (PUT until its last line can be
//! read back), beside `wasmtime run` of the same component writing to a file; and the
//! latency from a guest's write to a `follow` client, beside `wasmtime serve`'s stdout read
//! through a pipe.

use crate::Ctx;
use crate::probe;
use crate::report::{Better::*, Report};
use crate::stats::Latencies;
use crate::waci::{self, PORT};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

const S: &str = "logs";
const TIMEOUT: Duration = Duration::from_secs(600);
/// How often the flood's last line is looked for: fine enough against a run of seconds.
const POLL: Duration = Duration::from_millis(10);

pub async fn run(ctx: &Ctx, r: &mut Report) -> anyhow::Result<()> {
    let lines = ctx.sizes.flood_lines;
    let w = ctx.start_waci("logs").await?;
    let args = ["log-flood", "--lines", &lines.to_string()];
    // A first run compiles the component; the measured one is a cache hit, like the peer's.
    w.put(
        "flood-warm",
        &waci::command_group(&ctx.guests.log_flood, &["log-flood", "--lines", "1"]),
    )
    .await?;
    w.wait_state("flood-warm", "Succeeded", TIMEOUT, Duration::ZERO)
        .await?;

    eprintln!("log-flood, {lines} lines");
    let done = format!("flood done {lines}");
    let t = Instant::now();
    w.put("flood", &waci::command_group(&ctx.guests.log_flood, &args))
        .await?;
    loop {
        if w.logs("flood", "main", 1).await?.contains(&done) {
            break;
        }
        anyhow::ensure!(t.elapsed() < TIMEOUT, "the flood's last line never arrived");
        tokio::time::sleep(POLL).await;
    }
    let waci_rate = lines as f64 / t.elapsed().as_secs_f64();

    eprintln!("follow latency, {} probes", ctx.sizes.follow_probes);
    let g = w.put("follow", &waci::http_group(None)).await?;
    w.wait_state("follow", "Running", TIMEOUT, Duration::ZERO)
        .await?;
    let addr = SocketAddr::from((waci::ip_of(&g)?, PORT));
    let mut resp = w.follow("follow", "main").await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        let mut partial = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            let at = Instant::now();
            partial.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(nl) = partial.find('\n') {
                let line: String = partial.drain(..=nl).collect();
                if tx.send((line, at)).is_err() {
                    return;
                }
            }
        }
    });
    let waci_follow = probes(addr, ctx.sizes.follow_probes, rx).await;
    reader.abort();
    drop(w);
    let waci_follow = waci_follow?;

    eprintln!("peer: wasmtime run log-flood > file");
    let out = std::fs::File::create(ctx.work.join("flood.out"))?;
    let t = Instant::now();
    let status = std::process::Command::new(&ctx.wasmtime.bin)
        .args(["run", "--allow-precompiled"])
        .arg(&ctx.log_flood_cwasm)
        .args(&args[1..])
        .stdout(out)
        .status()?;
    anyhow::ensure!(status.success(), "wasmtime run log-flood failed: {status}");
    let peer_rate = lines as f64 / t.elapsed().as_secs_f64();

    eprintln!("peer: wasmtime serve stdout latency");
    let addr: SocketAddr = format!("127.0.0.1:{}", crate::peers::free_port()?).parse()?;
    let mut served = ctx.wasmtime.serve(&ctx.hello_http_cwasm, addr, true)?;
    let stdout = served
        .child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send((line, Instant::now())).is_err() {
                return;
            }
        }
    });
    probe::until_200(
        addr,
        Instant::now(),
        probe::Pace::Millisecond,
        Duration::from_secs(30),
    )
    .await?;
    let peer_follow = probes(addr, ctx.sizes.follow_probes, rx).await;
    reader.abort();
    let _ = served.child.kill().await;
    let peer_follow = peer_follow?;

    r.add(
        S,
        format!("lines/s stored, log-flood ({lines} lines)"),
        "lines/s",
        Higher,
        Some(waci_rate),
        Some(peer_rate),
    );
    let (wf, pf) = (Latencies::of(&waci_follow), Latencies::of(&peer_follow));
    r.add(
        S,
        "guest write → follow client, p50",
        "ms",
        Lower,
        wf.as_ref().map(|l| l.p50),
        pf.as_ref().map(|l| l.p50),
    );
    r.add(
        S,
        "guest write → follow client, p99",
        "ms",
        Lower,
        wf.as_ref().map(|l| l.p99),
        pf.as_ref().map(|l| l.p99),
    );
    r.peer(
        S,
        "`wasmtime run` of the precompiled log-flood with stdout to a file (lines/s, process start \
         included, as PUT is for waci); `wasmtime serve` of hello-http with its stdout read through \
         a pipe (write → reader)",
    );
    r.note(format!(
        "logs: lines/s is from the PUT until `tail=1` shows the last line (polled every {} ms); \
         waci keeps the last 10,000 lines per container, dropping the oldest; the follow latency is from \
         sending a request to hello-http until the line it logs reaches the reader ({} probes)",
        POLL.as_millis(),
        ctx.sizes.follow_probes
    ));
    Ok(())
}

/// Sends `GET /probe-<i>` to hello-http `n` times; each timed until the line the guest logs
/// for it comes out of `lines`.
async fn probes(
    addr: SocketAddr,
    n: usize,
    mut lines: mpsc::UnboundedReceiver<(String, Instant)>,
) -> anyhow::Result<Vec<Duration>> {
    // Whatever was logged before the first probe is not a probe's line.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while lines.try_recv().is_ok() {}
    let host = addr.to_string();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let want = format!("/probe-{i} ");
        let t = Instant::now();
        let status = probe::get(addr, &host, &format!("/probe-{i}")).await?;
        anyhow::ensure!(status == 200, "probe {i} answered {status}");
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), lines.recv()).await;
            match next {
                Ok(Some((line, at))) if line.contains(&want) => {
                    out.push(at - t);
                    break;
                }
                Ok(Some(_)) => continue,
                Ok(None) => anyhow::bail!("the log stream ended"),
                Err(_) => anyhow::bail!("probe {i}'s line did not arrive within 10 s"),
            }
        }
        // Space the probes so each is a lone write, not part of a burst.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(out)
}
