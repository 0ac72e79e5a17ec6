//! Finding the programs the stack runs: on PATH first (a `nix develop` shell puts every server
//! there), then where `scripts/setup` installs them (Debian's paths, `~/.cache/usactar`).
//!
//! Everything is read through one environment lookup, so tests hand in a map.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The Kafka version scripts/setup installs by default; keep in step with scripts/env.sh.
pub const KAFKA_VERSION: &str = "4.1.1";

/// Where to look for programs, read once from the environment.
#[derive(Debug, Clone)]
pub struct Install {
    /// Where the services' binaries are (`cargo build` puts them beside `experiments`).
    pub bin_dir: PathBuf,
    /// `USACTAR_HOME` (default `~/.cache/usactar`): scripts/setup's programs are in `bin/`.
    pub home: PathBuf,
    /// Kafka's jars as scripts/setup fetches them from Maven Central (`USACTAR_KAFKA_LIBS`).
    pub kafka_libs: PathBuf,
    /// `JAVA_HOME`, when set.
    pub java_home: Option<PathBuf>,
    /// The folders of `PATH`, in order.
    pub path: Vec<PathBuf>,
}

/// A program that was found, and how: shown by `up` so a user knows which copy runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub program: PathBuf,
    /// E.g. "on PATH", "where scripts/setup installs it", "Kafka's Maven libs at ...".
    pub how: String,
}

/// How Kafka is installed. Both run the same way (`java -cp <libs>/* kafka.Kafka`, with the
/// stack's own JVM flags and logging), so they differ only in where the jars are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KafkaInstall {
    /// A distribution whose start script is on PATH (nixpkgs' `apache-kafka`, a tarball's
    /// `bin/`): its jars are in `<script>/../../libs`.
    Distribution {
        start_script: PathBuf,
        libs: PathBuf,
    },
    /// The jars scripts/setup copies from Maven Central.
    MavenLibs { libs: PathBuf },
}

impl KafkaInstall {
    pub fn libs(&self) -> &Path {
        match self {
            KafkaInstall::Distribution { libs, .. } | KafkaInstall::MavenLibs { libs } => libs,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            KafkaInstall::Distribution { start_script, libs } => format!(
                "Kafka distribution on PATH ({}), jars in {}",
                start_script.display(),
                libs.display()
            ),
            KafkaInstall::MavenLibs { libs } => format!(
                "Kafka's Maven Central jars (scripts/setup) in {}",
                libs.display()
            ),
        }
    }
}

/// What to do when a server is missing; part of every [`Error::NotInstalled`].
pub const HOW_TO_INSTALL: &str =
    "run scripts/setup (Debian), or enter `nix develop`, which puts every server on PATH";

impl Install {
    /// From `PATH`, `USACTAR_HOME` (default `$XDG_CACHE_HOME/usactar`, then
    /// `~/.cache/usactar`), `USACTAR_KAFKA_LIBS`, `JAVA_HOME` and `USACTAR_BIN_DIR`, read
    /// through `env` so tests can hand in a map.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let home = env("USACTAR_HOME").map(PathBuf::from).unwrap_or_else(|| {
            let cache = env("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
                PathBuf::from(env("HOME").unwrap_or_else(|| "/root".into())).join(".cache")
            });
            cache.join("usactar")
        });
        let kafka_libs = env("USACTAR_KAFKA_LIBS")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(format!("kafka-{KAFKA_VERSION}/libs")));
        let bin_dir = env("USACTAR_BIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(beside_this_executable);
        let path = env("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        Install {
            bin_dir,
            home,
            kafka_libs,
            java_home: env("JAVA_HOME").map(PathBuf::from),
            path,
        }
    }

    /// The first executable called one of `names` on PATH, else the first of `fallbacks` that
    /// exists. The error lists every place looked at and how to install the program.
    pub fn find(&self, what: &str, names: &[&str], fallbacks: &[PathBuf]) -> Result<Found> {
        if let Some(program) = names.iter().find_map(|name| self.on_path(name)) {
            return Ok(Found {
                program,
                how: "on PATH".into(),
            });
        }
        if let Some(program) = fallbacks.iter().find(|p| is_executable(p)) {
            return Ok(Found {
                program: program.clone(),
                how: "where scripts/setup installs it".into(),
            });
        }
        Err(self.not_installed(what, names, fallbacks))
    }

    /// `name` in the first folder of PATH that has it as an executable file.
    pub fn on_path(&self, name: &str) -> Option<PathBuf> {
        self.path
            .iter()
            .map(|dir| dir.join(name))
            .find(|p| is_executable(p))
    }

    /// Java: `$JAVA_HOME/bin/java`, then PATH, then Debian's `/usr/bin/java`.
    pub fn java(&self) -> Result<Found> {
        if let Some(java) = self.java_home.as_ref().map(|h| h.join("bin/java")) {
            if is_executable(&java) {
                return Ok(Found {
                    program: java,
                    how: "from JAVA_HOME".into(),
                });
            }
        }
        self.find("Java (17 or newer)", &["java"], &["/usr/bin/java".into()])
    }

    /// Kafka: a start script on PATH (its distribution's jars beside it), then the Maven
    /// Central jars scripts/setup fetches.
    pub fn kafka(&self) -> Result<KafkaInstall> {
        const SCRIPTS: [&str; 2] = ["kafka-server-start.sh", "kafka-server-start"];
        for script in SCRIPTS.iter().filter_map(|name| self.on_path(name)) {
            // Through symlinks (a profile's bin/ links into the package) to the real bin/.
            let real = script.canonicalize().unwrap_or_else(|_| script.clone());
            let libs = real
                .parent()
                .and_then(Path::parent)
                .map(|dist| dist.join("libs"));
            if let Some(libs) = libs.filter(|l| has_jar(l, "kafka_")) {
                return Ok(KafkaInstall::Distribution {
                    start_script: script,
                    libs,
                });
            }
        }
        if self.kafka_libs.join(".complete").exists() {
            return Ok(KafkaInstall::MavenLibs {
                libs: self.kafka_libs.clone(),
            });
        }
        Err(self.not_installed("Kafka", &SCRIPTS, &[self.kafka_libs.join(".complete")]))
    }

    /// A service of the pipeline, built by cargo into [`Install::bin_dir`].
    pub fn service(&self, name: &str) -> Result<Found> {
        let program = self.bin_dir.join(name);
        if !program.exists() {
            return Err(Error::NotBuilt {
                what: name.to_string(),
                path: program.display().to_string(),
            });
        }
        Ok(Found {
            program,
            how: "built by cargo".into(),
        })
    }

    /// A program scripts/setup puts in `$USACTAR_HOME/bin`.
    pub fn setup_bin(&self, name: &str) -> PathBuf {
        self.home.join("bin").join(name)
    }

    fn not_installed(&self, what: &str, names: &[&str], fallbacks: &[PathBuf]) -> Error {
        let path = std::env::join_paths(&self.path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let fallbacks: Vec<String> = fallbacks.iter().map(|p| p.display().to_string()).collect();
        Error::NotInstalled {
            what: what.to_string(),
            looked: format!(
                "{} on PATH ({}), then {}",
                names.join(" or "),
                if path.is_empty() { "empty" } else { &path },
                fallbacks.join(", ")
            ),
        }
    }
}

/// Beside this executable; a test binary lives one level down, in `deps/`.
fn beside_this_executable() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first jar in `dir` whose name starts with `prefix`.
pub fn find_jar(dir: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".jar"))
        })
}

fn has_jar(dir: &Path, prefix: &str) -> bool {
    find_jar(dir, prefix).is_some()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn install(vars: &[(&str, String)]) -> Install {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        Install::from_env(|k| vars.get(k).cloned())
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stack-install-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn executable(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn a_program_on_path_comes_before_the_fallback() {
        let dir = temp_dir("path-first");
        let stub = dir.join("redis-server");
        executable(&stub);
        let fallback = dir.join("debian/usr/bin/redis-server");
        executable(&fallback);
        let path = std::env::join_paths([dir.clone(), "/usr/bin".into()]).unwrap();
        let with_stub = install(&[("PATH", path.to_string_lossy().into_owned())]);
        let found = with_stub
            .find("Redis", &["redis-server"], std::slice::from_ref(&fallback))
            .unwrap();
        assert_eq!(found.program, stub);
        assert_eq!(found.how, "on PATH");

        let without = install(&[("PATH", "/nonexistent".into())]);
        let found = without
            .find("Redis", &["redis-server"], std::slice::from_ref(&fallback))
            .unwrap();
        assert_eq!(found.program, fallback);
        assert_eq!(found.how, "where scripts/setup installs it");
    }

    #[test]
    fn redis_on_path_is_chosen_over_debians_and_debians_without_it() {
        // The stack's own definition of Redis, with a stub first on PATH.
        let dir = temp_dir("redis");
        let stub = dir.join("redis-server");
        executable(&stub);
        let path = std::env::join_paths([dir.clone(), "/usr/bin".into()]).unwrap();
        let redis = crate::servers::find("redis").unwrap();
        let found = redis
            .locate(&install(&[("PATH", path.to_string_lossy().into_owned())]))
            .unwrap();
        assert_eq!(found.program, stub);

        // Without it: Debian's path, which scripts/setup installs (and this machine has).
        let found = redis
            .locate(&install(&[("PATH", "/nonexistent".into())]))
            .expect("scripts/setup installed /usr/bin/redis-server");
        assert_eq!(found.program, PathBuf::from("/usr/bin/redis-server"));
    }

    #[test]
    fn a_missing_program_says_where_it_looked_and_how_to_install_it() {
        let err = install(&[("PATH", "/nowhere-a:/nowhere-b".into())])
            .find(
                "Redis",
                &["redis-server"],
                &["/nowhere-c/redis-server".into()],
            )
            .unwrap_err()
            .to_string();
        for part in [
            "Redis",
            "redis-server on PATH",
            "/nowhere-a:/nowhere-b",
            "/nowhere-c/redis-server",
            "scripts/setup",
            "nix develop",
        ] {
            assert!(err.contains(part), "{part:?} missing from: {err}");
        }
    }

    #[test]
    fn kafka_from_a_distribution_on_path_or_from_maven_libs() {
        let dir = temp_dir("kafka");
        // A distribution as nixpkgs lays it out: bin/kafka-server-start.sh and libs/.
        let dist = dir.join("apache-kafka");
        executable(&dist.join("bin/kafka-server-start.sh"));
        std::fs::create_dir_all(dist.join("libs")).unwrap();
        std::fs::write(dist.join("libs/kafka_2.13-4.1.1.jar"), "").unwrap();
        let maven = dir.join("maven/libs");
        std::fs::create_dir_all(&maven).unwrap();
        std::fs::write(maven.join(".complete"), "").unwrap();
        let maven_var = ("USACTAR_KAFKA_LIBS", maven.display().to_string());

        let on_path = install(&[
            ("PATH", dist.join("bin").display().to_string()),
            maven_var.clone(),
        ]);
        let kafka = on_path.kafka().unwrap();
        assert_eq!(kafka.libs(), dist.join("libs").canonicalize().unwrap());
        assert!(kafka.describe().contains("on PATH"), "{}", kafka.describe());

        let maven_only = install(&[("PATH", "/nonexistent".into()), maven_var]);
        assert_eq!(
            maven_only.kafka().unwrap(),
            KafkaInstall::MavenLibs { libs: maven }
        );

        let err = install(&[
            ("PATH", "/nonexistent".into()),
            ("USACTAR_KAFKA_LIBS", "/nowhere/libs".into()),
        ])
        .kafka()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("kafka-server-start.sh") && err.contains("/nowhere/libs/.complete"),
            "{err}"
        );
    }
}
