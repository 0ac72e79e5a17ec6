//! live-store's settings, from `USACTAR_*` variables with defaults for the local stack.

use std::net::SocketAddr;
use std::path::PathBuf;

use service_kit::config::{ConfigError, Env};

/// 100,000 ids: about 12 MB of Redis, several minutes of the experiments' heaviest load.
pub const DEFAULT_DEDUP_WINDOW: u64 = 100_000;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `USACTAR_LISTEN`: the gRPC server.
    pub listen: SocketAddr,
    /// `USACTAR_ADMIN_LISTEN`: /metrics, /livez, /readyz.
    pub admin_listen: SocketAddr,
    /// `USACTAR_REDIS_URL`.
    pub redis_url: String,
    /// `USACTAR_REDIS_CA_FILE`: a PEM CA that a `rediss://` server's certificate must chain to,
    /// instead of the built-in public roots (a self-signed server). Unset: the public roots.
    pub redis_ca_file: Option<PathBuf>,
    /// `USACTAR_REDIS_PREFIX`: prepended to every key and channel (tests use their own).
    pub redis_prefix: String,
    /// `USACTAR_DEDUP_WINDOW`: how many of the most recently counted prediction ids are kept to
    /// count a client's retry (same ids, new Kafka records) once; about 120 bytes each in Redis.
    /// Replays of the same records are caught by their offsets, whatever their age.
    pub dedup_window: u64,
    /// `USACTAR_SHUTDOWN_DELAY`: after SIGTERM, how long to answer unready while still serving.
    pub shutdown_delay: std::time::Duration,
}

impl Settings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Settings {
            listen: env.parse_or("USACTAR_LISTEN", ([127, 0, 0, 1], 50051).into())?,
            admin_listen: env.parse_or("USACTAR_ADMIN_LISTEN", ([127, 0, 0, 1], 9183).into())?,
            redis_url: env.string_or("USACTAR_REDIS_URL", "redis://127.0.0.1:6379"),
            redis_ca_file: service_kit::redis::ca_file_setting(env),
            redis_prefix: env.string_or("USACTAR_REDIS_PREFIX", ""),
            dedup_window: env.parse_in(
                "USACTAR_DEDUP_WINDOW",
                DEFAULT_DEDUP_WINDOW,
                1..=10_000_000,
            )?,
            shutdown_delay: service_kit::shutdown::delay_from_env(env)?,
        })
    }
}
