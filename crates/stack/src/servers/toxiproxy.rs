//! Toxiproxy: the cross-cluster link between live-forwarder and live-store, where network
//! faults act (this kernel has no netem).

use super::{s, spec_of, write, Context, Scrape, Server};
use crate::install::{Found, Install};
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::Result;

/// The Toxiproxy proxy between live-forwarder and live-store, where `netdelay` acts.
pub const LIVE_LINK: &str = "live-store-link";

pub struct Toxiproxy;

impl Server for Toxiproxy {
    fn name(&self) -> &'static str {
        "toxiproxy"
    }
    fn ports(&self) -> &[&'static str] {
        &["toxiproxy"]
    }
    fn scrape(&self) -> Option<Scrape> {
        Some(Scrape {
            port: "toxiproxy",
            path: "/metrics",
        })
    }
    fn locate(&self, install: &Install) -> Result<Found> {
        install.find(
            "Toxiproxy",
            &["toxiproxy-server"],
            &[install.setup_bin("toxiproxy-server")],
        )
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        let p = cx.ports;
        // The proxies Toxiproxy creates at every start.
        let links = serde_json::json!([{
            "name": LIVE_LINK,
            "listen": p.addr("live-link"),
            "upstream": p.addr("live-store"),
            "enabled": true,
        }]);
        let links_file = cx.dir("toxiproxy")?.join("links.json");
        write(
            &links_file,
            &serde_json::to_string_pretty(&links).expect("links serialize"),
        )?;
        Ok(spec_of(self, cx)?
            .args([
                "-config".to_string(),
                s(&links_file),
                "-host".to_string(),
                "127.0.0.1".to_string(),
                "-port".to_string(),
                p.get("toxiproxy").to_string(),
                "-proxy-metrics".to_string(),
                "-runtime-metrics".to_string(),
            ])
            .address(format!("http://{}", p.addr("toxiproxy"))))
    }
    fn probe(&self, cx: &Context) -> Probe {
        let ports = cx.ports;
        Probe::Http(format!("http://{}/version", ports.addr("toxiproxy")))
    }
}
