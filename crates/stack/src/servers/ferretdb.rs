//! FerretDB 2 on PostgreSQL with the DocumentDB extension: the MongoDB wire protocol, as Cosmos
//! DB's MongoDB API is in the cloud. DocumentDB answers read-api's pages from its indexes (sorts
//! and filters in the database); FerretDB 1.24, on SQLite or PostgreSQL, read and sorted the whole
//! collection for every page, over 30 s at 1,000,000 documents (bench/RESULTS.md).

use std::path::Path;

use super::{s, spec_of, Context, Scrape, Server};
use crate::install::{Found, Install};
use crate::ports::Ports;
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::{Error, Result};

pub struct FerretDb;

/// The URI clients of the local MongoDB-compatible store use.
pub fn mongo_uri(ports: &Ports) -> String {
    format!(
        "mongodb://{}/?directConnection=true&serverSelectionTimeoutMS=2000",
        ports.addr("mongodb")
    )
}

impl Server for FerretDb {
    fn name(&self) -> &'static str {
        "ferretdb"
    }
    fn ports(&self) -> &[&'static str] {
        &["mongodb", "ferretdb-metrics"]
    }
    fn scrape(&self) -> Option<Scrape> {
        Some(Scrape {
            port: "ferretdb-metrics",
            path: "/debug/metrics",
        })
    }
    fn locate(&self, install: &Install) -> Result<Found> {
        // Not `ferretdb` on PATH: that name is also FerretDB 1.24's, which speaks to neither
        // DocumentDB nor these flags. scripts/setup builds FerretDB 2 here.
        install.find(
            "FerretDB 2 (scripts/setup builds it)",
            &["ferretdb2"],
            &[install.setup_bin("ferretdb2")],
        )
    }
    /// Started once PostgreSQL is ready: FerretDB needs DocumentDB's functions, which
    /// PostgreSQL's probe creates.
    fn needs(&self) -> &[&'static str] {
        &["postgresql"]
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        let dir = cx.dir("ferretdb")?;
        refuse_sqlite_store(&dir.join("data"))?;
        let p = cx.ports;
        Ok(spec_of(self, cx)?
            .args([
                format!("--postgresql-url={}", super::postgresql::url(p)),
                // Anyone on loopback, as the stack's Redis and Kafka's PLAINTEXT tests; FerretDB 2
                // asks for a user by default, FerretDB 1.24 did not.
                "--no-auth".to_string(),
                format!("--state-dir={}", s(&dir)),
                format!("--listen-addr={}", p.addr("mongodb")),
                format!("--debug-addr={}", p.addr("ferretdb-metrics")),
                "--telemetry=disable".to_string(),
                "--log-format=json".to_string(),
                "--log-level=error".to_string(),
            ])
            .address(format!("mongodb://{}", p.addr("mongodb"))))
    }
    fn probe(&self, cx: &Context) -> Probe {
        let ports = cx.ports;
        Probe::Mongo(mongo_uri(ports))
    }
}

/// A state folder from before the store moved to PostgreSQL keeps its logs in SQLite files under
/// `<state>/ferretdb/data/`. Starting on an empty PostgreSQL beside it would pair an empty log
/// with the Kafka offsets and Redis counts of the old one, and every count would disagree; so
/// the stack says so and starts nothing.
fn refuse_sqlite_store(data: &Path) -> Result<()> {
    let sqlite = std::fs::read_dir(data)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().extension().is_some_and(|x| x == "sqlite"));
    if sqlite {
        return Err(Error::OlderState {
            path: s(data),
            what: "FerretDB's SQLite files (the store is FerretDB 2 on PostgreSQL with DocumentDB now)".into(),
        });
    }
    Ok(())
}
