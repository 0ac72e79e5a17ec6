//! The web pages (/live, /logs): NGINX serves the front end's build, `frontend/dist`. `up` (and
//! every experiment that starts a stack, so `scripts/run` too) builds it when it is missing and
//! npm is there; otherwise it says so and NGINX answers with a page that says how to build it.

use std::path::{Path, PathBuf};

/// Where the pages are and whether they are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pages {
    /// `index.html` is there (built before, or just now).
    Ready { dist: PathBuf },
    /// Not built; `why` says why not and what to run.
    Missing { dist: PathBuf, why: String },
}

impl Pages {
    pub fn dist(&self) -> &Path {
        match self {
            Pages::Ready { dist } | Pages::Missing { dist, .. } => dist,
        }
    }
}

/// The pages' build: `USACTAR_FRONTEND_DIST`, else `frontend/dist` of the checkout in the
/// working directory, else of the checkout this runner was built from.
pub fn locate(env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(dist) = env("USACTAR_FRONTEND_DIST") {
        return PathBuf::from(dist);
    }
    let here = std::env::current_dir()
        .map(|d| d.join("frontend"))
        .unwrap_or_else(|_| PathBuf::from("frontend"));
    let frontend = if here.join("package.json").exists() {
        here
    } else {
        crate::cargo_build::workspace_dir()
            .map(|w| w.join("frontend"))
            .filter(|f| f.join("package.json").exists())
            .unwrap_or(here)
    };
    frontend.join("dist")
}

/// The one command that builds the pages into `dist`.
pub fn build_command(dist: &Path) -> String {
    let frontend = dist.parent().unwrap_or(Path::new("frontend"));
    format!("cd {} && npm ci && npm run build", frontend.display())
}

/// The pages in `dist`, built first (with npm, printing its progress) when they are missing,
/// `build` is true and npm is on `path`.
pub async fn ensure(dist: PathBuf, build: bool, path: &[PathBuf]) -> Pages {
    if dist.join("index.html").exists() {
        return Pages::Ready { dist };
    }
    let how = build_command(&dist);
    let Some(frontend) = dist.parent().filter(|f| f.join("package.json").exists()) else {
        let why = format!(
            "{} has no package.json to build them from; point USACTAR_FRONTEND_DIST at a build",
            dist.parent().unwrap_or(Path::new("?")).display()
        );
        return Pages::Missing { dist, why };
    };
    let npm = path.iter().map(|d| d.join("npm")).find(|p| p.is_file());
    let (true, Some(npm)) = (build, npm) else {
        let why = if build {
            format!("npm is not on PATH (scripts/setup or `nix develop` provide it); then: {how}")
        } else {
            format!("build them with: {how}")
        };
        return Pages::Missing { dist, why };
    };
    eprintln!("building the web pages ({how}) ...");
    for args in [
        &["ci", "--no-audit", "--no-fund", "--loglevel=error"][..],
        &["run", "--silent", "build"][..],
    ] {
        // npm's output goes to our stderr, as progress: stdout is for `up`'s table.
        let status = tokio::process::Command::new(&npm)
            .args(args)
            .current_dir(frontend)
            .stdout(std::io::stderr())
            .stderr(std::io::stderr())
            .status()
            .await;
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                let why = format!(
                    "`npm {}` exited with {s}; fix it, then: {how}",
                    args.join(" ")
                );
                return Pages::Missing { dist, why };
            }
            Err(e) => {
                let why = format!("could not run {}: {e}; then: {how}", npm.display());
                return Pages::Missing { dist, why };
            }
        }
    }
    if dist.join("index.html").exists() {
        Pages::Ready { dist }
    } else {
        let why = format!("the build wrote no index.html into {}", dist.display());
        Pages::Missing { dist, why }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_pages_say_how_to_build_them() {
        let dir = std::env::temp_dir().join(format!("stack-pages-{}", std::process::id()));
        let frontend = dir.join("frontend");
        std::fs::create_dir_all(&frontend).unwrap();
        std::fs::write(frontend.join("package.json"), "{}").unwrap();
        let dist = frontend.join("dist");

        let no_npm = ensure(dist.clone(), true, &[]).await;
        let Pages::Missing { why, .. } = &no_npm else {
            panic!("{no_npm:?}")
        };
        assert!(
            why.contains("npm is not on PATH") && why.contains("npm run build"),
            "{why}"
        );

        std::fs::create_dir_all(&dist).unwrap();
        std::fs::write(dist.join("index.html"), "<html>").unwrap();
        assert_eq!(ensure(dist.clone(), true, &[]).await, Pages::Ready { dist });
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_environment_moves_the_pages() {
        let dist = locate(|k| (k == "USACTAR_FRONTEND_DIST").then(|| "/srv/pages".into()));
        assert_eq!(dist, PathBuf::from("/srv/pages"));
    }
}
