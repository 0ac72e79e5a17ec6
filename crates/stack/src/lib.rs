//! The local stack runner: real servers as supervised processes in one state folder.
//!
//! - [`local`] says which servers make the stack and writes their configuration;
//! - [`supervisor`] starts them, restarts them like a Deployment, and injects faults;
//! - [`control`] exposes the supervisor to other processes;
//! - [`probe`] decides when each server is really ready.

pub mod control;
pub mod local;
pub mod ports;
pub mod probe;
pub mod process;
pub mod supervisor;

use std::path::Path;
use std::time::Duration;

pub use control::{ControlClient, ProcessControl};
pub use local::{Install, LocalStack, StackConfig};
pub use ports::Ports;
pub use process::{ProcessSpec, ProcessState, ProcessStatus, RestartPolicy};
pub use supervisor::Supervisor;

/// Everything the stack runner can fail with. Messages say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown port name {name:?}; the names are: {known}")]
    UnknownPort { name: String, known: String },
    #[error("invalid port override {0}")]
    InvalidPort(String),
    #[error(
        "port {port} ({name}) is already in use on 127.0.0.1; stop what listens there \
         (`ss -ltnp 'sport = :{port}'` shows it) or choose another port with \
         --port {name}=PORT or USACTAR_PORT_{env}=PORT",
        env = name.to_uppercase().replace('-', "_")
    )]
    PortTaken { name: String, port: u16 },
    #[error("no process named {name:?}; the stack has: {known}")]
    UnknownProcess { name: String, known: String },
    #[error("{name} is not running now (it is backing off or held)")]
    NotRunning { name: String },
    #[error("invalid duration {0}")]
    InvalidDuration(String),
    #[error("not ready after {timeout:?}: {details}")]
    NotReady { timeout: Duration, details: String },
    #[error("{what} is not installed (looked at {path}); run scripts/setup")]
    NotInstalled { what: String, path: String },
    #[error("{what} is not built (looked at {path}); run `cargo build --workspace --bins` (scripts/run does)")]
    NotBuilt { what: String, path: String },
    #[error("{what} failed: {detail}")]
    Prepare { what: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("control channel: {0}")]
    Control(String),
    #[error("the stack runner has stopped")]
    RunnerGone,
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
