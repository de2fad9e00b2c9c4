//! Finding and reading `cprlink.toml`, with `CPRLINK_<SECTION>_<KEY>` overrides.
//!
//! Order: `--config FILE`, else `$CPRLINK_CONFIG`, else `./cprlink.toml`, else
//! `$XDG_CONFIG_HOME/cprlink/cprlink.toml` (`~/.config/...` when unset), else the
//! defaults. A file named explicitly must exist. Unknown keys are refused by name, in
//! the file and (for variables that look like keys) nowhere else: other `CPRLINK_*`
//! variables such as `CPRLINK_P12_PASSWORD` are left alone. The schema itself lives in
//! `cprlink_lookup::config`.

use std::path::{Path, PathBuf};

use cprlink_lookup::config::Config;
use cprlink_onboard::Route;

use crate::exit::CliError;

/// A configuration and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct LoadedConfig {
    pub config: Config,
    /// The file read, or `None` when only defaults (and the environment) apply.
    pub source: Option<PathBuf>,
    /// Relative paths in the file are taken from here (the file's directory).
    pub base_dir: PathBuf,
    /// Where a file was looked for when none was named and none found, for the error
    /// that says so.
    pub searched: Vec<PathBuf>,
    /// Written by `cprlink sandbox` (its first line says so): its ports and secrets
    /// hold only while that sandbox runs.
    pub from_sandbox: bool,
}

impl LoadedConfig {
    /// A path from the config, resolved against the file's directory.
    pub(crate) fn path(&self, value: &str) -> Option<PathBuf> {
        cprlink_lookup::config::resolve_path(&self.base_dir, value)
    }

    /// The `[certificate]` password sources as a fallback for the password flags.
    pub(crate) fn certificate_password(&self) -> crate::secrets::ConfigPassword {
        let c = &self.config.certificate;
        crate::secrets::ConfigPassword {
            file: self.path(&c.password_file),
            env: (!c.password_env.is_empty()).then(|| c.password_env.clone()),
        }
    }

    /// The onboarding route this config belongs to, for hints that name its steps: an
    /// OAuth `client_id` means an IT-system of Datafordeler Administration (the
    /// administration route); none, a service user of the Self-Service route.
    pub(crate) fn route(&self) -> Route {
        if self.config.datafordeler.client_id.trim().is_empty() {
            Route::Selfservice
        } else {
            Route::Administration
        }
    }

    /// The error of a run that needs a certificate when no config was found and the
    /// built-in default `p12` names a file that is not there: what was searched, and
    /// the two ways to get a config.
    fn not_found(&self, p12: &Path) -> CliError {
        let places: Vec<String> = self
            .searched
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        CliError::usage(format!(
            "no cprlink.toml found (looked for {}; neither --config nor $CPRLINK_CONFIG names one), and the built-in default certificate {} does not exist",
            places.join(" and "),
            p12.display()
        ))
        .with_hint(
            "write the go-live config from the onboarding case with `cprlink onboard config` (where onboarding.toml is), or name one with --config FILE",
        )
        .with_hint(
            "to try cprlink first: run `cprlink sandbox --dir ./sbx` in another terminal, then `cprlink --config ./sbx/cprlink.toml lookup --input ./sbx/persons.csv`",
        )
    }

    /// With no config file found, a certificate needed and no `p12` from the
    /// environment, the built-in default certificate is not there: the defaults alone
    /// cannot work. The error says what was searched ([`LoadedConfig::not_found`]).
    pub(crate) fn defaults_cannot_work(&self) -> Option<CliError> {
        let p12 = &self.config.certificate.p12;
        if self.source.is_some()
            || !self.config.datafordeler.needs_certificate()
            || *p12 != Config::default().certificate.p12
        {
            return None;
        }
        self.path(p12)
            .filter(|p| !p.exists())
            .map(|p| self.not_found(&p))
    }

    /// The hint for a service that refuses connections when this config is a
    /// sandbox's: start that sandbox again.
    pub(crate) fn sandbox_not_running(&self) -> Option<String> {
        let source = self.source.as_ref().filter(|_| self.from_sandbox)?;
        Some(format!(
            "{} was written by `cprlink sandbox`, which is not running: start it again with `cprlink sandbox --dir {}` (it writes the new ports into the file), then run this again",
            source.display(),
            self.base_dir.display()
        ))
    }

    /// Where the config was found, for messages.
    pub(crate) fn describe(&self) -> String {
        match &self.source {
            Some(p) => p.display().to_string(),
            None => "built-in defaults (no cprlink.toml found)".to_owned(),
        }
    }
}

/// Finds and reads the configuration.
pub(crate) fn load(explicit: Option<&Path>) -> Result<LoadedConfig, CliError> {
    let env = |k: &str| std::env::var(k).ok();
    load_with(explicit, &env, Path::new("."))
}

/// [`load`] with the environment and working directory given, for tests.
pub(crate) fn load_with(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<LoadedConfig, CliError> {
    let named = explicit.map(Path::to_path_buf).or_else(|| {
        env("CPRLINK_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let mut searched = Vec::new();
    let source = match named {
        Some(path) => {
            if !path.is_file() {
                return Err(CliError::usage(format!(
                    "config file {} does not exist",
                    path.display()
                ))
                .with_hint("check --config / CPRLINK_CONFIG"));
            }
            Some(path)
        }
        None => {
            let local = cwd.join("cprlink.toml");
            let xdg = env("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))
                .map(|d| d.join("cprlink").join("cprlink.toml"));
            searched.push(local.clone());
            searched.extend(xdg.clone());
            if local.is_file() {
                Some(local)
            } else {
                xdg.filter(|p| p.is_file())
            }
        }
    };
    let (table, base_dir, from_sandbox) = match &source {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::usage(format!("cannot read config {}: {e}", path.display()))
            })?;
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                let line = e
                    .span()
                    .map(|s| text.get(..s.start).unwrap_or(&text).matches('\n').count() + 1);
                CliError::usage(format!(
                    "config {}{} is not valid TOML: {}",
                    path.display(),
                    line.map(|l| format!(", line {l},")).unwrap_or_default(),
                    e.message()
                ))
                .with_hint("fix that line (docs/config.md shows every key with its default), or write a new file with `cprlink onboard config`")
            })?;
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (table, dir, text.starts_with(cprlink_sandbox::CONFIG_MARK))
        }
        None => (toml::Table::new(), cwd.to_path_buf(), false),
    };
    let merged = apply_env(table, env)?;
    let where_ = source
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the environment".to_owned());
    let config: Config = toml::Value::Table(merged)
        .try_into()
        .map_err(|e: toml::de::Error| {
            CliError::usage(format!("bad config in {where_}: {}", e.message().trim()))
                .with_hint("see docs/config.md for the keys")
        })?;
    if source.is_some() {
        searched.clear();
    }
    Ok(LoadedConfig {
        config,
        source,
        base_dir,
        searched,
        from_sandbox,
    })
}

/// Applies `CPRLINK_<SECTION>_<KEY>` for every key the schema knows, typed like the
/// key's default value.
fn apply_env(
    mut table: toml::Table,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<toml::Table, CliError> {
    let defaults = toml::Table::try_from(Config::default())
        .map_err(|e| CliError::internal(format!("config schema: {e}")))?;
    for (section, keys) in &defaults {
        let Some(keys) = keys.as_table() else {
            continue;
        };
        for (key, default) in keys {
            let var = format!("CPRLINK_{}_{}", section.to_uppercase(), key.to_uppercase());
            let Some(raw) = env(&var) else { continue };
            let value = match default {
                toml::Value::Integer(_) => raw
                    .trim()
                    .parse::<i64>()
                    .map(toml::Value::Integer)
                    .map_err(|_| CliError::usage(format!("{var}={raw:?} is not a whole number")))?,
                toml::Value::Float(_) => raw
                    .trim()
                    .parse::<f64>()
                    .map(toml::Value::Float)
                    .map_err(|_| CliError::usage(format!("{var}={raw:?} is not a number")))?,
                toml::Value::Boolean(_) => match raw.trim() {
                    "true" | "1" | "yes" => toml::Value::Boolean(true),
                    "false" | "0" | "no" => toml::Value::Boolean(false),
                    _ => return Err(CliError::usage(format!("{var}={raw:?} is not true/false"))),
                },
                // A list (`[serve] allowed_hosts`): comma-separated.
                toml::Value::Array(_) => toml::Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| toml::Value::String(v.to_owned()))
                        .collect(),
                ),
                _ => toml::Value::String(raw),
            };
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry.as_table_mut() {
                Some(t) => {
                    t.insert(key.clone(), value);
                }
                None => {
                    return Err(CliError::usage(format!(
                        "config: `{section}` must be a table"
                    )));
                }
            }
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cprlink_lookup::config::Api;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn discovery_order_and_env_overrides() {
        let dir = tempfile::tempdir().unwrap();
        // Nothing anywhere: defaults.
        let c = load_with(None, &no_env, dir.path()).unwrap();
        assert!(c.source.is_none());
        // ./cprlink.toml is found.
        std::fs::write(
            dir.path().join("cprlink.toml"),
            "[lookup]\nconcurrency = 3\n",
        )
        .unwrap();
        let c = load_with(None, &no_env, dir.path()).unwrap();
        assert_eq!(c.config.lookup.concurrency, 3);
        assert_eq!(c.route(), Route::Selfservice);
        // Environment overrides the file, typed.
        let env = |k: &str| match k {
            "CPRLINK_LOOKUP_CONCURRENCY" => Some("5".to_owned()),
            "CPRLINK_DATAFORDELER_API" => Some("graphql".to_owned()),
            "CPRLINK_DATAFORDELER_CLIENT_ID" => Some("it-system-1".to_owned()),
            _ => None,
        };
        let c = load_with(None, &env, dir.path()).unwrap();
        assert_eq!(c.config.lookup.concurrency, 5);
        assert_eq!(c.route(), Route::Administration);
        assert_eq!(c.config.datafordeler.api, Some(Api::Graphql));
        // The new keys, typed like their defaults; `api = ""` is unset.
        let env = |k: &str| match k {
            "CPRLINK_DATAFORDELER_AUTH_GRACE_SECS" => Some("5".to_owned()),
            "CPRLINK_DATAFORDELER_API" => Some(String::new()),
            "CPRLINK_DATAFORDELER_CLIENT_ID" => Some("it-system-1".to_owned()),
            "CPRLINK_DATAFORDELER_CLIENT_SECRET_FILE" => Some("secret.txt".to_owned()),
            "CPRLINK_DATAFORDELER_GRAPHQL_QUERY_FILE" => Some("q.graphql".to_owned()),
            _ => None,
        };
        let c = load_with(None, &env, dir.path()).unwrap();
        let d = &c.config.datafordeler;
        assert_eq!(d.auth_grace_secs, 5);
        assert_eq!((d.api, d.api()), (None, Api::Graphql));
        assert_eq!(d.graphql_query_file, "q.graphql");
        assert!(!d.needs_certificate());
        assert!(
            d.endpoints()
                .token_url
                .starts_with("https://auth.datafordeler.dk/")
        );
        let bad =
            |k: &str| (k == "CPRLINK_DATAFORDELER_AUTH_GRACE_SECS").then(|| "soon".to_owned());
        let err = load_with(None, &bad, dir.path()).unwrap_err();
        assert!(err.message.contains("AUTH_GRACE_SECS"), "{}", err.message);
        // A list from a comma-separated variable.
        let hosts = |k: &str| {
            (k == "CPRLINK_SERVE_ALLOWED_HOSTS").then(|| "names.example, api.internal ".to_owned())
        };
        let c = load_with(None, &hosts, dir.path()).unwrap();
        assert_eq!(
            c.config.serve.allowed_hosts,
            ["names.example", "api.internal"]
        );
        let bad = |k: &str| (k == "CPRLINK_LOOKUP_CONCURRENCY").then(|| "many".to_owned());
        assert!(load_with(None, &bad, dir.path()).is_err());
        // An explicit file that does not exist is an error.
        let missing = dir.path().join("nope.toml");
        assert!(load_with(Some(&missing), &no_env, dir.path()).is_err());
        // Unknown keys are named.
        std::fs::write(
            dir.path().join("cprlink.toml"),
            "[lookup]\nconcurency = 3\n",
        )
        .unwrap();
        let err = load_with(None, &no_env, dir.path()).unwrap_err();
        assert!(err.message.contains("concurency"), "{}", err.message);
    }
}
