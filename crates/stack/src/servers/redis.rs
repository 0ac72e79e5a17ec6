//! Redis, with an append-only file like a Redis pod with a volume.

use super::{s, spec_of, Context, Server};
use crate::install::{Found, Install};
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::Result;

pub struct Redis;

impl Server for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn ports(&self) -> &[&'static str] {
        &["redis"]
    }
    fn locate(&self, install: &Install) -> Result<Found> {
        install.find(
            "Redis",
            &["redis-server"],
            &["/usr/bin/redis-server".into()],
        )
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        let dir = cx.dir("redis")?;
        let p = cx.ports;
        Ok(spec_of(self, cx)?
            .args([
                "--bind".to_string(),
                "127.0.0.1".to_string(),
                "--port".to_string(),
                p.get("redis").to_string(),
                "--dir".to_string(),
                s(&dir),
                // A restart keeps the live counts, so the experiments can check them after a
                // fault.
                "--appendonly".to_string(),
                "yes".to_string(),
                "--appendfsync".to_string(),
                "everysec".to_string(),
                "--save".to_string(),
                String::new(),
                "--protected-mode".to_string(),
                "no".to_string(),
                // Refuse writes rather than evict keys when a maxmemory is set (issue 15 H2):
                // the live counts and the offsets they are exact by must never vanish.
                "--maxmemory-policy".to_string(),
                "noeviction".to_string(),
            ])
            .address(format!("redis://{}", p.addr("redis"))))
    }
    fn probe(&self, cx: &Context) -> Probe {
        let ports = cx.ports;
        Probe::Redis(format!("redis://{}", ports.addr("redis")))
    }
}
