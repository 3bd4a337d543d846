//! The pool sweep: a shared load balancer with no environment left past its grace period is deleted (the
//! balancer with its listeners and rules, then its security group once ELB has let go of its network
//! interfaces), and forgotten. Retiring is decided under the pool's lock, so no environment is placed on a
//! balancer being deleted; a sweep that finds AWS still busy tries again next time.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::aws::provider::AwsProvider;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::ingress::load_balancer_security_group;
use crate::store::load_balancers::{self, BalancerRow};
use crate::store::{cloud_profiles, StoreError};

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Load balancers deleted and forgotten.
    pub deleted: Vec<String>,
    /// Retiring ones AWS is still letting go of.
    pub waiting: Vec<String>,
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("the pool could not be read or written")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Deletes every load balancer empty for longer than `grace`.
pub async fn sweep(db: &DatabaseConnection, aws: &dyn AwsProvider, grace: Duration) -> Result<Swept, SweepError> {
    let cutoff = crate::store::environments::now() - chrono::Duration::from_std(grace).unwrap_or_default();
    let mut swept = Swept::default();
    for row in load_balancers::retire_empty(db, cutoff).await? {
        let name = row.name.clone();
        if retire(db, aws, &row).await? {
            tracing::info!(profile = %row.profile, load_balancer = %name, "empty load balancer deleted");
            swept.deleted.push(name);
        } else {
            swept.waiting.push(name);
        }
    }
    Ok(swept)
}

/// Deletes one retiring balancer and its group; true once nothing of it is left.
async fn retire(db: &DatabaseConnection, aws: &dyn AwsProvider, row: &BalancerRow) -> Result<bool, SweepError> {
    let Some(profile) = cloud_profiles::find(db, &row.profile).await? else {
        // The profile is gone: nobody can say which account holds it. Kept, so a platform admin sees it.
        return Ok(false);
    };
    let services = aws.services(&profile.region, profile.role_arn.as_deref()).await;
    if let Some(found) = services.elb.find_load_balancer(&row.name).await? {
        services.elb.delete_load_balancer(&found.arn).await?;
        if services.elb.find_load_balancer(&row.name).await?.is_some() {
            return Ok(false);
        }
    }
    let group_name = load_balancer_security_group(&row.profile, row.slot);
    if let Some(group) = services.ec2.find_security_group(&profile.vpc_id, &group_name).await? {
        match services.ec2.delete_security_group(&group.id).await {
            Ok(()) => {}
            // ELB releases the balancer's network interfaces a little after it is gone.
            Err(error) if error.kind == AwsErrorKind::Conflict => return Ok(false),
            Err(error) => return Err(error.into()),
        }
    }
    load_balancers::forget(db, &row.profile, row.slot).await?;
    Ok(true)
}

/// Sweeps every minute until shutdown.
pub async fn run(
    db: DatabaseConnection,
    aws: std::sync::Arc<dyn AwsProvider>,
    grace: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        if let Err(error) = sweep(&db, aws.as_ref(), grace).await {
            tracing::warn!(error = %crate::telemetry::with_causes(&error), "load balancer pool sweep failed; will retry");
        }
    }
}
