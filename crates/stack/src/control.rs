//! The control channel: the supervisor's API over HTTP on loopback, so that another process (an
//! experiment, a test, `curl`) can drive faults while `up` runs.
//!
//! | method | path | does |
//! |---|---|---|
//! | GET  | /processes | every process's status |
//! | GET  | /processes/{name} | one process's status |
//! | POST | /processes/{name}/kill | SIGKILL; the supervisor restarts it |
//! | POST | /processes/{name}/hold?for=10s | stop it, start it again after the duration |
//! | POST | /processes/{name}/restart | graceful stop, then start |
//! | POST | /shutdown | stop the whole stack |
//!
//! Any web page the user opens can send requests to 127.0.0.1, and DNS rebinding can make a
//! page's own host name resolve there; so every request must carry the stack's token
//! (`Authorization: Bearer <token>`, the token in `<state>/stack.json`, mode 0600), name the
//! loopback in its `Host`, and carry no `Origin` (browsers send one on every cross-site POST;
//! no client of this API is a browser). Anything else gets 401 or 403 and changes nothing.

use std::future::Future;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::process::ProcessStatus;
use crate::supervisor::Supervisor;
use crate::Error;

/// What the experiments need from a stack runner, in this process or another.
pub trait ProcessControl {
    fn statuses(&self) -> impl Future<Output = Result<Vec<ProcessStatus>, Error>> + Send;
    fn status(&self, name: &str) -> impl Future<Output = Result<ProcessStatus, Error>> + Send;
    /// Returns the pid that was killed.
    fn kill(&self, name: &str) -> impl Future<Output = Result<u32, Error>> + Send;
    fn hold(
        &self,
        name: &str,
        duration: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    fn restart(&self, name: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

impl ProcessControl for Supervisor {
    async fn statuses(&self) -> Result<Vec<ProcessStatus>, Error> {
        Ok(Supervisor::statuses(self))
    }
    async fn status(&self, name: &str) -> Result<ProcessStatus, Error> {
        Supervisor::status(self, name)
    }
    async fn kill(&self, name: &str) -> Result<u32, Error> {
        Supervisor::kill(self, name).await
    }
    async fn hold(&self, name: &str, duration: Duration) -> Result<(), Error> {
        Supervisor::hold(self, name, duration).await
    }
    async fn restart(&self, name: &str) -> Result<(), Error> {
        Supervisor::restart(self, name).await
    }
}

#[derive(Clone)]
struct ControlState {
    supervisor: Supervisor,
    shutdown: watch::Sender<bool>,
}

/// A new random token for the control channel: 32 bytes from the kernel, hex.
pub fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Who may call: the holder of `token`, naming the loopback at `port` as its host.
#[derive(Clone)]
struct Guard {
    token: std::sync::Arc<str>,
    port: u16,
}

async fn guard(State(g): State<Guard>, request: Request, next: Next) -> Response {
    let refuse = |status: StatusCode, why: &str| {
        (
            status,
            Json(ErrorBody {
                error: why.to_string(),
            }),
        )
            .into_response()
    };
    let headers = request.headers();
    if headers.contains_key(header::ORIGIN) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the control channel takes no requests from web pages (an Origin header was sent)",
        );
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let loopback = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|name| host == format!("{name}:{}", g.port));
    if !loopback {
        return refuse(
            StatusCode::FORBIDDEN,
            "the control channel answers only to its loopback address as Host",
        );
    }
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    use subtle::ConstantTimeEq;
    if !bool::from(offered.as_bytes().ct_eq(g.token.as_bytes())) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the control channel needs the token in <state>/stack.json (Authorization: Bearer <token>)",
        );
    }
    next.run(request).await
}

/// The control API's routes, for the holder of `token` on loopback port `port`. `shutdown` is
/// set to true when a client asks the stack to stop.
pub fn router(
    supervisor: Supervisor,
    shutdown: watch::Sender<bool>,
    token: &str,
    port: u16,
) -> Router {
    let guarded = Guard {
        token: token.into(),
        port,
    };
    Router::new()
        .route("/processes", get(list))
        .route("/processes/{name}", get(one))
        .route("/processes/{name}/kill", post(kill))
        .route("/processes/{name}/hold", post(hold))
        .route("/processes/{name}/restart", post(restart))
        .route("/shutdown", post(shutdown_stack))
        .with_state(ControlState {
            supervisor,
            shutdown,
        })
        .layer(middleware::from_fn_with_state(guarded, guard))
}

#[derive(Debug, Serialize, Deserialize)]
struct ErrorBody {
    error: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Killed {
    pid: u32,
}

#[derive(Debug, Deserialize)]
struct HoldQuery {
    #[serde(rename = "for")]
    duration: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = match &self {
            Error::UnknownProcess { .. } => StatusCode::NOT_FOUND,
            Error::NotRunning { .. } => StatusCode::CONFLICT,
            Error::InvalidDuration(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response()
    }
}

async fn list(State(s): State<ControlState>) -> Json<Vec<ProcessStatus>> {
    Json(s.supervisor.statuses())
}

async fn one(
    State(s): State<ControlState>,
    Path(name): Path<String>,
) -> Result<Json<ProcessStatus>, Error> {
    s.supervisor.status(&name).map(Json)
}

async fn kill(
    State(s): State<ControlState>,
    Path(name): Path<String>,
) -> Result<Json<Killed>, Error> {
    let pid = s.supervisor.kill(&name).await?;
    Ok(Json(Killed { pid }))
}

async fn hold(
    State(s): State<ControlState>,
    Path(name): Path<String>,
    Query(q): Query<HoldQuery>,
) -> Result<StatusCode, Error> {
    let duration = parse_duration(&q.duration)?;
    s.supervisor.hold(&name, duration).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart(
    State(s): State<ControlState>,
    Path(name): Path<String>,
) -> Result<StatusCode, Error> {
    s.supervisor.restart(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn shutdown_stack(State(s): State<ControlState>) -> StatusCode {
    let _ = s.shutdown.send(true);
    StatusCode::ACCEPTED
}

/// `10s`, `1m30s`, `500ms`: humantime's format, with a clear error.
pub fn parse_duration(text: &str) -> Result<Duration, Error> {
    humantime::parse_duration(text.trim())
        .map_err(|e| Error::InvalidDuration(format!("{text:?}: {e} (examples: 10s, 1m30s, 500ms)")))
}

/// A client of the control channel; implements [`ProcessControl`] like the in-process supervisor.
#[derive(Debug, Clone)]
pub struct ControlClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl ControlClient {
    /// `addr` is `host:port` of a running `experiments up`.
    pub fn new(addr: &str) -> Self {
        ControlClient {
            base: format!("http://{addr}"),
            token: None,
            http: reqwest::Client::builder()
                // A hold waits for a graceful stop, which may take a stop timeout.
                .timeout(Duration::from_secs(60))
                .build()
                .expect("a plain HTTP client builds"),
        }
    }

    /// Sends `token` (from the stack's `stack.json`) with every request.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    /// Asks the runner to stop the whole stack; returns at once.
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.call::<serde_json::Value>(self.http.post(format!("{}/shutdown", self.base)))
            .await
            .map(drop)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Error> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|e| Error::Control(format!("{}: {e}", self.base)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::Control(e.to_string()))?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|b| b.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            return Err(Error::Control(format!("{status}: {message}")));
        }
        // 202/204 carry no body; treat it as JSON null.
        let body: &[u8] = if body.is_empty() { b"null" } else { &body };
        serde_json::from_slice(body).map_err(|e| Error::Control(format!("bad answer: {e}")))
    }
}

impl ProcessControl for ControlClient {
    async fn statuses(&self) -> Result<Vec<ProcessStatus>, Error> {
        self.call(self.http.get(format!("{}/processes", self.base)))
            .await
    }
    async fn status(&self, name: &str) -> Result<ProcessStatus, Error> {
        self.call(self.http.get(format!("{}/processes/{name}", self.base)))
            .await
    }
    async fn kill(&self, name: &str) -> Result<u32, Error> {
        let killed: Killed = self
            .call(
                self.http
                    .post(format!("{}/processes/{name}/kill", self.base)),
            )
            .await?;
        Ok(killed.pid)
    }
    async fn hold(&self, name: &str, duration: Duration) -> Result<(), Error> {
        let text = humantime::format_duration(duration)
            .to_string()
            .replace(' ', "");
        self.call::<serde_json::Value>(
            self.http
                .post(format!("{}/processes/{name}/hold", self.base))
                .query(&[("for", text)]),
        )
        .await
        .map(drop)
    }
    async fn restart(&self, name: &str) -> Result<(), Error> {
        self.call::<serde_json::Value>(
            self.http
                .post(format!("{}/processes/{name}/restart", self.base)),
        )
        .await
        .map(drop)
    }
}
