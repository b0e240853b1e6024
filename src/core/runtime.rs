//! The process-wide tokio runtime: async Redis I/O, and the awaitables Python gets, both run on it.
//!
//! Fork safety: a forked child has none of the parent's threads, so the parent's runtime is dead
//! weight there (its workers are gone; anything spawned on it would wait forever). Dropping it in
//! the child would be worse: its I/O driver shares the epoll instance with the parent, and
//! deregistering sockets there would pull them out from under the parent. So each process gets a
//! runtime of its own on first use, found by pid, and a parent's runtime is never dropped in a
//! child: it stays in a chain of [`ForkLocal`] nodes, untouched.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

/// A value per process: the one made in this process, created on first use after a fork. Values
/// made in ancestor processes are kept but never used or dropped here (they may hold sockets and
/// handles the parent still uses). Lock-free once set up (a few atomic loads per call), so a fork
/// that happens while another thread reads it cannot leave a lock held in the child.
pub struct ForkLocal<T> {
    head: OnceLock<Node<T>>,
}

struct Node<T> {
    pid: u32,
    value: T,
    next: OnceLock<Box<Node<T>>>,
}

impl<T> Node<T> {
    fn new(pid: u32, value: T) -> Self {
        Self {
            pid,
            value,
            next: OnceLock::new(),
        }
    }
}

impl<T> Default for ForkLocal<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ForkLocal<T> {
    pub const fn new() -> Self {
        Self {
            head: OnceLock::new(),
        }
    }

    /// This process's value, made with `make` if this process has none yet. Walks one node per
    /// fork generation (the chain holds only this process's ancestors).
    pub fn get_or_init(&self, make: impl Fn() -> T) -> &T {
        let pid = std::process::id();
        let mut node = self.head.get_or_init(|| Node::new(pid, make()));
        while node.pid != pid {
            node = node.next.get_or_init(|| Box::new(Node::new(pid, make())));
        }
        &node.value
    }
}

impl<T> Drop for ForkLocal<T> {
    fn drop(&mut self) {
        let pid = std::process::id();
        let mut next = self.head.take().map(Box::new);
        while let Some(node) = next {
            let Node {
                pid: owner,
                value,
                next: after,
            } = *node;
            if owner == pid {
                drop(value);
            } else {
                // Made in an ancestor: dropping it here could close or deregister what the
                // ancestor still uses. A small, bounded leak per fork instead.
                std::mem::forget(value);
            }
            next = after.into_inner();
        }
    }
}

fn build() -> Runtime {
    // Two workers match the small hosts web apps run on; the Python side can never block them,
    // since no worker ever waits on the GIL.
    let workers = std::env::var("KEYSEAL_IO_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)));
    Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("keyseal-io")
        .enable_all()
        .build()
        .expect("failed to start the keyseal I/O runtime")
}

static RUNTIME: ForkLocal<Runtime> = ForkLocal::new();

/// This process's runtime (a fresh one in a forked child).
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(build)
}

/// Run `fut` to completion from blocking code. Inside a runtime worker (a Python callback that an
/// async method runs, calling a blocking method) a nested `block_on` would panic: there the
/// worker is handed over to blocking work first.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| runtime().block_on(fut))
        }
        _ => runtime().block_on(fut),
    }
}

/// Run blocking work (a Python callback, which may wait for the GIL or call blocking methods) from
/// wherever we are: on a runtime worker, the worker's other tasks move elsewhere meanwhile.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_process() {
        let cell: ForkLocal<u32> = ForkLocal::new();
        let made = std::sync::atomic::AtomicU32::new(0);
        let make = || made.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 10;
        assert_eq!(*cell.get_or_init(make), 10);
        assert_eq!(*cell.get_or_init(make), 10);
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn nested_block_on_inside_a_worker_works() {
        let got = runtime()
            .block_on(async { tokio::spawn(async { block_on(async { 7 }) }).await.unwrap() });
        assert_eq!(got, 7);
    }
}
