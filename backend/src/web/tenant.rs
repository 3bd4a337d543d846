//! Tenant admin pages: members and their roles, API tokens (made through the API, shown once by the page
//! script), quotas and usage.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::chrome::{Chrome, PageCaller};
use super::{error_page, render};
use crate::auth::Role;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::api_tokens::TokenRow;
use crate::store::invitations::InvitationRow;
use crate::store::users::MemberRow;
use crate::store::{api_tokens, invitations, tenants, users};

/// The tenant admin pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/members", get(members))
        .route("/t/{tenant}/tokens", get(tokens))
        .route("/t/{tenant}/quotas", get(quotas))
}

#[derive(Template)]
#[template(path = "tenant/members.html")]
struct MembersPage {
    chrome: Chrome,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
}

async fn members(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Path(tenant): Path<String>,
) -> Response {
    if let Err(error) = caller.require(&tenant, Role::Admin) {
        return error_page(error);
    }
    let loaded = async {
        Ok::<_, crate::store::StoreError>((
            users::members(&state.db, &tenant).await?,
            invitations::of_tenant(&state.db, &tenant).await?,
        ))
    };
    match loaded.await {
        Ok((members, invitations)) => {
            let chrome = Chrome::new(&state, &caller, Some(&tenant), "members").await;
            render(&MembersPage { chrome, members, invitations })
        }
        Err(error) => error_page(error.into()),
    }
}

#[derive(Template)]
#[template(path = "tenant/tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<TokenRow>,
}

async fn tokens(State(state): State<AppState>, PageCaller(caller): PageCaller, Path(tenant): Path<String>) -> Response {
    if let Err(error) = caller.require(&tenant, Role::Admin) {
        return error_page(error);
    }
    match api_tokens::list(&state.db, &tenant).await {
        Ok(tokens) => {
            let chrome = Chrome::new(&state, &caller, Some(&tenant), "tokens").await;
            render(&TokensPage { chrome, tokens })
        }
        Err(error) => error_page(error.into()),
    }
}

#[derive(Template)]
#[template(path = "tenant/quotas.html")]
struct QuotasPage {
    chrome: Chrome,
    max_environments: i32,
    max_instances: i32,
    environments: i64,
    instances: i64,
    cloud_profile: String,
}

async fn quotas(State(state): State<AppState>, PageCaller(caller): PageCaller, Path(tenant): Path<String>) -> Response {
    if let Err(error) = caller.require(&tenant, Role::Admin) {
        return error_page(error);
    }
    let result = async {
        let row = tenants::find(&state.db, &tenant)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("tenant {tenant:?} not found")))?;
        let usage = tenants::usage(&state.db, &tenant).await?;
        Ok::<_, ApiError>((row, usage))
    }
    .await;
    match result {
        Ok((row, usage)) => {
            let chrome = Chrome::new(&state, &caller, Some(&tenant), "quotas").await;
            render(&QuotasPage {
                chrome,
                max_environments: row.max_environments,
                max_instances: row.max_instances,
                environments: usage.environments,
                instances: usage.instances,
                cloud_profile: row.cloud_profile,
            })
        }
        Err(error) => error_page(error),
    }
}
