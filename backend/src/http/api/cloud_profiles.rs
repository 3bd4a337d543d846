//! Cloud profiles (platform admins): where environments run. `PUT` creates or replaces; a profile in use by a
//! tenant cannot be deleted.

use std::collections::HashSet;
use std::sync::LazyLock;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::respond;
use crate::caller::Caller;
use crate::domain::guardrails::Guardrails;
use crate::domain::ingress::Ingress;
use crate::domain::proxy::HttpProxy;
use crate::domain::validation::FieldError;
use crate::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::services::profiles;
use crate::state::AppState;
use crate::store::cloud_profiles::{self, ProfileInput, ProfileRow};

static PROFILE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$").expect("static regex"));
static REGION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$").expect("static regex"));
static VPC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^vpc-[0-9a-f]{8,17}$").expect("static regex"));
static SUBNET: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^subnet-[0-9a-f]{8,17}$").expect("static regex"));
static ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@/_-]{1,512}$").expect("static regex")
});
static AMI: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^ami-[0-9a-f]{8,17}$").expect("static regex"));
static IMAGE_RULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9.:-]*(/[a-z0-9][a-z0-9._-]*)+(/\*)?$").expect("static regex"));
static INSTANCE_TYPE_RULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9-]*\.([a-z0-9]+|\*)$").expect("static regex"));
static DNS_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$").expect("static regex")
});

/// A profile as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProfileView {
    name: String,
    region: String,
    vpc_id: String,
    subnet_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ami_id: Option<String>,
    namespace_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace_id: Option<String>,
    guardrails: Guardrails,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_proxy: Option<HttpProxy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ingress: Option<Ingress>,
    /// Whether the subnets reach the internet, once the reconciler has looked.
    #[serde(skip_serializing_if = "Option::is_none")]
    egress: Option<cloud_profiles::ProfileEgress>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn view(row: ProfileRow) -> ProfileView {
    ProfileView {
        guardrails: row.guardrails(),
        egress: row.egress(),
        http_proxy: row.proxy(),
        ingress: row.ingress(),
        name: row.name,
        region: row.region,
        vpc_id: row.vpc_id,
        subnet_ids: row.subnet_ids.0,
        role_arn: row.role_arn,
        ami_id: row.ami_id,
        namespace_name: row.namespace_name,
        namespace_id: row.namespace_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Body of `PUT /api/v1/cloudprofiles/{name}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ProfileBody {
    region: String,
    vpc_id: String,
    subnet_ids: Vec<String>,
    role_arn: Option<String>,
    ami_id: Option<String>,
    namespace_name: Option<String>,
    /// Left out: Butler's defaults.
    #[serde(default)]
    guardrails: Guardrails,
    /// For subnets that reach the internet only through a proxy.
    #[serde(default)]
    http_proxy: Option<HttpProxy>,
    /// The shared HTTPS load balancers environments are reached through; left out, Jenkins is reachable only
    /// inside the VPC.
    #[serde(default)]
    ingress: Option<Ingress>,
}

fn validate(name: &str, body: &ProfileBody) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let mut check = |ok: bool, field: String, message: &str| {
        if !ok {
            errors.push(FieldError { field, message: message.to_owned() });
        }
    };
    check(PROFILE_NAME.is_match(name), "name".into(), "must be a DNS label of at most 32 characters");
    check(REGION.is_match(&body.region), "region".into(), "must be an AWS region such as eu-west-1");
    check(VPC.is_match(&body.vpc_id), "vpcId".into(), "must be a VPC id (vpc-…)");
    check(body.subnet_ids.len() >= 2, "subnetIds".into(), "needs at least two subnets (in two availability zones)");
    let mut seen = HashSet::new();
    for (index, subnet) in body.subnet_ids.iter().enumerate() {
        check(SUBNET.is_match(subnet), format!("subnetIds[{index}]"), "must be a subnet id (subnet-…)");
        check(seen.insert(subnet), format!("subnetIds[{index}]"), "is listed twice");
    }
    if let Some(role) = &body.role_arn {
        check(ROLE.is_match(role), "roleArn".into(), "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)");
    }
    if let Some(ami) = &body.ami_id {
        check(AMI.is_match(ami), "amiId".into(), "must be an AMI id (ami-…)");
    }
    if let Some(namespace) = &body.namespace_name {
        check(DNS_NAME.is_match(namespace), "namespaceName".into(), "must be a DNS name such as jenkins.local");
    }
    let rails = &body.guardrails;
    check(rails.allowed_images.len() <= 100, "guardrails.allowedImages".into(), "must list at most 100 repositories");
    for (index, image) in rails.allowed_images.iter().enumerate() {
        check(
            IMAGE_RULE.is_match(image),
            format!("guardrails.allowedImages[{index}]"),
            "must be a repository with its registry (docker.io/jenkins/jenkins) or a prefix ending in /*",
        );
    }
    check(rails.allowed_instance_types.len() <= 200, "guardrails.allowedInstanceTypes".into(), "at most 200");
    for (index, rule) in rails.allowed_instance_types.iter().enumerate() {
        check(
            INSTANCE_TYPE_RULE.is_match(rule),
            format!("guardrails.allowedInstanceTypes[{index}]"),
            "must be an instance type (m6i.large) or a family (m6i.*)",
        );
    }
    check(
        (1..=3414).contains(&rails.max_provisioned_throughput_mibps),
        "guardrails.maxProvisionedThroughputMibps".into(),
        "must be between 1 and 3414 (EFS's ceiling)",
    );
    for (field, message) in body.http_proxy.iter().flat_map(HttpProxy::problems) {
        check(false, format!("httpProxy.{field}"), &message);
    }
    for (field, message) in body.ingress.iter().flat_map(|ingress| ingress.problems(&body.region)) {
        check(false, format!("ingress.{field}"), &message);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        Err(ApiError::Invalid { detail, errors })
    }
}

/// `GET /api/v1/cloudprofiles`
pub(crate) async fn list_cloud_profiles(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    let items: Vec<ProfileView> = cloud_profiles::list(&state.db).await?.into_iter().map(view).collect();
    respond::json(StatusCode::OK, &serde_json::json!({ "items": items }))
}

/// `GET /api/v1/cloudprofiles/{name}`
pub(crate) async fn get_cloud_profile(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    let row = cloud_profiles::find(&state.db, &name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("cloud profile {name:?} not found")))?;
    respond::json(StatusCode::OK, &view(row))
}

/// `PUT /api/v1/cloudprofiles/{name}`: 201 when new, 200 when replaced.
pub(crate) async fn put_cloud_profile(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    validate(&name, &body)?;
    let input = ProfileInput {
        region: &body.region,
        vpc_id: &body.vpc_id,
        subnet_ids: &body.subnet_ids,
        role_arn: body.role_arn.as_deref(),
        ami_id: body.ami_id.as_deref(),
        namespace_name: body.namespace_name.as_deref().unwrap_or("jenkins.local"),
        guardrails: &body.guardrails,
        proxy: body.http_proxy.as_ref(),
        ingress: body.ingress.as_ref(),
    };
    let (row, created) = profiles::put(&state.services(), &caller.audit(), &name, &input).await?;
    let status = if created { 201 } else { 200 };
    respond::json(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), &view(row))
}

/// `DELETE /api/v1/cloudprofiles/{name}`: refused (409) while a tenant uses it.
pub(crate) async fn delete_cloud_profile(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.require_platform_admin()?;
    profiles::delete(&state.services(), &caller.audit(), &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
