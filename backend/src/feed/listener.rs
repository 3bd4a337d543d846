//! The LISTEN loop: snapshot, then follow the change log on NOTIFY (and a short poll, in case a notification
//! is lost while the connection is re-established).

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::{ChangeEvent, Feed};
use crate::auth::cache::{self as identity_cache, IdentityCache};
use crate::domain::object::JenkinsEnvironment;
use crate::store::changes::{self, CHANNEL};
use crate::store::environments;

/// How often the log is read even without a notification.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Changes read per query while catching up.
const CATCH_UP_BATCH: u64 = 500;

/// Runs until `shutdown`, reconnecting after errors.
pub async fn run(feed: Arc<Feed>, identity: Arc<IdentityCache>, db: DatabaseConnection, shutdown: CancellationToken) {
    loop {
        match follow(&feed, &identity, &db, &shutdown).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "change feed interrupted; reconnecting");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

async fn follow(
    feed: &Feed,
    identity: &IdentityCache,
    db: &DatabaseConnection,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
    // Listen before reading, so nothing committed after the snapshot goes unannounced.
    listener.listen_all([CHANNEL, identity_cache::CHANNEL]).await?;
    // Identity changes may have been missed while disconnected.
    identity.clear();
    if !feed.is_ready() {
        reload(feed, db).await?;
    }
    catch_up(feed, db).await?;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            notification = listener.try_recv() => match notification? {
                Some(notification) if notification.channel() == identity_cache::CHANNEL => {
                    identity.clear();
                    continue;
                }
                Some(_) => {}
                // The connection dropped and was re-established: notifications may be lost.
                None => identity.clear(),
            },
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        catch_up(feed, db).await?;
    }
}

async fn reload(feed: &Feed, db: &DatabaseConnection) -> anyhow::Result<()> {
    let (head, objects) = environments::snapshot_all(db).await?;
    tracing::info!(environments = objects.len(), resource_version = head, "environment cache loaded");
    feed.load_snapshot(head, objects);
    Ok(())
}

/// Applies every change after the feed's head, in order.
async fn catch_up(feed: &Feed, db: &DatabaseConnection) -> anyhow::Result<()> {
    loop {
        let head = feed.head();
        let rows = changes::since(db, head, None, CATCH_UP_BATCH).await?;
        // Compaction removed changes this process never saw: start again from a snapshot.
        if rows.first().is_some_and(|first| first.resource_version > head + 1)
            && changes::compacted_through(db).await? > head
        {
            reload(feed, db).await?;
            continue;
        }
        let count = rows.len() as u64;
        for row in rows {
            let object: JenkinsEnvironment = serde_json::from_value(row.object)?;
            feed.apply_logged(ChangeEvent::new(row.resource_version, row.change_type, &object));
        }
        if count < CATCH_UP_BATCH {
            return Ok(());
        }
    }
}
