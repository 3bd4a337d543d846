//! Where the controller reads its JCasC. With a public address Butler serves it (`GET /casc/{uid}/jenkins.yaml`,
//! authenticated by a per-environment token), so a change that only touches configuration is applied by a reload
//! and never needs a new task definition. The token is generated once, kept in SSM (ECS injects it; the entry
//! point passes it to JCasC as the source's query and as `CASC_RELOAD_TOKEN`) and its hash in PostgreSQL.
//! Without a public address Jenkins could not reach Butler: the document then travels in the task definition,
//! and every configuration change is a restart (drained like any other).

use rand::distr::{Alphanumeric, SampleString};
use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use super::controller_task::Configuration;
use super::{store_failure, Pass};
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::EventType;
use crate::store::controller_tokens;

/// Length of the generated token.
const TOKEN_LENGTH: usize = 40;

/// The URL the controller fetches its configuration from (without the token), under Butler's public URL.
pub fn url(public_url: &str, uid: &uuid::Uuid) -> String {
    format!("{}/casc/{}/jenkins.yaml", public_url.trim_end_matches('/'), uid.simple())
}

/// The hash PostgreSQL keeps of a token.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes sure the environment has its token in SSM and the token's hash in PostgreSQL. Idempotent and safe to
/// interrupt: SSM is written first without overwrite, so a second pass finds (and hashes) the token the first made.
pub async fn ensure(pass: &mut Pass, db: &DatabaseConnection) -> Result<(), AwsError> {
    let uid = pass.object.metadata.uid;
    let known = controller_tokens::hash(db, uid).await.map_err(|e| store_failure("butler:ReadControllerToken", &e))?;
    if known.is_some() {
        return Ok(());
    }
    let parameter = pass.names.controller_token_parameter();
    let fresh = Alphanumeric.sample_string(&mut rand::rng(), TOKEN_LENGTH);
    let token = match pass.aws.ssm.create_secret(&parameter, &fresh, &pass.tags()).await {
        Ok(()) => {
            let message = format!("generated the controller's configuration token in SSM parameter {parameter}");
            pass.event(EventType::Normal, "ControllerTokenCreated", message);
            fresh
        }
        Err(error) if error.kind == AwsErrorKind::AlreadyExists => pass
            .aws
            .ssm
            .read_secret(&parameter)
            .await?
            .ok_or_else(|| AwsError::malformed("ssm:GetParameter", "gone"))?,
        Err(error) => return Err(error),
    };
    controller_tokens::put(db, uid, &token_hash(&token))
        .await
        .map_err(|e| store_failure("butler:WriteControllerToken", &e))?;
    Ok(())
}

/// The token, read back from SSM for a reload.
pub async fn token(pass: &Pass) -> Result<Option<SecretString>, AwsError> {
    Ok(pass.aws.ssm.read_secret(&pass.names.controller_token_parameter()).await?.map(SecretString::from))
}

/// Serves `configuration` to the controller from now on (when Butler serves it): before the controller is created,
/// rolled or reloaded, never while a change waits, so a restart meanwhile gets what its revision can run.
pub(super) async fn serve(pass: &Pass, db: &DatabaseConnection, configuration: &Configuration) -> Result<(), AwsError> {
    if pass.casc_url.is_none() {
        return Ok(());
    }
    controller_tokens::serve(db, pass.object.metadata.uid, &configuration.hash, &configuration.document)
        .await
        .map_err(|e| store_failure("butler:ServeConfiguration", &e))
}

/// Goes back to the configuration served before (Jenkins refused the new one, or ECS rolled its revision back).
pub(super) async fn restore_previous(pass: &Pass, db: &DatabaseConnection) -> Result<(), AwsError> {
    if pass.casc_url.is_none() {
        return Ok(());
    }
    controller_tokens::restore_previous(db, pass.object.metadata.uid)
        .await
        .map_err(|e| store_failure("butler:ServeConfiguration", &e))
}
