//! The one place where errors become exit codes and messages.
//!
//! Exit codes (docs/exit-codes.md): 0 success, 1 the answer is "no", 2 usage or input,
//! 3 authentication/authorisation, 4 service unavailable, 5 internal error (a bug in
//! cprlink), 130 interrupted. Library errors are mapped here, with hints that say what
//! to do next, and their cause chain is kept for `-v`. Messages never carry a secret or
//! an unmasked CPR number: the libraries' errors are built that way.

use std::fmt;

/// A process exit code of the SPEC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Success = 0,
    /// The command ran but the answer is "no".
    No = 1,
    Usage = 2,
    Auth = 3,
    Unavailable = 4,
    /// A bug in cprlink, never the user's input: the message asks for a report.
    Internal = 5,
    Interrupted = 130,
}

impl Code {
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// An error for the user: a message, hints, the causes behind it, and the exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: Code,
    pub message: String,
    pub hints: Vec<String>,
    /// The error's sources, outermost first, shown with `-v` ("caused by: ...").
    pub causes: Vec<String>,
}

impl CliError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            hints: Vec::new(),
            causes: Vec::new(),
        }
    }

    /// Exit 5: a bug in cprlink (an invariant broke, or a library failed where the
    /// user's input cannot be the reason). Never for bad input.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, format!("internal error: {}", message.into())).with_hint(
            "this is a bug in cprlink, not a problem with your input: please report it with the command you ran (run it again with -v for the details)",
        )
    }

    /// Exit 2: bad flag, invalid input, unreadable file, bad config.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Code::Usage, message)
    }

    /// Exit 3.
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(Code::Auth, message)
    }

    /// Exit 4.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, message)
    }

    pub fn interrupted() -> Self {
        Self::new(Code::Interrupted, "interrupted")
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Keeps the sources of `error` (not its own message, which is ours already).
    pub fn with_causes(mut self, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut cur = error.source();
        while let Some(e) = cur {
            let text = e.to_string();
            if !text.is_empty() && !self.message.contains(&text) {
                self.causes.push(text);
            }
            cur = e.source();
        }
        self
    }
}

/// Maps a library error with `map` and keeps its cause chain.
fn mapped<E: std::error::Error + 'static>(e: E, map: impl FnOnce(E) -> CliError) -> CliError {
    let causes = CliError::new(Code::Success, "").with_causes(&e).causes;
    let mut err = map(e);
    err.causes.extend(
        causes
            .into_iter()
            .filter(|c| !err.message.contains(c.as_str())),
    );
    err
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::Interrupted {
            return CliError::interrupted();
        }
        if is_broken_pipe(&e) {
            // `cprlink ... | head`: the reader has what it wanted.
            return CliError::new(Code::Success, "");
        }
        CliError::usage(e.to_string())
    }
}

impl From<crate::prompt::PromptError> for CliError {
    fn from(e: crate::prompt::PromptError) -> Self {
        use crate::prompt::PromptError;
        match e {
            PromptError::Interrupted => CliError::interrupted(),
            PromptError::Missing { what, flag } => {
                CliError::usage(format!("{what} is needed, and prompting is off"))
                    .with_hint(format!("pass {flag}"))
            }
            PromptError::Io(e) => CliError::usage(format!("cannot read from the terminal: {e}")),
        }
    }
}

// ---- cprlink-cert ---------------------------------------------------------------

impl From<cprlink_cert::Error> for CliError {
    fn from(e: cprlink_cert::Error) -> Self {
        mapped(e, cert_error)
    }
}

fn cert_error(e: cprlink_cert::Error) -> CliError {
    use cprlink_cert::Error as E;
    let message = e.to_string();
    match e {
        E::WrongPassword { .. } => CliError::auth(message).with_hint(
            "the password is case-sensitive; MitID Erhverv shows it once when the file is made",
        ),
        E::PasswordRequired { .. } => CliError::usage(message)
            .with_hint("pass --password-file FILE, --password-env VAR or --password-stdin"),
        E::Base64Pkcs12 { .. } => CliError::usage(message),
        E::LegacyEncryptionUnavailable { .. } => CliError::usage(message).with_hint(
            "install OpenSSL 3's legacy provider, or re-export the file with AES or 3DES",
        ),
        E::KeyDoesNotMatchCertificate => CliError::usage(message)
            .with_hint("use the private key that was made together with this certificate"),
        E::AlreadyExists { .. } => {
            CliError::usage(message).with_hint("pass --force to replace it")
        }
        E::AbsurdIterationCount { .. } => CliError::usage(message).with_hint(
            "do not use this file; ask for a fresh export from MitID Erhverv",
        ),
        E::KeyWithoutCertificate { .. } => CliError::usage(message).with_hint(
            "give the certificate (.cer/.crt/.pem) or the .p12; `cprlink cert pack` joins cert and key",
        ),
        E::NoPrivateKey { .. } => CliError::usage(message)
            .with_hint("DPG needs the certificate together with its private key (.p12)"),
        E::NotPkcs12 { .. } | E::EmptyFile { .. } | E::TooLarge { .. } => {
            CliError::usage(message)
                .with_hint("check that this is the file you meant (a .p12/.pfx is binary)")
        }
        E::IssuingCaNotEmbedded { .. } => CliError::usage(message).with_hint(
            "pass the issuing CA's certificate with --chain FILE (ca1.gov.dk publishes them)",
        ),
        _ => CliError::usage(message),
    }
}

// ---- cprlink-onboard --------------------------------------------------------------

impl From<cprlink_onboard::Error> for CliError {
    fn from(e: cprlink_onboard::Error) -> Self {
        mapped(e, onboard_error)
    }
}

fn onboard_error(e: cprlink_onboard::Error) -> CliError {
    use cprlink_onboard::Error as E;
    // Every onboarding refusal is an input error (exit 2): the value, the file or the
    // order of steps is wrong, and nothing was changed. "Blocked" (exit 1) is a
    // verdict of `onboard status`, not an error.
    let message = e.to_string();
    let err = CliError::usage(message);
    match e {
        E::StateMissing { .. } => err.with_hint(
            "start a case with `cprlink onboard init --authority NAME --cvr CVR`, or pass --state FILE",
        ),
        E::StateExists { .. } => err.with_hint(
            "look at it with `cprlink onboard status`, or pass --state FILE for another case",
        ),
        E::Corrupt { .. } => err.with_hint(
            "cprlink will not overwrite it: fix the file by hand (it is TOML) or restore a backup",
        ),
        E::NewerVersion { .. } => {
            err.with_hint("use the cprlink that wrote it (or a newer one); this file was left as it is")
        }
        E::Locked { .. } => err.with_hint(
            "another `cprlink onboard` is working on this case; finish or stop it (Ctrl-C), then try again",
        ),
        E::UnknownStep { .. } | E::EarlierStepsNotDone { .. } => {
            err.with_hint("see the steps and what is open with `cprlink onboard status`")
        }
        E::UnknownField { step, .. } | E::NothingToRecord { step, .. } => {
            err.with_hint(format!("see what {step} needs with `cprlink onboard next --no-input`"))
        }
        E::MissingFacts { step, missing } => err.with_hint(format!(
            "record them: `cprlink onboard record {step} {} --done`; nothing was changed",
            missing.join(" ")
        )),
        E::InvalidValue { .. } => err.with_hint("nothing was recorded; run the command again with a corrected value"),
        E::CertificateRefused { .. } => err.with_hint(
            "see everything about the file with `cprlink cert inspect FILE`; nothing was recorded",
        ),
        E::HandoverRefused { .. } => err.with_hint(
            "run `cprlink cert verify FILE.p12 --cvr CVR --cer UPLOADED.cer` for every check; nothing was recorded",
        ),
        E::LetterMissingFacts { .. } => {
            err.with_hint("record them with `cprlink onboard record STEP --FIELD VALUE`, then ask for the letter again")
        }
        _ => err,
    }
}

// ---- cprlink-lookup ---------------------------------------------------------------

impl From<cprlink_lookup::Error> for CliError {
    fn from(e: cprlink_lookup::Error) -> Self {
        mapped(e, lookup_error)
    }
}

fn lookup_error(e: cprlink_lookup::Error) -> CliError {
    use cprlink_lookup::Error as E;
    let message = e.to_string();
    let hint = cprlink_lookup::error::remedy(&e);
    // Every variant decides its exit code here: no catch-all, so a new one does not
    // compile until someone has.
    let err = match e {
        E::Io { source, .. } if is_broken_pipe(&source) => {
            return CliError::new(Code::Success, "");
        }
        E::Config { .. }
        | E::CaFile { .. }
        | E::CaFileUnusable { .. }
        | E::ClientSecret { .. }
        | E::ClientSecretEmpty { .. }
        | E::Identity { .. }
        | E::Audit { .. }
        | E::Io { .. }
        | E::Input(_)
        | E::TokenRequired { .. }
        | E::Listen { .. } => CliError::usage(message),
        E::TlsRefused { .. }
        | E::ServerNotTrusted { .. }
        | E::NotAllowlisted { .. }
        | E::Unauthorized { .. }
        | E::Forbidden { .. }
        | E::TokenRefused { .. } => CliError::auth(message),
        // An answer we cannot use, outside a batch (where it becomes an `error` row).
        E::Unavailable { .. } | E::Rejected { .. } | E::Protocol { .. } => {
            CliError::unavailable(message)
        }
        E::Interrupted => return CliError::interrupted(),
        // Bugs: settings that were checked, our own PEM read back, a panicked task.
        E::IdentityEncoding { .. }
        | E::HttpClient { .. }
        | E::BuildRequest { .. }
        | E::TlsSetup { .. }
        | E::TaskFailed { .. } => return CliError::internal(message),
    };
    match hint {
        Some(hint) => err.with_hint(hint),
        None => err,
    }
}

// ---- cprlink-sandbox --------------------------------------------------------------

impl From<cprlink_sandbox::Error> for CliError {
    fn from(e: cprlink_sandbox::Error) -> Self {
        mapped(e, sandbox_error)
    }
}

fn sandbox_error(e: cprlink_sandbox::Error) -> CliError {
    use cprlink_sandbox::Error as E;
    let message = e.to_string();
    match e {
        E::AddressInUse { .. } => CliError::usage(message).with_hint(
            "another program (or sandbox) uses that port: pick another with --listen 127.0.0.1:PORT, or port 0 for any free one",
        ),
        E::Listen { .. } => CliError::usage(message)
            .with_hint("--listen takes IP:PORT of an address on this machine, e.g. 127.0.0.1:0"),
        E::Dir { .. } | E::Write { .. } => CliError::usage(message)
            .with_hint("pass --dir with a directory you can write to"),
        E::PopulationSize { .. } => {
            CliError::usage(message).with_hint("--persons takes 1 to 1000000")
        }
        E::FaultRate { .. } => CliError::usage(message).with_hint(
            "fault rates are shares between 0 and 1 (e.g. --fault-rate 0.1) and together at most 1",
        ),
        E::Pki(e) => CliError::from(e),
        _ => CliError::usage(message),
    }
}

/// Whether an error chain ends in a closed pipe (e.g. `cprlink ... | head`): success.
pub fn is_broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod lookup_tests {
    use super::*;
    use cprlink_lookup::Error as E;

    #[test]
    fn bugs_exit_5_and_input_exits_2() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let panicked = rt
            .block_on(async { tokio::spawn(async { panic!("a bug") }).await })
            .unwrap_err();
        let bug = CliError::from(E::TaskFailed { source: panicked });
        assert_eq!(bug.code, Code::Internal);
        assert!(
            bug.message.starts_with("internal error:"),
            "{}",
            bug.message
        );
        assert!(
            bug.hints.iter().any(|h| h.contains("bug")),
            "{:?}",
            bug.hints
        );
        let missing = CliError::from(E::ClientSecret {
            path: "/nonexistent/secret".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
        assert_eq!(missing.code, Code::Usage);
        let closed = E::Io {
            what: "stdout".to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        };
        assert_eq!(CliError::from(closed).code, Code::Success);
    }
}
