//! Transactional writes: each one locks the row, admits the change, takes the next resourceVersion, writes
//! the row, the change log entry (with NOTIFY) and any event, and commits them together. Dry runs stop short
//! of the write and store nothing.

use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use uuid::Uuid;

use super::admission::{admit, Admitted};
use super::guardrails;
use super::{Committed, OperationError};
use crate::domain::aws_names::Names;
use crate::domain::manifest::{manifest_from_value, EnvironmentManifest, ManifestError};
use crate::domain::object::{EventType, JenkinsEnvironment, JenkinsEnvironmentStatus, ObjectMeta};
use crate::domain::team_config;
use crate::domain::validation::FieldError;
use crate::domain::{API_VERSION, KIND};
use crate::store::audit::{self, AuditContext, AuditEntry};
use crate::store::changes::{self, ChangeType};
use crate::store::entity::jenkins_environment::Model;
use crate::store::{environments, events, tenants, StoreError};

/// The resource kind audit entries name.
const RESOURCE_KIND: &str = "JenkinsEnvironment";

async fn record(
    txn: &DatabaseTransaction,
    context: &AuditContext,
    action: &str,
    object: &JenkinsEnvironment,
    generation_before: Option<i64>,
    status_code: u16,
) -> Result<(), OperationError> {
    let entry = AuditEntry {
        context,
        tenant: Some(&object.metadata.tenant),
        action,
        resource_kind: RESOURCE_KIND,
        resource_name: Some(&object.metadata.name),
        generation_before,
        generation_after: Some(object.metadata.generation),
        outcome: "allowed",
        status_code,
        detail: None,
    };
    Ok(audit::append(txn, &entry).await?)
}

/// Refuses a write that would take the tenant past a quota. Runs under the tenant lock, so usage is exact.
async fn check_quotas(
    txn: &DatabaseTransaction,
    context: &AuditContext,
    tenant: &crate::store::entity::tenant::Model,
    added_environments: i64,
    instances_before: i64,
    instances_after: i64,
) -> Result<(), OperationError> {
    let usage = tenants::usage(txn, &tenant.name).await?;
    let exceeded = |quota, limit: i32, used: i64, requested: i64| OperationError::QuotaExceeded {
        quota,
        limit: i64::from(limit),
        used,
        requested,
        actor: context.actor.clone(),
        actor_kind: context.actor_kind,
        tenant: tenant.name.clone(),
    };
    let environments = usage.environments + added_environments;
    if added_environments > 0 && environments > i64::from(tenant.max_environments) {
        return Err(exceeded("environments", tenant.max_environments, usage.environments, environments));
    }
    let instances = usage.instances - instances_before + instances_after;
    // Lowering capacity is always allowed, even above a quota that was reduced meanwhile.
    if instances_after > instances_before && instances > i64::from(tenant.max_instances) {
        return Err(exceeded("instances", tenant.max_instances, usage.instances, instances));
    }
    Ok(())
}

/// The object after an operation, what was committed (nothing for dry runs and no-op updates), and advice.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub object: JenkinsEnvironment,
    pub committed: Option<Committed>,
    pub warnings: Vec<String>,
}

impl Outcome {
    /// Shows the committed write in this process's cache and watches at once (read-your-writes).
    pub fn publish_to(&self, feed: &crate::feed::Feed) {
        feed.publish(&self.object, self.committed.as_ref());
    }
}

/// Whether a delete finished or waits for finalizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// The row is gone.
    Deleted,
    /// `deletionTimestamp` is set; the row goes when the finalizers are removed.
    Pending,
}

fn not_found(tenant: &str, name: &str) -> OperationError {
    OperationError::NotFound { tenant: tenant.to_owned(), name: name.to_owned() }
}

async fn locked(
    txn: &DatabaseTransaction,
    tenant: &str,
    name: &str,
) -> Result<(Model, JenkinsEnvironment), OperationError> {
    let row = environments::find_for_update(txn, tenant, name).await?.ok_or_else(|| not_found(tenant, name))?;
    let object = environments::to_object(&row)?;
    Ok((row, object))
}

/// Spec changes a tenant may make per minute (each may redeploy a controller).
pub(crate) const SPEC_CHANGES_PER_TENANT_PER_MINUTE: i64 = 10;

/// Stores `next` under a fresh resourceVersion and logs the change. `base` is the current row (None: insert).
async fn write(
    txn: &DatabaseTransaction,
    mut next: JenkinsEnvironment,
    base: Option<Model>,
    change_type: ChangeType,
) -> Result<(JenkinsEnvironment, Committed), OperationError> {
    let resource_version = changes::next_resource_version(txn).await?;
    next.metadata.resource_version = resource_version.to_string();
    let row = environments::to_row(&next, base.as_ref())?;
    match (change_type, base.is_some()) {
        (ChangeType::Deleted, _) => environments::delete(txn, row.uid).await?,
        (_, false) => environments::insert(txn, row).await.map_err(|error| match error {
            StoreError::AlreadyExists => {
                OperationError::AlreadyExists { tenant: next.metadata.tenant.clone(), name: next.metadata.name.clone() }
            }
            other => other.into(),
        })?,
        (_, true) => environments::update(txn, row).await?,
    }
    let json = serde_json::to_value(&next).map_err(StoreError::Corrupt)?;
    changes::append(txn, resource_version, change_type, &next.metadata.tenant, &next.metadata.name, &json).await?;
    Ok((next, Committed { resource_version, change_type }))
}

/// The team's configuration may interpolate only credentials the environment has (`${<id>}`); a seed job naming
/// one it does not have yet is admitted with a warning (its checkout fails until the credential is added).
async fn check_credentials(
    txn: &DatabaseTransaction,
    uid: Option<Uuid>,
    spec: &crate::domain::spec::JenkinsEnvironmentSpec,
    warnings: &mut Vec<String>,
) -> Result<(), OperationError> {
    let Ok(document) = team_config::parse(&spec.jenkins.configuration_as_code) else { return Ok(()) };
    let seeds: Vec<(usize, &str)> = spec
        .jenkins
        .seed_jobs
        .iter()
        .enumerate()
        .filter_map(|(index, seed)| seed.credentials_id.as_deref().map(|id| (index, id)))
        .collect();
    if team_config::referenced_credentials(&document).is_empty() && seeds.is_empty() {
        return Ok(());
    }
    let known: std::collections::BTreeSet<String> = match uid {
        Some(uid) => crate::store::credentials::list(txn, uid).await?.into_iter().map(|c| c.credential_id).collect(),
        None => Default::default(),
    };
    let errors = team_config::check(&document, Some(&known));
    if !errors.is_empty() {
        return Err(OperationError::Invalid(errors));
    }
    for (index, id) in seeds.into_iter().filter(|(_, id)| !known.contains(*id)) {
        warnings.push(format!(
            "spec.jenkins.seedJobs[{index}].credentialsId: this environment has no credential {id:?} yet; the seed \
             job cannot check out its repository until it is added (PUT …/credentials/{id})"
        ));
    }
    Ok(())
}

/// Creates an environment from a manifest.
pub async fn create(
    db: &DatabaseConnection,
    context: &AuditContext,
    tenant: &str,
    manifest: EnvironmentManifest,
    dry_run: bool,
) -> Result<Outcome, OperationError> {
    let mut admitted = admit(tenant, None, manifest, None)?;
    let txn = db.begin().await?;
    check_credentials(&txn, None, &admitted.spec, &mut admitted.warnings).await?;
    let tenant_row = tenants::find_for_update(&txn, tenant)
        .await?
        .ok_or_else(|| OperationError::TenantNotFound(tenant.to_owned()))?;
    check_quotas(&txn, context, &tenant_row, 1, 0, i64::from(admitted.spec.capacity.max)).await?;
    guardrails::check(&txn, context, &tenant_row, &admitted.name, &admitted.spec, None).await?;
    let now = environments::now();
    let uid = Uuid::new_v4();
    // Names are given once, here, and recorded: later passes never derive them again.
    let aws_names = Names::current(tenant, &admitted.name, &uid);
    let object = JenkinsEnvironment {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        metadata: ObjectMeta {
            tenant: tenant.to_owned(),
            name: admitted.name.clone(),
            uid,
            generation: 1,
            resource_version: String::new(),
            labels: admitted.labels,
            annotations: admitted.annotations,
            finalizers: admitted.finalizers,
            creation_timestamp: now,
            deletion_timestamp: None,
        },
        spec: admitted.spec,
        status: JenkinsEnvironmentStatus { aws_names: Some(aws_names), ..JenkinsEnvironmentStatus::default() },
    };
    if dry_run {
        if environments::find(&txn, tenant, &admitted.name).await?.is_some() {
            return Err(OperationError::AlreadyExists { tenant: tenant.to_owned(), name: admitted.name });
        }
        return Ok(Outcome { object, committed: None, warnings: admitted.warnings });
    }
    let (object, committed) = write(&txn, object, None, ChangeType::Added).await?;
    events::record(
        &txn,
        object.metadata.uid,
        tenant,
        EventType::Normal,
        "Created",
        "environment created at generation 1",
    )
    .await?;
    record(&txn, context, "jenkinsenvironment.create", &object, None, 201).await?;
    txn.commit().await?;
    Ok(Outcome { object, committed: Some(committed), warnings: admitted.warnings })
}

/// Replaces an environment's spec and metadata (PUT).
pub async fn replace(
    db: &DatabaseConnection,
    context: &AuditContext,
    tenant: &str,
    name: &str,
    manifest: EnvironmentManifest,
    dry_run: bool,
) -> Result<Outcome, OperationError> {
    let txn = db.begin().await?;
    let tenant_row = locked_tenant(&txn, tenant).await?;
    let (row, current) = locked(&txn, tenant, name).await?;
    let admitted = admit(tenant, Some(name), manifest, Some(&current))?;
    let update = Update { context, tenant: &tenant_row, action: "jenkinsenvironment.replace", dry_run };
    apply_update(txn, row, current, admitted, update).await
}

/// Locks the tenant first: every writer that checks quotas takes tenant, then row, then the resourceVersion
/// lock, so lock order never cycles.
async fn locked_tenant(
    txn: &DatabaseTransaction,
    tenant: &str,
) -> Result<crate::store::entity::tenant::Model, OperationError> {
    tenants::find_for_update(txn, tenant).await?.ok_or_else(|| OperationError::TenantNotFound(tenant.to_owned()))
}

/// Who updates, in which tenant, as which action.
struct Update<'a> {
    context: &'a AuditContext,
    tenant: &'a crate::store::entity::tenant::Model,
    action: &'static str,
    dry_run: bool,
}

/// Applies an RFC 7386 JSON merge patch to the stored object, then updates as `replace` does.
pub async fn merge_patch(
    db: &DatabaseConnection,
    context: &AuditContext,
    tenant: &str,
    name: &str,
    patch: &serde_json::Value,
    dry_run: bool,
) -> Result<Outcome, OperationError> {
    let txn = db.begin().await?;
    let tenant_row = locked_tenant(&txn, tenant).await?;
    let (row, current) = locked(&txn, tenant, name).await?;
    let mut document = serde_json::to_value(&current).map_err(StoreError::Corrupt)?;
    // A patch only names what it changes: the stored resourceVersion is no precondition unless the patch sets one.
    json_patch::merge(&mut document, patch);
    let manifest = manifest_from_value(document).map_err(|error| match error {
        ManifestError::Shape { field, message } => OperationError::Invalid(vec![FieldError { field, message }]),
        ManifestError::Syntax(message) => OperationError::Invalid(vec![FieldError { field: String::new(), message }]),
    })?;
    let admitted = admit(tenant, Some(name), manifest, Some(&current))?;
    let update = Update { context, tenant: &tenant_row, action: "jenkinsenvironment.patch", dry_run };
    apply_update(txn, row, current, admitted, update).await
}

async fn apply_update(
    txn: DatabaseTransaction,
    mut row: Model,
    current: JenkinsEnvironment,
    admitted: Admitted,
    update: Update<'_>,
) -> Result<Outcome, OperationError> {
    let dry_run = update.dry_run;
    let spec_changed = admitted.spec != current.spec;
    let mut admitted = admitted;
    if spec_changed {
        check_credentials(&txn, Some(current.metadata.uid), &admitted.spec, &mut admitted.warnings).await?;
    }
    let mut next = current.clone();
    next.metadata.labels = admitted.labels;
    next.metadata.annotations = admitted.annotations;
    next.metadata.finalizers = admitted.finalizers;
    next.spec = admitted.spec;
    if spec_changed {
        next.metadata.generation += 1;
    }
    check_quotas(
        &txn,
        update.context,
        update.tenant,
        0,
        i64::from(current.spec.capacity.max),
        i64::from(next.spec.capacity.max),
    )
    .await?;
    if spec_changed && !dry_run {
        // A spec change may redeploy a controller (and with it running builds): each tenant gets a bounded rate,
        // counted from the audit log under the tenant's row lock, so it holds across replicas.
        let tenant = &update.tenant.name;
        let (recent, wait) = audit::recent_spec_changes(&txn, tenant, 60).await?;
        if recent >= SPEC_CHANGES_PER_TENANT_PER_MINUTE {
            return Err(OperationError::TooManyChanges {
                tenant: tenant.clone(),
                limit: SPEC_CHANGES_PER_TENANT_PER_MINUTE,
                retry_after_seconds: wait,
            });
        }
    }
    if spec_changed {
        let name = &current.metadata.name;
        guardrails::check(&txn, update.context, update.tenant, name, &next.spec, Some(&current.spec)).await?;
    }
    // An update that changes nothing writes nothing, as in Kubernetes: the resourceVersion stays.
    if next == current || dry_run {
        return Ok(Outcome { object: next, committed: None, warnings: admitted.warnings });
    }
    let finished_deleting = next.metadata.deletion_timestamp.is_some() && next.metadata.finalizers.is_empty();
    let change_type = if finished_deleting { ChangeType::Deleted } else { ChangeType::Modified };
    if spec_changed {
        // A new generation is the reconciler's first priority, with a fresh backoff.
        row.next_reconcile_at = environments::now().fixed_offset();
        row.attempts = 0;
    }
    let generations = (current.metadata.generation, next.metadata.generation);
    let (object, committed) = write(&txn, next, Some(row), change_type).await?;
    if spec_changed && !finished_deleting {
        let message = format!("spec changed: generation {} -> {}", generations.0, generations.1);
        events::record(&txn, object.metadata.uid, &object.metadata.tenant, EventType::Normal, "SpecChanged", &message)
            .await?;
    }
    record(&txn, update.context, update.action, &object, Some(generations.0), 200).await?;
    txn.commit().await?;
    Ok(Outcome { object, committed: Some(committed), warnings: admitted.warnings })
}

/// Requests deletion: sets `deletionTimestamp` (once; repeating is a no-op) or, with no finalizers, deletes.
pub async fn delete(
    db: &DatabaseConnection,
    context: &AuditContext,
    tenant: &str,
    name: &str,
) -> Result<(Outcome, Deletion), OperationError> {
    let txn = db.begin().await?;
    let (mut row, current) = locked(&txn, tenant, name).await?;
    if current.metadata.deletion_timestamp.is_some() {
        return Ok((Outcome { object: current, committed: None, warnings: Vec::new() }, Deletion::Pending));
    }
    let mut next = current;
    next.metadata.deletion_timestamp = Some(environments::now());
    if next.metadata.finalizers.is_empty() {
        let generation = next.metadata.generation;
        let (object, committed) = write(&txn, next, Some(row), ChangeType::Deleted).await?;
        record(&txn, context, "jenkinsenvironment.delete", &object, Some(generation), 200).await?;
        txn.commit().await?;
        return Ok((Outcome { object, committed: Some(committed), warnings: Vec::new() }, Deletion::Deleted));
    }
    row.next_reconcile_at = environments::now().fixed_offset();
    let (object, committed) = write(&txn, next, Some(row), ChangeType::Modified).await?;
    let message = format!("deletion requested; waiting for finalizers {}", object.metadata.finalizers.join(", "));
    events::record(&txn, object.metadata.uid, tenant, EventType::Normal, "DeletionRequested", &message).await?;
    record(&txn, context, "jenkinsenvironment.delete", &object, Some(object.metadata.generation), 202).await?;
    txn.commit().await?;
    Ok((Outcome { object, committed: Some(committed), warnings: Vec::new() }, Deletion::Pending))
}

/// Writes the status subresource (Butler only). No-op when nothing changed.
pub async fn update_status(
    db: &DatabaseConnection,
    tenant: &str,
    name: &str,
    status: JenkinsEnvironmentStatus,
) -> Result<Outcome, OperationError> {
    let txn = db.begin().await?;
    let (row, current) = locked(&txn, tenant, name).await?;
    if current.status == status {
        return Ok(Outcome { object: current, committed: None, warnings: Vec::new() });
    }
    let mut next = current;
    next.status = status;
    let (object, committed) = write(&txn, next, Some(row), ChangeType::Modified).await?;
    txn.commit().await?;
    Ok(Outcome { object, committed: Some(committed), warnings: Vec::new() })
}

/// Removes a finalizer (Butler only, once its cleanup is done). When it was the last one of an object being
/// deleted, the row goes: the outcome's change is then DELETED.
pub async fn remove_finalizer(
    db: &DatabaseConnection,
    context: &AuditContext,
    tenant: &str,
    name: &str,
    finalizer: &str,
) -> Result<Outcome, OperationError> {
    let txn = db.begin().await?;
    let (row, current) = locked(&txn, tenant, name).await?;
    if !current.metadata.finalizers.iter().any(|f| f == finalizer) {
        return Ok(Outcome { object: current, committed: None, warnings: Vec::new() });
    }
    let mut next = current;
    next.metadata.finalizers.retain(|f| f != finalizer);
    let gone = next.metadata.deletion_timestamp.is_some() && next.metadata.finalizers.is_empty();
    let change_type = if gone { ChangeType::Deleted } else { ChangeType::Modified };
    let (object, committed) = write(&txn, next, Some(row), change_type).await?;
    let generation = Some(object.metadata.generation);
    record(&txn, context, "jenkinsenvironment.finalize", &object, generation, 200).await?;
    txn.commit().await?;
    Ok(Outcome { object, committed: Some(committed), warnings: Vec::new() })
}
