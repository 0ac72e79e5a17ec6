//! The ingest process: settings from the environment, then [`ingest::startup::Application`] until
//! SIGTERM.

use ingest::configuration::Settings;
use ingest::startup::Application;
use service_kit::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("ingest");
    let settings = Settings::from_env(&ProcessEnv)?;
    let shutdown = service_kit::shutdown::on_signal();
    Application::build(settings, shutdown)
        .await?
        .run_until_stopped()
        .await
}
