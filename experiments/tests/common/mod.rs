//! What the stack tests share: a real local stack per test binary (see
//! the `testkit` crate).

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use stack::local::SERVERS;
#[allow(unused_imports)] // each test binary uses its own part
pub use testkit::{eventually, unique, TestStack as SharedStack};
use testkit::{fresh_dir, start_in_background};

/// A state folder of its own for each test, emptied first.
pub fn state_dir(name: &str) -> PathBuf {
    fresh_dir(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &format!("stack-{name}"),
    )
}

/// The platform's servers, once per test binary.
pub fn shared_stack() -> &'static SharedStack {
    static STACK: OnceLock<SharedStack> = OnceLock::new();
    STACK.get_or_init(|| {
        let only = SERVERS.iter().map(|s| s.to_string()).collect();
        start_in_background(state_dir("platform"), Some(only))
    })
}

/// The platform and the pipeline's services, once per test binary.
pub fn shared_pipeline() -> &'static SharedStack {
    static STACK: OnceLock<SharedStack> = OnceLock::new();
    STACK.get_or_init(|| start_in_background(state_dir("pipeline"), None))
}
