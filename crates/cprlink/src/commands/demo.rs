//! `cprlink demo`: the whole story on the embedded sandbox, in one command.
//!
//! Starts the sandbox in-process on free ports, then runs the very commands a user
//! would type (each printed as `$ cprlink ...` before it runs, through the same parser
//! and command code): a test certificate, the PEM exported and registered as the
//! IT-system's OAuth certificate, the handover .p12 packed and verified, the seven
//! steps of the administration route recorded, the go-live config written by `onboard
//! config`, single lookups over GraphQL (one over REST) and a bulk run of 1,000 with
//! that config. The sandbox stands in for Datafordeler's Test04: its URLs and CA reach
//! the config as `CPRLINK_DATAFORDELER_*` overrides, as they would from a shell. It adds
//! no behaviour of its own beyond setting the stage and checking the bulk answers
//! against the sandbox's `persons.csv`.
//!
//! It reads as a story on a 100-column terminal: each step is one `$ cprlink ...` line
//! (wrapped with ` \` continuations) followed by its result. The commands run with
//! [`Story`] set on their `Ui`, so their notes follow them on stdout in order, and their
//! "Next:" hints, which the story itself answers, are left out.

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{Duration, Local};
use clap::Parser;
use console::Style;
use cprlink_cert::files::{Overwrite, write_private, write_public};
use cprlink_cert::testpki::LeafSpec;
use cprlink_sandbox::HardCase;
use cprlink_sandbox::{Sandbox, SandboxOptions};

use crate::args::{Cli, DemoArgs};
use crate::commands::{Context, dispatch};
use crate::exit::{CliError, Code};
use crate::output::{Story, Ui, WIDTH, hanging};
use crate::prompt::NoInputPrompter;

/// The demo authority. The CVR is made up (the sandbox's own), and like every real one
/// it passes the modulus-11 check `onboard init` makes.
const AUTHORITY: &str = "Demo Kommune";
const CVR: &str = "12345674";
/// An example public IPv4 address standing in for DPG's fixed external address.
const DPG_IP: &str = "185.45.8.10";
const PERSONS: u32 = 2000;
const BULK: usize = 1000;
/// The demo's onboarding case file.
const STATE: &str = "$D/onboarding.toml";

pub(crate) fn run(args: &DemoArgs, ctx: &mut Context) -> Result<Code, CliError> {
    let started = Instant::now();
    let ui = ctx.ui.clone();
    // Without --dir, everything lives in a temporary directory removed at the end.
    let tmp;
    let dir: PathBuf = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| {
                CliError::usage(format!("cannot create {}: {e}", d.display())).with_hint(
                    "give --dir a directory you may write to, or leave it out for a temporary one",
                )
            })?;
            std::path::absolute(d).map_err(|e| CliError::usage(format!("{}: {e}", d.display())))?
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("cprlink-demo-")
                .tempdir()
                .map_err(|e| CliError::usage(format!("cannot make a temporary directory: {e}")))?;
            tmp.path().to_path_buf()
        }
    };
    let mut demo = Demo {
        ui: ui.clone(),
        story_ui: Ui {
            story: Some(Story::new(&dir)),
            ..ui.clone()
        },
        dir: dir.clone(),
        config_env: Vec::new(),
    };
    for name in [
        "demo.pem",
        "cprlink.toml",
        "dpg-handover.p12",
        "dpg-handover.p12.password",
        "onboarding.toml",
    ] {
        if dir.join(name).exists() {
            return Err(CliError::usage(format!(
                "{} already holds a demo ({name} exists)",
                dir.display()
            ))
            .with_hint("pass an empty or new --dir"));
        }
    }

    let rt = ctx.runtime()?;
    demo.heading("cprlink demo: connecting DPG to CPR, on the embedded sandbox");
    demo.say(&format!(
        "Everything happens in D={} (shown as $D below).",
        dir.display()
    ));
    demo.say("Starting the sandbox: a local stand-in for Datafordeler (mutual TLS, REST, OAuth, GraphQL) ...");
    let mut opts = SandboxOptions::new(dir.join("sandbox"));
    opts.persons = PERSONS;
    let sandbox = rt
        .block_on(Sandbox::start(opts))
        .map_err(|e| CliError::unavailable(format!("the sandbox did not start: {e}")))?;
    demo.config_env = sandbox_endpoints(&sandbox);
    demo.say(&format!("Sandbox up, with {PERSONS} synthetic persons:"));
    demo.print(&format!("  REST     {}", sandbox.rest_base_url()))?;
    demo.print(&format!("  GraphQL  {}", sandbox.graphql_url()))?;
    // The sandbox serves from the runtime's worker threads while the commands run.
    let result = demo.story(&sandbox);
    rt.block_on(sandbox.shutdown());
    let summary = result?;
    demo.heading("Done");
    demo.say(&summary);
    demo.say(&format!(
        "The demo took {:.1} s.",
        started.elapsed().as_secs_f64()
    ));
    demo.next_steps(args.dir.is_some());
    Ok(Code::Success)
}

struct Demo {
    ui: Ui,
    /// The `Ui` of the commands the story runs.
    story_ui: Ui,
    dir: PathBuf,
    /// The sandbox's URLs and CA as `CPRLINK_DATAFORDELER_*` overrides.
    config_env: Vec<(String, String)>,
}

/// What points a Test04 config at the sandbox instead: its URLs and its CA.
fn sandbox_endpoints(sandbox: &Sandbox) -> Vec<(String, String)> {
    let var = |key: &str| format!("CPRLINK_DATAFORDELER_{}", key.to_uppercase());
    vec![
        (var("environment"), "sandbox".to_owned()),
        (var("rest_base_url"), sandbox.rest_base_url()),
        (var("graphql_url"), sandbox.graphql_url()),
        (var("token_url"), sandbox.token_url()),
        (var("ca_file"), sandbox.files().ca_pem.display().to_string()),
    ]
}

impl Demo {
    fn story(&self, sandbox: &Sandbox) -> Result<String, CliError> {
        let d = &self.dir;
        let ca = sandbox.files().ca_pem.clone();
        let pki = sandbox.pki();

        // 1. The certificate.
        self.heading("1. The certificate (MitID Erhverv in real life)");
        self.say(&format!(
            "In production, MitID Erhverv issues {AUTHORITY} an OCES3 system certificate. Here the \
             sandbox's test CA issues one of the same shape (RSA 3072, RSASSA-PSS, CVR {CVR})."
        ));
        let leaf = pki
            .issue(&LeafSpec::oces3_system(
                "Demo Kommune DPG CPR",
                AUTHORITY,
                CVR,
            ))
            .map_err(CliError::from)?;
        let cert_pem = d.join("certificate.pem");
        let key_pem = d.join("private-key.pem");
        let issuing_pem = d.join("issuing-ca.pem");
        write_public(
            &cert_pem,
            &leaf.cert.to_pem().map_err(cert_err)?,
            Overwrite::Refuse,
        )?;
        write_private(
            &key_pem,
            &leaf.key.private_key_to_pem_pkcs8().map_err(cert_err)?,
            Overwrite::Refuse,
        )?;
        write_public(
            &issuing_pem,
            &pki.issuing.cert.to_pem().map_err(cert_err)?,
            Overwrite::Refuse,
        )?;
        self.run(&[
            "cert",
            "inspect",
            "$D/certificate.pem",
            "--trust",
            &self.rel(&ca),
        ])?;

        // 2. The PEM for Datafordeler, "uploaded" = registered with the sandbox.
        self.heading(
            "2. Export the PEM and upload it as the IT-system's OAuth certificate (step credential)",
        );
        self.run(&[
            "cert",
            "export-cer",
            "$D/certificate.pem",
            "--out",
            "$D/demo.pem",
            "--encoding",
            "pem",
        ])?;
        let thumbprint = cprlink_cert::facts::sha1_thumbprint(&leaf.cert)?;
        sandbox.register_certificate(&thumbprint, true);
        self.say(&format!(
            "Registered {thumbprint} with the sandbox, as Datafordeler Administration does when \
             the PEM is uploaded under \"OAuth certifikat\"."
        ));

        // 3. The handover .p12 for DPG.
        self.heading("3. Pack the handover .p12 for DPG and verify it as DPG staff would");
        self.run(&[
            "cert",
            "pack",
            "--cert",
            "$D/certificate.pem",
            "--key",
            "$D/private-key.pem",
            "--chain",
            "$D/issuing-ca.pem",
            "--out",
            "$D/dpg-handover.p12",
        ])?;
        let verify = self.run_code(&[
            "cert",
            "verify",
            "$D/dpg-handover.p12",
            "--password-file",
            "$D/dpg-handover.p12.password",
            "--cer",
            "$D/demo.pem",
            "--cvr",
            CVR,
            "--environment",
            "test",
            "--trust",
            &self.rel(&ca),
        ])?;
        if verify != Code::Success {
            return Err(CliError::new(
                Code::No,
                "the demo's own .p12 did not verify",
            ));
        }

        // 4. The administration route's seven steps, as they would be recorded over weeks.
        self.heading(
            "4. The seven steps of the administration route, recorded as they happen (weeks, in real life)",
        );
        let today = Local::now().date_naive();
        let day = |n: i64| (today - Duration::days(n)).format("%Y-%m-%d").to_string();
        self.run(&[
            "onboard",
            "init",
            "--authority",
            AUTHORITY,
            "--cvr",
            CVR,
            "--route",
            "administration",
            "--environment",
            "test",
            "--contact-email",
            "it@demo-kommune.invalid",
            "--state",
            STATE,
        ])?;
        self.record(
            "it-system",
            &[
                "--it-system",
                "Demo Kommune DPG CPR",
                "--client-id",
                sandbox.client_id(),
            ],
        )?;
        self.record(
            "credential",
            &[
                "--method",
                "certificate",
                "--certificate",
                "$D/demo.pem",
                "--trust",
                &self.rel(&ca),
            ],
        )?;
        let (added, applied, approved) = (day(40), day(35), day(14));
        let (requested, granted) = (day(12), day(4));
        self.record("ip-allowlist", &["--dpg-ip", DPG_IP, "--added-on", &added])?;
        self.record(
            "cpr-application",
            &[
                "--case-number",
                "CPR-2026-0042",
                "--applied-on",
                &applied,
                "--virk-receipt",
                "VIRK-7731",
            ],
        )?;
        self.record(
            "cpr-approval",
            &[
                "--approved-on",
                &approved,
                "--approval-reference",
                "CPR-2026-0042/G",
            ],
        )?;
        self.record(
            "data-access",
            &["--requested-on", &requested, "--granted-on", &granted],
        )?;
        self.record(
            "dpg-handover",
            &[
                "--p12",
                "$D/dpg-handover.p12",
                "--password-file",
                "$D/dpg-handover.p12.password",
                "--trust",
                &self.rel(&ca),
                "--via",
                "portal",
            ],
        )?;
        self.run(&["onboard", "status", "--state", STATE])?;
        let case = cprlink_onboard::Case::load(&d.join("onboarding.toml"))?;
        if !case.status_with(today, "cprlink onboard").complete {
            return Err(CliError::new(
                Code::No,
                "the demo's onboarding case is not complete after its seven steps",
            ));
        }
        self.say("Onboarding is complete: every step is done, with its evidence in the case file.");

        // 5. The go-live config from the case, and lookups with it.
        self.heading(
            "5. The go-live config from the case, and lookups with it (what DPG now does)",
        );
        self.run(&[
            "onboard",
            "config",
            "--state",
            STATE,
            "--out",
            "$D/cprlink.toml",
        ])?;
        self.say(
            "The sandbox stands in for Datafordeler's Test04: the commands below get its URLs \
             and CA from the environment, as any key of cprlink.toml can:",
        );
        for (var, value) in &self.config_env {
            let value = self
                .story_ui
                .story
                .as_ref()
                .map_or_else(|| value.clone(), |story| story.shorten(value).into_owned());
            let line = format!("  {var}={value}");
            if line.chars().count() <= WIDTH {
                self.print(&line)?;
            } else {
                // A long URL goes whole on a line of its own, never cut.
                self.print(&format!("  {var}=\n    {value}"))?;
            }
        }
        let config = self.dir.join("cprlink.toml");
        let cfg = self.rel(&config);
        self.say("\nBefore the first lookup, every link of the chain, checked in order:");
        self.run(&["--config", &cfg, "doctor"])?;
        let pop = sandbox.population();
        let cases = [
            (
                HardCase::DanishLetters,
                "A name with Danish letters, kept exactly (UTF-8):",
            ),
            (
                HardCase::ProtectedInForce,
                "Name and address protection in force: authorities get the name, flagged:",
            ),
            (
                HardCase::Deceased,
                "A deceased person (person status as CPR says it):",
            ),
            (HardCase::Emigrated, "An emigrated person:"),
        ];
        let mut first = None;
        for (case, what) in cases {
            let Some(i) = pop.example(case) else { continue };
            let cpr = pop.cpr(i);
            self.say(&format!("\n{what}"));
            self.run(&["--config", &cfg, "lookup", &cpr, "--format", "table"])?;
            first.get_or_insert(cpr);
        }
        self.say(
            "\nThe same through REST (mutual TLS with the .p12 alone), while Datafordeler still \
             answers it:",
        );
        if let Some(cpr) = &first {
            self.run(&[
                "--config", &cfg, "lookup", "--api", "rest", cpr, "--format", "table",
            ])?;
        }

        // 6. Bulk.
        self.heading("6. A bulk run: 1,000 CPR numbers, streamed, in batches");
        let expected = read_expected(&sandbox.files().persons_csv, BULK)?;
        let bulk = d.join("bulk.txt");
        let mut text = String::with_capacity(BULK * 11);
        for (cpr, _) in &expected {
            let _ = writeln!(text, "{cpr}");
        }
        write_public(&bulk, text.as_bytes(), Overwrite::Refuse)?;
        let t = Instant::now();
        self.run(&[
            "--config",
            &cfg,
            "lookup",
            "--input",
            "$D/bulk.txt",
            "--output",
            "$D/names.jsonl",
        ])?;
        let secs = t.elapsed().as_secs_f64();
        let (matched, total) = compare(&d.join("names.jsonl"), &expected)?;
        if matched != total {
            return Err(CliError::new(
                Code::No,
                format!("{matched} of {total} bulk answers match the sandbox's persons.csv"),
            ));
        }
        Ok(format!(
            "{AUTHORITY} (CVR {CVR}) is connected on the sandbox: OAuth certificate registered, \
             .p12 verified and installed at DPG, the seven steps of the administration route \
             done, the go-live config written from the case. {total} of {total} bulk names \
             (GraphQL) match the expected answers ({:.0} lookups/s over {} requests of up to 20).",
            total as f64 / secs.max(0.001),
            total.div_ceil(20)
        ))
    }

    /// Prints and runs one cprlink command; a non-zero code is an error.
    fn run(&self, argv: &[&str]) -> Result<(), CliError> {
        match self.run_code(argv)? {
            Code::Success => Ok(()),
            code => Err(CliError::new(
                code,
                format!("`cprlink {}` did not succeed", argv.join(" ")),
            )),
        }
    }

    /// `cprlink onboard record STEP FIELDS... --done` on the demo's case file.
    fn record(&self, step: &str, fields: &[&str]) -> Result<(), CliError> {
        let mut argv = vec!["onboard", "record", step];
        argv.extend_from_slice(fields);
        argv.extend_from_slice(&["--done", "--state", STATE]);
        self.run(&argv)
    }

    /// Prints and runs one cprlink command through the real parser and command code.
    fn run_code(&self, argv: &[&str]) -> Result<Code, CliError> {
        let shown: Vec<String> = argv.iter().map(|a| shell_word(a)).collect();
        let lines = command_lines("$ cprlink", CONTINUATION, &shown);
        let last = lines.len() - 1;
        let mut text = String::from("\n");
        for (i, line) in lines.iter().enumerate() {
            let (head, rest) = match line.strip_prefix("$ cprlink") {
                Some(rest) if i == 0 => (
                    self.ui.style_stdout(Style::new().dim(), "$ cprlink"),
                    rest.trim_start(),
                ),
                _ => (line[..CONTINUATION].to_owned(), &line[CONTINUATION..]),
            };
            let sep = if i == 0 { " " } else { "" };
            let rest = self.ui.style_stdout(Style::new().bold(), rest);
            let cont = if i == last { "" } else { " \\\n" };
            let _ = write!(text, "{head}{sep}{rest}{cont}");
        }
        self.print(&text)?;
        let d = self.dir.display().to_string();
        let real: Vec<String> = std::iter::once("cprlink".to_owned())
            .chain(argv.iter().map(|a| a.replace("$D", &d)))
            .collect();
        let cli = Cli::try_parse_from(&real)
            .map_err(|e| CliError::internal(format!("a demo command does not parse: {e}")))?;
        let mut ctx = Context::new(
            self.story_ui.clone(),
            Box::new(NoInputPrompter),
            cli.global.config.clone(),
        )
        .with_config_env(self.config_env.clone());
        dispatch(&cli, &mut ctx)
    }

    /// `$D/...` for a path inside the demo directory.
    fn rel(&self, path: &Path) -> String {
        match path.strip_prefix(&self.dir) {
            Ok(rest) => format!("$D/{}", rest.display()),
            Err(_) => path.display().to_string(),
        }
    }

    fn heading(&self, text: &str) {
        let _ = self.print(&format!(
            "\n{}",
            self.ui
                .style_stdout(Style::new().cyan().bold(), &format!("== {text}"))
        ));
    }

    fn say(&self, text: &str) {
        let _ = self.print(&hanging("", 0, text).join("\n"));
    }

    fn print(&self, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()?;
        Ok(())
    }

    fn next_steps(&self, kept: bool) {
        self.say(
            "\nTry next (from a checkout, `cargo install --locked --path crates/cprlink` puts \
             `cprlink` on your PATH; or use target/release/cprlink):",
        );
        let mut t = String::new();
        t.push_str(
            "  cprlink sandbox --dir ./sbx          # the sandbox on its own, until Ctrl-C\n",
        );
        t.push_str(
            "  cprlink --config ./sbx/cprlink.toml lookup --input ./sbx/persons.csv --format table\n",
        );
        t.push_str("  cprlink --config ./sbx/cprlink.toml doctor\n");
        t.push_str(
            "  cprlink cert inspect testdata/oces3/example-prod-system-cert.pem   # in the repository\n",
        );
        t.push_str(
            "  cprlink onboard init --authority \"Your Kommune\" --cvr CVR   # your real case\n",
        );
        if kept {
            let d = self.dir.display();
            let words = [
                "cert verify".to_owned(),
                shell_word(&format!("{d}/dpg-handover.p12")),
                format!(
                    "--password-file {}",
                    shell_word(&format!("{d}/dpg-handover.p12.password"))
                ),
                format!("--trust {}", shell_word(&format!("{d}/sandbox/ca.pem"))),
            ];
            let lines = command_lines("  cprlink", 6, &words);
            let _ = writeln!(t, "{}", lines.join(" \\\n"));
        } else {
            t.push_str("  cprlink demo --dir ./demo            # keep the files of this story\n");
        }
        t.push_str("Guides: docs/authority-admin.md, docs/dpg-staff.md, docs/operator.md");
        let _ = self.print(&t);
    }
}

/// How far the continuation lines of a `$ cprlink` line are indented.
const CONTINUATION: usize = 4;

/// `head` and `words` as the lines of one shell command of at most [`WIDTH`] columns:
/// a flag stays with its value, continuation lines are indented by `indent`, and room is
/// left on each for the ` \` the caller ends all but the last with. A word too long for
/// any line gets one of its own.
fn command_lines(head: &str, indent: usize, words: &[String]) -> Vec<String> {
    let mut units: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        match words.get(i + 1) {
            Some(value) if w.starts_with('-') && !value.starts_with('-') => {
                units.push(format!("{w} {value}"));
                i += 2;
            }
            _ => {
                units.push(w.clone());
                i += 1;
            }
        }
    }
    let mut lines = vec![head.to_owned()];
    for unit in units {
        let Some(line) = lines.last_mut() else { break };
        let fresh = line.trim().is_empty();
        if fresh || line.chars().count() + 1 + unit.chars().count() + 2 <= WIDTH {
            if !fresh {
                line.push(' ');
            }
            line.push_str(&unit);
        } else {
            lines.push(format!("{:indent$}{unit}", ""));
        }
    }
    lines
}

fn cert_err(e: cprlink_cert::openssl::error::ErrorStack) -> CliError {
    CliError::from(cprlink_cert::Error::from(e))
}

/// Quotes a word for display when it holds spaces.
fn shell_word(word: &str) -> String {
    if word.contains(' ') {
        format!("\"{word}\"")
    } else {
        word.to_owned()
    }
}

/// The first `n` rows of persons.csv: (cpr, expected name).
fn read_expected(csv_path: &Path, n: usize) -> Result<Vec<(String, String)>, CliError> {
    let mut reader = csv::Reader::from_path(csv_path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", csv_path.display())))?;
    let mut rows = Vec::with_capacity(n);
    for record in reader.records().take(n) {
        let record = record.map_err(|e| CliError::usage(format!("{}: {e}", csv_path.display())))?;
        rows.push((record[0].to_owned(), record[1].to_owned()));
    }
    Ok(rows)
}

/// How many output records carry the expected name, in order.
fn compare(jsonl: &Path, expected: &[(String, String)]) -> Result<(usize, usize), CliError> {
    let file = std::fs::File::open(jsonl)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", jsonl.display())))?;
    let mut matched = 0;
    let mut lines = 0;
    for (line, (cpr, name)) in std::io::BufReader::new(file).lines().zip(expected) {
        let line = line?;
        lines += 1;
        let v: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| CliError::usage(format!("{}: not JSON Lines: {e}", jsonl.display())))?;
        if v["cpr"] == cpr.as_str() && v["status"] == "found" && v["name"] == name.as_str() {
            matched += 1;
        }
    }
    Ok((matched, expected.len().max(lines)))
}
