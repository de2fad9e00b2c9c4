//! Ready-to-send texts filled from a case: the application to the CPR service desk,
//! the request to Datafordeler support (route selfservice), the reminder about the
//! data access (route administration), and the note to DPG; during a renewal, the
//! request to Datafordeler support to check the new credential's access, and the note
//! to DPG about the new credential.
//!
//! Owns their wording in Danish (default) and English. A letter is made only when every
//! fact it needs is recorded; otherwise the error names each missing fact and the flag
//! that records it, never a placeholder that could be sent by mistake. The note to DPG
//! says how the .p12 reaches DPG (installed by the authority in the DPG Customer Portal,
//! or sent to DPG Service Center), names the client id on the administration route, and
//! says plainly that DPG's public documentation describes only the REST connection. It
//! never carries the .p12 password or a shared secret (the library never sees either)
//! and says they go by another channel.

use std::path::Path;

use crate::case::Case;
use crate::error::Error;
use crate::state::{Renewal, State};
use crate::steps::{Route, TargetEnvironment};

/// Which letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetterKind {
    /// To the CPR service desk: asks for a case number for the virk.dk application.
    CprApplication,
    /// To Datafordeler support: production access and IP whitelisting (route selfservice).
    DatafordelerSupport,
    /// To DPG: the handover note that goes with the .p12 (or the client id and secret).
    DpgHandover,
    /// To the CPR service desk: the data access requested on the IT-system, to be
    /// granted by the register authority (route administration).
    DataAccess,
    /// To Datafordeler support, during a renewal: the new credential registered next to
    /// the old one should have the same access.
    RenewalSupport,
    /// To DPG, during a renewal: the new credential (a .p12 through the Service Center,
    /// or a note about the one installed in the portal, or the new secret's dates).
    RenewalDpg,
}

impl LetterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LetterKind::CprApplication => "cpr-application",
            LetterKind::DatafordelerSupport => "datafordeler-support",
            LetterKind::DpgHandover => "dpg-handover",
            LetterKind::DataAccess => "data-access",
            LetterKind::RenewalSupport => "renewal-support",
            LetterKind::RenewalDpg => "renewal-dpg",
        }
    }
}

/// The letter's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Da,
    En,
}

/// A letter: recipient, subject, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl Letter {
    /// The letter as plain text, with `To:`/`Subject:` (or `Til:`/`Emne:`) lines first.
    pub fn to_text(&self, lang: Language) -> String {
        let (to, subject) = match lang {
            Language::Da => ("Til", "Emne"),
            Language::En => ("To", "Subject"),
        };
        format!(
            "{to}: {}\n{subject}: {}\n\n{}",
            self.to, self.subject, self.body
        )
    }
}

/// Plain-text mail lines: short enough to read anywhere and to quote.
pub const LINE_WIDTH: usize = 72;

/// Wraps prose lines at spaces to `width` characters. Lines that are list items or
/// indented hold exact values to copy (a service name, a thumbprint) and stay whole.
fn wrap_body(body: &str, width: usize) -> String {
    let mut out = String::new();
    for line in body.split('\n') {
        let t = line.trim_start();
        let is_item = line.len() != t.len()
            || t.starts_with("- ")
            || t.find(". ")
                .is_some_and(|i| i > 0 && t[..i].bytes().all(|b| b.is_ascii_digit()));
        if is_item || line.chars().count() <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
                out.push_str(&current);
                out.push('\n');
                current.clear();
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push_str(&current);
        out.push('\n');
    }
    // `split` gave one line more than the text had newlines.
    out.pop();
    out
}

/// Collects the facts a letter needs and remembers the missing ones.
struct Needs<'a> {
    state: &'a State,
    missing: Vec<String>,
}

impl<'a> Needs<'a> {
    fn fact(&mut self, step: &str, key: &str, flag: &str) -> String {
        match self.state.fact(step, key) {
            Some(v) => v.to_owned(),
            None => {
                self.missing.push(format!("{step} ({flag})"));
                String::new()
            }
        }
    }

    fn contact_email(&mut self) -> String {
        match &self.state.contact_email {
            Some(e) => e.clone(),
            None => {
                self.missing
                    .push("the contact e-mail (record contact --contact-email EMAIL)".to_owned());
                String::new()
            }
        }
    }
}

/// Renders `kind` in `lang` from `case`, or says which facts are missing.
pub fn render(kind: LetterKind, lang: Language, case: &Case) -> Result<Letter, Error> {
    let state = case.state();
    let mut needs = Needs {
        state,
        missing: Vec::new(),
    };
    let letter = match kind {
        LetterKind::CprApplication => cpr_application(&mut needs, lang),
        LetterKind::DatafordelerSupport => {
            if state.route != Route::Selfservice {
                return Err(Error::LetterNotForRoute {
                    letter: kind.as_str().to_owned(),
                    route: state.route.to_string(),
                });
            }
            datafordeler_support(&mut needs, lang)
        }
        LetterKind::DpgHandover => dpg_handover(&mut needs, lang),
        LetterKind::DataAccess => {
            if state.route != Route::Administration {
                return Err(Error::LetterNotForRoute {
                    letter: kind.as_str().to_owned(),
                    route: state.route.to_string(),
                });
            }
            data_access(&mut needs, lang)
        }
        LetterKind::RenewalSupport | LetterKind::RenewalDpg => {
            let Some(r) = &state.renewal else {
                return Err(Error::NoRenewal {
                    what: format!("the letter {}", kind.as_str()),
                });
            };
            if kind == LetterKind::RenewalSupport {
                renewal_support(&mut needs, r, lang)
            } else {
                renewal_dpg(&mut needs, r, lang)
            }
        }
    };
    if needs.missing.is_empty() {
        Ok(Letter {
            body: wrap_body(&letter.body, LINE_WIDTH),
            ..letter
        })
    } else {
        Err(Error::LetterMissingFacts {
            letter: kind.as_str().to_owned(),
            missing: needs.missing,
        })
    }
}

fn signature(state: &State, email: &str) -> String {
    match &state.contact_name {
        Some(name) => format!("{name}\n{}\n{email}\n", state.authority),
        None => format!("{}\n{email}\n", state.authority),
    }
}

fn cpr_application(n: &mut Needs<'_>, lang: Language) -> Letter {
    let s = n.state;
    let email = n.contact_email();
    let production = s.environment == TargetEnvironment::Production;
    let product_lines = match s.route {
        Route::Selfservice => {
            let su = n.fact("service-user", "service_user", "--service-user");
            let thumb = s.fact("service-user", "certificate_sha1_thumbprint");
            let mut lines = match lang {
                Language::Da => vec![
                    format!(
                        "- Miljø: {}",
                        if production {
                            "Produktion"
                        } else {
                            "Demo (Test)"
                        }
                    ),
                    "- Produkt: Datafordeler".to_owned(),
                    "- Datafordeler-tjeneste: CprPersonSmallSimple (PersonSmallCurrentListSimple)"
                        .to_owned(),
                    format!("- Tjenestebruger på Datafordeleren: {su}"),
                ],
                Language::En => vec![
                    format!(
                        "- Environment: {}",
                        if production {
                            "Production"
                        } else {
                            "Demo (Test)"
                        }
                    ),
                    "- Product: Datafordeler".to_owned(),
                    "- Datafordeler service: CprPersonSmallSimple (PersonSmallCurrentListSimple)"
                        .to_owned(),
                    format!("- Service user at Datafordeler: {su}"),
                ],
            };
            if let Some(t) = thumb {
                lines.push(match lang {
                    Language::Da => {
                        format!("- Tjenestebrugerens certifikat (SHA-1 thumbprint): {t}")
                    }
                    Language::En => {
                        format!("- The service user's certificate (SHA-1 thumbprint): {t}")
                    }
                });
            }
            lines
        }
        Route::Administration => {
            let it = n.fact("it-system", "it_system", "--it-system");
            match lang {
                Language::Da => vec![
                    format!(
                        "- Miljø: {}",
                        if production {
                            "Produktion"
                        } else {
                            "Demo (Test)"
                        }
                    ),
                    "- Produkt: Datafordeler GraphQL og Fildownload".to_owned(),
                    "- Dataadgang: CustomPublicSectorPerson".to_owned(),
                    format!("- IT-system i Datafordeler Administration: {it}"),
                ],
                Language::En => vec![
                    format!(
                        "- Environment: {}",
                        if production {
                            "Production"
                        } else {
                            "Demo (Test)"
                        }
                    ),
                    "- Product: Datafordeler GraphQL og Fildownload".to_owned(),
                    "- Data access: CustomPublicSectorPerson".to_owned(),
                    format!("- IT-system in Datafordeler Administration: {it}"),
                ],
            }
        }
    };
    let products = product_lines.join("\n");
    let sig = signature(s, &email);
    match lang {
        Language::Da => Letter {
            to: "CPR-servicedesken".to_owned(),
            subject: format!(
                "Adgang til navneopslag i CPR via Datafordeleren - {} (CVR {})",
                s.authority, s.cvr
            ),
            body: format!(
                "Kære CPR-servicedesk\n\n\
                 {auth} (CVR {cvr}) ønsker adgang til navneopslag i CPR via Datafordeleren, så \
                 vores Digital Post-løsning (Timengo DPG) kan finde navnet på en borger ud fra \
                 CPR-nummeret.\n\n\
                 Vi beder om et sagsnummer, så vi kan sende ansøgningen via virk.dk med disse \
                 oplysninger:\n\n{products}\n\n\
                 Svar gerne til {email}.\n\n\
                 Med venlig hilsen\n{sig}",
                auth = s.authority,
                cvr = s.cvr,
            ),
        },
        Language::En => Letter {
            to: "The CPR service desk".to_owned(),
            subject: format!(
                "Access to CPR name lookups through Datafordeler - {} (CVR {})",
                s.authority, s.cvr
            ),
            body: format!(
                "Dear CPR service desk\n\n\
                 {auth} (CVR {cvr}) asks for access to name lookups in CPR through Datafordeler, \
                 so that our Digital Post solution (Timengo DPG) can find a citizen's name from \
                 the CPR number.\n\n\
                 Please give us a case number, so that we can apply on virk.dk with these \
                 details:\n\n{products}\n\n\
                 Please reply to {email}.\n\n\
                 Kind regards\n{sig}",
                auth = s.authority,
                cvr = s.cvr,
            ),
        },
    }
}

fn datafordeler_support(n: &mut Needs<'_>, lang: Language) -> Letter {
    let s = n.state;
    let case_number = n.fact("cpr-application", "case_number", "--case-number");
    let approved_on = n.fact("cpr-approval", "approved_on", "--approved-on");
    let username = n.fact("selfservice-user", "username", "--username");
    let service_user = n.fact("service-user", "service_user", "--service-user");
    let thumb = n.fact(
        "service-user",
        "certificate_sha1_thumbprint",
        "--certificate",
    );
    let ip = n.fact("production-access", "dpg_ip", "--dpg-ip");
    let email = n.contact_email();
    let reference = s.fact("cpr-approval", "approval_reference");
    let production = s.environment == TargetEnvironment::Production;
    let sig = signature(s, &email);
    match lang {
        Language::Da => Letter {
            to: "Datafordelerens support".to_owned(),
            subject: format!(
                "{}adgang og IP-whitelisting efter CPR-godkendelse - {} (CVR {})",
                if production { "Produktions" } else { "Test" },
                s.authority,
                s.cvr
            ),
            body: format!(
                "Kære Datafordelerens support\n\n\
                 CPR-servicedesken har godkendt, at {auth} (CVR {cvr}) må lave navneopslag i CPR \
                 via Datafordeleren (sagsnummer {case_number}, godkendt {approved_on}{reference}).\n\n\
                 Vi beder jer derfor om:\n\n\
                 1. Adgang til {env} for\n   \
                    - webbrugeren: {username}\n   \
                    - tjenestebrugeren: {service_user} (certifikat, SHA-1 thumbprint {thumb})\n\n\
                 2. IP-whitelisting af den faste eksterne IPv4-adresse, som vores DPG-tjeneste \
                 (Timengo DPG) kalder fra: {ip}\n\n\
                 Skriv gerne til {email}, når det er på plads.\n\n\
                 Med venlig hilsen\n{sig}",
                auth = s.authority,
                cvr = s.cvr,
                env = if production {
                    "produktionsmiljøet (https://selfservice.datafordeler.dk)"
                } else {
                    "testmiljøet"
                },
                reference = reference.map_or_else(String::new, |r| format!(", reference {r}")),
            ),
        },
        Language::En => Letter {
            to: "Datafordeler support".to_owned(),
            subject: format!(
                "{} access and IP whitelisting after CPR approval - {} (CVR {})",
                if production { "Production" } else { "Test" },
                s.authority,
                s.cvr
            ),
            body: format!(
                "Dear Datafordeler support\n\n\
                 The CPR service desk has approved name lookups in CPR through Datafordeler for \
                 {auth} (CVR {cvr}) (case number {case_number}, approved on \
                 {approved_on}{reference}).\n\n\
                 We therefore ask you for:\n\n\
                 1. Access to {env} for\n   \
                    - the web user: {username}\n   \
                    - the service user: {service_user} (certificate, SHA-1 thumbprint {thumb})\n\n\
                 2. IP whitelisting of the fixed external IPv4 address our DPG service \
                 (Timengo DPG) calls from: {ip}\n\n\
                 Please write to {email} when this is done.\n\n\
                 Kind regards\n{sig}",
                auth = s.authority,
                cvr = s.cvr,
                env = if production {
                    "the Production environment (https://selfservice.datafordeler.dk)"
                } else {
                    "the test environment"
                },
                reference = reference.map_or_else(String::new, |r| format!(", reference {r}")),
            ),
        },
    }
}

fn environment_words(s: &State, lang: Language) -> &'static str {
    match (s.environment, lang) {
        (TargetEnvironment::Production, Language::Da) => "produktionsmiljøet",
        (TargetEnvironment::Production, Language::En) => "the Production environment",
        (TargetEnvironment::Test, Language::Da) => "testmiljøet (Test04)",
        (TargetEnvironment::Test, Language::En) => "the test environment (Test04)",
    }
}

fn data_access(n: &mut Needs<'_>, lang: Language) -> Letter {
    let s = n.state;
    let it = n.fact("it-system", "it_system", "--it-system");
    let client_id = n.fact("it-system", "client_id", "--client-id");
    let case_number = n.fact("cpr-application", "case_number", "--case-number");
    let approved_on = n.fact("cpr-approval", "approved_on", "--approved-on");
    let requested_on = n.fact("data-access", "requested_on", "--requested-on");
    let email = n.contact_email();
    let reference = s
        .fact("cpr-approval", "approval_reference")
        .map_or_else(String::new, |r| format!(", reference {r}"));
    let env = environment_words(s, lang);
    let sig = signature(s, &email);
    match lang {
        Language::Da => Letter {
            to: "CPR-servicedesken".to_owned(),
            subject: format!(
                "Dataadgang CustomPublicSectorPerson til IT-system {it} - {} (CVR {})",
                s.authority, s.cvr
            ),
            body: format!(
                "Kære CPR-servicedesk\n\n\
                 {auth} (CVR {cvr}) har {requested_on} anmodet om dataadgangen \
                 CustomPublicSectorPerson på vores IT-system i Datafordeler Administration, \
                 med CPR-godkendelsen vedhæftet:\n\n\
                 - IT-system: {it}\n\
                 - Client id: {client_id}\n\
                 - Miljø: {env}\n\
                 - CPR-sag: {case_number}, godkendt {approved_on}{reference}\n\n\
                 Vil I godkende dataadgangen, så vores Digital Post-løsning (Timengo DPG) kan \
                 finde navnet på en borger ud fra CPR-nummeret?\n\n\
                 Svar gerne til {email}.\n\n\
                 Med venlig hilsen\n{sig}",
                auth = s.authority,
                cvr = s.cvr,
            ),
        },
        Language::En => Letter {
            to: "The CPR service desk".to_owned(),
            subject: format!(
                "Data access CustomPublicSectorPerson for IT-system {it} - {} (CVR {})",
                s.authority, s.cvr
            ),
            body: format!(
                "Dear CPR service desk\n\n\
                 On {requested_on}, {auth} (CVR {cvr}) requested the data access \
                 CustomPublicSectorPerson on our IT-system in Datafordeler Administration, with \
                 the CPR approval attached:\n\n\
                 - IT-system: {it}\n\
                 - Client id: {client_id}\n\
                 - Environment: {env}\n\
                 - CPR case: {case_number}, approved on {approved_on}{reference}\n\n\
                 Please grant the data access, so that our Digital Post solution (Timengo DPG) \
                 can find a citizen's name from the CPR number.\n\n\
                 Please reply to {email}.\n\n\
                 Kind regards\n{sig}",
                auth = s.authority,
                cvr = s.cvr,
            ),
        },
    }
}

fn dpg_handover(n: &mut Needs<'_>, lang: Language) -> Letter {
    let s = n.state;
    let da = lang == Language::Da;
    let cert_step = s.route.certificate_step();
    let secret =
        s.route == Route::Administration && s.fact(cert_step, "method") == Some("shared-secret");
    let portal = s.fact("dpg-handover", "via").unwrap_or("portal") == "portal";
    let client_id = match s.route {
        Route::Administration => Some(n.fact("it-system", "client_id", "--client-id")),
        Route::Selfservice => None,
    };
    let mut facts = Vec::new();
    let mut file = None;
    if secret {
        let expires = n.fact(cert_step, "expires_on", "--expires-on");
        facts.push(if da {
            "- Godkendelse: OAuth shared secret på IT-systemet".to_owned()
        } else {
            "- Authentication: OAuth shared secret on the IT-system".to_owned()
        });
        facts.push(format!(
            "- {}: {expires}",
            if da {
                "Hemmeligheden udløber"
            } else {
                "The secret expires"
            }
        ));
    } else {
        // The .p12's own facts when it is recorded, else the registered certificate's.
        let (step, prefix, flag) = if s.fact("dpg-handover", "p12_sha1_thumbprint").is_some() {
            ("dpg-handover", "p12", "--p12")
        } else {
            (cert_step, "certificate", "--certificate")
        };
        let subject = n.fact(step, &format!("{prefix}_subject"), flag);
        let cvr = s
            .fact(step, &format!("{prefix}_cvr"))
            .unwrap_or(&s.cvr)
            .to_owned();
        let thumb = n.fact(step, &format!("{prefix}_sha1_thumbprint"), flag);
        let sha256 = s
            .fact(step, &format!("{prefix}_sha256_fingerprint"))
            .unwrap_or("")
            .to_owned();
        let not_after = n.fact(step, &format!("{prefix}_not_after"), flag);
        file = s
            .fact("dpg-handover", "p12_file")
            .and_then(|f| Path::new(f).file_name())
            .map(|f| f.to_string_lossy().into_owned());
        facts.push(format!(
            "- {}: {subject}",
            if da {
                "Certifikatets subject"
            } else {
                "Certificate subject"
            }
        ));
        facts.push(format!("- CVR: {cvr}"));
        facts.push(format!("- SHA-1 thumbprint: {thumb}"));
        if !sha256.is_empty() {
            facts.push(format!("- SHA-256 fingerprint: {sha256}"));
        }
        facts.push(format!(
            "- {}: {not_after}",
            if da { "Udløber" } else { "Expires" }
        ));
    }
    if let Some(id) = &client_id {
        facts.push(format!(
            "- {}: {id}",
            if da {
                "Client id (IT-system i Datafordeler Administration)"
            } else {
                "Client id (IT-system in Datafordeler Administration)"
            }
        ));
    }
    if let Some(ip) = s.fact(s.route.ip_step(), "dpg_ip") {
        facts.push(format!(
            "- {}: {ip}",
            if da {
                "IP-adresse på Datafordelerens allowlist"
            } else {
                "IP address on Datafordeler's allowlist"
            }
        ));
    }
    let facts = facts.join("\n");
    let email = n.contact_email();
    let sig = signature(s, &email);
    let file = file
        .as_deref()
        .map_or_else(String::new, |f| format!(" ({f})"));
    let auth = &s.authority;
    let (to, subject, body) = if da {
        let how = match (secret, portal) {
            (true, _) => "IT-systemet logger på med en OAuth shared secret. Hemmeligheden \
                          sender vi ad en sikker kanal; den står ikke i denne besked."
                .to_owned(),
            (false, true) => format!(
                "Certifikatet, med privat nøgle, som .p12-fil{file}, installerer vi selv i \
                 DPG-kundeportalen (portal.timengodpg.com). Det er det certifikat, som er \
                 registreret hos Datafordeleren."
            ),
            (false, false) => format!(
                "Hermed det system-/organisationscertifikat, som er registreret hos \
                 Datafordeleren, som .p12-fil{file}. Adgangskoden til filen sender vi ad en \
                 anden kanal (telefon eller SMS); den står ikke i denne besked."
            ),
        };
        let graphql = if client_id.is_some() {
            "\n\nVi bruger Datafordelerens nye adgang (Datafordeler Administration, GraphQL \
             med OAuth). DPG's offentlige dokumentation beskriver kun forbindelsen via \
             Self-Service (REST): bekræft venligst, at I kalder CPR via GraphQL med vores \
             client id."
        } else {
            ""
        };
        (
            "DPG Service Center <servicecenter@sikker-post.dk>".to_owned(),
            format!("CPR-opslag i DPG - {auth} (CVR {})", s.cvr),
            format!(
                "Kære DPG Service Center\n\n\
                 Datafordeleren har givet {auth} adgang til navneopslag i CPR. {how}\n\n\
                 {facts}{graphql}\n\n\
                 Kontroller venligst, at oplysningerne svarer til det, I modtager.\n\n\
                 Med venlig hilsen\n{sig}"
            ),
        )
    } else {
        let how = match (secret, portal) {
            (true, _) => "The IT-system authenticates with an OAuth shared secret. The secret \
                          follows by a secure channel; it is not in this message."
                .to_owned(),
            (false, true) => format!(
                "We install the certificate, with its private key, as a .p12 file{file}, \
                 ourselves in the DPG Customer Portal (portal.timengodpg.com). It is the \
                 certificate registered at Datafordeler."
            ),
            (false, false) => format!(
                "Here is the system or organisation certificate registered at Datafordeler, as \
                 a .p12 file{file}. The password of the file follows by another channel (phone \
                 or SMS); it is not in this message."
            ),
        };
        let graphql = if client_id.is_some() {
            "\n\nWe use Datafordeler's new access (Datafordeler Administration, GraphQL with \
             OAuth). DPG's public documentation describes only the Self-Service (REST) \
             connection: please confirm that you call CPR through GraphQL with our client id."
        } else {
            ""
        };
        (
            "DPG Service Center <servicecenter@sikker-post.dk>".to_owned(),
            format!("CPR lookups in DPG - {auth} (CVR {})", s.cvr),
            format!(
                "Dear DPG Service Center\n\n\
                 Datafordeler has given {auth} access to name lookups in CPR. {how}\n\n\
                 {facts}{graphql}\n\n\
                 Please check that these details match what you receive.\n\n\
                 Kind regards\n{sig}"
            ),
        )
    };
    Letter { to, subject, body }
}

/// The facts of a renewal's credential, as letter lines.
fn credential_lines(
    method: &str,
    facts: &std::collections::BTreeMap<String, String>,
    da: bool,
) -> Vec<String> {
    let get = |k: &str| facts.get(k).cloned().unwrap_or_default();
    if method == "shared-secret" {
        vec![
            format!(
                "- {}: {}",
                if da { "Oprettet" } else { "Created" },
                get("created_on")
            ),
            format!(
                "- {}: {}",
                if da { "Udløber" } else { "Expires" },
                get("expires_on")
            ),
        ]
    } else {
        vec![
            format!("- SHA-1 thumbprint: {}", get("certificate_sha1_thumbprint")),
            format!(
                "- {}: {}",
                if da { "Udløber" } else { "Expires" },
                get("certificate_not_after")
            ),
        ]
    }
}

/// Where the credential is registered at Datafordeler, in words.
fn registered_where(n: &mut Needs<'_>, da: bool) -> String {
    match n.state.route {
        Route::Administration => {
            let it = n.fact("it-system", "it_system", "--it-system");
            let id = n.fact("it-system", "client_id", "--client-id");
            if da {
                format!("IT-systemet {it} (client id {id}) i Datafordeler Administration")
            } else {
                format!("the IT-system {it} (client id {id}) in Datafordeler Administration")
            }
        }
        Route::Selfservice => {
            let su = n.fact("service-user", "service_user", "--service-user");
            if da {
                format!("tjenestebrugeren {su} i Datafordelerens Self-Service")
            } else {
                format!("the service user {su} in Datafordeler Self-Service")
            }
        }
    }
}

fn renewal_support(n: &mut Needs<'_>, r: &Renewal, lang: Language) -> Letter {
    let s = n.state;
    let da = lang == Language::Da;
    let secret = r.method == "shared-secret";
    let registered_on = n.fact("register-new", "registered_on", "--registered-on");
    let place = registered_where(n, da);
    let email = n.contact_email();
    let new = credential_lines(&r.method, &r.new, da).join("\n");
    let old = credential_lines(&r.method, &r.old, da).join("\n");
    let access = match (s.route, da) {
        (Route::Administration, true) => "dataadgangen CustomPublicSectorPerson og IP-allowlisten",
        (Route::Administration, false) => {
            "the data access CustomPublicSectorPerson and the IP allowlist"
        }
        (Route::Selfservice, true) => "produktionsadgangen og IP-whitelistingen",
        (Route::Selfservice, false) => "the Production access and the IP whitelisting",
    };
    let sig = signature(s, &email);
    let auth = &s.authority;
    if da {
        let what = if secret {
            "en ny shared secret"
        } else {
            "et fornyet certifikat"
        };
        let old_what = if secret {
            "den gamle hemmelighed"
        } else {
            "det gamle certifikat"
        };
        Letter {
            to: "Datafordelerens support".to_owned(),
            subject: format!("Fornyelse af adgang til CPR - {auth} (CVR {})", s.cvr),
            body: format!(
                "Kære Datafordelerens support\n\n\
                 {auth} (CVR {cvr}) har {registered_on} registreret {what} på {place}, ved \
                 siden af {old_what}, som stadig er i brug.\n\n\
                 Ny:\n{new}\n\n\
                 Gammel:\n{old}\n\n\
                 Vil I bekræfte, at det nye har samme adgang som det gamle ({access}), så vi \
                 kan fjerne {old_what}, før det udløber?\n\n\
                 Svar gerne til {email}.\n\n\
                 Med venlig hilsen\n{sig}",
                cvr = s.cvr,
            ),
        }
    } else {
        let what = if secret {
            "a new shared secret"
        } else {
            "a renewed certificate"
        };
        let old_what = if secret {
            "the old secret"
        } else {
            "the old certificate"
        };
        Letter {
            to: "Datafordeler support".to_owned(),
            subject: format!("Renewal of the access to CPR - {auth} (CVR {})", s.cvr),
            body: format!(
                "Dear Datafordeler support\n\n\
                 On {registered_on}, {auth} (CVR {cvr}) registered {what} on {place}, next to \
                 {old_what}, which is still in use.\n\n\
                 New:\n{new}\n\n\
                 Old:\n{old}\n\n\
                 Please confirm that the new one has the same access as the old one ({access}), \
                 so that we can remove {old_what} before it expires.\n\n\
                 Please reply to {email}.\n\n\
                 Kind regards\n{sig}",
                cvr = s.cvr,
            ),
        }
    }
}

fn renewal_dpg(n: &mut Needs<'_>, r: &Renewal, lang: Language) -> Letter {
    let s = n.state;
    let da = lang == Language::Da;
    let secret = r.method == "shared-secret";
    let portal = s.fact("install-dpg", "via").unwrap_or("portal") == "portal";
    let mut facts = credential_lines(&r.method, &r.new, da);
    if !secret {
        facts.insert(
            0,
            format!(
                "- {}: {}",
                if da {
                    "Certifikatets subject"
                } else {
                    "Certificate subject"
                },
                r.new
                    .get("certificate_subject")
                    .cloned()
                    .unwrap_or_default()
            ),
        );
        facts.push(format!(
            "- {}: {}",
            if da {
                "Erstatter SHA-1"
            } else {
                "Replaces SHA-1"
            },
            r.old
                .get("certificate_sha1_thumbprint")
                .cloned()
                .unwrap_or_default()
        ));
    }
    if s.route == Route::Administration {
        let id = n.fact("it-system", "client_id", "--client-id");
        facts.push(format!(
            "- {}: {id}",
            if da {
                "Client id (uændret)"
            } else {
                "Client id (unchanged)"
            }
        ));
    }
    let file = s
        .fact("install-dpg", "p12_file")
        .and_then(|f| Path::new(f).file_name())
        .map(|f| format!(" ({})", f.to_string_lossy()))
        .unwrap_or_default();
    let old_expiry = r
        .old
        .get("certificate_not_after")
        .or_else(|| r.old.get("expires_on"))
        .cloned()
        .unwrap_or_default();
    let email = n.contact_email();
    let sig = signature(s, &email);
    let facts = facts.join("\n");
    let auth = &s.authority;
    let to = "DPG Service Center <servicecenter@sikker-post.dk>".to_owned();
    if da {
        let how = match (secret, portal) {
            (true, _) => "Vi har oprettet en ny OAuth shared secret på IT-systemet. Den nye \
                          hemmelighed sender vi ad en sikker kanal; den står ikke i denne \
                          besked."
                .to_owned(),
            (false, true) => format!(
                "Vi har fornyet vores system-/organisationscertifikat og installerer det nye \
                 selv i DPG-kundeportalen (portal.timengodpg.com) som .p12-fil{file}."
            ),
            (false, false) => format!(
                "Vi har fornyet vores system-/organisationscertifikat. Hermed det nye som \
                 .p12-fil{file}; adgangskoden sender vi ad en anden kanal (telefon eller SMS). \
                 Installer det venligst straks."
            ),
        };
        Letter {
            to,
            subject: format!(
                "Fornyet adgang til CPR-opslag i DPG - {auth} (CVR {})",
                s.cvr
            ),
            body: format!(
                "Kære DPG Service Center\n\n\
                 {how} Det nye er registreret hos Datafordeleren; det gamle udløber \
                 {old_expiry}.\n\n\
                 {facts}\n\n\
                 Kontroller venligst, at oplysningerne svarer til det, I modtager.\n\n\
                 Med venlig hilsen\n{sig}"
            ),
        }
    } else {
        let how = match (secret, portal) {
            (true, _) => "We have created a new OAuth shared secret on the IT-system. The new \
                          secret follows by a secure channel; it is not in this message."
                .to_owned(),
            (false, true) => format!(
                "We have renewed our system or organisation certificate and install the new one \
                 ourselves in the DPG Customer Portal (portal.timengodpg.com) as a .p12 \
                 file{file}."
            ),
            (false, false) => format!(
                "We have renewed our system or organisation certificate. Here is the new one as \
                 a .p12 file{file}; the password follows by another channel (phone or SMS). \
                 Please install it at once."
            ),
        };
        Letter {
            to,
            subject: format!(
                "Renewed access for CPR lookups in DPG - {auth} (CVR {})",
                s.cvr
            ),
            body: format!(
                "Dear DPG Service Center\n\n\
                 {how} The new one is registered at Datafordeler; the old one expires on \
                 {old_expiry}.\n\n\
                 {facts}\n\n\
                 Please check that these details match what you receive.\n\n\
                 Kind regards\n{sig}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_wraps_at_72_and_list_items_stay_whole() {
        let item = "- Datafordeler-tjeneste: CprPersonSmallSimple (PersonSmallCurrentListSimple)";
        let body = format!(
            "Kære alle\n\n{}\n\n{item}\n   - thumbprint {}\n",
            "ord ".repeat(40),
            "A".repeat(70)
        );
        let out = wrap_body(&body, 72);
        let mut items = 0;
        for line in out.lines() {
            if line.trim_start().starts_with("- ") {
                items += 1;
            } else {
                assert!(line.chars().count() <= 72, "{line:?}");
            }
        }
        assert_eq!(items, 2);
        assert!(out.contains(&format!("\n{item}\n")), "{out}");
        assert!(out.ends_with('\n'));
        assert!(out.starts_with("Kære alle\n\nord ord"));
        assert_eq!(
            out.split("\n\n").nth(1).unwrap().split_whitespace().count(),
            40
        );
    }
}
