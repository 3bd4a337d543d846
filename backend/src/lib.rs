//! Butler: a multi-tenant control plane that runs Jenkins on AWS ECS Spot for many teams.

pub mod domain;
