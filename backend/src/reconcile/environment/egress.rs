//! Egress: whether the profile's subnets reach the internet. The stock controller image downloads its plugins
//! at every start, through its task's network interface, which on the EC2 launch type has no public address: a
//! subnet needs a default route through a NAT gateway (or a transit gateway, an appliance's interface). Without
//! one the controller would crash-loop; instead the environment says why in `EgressReady` and the controller
//! waits. The check is per profile, kept on the profile (and shown there), and repeated every few minutes.

use sea_orm::DatabaseConnection;

use super::conditions::{self, EGRESS_READY};
use super::{Pass, Progress};
use crate::aws::AwsError;
use crate::domain::object::ConditionStatus;
use crate::store::cloud_profiles::{self, ProfileEgress};

/// How long a profile's egress check stands before a pass looks again.
const RECHECK_AFTER: chrono::Duration = chrono::Duration::minutes(10);

/// Whether a default route's target carries traffic from a task without a public address.
fn is_egress(target: &str) -> bool {
    ["nat-", "tgw-", "eni-", "i-"].iter().any(|prefix| target.starts_with(prefix))
}

/// The verdict on a profile's subnets from their default routes.
pub(crate) fn judge(
    routes: &std::collections::BTreeMap<String, Option<String>>,
    now: chrono::DateTime<chrono::Utc>,
) -> ProfileEgress {
    let mut lines = Vec::new();
    let mut ok = !routes.is_empty();
    for (subnet, target) in routes {
        match target {
            Some(target) if is_egress(target) => lines.push(format!("{subnet} reaches the internet through {target}")),
            Some(target) => {
                ok = false;
                lines.push(format!(
                    "{subnet} routes 0.0.0.0/0 to {target}, which tasks without a public address cannot use"
                ));
            }
            None => {
                ok = false;
                lines.push(format!("{subnet} has no route to the internet"));
            }
        }
    }
    ProfileEgress { ok, detail: lines.join("; "), checked_at: now }
}

/// Checks (or reuses a recent check of) the profile's egress and sets `EgressReady`.
pub async fn ensure(pass: &mut Pass, db: &DatabaseConnection) -> Result<Progress, AwsError> {
    let generation = pass.object.metadata.generation;
    if let Some(proxy) = pass.profile.proxy() {
        // The controller goes out through the proxy (its JVM, Jenkins and git are told so): no route is needed.
        // Whether the proxy itself lets the update center through is the proxy's business; a controller that
        // cannot download its plugins shows ControllerStopped with its exit code and log.
        let message = format!("the controller reaches the internet through the profile's proxy {}", proxy.url);
        conditions::set(
            &mut pass.status,
            EGRESS_READY,
            ConditionStatus::True,
            "HttpProxy",
            &message,
            generation,
            pass.now,
        );
        return Ok(Progress::Done);
    }
    let recent = pass.profile.egress().filter(|e| pass.now - e.checked_at < RECHECK_AFTER);
    let egress = match recent {
        Some(egress) => egress,
        None => {
            let subnets = super::storage::subnets(pass);
            let routes = pass.aws.ec2.default_routes(&pass.profile.vpc_id, &subnets).await?;
            let egress = judge(&routes, pass.now);
            cloud_profiles::set_egress(db, &pass.profile.name, &egress)
                .await
                .map_err(|e| AwsError::internal("butler:SaveEgress", &e))?;
            egress
        }
    };
    if egress.ok {
        conditions::set(
            &mut pass.status,
            EGRESS_READY,
            ConditionStatus::True,
            "RouteToInternet",
            &egress.detail,
            generation,
            pass.now,
        );
        Ok(Progress::Done)
    } else {
        let message = format!(
            "{}: the controller downloads its plugins at start and cannot; add a NAT gateway route to the cloud \
             profile {:?}'s subnets, or set its httpProxy (checked again every {} minutes)",
            egress.detail,
            pass.profile.name,
            RECHECK_AFTER.num_minutes()
        );
        conditions::set(
            &mut pass.status,
            EGRESS_READY,
            ConditionStatus::False,
            "NoRouteToInternet",
            &message,
            generation,
            pass.now,
        );
        Ok(Progress::Waiting(message))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn only_routes_a_private_task_can_use_count_as_egress() {
        let now = chrono::Utc::now();
        let routes = |target: Option<&str>| BTreeMap::from([("subnet-a".to_owned(), target.map(str::to_owned))]);
        assert!(judge(&routes(Some("nat-0123")), now).ok);
        assert!(judge(&routes(Some("tgw-0123")), now).ok);
        assert!(!judge(&routes(Some("igw-0123")), now).ok, "an internet gateway needs a public address");
        assert!(!judge(&routes(Some("local")), now).ok);
        let none = judge(&routes(None), now);
        assert!(!none.ok && none.detail.contains("no route"), "{}", none.detail);
    }
}
