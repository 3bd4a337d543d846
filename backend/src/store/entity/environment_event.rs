//! Entity for `environment_events`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "environment_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub environment_uid: Uuid,
    pub tenant: String,
    pub event_type: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
    pub first_seen: DateTimeWithTimeZone,
    pub last_seen: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
