//! sea-orm entities, one per table; hand-written to match the migrations (no logic lives here).

pub mod environment_change;
pub mod environment_event;
pub mod jenkins_environment;
pub mod tenant;
