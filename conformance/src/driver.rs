//! Starting testee processes and talking to them: every line in both directions is validated
//! against the protocol schema and kept in a transcript for failure reports.

use crate::protocol::{Command, ErrorKind, Message, OkFields, PROTOCOL_VERSION};
use crate::schema::Schema;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to start an implementation's testee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implementation {
    /// Short name used in reports and expected-failure files (from its hello once started).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Extra environment for every process of this implementation (the mutants test sets
    /// `RINGPROOF_MUTANT` this way).
    pub env: Vec<(String, String)>,
}

impl Implementation {
    /// Resolves an `--impl` argument, as every proof-kit command takes it: `ringproof` (also
    /// `ref`, `reference`: the reference testee, `ringproof testee`), `disruptor-mp` (`dmp`: the
    /// adapter `dmp-peer testee`), both found next to this executable (the `ringproof` binary,
    /// or a test binary in `target/<profile>/deps`, whose parent holds them), or the path of a
    /// testee executable.
    pub fn resolve(spec: &str) -> Result<Implementation, String> {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
        let sibling = |name: &str, how: &str| {
            let beside = if exe.file_name().is_some_and(|n| n == name) {
                exe.clone()
            } else {
                exe.with_file_name(name)
            };
            let above = exe.parent().and_then(|d| d.parent()).map(|d| d.join(name));
            [Some(beside.clone()), above]
                .into_iter()
                .flatten()
                .find(|p| p.is_file())
                .ok_or_else(|| format!("{} not found: {how}", beside.display()))
        };
        let (name, program, args) = match spec {
            "ringproof" | "ref" | "reference" => ("ringproof".to_owned(), sibling("ringproof", "build it with `cargo build --release -p ringproof-cli` (same profile as this binary)")?, vec!["testee".to_owned()]),
            "disruptor-mp" | "dmp" => (
                "disruptor-mp".to_owned(),
                sibling(
                    "dmp-peer",
                    "the disruptor-mp adapter is optional; put it next to this binary with `cargo install --locked --path interop/dmp-peer` \
                     (from a ringproof checkout, same --root as ringproof; or `cargo install --git URL dmp-peer`), or in a checkout `cargo build --release -p dmp-peer` (same profile as this binary)",
                )?,
                vec!["testee".to_owned()],
            ),
            path => {
                let p = PathBuf::from(path);
                if !p.is_file() {
                    return Err(format!("testee {path} does not exist (give ringproof, disruptor-mp, or the path of a testee executable)"));
                }
                (path.to_owned(), p, Vec::new())
            }
        };
        Ok(Implementation {
            name,
            program,
            args,
            env: Vec::new(),
        })
    }
}

/// Why talking to a testee failed (the case's outcome is then *error* or *timeout*).
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("could not start testee {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("testee {0} sent no hello within the timeout")]
    NoHello(String),
    #[error("testee speaks protocol {found}, the harness speaks {PROTOCOL_VERSION}")]
    Protocol { found: u32 },
    #[error("protocol violation by {testee}: {detail}")]
    Violation { testee: String, detail: String },
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    #[error("testee {0} exited or closed its output")]
    Gone(String),
}

/// A final reply with what streamed before it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub result: Result<OkFields, (ErrorKind, String)>,
    /// `events` runs: (first, last, digest).
    pub events: Vec<(i64, i64, String)>,
    /// `progress` values.
    pub progress: Vec<i64>,
    /// `liveness` messages: (consumer id, dead, CLOCK_MONOTONIC ns).
    pub liveness: Vec<(String, bool, u64)>,
    /// With a `lapped` or `evicted` error: the range it names, if the testee sent one.
    pub missed: Option<crate::protocol::Missed>,
}

impl Reply {
    /// The ok fields, or a description of the error.
    pub fn ok(&self) -> Result<&OkFields, String> {
        self.result.as_ref().map_err(|(k, m)| format!("{k:?}: {m}"))
    }
}

/// A running testee process.
pub struct Testee {
    pub label: String,
    pub implementation: String,
    pub capabilities: Vec<String>,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    transcript: Vec<String>,
    schema: Arc<Schema>,
    next_id: u64,
    killed: bool,
}

impl Testee {
    /// Starts `imp` and waits for its hello.
    pub fn spawn(
        imp: &Implementation,
        label: &str,
        schema: Arc<Schema>,
        timeout: Duration,
    ) -> Result<Testee, DriverError> {
        Self::spawn_with_env(imp, label, schema, timeout, &[])
    }

    /// [`spawn`](Self::spawn) with extra environment variables for this process only (chaos
    /// campaigns arm failpoints this way).
    pub fn spawn_with_env(
        imp: &Implementation,
        label: &str,
        schema: Arc<Schema>,
        timeout: Duration,
        env: &[(String, String)],
    ) -> Result<Testee, DriverError> {
        let mut child = Process::new(&imp.program)
            .args(&imp.args)
            .envs(imp.env.iter().chain(env).map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| DriverError::Spawn {
                program: imp.program.display().to_string(),
                source,
            })?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                // An unreadable line (not UTF-8, a read error) ends the stream like EOF would,
                // but is passed on first: it then fails as "not JSON" and names the cause,
                // rather than looking like a testee that exited.
                let (line, end) = match line {
                    Ok(l) => (l, false),
                    Err(e) => (format!("<testee output unreadable: {e}>"), true),
                };
                if tx.send(line).is_err() || end {
                    break;
                }
            }
        });
        let err_buf = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&err_buf);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut s = sink.lock().expect("stderr buffer");
                if s.len() < 64 * 1024 {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let mut t = Testee {
            label: label.to_owned(),
            implementation: imp.name.clone(),
            capabilities: Vec::new(),
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: err_buf,
            transcript: Vec::new(),
            schema,
            next_id: 1,
            killed: false,
        };
        match t.next_message(Instant::now() + timeout, "hello") {
            Ok(Message::Hello {
                protocol,
                implementation,
                capabilities,
                ..
            }) => {
                if protocol != PROTOCOL_VERSION {
                    return Err(DriverError::Protocol { found: protocol });
                }
                t.implementation = implementation;
                t.capabilities = capabilities;
                Ok(t)
            }
            Ok(other) => Err(t.violation(format!("expected hello, got {other:?}"))),
            Err(DriverError::Timeout(..)) => {
                Err(DriverError::NoHello(imp.program.display().to_string()))
            }
            Err(e) => Err(e),
        }
    }

    /// Whether the testee offers `capability`.
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Sends a command built by `make(id)`; returns the id to wait on.
    pub fn send(&mut self, make: impl FnOnce(u64) -> Command) -> Result<u64, DriverError> {
        let id = self.next_id;
        self.next_id += 1;
        let cmd = make(id);
        let line = serde_json::to_string(&cmd).expect("commands serialise");
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid json");
        if let Err(e) = self.schema.check_to_testee(&value) {
            panic!("harness bug: command {line} violates the schema: {e}");
        }
        self.transcript.push(format!("> {line}"));
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| DriverError::Gone(self.label.clone()))?;
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .map_err(|_| self.gone())?;
        Ok(id)
    }

    /// Waits for the final reply to command `id`, collecting its stream.
    pub fn wait(&mut self, id: u64, deadline: Instant) -> Result<Reply, DriverError> {
        self.wait_streaming(id, deadline, |_| {})
    }

    /// [`wait`](Self::wait), also handing every streamed message (`events`, `progress`,
    /// `liveness`) to `on_stream` as it arrives, so a caller keeps what a testee reported even
    /// if it dies before its final reply.
    pub fn wait_streaming(
        &mut self,
        id: u64,
        deadline: Instant,
        mut on_stream: impl FnMut(&Message),
    ) -> Result<Reply, DriverError> {
        let mut reply = Reply {
            result: Ok(OkFields::default()),
            events: Vec::new(),
            progress: Vec::new(),
            liveness: Vec::new(),
            missed: None,
        };
        loop {
            let m = self.next_message(
                deadline,
                &format!("the reply to command {id} from {}", self.label),
            )?;
            if matches!(&m, Message::Events { id: got, .. } | Message::Progress { id: got, .. } | Message::Liveness { id: got, .. } if *got == id)
            {
                on_stream(&m);
            }
            match m {
                Message::Ok { id: got, fields } if got == id => {
                    reply.result = Ok(fields);
                    return Ok(reply);
                }
                Message::Error {
                    id: got,
                    kind,
                    message,
                    missed,
                } if got == id => {
                    reply.result = Err((kind, message));
                    reply.missed = missed;
                    return Ok(reply);
                }
                Message::Events {
                    id: got,
                    first,
                    last,
                    digest,
                } if got == id => reply.events.push((first, last, digest)),
                Message::Progress {
                    id: got,
                    published_through,
                } if got == id => reply.progress.push(published_through),
                Message::Liveness {
                    id: got,
                    consumer_id,
                    dead,
                    mono_ns,
                } if got == id => reply.liveness.push((consumer_id, dead, mono_ns)),
                other => {
                    return Err(self.violation(format!(
                        "unexpected message while waiting for {id}: {other:?}"
                    )))
                }
            }
        }
    }

    /// Sends and waits.
    pub fn request(
        &mut self,
        make: impl FnOnce(u64) -> Command,
        deadline: Instant,
    ) -> Result<Reply, DriverError> {
        let id = self.send(make)?;
        self.wait(id, deadline)
    }

    fn next_message(&mut self, deadline: Instant, what: &str) -> Result<Message, DriverError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match self.lines.recv_timeout(left) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => {
                return Err(DriverError::Timeout(left, what.to_owned()))
            }
            Err(RecvTimeoutError::Disconnected) => return Err(self.gone()),
        };
        self.transcript.push(format!("< {line}"));
        let value: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| self.violation(format!("not JSON ({e}): {line}")))?;
        self.schema
            .check_from_testee(&value)
            .map_err(|e| self.violation(format!("{e}: {line}")))?;
        serde_json::from_value(value).map_err(|e| self.violation(format!("{e}: {line}")))
    }

    /// The testee closed its output: [`DriverError::Gone`], saying how the process ended if it
    /// did within a moment (an exit status, or the signal that killed it: a `SIGBUS` or
    /// `SIGSEGV` says more than a closed pipe).
    fn gone(&mut self) -> DriverError {
        use std::os::unix::process::ExitStatusExt;
        let how = match self.exited_by(Instant::now() + Duration::from_millis(200)) {
            Ok(Some(status)) => match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit status {code}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                _ => format!("{status}"),
            },
            Ok(None) => "still running".to_owned(),
            Err(e) => format!("status unknown: {e}"),
        };
        DriverError::Gone(format!("{} ({how})", self.label))
    }

    fn violation(&self, detail: String) -> DriverError {
        DriverError::Violation {
            testee: self.label.clone(),
            detail,
        }
    }

    /// SIGKILLs the process (a crash the harness caused on purpose).
    pub fn kill(&mut self) {
        self.killed = true;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `exit` and waits for the process to end; returns its status code.
    pub fn exit(mut self, deadline: Instant) -> Result<i32, DriverError> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "{{\"cmd\":\"exit\"}}");
        }
        match self.exited_by(deadline) {
            Ok(Some(status)) => {
                self.killed = true;
                Ok(status.code().unwrap_or(-1))
            }
            _ => {
                self.kill();
                Err(DriverError::Timeout(
                    Duration::ZERO,
                    format!("{} to exit", self.label),
                ))
            }
        }
    }

    /// The process's exit status once it has ended, polling until `deadline`; `Ok(None)` if it
    /// still runs then.
    fn exited_by(
        &mut self,
        deadline: Instant,
    ) -> std::io::Result<Option<std::process::ExitStatus>> {
        loop {
            match self.child.try_wait()? {
                Some(status) => return Ok(Some(status)),
                None if Instant::now() >= deadline => return Ok(None),
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything exchanged so far, plus the testee's stderr.
    pub fn transcript(&self) -> String {
        let mut s = format!(
            "--- {} ({}) transcript ---\n",
            self.label, self.implementation
        );
        for line in self
            .transcript
            .iter()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            s.push_str(line);
            s.push('\n');
        }
        let err = self.stderr.lock().map(|e| e.clone()).unwrap_or_default();
        if !err.is_empty() {
            s.push_str(&format!("--- {} stderr ---\n{err}", self.label));
        }
        s
    }
}

impl Drop for Testee {
    fn drop(&mut self) {
        if !self.killed {
            self.stdin.take();
            if let Ok(Some(_)) = self.exited_by(Instant::now() + Duration::from_secs(2)) {
                return;
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "testee" that is a shell script: `script` runs under `sh -c`.
    fn shell(script: &str) -> Result<Testee, DriverError> {
        let imp = Implementation {
            name: "sh".into(),
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            env: Vec::new(),
        };
        Testee::spawn_with_env(
            &imp,
            "testee x",
            Arc::new(Schema::load()),
            Duration::from_secs(20),
            &[],
        )
    }

    #[test]
    fn a_testee_that_dies_is_reported_with_its_signal() {
        let e = shell("kill -HUP $$").err().expect("no hello");
        assert!(
            matches!(&e, DriverError::Gone(d) if d == "testee x (killed by signal 1)"),
            "{e}"
        );
        let e = shell("exit 3").err().expect("no hello");
        assert!(
            matches!(&e, DriverError::Gone(d) if d == "testee x (exit status 3)"),
            "{e}"
        );
    }

    #[test]
    fn unreadable_output_is_a_violation_that_names_the_cause() {
        // A line that is not UTF-8, then the process stays alive: not an exit.
        let e = shell("printf '\\377\\n'; exec sleep 30")
            .err()
            .expect("no hello");
        let text = e.to_string();
        assert!(
            matches!(e, DriverError::Violation { .. }) && text.contains("testee output unreadable"),
            "{text}"
        );
    }
}
