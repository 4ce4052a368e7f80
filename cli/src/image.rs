//! `waci image push`: puts a component into an OCI registry in the CNCF Wasm OCI artifact
//! layout (the same the platform pulls), so a user needs no other tool. It speaks to the
//! registry directly; then, where a platform answers (the same one `waci container` talks
//! to), it asks it to pull and compile the image now (`POST .../cachedImages`), so that the
//! first group of it starts from compiled code.

use crate::client::{Client, Connection};
use crate::output::OutputArgs;
use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use waci_platform::registry;

#[derive(Args)]
pub struct ImageArgs {
    #[command(flatten)]
    connection: Connection,
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
        waci image push app.wasm localhost:5000/app:v1 --no-compile\n  \
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
    /// Do not ask the platform to pull and compile the image now (by default it does, where
    /// one answers, so that the first group of it starts from compiled code)
    #[arg(long)]
    no_compile: bool,
    /// The platform's location, for the compile ahead
    #[arg(long, short = 'l', env = "WACI_LOCATION", default_value = "local")]
    location: String,
}

pub async fn run(args: ImageArgs) -> anyhow::Result<()> {
    match args.command {
        Command::Push(a) => {
            let bytes = tokio::fs::read(&a.file)
                .await
                .with_context(|| format!("cannot read {}", a.file.display()))?;
            let credentials = match (a.registry_username.clone(), a.registry_password.clone()) {
                (Some(username), Some(password)) => {
                    Some(registry::Credentials { username, password })
                }
                _ => None,
            };
            let pushed = registry::push(bytes, &a.reference, credentials.as_ref()).await?;
            let compile = if a.no_compile {
                "not asked".to_string()
            } else {
                compile_ahead(&args.connection, &a, credentials.as_ref()).await
            };
            args.output.print(&json!({
                "reference": a.reference,
                "digest": pushed.manifest_digest,
                "pinned": pushed.pinned,
                "layerDigest": pushed.layer_digest,
                "size": pushed.size,
                "mediaType": registry::WASM_LAYER,
                "compile": compile,
            }))?;
            Ok(())
        }
    }
}

/// How long a push waits for the platform to have pulled the image it is asked to compile
/// (the compile itself goes on after the answer): a platform that does not answer by then
/// leaves the push as it is.
const COMPILE_AHEAD_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Asks the platform to pull the pushed image and compile it now; what became of that, in
/// words. The push stands whatever the platform says: without a platform (none found, none
/// answering) there is nothing to compile on, and a refusal is a warning.
async fn compile_ahead(
    connection: &Connection,
    a: &PushArgs,
    credentials: Option<&registry::Credentials>,
) -> String {
    let client = match Client::new(connection) {
        Ok(c) => c,
        Err(e) => return format!("not compiled ahead: {e}"),
    };
    let mut body = json!({ "image": a.reference });
    if let (Some(c), Ok(r)) = (credentials, registry::parse(&a.reference)) {
        body["imageRegistryCredentials"] = json!([{
            "server": r.registry(),
            "username": c.username,
            "password": c.password,
        }]);
    }
    let url = client.url(
        &[
            "providers",
            "Microsoft.ContainerInstance",
            "locations",
            &a.location,
            "cachedImages",
        ],
        &[],
    );
    let asked = client.call(reqwest::Method::POST, url, Some(&body));
    let Ok(answer) = tokio::time::timeout(COMPILE_AHEAD_WAIT, asked).await else {
        return format!(
            "not compiled ahead: the platform did not answer within {} s",
            COMPILE_AHEAD_WAIT.as_secs()
        );
    };
    match answer {
        Ok(Some(v)) if v["compiled"] == json!(true) => "already compiled on the platform".into(),
        Ok(_) => "compiling on the platform".into(),
        Err(e @ crate::client::Error::NotRunning { .. }) => format!("not compiled ahead: {e}"),
        Err(e) => {
            eprintln!("warning: the platform did not take the image to compile: {e}");
            format!("not compiled ahead: {e}")
        }
    }
}
