//! Environment events: recorded with de-duplication (a repeat bumps `count` and `last_seen`), listed newest first.

use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement};
use uuid::Uuid;

use super::entity::environment_event;
use super::StoreError;
use crate::domain::object::{EnvironmentEvent, EventType};

/// Longest message kept; longer ones are cut (the dedup key is the whole message).
const MAX_MESSAGE_CHARS: usize = 1024;

/// Records an event for an environment, folding it into an identical earlier one.
pub async fn record(
    db: &impl ConnectionTrait,
    environment_uid: Uuid,
    tenant: &str,
    event_type: EventType,
    reason: &str,
    message: &str,
) -> Result<(), StoreError> {
    let message: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        r#"INSERT INTO environment_events (environment_uid, tenant, event_type, reason, message)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (environment_uid, event_type, reason, message)
           DO UPDATE SET count = environment_events.count + 1, last_seen = now()"#,
        [environment_uid.into(), tenant.into(), event_type.as_str().into(), reason.into(), message.into()],
    ))
    .await?;
    Ok(())
}

/// The environment's events, most recent first.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: &str,
    environment_uid: Uuid,
    limit: u64,
) -> Result<Vec<EnvironmentEvent>, StoreError> {
    let rows = environment_event::Entity::find()
        .filter(environment_event::Column::Tenant.eq(tenant))
        .filter(environment_event::Column::EnvironmentUid.eq(environment_uid))
        .order_by_desc(environment_event::Column::LastSeen)
        .order_by_desc(environment_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| EnvironmentEvent {
            event_type: row.event_type,
            reason: row.reason,
            message: row.message,
            count: row.count,
            first_seen: row.first_seen.to_utc(),
            last_seen: row.last_seen.to_utc(),
        })
        .collect())
}
