//! Tenants: create, find, list.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use super::entity::tenant;
use super::StoreError;

/// Creates a tenant; `AlreadyExists` when the name is taken.
pub async fn create(db: &impl ConnectionTrait, name: &str, display_name: &str) -> Result<tenant::Model, StoreError> {
    let model = tenant::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name.to_owned()),
        display_name: Set(display_name.to_owned()),
        created_at: Set(Utc::now().fixed_offset()),
    };
    Ok(model.insert(db).await?)
}

/// Creates the tenant unless it exists; returns it either way.
pub async fn ensure(db: &impl ConnectionTrait, name: &str, display_name: &str) -> Result<tenant::Model, StoreError> {
    if let Some(existing) = find(db, name).await? {
        return Ok(existing);
    }
    match create(db, name, display_name).await {
        Err(StoreError::AlreadyExists) => find(db, name).await?.ok_or(StoreError::NotFound),
        other => other,
    }
}

/// Looks a tenant up by name.
pub async fn find(db: &impl ConnectionTrait, name: &str) -> Result<Option<tenant::Model>, StoreError> {
    Ok(tenant::Entity::find().filter(tenant::Column::Name.eq(name)).one(db).await?)
}

/// Every tenant, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<tenant::Model>, StoreError> {
    Ok(tenant::Entity::find().order_by_asc(tenant::Column::Name).all(db).await?)
}
