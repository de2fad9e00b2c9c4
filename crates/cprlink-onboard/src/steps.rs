//! The steps of both onboarding routes, as data.
//!
//! Owns, per step: its id (the SPEC's ids), title, what to do, where (portal URLs), the
//! exact values to type, the facts to record (with their flag, kind of validation,
//! default and the condition under which they apply), who the step waits on, which
//! fact dates its completion, and the rule for "done". The same for the four steps of a
//! renewal of the credential, per route and method ([`renewal_steps`]). Nothing here
//! reads the state or the clock; `case`, `renewal` and `status` interpret these tables.
//!
//! Sources: `reference/dpg-cpr-guide.txt` (the six Self-Service steps, the virk.dk
//! values, the DPG contact) and `reference/datafordeler.md` sections 3 and 5 (the
//! Administration route, OAuth credentials, the data access granted by the register
//! authority, the DPG Customer Portal).

use serde::{Deserialize, Serialize};

/// Which way the authority connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Datafordeler Self-Service: the six steps of the DPG guide (REST, mutual TLS).
    /// Closed to new sign-ups since 30 June 2026; kept for authorities that already
    /// have a service user.
    Selfservice,
    /// Datafordeler Administration: IT-system, OAuth credential, IP allowlist, GraphQL.
    /// The route of every new case.
    Administration,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Selfservice => "selfservice",
            Route::Administration => "administration",
        }
    }

    /// The steps of this route, in order.
    pub fn steps(self) -> &'static [StepDef] {
        match self {
            Route::Selfservice => SELFSERVICE,
            Route::Administration => ADMINISTRATION,
        }
    }

    /// The step that records the credential registered at Datafordeler (the
    /// certificate on both routes, or the shared secret on `administration`).
    pub fn certificate_step(self) -> &'static str {
        match self {
            Route::Selfservice => "service-user",
            Route::Administration => "credential",
        }
    }

    /// The step that records the DPG service's IP address.
    pub fn ip_step(self) -> &'static str {
        match self {
            Route::Selfservice => "production-access",
            Route::Administration => "ip-allowlist",
        }
    }

    /// The step whose grant opens CPR's data to the IT-system or service user.
    pub fn access_step(self) -> &'static str {
        match self {
            Route::Selfservice => "cpr-approval",
            Route::Administration => "data-access",
        }
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Datafordeler environment the onboarding targets. Production and Test03/Test06
/// take production certificates; Test04 takes MitID Erhverv test certificates
/// (`reference/certificates.md` section 1): `Test` means the test-certificate world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetEnvironment {
    Production,
    Test,
}

impl TargetEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetEnvironment::Production => "production",
            TargetEnvironment::Test => "test",
        }
    }
}

impl std::fmt::Display for TargetEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a recorded value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text, 1..=200 characters, no control characters.
    Text,
    /// One of the listed words.
    Choice(&'static [&'static str]),
    /// `YYYY-MM-DD`, not in the future, not before 2000, not before the dates named in
    /// `after`.
    Date,
    /// `YYYY-MM-DD` of a credential's expiry: in the future, with at least
    /// [`crate::validate::MIN_DAYS_LEFT`] days left.
    Expiry,
    /// A public IPv4 address (Datafordeler allowlists nothing else).
    Ipv4,
    /// The certificate registered at Datafordeler (evidence from the binary).
    Certificate,
    /// The .p12 handed to DPG (evidence from the binary, verified first).
    Handover,
}

impl FieldKind {
    /// A calendar date (checked for order against other dates).
    pub fn is_date(self) -> bool {
        matches!(self, FieldKind::Date | FieldKind::Expiry)
    }
}

/// What a field is set to when its step is marked done without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldDefault {
    /// Nothing: a required field must be recorded.
    None,
    /// Today (dates).
    Today,
    /// This value (a choice with a usual answer).
    Value(&'static str),
}

/// A recorded fact a field depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub step: &'static str,
    pub key: &'static str,
    pub value: &'static str,
}

/// When a field belongs to the case at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    Always,
    /// Only when the condition's fact has its value (a field of one credential method).
    /// When the condition is a fact of the same step that is not recorded yet,
    /// recording this field implies it (`--certificate` implies `--method certificate`).
    When(Condition),
    /// Except when the condition's fact has its value (no .p12 for a shared secret).
    Unless(Condition),
}

/// One fact a step records.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// The key in the state file and in `status --json` facts (snake_case).
    pub key: &'static str,
    /// The `onboard record` flag that sets it.
    pub flag: &'static str,
    /// The flag's value name in help and suggested commands.
    pub value_name: &'static str,
    /// The question asked by `onboard next`.
    pub label: &'static str,
    pub kind: FieldKind,
    /// Needed before the step can be marked done (when it applies).
    pub required: bool,
    /// Set when the step is marked done without it.
    pub default: FieldDefault,
    /// Dates only: must not be before these `(step, key)` dates when they are recorded.
    pub after: &'static [(&'static str, &'static str)],
    /// Dates only: at most this many days after the `(step, key)` date (a shared
    /// secret lives at most 730 days).
    pub at_most_days_after: Option<(&'static str, &'static str, i64)>,
    pub applies: Applies,
}

impl FieldDef {
    /// The fact key that tells whether this field is recorded (certificates are stored
    /// as several facts; their thumbprint stands for them).
    pub fn presence_key(&self) -> &'static str {
        match self.kind {
            FieldKind::Certificate => "certificate_sha1_thumbprint",
            FieldKind::Handover => "p12_sha1_thumbprint",
            _ => self.key,
        }
    }

    /// `--flag VALUE`, for suggested commands.
    pub fn usage(&self) -> String {
        format!("{} {}", self.flag, self.value_name)
    }

    /// Set to today when the step is marked done without it.
    pub fn defaults_to_today(&self) -> bool {
        self.default == FieldDefault::Today
    }
}

/// A field with the usual settings, for the tables below.
const fn field(
    key: &'static str,
    flag: &'static str,
    value_name: &'static str,
    label: &'static str,
    kind: FieldKind,
) -> FieldDef {
    FieldDef {
        key,
        flag,
        value_name,
        label,
        kind,
        required: true,
        default: FieldDefault::None,
        after: &[],
        at_most_days_after: None,
        applies: Applies::Always,
    }
}

/// A link to a portal or a page.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub label: &'static str,
    pub url: &'static str,
}

/// Where an exact value comes from.
#[derive(Debug, Clone, Copy)]
pub enum ValueSource {
    Literal(&'static str),
    /// Differs between a production and a test onboarding.
    ByEnvironment {
        production: &'static str,
        test: &'static str,
    },
    /// A fact recorded earlier; `suffix` is appended (e.g. `/32`).
    Fact {
        step: &'static str,
        key: &'static str,
        suffix: &'static str,
    },
    /// A recorded choice in words (`default` while it is not recorded).
    Choice {
        step: &'static str,
        key: &'static str,
        default: &'static str,
        texts: &'static [(&'static str, &'static str)],
    },
    /// The authority's CVR.
    Cvr,
    /// A fact of the credential a renewal brings (`certificate_sha1_thumbprint`, ...).
    NewCredential {
        key: &'static str,
    },
    /// A fact of the credential a renewal replaces.
    OldCredential {
        key: &'static str,
    },
}

/// One exact value to type into a portal or a form.
#[derive(Debug, Clone, Copy)]
pub struct ValueDef {
    pub label: &'static str,
    pub value: ValueSource,
    pub applies: Applies,
}

const fn value(label: &'static str, value: ValueSource) -> ValueDef {
    ValueDef {
        label,
        value,
        applies: Applies::Always,
    }
}

/// One step of a route.
#[derive(Debug, Clone, Copy)]
pub struct StepDef {
    pub id: &'static str,
    pub title: &'static str,
    /// What to do, for a person reading it at the portal.
    pub what: &'static str,
    pub links: &'static [Link],
    pub values: &'static [ValueDef],
    pub fields: &'static [FieldDef],
    /// The organisation this step waits on, when it does.
    pub waits_on: Option<&'static str>,
    /// Fact keys whose presence means the request has gone out and the step now waits
    /// (empty: it waits as soon as the steps before it are done).
    pub waiting_after: &'static [&'static str],
    /// The date fact that says when the step was done in the world (the approval's
    /// date, not the day someone typed it in).
    pub done_date: Option<&'static str>,
    /// The rule for "done", in words.
    pub done_when: &'static str,
    /// The next action in one sentence, for `status`.
    pub action: &'static str,
}

impl StepDef {
    pub fn field(&self, key: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The field with this flag (`--dpg-ip`).
    pub fn field_by_flag(&self, flag: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.flag == flag)
    }
}

const SELFSERVICE_URL: Link = Link {
    label: "Datafordeler Self-Service",
    url: "https://selfservice.datafordeler.dk",
};
const CPR_HELP: Link = Link {
    label: "CPR service desk: REST for public authorities",
    url: "https://cprservicedesk.atlassian.net/wiki/spaces/CPR/pages/11436062/REST+til+offentlige+myndigheder",
};
const CPR_GRAPHQL: Link = Link {
    label: "CPR on Datafordeler: GraphQL",
    url: "https://confluence.sdfi.dk/x/WYBGDg",
};
const CPR_ACCESS_GUIDE: Link = Link {
    label: "Datafordeler: access to CPR (both routes)",
    url: "https://datafordeler.dk/vejledning/brugeradgang/anmodning-om-adgang/det-centrale-personregister-cpr/",
};
const VIRK: Link = Link {
    label: "virk.dk (the application form)",
    url: "https://virk.dk",
};
const DATAFORDELER: Link = Link {
    label: "Datafordeler (support and Datafordeler Administration)",
    url: "https://datafordeler.dk",
};
const DPG_SERVICE_CENTER: Link = Link {
    label: "DPG Service Center, +45 70 20 62 80",
    url: "mailto:servicecenter@sikker-post.dk",
};
const DPG_PORTAL: Link = Link {
    label: "DPG Customer Portal",
    url: "https://portal.timengodpg.com",
};

const ENVIRONMENT: ValueSource = ValueSource::ByEnvironment {
    production: "Production",
    test: "Demo (Test)",
};

/// The two credential methods of an IT-system (`reference/datafordeler.md` section 5).
pub const METHODS: &[&str] = &["certificate", "shared-secret"];
/// The two ways to get the .p12 to DPG: the Customer Portal is the default since DPG's
/// release of 23 April 2026; the Service Center is the fallback.
pub const VIA: &[&str] = &["portal", "service-center"];

const USES_CERTIFICATE: Condition = Condition {
    step: "credential",
    key: "method",
    value: "certificate",
};
const USES_SECRET: Condition = Condition {
    step: "credential",
    key: "method",
    value: "shared-secret",
};
const VIA_SERVICE_CENTER: Condition = Condition {
    step: "dpg-handover",
    key: "via",
    value: "service-center",
};

// ---- fields shared by the routes --------------------------------------------------

const CERTIFICATE: FieldDef = field(
    "certificate",
    "--certificate",
    "FILE",
    "Certificate file you uploaded (.cer, .pem or .p12)",
    FieldKind::Certificate,
);
const DPG_IP: FieldDef = field(
    "dpg_ip",
    "--dpg-ip",
    "IPV4",
    "DPG service's fixed external IPv4 address",
    FieldKind::Ipv4,
);
const CASE_NUMBER: FieldDef = field(
    "case_number",
    "--case-number",
    "TEXT",
    "CPR service desk case number",
    FieldKind::Text,
);
const APPLIED_ON: FieldDef = FieldDef {
    default: FieldDefault::Today,
    ..field(
        "applied_on",
        "--applied-on",
        "DATE",
        "Date the virk.dk application was sent (YYYY-MM-DD)",
        FieldKind::Date,
    )
};
const VIRK_RECEIPT: FieldDef = FieldDef {
    required: false,
    ..field(
        "virk_receipt",
        "--virk-receipt",
        "TEXT",
        "virk.dk receipt number (optional)",
        FieldKind::Text,
    )
};
const APPROVED_ON: FieldDef = FieldDef {
    default: FieldDefault::Today,
    after: &[("cpr-application", "applied_on")],
    ..field(
        "approved_on",
        "--approved-on",
        "DATE",
        "Date of the CPR approval (YYYY-MM-DD)",
        FieldKind::Date,
    )
};
const APPROVAL_REFERENCE: FieldDef = FieldDef {
    required: false,
    ..field(
        "approval_reference",
        "--approval-reference",
        "TEXT",
        "Reference of the approval letter (optional)",
        FieldKind::Text,
    )
};
const VIA_FIELD: FieldDef = FieldDef {
    default: FieldDefault::Value("portal"),
    ..field(
        "via",
        "--via",
        "WAY",
        "How the .p12 reaches DPG (portal or service-center)",
        FieldKind::Choice(VIA),
    )
};
const RECEIVED_BY: FieldDef = FieldDef {
    applies: Applies::When(VIA_SERVICE_CENTER),
    ..field(
        "received_by",
        "--received-by",
        "TEXT",
        "Who at DPG Service Center received it",
        FieldKind::Text,
    )
};

const CPR_APPROVAL: StepDef = StepDef {
    id: "cpr-approval",
    title: "Approval from the CPR service desk",
    what: "Wait for the CPR service desk to process the application. When the approval \
           arrives, record its date (and reference, if the letter has one).",
    links: &[CPR_HELP],
    values: &[value(
        "CPR case number to quote",
        ValueSource::Fact {
            step: "cpr-application",
            key: "case_number",
            suffix: "",
        },
    )],
    fields: &[APPROVED_ON, APPROVAL_REFERENCE],
    waits_on: Some("the CPR service desk"),
    waiting_after: &[],
    done_date: Some("approved_on"),
    done_when: "the approval date is recorded",
    action: "Wait for the CPR service desk's approval",
};

const HANDOVER_WAY: ValueDef = value(
    "How it reaches DPG",
    ValueSource::Choice {
        step: "dpg-handover",
        key: "via",
        default: "portal",
        texts: &[
            (
                "portal",
                "you install it in the DPG Customer Portal, https://portal.timengodpg.com \
                 (--via portal, the default)",
            ),
            (
                "service-center",
                "you send it to DPG Service Center, servicecenter@sikker-post.dk \
                 (--via service-center)",
            ),
        ],
    },
);

const HANDOVER_WHAT_SELFSERVICE: &str = "Give DPG the same certificate, with its private key, \
    as a .p12 file. Verify it first (`cprlink cert verify FILE.p12 --cvr CVR --cer FILE.cer`). \
    Since 23 April 2026 you install it yourself in the DPG Customer Portal \
    (portal.timengodpg.com, `--via portal`, the default); DPG Service Center is the fallback \
    (`--via service-center`: send the .p12, the password by another channel such as phone \
    or SMS, never with the file). The note to DPG: `cprlink onboard letter dpg-handover`.";

const HANDOVER_WHAT_ADMINISTRATION: &str = "Give DPG what it needs to call CPR for you: the \
    IT-system's client id and, with an OAuth certificate, the same certificate with its \
    private key as a .p12 file (verify it first: `cprlink cert verify FILE.p12 --cvr CVR`). \
    Since 23 April 2026 you install the .p12 yourself in the DPG Customer Portal \
    (portal.timengodpg.com, `--via portal`, the default); DPG Service Center is the fallback \
    (`--via service-center`: the .p12 by e-mail, the password by another channel). With a \
    shared secret there is no .p12: give DPG the secret through a secure channel; cprlink \
    never stores it. Note: DPG's public documentation describes only the REST (Self-Service) \
    connection; nothing public says whether DPG calls CPR's GraphQL with your client id, so \
    confirm it with DPG. The note to DPG: `cprlink onboard letter dpg-handover`.";

const DPG_NOTE: ValueDef = value(
    "Ask DPG",
    ValueSource::Literal(
        "DPG's public documentation describes only the REST (Self-Service) connection: \
         confirm that DPG calls CPR's GraphQL with this client id",
    ),
);

// ---- route selfservice --------------------------------------------------------------

/// The six steps of `reference/dpg-cpr-guide.txt`.
pub const SELFSERVICE: &[StepDef] = &[
    StepDef {
        id: "selfservice-user",
        title: "Web user in Datafordeler Self-Service",
        what: "Go to Datafordeler Self-Service and create a new web user (\"Opret\"), with \
               username and password or with MitID. Use the Self-Service of the \
               environment you target.",
        links: &[SELFSERVICE_URL],
        values: &[value("Environment", ENVIRONMENT)],
        fields: &[
            field(
                "username",
                "--username",
                "TEXT",
                "Username of the web user",
                FieldKind::Text,
            ),
            field(
                "login_method",
                "--login-method",
                // Not `password|mitid`: suggested commands get copy-pasted into a shell.
                "METHOD",
                "How the web user logs in (password or mitid)",
                FieldKind::Choice(&["password", "mitid"]),
            ),
        ],
        waits_on: None,
        waiting_after: &[],
        done_date: None,
        done_when: "the web user's username and login method are recorded",
        action: "Create a web user in Datafordeler Self-Service (https://selfservice.datafordeler.dk)",
    },
    StepDef {
        id: "service-user",
        title: "Service user with the certificate (CER)",
        what: "Logged in as the web user, select + to create a Service User with certificate \
               authentication, and upload the system or organisation certificate in CER \
               format. Make the CER with `cprlink cert export-cer FILE.p12 --out FILE.cer` and \
               compare the SHA-1 thumbprint the portal shows with the one cprlink prints.",
        links: &[SELFSERVICE_URL],
        values: &[
            value(
                "Authentication",
                ValueSource::Literal("Certificate (system or organisation certificate, OCES3)"),
            ),
            value(
                "File to upload",
                ValueSource::Literal(
                    "the .cer made by `cprlink cert export-cer` (public part only)",
                ),
            ),
            value("CVR in the certificate", ValueSource::Cvr),
        ],
        fields: &[
            field(
                "service_user",
                "--service-user",
                "TEXT",
                "Name of the service user",
                FieldKind::Text,
            ),
            CERTIFICATE,
        ],
        waits_on: None,
        waiting_after: &[],
        done_date: None,
        done_when: "the service user's name and the uploaded certificate are recorded",
        action: "Create a service user in Datafordeler Self-Service and upload the certificate in CER format",
    },
    StepDef {
        id: "cpr-application",
        title: "CPR application (case number, then virk.dk)",
        what: "Write to the CPR service desk to get a case number (`cprlink onboard letter \
               cpr-application`). With the case number, apply on virk.dk using exactly the \
               values below.",
        links: &[CPR_HELP, VIRK],
        values: &[
            value("Production or Demo (Test)", ENVIRONMENT),
            value("Products", ValueSource::Literal("Datafordeler")),
            value(
                "Datafordeler services",
                ValueSource::Literal("CprPersonSmallSimple (PersonSmallCurrentListSimple)"),
            ),
            value(
                "Service user",
                ValueSource::Fact {
                    step: "service-user",
                    key: "service_user",
                    suffix: "",
                },
            ),
        ],
        fields: &[CASE_NUMBER, APPLIED_ON, VIRK_RECEIPT],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("applied_on"),
        done_when: "the case number and the date of the virk.dk application are recorded",
        action: "Ask the CPR service desk for a case number (`cprlink onboard letter cpr-application`) and apply on virk.dk",
    },
    CPR_APPROVAL,
    StepDef {
        id: "production-access",
        title: "Production access and IP whitelisting",
        what: "Write to Datafordeler support (`cprlink onboard letter datafordeler-support`): \
               ask for Production access for the web user and the service user, citing the \
               CPR approval, and for whitelisting of the DPG service's fixed external IPv4 \
               address (ask DPG Service Center if you do not have it). Record the IP before \
               you write the letter, and the date you sent it.",
        links: &[DATAFORDELER, DPG_SERVICE_CENTER],
        values: &[
            value("Environment", ENVIRONMENT),
            value(
                "IP address to whitelist",
                ValueSource::Fact {
                    step: "production-access",
                    key: "dpg_ip",
                    suffix: "",
                },
            ),
            value(
                "CPR case number",
                ValueSource::Fact {
                    step: "cpr-application",
                    key: "case_number",
                    suffix: "",
                },
            ),
        ],
        fields: &[
            DPG_IP,
            FieldDef {
                required: false,
                after: &[("cpr-approval", "approved_on")],
                ..field(
                    "requested_on",
                    "--requested-on",
                    "DATE",
                    "Date the request went to Datafordeler support (optional)",
                    FieldKind::Date,
                )
            },
            FieldDef {
                required: false,
                ..field(
                    "support_ticket",
                    "--support-ticket",
                    "TEXT",
                    "Datafordeler support ticket number (optional)",
                    FieldKind::Text,
                )
            },
            FieldDef {
                default: FieldDefault::Today,
                after: &[
                    ("cpr-approval", "approved_on"),
                    ("production-access", "requested_on"),
                ],
                ..field(
                    "confirmed_on",
                    "--confirmed-on",
                    "DATE",
                    "Date Datafordeler support confirmed (YYYY-MM-DD)",
                    FieldKind::Date,
                )
            },
        ],
        waits_on: Some("Datafordeler support"),
        waiting_after: &["requested_on", "support_ticket"],
        done_date: Some("confirmed_on"),
        done_when: "the DPG IP is recorded and Datafordeler support has confirmed",
        action: "Ask Datafordeler support for Production access and IP whitelisting (`cprlink onboard letter datafordeler-support`)",
    },
    StepDef {
        id: "dpg-handover",
        title: "Certificate handed to DPG (.p12)",
        what: HANDOVER_WHAT_SELFSERVICE,
        links: &[DPG_PORTAL, DPG_SERVICE_CENTER],
        values: &[
            HANDOVER_WAY,
            value(
                "SHA-1 thumbprint DPG must see",
                ValueSource::Fact {
                    step: "service-user",
                    key: "certificate_sha1_thumbprint",
                    suffix: "",
                },
            ),
        ],
        fields: &[
            field(
                "p12",
                "--p12",
                "FILE",
                "The .p12 file for DPG",
                FieldKind::Handover,
            ),
            VIA_FIELD,
            FieldDef {
                default: FieldDefault::Today,
                after: &[("production-access", "confirmed_on")],
                ..field(
                    "handed_over_on",
                    "--handed-over-on",
                    "DATE",
                    "Date DPG got it (YYYY-MM-DD)",
                    FieldKind::Date,
                )
            },
            RECEIVED_BY,
        ],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("handed_over_on"),
        done_when: "a verified .p12 with the registered certificate is recorded as installed at DPG",
        action: "Verify the .p12 and install it in the DPG Customer Portal (or hand it to DPG Service Center, the password by another channel)",
    },
];

// ---- route administration -------------------------------------------------------------

/// The Datafordeler Administration route (`reference/datafordeler.md` sections 3 and 5).
pub const ADMINISTRATION: &[StepDef] = &[
    StepDef {
        id: "it-system",
        title: "IT-system in Datafordeler Administration",
        what: "Log in to Datafordeler Administration with MitID Erhverv and create an \
               IT-system for the DPG connection (one per environment: Test04 and Production \
               each get their own). Note its name and its client id (DPG needs the client id \
               to get OAuth tokens).",
        links: &[DATAFORDELER, CPR_ACCESS_GUIDE],
        values: &[
            value("Log in with", ValueSource::Literal("MitID Erhverv")),
            value("Environment", ENVIRONMENT),
        ],
        fields: &[
            field(
                "it_system",
                "--it-system",
                "TEXT",
                "Name of the IT-system",
                FieldKind::Text,
            ),
            field(
                "client_id",
                "--client-id",
                "TEXT",
                "The IT-system's client id",
                FieldKind::Text,
            ),
        ],
        waits_on: None,
        waiting_after: &[],
        done_date: None,
        done_when: "the IT-system's name and client id are recorded",
        action: "Log in to Datafordeler Administration with MitID Erhverv and create an IT-system",
    },
    StepDef {
        id: "credential",
        title: "OAuth credential on the IT-system",
        what: "Give the IT-system its OAuth credential. Either a certificate (`--method \
               certificate`): under \"OAuth certifikat\", upload the OCES3 system or \
               organisation certificate in PEM format, made with `cprlink cert export-cer \
               FILE.p12 --out FILE.pem --encoding pem`. Or a shared secret (`--method \
               shared-secret`): create one, copy it at once (it is shown only once) into a \
               file only the lookup service can read, and record when it was created and \
               when it expires (at most 730 days later); cprlink never records the secret. \
               Recording the credential again later is a rotation: it must then be given to \
               DPG again.",
        links: &[DATAFORDELER, CPR_GRAPHQL],
        values: &[
            value(
                "Section",
                ValueSource::Choice {
                    step: "credential",
                    key: "method",
                    default: "",
                    texts: &[
                        ("certificate", "OAuth certifikat"),
                        ("shared-secret", "OAuth shared secret"),
                        (
                            "",
                            "OAuth certifikat (certificate) or OAuth shared secret (choose with --method)",
                        ),
                    ],
                },
            ),
            ValueDef {
                applies: Applies::Unless(USES_SECRET),
                ..value(
                    "Format",
                    ValueSource::Literal("PEM (Base-64), public part only"),
                )
            },
            ValueDef {
                applies: Applies::Unless(USES_SECRET),
                ..value("CVR in the certificate", ValueSource::Cvr)
            },
        ],
        fields: &[
            field(
                "method",
                "--method",
                "METHOD",
                "The IT-system's OAuth credential (certificate or shared-secret)",
                FieldKind::Choice(METHODS),
            ),
            FieldDef {
                applies: Applies::When(USES_CERTIFICATE),
                label: "The certificate uploaded as PEM (.pem, .cer or .p12)",
                ..CERTIFICATE
            },
            FieldDef {
                default: FieldDefault::Today,
                applies: Applies::When(USES_SECRET),
                ..field(
                    "created_on",
                    "--created-on",
                    "DATE",
                    "Date the shared secret was created (YYYY-MM-DD)",
                    FieldKind::Date,
                )
            },
            FieldDef {
                applies: Applies::When(USES_SECRET),
                after: &[("credential", "created_on")],
                // Datafordeler: a shared secret expires after at most 730 days.
                at_most_days_after: Some(("credential", "created_on", 730)),
                ..field(
                    "expires_on",
                    "--expires-on",
                    "DATE",
                    "Date the shared secret expires (at most 730 days after it was created)",
                    FieldKind::Expiry,
                )
            },
        ],
        waits_on: None,
        waiting_after: &[],
        done_date: None,
        done_when: "the method and the uploaded certificate (or the shared secret's dates) are recorded",
        action: "Give the IT-system its OAuth credential: upload the certificate as PEM under \"OAuth certifikat\", or create a shared secret",
    },
    StepDef {
        id: "ip-allowlist",
        title: "IP allowlist (/32) on the IT-system",
        what: "On the IT-system, add the DPG service's fixed external IPv4 address to the IP \
               allowlist as a single-address /32 range (ask DPG Service Center for the \
               address). Datafordeler cannot allowlist IPv6 addresses.",
        links: &[DATAFORDELER, DPG_SERVICE_CENTER],
        values: &[value(
            "IP range",
            ValueSource::Fact {
                step: "ip-allowlist",
                key: "dpg_ip",
                suffix: "/32",
            },
        )],
        fields: &[
            DPG_IP,
            FieldDef {
                default: FieldDefault::Today,
                ..field(
                    "added_on",
                    "--added-on",
                    "DATE",
                    "Date the address was added (YYYY-MM-DD)",
                    FieldKind::Date,
                )
            },
        ],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("added_on"),
        done_when: "the DPG IP is recorded as added to the allowlist",
        action: "Add the DPG service's IPv4 address as a /32 range to the IT-system's IP allowlist",
    },
    StepDef {
        id: "cpr-application",
        title: "CPR application (ticket, then virk.dk)",
        what: "Open a ticket with the CPR service desk to get a case number (`cprlink onboard \
               letter cpr-application`). With the case number, submit the virk.dk form using \
               exactly the values below.",
        links: &[CPR_HELP, VIRK, CPR_ACCESS_GUIDE],
        values: &[
            value("Production or Demo (Test)", ENVIRONMENT),
            value(
                "Products",
                ValueSource::Literal("Datafordeler GraphQL og Fildownload"),
            ),
            value(
                "IT-system",
                ValueSource::Fact {
                    step: "it-system",
                    key: "it_system",
                    suffix: "",
                },
            ),
        ],
        fields: &[CASE_NUMBER, APPLIED_ON, VIRK_RECEIPT],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("applied_on"),
        done_when: "the case number and the date of the virk.dk application are recorded",
        action: "Open a ticket with the CPR service desk (`cprlink onboard letter cpr-application`) and submit the virk.dk form",
    },
    CPR_APPROVAL,
    StepDef {
        id: "data-access",
        title: "Data access CustomPublicSectorPerson",
        what: "After the approval, request the data access on the IT-system in Datafordeler \
               Administration: \"Dataadgang\" -> create -> attach the CPR approval -> CPR -> \
               CustomPublicSectorPerson (it cannot be combined with PrivateSector). Record \
               the day you requested it; then the register authority (CPR) must grant it. \
               Record the day it was granted. A reminder: `cprlink onboard letter \
               data-access`.",
        links: &[DATAFORDELER, CPR_ACCESS_GUIDE],
        values: &[
            value(
                "Data access",
                ValueSource::Literal("CustomPublicSectorPerson"),
            ),
            value(
                "Attach",
                ValueSource::Fact {
                    step: "cpr-approval",
                    key: "approved_on",
                    suffix: " (the CPR approval of that day)",
                },
            ),
        ],
        fields: &[
            FieldDef {
                after: &[("cpr-approval", "approved_on")],
                ..field(
                    "requested_on",
                    "--requested-on",
                    "DATE",
                    "Date the data access was requested on the IT-system (YYYY-MM-DD)",
                    FieldKind::Date,
                )
            },
            FieldDef {
                default: FieldDefault::Today,
                after: &[("data-access", "requested_on")],
                ..field(
                    "granted_on",
                    "--granted-on",
                    "DATE",
                    "Date the register authority granted it (YYYY-MM-DD)",
                    FieldKind::Date,
                )
            },
        ],
        waits_on: Some("the register authority (CPR)"),
        waiting_after: &["requested_on"],
        done_date: Some("granted_on"),
        done_when: "the request and the register authority's grant are recorded",
        action: "Request the data access CustomPublicSectorPerson on the IT-system, with the CPR approval attached",
    },
    StepDef {
        id: "dpg-handover",
        title: "Credential and client id to DPG",
        what: HANDOVER_WHAT_ADMINISTRATION,
        links: &[DPG_PORTAL, DPG_SERVICE_CENTER],
        values: &[
            ValueDef {
                applies: Applies::Unless(USES_SECRET),
                ..HANDOVER_WAY
            },
            value(
                "Client id for DPG",
                ValueSource::Fact {
                    step: "it-system",
                    key: "client_id",
                    suffix: "",
                },
            ),
            ValueDef {
                applies: Applies::Unless(USES_SECRET),
                ..value(
                    "SHA-1 thumbprint DPG must see",
                    ValueSource::Fact {
                        step: "credential",
                        key: "certificate_sha1_thumbprint",
                        suffix: "",
                    },
                )
            },
            ValueDef {
                applies: Applies::When(USES_SECRET),
                ..value(
                    "Shared secret",
                    ValueSource::Literal(
                        "give it to DPG through a secure channel, never in clear e-mail; cprlink never stores it",
                    ),
                )
            },
            DPG_NOTE,
        ],
        fields: &[
            FieldDef {
                applies: Applies::Unless(USES_SECRET),
                ..field(
                    "p12",
                    "--p12",
                    "FILE",
                    "The .p12 file for DPG",
                    FieldKind::Handover,
                )
            },
            VIA_FIELD,
            FieldDef {
                default: FieldDefault::Today,
                after: &[("data-access", "granted_on")],
                ..field(
                    "handed_over_on",
                    "--handed-over-on",
                    "DATE",
                    "Date DPG got it (YYYY-MM-DD)",
                    FieldKind::Date,
                )
            },
            RECEIVED_BY,
        ],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("handed_over_on"),
        done_when: "DPG has the client id and the credential (a verified .p12 of the registered certificate, or the shared secret)",
        action: "Give DPG the client id and the credential: install the verified .p12 in the DPG Customer Portal (or hand it to DPG Service Center)",
    },
];

// ---- renewal ----------------------------------------------------------------------------

/// The steps of a renewal, in order (the same ids on both routes and for both methods).
pub const RENEWAL_STEP_IDS: &[&str] = &["register-new", "install-dpg", "confirm", "retire-old"];

/// Whether `id` names a step of a renewal (never one of a route: the ids differ).
pub fn is_renewal_step(id: &str) -> bool {
    RENEWAL_STEP_IDS.contains(&id)
}

/// The renewal steps for a case on `route` whose credential is `method`
/// (`certificate` or `shared-secret`).
pub fn renewal_steps(route: Route, method: &str) -> &'static [StepDef] {
    match (route, method) {
        (Route::Administration, "shared-secret") => RENEWAL_SECRET,
        (Route::Administration, _) => RENEWAL_ADMINISTRATION,
        (Route::Selfservice, _) => RENEWAL_SELFSERVICE,
    }
}

const VIA_SERVICE_CENTER_RENEWAL: Condition = Condition {
    step: "install-dpg",
    key: "via",
    value: "service-center",
};

const REGISTERED_ON: FieldDef = FieldDef {
    default: FieldDefault::Today,
    ..field(
        "registered_on",
        "--registered-on",
        "DATE",
        "Date the new certificate was registered at Datafordeler (YYYY-MM-DD)",
        FieldKind::Date,
    )
};
const INSTALLED_ON: FieldDef = FieldDef {
    default: FieldDefault::Today,
    after: &[("register-new", "registered_on")],
    ..field(
        "installed_on",
        "--installed-on",
        "DATE",
        "Date DPG got the new credential (YYYY-MM-DD)",
        FieldKind::Date,
    )
};
const CONFIRMED_ON: FieldDef = FieldDef {
    default: FieldDefault::Today,
    after: &[("install-dpg", "installed_on")],
    ..field(
        "confirmed_on",
        "--confirmed-on",
        "DATE",
        "Date a lookup (or `cprlink doctor`) with the new credential succeeded (YYYY-MM-DD)",
        FieldKind::Date,
    )
};
const RETIRED_ON: FieldDef = FieldDef {
    default: FieldDefault::Today,
    after: &[("confirm", "confirmed_on")],
    ..field(
        "retired_on",
        "--retired-on",
        "DATE",
        "Date the old credential was removed at Datafordeler (YYYY-MM-DD)",
        FieldKind::Date,
    )
};

const NEW_THUMBPRINT: ValueDef = value(
    "SHA-1 thumbprint of the new certificate",
    ValueSource::NewCredential {
        key: "certificate_sha1_thumbprint",
    },
);
const OLD_THUMBPRINT: ValueDef = value(
    "SHA-1 thumbprint of the old certificate",
    ValueSource::OldCredential {
        key: "certificate_sha1_thumbprint",
    },
);

/// install-dpg with a certificate: the new .p12, verified, through the portal or the
/// Service Center (as at `dpg-handover`).
const INSTALL_CERTIFICATE: StepDef = StepDef {
    id: "install-dpg",
    title: "New certificate installed at DPG (.p12)",
    what: "Install the new certificate, with its private key, as a .p12 at DPG at once: DPG \
           says a renewed certificate must be installed right after it is downloaded, or the \
           integrations stop. Verify it first (`cprlink cert verify NEW.p12 --renewal-of \
           OLD.pem`). Install it yourself in the DPG Customer Portal (portal.timengodpg.com, \
           `--via portal`, the default), or send it to DPG Service Center (`--via \
           service-center`, the password by another channel; the note to DPG: `cprlink \
           onboard letter renewal-dpg`).",
    links: &[DPG_PORTAL, DPG_SERVICE_CENTER],
    values: &[
        value(
            "How it reaches DPG",
            ValueSource::Choice {
                step: "install-dpg",
                key: "via",
                default: "portal",
                texts: &[
                    (
                        "portal",
                        "you install it in the DPG Customer Portal, https://portal.timengodpg.com \
                         (--via portal, the default)",
                    ),
                    (
                        "service-center",
                        "you send it to DPG Service Center, servicecenter@sikker-post.dk \
                         (--via service-center)",
                    ),
                ],
            },
        ),
        value(
            "SHA-1 thumbprint DPG must see",
            ValueSource::NewCredential {
                key: "certificate_sha1_thumbprint",
            },
        ),
    ],
    fields: &[
        field(
            "p12",
            "--p12",
            "FILE",
            "The new .p12 file for DPG",
            FieldKind::Handover,
        ),
        FieldDef {
            default: FieldDefault::Value("portal"),
            ..field(
                "via",
                "--via",
                "WAY",
                "How the .p12 reaches DPG (portal or service-center)",
                FieldKind::Choice(VIA),
            )
        },
        INSTALLED_ON,
        FieldDef {
            applies: Applies::When(VIA_SERVICE_CENTER_RENEWAL),
            ..field(
                "received_by",
                "--received-by",
                "TEXT",
                "Who at DPG Service Center received it",
                FieldKind::Text,
            )
        },
    ],
    waits_on: None,
    waiting_after: &[],
    done_date: Some("installed_on"),
    done_when: "a verified .p12 of the new certificate is recorded as installed at DPG",
    action: "Install the new .p12 at DPG at once (the DPG Customer Portal, or DPG Service Center)",
};

const CONFIRM_CERTIFICATE: StepDef = StepDef {
    id: "confirm",
    title: "A lookup works with the new certificate",
    what: "Check that the new certificate works before the old one goes: point `[certificate] \
           p12` of the lookup service's cprlink.toml at the new .p12 and run `cprlink doctor` \
           (it ends with one lookup), or ask DPG to confirm that a lookup went through. New \
           credentials can be refused for a while at first (401 DAF-AUTH-0005): try again \
           after 20 minutes before you suspect the registration.",
    links: &[DATAFORDELER],
    values: &[NEW_THUMBPRINT],
    fields: &[CONFIRMED_ON],
    waits_on: None,
    waiting_after: &[],
    done_date: Some("confirmed_on"),
    done_when: "a lookup or `cprlink doctor` with the new certificate succeeded",
    action: "Check a lookup with the new certificate (`cprlink doctor`)",
};

/// The renewal of an OAuth certificate (route administration).
pub const RENEWAL_ADMINISTRATION: &[StepDef] = &[
    StepDef {
        id: "register-new",
        title: "New certificate registered on the IT-system (PEM)",
        what: "In Datafordeler Administration, on the IT-system, upload the new certificate in \
               PEM format under \"OAuth certifikat\", next to the old one: keep the old one \
               until a lookup works with the new one (step confirm). Make the PEM with \
               `cprlink cert export-cer NEW.p12 --out NEW.pem --encoding pem`. If the portal \
               refuses it, Datafordeler support can help (`cprlink onboard letter \
               renewal-support`).",
        links: &[DATAFORDELER],
        values: &[
            value("Section", ValueSource::Literal("OAuth certifikat")),
            value(
                "Format",
                ValueSource::Literal("PEM (Base-64), public part only"),
            ),
            NEW_THUMBPRINT,
            value(
                "IT-system",
                ValueSource::Fact {
                    step: "it-system",
                    key: "it_system",
                    suffix: "",
                },
            ),
        ],
        fields: &[REGISTERED_ON],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("registered_on"),
        done_when: "the day the new certificate was uploaded to the IT-system is recorded",
        action: "Upload the new certificate as PEM under \"OAuth certifikat\" on the IT-system, next to the old one",
    },
    INSTALL_CERTIFICATE,
    CONFIRM_CERTIFICATE,
    StepDef {
        id: "retire-old",
        title: "Old certificate removed from the IT-system",
        what: "Once a lookup works with the new certificate, remove the old one from the \
               IT-system in Datafordeler Administration (\"OAuth certifikat\"). Until then both \
               are accepted; after its expiry the old one is useless anyway.",
        links: &[DATAFORDELER],
        values: &[OLD_THUMBPRINT],
        fields: &[RETIRED_ON],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("retired_on"),
        done_when: "the day the old certificate was removed is recorded",
        action: "Remove the old certificate from the IT-system in Datafordeler Administration",
    },
];

/// The renewal of a service user's certificate (route selfservice).
pub const RENEWAL_SELFSERVICE: &[StepDef] = &[
    StepDef {
        id: "register-new",
        title: "New certificate on the service user (CER)",
        what: "In Datafordeler Self-Service, on the service user, upload the new certificate in \
               CER format next to the old one (keep the old one until a lookup works with the \
               new one). Make the CER with `cprlink cert export-cer NEW.p12 --out NEW.cer`, and \
               compare the thumbprint the portal shows. If the portal does not let you add it, \
               ask Datafordeler support (`cprlink onboard letter renewal-support`).",
        links: &[SELFSERVICE_URL, DATAFORDELER],
        values: &[
            value(
                "File to upload",
                ValueSource::Literal(
                    "the .cer made by `cprlink cert export-cer` (public part only)",
                ),
            ),
            NEW_THUMBPRINT,
            value(
                "Service user",
                ValueSource::Fact {
                    step: "service-user",
                    key: "service_user",
                    suffix: "",
                },
            ),
        ],
        fields: &[REGISTERED_ON],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("registered_on"),
        done_when: "the day the new certificate was uploaded to the service user is recorded",
        action: "Upload the new certificate as CER to the service user in Datafordeler Self-Service",
    },
    INSTALL_CERTIFICATE,
    CONFIRM_CERTIFICATE,
    StepDef {
        id: "retire-old",
        title: "Old certificate removed from the service user",
        what: "Once a lookup works with the new certificate, remove the old one from the service \
               user in Datafordeler Self-Service. Until then both are accepted; after its expiry \
               the old one is useless anyway.",
        links: &[SELFSERVICE_URL],
        values: &[OLD_THUMBPRINT],
        fields: &[RETIRED_ON],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("retired_on"),
        done_when: "the day the old certificate was removed is recorded",
        action: "Remove the old certificate from the service user in Datafordeler Self-Service",
    },
];

/// The renewal of a shared secret: a rotation. DPG holds the secret (it got it at
/// `dpg-handover`), so the new one goes to DPG too; register-new is the secret's
/// creation, recorded when the renewal starts.
pub const RENEWAL_SECRET: &[StepDef] = &[
    StepDef {
        id: "register-new",
        title: "New shared secret created on the IT-system",
        what: "In Datafordeler Administration, create a new shared secret on the IT-system, next \
               to the old one, and copy it at once (it is shown once) into a file only the lookup \
               service can read. cprlink records its dates, never the secret: `cprlink onboard \
               renew --method shared-secret --created-on DATE --expires-on DATE` records this \
               step.",
        links: &[DATAFORDELER],
        values: &[value(
            "Section",
            ValueSource::Literal("OAuth shared secret"),
        )],
        fields: &[FieldDef {
            label: "Date the new shared secret was created (YYYY-MM-DD)",
            ..REGISTERED_ON
        }],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("registered_on"),
        done_when: "the new secret's dates are recorded (by `onboard renew`)",
        action: "Create a new shared secret on the IT-system",
    },
    StepDef {
        id: "install-dpg",
        title: "New shared secret given to DPG",
        what: "Give DPG the new shared secret at once, through a secure channel (never in clear \
               e-mail), with the IT-system's client id: DPG gets its OAuth tokens with it. The \
               note that goes with it: `cprlink onboard letter renewal-dpg`.",
        links: &[DPG_PORTAL, DPG_SERVICE_CENTER],
        values: &[
            value(
                "Client id for DPG",
                ValueSource::Fact {
                    step: "it-system",
                    key: "client_id",
                    suffix: "",
                },
            ),
            value(
                "The new secret expires on",
                ValueSource::NewCredential { key: "expires_on" },
            ),
        ],
        fields: &[FieldDef {
            label: "Date DPG got the new shared secret (YYYY-MM-DD)",
            ..INSTALLED_ON
        }],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("installed_on"),
        done_when: "the day DPG got the new secret is recorded",
        action: "Give DPG the new shared secret through a secure channel",
    },
    StepDef {
        id: "confirm",
        title: "A lookup works with the new shared secret",
        what: "Check that the new secret works before the old one goes: put it in the lookup \
               service's `client_secret_file` and run `cprlink doctor` (it ends with one \
               lookup), or ask DPG to confirm that a lookup went through. New credentials can \
               be refused for a while at first (401 DAF-AUTH-0005): try again after 20 minutes.",
        links: &[DATAFORDELER],
        values: &[],
        fields: &[CONFIRMED_ON],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("confirmed_on"),
        done_when: "a lookup or `cprlink doctor` with the new secret succeeded",
        action: "Check a lookup with the new shared secret (`cprlink doctor`)",
    },
    StepDef {
        id: "retire-old",
        title: "Old shared secret deleted on the IT-system",
        what: "Once a lookup works with the new secret, delete the old one on the IT-system in \
               Datafordeler Administration, and the copies of it (the old client-secret file).",
        links: &[DATAFORDELER],
        values: &[value(
            "The old secret expires on",
            ValueSource::OldCredential { key: "expires_on" },
        )],
        fields: &[FieldDef {
            label: "Date the old shared secret was deleted (YYYY-MM-DD)",
            ..RETIRED_ON
        }],
        waits_on: None,
        waiting_after: &[],
        done_date: Some("retired_on"),
        done_when: "the day the old secret was deleted is recorded",
        action: "Delete the old shared secret on the IT-system in Datafordeler Administration",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_ids_in_order() {
        let ids = |r: Route| r.steps().iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(
            ids(Route::Selfservice),
            [
                "selfservice-user",
                "service-user",
                "cpr-application",
                "cpr-approval",
                "production-access",
                "dpg-handover"
            ]
        );
        assert_eq!(
            ids(Route::Administration),
            [
                "it-system",
                "credential",
                "ip-allowlist",
                "cpr-application",
                "cpr-approval",
                "data-access",
                "dpg-handover"
            ]
        );
    }

    #[test]
    fn every_reference_names_a_real_field() {
        for route in [Route::Selfservice, Route::Administration] {
            let steps = route.steps();
            let find = |s: &str, k: &str| {
                steps
                    .iter()
                    .find(|d| d.id == s)
                    .and_then(|d| d.field(k))
                    .unwrap_or_else(|| panic!("{route}: no field {s}.{k}"))
            };
            for (i, step) in steps.iter().enumerate() {
                for field in step.fields {
                    for (s, k) in field.after {
                        let pos = steps.iter().position(|d| d.id == *s).unwrap();
                        assert!(pos <= i, "{} waits on a later step", step.id);
                        assert!(find(s, k).kind.is_date());
                    }
                    if let Some((s, k, _)) = field.at_most_days_after {
                        assert!(find(s, k).kind.is_date());
                    }
                    // A condition on a step of the route names a choice and one of its words.
                    if let Applies::When(c) | Applies::Unless(c) = field.applies
                        && steps.iter().any(|d| d.id == c.step)
                    {
                        match find(c.step, c.key).kind {
                            FieldKind::Choice(words) => assert!(words.contains(&c.value)),
                            other => panic!("{}: condition on {other:?}", field.key),
                        }
                    }
                    if let (FieldDefault::Value(v), FieldKind::Choice(words)) =
                        (field.default, field.kind)
                    {
                        assert!(words.contains(&v));
                    }
                }
                for key in step.waiting_after {
                    assert!(step.field(key).is_some());
                }
                if let Some(k) = step.done_date {
                    assert!(step.field(k).is_some_and(|f| f.kind.is_date()));
                }
            }
            for method in METHODS {
                let renewal = renewal_steps(route, method);
                let ids: Vec<_> = renewal.iter().map(|s| s.id).collect();
                assert_eq!(ids, RENEWAL_STEP_IDS, "{route} {method}");
                for (i, step) in renewal.iter().enumerate() {
                    assert!(!steps.iter().any(|d| d.id == step.id), "ids overlap");
                    for field in step.fields {
                        for (s, k) in field.after {
                            let pos = renewal.iter().position(|d| d.id == *s).unwrap();
                            assert!(pos < i, "{} waits on a later step", step.id);
                            let f = renewal[pos].field(k).unwrap();
                            assert!(f.kind.is_date());
                        }
                        if let Applies::When(c) | Applies::Unless(c) = field.applies {
                            assert_eq!(c.step, step.id);
                            assert!(step.field(c.key).is_some());
                        }
                    }
                    let k = step.done_date.unwrap();
                    assert!(step.field(k).is_some_and(|f| f.kind.is_date()));
                }
            }
            assert!(steps.iter().any(|s| s.id == route.certificate_step()));
            assert!(steps.iter().any(|s| s.id == route.ip_step()));
            assert!(steps.iter().any(|s| s.id == route.access_step()));
        }
    }
}
