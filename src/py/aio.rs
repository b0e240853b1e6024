//! Awaitables backed by tokio tasks, completed on the asyncio loop in batches.
//!
//! A general bridge that takes the GIL on a tokio worker to resolve every Python future costs a
//! GIL hand-off per completion (the loop thread holds the GIL while it runs), which caps throughput
//! at a few thousand awaits per second. Here a worker never touches Python: it queues the result
//! and, if the queue was empty, writes one byte to a socket the loop watches (`add_reader`). The
//! loop then resolves every queued future in one pass under the GIL it already holds.

use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::core::runtime::runtime;

type Convert = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;
/// Finished work waiting for the loop: the future and what resolves it.
type Queue = Vec<(Py<PyAny>, Convert)>;
/// Work started on the loop since its last turn, not yet handed to the runtime.
type Outbox = Vec<BoxFuture<'static, ()>>;

struct Pipe {
    wake: UnixStream,
    watch: UnixStream,
}

struct Inner {
    /// `None` once the bridge is closed (its loop closed): completions are then dropped.
    queue: Mutex<Option<Queue>>,
    /// The socket pair; closed with the bridge, even while tasks still hold this `Inner`.
    pipe: Mutex<Option<Pipe>>,
    /// Handing a task to the runtime from outside it wakes a parked worker, which on a small VM
    /// costs the loop thread tens of microseconds when awaits are spread out (a web request
    /// between each). The first await of a turn of the loop goes straight to the runtime (no
    /// added latency) and schedules `flush` with `call_soon`; the others of the same turn wait
    /// here (`Some`) and are handed over together by `flush`: one wake-up per turn, not per await.
    outbox: Mutex<Option<Outbox>>,
}

impl Inner {
    fn complete(&self, future: Py<PyAny>, convert: Convert) {
        let item = (future, convert);
        let was_empty = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            match q.as_mut() {
                Some(q) => {
                    q.push(item);
                    q.len() == 1
                }
                // The loop is gone: nobody will await this. Dropped outside the lock (a Python
                // reference dropped without the GIL is released at the next GIL hand-over).
                None => {
                    drop(q);
                    drop(item);
                    return;
                }
            }
        };
        if was_empty {
            if let Some(p) = self.pipe.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                // Non-blocking: a full socket buffer already means a wake-up is pending.
                let _ = (&p.wake).write(&[1]);
            }
        }
    }
}

/// One per event loop; created by `keyseal._aio`, which registers `drain` with `loop.add_reader`.
#[pyclass(frozen, module = "keyseal._native", name = "_LoopBridge")]
pub struct LoopBridge {
    inner: Arc<Inner>,
}

#[pymethods]
impl LoopBridge {
    #[new]
    fn py_new() -> PyResult<Self> {
        let (wake, watch) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        watch.set_nonblocking(true)?;
        Ok(Self {
            inner: Arc::new(Inner {
                queue: Mutex::new(Some(Vec::new())),
                pipe: Mutex::new(Some(Pipe { wake, watch })),
                outbox: Mutex::new(None),
            }),
        })
    }

    /// The descriptor the loop watches (-1 once closed).
    fn fileno(&self) -> i32 {
        self.inner
            .pipe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(-1, |p| p.watch.as_raw_fd())
    }

    /// Let go of everything: called for a loop that was closed. Pending futures are dropped (they
    /// hold the loop, which would otherwise never be freed), the socket pair is closed, and later
    /// completions are discarded.
    fn close(&self, py: Python<'_>) {
        let pending = self
            .inner
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let pipe = self
            .inner
            .pipe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let unsent = self
            .inner
            .outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(pipe);
        // Dropped with the GIL held, so the futures and their loop go now.
        let _ = py;
        drop(pending);
        drop(unsent);
    }

    /// Resolve every finished future. Runs on the loop's thread.
    fn drain(&self, py: Python<'_>) -> PyResult<()> {
        // Empty the socket before taking the queue: a completion queued after this point either
        // lands in the batch we take or writes a fresh byte that wakes us again.
        let mut buf = [0u8; 256];
        if let Some(p) = self
            .inner
            .pipe
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            while matches!((&p.watch).read(&mut buf), Ok(n) if n > 0) {}
        }
        let batch = self
            .inner
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        // Every future of the batch gets its result, whatever happens to the others: an error here
        // is reported once, after the loop.
        let mut first_error = None;
        for (future, convert) in batch {
            if let Err(e) = resolve(py, future.bind(py), convert) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Hand the work collected during this turn of the loop to the runtime, at once.
    fn flush(&self) {
        let tasks = self
            .inner
            .outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_default();
        match tasks.len() {
            0 => {}
            1 => {
                runtime().spawn(tasks.into_iter().next().expect("one task"));
            }
            // Spawned from a worker, the rest go to its local queue (others steal them) instead
            // of each waking a parked worker.
            _ => {
                runtime().spawn(async move {
                    for t in tasks {
                        tokio::spawn(t);
                    }
                });
            }
        }
    }
}

/// Resolve one future with what `convert` makes of the result. A conversion that panics resolves
/// the future with the panic as an exception instead of unwinding into the event loop.
fn resolve(py: Python<'_>, future: &Bound<'_, PyAny>, convert: Convert) -> PyResult<()> {
    // A cancelled await leaves a done future: drop the result.
    if future
        .call_method0(pyo3::intern!(py, "done"))?
        .is_truthy()?
    {
        return Ok(());
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| convert(py)))
        .unwrap_or_else(|p| Err(panic_error(p)));
    match result {
        Ok(value) => future.call_method1(pyo3::intern!(py, "set_result"), (value,))?,
        Err(err) => {
            future.call_method1(pyo3::intern!(py, "set_exception"), (err.into_value(py),))?
        }
    };
    Ok(())
}

/// A panic caught at the boundary, as the exception PyO3 raises for one in a blocking call.
fn panic_error(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    pyo3::panic::PanicException::new_err(format!("keyseal internal error: {what}"))
}

/// Start `work` on the runtime and return an asyncio future that `convert` resolves.
pub fn spawn<'py, F, T, C>(py: Python<'py>, work: F, convert: C) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    static PREPARE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let prepare = PREPARE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("keyseal._aio")?.getattr("prepare")?.unbind())
    })?;
    let (bridge, future): (Bound<'py, LoopBridge>, Bound<'py, PyAny>) =
        prepare.bind(py).call0()?.extract()?;
    let inner = bridge.get().inner.clone();
    let handle = future.clone().unbind();
    let task = async move {
        // A panic in the work would otherwise end the task silently and leave the awaitable
        // pending forever.
        let output = std::panic::AssertUnwindSafe(work).catch_unwind().await;
        inner.complete(
            handle,
            Box::new(move |py| match output {
                Ok(value) => convert(py, value),
                Err(p) => Err(panic_error(p)),
            }),
        );
    }
    .boxed();
    let first = {
        let mut out = bridge
            .get()
            .inner
            .outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match out.as_mut() {
            Some(batch) => {
                batch.push(task);
                None
            }
            None => {
                *out = Some(Vec::new());
                Some(task)
            }
        }
    };
    if let Some(task) = first {
        runtime().spawn(task);
        let flush = bridge.getattr(pyo3::intern!(py, "flush"))?;
        future
            .call_method0(pyo3::intern!(py, "get_loop"))?
            .call_method1(pyo3::intern!(py, "call_soon"), (flush,))?;
    }
    Ok(future)
}
