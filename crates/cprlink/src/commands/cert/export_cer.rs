//! `cprlink cert export-cer INPUT --out FILE.cer`: the public certificate only, DER
//! ("CER format") or PEM, with both fingerprints to compare after the upload.

use chrono::Utc;
use cprlink_cert::facts::CertFacts;
use cprlink_cert::files::{self, Overwrite};
use serde_json::json;

use super::{cert_line, kv, open, refuse_same_file, require_leaf, warn_about};
use crate::args::{CerEncoding, CertExportArgs};
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub(super) fn run(a: &CertExportArgs, ctx: &mut Context) -> Result<Code, CliError> {
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
