//! The local stack: which real servers run, with what configuration, in one state folder.
//!
//! ```text
//! <state>/logs/<name>.log         each process's output
//! <state>/kafka/                  server.properties, log4j2.properties, data/
//! <state>/postgresql/data/        PostgreSQL's database cluster, where FerretDB keeps the logs
//! <state>/ferretdb/               FerretDB's own state (its data is in PostgreSQL)
//! <state>/redis/                  appendonly file
//! <state>/prometheus/             prometheus.yml, targets/services/*.json, data/
//! <state>/nginx/                  nginx.conf, temp folders
//! <state>/stack.json              what runs where, for other processes
//! <state>/warzone/                the running experiment, as the kit publishes it for /warzone
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::control;
use crate::install::{Found, Install};
use crate::kafka_users::KafkaUsers;
use crate::pages::{self, Pages};
use crate::ports::Ports;
use crate::process::ProcessSpec;
use crate::servers::{self, Context, Kind, Server};
use crate::stack_file::StackFile;
use crate::supervisor::Supervisor;
use crate::{Error, Result};

// Where other crates found these before the servers had files of their own.
pub use crate::install::KAFKA_VERSION;
pub use crate::servers::{mongo_uri, LIVE_LINK, SERVERS, SERVICES};
pub use crate::status_table::table;

/// Where the experiment kit publishes the running experiment (`experiment.json`, then the
/// finished `report.md`), which read-api serves to the /warzone page.
pub fn warzone_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("warzone")
}

/// What to start and where.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub state_dir: PathBuf,
    pub ports: Ports,
    pub install: Install,
    /// Start only these (every server and service when `None`).
    pub only: Option<Vec<String>>,
    /// How long `up` waits for every server to be ready.
    pub ready_timeout: Duration,
    /// The web pages' build, which NGINX serves.
    pub pages: PathBuf,
    /// Build the pages (with npm) when they are missing. Tests turn it off.
    pub build_pages: bool,
    /// The broker's and PostgreSQL's settings for a benchmark's run (`USACTAR_KAFKA_BROKER_*`,
    /// `USACTAR_POSTGRESQL_CONFIG`).
    pub tuning: servers::Tuning,
}

impl StackConfig {
    /// Everything from the process environment; see [`Install::from_env`].
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        let env = |k: &str| std::env::var(k).ok();
        StackConfig {
            state_dir: state_dir.into(),
            ports: Ports::default(),
            install: Install::from_env(env),
            only: None,
            ready_timeout: Duration::from_secs(120),
            pages: pages::locate(env),
            build_pages: true,
            tuning: servers::Tuning::from_env(env),
        }
    }

    fn chosen(&self) -> Result<Vec<&'static dyn Server>> {
        match &self.only {
            None => Ok(servers::ALL.to_vec()),
            Some(names) => servers::with_needs(names),
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
    /// The control channel's token (also in `stack.json`).
    pub control_token: String,
    /// Each server's program and how it was found, in start order.
    pub programs: Vec<(&'static str, Found)>,
    /// The web pages, when NGINX runs.
    pub pages: Option<Pages>,
    /// The broker as its administrator (a super user): for the kit and the tests.
    pub kafka: kafka_access::KafkaAccess,
    /// Every user of the broker, the services' too (tests check what each may do).
    pub kafka_users: KafkaUsers,
    shutdown_requested: watch::Receiver<bool>,
    control_task: JoinHandle<()>,
}

impl LocalStack {
    /// Checks installs and ports, writes configuration, starts every server and waits until each
    /// is ready. On any failure, whatever was started is stopped again.
    pub async fn up(config: StackConfig) -> Result<LocalStack> {
        config.tuning.check()?;
        let chosen = config.chosen()?;
        let services: Vec<&str> = chosen
            .iter()
            .filter(|s| s.kind() == Kind::Service)
            .map(|s| s.name())
            .collect();
        crate::cargo_build::build_services_if_missing(&config.install, &services).await?;
        let programs = chosen
            .iter()
            .map(|s| Ok((s.name(), s.locate(&config.install)?)))
            .collect::<Result<Vec<_>>>()?;

        let mut port_names: Vec<&str> = chosen.iter().flat_map(|s| s.ports()).copied().collect();
        port_names.push("control");
        config.ports.check_free(&port_names)?;

        let pages = match chosen.iter().any(|s| s.serves_pages()) {
            true => Some(
                pages::ensure(
                    config.pages.clone(),
                    config.build_pages,
                    &config.install.path,
                )
                .await,
            ),
            false => None,
        };
        let state = config.state()?;
        let kafka_users =
            KafkaUsers::generate().map_err(|e| Error::io(Path::new("/dev/urandom"), e))?;
        let cx = Context {
            ports: &config.ports,
            state: &state,
            install: &config.install,
            chosen: &chosen,
            pages: &config.pages,
            kafka_users: &kafka_users,
            tuning: &config.tuning,
        };
        let specs = chosen
            .iter()
            .map(|s| servers::full_spec(*s, &cx))
            .collect::<Result<Vec<ProcessSpec>>>()?;
        for server in &chosen {
            if let Some(first) = server.first_start(&cx)? {
                run_first_start(first).await?;
            }
        }

        let control_addr = config.ports.addr("control");
        let listener = tokio::net::TcpListener::bind(&control_addr)
            .await
            .map_err(|e| Error::io(Path::new(&control_addr), e))?;

        let supervisor = Supervisor::start(specs, &state.join("logs"))?;
        let (shutdown_tx, shutdown_requested) = watch::channel(false);
        let control_token =
            control::new_token().map_err(|e| Error::io(Path::new("/dev/urandom"), e))?;
        let app = control::router(
            supervisor.clone(),
            shutdown_tx,
            &control_token,
            config.ports.get("control"),
        );
        let control_task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let stack = LocalStack {
            supervisor,
            ports: config.ports.clone(),
            state_dir: state.clone(),
            control_addr,
            control_token,
            programs,
            pages,
            kafka: kafka_access::KafkaAccess::plaintext(config.ports.addr("kafka"))
                .with_credentials(kafka_users.admin.clone()),
            kafka_users: kafka_users.clone(),
            shutdown_requested,
            control_task,
        };
        if let Err(e) = stack.supervisor.wait_ready(config.ready_timeout).await {
            stack.shutdown().await;
            return Err(e);
        }
        StackFile {
            control: stack.control_addr.clone(),
            control_token: stack.control_token.clone(),
            kafka_user: kafka_users.admin.username.clone(),
            kafka_password: kafka_users.admin.password.clone(),
            pid: std::process::id(),
            ports: config
                .ports
                .iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }
        .write(&state)?;
        Ok(stack)
    }

    /// A client of this stack's control channel, with its token.
    pub fn control_client(&self) -> control::ControlClient {
        control::ControlClient::new(&self.control_addr).with_token(&self.control_token)
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
        let _ = std::fs::remove_file(StackFile::path(&self.state_dir));
    }

    /// The table `up` prints: name, address, pid, log file.
    pub fn table(&self) -> String {
        table(&self.supervisor.statuses())
    }

    /// Which program runs each server and how it was found, one line each.
    pub fn programs_found(&self) -> String {
        let width = self
            .programs
            .iter()
            .map(|(n, _)| n.len())
            .max()
            .unwrap_or(0);
        self.programs
            .iter()
            .map(|(name, found)| {
                format!(
                    "{name:<width$}  {} ({})",
                    found.program.display(),
                    found.how
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

async fn run_first_start(first: servers::FirstStart) -> Result<()> {
    let program = first.command.get_program().to_string_lossy().into_owned();
    let output = tokio::process::Command::from(first.command)
        .output()
        .await
        .map_err(|e| Error::Prepare {
            what: format!("starting {program}"),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(Error::Prepare {
            what: first.what,
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    Ok(())
}
