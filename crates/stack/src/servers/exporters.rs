//! The Prometheus exporters from Debian's packages (or nixpkgs', on PATH): Redis, NGINX, the node
//! and its processes. They differ only in data, so each is one [`Exporter`] value.

use super::{spec_of, Context, Kind, Scrape, Server, STOP_QUICKLY};
use crate::install::{Found, Install};
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::Result;

pub struct Exporter {
    /// Also the name of its port.
    name: &'static str,
    /// Names on PATH: Debian's first, then nixpkgs'.
    programs: &'static [&'static str],
    /// Where Debian's package installs it.
    debian: &'static str,
    args: fn(&Context) -> Vec<String>,
}

pub static REDIS: Exporter = Exporter {
    name: "redis-exporter",
    programs: &["prometheus-redis-exporter", "redis_exporter"],
    debian: "/usr/bin/prometheus-redis-exporter",
    args: |cx| {
        vec![
            format!("-redis.addr=redis://{}", cx.ports.addr("redis")),
            format!("-web.listen-address={}", cx.ports.addr("redis-exporter")),
        ]
    },
};

pub static NGINX: Exporter = Exporter {
    name: "nginx-exporter",
    programs: &["prometheus-nginx-exporter", "nginx-prometheus-exporter"],
    debian: "/usr/bin/prometheus-nginx-exporter",
    args: |cx| {
        vec![
            format!(
                "-nginx.scrape-uri=http://{}/nginx_status",
                cx.ports.addr("nginx-status")
            ),
            format!("-web.listen-address={}", cx.ports.addr("nginx-exporter")),
        ]
    },
};

pub static NODE: Exporter = Exporter {
    name: "node-exporter",
    programs: &["prometheus-node-exporter", "node_exporter"],
    debian: "/usr/bin/prometheus-node-exporter",
    args: |cx| {
        vec![
            format!("--web.listen-address={}", cx.ports.addr("node-exporter")),
            // Debian enables it; without systemd it only logs errors.
            "--no-collector.systemd".to_string(),
        ]
    },
};

pub static PROCESS: Exporter = Exporter {
    name: "process-exporter",
    programs: &["prometheus-process-exporter", "process-exporter"],
    debian: "/usr/bin/prometheus-process-exporter",
    args: |cx| {
        vec![
            format!("-web.listen-address={}", cx.ports.addr("process-exporter")),
            // Group by program name (the kernel's comm, at most 15 characters).
            format!("-procnames={}", watched_process_names(cx).join(",")),
        ]
    },
};

/// The program names of every server but the exporters, whether started this time or not.
fn watched_process_names(cx: &Context) -> Vec<String> {
    let mut names: Vec<String> = super::ALL
        .iter()
        .filter(|s| s.kind() != Kind::Exporter)
        .map(|s| match s.locate(cx.install) {
            Ok(found) => found.program.file_name().map_or_else(
                || s.name().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            // Not built yet (a stack started `--only` some servers): its binary's name.
            Err(_) => s.name().to_string(),
        })
        .map(|name| name.chars().take(15).collect())
        .collect();
    names.dedup();
    names
}

impl Server for Exporter {
    fn name(&self) -> &'static str {
        self.name
    }
    fn kind(&self) -> Kind {
        Kind::Exporter
    }
    fn ports(&self) -> &[&'static str] {
        std::slice::from_ref(&self.name)
    }
    fn scrape(&self) -> Option<Scrape> {
        Some(Scrape {
            port: self.name,
            path: "/metrics",
        })
    }
    fn locate(&self, install: &Install) -> Result<Found> {
        install.find(self.name, self.programs, &[self.debian.into()])
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        Ok(spec_of(self, cx)?
            .args((self.args)(cx))
            .address(format!("http://{}/metrics", cx.ports.addr(self.name)))
            .stop_timeout(STOP_QUICKLY))
    }
    fn probe(&self, cx: &Context) -> Probe {
        let ports = cx.ports;
        Probe::Tcp(ports.addr(self.name))
    }
}
