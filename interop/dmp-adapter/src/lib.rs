//! The disruptor-mp 0.1.0-alpha.2 adapter shared by `dmp-peer` (interop tests and the
//! conformance testee) and `ringproof-bench-peers` (the bench's disruptor-mp peer): everything
//! both need to drive disruptor-mp through its public API, once.
//!
//! - [`Ev`]: the event type, `8 * W` bytes of TP1 payload;
//! - [`StdoutToStderr`]: disruptor-mp prints to stdout, where our JSON lines go;
//! - [`by_size!`]: dispatch from an event size in bytes to `Ev<W>`;
//! - [`shm`]: building a gated producer, attaching a consumer, and the spin loops around
//!   `try_publish` and `try_consume_next`, with the workarounds for disruptor-mp's quirks.

mod ev;
pub mod shm;
mod stdout;

pub use ev::Ev;
pub use stdout::StdoutToStderr;

/// Calls `$f::<W>(args..)` for the `W` with `8 * W == $size`, for the sizes listed (each a
/// multiple of 8); for any other size evaluates `$otherwise(size, "8, 64, ...")`, the second
/// argument naming the sizes supported.
///
/// ```text
/// by_size!(a.size, [8, 64], stream(&a), |s, sizes| Err(format!("size {s}: use {sizes}")))
/// ```
#[macro_export]
macro_rules! by_size {
    ($size:expr, [$($s:literal),+ $(,)?], $f:ident $args:tt, $otherwise:expr) => {
        match $size {
            $( $s => $f::<{ $s / 8 }> $args, )+
            s => ($otherwise)(s, $crate::__sizes!($($s),+)),
        }
    };
}

/// `"8, 16, 24"` for `8, 16, 24` (for [`by_size!`]'s messages).
#[doc(hidden)]
#[macro_export]
macro_rules! __sizes {
    ($first:literal $(, $rest:literal)*) => {
        concat!(stringify!($first) $(, ", ", stringify!($rest))*)
    };
}

#[cfg(test)]
mod tests {
    fn width<const W: usize>(tag: &str) -> Result<String, String> {
        Ok(format!("{tag}{W}"))
    }

    fn pick(size: u64) -> Result<String, String> {
        by_size!(size, [8, 24, 4096], width("w"), |s, sizes| Err(format!(
            "{s} not in {sizes}"
        )))
    }

    #[test]
    fn dispatches_by_size_and_names_the_sizes_it_refuses() {
        assert_eq!(pick(8).unwrap(), "w1");
        assert_eq!(pick(24).unwrap(), "w3");
        assert_eq!(pick(4096).unwrap(), "w512");
        assert_eq!(pick(16).unwrap_err(), "16 not in 8, 24, 4096");
    }
}
