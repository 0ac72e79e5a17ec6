//! PostgreSQL (Debian's) with the DocumentDB extension, the database FerretDB 2 keeps the logs in:
//! DocumentDB serves read-api's pages from its indexes, where FerretDB 1.24 sorted the whole
//! collection in memory (bench/RESULTS.md, `bench/store/run.sh`). scripts/setup builds the
//! extension into Debian's PostgreSQL 15 (`scripts/build-documentdb`).
//!
//! PostgreSQL refuses to run as root, and this stack often runs as root (CI, the sandbox
//! machine). Switching to another user would need a data folder that user can reach (a state
//! folder under a private temporary folder is not) and would clear the parent-death signal that
//! stops every server when the runner dies. So as root it runs in a user namespace of its own
//! instead, as an unprivileged user there that is root outside: the files stay root's, in the
//! state folder like every other server's, and the signal survives (the credentials do not change
//! outside the namespace).

use std::path::{Path, PathBuf};

use super::tuning::POSTGRESQL_CONFIG;
use super::{s, Context, FirstStart, Server};
use crate::install::{Found, Install};
use crate::ports::Ports;
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::Result;

pub struct PostgreSql;

/// The user inside the namespace (any id but 0 will do: it only has to not be root there).
const NAMESPACE_USER: u32 = 1000;

/// The connection URL FerretDB uses: the superuser on the maintenance database, over TCP (trust,
/// on 127.0.0.1 only, as the stack's Redis and MongoDB take anyone on loopback).
pub fn url(ports: &Ports) -> String {
    format!("postgres://postgres@{}/postgres", ports.addr("postgresql"))
}

impl Server for PostgreSql {
    fn name(&self) -> &'static str {
        "postgresql"
    }
    fn ports(&self) -> &[&'static str] {
        &["postgresql"]
    }
    fn locate(&self, install: &Install) -> Result<Found> {
        // Debian keeps the server off PATH, in one folder per major version: the newest wins.
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin/postgres"))
            .collect();
        // Only a version DocumentDB is built for will do: its extension files sit in that
        // version's share folder.
        versions.retain(|p| has_documentdb(p));
        versions.sort_by_key(|p| std::cmp::Reverse(major_version(p)));
        install.find(
            "PostgreSQL with the DocumentDB extension (scripts/setup builds it)",
            &[],
            &versions,
        )
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        // Not created here: a stack that refuses to start (an older state folder) leaves nothing
        // behind; first_start (initdb) makes it.
        let dir = cx.state.join("postgresql");
        let (program, mut args) = as_non_root(cx.install, &self.locate(cx.install)?.program)?;
        args.extend([
            "-D".to_string(),
            s(&dir.join("data")),
            "-c".to_string(),
            "listen_addresses=127.0.0.1".to_string(),
            "-p".to_string(),
            cx.ports.get("postgresql").to_string(),
            // No Unix socket: its path would be under the state folder, and a socket's path may
            // not exceed 107 bytes (a test's temporary state folder can). FerretDB uses TCP.
            "-c".to_string(),
            "unix_socket_directories=".to_string(),
        ]);
        for setting in settings(cx.tuning.postgresql_config.as_deref())? {
            args.extend(["-c".to_string(), setting]);
        }
        Ok(ProcessSpec::new(self.name(), program)
            .args(args)
            // SIGINT is PostgreSQL's fast shutdown: sessions end, a checkpoint, done. SIGTERM
            // would wait for FerretDB's sessions to end first.
            .stop_signal(nix::sys::signal::Signal::SIGINT)
            .address(url(cx.ports)))
    }
    fn probe(&self, cx: &Context) -> Probe {
        Probe::Postgres {
            addr: cx.ports.addr("postgresql"),
            // Once, on a fresh cluster (0.7 s); a no-op afterwards. FerretDB 2 needs the
            // extension's functions before its first session.
            then: Some(CREATE_DOCUMENTDB.to_string()),
        }
    }
    fn first_start(&self, cx: &Context) -> Result<Option<FirstStart>> {
        let data = cx.dir("postgresql")?.join("data");
        if data.join("PG_VERSION").exists() {
            return Ok(None);
        }
        // initdb writes PG_VERSION first and removes what it made when it fails; a folder without
        // it is an initdb that was killed, with nothing worth keeping, and initdb wants it gone.
        if data.exists() {
            std::fs::remove_dir_all(&data).map_err(|e| crate::Error::io(&data, e))?;
        }
        // initdb sits beside the real server: a `postgres` found on PATH may be a link to it.
        let postgres = self.locate(cx.install)?.program;
        let initdb = std::fs::canonicalize(&postgres)
            .unwrap_or(postgres)
            .with_file_name("initdb");
        let (program, mut args) = as_non_root(cx.install, &initdb)?;
        args.extend([
            "-D".to_string(),
            s(&data),
            "-U".to_string(),
            "postgres".to_string(),
            "--auth=trust".to_string(),
            "-E".to_string(),
            "UTF8".to_string(),
            "--no-locale".to_string(),
        ]);
        let mut command = std::process::Command::new(program);
        command.args(args);
        Ok(Some(FirstStart {
            what: "creating PostgreSQL's database cluster (initdb)".into(),
            command,
        }))
    }
}

/// The SQL the probe runs once PostgreSQL accepts sessions.
const CREATE_DOCUMENTDB: &str = "SET client_min_messages = warning; \
     CREATE EXTENSION IF NOT EXISTS documentdb CASCADE; \
     CREATE EXTENSION IF NOT EXISTS documentdb_extended_rum";

/// DocumentDB's settings, chosen by `bench/store/run.sh` at 1,000,000 documents
/// (bench/RESULTS.md, 2026-11-30):
/// - the libraries preloaded and pg_cron's jobs (DocumentDB's background work) in `postgres`,
///   where the extension lives and FerretDB connects: what FerretDB's docs give;
/// - indexes built with DocumentDB's ordered ("composite") operator class on its extended RUM
///   access method (`documentdb_extended_rum`, which FerretDB's own packages leave out; the
///   build script builds it), with ORDER BY pushed into them: the newest page of a match then reads 50
///   entries of its index instead of sorting every match (first page p99 5 ms, a match's
///   80 ms, against 1.3-1.7 s with the defaults); writes 5,754 documents/s at that size;
/// - WAL compressed and checkpoints every 256 MB: the log's batches are large and frequent.
///
/// Durability stays as shipped: fsync and synchronous commit on.
const DOCUMENTDB_SETTINGS: &[&str] = &[
    "shared_preload_libraries=pg_cron,pg_documentdb_core,pg_documentdb,pg_documentdb_extended_rum",
    "cron.database_name=postgres",
    "documentdb.enableCompact=true",
    "documentdb.enableLetAndCollationForQueryMatch=true",
    "documentdb.enableNowSystemVariable=true",
    "documentdb.enableSchemaValidation=true",
    "documentdb.enableBypassDocumentValidation=true",
    "documentdb.enableUserCrud=true",
    "documentdb.maxUserLimit=100",
    "documentdb.defaultUseCompositeOpClass=true",
    "documentdb.enableIndexOrderbyPushdown=true",
    "documentdb.alternate_index_handler_name=extended_rum",
    "max_wal_size=256MB",
    "wal_compression=on",
];

/// What [`super::Tuning::postgresql_config`] may not set: where the server listens and keeps its
/// files (the stack's), and the libraries DocumentDB needs.
const FIXED_SETTINGS: &[&str] = &[
    "listen_addresses",
    "port",
    "unix_socket_directories",
    "data_directory",
    "config_file",
    "hba_file",
    "ident_file",
    "shared_preload_libraries",
    "cron.database_name",
];

/// Nor durability, which stays as shipped: a prediction PostgreSQL acknowledged is on disk
/// (issue 16: no setting trades durability away).
const DURABILITY_SETTINGS: &[&str] = &["fsync", "synchronous_commit", "full_page_writes"];

/// The server's `-c` settings: [`DOCUMENTDB_SETTINGS`], with `tuning`'s pairs (`name=value`
/// separated by commas) replacing the ones of the same name or added after them. Refused, with
/// the reason, when a pair is not `name=value`, or names one of [`FIXED_SETTINGS`] or
/// [`DURABILITY_SETTINGS`]. PostgreSQL
/// itself refuses a name it does not know or a bad value when it starts.
pub(super) fn settings(tuning: Option<&str>) -> Result<Vec<String>> {
    let mut out: Vec<String> = DOCUMENTDB_SETTINGS.iter().map(|s| s.to_string()).collect();
    let Some(value) = tuning else {
        return Ok(out);
    };
    let error = |reason: String| crate::Error::BadSetting {
        key: POSTGRESQL_CONFIG,
        value: value.to_string(),
        reason,
    };
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, v) = pair
            .split_once('=')
            .ok_or_else(|| error(format!("{pair:?} is not name=value")))?;
        // PostgreSQL's names are case-insensitive: letters, digits, `_` and `.`.
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(error(format!(
                "{name:?} is not a PostgreSQL setting's name"
            )));
        }
        if FIXED_SETTINGS.contains(&name.as_str()) {
            return Err(error(format!(
                "{name} is set by the stack (crates/stack/src/servers/postgresql.rs); it cannot be overridden"
            )));
        }
        if DURABILITY_SETTINGS.contains(&name.as_str()) {
            return Err(error(format!(
                "{name} keeps PostgreSQL's shipped value: the stack does not trade durability for speed"
            )));
        }
        let setting = format!("{name}={}", v.trim());
        match out.iter_mut().find(|s| {
            s.split_once('=')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(&name))
        }) {
            Some(old) => *old = setting,
            None => out.push(setting),
        }
    }
    Ok(out)
}

/// Whether DocumentDB's extension is installed for the server at `postgres`
/// (`/usr/lib/postgresql/<major>/bin/postgres` has it in `/usr/share/postgresql/<major>`).
fn has_documentdb(postgres: &Path) -> bool {
    let major = major_version(postgres);
    Path::new(&format!(
        "/usr/share/postgresql/{major}/extension/documentdb.control"
    ))
    .exists()
}

/// `program` as the command to run: itself, or, as root, behind `unshare` into a user namespace
/// where it is [`NAMESPACE_USER`] (see the module's documentation).
fn as_non_root(install: &Install, program: &Path) -> Result<(PathBuf, Vec<String>)> {
    if !nix::unistd::geteuid().is_root() {
        return Ok((program.to_path_buf(), Vec::new()));
    }
    let unshare = install.find(
        "unshare (util-linux)",
        &["unshare"],
        &["/usr/bin/unshare".into()],
    )?;
    Ok((
        unshare.program,
        vec![
            "--user".to_string(),
            format!("--map-user={NAMESPACE_USER}"),
            format!("--map-group={NAMESPACE_USER}"),
            "--".to_string(),
            s(program),
        ],
    ))
}

/// The major version in Debian's `/usr/lib/postgresql/<major>/bin/postgres`.
fn major_version(postgres: &Path) -> u32 {
    postgres
        .ancestors()
        .nth(2)
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_replaces_or_adds_settings_and_refuses_the_stacks_own() {
        assert_eq!(settings(None).unwrap(), DOCUMENTDB_SETTINGS);
        let tuned = settings(Some(" WAL_compression = lz4, work_mem=8MB,")).unwrap();
        assert!(
            tuned.contains(&"wal_compression=lz4".to_string()),
            "{tuned:?}"
        );
        assert!(
            !tuned.contains(&"wal_compression=on".to_string()),
            "{tuned:?}"
        );
        assert_eq!(tuned.last().map(String::as_str), Some("work_mem=8MB"));
        assert_eq!(tuned.len(), DOCUMENTDB_SETTINGS.len() + 1);
        for bad in [
            "fsync=off",
            "synchronous_commit=off",
            "Full_Page_Writes=off",
            "port=5432",
            "shared_preload_libraries=x",
            "work_mem",
            "work mem=1MB",
        ] {
            let err = settings(Some(bad)).unwrap_err().to_string();
            assert!(
                err.starts_with("USACTAR_POSTGRESQL_CONFIG="),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_newest_major_version_is_read_from_debians_layout() {
        assert_eq!(
            major_version(Path::new("/usr/lib/postgresql/15/bin/postgres")),
            15
        );
        assert_eq!(
            major_version(Path::new("/usr/lib/postgresql/9/bin/postgres")),
            9
        );
        assert_eq!(major_version(Path::new("/usr/bin/postgres")), 0);
    }
}
