//! Typed configuration from the environment, with defaults that run locally.

use std::collections::HashMap;
use std::fmt::{Debug, Display};
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use model::Fixtures;

/// Where configuration comes from. The process environment in production; a map in tests.
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;

    /// `key` parsed as `T`, or `default` when unset. A value that does not parse is an error
    /// that names the variable, the value and why.
    fn parse_or<T>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError {
                key: key.to_string(),
                value: raw.clone(),
                reason: e.to_string(),
            }),
        }
    }

    fn string_or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or_else(|| default.to_string())
    }

    /// A duration such as `5s`, `250ms` or `1m`.
    fn duration_or(&self, key: &str, default: Duration) -> Result<Duration, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => humantime::parse_duration(raw.trim()).map_err(|e| ConfigError {
                key: key.to_string(),
                value: raw.clone(),
                reason: format!("{e} (examples: 5s, 250ms, 1m)"),
            }),
        }
    }

    /// [`Env::parse_or`], and the value must lie in `range`. Every number a service takes is read
    /// this way: a value outside its range stops the service at start with a message naming the
    /// variable, instead of running in a broken way (a batch limit of 0 spins a loop, a timeout
    /// of 0 fails every call; issue 15 L4).
    fn parse_in<T>(&self, key: &str, default: T, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Debug,
        T::Err: Display,
    {
        let value = self.parse_or(key, default)?;
        self.check_range(key, value, range)
    }

    /// [`Env::duration_or`], and the duration must lie in `range`.
    fn duration_in(
        &self,
        key: &str,
        default: Duration,
        range: RangeInclusive<Duration>,
    ) -> Result<Duration, ConfigError> {
        let value = self.duration_or(key, default)?;
        self.check_range(key, value, range)
    }

    /// `value` (read from `key`) if it lies in `range`; else an error naming the variable, the
    /// value as given and the range.
    fn check_range<T: PartialOrd + Debug>(
        &self,
        key: &str,
        value: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError> {
        if range.contains(&value) {
            return Ok(value);
        }
        Err(ConfigError {
            key: key.to_string(),
            value: self.get(key).unwrap_or_else(|| format!("{value:?}")),
            reason: format!(
                "must be from {:?} to {:?}, got {value:?}",
                range.start(),
                range.end()
            ),
        })
    }
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl Env for HashMap<&str, &str> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).map(|v| v.to_string())
    }
}

/// `USACTAR_FIXTURES`: the matches predictions may name (issue 15 H1). Unset: Qatar 2022, the
/// built-in list. A path: a fixture file in openfootball's format ([`model::Fixtures::parse`]).
/// `any`: no list, team names are free text (for tests that need teams of their own; every
/// reader of the live aggregates then bounds what it reads by count instead). `None` means any.
pub fn fixtures(env: &impl Env) -> Result<Option<Arc<Fixtures>>, ConfigError> {
    const KEY: &str = "USACTAR_FIXTURES";
    let Some(value) = env.get(KEY) else {
        return Ok(Some(Arc::new(Fixtures::qatar_2022())));
    };
    if value.trim() == "any" {
        return Ok(None);
    }
    let error = |reason: String| ConfigError {
        key: KEY.to_string(),
        value: value.clone(),
        reason,
    };
    let text = std::fs::read_to_string(value.trim()).map_err(|e| error(e.to_string()))?;
    Fixtures::parse(&text)
        .map(|f| Some(Arc::new(f)))
        .map_err(error)
}

/// Settings the services fix for correctness: `USACTAR_KAFKA_CONFIG` may not change them, so
/// no tuning trades durability or exactly-once away silently (and the consumers' liveness and
/// lag, read from the statistics, keep their source).
pub const KAFKA_FIXED: &[&str] = &[
    "statistics.interval.ms",
    "acks",
    "enable.idempotence",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "auto.offset.reset",
    "isolation.level",
    "group.id",
    "bootstrap.servers",
];

/// `USACTAR_KAFKA_CONFIG`: librdkafka properties applied over a service's own, as
/// `name=value` pairs separated by commas (`linger.ms=5,fetch.min.bytes=65536`): the knobs the
/// benchmark tunes (bench/RESULTS.md) without a rebuild. Names are checked here for their shape
/// and against [`KAFKA_FIXED`]; librdkafka refuses an unknown name or a bad value at start.
#[cfg(feature = "kafka")]
pub fn kafka_overrides(env: &impl Env) -> Result<Vec<(String, String)>, ConfigError> {
    const KEY: &str = "USACTAR_KAFKA_CONFIG";
    let Some(value) = env.get(KEY) else {
        return Ok(Vec::new());
    };
    let error = |reason: String| ConfigError {
        key: KEY.to_string(),
        value: value.clone(),
        reason,
    };
    let pairs = kafka_access::properties(&value).map_err(error)?;
    for (name, _) in &pairs {
        if ["security.", "sasl.", "ssl."]
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            return Err(error(format!(
                "{name} is set from USACTAR_KAFKA_USERNAME and USACTAR_KAFKA_PASSWORD, not here"
            )));
        }
        if KAFKA_FIXED.contains(&name.as_str()) {
            return Err(error(format!(
                "{name} is fixed by the service for durability and exactly-once; it cannot be overridden"
            )));
        }
    }
    Ok(pairs)
}

/// How the service reaches Kafka (issue 15 M4): `USACTAR_KAFKA_BOOTSTRAP` (default
/// `127.0.0.1:9092`), and the SASL/PLAIN user `USACTAR_KAFKA_USERNAME` with its
/// `USACTAR_KAFKA_PASSWORD` when the broker asks for one: both or neither. Neither: the
/// listener is PLAINTEXT. The password is never printed (not even in this error's value).
#[cfg(feature = "kafka")]
pub fn kafka_access(env: &impl Env) -> Result<kafka_access::KafkaAccess, ConfigError> {
    let bootstrap = env.string_or("USACTAR_KAFKA_BOOTSTRAP", "127.0.0.1:9092");
    if bootstrap.trim().is_empty() {
        return Err(ConfigError {
            key: "USACTAR_KAFKA_BOOTSTRAP".into(),
            value: bootstrap,
            reason: "must not be empty".into(),
        });
    }
    let access = kafka_access::KafkaAccess::plaintext(bootstrap.trim());
    let hidden = |key: &str, reason: String| ConfigError {
        key: key.into(),
        value: "<hidden>".into(),
        reason,
    };
    match (
        env.get("USACTAR_KAFKA_USERNAME"),
        env.get("USACTAR_KAFKA_PASSWORD"),
    ) {
        (None, None) => Ok(access),
        (Some(user), Some(password)) => {
            kafka_access::check_token("the user name", &user).map_err(|reason| ConfigError {
                key: "USACTAR_KAFKA_USERNAME".into(),
                value: user.clone(),
                reason,
            })?;
            kafka_access::check_token("the password", &password)
                .map_err(|reason| hidden("USACTAR_KAFKA_PASSWORD", reason))?;
            Ok(access.with_credentials(kafka_access::Credentials::new(user, password)))
        }
        (Some(_), None) => Err(hidden(
            "USACTAR_KAFKA_PASSWORD",
            "unset while USACTAR_KAFKA_USERNAME is set; give both or neither".into(),
        )),
        (None, Some(_)) => Err(hidden(
            "USACTAR_KAFKA_USERNAME",
            "unset while USACTAR_KAFKA_PASSWORD is set; give both or neither".into(),
        )),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub value: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "kafka")]
    #[test]
    fn kafka_overrides_are_checked_and_never_touch_durability() {
        let env: HashMap<&str, &str> = [(
            "USACTAR_KAFKA_CONFIG",
            " linger.ms=5, fetch.min.bytes=65536 ,",
        )]
        .into();
        assert_eq!(
            kafka_overrides(&env).unwrap(),
            [
                ("linger.ms".to_string(), "5".to_string()),
                ("fetch.min.bytes".to_string(), "65536".to_string())
            ]
        );
        assert!(kafka_overrides(&HashMap::<&str, &str>::new())
            .unwrap()
            .is_empty());
        for (bad, says) in [
            ("acks=0", "fixed by the service"),
            ("enable.idempotence=false", "fixed by the service"),
            ("linger.ms", "not name=value"),
            ("Linger.ms=5", "not a Kafka property name"),
            ("sasl.password=x", "set from USACTAR_KAFKA_USERNAME"),
            (
                "security.protocol=plaintext",
                "set from USACTAR_KAFKA_USERNAME",
            ),
        ] {
            let env: HashMap<&str, &str> = [("USACTAR_KAFKA_CONFIG", bad)].into();
            let e = kafka_overrides(&env).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[cfg(feature = "kafka")]
    #[test]
    fn kafka_credentials_come_in_pairs_and_are_never_echoed() {
        let access = kafka_access(&HashMap::<&str, &str>::new()).unwrap();
        assert_eq!(access.bootstrap, "127.0.0.1:9092");
        assert!(access.credentials.is_none());
        let env: HashMap<&str, &str> = [
            ("USACTAR_KAFKA_USERNAME", "ingest"),
            ("USACTAR_KAFKA_PASSWORD", "pw-1234"),
        ]
        .into();
        let c = kafka_access(&env).unwrap().credentials.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("ingest", "pw-1234")
        );
        for (env, says) in [
            (
                vec![("USACTAR_KAFKA_USERNAME", "ingest")],
                "give both or neither",
            ),
            (
                vec![("USACTAR_KAFKA_PASSWORD", "pw\"x")],
                "give both or neither",
            ),
            (
                vec![
                    ("USACTAR_KAFKA_USERNAME", "ingest"),
                    ("USACTAR_KAFKA_PASSWORD", "pw\"x"),
                ],
                "the password holds",
            ),
        ] {
            let env: HashMap<&str, &str> = env.into_iter().collect();
            let e = kafka_access(&env).unwrap_err().to_string();
            assert!(e.contains(says) && !e.contains("pw"), "{e}");
        }
    }

    #[test]
    fn defaults_values_and_errors() {
        let env: HashMap<&str, &str> = [
            ("USACTAR_BATCH", "500"),
            ("USACTAR_WAIT", "250ms"),
            ("USACTAR_BAD", "x"),
        ]
        .into();
        assert_eq!(env.parse_or("USACTAR_BATCH", 1usize).unwrap(), 500);
        assert_eq!(env.parse_or("USACTAR_UNSET", 7usize).unwrap(), 7);
        assert_eq!(
            env.duration_or("USACTAR_WAIT", Duration::ZERO).unwrap(),
            Duration::from_millis(250)
        );
        let err = env.parse_or("USACTAR_BAD", 1usize).unwrap_err().to_string();
        assert!(
            err.contains("USACTAR_BAD") && err.contains("\"x\""),
            "{err}"
        );
    }

    #[test]
    fn values_outside_their_range_are_refused_with_the_value_as_given() {
        let env: HashMap<&str, &str> = [("USACTAR_BATCH", " 0"), ("USACTAR_WAIT", "0s")].into();
        let err = env
            .parse_in("USACTAR_BATCH", 500usize, 1..=10_000)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "configuration: USACTAR_BATCH=\" 0\" is invalid: must be from 1 to 10000, got 0"
        );
        let err = env
            .duration_in(
                "USACTAR_WAIT",
                Duration::from_secs(1),
                Duration::from_millis(100)..=Duration::from_secs(10),
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"0s\"") && err.contains("100ms to 10s"),
            "{err}"
        );
        // Unset: the default, which is in range.
        assert_eq!(env.parse_in("USACTAR_UNSET", 7usize, 1..=10).unwrap(), 7);
    }
}
