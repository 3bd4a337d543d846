//! An environment's Jenkins credentials: `PUT/GET/DELETE …/{name}/credentials/{id}` and the list. Values are
//! write-only: stored in AWS Secrets Manager, never answered, logged, put in an event or an audit entry (a
//! malformed body's error names the field, never echoes what was in it).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::jenkins_config::environment_with_profile;
use super::respond;
use crate::auth::Role;
use crate::caller::Caller;
use crate::domain::credentials::{self, CredentialInput};
use crate::domain::validation::FieldError;
use crate::environments::credentials as secrets;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::services::credentials as writes;
use crate::state::AppState;
use crate::store::credentials::{self as rows, CredentialRow};

fn check_id(id: &str) -> Result<(), ApiError> {
    credentials::check_id(id).map_err(|message| ApiError::invalid_field("id", message))
}

/// The body as a credential write; a field of the wrong type or unknown is named without its value.
fn input(body: serde_json::Value) -> Result<CredentialInput, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|error| {
        let path = error.path().to_string();
        let (field, message) = if path == "." {
            (String::new(), "must be an object with a type (secretText, usernamePassword, sshPrivateKey, file)")
        } else {
            (path, "is not a field of a credential, or has the wrong type (values are never echoed)")
        };
        ApiError::invalid_field(field, message)
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("credential {id:?} not found"))
}

/// `GET …/{name}/credentials`: ids, types and descriptions, never values (viewers may read it).
pub(crate) async fn list_credentials(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Viewer)?;
    let (object, _) = environment_with_profile(&state, &tenant, &name).await?;
    let items = rows::list(&state.db, object.metadata.uid).await?;
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

/// `GET …/{name}/credentials/{id}`
pub(crate) async fn get_credential(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name, id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Viewer)?;
    let (object, _) = environment_with_profile(&state, &tenant, &name).await?;
    let row = rows::find(&state.db, object.metadata.uid, &id).await?.ok_or_else(|| not_found(&id))?;
    respond::json(StatusCode::OK, &row)
}

/// `PUT …/{name}/credentials/{id}`: 201 new, 200 replaced; the answer is what may be shown.
pub(crate) async fn put_credential(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name, id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Editor)?;
    check_id(&id)?;
    let input = input(body)?;
    let payload = input.payload().map_err(|errors: Vec<FieldError>| {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        ApiError::Invalid { detail, errors }
    })?;
    let (object, profile) = environment_with_profile(&state, &tenant, &name).await?;
    if object.metadata.deletion_timestamp.is_some() {
        return Err(ApiError::Conflict(format!("jenkinsenvironment {name:?} is being deleted")));
    }
    let arn = secrets::put((&state.accounts, &state.aws), &profile, &object, &id, &payload)
        .await
        .map_err(|error| ApiError::Unavailable(format!("Secrets Manager did not take the credential: {error}")))?;
    let row = CredentialRow {
        environment_uid: object.metadata.uid,
        credential_id: id.clone(),
        tenant: tenant.clone(),
        credential_type: input.kind.as_str().to_owned(),
        description: input.description.clone(),
        username: input.username.clone(),
        file_name: input.file_name.clone(),
        secret_arn: arn,
        updated_at: chrono::Utc::now(),
        updated_by: caller.audit().actor,
    };
    let (stored, existed) = writes::record_put(&state.services(), &caller.audit(), (&tenant, &name), row).await?;
    respond::json(if existed { StatusCode::OK } else { StatusCode::CREATED }, &stored)
}

/// `DELETE …/{name}/credentials/{id}`: 204; 409 while the spec uses it.
pub(crate) async fn delete_credential(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((tenant, name, id)): ApiPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    caller.require(&tenant, Role::Editor)?;
    let (object, profile) = environment_with_profile(&state, &tenant, &name).await?;
    rows::find(&state.db, object.metadata.uid, &id).await?.ok_or_else(|| not_found(&id))?;
    if let Some(field) = credentials::used_by(&object.spec.jenkins, &id) {
        return Err(ApiError::Conflict(format!("credential {id:?} is used by {field}: change the spec first")));
    }
    secrets::delete((&state.accounts, &state.aws), &profile, &object, &id)
        .await
        .map_err(|error| ApiError::Unavailable(format!("Secrets Manager did not delete the credential: {error}")))?;
    writes::record_delete(&state.services(), &caller.audit(), (&tenant, &name), &id).await?;
    Ok(axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT))
}
