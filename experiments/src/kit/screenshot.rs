//! The `/warzone` page photographed in the middle of the fault, for the report: `warzone.png`
//! beside `report.md`, or the reason there is none.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chaos::prometheus::unix_seconds;

use crate::kit::report::WarzoneShot;
use crate::kit::warzone_state::Publish;

/// The screenshot of `/warzone` for the report: `warzone.png` in the report folder, or why
/// there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Screenshot {
    /// The file, and what the page showed when it was taken.
    Taken {
        png: PathBuf,
        shown: String,
    },
    Missing(String),
}

/// What the screenshot script prints when it saved the picture.
#[derive(serde::Deserialize)]
struct Shown {
    phase: String,
    late_ms: f64,
}

/// Opens the page now and photographs it `at` after `t0` (the middle of the fault) into
/// `<dir>/warzone.png`, with the front end's playwright-core and Chromium. The browser starts
/// at once because it takes seconds to start on a busy machine; it is the page open during the
/// run that the issue asks for.
pub fn screenshot_at(
    publish: &Publish,
    t0: Instant,
    at: Duration,
) -> tokio::task::JoinHandle<Screenshot> {
    let page = publish.page.clone();
    let folder = publish.dir.clone();
    let at_unix_ms =
        (unix_seconds(SystemTime::now()) + at.as_secs_f64() - t0.elapsed().as_secs_f64()) * 1000.0;
    tokio::spawn(async move {
        let (Some((url, frontend)), Some(folder)) = (page, folder) else {
            return Screenshot::Missing(
                "not taken: this target has no /warzone page to photograph".into(),
            );
        };
        let script = frontend.join("scripts/warzone-screenshot.mjs");
        // Absolute: the script runs in the front end's folder, and a relative state folder
        // (`.state`, the default) would put the picture there instead (it did, in the first
        // `scripts/run all` of the new kit: every report said "failed").
        let out = std::path::absolute(folder.join("warzone.png"))
            .unwrap_or_else(|_| folder.join("warzone.png"));
        let _ = std::fs::remove_file(&out);
        let run = tokio::process::Command::new("node")
            .arg(&script)
            .arg(&url)
            .arg(&out)
            .arg(format!("{at_unix_ms:.0}"))
            .current_dir(&frontend)
            // A group of its own: a Ctrl-C typed in the terminal lets the running experiment
            // finish (cli_batch.rs), and must not kill its browser either.
            .process_group(0)
            .kill_on_drop(true)
            .output();
        let limit = at + Duration::from_secs(60);
        match tokio::time::timeout(limit, run).await {
            Err(_) => Screenshot::Missing(format!(
                "not taken: the browser was not done {} s after the load started",
                limit.as_secs()
            )),
            Ok(Err(e)) => {
                Screenshot::Missing(format!("not taken: running node {}: {e}", script.display()))
            }
            Ok(Ok(o)) if !o.status.success() || !out.exists() => Screenshot::Missing(format!(
                "not taken: {} {}",
                script.display(),
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            )),
            Ok(Ok(o)) => {
                let shown = serde_json::from_slice::<Shown>(&o.stdout)
                    .map(|s| {
                        format!(
                            "the phase the page showed: {}; taken {:.1} s after the middle of the fault window",
                            s.phase,
                            s.late_ms / 1000.0
                        )
                    })
                    .unwrap_or_else(|_| "what the page showed was not reported".into());
                Screenshot::Taken { png: out, shown }
            }
        }
    })
}

/// Puts the screenshot into the report folder `dir` (`warzone.png`) and says what the report
/// shows in its place.
pub fn into_report(dir: &Path, shot: Screenshot) -> std::io::Result<WarzoneShot> {
    Ok(match shot {
        Screenshot::Taken { png, shown } => {
            std::fs::create_dir_all(dir)?;
            std::fs::copy(&png, dir.join("warzone.png"))?;
            WarzoneShot::Taken { shown }
        }
        Screenshot::Missing(why) => WarzoneShot::Missing { why },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_goes_into_the_report_folder_or_the_reason_into_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("run");
        let missing =
            into_report(&folder, Screenshot::Missing("not taken: no browser".into())).unwrap();
        assert_eq!(
            missing,
            WarzoneShot::Missing {
                why: "not taken: no browser".into()
            }
        );
        let png = dir.path().join("shot.png");
        std::fs::write(&png, b"\x89PNG").unwrap();
        let shown = "the phase the page showed: fault".to_string();
        let taken = into_report(&folder, Screenshot::Taken { png, shown }).unwrap();
        assert!(matches!(taken, WarzoneShot::Taken { .. }));
        assert_eq!(
            std::fs::read(folder.join("warzone.png")).unwrap(),
            b"\x89PNG"
        );
    }
}
