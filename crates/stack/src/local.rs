//! The local stack: which real servers run, with what configuration, in one state folder.
//!
//! ```text
//! <state>/logs/<name>.log         each process's output
//! <state>/kafka/                  server.properties, log4j2.properties, data/
//! <state>/ferretdb/data/          SQLite files (one per database)
//! <state>/redis/                  appendonly file
//! <state>/prometheus/             prometheus.yml, targets/services/*.json, data/
//! <state>/nginx/                  nginx.conf, temp folders
//! <state>/stack.json              what runs where, for other processes
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::control;
use crate::ports::Ports;
use crate::probe::Probe;
use crate::process::{ProcessSpec, ProcessStatus};
use crate::supervisor::Supervisor;
use crate::{Error, Result};

/// The Kafka version scripts/setup installs by default; keep in step with scripts/env.sh.
pub const KAFKA_VERSION: &str = "4.1.1";

/// A fixed cluster id: the state folder holds one single-node cluster, formatted once.
const KAFKA_CLUSTER_ID: &str = "dXNhY3Rhci1sb2NhbC0wMQ";

/// The pipeline's services, each a supervised process (a pod, or a container of the consumer
/// pod), in start order.
pub const SERVICES: &[&str] = &[
    "live-store",
    "read-api",
    "ingest",
    "logs-writer",
    "live-forwarder",
];

/// The servers of the local platform, in start order.
pub const SERVERS: &[&str] = &[
    "kafka",
    "ferretdb",
    "redis",
    "toxiproxy",
    "nginx",
    "prometheus",
    "redis-exporter",
    "nginx-exporter",
    "node-exporter",
    "process-exporter",
];

/// Where scripts/setup put the programs that do not come from Debian.
#[derive(Debug, Clone)]
pub struct Install {
    /// Where the services' binaries are (`cargo build` puts them beside `experiments`).
    pub bin_dir: PathBuf,
    pub kafka_libs: PathBuf,
    pub ferretdb: PathBuf,
    pub toxiproxy: PathBuf,
    pub java: PathBuf,
}

impl Install {
    /// From `USACTAR_HOME` (default `~/.cache/usactar`), `USACTAR_KAFKA_LIBS` and `JAVA_HOME`,
    /// read through `env` so tests can hand in a map.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let home = env("USACTAR_HOME").map(PathBuf::from).unwrap_or_else(|| {
            let cache = env("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
                PathBuf::from(env("HOME").unwrap_or_else(|| "/root".into())).join(".cache")
            });
            cache.join("usactar")
        });
        let kafka_libs = env("USACTAR_KAFKA_LIBS")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(format!("kafka-{KAFKA_VERSION}/libs")));
        let java = env("JAVA_HOME")
            .map(|h| PathBuf::from(h).join("bin/java"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("java"));
        // Beside this executable; a test binary lives one level down, in `deps/`.
        let bin_dir = env("USACTAR_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let exe = std::env::current_exe().unwrap_or_default();
                let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
                if dir.ends_with("deps") {
                    dir.parent().map(Path::to_path_buf).unwrap_or(dir)
                } else {
                    dir
                }
            });
        Install {
            bin_dir,
            kafka_libs,
            ferretdb: home.join("bin/ferretdb"),
            toxiproxy: home.join("bin/toxiproxy-server"),
            java,
        }
    }

    fn check(&self, servers: &[&str]) -> Result<()> {
        let mut needed: Vec<(&str, PathBuf)> = Vec::new();
        for server in servers {
            match *server {
                "kafka" => needed.push(("Kafka", self.kafka_libs.join(".complete"))),
                "ferretdb" => needed.push(("FerretDB", self.ferretdb.clone())),
                "toxiproxy" => needed.push(("Toxiproxy", self.toxiproxy.clone())),
                "redis" => needed.push(("Redis", "/usr/bin/redis-server".into())),
                "nginx" => needed.push(("NGINX", "/usr/sbin/nginx".into())),
                "prometheus" => needed.push(("Prometheus", "/usr/bin/prometheus".into())),
                service if SERVICES.contains(&service) => {
                    needed.push((service, self.bin_dir.join(service)));
                }
                exporter => needed.push((exporter, exporter_program(exporter).into())),
            }
        }
        for (what, path) in needed {
            if !path.exists() && SERVICES.contains(&what) {
                return Err(Error::NotBuilt {
                    what: what.to_string(),
                    path: path.display().to_string(),
                });
            }
            if !path.exists() {
                return Err(Error::NotInstalled {
                    what: what.to_string(),
                    path: path.display().to_string(),
                });
            }
        }
        Ok(())
    }
}

fn exporter_program(name: &str) -> &'static str {
    match name {
        "redis-exporter" => "/usr/bin/prometheus-redis-exporter",
        "nginx-exporter" => "/usr/bin/prometheus-nginx-exporter",
        "node-exporter" => "/usr/bin/prometheus-node-exporter",
        "process-exporter" => "/usr/bin/prometheus-process-exporter",
        other => panic!("{other} is not an exporter of the stack"),
    }
}

/// What to start and where.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub state_dir: PathBuf,
    pub ports: Ports,
    pub install: Install,
    /// Start only these (all of [`SERVERS`] and [`SERVICES`] when `None`).
    pub only: Option<Vec<String>>,
    /// How long `up` waits for every server to be ready.
    pub ready_timeout: Duration,
}

impl StackConfig {
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        StackConfig {
            state_dir: state_dir.into(),
            ports: Ports::default(),
            install: Install::from_env(|k| std::env::var(k).ok()),
            only: None,
            ready_timeout: Duration::from_secs(120),
        }
    }

    fn servers(&self) -> Result<Vec<&'static str>> {
        let all = || SERVERS.iter().chain(SERVICES).copied();
        match &self.only {
            None => Ok(all().collect()),
            Some(names) => names
                .iter()
                .map(|n| {
                    all().find(|s| s == n).ok_or_else(|| Error::UnknownProcess {
                        name: n.clone(),
                        known: all().collect::<Vec<_>>().join(", "),
                    })
                })
                .collect(),
        }
    }

    /// Absolute state folder: configuration files name paths that processes open from other
    /// working directories.
    fn state(&self) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.state_dir).map_err(|e| Error::io(&self.state_dir, e))?;
        self.state_dir
            .canonicalize()
            .map_err(|e| Error::io(&self.state_dir, e))
    }
}

/// A running local stack: its supervisor, its control channel and where everything is.
pub struct LocalStack {
    pub supervisor: Supervisor,
    pub ports: Ports,
    pub state_dir: PathBuf,
    pub control_addr: String,
    shutdown_requested: watch::Receiver<bool>,
    control_task: JoinHandle<()>,
}

/// What `<state>/stack.json` holds: enough for another process to find and drive the stack.
#[derive(Debug, Serialize)]
struct StackFile<'a> {
    control: &'a str,
    pid: u32,
    ports: std::collections::BTreeMap<&'static str, u16>,
}

impl LocalStack {
    /// Checks installs and ports, writes configuration, starts every server and waits until each
    /// is ready. On any failure, whatever was started is stopped again.
    pub async fn up(config: StackConfig) -> Result<LocalStack> {
        let servers = config.servers()?;
        build_services_if_missing(&config.install, &servers).await?;
        config.install.check(&servers)?;
        let state = config.state()?;
        let specs = specs(&config, &state, &servers)?;

        let mut port_names: Vec<&str> = specs
            .iter()
            .flat_map(|s| s.port_names.iter().copied())
            .collect();
        port_names.push("control");
        config.ports.check_free(&port_names)?;

        if servers.contains(&"kafka") {
            format_kafka(&config, &state).await?;
        }

        let control_addr = config.ports.addr("control");
        let listener = tokio::net::TcpListener::bind(&control_addr)
            .await
            .map_err(|e| Error::io(Path::new(&control_addr), e))?;

        let supervisor = Supervisor::start(specs, &state.join("logs"))?;
        let (shutdown_tx, shutdown_requested) = watch::channel(false);
        let app = control::router(supervisor.clone(), shutdown_tx);
        let control_task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let stack = LocalStack {
            supervisor,
            ports: config.ports.clone(),
            state_dir: state.clone(),
            control_addr,
            shutdown_requested,
            control_task,
        };
        if let Err(e) = stack.supervisor.wait_ready(config.ready_timeout).await {
            stack.shutdown().await;
            return Err(e);
        }
        let file = StackFile {
            control: &stack.control_addr,
            pid: std::process::id(),
            ports: config.ports.iter().collect(),
        };
        let path = state.join("stack.json");
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&file).expect("stack file serializes"),
        )
        .map_err(|e| Error::io(&path, e))?;
        Ok(stack)
    }

    /// Resolves when a client of the control channel asks the stack to stop.
    pub async fn shutdown_requested(&self) {
        let mut rx = self.shutdown_requested.clone();
        let _ = rx.wait_for(|requested| *requested).await;
    }

    /// Stops every process and the control channel.
    pub async fn shutdown(self) {
        self.supervisor.shutdown().await;
        self.control_task.abort();
        let _ = self.control_task.await;
        let _ = std::fs::remove_file(self.state_dir.join("stack.json"));
    }

    /// The table `up` prints: name, address, pid, log file.
    pub fn table(&self) -> String {
        table(&self.supervisor.statuses())
    }
}

/// Renders statuses as an aligned text table.
pub fn table(statuses: &[ProcessStatus]) -> String {
    let header = ["NAME", "ADDRESS", "PID", "STATE", "RESTARTS", "LOG"];
    let rows: Vec<[String; 6]> = statuses
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                s.address.clone(),
                s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                serde_json::to_value(s.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                s.restarts.to_string(),
                s.log.display().to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(&header.map(String::from));
    for row in &rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

fn write(path: &Path, contents: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::write(path, contents).map_err(|e| Error::io(path, e))
}

fn mkdir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// The process specs of the chosen servers; writes each one's configuration on the way.
fn specs(config: &StackConfig, state: &Path, servers: &[&str]) -> Result<Vec<ProcessSpec>> {
    let p = &config.ports;
    let mut specs = Vec::new();
    for server in servers {
        let spec = match *server {
            "kafka" => kafka(config, state)?,
            "ferretdb" => {
                let dir = state.join("ferretdb");
                mkdir(&dir.join("data"))?;
                ProcessSpec::new("ferretdb", &config.install.ferretdb)
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
                    .address(format!("mongodb://{}", p.addr("mongodb")))
                    .ports(&["mongodb", "ferretdb-metrics"])
                    .probe(Probe::Mongo(mongo_uri(p)))
            }
            "redis" => {
                let dir = state.join("redis");
                mkdir(&dir)?;
                ProcessSpec::new("redis", "/usr/bin/redis-server")
                    .args([
                        "--bind".to_string(),
                        "127.0.0.1".to_string(),
                        "--port".to_string(),
                        p.get("redis").to_string(),
                        "--dir".to_string(),
                        s(&dir),
                        // An append-only file, like a Redis pod with a volume: a restart keeps
                        // the live counts, so the experiments can check them after a fault.
                        "--appendonly".to_string(),
                        "yes".to_string(),
                        "--appendfsync".to_string(),
                        "everysec".to_string(),
                        "--save".to_string(),
                        String::new(),
                        "--protected-mode".to_string(),
                        "no".to_string(),
                    ])
                    .address(format!("redis://{}", p.addr("redis")))
                    .ports(&["redis"])
                    .probe(Probe::Redis(format!("redis://{}", p.addr("redis"))))
            }
            "toxiproxy" => ProcessSpec::new("toxiproxy", &config.install.toxiproxy)
                .args([
                    "-config".to_string(),
                    s(&toxiproxy_links(config, state)?),
                    "-host".to_string(),
                    "127.0.0.1".to_string(),
                    "-port".to_string(),
                    p.get("toxiproxy").to_string(),
                    "-proxy-metrics".to_string(),
                    "-runtime-metrics".to_string(),
                ])
                .address(format!("http://{}", p.addr("toxiproxy")))
                .ports(&["toxiproxy"])
                .probe(Probe::Http(format!(
                    "http://{}/version",
                    p.addr("toxiproxy")
                ))),
            "nginx" => nginx(config, state)?,
            "prometheus" => prometheus(config, state, servers)?,
            "redis-exporter" => exporter(
                "redis-exporter",
                vec![
                    format!("-redis.addr=redis://{}", p.addr("redis")),
                    format!("-web.listen-address={}", p.addr("redis-exporter")),
                ],
                p,
            ),
            "nginx-exporter" => exporter(
                "nginx-exporter",
                vec![
                    format!(
                        "-nginx.scrape-uri=http://{}/nginx_status",
                        p.addr("nginx-status")
                    ),
                    format!("-web.listen-address={}", p.addr("nginx-exporter")),
                ],
                p,
            ),
            "node-exporter" => exporter(
                "node-exporter",
                vec![
                    format!("--web.listen-address={}", p.addr("node-exporter")),
                    // Debian enables it; without systemd it only logs errors.
                    "--no-collector.systemd".to_string(),
                ],
                p,
            ),
            "process-exporter" => exporter(
                "process-exporter",
                vec![
                    format!("-web.listen-address={}", p.addr("process-exporter")),
                    // Group by program name (the kernel's comm, at most 15 characters).
                    format!("-procnames={}", process_names(config).join(",")),
                ],
                p,
            ),
            service if SERVICES.contains(&service) => service_spec(config, service)?,
            other => unreachable!("{other} is checked against SERVERS and SERVICES"),
        };
        specs.push(spec);
    }
    Ok(specs)
}

/// The URI clients of the local MongoDB-compatible store use.
pub fn mongo_uri(ports: &Ports) -> String {
    format!(
        "mongodb://{}/?directConnection=true&serverSelectionTimeoutMS=2000",
        ports.addr("mongodb")
    )
}

fn exporter(name: &'static str, args: Vec<String>, p: &Ports) -> ProcessSpec {
    ProcessSpec::new(name, exporter_program(name))
        .args(args)
        .address(format!("http://{}/metrics", p.addr(name)))
        .ports(&[name])
        .probe(Probe::Tcp(p.addr(name)))
        .stop_timeout(Duration::from_secs(5))
}

fn process_names(config: &StackConfig) -> Vec<String> {
    let programs = [
        config.install.java.clone(),
        config.install.ferretdb.clone(),
        config.install.toxiproxy.clone(),
        "redis-server".into(),
        "nginx".into(),
        "prometheus".into(),
    ];
    let services = SERVICES.iter().map(|s| config.install.bin_dir.join(s));
    let programs: Vec<PathBuf> = programs.into_iter().chain(services).collect();
    programs
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().chars().take(15).collect())
        .collect()
}

fn kafka(config: &StackConfig, state: &Path) -> Result<ProcessSpec> {
    let p = &config.ports;
    let dir = state.join("kafka");
    mkdir(&dir.join("data"))?;
    write(&dir.join("server.properties"), &kafka_properties(p, &dir))?;
    write(&dir.join("log4j2.properties"), KAFKA_LOG4J2)?;
    write(&dir.join("jmx-exporter.yaml"), KAFKA_JMX_EXPORTER)?;
    let agent = find_jar(&config.install.kafka_libs, "jmx_prometheus_javaagent")?;
    Ok(ProcessSpec::new("kafka", &config.install.java)
        .args(kafka_jvm_args(config, &dir))
        .args([
            format!(
                "-javaagent:{}={}:{}",
                s(&agent),
                p.addr("kafka-jmx"),
                s(&dir.join("jmx-exporter.yaml"))
            ),
            "kafka.Kafka".to_string(),
            s(&dir.join("server.properties")),
        ])
        .address(p.addr("kafka"))
        .ports(&["kafka", "kafka-controller", "kafka-jmx"])
        .probe(Probe::Kafka(p.addr("kafka")))
        .stop_timeout(Duration::from_secs(20)))
}

fn kafka_jvm_args(config: &StackConfig, dir: &Path) -> Vec<String> {
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
        format!("{}/*", s(&config.install.kafka_libs)),
    ]
}

fn kafka_properties(p: &Ports, dir: &Path) -> String {
    format!(
        "# Written by `experiments up`: one combined broker and controller in KRaft mode.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{controller}
listeners=PLAINTEXT://{kafka},CONTROLLER://{controller}
advertised.listeners=PLAINTEXT://{kafka}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions=3
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Consumers of a fresh group start at once instead of waiting for more members.
group.initial.rebalance.delay.ms=0
log.retention.hours=24
",
        controller = p.addr("kafka-controller"),
        kafka = p.addr("kafka"),
        data = s(&dir.join("data")),
    )
}

const KAFKA_LOG4J2: &str = "\
# Written by `experiments up`: Kafka logs to stdout, which the runner keeps in logs/kafka.log.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.state-change.name = state.change.logger
logger.state-change.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
";

const KAFKA_JMX_EXPORTER: &str = "\
# Written by `experiments up`: the broker's golden signals, not every MBean.
lowercaseOutputName: true
lowercaseOutputLabelNames: true
includeObjectNames:
  - \"kafka.server:type=BrokerTopicMetrics,*\"
  - \"kafka.server:type=ReplicaManager,*\"
  - \"kafka.server:type=KafkaRequestHandlerPool,*\"
  - \"kafka.network:type=RequestMetrics,name=RequestsPerSec,*\"
  - \"kafka.network:type=RequestMetrics,name=TotalTimeMs,*\"
  - \"kafka.controller:type=KafkaController,*\"
  - \"java.lang:type=Memory\"
  - \"java.lang:type=GarbageCollector,*\"
";

fn find_jar(dir: &Path, prefix: &str) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".jar"))
        })
        .ok_or_else(|| Error::NotInstalled {
            what: prefix.to_string(),
            path: s(dir),
        })
}

/// Formats Kafka's storage once per state folder (KRaft needs it before the first start).
async fn format_kafka(config: &StackConfig, state: &Path) -> Result<()> {
    let dir = state.join("kafka");
    if dir.join("data/meta.properties").exists() {
        return Ok(());
    }
    let output = tokio::process::Command::new(&config.install.java)
        .args(kafka_jvm_args(config, &dir))
        .args([
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "-t",
            KAFKA_CLUSTER_ID,
            "-c",
        ])
        .arg(dir.join("server.properties"))
        .output()
        .await
        .map_err(|e| Error::Prepare {
            what: format!("starting {}", config.install.java.display()),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(Error::Prepare {
            what: "formatting Kafka's storage".into(),
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    Ok(())
}

fn nginx(config: &StackConfig, state: &Path) -> Result<ProcessSpec> {
    let p = &config.ports;
    let dir = state.join("nginx");
    for temp in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        mkdir(&dir.join("tmp").join(temp))?;
    }
    // The web pages' build (`npm run build` in frontend/); USACTAR_FRONTEND_DIST moves it.
    let frontend = std::env::var("USACTAR_FRONTEND_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|d| d.join("frontend/dist"))
                .unwrap_or_else(|_| PathBuf::from("frontend/dist"))
        });
    // Running as root, nginx would hand its workers to `nobody`, who cannot use the state
    // folder's temp directories; keep them as the user that runs the stack.
    let user = if nix::unistd::Uid::effective().is_root() {
        "user root;\n"
    } else {
        ""
    };
    let conf = format!(
        "# Written by `experiments up`: the local ingress, standing where the NGINX Ingress
# Controller stands on a cluster.
{user}# One process, no master: a worker cannot outlive the runner, and one core is plenty here.
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  # Ingest enforces its own limit (1 MiB) with a JSON error; NGINX lets a little more through.
  client_max_body_size 2m;
  client_body_temp_path {dir}/tmp/body;
  proxy_temp_path {dir}/tmp/proxy;
  fastcgi_temp_path {dir}/tmp/fastcgi;
  uwsgi_temp_path {dir}/tmp/uwsgi;
  scgi_temp_path {dir}/tmp/scgi;
  include /etc/nginx/mime.types;

  upstream ingest {{ server {ingest}; keepalive 64; }}
  upstream read_api {{ server {read_api}; keepalive 32; }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}

  server {{
    listen {ingress};
    location = /healthz {{ return 200 \"ok\\n\"; }}
    location /input {{
      proxy_pass http://ingest;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }}
    location /api/ {{
      proxy_pass http://read_api;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
    }}
    location / {{
      root {frontend};
      try_files $uri /index.html =404;
    }}
  }}
  server {{
    listen {status};
    location /nginx_status {{ stub_status; }}
  }}
}}
",
        dir = s(&dir),
        ingest = p.addr("ingest"),
        read_api = p.addr("read-api"),
        ingress = p.addr("ingress"),
        status = p.addr("nginx-status"),
        frontend = s(&frontend),
    );
    write(&dir.join("nginx.conf"), &conf)?;
    Ok(ProcessSpec::new("nginx", "/usr/sbin/nginx")
        .args([
            "-p".to_string(),
            s(&dir),
            "-c".to_string(),
            s(&dir.join("nginx.conf")),
            "-e".to_string(),
            "stderr".to_string(),
            "-g".to_string(),
            "daemon off;".to_string(),
        ])
        .address(format!("http://{}", p.addr("ingress")))
        .ports(&["ingress", "nginx-status"])
        .probe(Probe::Http(format!("http://{}/healthz", p.addr("ingress"))))
        .stop_timeout(Duration::from_secs(5)))
}

fn prometheus(config: &StackConfig, state: &Path, servers: &[&str]) -> Result<ProcessSpec> {
    let p = &config.ports;
    let dir = state.join("prometheus");
    mkdir(&dir.join("data"))?;
    let services = dir.join("targets/services");
    mkdir(&services)?;
    let mut jobs = vec![("prometheus", p.addr("prometheus"), "/metrics")];
    for server in servers {
        let (port, path) = match *server {
            "kafka" => ("kafka-jmx", "/metrics"),
            "ferretdb" => ("ferretdb-metrics", "/debug/metrics"),
            "toxiproxy" => ("toxiproxy", "/metrics"),
            "redis-exporter" => ("redis-exporter", "/metrics"),
            "nginx-exporter" => ("nginx-exporter", "/metrics"),
            "node-exporter" => ("node-exporter", "/metrics"),
            "process-exporter" => ("process-exporter", "/metrics"),
            _ => continue,
        };
        jobs.push((server, p.addr(port), path));
    }
    let mut yaml = String::from(
        "# Written by `experiments up`.
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
",
    );
    for (job, target, path) in jobs {
        yaml.push_str(&format!(
            "  - job_name: {job}\n    metrics_path: {path}\n    static_configs:\n      - targets: ['{target}']\n"
        ));
    }
    // The services' own golden metrics, per second. Each service adds a file here:
    // [{\"targets\": [\"127.0.0.1:PORT\"], \"labels\": {\"service\": \"ingest\"}}]
    yaml.push_str(&format!(
        "  - job_name: services\n    scrape_interval: 1s\n    file_sd_configs:\n      - files: ['{}/*.json']\n        refresh_interval: 2s\n",
        s(&services)
    ));
    write(&dir.join("prometheus.yml"), &yaml)?;
    let local_services: Vec<serde_json::Value> = servers
        .iter()
        .filter(|s| SERVICES.contains(s))
        .map(|service| {
            serde_json::json!({
                "targets": [p.addr(&format!("{service}-admin"))],
                "labels": {"service": service},
            })
        })
        .collect();
    write(
        &services.join("local.json"),
        &serde_json::to_string_pretty(&local_services).expect("targets serialize"),
    )?;
    Ok(ProcessSpec::new("prometheus", "/usr/bin/prometheus")
        .args([
            format!("--config.file={}", s(&dir.join("prometheus.yml"))),
            format!("--storage.tsdb.path={}", s(&dir.join("data"))),
            format!("--web.listen-address={}", p.addr("prometheus")),
            "--web.enable-lifecycle".to_string(),
            "--storage.tsdb.retention.time=7d".to_string(),
            "--log.level=warn".to_string(),
        ])
        .address(format!("http://{}", p.addr("prometheus")))
        .ports(&["prometheus"])
        .probe(Probe::Http(format!(
            "http://{}/-/ready",
            p.addr("prometheus")
        )))
        .stop_timeout(Duration::from_secs(10)))
}

/// The cross-cluster link: Toxiproxy proxies that Toxiproxy creates at every start.
fn toxiproxy_links(config: &StackConfig, state: &Path) -> Result<PathBuf> {
    let p = &config.ports;
    let links = serde_json::json!([{
        "name": LIVE_LINK,
        "listen": p.addr("live-link"),
        "upstream": p.addr("live-store"),
        "enabled": true,
    }]);
    let path = state.join("toxiproxy/links.json");
    write(
        &path,
        &serde_json::to_string_pretty(&links).expect("links serialize"),
    )?;
    Ok(path)
}

/// The Toxiproxy proxy between live-forwarder and live-store, where `netdelay` acts.
pub const LIVE_LINK: &str = "live-store-link";

/// A service's process. Its admin listener is the port named `<service>-admin`.
fn service_spec(config: &StackConfig, service: &str) -> Result<ProcessSpec> {
    let p = &config.ports;
    let admin = p.addr(&format!("{service}-admin"));
    let program = config.install.bin_dir.join(service);
    let common = |spec: ProcessSpec| {
        spec.env("USACTAR_ADMIN_LISTEN", &admin)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .probe(Probe::Http(format!("http://{admin}/readyz")))
            .stop_timeout(Duration::from_secs(15))
    };
    let kafka = p.addr("kafka");
    let redis = format!("redis://{}", p.addr("redis"));
    let spec = match service {
        "ingest" => ProcessSpec::new("ingest", program)
            .env("USACTAR_LISTEN", p.addr("ingest"))
            .env("USACTAR_KAFKA_BOOTSTRAP", &kafka)
            .address(format!("http://{}/input", p.addr("ingest")))
            .ports(&["ingest", "ingest-admin"]),
        "read-api" => ProcessSpec::new("read-api", program)
            .env("USACTAR_LISTEN", p.addr("read-api"))
            .env("USACTAR_REDIS_URL", &redis)
            .env("USACTAR_MONGO_URI", mongo_uri(p))
            .address(format!("http://{}/api", p.addr("read-api")))
            .ports(&["read-api", "read-api-admin"]),
        "live-store" => ProcessSpec::new("live-store", program)
            .env("USACTAR_LISTEN", p.addr("live-store"))
            .env("USACTAR_REDIS_URL", &redis)
            .address(format!("grpc://{}", p.addr("live-store")))
            .ports(&["live-store", "live-store-admin"]),
        "logs-writer" => ProcessSpec::new("logs-writer", program)
            .env("USACTAR_KAFKA_BOOTSTRAP", &kafka)
            .env("USACTAR_MONGO_URI", mongo_uri(p))
            .address(format!("http://{admin}/metrics"))
            .ports(&["logs-writer-admin"]),
        "live-forwarder" => ProcessSpec::new("live-forwarder", program)
            .env("USACTAR_KAFKA_BOOTSTRAP", &kafka)
            // Through the link, as across clusters: never straight to live-store.
            .env(
                "USACTAR_LIVE_STORE_URL",
                format!("http://{}", p.addr("live-link")),
            )
            .address(format!("http://{admin}/metrics"))
            .ports(&["live-forwarder-admin"]),
        other => unreachable!("{other} is not a service"),
    };
    Ok(common(spec))
}

/// `cargo run -p experiments` builds only the runner; the services it starts are other
/// packages. When their binaries are missing and this runner was built from a checkout, build
/// them with the same profile into the same folder, so the README's one command just works.
async fn build_services_if_missing(install: &Install, servers: &[&str]) -> Result<()> {
    let missing: Vec<&str> = servers
        .iter()
        .copied()
        .filter(|s| SERVICES.contains(s) && !install.bin_dir.join(s).exists())
        .collect();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if missing.is_empty() || !workspace.join("Cargo.toml").exists() {
        return Ok(());
    }
    // bin_dir is <target>/<profile>.
    let Some(target_dir) = install.bin_dir.parent() else {
        return Ok(());
    };
    eprintln!(
        "building the services first ({}); this takes a few minutes once ...",
        missing.join(", ")
    );
    let mut cargo =
        tokio::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", target_dir)
        .args(["build", "--workspace", "--bins"]);
    if !cfg!(debug_assertions) {
        cargo.arg("--release");
    }
    let status = cargo.status().await.map_err(|e| Error::Prepare {
        what: "running cargo to build the services".into(),
        detail: e.to_string(),
    })?;
    if !status.success() {
        return Err(Error::Prepare {
            what: "building the services".into(),
            detail: format!("cargo build exited with {status}"),
        });
    }
    Ok(())
}
