//! Opening and mapping segments: the only place that knows shm from files.
//!
//! Everything above this module sees a [`Segment`]: a validated mapping with a base pointer
//! (or a [`RawSegment`], for the counters segment, which has no LayoutV1 header). Creation is
//! crash-safe and never visible half-made, in both backends: the whole object is built (sized,
//! its space allocated, payload and header written, magic last) under a temporary name in the
//! same directory (`/dev/shm` for shm objects), then `link(2)`ed to its final name, which fails
//! if the name exists. A segment never changes size or header under a peer that maps it,
//! nothing is ever truncated, and a name that exists but is unfinished is never ringproof's
//! own creation in progress (disruptor-mp's shm creator, which writes in place, is waited for
//! by readers as before).
//!
//! Opening checks what the name refers to before trusting it: a regular file (no link, no FIFO),
//! owned by this user, writable by nobody else (SPEC.md §3.1).
//!
//! - [`identity`](self::identity): which object a name refers to, and removing a name only while it
//!   refers to ours;
//! - `open`: opening an existing object safely, and the ownership and mode checks;
//! - `create`: exclusive, crash-safe creation under a temporary name;
//! - `temps`: the temporaries a creator killed mid-creation leaves, and removing them;
//! - `mapped` and `raw`: the two kinds of mapping.

mod create;
mod identity;
mod mapped;
mod open;
mod raw;
mod temps;

pub use identity::{exists, identity_of, unlink, unlink_if_same, Identity};
pub use mapped::{unfinished, Segment};
pub use open::ensure_private_dir;
pub use raw::RawSegment;
pub use temps::{dead_temps, remove_dead_ring_temps, remove_dead_temps, ring_temp_places};
