//! Prints a /warzone query table as JSON lines (`{"name": ..., "promql": ...}`), so it can be
//! run against a real Prometheus from the shell (kind/sandbox/check-warzone-queries.sh does, for
//! the `linkerd` table on the sandbox clusters).
//!
//! `cargo run -p read-api --example warzone_queries -- linkerd`

use warzone::queries::{table, Flavour};

fn main() {
    let flavour: Flavour = match std::env::args().nth(1).unwrap_or("local".into()).parse() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    for q in table(flavour) {
        println!(
            "{}",
            serde_json::json!({"name": q.name, "promql": q.promql})
        );
    }
}
