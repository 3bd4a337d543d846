//! Tenants: create, find, list, quotas and their usage.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};
use uuid::Uuid;

use super::entity::tenant;
use super::StoreError;

/// What a new tenant gets.
#[derive(Debug, Clone)]
pub struct NewTenant<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub max_environments: i32,
    pub max_instances: i32,
    pub cloud_profile: &'a str,
}

impl<'a> NewTenant<'a> {
    /// A tenant with the schema's default quotas and the `default` cloud profile.
    pub fn with_defaults(name: &'a str, display_name: &'a str) -> Self {
        Self { name, display_name, max_environments: 20, max_instances: 100, cloud_profile: "default" }
    }
}

/// Creates a tenant; `AlreadyExists` when the name is taken.
pub async fn insert(db: &impl ConnectionTrait, new: &NewTenant<'_>) -> Result<tenant::Model, StoreError> {
    let model = tenant::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(new.name.to_owned()),
        display_name: Set(new.display_name.to_owned()),
        created_at: Set(Utc::now().fixed_offset()),
        max_environments: Set(new.max_environments),
        max_instances: Set(new.max_instances),
        cloud_profile: Set(new.cloud_profile.to_owned()),
    };
    Ok(model.insert(db).await?)
}

/// Creates a tenant with default quotas; `AlreadyExists` when the name is taken.
pub async fn create(db: &impl ConnectionTrait, name: &str, display_name: &str) -> Result<tenant::Model, StoreError> {
    insert(db, &NewTenant::with_defaults(name, display_name)).await
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

/// Looks a tenant up and locks it until the transaction ends: writes that check quotas go one at a time.
pub(crate) async fn find_for_update(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<tenant::Model>, StoreError> {
    Ok(tenant::Entity::find().filter(tenant::Column::Name.eq(name)).lock_exclusive().one(db).await?)
}

/// Every tenant, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<tenant::Model>, StoreError> {
    Ok(tenant::Entity::find().order_by_asc(tenant::Column::Name).all(db).await?)
}

/// The named tenants, by name.
pub(crate) async fn list_named(db: &impl ConnectionTrait, names: &[String]) -> Result<Vec<tenant::Model>, StoreError> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::Name.is_in(names.iter().cloned()))
        .order_by_asc(tenant::Column::Name)
        .all(db)
        .await?)
}

/// Changes what is given.
pub async fn update(
    db: &impl ConnectionTrait,
    name: &str,
    display_name: Option<&str>,
    max_environments: Option<i32>,
    max_instances: Option<i32>,
    cloud_profile: Option<&str>,
) -> Result<Option<tenant::Model>, StoreError> {
    let Some(current) = find_for_update(db, name).await? else { return Ok(None) };
    let mut model: tenant::ActiveModel = current.into();
    if let Some(value) = display_name {
        model.display_name = Set(value.to_owned());
    }
    if let Some(value) = max_environments {
        model.max_environments = Set(value);
    }
    if let Some(value) = max_instances {
        model.max_instances = Set(value);
    }
    if let Some(value) = cloud_profile {
        model.cloud_profile = Set(value.to_owned());
    }
    Ok(Some(model.update(db).await?))
}

/// What a tenant uses of its quotas.
#[derive(Debug, Clone, Copy, Default, FromQueryResult, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub environments: i64,
    /// The sum of `spec.capacity.max` over the tenant's environments.
    pub instances: i64,
}

/// A tenant with its quotas and how many environments it has.
#[derive(Debug, Clone, FromQueryResult)]
pub(crate) struct TenantWithUsage {
    pub name: String,
    pub display_name: String,
    pub cloud_profile: String,
    pub max_environments: i32,
    pub max_instances: i32,
    pub environments: i64,
}

/// Every tenant with its environment count, in one query (the platform admin's tenants page).
pub(crate) async fn list_with_usage(db: &impl ConnectionTrait) -> Result<Vec<TenantWithUsage>, StoreError> {
    Ok(TenantWithUsage::find_by_statement(Statement::from_string(
        DbBackend::Postgres,
        // Counting rows uses the (tenant, name) index; summing each spec's capacity would read every
        // environment's JSON (the quota page of one tenant shows that).
        "SELECT t.name, t.display_name, t.cloud_profile, t.max_environments, t.max_instances, \
                coalesce(u.environments, 0)::bigint AS environments \
         FROM tenants t LEFT JOIN ( \
             SELECT tenant, count(*) AS environments FROM jenkins_environments GROUP BY tenant) u ON u.tenant = t.name \
         ORDER BY t.name",
    ))
    .all(db)
    .await?)
}

/// Usage now (inside a transaction holding the tenant lock, exact).
pub async fn usage(db: &impl ConnectionTrait, name: &str) -> Result<Usage, StoreError> {
    let row = Usage::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT count(*) AS environments, coalesce(sum((spec -> 'capacity' ->> 'max')::bigint), 0)::bigint AS instances \
         FROM jenkins_environments WHERE tenant = $1",
        [name.into()],
    ))
    .one(db)
    .await?;
    Ok(row.unwrap_or_default())
}
