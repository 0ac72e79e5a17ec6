//! FerretDB 1.24 on SQLite: the MongoDB wire protocol, as Cosmos DB's MongoDB API is in the cloud.

use super::{s, spec_of, Context, Scrape, Server};
use crate::install::{Found, Install};
use crate::ports::Ports;
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::Result;

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
        install.find(
            "FerretDB 1.24",
            &["ferretdb"],
            &[install.setup_bin("ferretdb")],
        )
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        let dir = cx.dir("ferretdb")?;
        super::mkdir(&dir.join("data"))?;
        let p = cx.ports;
        Ok(spec_of(self, cx)?
            .args([
                "--handler=sqlite".to_string(),
                format!("--sqlite-url=file:{}/", s(&dir.join("data"))),
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
