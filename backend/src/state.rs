//! `AppState`: the one typed state every handler extracts.

use std::ops::Deref;
use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::feed::Feed;

/// Cheap to clone; shared by every request.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What `AppState` holds.
pub struct Inner {
    pub db: DatabaseConnection,
    pub config: Config,
    pub feed: Arc<Feed>,
    /// Cancelled on SIGTERM: long-lived responses (watch streams) end so shutdown can complete.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(db: DatabaseConnection, config: Config, feed: Arc<Feed>, shutdown: CancellationToken) -> Self {
        Self(Arc::new(Inner { db, config, feed, shutdown }))
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
