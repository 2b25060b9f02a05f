//! The `siohub` binary: reads the configuration layers and serves the hub until SIGINT or
//! SIGTERM, then drains (`/ready` 503, new connections refused, every client disconnected)
//! and exits 0 within `[shutdown] grace_s`. A second signal stops at once.

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

/// SIGTERM and SIGINT, listened for from creation on (so a signal that comes right after
/// the port opens is not lost to the default action).
struct ShutdownSignals {
    term: actix_rt::signal::unix::Signal,
    int: actix_rt::signal::unix::Signal,
}

impl ShutdownSignals {
    fn listen() -> std::io::Result<Self> {
        use actix_rt::signal::unix::{signal, SignalKind};
        Ok(ShutdownSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves on the next SIGTERM or SIGINT, with the signal's name.
    async fn next(&mut self) -> &'static str {
        futures::select! {
            _ = futures::FutureExt::fuse(self.term.recv()) => "SIGTERM",
            _ = futures::FutureExt::fuse(self.int.recv()) => "SIGINT",
        }
    }
}

#[actix_web::main]
async fn run(settings: Settings) -> std::io::Result<()> {
    let mut signals = ShutdownSignals::listen()?;
    let state =
        siohub::state::AppState::new(&settings, siohub::application::from_settings(&settings));
    let (server, addrs) = siohub::server::bind(&settings, state.clone(), false)?;
    for addr in &addrs {
        for (level, line) in siohub::ops::surfaces::startup_lines(&settings, *addr) {
            log::log!(level, "{line}");
        }
    }
    siohub::memory::spawn_trimmer();
    let handle = server.handle();
    let grace = std::time::Duration::from_secs(settings.shutdown.grace_s);
    actix_rt::spawn(async move {
        let first = signals.next().await;
        log::info!("siohub: {first}: draining within {} s", grace.as_secs());
        let drain = siohub::server::drain_and_stop(&state, handle.clone(), grace);
        futures::pin_mut!(drain);
        let second = signals.next();
        futures::pin_mut!(second);
        if let futures::future::Either::Right((signal, _)) =
            futures::future::select(drain, second).await
        {
            log::warn!("siohub: {signal} during the drain: stopping now");
            handle.stop(false).await;
        }
    });
    server.await?;
    log::info!("siohub stopped");
    Ok(())
}
