//! A sandbox per test binary (and more on demand), and clients configured from its
//! `cprlink.toml`, as an operator would.

use std::sync::OnceLock;

use cprlink_lookup::config::{Api, Config};
use cprlink_lookup::{Client, ClientIdentity, Settings};
use cprlink_sandbox::{Sandbox, SandboxOptions};

/// A running sandbox, its runtime and its directory.
pub(crate) struct Running {
    pub rt: tokio::runtime::Runtime,
    pub sb: Sandbox,
    _dir: tempfile::TempDir,
}

/// Starts a sandbox with `persons` people; `tweak` adjusts the options.
pub(crate) fn start(persons: u32, tweak: impl FnOnce(&mut SandboxOptions)) -> Running {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SandboxOptions::new(dir.path());
    opts.persons = persons;
    tweak(&mut opts);
    let sb = rt.block_on(Sandbox::start(opts)).expect("sandbox starts");
    Running { rt, sb, _dir: dir }
}

/// The sandbox shared by the tests that do not change it.
pub(crate) fn shared() -> &'static Running {
    static SHARED: OnceLock<Running> = OnceLock::new();
    SHARED.get_or_init(|| start(300, |_| {}))
}

pub(crate) fn config(sb: &Sandbox) -> Config {
    toml::from_str(&std::fs::read_to_string(&sb.files().config_toml).unwrap()).unwrap()
}

pub(crate) fn identity(sb: &Sandbox) -> ClientIdentity {
    let pw = std::fs::read_to_string(&sb.files().client_p12_password).unwrap();
    let loaded =
        cprlink_cert::load(&sb.files().client_p12, Some(pw.lines().next().unwrap())).unwrap();
    ClientIdentity::from_loaded(&loaded).unwrap()
}

pub(crate) fn settings(sb: &Sandbox, api: Api) -> Settings {
    let mut s = Settings::from_config(&config(sb), &sb.files().dir).unwrap();
    s.api = api;
    s
}

pub(crate) fn client(sb: &Sandbox, api: Api, tweak: impl FnOnce(&mut Settings)) -> Client {
    let mut s = settings(sb, api);
    tweak(&mut s);
    Client::new(s, Some(&identity(sb))).unwrap()
}

/// `persons.csv`: (cpr, name, name_protected, person_status).
pub(crate) fn expected(sb: &Sandbox) -> Vec<(String, String, bool, String)> {
    let mut rdr = csv::Reader::from_path(&sb.files().persons_csv).unwrap();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].to_owned(),
                r[1].to_owned(),
                &r[2] == "true",
                r[3].to_owned(),
            )
        })
        .collect()
}

pub(crate) const APIS: [Api; 2] = [Api::Rest, Api::Graphql];
