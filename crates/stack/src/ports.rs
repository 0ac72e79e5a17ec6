//! The local stack's ports: defaults a user can remember, overridable one by one.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

use crate::Error;

/// Every port the local stack listens on, by name. Names are what users type in
/// `--port NAME=PORT` and `USACTAR_PORT_<NAME>` (upper case, `-` as `_`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports(BTreeMap<&'static str, u16>);

/// Defaults: the well-known port of each server, so that `redis-cli`, `mongosh` and friends work
/// without flags.
pub const DEFAULT_PORTS: &[(&str, u16)] = &[
    ("ingress", 8080),
    ("prometheus", 9090),
    ("kafka", 9092),
    ("kafka-controller", 9093),
    ("mongodb", 27017),
    // FerretDB's PostgreSQL: one above the well-known 5432, which a machine's own PostgreSQL
    // often holds (only FerretDB connects to it).
    ("postgresql", 5433),
    ("redis", 6379),
    ("toxiproxy", 8474),
    ("control", 8475),
    ("ferretdb-metrics", 8088),
    ("nginx-status", 8089),
    ("kafka-jmx", 9404),
    ("redis-exporter", 9121),
    ("nginx-exporter", 9113),
    ("node-exporter", 9100),
    ("process-exporter", 9256),
    // The pipeline's services: their APIs, and each one's admin listener (/metrics, /livez,
    // /readyz).
    ("ingest", 8081),
    ("read-api", 8082),
    ("live-store", 50051),
    // The cross-cluster link: a Toxiproxy proxy in front of live-store, where network faults act.
    ("live-link", 50052),
    ("ingest-admin", 9181),
    ("read-api-admin", 9182),
    ("live-store-admin", 9183),
    ("logs-writer-admin", 9184),
    ("live-forwarder-admin", 9185),
];

impl Default for Ports {
    fn default() -> Self {
        Ports(DEFAULT_PORTS.iter().copied().collect())
    }
}

impl Ports {
    /// The port called `name`. Panics on a name that is not in [`DEFAULT_PORTS`]: that is a bug in
    /// the stack definition, not a user error.
    pub fn get(&self, name: &str) -> u16 {
        *self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("no port named {name:?} in the stack definition"))
    }

    /// `127.0.0.1:<port>` for `name`.
    pub fn addr(&self, name: &str) -> String {
        format!("127.0.0.1:{}", self.get(name))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u16)> + '_ {
        self.0.iter().map(|(k, v)| (*k, *v))
    }

    /// Sets one port; unknown names and port 0 are errors that list what is allowed.
    pub fn set(&mut self, name: &str, port: u16) -> Result<(), Error> {
        let key = DEFAULT_PORTS
            .iter()
            .map(|(k, _)| *k)
            .find(|k| *k == name)
            .ok_or_else(|| Error::UnknownPort {
                name: name.to_string(),
                known: DEFAULT_PORTS
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if port == 0 {
            return Err(Error::InvalidPort(format!(
                "{name}=0: a port must be 1-65535"
            )));
        }
        self.0.insert(key, port);
        Ok(())
    }

    /// Applies `NAME=PORT` overrides, as given on the command line.
    pub fn apply_overrides<'a>(
        &mut self,
        overrides: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Error> {
        // Work on a copy so that a bad item leaves every port as it was.
        let mut next = self.clone();
        for item in overrides {
            let (name, port) = item
                .split_once('=')
                .ok_or_else(|| Error::InvalidPort(format!("{item:?}: expected NAME=PORT")))?;
            let port: u16 = port
                .trim()
                .parse()
                .map_err(|_| Error::InvalidPort(format!("{item:?}: {port:?} is not a port")))?;
            next.set(name.trim(), port)?;
        }
        *self = next;
        Ok(())
    }

    /// Applies `USACTAR_PORT_<NAME>` variables from `env` (a lookup, so tests need not touch the
    /// process environment).
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), Error> {
        let mut next = self.clone();
        for (name, _) in DEFAULT_PORTS {
            let var = format!("USACTAR_PORT_{}", name.to_uppercase().replace('-', "_"));
            if let Some(value) = env(&var) {
                let port: u16 = value
                    .trim()
                    .parse()
                    .map_err(|_| Error::InvalidPort(format!("{var}={value:?} is not a port")))?;
                next.set(name, port)?;
            }
        }
        *self = next;
        Ok(())
    }

    /// Ports picked by the kernel, all distinct: for tests that run beside a stack on the defaults.
    pub fn ephemeral() -> Self {
        // Hold every listener until all are chosen, so no two names get the same port.
        let listeners: Vec<(&'static str, TcpListener)> = DEFAULT_PORTS
            .iter()
            .map(|(name, _)| {
                let l = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
                    .expect("bind an ephemeral port on 127.0.0.1");
                (*name, l)
            })
            .collect();
        Ports(
            listeners
                .iter()
                .map(|(name, l)| (*name, l.local_addr().expect("local addr").port()))
                .collect(),
        )
    }

    /// Fails with the first port that is taken, naming it and how to change it.
    pub fn check_free(&self, names: &[&str]) -> Result<(), Error> {
        for name in names {
            let port = self.get(name);
            if TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_err() {
                return Err(Error::PortTaken {
                    name: name.to_string(),
                    port,
                });
            }
        }
        Ok(())
    }
}

/// True when nothing listens on 127.0.0.1:`port`.
pub fn is_free(port: u16) -> bool {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_env_change_only_named_ports() {
        let mut ports = Ports::default();
        ports.apply_overrides(["kafka=19092"]).unwrap();
        ports
            .apply_env(|k| (k == "USACTAR_PORT_KAFKA_JMX").then(|| "19404".to_string()))
            .unwrap();
        assert_eq!(ports.get("kafka"), 19092);
        assert_eq!(ports.get("kafka-jmx"), 19404);
        assert_eq!(ports.get("redis"), 6379);
    }

    #[test]
    fn bad_overrides_are_clear_errors() {
        let mut ports = Ports::default();
        let err = ports.apply_overrides(["kafak=1"]).unwrap_err().to_string();
        assert!(err.contains("kafak") && err.contains("kafka"), "{err}");
        let err = ports.apply_overrides(["redis"]).unwrap_err().to_string();
        assert!(err.contains("NAME=PORT"), "{err}");
        let err = ports
            .apply_overrides(["redis=70000"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a port"), "{err}");
        assert_eq!(ports, Ports::default(), "a bad override changes nothing");
    }

    #[test]
    fn a_taken_port_is_named() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut ports = Ports::ephemeral();
        ports
            .set("redis", taken.local_addr().unwrap().port())
            .unwrap();
        let err = ports
            .check_free(&["kafka", "redis"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("redis") && err.contains("in use"), "{err}");
    }
}
