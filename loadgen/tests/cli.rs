//! The `loadgen` binary: exit statuses, messages, reports.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn loadgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .expect("the loadgen binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

const GOOD: &str = r#"{"team1":"Guatemala","team2":"Argentina","score":"2-5","phase":1}"#;

#[test]
fn a_complete_run_exits_0_and_writes_each_report_format() {
    let server = common::start(Duration::ZERO, 0);
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "one.json", GOOD);
    for ext in ["json", "md", "html"] {
        let report = dir.path().join(format!("report.{ext}"));
        let out = loadgen(&[
            "run",
            "-f",
            &data,
            "--concurrence",
            "3",
            "-n",
            "50",
            "--timeout",
            "30s",
            "--url",
            &server.url,
            "--report",
            report.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("completed: all 50 requests sent"),
            "{stdout}"
        );
        for field in [
            "sent",
            "succeeded",
            "failed by status",
            "requests/s",
            "p50 / p90 / p99 / max",
        ] {
            assert!(stdout.contains(field), "{field} missing from\n{stdout}");
        }
        let written = std::fs::read_to_string(&report).unwrap();
        match ext {
            "json" => {
                let s: loadgen::Summary = serde_json::from_str(&written).unwrap();
                assert_eq!(s.succeeded, 50);
            }
            "md" => assert!(written.contains("| second | requests |"), "{written}"),
            _ => assert!(written.starts_with("<!doctype html>") && written.contains("<svg")),
        }
    }
    assert_eq!(server.requests(), 150);
}

#[test]
fn a_timed_out_run_says_so_and_exits_3() {
    let server = common::start(Duration::from_millis(20), 0);
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "one.json", GOOD);
    let report = dir.path().join("r.json");
    let out = loadgen(&[
        "run",
        "-f",
        &data,
        "--concurrence",
        "2",
        "-n",
        "100000",
        "--timeout",
        "1s",
        "--url",
        &server.url,
        "--report",
        report.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("TIMED OUT after 1s"), "{stdout}");
    let s: loadgen::Summary =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(s.outcome, loadgen::Outcome::TimedOut);
}

#[test]
fn an_unreachable_target_exits_1_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "one.json", GOOD);
    let url = format!("http://127.0.0.1:{}/input", common::closed_port());
    let out = loadgen(&[
        "run",
        "-f",
        &data,
        "--concurrence",
        "2",
        "-n",
        "10",
        "--timeout",
        "1m",
        "--url",
        &url,
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot reach") && stderr.contains(&url),
        "{stderr}"
    );
}

#[test]
fn bad_data_files_name_the_entry_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // single object
        ("single.json", r#"{"team1":"Qatar","team2":"Qatar","score":"1-0","phase":1}"#, "the object: field `team2`"),
        ("single-unknown.json", r#"{"team1":"A","team2":"B","score":"1-0","phase":1,"fan":"x"}"#, "field `fan`: unknown field"),
        // array: the third entry is wrong
        ("array.json", &format!(r#"[{GOOD},{GOOD},{{"team1":"A","team2":"B","score":"1:0","phase":1}}]"#), "entry [2]: field `score`"),
        ("array-type.json", &format!(r#"[{GOOD},{{"team1":"A","team2":"B","score":"1-0","phase":"2"}}]"#), "entry [1]: field `phase`"),
        // NDJSON: line 3 is wrong, line 4 is not JSON
        ("nd.ndjson", &format!("{GOOD}\n{GOOD}\n{{\"team1\":\"A\",\"team2\":\"B\",\"score\":\"1-0\",\"phase\":9}}\n"), "line 3: field `phase`"),
        ("nd-syntax.ndjson", &format!("{GOOD}\n{GOOD}\n\n{{\"team1\":\n"), "line 4: not valid JSON"),
        ("nd-missing.ndjson", &format!("{GOOD}\n{{\"team1\":\"A\",\"score\":\"1-0\",\"phase\":1}}\n"), "line 2: field `team2`: is missing"),
        ("empty.json", "", "holds no prediction"),
    ];
    for (name, content, expected) in cases {
        let data = write(dir.path(), name, content);
        // The URL is unreachable on purpose: validation must fail before any connection.
        let out = loadgen(&[
            "run",
            "-f",
            &data,
            "--concurrence",
            "1",
            "-n",
            "1",
            "--timeout",
            "5s",
            "--url",
            "http://127.0.0.1:9/input",
        ]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{name}: expected {expected:?} in {stderr}"
        );
        assert!(
            stderr.contains(name),
            "{name}: the file is not named in {stderr}"
        );
    }
    let out = loadgen(&[
        "run",
        "-f",
        "/nonexistent.json",
        "--concurrence",
        "1",
        "-n",
        "1",
        "--timeout",
        "5s",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("cannot read /nonexistent.json"));
}

#[test]
fn bad_flags_get_clap_errors_and_exit_2() {
    let base = [
        "run",
        "-f",
        "x.json",
        "--concurrence",
        "2",
        "-n",
        "5",
        "--timeout",
        "1m",
    ];
    let with = |replace: &str, by: &str| -> Vec<String> {
        let mut v: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        let i = v.iter().position(|a| a == replace).unwrap();
        v[i + 1] = by.to_string();
        v
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (with("--timeout", "soon"), "--timeout"),
        (with("--concurrence", "0"), "--concurrence"),
        (with("-n", "-3"), "-n"),
        (with("-n", "ten"), "<N>"),
        (
            base.iter()
                .map(|s| s.to_string())
                .filter(|a| a != "-n" && a != "5")
                .collect(),
            "-n <N>",
        ),
        (
            [&base[..], &["--rate", "0"]]
                .concat()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            "--rate",
        ),
        (
            [&base[..], &["--report", "out.txt"]]
                .concat()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ".json, .md or .html",
        ),
        (
            [&base[..], &["--bogus"]]
                .concat()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            "--bogus",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = loadgen(&args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error:"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr}"
        );
    }
}

#[test]
fn data_command_is_reproducible_and_matches_the_committed_set() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let out = loadgen(&[
        "data",
        "--seed",
        "2022",
        "--count",
        "10000",
        "--out",
        a.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let generated = std::fs::read(&a).unwrap();
    let committed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/predictions.json"
    ))
    .unwrap();
    assert!(
        generated == committed,
        "data/predictions.json is not what `loadgen data --seed 2022 --count 10000` gives"
    );
    let parsed = loadgen::parse_data(std::str::from_utf8(&generated).unwrap()).unwrap();
    assert_eq!(parsed.len(), 10_000);
}
