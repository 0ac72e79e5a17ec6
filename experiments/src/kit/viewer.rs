//! The `/warzone` page for a cluster target. On a cluster read-api runs in a pod that cannot see
//! the kit's folder, and each cluster's linkerd-viz Prometheus holds only its own proxies; so the
//! kit serves the page itself, on the loopback: the built web pages, and the `warzone` crate's
//! routes (the same read-api serves) with Linkerd's query table over both clusters' Prometheus
//! and the kit's own folder. The browser that takes each report's screenshot opens it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tower_http::services::{ServeDir, ServeFile};

/// A running viewer; dropping it stops the server.
pub struct Viewer {
    pub addr: SocketAddr,
    /// Where the kit publishes `experiment.json` and `report.md` for the page.
    pub dir: PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Viewer {
    /// Serves the pages in `dist` and the war zone's routes over `prometheus` (one root URL per
    /// cluster), publishing from `dir`, on a free loopback port.
    pub async fn start(dist: &Path, prometheus: Vec<String>, dir: PathBuf) -> Result<Viewer> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let routes = warzone::router(&warzone::Settings {
            prometheus,
            flavour: warzone::queries::Flavour::Linkerd,
            dir: Some(dir.clone()),
        });
        // Every other path is the single-page app: /warzone is index.html, as NGINX's
        // `try_files $uri /index.html` serves it locally.
        let pages = ServeDir::new(dist).fallback(ServeFile::new(dist.join("index.html")));
        let app = routes.fallback_service(pages);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the /warzone viewer to a loopback port")?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("the /warzone viewer stopped: {e}");
            }
        });
        Ok(Viewer { addr, dir, server })
    }

    /// The page's address.
    pub fn page(&self) -> String {
        format!("http://{}/warzone", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_the_page_the_routes_and_the_kits_files() {
        let dist = tempfile::tempdir().unwrap();
        std::fs::write(dist.path().join("index.html"), "<html>usactar</html>").unwrap();
        std::fs::write(dist.path().join("config.js"), "window.x = 1;").unwrap();
        let folder = tempfile::tempdir().unwrap();
        let v = Viewer::start(dist.path(), vec![], folder.path().join("warzone"))
            .await
            .unwrap();
        let get = |path: &str| reqwest::get(format!("http://{}{path}", v.addr));
        let page = get("/warzone").await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.text().await.unwrap(), "<html>usactar</html>");
        assert_eq!(
            get("/config.js").await.unwrap().text().await.unwrap(),
            "window.x = 1;"
        );
        // No experiment yet: 204, as read-api answers; then the published file.
        assert_eq!(get("/api/warzone/experiment").await.unwrap().status(), 204);
        std::fs::write(v.dir.join("experiment.json"), r#"{"version":1}"#).unwrap();
        let e: serde_json::Value = get("/api/warzone/experiment")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(e["version"], 1);
        // No Prometheus given: the metrics route says so (404), it is not the page.
        assert_eq!(get("/api/warzone/metrics").await.unwrap().status(), 404);
    }
}
