//! `waci group create|show|list|delete`: resource groups, as `az group` manages them.
//! Deleting a resource group deletes its container groups.

use crate::client::{Client, Connection};
use crate::output::OutputArgs;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

#[derive(Args)]
pub struct GroupArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    output: OutputArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a resource group (or update its tags).
    #[command(after_help = "Example:\n  waci group create -n demo\n  \
        waci group create -n demo -l local --tags team=web")]
    Create(CreateArgs),
    /// Show a resource group.
    #[command(after_help = "Example:\n  waci group show -n demo")]
    Show(NameArgs),
    /// List the resource groups of the subscription.
    #[command(after_help = "Example:\n  waci group list -o table")]
    List,
    /// Delete a resource group and every container group in it; asks first unless --yes.
    #[command(after_help = "Example:\n  waci group delete -n demo --yes")]
    Delete(DeleteArgs),
}

#[derive(Args)]
struct NameArgs {
    /// Name of the resource group
    #[arg(
        short,
        long,
        visible_short_alias = 'g',
        visible_alias = "resource-group"
    )]
    name: String,
}

#[derive(Args)]
struct CreateArgs {
    #[command(flatten)]
    group: NameArgs,
    /// Location [default: the platform's]
    #[arg(short, long)]
    location: Option<String>,
    /// Tags, space-separated KEY=VALUE
    #[arg(long, num_args = 1.., value_parser = tag)]
    tags: Vec<(String, String)>,
}

#[derive(Args)]
struct DeleteArgs {
    #[command(flatten)]
    group: NameArgs,
    /// Do not ask for confirmation
    #[arg(short, long)]
    yes: bool,
}

fn tag(s: &str) -> Result<(String, String), String> {
    // az takes a bare KEY as a tag with an empty value.
    Ok(match s.split_once('=') {
        Some((k, v)) => (k.to_string(), v.to_string()),
        None => (s.to_string(), String::new()),
    })
}

pub async fn run(args: GroupArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let out = &args.output;
    match args.command {
        Command::Create(a) => {
            let tags: Map<String, Value> = a.tags.into_iter().map(|(k, v)| (k, json!(v))).collect();
            let mut body = json!({"tags": tags});
            if let Some(l) = a.location {
                body["location"] = json!(l);
            }
            let url = client.resource_group_url(Some(&a.group.name));
            let created = client.call(Method::PUT, url, Some(&body)).await?;
            Ok(out.print(&created.unwrap_or_default())?)
        }
        Command::Show(a) => {
            let url = client.resource_group_url(Some(&a.name));
            Ok(out.print(&client.get(url).await?)?)
        }
        Command::List => {
            let groups = client.list(client.resource_group_url(None)).await?;
            Ok(out.print(&Value::Array(groups))?)
        }
        Command::Delete(a) => {
            let question = format!(
                "Are you sure you want to perform this operation? Resource group '{}' and every container group in it will be deleted.",
                a.group.name
            );
            if !a.yes && !crate::container::confirm(&question)? {
                return Ok(());
            }
            let url = client.resource_group_url(Some(&a.group.name));
            let resp = client.send(Method::DELETE, url, None).await?;
            if resp.status() == reqwest::StatusCode::NO_CONTENT {
                eprintln!(
                    "Resource group '{}' was not found; nothing was deleted.",
                    a.group.name
                );
            }
            Ok(())
        }
    }
}
