//! Apache Kafka in KRaft mode: one combined broker and controller, with the Prometheus JMX
//! exporter as a Java agent for the broker's metrics.

use std::path::Path;
use std::time::Duration;

use super::{s, spec_of, write, write_private, Context, FirstStart, Scrape, Server};
use crate::install::{find_jar, Found, Install, KafkaInstall};
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::template::fill;
use crate::Result;

/// A fixed cluster id: the state folder holds one single-node cluster, formatted once.
const CLUSTER_ID: &str = "dXNhY3Rhci1sb2NhbC0wMQ";
const JMX_AGENT: &str = "jmx_prometheus_javaagent";

pub struct Kafka;

impl Server for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }
    fn ports(&self) -> &[&'static str] {
        &["kafka", "kafka-controller", "kafka-jmx"]
    }
    fn scrape(&self) -> Option<Scrape> {
        Some(Scrape {
            port: "kafka-jmx",
            path: "/metrics",
        })
    }
    fn locate(&self, install: &Install) -> Result<Found> {
        let kafka = install.kafka()?;
        let java = install.java()?;
        let agent = match jmx_agent(install, &kafka) {
            Some(_) => "",
            None => "; no jmx_prometheus_javaagent jar, so no broker metrics",
        };
        Ok(Found {
            program: java.program,
            how: format!("{}; java {}{agent}", kafka.describe(), java.how),
        })
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        let dir = write_config(cx)?;
        let kafka = cx.install.kafka()?;
        let p = cx.ports;
        let agent = jmx_agent(cx.install, &kafka).map(|agent| {
            format!(
                "-javaagent:{}={}:{}",
                s(&agent),
                p.addr("kafka-jmx"),
                s(&dir.join("jmx-exporter.yaml"))
            )
        });
        Ok(spec_of(self, cx)?
            .args(jvm_args(&kafka, &dir))
            .args(agent)
            .args(["kafka.Kafka".to_string(), s(&dir.join("server.properties"))])
            .address(p.addr("kafka"))
            .stop_timeout(Duration::from_secs(20)))
    }
    /// Ready once the administrator is answered and every service's ACLs are granted.
    fn probe(&self, cx: &Context) -> Probe {
        Probe::Kafka {
            access: admin_access(cx),
            grants: cx.kafka_users.grants(),
        }
    }
    /// KRaft needs its storage formatted before the first start.
    fn first_start(&self, cx: &Context) -> Result<Option<FirstStart>> {
        let dir = cx.state.join("kafka");
        if dir.join("data/meta.properties").exists() {
            return Ok(None);
        }
        let dir = write_config(cx)?;
        let mut command = std::process::Command::new(cx.install.java()?.program);
        command
            .args(jvm_args(&cx.install.kafka()?, &dir))
            .args(["kafka.tools.StorageTool", "format", "--ignore-formatted"])
            .args(["-t", CLUSTER_ID, "-c"])
            .arg(dir.join("server.properties"));
        Ok(Some(FirstStart {
            what: "formatting Kafka's storage".into(),
            command,
        }))
    }
}

fn write_config(cx: &Context) -> Result<std::path::PathBuf> {
    let dir = cx.dir("kafka")?;
    let data = dir.join("data");
    let users = cx.kafka_users;
    let admin = &users.admin;
    let properties = fill(
        "kafka-server.properties",
        include_str!("../../templates/kafka-server.properties"),
        &[
            ("controller", &cx.ports.addr("kafka-controller")),
            ("kafka", &cx.ports.addr("kafka")),
            ("data", &s(&data)),
            ("users", &kafka_access::jaas_server(admin, &users.all())),
            (
                "controller_users",
                &kafka_access::jaas_server(admin, &[admin]),
            ),
            ("admin", &admin.username),
        ],
    );
    super::mkdir(&data)?;
    write_private(&dir.join("server.properties"), &properties)?;
    // For Kafka's own tools: `kafka-topics.sh --command-config`, `--consumer.config`, ...
    write_private(
        &dir.join("admin.properties"),
        &admin_access(cx).tool_properties(),
    )?;
    write(
        &dir.join("log4j2.properties"),
        include_str!("../../templates/kafka-log4j2.properties"),
    )?;
    write(
        &dir.join("jmx-exporter.yaml"),
        include_str!("../../templates/kafka-jmx-exporter.yaml"),
    )?;
    Ok(dir)
}

/// The administrator at this stack's broker.
pub fn admin_access(cx: &Context) -> kafka_access::KafkaAccess {
    kafka_access::KafkaAccess::plaintext(cx.ports.addr("kafka"))
        .with_credentials(cx.kafka_users.admin.clone())
}

/// The JMX exporter agent: beside Kafka's jars, else among scripts/setup's Maven jars (a
/// distribution does not ship it).
fn jmx_agent(install: &Install, kafka: &KafkaInstall) -> Option<std::path::PathBuf> {
    find_jar(kafka.libs(), JMX_AGENT).or_else(|| find_jar(&install.kafka_libs, JMX_AGENT))
}

fn jvm_args(kafka: &KafkaInstall, dir: &Path) -> Vec<String> {
    vec![
        // A small heap: a laptop runs the whole stack, and one broker with few topics needs little.
        "-Xms256m".to_string(),
        "-Xmx512m".to_string(),
        "-XX:+UseG1GC".to_string(),
        "-XX:MaxGCPauseMillis=20".to_string(),
        "-Djava.awt.headless=true".to_string(),
        format!(
            "-Dlog4j2.configurationFile={}",
            s(&dir.join("log4j2.properties"))
        ),
        "-cp".to_string(),
        format!("{}/*", s(kafka.libs())),
    ]
}
