//! `waci/crash`: a command that fails the way its first argument says, so tests can check
//! how the platform reports each kind of guest failure.
//!
//! - `trap`: prints `about to trap`, then executes `unreachable`.
//! - `recurse`: prints `about to recurse`, then recurses until the stack overflows.
//! - `panic`: `panic!("deliberate panic")` (guests build with panic=abort, so this is a
//!   message on stderr followed by an `unreachable` trap, not exit code 101).
//! - anything else or nothing: a usage line on stderr and exit code 2.

use std::hint::black_box;

/// Bytes of stack each recursion level takes, so the 1 MiB Wasm stack (kept in linear
/// memory) runs out after about a thousand calls rather than after wasmtime's own limit.
const FRAME: usize = 1024;

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("trap") => {
            println!("about to trap");
            core::arch::wasm32::unreachable();
        }
        Some("recurse") => {
            println!("about to recurse");
            let depth = recurse(0);
            // Only reached if the stack were unbounded.
            println!("recursion ended at depth {depth}");
        }
        Some("panic") => panic!("deliberate panic"),
        _ => {
            eprintln!("usage: crash trap|recurse|panic");
            // std's exit only tells success from failure on WASI 0.2 (2 would arrive as 1).
            wasip2::cli::exit::exit_with_code(2);
            std::process::exit(2);
        }
    }
}

/// Calls itself with a stack array that black_box forces into memory, and uses the result
/// after the call, so it is neither a loop nor a tail call and every level costs `FRAME`.
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; FRAME];
    frame[0] = depth as u8;
    black_box(&mut frame);
    // Never true, but black_box hides that, so the compiler cannot prove the recursion
    // endless (no unconditional_recursion warning) nor reason it away.
    if black_box(depth) == u64::MAX {
        return depth;
    }
    recurse(depth + 1).wrapping_add(u64::from(frame[FRAME - 1]))
}
