//! The meter: once per interval (default 5 minutes) across every Butler process, it records for each
//! environment which instances ran (type, lifecycle, zone: from DescribeInstances by tag, pages of 1,000),
//! JENKINS_HOME's size, and what that cost, as one sample covering the time since the environment's last
//! sample. A restart that missed intervals is accounted by elapsed time; nothing is counted twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::aws::provider::AwsProvider;
use crate::domain::cost_arithmetic::{price_period, Lifecycle, RunningInstance};
use crate::store::costs::{self, Meterable};
use crate::store::{cloud_profiles, StoreError};

/// How long a cached Spot price is used before EC2 is asked again (at most one call per type, zone and hour).
const SPOT_PRICE_TTL: chrono::Duration = chrono::Duration::hours(1);

/// What one pass did.
#[derive(Debug, Clone, PartialEq)]
pub struct PassReport {
    pub interval_end: DateTime<Utc>,
    pub environments: usize,
    pub samples: usize,
}

/// Why a pass failed (it then leaves nothing behind: the transaction rolls back).
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("AWS: {0}")]
    Aws(#[from] crate::aws::AwsError),
}

/// The meter of one process.
pub struct Meter {
    db: DatabaseConnection,
    aws: Arc<dyn AwsProvider>,
    owner: String,
    interval: Duration,
}

/// The end of the interval `now` falls in the last complete one of: intervals are aligned to the epoch.
pub fn interval_end(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let step = i64::try_from(interval.as_secs().max(1)).unwrap_or(300);
    let seconds = now.timestamp().div_euclid(step) * step;
    DateTime::from_timestamp(seconds, 0).unwrap_or(now)
}

impl Meter {
    /// A meter writing to `db`, asking AWS through `aws`, named `owner` in the records.
    pub fn new(db: DatabaseConnection, aws: Arc<dyn AwsProvider>, owner: String, interval: Duration) -> Self {
        Self { db, aws, owner, interval }
    }

    /// Meters the interval ending at or before `now`, unless another process is metering or has metered it.
    pub async fn run_at(&self, now: DateTime<Utc>) -> Result<Option<PassReport>, MeterError> {
        let end = interval_end(now, self.interval);
        let txn = self.db.begin().await?;
        if !costs::try_lock_meter(&txn).await? || costs::interval_done(&txn, end).await? {
            // Roll back now: a dropped transaction's connection could sit in the pool still holding the lock.
            txn.rollback().await?;
            return Ok(None);
        }
        let environments = costs::meterable(&txn).await?;
        let prices = costs::price_list(&txn).await?;
        let mut by_profile: BTreeMap<String, Vec<&Meterable>> = BTreeMap::new();
        for environment in &environments {
            by_profile.entry(environment.cloud_profile.clone()).or_default().push(environment);
        }
        let step = chrono::Duration::from_std(self.interval).unwrap_or(chrono::Duration::minutes(5));
        let mut samples = 0;
        for (profile_name, members) in by_profile {
            let Some(profile) = cloud_profiles::find(&txn, &profile_name).await? else { continue };
            let aws = self.aws.services(&profile.region, profile.role_arn.as_deref()).await;
            let mut instances: HashMap<String, Vec<RunningInstance>> = HashMap::new();
            for instance in aws.ec2.tagged_instances().await? {
                instances.entry(instance.environment_uid.clone()).or_default().push(RunningInstance {
                    instance_type: instance.instance_type,
                    availability_zone: instance.availability_zone,
                    lifecycle: if instance.spot { Lifecycle::Spot } else { Lifecycle::OnDemand },
                });
            }
            let sizes = aws.efs.file_system_sizes().await?;
            let mut spot = costs::cached_spot_prices(&txn, &profile.region, end - SPOT_PRICE_TTL).await?;
            let wanted: Vec<(String, String)> = instances
                .values()
                .flatten()
                .filter(|i| i.lifecycle == Lifecycle::Spot)
                .map(|i| (i.instance_type.clone(), i.availability_zone.clone()))
                .collect();
            for (instance_type, zone) in wanted {
                if spot.contains_key(&(instance_type.clone(), zone.clone())) {
                    continue;
                }
                if let Some(usd) = aws.ec2.spot_price(&instance_type, &zone).await? {
                    costs::put_spot_price(&txn, &profile.region, &instance_type, &zone, usd, end).await?;
                    spot.insert((instance_type, zone), usd);
                }
            }
            for environment in members {
                // Since the last sample (a restart gap included), or since creation for a new environment.
                let start = environment.metered_until.unwrap_or_else(|| environment.created_at.max(end - step));
                if start >= end {
                    continue;
                }
                let hours = (end - start).num_milliseconds() as f64 / 3_600_000.0;
                let uid = environment.uid.to_string();
                let running = instances.get(&uid).map(Vec::as_slice).unwrap_or_default();
                let efs_bytes = sizes.get(&uid).copied().unwrap_or(0).max(0) as u64;
                let lookup = |t: &str, z: &str| spot.get(&(t.to_owned(), z.to_owned())).copied();
                let cost = price_period(running, hours, efs_bytes, &profile.region, &prices, &lookup);
                if costs::insert_sample(&txn, environment, start, end, &cost).await? {
                    samples += 1;
                }
            }
        }
        let count = i32::try_from(environments.len()).unwrap_or(i32::MAX);
        costs::finish_interval(&txn, end, &self.owner, count).await?;
        // Budgets are checked against what this pass recorded, in the same transaction: once per crossing.
        crate::store::budgets::check(&txn, end).await?;
        txn.commit().await?;
        Ok(Some(PassReport { interval_end: end, environments: environments.len(), samples }))
    }

    /// Meters every interval until shutdown, a few seconds after each boundary.
    pub async fn run(self, shutdown: tokio_util::sync::CancellationToken) {
        loop {
            let now = Utc::now();
            let next = interval_end(now, self.interval) + chrono::Duration::from_std(self.interval).unwrap_or_default();
            let wait = (next - now).to_std().unwrap_or_default() + Duration::from_secs(2);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            match self.run_at(Utc::now()).await {
                Ok(Some(report)) => tracing::info!(
                    interval_end = %report.interval_end, environments = report.environments, samples = report.samples,
                    "metered"
                ),
                Ok(None) => tracing::debug!("another process metered this interval"),
                Err(error) => tracing::warn!(error = %error, "metering failed; the next interval covers this one"),
            }
        }
    }
}
