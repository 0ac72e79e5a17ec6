//! Building the pipeline's services when they are missing: `cargo run -p experiments` builds only
//! the runner, and the services it starts are other packages.

use std::path::{Path, PathBuf};

use crate::install::Install;
use crate::{Error, Result};

/// The checkout this crate was built from, if it is still there.
pub fn workspace_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.join("Cargo.toml").exists().then_some(dir)
}

/// Builds `services` with the same profile into the same folder as this runner, when any is
/// missing and the runner was built from a checkout, so the README's one command just works.
pub async fn build_services_if_missing(install: &Install, services: &[&str]) -> Result<()> {
    let missing: Vec<&str> = services
        .iter()
        .copied()
        .filter(|s| !install.bin_dir.join(s).exists())
        .collect();
    let Some(workspace) = workspace_dir() else {
        return Ok(());
    };
    // bin_dir is <target>/<profile>.
    let Some(target_dir) = install.bin_dir.parent() else {
        return Ok(());
    };
    if missing.is_empty() {
        return Ok(());
    }
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
