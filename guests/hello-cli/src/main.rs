//! `waci/hello-cli`: the quickstart command. Prints its arguments and environment, then
//! exits with the code it was told.
//!
//! Arguments it understands (anything else is only printed):
//! - `--exit N`: exit with code N (default 0)
//! - `--lines N --interval-ms M`: print N numbered lines, M milliseconds apart
//! - `--stderr TEXT`: write TEXT to stderr
//! - `--write PATH TEXT`: write TEXT to the file PATH, printing `wrote PATH` (or
//!   `write failed: ERROR` and exit 1)
//! - `--read PATH`: print `read PATH: CONTENT` (or `read failed: ERROR` and exit 1)
//!
//! `--write` runs before `--read`, so both together check a round trip through a volume;
//! both run before `--exit` takes effect.

use std::io::Write;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("hello from waci/hello-cli");
    for (i, a) in args.iter().enumerate() {
        println!("arg[{i}]={a}");
    }
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.sort();
    for (k, v) in &env {
        println!("env {k}={v}");
    }

    let flag = |name: &str| -> Option<&str> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    if let Some(text) = flag("--stderr") {
        eprintln!("{text}");
    }
    let lines: u64 = flag("--lines").and_then(|v| v.parse().ok()).unwrap_or(0);
    let interval: u64 = flag("--interval-ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for n in 1..=lines {
        println!("line {n}");
        let _ = std::io::stdout().flush();
        if interval > 0 && n < lines {
            std::thread::sleep(Duration::from_millis(interval));
        }
    }
    if let Some(i) = args.iter().position(|a| a == "--write") {
        let written = match (args.get(i + 1), args.get(i + 2)) {
            (Some(path), Some(text)) => std::fs::write(path, text).map(|()| path),
            _ => Err(std::io::Error::other("--write needs PATH and TEXT")),
        };
        match written {
            Ok(path) => println!("wrote {path}"),
            Err(e) => fail(&format!("write failed: {e}")),
        }
    }
    if let Some(path) = flag("--read") {
        match std::fs::read(path) {
            Ok(bytes) => println!("read {path}: {}", String::from_utf8_lossy(&bytes)),
            Err(e) => fail(&format!("read failed: {e}")),
        }
    }

    let code: i32 = flag("--exit").and_then(|v| v.parse().ok()).unwrap_or(0);
    println!("exiting with {code}");
    let _ = std::io::stdout().flush();
    if code == 0 {
        std::process::exit(0);
    }
    // std's exit reports only success or failure on WASI 0.2; exit-with-code keeps the code.
    wasip2::cli::exit::exit_with_code(code.clamp(0, 255) as u8);
    std::process::exit(code);
}

/// Prints why a file operation failed (on stdout, with the rest of the story) and exits 1.
fn fail(message: &str) -> ! {
    println!("{message}");
    let _ = std::io::stdout().flush();
    std::process::exit(1);
}
