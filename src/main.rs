//! The `siohub` binary: reads the configuration layers and serves the hub until SIGINT or
//! SIGTERM, then exits 0.

use clap::Parser;
use siohub::config::Settings;

/// siohub: a standalone Socket.IO hub.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML file layered over the embedded defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<String>,
    /// Port to listen on (overrides the file and the environment).
    #[arg(long)]
    port: Option<u16>,
    /// Address to listen on (overrides the file and the environment).
    #[arg(long)]
    host: Option<String>,
    /// Print the effective configuration (as JSON) and exit.
    #[arg(long)]
    print_config: bool,
}

fn main() {
    let cli = Cli::parse();
    let mut overrides = Vec::new();
    if let Some(port) = cli.port {
        overrides.push(("server.port", port.to_string()));
    }
    if let Some(host) = cli.host {
        overrides.push(("server.host", host));
    }
    let settings = match Settings::load(cli.config.as_deref(), &overrides) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("siohub: {e}");
            std::process::exit(2);
        }
    };
    if cli.print_config {
        match serde_json::to_string_pretty(&settings.masked()) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("siohub: {e}"),
        }
        return;
    }
    siohub::logging::init(&settings.logging);
    if let Err(e) = run(settings) {
        log::error!("siohub: {e}");
        std::process::exit(1);
    }
}

#[actix_web::main]
async fn run(settings: Settings) -> std::io::Result<()> {
    let state = siohub::server::engine_state(&settings, siohub::hub::application(&settings));
    let (server, addrs) = siohub::server::bind(&settings, state, false)?;
    for addr in &addrs {
        log::info!("siohub listening on http://{addr}{}", settings.server.path);
    }
    server.await?;
    log::info!("siohub stopped");
    Ok(())
}
