//! The in-process cost of one hello-http request, with no network and no HTTP server: a
//! fresh store, instantiation, the guest's handler, its response body, teardown and the log
//! line it writes, each request in turn on one thread. It is the floor under the throughput
//! figure of `benches/run`: whatever the server and the kernel add comes on top.
//!
//! `cargo run --release -p waci-platform --example request_floor`
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::sync::Arc;
use std::time::{Duration, Instant};
use waci_platform::logs::LogHub;
use waci_platform::model::{Container, ResourceLimits, ResourceRequests};
use waci_platform::runtime::Service;
use waci_platform::runtime::engine::{Engines, Workload};
use waci_platform::runtime::host::Sandbox;
use waci_platform::store::Store;

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("waci-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Store::open(&dir.join("waci.db"))?;
    let hub = LogHub::start(store.clone(), 10_000);
    let engines = Engines::new(dir.join("cache"))?;
    let img = waci_platform::images::resolve("waci/hello-http")?;
    let (loaded, _) = engines.load(&img.digest, img.bytes.clone()).await?;
    let Workload::Service(pre) = &loaded.workload else {
        anyhow::bail!("not a service")
    };
    let c = Container {
        name: "main".into(),
        image: "waci/hello-http".into(),
        command: vec![],
        ports: vec![],
        env: vec![],
        requests: ResourceRequests {
            cpu: 1.0,
            memory_gb: 1.5,
        },
        limits: ResourceLimits::default(),
        volume_mounts: vec![],
        instance_reuse: false,
        liveness_probe: None,
        readiness_probe: None,
        security_context: None,
    };
    let sandbox = Sandbox::new(1, &c, vec![], hub.clone(), Arc::from(vec![]));
    let svc = Arc::new(Service {
        engines: engines.clone(),
        pre: pre.clone(),
        sandbox,
        request_timeout: Duration::from_secs(10),
        on_failure: Box::new(|_| {}),
        stopping: tokio_util::sync::CancellationToken::new(),
        runs: tokio_util::task::TaskTracker::new(),
        reuse: None,
        admission: waci_platform::runtime::core::probe::Admission::open(),
    });
    let n = 20_000;
    let rounds = [
        ("warm-up", true),
        ("store + instantiate + drop", false),
        ("whole request", true),
        ("store + instantiate + drop", false),
        ("whole request", true),
    ];
    for (what, full) in rounds {
        let (t, c0) = (Instant::now(), cpu_secs());
        for _ in 0..n {
            if full {
                let req = hyper::Request::get("http://x/")
                    .header("user-agent", "wrk")
                    .body(Empty::<Bytes>::new())?;
                let body = svc.handle(req).await.into_body().collect().await;
                assert!(body.is_ok());
            } else {
                let pre = svc.pre.current();
                let mut s = svc.sandbox.store(pre.instance_pre().engine())?;
                let p = pre.instantiate_async(&mut s).await?;
                drop(p);
                drop(s);
            }
        }
        let wall = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        let cpu = (cpu_secs() - c0) * 1e6 / n as f64;
        println!("{what:28} wall {wall:6.1} µs/request, process CPU {cpu:6.1} µs/request");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
