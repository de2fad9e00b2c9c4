//! The steps of both onboarding routes, as data.
//!
//! Owns, per step: its id (the SPEC's ids for route `selfservice`), title, what to do,
//! where (portal URLs), the exact values to type, the facts to record (with their flag
//! and kind of validation), who the step waits on, and the rule for "done". Nothing
//! here reads the state or the clock; `case` and `status` interpret these tables.
//!
//! Sources: `reference/dpg-cpr-guide.txt` (the six steps, the virk.dk values, the DPG
//! contact) and `reference/datafordeler.md` section 3 (the Administration route).

use serde::{Deserialize, Serialize};

/// Which way the authority connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Datafordeler Self-Service: the six steps of the DPG guide (REST, mutual TLS).
    /// Datafordeler marks it "phased out from 30 June 2026".
    Selfservice,
    /// Datafordeler Administration: IT-system, OAuth certificate, IP allowlist, GraphQL.
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

    /// The step that records the certificate registered at Datafordeler.
    pub fn certificate_step(self) -> &'static str {
        match self {
            Route::Selfservice => "service-user",
            Route::Administration => "oauth-certificate",
        }
    }

    /// The step that records the DPG service's IP address.
    pub fn ip_step(self) -> &'static str {
        match self {
            Route::Selfservice => "production-access",
            Route::Administration => "ip-allowlist",
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
    /// `YYYY-MM-DD`, not in the future, not before the dates named in `after`.
    Date,
    /// A public IPv4 address (Datafordeler whitelists nothing else).
    Ipv4,
    /// The certificate registered at Datafordeler (evidence from the binary).
    Certificate,
    /// The .p12 handed to DPG (evidence from the binary, verified first).
    Handover,
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
    /// Needed before the step can be marked done.
    pub required: bool,
    /// Dates only: set to today when the step is marked done without it.
    pub default_today: bool,
    /// Dates only: must not be before these `(step, key)` dates when they are recorded.
    pub after: &'static [(&'static str, &'static str)],
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
    /// The authority's CVR.
    Cvr,
}

/// One exact value to type into a portal or a form.
#[derive(Debug, Clone, Copy)]
pub struct ValueDef {
    pub label: &'static str,
    pub value: ValueSource,
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
    /// The rule for "done", in words.
    pub done_when: &'static str,
    /// The next action in one sentence, for `status`.
    pub action: &'static str,
}

impl StepDef {
    pub fn field(&self, key: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.key == key)
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
    label: "DPG customer portal",
    url: "https://portal.timengodpg.com",
};

const ENVIRONMENT: ValueSource = ValueSource::ByEnvironment {
    production: "Production",
    test: "Demo (Test)",
};

// ---- fields shared by the routes --------------------------------------------------

const CERTIFICATE: FieldDef = FieldDef {
    key: "certificate",
    flag: "--certificate",
    value_name: "FILE",
    label: "Certificate file you uploaded (.cer, .pem or .p12)",
    kind: FieldKind::Certificate,
    required: true,
    default_today: false,
    after: &[],
};
const DPG_IP: FieldDef = FieldDef {
    key: "dpg_ip",
    flag: "--dpg-ip",
    value_name: "IPV4",
    label: "DPG service's fixed external IPv4 address",
    kind: FieldKind::Ipv4,
    required: true,
    default_today: false,
    after: &[],
};
const CASE_NUMBER: FieldDef = FieldDef {
    key: "case_number",
    flag: "--case-number",
    value_name: "TEXT",
    label: "CPR service desk case number",
    kind: FieldKind::Text,
    required: true,
    default_today: false,
    after: &[],
};
const APPLIED_ON: FieldDef = FieldDef {
    key: "applied_on",
    flag: "--applied-on",
    value_name: "DATE",
    label: "Date the virk.dk application was sent (YYYY-MM-DD)",
    kind: FieldKind::Date,
    required: true,
    default_today: true,
    after: &[],
};
const VIRK_RECEIPT: FieldDef = FieldDef {
    key: "virk_receipt",
    flag: "--virk-receipt",
    value_name: "TEXT",
    label: "virk.dk receipt number (optional)",
    kind: FieldKind::Text,
    required: false,
    default_today: false,
    after: &[],
};
const APPROVED_ON: FieldDef = FieldDef {
    key: "approved_on",
    flag: "--approved-on",
    value_name: "DATE",
    label: "Date of the CPR approval (YYYY-MM-DD)",
    kind: FieldKind::Date,
    required: true,
    default_today: true,
    after: &[("cpr-application", "applied_on")],
};
const APPROVAL_REFERENCE: FieldDef = FieldDef {
    key: "approval_reference",
    flag: "--approval-reference",
    value_name: "TEXT",
    label: "Reference of the approval letter (optional)",
    kind: FieldKind::Text,
    required: false,
    default_today: false,
    after: &[],
};
const P12: FieldDef = FieldDef {
    key: "p12",
    flag: "--p12",
    value_name: "FILE",
    label: "The .p12 file handed to DPG",
    kind: FieldKind::Handover,
    required: true,
    default_today: false,
    after: &[],
};
const RECEIVED_BY: FieldDef = FieldDef {
    key: "received_by",
    flag: "--received-by",
    value_name: "TEXT",
    label: "Who at DPG received it (optional)",
    kind: FieldKind::Text,
    required: false,
    default_today: false,
    after: &[],
};

const CPR_APPROVAL: StepDef = StepDef {
    id: "cpr-approval",
    title: "Approval from the CPR service desk",
    what: "Wait for the CPR service desk to process the application. When the approval \
           arrives, record its date (and reference, if the letter has one).",
    links: &[CPR_HELP],
    values: &[ValueDef {
        label: "CPR case number to quote",
        value: ValueSource::Fact {
            step: "cpr-application",
            key: "case_number",
            suffix: "",
        },
    }],
    fields: &[APPROVED_ON, APPROVAL_REFERENCE],
    waits_on: Some("the CPR service desk"),
    waiting_after: &[],
    done_when: "the approval date is recorded",
    action: "Wait for the CPR service desk's approval",
};

const HANDOVER_WHAT: &str = "Hand the same certificate, with its private key, to DPG as a \
    .p12 file. Verify it first (`cprlink cert verify FILE.p12 --cvr CVR --cer FILE.cer`). \
    Send the .p12 password by another channel (phone or SMS), never with the file. The \
    handover note: `cprlink onboard letter dpg-handover`.";

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
        values: &[ValueDef {
            label: "Environment",
            value: ENVIRONMENT,
        }],
        fields: &[
            FieldDef {
                key: "username",
                flag: "--username",
                value_name: "TEXT",
                label: "Username of the web user",
                kind: FieldKind::Text,
                required: true,
                default_today: false,
                after: &[],
            },
            FieldDef {
                key: "login_method",
                flag: "--login-method",
                // Not `password|mitid`: suggested commands get copy-pasted into a shell.
                value_name: "METHOD",
                label: "How the web user logs in (password or mitid)",
                kind: FieldKind::Choice(&["password", "mitid"]),
                required: true,
                default_today: false,
                after: &[],
            },
        ],
        waits_on: None,
        waiting_after: &[],
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
            ValueDef {
                label: "Authentication",
                value: ValueSource::Literal(
                    "Certificate (system or organisation certificate, OCES3)",
                ),
            },
            ValueDef {
                label: "File to upload",
                value: ValueSource::Literal(
                    "the .cer made by `cprlink cert export-cer` (public part only)",
                ),
            },
            ValueDef {
                label: "CVR in the certificate",
                value: ValueSource::Cvr,
            },
        ],
        fields: &[
            FieldDef {
                key: "service_user",
                flag: "--service-user",
                value_name: "TEXT",
                label: "Name of the service user",
                kind: FieldKind::Text,
                required: true,
                default_today: false,
                after: &[],
            },
            CERTIFICATE,
        ],
        waits_on: None,
        waiting_after: &[],
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
            ValueDef {
                label: "Production or Demo (Test)",
                value: ENVIRONMENT,
            },
            ValueDef {
                label: "Products",
                value: ValueSource::Literal("Datafordeler"),
            },
            ValueDef {
                label: "Datafordeler services",
                value: ValueSource::Literal("CprPersonSmallSimple (PersonSmallCurrentListSimple)"),
            },
            ValueDef {
                label: "Service user",
                value: ValueSource::Fact {
                    step: "service-user",
                    key: "service_user",
                    suffix: "",
                },
            },
        ],
        fields: &[CASE_NUMBER, APPLIED_ON, VIRK_RECEIPT],
        waits_on: None,
        waiting_after: &[],
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
            ValueDef {
                label: "Environment",
                value: ENVIRONMENT,
            },
            ValueDef {
                label: "IP address to whitelist",
                value: ValueSource::Fact {
                    step: "production-access",
                    key: "dpg_ip",
                    suffix: "",
                },
            },
            ValueDef {
                label: "CPR case number",
                value: ValueSource::Fact {
                    step: "cpr-application",
                    key: "case_number",
                    suffix: "",
                },
            },
        ],
        fields: &[
            DPG_IP,
            FieldDef {
                key: "requested_on",
                flag: "--requested-on",
                value_name: "DATE",
                label: "Date the request went to Datafordeler support (optional)",
                kind: FieldKind::Date,
                required: false,
                default_today: false,
                after: &[("cpr-approval", "approved_on")],
            },
            FieldDef {
                key: "support_ticket",
                flag: "--support-ticket",
                value_name: "TEXT",
                label: "Datafordeler support ticket number (optional)",
                kind: FieldKind::Text,
                required: false,
                default_today: false,
                after: &[],
            },
            FieldDef {
                key: "confirmed_on",
                flag: "--confirmed-on",
                value_name: "DATE",
                label: "Date Datafordeler support confirmed (YYYY-MM-DD)",
                kind: FieldKind::Date,
                required: true,
                default_today: true,
                after: &[
                    ("cpr-approval", "approved_on"),
                    ("production-access", "requested_on"),
                ],
            },
        ],
        waits_on: Some("Datafordeler support"),
        waiting_after: &["requested_on", "support_ticket"],
        done_when: "the DPG IP is recorded and Datafordeler support has confirmed",
        action: "Ask Datafordeler support for Production access and IP whitelisting (`cprlink onboard letter datafordeler-support`)",
    },
    StepDef {
        id: "dpg-handover",
        title: "Certificate handed to DPG (.p12)",
        what: HANDOVER_WHAT,
        links: &[DPG_SERVICE_CENTER, DPG_PORTAL],
        values: &[ValueDef {
            label: "SHA-1 thumbprint DPG must see",
            value: ValueSource::Fact {
                step: "service-user",
                key: "certificate_sha1_thumbprint",
                suffix: "",
            },
        }],
        fields: &[
            P12,
            FieldDef {
                key: "handed_over_on",
                flag: "--handed-over-on",
                value_name: "DATE",
                label: "Date the .p12 was handed over (YYYY-MM-DD)",
                kind: FieldKind::Date,
                required: true,
                default_today: true,
                after: &[("production-access", "confirmed_on")],
            },
            RECEIVED_BY,
        ],
        waits_on: None,
        waiting_after: &[],
        done_when: "a verified .p12 with the registered certificate is recorded as handed over",
        action: "Verify the .p12 and hand it to DPG, the password by another channel (`cprlink onboard letter dpg-handover`)",
    },
];

// ---- route administration -------------------------------------------------------------

/// The Datafordeler Administration route (`reference/datafordeler.md` section 3).
pub const ADMINISTRATION: &[StepDef] = &[
    StepDef {
        id: "it-system",
        title: "IT-system in Datafordeler Administration",
        what: "Log in to Datafordeler Administration with MitID Erhverv and create an \
               IT-system for the DPG connection. Note its name and its client id (DPG \
               needs the client id to get OAuth tokens).",
        links: &[DATAFORDELER, CPR_ACCESS_GUIDE],
        values: &[ValueDef {
            label: "Log in with",
            value: ValueSource::Literal("MitID Erhverv"),
        }],
        fields: &[
            FieldDef {
                key: "it_system",
                flag: "--it-system",
                value_name: "TEXT",
                label: "Name of the IT-system",
                kind: FieldKind::Text,
                required: true,
                default_today: false,
                after: &[],
            },
            FieldDef {
                key: "client_id",
                flag: "--client-id",
                value_name: "TEXT",
                label: "The IT-system's client id",
                kind: FieldKind::Text,
                required: true,
                default_today: false,
                after: &[],
            },
        ],
        waits_on: None,
        waiting_after: &[],
        done_when: "the IT-system's name and client id are recorded",
        action: "Log in to Datafordeler Administration with MitID Erhverv and create an IT-system",
    },
    StepDef {
        id: "oauth-certificate",
        title: "OAuth certificate (PEM) on the IT-system",
        what: "On the IT-system, under \"OAuth certifikat\", upload the OCES3 system or \
               organisation certificate in PEM format: `cprlink cert export-cer FILE.p12 \
               --out FILE.pem --encoding pem`.",
        links: &[DATAFORDELER],
        values: &[
            ValueDef {
                label: "Section",
                value: ValueSource::Literal("OAuth certifikat"),
            },
            ValueDef {
                label: "Format",
                value: ValueSource::Literal("PEM (Base-64), public part only"),
            },
            ValueDef {
                label: "CVR in the certificate",
                value: ValueSource::Cvr,
            },
        ],
        fields: &[CERTIFICATE],
        waits_on: None,
        waiting_after: &[],
        done_when: "the uploaded certificate is recorded",
        action: "Upload the certificate in PEM format under \"OAuth certifikat\" on the IT-system",
    },
    StepDef {
        id: "ip-allowlist",
        title: "IP allowlist (/32) on the IT-system",
        what: "On the IT-system, add the DPG service's fixed external IPv4 address to the IP \
               allowlist as a single-address /32 range (ask DPG Service Center for the \
               address).",
        links: &[DATAFORDELER, DPG_SERVICE_CENTER],
        values: &[ValueDef {
            label: "IP range",
            value: ValueSource::Fact {
                step: "ip-allowlist",
                key: "dpg_ip",
                suffix: "/32",
            },
        }],
        fields: &[
            DPG_IP,
            FieldDef {
                key: "added_on",
                flag: "--added-on",
                value_name: "DATE",
                label: "Date the address was added (YYYY-MM-DD)",
                kind: FieldKind::Date,
                required: true,
                default_today: true,
                after: &[],
            },
        ],
        waits_on: None,
        waiting_after: &[],
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
            ValueDef {
                label: "Production or Demo (Test)",
                value: ENVIRONMENT,
            },
            ValueDef {
                label: "Products",
                value: ValueSource::Literal("Datafordeler GraphQL og Fildownload"),
            },
            ValueDef {
                label: "IT-system",
                value: ValueSource::Fact {
                    step: "it-system",
                    key: "it_system",
                    suffix: "",
                },
            },
        ],
        fields: &[CASE_NUMBER, APPLIED_ON, VIRK_RECEIPT],
        waits_on: None,
        waiting_after: &[],
        done_when: "the case number and the date of the virk.dk application are recorded",
        action: "Open a ticket with the CPR service desk (`cprlink onboard letter cpr-application`) and submit the virk.dk form",
    },
    CPR_APPROVAL,
    StepDef {
        id: "data-access",
        title: "Data access CustomPublicSectorPerson",
        what: "After the approval, add the data access CustomPublicSectorPerson to the \
               IT-system in Datafordeler Administration.",
        links: &[DATAFORDELER],
        values: &[ValueDef {
            label: "Data access",
            value: ValueSource::Literal("CustomPublicSectorPerson"),
        }],
        fields: &[FieldDef {
            key: "added_on",
            flag: "--added-on",
            value_name: "DATE",
            label: "Date the data access was added (YYYY-MM-DD)",
            kind: FieldKind::Date,
            required: true,
            default_today: true,
            after: &[("cpr-approval", "approved_on")],
        }],
        waits_on: None,
        waiting_after: &[],
        done_when: "the date the data access was added is recorded",
        action: "Add the data access CustomPublicSectorPerson to the IT-system",
    },
    StepDef {
        id: "dpg-handover",
        title: "Certificate handed to DPG (.p12)",
        what: HANDOVER_WHAT,
        links: &[DPG_SERVICE_CENTER, DPG_PORTAL],
        values: &[
            ValueDef {
                label: "SHA-1 thumbprint DPG must see",
                value: ValueSource::Fact {
                    step: "oauth-certificate",
                    key: "certificate_sha1_thumbprint",
                    suffix: "",
                },
            },
            ValueDef {
                label: "Client id for DPG",
                value: ValueSource::Fact {
                    step: "it-system",
                    key: "client_id",
                    suffix: "",
                },
            },
        ],
        fields: &[
            P12,
            FieldDef {
                key: "handed_over_on",
                flag: "--handed-over-on",
                value_name: "DATE",
                label: "Date the .p12 was handed over (YYYY-MM-DD)",
                kind: FieldKind::Date,
                required: true,
                default_today: true,
                after: &[("data-access", "added_on")],
            },
            RECEIVED_BY,
        ],
        waits_on: None,
        waiting_after: &[],
        done_when: "a verified .p12 with the registered certificate is recorded as handed over",
        action: "Verify the .p12 and hand it to DPG with the client id, the password by another channel (`cprlink onboard letter dpg-handover`)",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selfservice_has_the_spec_ids_in_order() {
        let ids: Vec<_> = SELFSERVICE.iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                "selfservice-user",
                "service-user",
                "cpr-application",
                "cpr-approval",
                "production-access",
                "dpg-handover"
            ]
        );
    }

    #[test]
    fn every_date_constraint_names_a_real_date_field() {
        for route in [Route::Selfservice, Route::Administration] {
            let steps = route.steps();
            for (i, step) in steps.iter().enumerate() {
                for field in step.fields {
                    for (s, k) in field.after {
                        let pos = steps.iter().position(|d| d.id == *s);
                        let pos =
                            pos.unwrap_or_else(|| panic!("{} names unknown step {s}", step.id));
                        assert!(pos <= i, "{} waits on a later step", step.id);
                        let f = steps[pos].field(k).unwrap();
                        assert_eq!(f.kind, FieldKind::Date);
                    }
                }
                for key in step.waiting_after {
                    assert!(step.field(key).is_some());
                }
            }
            assert!(steps.iter().any(|s| s.id == route.certificate_step()));
            assert!(steps.iter().any(|s| s.id == route.ip_step()));
        }
    }
}
