//! live-store's settings, from `USACTAR_*` variables with defaults for the local stack.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use service_kit::config::{ConfigError, Env};

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
    /// `USACTAR_SEEN_TTL`: how long a prediction id is remembered for de-duplication. Longer than
    /// any replay: Kafka keeps records for a day locally.
    pub seen_ttl: Duration,
}

impl Settings {
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        Ok(Settings {
            listen: env.parse_or("USACTAR_LISTEN", ([127, 0, 0, 1], 50051).into())?,
            admin_listen: env.parse_or("USACTAR_ADMIN_LISTEN", ([127, 0, 0, 1], 9183).into())?,
            redis_url: env.string_or("USACTAR_REDIS_URL", "redis://127.0.0.1:6379"),
            redis_ca_file: service_kit::redis::ca_file_setting(env),
            redis_prefix: env.string_or("USACTAR_REDIS_PREFIX", ""),
            seen_ttl: env.duration_or("USACTAR_SEEN_TTL", Duration::from_secs(7 * 24 * 3600))?,
        })
    }
}
