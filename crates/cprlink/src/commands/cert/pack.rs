//! `cprlink cert pack --cert FILE --key FILE --out FILE.p12`: the handover .p12 from
//! separate certificate and key files; the writing is shared with `repack` ([`super::write_p12`]).

use chrono::Utc;
use cprlink_cert::chain;
use cprlink_cert::facts::CertFacts;

use super::{Packed, open, profile_of, refuse_same_file, write_p12};
use crate::args::CertPackArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub(super) fn run(a: &CertPackArgs, ctx: &mut Context) -> Result<Code, CliError> {
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
        chain::push_unique(&mut chain, &leaf, c.clone());
    }
    for path in &a.chain {
        let loaded = cprlink_cert::load(path, None)?;
        if loaded.certificates.is_empty() {
            return Err(cprlink_cert::Error::NoCertificate { path: path.clone() }.into());
        }
        for c in loaded.certificates {
            chain::push_unique(&mut chain, &leaf, c);
        }
    }
    let now = Utc::now();
    for c in &chain {
        if CertFacts::of(c, now).is_ok_and(|f| !f.is_ca) {
            ctx.ui.warn(&format!(
                "{} is not a CA certificate; it goes into the file anyway",
                cprlink_cert::facts::name_text(c.subject_name())
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
