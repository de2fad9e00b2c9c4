//! `cprlink-sandbox`: a local stand-in for Datafordeler, as a real server on 127.0.0.1.
//!
//! Nobody can reach Datafordeler from a developer machine, CI or a DPG test bench, so
//! every lookup feature, test, benchmark and the demo run against this instead. It
//! serves the REST method `CprPersonSmallSimple/PersonSmallCurrentListSimple` over
//! mutual TLS, the OAuth token endpoint (certificate and shared-secret variants, each
//! on its own listener as on Datafordeler), the GraphQL endpoint
//! `CPRCustom_PublicSectorPerson` and its SDL, in the shapes of
//! `reference/datafordeler.md`, for a deterministic synthetic population (`population`).
//! It can show what section 5 says Datafordeler does (`Behaviour`): `in` lists over 100
//! refused, answers cut short, IT-systems without data access, inert new credentials.
//! Access control (registered certificates, IT-systems, IP allowlist), behaviour,
//! faults and latency can be changed while it runs, in process or through the admin
//! API. Its test PKI is kept in its directory and reused across restarts (`pki`).
//!
//! Start one with [`Sandbox::start`]; it stops on [`Sandbox::shutdown`] or when
//! dropped. The library never prints, prompts or exits; it logs through `tracing`
//! with CPR numbers masked.

mod access;
mod admin;
mod clock;
pub mod cpr;
mod error;
mod fault_body;
mod faults;
mod files;
pub mod graphql;
mod hash;
mod http;
mod name_pools;
mod options;
mod pki;
pub mod population;
pub mod rest;
mod rng;
mod schema;
mod server;
mod token;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use access::{ClientView, normalize_thumbprint};
pub use error::Error;
pub use faults::MAX_FAULTY_ATTEMPTS;
pub use files::{CLIENT_ID, CONFIG_MARK, SANDBOX_CVR, SandboxFiles, SandboxInfo};
pub use options::{
    Behaviour, DEFAULT_MAX_IN_LIST, Faults, MAX_IN_LIST_LIMIT, NoAccessAnswer, SandboxOptions,
    SchemaChange,
};
pub use pki::{MIN_VALIDITY_DAYS, PkiOrigin};
pub use population::{Expected, HardCase, MAX_PERSONS, Person, Population};
pub use rest::{DEFAULT_PAGE_SIZE, REST_PATH};
pub use server::{GRAPHQL_PATH, SCHEMA_PATH};
pub use token::{DEFAULT_LIFETIME as DEFAULT_TOKEN_LIFETIME, TOKEN_PATH};

use server::{Listener, Shared};

/// A running sandbox. Stops on [`Sandbox::shutdown`] or when dropped.
pub struct Sandbox {
    shared: Arc<Shared>,
    files: SandboxFiles,
    info: SandboxInfo,
    pki: cprlink_cert::testpki::TestPki,
    pki_origin: PkiOrigin,
    client_thumbprint: String,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("rest_base_url", &self.info.rest_base_url)
            .field("graphql_url", &self.info.graphql_url)
            .field("dir", &self.files.dir)
            .finish_non_exhaustive()
    }
}

/// `https://HOST:PORT` for a bound address (an unspecified IP is reached on loopback).
fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("https://{}", SocketAddr::new(ip, addr.port()))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            Error::AddressInUse { addr }
        } else {
            Error::Listen { addr, source }
        }
    })
}

/// Creates the directory, makes sure the files the sandbox writes there are its own
/// (`files::claim`), and removes an earlier run's `sandbox.json`.
fn prepare_dir(dir: &Path) -> Result<SandboxFiles, Error> {
    let wrap = |source| Error::Dir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(wrap)?;
    let dir = dir.canonicalize().map_err(wrap)?;
    let files = SandboxFiles::in_dir(&dir);
    files::claim(&files)?;
    // A sandbox.json from an earlier run must not be mistaken for this one's.
    match std::fs::remove_file(&files.sandbox_json) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(wrap(e)),
    }
    Ok(files)
}

async fn local_addr(listener: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, Error> {
    listener.local_addr().map_err(|source| Error::Listen {
        addr: asked,
        source,
    })
}

impl Sandbox {
    /// Writes the files, binds the three listeners, and serves until shut down.
    /// Returns when `sandbox.json` is written, i.e. when it answers.
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, Error> {
        opts.validate()?;
        let schema = schema::Schema::new(&opts.schema)?;
        let files = prepare_dir(&opts.dir)?;
        let dir = files.dir.clone();

        let mtls_listener = bind(opts.listen).await?;
        let mtls_addr = local_addr(&mtls_listener, opts.listen).await?;
        let same_ip = SocketAddr::new(mtls_addr.ip(), 0);
        let api_listener = bind(same_ip).await?;
        let api_addr = local_addr(&api_listener, same_ip).await?;
        let auth_listener = bind(same_ip).await?;
        let auth_addr = local_addr(&auth_listener, same_ip).await?;
        let rest_base_url = base_url(mtls_addr);
        let api_base = base_url(api_addr);
        let info = SandboxInfo {
            token_url: format!("{rest_base_url}{TOKEN_PATH}"),
            rest_base_url,
            graphql_url: format!("{api_base}{GRAPHQL_PATH}"),
            shared_secret_token_url: format!("{}{TOKEN_PATH}", base_url(auth_addr)),
            admin_url: format!("{api_base}/admin"),
            dir: dir.clone(),
            pid: std::process::id(),
            persons: opts.persons,
            seed: opts.seed,
        };

        // Key generation and a million CSV rows are blocking work.
        let population = Population::new(opts.persons, opts.seed);
        let setup = {
            let files = files.clone();
            let info = info.clone();
            let population = population.clone();
            let ip = mtls_addr.ip();
            tokio::task::spawn_blocking(move || -> Result<(pki::Pki, files::Secrets), Error> {
                let pki = pki::obtain(&files, ip)?;
                files::write_pki(&files, &pki)?;
                let secrets = files::Secrets::new()?;
                files::write_run(&files, &secrets, &info)?;
                files::write_persons_csv(&files.persons_csv, &population)?;
                Ok((pki, secrets))
            })
        };
        let (pki, secrets) = setup.await.map_err(|e| Error::Task(e.to_string()))??;

        // The sandbox's own credentials are registered now, so they are inert for
        // `inert_secs` like any new one.
        let access = access::Access::default();
        access.set_inert(Duration::from_secs(opts.behaviour.inert_secs));
        access.register(&pki.client_thumbprint, opts.data_access);
        access.register_client(CLIENT_ID, opts.data_access);
        access.add_secret(CLIENT_ID, secrets.client_secret.clone());
        access.allow_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        access.allow_ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
        let shared = Arc::new(Shared {
            population,
            seed: opts.seed,
            access,
            tokens: token::Tokens::default(),
            faults: faults::FaultControl::new(opts.seed, opts.faults),
            latency_ms: AtomicU64::new(opts.latency_ms),
            clock: clock::Clock::start(),
            requests: AtomicU64::new(0),
            behaviour: std::sync::RwLock::new(opts.behaviour),
            schema,
            admin_token: secrets.admin_token.clone(),
        });
        let mtls_acceptor = Arc::new(server::acceptor(&pki, true)?);
        let tls_acceptor = Arc::new(server::acceptor(&pki, false)?);
        let (shutdown, rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(server::accept_loop(
                mtls_listener,
                mtls_acceptor,
                shared.clone(),
                Listener::Mtls,
                rx.clone(),
            )),
            tokio::spawn(server::accept_loop(
                api_listener,
                tls_acceptor.clone(),
                shared.clone(),
                Listener::Api,
                rx.clone(),
            )),
            tokio::spawn(server::accept_loop(
                auth_listener,
                tls_acceptor,
                shared.clone(),
                Listener::Auth,
                rx,
            )),
        ];
        files::write_info(&files.sandbox_json, &info)?;
        tracing::info!(
            "sandbox: serving {} persons (seed {}) at {}, {} and {}",
            opts.persons,
            opts.seed,
            info.rest_base_url,
            api_base,
            base_url(auth_addr)
        );
        Ok(Sandbox {
            shared,
            files,
            info,
            pki: pki.ca,
            pki_origin: pki.origin,
            client_thumbprint: pki.client_thumbprint,
            shutdown,
            tasks,
        })
    }

    /// `https://127.0.0.1:PORT`: the mutual-TLS listener (REST, certificate tokens).
    pub fn rest_base_url(&self) -> String {
        self.info.rest_base_url.clone()
    }

    /// `https://127.0.0.1:PORT2/CPR/custom/PublicSector/v1`.
    pub fn graphql_url(&self) -> String {
        self.info.graphql_url.clone()
    }

    /// The token endpoint's certificate variant (on the mutual-TLS listener).
    pub fn token_url(&self) -> String {
        self.info.token_url.clone()
    }

    /// The token endpoint's shared-secret variant (no client certificate), on a
    /// listener of its own.
    pub fn shared_secret_token_url(&self) -> String {
        self.info.shared_secret_token_url.clone()
    }

    /// `<graphql_url>/schema`: the SDL of the served schema.
    pub fn schema_url(&self) -> String {
        format!("{}/schema", self.info.graphql_url)
    }

    /// `https://127.0.0.1:PORT2/admin`.
    pub fn admin_url(&self) -> String {
        self.info.admin_url.clone()
    }

    /// The `sandbox.json` document.
    pub fn info(&self) -> &SandboxInfo {
        &self.info
    }

    pub fn files(&self) -> &SandboxFiles {
        &self.files
    }

    /// The test PKI, to issue more client certificates (demo, tests).
    pub fn pki(&self) -> &cprlink_cert::testpki::TestPki {
        &self.pki
    }

    /// The IT-system client id: `cprlink-sandbox`.
    pub fn client_id(&self) -> &str {
        CLIENT_ID
    }

    /// SHA-1 thumbprint of `client.p12`'s certificate (registered with CPR access).
    pub fn client_thumbprint(&self) -> &str {
        &self.client_thumbprint
    }

    /// Whether the test PKI was reused from the directory or made anew (and why).
    pub fn pki_origin(&self) -> &PkiOrigin {
        &self.pki_origin
    }

    /// Registers a certificate by its SHA-1 thumbprint (any common spelling), as an
    /// upload of its CER would; `cpr_access: false` gives 403 `DAF-AUTH-0001` instead
    /// of answers. Registering one again only changes its access: its inert period
    /// still runs from the first registration.
    pub fn register_certificate(&self, sha1_thumbprint: &str, cpr_access: bool) {
        if self
            .shared
            .access
            .register(sha1_thumbprint, cpr_access)
            .is_none()
        {
            tracing::warn!("sandbox: ignoring a thumbprint that is not 40 hex digits");
        }
    }

    pub fn unregister_certificate(&self, sha1_thumbprint: &str) {
        self.shared.access.unregister(sha1_thumbprint);
    }

    /// Creates an IT-system (a client id the token endpoints accept), or changes the
    /// data access of one: without it, GraphQL calls with its tokens get 403
    /// `DAF-AUTH-0001` (or the GraphQL error, see [`Behaviour::no_access_answer`]).
    pub fn register_client(&self, client_id: &str, data_access: bool) {
        self.shared.access.register_client(client_id, data_access);
    }

    /// The data access CustomPublicSectorPerson of an IT-system, granted or withdrawn
    /// (the same as [`Sandbox::register_client`]).
    pub fn set_data_access(&self, client_id: &str, data_access: bool) {
        self.shared.access.register_client(client_id, data_access);
    }

    /// Removes an IT-system: its tokens stop working and its secrets are gone.
    pub fn unregister_client(&self, client_id: &str) {
        self.shared.access.unregister_client(client_id);
    }

    /// Creates a new shared secret on an IT-system, as Datafordeler Administration
    /// shows one once; it is inert for [`Behaviour::inert_secs`] and earlier secrets
    /// keep working. `None` when the IT-system does not exist.
    pub fn create_shared_secret(&self, client_id: &str) -> Option<String> {
        let secret = files::random_hex(24).ok()?;
        self.shared
            .access
            .add_secret(client_id, secret.clone())
            .then_some(secret)
    }

    /// The IT-systems, with their data access and number of shared secrets.
    pub fn clients(&self) -> Vec<ClientView> {
        self.shared.access.clients()
    }

    /// Changes Datafordeler's behaviour at run time (limits, inert period, the shape
    /// of a refused data access); an invalid one is refused and nothing changes.
    pub fn set_behaviour(&self, behaviour: Behaviour) -> Result<(), Error> {
        behaviour.validate()?;
        self.shared.set_behaviour(behaviour);
        Ok(())
    }

    pub fn behaviour(&self) -> Behaviour {
        self.shared.behaviour()
    }

    pub fn allow_ip(&self, ip: IpAddr) {
        self.shared.access.allow_ip(ip);
    }

    /// Removes `ip` from the allowlist: its calls get 401 `DAF-AUTH-0005`.
    pub fn deny_ip(&self, ip: IpAddr) {
        self.shared.access.deny_ip(ip);
    }

    /// Changes the injected faults at run time.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.set(faults);
    }

    pub fn set_latency_ms(&self, ms: u64) {
        self.shared.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// Lifetime of tokens issued from now on (default 300 s; `expires_in` is rounded
    /// up to whole seconds, at least 1).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.tokens.set_lifetime(lifetime);
    }

    /// Expires every token issued so far: the next GraphQL call with one gets 401
    /// `invalid_token`.
    pub fn expire_tokens(&self) {
        self.shared.tokens.expire_all();
    }

    /// API requests served (REST, GraphQL, token endpoints), for tests.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The population: `person(i)`, `find(cpr)`, `expected(i)`, `unknown_cpr(k)`.
    pub fn population(&self) -> &Population {
        &self.shared.population
    }

    /// Stops accepting, lets requests in flight finish (up to 2 s), and returns when
    /// both listeners are closed. The files stay.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        tracing::info!("sandbox: stopped");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // The accept loops and connections watch this and wind down on their own.
        let _ = self.shutdown.send(true);
    }
}
