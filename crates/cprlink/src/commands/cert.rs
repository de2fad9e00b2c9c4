//! `cprlink cert`: inspect, export-cer, pack, repack, verify.
//!
//! Thin: open the files (asking for a password only when one is needed), call
//! `cprlink-cert`, render for people (fits 100 columns, reads without colour) or as one
//! JSON document, and pick the exit code. All certificate logic lives in the library;
//! every file written goes through `cprlink_cert::files` (atomic, mode 0600 for keys
//! and passwords, never over an existing file without `--force`).

use std::path::{Path, PathBuf};

use chrono::Utc;
use cprlink_cert::facts::{CertFacts, same_certificate};
use cprlink_cert::files::{self, Overwrite};
use cprlink_cert::openssl::pkey::{PKey, Private};
use cprlink_cert::openssl::x509::{X509, X509Ref};
use cprlink_cert::p12::{self, Profile};
use cprlink_cert::protection::Protection;
use cprlink_cert::trust::{self, ChainStatus};
use cprlink_cert::verify::{self, Report, Verdict, VerifyOptions};
use cprlink_cert::{Environment, FileFormat, Loaded};
use serde_json::{Value, json};

use crate::args::{
    CerEncoding, CertCommand, CertExportArgs, CertInspectArgs, CertPackArgs, CertRepackArgs,
    CertVerifyArgs, PasswordArgs, ProfileArg, TargetEnvironment,
};
use crate::commands::Context;
use crate::exit::{CliError, Code};
use crate::output::{Ui, hanging};
use crate::secrets::{self, ExposeSecret, OpenError, Secret};

pub fn run(args: &CertCommand, ctx: &mut Context) -> Result<Code, CliError> {
    match args {
        CertCommand::Inspect(a) => inspect(a, ctx),
        CertCommand::ExportCer(a) => export_cer(a, ctx),
        CertCommand::Pack(a) => pack(a, ctx),
        CertCommand::Repack(a) => repack(a, ctx),
        CertCommand::Verify(a) => verify_cmd(a, ctx),
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

// ---------------------------------------------------------------------------------
// inspect

fn inspect(a: &CertInspectArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let extra = read_trust(&a.trust)?;
    let loaded = open(&a.file, &a.password, ctx)?;
    let leaf = require_leaf(&loaded)?;
    let now = Utc::now();
    let facts = CertFacts::of(&leaf, now)?;
    let others = loaded.others(&leaf);
    let chain = trust::build_chain(&leaf, &others, &extra, now)?;
    let environment = verify::effective_environment(&facts, Some(&chain));
    let generation = verify::effective_generation(&facts, Some(&chain));
    let key_matches = loaded
        .key
        .as_ref()
        .map(|k| leaf.public_key().map(|pk| pk.public_eq(k)).unwrap_or(false));
    let other_facts: Vec<CertFacts> = others
        .iter()
        .filter_map(|c| CertFacts::of(c, now).ok())
        .collect();

    if ctx.ui.json {
        let mut doc =
            serde_json::to_value(&facts).map_err(|e| CliError::internal(e.to_string()))?;
        if let Value::Object(map) = &mut doc {
            map.insert("file".into(), json!(loaded.path.display().to_string()));
            map.insert("format".into(), json!(loaded.format));
            map.insert("environment".into(), json!(environment));
            map.insert("generation".into(), json!(generation));
            map.insert("chain".into(), chain_json(&chain));
            map.insert("has_private_key".into(), json!(loaded.key.is_some()));
            map.insert("key_matches".into(), json!(key_matches));
            let p12 = loaded.p12.as_ref();
            map.insert(
                "friendly_name".into(),
                json!(p12.and_then(|p| p.friendly_name.clone())),
            );
            map.insert(
                "ca_certificates".into(),
                json!(other_facts.iter().filter(|f| f.is_ca).count()),
            );
            map.insert(
                "protection".into(),
                p12.map(|p| protection_json(&p.protection))
                    .unwrap_or(Value::Null),
            );
            map.insert(
                "other_certificates".into(),
                Value::Array(other_facts.iter().map(short_cert_json).collect()),
            );
        }
        ctx.ui.print_json(&doc)?;
        return Ok(Code::Success);
    }

    let mut out = Vec::new();
    let day = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    kv(
        &mut out,
        "File",
        &format!("{} ({})", loaded.path.display(), loaded.format.describe()),
    );
    kv(&mut out, "Subject", &facts.subject);
    kv(
        &mut out,
        "Organisation",
        facts.organisation.as_deref().unwrap_or("-"),
    );
    kv(
        &mut out,
        "CVR",
        facts
            .cvr
            .as_deref()
            .unwrap_or("- (no organizationIdentifier)"),
    );
    kv(
        &mut out,
        "Certificate UUID",
        facts.certificate_uuid.as_deref().unwrap_or("-"),
    );
    kv(&mut out, "Kind", kind_words(facts.kind));
    kv(&mut out, "Generation", generation_words(generation));
    kv(&mut out, "Environment", environment_words(environment));
    kv(&mut out, "Issuer", &facts.issuer);
    kv(&mut out, "Valid from", &day(facts.not_before));
    let left = if facts.days_left < 0 {
        format!("EXPIRED {} days ago", -facts.days_left)
    } else if facts.not_before > now {
        "NOT YET VALID".to_owned()
    } else {
        format!("{} days left", facts.days_left)
    };
    kv(
        &mut out,
        "Valid to",
        &format!("{} ({left})", day(facts.not_after)),
    );
    kv(
        &mut out,
        "Key",
        &format!("{} {} bits", facts.key_type, facts.key_bits),
    );
    kv(&mut out, "Signature", &facts.signature_algorithm);
    kv(
        &mut out,
        "Key usage",
        &facts
            .key_usage
            .as_ref()
            .map(|k| k.join(", "))
            .unwrap_or_else(|| "absent".to_owned()),
    );
    kv(
        &mut out,
        "Extended key usage",
        &facts
            .extended_key_usage
            .as_ref()
            .map(|k| k.join(", "))
            .unwrap_or_else(|| "absent (normal for OCES3)".to_owned()),
    );
    kv(
        &mut out,
        "CA",
        if facts.is_ca { "yes (CA:TRUE)" } else { "no" },
    );
    kv(&mut out, "Serial number", &facts.serial_number);
    kv(&mut out, "SHA-1 thumbprint", &facts.sha1_thumbprint);
    kv(&mut out, "SHA-256 fingerprint", &facts.sha256_fingerprint);
    kv(&mut out, "Chain", &chain.describe());
    if chain.verified && chain.needed_outside_intermediate {
        kv(
            &mut out,
            "",
            "(with an issuing CA that this file does not carry)",
        );
    }
    if let Some(p) = &loaded.p12 {
        let prot = &p.protection;
        kv(
            &mut out,
            "Protection",
            &format!("{}: {}", prot.profile(), prot.summary()),
        );
        kv(&mut out, "Readable by", prot.readable_by());
        if prot.needs_legacy_provider() {
            kv(
                &mut out,
                "",
                "needed OpenSSL's legacy provider (old RC2 export)",
            );
        }
        kv(
            &mut out,
            "Friendly name",
            p.friendly_name.as_deref().unwrap_or("-"),
        );
    }
    if loaded.p12.is_some() || loaded.key.is_some() {
        kv(
            &mut out,
            "Private key",
            match key_matches {
                Some(true) => "present, matches the certificate",
                Some(false) => "present, does NOT match the certificate",
                None => "absent",
            },
        );
    }
    let cas = other_facts.iter().filter(|f| f.is_ca).count();
    kv(
        &mut out,
        "Other certificates",
        &format!(
            "{} ({cas} CA certificate{})",
            other_facts.len(),
            if cas == 1 { "" } else { "s" }
        ),
    );
    for f in &other_facts {
        let cn = f.common_name.clone().unwrap_or_else(|| f.subject.clone());
        let what = if f.is_ca { "CA" } else { "leaf" };
        kv(
            &mut out,
            "",
            &format!(
                "- {cn} ({what}, until {}, SHA-1 {})",
                f.not_after.format("%Y-%m-%d"),
                f.sha1_thumbprint
            ),
        );
    }
    ctx.ui.print(&out.join("\n"))?;
    Ok(Code::Success)
}

fn chain_json(chain: &ChainStatus) -> Value {
    json!({
        "status": if chain.verified { "verified" } else { "not_verified" },
        "anchor": chain.anchor,
        "root_subject": chain.root_subject,
        "path": chain.path,
        "problem": chain.problem,
        "needed_outside_intermediate": chain.needed_outside_intermediate,
        "detail": chain.describe(),
    })
}

fn protection_json(p: &Protection) -> Value {
    // The raw scan (bags, containers, MAC) plus what people ask about it.
    let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("profile".into(), json!(p.profile()));
        map.insert("summary".into(), json!(p.summary()));
        map.insert("readable_by".into(), json!(p.readable_by()));
        map.insert(
            "needs_legacy_provider".into(),
            json!(p.needs_legacy_provider()),
        );
        map.insert("key".into(), json!(p.key()));
        map.insert("certificates".into(), json!(p.certificates()));
        map.insert("max_iterations".into(), json!(p.max_iterations()));
    }
    v
}

fn short_cert_json(f: &CertFacts) -> Value {
    json!({
        "subject": f.subject,
        "issuer": f.issuer,
        "is_ca": f.is_ca,
        "not_after": f.not_after,
        "sha1_thumbprint": f.sha1_thumbprint,
        "sha256_fingerprint": f.sha256_fingerprint,
    })
}

fn kind_words(k: cprlink_cert::Kind) -> &'static str {
    match k {
        cprlink_cert::Kind::SystemOrOrganisation => "system/organisation certificate (UI:DK-O)",
        cprlink_cert::Kind::Employee => "employee certificate (UI:DK-E): wrong for a system",
        cprlink_cert::Kind::Unknown => "unknown (not an OCES system or employee certificate)",
    }
}

fn generation_words(g: cprlink_cert::Generation) -> &'static str {
    match g {
        cprlink_cert::Generation::Oces3 => "OCES3",
        cprlink_cert::Generation::Oces2 => "OCES2 (TRUST2408), retired 31 October 2023",
        cprlink_cert::Generation::Unknown => "unknown (not OCES)",
    }
}

fn environment_words(e: Environment) -> &'static str {
    match e {
        Environment::Production => "production",
        Environment::Test => "test (MitID Erhverv test; for Datafordeler Test04)",
        Environment::Unknown => "unknown",
    }
}

// ---------------------------------------------------------------------------------
// export-cer

fn export_cer(a: &CertExportArgs, ctx: &mut Context) -> Result<Code, CliError> {
    refuse_same_file(&a.input, &a.out)?;
    let loaded = open(&a.input, &a.password, ctx)?;
    let leaf = require_leaf(&loaded)?;
    let facts = CertFacts::of(&leaf, Utc::now())?;
    warn_about(&facts, &ctx.ui);
    // Only the certificate is serialised: the key never reaches the output.
    let bytes = match a.encoding {
        CerEncoding::Der => leaf.to_der(),
        CerEncoding::Pem => leaf.to_pem(),
    }
    .map_err(cprlink_cert::Error::from)?;
    let overwrite = if a.force {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    };
    // A certificate is public: 0644, so the browser used for the upload can read it.
    files::write_public(&a.out, &bytes, overwrite)?;
    let encoding = match a.encoding {
        CerEncoding::Der => "der",
        CerEncoding::Pem => "pem",
    };
    if loaded.certificates.len() > 1 && loaded.p12.is_none() {
        ctx.ui.note(&format!(
            "note: {} holds {} certificates; exported the end-entity one",
            a.input.display(),
            loaded.certificates.len()
        ));
    }
    if ctx.ui.json {
        ctx.ui.print_json(&json!({
            "out": a.out.display().to_string(),
            "encoding": encoding,
            "subject": facts.subject,
            "cvr": facts.cvr,
            "not_after": facts.not_after,
            "days_left": facts.days_left,
            "sha1_thumbprint": facts.sha1_thumbprint,
            "sha256_fingerprint": facts.sha256_fingerprint,
        }))?;
    } else {
        let mut out = Vec::new();
        kv(&mut out, "Certificate", &cert_line(&facts));
        kv(&mut out, "SHA-1 thumbprint", &facts.sha1_thumbprint);
        kv(&mut out, "SHA-256 fingerprint", &facts.sha256_fingerprint);
        ctx.ui.print(&out.join("\n"))?;
    }
    let form = match a.encoding {
        CerEncoding::Der => "DER, \"CER format\"",
        CerEncoding::Pem => "PEM, Base-64",
    };
    ctx.ui.note(&format!(
        "wrote {} ({form}, public certificate only, no private key)",
        a.out.display()
    ));
    ctx.ui.note(
        "After uploading it to Datafordeler, check that the portal shows the same thumbprint.",
    );
    Ok(Code::Success)
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
// pack, repack

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

/// Orders the CA certificates from the leaf's issuer upwards; unrelated ones last.
fn order_chain(leaf: &X509Ref, mut certs: Vec<X509>) -> Vec<X509> {
    let mut ordered = Vec::with_capacity(certs.len());
    let mut current = leaf.to_owned();
    while let Some(i) = certs.iter().position(|c| trust::issued_by(&current, c)) {
        let next = certs.remove(i);
        if trust::is_self_signed(&next) {
            ordered.push(next);
            break;
        }
        current = next.clone();
        ordered.push(next);
    }
    ordered.extend(certs);
    ordered
}

fn push_unique(chain: &mut Vec<X509>, leaf: &X509Ref, cert: X509) {
    if !same_certificate(&cert, leaf) && !chain.iter().any(|c| same_certificate(c, &cert)) {
        chain.push(cert);
    }
}

fn add_oces_issuer(chain: &mut Vec<X509>, leaf: &X509Ref) -> Result<bool, CliError> {
    if chain.iter().any(|c| trust::issued_by(leaf, c)) {
        return Ok(false);
    }
    match trust::embedded_issuing_ca_for(leaf) {
        Some(ca) => {
            chain.push(ca);
            Ok(true)
        }
        None => Err(cprlink_cert::Error::IssuingCaNotEmbedded {
            issuer: cprlink_cert::testpki::name_text(leaf.issuer_name()),
        }
        .into()),
    }
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
        add_oces_issuer(&mut chain, &p.leaf)?
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
    let chain = order_chain(&p.leaf, chain);
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
            .unwrap_or_else(|| cprlink_cert::testpki::name_text(c.subject_name()))
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
    Ok(Code::Success)
}

fn pack(a: &CertPackArgs, ctx: &mut Context) -> Result<Code, CliError> {
    for input in std::iter::once(&a.cert)
        .chain(std::iter::once(&a.key))
        .chain(&a.chain)
    {
        refuse_same_file(input, &a.out)?;
    }
    let certs = match cprlink_cert::load(&a.cert, None) {
        Ok(l) => l,
        Err(cprlink_cert::Error::PasswordRequired { path }) => {
            return Err(CliError::usage(format!(
                "--cert {} is password-protected (a .p12?); --cert takes a certificate (PEM or DER)",
                path.display()
            ))
            .with_hint("to give a .p12 new protection or add the chain, use `cprlink cert repack`"));
        }
        Err(e) => return Err(e.into()),
    };
    if certs.certificates.is_empty() {
        return Err(if certs.key.is_some() {
            CliError::from(cprlink_cert::Error::KeyWithoutCertificate {
                path: a.cert.clone(),
            })
            .with_hint("--cert takes the certificate; the key goes to --key")
        } else {
            cprlink_cert::Error::NoCertificate {
                path: a.cert.clone(),
            }
            .into()
        });
    }
    let keyfile = open(&a.key, &a.password, ctx)?;
    let Some(key) = keyfile.key.clone() else {
        return Err(CliError::from(cprlink_cert::Error::NoPrivateKey {
            path: a.key.clone(),
        })
        .with_hint("--key takes the private key (PEM: PKCS#8, RSA, or encrypted PKCS#8)"));
    };
    // The certificate is the one the key belongs to; others in --cert join the chain.
    let leaf = certs
        .certificates
        .iter()
        .find(|c| c.public_key().is_ok_and(|pk| pk.public_eq(&key)))
        .cloned()
        .ok_or_else(|| CliError::from(cprlink_cert::Error::KeyDoesNotMatchCertificate))?;
    let mut chain = Vec::new();
    for c in &certs.certificates {
        push_unique(&mut chain, &leaf, c.clone());
    }
    for path in &a.chain {
        let loaded = cprlink_cert::load(path, None)?;
        if loaded.certificates.is_empty() {
            return Err(cprlink_cert::Error::NoCertificate { path: path.clone() }.into());
        }
        for c in loaded.certificates {
            push_unique(&mut chain, &leaf, c);
        }
    }
    let now = Utc::now();
    for c in &chain {
        if CertFacts::of(c, now).is_ok_and(|f| !f.is_ca) {
            ctx.ui.warn(&format!(
                "{} is not a CA certificate; it goes into the file anyway",
                cprlink_cert::testpki::name_text(c.subject_name())
            ));
        }
    }
    write_p12(
        Packed {
            out: &a.out,
            force: a.force,
            profile: profile_of(a.profile),
            key,
            leaf,
            chain,
            name: a.name.clone(),
            new_password_file: a.new_password_file.as_deref(),
            add_oces_chain: a.add_oces_chain,
        },
        ctx,
    )
}

fn repack(a: &CertRepackArgs, ctx: &mut Context) -> Result<Code, CliError> {
    refuse_same_file(&a.input, &a.out)?;
    let loaded = open(&a.input, &a.password, ctx)?;
    let Some(p12) = loaded.p12.as_ref() else {
        return Err(CliError::usage(format!(
            "{} is a {}, not a .p12",
            a.input.display(),
            loaded.format.describe()
        ))
        .with_hint("to build a .p12 from a certificate and a key, use `cprlink cert pack`"));
    };
    let Some(key) = loaded.key.clone() else {
        return Err(CliError::from(cprlink_cert::Error::NoPrivateKey {
            path: a.input.clone(),
        })
        .with_hint("DPG needs the certificate with its private key: ask for the original MitID Erhverv file"));
    };
    let leaf = require_leaf(&loaded)?;
    let mut chain = Vec::new();
    for c in &loaded.certificates {
        push_unique(&mut chain, &leaf, c.clone());
    }
    write_p12(
        Packed {
            out: &a.out,
            force: a.force,
            profile: profile_of(a.profile),
            key,
            leaf,
            chain,
            name: a.name.clone().or_else(|| p12.friendly_name.clone()),
            new_password_file: a.new_password_file.as_deref(),
            add_oces_chain: a.add_oces_chain,
        },
        ctx,
    )
}

// ---------------------------------------------------------------------------------
// verify

fn verify_cmd(a: &CertVerifyArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let mut opts = VerifyOptions::new();
    if let Some(cvr) = &a.cvr {
        let cvr = cvr.trim();
        if cvr.len() != 8 || !cvr.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CliError::usage(format!(
                "--cvr {cvr:?} is not a CVR number (8 digits)"
            )));
        }
        opts.expected_cvr = Some(cvr.to_owned());
    }
    opts.environment = a.environment.map(|e| match e {
        TargetEnvironment::Production => Environment::Production,
        TargetEnvironment::Test => Environment::Test,
    });
    opts.warn_days = a.warn_days;
    opts.extra_trust = read_trust(&a.trust)?;
    opts.online = a.online;
    if let Some(cer) = &a.cer {
        let loaded = cprlink_cert::load(cer, None).map_err(|e| match e {
            cprlink_cert::Error::PasswordRequired { .. } => CliError::usage(format!(
                "--cer {} is password-protected; --cer takes the .cer uploaded to Datafordeler",
                cer.display()
            )),
            other => other.into(),
        })?;
        opts.uploaded_cer = Some(require_leaf(&loaded)?);
    }

    let loaded = match try_open(&a.file, &a.password, ctx) {
        Ok(l) => l,
        Err(OpenError::File(e)) => {
            if let Some(report) = Report::for_open_error(&e) {
                render_report(&report, &ctx.ui)?;
            }
            let about_format = matches!(
                e,
                cprlink_cert::Error::NotPkcs12 { .. }
                    | cprlink_cert::Error::UnrecognizedFormat { .. }
            );
            let mut err = CliError::from(e);
            if about_format {
                err.hints = vec![
                    "DPG needs the binary .p12/.pfx from MitID Erhverv (or one made by \
                     `cprlink cert pack`)"
                        .to_owned(),
                ];
            }
            return Err(err);
        }
        Err(OpenError::Password(e)) => return Err(e),
    };
    let report = verify::verify(&loaded, &opts);
    render_report(&report, &ctx.ui)?;
    if loaded.format != FileFormat::Pkcs12 {
        return Err(CliError::usage(format!(
            "{} is a {}, not a PKCS#12 file",
            a.file.display(),
            loaded.format.describe()
        ))
        .with_hint("DPG needs the .p12/.pfx with the certificate and its private key")
        .with_hint(
            "build one: `cprlink cert pack --cert CERT --key KEY --add-oces-chain --out FILE.p12`",
        ));
    }
    Ok(match report.verdict {
        Verdict::Fail => Code::No,
        Verdict::Warn | Verdict::Pass => Code::Success,
    })
}

fn render_report(report: &Report, ui: &Ui) -> Result<(), CliError> {
    if ui.json {
        ui.print_json(report)?;
        return Ok(());
    }
    const ID_W: usize = 20;
    let indent = 4 + 2 + ID_W;
    let mut out = Vec::new();
    for check in &report.checks {
        let head = format!(
            "{}  {:<ID_W$}",
            ui.verdict_word(check.status.as_str()),
            check.id
        );
        out.extend(hanging(&head, indent, &check.detail));
    }
    let failed: Vec<&str> = report.failures().map(|c| c.id).collect();
    let warned: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == cprlink_cert::CheckStatus::Warn)
        .map(|c| c.id)
        .collect();
    let summary = match report.verdict {
        Verdict::Pass => "verdict: pass (every check passed)".to_owned(),
        Verdict::Warn => format!(
            "verdict: warn (no check failed; warnings: {})",
            warned.join(", ")
        ),
        Verdict::Fail => format!("verdict: fail (failed: {})", failed.join(", ")),
    };
    out.push(String::new());
    out.extend(hanging("", 0, &summary));
    ui.print(&out.join("\n"))?;
    Ok(())
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
