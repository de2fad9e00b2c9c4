//! Where passwords come from: `--password-file`, `--password-env`, `--password-stdin`,
//! the config's `password_file` / `password_env`, or a hidden prompt. Never a flag value.
//!
//! Owns reading them and opening certificate files with them, asking only when a file
//! turns out to need a password. Secrets never reach a message or a log.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use cprlink_cert::{Loaded, load};

use crate::args::PasswordArgs;
use crate::exit::CliError;
use crate::output::Ui;
use crate::prompt::Prompter;

pub(crate) use secrecy::ExposeSecret;

/// A password or token: zeroized when dropped, `[REDACTED]` in `Debug`; read it with
/// [`ExposeSecret::expose_secret`] where it is used, never into a message.
pub(crate) type Secret = secrecy::SecretString;

/// The flags that answer a password prompt, for messages.
pub(crate) const PASSWORD_FLAGS: &str =
    "--password-file FILE, --password-env VAR or --password-stdin";

/// The first line of `path`, without its line ending.
pub(crate) fn read_secret_file(path: &Path) -> Result<Secret, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the password file {}: {e}",
            path.display()
        ))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        CliError::usage(format!(
            "the password file {} is not UTF-8 text",
            path.display()
        ))
    })?;
    let line = text.split('\n').next().unwrap_or("");
    Ok(Secret::from(line.strip_suffix('\r').unwrap_or(line)))
}

/// The value of the environment variable `var`.
pub(crate) fn read_secret_env(var: &str) -> Result<Secret, CliError> {
    match std::env::var(var) {
        Ok(v) => Ok(Secret::from(v)),
        Err(std::env::VarError::NotPresent) => Err(CliError::usage(format!(
            "the environment variable {var} (named for the password) is not set"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(CliError::usage(format!(
            "the environment variable {var} is not valid UTF-8"
        ))),
    }
}

/// The first line of stdin.
pub(crate) fn read_secret_stdin() -> Result<Secret, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::usage(format!("cannot read the password from stdin: {e}")))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(Secret::from(line.strip_suffix('\r').unwrap_or(line)))
}

/// A password from FILE: its first line, which must not be empty.
pub(crate) fn read_password_file(path: &Path) -> Result<Secret, CliError> {
    non_empty(read_secret_file(path)?, || {
        CliError::usage(format!("the password file {} is empty", path.display()))
            .with_hint("put the password on its first line (and nothing before it)")
    })
}

/// An empty password from a file, a variable or stdin is a mistake (a file saved empty,
/// a variable set to nothing): refused before anything is tried, because trying it
/// would report a wrong password (exit 3) and send the user after the wrong thing. Only
/// the hidden prompt takes an empty answer, for a file protected without a password.
fn non_empty(secret: Secret, refusal: impl FnOnce() -> CliError) -> Result<Secret, CliError> {
    if secret.expose_secret().is_empty() {
        return Err(refusal());
    }
    Ok(secret)
}

fn empty_env(var: &str) -> CliError {
    CliError::usage(format!(
        "the environment variable {var} (named for the password) is empty"
    ))
    .with_hint(format!(
        "set {var} to the password, or pass --password-file FILE"
    ))
}

/// The password given by flags, if any.
pub(crate) fn from_flags(args: &PasswordArgs) -> Result<Option<Secret>, CliError> {
    if let Some(path) = &args.password_file {
        return read_password_file(path).map(Some);
    }
    if let Some(var) = &args.password_env {
        return non_empty(read_secret_env(var)?, || empty_env(var)).map(Some);
    }
    if args.password_stdin {
        return non_empty(read_secret_stdin()?, || {
            CliError::usage("the password on stdin is empty")
                .with_hint("write the password as the first line of stdin")
        })
        .map(Some);
    }
    Ok(None)
}

/// The config's `[certificate] password_file` / `password_env`, as a fallback.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigPassword {
    pub file: Option<PathBuf>,
    pub env: Option<String>,
}

impl ConfigPassword {
    /// The password from the config, if it names a source that exists.
    /// A named file that cannot be read is an error; an unset variable is not
    /// (the default `password_env` is only a suggestion).
    pub(crate) fn resolve(&self) -> Result<Option<Secret>, CliError> {
        if let Some(file) = &self.file {
            return read_password_file(file).map(Some);
        }
        if let Some(var) = &self.env
            && let Ok(v) = std::env::var(var)
        {
            return non_empty(Secret::from(v), || empty_env(var)).map(Some);
        }
        Ok(None)
    }
}

/// Opens a certificate-bearing file. Uses the password from the flags (or `fallback`)
/// when given; otherwise asks for one, hidden, only if the file needs it, and asks
/// again after a wrong one (three tries). Returns the password that opened it.
pub(crate) fn open_certificate_file(
    path: &Path,
    args: &PasswordArgs,
    fallback: Option<&ConfigPassword>,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<(Loaded, Option<Secret>), CliError> {
    try_open_certificate_file(path, args, fallback, ui, prompter).map_err(CliError::from)
}

/// Why [`try_open_certificate_file`] failed: the file itself (the library's error, kept
/// so that `cert verify` can report it as a check), or the password sources.
#[derive(Debug)]
pub(crate) enum OpenError {
    File(cprlink_cert::Error),
    Password(CliError),
}

impl From<OpenError> for CliError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::File(e) => e.into(),
            OpenError::Password(e) => e,
        }
    }
}

/// [`open_certificate_file`], keeping the library's error.
pub(crate) fn try_open_certificate_file(
    path: &Path,
    args: &PasswordArgs,
    fallback: Option<&ConfigPassword>,
    ui: &Ui,
    prompter: &mut dyn Prompter,
) -> Result<(Loaded, Option<Secret>), OpenError> {
    let mut given = from_flags(args).map_err(OpenError::Password)?;
    if given.is_none()
        && let Some(fb) = fallback
    {
        given = fb.resolve().map_err(OpenError::Password)?;
    }
    if let Some(secret) = given {
        let loaded = load(path, Some(secret.expose_secret())).map_err(OpenError::File)?;
        return Ok((loaded, Some(secret)));
    }
    match load(path, None) {
        Ok(loaded) => return Ok((loaded, None)),
        Err(cprlink_cert::Error::PasswordRequired { .. }) => {}
        Err(e) => return Err(OpenError::File(e)),
    }
    let prompt = format!("Password for {}", path.display());
    for attempt in 1..=3 {
        let answer = prompter
            .password(&prompt, PASSWORD_FLAGS)
            .map_err(|e| OpenError::Password(e.into()))?;
        let secret = Secret::from(answer);
        match load(path, Some(secret.expose_secret())) {
            Ok(loaded) => return Ok((loaded, Some(secret))),
            Err(cprlink_cert::Error::WrongPassword { .. }) if attempt < 3 => {
                ui.warn("wrong password, try again");
            }
            Err(e) => return Err(OpenError::File(e)),
        }
    }
    Err(OpenError::File(cprlink_cert::Error::WrongPassword {
        path: path.to_path_buf(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_first_line_without_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\r\nignored\n").unwrap();
        assert_eq!(read_secret_file(&p).unwrap().expose_secret(), "s3cret");
        let shown = format!("{:?}", read_secret_file(&p).unwrap());
        assert!(
            shown.contains("REDACTED") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
