//! `waci serve`: flags and env vars of DESIGN.md §2 mapped onto the platform's `Config`.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use waci_platform::config::{self, Config};

#[derive(Args)]
pub struct ServeArgs {
    /// Where the database, token, compiled code and endpoints.json live [default: ~/.local/share/waci]
    #[arg(long, env = "WACI_HOME")]
    data_dir: Option<PathBuf>,
    /// Address of the control API and portal (port 0 picks one)
    #[arg(long, env = "WACI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Address of the front door that routes HTTP by Host to groups
    #[arg(long, env = "WACI_FRONT_DOOR_LISTEN", default_value = "127.0.0.1:8081")]
    front_door_listen: SocketAddr,
    /// Address of the authoritative DNS server (UDP and TCP)
    #[arg(long, env = "WACI_DNS_LISTEN", default_value = "127.0.0.1:5353")]
    dns_listen: SocketAddr,
    /// Range group IPs are taken from (loopback only)
    #[arg(long, env = "WACI_IP_POOL", default_value = "127.77.0.0/16", value_parser = config::parse_pool)]
    ip_pool: (std::net::Ipv4Addr, u8),
    /// DNS zone the platform is authoritative for
    #[arg(long, env = "WACI_ZONE", default_value = "waci.localhost")]
    zone: String,
    /// The location (region) this platform serves
    #[arg(long, env = "WACI_LOCATION", default_value = "local")]
    location: String,
    /// Most CPUs the containers of one group may request in all
    #[arg(long, env = "WACI_MAX_CPU", default_value_t = config::DEFAULT_MAX_CPU)]
    max_cpu: f64,
    /// Most memory (GB) the containers of one group may request in all
    #[arg(long, env = "WACI_MAX_MEMORY_GB", default_value_t = config::DEFAULT_MAX_MEMORY_GB)]
    max_memory_gb: f64,
    /// Time limit of one request to a service, in seconds (over it: 504)
    #[arg(long, env = "WACI_REQUEST_TIMEOUT", default_value_t = 60)]
    request_timeout: u64,
    /// Time limit of one run of a command container, in seconds (0: none, as in ACI)
    #[arg(long, env = "WACI_MAX_RUNTIME", default_value_t = 0)]
    max_runtime: u64,
    /// Container groups one subscription may hold
    #[arg(long, env = "WACI_MAX_GROUPS_PER_SUBSCRIPTION", default_value_t = config::DEFAULT_MAX_GROUPS_PER_SUBSCRIPTION)]
    max_groups_per_subscription: u64,
    /// Opens more to guests than the default egress policy: <CIDR>[:<port>], repeatable or
    /// comma-separated (e.g. 127.0.0.1:5432 for a database on the host's loopback)
    #[arg(long, env = "WACI_ALLOW_OUTBOUND", value_delimiter = ',', value_parser = config::parse_outbound)]
    allow_outbound: Vec<config::OutboundRule>,
    /// Closes more to guests than the default egress policy: <CIDR>[:<port>], repeatable or
    /// comma-separated (e.g. 10.0.0.0/8)
    #[arg(long, env = "WACI_DENY_OUTBOUND", value_delimiter = ',', value_parser = config::parse_outbound)]
    deny_outbound: Vec<config::OutboundRule>,
    /// Log lines kept per container before the oldest are dropped
    #[arg(long, env = "WACI_MAX_LOG_LINES", default_value_t = waci_platform::logs::DEFAULT_MAX_LINES)]
    max_log_lines: u64,
    /// Threads that run guest code: the cores guests share, in proportion to their CPU
    /// requests (default: every core)
    #[arg(long, env = "WACI_GUEST_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    guest_threads: Option<u16>,
}

/// The process's log on stderr, filtered by `WACI_LOG` (else `default`); `waci operator`'s too.
pub(crate) fn init_log(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WACI_LOG")
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log sent to a file or a journal stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    // wasmtime makes an error value on every request's teardown; with RUST_BACKTRACE set in
    // the user's shell, each would capture a backtrace (2-3% of a request under load).
    // Library backtraces stay off unless asked for by name; panics still print theirs.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: the process is still single-threaded here: no runtime or thread exists yet.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    init_log("warn");
    let config = Config {
        data_dir: args.data_dir.unwrap_or_else(Config::default_data_dir),
        listen: args.listen,
        front_door_listen: args.front_door_listen,
        dns_listen: args.dns_listen,
        ip_pool: args.ip_pool,
        zone: args.zone.trim_end_matches('.').to_ascii_lowercase(),
        location: args.location,
        limits: waci_platform::model::parse::Limits {
            max_cpu: args.max_cpu,
            max_memory_gb: args.max_memory_gb,
        },
        request_timeout: Duration::from_secs(args.request_timeout),
        max_log_lines: args.max_log_lines,
        guest_threads: args.guest_threads.map_or_else(
            waci_platform::runtime::engine::default_guest_threads,
            usize::from,
        ),
        max_runtime: (args.max_runtime > 0).then(|| Duration::from_secs(args.max_runtime)),
        max_groups_per_subscription: args.max_groups_per_subscription,
        api_url: Default::default(),
        allow_outbound: args.allow_outbound,
        deny_outbound: args.deny_outbound,
    };
    let data_dir = config.data_dir.clone();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(waci_platform::server::serve(
        config,
        shutdown_signal(),
        |ep| {
            println!("waci is serving");
            println!("  API:       http://{}", ep.api);
            println!("  portal:    http://{}/?token={}", ep.api, ep.token);
            println!(
                "  front door: http://{}  (open http://<fqdn>:{}/)",
                ep.front_door,
                ep.front_door.port()
            );
            println!("  DNS:       {} (UDP and TCP)", ep.dns);
            println!("  data dir:  {}", data_dir.display());
            println!("  endpoints: {}", data_dir.join("endpoints.json").display());
        },
    ))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
