//! The IAM documents Butler writes, least privilege: the controller may drive agents in its own cluster only,
//! pass only its own agent roles, and read what the amazon-ecs plugin lists (the calls that take no resource).

use serde_json::{json, Value};

use super::names::Names;

/// Trust policy letting ECS tasks assume a role.
pub fn ecs_tasks_trust() -> Value {
    trust("ecs-tasks.amazonaws.com")
}

/// Trust policy letting EC2 instances assume a role (the container instances).
pub fn ec2_trust() -> Value {
    trust("ec2.amazonaws.com")
}

fn trust(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
}

/// The controller task role: what the amazon-ecs plugin needs, scoped to this environment's cluster,
/// its agent task definition family and its own agent roles.
pub fn controller_task_policy(names: &Names, region: &str) -> Value {
    let cluster = names.cluster();
    let cluster_arn = format!("arn:aws:ecs:{region}:*:cluster/{cluster}");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                // These ECS calls take no resource ARN (AWS documents them as "*" only).
                "Sid": "PluginDiscovery",
                "Effect": "Allow",
                // (The Service Authorization Reference lists no resource type for these: "*" is all AWS allows.)
                "Action": [
                    "ecs:ListClusters", "ecs:ListTaskDefinitions",
                    "ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:RegisterTaskDefinition"
                ],
                "Resource": "*"
            },
            {
                // The plugin reads the tags of its own agent task definitions only.
                "Sid": "OwnAgentDefinitionTags",
                "Effect": "Allow",
                "Action": "ecs:ListTagsForResource",
                "Resource": format!("arn:aws:ecs:{region}:*:task-definition/{}-*", names.agent_family_prefix())
            },
            {
                // Container instances of its own cluster only (the plugin checks free capacity before RunTask).
                "Sid": "OwnContainerInstances",
                "Effect": "Allow",
                "Action": "ecs:DescribeContainerInstances",
                "Resource": "*",
                "Condition": { "ArnEquals": { "ecs:cluster": cluster_arn } }
            },
            {
                "Sid": "OwnCluster",
                "Effect": "Allow",
                "Action": ["ecs:ListContainerInstances", "ecs:DescribeClusters"],
                "Resource": cluster_arn
            },
            {
                "Sid": "RunAgentsInOwnCluster",
                "Effect": "Allow",
                "Action": "ecs:RunTask",
                "Resource": format!("arn:aws:ecs:{region}:*:task-definition/{}-*", names.agent_family_prefix()),
                "Condition": { "ArnEquals": { "ecs:cluster": cluster_arn } }
            },
            {
                "Sid": "ManageOwnAgents",
                "Effect": "Allow",
                "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
                "Resource": format!("arn:aws:ecs:{region}:*:task/{cluster}/*")
            },
            {
                // The plugin registers agent task definitions with tags and runs tasks with tags: tag-on-create
                // needs ecs:TagResource for both calls (AWS, "Grant permission to tag resources on creation").
                "Sid": "TagAgentsAtCreation",
                "Effect": "Allow",
                "Action": "ecs:TagResource",
                "Resource": [
                    format!("arn:aws:ecs:{region}:*:task-definition/{}-*", names.agent_family_prefix()),
                    format!("arn:aws:ecs:{region}:*:task/{cluster}/*")
                ],
                "Condition": { "StringEquals": { "ecs:CreateAction": ["RunTask", "RegisterTaskDefinition"] } }
            },
            {
                // The credentials provider lists secrets to find its credentials. ListSecrets takes no resource
                // (Service Authorization Reference: no resource types, no condition keys): it answers names and
                // tags, never values; the plugin's name filter keeps it to the environment's prefix.
                "Sid": "ListCredentials",
                "Effect": "Allow",
                "Action": "secretsmanager:ListSecrets",
                "Resource": "*"
            },
            {
                // Values: only the environment's own credentials (the ARN adds `-` and six characters to the name).
                "Sid": "ReadOwnCredentials",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": format!("arn:aws:secretsmanager:{region}:*:secret:{}*", names.secrets_prefix())
            },
            {
                "Sid": "PassOwnAgentRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": [
                    format!("arn:aws:iam::*:role/{}", names.agent_role()),
                    format!("arn:aws:iam::*:role/{}", names.execution_role())
                ]
            }
        ]
    })
}

/// The execution role's own grant: read this environment's own parameters (admin password, sign-in client secret,
/// configuration token), nothing else.
/// (SecureStrings under the AWS-managed `aws/ssm` key need no kms:Decrypt grant.)
pub fn execution_secrets_policy(names: &Names, region: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReadOwnAdminPassword",
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": [
                format!("arn:aws:ssm:{region}:*:parameter{}", names.admin_password_parameter()),
                format!("arn:aws:ssm:{region}:*:parameter{}", names.oidc_client_secret_parameter()),
                format!("arn:aws:ssm:{region}:*:parameter{}", names.controller_token_parameter())
            ]
        }]
    })
}

/// The file system's own policy. EFS's default policy lets any client that reaches a mount target in, so IAM
/// authorization on the mount protects nothing without one: this one refuses any access without TLS and lets the
/// controller's task role mount and write only through the environment's access point. `file_system_arn`
/// carries the partition, region and account the role ARN needs.
pub fn file_system_policy(names: &Names, file_system_arn: &str, access_point_arn: &str) -> Option<Value> {
    let mut parts = file_system_arn.split(':');
    let (_, partition, _, _, account) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let controller_role = format!("arn:{partition}:iam::{account}:role/{}", names.controller_role());
    Some(json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyWithoutTls",
                "Effect": "Deny",
                "Principal": { "AWS": "*" },
                "Action": "*",
                "Resource": file_system_arn,
                "Condition": { "Bool": { "aws:SecureTransport": "false" } }
            },
            {
                "Sid": "ControllerThroughItsAccessPoint",
                "Effect": "Allow",
                "Principal": { "AWS": controller_role },
                "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                "Resource": file_system_arn,
                "Condition": { "StringEquals": { "elasticfilesystem:AccessPointArn": access_point_arn } }
            }
        ]
    }))
}

/// AWS's managed policy for task execution (pull images, write logs).
pub const EXECUTION_MANAGED_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
/// AWS's managed policy for ECS container instances.
pub const INSTANCE_MANAGED_POLICY: &str = "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_controller_policy_is_scoped_to_its_own_cluster_and_roles() {
        let names = Names::current("payments", "ci", &uuid::Uuid::nil());
        let policy = controller_task_policy(&names, "eu-west-1");
        let statements = policy["Statement"].as_array().expect("statements");
        for statement in statements {
            let actions: Vec<&str> = match &statement["Action"] {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            assert!(actions.iter().all(|a| !a.ends_with(":*") && *a != "*"), "no wildcard actions: {actions:?}");
            if statement["Resource"] == "*" {
                let sid = statement["Sid"].as_str().unwrap_or_default();
                // The calls AWS takes no resource for: the plugin's discovery, and ListSecrets (names and tags only).
                let resourceless = ["PluginDiscovery", "ListCredentials"];
                assert!(resourceless.contains(&sid) || statement.get("Condition").is_some(), "{sid} is unscoped");
            }
        }
        let text = policy.to_string();
        assert!(text.contains("cluster/butler-payments_ci\""));
        assert!(text.contains(&format!("role/{}", names.agent_role())));
        assert!(!text.contains("0.0.0.0"));
    }
}
