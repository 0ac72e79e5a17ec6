//! A schema-driven client the project did not write: Schemathesis (pinned, installed by
//! `scripts/setup` into its own virtualenv) generates requests from a service's OpenAPI document
//! and checks every answer against it (no 5xx, statuses, content types, bodies and headers as
//! documented), with the settings of `crates/testkit/schemathesis.toml`. A missing Schemathesis
//! fails the test.

use std::path::PathBuf;
use std::process::Command;

/// What one run sent.
#[derive(Debug)]
pub struct Run {
    /// Requests sent, from its HAR report.
    pub requests: usize,
}

/// Where `scripts/setup` installs it (`$USACTAR_HOME/schemathesis`, found as the stack finds
/// scripts/setup's servers); `USACTAR_SCHEMATHESIS` overrides.
fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("USACTAR_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    stack::Install::from_env(|k| std::env::var(k).ok())
        .home
        .join("schemathesis/bin/schemathesis")
}

/// The fewest requests a schema-driven test must send (issue 15).
pub const MIN_REQUESTS: usize = 1_000;

/// [`run_all_checks`] off the test's runtime (the service under test runs on it), and fails
/// unless it sent at least [`MIN_REQUESTS`].
pub async fn check(schema_url: &str, max_examples: u32, extra: &[&str]) -> Run {
    let schema_url = schema_url.to_string();
    let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    let run = tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        run_all_checks(&schema_url, max_examples, &extra)
    })
    .await
    .expect("Schemathesis ran");
    println!("{} requests", run.requests);
    assert!(
        run.requests >= MIN_REQUESTS,
        "only {} requests were generated, fewer than {MIN_REQUESTS}",
        run.requests
    );
    run
}

/// Runs every check against the service whose document is at `schema_url`, `max_examples`
/// generated cases per operation and phase, `extra` arguments after those; panics with
/// Schemathesis' own output when it finds a failure or cannot run. Blocking.
pub fn run_all_checks(schema_url: &str, max_examples: u32, extra: &[&str]) -> Run {
    let bin = binary();
    assert!(
        bin.exists(),
        "Schemathesis is missing at {}: run scripts/setup (or set USACTAR_SCHEMATHESIS)",
        bin.display()
    );
    let reports = std::env::temp_dir().join(crate::unique("schemathesis"));
    std::fs::create_dir_all(&reports).expect("a folder for Schemathesis' reports");
    let max = max_examples.to_string();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/schemathesis.toml");
    let out = Command::new(&bin)
        .args(["--config-file", config])
        .args(["run", schema_url, "--checks", "all", "--max-examples", &max])
        .args(["--workers", "1", "--request-timeout", "10", "--no-color"])
        .args(["--report", "har", "--report-dir"])
        .arg(&reports)
        .args(extra)
        // Its own telemetry and update checks would try the network, which is not there.
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // It (and Hypothesis) keep caches of past failures in the working folder: in the
        // temporary one, removed below, never in the clone, where they would be replayed.
        .current_dir(&reports)
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Schemathesis found failures against {schema_url}:\n{stdout}\n{stderr}"
    );
    let requests = std::fs::read_dir(&reports)
        .expect("Schemathesis wrote its report")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("har"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("the HAR report reads");
            // Each request is one entry, and each entry has exactly one "startedDateTime".
            text.matches("\"startedDateTime\"").count()
        })
        .sum();
    println!("{stdout}");
    let _ = std::fs::remove_dir_all(&reports);
    Run { requests }
}
