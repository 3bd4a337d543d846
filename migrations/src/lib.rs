//! Butler's schema migrations: one change per file, each with a working `down`.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_tenants;
mod m20261123_000002_create_jenkins_environments;
mod m20261123_000003_create_environment_events;
mod m20261123_000004_create_environment_changes;
mod m20261123_000005_create_identity;
mod m20261123_000006_create_audit_log;
mod m20261123_000007_add_queue_fairness;
mod m20261123_000008_create_cloud_profiles;
mod m20261201_000009_create_costs;
mod m20261205_000010_end_credentials_with_access;
mod m20261205_000011_add_profile_guardrails;
mod m20261205_000012_create_tenant_invitations;
mod m20261205_000013_add_profile_egress;
mod m20261205_000014_add_profile_proxy;
mod m20261205_000015_create_load_balancer_pool;
mod m20261205_000016_create_oidc_provider;
mod m20261205_000017_create_credentials_and_controller_tokens;

/// The ordered list of every migration Butler has ever shipped.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tenants::Migration),
            Box::new(m20261123_000002_create_jenkins_environments::Migration),
            Box::new(m20261123_000003_create_environment_events::Migration),
            Box::new(m20261123_000004_create_environment_changes::Migration),
            Box::new(m20261123_000005_create_identity::Migration),
            Box::new(m20261123_000006_create_audit_log::Migration),
            Box::new(m20261123_000007_add_queue_fairness::Migration),
            Box::new(m20261123_000008_create_cloud_profiles::Migration),
            Box::new(m20261201_000009_create_costs::Migration),
            Box::new(m20261205_000010_end_credentials_with_access::Migration),
            Box::new(m20261205_000011_add_profile_guardrails::Migration),
            Box::new(m20261205_000012_create_tenant_invitations::Migration),
            Box::new(m20261205_000013_add_profile_egress::Migration),
            Box::new(m20261205_000014_add_profile_proxy::Migration),
            Box::new(m20261205_000015_create_load_balancer_pool::Migration),
            Box::new(m20261205_000016_create_oidc_provider::Migration),
            Box::new(m20261205_000017_create_credentials_and_controller_tokens::Migration),
        ]
    }
}
