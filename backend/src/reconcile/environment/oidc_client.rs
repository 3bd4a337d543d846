//! The environment as a client of Butler's OpenID Connect provider: its client id, its generated secret (an SSM
//! SecureString ECS injects into the controller, like the admin password; only its hash is in the database),
//! and its one redirect URI, kept on the environment's current address. A secret is made the first time, and
//! again when rotation is asked for; a crash between the database and SSM leaves the client "pending", so the
//! next pass makes a new secret and writes both again.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sea_orm::DatabaseConnection;

use super::Pass;
use crate::aws::{AwsError, AwsErrorKind};
use crate::domain::object::EventType;
use crate::domain::oidc as rules;
use crate::store::oidc;

/// Makes sure the environment's client exists with a secret in SSM and its redirect URIs on its address.
pub async fn ensure(pass: &mut Pass, db: &DatabaseConnection, issuer: Option<&str>) -> Result<(), AwsError> {
    let Some(issuer) = issuer else { return Ok(()) };
    let Some(url) = pass.status.outputs.url.clone() else { return Ok(()) };
    let meta = pass.object.metadata.clone();
    let (redirect, logout) = (rules::redirect_uri(&url), rules::post_logout_redirect_uri(&url));
    let parameter = pass.names.oidc_client_secret_parameter();
    let found = oidc::client_of(db, meta.uid).await.map_err(|e| super::store_failure("butler:FindOidcClient", &e))?;
    let client = match found {
        Some(client) if !client.secret_pending => {
            if client.redirect_uri != redirect || client.post_logout_redirect_uri != logout {
                oidc::set_redirects(db, meta.uid, (&redirect, &logout))
                    .await
                    .map_err(|e| super::store_failure("butler:SetOidcRedirect", &e))?;
            }
            client
        }
        found => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let secret = URL_SAFE_NO_PAD.encode(bytes);
            let client_id = rules::client_id(&meta.uid);
            let begun = oidc::begin_secret(
                db,
                &client_id,
                (&meta.tenant, &meta.name, meta.uid),
                &rules::digest(&secret),
                (&redirect, &logout),
            )
            .await
            .map_err(|e| super::store_failure("butler:BeginOidcSecret", &e))?;
            // A new parameter is tagged; an existing one (a rotation, a crash after the put) is overwritten.
            match pass.aws.ssm.create_secret(&parameter, &secret, &pass.tags()).await {
                Ok(()) => {}
                Err(error) if error.kind == AwsErrorKind::AlreadyExists => {
                    pass.aws.ssm.overwrite_secret(&parameter, &secret).await?;
                }
                Err(error) => return Err(error),
            }
            oidc::finish_secret(db, meta.uid, begun.secret_version)
                .await
                .map_err(|e| super::store_failure("butler:FinishOidcSecret", &e))?;
            let (reason, what) = if found.is_some() {
                ("OidcClientSecretRotated", "rotated the sign-in client secret")
            } else {
                ("OidcClientCreated", "registered the environment as a sign-in client")
            };
            pass.event(EventType::Normal, reason, format!("{what} {client_id} (secret in SSM parameter {parameter})"));
            begun
        }
    };
    pass.status.outputs.oidc_client_id = Some(client.client_id);
    pass.status.outputs.oidc_client_secret_parameter = Some(parameter);
    pass.status.outputs.oidc_issuer = Some(issuer.to_owned());
    pass.status.outputs.oidc_secret_version = Some(client.secret_version);
    Ok(())
}

/// Whether a new client secret was asked for (a rotation): the probe alone would not make it.
pub async fn pending(pass: &Pass, db: &DatabaseConnection) -> Result<bool, AwsError> {
    if pass.object.status.outputs.oidc_client_id.is_none() {
        return Ok(false);
    }
    let client = oidc::client_of(db, pass.object.metadata.uid)
        .await
        .map_err(|e| super::store_failure("butler:FindOidcClient", &e))?;
    Ok(client.is_some_and(|client| client.secret_pending))
}
