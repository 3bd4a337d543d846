//! Entity for `environment_changes`, the log behind watch.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "environment_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource_version: i64,
    pub tenant: String,
    pub name: String,
    pub change_type: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub object: Json,
    pub recorded_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
