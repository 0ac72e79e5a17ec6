//! The servers of the stack, one file each behind one trait. Adding a server means adding its
//! file and one line in [`ALL`] (and its ports in `ports.rs`).

mod exporters;
mod ferretdb;
mod kafka;
mod nginx;
mod postgresql;
mod prometheus;
mod redis;
mod services;
mod toxiproxy;
mod tuning;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use crate::install::{Found, Install};
use crate::ports::Ports;
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::{Error, Result};

pub use ferretdb::mongo_uri;
pub use toxiproxy::LIVE_LINK;
pub use tuning::Tuning;

/// Everything the stack can run, in start order: the platform's servers, then the pipeline's
/// services (each a pod, or a container of the consumer pod).
pub static ALL: &[&dyn Server] = &[
    &kafka::Kafka,
    &postgresql::PostgreSql,
    &ferretdb::FerretDb,
    &redis::Redis,
    &toxiproxy::Toxiproxy,
    &nginx::Nginx,
    &prometheus::Prometheus,
    &exporters::REDIS,
    &exporters::NGINX,
    &exporters::NODE,
    &exporters::PROCESS,
    &services::LIVE_STORE,
    &services::READ_API,
    &services::INGEST,
    &services::LOGS_WRITER,
    &services::LIVE_FORWARDER,
];

/// The names of the platform's servers, in start order.
pub static SERVERS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    ALL.iter()
        .filter(|s| s.kind() != Kind::Service)
        .map(|s| s.name())
        .collect()
});

/// The names of the pipeline's services, in start order.
pub static SERVICES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    ALL.iter()
        .filter(|s| s.kind() == Kind::Service)
        .map(|s| s.name())
        .collect()
});

/// The server called `name`.
pub fn find(name: &str) -> Result<&'static dyn Server> {
    ALL.iter()
        .copied()
        .find(|s| s.name() == name)
        .ok_or_else(|| Error::UnknownProcess {
            name: name.to_string(),
            known: ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
        })
}

/// What a server is to the rest of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A server of the platform (Kafka, Redis, NGINX, ...).
    Platform,
    /// A Prometheus exporter: watches another server, is not itself watched.
    Exporter,
    /// One of the pipeline's services, built by cargo.
    Service,
}

/// Where Prometheus scrapes a server: the name of its metrics port and the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scrape {
    pub port: &'static str,
    pub path: &'static str,
}

/// What a server's definition may use while it writes its configuration.
pub struct Context<'a> {
    pub ports: &'a Ports,
    /// The absolute state folder; each server keeps its files in `<state>/<name>/`.
    pub state: &'a Path,
    pub install: &'a Install,
    /// The servers that start this time (Prometheus scrapes them).
    pub chosen: &'a [&'static dyn Server],
    /// The web pages' build, which NGINX serves.
    pub pages: &'a Path,
    /// The broker's users, new at every start.
    pub kafka_users: &'a crate::KafkaUsers,
    /// The servers' tuning for this run (the stack's own settings when empty).
    pub tuning: &'a Tuning,
}

impl Context<'_> {
    /// `<state>/<name>/`, created.
    pub fn dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.state.join(name);
        mkdir(&dir)?;
        Ok(dir)
    }
}

/// Something to run once before a server's first start (Kafka formats its storage).
pub struct FirstStart {
    pub what: String,
    pub command: std::process::Command,
}

/// One server of the stack: how to find it, configure it, start it and know it is ready.
pub trait Server: Sync {
    /// Unique; the name users type in `--only` and `ctl`, and the log file's name.
    fn name(&self) -> &'static str;
    fn kind(&self) -> Kind {
        Kind::Platform
    }
    /// The names (in [`Ports`]) of the ports it listens on; checked free before anything starts.
    fn ports(&self) -> &[&'static str];
    /// Where Prometheus scrapes it, if it has metrics.
    fn scrape(&self) -> Option<Scrape> {
        None
    }
    /// Whether it serves the web pages (then `up` makes sure they are built).
    fn serves_pages(&self) -> bool {
        false
    }
    /// Finds its program; a clear error when it is missing.
    fn locate(&self, install: &Install) -> Result<Found>;
    /// Writes its configuration into the state folder and says how to start it (program, args,
    /// environment, address for the table, stop timeout); ports and probe are added from
    /// [`Server::ports`] and [`Server::probe`].
    fn spec(&self, cx: &Context) -> Result<ProcessSpec>;
    /// How to tell it is really ready.
    fn probe(&self, cx: &Context) -> Probe;
    /// A command to run once before the first start in a state folder, if it needs one.
    fn first_start(&self, _cx: &Context) -> Result<Option<FirstStart>> {
        Ok(None)
    }
    /// The servers it cannot work without (FerretDB keeps its data in PostgreSQL): it starts
    /// once they are ready, and a stack started with `--only` starts them too.
    fn needs(&self) -> &[&'static str] {
        &[]
    }
}

/// `names` and what they need, each once, in start order ([`ALL`]'s).
pub fn with_needs(names: &[String]) -> Result<Vec<&'static dyn Server>> {
    let mut wanted: Vec<&'static str> = Vec::new();
    let mut todo: Vec<&'static dyn Server> =
        names.iter().map(|n| find(n)).collect::<Result<_>>()?;
    while let Some(server) = todo.pop() {
        if wanted.contains(&server.name()) {
            continue;
        }
        wanted.push(server.name());
        for need in server.needs() {
            todo.push(find(need)?);
        }
    }
    Ok(ALL
        .iter()
        .copied()
        .filter(|s| wanted.contains(&s.name()))
        .collect())
}

/// The full process spec of `server`: its own spec with its ports and probe, started after what
/// it [`Server::needs`] is ready.
pub fn full_spec(server: &dyn Server, cx: &Context) -> Result<ProcessSpec> {
    let spec = server
        .spec(cx)?
        .ports(server.ports())
        .probe(server.probe(cx));
    Ok(server
        .needs()
        .iter()
        .fold(spec, |spec, need| spec.after(*need)))
}

/// A spec for `server`'s program as [`Server::locate`] finds it.
fn spec_of(server: &dyn Server, cx: &Context) -> Result<ProcessSpec> {
    Ok(ProcessSpec::new(
        server.name(),
        server.locate(cx.install)?.program,
    ))
}

pub(crate) fn write(path: &Path, contents: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        mkdir(dir)?;
    }
    std::fs::write(path, contents).map_err(|e| Error::io(path, e))
}

/// Like [`write`], for a file that holds passwords: only its owner may read it, also when it
/// existed before with another mode.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        mkdir(dir)?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            f.write_all(contents.as_bytes())
        })
        .map_err(|e| Error::io(path, e))
}

pub(crate) fn mkdir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

const STOP_QUICKLY: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_some_servers_brings_what_they_need_in_start_order() {
        let names = |v: Vec<&'static dyn Server>| v.iter().map(|s| s.name()).collect::<Vec<_>>();
        let chosen = with_needs(&["ferretdb".into(), "kafka".into()]).unwrap();
        assert_eq!(names(chosen), ["kafka", "postgresql", "ferretdb"]);
        let chosen = with_needs(&["redis".into(), "redis".into()]).unwrap();
        assert_eq!(names(chosen), ["redis"]);
        assert!(with_needs(&["mongo".into()]).is_err());
    }

    #[test]
    fn names_are_unique_and_ports_are_known() {
        let mut names: Vec<&str> = ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "two servers share a name");
        let ports = Ports::default();
        for server in ALL {
            for port in server.ports() {
                ports.get(port); // panics on a name missing from ports.rs
            }
            if let Some(scrape) = server.scrape() {
                assert!(server.ports().contains(&scrape.port), "{}", server.name());
            }
        }
        assert_eq!(SERVERS.len() + SERVICES.len(), ALL.len());
        for server in ALL {
            for need in server.needs() {
                let at = |name: &str| ALL.iter().position(|s| s.name() == name);
                let (need_at, at) = (at(need).expect("a known server"), at(server.name()));
                assert!(Some(need_at) < at, "{need} starts before {}", server.name());
            }
        }
        assert_eq!(SERVERS[0], "kafka");
        assert_eq!(SERVICES[0], "live-store");
    }

    /// Writes every platform server's configuration (the programs are installed here: a missing
    /// one fails, as every test that needs a server does) and checks each template was filled.
    #[test]
    fn every_configuration_is_written_in_full() {
        let state = std::env::temp_dir().join(format!("stack-configs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        mkdir(&state).unwrap();
        let install = Install::from_env(|k| std::env::var(k).ok());
        let ports = Ports::default();
        let pages = state.join("frontend/dist");
        let kafka_users = crate::KafkaUsers::generate().unwrap();
        let cx = Context {
            ports: &ports,
            state: &state,
            install: &install,
            chosen: ALL,
            pages: &pages,
            kafka_users: &kafka_users,
            tuning: &Tuning::default(),
        };
        for server in ALL.iter().filter(|s| s.kind() != Kind::Service) {
            let spec = full_spec(*server, &cx).unwrap_or_else(|e| panic!("{}: {e}", server.name()));
            assert_eq!(spec.port_names, server.ports());
            assert!(!spec.address.is_empty(), "{} has an address", server.name());
        }
        for file in [
            "kafka/server.properties",
            "kafka/admin.properties",
            "kafka/log4j2.properties",
            "kafka/jmx-exporter.yaml",
            "nginx/nginx.conf",
            "nginx/usactar-no-pages.html",
            "prometheus/prometheus.yml",
            "toxiproxy/links.json",
        ] {
            let text = std::fs::read_to_string(state.join(file)).unwrap();
            assert!(
                !text.contains("{{"),
                "{file} has a placeholder left:\n{text}"
            );
        }
        let prometheus = std::fs::read_to_string(state.join("prometheus/prometheus.yml")).unwrap();
        for job in [
            "job_name: kafka",
            "job_name: ferretdb",
            "job_name: node-exporter",
            "job_name: services",
        ] {
            assert!(prometheus.contains(job), "{job} missing:\n{prometheus}");
        }
        // The broker's passwords: in its files, which only the owner reads.
        for file in ["kafka/server.properties", "kafka/admin.properties"] {
            use std::os::unix::fs::PermissionsExt;
            let path = state.join(file);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains(&kafka_users.admin.password), "{file}");
        }
        let nginx = std::fs::read_to_string(state.join("nginx/nginx.conf")).unwrap();
        assert!(
            nginx.contains(&format!("root {};", pages.display())),
            "{nginx}"
        );
        let _ = std::fs::remove_dir_all(&state);
    }
}
