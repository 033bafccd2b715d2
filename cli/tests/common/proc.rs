//! A running `ringproof` child ([`Proc`], killed and reaped when dropped), condition waits
//! that fail as soon as a process they need has died, and waiting for several processes at
//! once, failing fast.

use super::{Output, BIN, HARD_TIMEOUT};
use ringproof_testsupport::{self as support, Child};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// A running `ringproof` child. Dropping it kills it (SIGKILL) and reaps it, so a failing
/// test never leaves processes behind.
pub struct Proc {
    pub label: String,
    child: Child,
}

impl Proc {
    pub fn spawn(label: &str, args: &[String]) -> Proc {
        let label = format!("{label} `ringproof {}`", args.join(" "));
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        Proc {
            child: Child::spawn(label.clone(), cmd, HARD_TIMEOUT),
            label,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Whether it has not exited yet.
    pub fn running(&mut self) -> bool {
        self.child.running()
    }

    /// SIGKILL and reap (a crash, as far as the ring can tell).
    pub fn kill(&mut self) {
        self.child.kill()
    }

    /// SIGKILL without reaping: the process stays a zombie (its pid still exists) until this
    /// `Proc` is waited for or dropped. Returns once the kernel shows it as a zombie.
    pub fn kill_leave_zombie(&mut self) {
        self.child.kill_leave_zombie()
    }

    /// Waits for the exit, killing the child and failing the test after [`HARD_TIMEOUT`].
    pub fn wait(self) -> Output {
        self.wait_for(HARD_TIMEOUT)
    }

    pub fn wait_for(mut self, timeout: Duration) -> Output {
        if self.child.wait_until(Instant::now() + timeout).is_err() {
            let out = self.collect();
            panic!(
                "{} did not exit within {timeout:?} (killed)\n{}",
                out.label,
                out.describe()
            );
        }
        self.finish()
    }

    /// Output of an exited child, without parsing (for diagnostics).
    fn collect(&mut self) -> Output {
        let c = self.child.captured();
        Output {
            label: self.label.clone(),
            status: c.status.expect("exited"),
            stdout: c.stdout,
            stderr: c.stderr,
            json: Value::Null,
        }
    }

    /// Output of an exited child: no panic, exactly one JSON object line on stdout.
    fn finish(mut self) -> Output {
        let mut out = self.collect();
        assert!(
            !out.stderr.contains("panicked"),
            "{} panicked\n{}",
            out.label,
            out.describe()
        );
        let lines: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "{}: expected exactly one JSON line\n{}",
            out.label,
            out.describe()
        );
        out.json = serde_json::from_str(lines[0]).unwrap_or_else(|e| {
            panic!(
                "{}: stdout is not JSON ({e})\n{}",
                out.label,
                out.describe()
            )
        });
        assert!(
            out.json.is_object(),
            "{}: JSON line is not an object\n{}",
            out.label,
            out.describe()
        );
        out
    }
}

/// Panics (with its output) if any of `procs` has exited: a condition it was supposed to bring
/// about will not come.
pub fn check_alive(procs: &mut [&mut Proc]) {
    for p in procs.iter_mut() {
        if !p.running() {
            let out = p.collect();
            panic!("{} exited early\n{}", out.label, out.describe());
        }
    }
}

/// Polls `cond` until it holds, failing after [`HARD_TIMEOUT`] or as soon as one of `procs`
/// (which must stay alive meanwhile) exits. Waiting for a condition, not for time.
pub fn wait_until(what: &str, procs: &mut [&mut Proc], mut cond: impl FnMut() -> bool) {
    support::poll_until(what, HARD_TIMEOUT, || {
        if cond() {
            return true;
        }
        check_alive(procs);
        false
    })
}

/// Waits for every process, failing fast: the first one to exit with a non-zero status (or
/// all of them not finishing within [`HARD_TIMEOUT`]) kills the rest and fails the test with
/// every output so far. Returns the outputs in the order given.
pub fn wait_all(procs: Vec<Proc>) -> Vec<Output> {
    let deadline = Instant::now() + HARD_TIMEOUT;
    let mut procs: Vec<Option<Proc>> = procs.into_iter().map(Some).collect();
    let mut outs: Vec<Option<Output>> = procs.iter().map(|_| None).collect();
    loop {
        let mut pending = false;
        for i in 0..procs.len() {
            let Some(p) = procs[i].as_mut() else { continue };
            match p.child.try_wait() {
                Some(status) if status.success() => {
                    outs[i] = Some(procs[i].take().expect("some").finish())
                }
                Some(_) => {
                    let mut p = procs[i].take().expect("some");
                    let failed = p.collect();
                    let others = kill_and_describe(&mut procs, &mut outs);
                    panic!(
                        "{} failed\n{}\n--- the others:\n{others}",
                        failed.label,
                        failed.describe()
                    );
                }
                None => pending = true,
            }
        }
        if !pending {
            return outs.into_iter().map(|o| o.expect("finished")).collect();
        }
        if Instant::now() >= deadline {
            let others = kill_and_describe(&mut procs, &mut outs);
            panic!("processes did not finish within {HARD_TIMEOUT:?} (killed)\n{others}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn kill_and_describe(procs: &mut [Option<Proc>], outs: &mut [Option<Output>]) -> String {
    let mut s = String::new();
    for (p, o) in procs.iter_mut().zip(outs.iter()) {
        if let Some(p) = p {
            let was_running = p.running();
            p.kill();
            let out = p.collect();
            s += &format!(
                "{} ({}):\n{}\n",
                out.label,
                if was_running { "killed" } else { "exited" },
                out.describe()
            );
        } else if let Some(o) = o {
            s += &format!("{} (finished):\n{}\n", o.label, o.describe());
        }
    }
    s
}
