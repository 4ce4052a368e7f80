//! `waci/spin`: a command that prints `spinning` and then loops forever on the CPU, doing
//! nothing but arithmetic (no calls to the host, no memory growth): the noisy neighbour of
//! the CPU tests and of the benchmark's `neighbours` section.

use std::hint::black_box;

fn main() {
    println!("spinning");
    let mut x: u64 = 1;
    loop {
        // black_box keeps the loop from being optimised away or proven endless.
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407));
    }
}
