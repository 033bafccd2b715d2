//! The kernel peers: a Unix domain stream socket and named pipes (FIFOs), in the run's private
//! directory. Streams write one event per `write` (the single-event publish of a byte stream)
//! and read through a 64 KiB buffer; ping-pongs send one 8-byte event each way, spinning on
//! non-blocking reads or sleeping in blocking ones.

use ringproof::kit::payload::{fill, verify};
use ringproof_bench::clock;
use ringproof_bench::harness::{RoleArgs, Side};
use ringproof_bench::measure::{stream_result, LatencyRecorder, PollStats};
use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

fn dir(a: &RoleArgs) -> Result<PathBuf, String> {
    a.dir
        .clone()
        .ok_or_else(|| "kernel peers need --dir (the run's private directory)".into())
}

/// A connected socket: A listens (and removes the socket file once connected), B connects,
/// retrying while A is not listening yet (startup only).
fn uds_connect(a: &RoleArgs) -> Result<UnixStream, String> {
    let path = dir(a)?.join("sock");
    match a.side {
        Side::A => {
            let l =
                UnixListener::bind(&path).map_err(|e| format!("bind {}: {e}", path.display()))?;
            let (s, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
            let _ = std::fs::remove_file(&path);
            Ok(s)
        }
        Side::B => {
            let deadline = Instant::now() + SETUP_TIMEOUT;
            loop {
                match UnixStream::connect(&path) {
                    Ok(s) => return Ok(s),
                    Err(e) if Instant::now() >= deadline => {
                        return Err(format!("connect {}: {e}", path.display()))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        }
    }
}

/// Opens FIFO `name` in the run directory (created by whichever side comes first) for
/// writing or reading; the open blocks until the other side opens it too.
fn fifo(a: &RoleArgs, name: &str, write: bool) -> Result<File, String> {
    let path = dir(a)?.join(name);
    let c =
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a valid NUL-terminated path; EEXIST (the other side made it) is fine.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0
        && io::Error::last_os_error().kind() != ErrorKind::AlreadyExists
    {
        return Err(format!(
            "mkfifo {}: {}",
            path.display(),
            io::Error::last_os_error()
        ));
    }
    let f = if write {
        OpenOptions::new().write(true).open(&path)
    } else {
        OpenOptions::new().read(true).open(&path)
    };
    f.map_err(|e| format!("open {}: {e}", path.display()))
}

fn set_nonblocking(f: &File) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: plain fcntl on a descriptor we own.
    let ok = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(format!("fcntl O_NONBLOCK: {}", io::Error::last_os_error()))
    }
}

/// A stream's producer: one `write` per event (TP1 payload).
fn produce(mut w: impl Write, a: &RoleArgs) -> Result<Value, String> {
    let total = a.warmup + a.events;
    let mut ev = vec![0u8; a.size];
    for s in 0..total {
        fill(s, &mut ev).map_err(|e| e.to_string())?;
        w.write_all(&ev).map_err(|e| format!("write: {e}"))?;
    }
    w.flush().map_err(|e| format!("flush: {e}"))?;
    Ok(json!({ "published": total }))
}

/// A stream's consumer: reads and verifies every event.
fn consume(r: impl Read, a: &RoleArgs) -> Result<Value, String> {
    let total = a.warmup + a.events;
    let mut r = BufReader::with_capacity(64 * 1024, r);
    let mut ev = vec![0u8; a.size];
    let (mut errors, mut start) = (0u64, None);
    for s in 0..total {
        if s == a.warmup {
            start = Some((Instant::now(), s));
        }
        r.read_exact(&mut ev)
            .map_err(|e| format!("read event {s}: {e}"))?;
        errors += u64::from(verify(s, &ev).is_err());
    }
    Ok(stream_result(start, total, errors, PollStats::default()))
}

pub fn uds_stream(a: &RoleArgs) -> Result<Value, String> {
    let s = uds_connect(a)?;
    match a.side {
        // Unbuffered: one write per event.
        Side::A => produce(&s, a),
        Side::B => consume(&s, a),
    }
}

pub fn pipe_stream(a: &RoleArgs) -> Result<Value, String> {
    match a.side {
        Side::A => produce(fifo(a, "fifo", true)?, a),
        Side::B => consume(fifo(a, "fifo", false)?, a),
    }
}

/// Reads exactly `buf.len()` bytes; on a non-blocking descriptor spins while none are there.
fn read_full(mut r: impl Read, buf: &mut [u8]) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `buf`, spinning while a non-blocking descriptor is full.
fn write_full(mut w: impl Write, buf: &[u8]) -> io::Result<()> {
    let mut put = 0;
    while put < buf.len() {
        match w.write(&buf[put..]) {
            Ok(n) => put += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Ping-pong over `tx`/`rx`: A times each round trip (8-byte TP1 events), B echoes.
fn pingpong(mut tx: impl Write, mut rx: impl Read, a: &RoleArgs) -> Result<Value, String> {
    let total = a.warmup + a.events;
    let (mut out, mut inb) = ([0u8; 8], [0u8; 8]);
    let mut errors = 0u64;
    let io = |what: &'static str| move |e: io::Error| format!("{what}: {e}");
    match a.side {
        Side::A => {
            let mut pacer = ringproof_bench::measure::pacer_of(a);
            let mut rec = LatencyRecorder::new();
            for i in 0..total {
                let _ = fill(i, &mut out);
                let t0 = pacer.start();
                write_full(&mut tx, &out).map_err(io("write"))?;
                read_full(&mut rx, &mut inb).map_err(io("read"))?;
                let t1 = clock::ticks();
                errors += u64::from(verify(i, &inb).is_err());
                if i >= a.warmup {
                    rec.record(t1 - t0);
                }
            }
            let mut r = rec.finish(a.ticks_per_ns, errors);
            r["late_starts"] = json!(pacer.late);
            Ok(r)
        }
        Side::B => {
            for i in 0..total {
                read_full(&mut rx, &mut inb).map_err(io("read"))?;
                errors += u64::from(verify(i, &inb).is_err());
                write_full(&mut tx, &inb).map_err(io("write"))?;
            }
            Ok(json!({ "rounds": a.events, "errors": errors }))
        }
    }
}

pub fn uds_ping(a: &RoleArgs, spin: bool) -> Result<Value, String> {
    let s = uds_connect(a)?;
    if spin {
        s.set_nonblocking(true)
            .map_err(|e| format!("set_nonblocking: {e}"))?;
    }
    pingpong(&s, &s, a)
}

pub fn pipe_ping(a: &RoleArgs, spin: bool) -> Result<Value, String> {
    // Both sides open "ab" first, then "ba", so the blocking opens pair up.
    let (tx, rx) = match a.side {
        Side::A => {
            let tx = fifo(a, "ab", true)?;
            (tx, fifo(a, "ba", false)?)
        }
        Side::B => {
            let rx = fifo(a, "ab", false)?;
            (fifo(a, "ba", true)?, rx)
        }
    };
    if spin {
        set_nonblocking(&rx)?;
    }
    pingpong(tx, rx, a)
}
