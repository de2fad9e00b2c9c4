//! `cprlink cert inspect FILE`: every fact of a certificate-bearing file, for people
//! or as JSON (docs/certificates.md lists the fields).

use chrono::Utc;
use cprlink_cert::Environment;
use cprlink_cert::facts::CertFacts;
use cprlink_cert::protection::Protection;
use cprlink_cert::trust::{self, ChainStatus};
use cprlink_cert::verify;
use serde_json::{Value, json};

use super::{kv, open, read_trust, require_leaf};
use crate::args::CertInspectArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub(super) fn run(a: &CertInspectArgs, ctx: &mut Context) -> Result<Code, CliError> {
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
