//! `waci container ...`: the `az container` commands against the control API. Each command
//! is one or two API calls; `create`, `restart` and `start` then wait until the group is
//! Running or has ended, as az waits on the long-running operation.
//!
//! Flags and the body of `create` are in `create.rs`, logs in `logs.rs`, the YAML format in
//! `yaml_file.rs`, printing in `output.rs`.

use crate::client::{API_VERSION, Client, Connection};
use crate::create::{self, CreateArgs};
use crate::logs::{self, LogsArgs};
use crate::output::OutputArgs;
use crate::yaml_file;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::Value;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often a waiting command looks at the group, at most: local calls are cheap. It
/// looks first after [`FIRST_POLL`], then twice as long each time up to this: a group of a
/// compiled image starts in milliseconds, so a create is done in about as many.
const POLL: Duration = Duration::from_millis(100);
const FIRST_POLL: Duration = Duration::from_millis(2);
/// How long a waiting command waits before it gives up (the group itself goes on).
const WAIT_LIMIT: Duration = Duration::from_secs(300);

#[derive(Args)]
pub struct ContainerArgs {
    #[command(flatten)]
    connection: Connection,
    /// Drive a Kubernetes cluster running `waci operator`, through ContainerGroup resources,
    /// with this kubeconfig context (create, show, list, logs, delete; -g is the namespace)
    #[arg(long, global = true)]
    context: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a container group, or update one in place, and wait until it runs.
    Create(CreateArgs),
    /// Show a container group with its state, IP, FQDN and events.
    #[command(after_help = "Example:\n  waci container show -g demo -n hello\n  \
        waci container show -g demo -n hello --query properties.ipAddress.ip -o tsv")]
    Show(NameArgs),
    /// List container groups, of a resource group or of the whole subscription.
    #[command(after_help = "Example:\n  waci container list -o table\n  \
        waci container list -g demo --query \"[].name\" -o tsv")]
    List(ListArgs),
    /// Print a container's logs, or follow them live with --follow.
    Logs(LogsArgs),
    /// Watch a group start, then stream a container's output live.
    Attach(crate::attach::AttachArgs),
    /// Run a command (a shell, ls, cat, env, ...) inside a running container.
    Exec(crate::exec::ExecArgs),
    /// Delete a container group; asks first unless --yes.
    #[command(after_help = "Example:\n  waci container delete -g demo -n hello --yes")]
    Delete(DeleteArgs),
    /// Restart every container of a group and wait until it runs.
    #[command(after_help = "Example:\n  waci container restart -g demo -n hello")]
    Restart(WaitArgs),
    /// Stop every container of a group; its IP and name stay.
    #[command(after_help = "Example:\n  waci container stop -g demo -n hello")]
    Stop(NameArgs),
    /// Start a stopped group again and wait until it runs.
    #[command(after_help = "Example:\n  waci container start -g demo -n hello")]
    Start(WaitArgs),
    /// Write a group as a YAML file in ACI's format, for `create --file`, or as the
    /// Kubernetes objects that run it with the waci shim.
    #[command(
        after_help = "Example:\n  waci container export -g demo -n hello -f hello.yaml\n  \
        waci container delete -g demo -n hello --yes\n  \
        waci container create -g demo --file hello.yaml\n  \
        waci container export --format kubernetes -g demo -n hello -f hello-k8s.yaml\n  \
        waci container export --format kubernetes --from-file hello.yaml -f hello-k8s.yaml"
    )]
    Export(ExportArgs),
}

#[derive(Args)]
pub struct NameArgs {
    /// Name of the resource group
    #[arg(short = 'g', long)]
    pub resource_group: String,
    /// Name of the container group
    #[arg(short, long)]
    pub name: String,
}

#[derive(Args)]
struct ListArgs {
    /// Only the groups of this resource group
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
}

#[derive(Args)]
struct DeleteArgs {
    #[command(flatten)]
    group: NameArgs,
    /// Do not ask for confirmation
    #[arg(short, long)]
    yes: bool,
}

#[derive(Args)]
struct WaitArgs {
    #[command(flatten)]
    group: NameArgs,
    /// Do not wait until the group runs
    #[arg(long)]
    no_wait: bool,
}

#[derive(Args)]
struct ExportArgs {
    /// Name of the resource group
    #[arg(short = 'g', long, required_unless_present = "from_file")]
    resource_group: Option<String>,
    /// Name of the container group
    #[arg(short, long, required_unless_present = "from_file")]
    name: Option<String>,
    /// Export the group this YAML file defines (ACI's format, as `create --file` reads it)
    /// instead of one of the platform's
    #[arg(long, conflicts_with = "resource_group")]
    from_file: Option<PathBuf>,
    /// The file to write
    #[arg(short, long)]
    file: PathBuf,
    /// Format of the file: ACI's YAML, or the Kubernetes objects that run the group with the
    /// waci shim (RuntimeClass, Secret, Pod, Service)
    #[arg(long, visible_alias = "format", default_value = "yaml", value_parser = ["yaml", "kubernetes"])]
    export_format: String,
}

pub async fn run(args: ContainerArgs) -> anyhow::Result<()> {
    let command = match args.command {
        // A file exported to Kubernetes objects needs no platform.
        Command::Export(a) => {
            return match a.from_file {
                Some(_) => export_kubernetes(None, a).await,
                None => export(&Client::new(&args.connection)?, a).await,
            };
        }
        other => other,
    };
    if let Some(context) = &args.context {
        return on_cluster(context, &args.output, command).await;
    }
    let client = Client::new(&args.connection)?;
    let out = &args.output;
    match command {
        Command::Create(a) => create(&client, out, a).await,
        Command::Show(a) => Ok(out.print(&client.group(&a.resource_group, &a.name).await?)?),
        Command::List(a) => {
            let groups = client
                .list(client.groups_url(a.resource_group.as_deref()))
                .await?;
            Ok(out.print(&Value::Array(groups))?)
        }
        Command::Logs(a) => logs::run(&client, a).await,
        Command::Attach(a) => crate::attach::run(&client, a).await,
        Command::Exec(a) => crate::exec::run(&client, a).await,
        Command::Delete(a) => delete(&client, out, a).await,
        Command::Restart(a) => action(&client, "restart", a.group, !a.no_wait).await,
        Command::Stop(a) => action(&client, "stop", a, false).await,
        Command::Start(a) => action(&client, "start", a.group, !a.no_wait).await,
        Command::Export(_) => unreachable!("exports are handled above"),
    }
}

/// The group `create` asks for, from its file or its flags.
fn create_body(a: &CreateArgs) -> anyhow::Result<(String, Value)> {
    Ok(match &a.file {
        Some(file) => {
            let d = yaml_file::load(file, a.name.as_deref(), a.location.as_deref())?;
            (d.name, d.body)
        }
        None => create::body_from_flags(a)?,
    })
}

/// The commands a cluster answers (`--context`), through `cluster`.
async fn on_cluster(context: &str, out: &OutputArgs, command: Command) -> anyhow::Result<()> {
    let supported = matches!(
        command,
        Command::Create(_)
            | Command::Show(_)
            | Command::List(_)
            | Command::Logs(_)
            | Command::Delete(_)
    );
    if !supported {
        bail!("with --context, waci drives a cluster for create, show, list, logs and delete only");
    }
    let client = crate::cluster::connect(context).await?;
    match command {
        Command::Create(a) => {
            let (name, body) = create_body(&a)?;
            out.print(&crate::cluster::create(&client, &a.resource_group, &name, &body).await?)?;
        }
        Command::Show(a) => {
            out.print(&crate::cluster::show(&client, &a.resource_group, &a.name).await?)?
        }
        Command::List(a) => out.print(&Value::Array(
            crate::cluster::list(&client, a.resource_group.as_deref()).await?,
        ))?,
        Command::Logs(a) => {
            if a.follow {
                bail!(
                    "--follow is not available with --context yet; `kubectl logs -f` follows a Pod"
                );
            }
            let text = crate::cluster::logs(
                &client,
                &a.resource_group,
                &a.name,
                a.container_name,
                a.tail,
                a.timestamps,
            )
            .await?;
            print!("{text}");
        }
        Command::Delete(a) => {
            if a.yes || confirm("Are you sure you want to perform this operation?")? {
                crate::cluster::delete(&client, &a.group.resource_group, &a.group.name).await?;
            }
        }
        _ => unreachable!("refused above"),
    }
    Ok(())
}

async fn create(client: &Client, out: &OutputArgs, a: CreateArgs) -> anyhow::Result<()> {
    let (name, mut body) = create_body(&a)?;
    let cwd = std::env::current_dir().context("reading the current directory")?;
    create::absolute_images(&mut body, &cwd);
    let url = client.group_url(&a.resource_group, &name, &[], &[]);
    client.call(Method::PUT, url, Some(&body)).await?;
    if a.no_wait {
        return Ok(());
    }
    let group = wait_until_settled(client, &a.resource_group, &name).await?;
    out.print(&group)?;
    fail_if_not_provisioned(&group)
}

/// Polls the group until it is Running or has ended (or failed to provision).
async fn wait_until_settled(client: &Client, rg: &str, name: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + WAIT_LIMIT;
    let mut pause = FIRST_POLL;
    loop {
        let g = client.group(rg, name).await?;
        let p = &g["properties"];
        let provisioning = p["provisioningState"].as_str().unwrap_or_default();
        let state = p["instanceView"]["state"].as_str().unwrap_or_default();
        let settled = provisioning == "Failed"
            || image_pull_failing(&g)
            || (provisioning == "Succeeded"
                && matches!(state, "Running" | "Succeeded" | "Failed" | "Stopped"));
        if settled {
            return Ok(g);
        }
        if Instant::now() >= deadline {
            bail!(
                "container group '{name}' is still {state} (provisioning {provisioning}) after {} s; \
                 `waci container show -g {rg} -n {name}` shows how it goes on",
                WAIT_LIMIT.as_secs()
            );
        }
        tokio::time::sleep(pause).await;
        pause = next_poll(pause);
    }
}

/// The pause after `pause`: twice as long, up to [`POLL`].
fn next_poll(pause: Duration) -> Duration {
    (pause * 2).min(POLL)
}

/// A group's containers, then its init containers.
fn every_container(group: &Value) -> impl Iterator<Item = &Value> {
    let p = &group["properties"];
    p["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(p["initContainers"].as_array().into_iter().flatten())
}

/// Whether a container waits on an image its registry would not give (the platform keeps
/// retrying under the restart policy; the user should hear why now).
fn image_pull_failing(group: &Value) -> bool {
    every_container(group).any(|c| {
        matches!(
            c["properties"]["instanceView"]["currentState"]["detailStatus"].as_str(),
            Some("ErrImagePull" | "ImagePullBackOff")
        )
    })
}

/// A group whose provisioning failed is an error, with the reason its events give.
fn fail_if_not_provisioned(group: &Value) -> anyhow::Result<()> {
    let p = &group["properties"];
    if p["provisioningState"] != "Failed" && !image_pull_failing(group) {
        return Ok(());
    }
    let reasons: Vec<&str> = every_container(group)
        .flat_map(|c| {
            c["properties"]["instanceView"]["events"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .chain(p["instanceView"]["events"].as_array().into_iter().flatten())
        .filter(|e| e["type"] == "Warning")
        .filter_map(|e| e["message"].as_str())
        .collect();
    bail!(
        "container group '{}' failed to start: {}",
        group["name"].as_str().unwrap_or("?"),
        if reasons.is_empty() {
            "see its events with `waci container show`".to_string()
        } else {
            reasons.join("; ")
        }
    )
}

/// az's confirmation prompt; without a terminal to ask on, `--yes` is required.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "cannot ask \"{question}\" without a terminal; pass --yes (-y) to go ahead without asking"
        );
    }
    eprint!("{question} (y/n): ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

async fn delete(client: &Client, out: &OutputArgs, a: DeleteArgs) -> anyhow::Result<()> {
    let NameArgs {
        resource_group: rg,
        name,
    } = &a.group;
    if !a.yes && !confirm("Are you sure you want to perform this operation?")? {
        return Ok(());
    }
    let url = client.group_url(rg, name, &[], &[]);
    match client.call(Method::DELETE, url, None).await? {
        Some(deleted) => out.print(&deleted)?,
        None => eprintln!(
            "Container group '{name}' was not found in resource group '{rg}'; nothing was deleted."
        ),
    }
    Ok(())
}

async fn action(client: &Client, verb: &str, a: NameArgs, wait: bool) -> anyhow::Result<()> {
    let url = client.group_url(&a.resource_group, &a.name, &[verb], &[]);
    client.call(Method::POST, url, None).await?;
    if wait {
        let group = wait_until_settled(client, &a.resource_group, &a.name).await?;
        fail_if_not_provisioned(&group)?;
    }
    Ok(())
}

async fn export(client: &Client, a: ExportArgs) -> anyhow::Result<()> {
    if a.export_format == "kubernetes" {
        return export_kubernetes(Some(client), a).await;
    }
    let (Some(rg), Some(name)) = (&a.resource_group, &a.name) else {
        anyhow::bail!("--from-file exports only --export-format kubernetes");
    };
    let group = client.group(rg, name).await?;
    yaml_file::write(&a.file, &yaml_file::export(&group, API_VERSION))?;
    let secure = yaml_file::secure_variables(&group);
    if !secure.is_empty() {
        eprintln!(
            "Warning: the API never returns secure values, so {} holds no value for {}; \
             set secureValue there before `create --file`.",
            a.file.display(),
            secure.join(", ")
        );
    }
    Ok(())
}

/// The Kubernetes objects of a group of the platform or of a YAML file, validated by the
/// platform's own parser first.
async fn export_kubernetes(client: Option<&Client>, a: ExportArgs) -> anyhow::Result<()> {
    if a.export_format != "kubernetes" {
        anyhow::bail!("--from-file exports only --export-format kubernetes");
    }
    let (name, body, unknown_secrets) = match (&a.from_file, &a.resource_group, &a.name) {
        (Some(path), _, _) => {
            let d = yaml_file::load(path, a.name.as_deref(), Some("local"))?;
            (d.name, d.body, Vec::new())
        }
        (None, Some(rg), Some(name)) => {
            let Some(client) = client else {
                anyhow::bail!("no platform to read {rg}/{name} from");
            };
            let group = client.group(rg, name).await?;
            let unknown = yaml_file::secure_variables(&group);
            // The body `create --file` would send from the exported file.
            let d = yaml_file::from_document(
                yaml_file::export(&group, API_VERSION),
                std::path::Path::new("the exported group"),
                Some(name),
                None,
            )?;
            (d.name, d.body, unknown)
        }
        _ => anyhow::bail!("name a group (-g and -n) or a file (--from-file)"),
    };
    let spec = crate::kubernetes::spec(&name, &body)?;
    let objects = crate::kubernetes::manifests(&name, &spec);
    std::fs::write(&a.file, crate::kubernetes::yaml(&objects))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.file.display()))?;
    if !unknown_secrets.is_empty() {
        eprintln!(
            "Warning: the API never returns secure values, so the Secret in {} holds no value \
             for {}; set them there before `kubectl apply`.",
            a.file.display(),
            unknown_secrets.join(", ")
        );
    }
    let left_out = crate::kubernetes::exec_probes(&spec);
    if !left_out.is_empty() {
        eprintln!(
            "Warning: the Pod in {} leaves out the exec probes ({}): on a node the shim runs no \
             exec, so kubelet's would fail every time; use httpGet probes there.",
            a.file.display(),
            left_out.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_looks_soon_then_less_often() {
        let mut pause = FIRST_POLL;
        let mut pauses = vec![pause];
        while pause < POLL {
            pause = next_poll(pause);
            pauses.push(pause);
        }
        let ms: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [2, 4, 8, 16, 32, 64, 100]);
        assert_eq!(next_poll(POLL), POLL, "never longer than POLL");
    }
}
