//! What tests use to start things: a real local stack started once per test binary
//! ([`start_in_background`]), a fresh state folder ([`fresh_dir`]), names no other run uses
//! ([`unique`]), waiting with a deadline ([`eventually`]) and a schema-driven client
//! ([`schemathesis`]).
//!
//! Nothing here is mocked; a stack that does not start panics the test (a missing server fails,
//! it never skips).

pub mod schemathesis;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use stack::{LocalStack, Ports, StackConfig, Supervisor};

/// A stack that runs until the test binary exits.
pub struct TestStack {
    pub ports: Ports,
    /// The control channel's address and token, for [`stack::ControlClient`]
    /// ([`TestStack::control_client`]).
    pub control: String,
    pub control_token: String,
    pub state_dir: PathBuf,
    /// To drive faults in-process.
    pub supervisor: Supervisor,
    /// The broker as its administrator: tests make topics and groups of their own.
    pub kafka: kafka_access::KafkaAccess,
    /// Every user of the broker, the services' too.
    pub kafka_users: stack::KafkaUsers,
}

impl TestStack {
    /// `USACTAR_KAFKA_BOOTSTRAP`, `USACTAR_KAFKA_USERNAME` and `USACTAR_KAFKA_PASSWORD` for a
    /// service started in-process on topics of the test's own, as the broker's administrator.
    pub fn kafka_env(&self) -> Vec<(&str, &str)> {
        let c = self
            .kafka
            .credentials
            .as_ref()
            .expect("the stack's broker asks for a user");
        vec![
            ("USACTAR_KAFKA_BOOTSTRAP", self.kafka.bootstrap.as_str()),
            ("USACTAR_KAFKA_USERNAME", c.username.as_str()),
            ("USACTAR_KAFKA_PASSWORD", c.password.as_str()),
        ]
    }

    /// A client of the stack's control channel, with its token.
    pub fn control_client(&self) -> stack::ControlClient {
        stack::ControlClient::new(&self.control).with_token(&self.control_token)
    }
}

/// `<base>/<name>`, emptied first so runs do not see each other.
pub fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test state folder");
    dir
}

/// Starts `only` (or everything) on ports the kernel picked, in `state_dir`, on a thread of its
/// own whose runtime outlives every test; the processes die with the test binary (the supervisor
/// sets PR_SET_PDEATHSIG on each). Blocks until the stack is ready; panics if it does not start.
/// Call it from a `OnceLock` so the binary's tests share one stack.
pub fn start_in_background(state_dir: PathBuf, only: Option<Vec<String>>) -> TestStack {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime for the stack");
        runtime.block_on(async move {
            let mut config = StackConfig::new(&state_dir);
            config.ports = Ports::ephemeral();
            config.only = only;
            // Tests never run npm; NGINX says the pages are missing if they are.
            config.build_pages = false;
            match LocalStack::up(config).await {
                Ok(stack) => {
                    let _ = tx.send(Ok(TestStack {
                        ports: stack.ports.clone(),
                        control: stack.control_addr.clone(),
                        control_token: stack.control_token.clone(),
                        state_dir: stack.state_dir.clone(),
                        supervisor: stack.supervisor.clone(),
                        kafka: stack.kafka.clone(),
                        kafka_users: stack.kafka_users.clone(),
                    }));
                    std::future::pending::<()>().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        });
    });
    match rx.recv().expect("the stack thread answers") {
        Ok(stack) => stack,
        Err(e) => panic!("the local stack did not start: {e}"),
    }
}

/// Retries `check` every 100 ms until it returns `Ok`; after `timeout`, panics with the last
/// error (a condition that never holds fails the test, it never passes silently).
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    match retry::poll_until(timeout, Duration::from_millis(100), check).await {
        Ok(value) => value,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// A name no other test run uses: for topics, databases and key prefixes.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// Defines `fn NAME() -> &'static TestStack`: the named servers, started once per test binary
/// (the first call starts them; every test of the binary shares them) in a state folder of the
/// binary's own under Cargo's test temp folder. A macro because the folder's name and place come
/// from the calling test crate's `env!`s.
///
/// ```text
/// testkit::shared_stack!(fn shared_stack("kafka", "ferretdb"));
/// ```
#[macro_export]
macro_rules! shared_stack {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($server:expr),+ $(,)?)) => {
        $(#[$meta])*
        $vis fn $name() -> &'static $crate::TestStack {
            static STACK: ::std::sync::OnceLock<$crate::TestStack> = ::std::sync::OnceLock::new();
            STACK.get_or_init(|| {
                let dir = $crate::fresh_dir(
                    ::std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
                    &format!("{}-stack-{}", env!("CARGO_PKG_NAME"), env!("CARGO_CRATE_NAME")),
                );
                $crate::start_in_background(dir, Some(vec![$($server.to_string()),+]))
            })
        }
    };
}
