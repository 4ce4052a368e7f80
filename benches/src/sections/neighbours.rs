//! Noisy neighbours: a hello-http service's latency and the control API's, quiet and then
//! beside two spinning commands and a memory hog; the CPU each spinner gets; and a spinner
//! limited to half a core. The peer: the same service under `wasmtime serve` beside two
//! `wasmtime run` spinners and a hog restarted in a loop, scheduled by the kernel.

use crate::Ctx;
use crate::probe::{self, Pace};
use crate::report::{Better::*, Report};
use crate::stats::Latencies;
use crate::tools::{self, WrkResult};
use crate::waci::{self, PORT, Waci};
use serde_json::json;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const S: &str = "neighbours";
/// One connection, one request at a time: each request's latency, not a queue's.
const THREADS: usize = 1;
const CONNECTIONS: usize = 1;
/// Control API GETs per measurement.
const API_GETS: usize = 300;
/// The hog's cap: it grows to it, is killed and starts again.
const HOG_GB: f64 = 1.0;

pub async fn run(ctx: &Ctx, r: &mut Report) -> anyhow::Result<()> {
    let d = ctx.sizes.load;
    let w = ctx.start_waci("neighbours").await?;
    let g = w.put("web", &waci::http_group(None)).await?;
    w.wait_state("web", "Running", Duration::from_secs(120), Duration::ZERO)
        .await?;
    let addr = SocketAddr::from((waci::ip_of(&g)?, PORT));
    probe::until_200(
        addr,
        Instant::now(),
        Pace::Millisecond,
        Duration::from_secs(30),
    )
    .await?;
    let url = format!("http://{addr}/");

    eprintln!("quiet: wrk {}s, {API_GETS} API GETs", d.as_secs());
    let quiet = tools::wrk(&url, None, THREADS, CONNECTIONS, d).await?;
    let api_quiet = api_latency(&w).await?;

    let spinner = |request: f64, limit: Option<f64>| {
        let mut body = waci::command_group(&ctx.guests.spin, &["spin"]);
        body["properties"]["restartPolicy"] = json!("Always");
        let res = &mut body["properties"]["containers"][0]["properties"]["resources"];
        res["requests"]["cpu"] = json!(request);
        if let Some(l) = limit {
            res["limits"] = json!({"cpu": l});
        }
        body
    };
    w.put("spin-a", &spinner(1.0, None)).await?;
    w.put("spin-b", &spinner(1.0, None)).await?;
    for name in ["spin-a", "spin-b"] {
        w.wait_state(name, "Running", Duration::from_secs(120), Duration::ZERO)
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    eprintln!("two spinners: wrk {}s", d.as_secs());
    let spinning = tools::wrk(&url, None, THREADS, CONNECTIONS, d).await?;
    let mut hog = waci::command_group(&ctx.guests.memory_hog, &["memory-hog"]);
    hog["properties"]["restartPolicy"] = json!("Always");
    hog["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"] =
        json!(HOG_GB);
    w.put("hog", &hog).await?;
    w.wait_state("hog", "Running", Duration::from_secs(120), Duration::ZERO)
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    eprintln!(
        "two spinners and a hog: wrk {}s, {API_GETS} API GETs",
        d.as_secs()
    );
    let before = waci_cpu(&w, &["spin-a", "spin-b"]).await?;
    let t = Instant::now();
    let loaded = tools::wrk(&url, None, THREADS, CONNECTIONS, d).await?;
    let api_loaded = api_latency(&w).await?;
    let after = waci_cpu(&w, &["spin-a", "spin-b"]).await?;
    let span = t.elapsed().as_secs_f64();
    let waci_cores: Vec<f64> = after
        .iter()
        .zip(&before)
        .map(|(a, b)| (a - b) / span)
        .collect();

    // A spinner limited to half a core, on its own.
    for name in ["spin-a", "spin-b", "hog"] {
        w.delete(name).await?;
    }
    w.put("limited", &spinner(0.5, Some(0.5))).await?;
    w.wait_state(
        "limited",
        "Running",
        Duration::from_secs(120),
        Duration::ZERO,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = waci_cpu(&w, &["limited"]).await?;
    let t = Instant::now();
    tokio::time::sleep(d).await;
    let after = waci_cpu(&w, &["limited"]).await?;
    let limited_cores = (after[0] - before[0]) / t.elapsed().as_secs_f64();
    drop(w);

    eprintln!("peer: wasmtime serve, quiet then beside two wasmtime run spinners and a hog");
    let addr: SocketAddr = format!("127.0.0.1:{}", crate::peers::free_port()?).parse()?;
    let mut served = ctx.wasmtime.serve(&ctx.hello_http_cwasm, addr, false)?;
    probe::until_200(
        addr,
        Instant::now(),
        Pace::Millisecond,
        Duration::from_secs(30),
    )
    .await?;
    let url = format!("http://{addr}/");
    let peer_quiet = tools::wrk(&url, None, THREADS, CONNECTIONS, d).await;
    let mut spinners = Vec::new();
    for _ in 0..2 {
        spinners.push(spawn(&ctx.wasmtime.run_line(&ctx.spin_cwasm, &[]))?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peer_spinning_only = tools::wrk(&url, None, THREADS, CONNECTIONS, d).await;
    let hog_line = format!(
        "sh -c 'while :; do {} run -W max-memory-size={} --allow-precompiled {}; done'",
        ctx.wasmtime.bin.display(),
        (HOG_GB * 1024.0 * 1024.0 * 1024.0) as u64,
        ctx.memory_hog_cwasm.display()
    );
    let hog = spawn(&hog_line)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pids: Vec<u32> = spinners.iter().filter_map(Child::id).collect();
    let before: Vec<f64> = pids.iter().map(|p| process_cpu(*p)).collect();
    let t = Instant::now();
    let peer_loaded = tools::wrk(&url, None, THREADS, CONNECTIONS, d).await;
    let span = t.elapsed().as_secs_f64();
    let peer_cores: Vec<f64> = pids
        .iter()
        .zip(&before)
        .map(|(p, b)| (process_cpu(*p) - b) / span)
        .collect();
    for mut c in spinners.into_iter().chain([hog]) {
        let _ = c.kill().await;
    }
    let _ = served.child.kill().await;
    let (peer_quiet, peer_spinning, peer_loaded) = (peer_quiet?, peer_spinning_only?, peer_loaded?);

    let lat = |r: &mut Report, how: &str, x: &WrkResult, p: &WrkResult| {
        r.add(
            S,
            format!("service p50, {how}"),
            "ms",
            Lower,
            Some(x.p50_ms),
            Some(p.p50_ms),
        );
        r.add(
            S,
            format!("service p99, {how}"),
            "ms",
            Lower,
            Some(x.p99_ms),
            Some(p.p99_ms),
        );
    };
    lat(r, "quiet", &quiet, &peer_quiet);
    lat(r, "2 spinners", &spinning, &peer_spinning);
    lat(r, "2 spinners + hog", &loaded, &peer_loaded);
    r.add(
        S,
        "service p99 loaded / quiet",
        "×",
        Lower,
        Some(loaded.p99_ms / quiet.p99_ms),
        Some(peer_loaded.p99_ms / peer_quiet.p99_ms),
    );
    r.add(
        S,
        "API GET p99, quiet",
        "ms",
        Lower,
        Some(api_quiet.p99),
        None,
    );
    r.add(
        S,
        "API GET p99, 2 spinners + hog",
        "ms",
        Lower,
        Some(api_loaded.p99),
        None,
    );
    r.add(
        S,
        "API GET p99 loaded / quiet",
        "×",
        Lower,
        Some(api_loaded.p99 / api_quiet.p99),
        None,
    );
    for (i, name) in ["spinner A (request 1.0)", "spinner B (request 1.0)"]
        .iter()
        .enumerate()
    {
        r.add(
            S,
            format!("cores got, {name}"),
            "cores",
            Higher,
            waci_cores.get(i).copied(),
            peer_cores.get(i).copied(),
        );
    }
    r.add(
        S,
        "cores got, spinner limited to 0.5",
        "cores",
        Lower,
        Some(limited_cores),
        None,
    );
    r.peer(
        S,
        format!(
            "`wasmtime serve -Scli` on hello-http beside two `wasmtime run` spin processes and a \
             memory hog (capped at {HOG_GB} GB, restarted in a loop): the kernel's scheduler; \
             wrk -t{THREADS} -c{CONNECTIONS} -d{}s on both sides",
            d.as_secs()
        ),
    );
    for (who, x) in [
        ("waci quiet", &quiet),
        ("waci spinning", &spinning),
        ("waci loaded", &loaded),
        ("wasmtime serve spinning", &peer_spinning),
        ("wasmtime serve quiet", &peer_quiet),
        ("wasmtime serve loaded", &peer_loaded),
    ] {
        if x.errors > 0 {
            r.note(format!("neighbours: {who} had {} errors", x.errors));
        }
    }
    Ok(())
}

async fn api_latency(w: &Waci) -> anyhow::Result<Latencies> {
    let mut samples = Vec::with_capacity(API_GETS);
    for _ in 0..API_GETS {
        samples.push(w.timed_get("web").await?);
    }
    Latencies::of(&samples).ok_or_else(|| anyhow::anyhow!("no API latencies"))
}

/// Each group's `waci_container_cpu_seconds_total`, from `/metrics`.
async fn waci_cpu(w: &Waci, groups: &[&str]) -> anyhow::Result<Vec<f64>> {
    let text = w.metrics().await?;
    groups
        .iter()
        .map(|g| {
            let needle = format!("group=\"{g}\",container=\"main\"}}");
            text.lines()
                .filter(|l| l.starts_with("waci_container_cpu_seconds_total{"))
                .find(|l| l.contains(&needle))
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("no CPU seconds for {g}"))
        })
        .collect()
}

/// A shell line as a child process of its own group, killed when dropped.
fn spawn(line: &str) -> anyhow::Result<Child> {
    Ok(Command::new("sh")
        .arg("-c")
        .arg(format!("exec {line}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

/// CPU seconds (user + system) a process has used.
fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}
