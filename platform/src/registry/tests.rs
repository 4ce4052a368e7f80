//! Loopback registries, the component check, and shared flights.

use super::*;

#[test]
fn loopback_registries_are_plain_http() {
    for r in [
        "localhost:5000",
        "127.0.0.1:5000",
        "127.9.9.9",
        "[::1]:5000",
        "LOCALHOST",
    ] {
        assert!(is_loopback(r), "{r}");
    }
    for r in [
        "ghcr.io",
        "example.com:5000",
        "10.0.0.1:5000",
        "localhost.example.com",
    ] {
        assert!(!is_loopback(r), "{r}");
    }
}

#[test]
fn only_components_pass() {
    let component = [0, b'a', b's', b'm', 0x0d, 0, 1, 0];
    let module = [0, b'a', b's', b'm', 1, 0, 0, 0];
    assert!(check_component("x", &component).is_ok());
    let e = check_component("x", &module).unwrap_err().to_string();
    assert!(e.contains("core WebAssembly module"), "{e}");
    let e = check_component("x", b"{\"not\": \"wasm\"}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not WebAssembly"), "{e}");
}

#[tokio::test]
async fn concurrent_callers_share_one_run() {
    let flights = Arc::new(Flights::<u32>::new());
    let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (f, runs) = (flights.clone(), runs.clone());
        tasks.push(tokio::spawn(async move {
            f.run("k", async {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                7
            })
            .await
        }));
    }
    let mut ran = 0;
    for t in tasks {
        let (v, r) = t.await.unwrap();
        assert_eq!(v, 7);
        ran += r as u32;
    }
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(ran, 1);
    // Once finished, a new call runs again (a tag may have moved since).
    let (v, r) = flights.run("k", async { 8 }).await;
    assert_eq!((v, r), (8, true));
}
