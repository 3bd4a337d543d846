//! Cloud profiles: stored as given; the reconciler adds the namespace id it created or found.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromJsonQueryResult, FromQueryResult, Statement};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::guardrails::Guardrails;
use crate::domain::ingress::Ingress;
use crate::domain::proxy::HttpProxy;

/// A profile's subnets: read from its `jsonb` column as a list of ids, or the read fails (corrupt data is an
/// error, never "no subnets").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
#[serde(transparent)]
pub struct SubnetIds(pub Vec<String>);

/// A stored profile.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ProfileRow {
    pub name: String,
    pub region: String,
    pub vpc_id: String,
    pub subnet_ids: SubnetIds,
    pub role_arn: Option<String>,
    pub ami_id: Option<String>,
    pub namespace_name: String,
    pub namespace_id: Option<String>,
    /// The profile's guard rails as stored (`{}`: Butler's defaults); see `guardrails()`.
    pub guardrails: serde_json::Value,
    /// What the reconciler last found about the subnets' way to the internet (see `ProfileEgress`).
    pub egress: Option<serde_json::Value>,
    /// The HTTP proxy the controller goes out through, if the subnets have no NAT (see `proxy()`).
    pub proxy: Option<serde_json::Value>,
    /// The shared HTTPS load balancers its environments are reached through, if any (see `ingress()`).
    pub ingress: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a platform admin sets.
#[derive(Debug, Clone)]
pub struct ProfileInput<'a> {
    pub region: &'a str,
    pub vpc_id: &'a str,
    pub subnet_ids: &'a [String],
    pub role_arn: Option<&'a str>,
    pub ami_id: Option<&'a str>,
    pub namespace_name: &'a str,
    pub guardrails: &'a Guardrails,
    pub proxy: Option<&'a HttpProxy>,
    pub ingress: Option<&'a Ingress>,
}

const COLUMNS: &str =
    "name, region, vpc_id, subnet_ids, role_arn, ami_id, namespace_name, namespace_id, guardrails, egress, \
     proxy, ingress, created_at, updated_at";

/// Creates or replaces a profile; returns it and whether it was new. A changed namespace name or VPC forgets
/// the namespace id (the reconciler finds or creates the right one).
pub async fn upsert(
    db: &impl ConnectionTrait,
    name: &str,
    input: &ProfileInput<'_>,
) -> Result<(ProfileRow, bool), StoreError> {
    #[derive(FromQueryResult)]
    struct Upserted {
        inserted: bool,
    }
    let sql = format!(
        r#"WITH upserted AS (
               INSERT INTO cloud_profiles (name, region, vpc_id, subnet_ids, role_arn, ami_id, namespace_name,
                                           guardrails, proxy, ingress)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (name) DO UPDATE SET
                   region = excluded.region, vpc_id = excluded.vpc_id, subnet_ids = excluded.subnet_ids,
                   role_arn = excluded.role_arn, ami_id = excluded.ami_id, namespace_name = excluded.namespace_name,
                   guardrails = excluded.guardrails, proxy = excluded.proxy, ingress = excluded.ingress,
                   egress = CASE WHEN cloud_profiles.vpc_id = excluded.vpc_id
                                  AND cloud_profiles.subnet_ids = excluded.subnet_ids
                                  AND cloud_profiles.region = excluded.region
                             THEN cloud_profiles.egress END,
                   namespace_id = CASE
                       WHEN cloud_profiles.namespace_name = excluded.namespace_name
                        AND cloud_profiles.vpc_id = excluded.vpc_id
                        AND cloud_profiles.region = excluded.region
                       THEN cloud_profiles.namespace_id END,
                   updated_at = now()
               RETURNING {COLUMNS}, (xmax = 0) AS inserted)
           SELECT * FROM upserted"#
    );
    let values = vec![
        name.into(),
        input.region.into(),
        input.vpc_id.into(),
        serde_json::json!(input.subnet_ids).into(),
        input.role_arn.map(str::to_owned).into(),
        input.ami_id.map(str::to_owned).into(),
        input.namespace_name.into(),
        serde_json::to_value(input.guardrails).map_err(StoreError::Corrupt)?.into(),
        input.proxy.map(serde_json::to_value).transpose().map_err(StoreError::Corrupt)?.into(),
        input.ingress.map(serde_json::to_value).transpose().map_err(StoreError::Corrupt)?.into(),
    ];
    let statement = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    let row = db.query_one(statement).await?.ok_or(StoreError::NotFound)?;
    let profile = ProfileRow::from_query_result(&row, "")?;
    let inserted = Upserted::from_query_result(&row, "")?.inserted;
    Ok((profile, inserted))
}

/// Whether the profile's subnets reach the internet, as last checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileEgress {
    pub ok: bool,
    /// Subnet by subnet, what its default route leads to.
    pub detail: String,
    pub checked_at: DateTime<Utc>,
}

/// Records what the reconciler found about the profile's egress.
pub(crate) async fn set_egress(
    db: &impl ConnectionTrait,
    name: &str,
    egress: &ProfileEgress,
) -> Result<(), StoreError> {
    let value = serde_json::to_value(egress).map_err(StoreError::Corrupt)?;
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE cloud_profiles SET egress = $2 WHERE name = $1",
        [name.into(), value.into()],
    ))
    .await?;
    Ok(())
}

impl ProfileRow {
    /// The profile's HTTP proxy, if it has one (and it is readable).
    pub fn proxy(&self) -> Option<HttpProxy> {
        self.proxy.clone().and_then(|value| serde_json::from_value(value).ok())
    }

    /// The profile's ingress, if it has one (and it is readable: a stored value that no longer parses is no
    /// ingress, which the environment page says).
    pub fn ingress(&self) -> Option<Ingress> {
        self.ingress.clone().and_then(|value| serde_json::from_value(value).ok())
    }

    /// The last egress check, if any (and readable).
    pub fn egress(&self) -> Option<ProfileEgress> {
        self.egress.clone().and_then(|value| serde_json::from_value(value).ok())
    }

    /// The guard rails, Butler's defaults filling in what the profile leaves out. A stored value that no longer
    /// parses falls back to the defaults (the strictest reading), never to "anything goes".
    pub fn guardrails(&self) -> Guardrails {
        serde_json::from_value(self.guardrails.clone()).unwrap_or_default()
    }
}

/// One profile.
pub async fn find(db: &impl ConnectionTrait, name: &str) -> Result<Option<ProfileRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM cloud_profiles WHERE name = $1");
    Ok(ProfileRow::find_by_statement(Statement::from_sql_and_values(DbBackend::Postgres, sql, [name.into()]))
        .one(db)
        .await?)
}

/// Every profile by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<ProfileRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM cloud_profiles ORDER BY name");
    Ok(ProfileRow::find_by_statement(Statement::from_string(DbBackend::Postgres, sql)).all(db).await?)
}

/// Records the shared Cloud Map namespace's id once the reconciler has it.
pub(crate) async fn set_namespace_id(
    db: &impl ConnectionTrait,
    name: &str,
    namespace_id: &str,
) -> Result<(), StoreError> {
    db.execute(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE cloud_profiles SET namespace_id = $2 WHERE name = $1",
        [name.into(), namespace_id.into()],
    ))
    .await?;
    Ok(())
}

/// Deletes a profile no tenant uses; `Conflict` names the tenants that still do.
pub async fn delete(db: &impl ConnectionTrait, name: &str) -> Result<bool, StoreError> {
    #[derive(FromQueryResult)]
    struct User {
        name: String,
    }
    let users = User::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT name FROM tenants WHERE cloud_profile = $1 ORDER BY name LIMIT 5",
        [name.into()],
    ))
    .all(db)
    .await?;
    if !users.is_empty() {
        let names: Vec<String> = users.into_iter().map(|u| u.name).collect();
        return Err(StoreError::Conflict(format!("cloud profile {name:?} is used by tenants {}", names.join(", "))));
    }
    let result = db
        .execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM cloud_profiles WHERE name = $1",
            [name.into()],
        ))
        .await?;
    Ok(result.rows_affected() > 0)
}
