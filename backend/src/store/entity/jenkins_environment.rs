//! Entity for `jenkins_environments`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jenkins_environments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub uid: Uuid,
    pub tenant: String,
    pub name: String,
    pub generation: i64,
    pub resource_version: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub labels: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub annotations: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub finalizers: Json,
    pub creation_timestamp: DateTimeWithTimeZone,
    pub deletion_timestamp: Option<DateTimeWithTimeZone>,
    #[sea_orm(column_type = "JsonBinary")]
    pub spec: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub status: Json,
    pub next_reconcile_at: DateTimeWithTimeZone,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeWithTimeZone>,
    pub attempts: i32,
    pub last_claimed_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
