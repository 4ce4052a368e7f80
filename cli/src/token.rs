//! `waci token create|list|revoke`: access tokens that see one subscription only
//! (DESIGN.md §10), or, with `--metrics-only`, only `/metrics` (for a Prometheus scraper).
//! Needs the admin token; a new token is printed once and never again.

use crate::client::{Client, Connection};
use crate::output::OutputArgs;
use anyhow::Context;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    output: OutputArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a token that sees only one subscription; it is printed once.
    #[command(
        after_help = "Example:\n  waci token create --subscription team-a --expires 7d\n  \
        WACI_TOKEN=<the token> WACI_SUBSCRIPTION=team-a waci container list\n  \
        waci token create --metrics-only --query token -o tsv > /etc/prometheus/waci.token"
    )]
    Create(CreateArgs),
    /// List tokens (never their secrets).
    #[command(after_help = "Example:\n  waci token list -o table")]
    List,
    /// Revoke a token by its id; it stops working at once.
    #[command(after_help = "Example:\n  waci token revoke 3f2a9c1b7d4e")]
    Revoke(RevokeArgs),
}

/// The subscription the token sees is `--subscription` (or `WACI_SUBSCRIPTION`).
#[derive(Args)]
struct CreateArgs {
    /// How long it lives: 7d, 12h, 30m; default: until revoked
    #[arg(long)]
    expires: Option<String>,
    /// A token for a metrics scraper: it may read `/metrics` and nothing else
    #[arg(long)]
    metrics_only: bool,
}

#[derive(Args)]
struct RevokeArgs {
    /// The token's id (from `waci token list`)
    id: String,
}

pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.connection)?;
    let out = &args.output;
    match args.command {
        Command::Create(a) => {
            let mut body = if a.metrics_only {
                json!({"metricsOnly": true})
            } else {
                json!({"subscription": client.subscription()})
            };
            if let Some(e) = a.expires {
                body["expires"] = json!(e);
            }
            let made = client
                .call(Method::POST, client.platform_url(&["tokens"]), Some(&body))
                .await?
                .context("the API answered without the token")?;
            Ok(out.print(&made)?)
        }
        Command::List => {
            let list = client.get(client.platform_url(&["tokens"])).await?;
            Ok(out.print(&list["value"])?)
        }
        Command::Revoke(a) => {
            client
                .call(
                    Method::DELETE,
                    client.platform_url(&["tokens", &a.id]),
                    None,
                )
                .await?;
            Ok(())
        }
    }
}
