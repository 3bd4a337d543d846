//! The JSON API routes.

mod audit_log;
mod auth;
mod cloud_profiles;
mod controller_log;
mod costs;
mod credentials;
mod environments;
mod health;
mod invitations;
mod jenkins_config;
mod members;
mod metrics;
mod oidc;
mod respond;
mod sign_in;
mod tenants;
mod tokens;
mod users;
mod watch;

use super::routes::RouteTable;

/// Collection path of JenkinsEnvironments in a tenant.
pub(crate) const ENVIRONMENTS: &str = "/api/v1/tenants/{tenant}/jenkinsenvironments";
/// One JenkinsEnvironment.
pub(crate) const ENVIRONMENT: &str = "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}";

/// One credential of a JenkinsEnvironment.
pub(crate) const CREDENTIAL: &str = "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/credentials/{id}";

/// Registers every API route.
pub fn routes(table: RouteTable) -> RouteTable {
    table
        .get("/healthz", health::get_healthz)
        .get("/.well-known/openid-configuration", oidc::get_openid_configuration)
        .get("/oauth2/jwks", oidc::get_jwks)
        .post("/oauth2/token", oidc::post_token)
        .get("/oauth2/userinfo", oidc::get_userinfo)
        .get("/readyz", health::get_readyz)
        .get("/metrics", metrics::get_metrics)
        .get(ENVIRONMENTS, environments::list_environments)
        .post(ENVIRONMENTS, environments::create_environment)
        .get(ENVIRONMENT, environments::get_environment)
        .put(ENVIRONMENT, environments::replace_environment)
        .patch(ENVIRONMENT, environments::patch_environment)
        .delete(ENVIRONMENT, environments::delete_environment)
        .get("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/status", environments::get_environment)
        .get("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/events", environments::list_environment_events)
        .get("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/jenkins-config", jenkins_config::get_jenkins_config)
        .get("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/controller-log", controller_log::get_controller_log)
        .get("/casc/{uid}/jenkins.yaml", jenkins_config::get_controller_casc)
        .get("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/credentials", credentials::list_credentials)
        .get(CREDENTIAL, credentials::get_credential)
        .put(CREDENTIAL, credentials::put_credential)
        .delete(CREDENTIAL, credentials::delete_credential)
        .post("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/rotate-oidc-secret", sign_in::rotate_oidc_secret)
        .post(
            "/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/reveal-admin-password",
            sign_in::reveal_admin_password,
        )
        .post("/api/v1/auth/token", auth::create_token)
        .post("/api/v1/auth/session", auth::create_session)
        .delete("/api/v1/auth/session", auth::delete_session)
        .get("/api/v1/me", auth::get_me)
        .get("/api/v1/tenants", tenants::list_tenants)
        .post("/api/v1/tenants", tenants::create_tenant)
        .get("/api/v1/tenants/{tenant}", tenants::get_tenant)
        .patch("/api/v1/tenants/{tenant}", tenants::update_tenant)
        .get("/api/v1/tenants/{tenant}/members", members::list_members)
        .post("/api/v1/tenants/{tenant}/members", invitations::invite_member)
        .get("/api/v1/tenants/{tenant}/invitations", invitations::list_invitations)
        .delete("/api/v1/tenants/{tenant}/invitations/{email}", invitations::withdraw_invitation)
        .get("/api/v1/me/invitations", invitations::my_invitations)
        .post("/api/v1/me/invitations/{tenant}", invitations::accept_invitation)
        .put("/api/v1/tenants/{tenant}/members/{user_id}", members::update_member)
        .delete("/api/v1/tenants/{tenant}/members/{user_id}", members::remove_member)
        .get("/api/v1/tenants/{tenant}/tokens", tokens::list_tokens)
        .post("/api/v1/tenants/{tenant}/tokens", tokens::create_token)
        .delete("/api/v1/tenants/{tenant}/tokens/{token_id}", tokens::revoke_token)
        .get("/api/v1/users", users::list_users)
        .post("/api/v1/users", users::create_user)
        .get("/api/v1/users/{user_id}", users::get_user)
        .patch("/api/v1/users/{user_id}", users::update_user)
        .get("/api/v1/audit", audit_log::list_audit)
        .get("/api/v1/costs", costs::get_costs)
        .get("/api/v1/prices", costs::get_prices)
        .get("/api/v1/tenants/{tenant}/budget", costs::get_budget)
        .put("/api/v1/tenants/{tenant}/budget", costs::put_budget)
        .put("/api/v1/prices", costs::put_prices)
        .get("/api/v1/cloudprofiles", cloud_profiles::list_cloud_profiles)
        .get("/api/v1/cloudprofiles/{name}", cloud_profiles::get_cloud_profile)
        .put("/api/v1/cloudprofiles/{name}", cloud_profiles::put_cloud_profile)
        .delete("/api/v1/cloudprofiles/{name}", cloud_profiles::delete_cloud_profile)
}
