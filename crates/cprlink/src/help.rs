//! The examples at the end of every help page (and so of every man page and of
//! `docs/cli.md`, which `cargo xtask docs` renders from the same clap tree).
//!
//! Each is a real command: the test `help::tests::examples_parse` runs every `cprlink ...`
//! line through the parser, so an example cannot name a flag that does not exist. Lines
//! stay within 100 columns (`Examples:` pages are checked at `COLUMNS=100`).
//!
//! [`decorate`] puts them on the clap tree, as both the short and the long
//! after-help: a page whose examples are its long help is shown in clap's long layout
//! under `--help` like every other page, and in the short layout under `-h`. The man
//! pages render the same text.

/// Builds an "Examples:" section from `(what it does, the command)` pairs.
macro_rules! examples {
    ($(($what:expr, $cmd:expr)),+ $(,)?) => {
        concat!("Examples:\n", $("  # ", $what, "\n  ", $cmd, "\n"),+)
    };
}

pub(crate) const TOP: &str = concat!(
    examples!(
        ("The whole story on the embedded sandbox", "cprlink demo"),
        (
            "Start an onboarding case (administration route)",
            "cprlink onboard init --authority \"Eksempel Kommune\" --cvr 29189846"
        ),
        ("What to do next in the case", "cprlink onboard"),
        ("Look up one name", "cprlink lookup 0101011234"),
        (
            "Check a handed-over .p12",
            "cprlink cert verify handover.p12 --password-file handover.p12.password"
        ),
    ),
    "\nExit codes: 0 ok, 1 the answer is no, 2 usage or input, 3 authentication,\n\
     4 unavailable, 5 internal error (a bug), 130 interrupted. See docs/exit-codes.md."
);

pub(crate) const CERT: &str = examples!(
    (
        "Everything about a file",
        "cprlink cert inspect mitid-erhverv.p12 --password-file pw.txt"
    ),
    (
        "The CER for Datafordeler (PEM for Administration)",
        "cprlink cert export-cer mitid-erhverv.p12 --out upload.pem --encoding pem --password-file pw.txt"
    ),
    (
        "DPG's checklist",
        "cprlink cert verify handover.p12 --password-file pw.txt --cvr 29189846"
    ),
);

pub(crate) const CERT_INSPECT: &str = examples!(
    (
        "A .p12 from MitID Erhverv",
        "cprlink cert inspect mitid-erhverv.p12 --password-file pw.txt"
    ),
    (
        "A certificate alone (DER or PEM)",
        "cprlink cert inspect certificate.cer"
    ),
    (
        "As JSON, for scripts",
        "cprlink --json cert inspect certificate.cer"
    ),
);

pub(crate) const CERT_EXPORT_CER: &str = examples!(
    (
        "PEM, for the OAuth certificate in Datafordeler Administration",
        "cprlink cert export-cer mitid-erhverv.p12 --out upload.pem --encoding pem --password-file pw.txt"
    ),
    (
        "DER, for a Self-Service service user",
        "cprlink cert export-cer mitid-erhverv.p12 --out upload.cer --password-file pw.txt"
    ),
);

pub(crate) const CERT_PACK: &str = examples!(
    (
        "Certificate and key into the handover .p12, with the OCES3 issuing CA",
        "cprlink cert pack --cert cert.pem --key key.pem --add-oces-chain --out handover.p12"
    ),
    (
        "The same with your own password file and modern protection",
        "cprlink cert pack --cert cert.pem --key key.pem --add-oces-chain --out handover.p12 \\\n    \
         --profile modern --new-password-file new-pw.txt"
    ),
);

pub(crate) const CERT_REPACK: &str = examples!(
    (
        "An old RC2 export into the compatible profile",
        "cprlink cert repack old.pfx --out handover.p12 --password-file old-pw.txt"
    ),
    (
        "Add the issuing CA that the file lacks",
        "cprlink cert repack mitid-erhverv.p12 --out handover.p12 --add-oces-chain \\\n    \
         --password-file pw.txt"
    ),
);

pub(crate) const CERT_VERIFY: &str = examples!(
    (
        "The full checklist against what was uploaded to Datafordeler",
        "cprlink cert verify handover.p12 --password-file pw.txt --cvr 29189846 \\\n    \
         --environment production --cer upload.cer"
    ),
    (
        "Many files, each with DIR/NAME.password beside it, then a summary table",
        "cprlink cert verify inbox/*.p12 --password-dir inbox"
    ),
    (
        "A renewal: same CVR and organisation, new key, later expiry",
        "cprlink cert verify new.p12 --password-file pw.txt --renewal-of old.cer"
    ),
);

pub(crate) const ONBOARD: &str = examples!(
    (
        "Guidance for the current step, then record it",
        "cprlink onboard"
    ),
    ("Where the case stands", "cprlink onboard status"),
    (
        "Record a step without prompts",
        "cprlink onboard record cpr-approval --approved-on 2026-11-17 --done"
    ),
);

pub(crate) const ONBOARD_INIT: &str = examples!(
    (
        "A new case (asks for the route on a terminal; administration otherwise)",
        "cprlink onboard init --authority \"Eksempel Kommune\" --cvr 29189846"
    ),
    (
        "A Test04 case in its own file",
        "cprlink onboard init --authority \"Eksempel Kommune\" --cvr 29189846 \\\n    \
         --environment test --state test04.toml"
    ),
    (
        "An authority that already has a Self-Service service user",
        "cprlink onboard init --authority \"Eksempel Kommune\" --cvr 29189846 --route selfservice"
    ),
);

pub(crate) const ONBOARD_NEXT: &str = examples!(
    (
        "What to do now, and the values to type",
        "cprlink onboard next"
    ),
    (
        "The same without prompts (for a ticket)",
        "cprlink onboard next --no-input"
    ),
);

pub(crate) const ONBOARD_RECORD: &str = examples!(
    (
        "The IT-system made in Datafordeler Administration",
        "cprlink onboard record it-system --it-system \"Kommune DPG CPR\" --client-id abc123 --done"
    ),
    (
        "The OAuth certificate uploaded as PEM",
        "cprlink onboard record credential --certificate upload.pem --done"
    ),
    (
        "The data access requested (the step then waits for the grant)",
        "cprlink onboard record data-access --requested-on 2026-11-19"
    ),
    (
        "The .p12 installed in the DPG Customer Portal",
        "cprlink onboard record dpg-handover --p12 handover.p12 --password-file pw.txt --done"
    ),
);

pub(crate) const ONBOARD_STATUS: &str = examples!(
    (
        "The checklist and the next action",
        "cprlink onboard status"
    ),
    ("As JSON, for monitoring", "cprlink --json onboard status"),
);

pub(crate) const ONBOARD_LETTER: &str = examples!(
    (
        "The application to the CPR service desk, in Danish",
        "cprlink onboard letter cpr-application"
    ),
    (
        "The note to DPG, in English",
        "cprlink onboard letter dpg-handover --lang en"
    ),
);

pub(crate) const ONBOARD_REPORT: &str = examples!(
    (
        "The case file for a ticket or a wiki",
        "cprlink onboard report > case.md"
    ),
    (
        "A document to print or share",
        "cprlink onboard report --format html > case.html"
    ),
);

pub(crate) const ONBOARD_RENEW: &str = examples!(
    (
        "A renewed OCES3 certificate, checked against the registered one",
        "cprlink onboard renew --certificate new-upload.pem"
    ),
    (
        "A new shared secret",
        "cprlink onboard renew --method shared-secret --created-on 2027-03-01 --expires-on 2029-02-28"
    ),
);

pub(crate) const ONBOARD_CONFIG: &str = examples!(
    (
        "The go-live cprlink.toml from the case",
        "cprlink onboard config"
    ),
    (
        "Elsewhere, replacing an older one",
        "cprlink onboard config --out /etc/cprlink/cprlink.toml --force"
    ),
);

pub(crate) const LOOKUP: &str = examples!(
    ("One name", "cprlink lookup 0101011234"),
    (
        "A file in bulk, to a file",
        "cprlink lookup --input cprs.txt --output names.csv"
    ),
    (
        "Carry on after an interruption",
        "cprlink lookup --input cprs.txt --output names.csv --resume"
    ),
    (
        "Ask the rows that failed again",
        "cprlink lookup --input cprs.txt --output names.csv --retry-errors"
    ),
    (
        "From a pipe, as JSON Lines",
        "cut -d, -f1 people.csv | cprlink lookup --input - --format jsonl"
    ),
);

pub(crate) const SERVE: &str = examples!(
    ("On this machine only", "cprlink serve"),
    (
        "For other machines (a Bearer token is required)",
        "cprlink serve --listen 0.0.0.0:8080 --token-file /etc/cprlink/token"
    ),
    (
        "Ask it",
        "curl -s http://127.0.0.1:8080/v1/persons/0101011234/name"
    ),
);

pub(crate) const DOCTOR: &str = examples!(
    ("Check the go-live chain step by step", "cprlink doctor"),
    (
        "And one real lookup at the end",
        "cprlink doctor --probe-cpr 0101011234"
    ),
);

pub(crate) const AUDIT: &str = examples!(
    (
        "Who looked this person up (a data subject's request)",
        "cprlink audit find 0101011234"
    ),
    ("Is the trail as it was written?", "cprlink audit verify"),
    ("Keep five years", "cprlink audit prune --before 2021-12-01"),
);

pub(crate) const AUDIT_FIND: &str = examples!(
    (
        "Every lookup of one person",
        "cprlink audit find 0101011234"
    ),
    (
        "Since a day, as JSON for the reply",
        "cprlink --json audit find 010101-1234 --since 2026-01-01"
    ),
);

pub(crate) const AUDIT_VERIFY: &str = examples!(
    (
        "Check every entry against its MAC and the one before",
        "cprlink audit verify"
    ),
    (
        "The trail of another config",
        "cprlink --config /etc/cprlink/cprlink.toml audit verify"
    ),
);

pub(crate) const AUDIT_PRUNE: &str = examples!((
    "Drop the entries from before a day; the rest still verifies",
    "cprlink audit prune --before 2021-12-01"
),);

pub(crate) const SANDBOX: &str = examples!(
    (
        "Run it, keeping its files (ca.pem, client.p12, cprlink.toml, ...)",
        "cprlink sandbox --dir ./sbx"
    ),
    (
        "Then, in another terminal",
        "cprlink --config ./sbx/cprlink.toml lookup --input ./sbx/persons.csv"
    ),
    (
        "Like Datafordeler over the internet, with faults",
        "cprlink sandbox --dir ./sbx --latency-ms 50 --fault-rate 0.1"
    ),
    (
        "Answers cut short and new credentials inert",
        "cprlink sandbox --dir ./sbx --max-nodes 5 --inert-secs 30"
    ),
);

pub(crate) const DEMO: &str = examples!(
    ("The whole story in a temporary directory", "cprlink demo"),
    (
        "Keep its files to try the commands yourself",
        "cprlink demo --dir ./demo"
    ),
);

pub(crate) const COMPLETIONS: &str = examples!(
    (
        "bash",
        "cprlink completions bash > ~/.local/share/bash-completion/completions/cprlink"
    ),
    (
        "zsh (any directory on $fpath)",
        "cprlink completions zsh > ~/.zfunc/_cprlink"
    ),
    (
        "fish",
        "cprlink completions fish > ~/.config/fish/completions/cprlink.fish"
    ),
);

/// Every help page's examples, by the page's command path (`cprlink` for the top).
/// A command missing here fails `tests::every_page_has_examples`.
const PAGES: &[(&str, &str)] = &[
    ("cprlink", TOP),
    ("cert", CERT),
    ("cert inspect", CERT_INSPECT),
    ("cert export-cer", CERT_EXPORT_CER),
    ("cert pack", CERT_PACK),
    ("cert repack", CERT_REPACK),
    ("cert verify", CERT_VERIFY),
    ("onboard", ONBOARD),
    ("onboard init", ONBOARD_INIT),
    ("onboard next", ONBOARD_NEXT),
    ("onboard record", ONBOARD_RECORD),
    ("onboard status", ONBOARD_STATUS),
    ("onboard letter", ONBOARD_LETTER),
    ("onboard report", ONBOARD_REPORT),
    ("onboard config", ONBOARD_CONFIG),
    ("onboard renew", ONBOARD_RENEW),
    ("lookup", LOOKUP),
    ("serve", SERVE),
    ("doctor", DOCTOR),
    ("audit", AUDIT),
    ("audit find", AUDIT_FIND),
    ("audit verify", AUDIT_VERIFY),
    ("audit prune", AUDIT_PRUNE),
    ("sandbox", SANDBOX),
    ("demo", DEMO),
    ("completions", COMPLETIONS),
];

/// The command with each page's examples attached, recursively. clap's own `help`
/// subcommand is left as it is.
pub(crate) fn decorate(cmd: clap::Command) -> clap::Command {
    fn walk(cmd: clap::Command, path: &str) -> clap::Command {
        let cmd = match PAGES.iter().find(|(p, _)| *p == path) {
            Some((_, examples)) => cmd.after_help(*examples).after_long_help(*examples),
            None => cmd,
        };
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_owned())
            .collect();
        names.into_iter().fold(cmd, |cmd, name| {
            let sub = if path == "cprlink" {
                name.clone()
            } else {
                format!("{path} {name}")
            };
            cmd.mut_subcommand(&name, |s| walk(s, &sub))
        })
    }
    walk(cmd, "cprlink")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::PAGES;

    /// The `cprlink ...` commands of a section, continuation lines joined; of a pipe
    /// or a redirection only the cprlink part.
    fn commands(section: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for line in section.lines().map(str::trim) {
            if let Some(rest) = line.strip_suffix('\\') {
                cur.push_str(rest);
                continue;
            }
            cur.push_str(line);
            let cmd = std::mem::take(&mut cur);
            let ours = match cmd.split_once("| cprlink ") {
                Some((_, tail)) => format!("cprlink {tail}"),
                None if cmd.starts_with("cprlink") => cmd,
                None => continue,
            };
            let ours = ours.split(['|', '>']).next().unwrap_or("").trim();
            out.push(ours.to_owned());
        }
        out
    }

    /// Splits like a shell would for these simple lines (double quotes only).
    fn words(cmd: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        for c in cmd.chars() {
            match c {
                '"' => quoted = !quoted,
                ' ' if !quoted => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                }
                c => cur.push(c),
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    #[test]
    fn examples_parse() {
        let mut n = 0;
        for &(page, section) in PAGES {
            assert!(section.starts_with("Examples:\n"), "{page}");
            for cmd in commands(section) {
                let argv = words(&cmd);
                if let Err(e) = crate::args::Cli::try_parse_from(&argv) {
                    panic!("{page}: `{cmd}` does not parse: {e}");
                }
                n += 1;
            }
        }
        assert!(n >= 40, "only {n} example commands found");
    }

    #[test]
    fn examples_fit_100_columns() {
        for &(page, section) in PAGES {
            for line in section.lines() {
                assert!(line.chars().count() <= 100, "{page}: {line}");
            }
        }
    }

    /// Every command of the tree with its path.
    fn pages(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            pages(sub, format!("{path} {}", sub.get_name()), out);
        }
        out.push((path, cmd.clone()));
    }

    #[test]
    fn every_page_has_examples_and_every_argument_a_description() {
        let mut all = Vec::new();
        pages(&crate::command(), "cprlink".to_owned(), &mut all);
        assert!(all.len() >= 20, "{} pages", all.len());
        for (path, cmd) in &all {
            let after = cmd.get_after_help().map(|h| h.to_string());
            assert!(
                after.is_some_and(|h| h.starts_with("Examples:")),
                "`{path}` has no examples: add it to help::PAGES"
            );
            for arg in cmd.get_arguments() {
                if ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                assert!(
                    arg.get_help().is_some(),
                    "`{path}`: {} has no description",
                    arg.get_id()
                );
            }
        }
        // No page listed that the tree lacks (a renamed command).
        for (page, _) in PAGES {
            let full = if *page == "cprlink" {
                (*page).to_owned()
            } else {
                format!("cprlink {page}")
            };
            assert!(
                all.iter().any(|(p, _)| *p == full),
                "help::PAGES names `{page}`, which does not exist"
            );
        }
    }

    #[test]
    fn lookup_flags_show_the_built_in_defaults() {
        let d = cprlink_lookup::config::Lookup::default();
        let cmd = crate::command();
        let lookup = cmd.find_subcommand("lookup").expect("lookup exists");
        let help = |id: &str| {
            lookup
                .get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default()
        };
        for (id, value) in [
            ("concurrency", d.concurrency.to_string()),
            ("batch_size", d.batch_size.to_string()),
            ("rate", d.rate_limit_per_sec.to_string()),
            ("retries", d.retries.to_string()),
            ("timeout", d.timeout_secs.to_string()),
        ] {
            let h = help(id);
            assert!(h.contains(&format!("default {value}")), "--{id}: {h}");
            assert!(h.contains("config"), "--{id}: {h}");
        }
    }
}
