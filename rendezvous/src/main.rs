//! `tandem-rendezvous`: the rendezvous service binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{CommandFactory, Parser};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tandem_rendezvous::oidc::{OidcProviderConfig, OidcVerifier};
use tandem_rendezvous::rate_limit::Limit;
use tandem_rendezvous::{AppState, MemoryStore, ServerConfig};
use tracing::{info, warn};

#[derive(Parser, Debug)]
#[command(version, about = "Tandem rendezvous: codes and the pairing mailbox")]
// A flag given twice takes its last value (scripts append overrides).
#[command(args_override_self = true)]
struct Args {
    /// Print the manual page (roff, section 8) and exit; the package installs it.
    #[arg(long, hide = true)]
    man_page: bool,
    /// A TOML file of settings: the long flag names as keys (`listen = "0.0.0.0:443"`,
    /// `oidc-allowed-email-domain = ["example.org"]`, `allow-dev-identity = false`). The
    /// command line overrides it, and so does a setting's environment variable.
    #[arg(long, env = "TANDEM_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "TANDEM_LISTEN", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// TLS certificate chain (PEM). Without it the server speaks plain HTTP/WS.
    #[arg(long, env = "TANDEM_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "TANDEM_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Make a self-signed certificate for these names and write it (PEM) to
    /// --self-signed-cert-out, for development. Clients trust it with --rendezvous-ca.
    #[arg(long, value_delimiter = ',', conflicts_with = "tls_cert")]
    self_signed: Vec<String>,
    #[arg(long, requires = "self_signed")]
    self_signed_cert_out: Option<PathBuf>,
    /// On SIGTERM: how long live mailboxes may go on after new connections stop.
    #[arg(long, env = "TANDEM_DRAIN_SECS", default_value_t = 30)]
    drain_secs: u64,
    /// Keep nameplates and mailboxes in Redis (`redis://host:6379/0`, `rediss://` for TLS),
    /// so that several instances behind one name pair helpers and sharers between them.
    /// Default: in this process's memory.
    #[arg(long, env = "TANDEM_REDIS_URL", hide_env_values = true)]
    redis: Option<String>,
    /// Prefix of this service's keys and channels in Redis.
    #[arg(long, env = "TANDEM_REDIS_PREFIX", default_value = "tandem:")]
    redis_prefix: String,
    /// Enables the operator's view of session records (aggregates only) at
    /// /v1/operator/sessions, for requests with `Authorization: Bearer <this token>`.
    #[arg(long, env = "TANDEM_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// Accept helpers that identify with a bare name (no sign-in). Demos and tests only.
    #[arg(long, env = "TANDEM_ALLOW_DEV_IDENTITY")]
    allow_dev_identity: bool,
    /// Sign helpers in with this OpenID Connect issuer (its URL, e.g.
    /// `https://login.microsoftonline.com/<tenant>/v2.0`). Several providers: --identity-providers.
    #[arg(long, env = "TANDEM_OIDC_ISSUER", requires = "oidc_client_id")]
    oidc_issuer: Option<String>,
    /// The app's client id registered at the issuer (the ID tokens' audience).
    #[arg(long, env = "TANDEM_OIDC_CLIENT_ID", requires = "oidc_issuer")]
    oidc_client_id: Option<String>,
    /// The provider's name on the app's sign-in button.
    #[arg(long, env = "TANDEM_OIDC_NAME", default_value = "your organisation")]
    oidc_name: String,
    /// Scopes the app asks for (comma-separated).
    #[arg(long, env = "TANDEM_OIDC_SCOPES", value_delimiter = ',')]
    oidc_scopes: Vec<String>,
    /// Accept only helpers with a verified email address in these domains.
    #[arg(long, env = "TANDEM_OIDC_ALLOWED_EMAIL_DOMAINS", value_delimiter = ',')]
    oidc_allowed_email_domain: Vec<String>,
    /// Accept only helpers of these tenants (`tid`, Microsoft Entra ID).
    #[arg(long, env = "TANDEM_OIDC_ALLOWED_TENANTS", value_delimiter = ',')]
    oidc_allowed_tenant: Vec<String>,
    /// Identity providers from a TOML file (`[[provider]]` tables; see the README).
    #[arg(long, env = "TANDEM_IDENTITY_PROVIDERS")]
    identity_providers: Option<PathBuf>,
    /// Clock skew tolerated on token expiry, seconds.
    #[arg(long, default_value_t = 60)]
    oidc_leeway_secs: u64,
    /// Lifetime of a code, seconds.
    #[arg(long, default_value_t = 600)]
    code_ttl_secs: u64,
    /// Codes a client network (an IPv4 address, an IPv6 /64) may request per minute (and
    /// in a burst), before sign-in is checked.
    #[arg(long, default_value_t = 60)]
    allocate_per_minute: u32,
    #[arg(long, default_value_t = 120)]
    allocate_burst: u32,
    /// Codes one signed-in account may request per minute (and in a burst).
    #[arg(long, default_value_t = 10)]
    account_allocate_per_minute: u32,
    #[arg(long, default_value_t = 20)]
    account_allocate_burst: u32,
    /// Join attempts a client network may make per minute (and in a burst).
    #[arg(long, default_value_t = 10)]
    join_per_minute: u32,
    #[arg(long, default_value_t = 20)]
    join_burst: u32,
    /// Join attempts from all clients together per minute (and in a burst).
    #[arg(long, default_value_t = 60_000)]
    global_join_per_minute: u32,
    #[arg(long, default_value_t = 2_000)]
    global_join_burst: u32,
    /// A reverse proxy or load balancer (address or CIDR, repeatable) whose `Forwarded` /
    /// `X-Forwarded-For` headers name the client. Nobody else's are believed.
    #[arg(long, env = "TANDEM_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<ipnet::IpNet>,
    /// Open connections at most (keep it under the process's file limit, LimitNOFILE).
    #[arg(long, default_value_t = 16_000)]
    max_connections: usize,
    /// Open connections at most from one client network.
    #[arg(long, default_value_t = 64)]
    max_connections_per_network: usize,
    /// Seconds a client has to send a request's headers, or finish a TLS handshake.
    #[arg(long, default_value_t = 10)]
    header_timeout_secs: u64,
    /// STUN servers for the apps, e.g. `stun:203.0.113.1:3478` (repeatable).
    #[arg(long, env = "TANDEM_STUN_URLS", value_delimiter = ',')]
    stun_url: Vec<String>,
    /// TURN servers sharing --turn-secret, e.g. `turn:203.0.113.1:3478?transport=udp` or
    /// `turns:turn.example.org:443?transport=tcp` (repeatable).
    #[arg(
        long,
        env = "TANDEM_TURN_URLS",
        value_delimiter = ',',
        requires = "turn_secret"
    )]
    turn_url: Vec<String>,
    /// The TURN REST API secret (coturn's `static-auth-secret`).
    #[arg(long, env = "TANDEM_TURN_SECRET", hide_env_values = true)]
    turn_secret: Option<String>,
    /// How long issued TURN credentials stay valid, seconds.
    #[arg(long, default_value_t = 3600)]
    turn_credential_ttl_secs: u64,
    /// Also be a TURN (and STUN) server, on this UDP address (e.g. 0.0.0.0:3478).
    #[arg(long)]
    turn_listen_udp: Option<SocketAddr>,
    /// Also be a TURN server over TLS on this TCP address (e.g. 0.0.0.0:443, what passes
    /// corporate firewalls). Certificate: --turn-tls-cert/--turn-tls-key, else the
    /// rendezvous's own.
    #[arg(long)]
    turn_listen_tls: Option<SocketAddr>,
    #[arg(long, requires = "turn_tls_key")]
    turn_tls_cert: Option<PathBuf>,
    #[arg(long, requires = "turn_tls_cert")]
    turn_tls_key: Option<PathBuf>,
    /// How apps reach the embedded TURN server (a name or IP; default: its listen IP). With
    /// TLS it must match the certificate.
    #[arg(long)]
    turn_public_host: Option<String>,
    /// The public IP of relayed addresses (default: the public host if it is an IP, else
    /// the listen IP).
    #[arg(long)]
    turn_relay_ip: Option<std::net::IpAddr>,
    /// Peers the embedded TURN server may relay to although they are private, local or
    /// its own (CIDR, repeatable; for test networks). Default: public addresses only.
    #[arg(long, value_delimiter = ',')]
    turn_allow_peer: Vec<ipnet::IpNet>,
    /// Live TURN allocations one credential (one side of one session) may hold.
    #[arg(long, default_value_t = 10)]
    turn_allocations_per_credential: usize,
    /// Relayed kilobytes per second per credential (both directions together).
    #[arg(long, default_value_t = 2_500)]
    turn_kbytes_per_second: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,turn=warn,webrtc_util=warn".into()),
        )
        .init();
    let args = Args::parse_from(args_with_config_file()?);
    if args.man_page {
        clap_mangen::Man::new(Args::command())
            .section("8")
            .render(&mut std::io::stdout())?;
        return Ok(());
    }
    let tls = match (&args.tls_cert, &args.tls_key, args.self_signed.is_empty()) {
        (Some(cert), Some(key), _) => Some(load_tls(cert, key)?),
        (None, None, false) => Some(self_signed(
            &args.self_signed,
            args.self_signed_cert_out.as_deref(),
        )?),
        (None, None, true) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let mut ice_servers = tandem_rendezvous::turn_credentials::IceServersConfig {
        stun_urls: args.stun_url.clone(),
        turn_urls: args.turn_url.clone(),
        turn_secret: args.turn_secret.clone(),
        credential_ttl: Duration::from_secs(args.turn_credential_ttl_secs),
    };
    let _turn = embedded_turn(&args, tls.as_ref(), &mut ice_servers).await?;
    let sign_in = sign_in(&args)?;
    let config = ServerConfig {
        sign_in,
        ice_servers,
        allow_dev_identity: args.allow_dev_identity,
        operator_token: args.operator_token.clone(),
        nameplate_ttl: Duration::from_secs(args.code_ttl_secs),
        allocate_limit: Limit {
            per_minute: args.allocate_per_minute,
            burst: args.allocate_burst,
        },
        account_allocate_limit: Limit {
            per_minute: args.account_allocate_per_minute,
            burst: args.account_allocate_burst,
        },
        join_limit: Limit {
            per_minute: args.join_per_minute,
            burst: args.join_burst,
        },
        global_join_limit: Limit {
            per_minute: args.global_join_per_minute,
            burst: args.global_join_burst,
        },
        trusted_proxies: tandem_rendezvous::client_address::TrustedProxies::new(
            args.trusted_proxy.clone(),
        ),
        connection_limits: tandem_rendezvous::listener::ConnectionLimits {
            max_total: args.max_connections,
            max_per_network: args.max_connections_per_network,
            header_timeout: Duration::from_secs(args.header_timeout_secs),
            tls_handshake_timeout: Duration::from_secs(args.header_timeout_secs),
        },
        ..ServerConfig::default()
    };
    if config.allow_dev_identity {
        tracing::warn!("dev identities are accepted: anyone can claim any name");
    }
    if config.sign_in.is_none() && !config.allow_dev_identity {
        tracing::warn!("no identity provider configured: no helper can get a code");
    }
    let state = match &args.redis {
        Some(url) => {
            use tandem_rendezvous::store::redis_store::RedisStore;
            let store = RedisStore::connect(url, &args.redis_prefix)
                .await
                .with_context(|| format!("connecting to Redis at {}", redact(url)))?;
            let records = store.records();
            tracing::info!(redis = %redact(url), "shared store: Redis");
            let store = Arc::new(store);
            let limits: Arc<dyn tandem_rendezvous::rate_limit::SharedRateLimit> = store.clone();
            AppState::with_shared(config, store, Arc::new(records), Some(limits))
        }
        None => AppState::new(config, Arc::new(MemoryStore::new())),
    };

    let listener = listen(args.listen).with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    // The bound address goes to stdout so that scripts and tests can use port 0.
    println!(
        "listening on {}://{local}",
        if tls.is_some() { "wss" } else { "ws" }
    );
    info!(%local, tls = tls.is_some(), "rendezvous ready");

    match tls {
        Some(tls) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_config(tls);
            if let (Some(cert), Some(key)) = (args.tls_cert.clone(), args.tls_key.clone()) {
                tokio::spawn(reload_tls_on_sighup(tls.clone(), cert, key));
            }
            tandem_rendezvous::serve_tls(listener, Arc::clone(&state), tls, shutdown_signal())
                .await?;
        }
        None => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tandem_rendezvous::serve(listener, Arc::clone(&state), shutdown_signal()).await?;
        }
    }
    // No new connections from here; the mailboxes in flight may finish.
    let open = state.open_connections();
    if open > 0 {
        info!(open, "draining live mailboxes");
        let left = state.drain(Duration::from_secs(args.drain_secs)).await;
        if left > 0 {
            warn!(left, "stopping with mailboxes still open");
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct IdentityProvidersFile {
    #[serde(default)]
    provider: Vec<OidcProviderConfig>,
}

/// The identity providers from the flags and the file, if any.
fn sign_in(args: &Args) -> anyhow::Result<Option<Arc<OidcVerifier>>> {
    let mut providers = Vec::new();
    if let (Some(issuer), Some(client_id)) = (&args.oidc_issuer, &args.oidc_client_id) {
        let mut provider = OidcProviderConfig::new(&args.oidc_name, issuer, client_id);
        if !args.oidc_scopes.is_empty() {
            provider.scopes = args.oidc_scopes.clone();
        }
        provider
            .allowed_email_domains
            .clone_from(&args.oidc_allowed_email_domain);
        provider
            .allowed_tenants
            .clone_from(&args.oidc_allowed_tenant);
        providers.push(provider);
    }
    if let Some(path) = &args.identity_providers {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: IdentityProvidersFile =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        providers.extend(file.provider);
    }
    if providers.is_empty() {
        return Ok(None);
    }
    for p in &providers {
        info!(name = %p.name, issuer = %p.issuer, "identity provider");
        if p.open_to_anyone() {
            warn!(
                name = %p.name,
                issuer = %p.issuer,
                "anyone with an account at this provider can get codes and be shown to \
                 sharers by name: set allowed_email_domains or allowed_tenants"
            );
        }
    }
    let verifier = OidcVerifier::new(providers, args.oidc_leeway_secs)
        .map_err(|e| anyhow::anyhow!("identity providers: {e}"))?;
    Ok(Some(Arc::new(verifier)))
}

/// Starts the embedded TURN server when asked, and lists it (with a fresh secret unless
/// one was given) among the servers the rendezvous hands out.
async fn embedded_turn(
    args: &Args,
    rendezvous_tls: Option<&Arc<rustls::ServerConfig>>,
    ice: &mut tandem_rendezvous::turn_credentials::IceServersConfig,
) -> anyhow::Result<Option<tandem_rendezvous::turn_server::EmbeddedTurn>> {
    use tandem_rendezvous::turn_server::{start, EmbeddedTurnConfig};
    if args.turn_listen_udp.is_none() && args.turn_listen_tls.is_none() {
        return Ok(None);
    }
    let tls = match (
        args.turn_listen_tls,
        &args.turn_tls_cert,
        &args.turn_tls_key,
    ) {
        (None, _, _) => None,
        (Some(addr), Some(cert), Some(key)) => Some((addr, load_tls(cert, key)?)),
        (Some(addr), _, _) => Some((
            addr,
            rendezvous_tls.cloned().context(
                "--turn-listen-tls needs --turn-tls-cert/--turn-tls-key or the rendezvous's TLS",
            )?,
        )),
    };
    // TURN clients offer no ALPN; the rendezvous's http/1.1 would refuse nothing, but say
    // only what is true.
    let tls = tls.map(|(addr, config)| {
        let mut c = (*config).clone();
        c.alpn_protocols.clear();
        (addr, Arc::new(c))
    });
    let listen_ip = args
        .turn_listen_udp
        .or(args.turn_listen_tls)
        .map(|a| a.ip())
        .context("no TURN listener")?;
    let host = args
        .turn_public_host
        .clone()
        .unwrap_or_else(|| listen_ip.to_string());
    let relay_ip = args
        .turn_relay_ip
        .or_else(|| host.parse().ok())
        .unwrap_or(listen_ip);
    let secret = match &ice.turn_secret {
        Some(s) => s.clone(),
        None => hex::encode(rand::random::<[u8; 32]>()),
    };
    let turn = start(EmbeddedTurnConfig {
        udp: args.turn_listen_udp,
        tls,
        relay_ip,
        relay_bind: listen_ip,
        secret: secret.clone(),
        allow_peers: args.turn_allow_peer.clone(),
        quotas: tandem_rendezvous::turn_guard::TurnQuotas {
            allocations_per_credential: args.turn_allocations_per_credential,
            bytes_per_second: args.turn_kbytes_per_second * 1000,
            burst_bytes: (args.turn_kbytes_per_second * 1000).max(64 * 1024) / 2,
        },
        connection_limits: tandem_rendezvous::listener::ConnectionLimits {
            max_total: args.max_connections,
            max_per_network: args.max_connections_per_network,
            header_timeout: Duration::from_secs(args.header_timeout_secs),
            tls_handshake_timeout: Duration::from_secs(args.header_timeout_secs),
        },
    })
    .await?;
    if let Some(udp) = turn.udp {
        ice.stun_urls.push(format!("stun:{host}:{}", udp.port()));
        ice.turn_urls
            .push(format!("turn:{host}:{}?transport=udp", udp.port()));
    }
    if let Some(tls) = turn.tls {
        ice.turn_urls
            .push(format!("turns:{host}:{}?transport=tcp", tls.port()));
    }
    ice.turn_secret = Some(secret);
    Ok(Some(turn))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load_tls(cert: &PathBuf, key: &PathBuf) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading key {}", key.display()))?;
    server_config(certs, key)
}

/// SIGHUP reads the certificate and key again (after a renewal); new connections get the
/// new certificate, live ones keep theirs. A bad pair is logged and the old one kept.
async fn reload_tls_on_sighup(
    tls: axum_server::tls_rustls::RustlsConfig,
    cert: PathBuf,
    key: PathBuf,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        warn!("no SIGHUP handler: the certificate cannot be reloaded");
        return;
    };
    while hangups.recv().await.is_some() {
        match load_tls(&cert, &key) {
            Ok(config) => {
                tls.reload_from_config(config);
                info!(cert = %cert.display(), "TLS certificate reloaded");
            }
            Err(e) => warn!("keeping the current certificate: {e:#}"),
        }
    }
}

fn self_signed(
    names: &[String],
    out: Option<&std::path::Path>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certified = rcgen::generate_simple_self_signed(names.to_vec())?;
    if let Some(out) = out {
        std::fs::write(out, certified.cert.pem())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|e| anyhow::anyhow!("key: {e}"))?;
    server_config(vec![certified.cert.der().clone()], key)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// A Redis URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// The command line with the `--config` file's settings put in front of it (so that the
/// command line, parsed later, wins; a setting whose environment variable is set is left
/// to the environment).
fn args_with_config_file() -> anyhow::Result<Vec<std::ffi::OsString>> {
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut path = std::env::var_os("TANDEM_CONFIG").map(PathBuf::from);
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_string_lossy();
        if a == "--config" {
            path = it.next().map(PathBuf::from);
        } else if let Some(p) = a.strip_prefix("--config=") {
            path = Some(PathBuf::from(p));
        }
    }
    let Some(path) = path else {
        return Ok(argv);
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("parsing {}", path.display()))?;
    let command = Args::command();
    let mut extra: Vec<std::ffi::OsString> = Vec::new();
    for (key, value) in table {
        let long = key.replace('_', "-");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config")
            .ok_or_else(|| anyhow::anyhow!("{}: unknown setting {key:?}", path.display()))?;
        if arg
            .get_env()
            .is_some_and(|env| std::env::var_os(env).is_some())
        {
            continue;
        }
        let scalar = |v: &toml::Value| -> anyhow::Result<String> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                other => anyhow::bail!("{}: {key} = {other} is not a value", path.display()),
            }
        };
        match &value {
            toml::Value::Boolean(true) => extra.push(format!("--{long}").into()),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for item in items {
                    extra.push(format!("--{long}").into());
                    extra.push(scalar(item)?.into());
                }
            }
            other => {
                extra.push(format!("--{long}").into());
                extra.push(scalar(other)?.into());
            }
        }
    }
    argv.splice(1..1, extra);
    Ok(argv)
}

/// A listening socket with a deep accept queue: every pairing opens two connections, and
/// the standard library's backlog of 128 overflows under a burst of helpers and sharers
/// (the kernel then drops SYNs, and clients wait a second to retry). The kernel caps it
/// at `net.core.somaxconn`.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(4096)?.into_std()?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}
