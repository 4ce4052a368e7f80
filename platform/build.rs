//! Builds the Wasm components in `guests/` for wasm32-wasip2 and hands their paths to the
//! crate, so the quickstart images are built into the binary and tests find the rest.
//!
//! The guests are their own Cargo workspace, built by a nested `cargo build` into a target
//! dir of their own beside ours. The wasm32-wasip2 target is added with rustup if missing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every guest: crate name and the file cargo produces (a `cdylib` gets underscores, a `bin`
/// keeps the crate name). The first three are built into the binary (`waci/<name>`): the
/// quickstart images and the toolbox that exec runs; the rest are only files for tests.
const GUESTS: &[(&str, &str)] = &[
    ("hello-http", "hello_http.wasm"),
    ("hello-cli", "hello-cli.wasm"),
    ("toolbox", "toolbox.wasm"),
    ("spin-http", "spin_http.wasm"),
    ("memory-hog", "memory-hog.wasm"),
    ("crash", "crash.wasm"),
    ("log-flood", "log-flood.wasm"),
    ("files-http", "files_http.wasm"),
    ("sandbox-probe", "sandbox-probe.wasm"),
    ("spin", "spin.wasm"),
    ("net-client", "net-client.wasm"),
    ("net-server", "net-server.wasm"),
    ("net-web", "net_web.wasm"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let guests = manifest_dir.parent().unwrap().join("guests");
    println!(
        "cargo:rerun-if-changed={}",
        guests.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        guests.join("Cargo.lock").display()
    );
    for (name, _) in GUESTS {
        println!("cargo:rerun-if-changed={}", guests.join(name).display());
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    // target/<profile>/build/<pkg>/out → target/wasm-guests, shared by every profile.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|p| p.join("wasm-guests"))
        .unwrap_or_else(|| out_dir.join("wasm-guests"));

    ensure_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--release",
        "--target",
        "wasm32-wasip2",
        "--manifest-path",
    ])
    .arg(guests.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(&target_dir);
    // The outer build's settings are for the host; the guests get a clean environment.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME"
            || key == "RUSTFLAGS"
            || key == "RUSTC_WRAPPER"
            || key == "RUSTC_WORKSPACE_WRAPPER"
        {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().expect("running cargo to build the guests");
    if !status.success() {
        panic!(
            "building the Wasm guests in {} failed (see the output above)",
            guests.display()
        );
    }
    let built = target_dir.join("wasm32-wasip2").join("release");
    let dest = out_dir.join("guests");
    std::fs::create_dir_all(&dest).unwrap();
    for (name, file) in GUESTS {
        let src = built.join(file);
        let to = dest.join(format!("{name}.wasm"));
        std::fs::copy(&src, &to).unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
    }
    println!("cargo:rustc-env=WACI_GUESTS_DIR={}", dest.display());
}

/// Makes sure `rustup target add wasm32-wasip2` has been done, or fails with that hint.
fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", "wasm32-wasip2"])
        .output();
    if let Ok(out) = libdir
        && out.status.success()
        && Path::new(String::from_utf8_lossy(&out.stdout).trim()).exists()
    {
        return;
    }
    println!("cargo:warning=adding the wasm32-wasip2 target with rustup");
    let added = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .status();
    if !matches!(added, Ok(s) if s.success()) {
        panic!(
            "the wasm32-wasip2 target is missing and rustup could not add it: run `rustup target add wasm32-wasip2`"
        );
    }
}
