//! A broken rule found inside a step, and the checks of testee replies that find one.

use super::STEP_MS;
use crate::driver::{DriverError, Reply};
use crate::protocol::{ErrorKind, OkFields};
use std::fmt;

/// A broken rule inside a step (the step and model are added by the caller).
pub(super) struct Miss {
    pub(super) rule: &'static str,
    pub(super) expected: String,
    pub(super) observed: String,
}

pub(super) fn miss(
    rule: &'static str,
    expected: impl Into<String>,
    observed: impl Into<String>,
) -> Miss {
    Miss {
        rule,
        expected: expected.into(),
        observed: observed.into(),
    }
}

pub(super) fn testee_err(what: &str, e: DriverError) -> Miss {
    let observed = match &e {
        DriverError::Timeout(..) => format!("no reply within {STEP_MS} ms ({e})"),
        _ => e.to_string(),
    };
    miss("testee", format!("a reply to {what}"), observed)
}

pub(super) fn describe(r: &Result<OkFields, (ErrorKind, String)>) -> String {
    match r {
        Ok(f) => format!("ok {}", serde_json::to_string(f).unwrap_or_default()),
        Err((k, m)) => format!(
            "error {} ({m})",
            serde_json::to_string(k).unwrap_or_default()
        ),
    }
}

pub(super) fn expect_error(reply: &Reply, kind: ErrorKind, rule: &'static str) -> Result<(), Miss> {
    match &reply.result {
        Err((got, _)) if *got == kind => Ok(()),
        other => Err(miss(
            rule,
            format!("error {}", serde_json::to_string(&kind).unwrap_or_default()),
            describe(other),
        )),
    }
}

pub(super) fn expect_ok<'r>(
    reply: &'r Reply,
    rule: &'static str,
    what: &str,
) -> Result<&'r OkFields, Miss> {
    reply
        .result
        .as_ref()
        .map_err(|_| miss(rule, format!("ok to {what}"), describe(&reply.result)))
}

pub(super) fn opt<T: fmt::Debug>(v: Option<T>) -> String {
    v.map_or("none".to_owned(), |v| format!("{v:?}"))
}

pub(super) fn runs(reply: &Reply) -> String {
    let r: Vec<String> = reply
        .events
        .iter()
        .map(|(a, b, _)| format!("{a}..={b}"))
        .collect();
    if r.is_empty() {
        "none".into()
    } else {
        r.join(", ")
    }
}
