//! The harm ranking across experiments and repeats: what makes one experiment worse than
//! another, with every figure as the median and range of its repeats, and no order decided by a
//! difference smaller than the spread.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::Report;

/// The rule, in words, as reports print it.
pub const RULE: &str = "most harmful first: data lost (it cannot be undone), then user-seconds of failed requests plus viewer-seconds of stale /live page (what users lived through), then time to recover (a run that never recovered counts the whole time measured after the fault). Each figure is the median of the repeats with its range; one experiment ranks above another only on the first criterion whose ranges do not overlap; when every range overlaps they share a rank";

/// What the ranking compares, for one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Harm {
    pub experiment: String,
    pub run_id: String,
    pub data_lost: f64,
    /// User-seconds of failed requests plus viewer-seconds of stale page.
    pub user_seconds: f64,
    /// Time to recover, or the time measured after the fault when it never recovered.
    pub recover_s: f64,
    pub recovered: bool,
    pub passed: bool,
}

impl Harm {
    pub fn of(r: &Report) -> Harm {
        let i = &r.impact;
        Harm {
            experiment: r.experiment.clone(),
            run_id: r.run_id.clone(),
            data_lost: (r.invariant.lost + r.invariant.duplicates) as f64,
            user_seconds: round1(
                i.failure_user_seconds.values().sum::<f64>() + i.stale_page_seconds,
            ),
            recover_s: i
                .time_to_recover_s
                .unwrap_or_else(|| round1(i.impact_window.len())),
            recovered: i.time_to_recover_s.is_some(),
            passed: r.passed,
        }
    }

    fn criteria(&self) -> [f64; 3] {
        [self.data_lost, self.user_seconds, self.recover_s]
    }
}

pub(super) fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The median of the repeats and their range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median: round1(median),
            min: v[0],
            max: v[n - 1],
            n,
        })
    }

    /// The ranges meet: the difference of the medians is within the spread.
    pub fn overlaps(&self, other: &Spread) -> bool {
        self.min <= other.max && other.min <= self.max
    }
}

pub const CRITERIA: [&str; 3] = ["data lost", "user-seconds", "time to recover"];

/// One experiment's place in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankRow {
    pub rank: usize,
    pub experiment: String,
    pub repeats: usize,
    pub data_lost: Spread,
    pub user_seconds: Spread,
    pub recover_s: Spread,
    /// Repeats that had not recovered when the load ended.
    pub not_recovered: usize,
    pub passed: usize,
    /// What puts it above the next row: a criterion whose ranges do not overlap, or "tied".
    pub above_next_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Ranking {
    pub rule: String,
    pub rows: Vec<RankRow>,
    /// In how many repeats, taken alone, the ranking's strict orders all held.
    pub order_held_in: usize,
    pub repeats: usize,
}

impl RankRow {
    fn spreads(&self) -> [Spread; 3] {
        [self.data_lost, self.user_seconds, self.recover_s]
    }
}

/// More harmful first: the first criterion whose ranges do not overlap decides; `None` if every
/// range overlaps (a tie).
fn decide(a: &[Spread; 3], b: &[Spread; 3]) -> Option<(Ordering, usize)> {
    (0..3).find_map(|k| (!a[k].overlaps(&b[k])).then(|| (b[k].median.total_cmp(&a[k].median), k)))
}

/// Ranks the repeats of each experiment (`groups`: experiment → its runs, in repeat order).
pub fn rank(groups: &[(String, Vec<Harm>)]) -> Ranking {
    let mut rows: Vec<(RankRow, &Vec<Harm>)> = groups
        .iter()
        .filter(|(_, runs)| !runs.is_empty())
        .map(|(name, runs)| {
            let of = |k: usize| {
                Spread::of(&runs.iter().map(|h| h.criteria()[k]).collect::<Vec<_>>())
                    .expect("at least one run")
            };
            (
                RankRow {
                    rank: 0,
                    experiment: name.clone(),
                    repeats: runs.len(),
                    data_lost: of(0),
                    user_seconds: of(1),
                    recover_s: of(2),
                    not_recovered: runs.iter().filter(|h| !h.recovered).count(),
                    passed: runs.iter().filter(|h| h.passed).count(),
                    above_next_by: None,
                },
                runs,
            )
        })
        .collect();
    // Insertion sort: the overlap rule is not a total order (sort_by may not be given one);
    // ties keep the medians' order so the table still reads from worse to better.
    let key = |r: &RankRow| r.spreads().map(|s| s.median);
    for i in 1..rows.len() {
        let mut j = i;
        while j > 0 {
            let (a, b) = (rows[j - 1].0.spreads(), rows[j].0.spreads());
            let b_first = match decide(&a, &b) {
                Some((o, _)) => o == Ordering::Greater,
                None => {
                    let (ka, kb) = (key(&rows[j - 1].0), key(&rows[j].0));
                    (0..3)
                        .map(|k| kb[k].total_cmp(&ka[k]))
                        .find(|o| o.is_ne())
                        .is_some_and(|o| o == Ordering::Greater)
                }
            };
            if !b_first {
                break;
            }
            rows.swap(j - 1, j);
            j -= 1;
        }
    }
    for i in 0..rows.len() {
        let above =
            rows.get(i + 1).map(
                |next| match decide(&rows[i].0.spreads(), &next.0.spreads()) {
                    Some((_, k)) => CRITERIA[k].to_string(),
                    None => "tied".to_string(),
                },
            );
        rows[i].0.above_next_by = above;
        rows[i].0.rank = match i {
            0 => 1,
            _ if rows[i - 1].0.above_next_by.as_deref() == Some("tied") => rows[i - 1].0.rank,
            _ => i + 1,
        };
    }
    // Whether each repeat alone ordered every strictly ranked pair the same way.
    let repeats = rows.iter().map(|(r, _)| r.repeats).min().unwrap_or(0);
    let held = (0..repeats)
        .filter(|&k| {
            rows.windows(2).all(|w| {
                let (a, b) = (&w[0], &w[1]);
                if a.0.above_next_by.as_deref() == Some("tied") {
                    return true;
                }
                let (ha, hb) = (a.1[k].criteria(), b.1[k].criteria());
                (0..3)
                    .map(|c| hb[c].total_cmp(&ha[c]))
                    .find(|o| o.is_ne())
                    .is_none_or(|o| o == Ordering::Less)
            })
        })
        .count();
    Ranking {
        rule: RULE.to_string(),
        rows: rows.into_iter().map(|(r, _)| r).collect(),
        order_held_in: held,
        repeats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str, lost: f64, user_s: f64, recover: f64) -> Harm {
        Harm {
            experiment: name.into(),
            run_id: "r".into(),
            data_lost: lost,
            user_seconds: user_s,
            recover_s: recover,
            recovered: true,
            passed: true,
        }
    }

    fn group(name: &str, runs: &[(f64, f64, f64)]) -> (String, Vec<Harm>) {
        (
            name.into(),
            runs.iter().map(|(l, u, r)| h(name, *l, *u, *r)).collect(),
        )
    }

    #[test]
    fn spreads_are_median_and_range() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(Spread::of(&[1.0, 4.0]).unwrap().median, 2.5);
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn lost_data_outranks_everything_and_overlapping_ranges_tie() {
        let ranking = rank(&[
            // Loses data in every repeat: first, whatever else.
            group(
                "loses",
                &[(1.0, 0.0, 1.0), (2.0, 0.0, 1.0), (1.0, 0.0, 1.0)],
            ),
            // Higher user-seconds than "mild", but the ranges overlap; recovery decides.
            group(
                "busy",
                &[(0.0, 10.0, 9.0), (0.0, 30.0, 8.0), (0.0, 20.0, 9.5)],
            ),
            group(
                "mild",
                &[(0.0, 12.0, 2.0), (0.0, 5.0, 3.0), (0.0, 9.0, 2.5)],
            ),
            // Same as "mild" within every spread: tied with it.
            group(
                "twin",
                &[(0.0, 6.0, 2.2), (0.0, 11.0, 2.9), (0.0, 8.0, 2.6)],
            ),
        ]);
        let order: Vec<_> = ranking
            .rows
            .iter()
            .map(|r| (r.rank, r.experiment.as_str(), r.above_next_by.clone()))
            .collect();
        assert_eq!(
            order,
            [
                (1, "loses", Some("data lost".to_string())),
                (2, "busy", Some("time to recover".to_string())),
                (3, "mild", Some("tied".to_string())),
                (3, "twin", None),
            ]
        );
        // Repeat 1 alone puts "mild" above "busy" (12 user-seconds against 10).
        assert_eq!((ranking.order_held_in, ranking.repeats), (2, 3));
    }

    #[test]
    fn a_difference_inside_the_spread_never_decides() {
        // Medians 10 vs 12 on user-seconds, but the ranges overlap, and nothing else differs.
        let ranking = rank(&[
            group("a", &[(0.0, 5.0, 1.0), (0.0, 10.0, 1.0), (0.0, 15.0, 1.0)]),
            group("b", &[(0.0, 9.0, 1.0), (0.0, 12.0, 1.0), (0.0, 14.0, 1.0)]),
        ]);
        assert_eq!(ranking.rows[0].rank, ranking.rows[1].rank);
        assert_eq!(
            ranking.rows[0].experiment, "b",
            "the medians' order among the tied"
        );
    }
}
