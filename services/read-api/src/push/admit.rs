//! Who may open a socket, checked before upgrading: browsers from an allowed origin, any
//! non-browser client, and no more than `USACTAR_MAX_SOCKETS` at once.

use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The most a client may send in one message or frame. Clients send nothing the server reads
/// (pongs and the odd keepalive), so a few KiB is plenty; the library's default (64 MiB) let a
/// handful of sockets exhaust the pod's memory.
pub const MAX_INBOUND: usize = 4 * 1024;

/// The origins whose pages may open a socket, and the room for more sockets.
#[derive(Clone)]
pub struct Admission {
    origins: Arc<Origins>,
    slots: Arc<Semaphore>,
}

enum Origins {
    /// `USACTAR_CORS_ORIGINS=*`: any page may.
    Any,
    /// Exact `scheme://host[:port]` strings, as browsers send them.
    List(Vec<String>),
}

impl Admission {
    pub fn new(cors_origins: &[String], max_sockets: usize) -> Self {
        let origins = if cors_origins.iter().any(|o| o == "*") {
            Origins::Any
        } else {
            Origins::List(
                cors_origins
                    .iter()
                    .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                    .collect(),
            )
        };
        Admission {
            origins: Arc::new(origins),
            slots: Arc::new(Semaphore::new(max_sockets)),
        }
    }

    /// A slot for one socket (held until it closes), or the refusal to send instead of upgrading:
    /// 403 for a page from a foreign origin, 503 when the sockets are all taken.
    pub fn admit(&self, headers: &HeaderMap) -> Result<OwnedSemaphorePermit, Refusal> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
            if !self.origin_allowed(origin, headers) {
                tracing::info!(origin, "refused a socket from a foreign origin");
                return Err(Refusal::ForeignOrigin(origin.to_string()));
            }
        }
        self.slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Full)
    }

    /// Listed, same origin (the request's Host, or the X-Forwarded-Host a proxy set), or a
    /// loopback host: local proxies (the stack's NGINX, Vite) rewrite Host, and no foreign web
    /// site can be served from the visitor's loopback.
    fn origin_allowed(&self, origin: &str, headers: &HeaderMap) -> bool {
        let origin = origin.to_ascii_lowercase();
        if let Origins::List(list) = &*self.origins {
            if list.contains(&origin) {
                return true;
            }
        } else {
            return true;
        }
        let Some(authority) = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
        else {
            // "null" (sandboxed frames, file: pages) and other schemes.
            return false;
        };
        let same_host = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.split(',').next())
                .is_some_and(|h| h.trim().eq_ignore_ascii_case(authority))
        };
        if same_host(header::HOST) || same_host(header::HeaderName::from_static("x-forwarded-host"))
        {
            return true;
        }
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        };
        host == "localhost"
            || host == "::1"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// Why a socket was not opened; answered instead of the upgrade.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 403.
    #[error("origin {0:?} may not open sockets; see USACTAR_CORS_ORIGINS")]
    ForeignOrigin(String),
    /// 503, with Retry-After.
    #[error("too many sockets open; retry later")]
    Full,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match self {
            Refusal::ForeignOrigin(_) => StatusCode::FORBIDDEN,
            Refusal::Full => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut r = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn origins_listed_same_or_loopback_pass_and_foreign_ones_do_not() {
        let a = Admission::new(&["https://front.example".into()], 10);
        let allowed = |pairs: &[(&'static str, &str)]| a.admit(&headers(pairs)).is_ok();
        assert!(allowed(&[]), "no Origin: not a browser");
        assert!(allowed(&[("origin", "https://front.example")]));
        assert!(allowed(&[("origin", "https://FRONT.example/")]));
        assert!(allowed(&[
            ("origin", "https://api.example"),
            ("host", "api.example")
        ]));
        assert!(allowed(&[
            ("origin", "https://usactar.example"),
            ("host", "read-api:8082"),
            ("x-forwarded-host", "usactar.example")
        ]));
        assert!(allowed(&[
            ("origin", "http://localhost:5173"),
            ("host", "read_api")
        ]));
        assert!(allowed(&[("origin", "http://127.0.0.1:8080")]));
        assert!(allowed(&[("origin", "http://[::1]:8080")]));
        assert!(!allowed(&[
            ("origin", "https://evil.example"),
            ("host", "api.example")
        ]));
        assert!(!allowed(&[("origin", "http://localhost.evil.example")]));
        assert!(!allowed(&[("origin", "null")]));
        let any = Admission::new(&["*".into()], 10);
        assert!(any
            .admit(&headers(&[("origin", "https://evil.example")]))
            .is_ok());
    }

    #[test]
    fn slots_run_out_and_come_back() {
        let a = Admission::new(&[], 2);
        let (one, _two) = (a.admit(&HeaderMap::new()), a.admit(&HeaderMap::new()));
        let third = a.admit(&HeaderMap::new()).unwrap_err();
        assert_eq!(
            third.into_response().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(one);
        assert!(a.admit(&HeaderMap::new()).is_ok());
    }
}
