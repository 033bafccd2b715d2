//! Required-consumer liveness: which consumers a producer must not lose, and what it does when
//! one stalls or dies (SPEC.md §7.10).
//!
//! Parity with disruptor-mp's `RequiredConsumerLivenessConfig`, plus dead-process detection:
//! a required consumer whose process died is acted on at once, without waiting for the
//! progress timeout. The library never prints: alerts go to the hook.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a blocked producer or an idle consumer looks at its peers' liveness.
pub const LIVENESS_CHECK: Duration = Duration::from_millis(10);

/// Whether something done at most once per `every` is due `now`, given when it `last` ran; if
/// so, records `now` as its last run. The one rate limit of every periodic look and heartbeat.
pub(crate) fn due(last: &mut Option<Instant>, now: Instant, every: Duration) -> bool {
    if last.is_some_and(|t| now.duration_since(t) < every) {
        return false;
    }
    *last = Some(now);
    true
}

/// What happens when a required consumer stalls past the grace period, or dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LivenessAction {
    /// The blocked publish fails with [`Error::GracefulShutdown`].
    #[default]
    GracefulShutdown,
    /// Only the alert; the producer keeps waiting for the consumer.
    AlertOnly,
    /// The consumer stops gating: its slot becomes EVICTED and the producer moves on. The
    /// consumer's next read fails with [`Error::Evicted`]; re-attaching under its id tells it
    /// which sequences it missed, or resyncs at the head if asked.
    Evict,
}

/// What the producer must do about one required consumer after a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Wait,
    Evict,
}

/// One stall (or death) of a required consumer, handed to the alert hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivenessAlert {
    pub consumer_id: String,
    pub last_sequence: i64,
    pub stalled_for: Duration,
    /// The consumer's process is dead (not merely slow).
    pub dead: bool,
}

/// Called once per stall window (and once on death).
pub type AlertHook = Arc<dyn Fn(&LivenessAlert) + Send + Sync>;

/// Which consumers the producer must not lose, and how it watches them.
#[derive(Clone)]
pub struct RequiredConsumers {
    pub ids: Vec<String>,
    /// How long the producer waits at creation for every required id to join.
    pub startup_wait_timeout: Duration,
    /// How long a gating required consumer may make no progress before an alert.
    pub progress_timeout: Duration,
    /// How often a blocked producer checks.
    pub progress_check_interval: Duration,
    /// After the alert, how long the consumer (or a restart under its id) has to progress.
    pub shutdown_grace_period: Duration,
    pub action: LivenessAction,
    pub alert_hook: Option<AlertHook>,
}

impl std::fmt::Debug for RequiredConsumers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequiredConsumers")
            .field("ids", &self.ids)
            .field("startup_wait_timeout", &self.startup_wait_timeout)
            .field("progress_timeout", &self.progress_timeout)
            .field("progress_check_interval", &self.progress_check_interval)
            .field("shutdown_grace_period", &self.shutdown_grace_period)
            .field("action", &self.action)
            .field("alert_hook", &self.alert_hook.is_some())
            .finish()
    }
}

impl RequiredConsumers {
    /// disruptor-mp's defaults: 5 s startup, 250 ms progress, 5 ms checks, 1 s grace,
    /// graceful shutdown.
    pub fn new<S: Into<String>>(ids: impl IntoIterator<Item = S>) -> Self {
        Self {
            ids: ids.into_iter().map(Into::into).collect(),
            startup_wait_timeout: Duration::from_secs(5),
            progress_timeout: Duration::from_millis(250),
            progress_check_interval: Duration::from_millis(5),
            shutdown_grace_period: Duration::from_secs(1),
            action: LivenessAction::GracefulShutdown,
            alert_hook: None,
        }
    }

    pub fn with_startup_wait_timeout(mut self, d: Duration) -> Self {
        self.startup_wait_timeout = d;
        self
    }

    pub fn with_progress_timeout(mut self, d: Duration) -> Self {
        self.progress_timeout = d;
        self
    }

    pub fn with_progress_check_interval(mut self, d: Duration) -> Self {
        self.progress_check_interval = d;
        self
    }

    pub fn with_shutdown_grace_period(mut self, d: Duration) -> Self {
        self.shutdown_grace_period = d;
        self
    }

    pub fn with_action(mut self, action: LivenessAction) -> Self {
        self.action = action;
        self
    }

    pub fn with_alert_hook(
        mut self,
        hook: impl Fn(&LivenessAlert) + Send + Sync + 'static,
    ) -> Self {
        self.alert_hook = Some(Arc::new(hook));
        self
    }
}

/// Per-consumer watch state.
#[derive(Debug, Clone, Copy)]
struct Watch {
    last_value: i64,
    since: Instant,
    alerted_at: Option<Instant>,
}

/// The producer's tracker of its required consumers.
#[derive(Debug)]
pub(crate) struct Required {
    pub(crate) config: RequiredConsumers,
    watches: HashMap<String, Watch>,
    /// Alerts raised (for counters and tests).
    pub(crate) alerts: u64,
}

impl Required {
    pub(crate) fn new(config: RequiredConsumers) -> Self {
        Self {
            config,
            watches: HashMap::new(),
            alerts: 0,
        }
    }

    /// A new blocked period starts: stalls are measured from here, never from an earlier
    /// time the producer happened not to look (disruptor-mp's stale `last_progress_at`).
    pub(crate) fn begin_wait(&mut self) {
        let now = Instant::now();
        for w in self.watches.values_mut() {
            w.since = now;
        }
    }

    /// One look at required consumer `id`, whose cursor is `value`.
    pub(crate) fn observe(
        &mut self,
        id: &str,
        value: i64,
        published: i64,
        alive: bool,
        now: Instant,
    ) -> Result<Verdict> {
        let w = self.watches.entry(id.to_owned()).or_insert(Watch {
            last_value: value,
            since: now,
            alerted_at: None,
        });
        if alive && (value != w.last_value || value >= published) {
            // Progress (or caught up): the stall, if any, is over.
            *w = Watch {
                last_value: value,
                since: now,
                alerted_at: None,
            };
            return Ok(Verdict::Wait);
        }
        let stalled_for = now.duration_since(w.since);
        let alert = LivenessAlert {
            consumer_id: id.to_owned(),
            last_sequence: value,
            stalled_for,
            dead: !alive,
        };
        let first_alert = w.alerted_at.is_none()
            && (!alive || stalled_for >= self.config.progress_timeout)
            && !mutant!("producer.required-no-alert");
        if first_alert {
            w.alerted_at = Some(now);
            self.alerts += 1;
            if let Some(hook) = &self.config.alert_hook {
                hook(&alert);
            }
        }
        let act = match w.alerted_at {
            Some(at) => !alive || now.duration_since(at) >= self.config.shutdown_grace_period,
            None => false,
        };
        match (act, self.config.action) {
            (true, LivenessAction::GracefulShutdown) if !mutant!("producer.shutdown-ignored") => {
                Err(Error::GracefulShutdown {
                    id: id.to_owned(),
                    last_sequence: value,
                    stalled_for,
                    dead: !alive,
                })
            }
            (true, LivenessAction::Evict) => {
                self.watches.remove(id);
                Ok(Verdict::Evict)
            }
            _ => Ok(Verdict::Wait),
        }
    }
}
