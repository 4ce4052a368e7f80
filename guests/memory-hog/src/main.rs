//! `waci/memory-hog`: a command that grows its memory until the platform's memory cap stops
//! it. Each round allocates a 16 MiB chunk, writes every byte of it (so the memory is really
//! committed, not just reserved), keeps it alive and prints `allocated N MiB`.
//!
//! It has no way to end on its own: it stops when growing linear memory traps (or, if the
//! host only refuses the growth, when the allocator aborts on the failed allocation).

use std::hint::black_box;

/// Size of each allocation: big enough to reach any cap quickly, small enough that the log
/// shows how far it got.
const CHUNK: usize = 16 << 20;

fn main() {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        // resize writes every byte; a zeroed allocation could be served by fresh pages
        // without touching them.
        chunk.resize(CHUNK, 0xa5u8);
        chunks.push(chunk);
        black_box(&mut chunks);
        println!("allocated {} MiB", chunks.len() * (CHUNK >> 20));
    }
}
