//! read-api: thin on purpose; everything testable lives in the library.

use read_api::configuration::Settings;
use read_api::startup::Application;
use service_kit::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("read-api");
    let settings = Settings::from_env(&ProcessEnv)?;
    let shutdown = service_kit::shutdown::on_signal();
    Application::build(settings, shutdown)
        .await?
        .run_until_stopped()
        .await
}
