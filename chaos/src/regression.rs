//! Regression seeds: campaigns that once failed (or that cover a fault worth replaying
//! forever), stored as small JSON files in `chaos/regressions/` and replayed by the tests.

use crate::schedule::FaultFamily;
use ringproof_conformance::protocol::Backend;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One regression: enough to rebuild the campaign's [`crate::Config`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regression {
    pub seed: u64,
    pub duration_ms: u64,
    pub consumers: usize,
    pub backend: Backend,
    pub faults: Vec<FaultFamily>,
    #[serde(default = "default_interval")]
    pub mean_interval_ms: u64,
    /// What it found or covers, and the fix.
    pub note: String,
}

fn default_interval() -> u64 {
    100
}

/// Why a regression file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RegressionError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a regression file ({source}); see chaos/README.md for the format")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

/// Loads every `*.json` in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<(String, Regression)>, RegressionError> {
    let rd = std::fs::read_dir(dir).map_err(|source| RegressionError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let path = p.display().to_string();
            let text = std::fs::read_to_string(&p).map_err(|source| RegressionError::Read {
                path: path.clone(),
                source,
            })?;
            let r = serde_json::from_str(&text).map_err(|source| RegressionError::Parse {
                path: path.clone(),
                source,
            })?;
            Ok((
                p.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                r,
            ))
        })
        .collect()
}

impl Regression {
    /// The campaign config for this regression over `implementation`.
    pub fn config(
        &self,
        implementation: ringproof_conformance::driver::Implementation,
    ) -> crate::Config {
        let mut c = crate::Config::new(
            self.seed,
            std::time::Duration::from_millis(self.duration_ms),
            implementation,
        );
        c.consumers = self.consumers;
        c.backend = self.backend;
        c.families = self.faults.iter().copied().collect();
        c.mean_interval = std::time::Duration::from_millis(self.mean_interval_ms);
        c
    }
}
