//! The examples at the end of every help page (and so of every man page and of
//! `docs/cli.md`, which `cargo xtask docs` renders from the same clap tree).
//!
//! Each is a real command: the test `help::tests::examples_parse` runs every `cprlink ...`
//! line through the parser, so an example cannot name a flag that does not exist. Lines
//! stay within 100 columns (`Examples:` pages are checked at `COLUMNS=100`).

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
    ("Everything about a file", "cprlink cert inspect mitid-erhverv.p12 --password-file pw.txt"),
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
    ("A .p12 from MitID Erhverv", "cprlink cert inspect mitid-erhverv.p12 --password-file pw.txt"),
    ("A certificate alone (DER or PEM)", "cprlink cert inspect certificate.cer"),
    ("As JSON, for scripts", "cprlink --json cert inspect certificate.cer"),
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
    ("Guidance for the current step, then record it", "cprlink onboard"),
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
    ("What to do now, and the values to type", "cprlink onboard next"),
    ("The same without prompts (for a ticket)", "cprlink onboard next --no-input"),
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
    ("The checklist and the next action", "cprlink onboard status"),
    ("As JSON, for monitoring", "cprlink --json onboard status"),
);

pub(crate) const ONBOARD_LETTER: &str = examples!(
    ("The application to the CPR service desk, in Danish", "cprlink onboard letter cpr-application"),
    ("The note to DPG, in English", "cprlink onboard letter dpg-handover --lang en"),
);

pub(crate) const ONBOARD_REPORT: &str = examples!(
    ("The case file for a ticket or a wiki", "cprlink onboard report > case.md"),
    ("A document to print or share", "cprlink onboard report --format html > case.html"),
);

pub(crate) const ONBOARD_CONFIG: &str = examples!(
    ("The go-live cprlink.toml from the case", "cprlink onboard config"),
    ("Elsewhere, replacing an older one", "cprlink onboard config --out /etc/cprlink/cprlink.toml --force"),
);

pub(crate) const LOOKUP: &str = examples!(
    ("One name", "cprlink lookup 0101011234"),
    ("A file in bulk, to a file", "cprlink lookup --input cprs.txt --output names.csv"),
    ("Carry on after an interruption", "cprlink lookup --input cprs.txt --output names.csv --resume"),
    (
        "Ask the rows that failed again",
        "cprlink lookup --input cprs.txt --output names.csv --retry-errors"
    ),
    ("From a pipe, as JSON Lines", "cut -d, -f1 people.csv | cprlink lookup --input - --format jsonl"),
);

pub(crate) const SERVE: &str = examples!(
    ("On this machine only", "cprlink serve"),
    (
        "For other machines (a Bearer token is required)",
        "cprlink serve --listen 0.0.0.0:8080 --token-file /etc/cprlink/token"
    ),
    ("Ask it", "curl -s http://127.0.0.1:8080/v1/persons/0101011234/name"),
);

pub(crate) const DOCTOR: &str = examples!(
    ("Check the go-live chain step by step", "cprlink doctor"),
    ("And one real lookup at the end", "cprlink doctor --probe-cpr 0101011234"),
);

pub(crate) const SANDBOX: &str = examples!(
    ("Run it, keeping its files (ca.pem, client.p12, cprlink.toml, ...)", "cprlink sandbox --dir ./sbx"),
    ("Then, in another terminal", "cprlink --config ./sbx/cprlink.toml lookup --input ./sbx/persons.csv"),
    ("Like Datafordeler over the internet, with faults", "cprlink sandbox --dir ./sbx --latency-ms 50 --fault-rate 0.1"),
    ("Answers cut short and new credentials inert", "cprlink sandbox --dir ./sbx --max-nodes 5 --inert-secs 30"),
);

pub(crate) const DEMO: &str = examples!(
    ("The whole story in a temporary directory", "cprlink demo"),
    ("Keep its files to try the commands yourself", "cprlink demo --dir ./demo"),
);

pub(crate) const COMPLETIONS: &str = examples!(
    ("bash", "cprlink completions bash > ~/.local/share/bash-completion/completions/cprlink"),
    ("zsh (any directory on $fpath)", "cprlink completions zsh > ~/.zfunc/_cprlink"),
    ("fish", "cprlink completions fish > ~/.config/fish/completions/cprlink.fish"),
);

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// Every example of every help page, with its page's name.
    pub(crate) fn all() -> Vec<(&'static str, &'static str)> {
        vec![
            ("cprlink", super::TOP),
            ("cert", super::CERT),
            ("cert inspect", super::CERT_INSPECT),
            ("cert export-cer", super::CERT_EXPORT_CER),
            ("cert pack", super::CERT_PACK),
            ("cert repack", super::CERT_REPACK),
            ("cert verify", super::CERT_VERIFY),
            ("onboard", super::ONBOARD),
            ("onboard init", super::ONBOARD_INIT),
            ("onboard next", super::ONBOARD_NEXT),
            ("onboard record", super::ONBOARD_RECORD),
            ("onboard status", super::ONBOARD_STATUS),
            ("onboard letter", super::ONBOARD_LETTER),
            ("onboard report", super::ONBOARD_REPORT),
            ("onboard config", super::ONBOARD_CONFIG),
            ("lookup", super::LOOKUP),
            ("serve", super::SERVE),
            ("doctor", super::DOCTOR),
            ("sandbox", super::SANDBOX),
            ("demo", super::DEMO),
            ("completions", super::COMPLETIONS),
        ]
    }

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
        for (page, section) in all() {
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
        for (page, section) in all() {
            for line in section.lines() {
                assert!(line.chars().count() <= 100, "{page}: {line}");
            }
        }
    }
}
