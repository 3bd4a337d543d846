//! The names of an environment's AWS resources live in the domain (`domain::aws_names`): they are recorded in
//! the environment's status, and the API and pages render with them too.

pub use crate::domain::aws_names::Names;
