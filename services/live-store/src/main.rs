use live_store::configuration::Config;
use live_store::startup::Application;
use service_kit::config::ProcessEnv;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_kit::telemetry::init("live-store");
    let config = Config::from_env(&ProcessEnv)?;
    let shutdown = service_kit::shutdown::on_signal();
    Application::build(config, shutdown).await?.run().await
}
