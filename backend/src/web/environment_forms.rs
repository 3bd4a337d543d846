//! The environment forms: create and edit (grouped like the spec, with the team's Jenkins configuration and seed
//! jobs) and the delete confirmation. Writes go through the JSON API from the page script.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::chrome::{Chrome, PageCaller};
use super::environments::load;
use super::{error_page, render};
use crate::auth::Role;
use crate::caller::Caller;
use crate::domain::catalog::INSTANCE_TYPES;
use crate::domain::object::JenkinsEnvironment;
use crate::domain::spec::{DeletionPolicy, JenkinsEnvironmentSpec};
use crate::state::AppState;

/// The form pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/{tenant}/environments/new", get(new_form))
        .route("/t/{tenant}/environments/{name}/edit", get(edit_form))
        .route("/t/{tenant}/environments/{name}/delete", get(delete_form))
}

/// An instance type offered on the form.
struct InstanceChoice {
    name: &'static str,
    vcpus: u32,
    memory_gib: u32,
    checked: bool,
}

#[derive(Template)]
#[template(path = "environments/form.html")]
struct FormPage {
    chrome: Chrome,
    editing: bool,
    name: String,
    labels: String,
    resource_version: String,
    spec: JenkinsEnvironmentSpec,
    plugins: String,
    instance_types: Vec<InstanceChoice>,
    allocation_strategies: [(&'static str, &'static str); 4],
}

impl FormPage {
    fn is_strategy(&self, candidate: &str) -> bool {
        self.spec.capacity.spot_allocation_strategy.as_aws() == candidate
    }
}

fn form_page(chrome: Chrome, editing: bool, object: Option<&JenkinsEnvironment>) -> FormPage {
    let spec = object.map(|o| o.spec.clone()).unwrap_or_default();
    let chosen = &spec.capacity.instance_types;
    FormPage {
        chrome,
        editing,
        name: object.map(|o| o.metadata.name.clone()).unwrap_or_default(),
        labels: object
            .map(|o| o.metadata.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default(),
        resource_version: object.map(|o| o.metadata.resource_version.clone()).unwrap_or_default(),
        plugins: spec.controller.plugins.join("\n"),
        instance_types: INSTANCE_TYPES
            .iter()
            .map(|t| InstanceChoice {
                name: t.name,
                vcpus: t.vcpus,
                memory_gib: t.memory_mib / 1024,
                checked: chosen.iter().any(|c| c == t.name),
            })
            .collect(),
        allocation_strategies: [
            ("price-capacity-optimized", "price and capacity optimized (recommended)"),
            ("capacity-optimized", "capacity optimized"),
            ("capacity-optimized-prioritized", "capacity optimized, prioritized"),
            ("lowest-price", "lowest price"),
        ],
        spec,
    }
}

async fn new_form(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Path(tenant): Path<String>,
) -> Response {
    if let Err(error) = caller.require(&tenant, Role::Editor) {
        return error_page(error);
    }
    let chrome = Chrome::new(&state, &caller, Some(&tenant), "environments").await;
    render(&form_page(chrome, false, None))
}

/// An environment an editor is about to change, with the page frame; the error page otherwise (404 for
/// another tenant's, 403 for a viewer).
async fn for_editor(
    state: &AppState,
    caller: &Caller,
    tenant: &str,
    name: &str,
) -> Result<(JenkinsEnvironment, Chrome), Response> {
    let object = load(state, caller, tenant, name).await.map_err(error_page)?;
    caller.require(tenant, Role::Editor).map_err(error_page)?;
    Ok((object, Chrome::new(state, caller, Some(tenant), "environments").await))
}

async fn edit_form(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Path((tenant, name)): Path<(String, String)>,
) -> Response {
    match for_editor(&state, &caller, &tenant, &name).await {
        Ok((object, chrome)) => render(&form_page(chrome, true, Some(&object))),
        Err(page) => page,
    }
}

#[derive(Template)]
#[template(path = "environments/delete.html")]
struct DeletePage {
    chrome: Chrome,
    name: String,
    retained: bool,
    file_system: String,
}

async fn delete_form(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Path((tenant, name)): Path<(String, String)>,
) -> Response {
    let (object, chrome) = match for_editor(&state, &caller, &tenant, &name).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    render(&DeletePage {
        chrome,
        name,
        retained: object.spec.storage.deletion_policy == DeletionPolicy::Retain,
        file_system: object.status.outputs.file_system_id.clone().unwrap_or_default(),
    })
}
