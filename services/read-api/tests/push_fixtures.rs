//! One WebSocket message of each kind, as read-api serializes it, kept in
//! `frontend/src/push-fixtures.json`: the front end's `push.test.ts` checks the same file
//! against its TypeScript types, so a change on either side fails a test until the other
//! follows. Needs no server. After a deliberate change to `model::push`, regenerate with
//! `UPDATE_FIXTURES=1 cargo test -p read-api --test push_fixtures`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use model::push::{LiveView, LogItem, MatchView, PhaseView, PushMessage, ScoreView};
use serde_json::json;

fn fixtures_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../frontend/src/push-fixtures.json")
}

/// The `type` of a message. Exhaustive on purpose: a new variant does not compile here until
/// it has a name in [`KINDS`] and an example in [`examples`].
fn kind(message: &PushMessage) -> &'static str {
    match message {
        PushMessage::Snapshot(_) => "snapshot",
        PushMessage::Live { .. } => "live",
        PushMessage::Error { .. } => "error",
        PushMessage::Logs { .. } => "logs",
        PushMessage::Lagged { .. } => "lagged",
    }
}

const KINDS: [&str; 5] = ["snapshot", "live", "error", "logs", "lagged"];

fn a_match() -> MatchView {
    MatchView {
        id: "4:Argentina:France".into(),
        phase: 4,
        team1: "Argentina".into(),
        team2: "France".into(),
        total: 4,
        scores: vec![
            ScoreView {
                score: "3-3".into(),
                count: 3,
                share: 0.75,
            },
            ScoreView {
                score: "2-1".into(),
                count: 1,
                share: 0.25,
            },
        ],
        top: Some("3-3".into()),
    }
}

fn examples() -> Vec<PushMessage> {
    vec![
        PushMessage::Snapshot(LiveView {
            total: 10,
            phases: vec![PhaseView {
                phase: 4,
                total: 4,
                matches: vec![a_match()],
            }],
        }),
        PushMessage::Live {
            total: 11,
            matches: vec![a_match()],
        },
        PushMessage::Error {
            error: "redis is unavailable: no answer within 2s".into(),
        },
        PushMessage::Logs {
            items: vec![LogItem {
                id: "0185123a-0000-7000-8000-000000000000".into(),
                team1: "Argentina".into(),
                team2: "France".into(),
                score: "3-3".into(),
                phase: 4,
                received_at: "2022-12-18T18:00:00.123Z".into(),
                logged_at: "2022-12-18T18:00:00.163Z".into(),
                partition: 2,
                offset: 41,
            }],
            gap: false,
        },
        PushMessage::Lagged { missed_batches: 3 },
    ]
}

fn render(messages: &[PushMessage]) -> String {
    serde_json::to_string_pretty(messages).expect("messages serialize") + "\n"
}

#[test]
fn the_front_end_fixtures_hold_every_message_as_read_api_sends_it() {
    let messages = examples();
    let kinds: Vec<&str> = messages.iter().map(kind).collect();
    assert_eq!(
        kinds.iter().collect::<BTreeSet<_>>(),
        KINDS.iter().collect::<BTreeSet<_>>(),
        "one example of each kind"
    );
    let rendered = render(&messages);
    let path = fixtures_path();
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &rendered).expect("write the fixtures");
    }
    let on_disk =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        on_disk == rendered,
        "{} is not what model::push serializes; if the change is deliberate, update the front \
         end's types (frontend/src/push.ts) and run UPDATE_FIXTURES=1 cargo test -p read-api \
         --test push_fixtures\n--- expected:\n{rendered}",
        path.display()
    );
}

#[test]
fn every_message_reads_back_as_itself() {
    for message in examples() {
        let back: PushMessage = serde_json::from_str(&message.to_json()).unwrap();
        assert_eq!(back, message);
    }
}

/// The wire format the pages were written against, before the messages had a Rust type: the
/// tag beside the fields, and these field names.
#[test]
fn the_wire_format_is_the_one_the_pages_know() {
    let fields = |m: &PushMessage| -> Vec<String> {
        let mut keys: Vec<String> = serde_json::to_value(m)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    let expected = json!({
        "snapshot": ["phases", "total", "type"],
        "live": ["matches", "total", "type"],
        "error": ["error", "type"],
        "logs": ["gap", "items", "type"],
        "lagged": ["missed_batches", "type"],
    });
    for m in examples() {
        assert_eq!(json!(fields(&m)), expected[kind(&m)], "{}", kind(&m));
    }
}
