//! Which programs run the sides: this binary for ringproof and the floors, the peers binary
//! (`ringproof-bench-peers`) for the peers.

use crate::role::Kind;
use std::path::PathBuf;

/// The binary with the peers in it (its own crate, so the core builds fast).
pub const PEERS_BIN: &str = "ringproof-bench-peers";
/// Environment variable naming the peers binary (default: next to the running binary).
pub const PEERS_ENV: &str = "RINGPROOF_BENCH_PEERS";

/// How to start one side: a program and the arguments that precede the role's own.
#[derive(Debug, Clone)]
pub struct Command0 {
    pub program: PathBuf,
    pub prefix: Vec<String>,
}

/// Which programs run the roles: ringproof and floor kinds in one, peers in another.
#[derive(Debug, Clone)]
pub struct Launcher {
    pub core: Command0,
    /// `None`: this binary serves peer kinds too (`core` runs everything).
    pub peers: Option<Command0>,
}

impl Launcher {
    /// The running binary serves every kind with subcommand `role_subcommand`.
    pub fn this_binary_serves_all(role_subcommand: &str) -> Result<Launcher, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        Ok(Launcher {
            core: Command0 {
                program: exe,
                prefix: vec![role_subcommand.into()],
            },
            peers: None,
        })
    }

    /// The running binary serves ringproof and floor kinds with `role_subcommand`; peers run
    /// in [`PEERS_BIN`] (`$RINGPROOF_BENCH_PEERS`, else next to the running binary).
    pub fn with_peer_binary(role_subcommand: &str) -> Result<Launcher, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let peers = match std::env::var_os(PEERS_ENV) {
            Some(p) => PathBuf::from(p),
            None => exe.with_file_name(PEERS_BIN),
        };
        Ok(Launcher {
            core: Command0 {
                program: exe,
                prefix: vec![role_subcommand.into()],
            },
            peers: Some(Command0 {
                program: peers,
                prefix: vec!["role".into()],
            }),
        })
    }

    /// Checks that the peers binary exists (before anything runs), with what to do if not.
    pub fn check_peers(&self) -> Result<(), String> {
        match &self.peers {
            Some(c) if !c.program.is_file() => Err(format!(
                "peer binary {} not found: the bench peers are optional; build them with `cargo build --release -p {PEERS_BIN}` \
                 (an installed ringproof: `cargo install --locked --path bench/peers` from a checkout, same --root), \
                 or set ${PEERS_ENV} to it, or run with --peers none",
                c.program.display()
            )),
            _ => Ok(()),
        }
    }

    pub(crate) fn for_kind(&self, kind: Kind) -> &Command0 {
        match (&self.peers, kind.peer()) {
            (Some(p), Some(_)) => p,
            _ => &self.core,
        }
    }
}
