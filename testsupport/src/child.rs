//! A test's child process: output captured by reader threads, a deadline, and SIGKILL + reap
//! when dropped, so a failing test never leaves processes (or zombies) behind.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a wait looks at the child.
const WAIT_POLL: Duration = Duration::from_millis(2);

/// A running (or exited, not yet dropped) child process.
pub struct Child {
    label: String,
    child: std::process::Child,
    started: Instant,
    deadline: Instant,
    output: Sink,
    exited: Option<ExitStatus>,
}

/// Where a child's stdout and stderr go.
enum Sink {
    /// Pipes drained by reader threads.
    Pipes(Option<JoinHandle<String>>, Option<JoinHandle<String>>),
    /// Files, read back once it exited: for a child whose own children may outlive it holding
    /// its stdout (a pipe would keep the readers waiting for them).
    Files(PathBuf, PathBuf),
}

/// What an exited child left: its status (`None` if it could not be had) and output.
#[derive(Debug)]
pub struct Captured {
    pub label: String,
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to the moment the exit was seen.
    pub wall: Duration,
}

/// A wait ran past its deadline; the child has been killed and reaped.
#[derive(Debug)]
pub struct TimedOut(pub Captured);

fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    })
}

impl Child {
    /// Spawns `cmd` with stdin from /dev/null and stdout/stderr captured. [`Child::wait`]
    /// gives up `limit` from now.
    pub fn spawn(label: impl Into<String>, mut cmd: Command, limit: Duration) -> Child {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut c = Child::start(label.into(), cmd, limit, Sink::Pipes(None, None));
        c.output = Sink::Pipes(
            c.child.stdout.take().map(reader),
            c.child.stderr.take().map(reader),
        );
        c
    }

    /// As [`Child::spawn`], with stdout and stderr written to `dir/stdout` and `dir/stderr`.
    pub fn spawn_to_files(
        label: impl Into<String>,
        mut cmd: Command,
        limit: Duration,
        dir: &Path,
    ) -> Child {
        let (out, err) = (dir.join("stdout"), dir.join("stderr"));
        let create = |p: &Path| {
            std::fs::File::create(p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()))
        };
        cmd.stdout(create(&out)).stderr(create(&err));
        Child::start(label.into(), cmd, limit, Sink::Files(out, err))
    }

    fn start(label: String, mut cmd: Command, limit: Duration, output: Sink) -> Child {
        cmd.stdin(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {label}: {e} ({cmd:?})"));
        let started = Instant::now();
        Child {
            label,
            child,
            started,
            deadline: started + limit,
            output,
            exited: None,
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status once it has exited (reaping it), `None` while it runs.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited
    }

    /// Whether it has not exited yet.
    pub fn running(&mut self) -> bool {
        self.try_wait().is_none()
    }

    /// SIGKILL and reap (a crash, as far as a ring can tell). Nothing if it already exited.
    pub fn kill(&mut self) {
        if self.try_wait().is_none() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().expect("reap killed child"));
        }
    }

    /// SIGKILL without reaping: the process stays a zombie (its pid still exists) until it is
    /// waited for or dropped. Returns once the kernel shows it as a zombie.
    pub fn kill_leave_zombie(&mut self) {
        assert!(self.exited.is_none(), "{} already exited", self.label);
        self.child.kill().expect("SIGKILL");
        let pid = self.pid();
        crate::poll_until(
            "the killed process to become a zombie",
            Duration::from_secs(60),
            || crate::proc_stat(pid).is_some_and(|s| s.zombie()),
        );
    }

    /// Waits for the exit until the spawn deadline; past it, kills and reaps the child.
    pub fn wait(&mut self) -> Result<ExitStatus, TimedOut> {
        self.wait_until(self.deadline)
    }

    /// Waits for the exit until `deadline`; past it, kills and reaps the child.
    pub fn wait_until(&mut self, deadline: Instant) -> Result<ExitStatus, TimedOut> {
        loop {
            if let Some(s) = self.try_wait() {
                return Ok(s);
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(TimedOut(self.captured()));
            }
            std::thread::sleep(WAIT_POLL);
        }
    }

    /// Waits (as [`Child::wait`]) and returns the output; panics with it past the deadline.
    pub fn finish(mut self) -> Captured {
        match self.wait() {
            Ok(_) => self.captured(),
            Err(TimedOut(c)) => panic!(
                "{} did not exit within {:?} (killed)\n{c}",
                c.label,
                self.deadline - self.started
            ),
        }
    }

    /// The output of the exited child (it must have exited). Piped output is handed out once:
    /// a second call gets empty strings.
    pub fn captured(&mut self) -> Captured {
        let status = self.try_wait();
        assert!(status.is_some(), "{} has not exited", self.label);
        let take = |h: &mut Option<JoinHandle<String>>| {
            h.take()
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default()
        };
        let (stdout, stderr) = match &mut self.output {
            Sink::Pipes(out, err) => (take(out), take(err)),
            Sink::Files(out, err) => (
                std::fs::read_to_string(out).unwrap_or_default(),
                std::fs::read_to_string(err).unwrap_or_default(),
            ),
        };
        Captured {
            label: self.label.clone(),
            status,
            stdout,
            stderr,
            wall: self.started.elapsed(),
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Captured {
    /// Exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

/// The last 4000 bytes of `s` (on a char boundary).
fn tail(s: &str) -> &str {
    let n = s.len();
    let start = n.saturating_sub(4000);
    let start = (start..n).find(|&i| s.is_char_boundary(i)).unwrap_or(n);
    &s[start..]
}

impl std::fmt::Display for Captured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "--- {} ({:?}, {:.2?}) ---",
            self.label, self.status, self.wall
        )?;
        writeln!(f, "stdout (tail):\n{}", tail(&self.stdout))?;
        write!(f, "stderr (tail):\n{}", tail(&self.stderr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn output_and_status_are_captured() {
        let c = Child::spawn(
            "echo",
            sh("echo out; echo err >&2; exit 3"),
            Duration::from_secs(60),
        )
        .finish();
        assert_eq!(
            (c.code(), c.stdout.as_str(), c.stderr.as_str()),
            (Some(3), "out\n", "err\n")
        );
    }

    #[test]
    fn output_to_files_is_read_back() {
        let d = crate::TempDir::new(&crate::unique_name("rpts-files", "t"));
        let c = Child::spawn_to_files(
            "echo",
            sh("echo out; echo err >&2"),
            Duration::from_secs(60),
            d.path(),
        )
        .finish();
        assert_eq!((c.stdout.as_str(), c.stderr.as_str()), ("out\n", "err\n"));
    }

    #[test]
    fn a_child_past_its_deadline_is_killed_and_reaped() {
        let mut c = Child::spawn("sleeper", sh("exec sleep 60"), Duration::from_millis(50));
        let pid = c.pid();
        let TimedOut(out) = c.wait().expect_err("times out");
        assert!(out.status.is_some_and(|s| !s.success()));
        assert!(crate::proc_stat(pid).is_none(), "reaped");
    }

    #[test]
    fn dropping_a_running_child_reaps_it() {
        let mut c = Child::spawn("sleeper", sh("exec sleep 60"), Duration::from_secs(60));
        let pid = c.pid();
        c.kill_leave_zombie();
        assert!(crate::proc_stat(pid).is_some_and(|s| s.zombie()));
        drop(c);
        assert!(crate::proc_stat(pid).is_none(), "reaped");
    }
}
