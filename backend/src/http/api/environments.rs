//! JenkinsEnvironment handlers: list (or watch), create, get, replace, merge patch, delete, status, events.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

use super::respond::{self, with_warnings};
use super::watch;
use crate::auth::Role;
use crate::caller::Caller;
use crate::domain::labels::LabelSelector;
use crate::domain::object::JenkinsEnvironment;
use crate::domain::API_VERSION;
use crate::environments::writes::Deletion;
use crate::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery, Manifest, MergePatch};
use crate::services;
use crate::state::AppState;
use crate::store::{environments, events, tenants};

/// Page size when the client gives no `limit`, and the most it may ask for.
const DEFAULT_LIMIT: u64 = 500;
const MAX_LIMIT: u64 = 1000;
/// Events returned per environment.
const EVENTS_LIMIT: u64 = 500;

/// `?labelSelector=&fieldSelector=&limit=&continue=&watch=&resourceVersion=`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ListParams {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub limit: Option<u64>,
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
    pub watch: Option<bool>,
    pub resource_version: Option<String>,
}

/// `kind` of a page of environments.
const LIST_KIND: &str = "JenkinsEnvironmentList";

/// A page of environments, Kubernetes list style.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvironmentList {
    api_version: &'static str,
    kind: &'static str,
    metadata: ListMeta,
    items: Vec<JenkinsEnvironment>,
}

/// A page whose objects are already serialized (the cache's bytes, copied as they are).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvironmentList<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: ListMeta,
    items: Vec<&'a RawValue>,
}

/// The list's resourceVersion (watch from here) and the token for the next page.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    resource_version: String,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    continue_token: Option<String>,
}

/// `?dryRun=All`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct WriteParams {
    pub dry_run: Option<String>,
}

impl WriteParams {
    fn dry_run(&self) -> Result<bool, ApiError> {
        match self.dry_run.as_deref() {
            None => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::BadRequest(format!("dryRun must be All, not {other:?}"))),
        }
    }
}

/// The continue token: where the next page starts, and the selector it belongs to.
#[derive(Serialize, Deserialize)]
struct ContinueToken {
    after: String,
    selector: String,
}

fn encode_continue(after: &str, selector: &str) -> String {
    let token = ContinueToken { after: after.to_owned(), selector: selector.to_owned() };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str, selector: &str) -> Result<String, ApiError> {
    let bad = || ApiError::BadRequest("continue token is not valid; start the list again without it".into());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if token.selector != selector {
        return Err(ApiError::BadRequest("continue token belongs to a list with another labelSelector".into()));
    }
    Ok(token.after)
}

/// Parses `fieldSelector`: only `metadata.name=<name>` is supported.
pub(crate) fn parse_field_selector(text: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else { return Ok(None) };
    match text.split_once('=') {
        Some(("metadata.name", name)) => Ok(Some(name.trim_start_matches('=').to_owned())),
        _ => {
            Err(ApiError::BadRequest(format!("fieldSelector {text:?} is not supported: only metadata.name=<name> is")))
        }
    }
}

async fn require_tenant(state: &AppState, tenant: &str) -> Result<(), ApiError> {
    match tenants::find(&state.db, tenant).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound(format!("tenant {tenant:?} not found"))),
    }
}

/// `GET …/jenkinsenvironments`: a page of the tenant's environments, or with `watch=true` a stream of changes.
pub(crate) async fn list_environments(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(params): ApiQuery<ListParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Viewer)?;
    let selector_text = params.label_selector.clone().unwrap_or_default();
    let selector =
        LabelSelector::parse(&selector_text).map_err(|e| ApiError::BadRequest(format!("labelSelector {e}")))?;
    let name = parse_field_selector(params.field_selector.as_deref())?;
    // A membership or token proves the tenant exists (both go with it); only platform admins can name one that
    // does not, so only they cost a query here.
    if caller.is_platform_admin() {
        require_tenant(&state, &tenant).await?;
    }
    if params.watch.unwrap_or(false) {
        let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
        let from = params.resource_version.as_deref().or(last_event_id);
        return watch::watch_environments(state, tenant, selector, name, from).await;
    }
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let after = params.continue_token.as_deref().map(|t| decode_continue(t, &selector_text)).transpose()?;
    // Served from the change-feed cache once it is loaded: no query, whatever the page size.
    if let Some(page) = state.feed.list(&tenant, &selector, name.as_deref(), after.as_deref(), limit as usize) {
        let items: Vec<&RawValue> =
            page.items.iter().filter_map(|json| serde_json::from_slice::<&RawValue>(json).ok()).collect();
        let continue_token = page.more_after.as_deref().map(|after| encode_continue(after, &selector_text));
        let list = RawEnvironmentList {
            api_version: API_VERSION,
            kind: LIST_KIND,
            metadata: ListMeta { resource_version: page.resource_version.to_string(), continue_token },
            items,
        };
        return respond::json(StatusCode::OK, &list);
    }
    let mut page = environments::list(&state.db, &tenant, &selector, after.as_deref(), limit).await?;
    if let Some(name) = name {
        page.items.retain(|item| item.metadata.name == name);
    }
    let continue_token = page.more_after.as_deref().map(|after| encode_continue(after, &selector_text));
    let list = EnvironmentList {
        api_version: API_VERSION,
        kind: LIST_KIND,
        metadata: ListMeta { resource_version: page.resource_version.to_string(), continue_token },
        items: page.items,
    };
    respond::json(StatusCode::OK, &list)
}

/// `POST …/jenkinsenvironments`: creates one (201 + Location), or with `dryRun=All` shows what would be stored.
pub(crate) async fn create_environment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(params): ApiQuery<WriteParams>,
    Manifest(manifest): Manifest,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Editor)?;
    let dry_run = params.dry_run()?;
    let outcome =
        services::environments::create(&state.services(), &caller.audit(), &tenant, manifest, dry_run).await?;
    if dry_run {
        let response = respond::json(StatusCode::OK, &outcome.object)?;
        let response = with_estimate(&state, &tenant, &outcome.object.spec, response).await;
        return Ok(with_warnings(response, &outcome.warnings));
    }
    let mut response = respond::json(StatusCode::CREATED, &outcome.object)?;
    let location = format!("/api/v1/tenants/{tenant}/jenkinsenvironments/{}", outcome.object.metadata.name);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(with_warnings(response, &outcome.warnings))
}

/// The header a dry run answers with: what the spec would cost per hour at its minimum capacity.
pub(crate) const ESTIMATE_HEADER: &str = "butler-estimated-cost-per-hour";

/// Adds the estimated cost per hour (`<usd> USD` and, when a price was missing, `; approximate`). Only dry runs
/// pay for the lookups (the tenant's profile for its region, the cached Spot prices there).
async fn with_estimate(
    state: &AppState,
    tenant: &str,
    spec: &crate::domain::spec::JenkinsEnvironmentSpec,
    mut response: Response,
) -> Response {
    let region = match crate::store::tenants::find(&state.db, tenant).await {
        Ok(Some(row)) => match crate::store::cloud_profiles::find(&state.db, &row.cloud_profile).await {
            Ok(Some(profile)) => profile.region,
            _ => crate::domain::prices::FALLBACK_REGION.to_owned(),
        },
        _ => crate::domain::prices::FALLBACK_REGION.to_owned(),
    };
    let since = chrono::Utc::now() - chrono::Duration::days(1);
    let (Ok(prices), Ok(spot)) = (
        crate::store::costs::price_list(&state.db).await,
        crate::store::costs::cached_spot_prices(&state.db, &region, since).await,
    ) else {
        return response;
    };
    let estimate = crate::cost::estimate::hourly(&spec.capacity, &region, &prices, &spot);
    let text = format!("{:.4} USD{}", estimate.usd_per_hour, if estimate.approximate { "; approximate" } else { "" });
    if let Ok(value) = HeaderValue::from_str(&text) {
        response.headers_mut().insert(ESTIMATE_HEADER, value);
    }
    response
}

async fn read_one(state: &AppState, tenant: &str, name: &str) -> Result<Bytes, ApiError> {
    let not_found = || ApiError::NotFound(format!("jenkinsenvironment {name:?} not found in tenant {tenant:?}"));
    if state.feed.is_ready() {
        return state.feed.get(tenant, name).ok_or_else(not_found);
    }
    let row = environments::find(&state.db, tenant, name).await?.ok_or_else(not_found)?;
    let object = environments::to_object(&row)?;
    Ok(Bytes::from(serde_json::to_vec(&object).map_err(|e| ApiError::Internal(e.into()))?))
}

/// `GET …/jenkinsenvironments/{name}` and its read-only `/status` subresource (the whole object, as in
/// Kubernetes): served from the change-feed cache.
pub(crate) async fn get_environment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Viewer)?;
    Ok(respond::json_bytes(StatusCode::OK, read_one(&state, &tenant, &name).await?))
}

/// `PUT …/jenkinsenvironments/{name}`: replaces metadata and spec; a stale `resourceVersion` is 409.
pub(crate) async fn replace_environment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<WriteParams>,
    Manifest(manifest): Manifest,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Editor)?;
    let dry_run = params.dry_run()?;
    let outcome =
        services::environments::replace(&state.services(), &caller.audit(), (&tenant, &name), manifest, dry_run)
            .await?;
    Ok(with_warnings(respond::json(StatusCode::OK, &outcome.object)?, &outcome.warnings))
}

/// `PATCH …/jenkinsenvironments/{name}` with `application/merge-patch+json`.
pub(crate) async fn patch_environment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<WriteParams>,
    MergePatch(patch): MergePatch,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Editor)?;
    let dry_run = params.dry_run()?;
    let outcome =
        services::environments::merge_patch(&state.services(), &caller.audit(), (&tenant, &name), &patch, dry_run)
            .await?;
    Ok(with_warnings(respond::json(StatusCode::OK, &outcome.object)?, &outcome.warnings))
}

/// `DELETE …/jenkinsenvironments/{name}`: 202 while finalizers remain (idempotent), 200 once the row is gone.
pub(crate) async fn delete_environment(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Editor)?;
    let (outcome, deletion) =
        services::environments::delete(&state.services(), &caller.audit(), (&tenant, &name)).await?;
    let status = match deletion {
        Deletion::Pending => StatusCode::ACCEPTED,
        Deletion::Deleted => StatusCode::OK,
    };
    respond::json(status, &outcome.object)
}

/// `GET …/jenkinsenvironments/{name}/events`: newest first.
pub(crate) async fn list_environment_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&tenant, Role::Viewer)?;
    let row = environments::find(&state.db, &tenant, &name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("jenkinsenvironment {name:?} not found in tenant {tenant:?}")))?;
    let items = events::list(&state.db, &tenant, row.uid, EVENTS_LIMIT).await?;
    respond::json(StatusCode::OK, &json!({ "apiVersion": API_VERSION, "kind": "EventList", "items": items }))
}
