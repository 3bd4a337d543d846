//! AWS: one thin adapter per service (a trait shaped around what the reconciler needs, and the SDK-backed
//! implementation), errors classified at the boundary, every call counted and rate-limited per account.

pub mod autoscaling;
pub mod calls;
pub mod context;
pub mod discovery;
pub mod ec2;
mod ec2_routes;
mod ec2_rules;
pub mod ecs;
mod ecs_providers;
mod ecs_services;
mod ecs_tasks;
pub mod efs;
pub mod elb;
pub mod emulator;
pub mod error;
pub mod iam;
pub mod limits;
pub mod logs;
pub mod provider;
pub mod route53;
pub mod secrets;
pub mod ssm;
pub mod tags;

pub use error::{AwsError, AwsErrorKind};
