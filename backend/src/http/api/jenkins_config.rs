//! `GET …/jenkinsenvironments/{name}/jenkins-config`: the JCasC and plugin list Butler gives the controller; and
//! `GET /casc/{uid}/jenkins.yaml?token=…`, where the controller itself fetches its JCasC (at start and at each
//! reload), authenticated by its environment's token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::respond;
use crate::auth::Role;
use crate::caller::Caller;
use crate::domain::object::JenkinsEnvironment;
use crate::environments::jenkins_config;
use crate::error::ApiError;
use crate::http::extract::ApiPath;
use crate::state::AppState;
use crate::store::cloud_profiles::ProfileRow;
use crate::store::{cloud_profiles, environments, tenants};

/// An environment and its tenant's cloud profile (404 for an unknown environment; 409 while the profile does not
/// exist: what depends on it cannot be answered yet).
pub(super) async fn environment_with_profile(
    state: &AppState,
    tenant: &str,
    name: &str,
) -> Result<(JenkinsEnvironment, ProfileRow), ApiError> {
    let not_found = || ApiError::NotFound(format!("jenkinsenvironment {name:?} not found in tenant {tenant:?}"));
    let row = environments::find(&state.db, tenant, name).await?.ok_or_else(not_found)?;
    let object = environments::to_object(&row)?;
    let tenant_row = tenants::find(&state.db, tenant).await?.ok_or_else(not_found)?;
    let profile = cloud_profiles::find(&state.db, &tenant_row.cloud_profile).await?.ok_or_else(|| {
        ApiError::Conflict(format!(
            "tenant {tenant:?} uses cloud profile {:?}, which does not exist yet; a platform admin creates it",
            tenant_row.cloud_profile
        ))
    })?;
    Ok((object, profile))
}

/// Query of the controller's fetch.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct FetchQuery {
    #[serde(default)]
    token: String,
}

/// `GET /casc/{uid}/jenkins.yaml?token=…`: the JCasC the reconciler serves the controller. An unknown environment
/// and a wrong token answer alike (404), so the route tells nobody which environments exist.
pub(crate) async fn get_controller_casc(
    State(state): State<AppState>,
    ApiPath(uid): ApiPath<String>,
    axum::extract::Query(query): axum::extract::Query<FetchQuery>,
) -> Result<Response, ApiError> {
    use subtle::ConstantTimeEq;
    let refused = || ApiError::NotFound("no such configuration".into());
    let uid = uuid::Uuid::parse_str(&uid).map_err(|_| refused())?;
    let expected = crate::store::controller_tokens::hash(&state.db, uid).await?.ok_or_else(refused)?;
    let presented = crate::reconcile::environment::config_source::token_hash(&query.token);
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(refused());
    }
    // What the reconciler last applied (or is applying), not a render of the spec now: a change that waits for
    // builds must not reach a controller restarting meanwhile.
    let document = crate::store::controller_tokens::served(&state.db, uid).await?.ok_or_else(refused)?;
    let mut response = axum::response::IntoResponse::into_response((
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/yaml")],
        document,
    ));
    let no_store = axum::http::HeaderValue::from_static("no-store");
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, no_store);
    Ok(response)
}

/// The generated Jenkins configuration of one environment (viewers may read it: it holds no secret).
pub(crate) async fn get_jenkins_config(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Viewer)?;
    let (object, profile) = environment_with_profile(&state, &tenant, &name).await?;
    let config = jenkins_config::deployed(&object, &object.status.outputs, &profile)
        .map_err(|e| ApiError::Internal(e.into()))?;
    respond::json(StatusCode::OK, &config)
}
