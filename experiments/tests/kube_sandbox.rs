//! A pod kill of read-api through `--target kube` on the sandbox clusters, end to end: Chaos
//! Mesh kills the pod, the kit measures it from Linkerd's metrics and the broker, and the data
//! invariant holds. Needs the clusters up (`kind/sandbox/up.sh`), so it is not in scripts/test
//! or CI; it fails when they are down. Run it with
//!
//! ```text
//! cargo test -p experiments --features sandbox --test kube_sandbox -- --nocapture
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn podkill_read_api_through_chaos_mesh_is_measured_from_linkerd_and_the_broker() {
    let out = tempfile::tempdir().unwrap();
    let mut script = Command::new(repo().join("kind/sandbox/experiments.sh"));
    // The script builds the release binary; cargo test's own CARGO_* variables would make
    // that build differ from `cargo build`'s and rebuild half the workspace each time.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            script.env_remove(key);
        }
    }
    let status = script
        .args([
            "run",
            "podkill-read-api",
            "--rate",
            "40",
            "--viewers",
            "5",
            "--warmup",
            "5s",
            "--steady",
            "20s",
            "--watch",
            "20s",
            "--recovery",
            "30s",
        ])
        .env("USACTAR_KUBE_OUT", out.path())
        .current_dir(repo())
        .status()
        .expect("kind/sandbox/experiments.sh runs");
    let runs: Vec<PathBuf> = std::fs::read_dir(out.path().join("podkill-read-api"))
        .expect("the run wrote its report folder")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs[0].join("report.json")).unwrap()).unwrap();
    let md = std::fs::read_to_string(runs[0].join("report.md")).unwrap();
    println!("{md}");
    assert!(
        status.success(),
        "the experiment failed: {:?}",
        report["failures"]
    );
    assert_eq!(report["target"], "kube");
    assert!(
        report["fault"]["description"]
            .as_str()
            .unwrap()
            .contains("PodChaos usactar-api/usactar-podkill-read-api-2"),
        "{}",
        report["fault"]["description"]
    );
    // Linkerd saw read-api answer, inbound and from the ingress (outbound).
    for signal in ["read-api", "ingress → read-api (outbound)"] {
        let points = report["series"]["server"][signal].as_array();
        let answered = points
            .into_iter()
            .flatten()
            .filter(|p| p["rps"].as_f64().unwrap_or(0.0) > 0.0)
            .count();
        assert!(answered >= 10, "{signal}: {answered} seconds with requests");
    }
    // Lag came from the broker (kafka-external), for both groups.
    for group in ["logs", "live"] {
        let samples = report["series"]["lag"][group]
            .as_array()
            .map_or(0, Vec::len);
        assert!(samples >= 30, "lag of {group}: {samples} samples");
    }
    let inv = &report["invariant"];
    assert_eq!(inv["lost"], 0, "{inv}");
    assert_eq!(inv["duplicates"], 0, "{inv}");
    assert_eq!(inv["accepted"], inv["mongodb"], "{inv}");
    assert!(runs[0].join("linkerd.svg").exists());
}
