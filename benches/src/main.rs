//! `waci-bench`: runs waci and its peers side by side on loopback, on the same machine in the
//! same run, and prints one table (figure, waci, peer, ratio) with the machine it ran on; it
//! also writes the figures as JSON. `benches/run` installs the tools and builds everything
//! first; this binary only measures. Nothing here asserts a speed: it reports.
//!
//! - `waci.rs`: the platform under test (a real `waci serve`) and its API calls
//! - `peers.rs`: `wasmtime run`/`serve` 48 and Knot DNS
//! - `probe.rs`: a bare HTTP GET, to wait for a first 200
//! - `tools.rs`: `wrk`, `dnsperf`, `hyperfine` and their reports
//! - `report.rs`, `stats.rs`: the figures, the table, the JSON; percentiles
//! - `sections/`: one module per benchmark (start-up, throughput, languages, neighbours, logs,
//!   names, density, kubernetes)

mod peers;
mod probe;
mod report;
mod sections;
mod stats;
mod tools;
mod waci;

use anyhow::Context;
use clap::Parser;
use peers::Wasmtime;
use report::{Machine, Report};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Benchmarks waci beside its peers; run it through benches/run")]
struct Args {
    /// A smoke check in under 3 minutes: fewer creates, short loads, small N
    #[arg(long)]
    quick: bool,
    /// The release `waci` binary
    #[arg(long)]
    waci: PathBuf,
    /// `wasmtime` 48, the peer
    #[arg(long)]
    wasmtime: PathBuf,
    /// Knot DNS's server binary
    #[arg(long, default_value = "/usr/sbin/knotd")]
    knotd: PathBuf,
    /// The release `containerd-shim-waci-v1`, for the kubernetes section
    #[arg(long)]
    shim: PathBuf,
    /// `benches/hello-native` built statically: the page runc serves in the kubernetes section
    #[arg(long)]
    hello_native: PathBuf,
    /// The cargo target dir waci was built in (its build script leaves the guests there)
    #[arg(long)]
    target_dir: PathBuf,
    /// Where `benches/run` put the Python and JavaScript examples' components
    /// (`python.wasm`, `javascript.wasm`), for the languages section
    #[arg(long)]
    languages: Option<PathBuf>,
    /// Where the figures go as JSON
    #[arg(long)]
    out: PathBuf,
    /// Run only these sections (comma-separated): startup, throughput, languages, neighbours,
    /// logs, names, density, kubernetes
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Creates per start-up measurement (default 1000; 100 with --quick)
    #[arg(long)]
    creates: Option<usize>,
    /// Groups in the density run (default 10000; 200 with --quick)
    #[arg(long)]
    density: Option<usize>,
    /// Named groups for the DNS and recovery runs (default 1000; 200 with --quick)
    #[arg(long)]
    names: Option<usize>,
    /// Pods per runtime in the kubernetes run (default 10; 5 with --quick)
    #[arg(long)]
    pods: Option<usize>,
    /// Keep the work dir (data dirs, zone files, peer outputs) for a look afterwards
    #[arg(long)]
    keep: bool,
}

/// How much each benchmark does; the full run follows the issue, `--quick` is a smoke check.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub creates: usize,
    pub first_200: usize,
    pub cli_runs: usize,
    pub peer_spawns: usize,
    pub load: std::time::Duration,
    pub density: usize,
    pub density_sample: usize,
    pub density_peers: usize,
    pub names: usize,
    pub flood_lines: u64,
    pub follow_probes: usize,
    pub pods: usize,
}

impl Sizes {
    fn new(args: &Args) -> Sizes {
        use std::time::Duration;
        let mut s = if args.quick {
            Sizes {
                creates: 100,
                first_200: 30,
                cli_runs: 20,
                peer_spawns: 32,
                load: Duration::from_secs(3),
                density: 200,
                density_sample: 20,
                density_peers: 10,
                names: 200,
                flood_lines: 100_000,
                follow_probes: 20,
                pods: 5,
            }
        } else {
            Sizes {
                creates: 1000,
                first_200: 200,
                cli_runs: 200,
                peer_spawns: 192,
                load: Duration::from_secs(10),
                density: 10_000,
                density_sample: 200,
                density_peers: 50,
                names: 1000,
                flood_lines: 1_000_000,
                follow_probes: 100,
                pods: 10,
            }
        };
        s.creates = args.creates.unwrap_or(s.creates);
        s.density = args.density.unwrap_or(s.density);
        s.names = args.names.unwrap_or(s.names);
        s.pods = args.pods.unwrap_or(s.pods).max(1);
        s
    }
}

/// The components both sides run: the same files (waci's built-ins are built from them).
pub struct Guests {
    pub hello_http: PathBuf,
    pub hello_cli: PathBuf,
    pub log_flood: PathBuf,
    pub spin: PathBuf,
    pub memory_hog: PathBuf,
}

impl Guests {
    /// The newest `<target>/release/build/waci-platform-*/out/guests/` with every guest.
    fn find(target_dir: &Path) -> anyhow::Result<Guests> {
        let build = target_dir.join("release/build");
        let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
        for e in
            std::fs::read_dir(&build).with_context(|| format!("reading {}", build.display()))?
        {
            let dir = e?.path().join("out/guests");
            let file = dir.join("hello-http.wasm");
            if let Ok(m) = std::fs::metadata(&file).and_then(|m| m.modified())
                && best.as_ref().is_none_or(|(t, _)| m > *t)
            {
                best = Some((m, dir));
            }
        }
        let (_, dir) = best.with_context(|| {
            format!(
                "no guests under {}: build waci in release mode first",
                build.display()
            )
        })?;
        Ok(Guests {
            hello_http: dir.join("hello-http.wasm"),
            hello_cli: dir.join("hello-cli.wasm"),
            log_flood: dir.join("log-flood.wasm"),
            spin: dir.join("spin.wasm"),
            memory_hog: dir.join("memory-hog.wasm"),
        })
    }
}

/// What every section gets.
pub struct Ctx {
    pub sizes: Sizes,
    pub waci_bin: PathBuf,
    /// The Kubernetes node's shim and the native hello page runc runs beside it.
    pub shim: PathBuf,
    pub hello_native: PathBuf,
    pub wasmtime: Wasmtime,
    pub knotd: PathBuf,
    pub guests: Guests,
    /// Precompiled peers of the guests (`wasmtime compile`), as waci's cache holds them.
    pub hello_http_cwasm: PathBuf,
    pub hello_cli_cwasm: PathBuf,
    pub log_flood_cwasm: PathBuf,
    pub spin_cwasm: PathBuf,
    pub memory_hog_cwasm: PathBuf,
    /// The Python and JavaScript examples' components (`python.wasm`, `javascript.wasm`).
    pub languages: Option<PathBuf>,
    /// Scratch space of this run: data dirs, zone files, outputs.
    pub work: PathBuf,
}

impl Ctx {
    /// A fresh platform with a data dir of its own.
    pub async fn start_waci(&self, name: &str) -> anyhow::Result<waci::Waci> {
        waci::Waci::start(&self.waci_bin, self.work.join(name), &[]).await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sizes = Sizes::new(&args);
    let work = std::env::temp_dir().join(format!("waci-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let guests = Guests::find(&args.target_dir)?;
    let wasmtime = Wasmtime {
        bin: args.wasmtime.clone(),
    };
    let cwasm = |name: &str| work.join(format!("{name}.cwasm"));
    wasmtime.compile(&guests.hello_http, &cwasm("hello-http"))?;
    wasmtime.compile(&guests.hello_cli, &cwasm("hello-cli"))?;
    wasmtime.compile(&guests.log_flood, &cwasm("log-flood"))?;
    wasmtime.compile(&guests.spin, &cwasm("spin"))?;
    wasmtime.compile(&guests.memory_hog, &cwasm("memory-hog"))?;
    let ctx = Ctx {
        sizes,
        waci_bin: args.waci.clone(),
        shim: args.shim.clone(),
        hello_native: args.hello_native.clone(),
        knotd: args.knotd.clone(),
        hello_http_cwasm: cwasm("hello-http"),
        hello_cli_cwasm: cwasm("hello-cli"),
        log_flood_cwasm: cwasm("log-flood"),
        spin_cwasm: cwasm("spin"),
        memory_hog_cwasm: cwasm("memory-hog"),
        wasmtime,
        guests,
        languages: args.languages.clone(),
        work: work.clone(),
    };
    let mut report = Report {
        mode: mode_line(&args, &ctx.sizes),
        machine: machine(&ctx),
        ..Default::default()
    };
    eprintln!("{}", report.mode);

    let wanted = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
    let started = Instant::now();
    for section in sections::ALL {
        if !wanted(section.name) {
            continue;
        }
        eprintln!("== {} ==", section.name);
        let t = Instant::now();
        if let Err(e) = (section.run)(&ctx, &mut report).await {
            eprintln!("{} failed: {e:#}", section.name);
            report.note(format!("{} failed: {e:#}", section.name));
        }
        report
            .durations
            .push((section.name, t.elapsed().as_secs_f64()));
    }
    report
        .durations
        .push(("total", started.elapsed().as_secs_f64()));

    let table = report.table();
    println!("\n{table}");
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report.json())?)?;
    println!("Figures written to {}", args.out.display());
    if args.keep {
        println!("Work dir kept: {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}

fn mode_line(args: &Args, s: &Sizes) -> String {
    format!(
        "{} run: {} creates per start-up figure, wrk {} s, density N={}, {} named groups for DNS and recovery, {} log lines, {} pods per Kubernetes runtime",
        if args.quick { "quick" } else { "full" },
        s.creates,
        s.load.as_secs(),
        s.density,
        s.names,
        s.flood_lines,
        s.pods
    )
}

fn machine(ctx: &Ctx) -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kib| kib / (1024.0 * 1024.0))
        .unwrap_or(0.0);
    Machine {
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        model,
        memory_gib,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        fsync_ms: fsync_ms(&ctx.work),
        tools: vec![
            ("wasmtime".into(), ctx.wasmtime.version()),
            (
                "Knot DNS".into(),
                tools::version(&ctx.knotd.to_string_lossy(), &["--version"]),
            ),
            ("wrk".into(), tools::version("wrk", &["-v"])),
            ("dnsperf".into(), tools::version("dnsperf", &["-h"])),
            (
                "hyperfine".into(),
                tools::version("hyperfine", &["--version"]),
            ),
            (
                "containerd".into(),
                tools::version("containerd", &["--version"]),
            ),
            ("runc".into(), tools::version("runc", &["--version"])),
        ],
    }
}

/// Median of 20 × (write 4 KiB + fsync) in `dir`: what each SQLite commit pays at least.
fn fsync_ms(dir: &Path) -> f64 {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let Ok(mut f) = std::fs::File::create(&path) else {
        return 0.0;
    };
    let mut ms: Vec<f64> = (0..20)
        .map(|_| {
            let t = Instant::now();
            let _ = f.write_all(&[0u8; 4096]).and_then(|()| f.sync_all());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let _ = std::fs::remove_file(&path);
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}
