//! The JSON API routes.

mod environments;
mod health;
mod respond;
mod watch;

use super::routes::RouteTable;

/// Collection path of JenkinsEnvironments in a tenant.
pub const ENVIRONMENTS: &str = "/api/v1/tenants/{tenant}/jenkinsenvironments";
/// One JenkinsEnvironment.
pub const ENVIRONMENT: &str = "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}";

/// Registers every API route.
pub fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/healthz", health::get_healthz)
        .get("/readyz", health::get_readyz)
        .get(ENVIRONMENTS, environments::list_environments)
        .post(ENVIRONMENTS, environments::create_environment)
        .get(ENVIRONMENT, environments::get_environment)
        .put(ENVIRONMENT, environments::replace_environment)
        .patch(ENVIRONMENT, environments::patch_environment)
        .delete(ENVIRONMENT, environments::delete_environment)
        .get("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/status", environments::get_environment_status)
        .get("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/events", environments::list_environment_events)
}
