//! Languages: the heavy guests of `examples/python/` (CPython, componentize-py) and
//! `examples/javascript/` (SpiderMonkey, componentize-js), which `benches/run` builds with
//! the examples' own build scripts. For each: PUT → first 200 from the group's IP on a fresh
//! platform that has never compiled it (cold: on the baseline compiler's code), the time until
//! its optimised code serves (beside the peer's cold first 200, optimised from the start), and
//! for a second group of the same image
//! (warm: compiled code cached), beside `wasmtime serve` spawned on the `.wasm` (cold) and on
//! its precompiled `.cwasm` (warm); then `wrk` on the page at the group's IP beside `wasmtime
//! serve -Scli` on the same component, one fresh instance per request on both sides, and on
//! a group of the same image with `instanceReuse` (warm instances kept between requests).
//! Before the cold start, a hello-http group on the same platform is loaded with `wrk`, and
//! again while the optimised code compiles in the background: its req/s then, as a share of
//! the quiet figure. Last, on another fresh platform, the image pushed with `waci image push` to a local
//! registry (Debian's docker-registry): the platform compiles it at push, and its first group
//! starts from that code; beside the peer's start on code compiled ahead (`wasmtime compile`,
//! then serve the .cwasm).

use crate::Ctx;
use crate::probe::{self, Pace};
use crate::report::{Better::*, Report};
use crate::tools::{self, WrkResult};
use crate::waci::{self, PORT};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// wrk's threads and connections, as in the throughput section.
const THREADS: usize = 2;
const CONNECTIONS: usize = 32;
/// A cold start compiles 12–18 MB of Wasm: on a busy machine, tens of seconds.
const COLD_TIMEOUT: Duration = Duration::from_secs(300);
/// Warm starts per figure (each a group of its own); the figure is their median.
const WARM_STARTS: usize = 5;
/// The hello-http neighbour's load while a heavy image compiles in the background: shorter
/// than the compile (5–9 s here), so all of it falls inside.
const NEIGHBOUR_RUN: Duration = Duration::from_secs(2);
const NEIGHBOUR_CONNECTIONS: usize = 16;

const S: &str = "languages";

pub async fn run(ctx: &Ctx, r: &mut Report) -> anyhow::Result<()> {
    let Some(dir) = &ctx.languages else {
        r.note("languages: skipped (no --languages dir with python.wasm and javascript.wasm)");
        return Ok(());
    };
    for (lang, label) in [("python", "Python"), ("javascript", "JavaScript")] {
        let wasm = dir.join(format!("{lang}.wasm"));
        let size_mb = std::fs::metadata(&wasm)?.len() as f64 / 1e6;
        one(ctx, r, lang, label, &wasm).await?;
        r.note(format!(
            "languages: the {label} guest is {size_mb:.1} MB (examples/{lang}, GET / its page)"
        ));
    }
    r.peer(
        S,
        format!(
            "`wasmtime serve -Scli` on the same component: spawned on the .wasm (cold: it \
             compiles) and on the `wasmtime compile`d .cwasm (warm, also beside the first start \
             of an image compiled at push), spawn → first 200; \
             wrk -t{THREADS} -c{CONNECTIONS} -d{}s on the page for both",
            ctx.sizes.load.as_secs()
        ),
    );
    Ok(())
}

async fn one(
    ctx: &Ctx,
    r: &mut Report,
    lang: &str,
    label: &str,
    wasm: &Path,
) -> anyhow::Result<()> {
    let d = ctx.sizes.load;
    let image = wasm.to_string_lossy().into_owned();
    let group = || waci_tests::group_body(&image, &[PORT], "Always", &[]);

    // A fresh data dir: nothing compiled yet. A hello-http neighbour, measured quiet.
    let w = ctx.start_waci(&format!("languages-{lang}")).await?;
    let n = w
        .put(&format!("{lang}-neighbour"), &waci::http_group(None))
        .await?;
    let at = SocketAddr::from((waci::ip_of(&n)?, PORT));
    probe::until_200(at, Instant::now(), Pace::Millisecond, COLD_TIMEOUT).await?;
    let neighbour = format!("http://{at}/");
    let load_neighbour = || {
        tools::wrk(
            &neighbour,
            None,
            THREADS,
            NEIGHBOUR_CONNECTIONS,
            NEIGHBOUR_RUN,
        )
    };
    let quiet = load_neighbour().await?;
    let cache = ctx.work.join(format!("languages-{lang}")).join("cache");
    let before = cwasm_files(&cache)?;
    eprintln!("{label}: PUT → first 200, cold");
    let t = Instant::now();
    let g = w.put(&format!("{lang}-cold"), &group()).await?;
    let addr = SocketAddr::from((waci::ip_of(&g)?, PORT));
    let cold = probe::until_200(addr, t, Pace::Millisecond, COLD_TIMEOUT).await?;
    // The optimised code now compiles in the background (seconds): the neighbour meanwhile.
    eprintln!("{label}: hello-http neighbour during the background compile");
    let busy = load_neighbour().await?;
    let compiling_still = !has_optimised_code(&cache, &before)?;
    // The first 200 came from the baseline compiler's code; the rest of the section runs on
    // the optimised code, which is in the cache once the background compile is done.
    let optimised = optimised_code(&cache, t, &before).await?;
    eprintln!("{label}: PUT → first 200, warm, {WARM_STARTS}");
    let mut warm = Vec::new();
    for i in 1..=WARM_STARTS {
        let t = Instant::now();
        let g = w.put(&format!("{lang}-warm-{i}"), &group()).await?;
        let a = SocketAddr::from((waci::ip_of(&g)?, PORT));
        warm.push(probe::until_200(a, t, Pace::Spin, COLD_TIMEOUT).await?);
    }
    warm.sort();
    let warm = warm[warm.len() / 2];
    eprintln!("{label}: wrk {}s at the group's IP", d.as_secs());
    let at_ip = tools::wrk(&format!("http://{addr}/"), None, THREADS, CONNECTIONS, d).await?;
    // The same image with `instanceReuse`: warm instances kept between requests.
    let mut reuse = group();
    reuse["properties"]["containers"][0]["properties"]["instanceReuse"] = serde_json::json!(true);
    let g = w.put(&format!("{lang}-reuse"), &reuse).await?;
    let addr = SocketAddr::from((waci::ip_of(&g)?, PORT));
    probe::until_200(addr, Instant::now(), Pace::Millisecond, COLD_TIMEOUT).await?;
    eprintln!(
        "{label}: wrk {}s at the group's IP, warm instances",
        d.as_secs()
    );
    let reused = tools::wrk(&format!("http://{addr}/"), None, THREADS, CONNECTIONS, d).await?;
    drop(w);
    let (compiled_at_push, pushed_first) = pushed(ctx, lang, label, wasm).await?;

    eprintln!("{label}, peer: wasmtime serve spawn → first 200, cold and warm");
    let cwasm = ctx.work.join(format!("{lang}.cwasm"));
    let peer_cold = spawn_to_200(ctx, wasm, &["-Ccache=n"]).await?;
    ctx.wasmtime.compile(wasm, &cwasm)?;
    let mut peer_warm = Vec::new();
    for _ in 0..WARM_STARTS {
        peer_warm.push(spawn_to_200(ctx, &cwasm, &[]).await?);
    }
    peer_warm.sort();
    let peer_warm = peer_warm[peer_warm.len() / 2];
    eprintln!("{label}, peer: wrk {}s against wasmtime serve", d.as_secs());
    let addr: SocketAddr = format!("127.0.0.1:{}", crate::peers::free_port()?).parse()?;
    let mut served = ctx.wasmtime.serve(&cwasm, addr, false)?;
    probe::until_200(addr, Instant::now(), Pace::Millisecond, COLD_TIMEOUT).await?;
    let peer = tools::wrk(&format!("http://{addr}/"), None, THREADS, CONNECTIONS, d).await;
    let _ = served.child.kill().await;
    let peer = peer?;

    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    r.add(
        S,
        format!("PUT → first 200, {label}, cold (never compiled)"),
        "ms",
        Lower,
        Some(ms(cold)),
        Some(ms(peer_cold)),
    );
    r.add(
        S,
        format!("hello-http neighbour req/s during {label}'s background compile, % of quiet"),
        "%",
        Higher,
        Some(100.0 * busy.requests_per_sec / quiet.requests_per_sec),
        None,
    );
    if !compiling_still {
        r.note(format!(
            "languages: {label}'s background compile ended before the neighbour's run did"
        ));
    }
    r.add(
        S,
        format!("image push → compiled on the platform, {label}"),
        "ms",
        Lower,
        Some(ms(compiled_at_push)),
        None,
    );
    r.add(
        S,
        format!("PUT → first 200, {label}, compiled at push"),
        "ms",
        Lower,
        Some(ms(pushed_first)),
        Some(ms(peer_warm)),
    );
    // The peer's first 200 is already on optimised code: full speed from then on.
    r.add(
        S,
        format!("PUT → optimised code serving, {label}, cold"),
        "ms",
        Lower,
        Some(ms(optimised)),
        Some(ms(peer_cold)),
    );
    r.add(
        S,
        format!("PUT → first 200, {label}, warm (cached), p50"),
        "ms",
        Lower,
        Some(ms(warm)),
        Some(ms(peer_warm)),
    );
    figures(r, label, "fresh instances", &at_ip, &peer);
    figures(r, label, "instanceReuse", &reused, &peer);
    Ok(())
}

fn figures(r: &mut Report, label: &str, how: &str, x: &WrkResult, peer: &WrkResult) {
    r.add(
        S,
        format!("req/s, {label}, {how}, at the group's IP"),
        "req/s",
        Higher,
        Some(x.requests_per_sec),
        Some(peer.requests_per_sec),
    );
    r.add(
        S,
        format!("latency p99, {label}, {how}, at the group's IP"),
        "ms",
        Lower,
        Some(x.p99_ms),
        Some(peer.p99_ms),
    );
    for (who, w) in [("waci", x), ("wasmtime serve", peer)] {
        if w.errors > 0 {
            r.note(format!(
                "languages: {label}, {how}, {who} had {} non-2xx answers or socket errors",
                w.errors
            ));
        }
    }
}

/// The time from `since` until the optimised code of the only component is in `cache`.
async fn optimised_code(
    cache: &Path,
    since: Instant,
    before: &HashSet<String>,
) -> anyhow::Result<Duration> {
    loop {
        if has_optimised_code(cache, before)? {
            return Ok(since.elapsed());
        }
        if since.elapsed() > COLD_TIMEOUT {
            anyhow::bail!(
                "no optimised code in {} after {COLD_TIMEOUT:?}",
                cache.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether the cache holds compiled code that it did not hold `before`.
fn has_optimised_code(cache: &Path, before: &HashSet<String>) -> anyhow::Result<bool> {
    Ok(cwasm_files(cache)?.difference(before).next().is_some())
}

/// The compiled-code files in `cache`.
fn cwasm_files(cache: &Path) -> anyhow::Result<HashSet<String>> {
    Ok(std::fs::read_dir(cache)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".cwasm"))
        .collect())
}

/// A fresh `wasmtime serve` on `component` with `flags`: from spawn to its first 200.
async fn spawn_to_200(ctx: &Ctx, component: &Path, flags: &[&str]) -> anyhow::Result<Duration> {
    let addr: SocketAddr = format!("127.0.0.1:{}", crate::peers::free_port()?).parse()?;
    let t = Instant::now();
    let mut served = ctx.wasmtime.serve_with(component, addr, false, flags)?;
    let took = probe::until_200(addr, t, Pace::Millisecond, COLD_TIMEOUT).await;
    let _ = served.child.kill().await;
    let _ = served.child.wait().await;
    took
}

/// On a fresh platform: `waci image push` of `wasm` to a local registry, timed from its start
/// until the platform lists the image as compiled; then PUT → first 200 of a group of it.
async fn pushed(
    ctx: &Ctx,
    lang: &str,
    label: &str,
    wasm: &Path,
) -> anyhow::Result<(Duration, Duration)> {
    let (_registry, host) = tools::registry(&ctx.work.join(format!("registry-{lang}"))).await?;
    let w = ctx.start_waci(&format!("languages-{lang}-pushed")).await?;
    let image = format!("{host}/bench/{lang}:v1");
    eprintln!("{label}: waci image push → compiled on the platform, then PUT → first 200");
    let t = Instant::now();
    let wasm = wasm.to_string_lossy();
    w.cli(&ctx.waci_bin, &["image", "push", &wasm, &image])
        .await?;
    while !w.cached_images().await?.contains(&image) {
        anyhow::ensure!(
            t.elapsed() < COLD_TIMEOUT,
            "{image} not compiled after {COLD_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let compiled = t.elapsed();
    let t = Instant::now();
    let g = w
        .put(
            &format!("{lang}-pushed"),
            &waci_tests::group_body(&image, &[PORT], "Always", &[]),
        )
        .await?;
    let addr = SocketAddr::from((waci::ip_of(&g)?, PORT));
    let first = probe::until_200(addr, t, Pace::Millisecond, COLD_TIMEOUT).await?;
    Ok((compiled, first))
}
