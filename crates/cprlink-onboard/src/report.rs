//! The whole case file as a document: Markdown for a ticket or a wiki, HTML for a
//! browser or a printout, in Danish or English.
//!
//! Owns the layout, the words around the facts (through `labels`: labels, never keys),
//! the timeline picture (inline SVG, no script, no external file, readable without
//! colour: waiting is hatched, work solid, what is still open dashed; with a text
//! alternative) and its Markdown table, the print layout (A4, the case and the date in
//! the page header, a step never split from its title, links printed as text), and the
//! escaping: every recorded value is escaped for the format (HTML entities; `|`, `<`
//! and line breaks in Markdown tables), so a value typed by a person can never turn
//! into markup. Commands and values are code (`<code>`), never raw backticks in HTML.
//! Dates are the world's (the facts); the days things were typed in appear only in the
//! history. It derives everything from the case and the status; it writes nothing to
//! disk.

use chrono::{Datelike, NaiveDate};

use crate::case::{Case, all_defs};
use crate::labels;
use crate::letters::Language;
use crate::state::{HistoryEntry, State};
use crate::status::{CredentialView, RenewalStatus, Status, StepState, StepStatus};
use crate::steps::{StepDef, renewal_steps};
use crate::timeline::{self, Panel, Span, SpanKind};

/// English or Danish, by the report's language.
fn t(lang: Language, en: &'static str, da: &'static str) -> &'static str {
    match lang {
        Language::En => en,
        Language::Da => da,
    }
}

fn heading(state: &State, lang: Language) -> String {
    format!(
        "{}: {}",
        t(lang, "Onboarding case", "Tilslutningssag"),
        state.authority
    )
}

fn overall(status: &Status, lang: Language) -> &'static str {
    if status.blocked {
        t(lang, "blocked", "blokeret")
    } else if status.renewal.is_some() {
        t(
            lang,
            "complete; a renewal is in progress",
            "gennemført; en fornyelse er i gang",
        )
    } else if status.complete {
        t(
            lang,
            "complete: DPG can look up names in CPR",
            "gennemført: DPG kan slå navne op i CPR",
        )
    } else {
        t(lang, "in progress", "i gang")
    }
}

/// "done on 2026-03-04", "waiting for the CPR service desk since ... (23 days)", ...
fn state_words(s: &StepStatus, lang: Language) -> String {
    match s.state {
        StepState::Done => match s.done_on {
            Some(d) => format!("{} {d}", t(lang, "done on", "udført")),
            None => t(lang, "done", "udført").to_owned(),
        },
        StepState::InProgress => t(lang, "in progress", "i gang").to_owned(),
        StepState::Waiting => format!(
            "{} {} ({})",
            labels::waiting(&s.id, lang),
            match s.waiting_since {
                Some(d) => format!("{} {d}", t(lang, "since", "siden")),
                None => String::new(),
            },
            labels::days(s.waiting_days.unwrap_or(0), lang)
        ),
        StepState::NotStarted => t(lang, "not started", "ikke startet").to_owned(),
    }
}

/// What a span says in the timeline's last column: "waiting for CPR: 23 days", ...
fn span_note(step: &str, span: &Span, lang: Language) -> String {
    let days = labels::days(span.days(), lang);
    match span.kind {
        SpanKind::Waiting => format!("{}: {days}", labels::waiting(step, lang)),
        SpanKind::Open { waiting: true } => format!(
            "{}: {days} {}",
            labels::waiting(step, lang),
            t(lang, "so far", "indtil nu")
        ),
        SpanKind::Open { waiting: false } => {
            format!("{}: {days}", t(lang, "in progress", "i gang"))
        }
        SpanKind::Work if span.days() == 0 => t(lang, "the same day", "samme dag").to_owned(),
        SpanKind::Work => days,
    }
}

/// Where the onboarding's weeks went, in one sentence: its length and how much of it
/// was waiting for others.
fn weeks(p: &Panel, complete: bool, lang: Language) -> String {
    // The last step done ends it (the panel itself may reach on to today).
    let end = if complete {
        p.rows
            .iter()
            .filter_map(|r| r.span)
            .map(|s| s.end)
            .max()
            .unwrap_or(p.to)
    } else {
        p.to
    };
    let total = (end - p.from).num_days();
    let waited: i64 = p
        .rows
        .iter()
        .filter_map(|r| r.span)
        .filter(|s| matches!(s.kind, SpanKind::Waiting | SpanKind::Open { waiting: true }))
        .map(|s| s.days())
        .sum();
    let (total_w, waited_w) = (labels::days(total, lang), labels::days(waited, lang));
    match (complete, lang) {
        (true, Language::En) => format!(
            "The onboarding took {total_w}, from {} to {end}; {waited_w} of it went to waiting for other organisations.",
            p.from
        ),
        (true, Language::Da) => format!(
            "Tilslutningen tog {total_w}, fra {} til {end}; heraf gik {waited_w} med at vente på andre organisationer.",
            p.from
        ),
        (false, Language::En) => format!(
            "The onboarding has taken {total_w} so far, since {}; {waited_w} of it went to waiting for other organisations.",
            p.from
        ),
        (false, Language::Da) => format!(
            "Tilslutningen har indtil nu taget {total_w}, siden {}; heraf {waited_w} med at vente på andre organisationer.",
            p.from
        ),
    }
}

/// A panel's heading: "Onboarding" or "Renewal started 2028-11-15".
fn panel_title(p: &Panel, lang: Language) -> String {
    match (p.renewal_started, p.renewal_completed) {
        (None, _) => format!(
            "{} ({} – {})",
            t(lang, "Onboarding", "Tilslutning"),
            p.from,
            p.to
        ),
        (Some(s), Some(c)) => format!("{} {s} – {c}", t(lang, "Renewal", "Fornyelse")),
        (Some(s), None) => format!(
            "{} {s} ({})",
            t(lang, "Renewal started", "Fornyelse startet"),
            t(lang, "in progress", "i gang")
        ),
    }
}

fn method_of(state: &State) -> Option<&str> {
    state.credential_method()
}

// ---- history -------------------------------------------------------------------------------

/// The words cprlink writes into its own history sentences, in Danish. Only sentences
/// cprlink wrote whole (a case opened, a renewal, a migration) are translated
/// throughout; in "recorded ..." only cprlink's words around the values are.
const HISTORY_DA: &[(&str, &str)] = &[
    ("case opened: route ", "sag oprettet: rute "),
    (", environment ", ", miljø "),
    ("renewal started: the new ", "fornyelse startet: ny "),
    (" replaces the ", " erstatter "),
    ("renewal done: the ", "fornyelse udført: "),
    (" is the case's own; the ", " er nu sagens; "),
    (" was retired on ", " blev fjernet "),
    ("migrated from state version ", "flyttet fra filversion "),
    (" to ", " til "),
    ("(the old file is kept as ", "(den gamle fil er gemt som "),
    (" or the next free name)", " eller det næste ledige navn)"),
    ("certificate SHA-1 ", "certifikat SHA-1 "),
    ("shared secret expiring ", "shared secret med udløb "),
    (", expiring ", ", udløber "),
];

/// cprlink's words in a "recorded ..." sentence, in Danish.
const RECORDED_DA: &[(&str, &str)] = &[
    ("; marked done", "; markeret som udført"),
    ("(the default)", "(standard)"),
    ("(today)", "(i dag)"),
    ("certificate (SHA-1 ", "certifikat (SHA-1 "),
    (", verify ", ", kontrol "),
    ("portal (", "kundeportalen ("),
];

/// A history entry's "what" for people: the fact keys it names become their labels
/// ("case_number = C-1" -> "CPR case number: C-1"), the words cprlink wrote are
/// translated. Values typed by people are left as they are.
fn history_what(h: &HistoryEntry, lang: Language) -> String {
    let mut c = history_words(h, lang).chars().collect::<Vec<_>>();
    if let Some(f) = c.first_mut() {
        *f = f.to_uppercase().next().unwrap_or(*f);
    }
    c.into_iter().collect()
}

fn history_words(h: &HistoryEntry, lang: Language) -> String {
    let mut text = h.what.clone();
    // "contact changed: contact_name, contact_email" and "changed a, b": the keys.
    for prefix in ["contact changed: ", "changed "] {
        if let Some(rest) = text.strip_prefix(prefix)
            && rest.split(", ").all(|k| h.changed.iter().any(|c| c == k))
        {
            let names: Vec<String> = rest.split(", ").map(|k| labels::fact(k, lang)).collect();
            text = format!("{prefix}{}", names.join(", "));
        }
    }
    // "key = value": every key that cprlink wrote so.
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(pos) = rest.find(" = ") {
        let head = &rest[..pos];
        let start = head
            .rfind(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .map_or(0, |i| i + 1);
        let key = &head[start..];
        out.push_str(&head[..start]);
        if !key.is_empty() && h.changed.iter().any(|c| c == key) {
            out.push_str(&labels::fact(key, lang));
            out.push_str(": ");
        } else {
            out.push_str(key);
            out.push_str(" = ");
        }
        rest = &rest[pos + 3..];
    }
    out.push_str(rest);
    // cprlink's word for the handed-over file.
    out = out.replace("recorded p12 (SHA-1 ", "recorded .p12 (SHA-1 ");
    if lang == Language::En {
        return out;
    }
    let whole = [
        "case opened: ",
        "renewal started: ",
        "renewal done: ",
        "migrated from ",
    ];
    if whole.iter().any(|p| out.starts_with(p)) {
        for (en, da) in HISTORY_DA {
            out = out.replace(en, da);
        }
        return out;
    }
    for (en, da) in [
        ("recorded ", "registreret "),
        ("contact changed: ", "kontakt ændret: "),
        ("changed ", "ændret "),
        ("marked done", "markeret som udført"),
    ] {
        if let Some(rest) = out.strip_prefix(en) {
            out = format!("{da}{rest}");
            break;
        }
    }
    for (en, da) in RECORDED_DA {
        out = out.replace(en, da);
    }
    out
}

/// The title of the step a history entry names (of the route or of a renewal).
fn step_title(state: &State, id: &str, lang: Language) -> String {
    let method = method_of(state);
    let def = state
        .route
        .steps()
        .iter()
        .chain(renewal_steps(state.route, method.unwrap_or("certificate")))
        .find(|d| d.id == id);
    match def {
        Some(d) => labels::title(d, state, method, lang),
        None => labels::words(id),
    }
}

// ---- Markdown ------------------------------------------------------------------------------

/// The case file in Markdown.
pub fn markdown(case: &Case, today: NaiveDate, lang: Language) -> String {
    let status = case.status(today);
    let state = case.state();
    let method = method_of(state);
    let md = md_cell;
    let mut out = String::new();
    out.push_str(&format!("# {}\n\n", md_text(&heading(state, lang))));
    out.push_str(&format!(
        "{}\n\n",
        t(
            lang,
            "The connection of the authority's Digital Post gateway (Timengo DPG) to CPR through Datafordeler.",
            "Tilslutningen af myndighedens Digital Post-løsning (Timengo DPG) til CPR via Datafordeleren."
        )
    ));
    out.push_str(&format!(
        "| {} | {} |\n|---|---|\n",
        t(lang, "Case", "Sag"),
        t(lang, "Details", "Oplysninger")
    ));
    for (k, v) in summary_rows(state, &status, today, lang) {
        out.push_str(&format!("| {} | {} |\n", md(&k), md(&v)));
    }
    out.push('\n');
    out.push_str(&format!(
        "**{}:** {}\n\n",
        t(lang, "Next step", "Næste skridt"),
        md_text(&next_step(case, &status, lang))
    ));
    let warnings = warning_lines(&status, lang);
    if !warnings.is_empty() {
        out.push_str(&format!("## {}\n\n", t(lang, "Warnings", "Advarsler")));
        for w in warnings {
            out.push_str(&format!("- {}\n", md_text(&w)));
        }
        out.push('\n');
    }

    out.push_str(&format!("## {}\n\n", t(lang, "Timeline", "Tidslinje")));
    let panels = timeline::panels(case, &status, today);
    if let Some(first) = panels.first() {
        out.push_str(&format!(
            "{}\n\n",
            md_text(&weeks(first, status.complete, lang))
        ));
    }
    for p in panels {
        out.push_str(&format!("### {}\n\n", md_text(&panel_title(&p, lang))));
        out.push_str(&format!(
            "| # | {} | {} | {} | {} |\n|---|---|---|---|---|\n",
            t(lang, "Step", "Trin"),
            t(lang, "From", "Fra"),
            t(lang, "To", "Til"),
            t(lang, "Time", "Tid")
        ));
        for r in &p.rows {
            let title = labels::title(r.def, state, method, lang);
            let (from, to, note) = match &r.span {
                Some(s) => {
                    let to = if matches!(s.kind, SpanKind::Open { .. }) {
                        format!("({})", t(lang, "open", "åben"))
                    } else {
                        s.end.to_string()
                    };
                    (s.start.to_string(), to, span_note(r.def.id, s, lang))
                }
                None => (
                    String::new(),
                    String::new(),
                    t(lang, "not started", "ikke startet").to_owned(),
                ),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r.number,
                md(&title),
                from,
                to,
                md(&note)
            ));
        }
        out.push('\n');
    }

    out.push_str(&format!("## {}\n\n", t(lang, "Steps", "Trin")));
    for (i, (def, st)) in case.steps().iter().zip(&status.steps).enumerate() {
        md_step(&mut out, state, def, st, i + 1, lang);
    }
    let renewals: Vec<&RenewalStatus> = status
        .past_renewals
        .iter()
        .chain(status.renewal.iter())
        .collect();
    if !renewals.is_empty() {
        out.push_str(&format!("## {}\n\n", t(lang, "Renewals", "Fornyelser")));
        for r in renewals {
            md_renewal(&mut out, case, r, lang);
        }
    }

    out.push_str(&format!(
        "## {}\n\n| {} | {} | {} | {} |\n|---|---|---|---|\n",
        t(lang, "History", "Historik"),
        t(lang, "When (UTC)", "Hvornår (UTC)"),
        t(lang, "Who", "Hvem"),
        t(lang, "Step", "Trin"),
        t(lang, "What", "Hvad")
    ));
    for h in &state.history {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            h.at.format("%Y-%m-%d %H:%M"),
            md(&h.who),
            md(&h
                .step
                .as_deref()
                .map(|s| step_title(state, s, lang))
                .unwrap_or_default()),
            md(&history_what(h, lang))
        ));
    }
    out
}

fn md_step(
    out: &mut String,
    state: &State,
    def: &StepDef,
    st: &StepStatus,
    number: usize,
    lang: Language,
) {
    let method = method_of(state);
    out.push_str(&format!(
        "### {number}. {}\n\n*{}* · {} `{}`\n\n{}\n\n",
        md_text(&labels::title(def, state, method, lang)),
        md_text(&state_words(st, lang)),
        t(lang, "step", "trin"),
        def.id,
        md_text(&labels::summary(def, state, method, lang))
    ));
    if st.facts.is_empty() {
        out.push_str(&format!(
            "{}\n\n",
            t(lang, "Nothing recorded yet.", "Intet registreret endnu.")
        ));
    } else {
        out.push_str(&format!(
            "| {} | {} |\n|---|---|\n",
            t(lang, "Recorded", "Registreret"),
            t(lang, "Value", "Værdi")
        ));
        for k in labels::ordered_keys(def, st.facts.keys()) {
            let v = labels::value(k, &st.facts[k], lang);
            let shown = if labels::is_code(k) && !v.contains('`') {
                format!("`{}`", md_cell(&v))
            } else {
                md_cell(&v)
            };
            out.push_str(&format!(
                "| {} | {shown} |\n",
                md_cell(&labels::fact(k, lang))
            ));
        }
        out.push('\n');
    }
    if !st.missing.is_empty() {
        out.push_str(&format!(
            "{}: `{}`\n\n",
            t(lang, "Still to record", "Mangler at blive registreret"),
            st.missing.join("`, `")
        ));
    }
    if !def.links.is_empty() {
        let links: Vec<String> = def
            .links
            .iter()
            .map(|l| {
                format!(
                    "{} <{}>",
                    md_text(l.label),
                    l.url.trim_start_matches("mailto:")
                )
            })
            .collect();
        out.push_str(&format!(
            "{}: {}\n\n",
            t(lang, "Where", "Hvor"),
            links.join("; ")
        ));
    }
}

fn md_renewal(out: &mut String, case: &Case, r: &RenewalStatus, lang: Language) {
    let state = case.state();
    let title = match r.completed_on {
        Some(c) => format!("{} {} – {c}", t(lang, "Renewal", "Fornyelse"), r.started_on),
        None => format!(
            "{} {} ({})",
            t(lang, "Renewal started", "Fornyelse startet"),
            r.started_on,
            t(lang, "in progress", "i gang")
        ),
    };
    out.push_str(&format!("### {}\n\n", md_text(&title)));
    out.push_str(&format!(
        "| | {} | {} |\n|---|---|---|\n",
        t(lang, "Old", "Gammel"),
        t(lang, "New", "Ny")
    ));
    for (label, old, new) in credential_rows(&r.old, &r.new, lang) {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            md_cell(&label),
            md_cell(&old),
            md_cell(&new)
        ));
    }
    out.push('\n');
    if !r.if_stalled.is_empty() {
        out.push_str(&format!(
            "{}:\n\n",
            t(
                lang,
                "If the renewal stalls here",
                "Hvis fornyelsen går i stå her"
            )
        ));
        for c in &r.if_stalled {
            out.push_str(&format!(
                "- {} ({}): {}\n",
                c.on,
                md_text(&step_title(state, &c.step, lang)),
                md_text(&c.message)
            ));
        }
        out.push('\n');
    }
    let defs = renewal_steps(state.route, &r.method);
    for (i, (def, st)) in defs.iter().zip(&r.steps).enumerate() {
        md_step(out, state, def, st, i + 1, lang);
    }
}

/// The summary table's rows.
fn summary_rows(
    state: &State,
    status: &Status,
    today: NaiveDate,
    lang: Language,
) -> Vec<(String, String)> {
    let mut rows = vec![
        (
            t(lang, "Authority", "Myndighed").to_owned(),
            state.authority.clone(),
        ),
        ("CVR".to_owned(), state.cvr.clone()),
        (
            t(lang, "Route", "Rute").to_owned(),
            labels::route(state.route, lang),
        ),
        (
            t(lang, "Environment", "Miljø").to_owned(),
            labels::environment(state, lang),
        ),
    ];
    if let Some(n) = &state.contact_name {
        rows.push((labels::fact("contact_name", lang), n.clone()));
    }
    if let Some(e) = &state.contact_email {
        rows.push((labels::fact("contact_email", lang), e.clone()));
    }
    rows.push((
        t(lang, "Case opened", "Sag oprettet").to_owned(),
        state.created_on.to_string(),
    ));
    rows.push((
        format!("{} {today}", t(lang, "Status on", "Status")),
        overall(status, lang).to_owned(),
    ));
    if let Some(d) = status.credential_expires_on {
        let what = if status.credential_method.as_deref() == Some("shared-secret") {
            t(lang, "Shared secret expires", "Shared secret udløber")
        } else {
            t(lang, "Certificate expires", "Certifikat udløber")
        };
        rows.push((
            what.to_owned(),
            format!("{d} ({})", labels::days((d - today).num_days(), lang)),
        ));
    }
    rows
}

/// The next step in the report's language: the status's sentence in English; in
/// Danish, the step's Danish summary and the command that records it.
fn next_step(case: &Case, status: &Status, lang: Language) -> String {
    if lang == Language::En {
        return status.next_action.clone();
    }
    let state = case.state();
    let method = method_of(state);
    if let Some(b) = status.blockers.first() {
        return format!("Sagen er blokeret: {b}.");
    }
    let current = status.current_step.as_deref().or_else(|| {
        status
            .renewal
            .as_ref()
            .and_then(|r| r.current_step.as_deref())
    });
    match current.and_then(|id| all_defs(state).find(|d| d.id == id)) {
        Some(def) => {
            let cmd = status
                .next_command
                .as_deref()
                .map_or_else(String::new, |c| format!(" Registrer det med `{c}`."));
            format!(
                "{}: {}{cmd}",
                labels::title(def, state, method, lang),
                labels::summary(def, state, method, lang)
            )
        }
        None if status.renewal_due => format!(
            "Tilslutningen er gennemført. Der skal startes en fornyelse: legitimationen udløber {}.",
            status
                .credential_expires_on
                .map_or_else(String::new, |d| d.to_string())
        ),
        None => format!(
            "Tilslutningen er gennemført: DPG kan slå navne op i CPR. Forny legitimationen før {}.",
            status
                .credential_expires_on
                .map_or_else(String::new, |d| d.to_string())
        ),
    }
}

/// Blockers and warnings, in the report's language where cprlink has the words.
fn warning_lines(status: &Status, lang: Language) -> Vec<String> {
    let mut out = Vec::new();
    for b in &status.blockers {
        out.push(format!("{}: {b}", t(lang, "Blocked", "Blokeret")));
    }
    for w in &status.warnings {
        let da = match (lang, w.code) {
            (Language::Da, "certificate_expiring" | "secret_expiring") => Some(format!(
                "Legitimationen udløber {}: start fornyelsen i tide (`cprlink onboard renew`).",
                status
                    .credential_expires_on
                    .map_or_else(String::new, |d| d.to_string())
            )),
            (Language::Da, "renewal_not_handed_over") => Some(
                "DPG har ikke den legitimation, der er registreret hos Datafordeleren.".to_owned(),
            ),
            (Language::Da, "long_wait") => Some(format!(
                "Trin {} har ventet længe på svar: overvej at spørge.",
                w.step.as_deref().unwrap_or("")
            )),
            (Language::Da, "route_phased_out") => Some(
                "Datafordelerens Self-Service er lukket for nye tilslutninger siden 30. juni 2026."
                    .to_owned(),
            ),
            _ => None,
        };
        out.push(da.unwrap_or_else(|| w.message.clone()));
    }
    out
}

/// Label, old value, new value of two credentials.
fn credential_rows(
    old: &CredentialView,
    new: &CredentialView,
    lang: Language,
) -> Vec<(String, String, String)> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let date = |d: Option<NaiveDate>| d.map_or_else(String::new, |d| d.to_string());
    let mut rows = Vec::new();
    if old.sha1_thumbprint.is_some() || new.sha1_thumbprint.is_some() {
        rows.push((
            "SHA-1 thumbprint".to_owned(),
            opt(&old.sha1_thumbprint),
            opt(&new.sha1_thumbprint),
        ));
    }
    if old.created_on.is_some() || new.created_on.is_some() {
        rows.push((
            t(lang, "Created on", "Oprettet").to_owned(),
            date(old.created_on),
            date(new.created_on),
        ));
    }
    let expiry = |c: &CredentialView| match (c.expires_on, c.days_left) {
        (Some(d), Some(n)) if n >= 0 => format!(
            "{d} ({} {})",
            labels::days(n, lang),
            t(lang, "left", "tilbage")
        ),
        (Some(d), _) => format!("{d} ({})", t(lang, "expired", "udløbet")),
        _ => String::new(),
    };
    rows.push((
        t(lang, "Expires on", "Udløber").to_owned(),
        expiry(old),
        expiry(new),
    ));
    rows
}

// ---- HTML ----------------------------------------------------------------------------------

const CSS: &str = "\
:root{--ink:#1a1a1a;--muted:#555;--line:#bbb;--work:#1f4e8c;--wait:#9a5b00;--open:#1f4e8c;--today:#b3261e}
body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;color:var(--ink);max-width:58em;margin:2em auto;padding:0 1em;line-height:1.45;font-size:15px}
h1{font-size:1.7em;margin:0 0 .2em}h2{font-size:1.3em;margin:1.6em 0 .5em;border-bottom:2px solid var(--ink);padding-bottom:.15em}
h3{font-size:1.08em;margin:1.2em 0 .3em}h4{font-size:1em;margin:1em 0 .3em}.lead{color:var(--muted);margin:0 0 1em}
table{border-collapse:collapse;margin:.4em 0 .8em}th,td{border:1px solid var(--line);padding:.25em .6em;text-align:left;vertical-align:top}
thead th,th[scope=col]{background:#eee}th[scope=row]{font-weight:normal;color:var(--muted);background:#f7f7f7}
table.summary th[scope=row]{width:13em}table.history td:first-child{white-space:nowrap}code{font-family:'DejaVu Sans Mono',monospace;font-size:.88em;background:#f2f2f2;padding:0 .2em;overflow-wrap:anywhere}
.state{font-weight:bold}.done{color:#1d6b2c}.waiting{color:var(--wait)}.open{color:var(--muted)}
.blocked{color:#a00;font-weight:bold}.next{border-left:4px solid var(--work);padding:.4em .8em;background:#f3f6fb}
.step{break-inside:avoid;page-break-inside:avoid}.stepid{color:var(--muted);font-size:.85em}
figure.timeline{margin:.5em 0 1em}figure.timeline svg{width:100%;height:auto;display:block}
.legend{list-style:none;padding:0;margin:.3em 0 .8em;display:flex;flex-wrap:wrap;gap:.4em 1.6em;font-size:.9em}
.legend svg{vertical-align:middle;margin-right:.35em}
.links a::after{content:''}
@media print{
 body{max-width:none;margin:0;padding:0;font-size:10pt}
 h2,h3,h4{break-after:avoid;page-break-after:avoid}
 figure.timeline,table.summary,table.facts,table.credentials,tr{break-inside:avoid;page-break-inside:avoid}
 thead{display:table-header-group}
 a{color:inherit;text-decoration:none}
 a[href^='http']::after{content:' <' attr(href) '>';font-size:.9em;color:var(--muted);overflow-wrap:anywhere}
 .next{background:none}
}
";

/// The case file as a standalone HTML page.
pub fn html(case: &Case, today: NaiveDate, lang: Language) -> String {
    let status = case.status(today);
    let state = case.state();
    let method = method_of(state);
    let e = escape_html;
    let title = heading(state, lang);
    let mut out = String::new();
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} (CVR {})</title>\n<style>\n{CSS}",
        if lang == Language::Da { "da" } else { "en" },
        e(&title),
        e(&state.cvr)
    ));
    // The page header of every printed page: the case and the date.
    out.push_str(&format!(
        "@page{{size:A4;margin:20mm 15mm 18mm 15mm;\
         @top-left{{content:{};font:8pt 'DejaVu Sans',sans-serif;color:#555}}\
         @top-right{{content:{};font:8pt 'DejaVu Sans',sans-serif;color:#555}}\
         @bottom-right{{content:counter(page) ' / ' counter(pages);font:8pt 'DejaVu Sans',sans-serif;color:#555}}}}\n",
        css_string(&format!("{title} (CVR {})", state.cvr)),
        css_string(&format!("{} {today}", t(lang, "Status on", "Status"))),
    ));
    out.push_str("</style>\n</head>\n<body>\n");
    out.push_str(&format!("<h1>{}</h1>\n", e(&title)));
    out.push_str(&format!(
        "<p class=\"lead\">{}</p>\n",
        t(
            lang,
            "The connection of the authority's Digital Post gateway (Timengo DPG) to CPR through Datafordeler.",
            "Tilslutningen af myndighedens Digital Post-løsning (Timengo DPG) til CPR via Datafordeleren."
        )
    ));
    out.push_str("<table class=\"summary\">\n");
    for (k, v) in summary_rows(state, &status, today, lang) {
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n",
            e(&k),
            e(&v)
        ));
    }
    out.push_str("</table>\n");
    out.push_str(&format!(
        "<p class=\"next\"><strong>{}:</strong> {}</p>\n",
        t(lang, "Next step", "Næste skridt"),
        html_prose(&next_step(case, &status, lang))
    ));
    let warnings = warning_lines(&status, lang);
    if !warnings.is_empty() {
        out.push_str(&format!(
            "<h2>{}</h2>\n<ul>\n",
            t(lang, "Warnings", "Advarsler")
        ));
        let blocked = status.blockers.len();
        for (i, w) in warnings.iter().enumerate() {
            let class = if i < blocked {
                " class=\"blocked\""
            } else {
                ""
            };
            out.push_str(&format!("<li{class}>{}</li>\n", html_prose(w)));
        }
        out.push_str("</ul>\n");
    }

    out.push_str(&format!("<h2>{}</h2>\n", t(lang, "Timeline", "Tidslinje")));
    let panels = timeline::panels(case, &status, today);
    if let Some(first) = panels.first() {
        out.push_str(&format!(
            "<p>{}</p>\n",
            e(&weeks(first, status.complete, lang))
        ));
    }
    out.push_str(&legend(lang));
    for (i, p) in panels.iter().enumerate() {
        out.push_str(&format!(
            "<figure class=\"timeline\">\n<figcaption><h3>{}</h3></figcaption>\n{}</figure>\n",
            e(&panel_title(p, lang)),
            svg(p, i, state, method, lang)
        ));
    }

    out.push_str(&format!("<h2>{}</h2>\n", t(lang, "Steps", "Trin")));
    for (i, (def, st)) in case.steps().iter().zip(&status.steps).enumerate() {
        html_step(&mut out, state, def, st, i + 1, lang, 3);
    }
    let renewals: Vec<&RenewalStatus> = status
        .past_renewals
        .iter()
        .chain(status.renewal.iter())
        .collect();
    if !renewals.is_empty() {
        out.push_str(&format!("<h2>{}</h2>\n", t(lang, "Renewals", "Fornyelser")));
        for r in renewals {
            html_renewal(&mut out, case, r, lang);
        }
    }

    out.push_str(&format!(
        "<h2>{}</h2>\n<table class=\"history\">\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>\n",
        t(lang, "History", "Historik"),
        t(lang, "When (UTC)", "Hvornår (UTC)"),
        t(lang, "Who", "Hvem"),
        t(lang, "Step", "Trin"),
        t(lang, "What", "Hvad")
    ));
    for h in &state.history {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            h.at.format("%Y-%m-%d %H:%M"),
            e(&h.who),
            e(&h.step
                .as_deref()
                .map(|s| step_title(state, s, lang))
                .unwrap_or_else(|| "–".to_owned())),
            e(&history_what(h, lang))
        ));
    }
    out.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    out
}

fn html_step(
    out: &mut String,
    state: &State,
    def: &StepDef,
    st: &StepStatus,
    number: usize,
    lang: Language,
    level: u8,
) {
    let e = escape_html;
    let method = method_of(state);
    let class = match st.state {
        StepState::Done => "done",
        StepState::Waiting => "waiting",
        _ => "open",
    };
    out.push_str(&format!(
        "<section class=\"step\" id=\"step-{id}\">\n<h{level}>{number}. {}</h{level}>\n\
         <p><span class=\"state {class}\">{}</span> <span class=\"stepid\">· {} <code>{id}</code></span></p>\n\
         <p>{}</p>\n",
        e(&labels::title(def, state, method, lang)),
        e(&state_words(st, lang)),
        t(lang, "step", "trin"),
        html_prose(&labels::summary(def, state, method, lang)),
        id = e(def.id),
    ));
    if st.facts.is_empty() {
        out.push_str(&format!(
            "<p>{}</p>\n",
            t(lang, "Nothing recorded yet.", "Intet registreret endnu.")
        ));
    } else {
        out.push_str(&format!(
            "<table class=\"facts\">\n<thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>\n",
            t(lang, "Recorded", "Registreret"),
            t(lang, "Value", "Værdi")
        ));
        for k in labels::ordered_keys(def, st.facts.keys()) {
            let v = labels::value(k, &st.facts[k], lang);
            let shown = if labels::is_code(k) {
                format!("<code>{}</code>", e(&v))
            } else {
                e(&v)
            };
            out.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{shown}</td></tr>\n",
                e(&labels::fact(k, lang))
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    if !st.missing.is_empty() {
        let flags: Vec<String> = st
            .missing
            .iter()
            .map(|m| format!("<code>{}</code>", e(m)))
            .collect();
        out.push_str(&format!(
            "<p>{}: {}</p>\n",
            t(lang, "Still to record", "Mangler at blive registreret"),
            flags.join(", ")
        ));
    }
    if !def.links.is_empty() {
        let links: Vec<String> = def
            .links
            .iter()
            .map(|l| match l.url.strip_prefix("mailto:") {
                Some(addr) => format!("{}: <a href=\"{}\">{}</a>", e(l.label), e(l.url), e(addr)),
                None => format!("<a href=\"{}\">{}</a>", e(l.url), e(l.label)),
            })
            .collect();
        out.push_str(&format!(
            "<p class=\"links\">{}: {}</p>\n",
            t(lang, "Where", "Hvor"),
            links.join("; ")
        ));
    }
    out.push_str("</section>\n");
}

fn html_renewal(out: &mut String, case: &Case, r: &RenewalStatus, lang: Language) {
    let e = escape_html;
    let state = case.state();
    let title = match r.completed_on {
        Some(c) => format!("{} {} – {c}", t(lang, "Renewal", "Fornyelse"), r.started_on),
        None => format!(
            "{} {} ({})",
            t(lang, "Renewal started", "Fornyelse startet"),
            r.started_on,
            t(lang, "in progress", "i gang")
        ),
    };
    let what = if r.method == "shared-secret" {
        t(lang, "Shared secret", "Shared secret")
    } else {
        t(lang, "Certificate", "Certifikat")
    };
    out.push_str(&format!(
        "<section class=\"step\">\n<h3>{}</h3>\n<table class=\"credentials\">\n<thead><tr><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>\n",
        e(&title),
        what,
        t(lang, "Old", "Gammel"),
        t(lang, "New", "Ny")
    ));
    for (label, old, new) in credential_rows(&r.old, &r.new, lang) {
        let code = |v: &str| {
            if label.starts_with("SHA-1") {
                format!("<code>{}</code>", e(v))
            } else {
                e(v)
            }
        };
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>\n",
            e(&label),
            code(&old),
            code(&new)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    if !r.if_stalled.is_empty() {
        out.push_str(&format!(
            "<p>{}:</p>\n<ul>\n",
            t(
                lang,
                "If the renewal stalls here",
                "Hvis fornyelsen går i stå her"
            )
        ));
        for c in &r.if_stalled {
            out.push_str(&format!(
                "<li>{} ({}): {}</li>\n",
                c.on,
                e(&step_title(state, &c.step, lang)),
                html_prose(&c.message)
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    let defs = renewal_steps(state.route, &r.method);
    for (i, (def, st)) in defs.iter().zip(&r.steps).enumerate() {
        html_step(out, state, def, st, i + 1, lang, 4);
    }
}

// ---- the timeline picture --------------------------------------------------------------

/// The width of the picture (it scales to the page); its columns.
const SVG_W: i64 = 900;
const CHART_X: i64 = 236;
const CHART_W: i64 = 400;
const NOTE_X: i64 = 648;
const ROW_H: i64 = 32;
const AXIS_H: i64 = 30;

/// Splits a title into at most two lines of about `width` characters.
fn two_lines(s: &str, width: usize) -> Vec<String> {
    if s.chars().count() <= width {
        return vec![s.to_owned()];
    }
    let mut first = String::new();
    let mut words = s.split(' ').peekable();
    while let Some(w) = words.peek() {
        if !first.is_empty() && first.chars().count() + 1 + w.chars().count() > width {
            break;
        }
        if !first.is_empty() {
            first.push(' ');
        }
        first.push_str(w);
        words.next();
    }
    let rest: Vec<&str> = words.collect();
    let mut second = rest.join(" ");
    if second.chars().count() > width + 4 {
        second = second.chars().take(width + 1).collect::<String>() + "…";
    }
    vec![first, second]
}

/// The hatch pattern of waiting spans, under the document-wide id `id`.
fn svg_defs(id: &str) -> String {
    format!(
        "<defs>\
         <pattern id=\"{id}\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
         <rect width=\"7\" height=\"7\" fill=\"#fbe3b3\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"7\" stroke=\"#9a5b00\" stroke-width=\"3\"/></pattern>\
         </defs>\n"
    )
}

/// The drawing of a span's kind (also used by the legend); `hatch` is the id of the
/// pattern.
fn bar_style(kind: SpanKind, hatch: &str) -> String {
    match kind {
        SpanKind::Work => "fill=\"#1f4e8c\" stroke=\"#0d2a52\" stroke-width=\"1\"".to_owned(),
        SpanKind::Waiting => {
            format!("fill=\"url(#{hatch})\" stroke=\"#9a5b00\" stroke-width=\"1.5\"")
        }
        SpanKind::Open { waiting: true } => format!(
            "fill=\"url(#{hatch})\" fill-opacity=\"0.45\" stroke=\"#9a5b00\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\""
        ),
        SpanKind::Open { waiting: false } => {
            "fill=\"#ffffff\" stroke=\"#1f4e8c\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\""
                .to_owned()
        }
    }
}

fn kind_class(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Work => "work",
        SpanKind::Waiting => "waiting",
        SpanKind::Open { waiting: true } => "open waiting",
        SpanKind::Open { waiting: false } => "open",
    }
}

/// The legend, as a list with a small drawing of each kind.
fn legend(lang: Language) -> String {
    let items = [
        (
            SpanKind::Work,
            t(
                lang,
                "work by the authority (solid)",
                "arbejde hos myndigheden (fuld)",
            ),
        ),
        (
            SpanKind::Waiting,
            t(
                lang,
                "waiting for another organisation (hatched)",
                "venter på en anden organisation (skraveret)",
            ),
        ),
        (
            SpanKind::Open { waiting: false },
            t(
                lang,
                "not done yet (dashed outline)",
                "ikke udført endnu (stiplet kant)",
            ),
        ),
    ];
    let mut out = String::from("<ul class=\"legend\">\n");
    for (i, (kind, text)) in items.into_iter().enumerate() {
        let hatch = format!("hatch-legend-{i}");
        out.push_str(&format!(
            "<li><svg width=\"34\" height=\"14\" viewBox=\"0 0 34 14\" aria-hidden=\"true\">{}\
             <rect x=\"1\" y=\"2\" width=\"32\" height=\"10\" {}/></svg>{text}</li>\n",
            svg_defs(&hatch),
            bar_style(kind, &hatch)
        ));
    }
    out.push_str(&format!(
        "<li><svg width=\"14\" height=\"16\" viewBox=\"0 0 14 16\" aria-hidden=\"true\">\
         <line x1=\"7\" y1=\"0\" x2=\"7\" y2=\"16\" stroke=\"#b3261e\" stroke-width=\"2\" stroke-dasharray=\"3 2\"/></svg>{}</li>\n",
        t(lang, "today (dashed line)", "i dag (stiplet linje)")
    ));
    out.push_str("</ul>\n");
    out
}

/// Short month names for the axis.
fn month(m: u32, lang: Language) -> &'static str {
    const EN: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DA: [&str; 12] = [
        "jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
    ];
    let i = (m.clamp(1, 12) - 1) as usize;
    match lang {
        Language::En => EN[i],
        Language::Da => DA[i],
    }
}

fn day_label(d: NaiveDate, with_year: bool, lang: Language) -> String {
    let sep = if lang == Language::Da { ". " } else { " " };
    let mut s = format!("{}{sep}{}", d.day(), month(d.month(), lang));
    if with_year {
        s.push_str(&format!(" {}", d.year()));
    }
    s
}

/// The ticks of an axis from `from` to `to`: weekly, fortnightly, monthly or
/// quarterly, by the span.
fn ticks(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let span = (to - from).num_days();
    let mut out = Vec::new();
    if span <= 120 {
        let step = if span <= 45 { 7 } else { 14 };
        let mut d = from;
        while d <= to {
            out.push(d);
            d += chrono::Duration::days(step);
        }
    } else {
        let months = if span <= 400 {
            1
        } else if span <= 1200 {
            3
        } else {
            6
        };
        let mut d = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).unwrap_or(from);
        while d <= to {
            if d >= from {
                out.push(d);
            }
            d = d
                .checked_add_months(chrono::Months::new(months))
                .unwrap_or(to + chrono::Duration::days(1));
        }
    }
    out
}

/// One panel as an SVG picture with its text alternative.
fn svg(p: &Panel, n: usize, state: &State, method: Option<&str>, lang: Language) -> String {
    let e = escape_html;
    let days_total = (p.to - p.from).num_days() + 1;
    let x = |d: NaiveDate| -> f64 {
        let off = (d - p.from).num_days() as f64;
        CHART_X as f64 + off / days_total as f64 * CHART_W as f64
    };
    // Room below the rows for the label of today's line.
    let height = AXIS_H + ROW_H * p.rows.len() as i64 + 22;
    let title = panel_title(p, lang);
    let mut desc = Vec::new();
    let mut body = String::new();
    // Axis: ticks with light grid lines.
    let ticks = ticks(p.from, p.to);
    let mut last_year = None;
    for d in &ticks {
        let tx = x(*d);
        let with_year = last_year != Some(d.year());
        last_year = Some(d.year());
        body.push_str(&format!(
            "<line x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"#d4d4d4\" stroke-width=\"1\"/>\
             <text x=\"{tx:.1}\" y=\"16\" font-size=\"11\" fill=\"#555\" text-anchor=\"middle\">{}</text>\n",
            AXIS_H - 6,
            height - 4,
            e(&day_label(*d, with_year, lang))
        ));
    }
    for (i, r) in p.rows.iter().enumerate() {
        let y = AXIS_H + ROW_H * i as i64;
        if i % 2 == 0 {
            body.push_str(&format!(
                "<rect x=\"0\" y=\"{y}\" width=\"{SVG_W}\" height=\"{ROW_H}\" fill=\"#f5f5f5\"/>\n"
            ));
        }
        let title = format!(
            "{}. {}",
            r.number,
            labels::title(r.def, state, method, lang)
        );
        let lines = two_lines(&title, 34);
        let first_y = if lines.len() == 1 { y + 20 } else { y + 14 };
        body.push_str(&format!(
            "<text x=\"6\" y=\"{first_y}\" font-size=\"11.5\" fill=\"#1a1a1a\">"
        ));
        for (j, l) in lines.iter().enumerate() {
            body.push_str(&format!(
                "<tspan x=\"6\" dy=\"{}\">{}</tspan>",
                if j == 0 { 0 } else { 13 },
                e(l)
            ));
        }
        body.push_str("</text>\n");
        let note = match &r.span {
            Some(s) => {
                let x0 = x(s.start);
                let x1 = x(s.end + chrono::Duration::days(1));
                let w = (x1 - x0).max(3.0);
                body.push_str(&format!(
                    "<rect class=\"bar {}\" data-step=\"{}\" x=\"{x0:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"{}\" rx=\"2\" {}>\
                     <title>{}</title></rect>\n",
                    kind_class(s.kind),
                    e(r.def.id),
                    y + 8,
                    ROW_H - 16,
                    bar_style(s.kind, &format!("hatch-{n}")),
                    e(&format!("{title}: {} – {}", s.start, s.end))
                ));
                let note = span_note(r.def.id, s, lang);
                desc.push(format!(
                    "{title}: {} {} {} {}, {note}.",
                    t(lang, "from", "fra"),
                    s.start,
                    t(lang, "to", "til"),
                    s.end
                ));
                note
            }
            None => {
                let note = t(lang, "not started", "ikke startet").to_owned();
                desc.push(format!("{title}: {note}."));
                note
            }
        };
        let weight = if matches!(
            r.span.map(|s| s.kind),
            Some(SpanKind::Waiting | SpanKind::Open { waiting: true })
        ) {
            " font-weight=\"bold\""
        } else {
            ""
        };
        body.push_str(&format!(
            "<text x=\"{NOTE_X}\" y=\"{}\" font-size=\"11.5\" fill=\"#1a1a1a\"{weight}>{}</text>\n",
            y + 20,
            e(&note)
        ));
    }
    if let Some(d) = p.today {
        let tx = x(d) + (x(d + chrono::Duration::days(1)) - x(d)) / 2.0;
        body.push_str(&format!(
            "<line class=\"today\" x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"#b3261e\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{tx:.1}\" y=\"{}\" font-size=\"10.5\" fill=\"#b3261e\" text-anchor=\"end\" dx=\"-4\">{} {d}</text>\n",
            AXIS_H - 4,
            height - 14,
            height - 4,
            t(lang, "today", "i dag")
        ));
        desc.push(format!("{} {d}.", t(lang, "Today is", "I dag er")));
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {SVG_W} {height}\" role=\"img\" \
         aria-labelledby=\"tl-title-{n} tl-desc-{n}\" font-family=\"'DejaVu Sans', Arial, sans-serif\">\n\
         <title id=\"tl-title-{n}\">{}</title>\n<desc id=\"tl-desc-{n}\">{}</desc>\n{}{body}</svg>\n",
        e(&format!("{}: {title}", t(lang, "Timeline", "Tidslinje"))),
        e(&desc.join(" ")),
        svg_defs(&format!("hatch-{n}"))
    )
}

// ---- escaping ------------------------------------------------------------------------------

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Prose that may hold commands in backticks: escaped, the commands as `<code>`. A
/// backtick without its pair is dropped (it would show raw).
fn html_prose(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let paired = parts.len() % 2 == 1;
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        let last_unpaired = !paired && i == parts.len() - 1;
        if i % 2 == 1 && !last_unpaired {
            out.push_str(&format!("<code>{}</code>", escape_html(part)));
        } else {
            out.push_str(&escape_html(part));
        }
    }
    out
}

/// A CSS string literal (for `@page` content): quoted, with quotes, backslashes and
/// `<` escaped, so a case name cannot end the style sheet.
fn css_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("\\3C "),
            '>' => out.push_str("\\3E "),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Markdown text outside tables: no raw HTML, one paragraph.
fn md_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

/// A Markdown table cell: as text, plus `|` escaped.
fn md_cell(s: &str) -> String {
    md_text(s).replace('|', "\\|")
}
