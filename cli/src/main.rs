//! The `waci` binary; everything is in the library (`lib.rs`).

/// jemalloc for the whole process. Compiling a component allocates and frees hundreds of
/// thousands of short-lived buffers on every core at once; glibc's allocator spends much of
/// that in growing its per-thread arenas (one `mprotect` per step: 22,000 for the Python
/// example) and in lock contention. The Python example's first (baseline) compile on two
/// cores: 1.44 s → 1.19 s, median of five platform starts each; creates per second and
/// warm-instance req/s rise too. The price is a few MB of the allocator's own: 10,000 groups
/// take 4% more memory (12.6 KiB a group, against 12.2).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    waci::main()
}
