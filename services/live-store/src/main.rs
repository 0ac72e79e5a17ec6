//! The live-store process: settings from the environment, then [`live_store::startup::Application`]
//! until SIGTERM.

use live_store::configuration::Settings;
use live_store::startup::Application;
use service_kit::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("live-store");
    let settings = Settings::from_env(&ProcessEnv)?;
    let shutdown = service_kit::shutdown::on_signal();
    Application::build(settings, shutdown)
        .await?
        .run_until_stopped()
        .await
}
