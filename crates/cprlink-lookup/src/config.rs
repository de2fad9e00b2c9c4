//! The `cprlink.toml` schema: `[datafordeler]`, `[certificate]`, `[lookup]`, `[serve]`.
//!
//! Owns the keys, their defaults and the defaults that depend on other keys: the URL
//! presets of each Datafordeler environment, `api` (GraphQL when `client_id` is set)
//! and `token_url` (the endpoint of the OAuth method: certificate, or shared secret
//! when `client_secret_file` is set), and whether a client certificate is needed at
//! all. Finding the file and applying `CPRLINK_<SECTION>_<KEY>` overrides is the
//! binary's job; this module only says what a valid configuration is. Unknown keys are
//! refused by name (`deny_unknown_fields`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub datafordeler: Datafordeler,
    pub certificate: Certificate,
    pub lookup: Lookup,
    pub serve: Serve,
}

/// Which Datafordeler: sets the URL defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentName {
    #[default]
    Production,
    Test04,
    Sandbox,
    Custom,
}

impl EnvironmentName {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentName::Production => "production",
            EnvironmentName::Test04 => "test04",
            EnvironmentName::Sandbox => "sandbox",
            EnvironmentName::Custom => "custom",
        }
    }
}

/// Which API answers lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    Rest,
    Graphql,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Rest => "rest",
            Api::Graphql => "graphql",
        }
    }
}

/// `api = ""` (or no `api` key) means "unset": the default follows `client_id`. The
/// key is written as text either way, so that `CPRLINK_DATAFORDELER_API` overrides it
/// like any other text key.
mod api_choice {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Api;

    pub(super) fn serialize<S: Serializer>(v: &Option<Api>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.map_or("", Api::as_str))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Api>, D::Error> {
        let text = String::deserialize(d)?;
        match text.trim() {
            "" => Ok(None),
            "rest" => Ok(Some(Api::Rest)),
            "graphql" => Ok(Some(Api::Graphql)),
            other => Err(serde::de::Error::custom(format!(
                "api = {other:?}: expected \"rest\", \"graphql\" or \"\" (unset: graphql when client_id is set, else rest)"
            ))),
        }
    }
}

/// `[datafordeler]`. Empty strings mean "the default" (of the environment, or of the
/// keys it depends on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Datafordeler {
    pub environment: EnvironmentName,
    /// `None` (`api = ""`): [`Datafordeler::api`] decides from `client_id`.
    #[serde(with = "api_choice")]
    pub api: Option<Api>,
    pub rest_base_url: String,
    pub rest_path: String,
    pub graphql_url: String,
    /// Empty: the token endpoint of the OAuth method in use ([`Datafordeler::endpoints`]).
    pub token_url: String,
    /// IT-system client id (GraphQL).
    pub client_id: String,
    /// OAuth shared secret (GraphQL): when set, no client certificate is needed.
    pub client_secret_file: String,
    /// The operator's own query text, checked at start (`crate::query`).
    pub graphql_query_file: String,
    /// How long 401 `DAF-AUTH-0005` is retried: new credentials are inert at first
    /// (datafordeler.md 5.2).
    pub auth_grace_secs: u64,
    /// The trust anchors (PEM) for the server certificate, and the only ones when set;
    /// empty = the system roots.
    pub ca_file: String,
}

impl Default for Datafordeler {
    fn default() -> Self {
        Datafordeler {
            environment: EnvironmentName::default(),
            api: None,
            rest_base_url: String::new(),
            rest_path: String::new(),
            graphql_url: String::new(),
            token_url: String::new(),
            client_id: String::new(),
            client_secret_file: String::new(),
            graphql_query_file: String::new(),
            auth_grace_secs: DEFAULT_AUTH_GRACE_SECS,
            ca_file: String::new(),
        }
    }
}

/// The default of `auth_grace_secs`: long enough for the sporadic `DAF-AUTH-0005` on
/// good credentials, short enough that a real refusal is reported within a minute.
pub const DEFAULT_AUTH_GRACE_SECS: u64 = 60;

/// `[certificate]`: the client identity for mutual TLS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Certificate {
    pub p12: String,
    pub password_file: String,
    pub password_env: String,
}

impl Default for Certificate {
    fn default() -> Self {
        Certificate {
            p12: "dpg-handover.p12".to_owned(),
            password_file: String::new(),
            password_env: "CPRLINK_P12_PASSWORD".to_owned(),
        }
    }
}

/// `[lookup]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lookup {
    /// Requests in flight.
    pub concurrency: u32,
    /// CPR numbers per request (REST `wi` list / GraphQL `in` list).
    pub batch_size: u32,
    /// Datafordeler sets no server-side timeout, so we set our own.
    pub timeout_secs: u64,
    /// Retries for 5xx, 429, timeouts and connection errors.
    pub retries: u32,
    /// Requests per second; 0 = unlimited.
    pub rate_limit_per_sec: u32,
    /// JSON Lines audit trail; empty = off.
    pub audit_log: String,
    /// The key of the trail's keyed hashes; empty = `$XDG_DATA_HOME/cprlink/audit.key`.
    /// Never in the log's directory.
    pub audit_key_file: String,
}

impl Default for Lookup {
    fn default() -> Self {
        Lookup {
            concurrency: 8,
            batch_size: 20,
            timeout_secs: 30,
            retries: 4,
            rate_limit_per_sec: 0,
            audit_log: String::new(),
            audit_key_file: String::new(),
        }
    }
}

/// `[serve]`: the limits that keep `cprlink serve` up under misuse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Serve {
    /// The cache never holds more answers (least recently used go first).
    pub cache_max_entries: u64,
    /// How long an answer is reused; 0 turns the cache off.
    pub cache_ttl_secs: u64,
    /// `Host` names accepted on loopback besides localhost, 127.0.0.1 and `[::1]`.
    pub allowed_hosts: Vec<String>,
    /// A client must send its request head (and a body) within this.
    pub header_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: u64,
}

impl Default for Serve {
    fn default() -> Self {
        Serve {
            cache_max_entries: 100_000,
            cache_ttl_secs: 3600,
            allowed_hosts: Vec::new(),
            header_timeout_secs: 10,
            max_connections: 1024,
        }
    }
}

/// The REST method of the DPG name lookup. Datafordeler: names official, full path
/// inferred; configurable through `rest_path`.
pub const DEFAULT_REST_PATH: &str = "/CPR/CprPersonSmallSimple/1/REST/PersonSmallCurrentListSimple";

/// URLs after the environment's defaults are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub rest_base_url: String,
    pub rest_path: String,
    pub graphql_url: String,
    pub token_url: String,
}

impl Datafordeler {
    /// The API in use: `api` when set, else GraphQL for an IT-system (`client_id` set)
    /// and REST for a service user (none).
    pub fn api(&self) -> Api {
        self.api.unwrap_or(if self.client_id.trim().is_empty() {
            Api::Rest
        } else {
            Api::Graphql
        })
    }

    /// Whether OAuth runs with the shared secret of `client_secret_file` rather than
    /// the certificate.
    pub fn uses_shared_secret(&self) -> bool {
        !self.client_secret_file.trim().is_empty()
    }

    /// Whether a client certificate (`[certificate]`) is needed: for REST (mutual TLS)
    /// and for the OAuth certificate, not for GraphQL with a shared secret.
    pub fn needs_certificate(&self) -> bool {
        self.api() == Api::Rest || !self.uses_shared_secret()
    }

    /// The URLs to use: explicit values win, then the environment's presets (for
    /// `token_url`, the endpoint of the OAuth method in use). `sandbox` and `custom`
    /// have no presets; missing URLs stay empty and the caller reports them.
    pub fn endpoints(&self) -> Endpoints {
        // datafordeler.md 5.2: auth-oces for the OAuth certificate (mutual TLS),
        // auth for the shared secret (no client certificate).
        let secret = self.uses_shared_secret();
        let (rest, graphql, token) = match self.environment {
            EnvironmentName::Production => (
                "https://s5-certservices.datafordeler.dk",
                "https://graphql.datafordeler.dk/CPR/custom/PublicSector/v1",
                if secret {
                    "https://auth.datafordeler.dk/realms/distribution/protocol/openid-connect/token"
                } else {
                    "https://auth-oces.datafordeler.dk/realms/distribution/protocol/openid-connect/token"
                },
            ),
            // Datafordeler: Test04 holds CPR test data; hosts by analogy with
            // test03/test06 and with production's.
            EnvironmentName::Test04 => (
                "https://test04-s5-certservices.datafordeler.dk",
                "https://test04-graphql.datafordeler.dk/CPR/custom/PublicSector/v1",
                if secret {
                    "https://test04-auth.datafordeler.dk/realms/distribution/protocol/openid-connect/token"
                } else {
                    "https://test04-auth-oces.datafordeler.dk/realms/distribution/protocol/openid-connect/token"
                },
            ),
            EnvironmentName::Sandbox | EnvironmentName::Custom => ("", "", ""),
        };
        let pick = |explicit: &str, preset: &str| {
            if explicit.is_empty() {
                preset.to_owned()
            } else {
                explicit.to_owned()
            }
        };
        Endpoints {
            rest_base_url: pick(&self.rest_base_url, rest)
                .trim_end_matches('/')
                .to_owned(),
            rest_path: pick(&self.rest_path, DEFAULT_REST_PATH),
            graphql_url: pick(&self.graphql_url, graphql),
            token_url: pick(&self.token_url, token),
        }
    }
}

/// Resolves a path from the config file relative to the file's directory (as cargo
/// does), so a config works from any working directory. Empty stays empty.
pub fn resolve_path(base_dir: &Path, value: &str) -> Option<PathBuf> {
    if value.is_empty() {
        return None;
    }
    let p = Path::new(value);
    Some(if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named() {
        let err = toml::from_str::<Config>("[lookup]\nconcurency = 3\n").unwrap_err();
        assert!(err.to_string().contains("concurency"), "{err}");
        let err = toml::from_str::<Config>("[lokup]\n").unwrap_err();
        assert!(err.to_string().contains("lokup"), "{err}");
    }

    #[test]
    fn presets_and_overrides() {
        let c: Config = toml::from_str("[datafordeler]\napi = \"graphql\"\n").unwrap();
        assert_eq!(c.datafordeler.api, Some(Api::Graphql));
        assert_eq!(c.datafordeler.auth_grace_secs, DEFAULT_AUTH_GRACE_SECS);
        let e = c.datafordeler.endpoints();
        assert_eq!(e.rest_base_url, "https://s5-certservices.datafordeler.dk");
        assert_eq!(e.rest_path, DEFAULT_REST_PATH);
        let c: Config = toml::from_str(
            "[datafordeler]\nenvironment = \"sandbox\"\nrest_base_url = \"https://127.0.0.1:5/\"\n",
        )
        .unwrap();
        assert_eq!(
            c.datafordeler.endpoints().rest_base_url,
            "https://127.0.0.1:5"
        );
        assert_eq!(c.lookup.batch_size, 20);
    }

    #[test]
    fn defaults_that_follow_other_keys() {
        let d = |text: &str| -> Datafordeler {
            toml::from_str::<Config>(&format!("[datafordeler]\n{text}"))
                .unwrap()
                .datafordeler
        };
        // api: unset (absent or "") follows client_id; explicit wins.
        assert_eq!(d("").api(), Api::Rest);
        assert_eq!(d("api = \"\"\nclient_id = \"it-1\"").api(), Api::Graphql);
        assert_eq!(d("client_id = \"it-1\"").api(), Api::Graphql);
        assert_eq!(d("api = \"rest\"\nclient_id = \"it-1\"").api(), Api::Rest);
        let bad = toml::from_str::<Config>("[datafordeler]\napi = \"soap\"\n").unwrap_err();
        assert!(bad.to_string().contains("soap"), "{bad}");
        // token_url: the endpoint of the OAuth method, per environment.
        let cert = d("client_id = \"it-1\"");
        assert!(cert.endpoints().token_url.starts_with("https://auth-oces."));
        assert!(cert.needs_certificate());
        let secret = d("client_id = \"it-1\"\nclient_secret_file = \"s.txt\"");
        assert!(
            secret
                .endpoints()
                .token_url
                .starts_with("https://auth.datafordeler.dk/")
        );
        assert!(!secret.needs_certificate());
        let test = d("environment = \"test04\"\nclient_id = \"x\"\nclient_secret_file = \"s\"");
        assert!(
            test.endpoints()
                .token_url
                .starts_with("https://test04-auth.")
        );
        // A shared secret with REST: REST is mutual TLS, the certificate is needed.
        let rest = d("api = \"rest\"\nclient_id = \"x\"\nclient_secret_file = \"s\"");
        assert!(rest.needs_certificate());
        // An explicit token_url wins.
        let own = d("client_secret_file = \"s\"\ntoken_url = \"https://t/x\"");
        assert_eq!(own.endpoints().token_url, "https://t/x");
        // The key is text either way, so environment overrides find it.
        let table = toml::Table::try_from(Config::default()).unwrap();
        assert_eq!(table["datafordeler"]["api"].as_str(), Some(""));
        assert_eq!(
            table["datafordeler"]["auth_grace_secs"].as_integer(),
            Some(60)
        );
        assert_eq!(
            table["datafordeler"]["graphql_query_file"].as_str(),
            Some("")
        );
    }
}
