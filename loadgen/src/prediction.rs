//! The prediction rules are shared with ingest: see the `prediction` crate.

pub use ::prediction::*;
