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
    // Every variant chooses here (no wildcard): a new one does not compile until it has
    // an exit code and a hint. The user's files are exit 2 (3 for a wrong password);
    // OpenSSL failing on values cprlink made is a bug, exit 5.
    let message = e.to_string();
    let usage = || CliError::usage(message.clone());
    match e {
        E::Read { source, .. } => usage().with_hint(match source.kind() {
            std::io::ErrorKind::NotFound => "check the file name (and the directory you run in)",
            std::io::ErrorKind::PermissionDenied => {
                "you may not read it: check its owner and permissions (`ls -l`)"
            }
            _ => "check that the path names a readable file",
        }),
        E::Write { .. } => usage().with_hint(
            "check that the directory exists, that you may write there and that the disk is not full",
        ),
        E::AlreadyExists { .. } => usage().with_hint("pass --force to replace it"),
        E::EmptyFile { .. } => usage().with_hint(
            "the file has no content: ask for it again (a .p12/.pfx is binary and a few kilobytes)",
        ),
        E::TooLarge { .. } => usage().with_hint(
            "check that this is the file you meant: certificate files are kilobytes",
        ),
        E::PasswordRequired { .. } => usage()
            .with_hint("pass --password-file FILE, --password-env VAR or --password-stdin"),
        E::WrongPassword { .. } => CliError::auth(message).with_hint(
            "the password is case-sensitive; MitID Erhverv shows it once when the file is made \
             (if the password is surely right, the file may be damaged: ask for it again)",
        ),
        E::PasswordHasNul => usage().with_hint(
            "the password source holds a NUL byte: write the password as plain text, one line",
        ),
        E::Base64Pkcs12 { .. } => usage().with_hint(
            "decode it (`base64 -d FILE > FILE.p12`), or ask for the binary file as an attachment",
        ),
        E::NotPkcs12 { .. } => usage()
            .with_hint("check that this is the file you meant (a .p12/.pfx is binary)"),
        E::UnrecognizedFormat { .. } => usage().with_hint(
            "cprlink reads .p12/.pfx, .cer/.crt/.pem (DER or PEM), .p7b and PEM private keys",
        ),
        E::NoCertificate { .. } => usage().with_hint(
            "give a file that holds the certificate: .cer/.crt/.pem, .p7b or the .p12",
        ),
        E::NoPrivateKey { .. } => usage()
            .with_hint("DPG needs the certificate together with its private key (.p12)"),
        E::KeyWithoutCertificate { .. } => usage().with_hint(
            "give the certificate (.cer/.crt/.pem) or the .p12; `cprlink cert pack` joins cert and key",
        ),
        E::UnreadableCertificate { .. } => usage().with_hint(
            "see what it holds with `openssl x509 -text -noout -in FILE`; OCES3 certificates are RSA",
        ),
        E::IssuingCaNotEmbedded { .. } => usage().with_hint(
            "pass the issuing CA's certificate with --chain FILE (ca1.gov.dk publishes them)",
        ),
        E::LegacyEncryptionUnavailable { .. } => usage().with_hint(
            "install OpenSSL 3's legacy provider, or re-export the file with AES or 3DES",
        ),
        E::AbsurdIterationCount { .. } => usage().with_hint(
            "do not use this file; ask for a fresh export from MitID Erhverv",
        ),
        E::KeyDoesNotMatchCertificate => usage()
            .with_hint("use the private key that was made together with this certificate"),
        E::TestPki(_) | E::OpenSsl(_) => CliError::internal(message),
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
    // verdict of `onboard status`, not an error. Every variant is named here, with no
    // catch-all, so a new one does not compile until it has its code and hint.
    let message = e.to_string();
    let err = CliError::usage(message);
    match e {
        E::StateMissing { .. } => err.with_hint(
            "start a case with `cprlink onboard init --authority NAME --cvr CVR`, or pass --state FILE",
        ),
        E::StateExists { .. } => err.with_hint(
            "look at it with `cprlink onboard status`, or pass --state FILE for another case",
        ),
        E::Read { .. } => err.with_hint(
            "check that the file and its directory can be read (and the .lock beside it written)",
        ),
        E::Write { .. } => err.with_hint(
            "check that the directory is writable and has space; the case file was left as it was",
        ),
        E::Corrupt { .. } => err.with_hint(
            "cprlink will not use or overwrite it: fix that line by hand (it is TOML) or restore a backup",
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
        E::InvalidValue { .. } => {
            err.with_hint("nothing was recorded; run the command again with a corrected value")
        }
        E::NotApplicable { step, .. } => err.with_hint(format!(
            "nothing was recorded; see what {step} takes now with `cprlink onboard next --no-input`"
        )),
        E::CertificateRefused { .. } => err.with_hint(
            "see everything about the file with `cprlink cert inspect FILE`; nothing was recorded",
        ),
        E::HandoverRefused { .. } => err.with_hint(
            "run `cprlink cert verify FILE.p12 --cvr CVR --cer UPLOADED.cer` for every check; nothing was recorded",
        ),
        E::LetterNotForRoute { route, .. } => err.with_hint(format!(
            "the letters of route {route}: {}",
            match route.as_str() {
                "selfservice" => "cpr-application, datafordeler-support, dpg-handover",
                _ => "cpr-application, data-access, dpg-handover",
            }
        )),
        E::LetterMissingFacts { .. } => {
            err.with_hint("record them with `cprlink onboard record STEP --FIELD VALUE`, then ask for the letter again")
        }
        E::ConfigMissingFacts { .. } => err.with_hint(
            "record them with `cprlink onboard record STEP --FIELD VALUE`, then run `cprlink onboard config` again; nothing was written",
        ),
    }
}

// ---- cprlink-lookup ---------------------------------------------------------------

impl From<cprlink_lookup::Error> for CliError {
    fn from(e: cprlink_lookup::Error) -> Self {
        mapped(e, lookup_error)
    }
}

fn lookup_error(e: cprlink_lookup::Error) -> CliError {
    use cprlink_lookup::ErrorKind as K;
    if let cprlink_lookup::Error::Io { source, .. } = &e
        && is_broken_pipe(source)
    {
        return CliError::new(Code::Success, "");
    }
    let message = e.to_string();
    let err = match e.kind() {
        K::Usage => CliError::usage(message),
        K::Auth => CliError::auth(message),
        // An answer we cannot use, outside a batch (where it becomes an `error` row).
        K::Unavailable | K::Answer => CliError::unavailable(message),
        K::Interrupted => CliError::interrupted(),
    };
    match cprlink_lookup::error::remedy(&e) {
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
    // Every variant is named: a new one must choose its exit code and hint here.
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
        E::Limit { name, .. } => {
            let flag = match name {
                "max_in_list" => "--max-in-list",
                "max_nodes" => "--max-nodes",
                other => other,
            };
            CliError::usage(message).with_hint(format!(
                "{flag} takes a whole number in that range (see `cprlink sandbox --help`)"
            ))
        }
        E::SchemaChange { .. } => CliError::usage(message).with_hint(
            "--schema-drop-field and --schema-rename-field take a documented field of CPRCustom_PublicSectorPerson, e.g. navne.mellemnavn (docs/sandbox.md lists them)",
        ),
        E::NotOurs { .. } => CliError::usage(message).with_hint(
            "the sandbox writes only files it made (listed in DIR/sandbox-files.json): pass --dir with an empty or a sandbox's own directory, or move that file away",
        ),
        // The sandbox makes its own certificates and TLS set-up from nothing the user
        // gave: a failure there is a bug.
        E::Pki(_) | E::Tls(_) | E::Task(_) => CliError::internal(message),
    }
}

/// Whether an error chain ends in a closed pipe (e.g. `cprlink ... | head`): success.
pub fn is_broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn certificate_errors_choose_their_exit_code_and_say_what_to_do() {
        use cprlink_cert::Error as E;
        let path = || PathBuf::from("handover.p12");
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let user_errors = [
            E::Read {
                path: path(),
                source: io(),
            },
            E::Write {
                path: path(),
                source: io(),
            },
            E::AlreadyExists { path: path() },
            E::EmptyFile { path: path() },
            E::TooLarge {
                path: path(),
                size: 1 << 30,
            },
            E::PasswordRequired { path: path() },
            E::PasswordHasNul,
            E::Base64Pkcs12 { path: path() },
            E::NotPkcs12 {
                path: path(),
                reason: "truncated".into(),
            },
            E::UnrecognizedFormat {
                path: path(),
                reason: "text".into(),
            },
            E::NoCertificate { path: path() },
            E::NoPrivateKey { path: path() },
            E::KeyWithoutCertificate { path: path() },
            E::UnreadableCertificate {
                subject: "CN=x".into(),
                reason: "odd key".into(),
            },
            E::IssuingCaNotEmbedded {
                issuer: "CN=y".into(),
            },
            E::LegacyEncryptionUnavailable { path: path() },
            E::AbsurdIterationCount {
                path: path(),
                count: 1 << 31,
                limit: 10_000_000,
            },
            E::KeyDoesNotMatchCertificate,
        ];
        for e in user_errors {
            let text = e.to_string();
            let err = CliError::from(e);
            assert_eq!(err.code, Code::Usage, "{text}");
            assert!(!err.hints.is_empty(), "no hint for {text}");
            assert!(!err.message.starts_with("internal error"), "{text}");
        }
        let wrong = CliError::from(E::WrongPassword { path: path() });
        assert_eq!(wrong.code, Code::Auth);
        assert!(wrong.hints[0].contains("case-sensitive"));
        // OpenSSL failing on values cprlink made is a bug, not the user's input.
        for e in [
            E::OpenSsl(cprlink_cert::openssl::error::ErrorStack::get()),
            E::TestPki("no entropy".into()),
        ] {
            let err = CliError::from(e);
            assert_eq!(err.code, Code::Internal);
            assert!(
                err.message.starts_with("internal error: "),
                "{}",
                err.message
            );
            assert!(err.hints[0].contains("bug in cprlink"), "{:?}", err.hints);
        }
    }
}
