//! The command line, and nothing else: clap definitions for every command of the SPEC.
//!
//! Commands read these structs; no logic lives here. `cargo xtask docs` renders the
//! CLI reference and man pages from [`Cli`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Connects a Danish authority's Digital Post gateway (Timengo DPG) to CPR through
/// Datafordeler, and does the name lookups afterwards.
#[derive(Debug, Parser)]
#[command(
    name = "cprlink",
    version,
    about,
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The heading of the options every command takes, apart from each command's own.
const GLOBAL: &str = "Global options";

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (default: $CPRLINK_CONFIG, ./cprlink.toml, $XDG_CONFIG_HOME/cprlink/cprlink.toml).
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print one JSON document (or JSON Lines for streams) on stdout.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Never prompt; a missing answer is an error naming the flag to pass.
    #[arg(long, global = true, help_heading = GLOBAL, env = "CPRLINK_NO_INPUT", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_input: bool,

    /// When to use colour.
    #[arg(long, global = true, help_heading = GLOBAL, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// More log output on stderr (-v info, -vv debug). CPR numbers stay masked.
    #[arg(short, long, global = true, help_heading = GLOBAL, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, help_heading = GLOBAL, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per run: boxing variants would buy nothing"
)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect, export, pack, repack and verify the OCES3 certificate.
    #[command(subcommand)]
    Cert(CertCommand),

    /// The onboarding to CPR, tracked for weeks (default: `onboard next`).
    Onboard(OnboardArgs),

    /// Look up names for CPR numbers: one, several, or a file in bulk.
    Lookup(LookupArgs),

    /// Run the lookup runtime: a small local HTTP service.
    Serve(ServeArgs),

    /// Check the go-live chain step by step and name what to fix.
    Doctor(DoctorArgs),

    /// The audit trail as evidence: who looked a person up, whether it is whole, retention.
    #[command(subcommand)]
    Audit(AuditCommand),

    /// Run a local stand-in for Datafordeler (mutual TLS, REST, OAuth, GraphQL).
    Sandbox(SandboxArgs),

    /// The whole story on the embedded sandbox, in one command.
    Demo(DemoArgs),

    /// Print the shell completion script (bash, zsh, fish or powershell) on stdout.
    Completions(CompletionsArgs),
}

/// Where a password comes from. There is deliberately no flag that takes the secret.
#[derive(Debug, Clone, Default, Args)]
pub struct PasswordArgs {
    /// Read the password from FILE (first line).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["password_env", "password_stdin"])]
    pub password_file: Option<PathBuf>,

    /// Read the password from the environment variable VAR.
    #[arg(long, value_name = "VAR", conflicts_with = "password_stdin")]
    pub password_env: Option<String>,

    /// Read the password from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
}

// ---------------------------------------------------------------------------------
// cert

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Show everything about a .p12/.pfx, .cer/.crt/.pem or .p7b file.
    Inspect(CertInspectArgs),
    /// Write the public certificate only ("CER format" for Datafordeler).
    ExportCer(CertExportArgs),
    /// Build the handover .p12 from a certificate and its key.
    Pack(CertPackArgs),
    /// Same .p12 contents, new protection (e.g. old RC2 export -> compat).
    Repack(CertRepackArgs),
    /// Run the DPG handover checklist on one or more .p12 files and give a verdict.
    Verify(CertVerifyArgs),
}

#[derive(Debug, Args)]
pub struct CertInspectArgs {
    /// The file to inspect.
    pub file: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Extra trust anchors (PEM) next to the embedded OCES3 roots, for test PKIs.
    #[arg(long, value_name = "FILE.pem")]
    pub trust: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CerEncoding {
    /// "DER encoded binary X.509".
    Der,
    /// "Base-64 encoded X.509" (what Datafordeler Administration asks for).
    Pem,
}

#[derive(Debug, Args)]
pub struct CertExportArgs {
    /// The .p12/.pfx or certificate file to export from.
    pub input: PathBuf,
    /// Where to write the certificate.
    #[arg(long, value_name = "FILE.cer")]
    pub out: PathBuf,
    /// DER (default) or PEM.
    #[arg(long, value_enum, default_value_t = CerEncoding::Der)]
    pub encoding: CerEncoding,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// PBE-SHA1-3DES, SHA-1 MAC, 2048 iterations: every reader, incl. older Windows.
    Compat,
    /// PBES2/AES-256-CBC, SHA-256 MAC: OpenSSL 3, Java 17, Windows 10 1709+.
    Modern,
}

#[derive(Debug, Args)]
pub struct CertPackArgs {
    /// The certificate (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, traditional RSA, or encrypted PKCS#8 with the password flags).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// CA certificates to include (repeatable).
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// Add the embedded OCES3 issuing CA that signed the certificate.
    #[arg(long)]
    pub add_oces_chain: bool,
    /// Where to write the .p12.
    #[arg(long, value_name = "FILE.p12")]
    pub out: PathBuf,
    /// How the .p12 is protected.
    #[arg(long, value_enum, default_value_t = ProfileArg::Compat)]
    pub profile: ProfileArg,
    /// Friendly name shown by Windows and Java.
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Take the new .p12 password from FILE instead of generating one into OUT.password.
    #[arg(long, value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,
    /// Replace OUT (and OUT.password) if they exist.
    #[arg(long)]
    pub force: bool,
    /// Password of an encrypted private key.
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Args)]
pub struct CertRepackArgs {
    /// The .p12/.pfx to repack.
    pub input: PathBuf,
    /// Where to write the new .p12.
    #[arg(long, value_name = "FILE.p12")]
    pub out: PathBuf,
    /// How the .p12 is protected.
    #[arg(long, value_enum, default_value_t = ProfileArg::Compat)]
    pub profile: ProfileArg,
    /// Friendly name shown by Windows and Java (default: keep the file's own).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Also add the embedded OCES3 issuing CA that signed the certificate, if missing.
    #[arg(long)]
    pub add_oces_chain: bool,
    /// Take the new password from FILE instead of generating one into OUT.password.
    #[arg(long, value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,
    /// Replace OUT (and OUT.password) if they exist.
    #[arg(long)]
    pub force: bool,
    /// Password of IN.p12.
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetEnvironment {
    Production,
    Test,
}

#[derive(Debug, Args)]
pub struct CertVerifyArgs {
    /// The .p12/.pfx files to verify; several give one checklist each, then a summary table.
    #[arg(required = true, value_name = "FILE.p12")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Read each file's password from DIR/NAME.password, NAME being the file's own name
    /// (e.g. DIR/handover.p12.password).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["password_file", "password_env", "password_stdin"]
    )]
    pub password_dir: Option<PathBuf>,
    /// The certificate being replaced (.cer/.pem/.p12): adds the `renewal` check.
    #[arg(long, value_name = "OLD")]
    pub renewal_of: Option<PathBuf>,
    /// The .cer uploaded to Datafordeler: must be the same certificate.
    #[arg(long, value_name = "UPLOADED.cer")]
    pub cer: Option<PathBuf>,
    /// The authority's CVR: must match organizationIdentifier.
    #[arg(long, value_name = "CVR")]
    pub cvr: Option<String>,
    /// The environment the certificate is for.
    #[arg(long, value_enum)]
    pub environment: Option<TargetEnvironment>,
    /// Warn when fewer days than this are left.
    #[arg(long, value_name = "N", default_value_t = 60)]
    pub warn_days: u32,
    /// Extra trust anchors (PEM, roots and intermediates) for test PKIs.
    #[arg(long, value_name = "FILE.pem")]
    pub trust: Vec<PathBuf>,
    /// Also check revocation (OCSP/CRL) online.
    #[arg(long)]
    pub online: bool,
}

// ---------------------------------------------------------------------------------
// onboard

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct OnboardArgs {
    /// The onboarding state file.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "onboarding.toml"
    )]
    pub state: PathBuf,

    /// Who makes the change, for the case's history (default: $CPRLINK_OPERATOR, else
    /// the login name).
    #[arg(long, global = true, value_name = "NAME")]
    pub by: Option<String>,

    #[command(subcommand)]
    pub command: Option<OnboardCommand>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RouteArg {
    /// Datafordeler Administration: IT-system, OAuth credential, GraphQL (every new case).
    Administration,
    /// Datafordeler Self-Service: service user with the CER, REST (closed to new
    /// sign-ups since 30 June 2026).
    Selfservice,
}

#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per run: boxing variants would buy nothing"
)]
#[derive(Debug, Subcommand)]
pub enum OnboardCommand {
    /// Start a new onboarding case.
    Init(OnboardInitArgs),
    /// Guidance for the current step, then ask for what to record.
    Next(OnboardNextArgs),
    /// Record facts for a step without prompts.
    Record(Box<OnboardRecordArgs>),
    /// Checklist of the steps, recorded facts and the next action.
    Status,
    /// A ready text to send, filled from the state.
    Letter(OnboardLetterArgs),
    /// The whole case file.
    Report(OnboardReportArgs),
    /// Write the go-live cprlink.toml from the case file.
    Config(OnboardConfigArgs),
    /// Start the renewal of the credential of a completed case.
    Renew(OnboardRenewArgs),
}

#[derive(Debug, Args)]
pub struct OnboardNextArgs {
    /// Extra trust anchors (PEM) for certificates of a test PKI.
    #[arg(long, value_name = "FILE.pem")]
    pub trust: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OnboardInitArgs {
    /// The authority's name.
    #[arg(long, value_name = "NAME")]
    pub authority: String,
    /// The authority's CVR number (8 digits, checked with modulus 11).
    #[arg(long, value_name = "CVR")]
    pub cvr: String,
    /// The route (asked on a terminal; `administration` without one).
    #[arg(long, value_enum)]
    pub route: Option<RouteArg>,
    /// The environment the case is for: production, or Datafordeler's Test04.
    #[arg(long, value_enum, default_value_t = TargetEnvironment::Production)]
    pub environment: TargetEnvironment,
    /// Contact e-mail for letters.
    #[arg(long, value_name = "EMAIL")]
    pub contact_email: Option<String>,
    /// Contact person for letters.
    #[arg(long, value_name = "NAME")]
    pub contact_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct OnboardRenewArgs {
    /// The new certificate (.pem, .cer or .p12), checked as `cert verify --renewal-of`
    /// checks it against the registered one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["created_on", "expires_on"])]
    pub certificate: Option<PathBuf>,
    /// The certificate being replaced (default: the file recorded at the credential step).
    #[arg(long, value_name = "OLD", requires = "certificate")]
    pub renewal_of: Option<PathBuf>,
    /// The new credential's kind (implied by --certificate or --expires-on).
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// The day the new shared secret was created (default today).
    #[arg(long, value_name = "DATE")]
    pub created_on: Option<String>,
    /// The day the new shared secret expires (at most 730 days after --created-on).
    #[arg(long, value_name = "DATE")]
    pub expires_on: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Extra trust anchors (PEM) for test PKIs.
    #[arg(long, value_name = "FILE.pem")]
    pub trust: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OnboardConfigArgs {
    /// Where to write it.
    #[arg(long, value_name = "FILE", default_value = "cprlink.toml")]
    pub out: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// OAuth certificate: the OCES3 certificate uploaded as PEM.
    Certificate,
    /// OAuth shared secret (never recorded by cprlink; at most 730 days).
    SharedSecret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViaArg {
    /// The DPG Customer Portal (portal.timengodpg.com): you install it yourself.
    Portal,
    /// DPG Service Center: you send it (the password by another channel).
    ServiceCenter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoginMethod {
    Password,
    Mitid,
}

#[derive(Debug, Args)]
pub struct OnboardRecordArgs {
    /// The step id (e.g. `service-user`; see `cprlink onboard status`), a renewal's
    /// step (`register-new`, `install-dpg`, `confirm`, `retire-old`), or `contact`.
    pub step: String,
    /// Mark the step done (when its required facts are recorded).
    #[arg(long)]
    pub done: bool,

    // selfservice-user
    /// Username of the web user in Datafordeler Self-Service.
    #[arg(long, value_name = "TEXT", help_heading = "selfservice-user")]
    pub username: Option<String>,
    /// How the web user logs in.
    #[arg(long, value_enum, help_heading = "selfservice-user")]
    pub login_method: Option<LoginMethod>,

    // service-user
    /// Name of the service user.
    #[arg(long, value_name = "TEXT", help_heading = "service-user")]
    pub service_user: Option<String>,
    /// The certificate uploaded (.cer/.pem/.p12): as CER for service-user, as PEM for
    /// credential (--method certificate).
    #[arg(long, value_name = "FILE", help_heading = "service-user, credential")]
    pub certificate: Option<PathBuf>,

    // route administration: it-system, credential, ip-allowlist, data-access
    /// Name of the IT-system in Datafordeler Administration.
    #[arg(long, value_name = "TEXT", help_heading = "it-system")]
    pub it_system: Option<String>,
    /// The IT-system's client id (for OAuth tokens).
    #[arg(long, value_name = "TEXT", help_heading = "it-system")]
    pub client_id: Option<String>,
    /// The IT-system's OAuth credential (implied by --certificate or --expires-on).
    #[arg(long, value_enum, help_heading = "credential")]
    pub method: Option<MethodArg>,
    /// The day the shared secret was created (default today with --done).
    #[arg(long, value_name = "DATE", help_heading = "credential")]
    pub created_on: Option<String>,
    /// The day the shared secret expires (at most 730 days after --created-on).
    #[arg(long, value_name = "DATE", help_heading = "credential")]
    pub expires_on: Option<String>,
    /// The day the DPG IP was added to the IT-system's allowlist (default today with --done).
    #[arg(long, value_name = "DATE", help_heading = "ip-allowlist")]
    pub added_on: Option<String>,
    /// The day the register authority granted the data access (default today with --done).
    #[arg(long, value_name = "DATE", help_heading = "data-access")]
    pub granted_on: Option<String>,

    // cpr-application
    /// The CPR service desk's case number.
    #[arg(long, value_name = "TEXT", help_heading = "cpr-application")]
    pub case_number: Option<String>,
    /// The day the virk.dk application was sent (YYYY-MM-DD; default today with --done).
    #[arg(long, value_name = "DATE", help_heading = "cpr-application")]
    pub applied_on: Option<String>,
    /// The virk.dk receipt number.
    #[arg(long, value_name = "TEXT", help_heading = "cpr-application")]
    pub virk_receipt: Option<String>,

    // cpr-approval
    /// The day CPR approved (YYYY-MM-DD; default today with --done).
    #[arg(long, value_name = "DATE", help_heading = "cpr-approval")]
    pub approved_on: Option<String>,
    /// The approval letter's reference.
    #[arg(long, value_name = "TEXT", help_heading = "cpr-approval")]
    pub approval_reference: Option<String>,

    // production-access (selfservice), ip-allowlist and data-access (administration)
    /// The DPG service's fixed external IPv4 address (production-access, ip-allowlist).
    #[arg(
        long,
        value_name = "IPV4",
        help_heading = "production-access, ip-allowlist"
    )]
    pub dpg_ip: Option<String>,
    /// The day the request went out: to Datafordeler support (production-access), or
    /// the data access on the IT-system (data-access). Starts the waiting.
    #[arg(
        long,
        value_name = "DATE",
        help_heading = "production-access, data-access"
    )]
    pub requested_on: Option<String>,
    /// Datafordeler support's ticket number.
    #[arg(long, value_name = "TEXT", help_heading = "production-access")]
    pub support_ticket: Option<String>,
    /// The day support confirmed access and whitelisting (production-access), or a
    /// lookup with the renewed credential worked (confirm); default today with --done.
    #[arg(long, value_name = "DATE", help_heading = "production-access, confirm")]
    pub confirmed_on: Option<String>,

    // renewal: register-new, install-dpg, confirm, retire-old
    /// The day the new credential was registered at Datafordeler (default today with --done).
    #[arg(long, value_name = "DATE", help_heading = "register-new")]
    pub registered_on: Option<String>,
    /// The day DPG got the new credential (default today with --done).
    #[arg(long, value_name = "DATE", help_heading = "install-dpg")]
    pub installed_on: Option<String>,
    /// The day the old credential was removed at Datafordeler (default today with --done).
    #[arg(long, value_name = "DATE", help_heading = "retire-old")]
    pub retired_on: Option<String>,

    // dpg-handover
    /// The .p12 for DPG (verified first; not with a shared secret); at install-dpg, the
    /// new one.
    #[arg(long, value_name = "FILE", help_heading = "dpg-handover, install-dpg")]
    pub p12: Option<PathBuf>,
    /// How it reaches DPG (default portal).
    #[arg(long, value_enum, help_heading = "dpg-handover, install-dpg")]
    pub via: Option<ViaArg>,
    /// The day DPG got it (default today with --done).
    #[arg(long, value_name = "DATE", help_heading = "dpg-handover")]
    pub handed_over_on: Option<String>,
    /// Who at DPG Service Center received it (implies --via service-center).
    #[arg(long, value_name = "TEXT", help_heading = "dpg-handover, install-dpg")]
    pub received_by: Option<String>,

    // contact (step id `contact`): who the letters are from
    /// Contact person named in the letters.
    #[arg(long, value_name = "NAME", help_heading = "contact")]
    pub contact_name: Option<String>,
    /// Contact e-mail the letters ask to reply to.
    #[arg(long, value_name = "EMAIL", help_heading = "contact")]
    pub contact_email: Option<String>,

    #[command(flatten)]
    pub password: PasswordArgs,
    /// Extra trust anchors (PEM) for test PKIs.
    #[arg(long, value_name = "FILE.pem")]
    pub trust: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LetterKind {
    /// The application to the CPR service desk.
    CprApplication,
    /// The request to Datafordeler support (production access, IP whitelisting).
    DatafordelerSupport,
    /// The note to DPG: how the .p12 reaches it, the client id (no password in it).
    DpgHandover,
    /// The reminder to the CPR service desk to grant the data access (administration).
    DataAccess,
    /// During a renewal: Datafordeler support, to check the new credential's access.
    RenewalSupport,
    /// During a renewal: DPG Service Center, about the new credential.
    RenewalDpg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Language {
    /// Danish.
    Da,
    /// English.
    En,
}

#[derive(Debug, Args)]
pub struct OnboardLetterArgs {
    /// Which letter.
    #[arg(value_enum)]
    pub kind: LetterKind,
    /// The letter's language (the CPR service desk and Datafordeler write Danish).
    #[arg(long, value_enum, default_value_t = Language::Da)]
    pub lang: Language,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Html,
}

#[derive(Debug, Args)]
pub struct OnboardReportArgs {
    /// Markdown for a ticket or a wiki; HTML for a document to print or share.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    /// The report's language: labels, headings and dates' words.
    #[arg(long, value_enum, default_value_t = Language::En)]
    pub lang: Language,
}

// ---------------------------------------------------------------------------------
// lookup, serve, doctor

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiArg {
    /// CPR REST (`wi` lists): the Self-Service route; goes away at the end of 2026.
    Rest,
    /// CPR GraphQL (`in` lists of at most 100): the administration route.
    Graphql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One JSON object per line.
    Jsonl,
    /// A header, then one row per number.
    Csv,
    /// Columns for a person to read.
    Table,
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    /// CPR numbers (DDMMYYSSSS or DDMMYY-SSSS).
    #[arg(value_name = "CPR")]
    pub cprs: Vec<String>,
    /// Read CPR numbers from FILE (`-` for stdin): one per line, or CSV with a `cpr` column.
    #[arg(long, short, value_name = "FILE", conflicts_with = "cprs")]
    pub input: Option<PathBuf>,
    /// Write records to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Carry on an interrupted run: skip the input lines already answered in --output.
    #[arg(long, requires = "output")]
    pub resume: bool,
    /// Ask the `error` rows of an existing --output again and replace them in place
    /// (with --resume, also answer the lines after its end).
    #[arg(long, requires = "output")]
    pub retry_errors: bool,
    /// Replace an existing --output (it stays as it was until Datafordeler answers).
    #[arg(long, conflicts_with_all = ["resume", "retry_errors"])]
    pub force: bool,
    /// The API (default: the config's `api`; graphql with a `client_id`, else rest).
    #[arg(long, value_enum)]
    pub api: Option<ApiArg>,
    /// Requests in flight (default 8; the config's `[lookup] concurrency` can change it).
    #[arg(short = 'j', long = "concurrency", value_name = "N")]
    pub concurrency: Option<u32>,
    /// CPR numbers per request (default 20, at most 100 over GraphQL; the config's
    /// `[lookup] batch_size` can change it).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<u32>,
    /// Requests per second, 0 = unlimited (default 0; the config's
    /// `[lookup] rate_limit_per_sec` can change it).
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// Retries for transient failures (default 4; the config's `[lookup] retries` can
    /// change it).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Per-request timeout in seconds (default 30; the config's
    /// `[lookup] timeout_secs` can change it).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Purpose recorded in the audit trail (at most 200 characters, no CPR number).
    #[arg(long, value_name = "TEXT")]
    pub purpose: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. A non-loopback address needs --token-file.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// File holding the Bearer token clients must send.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Cache answers for this many seconds (0 = no cache; default 3600 or the config's `[serve] cache_ttl_secs`).
    #[arg(long, value_name = "SECS")]
    pub cache_ttl: Option<u64>,
    /// The API (default: the config's `api`; graphql with a `client_id`, else rest).
    #[arg(long, value_enum)]
    pub api: Option<ApiArg>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A CPR number to look up as the last check.
    #[arg(long, value_name = "CPR")]
    pub probe_cpr: Option<String>,
    /// The API (default: the config's `api`; graphql with a `client_id`, else rest).
    #[arg(long, value_enum)]
    pub api: Option<ApiArg>,
}

// ---------------------------------------------------------------------------------
// audit

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Every lookup of one person (time, operator, purpose, outcome): the answer to a
    /// data subject who asks who looked them up.
    Find(AuditFindArgs),
    /// Check every entry against its MAC and the one before; say by line what is wrong
    /// (exit 1).
    Verify,
    /// Drop the entries from before DATE, keeping the rest verifiable.
    Prune(AuditPruneArgs),
}

#[derive(Debug, Args)]
pub struct AuditFindArgs {
    /// The person's CPR number (DDMMYYSSSS or DDMMYY-SSSS); cprlink shows it only masked.
    #[arg(value_name = "CPR")]
    pub cpr: String,
    /// Only lookups at or after DATE (YYYY-MM-DD: midnight UTC; or an RFC 3339 time).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditPruneArgs {
    /// Drop the entries from before DATE (YYYY-MM-DD: midnight UTC; or an RFC 3339
    /// time); not later than now.
    #[arg(long, value_name = "DATE")]
    pub before: String,
}

// ---------------------------------------------------------------------------------
// sandbox, demo

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address of the mutual-TLS listener (REST and token endpoint).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Where to write ca.pem, client.p12, cprlink.toml, persons.csv.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Size of the synthetic population.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub persons: u32,
    /// Seed of the population and of injected faults.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// How long every API answer takes, counted from the request's arrival.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered with a fault (0.0-1.0): 503 Service Unavailable.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Share of requests answered 429 Too Many Requests (with Retry-After).
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub fault_429_rate: f64,
    /// The Retry-After of a 429, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub retry_after: u64,
    /// Share of requests whose connection is dropped halfway through the body.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub fault_reset_rate: f64,
    /// Share of requests whose body trickles out over --slow-body-ms.
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub fault_slow_rate: f64,
    /// How long a slow body takes.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub slow_body_ms: u64,
    /// Lifetime of OAuth tokens (expires_in), in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub token_lifetime: u64,
    /// Most CPR numbers in one GraphQL `in` list; more is refused (Datafordeler: 100).
    #[arg(long, value_name = "N", default_value_t = cprlink_sandbox::DEFAULT_MAX_IN_LIST)]
    pub max_in_list: u32,
    /// Cut every answer to at most N persons, silently (GraphQL nodes, REST pages).
    #[arg(long, value_name = "N")]
    pub max_nodes: Option<u32>,
    /// New credentials (and the sandbox's own at start) get 401 DAF-AUTH-0005 for SECS.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub inert_secs: u64,
    /// The sandbox's own IT-system and certificate lack the data access (403 DAF-AUTH-0001).
    #[arg(long)]
    pub no_data_access: bool,
    /// How GraphQL refuses a call without the data access.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = NoAccessAnswerArg::Http403)]
    pub no_access_answer: NoAccessAnswerArg,
    /// Drop a field from the GraphQL schema and the SDL (e.g. navne.mellemnavn); repeatable.
    #[arg(long, value_name = "PATH")]
    pub schema_drop_field: Vec<String>,
    /// Serve a GraphQL field under another name (e.g. navne.mellemnavn=mellemnavne); repeatable.
    #[arg(long, value_name = "PATH=NAME")]
    pub schema_rename_field: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NoAccessAnswerArg {
    /// HTTP 403 with the GraphQL error DAF-AUTH-0001.
    #[value(name = "http-403")]
    Http403,
    /// HTTP 200 with the GraphQL error DAF-AUTH-0001 and no data.
    GraphqlError,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep everything in DIR instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The shells `cprlink completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}
