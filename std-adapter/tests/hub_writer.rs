//! Writes made in the hub's own process (`Hub::writer`): published from
//! the writing thread to remote mirrors and local readers; the hub holds
//! the region's writer lock meanwhile, and remote writes still apply.

mod common;

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

use memwire_std::hub::WriterError;
use memwire_std::shm::{ShmError, ShmRegion, ShmWriter};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

const CONFIG: &str = r#"
root = "regions"
[listen]
tcp = "127.0.0.1:0"
[publish]
max_rate_hz = 0
[[tenant]]
name = "demo"
[[tenant.client]]
name = "rw"
secret = "s3cret"
rights = [{ regions = "*", access = "read-write" }]
[[tenant.region]]
name = "sensors"
variables = [
  { name = "temperature", kind = "f32" },
  { name = "count", kind = "u64" },
  { name = "setpoint", kind = "f32", writable = true },
]
[[tenant.region]]
name = "device"
publisher = "rw"
variables = [{ name = "led", kind = "bool", writable = true }]
"#;

/// The `step` fields of the `memwire::latency` events, with the thread
/// that emitted each.
#[derive(Clone, Default)]
struct Steps(Arc<Mutex<Vec<(ThreadId, String)>>>);

impl Steps {
    /// The steps `thread` emitted, in order.
    fn of(&self, thread: ThreadId) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(t, _)| *t == thread)
            .map(|(_, step)| step.clone())
            .collect()
    }
}

impl<S: tracing::Subscriber> Layer<S> for Steps {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct Step(Option<String>);
        impl Visit for Step {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "step" {
                    self.0 = Some(value.to_owned());
                }
            }
            fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
        }
        if event.metadata().target() != "memwire::latency" {
            return;
        }
        let mut step = Step(None);
        event.record(&mut step);
        if let Some(step) = step.0 {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((std::thread::current().id(), step));
        }
    }
}

/// The steps of every thread of this test binary, collected from before
/// any hub runs (the process-wide collector: a collector for one thread
/// only would miss the steps that other threads reached first, which
/// tracing then remembers as unwanted).
fn steps() -> &'static Steps {
    static STEPS: OnceLock<Steps> = OnceLock::new();
    STEPS.get_or_init(|| {
        let steps = Steps::default();
        let collector = tracing_subscriber::registry().with(steps.clone());
        tracing::subscriber::set_global_default(collector)
            .unwrap_or_else(|e| panic!("step collector: {e}"));
        steps
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_write_is_sent_by_the_writing_thread_and_wakes_local_readers() {
    steps();
    let dir = tempfile::tempdir().unwrap();
    let (hub, client, root) =
        common::hub_and_client(dir.path(), CONFIG, ("rw", "demo", "s3cret")).await;
    let writer = hub.writer("demo", "sensors").unwrap();
    let mirror = client.subscribe("demo/sensors").await.unwrap();
    let mut changes = mirror.changes();

    let reader = ShmRegion::open(&root, "demo/sensors").unwrap();
    let before = reader.generation().unwrap();
    let waiter = std::thread::spawn(move || {
        reader
            .wait_for_change(before, Some(Duration::from_secs(10)))
            .unwrap()
    });

    // The update must be scanned and written by the writing thread, not by
    // the hub's scanner thread or a connection's task.
    let write = {
        let writer = writer.clone();
        std::thread::spawn(move || {
            // Not writable by clients; the hub's process writes it anyway.
            let generation = writer.set_by_name("temperature", 3.5f32);
            (generation, std::thread::current().id())
        })
    };
    let (generation, thread) = write.join().unwrap();
    let generation = generation.unwrap();
    assert_eq!(
        steps().of(thread),
        ["scanned", "frames queued", "frames written"],
        "the writing thread's steps"
    );
    assert_eq!(waiter.join().unwrap(), Some(generation));

    let event = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.generation, generation);
    let names: Vec<&str> = event
        .variables
        .iter()
        .map(|v| mirror.schema().get(*v).unwrap().name.as_str())
        .collect();
    assert_eq!(names, ["temperature"]);
    assert_eq!(mirror.get::<f32>("temperature").unwrap(), 3.5);

    client.close().await;
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_writer_holds_the_region_and_remote_writes_still_apply() {
    steps();
    let dir = tempfile::tempdir().unwrap();
    let (hub, client, root) =
        common::hub_and_client(dir.path(), CONFIG, ("rw", "demo", "s3cret")).await;
    let reader = ShmRegion::open(&root, "demo/sensors").unwrap();

    // A local writer first: the hub cannot take the region.
    let local = ShmWriter::open(&root, "demo/sensors").unwrap();
    let busy = hub.writer("demo", "sensors");
    assert!(
        matches!(busy, Err(WriterError::Region(ShmError::WriterBusy { .. }))),
        "{busy:?}"
    );
    drop(local);

    // The hub's writer holds the region as long as a clone of it lives.
    let writer = hub.writer("demo", "sensors").unwrap();
    let clone = writer.clone();
    drop(writer);
    let busy = ShmWriter::open(&root, "demo/sensors");
    assert!(
        matches!(busy, Err(ShmError::WriterBusy { pid, .. }) if pid == std::process::id()),
        "{busy:?}"
    );
    let generation = clone.set_by_name("count", 3u64).unwrap();
    assert_eq!(reader.get_by_name::<u64>("count").unwrap(), 3);

    // Bad input changes nothing.
    let unknown = clone.set_by_name("nope", 1u64);
    assert!(matches!(unknown, Err(ShmError::Access(_))), "{unknown:?}");
    let wrong_len = clone.write(memwire::VarId(1), &[0; 4]);
    assert!(
        matches!(wrong_len, Err(ShmError::Access(_))),
        "{wrong_len:?}"
    );
    assert_eq!(
        reader.generation().unwrap(),
        generation,
        "nothing committed"
    );

    // Remote writes take turns with it inside the hub.
    let mirror = client.subscribe("demo/sensors").await.unwrap();
    let remote = mirror.set("setpoint", 21.5f32).await.unwrap();
    assert!(remote > generation);
    assert_eq!(reader.get_by_name::<f32>("setpoint").unwrap(), 21.5);

    drop(clone);
    let local = ShmWriter::open(&root, "demo/sensors").unwrap();
    local.set_by_name("count", 4u64).unwrap();
    drop(local);

    assert!(matches!(
        hub.writer("demo", "missing"),
        Err(WriterError::NotServed { .. })
    ));
    assert!(matches!(
        hub.writer("other", "sensors"),
        Err(WriterError::NotServed { .. })
    ));
    let published = hub.writer("demo", "device");
    assert!(
        matches!(&published, Err(WriterError::Published { publisher, .. }) if publisher == "rw"),
        "{published:?}"
    );
    client.close().await;
    hub.shutdown().await;
}
