//! Environment operations shared by the API, the pages and the reconciler: admission (defaults, validation,
//! preconditions) and the transactional writes that keep rows, the change log and events in step.

pub mod admission;
pub mod break_glass;
pub mod controller_log;
pub mod credentials;
mod guardrails;
pub mod jenkins_config;
pub mod writes;

use crate::domain::validation::FieldError;
use crate::store::StoreError;

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    #[error("tenant {0:?} not found")]
    TenantNotFound(String),
    #[error("jenkinsenvironment {name:?} not found in tenant {tenant:?}")]
    NotFound { tenant: String, name: String },
    #[error("jenkinsenvironment {name:?} already exists in tenant {tenant:?}")]
    AlreadyExists { tenant: String, name: String },
    #[error("{0}")]
    Conflict(String),
    #[error("tenant {tenant:?} would exceed its {quota} quota")]
    QuotaExceeded {
        quota: &'static str,
        limit: i64,
        used: i64,
        requested: i64,
        actor: String,
        actor_kind: crate::domain::actor::ActorKind,
        tenant: String,
    },
    #[error("the manifest is invalid")]
    Invalid(Vec<FieldError>),
    #[error(
        "tenant {tenant:?} changed {limit} environment specs in the last minute; try again in {retry_after_seconds} s"
    )]
    TooManyChanges { tenant: String, limit: i64, retry_after_seconds: i64 },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for OperationError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<sea_orm::DbErr> for OperationError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Store(error.into())
    }
}

pub(crate) use crate::store::changes::Committed;
