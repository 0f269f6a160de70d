//! tracing-subscriber, filtered by RUST_LOG, each line stamped with simulated time (the
//! node comes from madsim's per-node span).

use std::fmt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

struct SimulatedTime;

impl FormatTime for SimulatedTime {
    fn format_time(&self, writer: &mut Writer<'_>) -> fmt::Result {
        match madsim::time::TimeHandle::try_current() {
            Some(time) => write!(writer, "t={:>9.3}s", time.elapsed().as_secs_f64()),
            None => write!(writer, "t=        -"),
        }
    }
}

/// Installs the subscriber only when RUST_LOG asks for logs: an idle subscriber still
/// pays for every span madsim opens around every task poll.
pub fn init() {
    let Ok(filter) = EnvFilter::try_from_default_env() else { return };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(SimulatedTime)
        .with_writer(std::io::stderr)
        .try_init();
}
