//! Export: the owning hub puts each of a region's updates on its `update`
//! key, answers `snapshot` queries with a resync cut from the region's
//! chunk-generation table, applies `write` queries, and holds the `owner`
//! liveliness token while the region serves a file.

use std::sync::Arc;

use memwire::codec::ErrorCode;
use memwire_std::hub::{Hub, Snapshot};
use memwire_std::schema::OwnedSchema;
use zenoh::Session;
use zenoh::query::Query;

use crate::error::Error;
use crate::keys::RegionKeys;
use crate::payload::{self, SnapshotReply, Update};

/// The update taking a copy holding `since` (the owner's instance and
/// generation) to `snapshot`: a delta when it can, else a full update.
pub(crate) fn cut(snapshot: &Snapshot, since: Option<(u64, u64)>) -> Update {
    let ranges =
        since.and_then(|(instance, generation)| snapshot.changed_since(instance, generation));
    Update::cut(
        snapshot.instance(),
        snapshot.schema().fingerprint(),
        since.map_or(0, |(_, g)| g),
        snapshot.generation(),
        snapshot.data(),
        ranges.as_deref(),
    )
}

/// Serves region `tenant/region` of `hub` on zenoh until aborted.
pub(crate) async fn run(
    hub: Arc<Hub>,
    session: Session,
    tenant: String,
    region: String,
) -> Result<(), Error> {
    let keys = RegionKeys::new(&tenant, &region);
    let feed = hub.feed(&tenant, &region)?;
    let publisher = session.declare_publisher(keys.update.clone()).await?;
    let snapshots = session.declare_queryable(keys.snapshot.clone()).await?;
    let writes = session.declare_queryable(keys.write.clone()).await?;
    let mut token = None;
    let mut last: Option<Snapshot> = None;
    loop {
        match feed.snapshot() {
            Some(now) => {
                if token.is_none() {
                    token = Some(
                        session
                            .liveliness()
                            .declare_token(keys.owner.clone())
                            .await?,
                    );
                    tracing::info!(region = %keys.owner, "exporting");
                }
                let moved = last.as_ref().map(|l| (l.instance(), l.generation()));
                if moved.is_some() && moved != Some((now.instance(), now.generation())) {
                    publisher.put(cut(&now, moved).encode()).await?;
                }
                last = Some(now);
            }
            None => {
                // The region serves no file: its mirrors keep their copy,
                // marked stale, until it serves one again.
                if token.take().is_some() {
                    tracing::info!(region = %keys.owner, "no file to export");
                }
                last = None;
            }
        }
        tokio::select! {
            () = feed.changed() => {}
            query = snapshots.recv_async() => {
                let Ok(query) = query else { return Ok(()) };
                answer_snapshot(&query, feed.snapshot()).await;
            }
            query = writes.recv_async() => {
                let Ok(query) = query else { return Ok(()) };
                let (hub, tenant, region) = (Arc::clone(&hub), tenant.clone(), region.clone());
                tokio::spawn(answer_write(query, hub, tenant, region));
            }
        }
    }
}

/// Answers a `snapshot` query from `snapshot`.
async fn answer_snapshot(query: &Query, snapshot: Option<Snapshot>) {
    let since =
        match payload::decode_since(&query.payload().map(|p| p.to_bytes()).unwrap_or_default()) {
            Ok(since) => since,
            Err(e) => {
                let _ = query.reply_err(e.to_string()).await;
                return;
            }
        };
    let Some(snapshot) = snapshot else {
        let _ = query.reply_err("the region serves no file").await;
        return;
    };
    let reply = SnapshotReply {
        schema: OwnedSchema::from_schema(snapshot.schema()),
        update: cut(&snapshot, since),
    };
    if let Err(e) = query.reply(query.key_expr().clone(), reply.encode()).await {
        tracing::debug!(error = %e, "a snapshot reply was not sent");
    }
}

/// Applies a `write` query and answers it with the outcome.
async fn answer_write(query: Query, hub: Arc<Hub>, tenant: String, region: String) {
    let bytes = query
        .payload()
        .map(|p| p.to_bytes().into_owned())
        .unwrap_or_default();
    let outcome = tokio::task::spawn_blocking(move || match payload::decode_write(&bytes) {
        Ok(ranges) => hub.apply_write(&tenant, &region, &ranges),
        Err(_) => Err((ErrorCode::Malformed, "the write's ranges are malformed")),
    })
    .await
    .unwrap_or(Err((ErrorCode::Other, "the write failed")));
    if let Err(e) = query
        .reply(query.key_expr().clone(), payload::encode_outcome(outcome))
        .await
    {
        tracing::debug!(error = %e, "a write's answer was not sent");
    }
}
