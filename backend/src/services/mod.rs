//! Use cases: every write of every resource kind, each in one transaction with its audit entry, and the effects
//! that must follow a commit (this process's cache and watches see an environment's change at once; every
//! process drops its cached identities when users, memberships, tokens or invitations change) applied in one
//! place, `Write::commit`. Handlers and pages check the request, call one of these, and render the answer.

pub mod costs;
pub mod credentials;
pub mod environments;
pub mod identity;
pub mod oidc;
pub mod profiles;
pub mod refusals;
pub mod sign_in;
pub mod tenants;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};

use crate::auth::cache::IdentityCache;
use crate::feed::Feed;
use crate::store::audit::{self, AuditEntry};
use crate::store::StoreError;

/// What the use cases need: the database and the process-wide things a commit must reach.
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub feed: Arc<Feed>,
    pub identity: Arc<IdentityCache>,
}

/// What has to happen after a commit besides the commit itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Nothing,
    /// Users, memberships, tokens or invitations changed: cached identities go (this process at once, the
    /// others by the NOTIFY the store sends).
    IdentityChanged,
}

/// A failed use case: what the caller did wrong in words, or the store's failure with its cause.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Store(error.into())
    }
}

/// One transaction of a use case: its writes, then `commit` with the audit entry and the effect.
pub struct Write<'a> {
    services: &'a Services,
    txn: DatabaseTransaction,
}

impl Services {
    /// Starts a write.
    pub async fn begin(&self) -> Result<Write<'_>, ServiceError> {
        Ok(Write { services: self, txn: self.db.begin().await? })
    }
}

impl Write<'_> {
    /// The transaction the writes go into.
    pub(crate) fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Appends the audit entry in the same transaction, commits, then applies the effect.
    pub async fn commit(self, entry: &AuditEntry<'_>, effect: Effect) -> Result<(), ServiceError> {
        audit::append(&self.txn, entry).await?;
        self.txn.commit().await?;
        match effect {
            Effect::Nothing => {}
            Effect::IdentityChanged => self.services.identity.clear(),
        }
        Ok(())
    }
}

/// Maps a store's `AlreadyExists` to the use case's words.
fn taken(message: impl FnOnce() -> String) -> impl FnOnce(StoreError) -> ServiceError {
    move |error| match error {
        StoreError::AlreadyExists => ServiceError::AlreadyExists(message()),
        other => other.into(),
    }
}
