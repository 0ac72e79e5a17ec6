//! The local stack runner: it starts Kafka, FerretDB, Redis, Prometheus, NGINX, Toxiproxy and the
//! pipeline's services as supervised processes in one state folder, and lets other processes drive
//! faults on them.
//!
//! - [`servers`]: one file per server behind the [`Server`] trait, and the registry of them all;
//!   their configuration files are templates in `templates/`, filled by [`template`];
//! - [`install`]: finding each program, on PATH first, then where `scripts/setup` puts it;
//! - [`local`]: [`LocalStack::up`], which checks, configures, starts and waits for them;
//! - [`supervisor`] restarts them like a Deployment and injects faults; [`control`] exposes it
//!   over HTTP, and [`StackFile`] (`<state>/stack.json`) tells other processes where it is;
//! - [`probe`] decides when each server is really ready; [`pages`] makes sure NGINX has the web
//!   pages; [`cargo_build`] builds missing services; [`status_table`] prints it all.

pub mod cargo_build;
mod child;
pub mod control;
pub mod install;
pub mod kafka_users;
pub mod local;
pub mod pages;
pub mod ports;
pub mod probe;
pub mod process;
pub mod servers;
pub mod stack_file;
pub mod status_table;
pub mod supervisor;
pub mod template;

use std::path::Path;
use std::time::Duration;

pub use control::{ControlClient, ProcessControl};
pub use install::{Found, Install, KafkaInstall};
pub use kafka_users::KafkaUsers;
pub use local::{LocalStack, StackConfig};
pub use ports::Ports;
pub use process::{LivenessProbe, ProcessSpec, ProcessState, ProcessStatus, RestartPolicy};
pub use servers::Server;
pub use stack_file::StackFile;
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
    #[error("{key}={value:?}: {reason}")]
    BadSetting {
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error("not ready after {timeout:?}: {details}")]
    NotReady { timeout: Duration, details: String },
    #[error("{what} is not installed (looked for {looked}); {how}", how = install::HOW_TO_INSTALL)]
    NotInstalled { what: String, looked: String },
    #[error("{what} is not built (looked at {path}); run `cargo build --workspace --bins` (scripts/run does)")]
    NotBuilt { what: String, path: String },
    #[error("{what} failed: {detail}")]
    Prepare { what: String, detail: String },
    #[error(
        "{path} holds {what}, from an earlier version of the stack, which this one cannot use; \
         stop the stack and remove its state folder (its Kafka, store and Redis go together), \
         or start it with another state folder"
    )]
    OlderState { path: String, what: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("no running stack found ({path} is missing); start one with `experiments up`")]
    NoStack { path: String },
    #[error("{path} is not a stack file ({detail}); remove it and start `experiments up` again")]
    BadStackFile { path: String, detail: String },
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
