//! Butler: a multi-tenant control plane that runs Jenkins on AWS ECS Spot for many teams.

pub mod auth;
pub mod aws;
pub mod caller;
pub mod config;
pub mod cost;
pub mod domain;
pub mod environments;
pub mod error;
pub mod feed;
pub mod http;
pub mod jenkins;
pub mod reconcile;
pub mod services;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;
