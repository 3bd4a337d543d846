//! `GET /api/v1/costs` (JSON or CSV): platform admins see every tenant, tenant admins their own.
//! `GET|PUT /api/v1/prices`: the effective price list, and a platform admin's import laid over it.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::respond;
use crate::auth::Role;
use crate::caller::Caller;
use crate::domain::prices::PriceList;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::services;
use crate::state::AppState;
use crate::store::budgets;
use crate::store::cost_report;
use crate::store::costs;

/// The longest period one report covers.
const MAX_DAYS: i64 = 400;

/// `?from=&to=&tenant=&format=`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CostQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    tenant: Option<String>,
    format: Option<String>,
}

/// `GET /api/v1/costs`
pub(crate) async fn get_costs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CostQuery>,
) -> Result<Response, ApiError> {
    match &query.tenant {
        Some(tenant) => caller.require(tenant, Role::Admin)?,
        None => caller.require_platform_admin()?,
    }
    let now = Utc::now();
    let to = query.to.unwrap_or(now);
    let from = query.from.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(ApiError::invalid_field("from", "must be before to"));
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(ApiError::invalid_field("from", format!("a report covers at most {MAX_DAYS} days")));
    }
    let report = cost_report::build(&state.db, from, to, query.tenant.as_deref(), now).await?;
    match query.format.as_deref() {
        None | Some("json") => respond::json(StatusCode::OK, &report),
        Some("csv") => {
            let mut response = cost_report::to_csv(&report).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            Ok(response)
        }
        Some(_) => Err(ApiError::invalid_field("format", "must be json or csv")),
    }
}

/// `GET /api/v1/prices`
pub(crate) async fn get_prices(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    respond::json(StatusCode::OK, &costs::price_list(&state.db).await?)
}

/// `PUT /api/v1/prices`: lays the given list over the current one (adds or replaces prices).
pub(crate) async fn put_prices(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(list): ApiJson<PriceList>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    list.validate().map_err(|message| ApiError::invalid_field("onDemandHourly", message))?;
    let merged = services::costs::import_prices(&state.services(), &caller.audit(), &list).await?;
    respond::json(StatusCode::OK, &merged)
}

/// Body of `PUT /api/v1/tenants/{tenant}/budget`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BudgetBody {
    /// USD per month; null removes the budget.
    monthly_usd: Option<f64>,
}

/// A tenant's budget and where the month stands against it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct BudgetView {
    tenant: String,
    monthly_usd: Option<f64>,
    month_to_date: f64,
    projected_month: f64,
    alerts: Vec<budgets::BudgetAlert>,
}

async fn budget_view(state: &AppState, tenant: &str) -> Result<BudgetView, ApiError> {
    let now = Utc::now();
    let monthly_usd = budgets::budget_of(&state.db, tenant).await?;
    let report = cost_report::build(&state.db, now - Duration::days(31), now, Some(tenant), now).await?;
    let (month_to_date, projected_month) =
        report.tenants.first().map_or((0.0, 0.0), |t| (t.month_to_date, t.projected_month));
    let alerts = budgets::alerts_this_month(&state.db, tenant, now).await?;
    Ok(BudgetView { tenant: tenant.to_owned(), monthly_usd, month_to_date, projected_month, alerts })
}

/// `GET /api/v1/tenants/{tenant}/budget` (tenant admins and platform admins)
pub(crate) async fn get_budget(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Admin)?;
    respond::json(StatusCode::OK, &budget_view(&state, &tenant).await?)
}

/// `PUT /api/v1/tenants/{tenant}/budget` (platform admins)
pub(crate) async fn put_budget(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(body): ApiJson<BudgetBody>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    if let Some(usd) = body.monthly_usd {
        if !(usd.is_finite() && usd > 0.0 && usd <= 10_000_000.0) {
            return Err(ApiError::invalid_field("monthlyUsd", "must be a positive amount up to 10,000,000"));
        }
    }
    if crate::store::tenants::find(&state.db, &tenant).await?.is_none() {
        return Err(ApiError::NotFound(format!("tenant {tenant:?} not found")));
    }
    services::costs::set_budget(&state.services(), &caller.audit(), &tenant, body.monthly_usd).await?;
    respond::json(StatusCode::OK, &budget_view(&state, &tenant).await?)
}
