//! JenkinsEnvironment rows: conversion to the API object, lookups, keyset-paginated lists, row writes.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    AccessMode, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, IsolationLevel, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use uuid::Uuid;

use super::changes;
use super::entity::jenkins_environment::{self, Model};
use super::StoreError;
use crate::domain::labels::LabelSelector;
use crate::domain::object::{JenkinsEnvironment, JenkinsEnvironmentStatus, ObjectMeta};
use crate::domain::{API_VERSION, KIND};

/// The current time at the database's precision (microseconds), so an object built in memory and the same
/// object read back from a row serialize identically.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Builds the API object from a row.
pub(crate) fn to_object(row: &Model) -> Result<JenkinsEnvironment, StoreError> {
    let labels: BTreeMap<String, String> = parse(&row.labels)?;
    let annotations: BTreeMap<String, String> = parse(&row.annotations)?;
    let finalizers: Vec<String> = parse(&row.finalizers)?;
    let status: JenkinsEnvironmentStatus = parse(&row.status)?;
    Ok(JenkinsEnvironment {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        metadata: ObjectMeta {
            tenant: row.tenant.clone(),
            name: row.name.clone(),
            uid: row.uid,
            generation: row.generation,
            resource_version: row.resource_version.to_string(),
            labels,
            annotations,
            finalizers,
            creation_timestamp: row.creation_timestamp.to_utc(),
            deletion_timestamp: row.deletion_timestamp.map(|t| t.to_utc()),
        },
        spec: parse(&row.spec)?,
        status,
    })
}

/// Writes the API object's fields into a row model, keeping the queue columns of `base`.
pub(crate) fn to_row(object: &JenkinsEnvironment, base: Option<&Model>) -> Result<Model, StoreError> {
    let resource_version = object
        .metadata
        .resource_version
        .parse()
        .map_err(|_| StoreError::Conflict(format!("resourceVersion {:?}", object.metadata.resource_version)))?;
    Ok(Model {
        uid: object.metadata.uid,
        tenant: object.metadata.tenant.clone(),
        name: object.metadata.name.clone(),
        generation: object.metadata.generation,
        resource_version,
        labels: json(&object.metadata.labels)?,
        annotations: json(&object.metadata.annotations)?,
        finalizers: json(&object.metadata.finalizers)?,
        creation_timestamp: object.metadata.creation_timestamp.fixed_offset(),
        deletion_timestamp: object.metadata.deletion_timestamp.map(|t| t.fixed_offset()),
        spec: json(&object.spec)?,
        status: json(&object.status)?,
        next_reconcile_at: base.map_or_else(|| now().fixed_offset(), |b| b.next_reconcile_at),
        lease_owner: base.and_then(|b| b.lease_owner.clone()),
        lease_expires_at: base.and_then(|b| b.lease_expires_at),
        attempts: base.map_or(0, |b| b.attempts),
        last_claimed_at: base.and_then(|b| b.last_claimed_at),
    })
}

fn parse<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<T, StoreError> {
    T::deserialize(value).map_err(StoreError::Corrupt)
}

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(StoreError::Corrupt)
}

/// Finds one environment.
pub async fn find(db: &impl ConnectionTrait, tenant: &str, name: &str) -> Result<Option<Model>, StoreError> {
    Ok(jenkins_environment::Entity::find()
        .filter(jenkins_environment::Column::Tenant.eq(tenant))
        .filter(jenkins_environment::Column::Name.eq(name))
        .one(db)
        .await?)
}

/// Finds one environment and locks its row until the transaction ends.
pub(crate) async fn find_for_update(
    db: &impl ConnectionTrait,
    tenant: &str,
    name: &str,
) -> Result<Option<Model>, StoreError> {
    Ok(jenkins_environment::Entity::find()
        .filter(jenkins_environment::Column::Tenant.eq(tenant))
        .filter(jenkins_environment::Column::Name.eq(name))
        .lock_exclusive()
        .one(db)
        .await?)
}

/// Inserts a new row; `AlreadyExists` when the name is taken in the tenant.
pub async fn insert(db: &impl ConnectionTrait, row: Model) -> Result<(), StoreError> {
    jenkins_environment::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

/// Overwrites every column of an existing row.
pub async fn update(db: &impl ConnectionTrait, row: Model) -> Result<(), StoreError> {
    // into_active_model marks fields Unchanged; reset_all marks them Set so the UPDATE writes every column.
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// Removes a row (its events go with it).
pub async fn delete(db: &impl ConnectionTrait, uid: Uuid) -> Result<(), StoreError> {
    jenkins_environment::Entity::delete_by_id(uid).exec(db).await?;
    Ok(())
}

/// One page of a list.
pub struct ListPage {
    pub items: Vec<JenkinsEnvironment>,
    /// The snapshot's resourceVersion: a watch from here sees every later change.
    pub resource_version: i64,
    /// The last name of this page when more follow.
    pub more_after: Option<String>,
}

/// Lists a tenant's environments by name after `after`, filtered by labels, in one consistent snapshot.
pub async fn list(
    db: &DatabaseConnection,
    tenant: &str,
    selector: &LabelSelector,
    after: Option<&str>,
    limit: u64,
) -> Result<ListPage, StoreError> {
    let (conditions, selector_values) = selector.to_sql(4);
    let sql = format!(
        "SELECT * FROM jenkins_environments WHERE tenant = $1 AND name > $2 AND {conditions} ORDER BY name LIMIT $3"
    );
    let mut values: Vec<sea_orm::Value> = vec![tenant.into(), after.unwrap_or("").into(), (limit + 1).into()];
    values.extend(selector_values.into_iter().map(sea_orm::Value::from));
    // Repeatable read: the rows and the resourceVersion come from one snapshot.
    let txn = db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?;
    let resource_version = changes::head(&txn).await?;
    let mut rows = jenkins_environment::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .all(&txn)
        .await?;
    txn.commit().await?;
    let more_after = if rows.len() as u64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|row| row.name.clone())
    } else {
        None
    };
    let items = rows.iter().map(to_object).collect::<Result<_, _>>()?;
    Ok(ListPage { items, resource_version, more_after })
}

/// Every environment of every tenant with the snapshot's resourceVersion: the cache's starting point.
pub(crate) async fn snapshot_all(db: &DatabaseConnection) -> Result<(i64, Vec<JenkinsEnvironment>), StoreError> {
    let txn = db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?;
    let head = changes::head(&txn).await?;
    let rows = jenkins_environment::Entity::find()
        .order_by_asc(jenkins_environment::Column::Tenant)
        .order_by_asc(jenkins_environment::Column::Name)
        .all(&txn)
        .await?;
    txn.commit().await?;
    let objects = rows.iter().map(to_object).collect::<Result<_, _>>()?;
    Ok((head, objects))
}

/// Every environment of the tenants on cloud profile `profile` (the content check's batched look needs their
/// recorded names).
pub(crate) async fn in_profile(
    db: &impl ConnectionTrait,
    profile: &str,
) -> Result<Vec<JenkinsEnvironment>, StoreError> {
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT * FROM jenkins_environments WHERE tenant IN (SELECT name FROM tenants WHERE cloud_profile = $1)",
        [profile.into()],
    );
    let rows = jenkins_environment::Entity::find().from_raw_sql(statement).all(db).await?;
    rows.iter().map(to_object).collect()
}

/// The name and spec of every environment of a tenant (the budget's projection reads them).
pub(crate) async fn specs_of(
    db: &impl ConnectionTrait,
    tenant: &str,
) -> Result<Vec<(String, crate::domain::spec::JenkinsEnvironmentSpec)>, StoreError> {
    let rows = jenkins_environment::Entity::find()
        .filter(jenkins_environment::Column::Tenant.eq(tenant))
        .select_only()
        .column(jenkins_environment::Column::Name)
        .column(jenkins_environment::Column::Spec)
        .into_tuple::<(String, serde_json::Value)>()
        .all(db)
        .await?;
    rows.into_iter().map(|(name, spec)| Ok((name, parse(&spec)?))).collect()
}
