//! Logs, the same in every service: JSON through tracing, one object per line, each carrying the
//! service's name (`"service": "ingest"`) and the request span it was written in; one span per
//! HTTP request ([`http_layer`]) and per gRPC call ([`grpc_layer`]). The level comes from
//! `RUST_LOG` (default info).

use std::fmt::{self, Write as _};
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{HeaderMap, Request, Response};
use tower_http::classify::{GrpcErrorsAsFailures, ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnEos, OnResponse, TraceLayer};
use tracing::field::Empty;
use tracing::{Event, Span, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

const DEFAULT_FILTER: &str = "info,librdkafka=warn,rdkafka=warn";

/// Installs the JSON subscriber for `service` and logs "starting". Call once, first thing in
/// `main`.
pub fn init(service: &'static str) {
    // `init` also routes the `log` crate's records (rdkafka's) into tracing.
    subscriber(service, std::io::stdout).init();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting");
}

/// For tests: the same subscriber, installed only when `TEST_LOG` is set (tests are quiet
/// otherwise) and only once per test binary.
pub fn init_for_tests(service: &'static str) {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = subscriber(service, std::io::stdout).try_init();
    }
}

/// The subscriber [`init`] installs, writing to `writer`.
pub fn subscriber<W>(service: &'static str, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = format()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(JsonFields::new())
        .event_format(WithService::new(service, json))
        .with_writer(writer)
        .finish()
}

fn format() -> format::Format {
    format::Format::default()
}

/// Puts `"service":"<name>"` first in every JSON line the inner format writes. A field on each
/// event rather than a root span: spans do not follow work onto spawned tasks, a field does.
struct WithService<F> {
    field: String,
    inner: F,
}

impl<F> WithService<F> {
    fn new(service: &str, inner: F) -> Self {
        let name = serde_json_string(service);
        WithService {
            field: format!("\"service\":{name},"),
            inner,
        }
    }
}

/// `s` as a JSON string literal (service names are plain, but be exact anyway).
fn serde_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl<S, N, F> FormatEvent<S, N> for WithService<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => {
                writer.write_char('{')?;
                writer.write_str(&self.field)?;
                writer.write_str(rest)
            }
            None => writer.write_str(&line),
        }
    }
}

/// The span of one HTTP request: `http{method, route, path, status, latency_ms}`. `route` is the
/// route template (`/api/logs`), so it can be grouped; `status` and `latency_ms` are recorded
/// when the response starts, with a debug event "response".
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpSpans;

impl<B> MakeSpan<B> for HttpSpans {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str())
            .unwrap_or("unmatched");
        tracing::info_span!(
            "http",
            method = %request.method(),
            route,
            path = request.uri().path(),
            status = Empty,
            latency_ms = Empty,
        )
    }
}

impl<B> OnResponse<B> for HttpSpans {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        span.record("status", response.status().as_u16());
        span.record("latency_ms", millis(latency));
        tracing::debug!("response");
    }
}

/// The tower layer that gives each HTTP request its span; apply it to a router with
/// `.layer(http_layer())` (after the routes, so the route template is known).
pub type HttpTraceLayer =
    TraceLayer<SharedClassifier<ServerErrorsAsFailures>, HttpSpans, (), HttpSpans, (), (), ()>;

/// See [`HttpTraceLayer`]. Failures are not logged here: each service logs its own, with why.
pub fn http_layer() -> HttpTraceLayer {
    TraceLayer::new_for_http()
        .make_span_with(HttpSpans)
        .on_request(())
        .on_response(HttpSpans)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// The span of one gRPC call: `grpc{rpc, code, latency_ms}`. `rpc` is the method's path
/// (`/usactar.live.v1.LiveStore/ApplyBatch`); `code` is the gRPC status code, read from the
/// headers (an error answered at once) or the trailers (the usual end of a call).
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcSpans;

impl<B> MakeSpan<B> for GrpcSpans {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        tracing::info_span!(
            "grpc",
            rpc = request.uri().path(),
            code = Empty,
            latency_ms = Empty,
        )
    }
}

/// Records the `grpc-status` in `headers`, if any; whether there was one.
fn record_grpc_code(headers: &HeaderMap, span: &Span) -> bool {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok());
    if let Some(code) = code {
        span.record("code", code);
    }
    code.is_some()
}

impl<B> OnResponse<B> for GrpcSpans {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        span.record("latency_ms", millis(latency));
        // A status in the headers is a call answered at once (an error): there are no trailers
        // to wait for, so this is its end.
        if record_grpc_code(response.headers(), span) {
            tracing::debug!("call finished");
        }
    }
}

impl OnEos for GrpcSpans {
    fn on_eos(self, trailers: Option<&HeaderMap>, _stream_duration: Duration, span: &Span) {
        if trailers.is_some_and(|t| record_grpc_code(t, span)) {
            tracing::debug!("call finished");
        }
    }
}

/// The tower layer that gives each gRPC call its span: `Server::builder().layer(grpc_layer())`.
pub type GrpcTraceLayer =
    TraceLayer<SharedClassifier<GrpcErrorsAsFailures>, GrpcSpans, (), GrpcSpans, (), GrpcSpans, ()>;

/// See [`GrpcTraceLayer`].
pub fn grpc_layer() -> GrpcTraceLayer {
    TraceLayer::new_for_grpc()
        .make_span_with(GrpcSpans)
        .on_request(())
        .on_response(GrpcSpans)
        .on_body_chunk(())
        .on_eos(GrpcSpans)
        .on_failure(())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer that keeps every line, to read back what the subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<serde_json::Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
                .collect()
        }
    }

    #[tokio::test]
    async fn every_line_names_the_service_and_requests_have_spans() {
        use axum::routing::get;
        use tower::ServiceExt;

        let out = Captured::default();
        let _guard = tracing::subscriber::set_default(subscriber("svc-\"x\"", out.clone()));
        tracing::info!(n = 1, "outside any span");
        let app = axum::Router::new()
            .route(
                "/items/{id}",
                get(|| async {
                    tracing::warn!("inside a request");
                    "ok"
                }),
            )
            .layer(http_layer());
        let response = app
            .oneshot(
                Request::get("/items/7")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let lines = out.lines();
        assert!(lines.len() >= 2, "{lines:?}");
        for line in &lines {
            assert_eq!(line["service"], "svc-\"x\"", "{line}");
        }
        let inside = lines
            .iter()
            .find(|l| l["fields"]["message"] == "inside a request")
            .expect("the handler's line");
        assert_eq!(inside["span"]["name"], "http");
        assert_eq!(inside["span"]["method"], "GET");
        assert_eq!(inside["span"]["route"], "/items/{id}");
        assert_eq!(inside["span"]["path"], "/items/7");
    }

    #[test]
    fn service_names_are_json_strings() {
        assert_eq!(serde_json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }
}
