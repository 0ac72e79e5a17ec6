//! Settings from `USACTAR_*` variables, with defaults that run against the local stack.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use model::Fixtures;

use service_kit::config::{ConfigError, Env};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The API (`USACTAR_LISTEN`).
    pub listen: SocketAddr,
    /// `/metrics`, `/livez`, `/readyz` (`USACTAR_ADMIN_LISTEN`).
    pub admin_listen: SocketAddr,
    pub redis_url: String,
    /// `USACTAR_REDIS_CA_FILE`: a PEM CA that a `rediss://` server's certificate must chain to,
    /// instead of the built-in public roots (a self-signed server). Unset: the public roots.
    pub redis_ca_file: Option<PathBuf>,
    /// Prepended to every Redis key and to the pub/sub channel, so tests can share one server.
    pub redis_prefix: String,
    pub mongo_uri: String,
    pub mongo_db: String,
    /// Purge is disabled when unset.
    pub admin_token: Option<AdminToken>,
    /// The longest any one call to Redis or MongoDB may take before the API answers 503.
    pub backend_timeout: Duration,
    /// `USACTAR_CORS_ORIGINS`: comma-separated origins allowed to call the API from a browser,
    /// e.g. the Cloud Run front end's. Empty (the default): same origin only, as behind NGINX.
    pub cors_origins: Vec<String>,
    /// `USACTAR_MAX_SOCKETS`: WebSockets open at once, both streams together; above it an
    /// upgrade gets 503. Each socket costs buffers and a task, so the pod's memory bounds it.
    pub max_sockets: usize,
    /// `USACTAR_MAX_LOG_QUERIES`: pages of `/api/logs` read from the store at once (1-256);
    /// above it a page gets 503 at once ([`crate::logs::LogStore::page`] says why).
    pub max_log_queries: usize,
    /// The `/api/warzone/*` routes' sources (`USACTAR_WARZONE_*`).
    pub warzone: warzone::Settings,
    /// `USACTAR_FIXTURES`: the matches that exist, as ingest's setting
    /// ([`service_kit::config::fixtures`]); reads of the live aggregates read those only.
    pub fixtures: Option<Arc<Fixtures>>,
    /// `USACTAR_SHUTDOWN_DELAY`: after SIGTERM, how long to answer unready while still serving.
    pub shutdown_delay: Duration,
}

/// The default of `USACTAR_MAX_SOCKETS`.
pub const DEFAULT_MAX_SOCKETS: usize = 1_000;

impl Settings {
    pub fn from_env(env: &impl Env) -> Result<Settings, ConfigError> {
        Ok(Settings {
            listen: env.parse_or("USACTAR_LISTEN", ([127, 0, 0, 1], 8082).into())?,
            admin_listen: env.parse_or("USACTAR_ADMIN_LISTEN", ([127, 0, 0, 1], 9182).into())?,
            redis_url: env.string_or("USACTAR_REDIS_URL", "redis://127.0.0.1:6379"),
            redis_ca_file: service_kit::redis::ca_file_setting(env),
            redis_prefix: env.string_or("USACTAR_REDIS_PREFIX", ""),
            mongo_uri: env.string_or(
                "USACTAR_MONGO_URI",
                "mongodb://127.0.0.1:27017/?directConnection=true",
            ),
            mongo_db: env.string_or("USACTAR_MONGO_DB", "usactar"),
            admin_token: admin_token(env)?,
            // 0 would fail every read; the benchmarks' 60 s is the longest wait that makes sense.
            backend_timeout: env.duration_in(
                "USACTAR_BACKEND_TIMEOUT",
                Duration::from_secs(2),
                Duration::from_millis(100)..=Duration::from_secs(60),
            )?,
            cors_origins: env
                .string_or("USACTAR_CORS_ORIGINS", "")
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(String::from)
                .collect(),
            max_sockets: env.parse_in("USACTAR_MAX_SOCKETS", DEFAULT_MAX_SOCKETS, 1..=1_000_000)?,
            max_log_queries: env.parse_in(
                "USACTAR_MAX_LOG_QUERIES",
                crate::logs::DEFAULT_MAX_LOG_QUERIES,
                1..=256,
            )?,
            warzone: warzone::Settings::from_env(env)?,
            fixtures: service_kit::config::fixtures(env)?,
            shutdown_delay: service_kit::shutdown::delay_from_env(env)?,
        })
    }
}

/// The shortest purge token accepted. With purge attempts limited (`routes::purge`: a burst of
/// 5 failures, then one per second), 16 random characters cannot be guessed.
pub const MIN_ADMIN_TOKEN: usize = 16;

/// `USACTAR_ADMIN_TOKEN`: unset or empty disables purge; shorter than [`MIN_ADMIN_TOKEN`] is
/// refused at start (the error never shows the value).
fn admin_token(env: &impl Env) -> Result<Option<AdminToken>, ConfigError> {
    match env.get("USACTAR_ADMIN_TOKEN").filter(|t| !t.trim().is_empty()) {
        None => Ok(None),
        Some(t) if t.trim().chars().count() < MIN_ADMIN_TOKEN => Err(ConfigError {
            key: "USACTAR_ADMIN_TOKEN".into(),
            value: "(hidden)".into(),
            reason: format!(
                "a purge token needs at least {MIN_ADMIN_TOKEN} characters (e.g. `openssl rand -hex 16`)"
            ),
        }),
        Some(t) => Ok(Some(AdminToken(t))),
    }
}

/// The purge token. Its Debug never shows the value, so logging the settings is safe.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    pub fn new(token: impl Into<String>) -> Self {
        AdminToken(token.into())
    }

    /// Constant time, so response timing does not reveal how much of a guess was right.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Issue 15 L4: a backend timeout of 0 failed every read, 0 sockets refused every viewer.
    #[test]
    fn numbers_outside_their_range_stop_the_start() {
        for (key, value) in [
            ("USACTAR_BACKEND_TIMEOUT", "0s"),
            ("USACTAR_MAX_SOCKETS", "0"),
            ("USACTAR_MAX_LOG_QUERIES", "0"),
            ("USACTAR_SHUTDOWN_DELAY", "2m"),
        ] {
            let env: HashMap<&str, &str> = [(key, value)].into();
            let err = Settings::from_env(&env)
                .expect_err(&format!("{key}={value} accepted"))
                .to_string();
            assert!(err.contains(key) && err.contains("must be from"), "{err}");
        }
    }

    #[test]
    fn defaults_and_a_hidden_token() {
        let env: HashMap<&str, &str> = HashMap::new();
        let s = Settings::from_env(&env).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8082");
        assert_eq!(s.admin_listen.to_string(), "127.0.0.1:9182");
        assert_eq!(s.mongo_db, "usactar");
        assert!(s.admin_token.is_none());

        let env: HashMap<&str, &str> = [("USACTAR_ADMIN_TOKEN", "s3cret-s3cret-s3cret")].into();
        let s = Settings::from_env(&env).unwrap();
        assert!(!format!("{s:?}").contains("s3cret"));
        let token = s.admin_token.unwrap();
        assert!(token.matches("s3cret-s3cret-s3cret"));
        assert!(!token.matches("s3cret-s3cret-s3cre"));
        assert!(!token.matches(""));

        // Too short to resist guessing: refused at start, without echoing it.
        let env: HashMap<&str, &str> = [("USACTAR_ADMIN_TOKEN", "s3cret")].into();
        let err = Settings::from_env(&env).unwrap_err().to_string();
        assert!(
            err.contains("USACTAR_ADMIN_TOKEN") && err.contains("16"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn a_bad_address_names_the_variable() {
        let env: HashMap<&str, &str> = [("USACTAR_LISTEN", "nowhere")].into();
        let err = Settings::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("USACTAR_LISTEN"), "{err}");
    }
}
