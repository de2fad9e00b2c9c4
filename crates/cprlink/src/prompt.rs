//! Asking the person at the terminal.
//!
//! The [`Prompter`] trait has three implementations: [`TerminalPrompter`] (dialoguer,
//! on stderr), [`ScriptedPrompter`] (answers given up front, for tests), and
//! [`NoInputPrompter`] (with `--no-input` or without a terminal: every question is an
//! error that names the flag to pass instead).

use std::collections::VecDeque;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};

/// Why no answer came.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("interrupted")]
    Interrupted,
    #[error("{what} is needed (pass {flag})")]
    Missing { what: String, flag: String },
    #[error("terminal: {0}")]
    Io(std::io::Error),
}

/// Checks a typed answer; `Err` holds the message shown before asking again.
pub type Validator<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// One free-text question.
pub struct Question<'a> {
    /// What is asked, e.g. "CPR service desk case number".
    pub prompt: &'a str,
    /// The flag that answers it without a prompt, e.g. "--case-number TEXT".
    pub flag: &'a str,
    pub default: Option<String>,
    /// Allows an empty answer (skips the question).
    pub allow_empty: bool,
    pub validate: Option<Validator<'a>>,
}

impl<'a> Question<'a> {
    pub fn new(prompt: &'a str, flag: &'a str) -> Self {
        Question {
            prompt,
            flag,
            default: None,
            allow_empty: false,
            validate: None,
        }
    }
}

pub trait Prompter {
    /// Free text, re-asked until it validates.
    fn input(&mut self, q: &Question<'_>) -> Result<String, PromptError>;
    /// Yes or no.
    fn confirm(&mut self, prompt: &str, default: bool, flag: &str) -> Result<bool, PromptError>;
    /// One of `items`; returns the index.
    fn select(
        &mut self,
        prompt: &str,
        items: &[&str],
        default: usize,
        flag: &str,
    ) -> Result<usize, PromptError>;
    /// A secret, not echoed.
    fn password(&mut self, prompt: &str, flag: &str) -> Result<String, PromptError>;
}

fn map_dialoguer(e: dialoguer::Error) -> PromptError {
    match e {
        dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => {
            PromptError::Interrupted
        }
        dialoguer::Error::IO(io) => PromptError::Io(io),
    }
}

/// Prompts on the terminal (stderr) with dialoguer.
pub struct TerminalPrompter {
    theme: Box<dyn Theme>,
}

impl TerminalPrompter {
    pub fn new(color: bool) -> Self {
        let theme: Box<dyn Theme> = if color {
            Box::new(ColorfulTheme::default())
        } else {
            Box::new(SimpleTheme)
        };
        TerminalPrompter { theme }
    }
}

impl Prompter for TerminalPrompter {
    fn input(&mut self, q: &Question<'_>) -> Result<String, PromptError> {
        let mut input = dialoguer::Input::<String>::with_theme(self.theme.as_ref())
            .with_prompt(q.prompt)
            .allow_empty(q.allow_empty);
        if let Some(d) = &q.default {
            input = input.default(d.clone());
        }
        if let Some(validate) = q.validate {
            input = input.validate_with(move |s: &String| -> Result<(), String> {
                if s.is_empty() {
                    return Ok(());
                }
                validate(s)
            });
        }
        input.interact_text().map_err(map_dialoguer)
    }

    fn confirm(&mut self, prompt: &str, default: bool, _flag: &str) -> Result<bool, PromptError> {
        dialoguer::Confirm::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .default(default)
            .interact()
            .map_err(map_dialoguer)
    }

    fn select(
        &mut self,
        prompt: &str,
        items: &[&str],
        default: usize,
        _flag: &str,
    ) -> Result<usize, PromptError> {
        dialoguer::Select::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()
            .map_err(map_dialoguer)
    }

    fn password(&mut self, prompt: &str, _flag: &str) -> Result<String, PromptError> {
        dialoguer::Password::with_theme(self.theme.as_ref())
            .with_prompt(prompt)
            .allow_empty_password(true)
            .interact()
            .map_err(map_dialoguer)
    }
}

/// Never prompts: each question is an error naming the flag to pass.
#[derive(Debug, Default)]
pub struct NoInputPrompter;

impl Prompter for NoInputPrompter {
    fn input(&mut self, q: &Question<'_>) -> Result<String, PromptError> {
        match &q.default {
            Some(d) => Ok(d.clone()),
            None => Err(PromptError::Missing {
                what: q.prompt.to_owned(),
                flag: q.flag.to_owned(),
            }),
        }
    }

    fn confirm(&mut self, _prompt: &str, default: bool, _flag: &str) -> Result<bool, PromptError> {
        Ok(default)
    }

    fn select(
        &mut self,
        prompt: &str,
        _items: &[&str],
        _default: usize,
        flag: &str,
    ) -> Result<usize, PromptError> {
        Err(PromptError::Missing {
            what: prompt.to_owned(),
            flag: flag.to_owned(),
        })
    }

    fn password(&mut self, prompt: &str, flag: &str) -> Result<String, PromptError> {
        Err(PromptError::Missing {
            what: prompt.to_owned(),
            flag: flag.to_owned(),
        })
    }
}

/// Answers from a script, in order; records what was asked. For tests.
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    answers: VecDeque<String>,
    /// Every prompt shown, with the answer given (`"prompt => answer"`), and every
    /// rejected answer (`"prompt !! message"`).
    pub transcript: Vec<String>,
}

impl ScriptedPrompter {
    pub fn new<I, S>(answers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScriptedPrompter {
            answers: answers.into_iter().map(Into::into).collect(),
            transcript: Vec::new(),
        }
    }

    /// The next scripted answer; the script running dry acts like Ctrl-C.
    fn next(&mut self, prompt: &str) -> Result<String, PromptError> {
        match self.answers.pop_front() {
            Some(a) => {
                self.transcript.push(format!("{prompt} => {a}"));
                Ok(a)
            }
            None => Err(PromptError::Interrupted),
        }
    }

    pub fn remaining(&self) -> usize {
        self.answers.len()
    }
}

impl Prompter for ScriptedPrompter {
    fn input(&mut self, q: &Question<'_>) -> Result<String, PromptError> {
        loop {
            let mut answer = self.next(q.prompt)?;
            if answer.is_empty() {
                if let Some(d) = &q.default {
                    answer = d.clone();
                } else if q.allow_empty {
                    return Ok(answer);
                }
            }
            match q.validate.map(|v| v(&answer)) {
                Some(Err(msg)) => self.transcript.push(format!("{} !! {msg}", q.prompt)),
                _ if answer.is_empty() && !q.allow_empty => {
                    self.transcript
                        .push(format!("{} !! an answer is needed", q.prompt));
                }
                _ => return Ok(answer),
            }
        }
    }

    fn confirm(&mut self, prompt: &str, default: bool, _flag: &str) -> Result<bool, PromptError> {
        let a = self.next(prompt)?;
        Ok(match a.to_ascii_lowercase().as_str() {
            "y" | "yes" | "ja" | "j" => true,
            "n" | "no" | "nej" => false,
            _ => default,
        })
    }

    fn select(
        &mut self,
        prompt: &str,
        items: &[&str],
        default: usize,
        _flag: &str,
    ) -> Result<usize, PromptError> {
        let a = self.next(prompt)?;
        if a.is_empty() {
            return Ok(default);
        }
        Ok(items
            .iter()
            .position(|i| *i == a)
            .or_else(|| a.parse::<usize>().ok().filter(|n| *n < items.len()))
            .unwrap_or(default))
    }

    fn password(&mut self, prompt: &str, _flag: &str) -> Result<String, PromptError> {
        let a = self.answers.pop_front().ok_or(PromptError::Interrupted)?;
        self.transcript.push(format!("{prompt} => ********"));
        Ok(a)
    }
}

/// The prompter for this run.
pub fn for_ui(ui: &crate::output::Ui) -> Box<dyn Prompter> {
    if ui.interactive {
        Box::new(TerminalPrompter::new(ui.color_stderr))
    } else {
        Box::new(NoInputPrompter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_reasks_until_valid() {
        let mut p = ScriptedPrompter::new(["abc", "12345678"]);
        let validate = |s: &str| {
            if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err("8 digits".to_owned())
            }
        };
        let mut q = Question::new("CVR", "--cvr CVR");
        q.validate = Some(&validate);
        assert_eq!(p.input(&q).unwrap(), "12345678");
        assert_eq!(
            p.transcript,
            vec!["CVR => abc", "CVR !! 8 digits", "CVR => 12345678"]
        );
        assert!(matches!(p.input(&q), Err(PromptError::Interrupted)));
    }

    #[test]
    fn no_input_names_the_flag() {
        let mut p = NoInputPrompter;
        let err = p
            .input(&Question::new("Case number", "--case-number TEXT"))
            .unwrap_err();
        assert!(err.to_string().contains("--case-number"));
    }
}
