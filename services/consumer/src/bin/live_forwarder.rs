//! live-forwarder: group `live` → gRPC ApplyBatch → live-store (across the cluster boundary).

use consumer::configuration::{Role, Settings};
use consumer::startup::Application;
use service_kit::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let role = Role::LiveForwarder;
    service_kit::telemetry::init(role.name());
    let settings = Settings::from_env(&ProcessEnv, role)?;
    let shutdown = service_kit::shutdown::on_signal();
    Application::build(settings, shutdown)
        .await?
        .run_until_stopped()
        .await
}
