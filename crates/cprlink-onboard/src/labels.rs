//! The words a person reads in the case file, in Danish and English: the labels of the
//! recorded facts (never their keys), the steps' titles and one-line summaries, the
//! states, and the values that have words (`portal` is "DPG Customer Portal").
//!
//! Owns these tables and nothing else; the report decides where they go. English
//! titles and summaries are the steps' own (`steps`); the Danish ones are here, in the
//! words of the authorities' own guides. A key without a label (a newer cprlink's) is
//! shown as words ("some key" for `some_key`), never raw.

use crate::letters::Language;
use crate::state::State;
use crate::steps::{Route, StepDef};

/// The label of a recorded fact.
pub fn fact(key: &str, lang: Language) -> String {
    let da = lang == Language::Da;
    if let Some(rest) = key.strip_prefix("certificate_") {
        return certificate_part(rest, da, if da { "Certifikat" } else { "Certificate" });
    }
    if let Some(rest) = key.strip_prefix("p12_") {
        if rest == "verdict" {
            return pick(
                da,
                "Kontrol af .p12 (cert verify)",
                ".p12 check (cert verify)",
            );
        }
        if rest == "warned_checks" {
            return pick(da, "Advarsler ved kontrollen", "Warnings of the check");
        }
        return certificate_part(rest, da, ".p12");
    }
    let (en, dk) = match key {
        "username" => ("Web user", "Webbruger"),
        "login_method" => ("Login method", "Login med"),
        "service_user" => ("Service user", "Tjenestebruger"),
        "it_system" => ("IT-system", "IT-system"),
        "client_id" => ("Client id", "Client id"),
        "method" => ("OAuth credential", "OAuth-legitimation"),
        "created_on" => ("Secret created on", "Hemmelighed oprettet"),
        "expires_on" => ("Secret expires on", "Hemmelighed udløber"),
        "dpg_ip" => ("DPG's IPv4 address", "DPG's IPv4-adresse"),
        "added_on" => ("Added to the allowlist on", "Tilføjet allowlisten"),
        "case_number" => ("CPR case number", "CPR-sagsnummer"),
        "applied_on" => ("Applied on virk.dk on", "Ansøgt på virk.dk"),
        "virk_receipt" => ("virk.dk receipt", "virk.dk-kvittering"),
        "approved_on" => ("Approved on", "Godkendt"),
        "approval_reference" => ("Approval reference", "Godkendelsens reference"),
        "requested_on" => ("Requested on", "Anmodet"),
        "granted_on" => ("Granted on", "Givet"),
        "support_ticket" => ("Support ticket", "Supportsag"),
        "confirmed_on" => ("Confirmed on", "Bekræftet"),
        "via" => ("Way to DPG", "Vej til DPG"),
        "handed_over_on" => ("DPG got it on", "DPG fik den"),
        "received_by" => ("Received at DPG by", "Modtaget hos DPG af"),
        "secret_expires_on" => (
            "Secret given to DPG expires on",
            "Hemmelighed givet til DPG udløber",
        ),
        "registered_on" => ("Registered on", "Registreret"),
        "installed_on" => ("DPG got it on", "DPG fik den"),
        "retired_on" => ("Old one removed on", "Gammel fjernet"),
        "contact_name" => ("Contact", "Kontaktperson"),
        "contact_email" => ("Contact e-mail", "Kontakt-e-mail"),
        other => return words(other),
    };
    pick(da, dk, en)
}

fn certificate_part(rest: &str, da: bool, what: &str) -> String {
    let part = match (rest, da) {
        ("file", false) => "file",
        ("file", true) => "fil",
        ("subject", _) => "subject",
        ("sha1_thumbprint", _) => "SHA-1 thumbprint",
        ("sha256_fingerprint", _) => "SHA-256 fingerprint",
        ("not_after", false) => "expires on",
        ("not_after", true) => "udløber",
        ("environment", false) => "environment",
        ("environment", true) => "miljø",
        ("cvr", _) => "CVR",
        (other, _) => return format!("{what}: {}", words(other)),
    };
    format!("{what}: {part}")
}

/// A key as words, for a fact this cprlink has no label for.
pub fn words(key: &str) -> String {
    let w = key.replace(['_', '-'], " ");
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => w,
    }
}

fn pick(da: bool, dk: &str, en: &str) -> String {
    if da { dk } else { en }.to_owned()
}

/// A recorded value in words where it has them (`portal`, `shared-secret`, `pass`, ...);
/// other values as recorded.
pub fn value(key: &str, v: &str, lang: Language) -> String {
    let da = lang == Language::Da;
    match (key, v) {
        ("method", "certificate") => pick(da, "OAuth-certifikat", "OAuth certificate"),
        ("method", "shared-secret") => pick(da, "OAuth shared secret", "OAuth shared secret"),
        ("via", "portal") => pick(da, "DPG-kundeportalen", "DPG Customer Portal"),
        ("via", "service-center") => pick(da, "DPG Service Center", "DPG Service Center"),
        ("login_method", "password") => {
            pick(da, "brugernavn og adgangskode", "username and password")
        }
        ("login_method", "mitid") => "MitID".to_owned(),
        (k, "production") if k.ends_with("environment") => pick(da, "produktion", "production"),
        (k, "test") if k.ends_with("environment") => pick(da, "test", "test"),
        (k, "pass") if k.ends_with("verdict") => pick(da, "bestået", "passed"),
        (k, "warn") if k.ends_with("verdict") => {
            pick(da, "bestået med advarsler", "passed with warnings")
        }
        (k, "fail") if k.ends_with("verdict") => pick(da, "dumpet", "failed"),
        _ => v.to_owned(),
    }
}

/// Whether a fact's value is an identifier or a file to show as code (`<code>`).
pub fn is_code(key: &str) -> bool {
    key.ends_with("_file")
        || key.ends_with("thumbprint")
        || key.ends_with("fingerprint")
        || key.ends_with("warned_checks")
        || matches!(
            key,
            "client_id" | "dpg_ip" | "username" | "service_user" | "case_number"
        )
}

/// The facts of a step in the order a person reads them: the step's own fields first
/// (in the table's order), then the certificate's facts, then anything else.
pub fn ordered_keys<'a>(def: &StepDef, facts: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    const CERT: &[&str] = &[
        "subject",
        "cvr",
        "not_after",
        "environment",
        "sha1_thumbprint",
        "sha256_fingerprint",
        "file",
        "verdict",
        "warned_checks",
    ];
    let rank = |k: &str| -> (usize, usize) {
        if let Some(i) = def.fields.iter().position(|f| f.key == k) {
            return (0, i);
        }
        let rest = k
            .strip_prefix("certificate_")
            .or_else(|| k.strip_prefix("p12_"));
        match rest.and_then(|r| CERT.iter().position(|c| *c == r)) {
            Some(i) => (1, i),
            None => (2, 0),
        }
    };
    let mut keys: Vec<&String> = facts.collect();
    keys.sort_by_key(|k| (rank(k), (*k).clone()));
    keys
}

/// A step's title in `lang`.
pub fn title(def: &StepDef, state: &State, method: Option<&str>, lang: Language) -> String {
    if lang == Language::En {
        return def.title.to_owned();
    }
    let secret = method == Some("shared-secret");
    let selfservice = state.route == Route::Selfservice;
    match def.id {
        "selfservice-user" => "Webbruger i Datafordelerens Self-Service",
        "service-user" => "Tjenestebruger med certifikatet (CER)",
        "cpr-application" => "Ansøgning til CPR (sagsnummer, derefter virk.dk)",
        "cpr-approval" => "Godkendelse fra CPR-servicedesken",
        "production-access" => "Produktionsadgang og IP-whitelisting",
        "dpg-handover" if selfservice => "Certifikatet givet til DPG (.p12)",
        "dpg-handover" => "Legitimation og client id givet til DPG",
        "it-system" => "IT-system i Datafordeler Administration",
        "credential" => "OAuth-legitimation på IT-systemet",
        "ip-allowlist" => "IP-allowlist (/32) på IT-systemet",
        "data-access" => "Dataadgang CustomPublicSectorPerson",
        "register-new" if secret => "Ny shared secret oprettet på IT-systemet",
        "register-new" if selfservice => "Nyt certifikat på tjenestebrugeren (CER)",
        "register-new" => "Nyt certifikat registreret på IT-systemet (PEM)",
        "install-dpg" if secret => "Ny shared secret givet til DPG",
        "install-dpg" => "Nyt certifikat installeret hos DPG (.p12)",
        "confirm" if secret => "Et opslag virker med den nye hemmelighed",
        "confirm" => "Et opslag virker med det nye certifikat",
        "retire-old" if secret => "Gammel shared secret slettet på IT-systemet",
        "retire-old" => "Gammelt certifikat fjernet hos Datafordeleren",
        _ => def.title,
    }
    .to_owned()
}

/// What a step is about, in one sentence in `lang` (commands in backticks).
pub fn summary(def: &StepDef, state: &State, method: Option<&str>, lang: Language) -> String {
    if lang == Language::En {
        let mut s = def.action.to_owned();
        s.push('.');
        return s;
    }
    let secret = method == Some("shared-secret");
    let selfservice = state.route == Route::Selfservice;
    match def.id {
        "selfservice-user" => "Opret en webbruger i Datafordelerens Self-Service.",
        "service-user" => "Opret en tjenestebruger, og upload certifikatet i CER-format.",
        "cpr-application" => {
            "Få et sagsnummer fra CPR-servicedesken (`cprlink onboard letter cpr-application`), og send ansøgningen på virk.dk."
        }
        "cpr-approval" => "Vent på CPR-servicedeskens godkendelse.",
        "production-access" => {
            "Bed Datafordelerens support om produktionsadgang og IP-whitelisting (`cprlink onboard letter datafordeler-support`)."
        }
        "dpg-handover" if selfservice => {
            "Kontroller .p12-filen, og installer den i DPG-kundeportalen (eller giv den til DPG Service Center)."
        }
        "dpg-handover" => {
            "Giv DPG client id og legitimationen: den kontrollerede .p12 i DPG-kundeportalen (eller via DPG Service Center), eller hemmeligheden ad en sikker kanal."
        }
        "it-system" => {
            "Log ind i Datafordeler Administration med MitID Erhverv, og opret et IT-system."
        }
        "credential" => {
            "Giv IT-systemet dets OAuth-legitimation: certifikatet som PEM under \"OAuth certifikat\", eller en shared secret."
        }
        "ip-allowlist" => {
            "Tilføj DPG-tjenestens IPv4-adresse som /32 på IT-systemets IP-allowlist."
        }
        "data-access" => {
            "Anmod om dataadgangen CustomPublicSectorPerson på IT-systemet med CPR-godkendelsen vedhæftet, og vent på, at registerejeren (CPR) giver den."
        }
        "register-new" if secret => {
            "Opret en ny shared secret på IT-systemet ved siden af den gamle."
        }
        "register-new" => "Upload det nye certifikat ved siden af det gamle.",
        "install-dpg" if secret => "Giv DPG den nye hemmelighed ad en sikker kanal.",
        "install-dpg" => {
            "Installer det nye certifikat hos DPG med det samme (DPG-kundeportalen eller DPG Service Center)."
        }
        "confirm" => "Kontroller, at et opslag virker med den nye legitimation (`cprlink doctor`).",
        "retire-old" => "Fjern den gamle legitimation hos Datafordeleren.",
        _ => def.action,
    }
    .to_owned()
}

/// A waiting period in a few words: "waiting for CPR" (the report adds its length).
pub fn waiting(step: &str, lang: Language) -> String {
    let da = lang == Language::Da;
    match step {
        "cpr-approval" => pick(da, "venter på CPR-godkendelsen", "waiting for CPR"),
        "data-access" => pick(da, "venter på dataadgangen", "waiting for the data access"),
        "production-access" => pick(
            da,
            "venter på Datafordelerens support",
            "waiting for Datafordeler support",
        ),
        _ => pick(da, "venter", "waiting"),
    }
}

/// "1 day", "23 days" / "1 dag", "23 dage".
pub fn days(n: i64, lang: Language) -> String {
    match (lang, n.abs() == 1) {
        (Language::Da, true) => format!("{n} dag"),
        (Language::Da, false) => format!("{n} dage"),
        (Language::En, true) => format!("{n} day"),
        (Language::En, false) => format!("{n} days"),
    }
}

/// The route in words.
pub fn route(route: Route, lang: Language) -> String {
    let da = lang == Language::Da;
    match route {
        Route::Administration => pick(
            da,
            "Datafordeler Administration (IT-system, GraphQL)",
            "Datafordeler Administration (IT-system, GraphQL)",
        ),
        Route::Selfservice => pick(
            da,
            "Datafordelerens Self-Service (tjenestebruger, REST)",
            "Datafordeler Self-Service (service user, REST)",
        ),
    }
}

/// The environment in words.
pub fn environment(state: &State, lang: Language) -> String {
    let da = lang == Language::Da;
    match state.environment {
        crate::steps::TargetEnvironment::Production => pick(da, "Produktion", "Production"),
        crate::steps::TargetEnvironment::Test => pick(da, "Test (Test04)", "Test (Test04)"),
    }
}
