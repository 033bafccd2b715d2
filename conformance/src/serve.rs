//! The command loop every Rust testee runs: [`serve`] sends the `hello`, reads one command per
//! line, hands each to the testee's [`Handler`] and sends its reply, until `exit` or EOF.
//!
//! The loop owns everything PROTOCOL.md asks of every testee alike, so two testees cannot
//! disagree on it: the hello, the reply to each command (`ok` or `error` with the command's
//! id), a command the testee does not know (`error` kind `unsupported`), a line it cannot read,
//! and the end of the stream. A handler writes only what its implementation does.

use crate::protocol::{Command, ErrorKind, Message, Missed, OkFields, PROTOCOL_VERSION};
use crate::testee_io::TesteeIo;
use serde_json::Value;
use std::io::{BufRead, Write};

/// Every command PROTOCOL.md defines, by its `cmd` name. A line naming another command is
/// answered `unsupported`; one naming these that does not parse is answered `other`.
pub const COMMANDS: &[&str] = &[
    "create_producer",
    "attach_consumer",
    "publish",
    "try_publish",
    "consume",
    "cursors",
    "leave",
    "bench",
    "exit",
];

/// What a testee says about itself in its `hello`.
#[derive(Debug, Clone)]
pub struct Hello {
    pub implementation: String,
    pub version: String,
    pub capabilities: Vec<String>,
}

impl Hello {
    /// A hello offering the union of `capabilities` (for example the ring's and the bench's).
    pub fn new(implementation: &str, version: &str, capabilities: &[&[&str]]) -> Self {
        Self {
            implementation: implementation.into(),
            version: version.into(),
            capabilities: capabilities
                .iter()
                .flat_map(|c| c.iter())
                .map(|c| (*c).to_string())
                .collect(),
        }
    }

    fn message(self) -> Message {
        Message::Hello {
            protocol: PROTOCOL_VERSION,
            implementation: self.implementation,
            version: self.version,
            capabilities: self.capabilities,
        }
    }
}

/// A failed command: what its `error` reply says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    /// With `lapped` and `evicted`: the range the implementation says was missed.
    pub missed: Option<Missed>,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            missed: None,
        }
    }

    /// Kind `other`.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }
}

impl From<(ErrorKind, String)> for Failure {
    fn from((kind, message): (ErrorKind, String)) -> Self {
        Self::new(kind, message)
    }
}

/// What a command ends in: the `ok` reply's fields or the `error` reply.
pub type Outcome = Result<OkFields, Failure>;

/// One testee's implementation of the commands.
pub trait Handler {
    /// Carries out command `id` (never `exit`: the loop ends there). Messages it streams
    /// before the final reply (`progress`, `events`, `liveness`) go out through `io`; the loop
    /// sends the reply.
    fn handle<W: Write>(&mut self, id: u64, cmd: Command, io: &mut TesteeIo<W>) -> Outcome;
}

/// Serves the protocol on `input`/`output` until `exit` or EOF, then drops `handler` (which
/// releases whatever role it holds). Returns the exit status: 0, or 1 when `output` broke.
pub fn serve<H: Handler>(
    hello: Hello,
    mut handler: H,
    mut input: impl BufRead,
    output: impl Write,
) -> i32 {
    let mut io = TesteeIo::new(output);
    if io.send(&hello.message()).is_err() {
        return 1;
    }
    let mut line = String::new();
    while !io.is_broken() {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => break, // EOF: the same as exit
            Ok(_) => {}
        }
        if line.trim().is_empty() {
            continue;
        }
        let cmd = match parse(&line) {
            Ok(cmd) => cmd,
            Err((id, failure)) => {
                let _ = io.send(&error_reply(id, failure));
                continue;
            }
        };
        let Some(id) = cmd.id() else { break }; // exit
        let reply = match handler.handle(id, cmd, &mut io) {
            Ok(fields) => Message::Ok { id, fields },
            Err(failure) => error_reply(id, failure),
        };
        let _ = io.send(&reply);
    }
    drop(handler);
    i32::from(io.is_broken())
}

fn error_reply(id: u64, f: Failure) -> Message {
    Message::Error {
        id,
        kind: f.kind,
        message: f.message,
        missed: f
            .missed
            .filter(|_| matches!(f.kind, ErrorKind::Lapped | ErrorKind::Evicted)),
    }
}

/// Parses one line. A line that is not a command is answered with the id it carries (0 when
/// it has none): `unsupported` for a command this protocol does not define, `other` else.
fn parse(line: &str) -> Result<Command, (u64, Failure)> {
    let line = line.trim_end();
    let v: Value = serde_json::from_str(line).map_err(|e| {
        (
            0,
            Failure::other(format!("unparsable command: {e}: {line}")),
        )
    })?;
    let id = v.get("id").and_then(Value::as_u64).unwrap_or(0);
    let name = v
        .get("cmd")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    serde_json::from_value::<Command>(v).map_err(|e| {
        let kind = if COMMANDS.contains(&name.as_str()) {
            ErrorKind::Other
        } else {
            ErrorKind::Unsupported
        };
        let failure = Failure::new(kind, format!("cannot parse command {name:?}: {e}: {line}"));
        (id, failure)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every command `ok`, counting them.
    struct Count(u64);

    impl Handler for Count {
        fn handle<W: Write>(&mut self, _: u64, _: Command, _: &mut TesteeIo<W>) -> Outcome {
            self.0 += 1;
            Ok(OkFields::default())
        }
    }

    fn replies(input: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let hello = Hello::new("t", "0", &[&["shm"]]);
        assert_eq!(serve(hello, Count(0), input.as_bytes(), &mut out), 0);
        out.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    #[test]
    fn unknown_commands_are_unsupported_and_bad_lines_other() {
        let r = replies(
            "{\"cmd\":\"teleport\",\"id\":7}\n\
             \n\
             {\"cmd\":\"publish\",\"id\":8}\n\
             not json\n\
             {\"cmd\":\"cursors\",\"id\":9}\n\
             {\"cmd\":\"exit\"}\n\
             {\"cmd\":\"cursors\",\"id\":10}\n",
        );
        assert_eq!(r[0]["type"], "hello");
        assert_eq!(r[0]["capabilities"], serde_json::json!(["shm"]));
        let kinds: Vec<_> = r[1..]
            .iter()
            .map(|m| (m["type"].clone(), m["id"].clone(), m["kind"].clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("error".into(), 7.into(), "unsupported".into()),
                ("error".into(), 8.into(), "other".into()),
                ("error".into(), 0.into(), "other".into()),
                ("ok".into(), 9.into(), Value::Null),
            ]
        );
    }

    #[test]
    fn every_known_command_name_is_a_command() {
        for name in COMMANDS {
            let e = serde_json::from_value::<Command>(serde_json::json!({ "cmd": name }));
            if let Err(e) = e {
                assert!(!e.to_string().contains("unknown variant"), "{name}: {e}");
            }
        }
        let e = serde_json::from_value::<Command>(serde_json::json!({ "cmd": "teleport" }));
        assert!(e.unwrap_err().to_string().contains("unknown variant"));
    }
}
