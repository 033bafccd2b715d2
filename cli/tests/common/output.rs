//! What a finished `ringproof` child left: its status, its output and the one JSON line it
//! printed, with the assertions the tests make on them.

use serde_json::Value;
use std::process::ExitStatus;

/// What a finished child left.
#[derive(Debug)]
pub struct Output {
    pub label: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub json: Value,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts the exit code, showing everything the process said otherwise.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "{}: unexpected exit status\n{}",
            self.label,
            self.describe()
        );
        self
    }

    pub fn describe(&self) -> String {
        format!(
            "status: {:?}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }

    pub fn get(&self, key: &str) -> &Value {
        self.json
            .get(key)
            .unwrap_or_else(|| panic!("{}: no {key:?} in {}", self.label, self.json))
    }

    pub fn i64(&self, key: &str) -> i64 {
        self.get(key)
            .as_i64()
            .unwrap_or_else(|| panic!("{}: {key:?} is not an integer in {}", self.label, self.json))
    }

    pub fn u64(&self, key: &str) -> u64 {
        self.get(key)
            .as_u64()
            .unwrap_or_else(|| panic!("{}: {key:?} is not a u64 in {}", self.label, self.json))
    }

    pub fn is_null(&self, key: &str) -> bool {
        self.get(key).is_null()
    }

    /// The `error` of an error line (exit 2).
    pub fn error(&self) -> String {
        self.get("error")
            .as_str()
            .unwrap_or_else(|| panic!("{}: error is not a string", self.label))
            .to_owned()
    }

    /// Asserts a failed run: exit 2, an error line mentioning every one of `needles`.
    pub fn expect_error(&self, needles: &[&str]) -> &Self {
        self.expect_code(2);
        let e = self.error();
        for n in needles {
            assert!(
                e.contains(n),
                "{}: error {e:?} does not mention {n:?}",
                self.label
            );
        }
        self
    }

    /// Asserts the producer published `events` events from 0 and drained (exit 0).
    pub fn expect_producer_ok(&self, events: u64) -> &Self {
        self.expect_code(0);
        assert_eq!(self.get("role"), "producer", "{}", self.describe());
        assert_eq!(self.u64("published"), events, "{}", self.describe());
        assert_eq!(self.i64("first_seq"), 0, "{}", self.describe());
        assert_eq!(
            self.i64("last_seq"),
            events as i64 - 1,
            "{}",
            self.describe()
        );
        assert_eq!(
            self.get("drained"),
            &Value::Bool(true),
            "{}",
            self.describe()
        );
        self
    }

    /// Asserts a consumer run that exited 0 having seen exactly `first..=last`, in order, with
    /// every payload intact.
    pub fn expect_consumer_clean(&self, first: i64, last: i64) -> &Self {
        self.expect_code(0);
        let d = self.describe();
        assert_eq!(self.get("role"), "consumer", "{d}");
        assert_eq!(self.u64("out_of_order"), 0, "{d}");
        assert_eq!(self.u64("payload_errors"), 0, "{d}");
        assert_eq!(self.get("errors"), &Value::Array(vec![]), "{d}");
        assert_eq!(self.i64("first_seq"), first, "{d}");
        assert_eq!(self.i64("last_seq"), last, "{d}");
        assert_eq!(self.u64("consumed"), (last - first + 1) as u64, "{d}");
        self
    }
}
