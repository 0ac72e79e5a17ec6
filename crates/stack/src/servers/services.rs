//! The pipeline's services, built by cargo: each is a pod (or a container of the consumer pod)
//! with its admin listener (/metrics, /livez, /readyz) on the port `<name>-admin`.

use std::time::Duration;

use super::{spec_of, Context, Kind, Server};
use kafka_access::Credentials;

use crate::install::{Found, Install};
use crate::kafka_users;
use crate::ports::Ports;
use crate::probe::Probe;
use crate::process::{LivenessProbe, ProcessSpec};
use crate::Result;

pub struct Service {
    name: &'static str,
    ports: &'static [&'static str],
    /// Its environment and the address the table shows, given the stack's ports and folder.
    configure: fn(ProcessSpec, &Context) -> ProcessSpec,
}

/// Locally nothing routes by readiness (NGINX has one server per upstream), so the delay after
/// SIGTERM that lets a Kubernetes Service drop the pod first (`USACTAR_SHUTDOWN_DELAY`, 5 s)
/// would only make every stop 5 s late: a pod failure would last its duration plus 5 s, and
/// the experiments' recovery window would start inside the fault.
const NO_SHUTDOWN_DELAY: &str = "0s";

pub static LIVE_STORE: Service = Service {
    name: "live-store",
    ports: &["live-store", "live-store-admin"],
    configure: |spec, cx| {
        let p = cx.ports;
        spec.env("USACTAR_LISTEN", p.addr("live-store"))
            .env("USACTAR_SHUTDOWN_DELAY", NO_SHUTDOWN_DELAY)
            .env("USACTAR_REDIS_URL", redis_url(p))
            .address(format!("grpc://{}", p.addr("live-store")))
    },
};

pub static READ_API: Service = Service {
    name: "read-api",
    ports: &["read-api", "read-api-admin"],
    configure: |spec, cx| {
        let p = cx.ports;
        spec.env("USACTAR_LISTEN", p.addr("read-api"))
            .env("USACTAR_SHUTDOWN_DELAY", NO_SHUTDOWN_DELAY)
            .env("USACTAR_REDIS_URL", redis_url(p))
            .env("USACTAR_MONGO_URI", super::mongo_uri(p))
            // The /warzone page's sources: this Prometheus, and the folder the kit publishes
            // the running experiment in (`stack::local::warzone_dir`).
            .env(
                "USACTAR_WARZONE_PROMETHEUS",
                format!("http://{}", p.addr("prometheus")),
            )
            .env(
                "USACTAR_WARZONE_DIR",
                super::s(&crate::local::warzone_dir(cx.state)),
            )
            .address(format!("http://{}/api", p.addr("read-api")))
    },
};

pub static INGEST: Service = Service {
    name: "ingest",
    ports: &["ingest", "ingest-admin"],
    configure: |spec, cx| {
        let p = cx.ports;
        kafka_client(spec, cx, &cx.kafka_users.ingest, None)
            .env("USACTAR_LISTEN", p.addr("ingest"))
            .env("USACTAR_SHUTDOWN_DELAY", NO_SHUTDOWN_DELAY)
            .address(format!("http://{}/input", p.addr("ingest")))
    },
};

pub static LOGS_WRITER: Service = Service {
    name: "logs-writer",
    ports: &["logs-writer-admin"],
    configure: |spec, cx| {
        let p = cx.ports;
        kafka_client(
            spec,
            cx,
            &cx.kafka_users.logs_writer,
            Some(kafka_users::LOGS_GROUP),
        )
        .env("USACTAR_MONGO_URI", super::mongo_uri(p))
        .address(format!("http://{}/metrics", p.addr("logs-writer-admin")))
    },
};

pub static LIVE_FORWARDER: Service = Service {
    name: "live-forwarder",
    ports: &["live-forwarder-admin"],
    configure: |spec, cx| {
        let p = cx.ports;
        kafka_client(
            spec,
            cx,
            &cx.kafka_users.live_forwarder,
            Some(kafka_users::LIVE_GROUP),
        )
        // Through the link, as across clusters: never straight to live-store.
        .env(
            "USACTAR_LIVE_STORE_URL",
            format!("http://{}", p.addr("live-link")),
        )
        .address(format!("http://{}/metrics", p.addr("live-forwarder-admin")))
    },
};

/// A client of the broker as `user` (a consumer in `group`), started once the broker is ready
/// (its ACLs are granted then: see [`crate::probe::Probe::Kafka`]). The topic and group are set
/// here, from the names the grants use, so a `USACTAR_TOPIC` in `up`'s own environment (which
/// the services inherit) cannot point a service where it has no grant.
fn kafka_client(
    spec: ProcessSpec,
    cx: &Context,
    user: &Credentials,
    group: Option<&str>,
) -> ProcessSpec {
    let spec = spec
        .env("USACTAR_KAFKA_BOOTSTRAP", cx.ports.addr("kafka"))
        .env("USACTAR_KAFKA_USERNAME", &user.username)
        .env("USACTAR_KAFKA_PASSWORD", &user.password)
        .env("USACTAR_TOPIC", kafka_users::TOPIC)
        .after("kafka");
    match group {
        None => spec,
        Some(group) => spec
            .env("USACTAR_GROUP", group)
            .env("USACTAR_DEAD_LETTER_TOPIC", kafka_users::DEAD_LETTER_TOPIC),
    }
}

fn redis_url(p: &Ports) -> String {
    format!("redis://{}", p.addr("redis"))
}

impl Service {
    fn admin(&self, ports: &Ports) -> String {
        ports.addr(&format!("{}-admin", self.name))
    }
}

impl Server for Service {
    fn name(&self) -> &'static str {
        self.name
    }
    fn kind(&self) -> Kind {
        Kind::Service
    }
    fn ports(&self) -> &[&'static str] {
        self.ports
    }
    fn locate(&self, install: &Install) -> Result<Found> {
        install.service(self.name)
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        let spec = (self.configure)(spec_of(self, cx)?, cx)
            .env("USACTAR_ADMIN_LISTEN", self.admin(cx.ports))
            // As the kubelet does with the manifests' probe: a service whose loop is wedged
            // says so on /livez and is restarted.
            .liveness(LivenessProbe::as_in_the_manifests(Probe::Http(format!(
                "http://{}/livez",
                self.admin(cx.ports)
            ))))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stop_timeout(Duration::from_secs(15));
        Ok(spec)
    }
    fn probe(&self, cx: &Context) -> Probe {
        let ports = cx.ports;
        Probe::Http(format!("http://{}/readyz", self.admin(ports)))
    }
}
