//! The stored log documents, counted per Kafka partition as logs-writer writes them
//! (`model::log_layout`), so that read-api's totals are one read of a few documents instead of a
//! count of the collection (issue 16).
//!
//! Exact across replays without a transaction (FerretDB 1.24 has none): a partition's document
//! holds `through`, the highest offset already counted, and a record is counted at most once, when
//! its offset passes `through`. It is counted if its document is in the store because of it:
//! inserted now, or refused as a duplicate of a document that carries this very Kafka position (an
//! earlier attempt of the same batch inserted it, then failed before counting). A duplicate of
//! another record (a client's retry with the same ids) is not counted again. The update is
//! conditional on the `through` it read, so two writers of one partition during a rebalance
//! cannot both count the same offsets: the one that loses reads again.
//!
//! Each counted document is also counted per filter of `/api/logs` (`model::log_layout::Counts`),
//! in the same statement, so those counts are exact the same way. Only a record of the fixture
//! list is counted per filter: the fields are named after its teams, and a producer writing
//! straight to Kafka with ever new team names would otherwise grow the partition's document
//! without bound until every update failed. A record outside the list (or every record, with
//! `USACTAR_FIXTURES=any`) leaves its partition's filtered counts short of `documents`, which
//! read-api sees, and counts those totals from the collection instead.
//!
//! Telling "this record's own document" from "another record's" needs a read only where two
//! records can share an id. ingest gives every prediction a random UUIDv7 unless the request
//! carried an `Idempotency-Key` (then a UUIDv5 of the key, the same in the retry): a refused
//! UUIDv7 can only be this record's own earlier write, and is counted without a read. The others
//! are looked up, all of a batch in one query. Reading each one was the first design: on
//! FerretDB 1.24's SQLite backend an `_id` lookup scans the collection (about 0.7 s at 138,000
//! documents here), so the first batch after a killed logs-writer (up to 500 refused ids) took
//! minutes, passed the write deadline on every retry, and the logs group never moved again.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Collection;

use model::log_layout::Counts;
use model::Fixtures;

use crate::pipeline::Record;

/// How often a conditional update that lost a race is tried again before the batch is retried.
const ATTEMPTS: usize = 3;
/// MongoDB's duplicate-key error, here from an upsert that lost the race to create the document.
const DUPLICATE_KEY: i32 = 11000;

#[derive(Clone)]
pub struct LogTotals {
    db: mongodb::Database,
    totals: Collection<Document>,
    logs: Collection<Document>,
    /// The matches whose records are also counted per filter; none when `None`.
    fixtures: Option<Arc<Fixtures>>,
}

impl LogTotals {
    /// Counting per filter the records of the fixture list of Qatar 2022, the services' default
    /// (`USACTAR_FIXTURES`).
    pub fn new(db: &mongodb::Database) -> Self {
        LogTotals {
            db: db.clone(),
            totals: db.collection(model::log_layout::LOG_TOTALS),
            logs: db.collection(model::log_layout::LOGS),
            fixtures: Some(Arc::new(Fixtures::qatar_2022())),
        }
    }

    /// Counts per filter only the records of `fixtures`; none with `None`.
    pub fn with_fixtures(mut self, fixtures: Option<Arc<Fixtures>>) -> Self {
        self.fixtures = fixtures;
        self
    }

    /// What storing `records` adds to their partition's document.
    fn counts(&self, records: &[&Record]) -> Counts {
        let mut counts = Counts::default();
        for r in records {
            let p = &r.prediction;
            match &self.fixtures {
                Some(f) if f.contains(&p.match_key()) => {
                    counts.add(i32::from(p.phase), &p.team1, &p.team2)
                }
                _ => counts.add_unfiltered(),
            }
        }
        counts
    }

    /// Counts the records of `batch` whose documents are stored, given which were refused as
    /// duplicates (`duplicates`) and which were refused for good (`refused`), by index in the
    /// batch. Two round trips in the usual case, whatever the partitions in the batch: one read
    /// of the (small) collection, one `update` command with a statement per partition; a
    /// partition-per-call version doubled logs-writer's time per batch here and let the logs
    /// group lag 2,750 records behind at 1,000 predictions/s. An error leaves the totals as they
    /// were, so the caller retries the whole batch.
    pub async fn count(
        &self,
        batch: &[Record],
        duplicates: &[usize],
        refused: &[usize],
    ) -> mongodb::error::Result<()> {
        let mut pending: BTreeMap<i32, Vec<(usize, &Record)>> = BTreeMap::new();
        for (i, r) in batch.iter().enumerate() {
            if !refused.contains(&i) {
                pending.entry(r.partition()).or_default().push((i, r));
            }
        }
        for _ in 0..ATTEMPTS {
            let through = self.throughs().await?;
            let mut statements = Vec::new();
            let mut partitions = Vec::new();
            for (&partition, records) in &pending {
                let through = through.get(&partition).copied().unwrap_or(-1);
                let mut last = None;
                let mut stored: Vec<&Record> = Vec::new();
                let mut replays: Vec<&Record> = Vec::new();
                for &(i, r) in records.iter().filter(|(_, r)| r.offset() > through) {
                    last = last.max(Some(r.offset()));
                    if duplicates.contains(&i) {
                        replays.push(r);
                    } else {
                        stored.push(r);
                    }
                }
                let Some(last) = last else {
                    continue; // all counted already: a replay
                };
                stored.extend(self.ours(&replays).await?);
                let counts = self.counts(&stored);
                let inc: Document = counts
                    .increments()
                    .map(|(field, n)| (field, Bson::Int64(n)))
                    .collect();
                statements.push(doc! {
                    "q": {"_id": model::log_layout::log_totals_id(partition), "through": through},
                    "u": {"$set": {"through": last}, "$inc": inc},
                    "upsert": true,
                });
                partitions.push(partition);
            }
            if statements.is_empty() {
                return Ok(());
            }
            let reply = self
                .db
                .run_command(doc! {
                    "update": model::log_layout::LOG_TOTALS,
                    "updates": statements,
                    "ordered": false,
                })
                .await?;
            if let Ok(e) = reply.get_document("writeConcernError") {
                return Err(mongodb::error::Error::custom(format!(
                    "log_totals: write concern not met: {e}"
                )));
            }
            // A statement whose partition another writer created or advanced since the read
            // fails as a duplicate key (its upsert met the existing document): only those again.
            let mut lost = Vec::new();
            for e in reply.get_array("writeErrors").into_iter().flatten() {
                let e = e.as_document().cloned().unwrap_or_default();
                let index = e
                    .get_i32("index")
                    .ok()
                    .and_then(|i| usize::try_from(i).ok());
                match (e.get_i32("code"), index.and_then(|i| partitions.get(i))) {
                    (Ok(DUPLICATE_KEY), Some(p)) => lost.push(*p),
                    _ => {
                        return Err(mongodb::error::Error::custom(format!(
                            "log_totals: update refused: {e}"
                        )))
                    }
                }
            }
            pending.retain(|p, _| lost.contains(p));
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(mongodb::error::Error::custom(format!(
            "log_totals: lost the race to another writer {ATTEMPTS} times"
        )))
    }

    /// Every partition's document, without its counts per filter (a few hundred fields each,
    /// read on every batch otherwise).
    async fn partitions(&self) -> mongodb::error::Result<Vec<Document>> {
        self.totals
            .find(doc! {})
            .projection(doc! {"through": 1, "documents": 1})
            .await?
            .try_collect()
            .await
    }

    /// Every partition's `through`.
    async fn throughs(&self) -> mongodb::error::Result<BTreeMap<i32, i64>> {
        Ok(self
            .partitions()
            .await?
            .iter()
            .filter_map(|d| {
                let partition = model::log_layout::partition_of(d.get_str("_id").ok()?)?;
                Some((partition, d.get_i64("through").ok()?))
            })
            .collect())
    }

    /// The stored documents, as counted: the sum over the partitions.
    pub async fn documents(&self) -> mongodb::error::Result<i64> {
        Ok(self
            .partitions()
            .await?
            .iter()
            .filter_map(|d| d.get_i64("documents").ok())
            .sum())
    }

    /// One past the highest offset any partition has counted: where a writer that makes up its
    /// own positions (the benchmark's filler) starts so that its records are counted too.
    pub async fn next_offset(&self) -> mongodb::error::Result<i64> {
        Ok(self
            .throughs()
            .await?
            .into_values()
            .max()
            .map_or(0, |t| t + 1))
    }

    /// Which of these duplicates are their record's own document (same Kafka position): stored
    /// by an earlier attempt that did not count them. See the module's docs for why a UUIDv7 is
    /// its record's own without a read.
    async fn ours<'r>(&self, duplicates: &[&'r Record]) -> mongodb::error::Result<Vec<&'r Record>> {
        let (mut unique, shared): (Vec<&Record>, Vec<&Record>) = duplicates
            .iter()
            .partition(|r| r.prediction.id.get_version_num() == 7);
        if shared.is_empty() {
            return Ok(unique);
        }
        let ids: Vec<String> = shared.iter().map(|r| r.prediction.id.to_string()).collect();
        let stored: Vec<Document> = self
            .logs
            .find(doc! {"_id": {"$in": ids}})
            .projection(doc! {"kafka": 1})
            .await?
            .try_collect()
            .await?;
        let positions: BTreeMap<&str, (Option<i32>, Option<i64>)> = stored
            .iter()
            .filter_map(|d| {
                let k = d.get_document("kafka").ok()?;
                Some((
                    d.get_str("_id").ok()?,
                    (k.get_i32("partition").ok(), k.get_i64("offset").ok()),
                ))
            })
            .collect();
        unique.extend(shared.into_iter().filter(|r| {
            positions.get(r.prediction.id.to_string().as_str())
                == Some(&(Some(r.partition()), Some(r.offset())))
        }));
        Ok(unique)
    }
}
