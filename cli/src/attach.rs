//! `waci container attach`: ACI's attach. Prints the container's events until it runs, then
//! opens the API's attach socket and prints the container's output live from that moment,
//! until the container ends for good or Ctrl-C.

use crate::client::Client;
use anyhow::Context;
use clap::Args;
use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::Value;
use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// How often the events are read while waiting for the container to run.
const POLL: Duration = Duration::from_millis(100);
/// The exit status after Ctrl-C, as a shell reports a command ended by SIGINT.
pub(crate) const INTERRUPTED: i32 = 130;

#[derive(Args)]
#[command(after_help = "Examples:
  Watch the group start, then follow what its first container writes (Ctrl-C to stop).
    waci container attach -g demo -n hello

  Attach to container 'worker' of a multi-container group.
    waci container attach -g demo -n app --container-name worker")]
pub struct AttachArgs {
    #[command(flatten)]
    container: ContainerRef,
}

/// The container a command acts on, named with az's flags.
#[derive(Args)]
pub(crate) struct ContainerRef {
    /// Name of the resource group
    #[arg(short = 'g', long)]
    pub(crate) resource_group: String,
    /// Name of the container group
    #[arg(short, long)]
    pub(crate) name: String,
    /// The container [default: the group's first]
    #[arg(long)]
    pub(crate) container_name: Option<String>,
}

fn container_of<'a>(group: &'a Value, name: &str) -> Option<&'a Value> {
    group["properties"]["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

/// The container a command names, else the group's first, checked to exist in the group.
pub(crate) async fn resolve_container(client: &Client, c: &ContainerRef) -> anyhow::Result<String> {
    let group = client.group(&c.resource_group, &c.name).await?;
    let container = match c.container_name.clone() {
        Some(c) => c,
        None => group["properties"]["containers"][0]["name"]
            .as_str()
            .context("the group has no containers")?
            .to_string(),
    };
    container_of(&group, &container)
        .with_context(|| format!("the group has no container '{container}'"))?;
    Ok(container)
}

/// A socket of ACI's shape (attach, exec): the POST of `action` on `container` of the group
/// `at` names, with `body`, then the socket it answers, opened with its one-time password.
pub(crate) async fn open_socket(
    client: &Client,
    at: &ContainerRef,
    container: &str,
    action: &str,
    body: Option<&Value>,
) -> anyhow::Result<Socket> {
    let url = client.group_url(
        &at.resource_group,
        &at.name,
        &["containers", container, action],
        &[],
    );
    let session = client
        .call(Method::POST, url, body)
        .await?
        .with_context(|| format!("the {action} answer is empty"))?;
    let uri = session["webSocketUri"]
        .as_str()
        .with_context(|| format!("the {action} answer has no webSocketUri"))?;
    let password = session["password"]
        .as_str()
        .with_context(|| format!("the {action} answer has no password"))?;
    let (mut socket, _) = tokio_tungstenite::connect_async(uri)
        .await
        .with_context(|| format!("opening the {action} socket {uri}"))?;
    socket
        .send(Message::text(password))
        .await
        .with_context(|| format!("sending the {action} password"))?;
    Ok(socket)
}

/// Prints what a text or binary message of the socket carries, at once; other messages
/// (pings) carry nothing to print.
pub(crate) fn print(m: &Message) -> std::io::Result<()> {
    let bytes: &[u8] = match m {
        Message::Text(t) => t.as_bytes(),
        Message::Binary(b) => b,
        _ => return Ok(()),
    };
    let mut stdout = std::io::stdout();
    stdout.write_all(bytes)?;
    stdout.flush()
}

/// An open attach or exec socket.
pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn run(client: &Client, args: AttachArgs) -> anyhow::Result<()> {
    let a = &args.container;
    let container = resolve_container(client, a).await?;

    // Like az: the events as they come, until the container runs (or has already ended).
    let mut seen = HashSet::new();
    loop {
        let group = client.group(&a.resource_group, &a.name).await?;
        let c = container_of(&group, &container).context("the container vanished")?;
        let view = &c["properties"]["instanceView"];
        for e in view["events"].as_array().into_iter().flatten() {
            let key = (
                e["name"].to_string(),
                e["message"].to_string(),
                e["count"].to_string(),
            );
            if seen.insert(key) {
                println!(
                    "{} {}",
                    e["name"].as_str().unwrap_or_default(),
                    e["message"].as_str().unwrap_or_default()
                );
            }
        }
        if matches!(
            view["currentState"]["state"].as_str(),
            Some("Running" | "Terminated")
        ) {
            break;
        }
        tokio::time::sleep(POLL).await;
    }

    let mut socket = open_socket(client, a, &container, "attach", None).await?;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            msg = socket.next() => match msg {
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Ok(m)) => print(&m)?,
                Some(Err(e)) => anyhow::bail!("the attach socket broke off: {e}"),
            },
            _ = &mut interrupted => std::process::exit(INTERRUPTED),
        }
    }
}
