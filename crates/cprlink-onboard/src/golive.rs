//! The go-live `cprlink.toml`, written from a case (`cprlink onboard config`): the bridge
//! from onboarding to lookups, so an admin never types an endpoint by hand.
//!
//! Owns which keys a case decides and the comment that says where each value came
//! from: the environment (`production`, or Datafordeler's `test04` for a test case),
//! the API of the route (GraphQL with OAuth on `administration`, REST on
//! `selfservice`), the IT-system's client id, and the client identity: the .p12
//! installed at DPG with a password source, or a `client_secret_file` placeholder for a
//! shared secret (never the secret: cprlink never had it). It writes only keys the
//! lookup configuration knows, and no URLs: the environment's presets hold them. It
//! returns text; the binary writes the file. It looks at the disk only through the
//! `exists` function it is given (is there a password file beside the .p12?).

use std::path::{Path, PathBuf};

use crate::case::Case;
use crate::error::Error;
use crate::steps::{Route, TargetEnvironment};

/// One `key = value` with the comment above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: &'static str,
    /// A TOML string's contents (written quoted and escaped).
    pub value: String,
    /// Where the value came from, in one or two sentences.
    pub comment: String,
    /// A value to check or fill in before the first lookup.
    pub placeholder: bool,
}

/// One `[section]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: &'static str,
    /// Said above the section header.
    pub comment: Option<String>,
    pub entries: Vec<Entry>,
}

/// The go-live configuration of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoLive {
    /// The file's opening comment lines (without `# `).
    pub header: Vec<String>,
    pub sections: Vec<Section>,
    /// Said at the end (a section left out on purpose).
    pub footer: Vec<String>,
}

impl GoLive {
    /// `section.key` of every placeholder, for the person to fill in.
    pub fn placeholders(&self) -> Vec<String> {
        self.sections
            .iter()
            .flat_map(|s| {
                s.entries
                    .iter()
                    .filter(|e| e.placeholder)
                    .map(move |e| format!("{}.{}", s.name, e.key))
            })
            .collect()
    }

    /// The value of `section.key`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| s.name == section)?
            .entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            out.push_str(&comment_line(line));
        }
        for s in &self.sections {
            out.push('\n');
            if let Some(c) = &s.comment {
                out.push_str(&comment_line(c));
            }
            out.push_str(&format!("[{}]\n", s.name));
            for e in &s.entries {
                let mark = if e.placeholder { "Fill in: " } else { "" };
                out.push_str(&comment_line(&format!("{mark}{}", e.comment)));
                out.push_str(&format!("{} = {}\n", e.key, toml_string(&e.value)));
            }
        }
        if !self.footer.is_empty() {
            out.push('\n');
            for line in &self.footer {
                out.push_str(&comment_line(line));
            }
        }
        out
    }
}

/// Comment lines are wrapped to this width, for people reading the file.
const COMMENT_WIDTH: usize = 88;

/// `# text`, wrapped at spaces to [`COMMENT_WIDTH`] columns.
fn comment_line(text: &str) -> String {
    let mut out = String::new();
    for para in text.lines() {
        let mut line = String::from("#");
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            if line.len() > 1 && line.chars().count() + 1 + word.chars().count() > COMMENT_WIDTH {
                out.push_str(&line);
                out.push('\n');
                line = String::from("#");
            }
            line.push(' ');
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A TOML basic string (the values are checked text, but paths may hold quotes).
fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Where the config goes and how to look at the disk.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The directory the config file is written to (relative paths in it are read
    /// from there).
    pub config_dir: &'a Path,
    /// The directory of the case file: a relative path recorded in the case (as typed
    /// by an older cprlink) is taken from there.
    pub case_dir: &'a Path,
    /// Whether a file exists.
    pub exists: &'a dyn Fn(&Path) -> bool,
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("config_dir", &self.config_dir)
            .field("case_dir", &self.case_dir)
            .finish_non_exhaustive()
    }
}

/// The go-live configuration of `case`. Refused (naming the flags) when the case
/// lacks what decides a key: the client id, or the credential method.
pub fn config(case: &Case, target: Target<'_>) -> Result<GoLive, Error> {
    let state = case.state();
    let route = state.route;
    let mut missing = Vec::new();
    let client_id = match route {
        Route::Administration => match state.fact("it-system", "client_id") {
            Some(c) => Some(c.to_owned()),
            None => {
                missing.push("it-system (--client-id)".to_owned());
                None
            }
        },
        Route::Selfservice => None,
    };
    let method = case.credential_method();
    if method.is_none() {
        missing.push("credential (--method)".to_owned());
    }
    if !missing.is_empty() {
        return Err(Error::ConfigMissingFacts { missing });
    }
    let secret = method == Some("shared-secret");

    let mut datafordeler = Vec::new();
    let (env, env_comment) = match state.environment {
        TargetEnvironment::Production => (
            "production",
            "From the case (--environment production): Datafordeler's production, whose \
             URLs are the presets of this environment.",
        ),
        TargetEnvironment::Test => (
            "test04",
            "From the case (--environment test): Datafordeler's Test04, the test \
             environment with CPR test data and MitID Erhverv test certificates.",
        ),
    };
    datafordeler.push(Entry {
        key: "environment",
        value: env.to_owned(),
        comment: env_comment.to_owned(),
        placeholder: false,
    });
    let (api, api_comment) = match route {
        Route::Administration => (
            "graphql",
            "From the route (administration): an IT-system with an OAuth credential looks \
             up through GraphQL.",
        ),
        Route::Selfservice => (
            "rest",
            "From the route (selfservice): a service user with a certificate looks up \
             through REST (Datafordeler phases REST out at the end of 2026).",
        ),
    };
    datafordeler.push(Entry {
        key: "api",
        value: api.to_owned(),
        comment: api_comment.to_owned(),
        placeholder: false,
    });
    if let Some(id) = client_id {
        datafordeler.push(Entry {
            key: "client_id",
            value: id,
            comment: format!(
                "From step it-system (--client-id): the client id of the IT-system{}.",
                state
                    .fact("it-system", "it_system")
                    .map_or_else(String::new, |n| format!(" \"{n}\""))
            ),
            placeholder: false,
        });
    }
    let mut sections = Vec::new();
    let mut footer = Vec::new();
    if secret {
        let expires = state
            .fact("credential", "expires_on")
            .map_or_else(String::new, |d| {
                format!(" It expires on {d} (credential --expires-on).")
            });
        datafordeler.push(Entry {
            key: "client_secret_file",
            value: "client-secret.txt".to_owned(),
            comment: format!(
                "the file (mode 0600) holding the IT-system's shared secret, shown once in \
                 Datafordeler Administration; cprlink never recorded it (credential \
                 --method shared-secret).{expires}"
            ),
            placeholder: true,
        });
        sections.push(Section {
            name: "datafordeler",
            comment: None,
            entries: datafordeler,
        });
        footer.push(
            "No [certificate] section: with a shared secret no client certificate is needed."
                .to_owned(),
        );
    } else {
        sections.push(Section {
            name: "datafordeler",
            comment: None,
            entries: datafordeler,
        });
        sections.push(certificate_section(case, target));
    }
    let case_name = case.path().file_name().map_or_else(
        || "the case file".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut header = vec![
        format!(
            "cprlink.toml: the go-live config of {} (CVR {}), route {}, environment {}.",
            state.authority, state.cvr, route, state.environment
        ),
        format!(
            "Written by `cprlink onboard config` from {case_name}; each key says where its value came from."
        ),
    ];
    let placeholders = GoLive {
        header: Vec::new(),
        sections: sections.clone(),
        footer: Vec::new(),
    }
    .placeholders();
    if placeholders.is_empty() {
        header.push(
            "Check it with `cprlink doctor`, then look up names with `cprlink lookup`.".to_owned(),
        );
    } else {
        header.push(format!(
            "Fill in the keys marked \"Fill in\" ({}), then check it with `cprlink doctor`.",
            placeholders.join(", ")
        ));
    }
    Ok(GoLive {
        header,
        sections,
        footer,
    })
}

/// `[certificate]`: the .p12 installed at DPG (the registered certificate with its key)
/// and where its password comes from.
fn certificate_section(case: &Case, target: Target<'_>) -> Section {
    let state = case.state();
    let cert_step = state.route.certificate_step();
    let registered = state
        .fact(cert_step, "certificate_sha1_thumbprint")
        .map_or_else(String::new, |t| format!(", SHA-1 {t}"));
    let mut entries = Vec::new();
    let handed = state.fact("dpg-handover", "p12_file");
    let p12_path = handed.map(|f| {
        let p = Path::new(f);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            target.case_dir.join(p)
        }
    });
    match &p12_path {
        Some(p) => {
            let expires = state
                .fact("dpg-handover", "p12_not_after")
                .map_or_else(String::new, |d| format!(", expires {d}"));
            entries.push(Entry {
                key: "p12",
                value: shown_path(p, target.config_dir),
                comment: format!(
                    "From step dpg-handover (--p12): the .p12 installed at DPG, the certificate \
                     registered at step {cert_step} with its private key{registered}{expires}."
                ),
                placeholder: false,
            });
        }
        None => entries.push(Entry {
            key: "p12",
            value: "dpg-handover.p12".to_owned(),
            comment: format!(
                "the .p12 of the certificate registered at step {cert_step}{registered} \
                 (dpg-handover --p12 is not recorded yet)."
            ),
            placeholder: true,
        }),
    }
    let beside = p12_path.map(|p| {
        let mut name = p.clone().into_os_string();
        name.push(".password");
        PathBuf::from(name)
    });
    match beside.filter(|b| (target.exists)(b)) {
        Some(pw) => entries.push(Entry {
            key: "password_file",
            value: shown_path(&pw, target.config_dir),
            comment: "The .p12's password, found beside it (as `cprlink cert pack` writes it). \
                      Keep it mode 0600, or use password_env on the lookup machine instead."
                .to_owned(),
            placeholder: false,
        }),
        None => entries.push(Entry {
            key: "password_env",
            value: "CPRLINK_P12_PASSWORD".to_owned(),
            comment: "where the .p12's password comes from: this environment variable, or \
                      password_file = \"FILE\" (mode 0600). Never the password itself."
                .to_owned(),
            placeholder: true,
        }),
    }
    Section {
        name: "certificate",
        comment: Some(
            "The client identity for mutual TLS (the certificate token endpoint and REST)."
                .to_owned(),
        ),
        entries,
    }
}

/// A path as the config should hold it: relative to the config's directory when it is
/// inside it, else absolute.
fn shown_path(path: &Path, config_dir: &Path) -> String {
    match path.strip_prefix(config_dir) {
        Ok(rest) if !rest.as_os_str().is_empty() => rest.display().to_string(),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_for_toml() {
        assert_eq!(toml_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        let v: toml::Table = toml::from_str(&format!("k = {}", toml_string("x\"y\\z"))).unwrap();
        assert_eq!(v["k"].as_str(), Some("x\"y\\z"));
    }

    #[test]
    fn paths_inside_the_config_directory_are_relative() {
        let dir = Path::new("/srv/cprlink");
        assert_eq!(shown_path(&dir.join("dpg.p12"), dir), "dpg.p12");
        assert_eq!(shown_path(Path::new("/etc/dpg.p12"), dir), "/etc/dpg.p12");
    }
}
