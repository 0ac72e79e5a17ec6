//! A MongoDB that accepted the connection and stopped answering (issue 15 M9): each insert now
//! has a deadline, so logs-writer's loop goes on (retrying, not ready, /livez still 200 because
//! it makes progress) instead of hanging in the driver forever while looking healthy; when the
//! store answers again, every record lands. A binary of its own: it freezes its FerretDB.

mod common;

use common::{accepted, all_committed, eventually, fresh_topic, mongo_uri, produce, unique};
use consumer::configuration::Role;
use mongodb::bson::{doc, Document};

/// SIGSTOP on a process while held; SIGCONT when dropped, whatever the test's outcome.
struct Frozen(u32);

impl Frozen {
    fn new(pid: u32) -> Self {
        signal("-STOP", pid);
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(which: &str, pid: u32) {
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {which} {pid}");
}

#[tokio::test]
async fn a_stalled_store_does_not_wedge_logs_writer() {
    let topic = fresh_topic().await;
    let database = unique("logs");
    let uri = mongo_uri();
    let writer = common::start(
        Role::LogsWriter,
        &topic,
        &[
            ("USACTAR_MONGO_URI", uri.as_str()),
            ("USACTAR_MONGO_DB", database.as_str()),
            ("USACTAR_MONGO_WRITE_DEADLINE", "1s"),
        ],
    )
    .await;
    let logs = mongodb::Client::with_uri_str(&uri)
        .await
        .unwrap()
        .database(&database)
        .collection::<Document>("logs");
    let count = || async {
        logs.count_documents(doc! {})
            .await
            .map_err(|e| e.to_string())
    };
    let first = accepted(5);
    produce(&topic, &first).await;
    eventually(common::DEADLINE, "the first records land", || async {
        let n = count().await?;
        (n == 5).then_some(()).ok_or(format!("{n} documents"))
    })
    .await;

    let pid = common::shared_stack().supervisor.pids()["ferretdb"];
    let frozen = Frozen::new(pid);
    produce(&topic, &accepted(5)).await;
    let frozen_at = std::time::Instant::now();
    // The 1 s deadline, then the first retry's: well under 5 s. Without a deadline, the insert
    // waits for the driver's own monitoring to give the server up (measured here: still ready after 5 s).
    eventually(
        std::time::Duration::from_secs(5),
        "logs-writer sees the store stalled",
        || async {
            match writer.readyz().await {
                503 => Ok(()),
                other => Err(format!("/readyz {other}")),
            }
        },
    )
    .await;
    eprintln!(
        "not ready {} ms after the freeze",
        frozen_at.elapsed().as_millis()
    );
    let livez = reqwest::get(format!("{}/livez", writer.admin))
        .await
        .unwrap();
    assert_eq!(livez.status(), 200, "the loop still makes progress");
    drop(frozen);

    eventually(
        common::DEADLINE,
        "every record lands once the store answers",
        || async {
            let n = count().await?;
            (n == 10).then_some(()).ok_or(format!("{n} documents"))
        },
    )
    .await;
    all_committed(&topic, &writer.group).await;
    assert_eq!(writer.readyz().await, 200);
    writer.stop().await;
}
