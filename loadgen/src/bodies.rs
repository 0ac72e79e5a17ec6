//! What loadgen posts: the request bodies, from the data file, one prediction or an array each.

use bytes::Bytes;

use crate::Prediction;

/// The request bodies, sent in turn: each prediction alone, or arrays of `batch` of them taken
/// from the data cycled through (as many arrays as the data has predictions, at least one).
pub fn bodies(data: &[Prediction], batch: usize) -> Vec<Bytes> {
    let one = |p: &Prediction| serde_json::to_vec(p).expect("a prediction serialises");
    if batch <= 1 {
        return data.iter().map(|p| Bytes::from(one(p))).collect();
    }
    let arrays = data.len().div_ceil(batch).max(1);
    (0..arrays)
        .map(|a| {
            let chunk: Vec<&Prediction> = (0..batch)
                .map(|i| &data[(a * batch + i) % data.len()])
                .collect();
            Bytes::from(serde_json::to_vec(&chunk).expect("predictions serialise"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_arrays_of_the_data_cycled_through() {
        let data = crate::parse_data(
            r#"[{"team1":"Qatar","team2":"Ecuador","score":"0-2","phase":1},
                {"team1":"England","team2":"Iran","score":"6-2","phase":1},
                {"team1":"Senegal","team2":"Netherlands","score":"0-2","phase":1}]"#,
        )
        .unwrap();
        let single = bodies(&data, 1);
        assert_eq!(single.len(), 3);
        let v: serde_json::Value = serde_json::from_slice(&single[1]).unwrap();
        assert_eq!(v["team1"], "England");

        let arrays = bodies(&data, 2);
        assert_eq!(arrays.len(), 2);
        let second: Vec<serde_json::Value> = serde_json::from_slice(&arrays[1]).unwrap();
        let teams: Vec<&str> = second
            .iter()
            .map(|p| p["team1"].as_str().unwrap())
            .collect();
        assert_eq!(teams, ["Senegal", "Qatar"], "the data wraps around");
        let big = bodies(&data, 100);
        let all: Vec<serde_json::Value> = serde_json::from_slice(&big[0]).unwrap();
        assert_eq!((big.len(), all.len()), (1, 100));
    }
}
