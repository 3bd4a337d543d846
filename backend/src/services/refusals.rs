//! Refused requests in the audit log: written on their own (there is no other write to join), by the
//! middleware that sees the refusal.

use super::{ServiceError, Services};
use crate::store::audit::{self, AuditEntry};

/// Records one refused request.
pub async fn record(services: &Services, entry: &AuditEntry<'_>) -> Result<(), ServiceError> {
    Ok(audit::append(&services.db, entry).await?)
}
