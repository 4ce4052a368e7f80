//! `waci`: the one binary. `waci serve` runs the platform; every other subcommand is a
//! client of its HTTP API, shaped like `az container`. `main.rs` only calls [`main`]; the
//! end-to-end tests build the same entry point into a binary of their own so they always
//! run the code under test.

mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "waci",
    version,
    about = "WebAssembly Container Instances: run a Wasm component as a container group in one command"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform: control API, runtime, names and logs, in one process.
    #[command(
        after_help = "Example:\n  waci serve\n  waci serve --listen 127.0.0.1:0 --data-dir /tmp/waci"
    )]
    Serve(serve::ServeArgs),
}

/// The whole `waci` command line.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
