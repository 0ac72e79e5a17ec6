//! What the stack tests share: a real local stack on ephemeral ports, and "eventually".

#![allow(dead_code)] // each test binary uses its own part of this module

use std::future::Future;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use experiments::stack::local::SERVERS;
use experiments::stack::{LocalStack, Ports, StackConfig};

/// A state folder of its own for each test binary, emptied first so runs do not see each other.
pub fn state_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("stack-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test state folder");
    dir
}

/// The whole local stack, started once per test binary on ports the kernel picked, so the tests
/// run beside a stack a developer has up on the defaults. Its processes die with the test binary
/// (the supervisor sets PR_SET_PDEATHSIG on each).
pub struct SharedStack {
    pub ports: Ports,
    pub control: String,
    pub state_dir: PathBuf,
}

pub fn shared_stack() -> &'static SharedStack {
    static STACK: OnceLock<SharedStack> = OnceLock::new();
    // The platform's servers only; the pipeline tests start the services too.
    STACK.get_or_init(|| start_shared(Some(SERVERS)))
}

/// The platform and the pipeline's services, once per test binary.
pub fn shared_pipeline() -> &'static SharedStack {
    static STACK: OnceLock<SharedStack> = OnceLock::new();
    STACK.get_or_init(|| start_shared(None))
}

fn start_shared(only: Option<&'static [&'static str]>) -> SharedStack {
    {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime for the stack");
            runtime.block_on(async move {
                let name = if only.is_some() {
                    "platform"
                } else {
                    "pipeline"
                };
                let dir = state_dir(name);
                let mut config = StackConfig::new(&dir);
                config.ports = Ports::ephemeral();
                config.only = only.map(|names| names.iter().map(|s| s.to_string()).collect());
                match LocalStack::up(config).await {
                    Ok(stack) => {
                        let _ = tx.send(Ok(SharedStack {
                            ports: stack.ports.clone(),
                            control: stack.control_addr.clone(),
                            state_dir: dir,
                        }));
                        // Keep the stack (and this runtime, whose threads started its processes)
                        // alive until the test binary exits.
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
            // A missing server is a failure, never a skip.
            Err(e) => panic!("the local stack did not start: {e}"),
        }
    }
}

/// Retries `check` until it returns `Ok` or `timeout` passes; then fails with the last error.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(e) if Instant::now() >= deadline => {
                panic!("{what}: not true after {timeout:?}; last: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A name no other test run uses: for topics, databases and key prefixes.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}
