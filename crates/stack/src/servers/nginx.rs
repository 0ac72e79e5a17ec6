//! NGINX: the local ingress (where the NGINX Ingress Controller stands on a cluster) and the web
//! pages' server.

use std::path::PathBuf;

use super::{s, spec_of, write, Context, Server, STOP_QUICKLY};
use crate::install::{Found, Install};
use crate::pages;
use crate::probe::Probe;
use crate::process::ProcessSpec;
use crate::template::fill;
use crate::Result;

pub struct Nginx;

impl Server for Nginx {
    fn name(&self) -> &'static str {
        "nginx"
    }
    fn ports(&self) -> &[&'static str] {
        &["ingress", "nginx-status"]
    }
    fn serves_pages(&self) -> bool {
        true
    }
    fn locate(&self, install: &Install) -> Result<Found> {
        install.find("NGINX", &["nginx"], &["/usr/sbin/nginx".into()])
    }
    fn spec(&self, cx: &Context) -> Result<ProcessSpec> {
        let p = cx.ports;
        let dir = cx.dir("nginx")?;
        for temp in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            super::mkdir(&dir.join("tmp").join(temp))?;
        }
        let program = self.locate(cx.install)?.program;
        // Running as root, nginx would hand its workers to `nobody`, who cannot use the state
        // folder's temp directories; keep them as the user that runs the stack.
        let user = if nix::unistd::Uid::effective().is_root() {
            "user root;\n"
        } else {
            ""
        };
        let conf = fill(
            "nginx.conf",
            include_str!("../../templates/nginx.conf"),
            &[
                ("user", user),
                ("dir", &s(&dir)),
                ("mime_types", &s(&mime_types(&program))),
                ("ingest", &p.addr("ingest")),
                ("read_api", &p.addr("read-api")),
                ("ingress", &p.addr("ingress")),
                ("status", &p.addr("nginx-status")),
                ("pages", &s(cx.pages)),
            ],
        );
        write(&dir.join("nginx.conf"), &conf)?;
        let no_pages = fill(
            "nginx-no-pages.html",
            include_str!("../../templates/nginx-no-pages.html"),
            &[
                ("pages", &s(cx.pages)),
                ("build_command", &pages::build_command(cx.pages)),
            ],
        );
        write(&dir.join("usactar-no-pages.html"), &no_pages)?;
        Ok(spec_of(self, cx)?
            .args([
                "-p".to_string(),
                s(&dir),
                "-c".to_string(),
                s(&dir.join("nginx.conf")),
                "-e".to_string(),
                "stderr".to_string(),
                "-g".to_string(),
                "daemon off;".to_string(),
            ])
            .address(format!("http://{}", p.addr("ingress")))
            .stop_timeout(STOP_QUICKLY))
    }
    fn probe(&self, cx: &Context) -> Probe {
        let ports = cx.ports;
        Probe::Http(format!("http://{}/healthz", ports.addr("ingress")))
    }
}

/// A Nix store's nginx keeps mime.types in `<out>/conf/`; Debian's in /etc/nginx.
fn mime_types(program: &std::path::Path) -> PathBuf {
    program
        .canonicalize()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("conf/mime.types")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/etc/nginx/mime.types"))
}
