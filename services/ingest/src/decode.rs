//! Decoding a request body straight into predictions, in one pass and in bounded memory.
//!
//! A generic JSON value costs 16-24 times its text for small items (`[0,0,…]`), so the body is
//! never parsed into one. A serde visitor walks the top-level array, builds each entry as it
//! goes, and stops at entry `max_batch + 1` (413) without reading further. Values that cannot be
//! a prediction (nested arrays and objects, unknown fields) are skipped with `IgnoredAny`, which
//! allocates nothing. What is kept per entry is at most its four known fields, so the whole
//! decode holds at most about the body's size again.
//!
//! The messages stay those of [`model::from_value`]: each entry is rebuilt as a small JSON
//! object of only its known fields (plus the first unknown one, which is the error) and handed to
//! it, so ingest and loadgen keep one set of rules and words.
//!
//! Order of errors: invalid JSON before the point where decoding stopped is 400; more than
//! `max_batch` entries is 413 (even when an earlier entry is invalid); otherwise the first
//! invalid entry is 400 with its index.

use std::cell::Cell;
use std::fmt;

use model::{from_value, FieldError, Prediction};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a body is not a list of valid predictions.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid JSON: {0}")]
    Syntax(String),
    #[error("the body must be a prediction object or an array of them")]
    NotPredictions,
    #[error("the array holds no prediction")]
    Empty,
    #[error("at most {max} predictions per request, got more")]
    TooMany { max: usize },
    /// `index` is the entry's position for an array, `None` for a single object.
    #[error("{error}")]
    Invalid {
        index: Option<usize>,
        error: FieldError,
    },
}

/// Decodes `body`: one prediction object, or an array of 1 to `max_batch` of them.
pub fn decode(body: &[u8], max_batch: usize) -> Result<Vec<Prediction>, DecodeError> {
    let too_many = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let top = TopSeed {
        max_batch,
        too_many: &too_many,
    }
    .deserialize(&mut de)
    .and_then(|top| de.end().map(|()| top));
    let top = match top {
        Ok(top) => top,
        Err(_) if too_many.get() => return Err(DecodeError::TooMany { max: max_batch }),
        Err(e) => return Err(DecodeError::Syntax(e.to_string())),
    };
    match top {
        Top::One(entry) => entry
            .map(|p| vec![p])
            .map_err(|error| DecodeError::Invalid { index: None, error }),
        Top::Many { count: 0, .. } => Err(DecodeError::Empty),
        Top::Many {
            first_error: Some((index, error)),
            ..
        } => Err(DecodeError::Invalid {
            index: Some(index),
            error,
        }),
        Top::Many { predictions, .. } => Ok(predictions),
        Top::Other => Err(DecodeError::NotPredictions),
    }
}

enum Top {
    One(Result<Prediction, FieldError>),
    Many {
        predictions: Vec<Prediction>,
        first_error: Option<(usize, FieldError)>,
        count: usize,
    },
    Other,
}

struct TopSeed<'a> {
    max_batch: usize,
    /// Set when decoding stopped at entry `max_batch + 1`; the error serde returns then is ours.
    too_many: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Top;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = Top;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a prediction object or an array of them")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Top, A::Error> {
        Ok(Top::One(entry_from_map(map)?))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top, A::Error> {
        // Never more than the limit, whatever the array's length claims to be.
        let mut predictions = Vec::with_capacity(self.max_batch.min(64));
        let mut first_error = None;
        let mut count = 0;
        loop {
            if count == self.max_batch {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    self.too_many.set(true);
                    return Err(de::Error::custom("too many predictions"));
                }
                break;
            }
            if first_error.is_some() {
                // The answer is already a 400 (unless the array is too long): skip, keep nothing.
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
            } else {
                match seq.next_element_seed(EntrySeed)? {
                    None => break,
                    Some(Ok(p)) => predictions.push(p),
                    Some(Err(e)) => {
                        first_error = Some((count, e));
                        predictions = Vec::new();
                    }
                }
            }
            count += 1;
        }
        Ok(Top::Many {
            predictions,
            first_error,
            count,
        })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Top, E> {
        Ok(Top::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
        Ok(Top::Other)
    }
}

/// One array entry: a prediction, or why it is not one (never a serde error, so decoding goes
/// on to count the entries).
struct EntrySeed;

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = Result<Prediction, FieldError>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Result<Prediction, FieldError>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a prediction object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        entry_from_map(map)
    }

    // Anything else is "must be a JSON object, got <kind>": only the kind matters.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(from_value(&Value::Array(Vec::new())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(from_value(&Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(from_value(&Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(from_value(&Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(from_value(&Value::from(v)))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(from_value(&Value::String(String::new())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(from_value(&Value::Null))
    }
}

const FIELDS: [&str; 4] = ["team1", "team2", "score", "phase"];

/// Keeps the known fields (scalars as they are, containers as empty ones of their kind) and the
/// first unknown field, then lets [`model::from_value`] judge.
fn entry_from_map<'de, A: MapAccess<'de>>(
    mut map: A,
) -> Result<Result<Prediction, FieldError>, A::Error> {
    let mut kept = Map::new();
    let mut unknown = false;
    while let Some(key) = map.next_key::<String>()? {
        if FIELDS.contains(&key.as_str()) {
            let value = map.next_value_seed(Scalar)?;
            kept.insert(key, value);
        } else {
            map.next_value::<IgnoredAny>()?;
            if !unknown {
                unknown = true;
                kept.insert(key, Value::Null);
            }
        }
    }
    Ok(from_value(&Value::Object(kept)))
}

/// A field's value: scalars kept, arrays and objects skipped and kept as empty ones.
struct Scalar;

impl<'de> DeserializeSeed<'de> for Scalar {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scalar {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array(Vec::new()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Object(Map::new()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"team1":"Qatar","team2":"Ecuador","score":"0-2","phase":1}"#;

    fn field(body: &str) -> (Option<usize>, String) {
        match decode(body.as_bytes(), 3) {
            Err(DecodeError::Invalid { index, error }) => (index, error.field),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn one_or_many() {
        assert_eq!(decode(OK.as_bytes(), 3).unwrap().len(), 1);
        assert_eq!(
            decode(format!("[{OK},{OK}]").as_bytes(), 3).unwrap().len(),
            2
        );
        assert_eq!(
            decode(format!(" [{OK},{OK},{OK}] \n").as_bytes(), 3)
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn limits_and_shapes() {
        assert!(matches!(
            decode(format!("[{OK},{OK},{OK},{OK}]").as_bytes(), 3),
            Err(DecodeError::TooMany { max: 3 })
        ));
        // Stops at entry 4: what follows is never read, not even checked.
        assert!(matches!(
            decode(b"[0,0,0,0,garbage", 3),
            Err(DecodeError::TooMany { .. })
        ));
        assert!(matches!(decode(b"[]", 3), Err(DecodeError::Empty)));
        for other in ["\"x\"", "1", "null", "true", "-2.5"] {
            assert!(
                matches!(
                    decode(other.as_bytes(), 3),
                    Err(DecodeError::NotPredictions)
                ),
                "{other}"
            );
        }
        for syntax in ["", "{", "[1,", &format!("{OK} x"), "{\"team1\": \"\u{ff}"] {
            assert!(
                matches!(decode(syntax.as_bytes(), 3), Err(DecodeError::Syntax(_))),
                "{syntax}"
            );
        }
        assert!(matches!(
            decode(b"{\"team1\": \"\xff\"}", 3),
            Err(DecodeError::Syntax(_))
        ));
    }

    #[test]
    fn errors_name_the_field_and_index_like_model() {
        assert_eq!(
            field(r#"{"team1":"A","team2":"B","score":"1-0","phase":1,"x":[1,2]}"#),
            (None, "x".into())
        );
        assert_eq!(
            field(r#"{"zz":1,"team1":"A","team2":"B","score":"1-0","phase":1,"aa":1}"#),
            (None, "zz".into())
        );
        assert_eq!(
            field(r#"{"team1":"A","team2":"B","score":"1-0"}"#),
            (None, "phase".into())
        );
        assert_eq!(
            field(r#"{"team1":"A","team2":"B","score":"1-0","phase":1.5}"#),
            (None, "phase".into())
        );
        assert_eq!(
            field(r#"{"team1":{"a":[1]},"team2":"B","score":"1-0","phase":1}"#),
            (None, "team1".into())
        );
        assert_eq!(field(&format!("[{OK},[[1]]]")), (Some(1), "(entry)".into()));
        assert_eq!(
            field(&format!(
                r#"[{OK},{OK},{{"team1":"A","team2":"A","score":"1-0","phase":1}}]"#
            )),
            (Some(2), "team2".into())
        );
        // The same words as model's own decoder.
        for body in [
            r#"{"team1":7,"team2":"B","score":"1-0","phase":1}"#,
            r#"{"team1":"A","team2":null,"score":"1-0","phase":1}"#,
            r#"{"team1":"A","team2":"B","score":"1-0","phase":-1}"#,
            r#"{"team1":"A","team2":"B","score":"1-0","phase":"4"}"#,
            r#"[{"team1":"A","team2":"B","score":"1-0","phase":1}, "x"]"#,
        ] {
            let value: Value = serde_json::from_str(body).unwrap();
            let expected = match &value {
                Value::Array(items) => items.iter().find_map(|i| from_value(i).err()),
                v => from_value(v).err(),
            };
            let got = match decode(body.as_bytes(), 3) {
                Err(DecodeError::Invalid { error, .. }) => Some(error),
                other => panic!("{body}: {other:?}"),
            };
            assert_eq!(got, expected, "{body}");
        }
    }

    #[test]
    fn too_many_wins_over_an_earlier_invalid_entry() {
        assert!(matches!(
            decode(b"[1,2,3,4]", 3),
            Err(DecodeError::TooMany { .. })
        ));
        assert_eq!(field("[1,2,3]"), (Some(0), "(entry)".into()));
    }

    /// What ingest did before: the whole body as a generic value, then `model::from_value`.
    /// The streaming decoder must answer exactly the same for every JSON document.
    fn reference(body: &[u8], max: usize) -> Result<Vec<Prediction>, DecodeError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| DecodeError::Syntax(e.to_string()))?;
        match &value {
            Value::Object(_) => from_value(&value)
                .map(|p| vec![p])
                .map_err(|error| DecodeError::Invalid { index: None, error }),
            Value::Array(items) if items.is_empty() => Err(DecodeError::Empty),
            Value::Array(items) if items.len() > max => Err(DecodeError::TooMany { max }),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    from_value(item).map_err(|error| DecodeError::Invalid {
                        index: Some(i),
                        error,
                    })
                })
                .collect(),
            _ => Err(DecodeError::NotPredictions),
        }
    }

    fn same(
        a: &Result<Vec<Prediction>, DecodeError>,
        b: &Result<Vec<Prediction>, DecodeError>,
    ) -> bool {
        match (a, b) {
            (Ok(a), Ok(b)) => a == b,
            (Err(DecodeError::Syntax(_)), Err(DecodeError::Syntax(_))) => true,
            (Err(DecodeError::NotPredictions), Err(DecodeError::NotPredictions)) => true,
            (Err(DecodeError::Empty), Err(DecodeError::Empty)) => true,
            (Err(DecodeError::TooMany { .. }), Err(DecodeError::TooMany { .. })) => true,
            (
                Err(DecodeError::Invalid { index: i, error: e }),
                Err(DecodeError::Invalid { index: j, error: f }),
            ) => i == j && e == f,
            _ => false,
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (-3i64..6).prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                (-10.0f64..10.0).prop_map(Value::from),
                prop::sample::select(vec![
                    "Qatar", "Ecuador", "", " ", "a:b", "x\n", "1-0", "2-1", "02-1", "1:0"
                ])
                .prop_map(Value::from),
                ".{0,8}".prop_map(Value::from),
            ]
        }

        fn json() -> impl Strategy<Value = Value> {
            scalar().prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(
                        prop::sample::select(vec!["team1", "team2", "score", "phase", "x", "a"])
                            .prop_map(String::from),
                        inner,
                        0..6
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn prediction() -> impl Strategy<Value = Value> {
            (
                prop::sample::select(vec!["Qatar", "Ecuador", "Iran", "a:b", ""]),
                prop::sample::select(vec!["Qatar", "Ecuador", "Wales"]),
                prop::sample::select(vec!["1-0", "0-0", "10-2", "x", "1-00"]),
                0u64..6,
            )
                .prop_map(|(t1, t2, score, phase)| {
                    serde_json::json!({"team1": t1, "team2": t2, "score": score, "phase": phase})
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn same_answer_as_the_generic_value(value in json()) {
                let body = serde_json::to_vec(&value).unwrap();
                let (got, want) = (decode(&body, 3), reference(&body, 3));
                prop_assert!(same(&got, &want), "{value}: {got:?} != {want:?}");
            }

            #[test]
            fn same_answer_for_near_valid_batches(items in prop::collection::vec(prediction(), 0..6)) {
                let body = serde_json::to_vec(&items).unwrap();
                let (got, want) = (decode(&body, 4), reference(&body, 4));
                prop_assert!(same(&got, &want), "{body:?}: {got:?} != {want:?}");
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
                let _ = decode(&bytes, 3);
            }
        }
    }
}
