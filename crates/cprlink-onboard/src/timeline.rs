//! Where the weeks went, as data: one row per step of the onboarding and of each
//! renewal, from when it could start to when it was done, with the waiting on other
//! organisations (the CPR approval, the data access, Datafordeler support) apart from
//! the work. The report draws it (HTML) or lists it (Markdown).
//!
//! Owns the rule for a row's span, from the dates of the world only (`applied_on`,
//! `approved_on`, ...; a step without one is dated by the day it was marked done): a
//! waiting step spans its wait, from the request (or the step before it) to the
//! answer; any other step spans from the end of the step before it (the case's opening
//! for the first one, the renewal's start for a renewal's) to the day it was done. A
//! step not done yet runs to today; one not started has no span. Each period (the
//! onboarding, each renewal) is a panel with its own dates, so a renewal three years
//! later does not squeeze the onboarding into a line.

use chrono::NaiveDate;

use crate::case::Case;
use crate::status::{RenewalStatus, Status, StepState, StepStatus, waiting_since};
use crate::steps::{StepDef, renewal_steps};

/// How a span is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Work by the authority (done).
    Work,
    /// Waiting on another organisation (done: the answer came).
    Waiting,
    /// Not done yet: work or waiting still going on today.
    Open { waiting: bool },
}

/// A row's dates: `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub kind: SpanKind,
}

impl Span {
    /// Calendar days from start to end (0: the same day).
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }
}

/// One step in the timeline.
#[derive(Debug, Clone)]
pub struct Row {
    pub def: &'static StepDef,
    pub number: usize,
    pub state: StepState,
    pub span: Option<Span>,
}

/// One period: the onboarding, or one renewal.
#[derive(Debug, Clone)]
pub struct Panel {
    /// `None` for the onboarding; the renewal's start day otherwise.
    pub renewal_started: Option<NaiveDate>,
    /// Set for a renewal that is done.
    pub renewal_completed: Option<NaiveDate>,
    pub rows: Vec<Row>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Today, when it falls within the panel (the last panel always reaches it).
    pub today: Option<NaiveDate>,
}

/// The panels of `case` as of `today`: the onboarding, the past renewals, then the one
/// in progress.
pub fn panels(case: &Case, status: &Status, today: NaiveDate) -> Vec<Panel> {
    let state = case.state();
    let defs = case.steps();
    let mut rows = Vec::with_capacity(defs.len());
    let mut prev_end = state.created_on;
    for (i, (def, st)) in defs.iter().zip(&status.steps).enumerate() {
        let wait = def
            .waits_on
            .and_then(|_| waiting_since(state, defs, i, def))
            .filter(|_| matches!(st.state, StepState::Done | StepState::Waiting));
        let span = span_of(st, prev_end, wait, today);
        if let (StepState::Done, Some(s)) = (st.state, &span) {
            prev_end = s.end;
        }
        rows.push(Row {
            def,
            number: i + 1,
            state: st.state,
            span,
        });
    }
    let mut panels = vec![panel(None, None, state.created_on, rows)];
    let renewals = status.past_renewals.iter().chain(status.renewal.iter());
    for r in renewals {
        panels.push(renewal_panel(case, r, today));
    }
    if let Some(last) = panels.last_mut() {
        last.to = last.to.max(today);
    }
    for p in &mut panels {
        p.today = (p.from <= today && today <= p.to).then_some(today);
    }
    panels
}

fn renewal_panel(case: &Case, r: &RenewalStatus, today: NaiveDate) -> Panel {
    let defs = renewal_steps(case.route(), &r.method);
    let mut prev_end = r.started_on;
    let mut rows = Vec::with_capacity(defs.len());
    for (i, (def, st)) in defs.iter().zip(&r.steps).enumerate() {
        let span = span_of(st, prev_end, None, today);
        if let (StepState::Done, Some(s)) = (st.state, &span) {
            prev_end = s.end;
        }
        rows.push(Row {
            def,
            number: i + 1,
            state: st.state,
            span,
        });
    }
    panel(Some(r.started_on), r.completed_on, r.started_on, rows)
}

fn panel(
    renewal_started: Option<NaiveDate>,
    renewal_completed: Option<NaiveDate>,
    opened: NaiveDate,
    rows: Vec<Row>,
) -> Panel {
    let spans = rows.iter().filter_map(|r| r.span);
    let from = spans
        .clone()
        .map(|s| s.start)
        .min()
        .unwrap_or(opened)
        .min(opened);
    let to = spans.map(|s| s.end).max().unwrap_or(opened).max(from);
    Panel {
        renewal_started,
        renewal_completed,
        rows,
        from,
        to,
        today: None,
    }
}

/// The span of one step: its wait (from `wait`), else from `prev_end` to the day it
/// was done; to today while not done.
fn span_of(
    st: &StepStatus,
    prev_end: NaiveDate,
    wait: Option<NaiveDate>,
    today: NaiveDate,
) -> Option<Span> {
    let done = st.done_on.filter(|_| st.state == StepState::Done);
    let (start, end, kind) = match (st.state, wait, done) {
        (StepState::Done, Some(w), Some(d)) => (w, d, SpanKind::Waiting),
        (StepState::Done, None, Some(d)) => (prev_end, d, SpanKind::Work),
        (StepState::Waiting, Some(w), _) => (w, today, SpanKind::Open { waiting: true }),
        (StepState::InProgress, _, _) => (prev_end, today, SpanKind::Open { waiting: false }),
        _ => return None,
    };
    // A step done before the one above it (in parallel): it spans its own day.
    Some(Span {
        start: start.min(end),
        end,
        kind,
    })
}
