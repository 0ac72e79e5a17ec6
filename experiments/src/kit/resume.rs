//! `--resume`: what an interrupted batch already holds, read back from its reports, so that
//! only the (experiment, repeat) pairs it lacks are run, at the batch's own load.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::kit::report::{all_reports, Report, RunSettings, Unsupported};

/// A batch to continue (`--resume`): the newest batch among `names`' runs under `out`, its
/// settings, how many repeats it was meant to have, and the runs it already holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    pub batch: String,
    pub repeats: usize,
    /// The settings of each experiment's runs in the batch (fault_s differs between kills and
    /// holds, so it is per experiment).
    pub settings: BTreeMap<String, RunSettings>,
    /// (experiment, repeat) pairs already run; an experiment the target cannot run counts as
    /// run in every repeat.
    pub done: BTreeSet<(String, usize)>,
}

impl Unfinished {
    /// The batch's load: the same for every run of it.
    pub fn load(&self) -> Option<&RunSettings> {
        self.settings.values().next()
    }
}

/// The batch `batch` (default: the newest) of the experiments `names` under `out`, or None
/// when it holds none of their runs.
pub fn unfinished(out: &Path, names: &[&str], batch: Option<&str>) -> Option<Unfinished> {
    let (reports, unsupported) = all_reports(out);
    let wanted = |e: &str| names.contains(&e);
    let reports: Vec<Report> = reports
        .into_iter()
        .filter(|r| wanted(&r.experiment))
        .collect();
    let unsupported: Vec<Unsupported> = unsupported
        .into_iter()
        .filter(|u| wanted(&u.experiment))
        .collect();
    let batch = reports
        .iter()
        .map(|r| &r.batch)
        .chain(unsupported.iter().map(|u| &u.batch))
        .filter(|b| batch.is_none_or(|want| want == b.as_str()))
        .max()?
        .clone();
    let mut found = Unfinished {
        batch: batch.clone(),
        repeats: 0,
        settings: BTreeMap::new(),
        done: BTreeSet::new(),
    };
    for r in reports.into_iter().filter(|r| r.batch == batch) {
        found.repeats = found.repeats.max(r.repeats);
        found.done.insert((r.experiment.clone(), r.repeat));
        found.settings.insert(r.experiment, r.config);
    }
    // An experiment the target cannot run counts as run in every repeat.
    for u in unsupported.into_iter().filter(|u| u.batch == batch) {
        for repeat in 1..=found.repeats.max(1) {
            found.done.insert((u.experiment.clone(), repeat));
        }
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::report::{report_dir, write_unsupported};

    /// A run as the kit writes it (a committed report), renamed into `experiment`, `batch`
    /// and `repeat`.
    fn write_run(out: &Path, experiment: &str, batch: &str, repeat: usize, repeats: usize) {
        let mut r: Report = serde_json::from_str(include_str!(
            "../../../reports/podkill-read-api/20261129T214413Z/report.json"
        ))
        .expect("a committed report parses");
        r.experiment = experiment.into();
        r.batch = batch.into();
        r.run_id = format!("{batch}-{repeat}");
        r.repeat = repeat;
        r.repeats = repeats;
        let dir = report_dir(out, experiment, &r.run_id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("report.json"), serde_json::to_vec(&r).unwrap()).unwrap();
    }

    #[test]
    fn resume_finds_the_newest_batch_and_what_it_holds() {
        let out = tempfile::tempdir().unwrap();
        let out = out.path();
        assert_eq!(unfinished(out, &["podkill-read-api"], None), None);
        write_run(out, "podkill-read-api", "B1", 1, 1);
        write_run(out, "podkill-read-api", "B2", 1, 3);
        write_run(out, "podkill-read-api", "B2", 2, 3);
        write_run(out, "podkill-ingest", "B2", 1, 3);
        write_unsupported(
            out,
            &Unsupported {
                experiment: "kernel".into(),
                run_id: "B2-k".into(),
                batch: "B2".into(),
                target: "local".into(),
                reason: "no BPF here".into(),
            },
        )
        .unwrap();
        let names = [
            "podkill-read-api",
            "podkill-ingest",
            "kernel",
            "broker-kill",
        ];
        let u = unfinished(out, &names, None).expect("a batch");
        assert_eq!(u.batch, "B2");
        assert_eq!(u.repeats, 3);
        let done: Vec<(&str, usize)> = u.done.iter().map(|(e, r)| (e.as_str(), *r)).collect();
        assert_eq!(
            done,
            [
                ("kernel", 1),
                ("kernel", 2),
                ("kernel", 3),
                ("podkill-ingest", 1),
                ("podkill-read-api", 1),
                ("podkill-read-api", 2),
            ]
        );
        assert_eq!(u.load().map(|l| l.rate), Some(1500.0));
        // Another experiment's newer batch does not hide this one's; a batch can be named.
        write_run(out, "broker-kill", "B3", 1, 1);
        assert_eq!(
            unfinished(out, &["podkill-ingest"], None).unwrap().batch,
            "B2"
        );
        assert_eq!(unfinished(out, &names, None).unwrap().batch, "B3");
        assert_eq!(unfinished(out, &names, Some("B2")).unwrap().done.len(), 6);
        assert_eq!(unfinished(out, &names, Some("B9")), None);
    }
}
