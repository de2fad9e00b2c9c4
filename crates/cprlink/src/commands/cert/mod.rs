//! `cprlink cert`: inspect, export-cer, pack, repack, verify.
//!
//! One file per subcommand (`inspect.rs`, `export_cer.rs`, `pack.rs`, `repack.rs`,
//! `verify.rs`); this module holds what they share: opening files, the end common to
//! `pack` and `repack` (writing the .p12), warnings and the key-value layout.
//!
//! Thin: open the files (asking for a password only when one is needed), call
//! `cprlink-cert`, render for people (fits 100 columns, reads without colour) or as one
//! JSON document, and pick the exit code. All certificate logic lives in the library;
//! every file written goes through `cprlink_cert::files` (atomic, mode 0600 for keys
//! and passwords, never over an existing file without `--force`).

mod export_cer;
mod inspect;
mod pack;
mod repack;
mod verify;

use std::path::{Path, PathBuf};

use chrono::Utc;
use cprlink_cert::Loaded;
use cprlink_cert::chain;
use cprlink_cert::facts::CertFacts;
use cprlink_cert::files::{self, Overwrite};
use cprlink_cert::openssl::pkey::{PKey, Private};
use cprlink_cert::openssl::x509::X509;
use cprlink_cert::p12::{self, Profile};
use cprlink_cert::trust;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::args::{CertCommand, PasswordArgs, ProfileArg};
use crate::commands::Context;
use crate::exit::{CliError, Code};
use crate::output::{Ui, hanging};
use crate::secrets::{self, OpenError, Secret};

pub(crate) fn run(args: &CertCommand, ctx: &mut Context) -> Result<Code, CliError> {
    match args {
        CertCommand::Inspect(a) => inspect::run(a, ctx),
        CertCommand::ExportCer(a) => export_cer::run(a, ctx),
        CertCommand::Pack(a) => pack::run(a, ctx),
        CertCommand::Repack(a) => repack::run(a, ctx),
        CertCommand::Verify(a) => verify::run(a, ctx),
    }
}

// ---------------------------------------------------------------------------------
// Opening files

/// Opens a certificate-bearing file: the password flags first, then the config's
/// `[certificate]` password when FILE is the configured .p12, then (on a terminal
/// only, and only when the file needs one) a hidden prompt with three tries.
fn try_open(path: &Path, pw: &PasswordArgs, ctx: &mut Context) -> Result<Loaded, OpenError> {
    let fallback = config_password_for(path, ctx);
    secrets::try_open_certificate_file(path, pw, fallback.as_ref(), &ctx.ui, ctx.prompter.as_mut())
        .map(|(loaded, _)| loaded)
}

/// [`try_open`] for commands that only need a message and an exit code.
fn open(path: &Path, pw: &PasswordArgs, ctx: &mut Context) -> Result<Loaded, CliError> {
    try_open(path, pw, ctx).map_err(CliError::from)
}

/// The config's password sources, when `path` is the configured `[certificate] p12`.
/// A config that does not load is ignored here: certificate commands work without one.
fn config_password_for(path: &Path, ctx: &mut Context) -> Option<secrets::ConfigPassword> {
    let config = ctx.config().ok()?;
    let configured = config.path(&config.config.certificate.p12)?;
    let same = match (configured.canonicalize(), path.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    same.then(|| config.certificate_password())
}

/// The certificate of `loaded`, or the error that tells a key-only file apart.
fn require_leaf(loaded: &Loaded) -> Result<X509, CliError> {
    if let Some(leaf) = loaded.key_certificate() {
        return Ok(leaf.clone());
    }
    let path = loaded.path.clone();
    Err(if loaded.key.is_some() {
        cprlink_cert::Error::KeyWithoutCertificate { path }.into()
    } else {
        cprlink_cert::Error::NoCertificate { path }.into()
    })
}

pub(crate) fn read_trust(paths: &[PathBuf]) -> Result<Vec<X509>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        let certs = trust::read_trust_file(p).map_err(|e| {
            CliError::from(e).with_hint("--trust takes PEM (or DER) CA certificates")
        })?;
        out.extend(certs);
    }
    Ok(out)
}

/// Refuses to write over the input itself, even with --force: that would destroy the
/// only copy of the original.
fn refuse_same_file(input: &Path, out: &Path) -> Result<(), CliError> {
    if let (Ok(a), Ok(b)) = (input.canonicalize(), out.canonicalize())
        && a == b
    {
        return Err(
            CliError::usage(format!("--out {} is the input file itself", out.display()))
                .with_hint("write to a new file; rename it afterwards if you must"),
        );
    }
    Ok(())
}

/// Warnings worth a line on stderr before a certificate is exported or packed; the
/// full judgement is `cert verify`'s.
fn warn_about(f: &CertFacts, ui: &Ui) {
    let now = Utc::now();
    if f.not_after < now {
        ui.warn(&format!(
            "this certificate expired on {}",
            f.not_after.format("%Y-%m-%d")
        ));
    } else if f.not_before > now {
        ui.warn(&format!(
            "this certificate is not valid until {}",
            f.not_before.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if f.kind == cprlink_cert::Kind::Employee {
        ui.warn(
            "this is an employee certificate; a system connection needs a system/organisation \
             certificate",
        );
    }
    if f.generation == cprlink_cert::Generation::Oces2 {
        ui.warn("this is an OCES2 certificate, retired on 31 October 2023");
    }
}

fn cert_line(f: &CertFacts) -> String {
    let cn = f.common_name.as_deref().unwrap_or("?");
    let mut s = format!("CN={cn}");
    if let Some(o) = &f.organisation {
        s.push_str(&format!(", O={o}"));
    }
    if let Some(cvr) = &f.cvr {
        s.push_str(&format!(", CVR {cvr}"));
    }
    s.push_str(&format!(", expires {}", f.not_after.format("%Y-%m-%d")));
    s
}

// ---------------------------------------------------------------------------------
// Writing a .p12 (pack, repack)

fn profile_of(p: ProfileArg) -> Profile {
    match p {
        ProfileArg::Compat => Profile::Compat,
        ProfileArg::Modern => Profile::Modern,
    }
}

fn profile_words(p: Profile) -> &'static str {
    match p {
        Profile::Compat => "compat: PBE-SHA1-3DES, SHA-1 MAC, 2,048 iterations; every reader",
        Profile::Modern => {
            "modern: PBES2/AES-256-CBC, SHA-256 MAC, 2,048 iterations; OpenSSL 3, Java 17, Windows 10 1709+"
        }
    }
}

/// `"<O> DPG CPR (OCES3, expires YYYY-MM-DD)"`.
fn default_friendly_name(f: &CertFacts) -> String {
    let who = f
        .organisation
        .clone()
        .or_else(|| f.common_name.clone())
        .unwrap_or_else(|| "Certificate".to_owned());
    let generation = match f.generation {
        cprlink_cert::Generation::Oces3 => "OCES3, ",
        _ => "",
    };
    format!(
        "{who} DPG CPR ({generation}expires {})",
        f.not_after.format("%Y-%m-%d")
    )
}

/// The new password: from `--new-password-file`, or generated.
fn new_password(file: Option<&Path>, ui: &Ui) -> Result<(Secret, bool), CliError> {
    match file {
        Some(path) => {
            let secret = secrets::read_secret_file(path)?;
            if secret.expose_secret().is_empty() {
                return Err(CliError::usage(format!(
                    "the new password in {} is empty",
                    path.display()
                ))
                .with_hint("put the password on the first line, or leave out --new-password-file to generate one"));
            }
            if !secret.expose_secret().is_ascii() {
                ui.warn(
                    "the new password is not ASCII; Windows, Java and OpenSSL encode letters \
                     such as æøå differently, so some may not open the file",
                );
            }
            Ok((secret, false))
        }
        None => Ok((Secret::from(p12::generate_password()?), true)),
    }
}

/// Where a generated password goes: `OUT.password`.
fn password_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".password");
    PathBuf::from(s)
}

struct Packed<'a> {
    out: &'a Path,
    force: bool,
    profile: Profile,
    key: PKey<Private>,
    leaf: X509,
    chain: Vec<X509>,
    /// `--name`, or the name the input already carried; else a default from the facts.
    name: Option<String>,
    new_password_file: Option<&'a Path>,
    add_oces_chain: bool,
}

/// The common end of `pack` and `repack`: the embedded issuing CA if asked, warnings
/// about the certificate, the friendly name, then the files.
fn write_p12(p: Packed<'_>, ctx: &mut Context) -> Result<Code, CliError> {
    let mut chain = p.chain;
    let added_oces = if p.add_oces_chain {
        chain::add_oces_issuer(&mut chain, &p.leaf)?
    } else {
        false
    };
    let facts = CertFacts::of(&p.leaf, Utc::now())?;
    warn_about(&facts, &ctx.ui);
    let name = p.name.unwrap_or_else(|| default_friendly_name(&facts));
    let overwrite = if p.force {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    };
    // Refuse before doing anything, so that a refused run leaves no file behind.
    let leaf_key = p.leaf.public_key().map_err(cprlink_cert::Error::from)?;
    if !leaf_key.public_eq(&p.key) {
        return Err(cprlink_cert::Error::KeyDoesNotMatchCertificate.into());
    }
    let pw_path = password_path(p.out);
    let (secret, generated) = new_password(p.new_password_file, &ctx.ui)?;
    if overwrite == Overwrite::Refuse {
        let mut targets = vec![p.out];
        if generated {
            targets.push(&pw_path);
        }
        for t in targets {
            if std::fs::symlink_metadata(t).is_ok() {
                return Err(cprlink_cert::Error::AlreadyExists {
                    path: t.to_path_buf(),
                }
                .into());
            }
        }
    }
    let chain = chain::order(&p.leaf, chain);
    let der = p12::build(
        &p.key,
        &p.leaf,
        &chain,
        Some(&name),
        secret.expose_secret(),
        p.profile,
    )?;
    let pw_line = format!("{}\n", secret.expose_secret());
    if generated {
        files::write_all_atomic(
            &[(p.out, &der, 0o600), (&pw_path, pw_line.as_bytes(), 0o600)],
            overwrite,
        )?;
    } else {
        files::write_private(p.out, &der, overwrite)?;
    }

    let chain_names: Vec<String> = chain
        .iter()
        .map(|c| {
            cprlink_cert::facts::entry(
                c.subject_name(),
                cprlink_cert::openssl::nid::Nid::COMMONNAME,
            )
            .unwrap_or_else(|| cprlink_cert::facts::name_text(c.subject_name()))
        })
        .collect();
    if ctx.ui.json {
        ctx.ui.print_json(&json!({
            "out": p.out.display().to_string(),
            "profile": p.profile.as_str(),
            "friendly_name": name,
            "password_file": generated.then(|| pw_path.display().to_string()),
            "password_generated": generated,
            "ca_certificates": chain.len(),
            "added_oces_issuing_ca": added_oces,
            "subject": facts.subject,
            "cvr": facts.cvr,
            "not_after": facts.not_after,
            "sha1_thumbprint": facts.sha1_thumbprint,
            "sha256_fingerprint": facts.sha256_fingerprint,
        }))?;
    }
    let ui = &ctx.ui;
    ui.note(&format!("wrote {} (mode 0600)", p.out.display()));
    let mut lines = Vec::new();
    kv(&mut lines, "  Certificate", &cert_line(&facts));
    kv(&mut lines, "  Protection", profile_words(p.profile));
    kv(&mut lines, "  Friendly name", &name);
    let chain_text = if chain.is_empty() {
        "none (add the issuing CA with --add-oces-chain)".to_owned()
    } else {
        chain_names.join("; ")
    };
    kv(&mut lines, "  CA certificates", &chain_text);
    if p.add_oces_chain {
        let what = if added_oces {
            "added the embedded OCES3 issuing CA that signed the certificate"
        } else {
            "nothing to add: the issuing CA that signed the certificate was already in the chain"
        };
        kv(&mut lines, "  --add-oces-chain", what);
    }
    for l in lines {
        ui.note(&l);
    }
    if generated {
        ui.note(&format!(
            "The new password is in {} (mode 0600).",
            pw_path.display()
        ));
        ui.note("Give it to DPG separately from the .p12, never in the same e-mail.");
    }
    if ui.shows_next() {
        ui.note(&format!(
            "Next: cprlink cert verify {} --password-file {}",
            p.out.display(),
            if generated {
                pw_path.display().to_string()
            } else {
                p.new_password_file
                    .map(|f| f.display().to_string())
                    .unwrap_or_default()
            }
        ));
    }
    Ok(Code::Success)
}

// ---------------------------------------------------------------------------------
// Layout

/// Label column width of key-value output.
const LABEL_W: usize = 20;

/// Appends `label  value`, the value wrapped within [`crate::output::WIDTH`] (see [`hanging`]).
fn kv(out: &mut Vec<String>, label: &str, value: &str) {
    out.extend(hanging(&format!("{label:<LABEL_W$}"), LABEL_W, value));
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_layout() {
        let long = "X".repeat(95);
        let mut out = Vec::new();
        kv(&mut out, "SHA-256 fingerprint", &long);
        assert_eq!(
            out,
            vec!["SHA-256 fingerprint".to_owned(), format!("     {long}")]
        );
        let mut out = Vec::new();
        kv(&mut out, "Key", "RSA 3072 bits");
        assert_eq!(out, vec![format!("{:<20}RSA 3072 bits", "Key")]);
    }

    #[test]
    fn password_path_appends() {
        assert_eq!(
            password_path(Path::new("dir/out.p12")),
            PathBuf::from("dir/out.p12.password")
        );
    }
}
