//! Discovery: the profile's shared private DNS namespace (created once, kept) and the environment's Cloud Map
//! service, so the controller is `<env>.<tenant>.<namespace>` (legacy: `master-<tenant>-<env>`). Sets `DiscoveryReady`.

use sea_orm::DatabaseConnection;

use super::conditions::{self, DISCOVERY_READY};
use super::{ownership, Pass, Progress};
use crate::aws::discovery::{controller_records, OperationState};
use crate::aws::tags::profile_tags;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::{ConditionStatus, EventType};
use crate::store::cloud_profiles;

fn waiting(pass: &mut Pass, reason: &str, message: String) -> Progress {
    let generation = pass.object.metadata.generation;
    conditions::set(&mut pass.status, DISCOVERY_READY, ConditionStatus::False, reason, &message, generation, pass.now);
    Progress::Waiting(message)
}

/// The namespace id, creating the namespace on first use. None while its creation is still running.
pub async fn namespace(pass: &mut Pass, db: &DatabaseConnection) -> Result<Option<String>, AwsError> {
    if let Some(id) = &pass.profile.namespace_id {
        return Ok(Some(id.clone()));
    }
    let name = pass.profile.namespace_name.clone();
    if let Some(found) = pass.aws.discovery.find_namespace(&name).await? {
        cloud_profiles::set_namespace_id(db, &pass.profile.name, &found.id)
            .await
            .map_err(|e| AwsError::internal("butler:SaveNamespace", &e))?;
        pass.profile.namespace_id = Some(found.id.clone());
        return Ok(Some(found.id));
    }
    // The creator request id makes a repeated create (after a crash) the same operation, not a second zone.
    let request_id = format!("butler-profile-{}", pass.profile.name);
    let operation = pass
        .aws
        .discovery
        .create_namespace(&name, &pass.profile.vpc_id, &request_id, &profile_tags(&pass.profile.name))
        .await?;
    pass.event(
        EventType::Normal,
        "NamespaceCreating",
        format!("creating the private DNS namespace {name} for the profile"),
    );
    match pass.aws.discovery.operation(&operation).await? {
        OperationState::Failed { reason } => Err(AwsError {
            kind: AwsErrorKind::Invalid,
            operation: "servicediscovery:CreatePrivateDnsNamespace",
            code: "NamespaceCreationFailed".into(),
            message: reason,
        }),
        OperationState::Pending => Ok(None),
        OperationState::Succeeded { .. } => Ok(pass.aws.discovery.find_namespace(&name).await?.map(|found| found.id)),
    }
}

/// Makes discovery match the spec.
pub async fn ensure(pass: &mut Pass, db: &DatabaseConnection) -> Result<Progress, AwsError> {
    let Some(namespace_id) = namespace(pass, db).await? else {
        let name = pass.profile.namespace_name.clone();
        return Ok(waiting(pass, "NamespaceCreating", format!("the namespace {name} is being created")));
    };
    pass.status.outputs.namespace_id = Some(namespace_id.clone());
    // Made by an earlier pass of this first provisioning (its outputs and DiscoveryReady say so already).
    if pass.made("discoveryService").is_some() {
        return Ok(Progress::Done);
    }
    let service_name = pass.names.discovery_service();
    let request_id = pass.object.metadata.uid.to_string();
    let service = match pass.aws.discovery.find_service(&namespace_id, &service_name).await? {
        Some(service) => {
            ownership::require(pass, "Cloud Map service", &service_name, service.creator_request_id.as_deref())?;
            if service.dns_records != controller_records() {
                pass.aws.discovery.set_controller_records(&service.id).await?;
                let message = format!(
                    "Cloud Map service {service_name} records {:?} set back to {:?}",
                    service.dns_records,
                    controller_records()
                );
                pass.event(EventType::Normal, "DriftRepaired", message);
            }
            service
        }
        None => {
            let created =
                pass.aws.discovery.create_service(&namespace_id, &service_name, &request_id, &pass.tags()).await?;
            pass.event(
                EventType::Normal,
                "DiscoveryServiceCreated",
                format!("created Cloud Map service {service_name}"),
            );
            created
        }
    };
    pass.status.outputs.discovery_service_id = Some(service.id.clone());
    pass.status.outputs.discovery_service_arn = Some(service.arn.clone());
    let dns = pass.names.controller_dns(&pass.profile.namespace_name);
    pass.status.outputs.controller_dns = Some(dns.clone());
    pass.status.outputs.url = Some(format!("http://{dns}:8080/"));
    let generation = pass.object.metadata.generation;
    let message = format!("{dns} (service {})", service.id);
    conditions::set(
        &mut pass.status,
        DISCOVERY_READY,
        ConditionStatus::True,
        "Registered",
        &message,
        generation,
        pass.now,
    );
    pass.record("discoveryService", service.id);
    Ok(Progress::Done)
}
