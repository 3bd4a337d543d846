//! The JenkinsEnvironment reconciler. Each pass reads the stored object and AWS, makes the smallest set of
//! calls to close the gap, and writes status, conditions and events. It never asks why it ran.
//!
//! A pass walks the inventory's create order: roles and log groups, storage (security groups, EFS, mount
//! targets, access point), discovery (the profile's Cloud Map namespace, the environment's service), capacity
//! (cluster, launch template, ASG, capacity provider) and the controller (secret, task definition, service).
//! A Ready environment whose spec has not changed is first probed with two reads (see `probe`).

mod access;
pub mod capacity;
pub mod conditions;
pub mod config_source;
pub mod controller;
mod controller_task;
mod discovery;
mod egress;
pub mod ingress;
pub mod names;
mod oidc_client;
mod ownership;
mod plugin_calls;
pub mod policies;
mod probe;
mod rollout;
pub mod snapshot;
pub mod storage;
mod teardown;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::DatabaseConnection;

pub use crate::aws::provider::{AwsProvider, AwsServices, SdkProvider};

use self::names::Names;
use super::{Action, Claim, Reconcile, ReconcileError};
use crate::aws::AwsError;
use crate::domain::object::{
    ConditionStatus, EventType, JenkinsEnvironment, JenkinsEnvironmentStatus, Phase, ProvisioningRecord,
};
use crate::feed::Feed;
use crate::jenkins::ControllerApi;
use crate::services::environments as environment_writes;
use crate::store::cloud_profiles::{self, ProfileRow};
use crate::store::{environments, events, tenants};

/// How long to wait before looking again while AWS is busy (a file system being created, a mount target).
const POLL_WHILE_WAITING: Duration = Duration::from_secs(5);
/// How often a draining controller's builds are counted: a drain lasts minutes, and each look is a full pass and a
/// call to Jenkins.
const POLL_WHILE_DRAINING: Duration = Duration::from_secs(30);

/// Everything one pass works with.
pub struct Pass {
    pub object: JenkinsEnvironment,
    pub profile: ProfileRow,
    pub aws: AwsServices,
    pub names: Names,
    pub status: JenkinsEnvironmentStatus,
    /// The security groups, once storage has found or made them.
    pub security_groups: Option<storage::SecurityGroups>,
    /// Where the environment is reached (its place on the profile's load balancers), when the profile has ingress.
    pub ingress: Option<ingress::Placed>,
    /// Events to record at the end of the pass.
    pub events: Vec<(EventType, String, String)>,
    /// Instances that left the group while it ran on Spot (each a `SpotInstanceReplaced` event): counted as
    /// interruptions in the cost report.
    pub spot_interruptions: u32,
    pub now: chrono::DateTime<chrono::Utc>,
    /// The environment is being made for the first time: nothing of it existed before Butler's own passes, so
    /// a step creates without looking first (a create that finds the name taken falls back to the lookup) and
    /// skips what `status.provisioning` says an earlier pass made. Once converged, passes read before they act.
    pub fresh: bool,
    /// In a content check: the profile's batched look, standing in for the reads it covers.
    pub snapshot: Option<Arc<snapshot::Snapshot>>,
    /// This pass is the full content check (not the two-read probe).
    pub content_check: bool,
    /// The running controller's HTTP interface (reload, quiet-down, running builds).
    pub controllers: Arc<dyn ControllerApi>,
    /// Where the controller fetches its configuration from Butler (None: it travels in the task definition).
    pub casc_url: Option<String>,
}

impl Pass {
    /// Queues an event for the environment.
    pub fn event(&mut self, event_type: EventType, reason: &str, message: impl Into<String>) {
        self.events.push((event_type, reason.to_owned(), message.into()));
    }

    /// What an earlier pass of this first provisioning made under `key` (None in any other pass).
    pub fn made(&self, key: &str) -> Option<String> {
        if !self.fresh {
            return None;
        }
        self.status.provisioning.as_ref().and_then(|record| record.made.get(key).cloned())
    }

    /// Notes that `key` is made (and its id), so later passes of a first provisioning skip it.
    pub fn record(&mut self, key: &str, id: impl Into<String>) {
        if let Some(record) = self.status.provisioning.as_mut().filter(|_| self.fresh) {
            record.made.insert(key.to_owned(), id.into());
        }
    }

    /// The environment's tags.
    pub fn tags(&self) -> std::collections::BTreeMap<String, String> {
        crate::aws::tags::environment_tags(
            &self.object.metadata.tenant,
            &self.object.metadata.name,
            &self.object.metadata.uid,
        )
    }
}

/// Whether a step is done or waits on AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Done,
    Waiting(String),
}

/// How often a converged environment gets a full content check unless configured otherwise.
pub(crate) const DEFAULT_CONTENT_CHECK: Duration = Duration::from_secs(3600);

/// The reconciler.
pub struct EnvironmentReconciler {
    db: DatabaseConnection,
    feed: Arc<Feed>,
    aws: Arc<dyn AwsProvider>,
    content_check: Duration,
    /// The latest snapshot of each profile; the lock makes one content check take it while the others wait.
    snapshots: tokio::sync::Mutex<std::collections::HashMap<String, Arc<snapshot::Snapshot>>>,
    /// Butler's public URL, the OpenID Connect issuer Jenkins signs people in with and the place it fetches its
    /// configuration from; None keeps Jenkins' local admin only and its configuration in the task definition
    /// (Jenkins could not reach Butler).
    issuer: Option<String>,
    controllers: Arc<dyn ControllerApi>,
}

impl EnvironmentReconciler {
    /// A reconciler writing to `db`, announcing through `feed`, calling AWS through `aws`.
    pub fn new(db: DatabaseConnection, feed: Arc<Feed>, aws: Arc<dyn AwsProvider>) -> Self {
        Self {
            db,
            feed,
            aws,
            content_check: DEFAULT_CONTENT_CHECK,
            snapshots: Default::default(),
            issuer: None,
            controllers: Arc::new(crate::jenkins::http::HttpController),
        }
    }

    /// Talks to controllers through `controllers` (tests give an in-memory Jenkins).
    #[must_use]
    pub fn with_controllers(mut self, controllers: Arc<dyn ControllerApi>) -> Self {
        self.controllers = controllers;
        self
    }

    /// Makes every environment a client of Butler's OpenID Connect provider at `issuer` (Butler's public URL).
    #[must_use]
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        self.issuer = issuer;
        self
    }

    /// Sets how long a converged environment goes on the two-read probe before a full content check.
    #[must_use]
    pub fn with_content_check(mut self, interval: Duration) -> Self {
        self.content_check = interval;
        self
    }

    /// One pass over `tenant/name` (tests drive passes directly).
    pub async fn reconcile_once(&self, tenant: &str, name: &str) -> Result<Action, ReconcileError> {
        let Some(row) = environments::find(&self.db, tenant, name).await.map_err(internal)? else {
            return Ok(Action::AwaitChange); // deleted meanwhile: nothing to do
        };
        let object = environments::to_object(&row).map_err(internal)?;
        let tenant_row = tenants::find(&self.db, tenant)
            .await
            .map_err(internal)?
            .ok_or_else(|| ReconcileError::permanent("TenantNotFound", format!("tenant {tenant:?} is gone")))?;
        let Some(profile) = cloud_profiles::find(&self.db, &tenant_row.cloud_profile).await.map_err(internal)? else {
            let message =
                format!("cloud profile {:?} does not exist; a platform admin creates it", tenant_row.cloud_profile);
            self.report_blocked(&object, "CloudProfileNotFound", &message).await?;
            return Err(ReconcileError::permanent("CloudProfileNotFound", message));
        };
        let aws = self.aws.services(&profile.region, profile.role_arn.as_deref()).await;
        // Recorded names; an environment made before names were recorded gets its legacy names recorded now.
        let names = Names::of(&object);
        let fresh = is_fresh(&object, &names);
        let provisioning = fresh.then(|| {
            object.status.provisioning.clone().unwrap_or_else(|| ProvisioningRecord {
                generation: object.metadata.generation,
                ..ProvisioningRecord::default()
            })
        });
        let now = crate::store::environments::now();
        let content_check = !fresh
            && object.metadata.deletion_timestamp.is_none()
            && self.content_due(&object, &profile.name, now).await;
        let snapshot = if content_check && object.status.observed_generation == object.metadata.generation {
            self.snapshot(&profile, &aws).await?.filter(|snapshot| snapshot.serves(&object, now))
        } else {
            None
        };
        let mut pass = Pass {
            status: JenkinsEnvironmentStatus { aws_names: Some(names.clone()), provisioning, ..object.status.clone() },
            fresh,
            snapshot,
            content_check,
            controllers: self.controllers.clone(),
            casc_url: self.issuer.as_deref().map(|issuer| config_source::url(issuer, &object.metadata.uid)),
            names,
            object,
            profile,
            aws,
            security_groups: None,
            ingress: None,
            events: Vec::new(),
            spot_interruptions: 0,
            now,
        };
        let outcome = if pass.object.metadata.deletion_timestamp.is_some() {
            teardown::run(&mut pass, &self.db, &self.feed).await
        } else {
            self.provision(&mut pass).await
        };
        self.finish(pass, outcome).await
    }

    async fn provision(&self, pass: &mut Pass) -> Result<Action, AwsError> {
        // The probe sees what stops Jenkins; what does not (an extra policy on a role, a rule on a group, a
        // setting) waits for the full content check, which reads everything on its own, longer interval.
        if !pass.content_check && probe::converged(pass).await? && !oidc_client::pending(pass, &self.db).await? {
            return Ok(Action::AwaitChange);
        }
        access::ensure(pass).await?;
        // The load balancer first: the controller's group admits the balancer's.
        pass.ingress = ingress::place(pass, &self.db).await?;
        let storage = storage::ensure(pass).await?;
        let discovery = discovery::ensure(pass, &self.db).await?;
        let address = ingress::ensure(pass).await?;
        // Sign-in: the environment's client at Butler's provider, on its address.
        oidc_client::ensure(pass, &self.db, self.issuer.as_deref()).await?;
        // The token the controller fetches (and reloads) its configuration with, when Butler serves it.
        if pass.casc_url.is_some() {
            config_source::ensure(pass, &self.db).await?;
        }
        let capacity = capacity::ensure(pass).await?;
        let egress = egress::ensure(pass, &self.db).await?;
        // The controller needs all four: its volume, its DNS registry, somewhere to run and a way to its plugins.
        let controller =
            if [&storage, &discovery, &capacity, &egress, &address].iter().all(|part| **part == Progress::Done) {
                controller::ensure(pass, &self.db).await?
            } else {
                Progress::Waiting("storage, discovery, capacity, egress and the address first".to_owned())
            };
        // The load balancer's view of the controller: only once the controller runs.
        let controller = match controller {
            Progress::Done => ingress::observe(pass).await?,
            waiting => waiting,
        };
        let generation = pass.object.metadata.generation;
        conditions::derive_ready(&mut pass.status, generation, false, pass.now);
        Ok(match controller {
            Progress::Done => {
                // Every step read its resource's content (or made it with that content) and left it as the spec
                // says; from now on passes read before they act.
                pass.status.last_content_check_time = Some(pass.now);
                pass.status.provisioning = None;
                Action::AwaitChange
            }
            Progress::Waiting(_) if draining(&pass.status) => Action::RequeueAfter(POLL_WHILE_DRAINING),
            Progress::Waiting(_) => Action::RequeueAfter(POLL_WHILE_WAITING),
        })
    }

    /// Writes status and events; maps AWS errors to retry or wait.
    async fn finish(&self, mut pass: Pass, outcome: Result<Action, AwsError>) -> Result<Action, ReconcileError> {
        let result = match outcome {
            Ok(action) => Ok(action),
            Err(error) => {
                let event_type = if error.is_transient() { EventType::Normal } else { EventType::Warning };
                pass.event(event_type, &error.code, error.to_string());
                if !error.is_transient() {
                    // AWS said no for good (access denied, a quota, a bad AMI): Ready says why, and nothing is
                    // retried until the spec or the cloud profile changes.
                    let generation = pass.object.metadata.generation;
                    let message = error.to_string();
                    conditions::set(
                        &mut pass.status,
                        conditions::READY,
                        ConditionStatus::False,
                        &error.code,
                        &message,
                        generation,
                        pass.now,
                    );
                    pass.status.phase =
                        if pass.object.metadata.deletion_timestamp.is_some() { Phase::Deleting } else { Phase::Failed };
                }
                Err(if error.is_transient() {
                    ReconcileError::transient(error.code.clone(), error.to_string())
                } else {
                    ReconcileError::permanent(error.code.clone(), error.to_string())
                })
            }
        };
        // Spot interruptions the capacity step saw count against the tenant's Spot savings.
        for _ in 0..pass.spot_interruptions {
            let meta = &pass.object.metadata;
            if let Err(error) =
                crate::store::costs::record_interruption(&self.db, meta.uid, &meta.tenant, &meta.name, pass.now).await
            {
                tracing::warn!(error = %error, "spot interruption not counted");
            }
        }
        // Events first: whoever sees the new status finds the events that explain it.
        for (event_type, reason, message) in &pass.events {
            if let Err(error) = events::record(
                &self.db,
                pass.object.metadata.uid,
                &pass.object.metadata.tenant,
                *event_type,
                reason,
                message,
            )
            .await
            {
                // The row may be gone after the last finalizer went; its events went with it.
                tracing::debug!(error = %error, "event not recorded");
            }
        }
        let gone = matches!(result, Ok(Action::AwaitChange)) && pass.object.metadata.deletion_timestamp.is_some();
        if !gone {
            self.write_status(&mut pass).await?;
        }
        result
    }

    /// Whether `object` is due its content check: never checked, or not for the configured interval, or for half of
    /// it while a recent snapshot of its profile is at hand (so a profile's checks drift together into one sweep
    /// that shares one batched look).
    async fn content_due(
        &self,
        object: &JenkinsEnvironment,
        profile: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        let interval = chrono::Duration::from_std(self.content_check).unwrap_or_default();
        let Some(last) = object.status.last_content_check_time else { return true };
        if now - last >= interval {
            return true;
        }
        if now - last < interval / 2 {
            return false;
        }
        let snapshots = self.snapshots.lock().await;
        snapshots.get(profile).is_some_and(|snapshot| snapshot.serves(object, now))
    }

    /// The profile's snapshot, taken now unless a recent one is at hand. Taking one makes the profile's other
    /// environments due, so those half due for their check run it now on the same snapshot.
    async fn snapshot(
        &self,
        profile: &ProfileRow,
        aws: &AwsServices,
    ) -> Result<Option<Arc<snapshot::Snapshot>>, ReconcileError> {
        let mut snapshots = self.snapshots.lock().await;
        let now = crate::store::environments::now();
        let young = |s: &snapshot::Snapshot| {
            now - s.taken_at < chrono::Duration::from_std(snapshot::SNAPSHOT_TTL).unwrap_or_default()
        };
        if let Some(snapshot) = snapshots.get(&profile.name).filter(|s| young(s)) {
            return Ok(Some(snapshot.clone()));
        }
        let environments = environments::in_profile(&self.db, &profile.name).await.map_err(internal)?;
        let taken = match snapshot::take(aws, profile, &environments).await {
            Ok(taken) => Arc::new(taken),
            // Without it each check reads for itself.
            Err(error) => {
                tracing::warn!(profile = %profile.name, error = %error, "no snapshot for the content check");
                return Ok(None);
            }
        };
        snapshots.insert(profile.name.clone(), taken.clone());
        drop(snapshots);
        let half_due = now - chrono::Duration::from_std(self.content_check / 2).unwrap_or_default();
        crate::store::queue::make_content_checks_due(&self.db, &profile.name, half_due).await.map_err(internal)?;
        Ok(Some(taken))
    }

    /// Says in `Ready` why nothing can be done before AWS is even called (the pass never started).
    async fn report_blocked(
        &self,
        object: &JenkinsEnvironment,
        reason: &str,
        message: &str,
    ) -> Result<(), ReconcileError> {
        let now = crate::store::environments::now();
        let mut status = object.status.clone();
        conditions::set(
            &mut status,
            conditions::READY,
            crate::domain::object::ConditionStatus::False,
            reason,
            message,
            object.metadata.generation,
            now,
        );
        if status == object.status {
            return Ok(());
        }
        status.last_observed_time = Some(now);
        let (tenant, name) = (&object.metadata.tenant, &object.metadata.name);
        environment_writes::update_status(&self.db, &self.feed, (tenant, name), status).await.map_err(internal)?;
        Ok(())
    }

    async fn write_status(&self, pass: &mut Pass) -> Result<(), ReconcileError> {
        let previous = &pass.object.status;
        let mut next = pass.status.clone();
        let stale_observation =
            previous.last_observed_time.is_none_or(|seen| pass.now - seen > chrono::Duration::minutes(5));
        // Only a real change (or a stale "last looked" time) is written: a converged pass writes nothing.
        next.last_observed_time = previous.last_observed_time;
        if next == *previous && !stale_observation {
            return Ok(());
        }
        next.last_observed_time = Some(pass.now);
        let (tenant, name) = (&pass.object.metadata.tenant, &pass.object.metadata.name);
        environment_writes::update_status(&self.db, &self.feed, (tenant, name), next).await.map_err(internal)?;
        Ok(())
    }
}

/// Whether a pass over `object` is part of its first provisioning: it has never converged, and either nothing
/// of it is known yet (a new environment) or the record of what earlier passes made is for the current spec.
///
/// Only current names qualify: they are injective, so a name found taken during a first provisioning can only be
/// this environment's own (a pass that crashed after the create). Legacy names may collide with another
/// tenant's, so those environments always look first.
fn is_fresh(object: &JenkinsEnvironment, names: &Names) -> bool {
    let status = &object.status;
    names.scheme == crate::domain::aws_names::CURRENT_SCHEME
        && status.last_content_check_time.is_none()
        && match &status.provisioning {
            Some(record) => record.generation == object.metadata.generation,
            None => status.outputs == crate::domain::object::EnvironmentOutputs::default(),
        }
}

/// Whether a change waits for the controller's builds.
fn draining(status: &JenkinsEnvironmentStatus) -> bool {
    status.rollout.as_ref().is_some_and(|r| r.phase == crate::domain::object::RolloutPhase::Draining)
}

/// A database failure inside a step, as the step's error (transient: the pass is retried).
pub(crate) fn store_failure(operation: &'static str, error: &crate::store::StoreError) -> AwsError {
    AwsError::internal(operation, error)
}

/// A failure of Butler's own (the database, stored data) during a pass: transient, with its whole cause chain.
fn internal(error: impl std::error::Error) -> ReconcileError {
    ReconcileError::transient("InternalError", crate::telemetry::with_causes(&error))
}

impl From<AwsError> for ReconcileError {
    fn from(error: AwsError) -> Self {
        if error.is_transient() {
            Self::transient(error.code.clone(), error.to_string())
        } else {
            Self::permanent(error.code.clone(), error.to_string())
        }
    }
}

impl Reconcile for EnvironmentReconciler {
    fn reconcile<'a>(&'a self, claim: &'a Claim) -> BoxFuture<'a, Result<Action, ReconcileError>> {
        Box::pin(self.reconcile_once(&claim.tenant, &claim.name))
    }
}
