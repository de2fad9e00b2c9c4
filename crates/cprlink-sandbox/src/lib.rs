//! `cprlink-sandbox`: a local stand-in for Datafordeler, as a real server on 127.0.0.1.
//!
//! Nobody can reach Datafordeler from a developer machine, CI or a DPG test bench, so
//! every lookup feature, test, benchmark and the demo run against this instead. It
//! serves the REST method `CprPersonSmallSimple/PersonSmallCurrentListSimple` over
//! mutual TLS, the OAuth token endpoint (certificate and shared-secret variants) and
//! the GraphQL endpoint `CPRCustom_PublicSectorPerson`, in the shapes of
//! `reference/datafordeler.md`, for a deterministic synthetic population (`population`).
//! Access control (registered certificates, IP allowlist), faults and latency can be
//! changed while it runs, in process or through the admin API.
//!
//! Start one with [`Sandbox::start`]; it stops on [`Sandbox::shutdown`] or when
//! dropped. The library never prints, prompts or exits; it logs through `tracing`
//! with CPR numbers masked.

mod access;
mod admin;
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
pub mod population;
pub mod rest;
mod rng;
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

pub use access::normalize_thumbprint;
pub use error::Error;
pub use faults::MAX_FAULTY_ATTEMPTS;
pub use files::{CLIENT_ID, SANDBOX_CVR, SandboxFiles, SandboxInfo};
pub use options::{Faults, SandboxOptions};
pub use population::{Expected, HardCase, MAX_PERSONS, Person, Population};
pub use rest::{DEFAULT_PAGE_SIZE, REST_PATH};
pub use server::GRAPHQL_PATH;
pub use token::{DEFAULT_LIFETIME as DEFAULT_TOKEN_LIFETIME, TOKEN_PATH};

use server::Shared;

/// A running sandbox. Stops on [`Sandbox::shutdown`] or when dropped.
pub struct Sandbox {
    shared: Arc<Shared>,
    files: SandboxFiles,
    info: SandboxInfo,
    pki: cprlink_cert::testpki::TestPki,
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

fn prepare_dir(dir: &Path) -> Result<std::path::PathBuf, Error> {
    let wrap = |source| Error::Dir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(wrap)?;
    let dir = dir.canonicalize().map_err(wrap)?;
    // A sandbox.json from an earlier run must not be mistaken for this one's.
    match std::fs::remove_file(dir.join("sandbox.json")) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(wrap(e)),
    }
    Ok(dir)
}

impl Sandbox {
    /// Writes the files, binds both listeners, and serves until shut down. Returns
    /// when `sandbox.json` is written, i.e. when it answers.
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, Error> {
        opts.validate()?;
        let dir = prepare_dir(&opts.dir)?;
        let files = SandboxFiles::in_dir(&dir);

        let mtls_listener = bind(opts.listen).await?;
        let mtls_addr = mtls_listener.local_addr().map_err(|source| Error::Listen {
            addr: opts.listen,
            source,
        })?;
        let other_listener = bind(SocketAddr::new(mtls_addr.ip(), 0)).await?;
        let other_addr = other_listener
            .local_addr()
            .map_err(|source| Error::Listen {
                addr: mtls_addr,
                source,
            })?;
        let rest_base_url = base_url(mtls_addr);
        let other_base = base_url(other_addr);
        let info = SandboxInfo {
            token_url: format!("{rest_base_url}{TOKEN_PATH}"),
            rest_base_url,
            graphql_url: format!("{other_base}{GRAPHQL_PATH}"),
            shared_secret_token_url: format!("{other_base}{TOKEN_PATH}"),
            admin_url: format!("{other_base}/admin"),
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
            tokio::task::spawn_blocking(move || -> Result<files::Material, Error> {
                let material = files::make_material(ip)?;
                files::write_identity(&files, &material, &info)?;
                files::write_persons_csv(&files.persons_csv, &population)?;
                Ok(material)
            })
        };
        let material = setup.await.map_err(|e| Error::Task(e.to_string()))??;

        let access = access::Access::default();
        access.register(&material.client_thumbprint, true);
        access.allow_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        access.allow_ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
        let shared = Arc::new(Shared {
            population,
            seed: opts.seed,
            access,
            tokens: token::Tokens::default(),
            faults: faults::FaultControl::new(opts.seed, opts.faults),
            latency_ms: AtomicU64::new(opts.latency_ms),
            requests: AtomicU64::new(0),
            client_secret: material.client_secret.clone(),
            admin_token: material.admin_token.clone(),
        });
        let mtls_acceptor = Arc::new(server::acceptor(&material, true)?);
        let other_acceptor = Arc::new(server::acceptor(&material, false)?);
        let (shutdown, rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(server::accept_loop(
                mtls_listener,
                mtls_acceptor,
                shared.clone(),
                true,
                rx.clone(),
            )),
            tokio::spawn(server::accept_loop(
                other_listener,
                other_acceptor,
                shared.clone(),
                false,
                rx,
            )),
        ];
        files::write_info(&files.sandbox_json, &info)?;
        tracing::info!(
            "sandbox: serving {} persons (seed {}) at {} and {}",
            opts.persons,
            opts.seed,
            info.rest_base_url,
            other_base
        );
        Ok(Sandbox {
            shared,
            files,
            info,
            pki: material.pki,
            client_thumbprint: material.client_thumbprint,
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

    /// The token endpoint's shared-secret variant (no client certificate).
    pub fn shared_secret_token_url(&self) -> String {
        self.info.shared_secret_token_url.clone()
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

    /// Registers a certificate by its SHA-1 thumbprint (any common spelling), as an
    /// upload of its CER would; `cpr_access: false` gives 403 instead of answers.
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
