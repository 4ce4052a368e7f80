//! `waci container logs`: a container's log as the API keeps it, or `--follow`: the API's
//! chunked live stream copied to stdout as it comes, until the container ends for good
//! (the API then ends the stream) or Ctrl-C.

use crate::client::Client;
use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use reqwest::Method;
use tokio::io::AsyncWriteExt;

/// The exit status after Ctrl-C, as a shell reports a command ended by SIGINT.
const INTERRUPTED: i32 = 130;

#[derive(Args)]
#[command(after_help = "Examples:
  Print the logs of the group's first container.
    waci container logs -g demo -n hello

  Follow them live (Ctrl-C to stop); the command ends by itself when the container does.
    waci container logs -g demo -n hello --follow

  The last 10 lines of container 'sidecar', with their times.
    waci container logs -g demo -n web --container-name sidecar --tail 10 --timestamps")]
pub struct LogsArgs {
    /// Name of the resource group
    #[arg(short = 'g', long)]
    pub(crate) resource_group: String,
    /// Name of the container group
    #[arg(short, long)]
    pub(crate) name: String,
    /// The container whose logs to print [default: the group's first]
    #[arg(long)]
    pub(crate) container_name: Option<String>,
    /// Keep printing new lines as they are written, until the container ends
    #[arg(long)]
    pub(crate) follow: bool,
    /// Only the last N lines
    #[arg(long)]
    pub(crate) tail: Option<u64>,
    /// Start each line with the time it was written
    #[arg(long)]
    pub(crate) timestamps: bool,
}

pub async fn run(client: &Client, a: LogsArgs) -> anyhow::Result<()> {
    let container = match a.container_name {
        Some(c) => c,
        None => {
            let group = client.group(&a.resource_group, &a.name).await?;
            group["properties"]["containers"][0]["name"]
                .as_str()
                .context("the group has no containers")?
                .to_string()
        }
    };
    let mut query = vec![];
    if let Some(n) = a.tail {
        query.push(("tail", n.to_string()));
    }
    if a.timestamps {
        query.push(("timestamps", "true".to_string()));
    }
    if a.follow {
        query.push(("follow", "true".to_string()));
    }
    let url = client.group_url(
        &a.resource_group,
        &a.name,
        &["containers", &container, "logs"],
        &query,
    );
    if !a.follow {
        let body = client.get(url).await?;
        print!("{}", body["content"].as_str().unwrap_or_default());
        return Ok(());
    }
    let resp = client.send(Method::GET, url, None).await?;
    let mut stream = resp.bytes_stream();
    let mut stdout = tokio::io::stdout();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            chunk = stream.next() => match chunk {
                Some(Ok(bytes)) => {
                    stdout.write_all(&bytes).await?;
                    stdout.flush().await?;
                }
                Some(Err(e)) => anyhow::bail!("the log stream broke off: {e}"),
                None => return Ok(()),
            },
            _ = &mut interrupted => {
                stdout.flush().await?;
                std::process::exit(INTERRUPTED);
            }
        }
    }
}
