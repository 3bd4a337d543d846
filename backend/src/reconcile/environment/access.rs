//! Roles and logs: the controller task role (least privilege, see `policies`), the agent and execution roles,
//! the container instances' role and instance profile, and the log groups with their retention.

use super::policies::{self, EXECUTION_MANAGED_POLICY, INSTANCE_MANAGED_POLICY};
use super::Pass;
use crate::aws::iam::RoleContent;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::EventType;

/// Days logs are kept.
pub(crate) const LOG_RETENTION_DAYS: i32 = 30;
/// Name of Butler's inline policy on a role.
const INLINE_POLICY: &str = "butler";

/// What a role gets when it is created: an inline policy of Butler's, an AWS managed policy, both or neither.
#[derive(Default)]
struct Grant {
    inline: Option<serde_json::Value>,
    managed: Option<&'static str>,
}

/// Makes a role say exactly what Butler wants: the trust policy, Butler's inline policy and no other, the one
/// managed policy and no other. The same path creates a role, finishes one a crash left without its policies and
/// repairs one changed out of band (an extra policy is privilege nobody granted: it goes).
async fn role(pass: &mut Pass, name: &str, trust: serde_json::Value, grant: Grant) -> Result<(), AwsError> {
    let key = format!("role/{name}");
    if pass.made(&key).is_some() {
        return Ok(());
    }
    // A first provisioning creates without looking: nothing of the environment exists yet.
    let found = match (&pass.snapshot, pass.fresh) {
        (_, true) => None,
        (Some(snapshot), _) => snapshot.roles.roles.get(name).cloned(),
        (None, _) => pass.aws.iam.role_content(name).await?,
    };
    let (content, created) = match found {
        Some(content) => (content, false),
        None => match pass.aws.iam.create_role(name, &trust.to_string(), &pass.tags()).await {
            Ok(_) => {
                pass.event(EventType::Normal, "RoleCreated", format!("created IAM role {name}"));
                (RoleContent { trust: trust.clone(), ..RoleContent::default() }, true)
            }
            // Made by a pass whose answer was lost: read it and converge it like any other.
            Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
                (pass.aws.iam.role_content(name).await?.ok_or(error)?, false)
            }
            Err(error) => return Err(error),
        },
    };
    let mut repaired = Vec::new();
    if content.trust != trust {
        pass.aws.iam.update_trust(name, &trust.to_string()).await?;
        repaired.push("trust policy".to_owned());
    }
    for (policy, _) in content.inline.iter().filter(|(policy, _)| grant.inline.is_none() || *policy != INLINE_POLICY) {
        pass.aws.iam.delete_role_policy(name, policy).await?;
        repaired.push(format!("inline policy {policy} removed"));
    }
    if let Some(document) = &grant.inline {
        if content.inline.get(INLINE_POLICY) != Some(document) {
            pass.aws.iam.put_role_policy(name, INLINE_POLICY, &document.to_string()).await?;
            repaired.push(format!("inline policy {INLINE_POLICY}"));
        }
    }
    for arn in content.attached.iter().filter(|arn| grant.managed != Some(arn.as_str())) {
        pass.aws.iam.detach_managed_policy(name, arn).await?;
        repaired.push(format!("managed policy {arn} detached"));
    }
    if let Some(arn) = grant.managed {
        if !content.attached.iter().any(|a| a == arn) {
            pass.aws.iam.attach_managed_policy(name, arn).await?;
            repaired.push(format!("managed policy {arn}"));
        }
    }
    // A role made in this pass gets its policies as a matter of course; on a role that existed, any change is a
    // repair (a crash between create and policy, or a change out of band) and says so.
    if !created && !repaired.is_empty() {
        pass.event(EventType::Normal, "DriftRepaired", format!("IAM role {name}: {}", repaired.join(", ")));
    }
    pass.record(&key, name);
    Ok(())
}

/// Makes roles, the instance profile and log groups match.
pub async fn ensure(pass: &mut Pass) -> Result<(), AwsError> {
    let names = pass.names.clone();
    let region = pass.profile.region.clone();
    let controller = Grant { inline: Some(policies::controller_task_policy(&names, &region)), managed: None };
    role(pass, &names.controller_role(), policies::ecs_tasks_trust(), controller).await?;
    role(pass, &names.agent_role(), policies::ecs_tasks_trust(), Grant::default()).await?;
    let execution = Grant {
        inline: Some(policies::execution_secrets_policy(&names, &region)),
        managed: Some(EXECUTION_MANAGED_POLICY),
    };
    role(pass, &names.execution_role(), policies::ecs_tasks_trust(), execution).await?;
    let instance = Grant { inline: None, managed: Some(INSTANCE_MANAGED_POLICY) };
    role(pass, &names.instance_role(), policies::ec2_trust(), instance).await?;
    let profile_holds_role = pass.snapshot.as_ref().is_some_and(|snapshot| {
        snapshot.roles.instance_profiles.get(&names.instance_role()) == Some(&vec![names.instance_role()])
    });
    if pass.made("instanceProfile").is_none() && !profile_holds_role {
        let look_first = !pass.fresh;
        let profile = names.instance_role();
        let changes = pass.aws.iam.ensure_instance_profile(&profile, &names.instance_role(), look_first).await?;
        // Made now while first provisioning is the plan; anything else changed is a repair.
        if !pass.fresh && !changes.is_empty() {
            let message = format!("instance profile {profile}: {}", changes.join(", "));
            pass.event(EventType::Normal, "DriftRepaired", message);
        }
        pass.record("instanceProfile", profile);
    }
    if pass.made("logGroups").is_some() {
        return Ok(());
    }
    let existing = match (&pass.snapshot, pass.fresh) {
        (_, true) => std::collections::BTreeMap::new(),
        (Some(snapshot), _) => snapshot.log_groups.clone(),
        (None, _) => pass.aws.logs.log_groups_with_prefix(&names.log_group_prefix()).await?,
    };
    for group in [names.controller_log_group(), names.agents_log_group()] {
        match existing.get(&group).copied() {
            None => {
                pass.aws.logs.create_log_group(&group, &pass.tags()).await?;
                pass.aws.logs.put_retention(&group, LOG_RETENTION_DAYS).await?;
                pass.event(EventType::Normal, "LogGroupCreated", format!("created log group {group}"));
            }
            Some(retention) if retention != Some(LOG_RETENTION_DAYS) => {
                pass.aws.logs.put_retention(&group, LOG_RETENTION_DAYS).await?;
                pass.event(
                    EventType::Normal,
                    "DriftRepaired",
                    format!("log group {group} retention set back to {LOG_RETENTION_DAYS} days"),
                );
            }
            Some(_) => {}
        }
    }
    pass.record("logGroups", names.log_group_prefix());
    Ok(())
}

/// Deletes log groups, the instance profile and roles (after everything that used them is gone).
pub async fn remove(pass: &mut Pass) -> Result<(), AwsError> {
    let names = pass.names.clone();
    for group in [names.controller_log_group(), names.agents_log_group()] {
        pass.aws.logs.delete_log_group(&group).await?;
    }
    pass.aws.iam.delete_instance_profile(&names.instance_role()).await?;
    for role in [names.controller_role(), names.agent_role(), names.execution_role(), names.instance_role()] {
        pass.aws.iam.delete_role(&role).await?;
    }
    Ok(())
}
