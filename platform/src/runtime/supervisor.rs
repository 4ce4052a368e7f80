//! One supervisor task per container group: loads each container's image, prepares the
//! group's volumes, runs init containers in order, binds services on the group's IP, runs
//! commands under the restart policy with a capped back-off, and writes every state change
//! and event back to the store for its own generation only.

use super::command::{self, Exit};
use super::engine::{Loaded, Workload};
use super::host::Sandbox;
use super::service::{self, Service};
use super::volumes;
use super::{Runtime, Supervised, group_state};
use crate::images;
use crate::model::{Container, ContainerState, ProvisioningState, RestartPolicy, now_rfc3339};
use crate::registry;
use crate::store::{Batch, GroupRow};
use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// First back-off before restarting an exited container, doubled each time...
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// ...up to this cap.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A run this long resets the back-off: the container was healthy.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);

/// Shared state of one supervisor: writes go to the store for this generation only.
struct GroupCtx {
    rt: Arc<Runtime>,
    id: i64,
    generation: i64,
    policy: RestartPolicy,
    ip: Option<Ipv4Addr>,
    /// The latest state of each container; the group state follows from the main
    /// containers' (init containers only decide whether those start).
    states: Mutex<HashMap<String, ContainerState>>,
    main: HashSet<String>,
    cancel: CancellationToken,
    /// Writes that ride along with the next trip to the store (see [`GroupCtx::defer_event`]).
    deferred: Mutex<Deferred>,
}

/// A container's event: (container, name, message, warning).
type EventRow = (Option<String>, &'static str, String, bool);

#[derive(Default)]
struct Deferred {
    provisioning: Option<ProvisioningState>,
    events: Vec<EventRow>,
}

/// The async operations of a group end when its provisioning does.
fn operation_status(provisioning: ProvisioningState) -> Option<&'static str> {
    match provisioning {
        ProvisioningState::Succeeded => Some("Succeeded"),
        ProvisioningState::Failed => Some("Failed"),
        _ => None,
    }
}

impl Deferred {
    /// Writes what was deferred, in order, inside the caller's trip to the store.
    fn write(self, w: &Batch<'_>, id: i64, generation: i64) -> Result<(), crate::store::Error> {
        if let Some(p) = self.provisioning {
            w.set_provisioning_state(id, generation, p)?;
            if let Some(st) = operation_status(p) {
                w.finish_operations(id, generation, st)?;
            }
        }
        write_events(w, id, &self.events)
    }
}

fn write_events(w: &Batch<'_>, id: i64, events: &[EventRow]) -> Result<(), crate::store::Error> {
    for (container, name, message, warning) in events {
        let kind = if *warning { "Warning" } else { "Normal" };
        w.add_event(id, container.as_deref(), name, message, kind)?;
    }
    Ok(())
}

impl GroupCtx {
    /// Keeps a container's event for the next write to the store, so the quick steps on the
    /// way to Running (Pulled, Created...) cost no trip of their own: the first state a user
    /// can act on (Running, or a failure) carries them all.
    fn defer_event(&self, container: &str, name: &'static str, message: String) {
        let row = (Some(container.to_string()), name, message, false);
        self.lock_deferred().events.push(row);
    }

    /// The same for the provisioning state (`Creating`, and `Succeeded` once every image
    /// is loaded, so the first container's Running carries it).
    fn defer_provisioning(&self, state: ProvisioningState) {
        self.lock_deferred().provisioning = Some(state);
    }

    fn lock_deferred(&self) -> std::sync::MutexGuard<'_, Deferred> {
        self.deferred.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_deferred(&self) -> Deferred {
        std::mem::take(&mut *self.lock_deferred())
    }

    /// One trip to the store: `deferred`, then `then`, in one transaction. A failure is
    /// logged as `failed`; the supervisor goes on either way.
    async fn commit(
        &self,
        deferred: Deferred,
        failed: &'static str,
        then: impl FnOnce(&Batch<'_>) -> Result<(), crate::store::Error> + Send + 'static,
    ) {
        let (id, generation) = (self.id, self.generation);
        let r = self
            .rt
            .store
            .run(move |s| {
                s.write(|w| {
                    deferred.write(w, id, generation)?;
                    then(w)
                })
            })
            .await;
        if let Err(e) = r {
            tracing::error!(group = id, error = %e, "{failed}");
        }
    }

    async fn event(
        &self,
        container: Option<&str>,
        name: &'static str,
        message: String,
        warning: bool,
    ) {
        let id = self.id;
        let row = vec![(container.map(str::to_string), name, message, warning)];
        self.commit(
            self.take_deferred(),
            "recording an event failed",
            move |w| write_events(w, id, &row),
        )
        .await
    }

    /// Records a container's new state and the group state that follows from all of them.
    async fn set_state(&self, container: &str, state: ContainerState, restarted: bool) {
        self.set_state_with(container, state, restarted, Vec::new())
            .await
    }

    /// [`GroupCtx::set_state`] and the container's `events` (name, message, warning) in one
    /// trip to the store, with whatever was deferred: on the path to Running every trip is
    /// latency a user waits for.
    async fn set_state_with(
        &self,
        container: &str,
        state: ContainerState,
        restarted: bool,
        events: Vec<(&'static str, String, bool)>,
    ) {
        let group_state = {
            let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
            states.insert(container.to_string(), state.clone());
            let main = states
                .iter()
                .filter(|(name, _)| self.main.contains(*name))
                .map(|(_, s)| s);
            group_state(self.policy, main)
        };
        let (id, generation, c) = (self.id, self.generation, container.to_string());
        let rows: Vec<EventRow> = events
            .into_iter()
            .map(|(n, m, w)| (Some(c.clone()), n, m, w))
            .collect();
        self.commit(self.take_deferred(), "recording a state failed", move |w| {
            write_events(w, id, &rows)?;
            w.set_container_state(id, generation, &c, &state, restarted)?;
            w.set_group_state(id, generation, group_state)
        })
        .await
    }

    /// A `BackOff` event (with the container's new state, if any), then a wait of `backoff`,
    /// which doubles up to the cap. `false` when the group was cancelled during the wait.
    async fn back_off(
        &self,
        container: &str,
        message: String,
        state: Option<ContainerState>,
        backoff: &mut Duration,
    ) -> bool {
        match state {
            Some(s) => {
                self.set_state_with(container, s, false, vec![("BackOff", message, true)])
                    .await
            }
            None => self.event(Some(container), "BackOff", message, true).await,
        }
        let wait = *backoff;
        *backoff = (*backoff * 2).min(BACKOFF_MAX);
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }

    /// The group cannot start: provisioning and group state both `Failed`, with whatever
    /// was deferred, in one transaction.
    async fn fail(&self) {
        let (id, generation) = (self.id, self.generation);
        let mut deferred = self.take_deferred();
        deferred.provisioning = Some(ProvisioningState::Failed);
        self.commit(deferred, "recording a failed group failed", move |w| {
            w.set_group_state(id, generation, crate::model::GroupState::Failed)
        })
        .await
    }

    /// Writes what is still deferred, if anything.
    async fn flush_deferred(&self) {
        let deferred = self.take_deferred();
        if deferred.provisioning.is_none() && deferred.events.is_empty() {
            return;
        }
        self.commit(deferred, "recording deferred events failed", |_| Ok(()))
            .await
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub(super) async fn supervise(
    rt: Arc<Runtime>,
    group: GroupRow,
    cancel: CancellationToken,
    previous: Option<Supervised>,
) {
    if let Some(p) = previous {
        p.cancel.cancel();
        let _ = p.task.await;
    }
    let ctx = Arc::new(GroupCtx {
        rt: rt.clone(),
        id: group.id,
        generation: group.generation,
        policy: group.spec.restart_policy,
        ip: group.ip,
        states: Mutex::new(HashMap::new()),
        main: group
            .spec
            .containers
            .iter()
            .map(|c| c.name.clone())
            .collect(),
        cancel,
        deferred: Mutex::new(Deferred::default()),
    });
    ctx.defer_provisioning(ProvisioningState::Creating);

    let volume_dirs = if group.spec.volumes.is_empty() {
        HashMap::new()
    } else {
        let (root, id, vols) = (
            rt.config.volumes_dir.clone(),
            ctx.id,
            group.spec.volumes.clone(),
        );
        match tokio::task::spawn_blocking(move || volumes::prepare(&root, id, &vols)).await {
            Ok(Ok(dirs)) => dirs,
            Ok(Err(e)) => {
                ctx.event(
                    None,
                    "Failed",
                    format!("Preparing the group's volumes failed: {e}"),
                    true,
                )
                .await;
                ctx.fail().await;
                return;
            }
            Err(_) => return,
        }
    };
    let mounts = |c: &Container| volumes::mounts(c, &volume_dirs, &group.spec.volumes);

    // Load every image first: a group whose image fails starts nothing. A registry image
    // that cannot be pulled is retried under the restart policy, the container Waiting.
    let from_registry = group
        .spec
        .init_containers
        .iter()
        .chain(&group.spec.containers)
        .any(|c| images::is_registry_reference(&c.image));
    let pinned: HashMap<String, String> = if !from_registry {
        HashMap::new()
    } else {
        let id = ctx.id;
        match rt.store.run(move |s| s.containers(id)).await {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|r| Some((r.name, r.image_digest?)))
                .collect(),
            Err(e) => {
                tracing::error!(group = id, error = %e, "reading pinned images failed");
                HashMap::new()
            }
        }
    };
    let mut loaded = Vec::new();
    for c in group
        .spec
        .init_containers
        .iter()
        .chain(&group.spec.containers)
    {
        let credentials = credentials_for(&group.spec.registry_credentials, &c.image);
        let mut backoff = BACKOFF_FIRST;
        let l = loop {
            // Boxed: the pull futures are large, and the supervisor task lives as long as the
            // group; its own allocation should not keep room for them.
            match Box::pin(prepare(
                &ctx,
                c,
                pinned.get(&c.name).cloned(),
                credentials.as_ref(),
            ))
            .await
            {
                Prepared::Ready(l) => break l,
                Prepared::PullFailed if ctx.policy != RestartPolicy::Never => {
                    let message = format!("Back-off {} pulling image \"{}\"", ms(backoff), c.image);
                    let waiting = ContainerState::waiting("ImagePullBackOff");
                    if !ctx
                        .back_off(&c.name, message, Some(waiting), &mut backoff)
                        .await
                    {
                        return;
                    }
                }
                Prepared::PullFailed | Prepared::Failed => {
                    ctx.fail().await;
                    return;
                }
            }
        };
        loaded.push(l);
    }
    let (init_loaded, main_loaded) = loaded.split_at(group.spec.init_containers.len());
    for (c, l) in group.spec.init_containers.iter().zip(init_loaded) {
        let Workload::Command(pre) = &l.workload else {
            ctx.event(Some(&c.name), "Failed", format!("Init container {} is a service; init containers must be commands (wasi:cli/run).", c.name), true).await;
            ctx.fail().await;
            return;
        };
        let sandbox = Sandbox::new(
            ctx.id,
            c,
            mounts(c),
            rt.logs.clone(),
            rt.config.forbidden.clone(),
        );
        let exit = run_command_once(&ctx, c, pre, &sandbox, false).await;
        if exit == Exit::Cancelled {
            return;
        }
        if !exit.succeeded() {
            ctx.event(
                Some(&c.name),
                "Failed",
                format!(
                    "Init container {} failed with exit code {}; the group does not start.",
                    c.name,
                    exit.exit_code()
                ),
                true,
            )
            .await;
            ctx.fail().await;
            return;
        }
    }

    let front_port = group
        .spec
        .ip_address
        .as_ref()
        .and_then(|ip| ip.ports.first())
        .map(|p| p.port);
    // Every image is loaded: provisioning has succeeded. It rides with the first container's
    // Running, so a service group reaches Running in one transaction.
    ctx.defer_provisioning(ProvisioningState::Succeeded);
    let mut tasks = Vec::new();
    let mut services = Vec::new();
    for (c, l) in group.spec.containers.iter().zip(main_loaded) {
        let sandbox = Sandbox::new(
            ctx.id,
            c,
            mounts(c),
            rt.logs.clone(),
            rt.config.forbidden.clone(),
        );
        match &l.workload {
            Workload::Service(pre) => {
                let service = Arc::new(Service {
                    engines: rt.engines.clone(),
                    pre: pre.clone(),
                    sandbox,
                    request_timeout: rt.config.request_timeout,
                    on_failure: request_failure_events(&ctx, &c.name),
                    stopping: ctx.cancel.clone(),
                    runs: TaskTracker::new(),
                });
                services.push(service.clone());
                if front_port.is_some_and(|fp| c.ports.iter().any(|p| p.port == fp)) {
                    rt.front
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(ctx.id, (ctx.generation, service.clone()));
                }
                tasks.extend(start_service(&ctx, c, service).await);
            }
            Workload::Command(pre) => {
                let (ctx, c, pre) = (ctx.clone(), c.clone(), pre.clone());
                tasks.push(tokio::spawn(async move {
                    command_loop(ctx, c, pre, sandbox).await
                }));
            }
        }
    }
    ctx.flush_deferred().await;
    for t in tasks {
        let _ = t.await;
    }
    // Requests whose guests go on after their connections: bounded by the stop's grace.
    for service in services {
        service.runs.close();
        service.runs.wait().await;
    }
    let mut front = rt.front.lock().unwrap_or_else(|e| e.into_inner());
    if front
        .get(&ctx.id)
        .is_some_and(|(generation, _)| *generation == ctx.generation)
    {
        front.remove(&ctx.id);
    }
}

/// The credentials of `imageRegistryCredentials` whose server is the image's registry.
fn credentials_for(
    all: &[crate::model::RegistryCredential],
    image: &str,
) -> Option<registry::Credentials> {
    if all.is_empty() {
        return None;
    }
    let server = registry::parse(image).ok()?.resolve_registry().to_string();
    let normal = |s: &str| {
        let s = s.trim().trim_end_matches('/').to_ascii_lowercase();
        let s = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .map(str::to_string)
            .unwrap_or(s);
        if s == "docker.io" {
            "index.docker.io".to_string()
        } else {
            s
        }
    };
    all.iter()
        .find(|c| normal(&c.server) == normal(&server))
        .map(|c| registry::Credentials {
            username: c.username.clone().unwrap_or_default(),
            password: c.password.clone().unwrap_or_default(),
        })
}

/// What became of preparing a container's image.
enum Prepared {
    Ready(Arc<Loaded>),
    /// The registry could not give the image: retried under the restart policy.
    PullFailed,
    /// The image can never start (not a component, no entry point): the group fails.
    Failed,
}

/// The bytes of a container's image, with `Pulling`/`Pulled` events: built in, from a
/// file, or from a registry (pinned to `pinned` when a tag was resolved at create).
async fn fetch(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    pinned: Option<String>,
    credentials: Option<&registry::Credentials>,
) -> Result<(String, Arc<[u8]>), registry::Error> {
    let start = Instant::now();
    if !images::is_registry_reference(&c.image) {
        let reference = c.image.clone();
        let image = if images::is_built_in(&reference) {
            // In the binary, its digest computed once: no I/O, no blocking thread.
            images::resolve(&reference)
        } else {
            tokio::task::spawn_blocking(move || images::resolve(&reference))
                .await
                .map_err(|e| registry::Error::Disk(e.to_string()))?
        }
        .map_err(|e| registry::Error::Local(e.to_string()))?;
        let pulled = format!(
            "Successfully pulled image \"{}\" ({}, {} bytes, {}) in {}",
            c.image,
            image.source,
            image.bytes.len(),
            image.digest,
            ms(start.elapsed())
        );
        let pulling = format!("pulling image \"{}\"", c.image);
        ctx.defer_event(&c.name, "Pulling", pulling);
        ctx.defer_event(&c.name, "Pulled", pulled);
        return Ok((image.digest, image.bytes));
    }
    let registries = &ctx.rt.registries;
    let resolved = registries
        .resolve(&c.image, credentials, pinned.as_deref())
        .await?;
    if pinned.is_none() {
        let (id, generation, name, p) = (ctx.id, ctx.generation, c.name.clone(), resolved.pinned());
        if let Err(e) = ctx
            .rt
            .store
            .run(move |s| s.set_image_digest(id, generation, &name, &p))
            .await
        {
            tracing::error!(group = id, error = %e, "recording the pinned image failed");
        }
    }
    if resolved.present {
        let fetched = registries.fetch(&c.image, credentials, &resolved).await?;
        ctx.event(
            Some(&c.name),
            "Pulled",
            format!(
                "Container image \"{}\" already present on machine ({})",
                c.image,
                resolved.pinned()
            ),
            false,
        )
        .await;
        return Ok((fetched.digest, fetched.bytes));
    }
    ctx.event(
        Some(&c.name),
        "Pulling",
        format!(
            "pulling image \"{}\" ({}, {} bytes)",
            c.image,
            resolved.pinned(),
            resolved.layer.size
        ),
        false,
    )
    .await;
    let fetched = registries.fetch(&c.image, credentials, &resolved).await?;
    let how = if fetched.downloaded_here {
        "downloaded"
    } else {
        "downloaded once for another container"
    };
    ctx.event(
        Some(&c.name),
        "Pulled",
        format!(
            "Successfully pulled image \"{}\" ({}, {} bytes, {how}) in {}",
            c.image,
            resolved.pinned(),
            fetched.bytes.len(),
            ms(start.elapsed())
        ),
        false,
    )
    .await;
    Ok((fetched.digest, fetched.bytes))
}

/// Fetches and loads a container's image, with `Pulling`/`Pulled`/`Compiled`/`Created`
/// events; compiled code is shared by every container of the same content digest.
async fn prepare(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    pinned: Option<String>,
    credentials: Option<&registry::Credentials>,
) -> Prepared {
    if images::is_registry_reference(&c.image) {
        // A pull can take a while: show it at once (local images say it with their events).
        ctx.set_state(&c.name, ContainerState::waiting("Pulling"), false)
            .await;
    }
    let (digest, bytes) = match fetch(ctx, c, pinned, credentials).await {
        Ok(image) => image,
        Err(e) => {
            let failure = if images::is_registry_reference(&c.image) {
                Prepared::PullFailed
            } else {
                Prepared::Failed
            };
            let message = format!("Failed to pull image \"{}\": {e}", c.image);
            not_started(ctx, c, message, "ErrImagePull").await;
            return failure;
        }
    };
    let size = bytes.len();
    match ctx.rt.engines.load(&digest, bytes).await {
        Ok((l, loaded_here)) => {
            if loaded_here && !l.cache_hit {
                let message = format!(
                    "Compiled image \"{}\" ({digest}, {size} bytes) in {}",
                    c.image,
                    ms(l.load_time)
                );
                ctx.defer_event(&c.name, "Compiled", message);
            }
            let how = match (loaded_here, l.cache_hit) {
                (false, _) => "compiled code already loaded".to_string(),
                (true, true) => format!("compiled code from cache in {}", ms(l.load_time)),
                (true, false) => format!("compiled in {}", ms(l.load_time)),
            };
            let created = format!("Created container {} ({how})", c.name);
            ctx.defer_event(&c.name, "Created", created);
            Prepared::Ready(l)
        }
        Err(e) => {
            let message = format!("Failed to start container {}: {e}", c.name);
            not_started(ctx, c, message, "Failed").await;
            Prepared::Failed
        }
    }
}

/// A container that cannot start: a Warning event saying why, and Waiting with `detail`.
async fn not_started(ctx: &Arc<GroupCtx>, c: &Container, message: String, detail: &str) {
    ctx.event(Some(&c.name), "Failed", message, true).await;
    ctx.set_state(&c.name, ContainerState::waiting(detail), false)
        .await;
}

/// A failed request of a service (trap, out of memory) is a Warning event of its container;
/// repeats of the same failure count up instead of adding events.
fn request_failure_events(ctx: &Arc<GroupCtx>, container: &str) -> Box<dyn Fn(Exit) + Send + Sync> {
    let (ctx, container) = (Arc::downgrade(ctx), container.to_string());
    Box::new(move |exit| {
        let (Some(ctx), container) = (ctx.upgrade(), container.clone()) else {
            return;
        };
        tokio::spawn(async move {
            let message = format!(
                "A request to container {container} failed: {}",
                exit.detail_status()
            );
            ctx.event(Some(&container), "Failed", message, true).await;
        });
    })
}

/// Binds the container's ports on the group's IP and serves until cancelled.
async fn start_service(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    service: Arc<Service>,
) -> Vec<JoinHandle<()>> {
    let mut bound = Vec::new();
    let mut tasks = Vec::new();
    if let Some(ip) = ctx.ip {
        for p in c
            .ports
            .iter()
            .filter(|p| p.protocol == crate::model::Protocol::Tcp)
        {
            let addr = SocketAddr::from((ip, p.port));
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    bound.push(addr.to_string());
                    tasks.push(tokio::spawn(service::accept_loop(
                        l,
                        service.clone(),
                        ctx.cancel.clone(),
                    )));
                }
                Err(e) => {
                    let hint = if p.port < 1024 && e.kind() == std::io::ErrorKind::PermissionDenied
                    {
                        " Ports below 1024 need root or CAP_NET_BIND_SERVICE: run `setcap cap_net_bind_service=+ep <path to waci>`."
                    } else {
                        ""
                    };
                    ctx.event(
                        Some(&c.name),
                        "Warning",
                        format!("Could not bind {addr}: {e}.{hint}"),
                        true,
                    )
                    .await;
                }
            }
        }
    }
    let detail = if bound.is_empty() {
        "no address bound".to_string()
    } else {
        format!("serving on {}", bound.join(", "))
    };
    let started = format!("Started container {} ({detail})", c.name);
    ctx.set_state_with(
        &c.name,
        ContainerState {
            state: "Running".into(),
            start_time: Some(now_rfc3339()),
            ..Default::default()
        },
        false,
        vec![("Started", started, false)],
    )
    .await;
    let cancel = ctx.cancel.clone();
    tasks.push(tokio::spawn(async move { cancel.cancelled().await }));
    tasks
}

/// Runs a command once, recording Running then Terminated.
async fn run_command_once(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    pre: &wasmtime_wasi::p2::bindings::CommandPre<super::host::Host>,
    sandbox: &Sandbox,
    restarted: bool,
) -> Exit {
    let start_time = now_rfc3339();
    let started = format!("Started container {}", c.name);
    ctx.set_state_with(
        &c.name,
        ContainerState {
            state: "Running".into(),
            start_time: Some(start_time.clone()),
            ..Default::default()
        },
        restarted,
        vec![("Started", started, false)],
    )
    .await;
    let exit = command::run_once(
        &ctx.rt.engines,
        pre,
        sandbox,
        &ctx.cancel,
        ctx.rt.config.max_runtime,
    )
    .await;
    if exit == Exit::Cancelled {
        return exit;
    }
    let state = ContainerState {
        state: "Terminated".into(),
        start_time: Some(start_time),
        finish_time: Some(now_rfc3339()),
        exit_code: Some(exit.exit_code()),
        detail_status: Some(exit.detail_status()),
    };
    // The end and its event in one trip: whoever sees the container terminated sees why.
    let warning = !exit.succeeded();
    let event = (
        if warning { "Failed" } else { "Completed" },
        format!(
            "Container {} terminated with exit code {} ({})",
            c.name,
            exit.exit_code(),
            exit.detail_status()
        ),
        warning,
    );
    ctx.set_state_with(&c.name, state, false, vec![event]).await;
    exit
}

/// A command container under its group's restart policy, with a capped back-off.
async fn command_loop(
    ctx: Arc<GroupCtx>,
    c: Container,
    pre: wasmtime_wasi::p2::bindings::CommandPre<super::host::Host>,
    sandbox: Sandbox,
) {
    let mut backoff = BACKOFF_FIRST;
    let mut restarted = false;
    loop {
        let began = Instant::now();
        let exit = run_command_once(&ctx, &c, &pre, &sandbox, restarted).await;
        let again = match ctx.policy {
            RestartPolicy::Always => exit != Exit::Cancelled,
            RestartPolicy::OnFailure => exit != Exit::Cancelled && !exit.succeeded(),
            RestartPolicy::Never => false,
        };
        if !again {
            return;
        }
        if began.elapsed() > BACKOFF_RESET_AFTER {
            backoff = BACKOFF_FIRST;
        }
        let message = format!("Back-off {} restarting container {}", ms(backoff), c.name);
        if !ctx.back_off(&c.name, message, None, &mut backoff).await {
            return;
        }
        restarted = true;
    }
}
