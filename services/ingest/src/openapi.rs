//! The OpenAPI document ingest serves at `GET /openapi.json`: the committed one
//! (`openapi.json`), narrowed to this instance's settings, so that a client generating requests
//! from it (Schemathesis in the tests) gets exactly what ingest accepts: with a fixture list, a
//! prediction is one of its matches (teams in the fixture's order, in its phase), which also says
//! that team2 differs from team1; and an array holds at most the configured batch.

use model::Fixtures;
use serde_json::{json, Value};

/// The committed document, as written (no fixture list, the default batch).
pub const COMMITTED: &str = include_str!("../openapi.json");

/// The document for these settings.
pub fn document(fixtures: Option<&Fixtures>, max_batch: usize) -> String {
    let mut doc: Value = serde_json::from_str(COMMITTED).expect("openapi.json is JSON");
    if let Some(fixtures) = fixtures {
        let matches: Vec<Value> = fixtures
            .matches()
            .map(|m| {
                json!({"properties": {
                    "team1": {"enum": [m.team1]},
                    "team2": {"enum": [m.team2]},
                    "phase": {"enum": [m.phase]},
                }})
            })
            .collect();
        let prediction = &mut doc["components"]["schemas"]["Prediction"];
        prediction["oneOf"] = Value::Array(matches);
        prediction["description"] = json!(
            "One of the fixture list's matches (this list: the oneOf), teams in the fixture's \
             order and in its phase; anything else is answered 400."
        );
    }
    let array = &mut doc["paths"]["/input"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["oneOf"][1];
    array["maxItems"] = json!(max_batch);
    array["description"] = json!(format!(
        "At most {max_batch} entries; more is answered 413 (not 400)."
    ));
    serde_json::to_string_pretty(&doc).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_list_and_the_batch_narrow_the_document() {
        let fixtures = Fixtures::qatar_2022();
        let doc: Value = serde_json::from_str(&document(Some(&fixtures), 7)).unwrap();
        let one_of = doc["components"]["schemas"]["Prediction"]["oneOf"]
            .as_array()
            .unwrap();
        assert_eq!(one_of.len(), fixtures.len());
        assert!(one_of
            .iter()
            .all(|m| m["properties"]["team1"]["enum"][0] != m["properties"]["team2"]["enum"][0]));
        let array = &doc["paths"]["/input"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["oneOf"][1];
        assert_eq!(array["maxItems"], 7);

        let free: Value = serde_json::from_str(&document(None, 1000)).unwrap();
        assert!(free["components"]["schemas"]["Prediction"]["oneOf"].is_null());
    }
}
