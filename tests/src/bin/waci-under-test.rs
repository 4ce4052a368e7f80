//! The `waci` entry point, built inside this package so that `cargo test` always rebuilds
//! it with the code under test (cargo builds only a package's own binaries for its tests).
fn main() -> std::process::ExitCode {
    waci::main()
}
