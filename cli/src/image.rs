//! `waci image push`: puts a component into an OCI registry in the CNCF Wasm OCI artifact
//! layout (the same the platform pulls), so a user needs no other tool. It speaks to the
//! registry directly; the platform is not involved.

use crate::output::OutputArgs;
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use waci_platform::registry;

#[derive(Args)]
pub struct ImageArgs {
    #[command(flatten)]
    output: OutputArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Push a component (.wasm) to a registry as `registry/repository:tag`.
    #[command(after_help = "Examples:\n  \
        waci image push ./target/wasm32-wasip2/release/app.wasm localhost:5000/app:v1\n  \
        waci image push app.wasm registry.example.com/team/app:v1 --registry-username me --registry-password \"$PASSWORD\"\n  \
        waci container create -g demo -n app --image localhost:5000/app:v1 --ports 80")]
    Push(PushArgs),
}

#[derive(Args)]
struct PushArgs {
    /// The component to push (a WebAssembly component, WASI 0.2)
    file: PathBuf,
    /// Where to push it: registry/repository:tag (a loopback registry is spoken to in plain HTTP)
    reference: String,
    /// Username for the registry
    #[arg(long, env = "WACI_REGISTRY_USERNAME", requires = "registry_password")]
    registry_username: Option<String>,
    /// Password for the registry
    #[arg(
        long,
        env = "WACI_REGISTRY_PASSWORD",
        hide_env_values = true,
        requires = "registry_username"
    )]
    registry_password: Option<String>,
}

pub async fn run(args: ImageArgs) -> anyhow::Result<()> {
    match args.command {
        Command::Push(a) => {
            let bytes = tokio::fs::read(&a.file)
                .await
                .with_context(|| format!("cannot read {}", a.file.display()))?;
            let credentials = match (a.registry_username, a.registry_password) {
                (Some(username), Some(password)) => {
                    Some(registry::Credentials { username, password })
                }
                _ => None,
            };
            let pushed = registry::push(bytes, &a.reference, credentials.as_ref()).await?;
            args.output.print(&json!({
                "reference": a.reference,
                "digest": pushed.manifest_digest,
                "pinned": pushed.pinned,
                "layerDigest": pushed.layer_digest,
                "size": pushed.size,
                "mediaType": registry::WASM_LAYER,
            }))?;
            Ok(())
        }
    }
}
