//! `GET …/jenkinsenvironments/{name}/controller-log?lines=N`: the last lines the controller wrote to its log group.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::respond;
use crate::auth::Role;
use crate::caller::Caller;
use crate::environments::controller_log::{self, DEFAULT_LINES, MAX_LINES};
use crate::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogParams {
    lines: Option<i32>,
}

/// The controller's last log lines. Editors and admins: Jenkins' own log may carry what a build or a plugin
/// printed, which is more than a viewer sees of an environment.
pub(crate) async fn get_controller_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<LogParams>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Editor)?;
    let lines = params.lines.unwrap_or(DEFAULT_LINES);
    if !(1..=MAX_LINES).contains(&lines) {
        return Err(ApiError::BadRequest(format!("query parameter lines: must be between 1 and {MAX_LINES}")));
    }
    let (object, profile) = super::jenkins_config::environment_with_profile(&state, &tenant, &name).await?;
    let log = controller_log::tail(&state.accounts, &state.aws, &profile, &object, lines)
        .await
        .map_err(|error| ApiError::Unavailable(format!("the controller log could not be read: {error}")))?;
    respond::json(StatusCode::OK, &log)
}
