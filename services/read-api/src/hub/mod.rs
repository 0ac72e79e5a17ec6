//! The one task per process that feeds each WebSocket stream, through a broadcast channel that
//! every open socket of that stream subscribes to:
//! - [`LiveHub`]: SUBSCRIBE to `{P}live-changes` (no polling), gather the changed match ids, and
//!   at most every [`LIVE_COALESCE`] read just those matches and broadcast them; the snapshots
//!   sockets start from are shared ([`Snapshots`]) and dropped at every flush;
//! - [`LogsHub`]: MongoDB-compatible stores here have no change streams, so while at least one
//!   logs socket is open, read the ids after the last one seen every [`LOGS_POLL`].

mod live;
mod logs;
mod snapshot;

pub use live::{LiveDelta, LiveEvent, LiveHub, LIVE_COALESCE};
pub use logs::{LogsBatch, LogsHub, LOGS_POLL};
pub use snapshot::{SharedReads, Snapshots, SNAPSHOT_FRESH};
