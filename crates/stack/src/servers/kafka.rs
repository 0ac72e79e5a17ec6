//! Apache Kafka in KRaft mode: one combined broker and controller, with the Prometheus JMX
//! exporter as a Java agent for the broker's metrics.

use std::path::Path;
use std::time::Duration;

use super::tuning::{BROKER_CONFIG, BROKER_JVM};
use super::{s, spec_of, write, write_private, Context, FirstStart, Scrape, Server};
use crate::install::{find_jar, Found, Install, KafkaInstall};
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::template::fill;
use crate::Result;

/// A fixed cluster id: the state folder holds one single-node cluster, formatted once.
const CLUSTER_ID: &str = "dXNhY3Rhci1sb2NhbC0wMQ";
const JMX_AGENT: &str = "jmx_prometheus_javaagent";
/// A small heap: a laptop runs the whole stack, and one broker with few topics needs little.
const DEFAULT_JVM: &[&str] = &[
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
];
const TEMPLATE: &str = include_str!("../../templates/kafka-server.properties");

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
            .args(jvm_args(cx, &kafka, &dir)?)
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
            .args(jvm_args(cx, &cx.install.kafka()?, &dir)?)
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
    let mut properties = fill(
        "kafka-server.properties",
        TEMPLATE,
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
    let overrides = broker_overrides(cx.tuning.broker_config.as_deref())?;
    if !overrides.is_empty() {
        // Read last, so these win (java.util.Properties keeps the last of a repeated name).
        properties.push_str(&format!("\n# {BROKER_CONFIG}\n"));
        for (name, value) in overrides {
            properties.push_str(&format!("{name}={value}\n"));
        }
    }
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

/// [`super::Tuning::broker_config`]'s pairs, refused with the reason when one is not `name=value` or names a
/// property of the stack's template.
pub(super) fn broker_overrides(value: Option<&str>) -> Result<Vec<(String, String)>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let error = |reason: String| crate::Error::BadSetting {
        key: BROKER_CONFIG,
        value: value.to_string(),
        reason,
    };
    let fixed: Vec<&str> = TEMPLATE
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.trim()))
        .collect();
    let pairs = kafka_access::properties(value).map_err(error)?;
    if let Some((name, _)) = pairs
        .iter()
        .find(|(name, _)| fixed.contains(&name.as_str()))
    {
        return Err(error(format!(
            "{name} is set by the stack (crates/stack/templates/kafka-server.properties); it cannot be overridden"
        )));
    }
    Ok(pairs)
}

/// The broker's memory and collector options: [`super::Tuning::broker_jvm`]'s, else the stack's.
pub(super) fn broker_jvm(value: Option<&str>) -> Result<Vec<String>> {
    let Some(value) = value else {
        return Ok(DEFAULT_JVM.iter().map(|o| o.to_string()).collect());
    };
    let options: Vec<String> = value.split_whitespace().map(String::from).collect();
    if let Some(bad) = options.iter().find(|o| !o.starts_with("-X")) {
        return Err(crate::Error::BadSetting {
            key: BROKER_JVM,
            value: value.to_string(),
            reason: format!(
                "{bad:?} is not a -X option; this replaces only the memory and collector options ({})",
                DEFAULT_JVM.join(" ")
            ),
        });
    }
    Ok(options)
}

fn jvm_args(cx: &Context, kafka: &KafkaInstall, dir: &Path) -> Result<Vec<String>> {
    let mut args = broker_jvm(cx.tuning.broker_jvm.as_deref())?;
    args.extend([
        "-Djava.awt.headless=true".to_string(),
        format!(
            "-Dlog4j2.configurationFile={}",
            s(&dir.join("log4j2.properties"))
        ),
        "-cp".to_string(),
        format!("{}/*", s(kafka.libs())),
    ]);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_overrides_take_tuning_and_refuse_the_stacks_own() {
        assert_eq!(broker_overrides(None).unwrap(), vec![]);
        assert_eq!(
            broker_overrides(Some(" num.io.threads=2, num.network.threads = 1 ,")).unwrap(),
            vec![
                ("num.io.threads".to_string(), "2".to_string()),
                ("num.network.threads".to_string(), "1".to_string())
            ]
        );
        for bad in [
            "listeners=PLAINTEXT://:9092",
            "num.io.threads",
            "Num.IO=1",
            "super.users=User:x",
        ] {
            let err = broker_overrides(Some(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with("USACTAR_KAFKA_BROKER_CONFIG="),
                "{bad}: {err}"
            );
        }
        assert_eq!(broker_jvm(None).unwrap(), DEFAULT_JVM);
        assert_eq!(
            broker_jvm(Some(" -Xmx1g  -XX:+UseParallelGC ")).unwrap(),
            ["-Xmx1g", "-XX:+UseParallelGC"]
        );
        let err = broker_jvm(Some("-Xmx1g -javaagent:x.jar"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"-javaagent:x.jar\" is not a -X option"),
            "{err}"
        );
    }
}
