//! `waci serve`: opens the store, starts the runtime and log writer, binds every listener,
//! resumes the stored groups, wires the metrics to what they read, writes
//! `endpoints.json`, and shuts down gracefully.

use crate::api::{self, AppState};
use crate::config::Config;
use crate::directory::{Directory, ZoneNames};
use crate::dns::{self, DnsHandler};
use crate::frontdoor;
use crate::groups::{self, Groups};
use crate::logs::LogHub;
use crate::metrics::{self, Metrics};
use crate::portal::PortalConfig;
use crate::runtime::core::net::policy::Egress;
use crate::runtime::engine::Engines;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::Store;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What a running platform tells its caller once every listener is bound.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub api: SocketAddr,
    pub front_door: SocketAddr,
    pub dns: SocketAddr,
    pub token: String,
}

/// Reads the admin token, creating it (mode 0600) on first start.
fn admin_token(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join("token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let token: String = {
        use rand::Rng;
        let bytes: [u8; 24] = rand::rng().random();
        hex::encode(bytes)
    };
    write_private(&path, token.as_bytes())?;
    Ok(token)
}

/// Writes a file atomically with mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Runs the platform until `shutdown` resolves. `ready` gets the endpoints once bound.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(&Endpoints),
) -> anyhow::Result<()> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&config.data_dir)?;
    }
    let store = Store::open(&config.data_dir.join("waci.db"))?;
    let token = admin_token(&config.data_dir)?;
    let tenant = store.setting("tenant", || uuid::Uuid::new_v4().to_string())?;
    let logs = LogHub::start(store.clone(), config.max_log_lines);
    let engines = Engines::with_guest_threads(config.data_dir.join("cache"), config.guest_threads)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} for the API: {e}", config.listen))?;
    let api_addr = listener.local_addr()?;
    let _ = config.api_url.set(format!("http://{api_addr}"));
    let front_listener = tokio::net::TcpListener::bind(config.front_door_listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} for the front door: {e}",
                config.front_door_listen
            )
        })?;
    let front_addr = front_listener.local_addr()?;

    // Every stored name is published before anything answers.
    let directory = Arc::new(Directory::default());
    let stored = store.list_groups(None, None)?;
    groups::publish_stored(&directory, &stored);
    let handler = DnsHandler::new(&config.zone, directory.clone(), config.dns_listen.ip())?;
    let dns_stats = handler.stats.clone();
    let (dns_addr, mut dns_server) = dns::start(config.dns_listen, handler).await?;
    // Guests may call out, but never to the platform's own listeners.
    let forbidden: std::sync::Arc<[SocketAddr]> = vec![api_addr, front_addr, dns_addr].into();
    let registries = crate::registry::Registries::new(config.data_dir.join("images"))
        .map_err(|e| anyhow::anyhow!("cannot prepare the image store: {e}"))?;
    let runtime = Runtime::new(
        engines,
        registries,
        store.clone(),
        logs.clone(),
        RuntimeConfig {
            request_timeout: config.request_timeout,
            max_runtime: config.max_runtime,
            volumes_dir: config.data_dir.join("volumes"),
            egress: Arc::new(Egress {
                allow: config.allow_outbound.clone(),
                deny: config.deny_outbound.clone(),
                pool: Some(config.ip_pool),
                platform: forbidden,
            }),
            names: Some(Arc::new(ZoneNames {
                zone: config.zone.clone(),
                directory: directory.clone(),
            })),
        },
    );

    let groups = Groups::new(
        store.clone(),
        directory.clone(),
        runtime.clone(),
        groups::Settings {
            tenant,
            zone: config.zone.clone(),
            location: config.location.clone(),
            ip_pool: config.ip_pool_range(),
            max_groups_per_subscription: config.max_groups_per_subscription,
        },
    );
    // Groups that were running when the platform last stopped start over.
    groups.resume(&stored).await?;

    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown.await;
            stop.cancel();
        }
    });
    let front = tokio::spawn(frontdoor::serve(
        front_listener,
        directory.clone(),
        runtime.clone(),
        stop.clone(),
    ));

    let endpoints = serde_json::json!({
        "api": format!("http://{api_addr}"),
        "front_door": format!("http://{front_addr}"),
        "dns": dns_addr.to_string(),
    });
    write_private(
        &config.data_dir.join("endpoints.json"),
        serde_json::to_string_pretty(&endpoints)?.as_bytes(),
    )?;
    ready(&Endpoints {
        api: api_addr,
        front_door: front_addr,
        dns: dns_addr,
        token: token.clone(),
    });

    let portal = Arc::new(PortalConfig {
        front_door_port: front_addr.port(),
        location: config.location.clone(),
        zone: config.zone.clone(),
        max_cpu: config.limits.max_cpu,
        max_memory_gb: config.limits.max_memory_gb,
    });
    let metrics = Metrics::new(metrics::Sources {
        runtime: runtime.clone(),
        logs: logs.clone(),
        dns: dns_stats,
        store: store.clone(),
    });
    let state = Arc::new(AppState {
        groups,
        store: store.clone(),
        attach: Default::default(),
        exec: Default::default(),
        logs: logs.clone(),
        config: Arc::new(config),
        admin_hash: api::admin_hash(&token),
        portal,
        metrics,
    });
    crate::http::serve(
        listener,
        api::app(state),
        stop.clone(),
        crate::runtime::DRAIN_GRACE,
    )
    .await;
    let _ = front.await;
    let _ = dns_server.shutdown_gracefully().await;
    runtime.stop_all().await;
    logs.flush().await;
    Ok(())
}
