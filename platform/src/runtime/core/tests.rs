//! The core on its own: a command runs in its sandbox and its output reaches a sink kept in
//! memory, with no store, no log hub and no supervisor, as in a containerd shim.

use super::command::{Exit, run_once};
use super::engine::{Engines, Tiered, Workload};
use super::host::{Host, Sandbox};
use super::{LogSink, Stream, StreamSink};
use crate::model::{Container, EnvVar, ResourceLimits, ResourceRequests};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wasmtime_wasi::p2::bindings::CommandPre;

/// Guest output kept in memory, per stream; it has room only while `room` is set.
struct Memory {
    written: Arc<Mutex<Vec<(Stream, Vec<u8>)>>>,
    room: AtomicBool,
    roomy: tokio::sync::Notify,
}

impl Memory {
    fn new(room: bool) -> Arc<Memory> {
        Arc::new(Memory {
            written: Arc::default(),
            room: AtomicBool::new(room),
            roomy: tokio::sync::Notify::new(),
        })
    }
    fn text(&self, stream: Stream) -> String {
        let written = self.written.lock().unwrap();
        let bytes: Vec<u8> = written
            .iter()
            .filter(|(s, _)| *s == stream)
            .flat_map(|(_, b)| b.iter().copied())
            .collect();
        String::from_utf8(bytes).unwrap()
    }
    fn make_room(&self) {
        self.room.store(true, Ordering::Release);
        self.roomy.notify_waiters();
    }
}

struct MemoryStream {
    stream: Stream,
    written: Arc<Mutex<Vec<(Stream, Vec<u8>)>>>,
}

impl StreamSink for MemoryStream {
    fn write(&mut self, bytes: &[u8]) {
        let mut written = self.written.lock().unwrap();
        written.push((self.stream, bytes.to_vec()));
    }
}

impl LogSink for Memory {
    fn open(&self, _: i64, _: &Arc<str>, stream: Stream) -> Arc<Mutex<dyn StreamSink>> {
        Arc::new(Mutex::new(MemoryStream {
            stream,
            written: self.written.clone(),
        }))
    }
    fn has_room(&self) -> bool {
        self.room.load(Ordering::Acquire)
    }
    fn wait_for_room(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                let woken = self.roomy.notified();
                if self.has_room() {
                    return;
                }
                woken.await;
            }
        })
    }
}

fn container(command: &[&str]) -> Container {
    Container {
        name: "job".into(),
        image: "hello-cli.wasm".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        ports: vec![],
        env: vec![EnvVar {
            name: "GREETING".into(),
            value: Some("hello".into()),
            secure_value: None,
        }],
        requests: ResourceRequests {
            cpu: 1.0,
            memory_gb: 0.5,
        },
        limits: ResourceLimits::default(),
        volume_mounts: vec![],
        instance_reuse: false,
        liveness_probe: None,
        readiness_probe: None,
        security_context: None,
    }
}

/// The engine (its code cache in a directory of its own) and the hello-cli command.
async fn hello_cli(cache: &std::path::Path) -> (Arc<Engines>, CommandPre<Host>) {
    let engines = Engines::new(cache.to_path_buf()).unwrap();
    let bytes = guest_bytes("hello-cli");
    let (loaded, _) = engines.load("sha256:hello-cli-test", bytes).await.unwrap();
    let Workload::Command(pre) = &loaded.workload else {
        panic!("hello-cli is not a command");
    };
    (engines.clone(), pre.current().clone())
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("waci-core-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_command_runs_with_its_output_in_a_sink_of_its_own() {
    let dir = temp_dir("run");
    let (engines, pre) = hello_cli(&dir).await;
    let sink = Memory::new(true);
    let c = container(&["job", "--stderr", "oops", "--exit", "3"]);
    let sandbox = Sandbox::new(7, &c, vec![], sink.clone(), Arc::from(vec![]));
    let exit = run_once(&engines, &pre, &sandbox, &CancellationToken::new(), None).await;

    assert_eq!(exit, Exit::Code(3));
    let stdout = sink.text(Stream::Stdout);
    assert!(
        stdout.starts_with("hello from waci/hello-cli\n"),
        "{stdout}"
    );
    assert!(stdout.contains("arg[1]=--stderr\n"), "{stdout}");
    assert!(stdout.contains("env GREETING=hello\n"), "{stdout}");
    assert_eq!(sink.text(Stream::Stderr), "oops\n");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_guest_waits_while_its_sink_has_no_room() {
    let dir = temp_dir("room");
    let (engines, pre) = hello_cli(&dir).await;
    let sink = Memory::new(false);
    let c = container(&["job", "--lines", "3"]);
    let sandbox = Sandbox::new(7, &c, vec![], sink.clone(), Arc::from(vec![]));
    let cancel = CancellationToken::new();
    let run = run_once(&engines, &pre, &sandbox, &cancel, None);
    tokio::pin!(run);

    let early = tokio::time::timeout(Duration::from_millis(300), run.as_mut()).await;
    assert!(early.is_err(), "the guest ended without room to write");
    assert_eq!(sink.text(Stream::Stdout), "");

    sink.make_room();
    let exit = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the guest goes on once there is room");
    assert_eq!(exit, Exit::Code(0));
    let stdout = sink.text(Stream::Stdout);
    assert!(
        stdout.ends_with("line 1\nline 2\nline 3\nexiting with 0\n"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A guest's bytes from the guests' build directory.
fn guest_bytes(name: &str) -> Arc<[u8]> {
    let file = std::path::Path::new(env!("WACI_GUESTS_DIR")).join(format!("{name}.wasm"));
    std::fs::read(&file).unwrap().into()
}

/// An engine caching in `dir` and command guest `name` compiled by Winch, as digest
/// `sha256:tiers-<name>`.
fn on_baseline(dir: &std::path::Path, name: &str) -> (Arc<Engines>, Tiered<CommandPre<Host>>) {
    let engines = Engines::new(dir.to_path_buf()).unwrap();
    let digest = format!("sha256:tiers-{name}");
    let Some(Workload::Command(pre)) = engines.baseline_first(&digest, &guest_bytes(name)) else {
        panic!("Winch compiles {name}, a command");
    };
    (engines, pre)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_code_runs_first_and_the_optimised_code_takes_over() {
    let dir = temp_dir("tiers");
    let (engines, pre) = on_baseline(&dir, "hello-cli");
    assert!(pre.is_baseline());
    let sink = Memory::new(true);
    let c = container(&["job", "--exit", "4"]);
    let sandbox = Sandbox::new(7, &c, vec![], sink.clone(), Arc::from(vec![]));
    let cancel = CancellationToken::new();
    let exit = run_once(&engines, pre.current(), &sandbox, &cancel, None).await;
    assert_eq!(exit, Exit::Code(4), "{}", sink.text(Stream::Stdout));

    // Cranelift's code comes from the background and is what the cache keeps.
    until_optimised(&pre).await;
    let cached: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        cached
            .iter()
            .any(|f| f.starts_with("tiers-hello-cli-") && f.ends_with(".cwasm")),
        "{cached:?}"
    );
    let exit = run_once(&engines, pre.current(), &sandbox, &cancel, None).await;
    assert_eq!(exit, Exit::Code(4));
    // It was compiled on threads below the guests' priority, so it took no core a guest
    // wanted.
    let niced = background_threads();
    assert!(
        niced
            .iter()
            .any(|(name, _)| name.starts_with("waci-optimize-")),
        "no thread of the background pool: {niced:?}"
    );
    for (name, nice) in niced {
        assert_eq!(nice, super::engine::BACKGROUND_NICE, "{name}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Waits until the background compile has set Cranelift's code in `pre`.
async fn until_optimised<P>(pre: &Tiered<P>) {
    let waited = std::time::Instant::now();
    while pre.is_baseline() {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "the optimised code never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `crash <how>` run to its end on `pre`'s code: how it ended and what it printed.
async fn crash(engines: &Engines, pre: &CommandPre<Host>, how: &str) -> (Exit, String, String) {
    let sink = Memory::new(true);
    let c = container(&["crash", how]);
    let sandbox = Sandbox::new(7, &c, vec![], sink.clone(), Arc::from(vec![]));
    let exit = run_once(engines, pre, &sandbox, &CancellationToken::new(), None).await;
    (exit, sink.text(Stream::Stdout), sink.text(Stream::Stderr))
}

/// The baseline compiler's code has no native unwind tables; a guest that traps on it (an
/// `unreachable`, a panic, a stack run out) still ends as a trap naming its cause, with
/// what it printed first, exactly as on Cranelift's code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_traps_on_baseline_code_ends_as_on_optimised_code() {
    let dir = temp_dir("tiers-crash");
    let (engines, pre) = on_baseline(&dir, "crash");
    let baseline = pre.current().clone();
    // Taken before this check, so it is Winch's code: the optimised code only ever follows.
    assert!(pre.is_baseline(), "the optimised code came first");
    let mut on_baseline = Vec::new();
    for how in ["trap", "panic", "recurse"] {
        on_baseline.push(crash(&engines, &baseline, how).await);
    }
    let [trap, panic, recurse] = &on_baseline[..] else {
        unreachable!("three runs")
    };
    assert_eq!(trap.1, "about to trap\n");
    assert!(
        matches!(&trap.0, Exit::Trap(m) if m.contains("`unreachable` instruction")),
        "{trap:?}"
    );
    assert!(panic.2.contains("deliberate panic"), "{panic:?}");
    assert!(matches!(&panic.0, Exit::Trap(_)), "{panic:?}");
    assert_eq!(recurse.1, "about to recurse\n");
    assert!(
        matches!(&recurse.0, Exit::Trap(m) if m.contains("out of bounds memory access")),
        "{recurse:?}"
    );

    until_optimised(&pre).await;
    for (how, baseline_ended) in ["trap", "panic", "recurse"].into_iter().zip(&on_baseline) {
        let optimised_ended = crash(&engines, pre.current(), how).await;
        assert_eq!(&optimised_ended, baseline_ended, "crash {how}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The name and niceness of each of this process's background compile threads.
fn background_threads() -> Vec<(String, i32)> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| {
            let stat = std::fs::read_to_string(t.ok()?.path().join("stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_string();
            // After the name: state (field 3) ... nice (field 19).
            let nice = rest.split_whitespace().nth(16)?.parse().ok()?;
            name.starts_with("waci-optimize").then_some((name, nice))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_on_baseline_code_is_cut_at_its_time_limit() {
    let dir = temp_dir("tiers-spin");
    let (engines, pre) = on_baseline(&dir, "spin");
    let sink = Memory::new(true);
    let c = container(&["spin"]);
    let sandbox = Sandbox::new(7, &c, vec![], sink.clone(), Arc::from(vec![]));
    // Only the epoch checks in the baseline code can end it: it never calls the host.
    let exit = tokio::time::timeout(
        Duration::from_secs(60),
        run_once(
            &engines,
            pre.current(),
            &sandbox,
            &CancellationToken::new(),
            Some(Duration::from_millis(300)),
        ),
    )
    .await
    .expect("the loop is cut");
    assert_eq!(exit, Exit::Timeout);
    assert_eq!(sink.text(Stream::Stdout), "spinning\n");
    std::fs::remove_dir_all(&dir).ok();
}
