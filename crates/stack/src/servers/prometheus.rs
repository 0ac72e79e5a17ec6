//! Prometheus: scrapes every server that has metrics, and the services every second.

use super::{s, spec_of, write, Context, Kind, Server};
use crate::install::{Found, Install};
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::template::fill;
use crate::Result;

pub struct Prometheus;

impl Server for Prometheus {
    fn name(&self) -> &'static str {
        "prometheus"
    }
    fn ports(&self) -> &[&'static str] {
        &["prometheus"]
    }
    fn locate(&self, install: &Install) -> Result<Found> {
        install.find(
            "Prometheus",
            &["prometheus"],
            &["/usr/bin/prometheus".into()],
        )
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        let p = cx.ports;
        let dir = cx.dir("prometheus")?;
        super::mkdir(&dir.join("data"))?;
        let services = dir.join("targets/services");
        super::mkdir(&services)?;

        let job = |job: &str, target: String, path: &str| {
            fill(
                "prometheus-job.yml",
                include_str!("../../templates/prometheus-job.yml"),
                &[("job", job), ("path", path), ("target", &target)],
            )
        };
        let mut jobs = job("prometheus", p.addr("prometheus"), "/metrics");
        for server in cx.chosen {
            if let Some(scrape) = server.scrape() {
                jobs.push_str(&job(server.name(), p.addr(scrape.port), scrape.path));
            }
        }
        let yaml = fill(
            "prometheus.yml",
            include_str!("../../templates/prometheus.yml"),
            &[("jobs", &jobs), ("services_dir", &s(&services))],
        );
        write(&dir.join("prometheus.yml"), &yaml)?;

        let local_services: Vec<serde_json::Value> = cx
            .chosen
            .iter()
            .filter(|s| s.kind() == Kind::Service)
            .map(|service| {
                serde_json::json!({
                    "targets": [p.addr(&format!("{}-admin", service.name()))],
                    "labels": {"service": service.name()},
                })
            })
            .collect();
        write(
            &services.join("local.json"),
            &serde_json::to_string_pretty(&local_services).expect("targets serialize"),
        )?;
        Ok(spec_of(self, cx)?
            .args([
                format!("--config.file={}", s(&dir.join("prometheus.yml"))),
                format!("--storage.tsdb.path={}", s(&dir.join("data"))),
                format!("--web.listen-address={}", p.addr("prometheus")),
                "--web.enable-lifecycle".to_string(),
                "--storage.tsdb.retention.time=7d".to_string(),
                "--log.level=warn".to_string(),
            ])
            .address(format!("http://{}", p.addr("prometheus"))))
    }
    fn probe(&self, cx: &Context) -> Probe {
        let ports = cx.ports;
        Probe::Http(format!("http://{}/-/ready", ports.addr("prometheus")))
    }
}
