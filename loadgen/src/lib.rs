//! loadgen: the Usactar traffic generator.
//!
//! Sends exactly n predictions to the ingress with a fixed number of simultaneous requests, on
//! goose, and measures what users felt: totals, latency percentiles and a per-second series.
//!
//! ```no_run
//! # async fn demo() -> Result<(), loadgen::Error> {
//! use std::time::Duration;
//! let data = loadgen::datagen::generate(2022, 1000);
//! let config = loadgen::RunConfig::new("http://localhost:8080/input", 10, 1000, Duration::from_secs(60));
//! let handle = loadgen::start(config, data).await?;
//! let mut progress = handle.progress();
//! // … read `progress`, or `handle.cancel()` …
//! let summary = handle.wait().await?;
//! println!("{}", serde_json::to_string(&summary).unwrap());
//! # Ok(()) }
//! ```

mod bodies;
mod config;
pub mod datagen;
pub mod report;
mod run;
mod stats;

pub use model::{parse_data, validate, DataError, Prediction};
pub use run::{run, start, Error, Outcome, Progress, RunConfig, RunHandle, Summary};
pub use stats::{Latency, RequestRecord, SecondStats};

/// Reads and validates a data file (one object, a JSON array, or NDJSON).
pub fn load_data(path: &std::path::Path) -> Result<Vec<Prediction>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_data(&text).map_err(|source| LoadError::Data {
        path: path.display().to_string(),
        source,
    })
}

/// Why a data file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Data { path: String, source: DataError },
}
