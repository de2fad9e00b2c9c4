//! `cprlink cert repack IN.p12 --out OUT.p12`: the same contents with new protection
//! (or the issuing CA added); the writing is shared with `pack` ([`super::write_p12`]).

use cprlink_cert::chain;

use super::{Packed, open, profile_of, refuse_same_file, require_leaf, write_p12};
use crate::args::CertRepackArgs;
use crate::commands::Context;
use crate::exit::{CliError, Code};

pub(super) fn run(a: &CertRepackArgs, ctx: &mut Context) -> Result<Code, CliError> {
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
        chain::push_unique(&mut chain, &leaf, c.clone());
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
