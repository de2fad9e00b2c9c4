//! `cprlink cert verify FILE.p12...`: the DPG handover checklist, one line per check and
//! a verdict, or the report as JSON; exit 0 pass/warn, 1 fail, 2 unreadable, 3 wrong
//! password.
//!
//! With several files (DPG staff receive many) each file gets its checklist, then a
//! summary table; a file that cannot be opened is a row of its own and never stops the
//! others. The exit code is the largest of the files' codes (3 over 2 over 1 over 0), and
//! the JSON document becomes `{"files": [...], "verdict": worst}`. One file keeps the
//! single report, byte for byte. Passwords are decided once for the run ([`Passwords`]):
//! the flags (stdin can be read only once), `--password-dir`, or the config and a prompt.

use std::path::{Path, PathBuf};

use cprlink_cert::openssl::x509::X509;
use cprlink_cert::verify::{self, Check, CheckStatus, Report, Verdict, VerifyOptions};
use cprlink_cert::{Environment, FileFormat, Loaded};
use secrecy::ExposeSecret;
use serde::Serialize;

use super::{read_trust, require_leaf, try_open};
use crate::args::{CertVerifyArgs, PasswordArgs, TargetEnvironment};
use crate::commands::Context;
use crate::exit::{CliError, Code};
use crate::output::{Ui, WIDTH, hanging, print_error};
use crate::secrets::{self, OpenError, Secret};

pub(super) fn run(a: &CertVerifyArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let mut opts = options(a)?;
    let passwords = Passwords::from_args(a)?;
    if let Some(old) = &a.renewal_of {
        opts.renewal_of = Some(open_old(old, &passwords, ctx)?);
    }
    match a.files.as_slice() {
        [file] => single(file, &passwords, &opts, ctx),
        files => batch(files, &passwords, &opts, ctx),
    }
}

/// The options every file is checked with; a bad flag stops the run before any file.
fn options(a: &CertVerifyArgs) -> Result<VerifyOptions, CliError> {
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
    Ok(opts)
}

// ---------------------------------------------------------------------------------
// Passwords

/// Where the files' passwords come from, decided once for the whole run.
enum Passwords {
    /// From `--password-file`, `--password-env` or `--password-stdin`, read once.
    Given(Secret),
    /// `DIR/NAME.password` beside each file's name.
    Dir(PathBuf),
    /// None given: the config's source for the configured .p12, else a hidden prompt on
    /// a terminal (per file).
    Ask,
}

impl Passwords {
    fn from_args(a: &CertVerifyArgs) -> Result<Self, CliError> {
        if let Some(dir) = &a.password_dir {
            if !dir.is_dir() {
                return Err(CliError::usage(format!(
                    "--password-dir {} is not a directory",
                    dir.display()
                ))
                .with_hint(
                    "pass the directory that holds NAME.p12.password beside each NAME.p12",
                ));
            }
            return Ok(Passwords::Dir(dir.clone()));
        }
        Ok(match secrets::from_flags(&a.password)? {
            Some(secret) => Passwords::Given(secret),
            None => Passwords::Ask,
        })
    }

    /// Opens `path` with its password.
    fn open(&self, path: &Path, ctx: &mut Context) -> Result<Loaded, OpenError> {
        match self {
            Passwords::Given(secret) => {
                cprlink_cert::load(path, Some(secret.expose_secret())).map_err(OpenError::File)
            }
            Passwords::Ask => try_open(path, &PasswordArgs::default(), ctx),
            Passwords::Dir(dir) => {
                let pw_path = password_file_in(dir, path);
                if std::fs::symlink_metadata(&pw_path).is_ok() {
                    let secret =
                        secrets::read_password_file(&pw_path).map_err(OpenError::Password)?;
                    return cprlink_cert::load(path, Some(secret.expose_secret()))
                        .map_err(OpenError::File);
                }
                // A certificate file needs no password; a .p12 without one is named.
                match cprlink_cert::load(path, None) {
                    Err(cprlink_cert::Error::PasswordRequired { .. }) => Err(OpenError::Password(
                        CliError::usage(format!(
                            "no password for {}: {} does not exist",
                            path.display(),
                            pw_path.display()
                        ))
                        .with_hint(format!(
                            "put the password of {} on the first line of {} (mode 0600)",
                            path.display(),
                            pw_path.display()
                        )),
                    )),
                    other => other.map_err(OpenError::File),
                }
            }
        }
    }
}

/// `DIR/NAME.password` for `DIR` and `.../NAME`.
fn password_file_in(dir: &Path, file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or(file.as_os_str()).to_owned();
    name.push(".password");
    dir.join(name)
}

/// The certificate being replaced, from `--renewal-of OLD`.
fn open_old(old: &Path, passwords: &Passwords, ctx: &mut Context) -> Result<X509, CliError> {
    let hint = "--renewal-of takes the certificate being replaced: its .cer or .pem (no \
                password needed), or its .p12 (with --password-dir, DIR/NAME.password)";
    let loaded = passwords
        .open(old, ctx)
        .map_err(|e| CliError::from(e).with_hint(hint))?;
    require_leaf(&loaded).map_err(|e| e.with_hint(hint))
}

// ---------------------------------------------------------------------------------
// Checking one file

/// What became of one file.
struct Outcome {
    /// The checklist: `None` when the file could not be opened far enough for one.
    report: Option<Report>,
    /// Why the file could not be checked (exit 2 or 3).
    error: Option<CliError>,
    /// The same in a few words, for the summary table.
    reason: Option<&'static str>,
}

impl Outcome {
    fn verdict(&self) -> Verdict {
        match (&self.error, &self.report) {
            (None, Some(r)) => r.verdict,
            _ => Verdict::Fail,
        }
    }

    fn code(&self) -> Code {
        match &self.error {
            Some(e) => e.code,
            None if self.verdict() == Verdict::Fail => Code::No,
            None => Code::Success,
        }
    }
}

fn check_file(
    path: &Path,
    passwords: &Passwords,
    opts: &VerifyOptions,
    ctx: &mut Context,
) -> Outcome {
    let loaded = match passwords.open(path, ctx) {
        Ok(l) => l,
        Err(OpenError::File(e)) => {
            use cprlink_cert::Error as E;
            let report = Report::for_open_error(&e);
            let reason = match &e {
                E::WrongPassword { .. } => "wrong password",
                E::Read { .. } => "cannot read the file",
                E::PasswordRequired { .. } => "no password given",
                E::LegacyEncryptionUnavailable { .. } => "RC2, no legacy provider",
                E::AbsurdIterationCount { .. } => "refused: hostile file",
                _ => "not a readable PKCS#12 file",
            };
            let about_format = matches!(e, E::NotPkcs12 { .. } | E::UnrecognizedFormat { .. });
            let mut err = CliError::from(e);
            if about_format {
                err.hints = vec![
                    "DPG needs the binary .p12/.pfx from MitID Erhverv (or one made by \
                     `cprlink cert pack`)"
                        .to_owned(),
                ];
            }
            return Outcome {
                report,
                error: Some(err),
                reason: Some(reason),
            };
        }
        Err(OpenError::Password(e)) => {
            return Outcome {
                report: None,
                error: Some(e),
                reason: Some("no password"),
            };
        }
    };
    let report = verify::verify(&loaded, opts);
    if loaded.format != FileFormat::Pkcs12 {
        let err = CliError::usage(format!(
            "{} is a {}, not a PKCS#12 file",
            path.display(),
            loaded.format.describe()
        ))
        .with_hint("DPG needs the .p12/.pfx with the certificate and its private key")
        .with_hint(
            "build one: `cprlink cert pack --cert CERT --key KEY --add-oces-chain --out FILE.p12`",
        );
        return Outcome {
            report: Some(report),
            error: Some(err),
            reason: Some("not a PKCS#12 file"),
        };
    }
    Outcome {
        report: Some(report),
        error: None,
        reason: None,
    }
}

/// One file: the report as it always was, then the error (if any) for `main` to print.
fn single(
    file: &Path,
    passwords: &Passwords,
    opts: &VerifyOptions,
    ctx: &mut Context,
) -> Result<Code, CliError> {
    let outcome = check_file(file, passwords, opts, ctx);
    if let Some(report) = &outcome.report {
        if ctx.ui.json {
            ctx.ui.print_json(report)?;
        } else {
            ctx.ui.print(&checklist(report, &ctx.ui).join("\n"))?;
        }
    }
    match outcome.error {
        Some(err) => Err(err),
        None => Ok(outcome.code()),
    }
}

// ---------------------------------------------------------------------------------
// Several files

#[derive(Serialize)]
struct BatchJson<'a> {
    files: Vec<FileJson<'a>>,
    verdict: Verdict,
}

#[derive(Serialize)]
struct FileJson<'a> {
    file: String,
    verdict: Verdict,
    checks: &'a [Check],
    /// Why the file could not be checked; `null` when it was.
    error: Option<&'a str>,
}

fn batch(
    files: &[PathBuf],
    passwords: &Passwords,
    opts: &VerifyOptions,
    ctx: &mut Context,
) -> Result<Code, CliError> {
    let mut outcomes = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let outcome = check_file(file, passwords, opts, ctx);
        if outcome
            .error
            .as_ref()
            .is_some_and(|e| e.code == Code::Interrupted)
        {
            return Err(CliError::interrupted());
        }
        if !ctx.ui.json {
            let mut lines = vec![format!("==> {} <==", file.display())];
            match &outcome.report {
                Some(report) => lines.extend(checklist(report, &ctx.ui)),
                None => {
                    let why = outcome.error.as_ref().map_or("", |e| e.message.as_str());
                    lines.extend(hanging("not checked: ", 13, why));
                }
            }
            let mut text = lines.join("\n");
            text.push('\n');
            if i + 1 < files.len() {
                // A blank line before the next file's heading.
                text.push('\n');
            }
            ctx.ui.print(&text)?;
        }
        if let Some(err) = &outcome.error {
            print_error(&ctx.ui, err);
        }
        outcomes.push(outcome);
    }
    let worst = outcomes
        .iter()
        .map(Outcome::verdict)
        .max_by_key(|v| verdict_rank(*v))
        .unwrap_or(Verdict::Pass);
    if ctx.ui.json {
        let doc = BatchJson {
            files: files
                .iter()
                .zip(&outcomes)
                .map(|(file, o)| FileJson {
                    file: file.display().to_string(),
                    verdict: o.verdict(),
                    checks: o.report.as_ref().map_or(&[], |r| r.checks.as_slice()),
                    error: o.error.as_ref().map(|e| e.message.as_str()),
                })
                .collect(),
            verdict: worst,
        };
        ctx.ui.print_json(&doc)?;
    } else {
        let mut out = vec![String::new()];
        out.extend(summary_table(files, &outcomes, &ctx.ui));
        let count = |v: Verdict| outcomes.iter().filter(|o| o.verdict() == v).count();
        out.push(String::new());
        out.push(format!(
            "verdict: {} ({} files: {} pass, {} warn, {} fail)",
            worst.as_str(),
            files.len(),
            count(Verdict::Pass),
            count(Verdict::Warn),
            count(Verdict::Fail)
        ));
        ctx.ui.print(&out.join("\n"))?;
    }
    // The worst file decides: 3 (wrong password) over 2 (unreadable) over 1 (a check
    // failed) over 0.
    Ok(outcomes
        .iter()
        .map(Outcome::code)
        .max_by_key(|c| c.as_i32())
        .unwrap_or(Code::Success))
}

fn verdict_rank(v: Verdict) -> u8 {
    match v {
        Verdict::Pass => 0,
        Verdict::Warn => 1,
        Verdict::Fail => 2,
    }
}

/// FILE, ORGANISATION, CVR, EXPIRES, VERDICT: one row per file, within [`WIDTH`].
fn summary_table(files: &[PathBuf], outcomes: &[Outcome], ui: &Ui) -> Vec<String> {
    struct Row {
        file: String,
        organisation: String,
        cvr: String,
        expires: String,
        verdict: Verdict,
        why: String,
    }
    let rows: Vec<Row> = files
        .iter()
        .zip(outcomes)
        .map(|(file, o)| {
            let facts = o.report.as_ref().and_then(|r| r.leaf.as_ref());
            let why = match (o.reason, &o.report) {
                (Some(reason), _) => reason.to_owned(),
                (None, Some(r)) => {
                    let status = match r.verdict {
                        Verdict::Fail => CheckStatus::Fail,
                        _ => CheckStatus::Warn,
                    };
                    let ids: Vec<&str> = r
                        .checks
                        .iter()
                        .filter(|c| c.status == status)
                        .map(|c| c.id.as_str())
                        .collect();
                    ids.join(", ")
                }
                (None, None) => String::new(),
            };
            Row {
                file: file.display().to_string(),
                organisation: facts
                    .and_then(|f| f.organisation.clone())
                    .unwrap_or_else(|| "-".to_owned()),
                cvr: facts
                    .and_then(|f| f.cvr.clone())
                    .unwrap_or_else(|| "-".to_owned()),
                expires: facts.map_or_else(
                    || "-".to_owned(),
                    |f| f.not_after.format("%Y-%m-%d").to_string(),
                ),
                verdict: o.verdict(),
                why,
            }
        })
        .collect();
    let width = |header: &str, cap: usize, cell: &dyn Fn(&Row) -> usize| {
        rows.iter()
            .map(cell)
            .max()
            .unwrap_or(0)
            .clamp(header.len(), cap)
    };
    let file_w = width("FILE", 30, &|r| r.file.chars().count());
    let org_w = width("ORGANISATION", 24, &|r| r.organisation.chars().count());
    let cvr_w = width("CVR", 8, &|r| r.cvr.chars().count());
    let exp_w = "YYYY-MM-DD".len();
    let verdict_w = WIDTH - (file_w + org_w + cvr_w + exp_w + 4 * 2);
    let mut out = vec![format!(
        "{:<file_w$}  {:<org_w$}  {:<cvr_w$}  {:<exp_w$}  VERDICT",
        "FILE", "ORGANISATION", "CVR", "EXPIRES"
    )];
    for r in &rows {
        let word = r.verdict.as_str();
        let rest = if r.why.is_empty() {
            String::new()
        } else {
            fit_end(&format!(" ({})", r.why), verdict_w - word.len())
        };
        out.push(format!(
            "{:<file_w$}  {:<org_w$}  {:<cvr_w$}  {:<exp_w$}  {}{rest}",
            fit_start(&r.file, file_w),
            fit_end(&r.organisation, org_w),
            fit_end(&r.cvr, cvr_w),
            r.expires,
            ui.verdict_word(word),
        ));
    }
    out
}

/// `text` within `width` columns, keeping its start (`Testkommune med...`).
fn fit_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let kept: String = text.chars().take(width.saturating_sub(3)).collect();
    format!("{kept}...")
}

/// `text` within `width` columns, keeping its end (`...handover/kommune.p12`): the file
/// name is what tells the rows apart.
fn fit_start(text: &str, width: usize) -> String {
    let len = text.chars().count();
    if len <= width {
        return text.to_owned();
    }
    let kept: String = text.chars().skip(len - width.saturating_sub(3)).collect();
    format!("...{kept}")
}

// ---------------------------------------------------------------------------------
// The checklist for people

/// One line per check (status, id, reason wrapped within [`WIDTH`]), then the verdict.
fn checklist(report: &Report, ui: &Ui) -> Vec<String> {
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
    let failed: Vec<&str> = report.failures().map(|c| c.id.as_str()).collect();
    let warned: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Warn)
        .map(|c| c.id.as_str())
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_the_end_of_a_path_and_the_start_of_a_name() {
        assert_eq!(fit_start("a.p12", 10), "a.p12");
        assert_eq!(
            fit_start("/handover/2026/kommune.p12", 14),
            "...kommune.p12"
        );
        assert_eq!(
            fit_end("Testkommune med et langt navn", 14),
            "Testkommune..."
        );
        assert_eq!(fit_end("Århus", 5), "Århus");
        assert_eq!(
            password_file_in(Path::new("pw"), Path::new("in/a.p12")),
            PathBuf::from("pw/a.p12.password")
        );
    }
}
