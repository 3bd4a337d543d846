//! Environment pages: the list (filters, pages of 50 from the in-memory index) and the detail page (conditions,
//! events, outputs with AWS console links, generated Jenkins configuration, credentials, manifest) with a live
//! panel. The forms are in `environment_forms`. Writes go through the JSON API from the page script.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::chrome::{Chrome, PageCaller};
use super::view::{self, EnvironmentRow, Output};
use super::{error_page, render};
use crate::auth::Role;
use crate::caller::Caller;
use crate::domain::labels::LabelSelector;
use crate::domain::object::{EnvironmentEvent, JenkinsEnvironment};
use crate::domain::spec::DeletionPolicy;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{cloud_profiles, costs, environments, events, tenants};

/// Rows a list page shows.
const PAGE_ROWS: usize = 50;

/// The environment pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/environments", get(list))
        .route("/t/{tenant}/environments/{name}", get(detail))
        .route("/t/{tenant}/environments/{name}/panel", get(panel))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    phase: Option<String>,
    labels: Option<String>,
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "environments/list.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<EnvironmentRow>,
    phase: String,
    labels: String,
    label_error: String,
    next_after: Option<String>,
    can_edit: bool,
    phases: [&'static str; 6],
}

impl ListPage {
    fn is_phase(&self, candidate: &str) -> bool {
        self.phase == candidate
    }
}

fn parse_objects(items: &[bytes::Bytes]) -> Vec<JenkinsEnvironment> {
    items.iter().filter_map(|json| serde_json::from_slice(json).ok()).collect()
}

/// A page of matching environments after `after`, and where the next page starts. Served from the
/// change-feed index (no query) once it is loaded, from the database before that.
async fn page_of(
    state: &AppState,
    tenant: &str,
    selector: &LabelSelector,
    phase: &str,
    mut after: Option<String>,
) -> Result<(Vec<JenkinsEnvironment>, Option<String>), ApiError> {
    let mut found = Vec::new();
    // Without a phase filter every row read is shown: read exactly a page (parsing JSON is most of the cost).
    let batch_size = if phase.is_empty() { PAGE_ROWS } else { 200 };
    loop {
        let (batch, more_after) = match state.feed.list(tenant, selector, None, after.as_deref(), batch_size) {
            Some(page) => (parse_objects(&page.items), page.more_after),
            None => {
                let page = environments::list(&state.db, tenant, selector, after.as_deref(), batch_size as u64).await?;
                (page.items, page.more_after)
            }
        };
        let last = batch.len().saturating_sub(1);
        for (index, object) in batch.into_iter().enumerate() {
            let name = object.metadata.name.clone();
            if phase.is_empty() || view::phase_name(object.status.phase) == phase {
                found.push(object);
            }
            if found.len() == PAGE_ROWS {
                // A full page that ends the list has no next page.
                let at_end = index == last && more_after.is_none();
                return Ok((found, (!at_end).then_some(name)));
            }
        }
        match more_after {
            Some(next) => after = Some(next),
            None => return Ok((found, None)),
        }
    }
}

async fn list(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Path(tenant): Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Err(error) = caller.require(&tenant, Role::Viewer) {
        return error_page(error);
    }
    let labels = query.labels.unwrap_or_default();
    let phase = query.phase.unwrap_or_default();
    let (selector, label_error) = match LabelSelector::parse(&labels) {
        Ok(selector) => (selector, String::new()),
        Err(error) => (LabelSelector::default(), format!("Not a label selector: {error}")),
    };
    let (objects, next_after) = match page_of(&state, &tenant, &selector, &phase, query.after).await {
        Ok(page) => page,
        Err(error) => return error_page(error),
    };
    let now = chrono::Utc::now();
    let uids: Vec<uuid::Uuid> = objects.iter().map(|o| o.metadata.uid).collect();
    let costs = costs::current(&state.db, &uids, month_start(now)).await.unwrap_or_default();
    let chrome = Chrome::new(&state, &caller, Some(&tenant), "environments").await;
    let can_edit = chrome.can_edit(&caller);
    render(&ListPage {
        rows: objects.iter().map(|o| EnvironmentRow::of(o, now, costs.get(&o.metadata.uid))).collect(),
        chrome,
        phase,
        labels,
        label_error,
        next_after,
        can_edit,
        phases: ["Pending", "Provisioning", "Ready", "Degraded", "Deleting", "Failed"],
    })
}

/// The first day of `now`'s month.
fn month_start(now: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    use chrono::Datelike;
    now.date_naive().with_day(1).unwrap_or(now.date_naive())
}

/// One environment the caller may see, from the cache or the database.
pub(super) async fn load(
    state: &AppState,
    caller: &Caller,
    tenant: &str,
    name: &str,
) -> Result<JenkinsEnvironment, ApiError> {
    caller.require(tenant, Role::Viewer)?;
    if let Some(json) = state.feed.get(tenant, name) {
        return serde_json::from_slice(&json).map_err(|e| ApiError::Internal(e.into()));
    }
    let row = environments::find(&state.db, tenant, name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("environment {name:?} not found")))?;
    Ok(environments::to_object(&row)?)
}

/// A condition as the detail page shows it.
struct ConditionView {
    kind: String,
    status: String,
    ok: bool,
    reason: String,
    message: String,
    changed: String,
}

#[derive(Template)]
#[template(path = "environments/panel.html")]
struct Panel {
    phase: String,
    badge: &'static str,
    conditions: Vec<ConditionView>,
    outputs: Vec<Output>,
    events: Vec<EnvironmentEvent>,
    deleting: bool,
    retained: bool,
    generation: i64,
    observed_generation: i64,
    /// What it costs now and this month ("" before the first sample).
    cost: String,
    /// Where people open Jenkins, and whether the load balancer sees it healthy.
    address: view::Address,
    /// What a pending change of the controller waits for ("" when none).
    rollout: String,
}

#[derive(Template)]
#[template(path = "environments/detail.html")]
struct DetailPage {
    chrome: Chrome,
    name: String,
    deleting: bool,
    /// The live panel, rendered on its own so the page script can fetch it again.
    panel_html: String,
    manifest: String,
    casc: String,
    plugins: String,
    can_edit: bool,
    instances: Vec<crate::domain::object::InstanceStatus>,
    /// The controller's last log lines (editors only; None for viewers).
    controller_log: Option<String>,
    /// Who can sign in to its Jenkins, with which rights.
    sign_in: SignInView,
    /// Its credentials (never their values), and where the form sends a new one.
    credentials: Vec<crate::store::credentials::CredentialRow>,
    credentials_url: String,
}

/// One member as Jenkins will know them.
struct SignInPerson {
    email: String,
    role: String,
    rights: String,
}

/// The sign-in section of the detail page.
struct SignInView {
    enabled: bool,
    client_id: String,
    people: Vec<SignInPerson>,
    /// Tenant admins may reveal the break-glass password.
    can_reveal: bool,
    reveal_url: String,
}

async fn sign_in_view(state: &AppState, caller: &crate::caller::Caller, object: &JenkinsEnvironment) -> SignInView {
    let (tenant, name) = (&object.metadata.tenant, &object.metadata.name);
    let people = match crate::store::users::members(&state.db, tenant).await {
        Ok(members) => members
            .into_iter()
            .map(|member| {
                let rights = crate::environments::jenkins_config::ROLE_PERMISSIONS
                    .iter()
                    .find(|(role, _)| *role == member.role)
                    .map(|(_, rights)| rights.join(", "))
                    .unwrap_or_default();
                SignInPerson { email: member.email, role: member.role, rights }
            })
            .collect(),
        Err(error) => {
            tracing::warn!(error = %crate::telemetry::with_causes(&error), "members not listed on the page");
            Vec::new()
        }
    };
    SignInView {
        enabled: object.status.outputs.oidc_client_id.is_some(),
        client_id: object.status.outputs.oidc_client_id.clone().unwrap_or_default(),
        people,
        can_reveal: caller.require(tenant, crate::auth::Role::Admin).is_ok(),
        reveal_url: format!("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/reveal-admin-password"),
    }
}

async fn panel_of(state: &AppState, object: &JenkinsEnvironment, region: &str) -> Result<Panel, ApiError> {
    let meta = &object.metadata;
    let events = events::list(&state.db, &meta.tenant, meta.uid, 50).await?;
    let now = chrono::Utc::now();
    let current = costs::current(&state.db, &[meta.uid], month_start(now)).await?;
    Ok(Panel {
        phase: view::phase_name(object.status.phase),
        badge: view::badge(object.status.phase),
        conditions: object
            .status
            .conditions
            .iter()
            .map(|c| ConditionView {
                kind: c.condition_type.clone(),
                status: format!("{:?}", c.status),
                ok: c.status == crate::domain::object::ConditionStatus::True,
                reason: c.reason.clone(),
                message: c.message.clone(),
                changed: c.last_transition_time.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            })
            .collect(),
        outputs: view::outputs(object, region),
        events,
        deleting: meta.deletion_timestamp.is_some(),
        retained: object.spec.storage.deletion_policy == DeletionPolicy::Retain,
        generation: meta.generation,
        observed_generation: object.status.observed_generation,
        cost: view::cost_text(current.get(&meta.uid)),
        address: view::Address::of(object),
        rollout: object.status.rollout.as_ref().map(|r| r.message.clone()).unwrap_or_default(),
    })
}

/// The profile of the tenant (for the region and the generated configuration).
async fn profile_of(state: &AppState, tenant: &str) -> Result<Option<cloud_profiles::ProfileRow>, ApiError> {
    let Some(tenant) = tenants::find(&state.db, tenant).await? else { return Ok(None) };
    Ok(cloud_profiles::find(&state.db, &tenant.cloud_profile).await?)
}

/// The manifest as a person would write it: metadata they own, and the spec.
fn manifest_yaml(object: &JenkinsEnvironment) -> String {
    let manifest = serde_json::json!({
        "apiVersion": object.api_version,
        "kind": object.kind,
        "metadata": { "name": object.metadata.name, "labels": object.metadata.labels },
        "spec": object.spec,
    });
    serde_yaml_ng::to_string(&manifest).unwrap_or_default()
}

async fn detail(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Path((tenant, name)): Path<(String, String)>,
) -> Response {
    let result = async {
        let (object, profile, panel) = live_panel(&state, &caller, &tenant, &name).await?;
        let (casc, plugins) = match &profile {
            Some(profile) => {
                match crate::environments::jenkins_config::deployed(&object, &object.status.outputs, profile) {
                    Ok(config) => (config.casc, config.plugins.join("\n")),
                    Err(error) => (format!("# could not render: {error}"), String::new()),
                }
            }
            None => ("# the tenant's cloud profile does not exist yet".to_owned(), String::new()),
        };
        let chrome = Chrome::new(&state, &caller, Some(&tenant), "environments").await;
        let can_edit = chrome.can_edit(&caller);
        // What the controller said last: read live, for editors (as the API), never failing the page.
        let controller_log = match (&profile, can_edit) {
            (Some(profile), true) => Some(
                match crate::environments::controller_log::tail(
                    &state.accounts,
                    &state.aws,
                    profile,
                    &object,
                    crate::environments::controller_log::DEFAULT_LINES,
                )
                .await
                {
                    Ok(log) if log.lines.is_empty() => format!("({} has no lines yet)", log.log_group),
                    Ok(log) => log.lines.iter().map(|line| line.message.as_str()).collect::<Vec<_>>().join("\n"),
                    Err(error) => format!("(the controller log could not be read: {error})"),
                },
            ),
            _ => None,
        };
        let panel_html = panel.render().map_err(|e| ApiError::Internal(e.into()))?;
        let sign_in = sign_in_view(&state, &caller, &object).await;
        let credentials = crate::store::credentials::list(&state.db, object.metadata.uid).await?;
        let credentials_url = format!("/api/v1/tenants/{tenant}/jenkinsenvironments/{name}/credentials");
        Ok::<_, ApiError>(DetailPage {
            chrome,
            name: object.metadata.name.clone(),
            deleting: object.metadata.deletion_timestamp.is_some(),
            panel_html,
            manifest: manifest_yaml(&object),
            casc,
            plugins,
            can_edit,
            instances: object.status.instances.clone(),
            controller_log,
            sign_in,
            credentials,
            credentials_url,
        })
    }
    .await;
    match result {
        Ok(page) => render(&page),
        Err(error) => error_page(error),
    }
}

/// An environment the caller may see, its tenant's profile (for the region), and its live panel.
async fn live_panel(
    state: &AppState,
    caller: &Caller,
    tenant: &str,
    name: &str,
) -> Result<(JenkinsEnvironment, Option<cloud_profiles::ProfileRow>, Panel), ApiError> {
    let object = load(state, caller, tenant, name).await?;
    let profile = profile_of(state, tenant).await?;
    let region = profile.as_ref().map_or(crate::domain::prices::FALLBACK_REGION, |p| p.region.as_str()).to_owned();
    let panel = panel_of(state, &object, &region).await?;
    Ok((object, profile, panel))
}

/// The live part of the detail page, fetched again by the page script when the watch says it changed.
async fn panel(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Path((tenant, name)): Path<(String, String)>,
) -> Response {
    match live_panel(&state, &caller, &tenant, &name).await {
        Ok((_, _, panel)) => render(&panel),
        Err(error) => error_page(error),
    }
}
