//! What every page needs: the signed-in person (a session cookie, or off to the sign-in page), their tenants
//! and roles for the switcher, and the session's CSRF token for the page script's API writes.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::Role;
use crate::caller::{Caller, Principal};
use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in person on a page; anyone else is sent to the sign-in page (with the way back).
pub(crate) struct PageCaller(pub Caller);

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await {
            Ok(caller) => Ok(Self(caller)),
            Err(ApiError::Unauthenticated(_)) => {
                let back = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let encoded: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
                Err(Redirect::to(&format!("/login?next={encoded}")).into_response())
            }
            Err(other) => Err(super::error_page(other)),
        }
    }
}

/// A tenant in the switcher.
pub(crate) struct TenantLink {
    pub name: String,
    pub role: String,
    pub current: bool,
}

/// The page frame: who, where, and the CSRF token.
pub(crate) struct Chrome {
    pub who: String,
    pub platform_admin: bool,
    pub tenant: Option<String>,
    /// The caller's role in `tenant` ("platform admin" when only that).
    pub role: String,
    pub tenants: Vec<TenantLink>,
    pub csrf: String,
    /// Which part of the navigation is active.
    pub section: &'static str,
    /// The tenant's highest budget threshold crossed this month, said to everyone in the tenant.
    pub budget_banner: Option<String>,
}

impl Chrome {
    /// The frame for `caller` looking at `tenant` (if any).
    pub async fn new(state: &AppState, caller: &Caller, tenant: Option<&str>, section: &'static str) -> Self {
        let (who, platform_admin, mut tenants) = match &caller.principal {
            Principal::User { email, platform_admin, memberships, .. } => {
                let links = memberships
                    .iter()
                    .map(|(name, role)| TenantLink {
                        name: name.clone(),
                        role: role.as_str().to_owned(),
                        current: Some(name.as_str()) == tenant,
                    })
                    .collect::<Vec<_>>();
                (email.clone(), *platform_admin, links)
            }
            Principal::Token { name, tenant: token_tenant, role, .. } => (
                format!("token {name}"),
                false,
                vec![TenantLink { name: token_tenant.clone(), role: role.as_str().to_owned(), current: true }],
            ),
        };
        tenants.sort_by(|a, b| a.name.cmp(&b.name));
        let role = match tenant.and_then(|t| caller.tenant_role(t)) {
            Some(role) => role.as_str().to_owned(),
            None if platform_admin => "platform admin".to_owned(),
            None => String::new(),
        };
        let csrf = match caller.session {
            Some(session) => crate::caller::csrf_token(state, session).await.unwrap_or_default(),
            None => String::new(),
        };
        let budget_banner = match tenant {
            Some(tenant) => crate::store::budgets::alerts_this_month(&state.db, tenant, chrono::Utc::now())
                .await
                .ok()
                .and_then(|alerts| alerts.into_iter().next())
                .map(|alert| {
                    format!(
                        "{tenant} has {} {}% of its monthly budget of {:.2} USD: {:.2} spent, {:.2} projected this month.",
                        if alert.basis == "actual" { "spent" } else { "is on course to spend" },
                        alert.threshold,
                        alert.budget_usd,
                        alert.spent_usd,
                        alert.projected_usd
                    )
                }),
            None => None,
        };
        Self { who, platform_admin, tenant: tenant.map(str::to_owned), role, tenants, csrf, section, budget_banner }
    }

    /// Whether the caller may change environments in the current tenant.
    pub(crate) fn can_edit(&self, caller: &Caller) -> bool {
        self.tenant.as_deref().is_some_and(|t| caller.require(t, Role::Editor).is_ok())
    }
}
