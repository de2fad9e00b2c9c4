//! The one place where errors become exit codes and messages.
//!
//! Exit codes (docs/exit-codes.md): 0 success, 1 the answer is "no", 2 usage or input,
//! 3 authentication/authorisation, 4 service unavailable, 5 internal error (a bug in
//! cprlink), 130 interrupted. Library errors are mapped here, with hints that say what
//! to do next (worded only here, from the libraries' structured facts; lookup hints
//! name the steps of the config's onboarding route), and their cause chain is kept for
//! `-v`. Messages never carry a secret or an unmasked CPR number: the libraries' errors
//! are built that way.

use std::fmt;

use cprlink_lookup::doctor::Finding;
use cprlink_lookup::error::{Credential, Revisit};
use cprlink_onboard::Route;

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
pub(crate) struct CliError {
    pub code: Code,
    pub message: String,
    pub hints: Vec<String>,
    /// The error's sources, outermost first, shown with `-v` ("caused by: ...").
    pub causes: Vec<String>,
}

impl CliError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            hints: Vec::new(),
            causes: Vec::new(),
        }
    }

    /// Exit 5: a bug in cprlink (an invariant broke, or a library failed where the
    /// user's input cannot be the reason). Never for bad input.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, format!("internal error: {}", message.into())).with_hint(
            "this is a bug in cprlink, not a problem with your input: please report it with the command you ran (run it again with -v for the details)",
        )
    }

    /// Exit 2: bad flag, invalid input, unreadable file, bad config.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Code::Usage, message)
    }

    /// Exit 3.
    pub(crate) fn auth(message: impl Into<String>) -> Self {
        Self::new(Code::Auth, message)
    }

    /// Exit 4.
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Code::Unavailable, message)
    }

    pub(crate) fn interrupted() -> Self {
        Self::new(Code::Interrupted, "interrupted")
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Keeps the sources of `error` (not its own message, which is ours already).
    pub(crate) fn with_causes(mut self, error: &(dyn std::error::Error + 'static)) -> Self {
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
        E::NotComplete { .. } => err.with_hint(
            "finish the onboarding first (`cprlink onboard status`); before go-live, record the new credential at the credential step instead",
        ),
        E::RenewalInProgress { .. } => err.with_hint(
            "see the renewal's steps with `cprlink onboard status`; go on with `cprlink onboard next`",
        ),
        E::NoRenewal { .. } => err.with_hint(
            "start one with `cprlink onboard renew --certificate NEW.pem` (or `--method shared-secret --created-on DATE --expires-on DATE`)",
        ),
        E::RenewalRefused { .. } => err.with_hint(
            "compare the files with `cprlink cert verify NEW.p12 --renewal-of OLD.pem`; nothing was recorded",
        ),
    }
}

// ---- cprlink-lookup ---------------------------------------------------------------
//
// The library says what failed in structured form (the alert, the `DAF-*` code, the
// credential and its thumbprint, and `Error::revisit`: which part of the onboarding to
// look at again). The hints are worded here, for the onboarding route the config is
// on, with the step numbers and ids of the SPEC.

/// What to do when an earlier output (`--resume`, `--retry-errors`) does not belong
/// to the input: it is found before anything is written.
pub(crate) const EARLIER_HINT: &str = "nothing was changed: give the --input this output was written from, or write to a new --output";

/// A lookup error for the user, its hints naming the steps of `route`.
pub(crate) fn lookup(e: cprlink_lookup::Error, route: Route) -> CliError {
    mapped(e, |e| lookup_error(e, route))
}

/// `?` for the lookup library: `.for_route(cfg.route())?` says which route's steps
/// the hints name.
pub(crate) trait ForRoute<T> {
    fn for_route(self, route: Route) -> Result<T, CliError>;
}

impl<T> ForRoute<T> for Result<T, cprlink_lookup::Error> {
    fn for_route(self, route: Route) -> Result<T, CliError> {
        self.map_err(|e| lookup(e, route))
    }
}

/// `serve` on a non-loopback address without a Bearer token. It names no onboarding
/// step, so `serve` can refuse before it reads the config.
pub(crate) fn token_required(addr: std::net::SocketAddr) -> CliError {
    CliError::usage(cprlink_lookup::Error::TokenRequired { addr }.to_string()).with_hint(
        "pass --token-file FILE (a file holding the Bearer token clients must send), or listen on 127.0.0.1",
    )
}

fn lookup_error(e: cprlink_lookup::Error, route: Route) -> CliError {
    use cprlink_lookup::Error as E;
    let message = e.to_string();
    let hint = lookup_hint(&e, route);
    // Every variant decides its exit code here: no catch-all, so a new one does not
    // compile until someone has.
    let err = match e {
        E::Io { source, .. } if is_broken_pipe(&source) => {
            return CliError::new(Code::Success, "");
        }
        E::TokenRequired { addr } => return token_required(addr),
        E::Config { .. }
        | E::CaFile { .. }
        | E::CaFileUnusable { .. }
        | E::ClientSecret { .. }
        | E::ClientSecretEmpty { .. }
        | E::Identity { .. }
        | E::BatchTooLarge { .. }
        | E::QueryFileRead { .. }
        | E::QueryFile { .. }
        | E::Audit { .. }
        | E::AuditKey { .. }
        | E::AuditOldFormat { .. }
        | E::AuditFormat { .. }
        | E::Io { .. }
        | E::Input(_)
        | E::Earlier(_)
        | E::Listen { .. } => CliError::usage(message),
        E::TlsRefused { .. }
        | E::ServerNotTrusted { .. }
        | E::NotAllowlisted { .. }
        | E::Unauthorized { .. }
        | E::Forbidden { .. }
        | E::TokenRefused { .. } => CliError::auth(message),
        // An answer we cannot use, outside a batch (where it becomes an `error` row).
        E::Unavailable { .. }
        | E::Rejected { .. }
        | E::Protocol { .. }
        | E::QueryRejected { .. } => CliError::unavailable(message),
        E::Interrupted => return CliError::interrupted(),
        // Bugs: settings that were checked, our own PEM read back, a panicked task.
        E::IdentityEncoding { .. }
        | E::HttpClient { .. }
        | E::BuildRequest { .. }
        | E::TlsConfig { .. }
        | E::TlsSetup { .. }
        | E::TaskFailed { .. }
        | E::TaskLost { .. } => return CliError::internal(message),
    };
    match hint {
        Some(hint) => err.with_hint(hint),
        None => err,
    }
}

/// The step of `route` where `r` is done, as the SPEC numbers and names it.
fn step(route: Route, r: Revisit) -> &'static str {
    match (route, r) {
        (Route::Administration, Revisit::Credential) => "step 2 (credential)",
        (Route::Administration, Revisit::IpAllowlist) => "step 3 (ip-allowlist)",
        (Route::Administration, Revisit::DataAccess) => "step 6 (data-access)",
        (Route::Administration, Revisit::Handover) => "step 7 (dpg-handover)",
        (Route::Selfservice, Revisit::Credential) => "step 2 (service-user)",
        (Route::Selfservice, Revisit::IpAllowlist) => "step 5 (production-access)",
        (Route::Selfservice, Revisit::DataAccess) => "step 4 (cpr-approval)",
        (Route::Selfservice, Revisit::Handover) => "step 6 (dpg-handover)",
    }
}

/// What must hold at the credential step for `credential`.
fn registered(route: Route, credential: &Credential) -> String {
    match (route, credential) {
        (Route::Administration, Credential::Certificate { thumbprint }) => format!(
            "the IT-system in Datafordeler Administration must have this certificate (SHA-1 thumbprint {thumbprint}) as its OAuth certificate"
        ),
        (Route::Administration, Credential::SharedSecret) => "the IT-system's shared secret in `client_secret_file` must be its current one (a shared secret lasts at most two years)".to_owned(),
        (Route::Selfservice, Credential::Certificate { thumbprint }) => format!(
            "the CER uploaded to the service user must be this certificate (SHA-1 thumbprint {thumbprint})"
        ),
        // Without `client_id` there is no IT-system, and no shared secret to check.
        (Route::Selfservice, Credential::SharedSecret) => "a shared secret belongs to an IT-system in Datafordeler Administration: set that IT-system's `client_id` in cprlink.toml".to_owned(),
    }
}

/// How a new certificate is registered on `route`.
fn register_new(route: Route) -> &'static str {
    match route {
        Route::Administration => {
            "upload the new certificate (PEM) as the IT-system's OAuth certificate"
        }
        Route::Selfservice => "upload the new CER to the service user",
    }
}

/// What the IP allowlist step must have done on `route`.
fn allowlisted(route: Route) -> &'static str {
    match route {
        Route::Administration => {
            "the IT-system's IP allowlist must hold this machine's fixed external IPv4 address (a /32 range)"
        }
        Route::Selfservice => {
            "Datafordeler support must whitelist this machine's fixed external IPv4 address and grant Production access"
        }
    }
}

/// What the data-access step must have done on `route`.
fn data_access(route: Route) -> &'static str {
    match route {
        Route::Administration => {
            "the IT-system needs the data access CustomPublicSectorPerson, requested with the CPR approval attached and granted by the register authority"
        }
        Route::Selfservice => {
            "the CPR approval (step 3, cpr-application, comes first) for CprPersonSmallSimple (PersonSmallCurrentListSimple) is missing or not yet applied to this service user"
        }
    }
}

/// The hint for a lookup error, worded for `route`; `None` when there is nothing to
/// add to the message. The steps it names are those of `Error::revisit`.
pub(crate) fn lookup_hint(e: &cprlink_lookup::Error, route: Route) -> Option<String> {
    use cprlink_lookup::Error as E;
    use cprlink_lookup::error::TlsAlert;
    let at = |r: Revisit| step(route, r);
    Some(match e {
        E::TlsRefused {
            host,
            thumbprint: None,
            ..
        } => format!(
            "cprlink presented no client certificate (GraphQL with `client_secret_file`) and {host} wants one: `token_url` must be the shared-secret endpoint (auth.datafordeler.dk, not auth-oces), or leave `client_secret_file` empty to use the OAuth certificate; then check {}",
            e.revisit()
                .iter()
                .map(|r| at(*r))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        E::TlsRefused {
            alert,
            thumbprint: Some(thumbprint),
            ..
        } => match alert {
            TlsAlert::UnknownCa => format!(
                "{}: the .p12 must carry the OCES3 intermediate CA (`cprlink cert pack --add-oces-chain` or `cprlink cert verify`); a test certificate only works against test04, a production one only against production",
                at(Revisit::Handover)
            ),
            TlsAlert::CertificateExpired => format!(
                "the certificate (SHA-1 thumbprint {thumbprint}) has expired: renew it in MitID Erhverv, then redo {} ({}) and {} (install the new .p12 for DPG)",
                at(Revisit::Credential),
                register_new(route),
                at(Revisit::Handover)
            ),
            TlsAlert::CertificateRevoked => format!(
                "the certificate was revoked: get a new one, then redo {} ({}) and {} (install the new .p12 for DPG)",
                at(Revisit::Credential),
                register_new(route),
                at(Revisit::Handover)
            ),
            TlsAlert::HandshakeFailure
            | TlsAlert::BadCertificate
            | TlsAlert::UnsupportedCertificate
            | TlsAlert::CertificateUnknown
            | TlsAlert::AccessDenied
            | TlsAlert::CertificateRequired
            | TlsAlert::Other(_) => format!(
                "{}: {}; run `cprlink cert verify` on the .p12",
                at(Revisit::Credential),
                registered(
                    route,
                    &Credential::Certificate {
                        thumbprint: thumbprint.clone()
                    }
                )
            ),
        },
        E::ServerNotTrusted { .. } => "the server's certificate is not trusted: for a test server or the sandbox, point `ca_file` in cprlink.toml at its CA (PEM); never turn verification off".to_owned(),
        E::NotAllowlisted {
            credential,
            waited_secs,
            ..
        } => format!(
            "new credentials take up to about 20 minutes to work at Datafordeler{}: if this {} was registered just now, wait and run again; otherwise {}: {}; and {}: {}",
            if *waited_secs > 0 {
                format!(" (cprlink retried for {waited_secs} s, `auth_grace_secs`)")
            } else {
                String::new()
            },
            match credential {
                Credential::Certificate { .. } => "certificate",
                Credential::SharedSecret => "shared secret",
            },
            at(Revisit::IpAllowlist),
            allowlisted(route),
            at(Revisit::Credential),
            registered(route, credential)
        ),
        E::Unauthorized { credential, .. } => format!(
            "{}: {}; and {}: {}",
            at(Revisit::Credential),
            registered(route, credential),
            at(Revisit::IpAllowlist),
            allowlisted(route)
        ),
        E::Forbidden { .. } => format!("{}: {}", at(Revisit::DataAccess), data_access(route)),
        E::TokenRefused { credential, .. } => format!(
            "{}; also {}: {} (a token endpoint may refuse a machine that is not allowlisted the same way)",
            match credential {
                Credential::Certificate { .. } => format!(
                    "{}: {}, and `client_id` must be that IT-system's; check that `token_url` is the right environment",
                    at(Revisit::Credential),
                    registered(route, credential)
                ),
                Credential::SharedSecret => format!(
                    "{}: check `client_id` and the shared secret in `client_secret_file` (it may have expired), and that `token_url` is the right environment",
                    at(Revisit::Credential)
                ),
            },
            at(Revisit::IpAllowlist),
            allowlisted(route)
        ),
        E::QueryRejected { .. } => "the GraphQL server refused the query (not an authentication problem): run `cprlink doctor` to check the query against the server's schema; if Datafordeler changed the schema, put a query that fits it in a file and set `graphql_query_file` (docs/config.md)".to_owned(),
        E::BatchTooLarge { max, .. } => format!(
            "use --batch-size {max} or less (or `batch_size` in [lookup] of cprlink.toml); REST (--api rest) takes up to {}",
            cprlink_lookup::client::MAX_BATCH_SIZE
        ),
        E::QueryFileRead { .. } => "check `graphql_query_file` in [datafordeler] (a relative path is taken from the config file's directory), or leave it empty for the built-in query".to_owned(),
        E::QueryFile { .. } => "fix the query (docs/config.md shows the built-in one to start from), or leave `graphql_query_file` empty for the built-in query".to_owned(),
        E::Unavailable { .. } => "Datafordeler could not be reached or kept failing: check the network, firewall and proxy, then try again later (lower `--concurrency` or set `--rate` if it answered 429)".to_owned(),
        E::Config { .. } => "see docs/operator.md for the config keys".to_owned(),
        E::CaFile { .. } | E::CaFileUnusable { .. } => "`ca_file` must name a PEM file with the CA certificate(s) of the server".to_owned(),
        E::TokenRequired { .. } => "pass --token-file FILE (a file holding the Bearer token clients must send), or listen on 127.0.0.1".to_owned(),
        E::AuditKey { .. } => "`audit_key_file` in [lookup] names the key of the audit trail's keyed hashes: keep it 0600, in a directory of its own (not the log's); docs/operator.md says where it lives by default".to_owned(),
        E::AuditOldFormat { path } => format!(
            "keep the old trail as evidence under another name (e.g. `mv {0} {0}.v1`, with its `.salt` file beside it); cprlink then starts a new trail at {0}",
            path.display()
        ),
        E::AuditFormat { .. } => "nothing was written to it; run `cprlink audit verify` to see what is wrong with the trail, and keep it as it is for the record".to_owned(),
        E::ClientSecret { .. } => "`client_secret_file` in [datafordeler] names the file with the IT-system's shared secret on its first line (a relative path is taken from the config file's directory; keep it 0600)".to_owned(),
        E::ClientSecretEmpty { .. } => "put the shared secret shown once in Datafordeler Administration on the file's first line; if it is lost, create a new one there and record it with `cprlink onboard renew --method shared-secret`".to_owned(),
        E::Identity { .. } => "run `cprlink cert verify` on the .p12 for the full checklist: it must hold the private key with its certificate".to_owned(),
        E::Rejected { .. } => "Datafordeler refused the request itself as wrong (not an authentication problem): check `rest_base_url`, `rest_path` or `graphql_url` against docs/config.md, and run `cprlink doctor`".to_owned(),
        E::Protocol { .. } => "the answer is not what Datafordeler sends: check that the URLs in [datafordeler] point at Datafordeler (`cprlink doctor` checks the chain step by step)".to_owned(),
        E::Audit { .. } => "`audit_log` in [lookup] must name a file in a directory that exists and that this user may write to".to_owned(),
        E::Io { .. } => "check the file named and that its directory exists and is writable".to_owned(),
        E::Input(_) => "fix the line named in the input (one CPR number per line, or CSV with a `cpr` column) and run again; lines already written stay".to_owned(),
        E::Earlier(_) => EARLIER_HINT.to_owned(),
        E::Listen { .. } => "another process may hold the port, or the address is not this machine's: choose another with --listen".to_owned(),
        // Bugs: `CliError::internal` gives their hint (report it). An interrupted run
        // says only that.
        E::IdentityEncoding { .. }
        | E::HttpClient { .. }
        | E::BuildRequest { .. }
        | E::TlsConfig { .. }
        | E::TlsSetup { .. }
        | E::TaskFailed { .. }
        | E::TaskLost { .. }
        | E::Interrupted => return None,
    })
}

/// What to do about a doctor finding, worded for `route`.
pub(crate) fn doctor_fix(finding: &Finding, route: Route) -> Option<String> {
    let at = |r: Revisit| step(route, r);
    Some(match finding {
        Finding::Failed(e) => return lookup_hint(e, route),
        Finding::NoCertificate => "set `p12` in cprlink.toml".to_owned(),
        Finding::PasswordMissing => {
            "set [certificate] password_file or password_env in cprlink.toml".to_owned()
        }
        Finding::WrongPassword => "check the password in password_file / password_env".to_owned(),
        Finding::CertificateUnusable { p12 } => format!(
            "run `cprlink cert verify {}` for the full checklist",
            p12.display()
        ),
        Finding::CertificateExpired => format!(
            "the certificate has expired: renew it, then redo {} ({}) and {} (install the new .p12 for DPG)",
            at(Revisit::Credential),
            register_new(route),
            at(Revisit::Handover)
        ),
        Finding::CertificateNotYetValid => {
            "the certificate is not valid yet: check this machine's clock".to_owned()
        }
        Finding::CertificateExpiresSoon => format!(
            "renew soon: a new certificate means a new thumbprint to register ({}) and a new handover ({})",
            at(Revisit::Credential),
            at(Revisit::Handover)
        ),
        Finding::NoIntermediate => "the .p12 has no intermediate CA; servers that do not know it refuse with alert 48 (`cprlink cert pack --add-oces-chain`)".to_owned(),
        Finding::DnsFailed => "check the host name in cprlink.toml and this machine's DNS".to_owned(),
        Finding::DnsTimeout => "check this machine's DNS".to_owned(),
        Finding::TcpFailed => "check the firewall and any proxy between this machine and Datafordeler (outbound port 443)".to_owned(),
        Finding::TcpTimeout => "check the firewall (outbound port 443)".to_owned(),
        Finding::ProbeNotFound => "the chain works; use a CPR number that exists here (test04 holds CPR test persons only)".to_owned(),
        Finding::SchemaFieldsMissing { missing, query } => {
            let names: Vec<&str> = missing.iter().map(|m| m.path.as_str()).collect();
            match query {
                cprlink_lookup::query::QuerySource::Builtin => format!(
                    "Datafordeler's schema no longer has {}: write the built-in query (docs/config.md) without them, or with their new names, into a file and set `graphql_query_file` in [datafordeler]",
                    names.join(", ")
                ),
                cprlink_lookup::query::QuerySource::File(path) => format!(
                    "change the query in `graphql_query_file` ({}) so that it selects only fields the schema has (not {})",
                    path.display(),
                    names.join(", ")
                ),
            }
        }
        Finding::SchemaUnavailable => "the query was not checked: if lookups fail with a GraphQL error, compare it with the schema Datafordeler publishes, and set `graphql_query_file` to a query that fits".to_owned(),
    })
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
pub(crate) fn is_broken_pipe(e: &std::io::Error) -> bool {
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
        let bug = lookup(E::TaskFailed { source: panicked }, Route::Administration);
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
        let missing = lookup(
            E::ClientSecret {
                path: "/nonexistent/secret".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            },
            Route::Selfservice,
        );
        assert_eq!(missing.code, Code::Usage);
        let closed = E::Io {
            what: "stdout".to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        };
        assert_eq!(lookup(closed, Route::Selfservice).code, Code::Success);
    }

    /// Refusals of every kind, as the library reports them.
    fn refusals() -> Vec<E> {
        use cprlink_lookup::error::TlsAlert;
        let cert = || Credential::Certificate {
            thumbprint: "4F1C0000000000000000000000000000000000AB".to_owned(),
        };
        let mut all = vec![
            E::NotAllowlisted {
                host: "h".to_owned(),
                code: "DAF-AUTH-0005".to_owned(),
                credential: cert(),
                waited_secs: 60,
            },
            E::NotAllowlisted {
                host: "h".to_owned(),
                code: "DAF-AUTH-0005".to_owned(),
                credential: Credential::SharedSecret,
                waited_secs: 0,
            },
            E::Unauthorized {
                host: "h".to_owned(),
                code: Some("DAF-AUTH-0001".to_owned()),
                excerpt: String::new(),
                credential: cert(),
            },
            E::Forbidden {
                host: "h".to_owned(),
                status: 403,
                code: Some("DAF-AUTH-0001".to_owned()),
                excerpt: String::new(),
            },
            // DAF-AUTH-0001 in a GraphQL error of an HTTP 200.
            E::Forbidden {
                host: "h".to_owned(),
                status: 200,
                code: Some("DAF-AUTH-0001".to_owned()),
                excerpt: String::new(),
            },
            E::TokenRefused {
                host: "h".to_owned(),
                status: 401,
                excerpt: String::new(),
                credential: cert(),
            },
            E::TokenRefused {
                host: "h".to_owned(),
                status: 401,
                excerpt: String::new(),
                credential: Credential::SharedSecret,
            },
        ];
        for n in [40, 42, 43, 44, 45, 46, 48, 49, 116, 80] {
            all.push(E::TlsRefused {
                host: "h".to_owned(),
                alert: TlsAlert::from_number(n),
                thumbprint: Some("4F1C0000000000000000000000000000000000AB".to_owned()),
            });
        }
        // No client certificate at all (a shared secret) against a server that wants one.
        all.push(E::TlsRefused {
            host: "h".to_owned(),
            alert: TlsAlert::CertificateRequired,
            thumbprint: None,
        });
        all
    }

    #[test]
    fn daf_auth_0005_says_new_credentials_are_inert_before_the_steps() {
        for route in [Route::Administration, Route::Selfservice] {
            let hint = lookup_hint(&refusals()[0], route).unwrap();
            let inert = hint.find("up to about 20 minutes").unwrap();
            let allowlist = hint.find(step(route, Revisit::IpAllowlist)).unwrap();
            let credential = hint.find(step(route, Revisit::Credential)).unwrap();
            assert!(inert < allowlist && allowlist < credential, "{hint}");
            assert!(hint.contains("retried for 60 s"), "{hint}");
            assert!(
                hint.contains("4F1C0000000000000000000000000000000000AB"),
                "{hint}"
            );
        }
        let hint = lookup_hint(&refusals()[1], Route::Administration).unwrap();
        assert!(!hint.contains("retried for"), "{hint}");
        assert!(hint.contains("this shared secret was registered"), "{hint}");
    }

    #[test]
    fn query_and_batch_errors_exit_2_or_4_with_what_to_do() {
        let e = lookup(
            E::BatchTooLarge {
                batch_size: 150,
                max: 100,
            },
            Route::Administration,
        );
        assert_eq!(e.code, Code::Usage);
        assert!(e.message.contains("at most 100"), "{}", e.message);
        assert!(
            e.hints[0].contains("--batch-size 100 or less"),
            "{:?}",
            e.hints
        );
        let e = lookup(
            E::QueryFile {
                path: "q.graphql".into(),
                problem: "does not take $cpr".into(),
            },
            Route::Administration,
        );
        assert_eq!(e.code, Code::Usage);
        assert!(e.message.contains("q.graphql"), "{}", e.message);
        let e = lookup(
            E::QueryRejected {
                host: "h".into(),
                code: Some("DAF-GQL-0002".into()),
                message: "The field `x` does not exist".into(),
            },
            Route::Administration,
        );
        assert_eq!(e.code, Code::Unavailable);
        assert!(e.hints[0].contains("graphql_query_file"), "{:?}", e.hints);
        assert!(!e.hints[0].contains("step "), "{:?}", e.hints);
    }

    #[test]
    fn hints_name_the_steps_to_revisit_on_the_configs_route_only() {
        // The step ids only the other route has.
        let foreign = |route| match route {
            Route::Administration => [
                "selfservice-user",
                "service-user",
                "production-access",
                "cpr-approval",
            ],
            Route::Selfservice => ["it-system", "(credential)", "ip-allowlist", "data-access"],
        };
        for route in [Route::Administration, Route::Selfservice] {
            for e in refusals() {
                let hint = lookup_hint(&e, route).unwrap_or_default();
                assert!(!e.revisit().is_empty(), "{e}");
                for r in e.revisit() {
                    assert!(hint.contains(step(route, *r)), "{route}: {e}: {hint}");
                }
                for id in foreign(route) {
                    assert!(!hint.contains(id), "{route}: {e}: {hint}");
                }
                assert_eq!(lookup(e, route).code, Code::Auth);
            }
        }
        let forbidden = &refusals()[3];
        assert!(
            lookup_hint(forbidden, Route::Administration)
                .unwrap()
                .starts_with("step 6 (data-access): ")
        );
        assert!(
            lookup_hint(forbidden, Route::Selfservice)
                .unwrap()
                .starts_with("step 4 (cpr-approval): ")
        );
    }
}
