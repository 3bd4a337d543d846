//! Platform admin pages: tenants (create, quotas, cloud profile), users, cloud profiles, and the audit log with
//! filters. Each costs a fixed number of queries, whatever the number of rows.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::chrome::{Chrome, PageCaller};
use super::{error_page, render};
use crate::state::AppState;
use crate::store::audit::{AuditFilter, AuditRow};
use crate::store::cloud_profiles::ProfileRow;
use crate::store::tenants::TenantWithUsage;
use crate::store::users::UserRow;
use crate::store::{audit, cloud_profiles, users};

/// The platform admin pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/tenants", get(tenants))
        .route("/admin/users", get(users_page))
        .route("/admin/cloudprofiles", get(profiles))
        .route("/admin/audit", get(audit_page))
}

#[derive(Template)]
#[template(path = "admin/tenants.html")]
struct TenantsPage {
    chrome: Chrome,
    tenants: Vec<TenantWithUsage>,
    profiles: Vec<String>,
}

async fn tenants(State(state): State<AppState>, PageCaller(caller): PageCaller) -> Response {
    if let Err(error) = caller.require_platform_admin() {
        return error_page(error);
    }
    let result = async {
        let rows = crate::store::tenants::list_with_usage(&state.db).await?;
        let profiles = cloud_profiles::list(&state.db).await?.into_iter().map(|p| p.name).collect();
        Ok::<_, crate::store::StoreError>((rows, profiles))
    }
    .await;
    match result {
        Ok((tenants, profiles)) => {
            let chrome = Chrome::new(&state, &caller, None, "admin-tenants").await;
            render(&TenantsPage { chrome, tenants, profiles })
        }
        Err(error) => error_page(error.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
}

async fn users_page(State(state): State<AppState>, PageCaller(caller): PageCaller) -> Response {
    if let Err(error) = caller.require_platform_admin() {
        return error_page(error);
    }
    match users::list(&state.db, "", 500).await {
        Ok(users) => {
            let chrome = Chrome::new(&state, &caller, None, "admin-users").await;
            render(&UsersPage { chrome, users })
        }
        Err(error) => error_page(error.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/profiles.html")]
struct ProfilesPage {
    chrome: Chrome,
    profiles: Vec<ProfileRow>,
}

impl ProfilesPage {
    fn subnets(profile: &ProfileRow) -> String {
        profile.subnet_ids.0.join(", ")
    }
}

async fn profiles(State(state): State<AppState>, PageCaller(caller): PageCaller) -> Response {
    if let Err(error) = caller.require_platform_admin() {
        return error_page(error);
    }
    match cloud_profiles::list(&state.db).await {
        Ok(profiles) => {
            let chrome = Chrome::new(&state, &caller, None, "admin-profiles").await;
            render(&ProfilesPage { chrome, profiles })
        }
        Err(error) => error_page(error.into()),
    }
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    tenant: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<AuditRow>,
    tenant: String,
    actor: String,
    action: String,
    next_before: Option<i64>,
}

/// Audit entries a page shows.
const AUDIT_ROWS: u64 = 100;

async fn audit_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(query): Query<AuditQuery>,
) -> Response {
    if let Err(error) = caller.require_platform_admin() {
        return error_page(error);
    }
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let filter = AuditFilter {
        tenant: non_empty(&query.tenant),
        actor: non_empty(&query.actor),
        action: non_empty(&query.action),
        since: None,
        until: None,
        before_id: query.before,
        limit: AUDIT_ROWS,
    };
    match audit::list(&state.db, &filter).await {
        Ok(entries) => {
            let next_before = (entries.len() as u64 == AUDIT_ROWS).then(|| entries.last().map(|e| e.id)).flatten();
            let chrome = Chrome::new(&state, &caller, None, "admin-audit").await;
            render(&AuditPage {
                chrome,
                entries,
                tenant: query.tenant.unwrap_or_default(),
                actor: query.actor.unwrap_or_default(),
                action: query.action.unwrap_or_default(),
                next_before,
            })
        }
        Err(error) => error_page(error.into()),
    }
}
