//! The process-wide tokio runtime: async Redis I/O, and the awaitables Python gets, both run on it.

use std::sync::LazyLock;

use tokio::runtime::{Builder, Runtime};

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    // Two workers match the small hosts web apps run on; the Python side can never block them,
    // since no worker ever waits on the GIL.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("keyseal-io")
        .enable_all()
        .build()
        .expect("failed to start the keyseal I/O runtime")
});

pub fn runtime() -> &'static Runtime {
    &RUNTIME
}
