//! ingest is the pipeline's front door: it validates fans' predictions and puts them on Kafka,
//! answering 202 only once Kafka has them. `POST /input` takes one prediction or a JSON array of
//! them, validates every one, gives each an id, puts it on the `predictions` topic keyed by
//! match, and answers with the ids after Kafka acknowledged every record (acks=all, idempotent
//! producer).
//!
//! - [`configuration`]: `USACTAR_*` settings;
//! - [`decode`]: the body straight into predictions, in bounded memory;
//! - [`kafka`]: the one long-lived producer and the broker health check;
//! - [`routes`]: the HTTP edge and its errors;
//! - [`startup`]: wiring, binding, graceful shutdown.

pub mod configuration;
pub mod decode;
pub mod kafka;
pub mod openapi;
pub mod routes;
pub mod startup;
