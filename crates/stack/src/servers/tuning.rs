//! A benchmark's settings for the servers, over the stack's own: the knobs `bench/` measures
//! without a rebuild (bench/RESULTS.md). Read with the rest of the stack's configuration
//! (`StackConfig::new`); each server checks its own and refuses what would change what the stack
//! is or what it guarantees.

/// `USACTAR_KAFKA_BROKER_CONFIG`
pub const BROKER_CONFIG: &str = "USACTAR_KAFKA_BROKER_CONFIG";
/// `USACTAR_KAFKA_BROKER_JVM`
pub const BROKER_JVM: &str = "USACTAR_KAFKA_BROKER_JVM";
/// `USACTAR_POSTGRESQL_CONFIG`
pub const POSTGRESQL_CONFIG: &str = "USACTAR_POSTGRESQL_CONFIG";

#[derive(Debug, Clone, Default)]
pub struct Tuning {
    /// [`BROKER_CONFIG`]: broker properties over the stack's own, `name=value` pairs separated
    /// by commas (`num.io.threads=2,num.network.threads=1`). The properties the stack's template
    /// sets (listeners, users, storage, replication) are refused: they make the stack what it is.
    pub broker_config: Option<String>,
    /// [`BROKER_JVM`]: JVM options that replace the broker's memory and collector options, e.g.
    /// `-Xms256m -Xmx1g -XX:+UseParallelGC`: only `-X` options (the class path and the metrics
    /// agent stay the stack's).
    pub broker_jvm: Option<String>,
    /// [`POSTGRESQL_CONFIG`]: PostgreSQL settings over the stack's own, `name=value` pairs
    /// separated by commas (`wal_compression=lz4,max_wal_size=1GB`). Refused: where it listens,
    /// its files, the libraries DocumentDB needs, and durability (fsync, synchronous commit,
    /// full page writes).
    pub postgresql_config: Option<String>,
}

impl Tuning {
    /// From the variables named above in `env`; an empty one is unset.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |key| env(key).filter(|v: &String| !v.trim().is_empty());
        Tuning {
            broker_config: get(BROKER_CONFIG),
            broker_jvm: get(BROKER_JVM),
            postgresql_config: get(POSTGRESQL_CONFIG),
        }
    }

    /// Each server's check of its own settings, so that a refused one stops `up` before it
    /// writes anything (the servers' specs check them again as they use them).
    pub fn check(&self) -> crate::Result<()> {
        super::kafka::broker_overrides(self.broker_config.as_deref())?;
        super::kafka::broker_jvm(self.broker_jvm.as_deref())?;
        super::postgresql::settings(self.postgresql_config.as_deref())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_unset() {
        let env = |k: &str| match k {
            BROKER_JVM => Some(" ".to_string()),
            POSTGRESQL_CONFIG => Some("wal_compression=lz4".to_string()),
            _ => None,
        };
        let tuning = Tuning::from_env(env);
        assert!(tuning.broker_jvm.is_none() && tuning.broker_config.is_none());
        assert_eq!(
            tuning.postgresql_config.as_deref(),
            Some("wal_compression=lz4")
        );
    }
}
