//! `waci`: the one binary. `waci serve` runs the platform; every other subcommand is a
//! client of its HTTP API, shaped like `az container`. `main.rs` only calls [`main`]; the
//! end-to-end tests build the same entry point into a binary of their own so they always
//! run the code under test.
//!
//! - `serve`: `waci serve`, flags onto the platform's `Config`.
//! - `client`: finding the platform and its token, ARM paths, API errors.
//! - `container`: `waci container ...`; with `create` (flags and body), `logs` (and
//!   `--follow`) and `yaml_file` (ACI's YAML format, read and exported).
//! - `cluster`: the container commands with `--context`, against a cluster's
//!   `ContainerGroup` resources.
//! - `attach`: `waci container attach`, the API's attach socket (and the session shape it
//!   shares with exec).
//! - `exec`: `waci container exec`, a command in a running container, interactive on a
//!   terminal.
//! - `group`: `waci group ...`.
//! - `image`: `waci image push`, a component into an OCI registry.
//! - `kubernetes`: `waci container export --export-format kubernetes`, a group as the
//!   RuntimeClass, Secret, Pod and Service that run it with the Kubernetes shim.
//! - `operator`: `waci operator`, the Kubernetes controller of the `ContainerGroup` resource,
//!   which applies what `kubernetes` builds.
//! - `token`: `waci token create|list|revoke`, subscription-scoped access tokens.
//! - `output`: `-o json|jsonc|table|tsv|yaml|yamlc|none` and `--query`.

mod attach;
mod client;
pub mod cluster;
mod container;
mod create;
mod exec;
mod group;
mod image;
pub mod kubernetes;
mod logs;
pub mod operator;
mod output;
mod serve;
mod token;
pub mod yaml_file;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "waci",
    version,
    about = "WebAssembly Container Instances: run a Wasm component as a container group in one command",
    after_help = "Example:\n  waci serve &\n  \
        waci container create -g demo -n hello --image waci/hello-http --ports 80 --dns-name-label hello-demo -o table\n  \
        waci container logs -g demo -n hello --follow"
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
    /// Manage container groups, as `az container` does.
    #[command(
        after_help = "Example:\n  waci container create -g demo -n hello --image waci/hello-http --dns-name-label hello-demo\n  \
        waci container list -o table"
    )]
    Container(container::ContainerArgs),
    /// Make, list and revoke access tokens that see one subscription.
    #[command(
        after_help = "Example:\n  waci token create --subscription team-a --expires 7d\n  waci token list"
    )]
    Token(token::TokenArgs),
    /// Push components to OCI registries, to run them by reference.
    #[command(
        after_help = "Example:\n  waci image push app.wasm localhost:5000/app:v1\n  \
        waci container create -g demo -n app --image localhost:5000/app:v1 --ports 80"
    )]
    Image(image::ImageArgs),
    /// Manage resource groups, as `az group` does.
    #[command(after_help = "Example:\n  waci group create -n demo\n  waci group list -o table")]
    Group(group::GroupArgs),
    /// Run the Kubernetes controller of ContainerGroup resources, or print their CRD.
    #[command(
        after_help = "Example:\n  waci operator crd | kubectl apply -f -\n  waci operator --zone apps.example.com"
    )]
    Operator(operator::OperatorArgs),
}

/// The whole `waci` command line.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Container(args) => client_command(container::run(args)),
        Command::Group(args) => client_command(group::run(args)),
        Command::Token(args) => client_command(token::run(args)),
        Command::Image(args) => client_command(image::run(args)),
        Command::Operator(args) => operator::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs a client command on a small runtime of its own: one request at a time needs no
/// thread pool.
fn client_command(
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}
