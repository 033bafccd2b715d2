//! `ringproof stat --ring NAME [--dir ROOT]`: a ring at a glance, read without modifying it.
//!
//! - default: one screen: the ring, its producer, a participants table (id, role, pid, state,
//!   heartbeat age, cursor, lag) and a counters table (label, value);
//! - `--watch [--interval-ms N]`: redraws that screen in place, like `top`, until Ctrl-C, or
//!   until the ring disappears (prints "ring gone", exit 0);
//! - `--json`: one JSON object;
//! - `--prometheus`: Prometheus text exposition format.
//!
//! Exit codes: 0 fine; 2 the ring does not exist or cannot be read (the message says why).

use clap::Args;
use ringproof::stat::{ParticipantStat, RingStat, RingState};
use ringproof::RingName;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct StatArgs {
    /// Ring name (`[A-Za-z0-9_-]`).
    #[arg(long)]
    ring: String,
    /// The ring's files are under this directory (omit for shared memory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Redraw every --interval-ms until Ctrl-C or until the ring disappears.
    #[arg(long, conflicts_with_all = ["json", "prometheus"])]
    watch: bool,
    /// Refresh interval of --watch, milliseconds.
    #[arg(long, default_value_t = 1000, requires = "watch", value_parser = clap::value_parser!(u64).range(10..))]
    interval_ms: u64,
    /// Print one JSON object.
    #[arg(long, conflicts_with = "prometheus")]
    json: bool,
    /// Print Prometheus text exposition format.
    #[arg(long)]
    prometheus: bool,
}

pub fn run(a: StatArgs) -> ringproof::Result<ExitCode> {
    let name = match &a.dir {
        Some(d) => RingName::dir(d, &a.ring)?,
        None => RingName::shm(&a.ring)?,
    };
    if a.watch {
        return watch(&name, Duration::from_millis(a.interval_ms));
    }
    let stat = RingStat::read(&name)?;
    if a.json {
        println!("{}", to_json(&stat));
    } else if a.prometheus {
        print!("{}", prometheus(&stat));
    } else {
        print!("{}", screen(&stat));
    }
    Ok(ExitCode::SUCCESS)
}

/// Redraws until the ring disappears. Ctrl-C (SIGINT's default action) ends it at any time:
/// it only prints, holds no lock and changes no terminal mode, so there is nothing to restore.
fn watch(name: &RingName, interval: Duration) -> ringproof::Result<ExitCode> {
    let mut first = true;
    loop {
        let stat = match RingStat::read(name) {
            Ok(s) => s,
            Err(ringproof::Error::NotFound { .. }) if !first => {
                println!("ring gone");
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => return Err(e),
        };
        first = false;
        // Home, clear the screen, redraw.
        let mut out = String::from("\x1b[H\x1b[2J");
        out.push_str(&screen(&stat));
        let _ = writeln!(
            out,
            "\nrefreshing every {} ms; Ctrl-C to quit",
            interval.as_millis()
        );
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
        drop(stdout);
        std::thread::sleep(interval);
    }
}

/// "12.3 ms", "4.0 s", "-" for none.
fn human_age(ns: Option<u64>) -> String {
    match ns {
        None => "-".into(),
        Some(ns) if ns < 1_000_000 => format!("{} us", ns / 1_000),
        Some(ns) if ns < 1_000_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        Some(ns) => format!("{:.1} s", ns as f64 / 1e9),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn backend(stat: &RingStat) -> String {
    match &stat.dir {
        Some(d) => format!("files under {}", d.display()),
        None => "shm".into(),
    }
}

/// The one-screen text form.
fn screen(s: &RingStat) -> String {
    let mut o = String::new();
    let state = match s.state {
        Some(RingState::Closed { final_sequence }) => {
            format!("closed after sequence {final_sequence}")
        }
        Some(st) => st.name(),
        None => "unknown (no registry)".into(),
    };
    let _ = writeln!(
        o,
        "ring {} ({}): {} slots x {} bytes, {state}",
        s.ring,
        backend(s),
        s.capacity,
        s.element_size
    );
    let _ = writeln!(o, "producer cursor: {}", s.producer_cursor);
    match &s.producer {
        Some(p) => {
            let _ = writeln!(
                o,
                "producer: pid {} {}, heartbeat {} ago, started {} time(s)",
                p.pid,
                if p.alive { "alive" } else { "DEAD" },
                human_age(p.heartbeat_age_ns),
                p.starts
            );
        }
        None => {
            let _ = writeln!(o, "producer: unknown (no registry)");
        }
    }
    let _ = writeln!(o, "\nparticipants ({}):", s.participants.len());
    let rows: Vec<[String; 7]> = s
        .participants
        .iter()
        .map(|p| {
            [
                p.id.clone(),
                p.role.clone(),
                p.pid.to_string(),
                p.state.name(),
                human_age(p.heartbeat_age_ns),
                opt(p.cursor),
                opt(p.lag),
            ]
        })
        .collect();
    table(
        &mut o,
        ["ID", "ROLE", "PID", "STATE", "HEARTBEAT", "CURSOR", "LAG"],
        &rows,
        &[false, false, true, false, true, true, true],
    );
    match &s.counters {
        Some(c) => {
            let _ = writeln!(o, "\ncounters ({}):", c.len());
            let rows: Vec<[String; 2]> = c
                .iter()
                .map(|v| [v.label.clone(), v.value.to_string()])
                .collect();
            table(&mut o, ["LABEL", "VALUE"], &rows, &[false, true]);
        }
        None => {
            let _ = writeln!(o, "\ncounters: none (no counters segment)");
        }
    }
    if !s.notes.is_empty() {
        let _ = writeln!(o, "\nnotes:");
        for n in &s.notes {
            let _ = writeln!(o, "  - {n}");
        }
    }
    o
}

fn table<const N: usize>(o: &mut String, head: [&str; N], rows: &[[String; N]], right: &[bool; N]) {
    if rows.is_empty() {
        let _ = writeln!(o, "  (none)");
        return;
    }
    let mut w = head.map(str::len);
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |o: &mut String, cells: [&str; N]| {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            if right[i] {
                let _ = write!(s, " {c:>w$}", w = w[i]);
            } else {
                let _ = write!(s, " {c:<w$}", w = w[i]);
            }
        }
        let _ = writeln!(o, "{}", s.trim_end());
    };
    line(o, head);
    for r in rows {
        line(o, r.each_ref().map(String::as_str));
    }
}

fn participant_json(p: &ParticipantStat) -> Value {
    json!({
        "slot": p.slot, "id": p.id, "role": p.role, "pid": p.pid, "state": p.state.name(), "raw_state": p.raw_state,
        "heartbeat_age_ns": p.heartbeat_age_ns, "incarnation": p.incarnation, "cursor": p.cursor, "lag": p.lag,
    })
}

/// The `--json` object.
fn to_json(s: &RingStat) -> Value {
    let (state, final_sequence) = match s.state {
        Some(RingState::Closed { final_sequence }) => {
            (Some("closed".to_owned()), Some(final_sequence))
        }
        Some(st) => (Some(st.name()), None),
        None => (None, None),
    };
    json!({
        "ring": s.ring,
        "backend": s.backend,
        "dir": s.dir.as_ref().map(|d| d.display().to_string()),
        "capacity": s.capacity,
        "element_size": s.element_size,
        "producer_cursor": s.producer_cursor,
        "state": state,
        "final_sequence": final_sequence,
        // Hex: a u64 above 2^53 loses precision in many JSON readers.
        "epoch": s.epoch.map(|e| format!("{e:#018x}")),
        "producer": s.producer.as_ref().map(|p| json!({
            "pid": p.pid, "alive": p.alive, "heartbeat_age_ns": p.heartbeat_age_ns, "starts": p.starts,
        })),
        "participants": s.participants.iter().map(participant_json).collect::<Vec<_>>(),
        "counters": s.counters.as_ref().map(|c| c.iter().map(|v| json!({
            "slot": v.slot, "id": v.id, "flags": v.flags, "role": v.role(), "label": v.label, "value": v.value,
        })).collect::<Vec<_>>()),
        "notes": s.notes,
    })
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Prom {
    out: String,
}

impl Prom {
    /// `# HELP` and `# TYPE` of a metric family.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
            .collect();
        let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
    }
}

/// The `--prometheus` text.
fn prometheus(s: &RingStat) -> String {
    let mut p = Prom { out: String::new() };
    let ring = s.ring.as_str();
    let r = [("ring", ring)];
    p.family(
        "ringproof_producer_cursor",
        "gauge",
        "Last sequence the producer published (-1: none).",
    );
    p.sample("ringproof_producer_cursor", &r, s.producer_cursor);
    p.family("ringproof_ring_capacity", "gauge", "Slots in the ring.");
    p.sample("ringproof_ring_capacity", &r, s.capacity);
    p.family(
        "ringproof_ring_element_size_bytes",
        "gauge",
        "Bytes per event.",
    );
    p.sample("ringproof_ring_element_size_bytes", &r, s.element_size);
    if let Some(state) = s.state {
        p.family(
            "ringproof_ring_closed",
            "gauge",
            "1 once the producer closed the ring cleanly.",
        );
        p.sample(
            "ringproof_ring_closed",
            &r,
            u8::from(matches!(state, RingState::Closed { .. })),
        );
    }
    if let Some(prod) = &s.producer {
        let pid = prod.pid.to_string();
        p.family(
            "ringproof_producer_up",
            "gauge",
            "1 while the producer process runs.",
        );
        p.sample(
            "ringproof_producer_up",
            &[("ring", ring), ("pid", &pid)],
            u8::from(prod.alive),
        );
        if let Some(age) = prod.heartbeat_age_ns {
            p.family(
                "ringproof_producer_heartbeat_age_seconds",
                "gauge",
                "Seconds since the producer's last heartbeat.",
            );
            p.sample(
                "ringproof_producer_heartbeat_age_seconds",
                &r,
                age as f64 / 1e9,
            );
        }
        p.family(
            "ringproof_producer_starts",
            "counter",
            "Producer starts on this ring (1 + restarts).",
        );
        p.sample("ringproof_producer_starts", &r, prod.starts);
    }
    if !s.participants.is_empty() {
        p.family(
            "ringproof_participant_up",
            "gauge",
            "1 while the participant is alive (registry state and process).",
        );
        for x in &s.participants {
            let pid = x.pid.to_string();
            let state = x.state.name();
            let labels = [
                ("ring", ring),
                ("consumer", x.id.as_str()),
                ("role", x.role.as_str()),
                ("pid", &pid),
                ("state", &state),
            ];
            p.sample(
                "ringproof_participant_up",
                &labels,
                u8::from(x.state.is_up()),
            );
        }
        p.family(
            "ringproof_participant_heartbeat_age_seconds",
            "gauge",
            "Seconds since the participant's last heartbeat.",
        );
        for x in &s.participants {
            if let Some(age) = x.heartbeat_age_ns {
                p.sample(
                    "ringproof_participant_heartbeat_age_seconds",
                    &[("ring", ring), ("consumer", &x.id)],
                    age as f64 / 1e9,
                );
            }
        }
        p.family(
            "ringproof_consumer_cursor",
            "gauge",
            "Last sequence the consumer consumed.",
        );
        for x in &s.participants {
            if let Some(c) = x.cursor {
                p.sample(
                    "ringproof_consumer_cursor",
                    &[("ring", ring), ("consumer", &x.id)],
                    c,
                );
            }
        }
        p.family(
            "ringproof_consumer_lag",
            "gauge",
            "Published events the consumer has not consumed yet.",
        );
        for x in &s.participants {
            if let Some(l) = x.lag {
                p.sample(
                    "ringproof_consumer_lag",
                    &[("ring", ring), ("consumer", &x.id)],
                    l,
                );
            }
        }
    }
    if let Some(counters) = &s.counters {
        if !counters.is_empty() {
            p.family(
                "ringproof_counter",
                "counter",
                "Counters of the ring's counters segment, by label.",
            );
            for v in counters {
                p.sample(
                    "ringproof_counter",
                    &[("ring", ring), ("label", &v.label)],
                    v.value,
                );
            }
        }
    }
    p.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_label_values() {
        assert_eq!(esc(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(esc("x\ny"), "x\\ny");
        assert_eq!(human_age(None), "-");
        assert_eq!(human_age(Some(1_500_000)), "1.5 ms");
    }
}
