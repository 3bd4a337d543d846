//! `./dev/bench oidc` set-up: a tenant with the bootstrap admin as a member, one environment's sign-in client,
//! and N one-time authorization codes for that person (issued as the authorization endpoint would, by hash,
//! with one PKCE challenge), written to a file for wrk to redeem one each at the token endpoint. Also writes the
//! admin's API JWT, for the identity route the token endpoint is compared with.

use std::io::Write;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use butler::domain::oidc::digest;
use clap::Parser;
use sea_orm::{ConnectionTrait, Database};
use sha2::Digest;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    url: String,
    #[arg(long)]
    database_url: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    password: String,
    /// Codes to issue (each is redeemed once).
    #[arg(long, default_value_t = 60_000)]
    codes: usize,
    #[arg(long)]
    codes_file: std::path::PathBuf,
    #[arg(long)]
    jwt_file: std::path::PathBuf,
}

const VERIFIER: &str = "bench-verifier-long-enough-for-rfc-7636-0123456789abcdefghijklmnop";
const SECRET: &str = "bench-client-secret-0123456789abcdefghijklmnopqrstuvwxyz";
const REDIRECT: &str = "https://ci-bench-5.jenkins.bench.test/securityRealm/finishLogin";

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let signed_in: serde_json::Value = http
        .post(format!("{}/api/v1/auth/token", args.url))
        .json(&serde_json::json!({ "email": args.email, "password": args.password }))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("token json");
    let jwt = signed_in["token"].as_str().or_else(|| signed_in["accessToken"].as_str()).expect("jwt");
    std::fs::write(&args.jwt_file, jwt).expect("jwt file");

    let db = Database::connect(&args.database_url).await.expect("database");
    butler::store::tenants::ensure(&db, "bench", "Bench").await.expect("tenant");
    let user = butler::store::users::find_by_email(&db, &args.email).await.expect("db").expect("admin");
    butler::store::users::set_membership(&db, "bench", user.id, "editor").await.expect("membership");
    let uid = uuid::Uuid::new_v4();
    let client_id = butler::domain::oidc::client_id(&uid);
    let logout = "https://ci-bench-5.jenkins.bench.test/";
    let client =
        butler::store::oidc::begin_secret(&db, &client_id, ("bench", "ci", uid), &digest(SECRET), (REDIRECT, logout))
            .await
            .expect("client");
    butler::store::oidc::finish_secret(&db, uid, client.secret_version).await.expect("client ready");

    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&args.codes_file).expect("codes file"));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{SECRET}"));
    writeln!(file, "{basic} {REDIRECT} {VERIFIER}").expect("write");
    // The bench measures the exchange, not the code's minute: these expire in an hour.
    for chunk in (0..args.codes).collect::<Vec<_>>().chunks(1000) {
        let mut values = Vec::new();
        for _ in chunk {
            let code = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
            writeln!(file, "{code}").expect("write");
            values.push(format!(
                "('{}', '{client_id}', '{REDIRECT}', '{}', 'n', '{challenge}', 'openid email groups', now() + interval '1 hour')",
                digest(&code),
                user.id
            ));
        }
        let sql = format!(
            "INSERT INTO oidc_codes (code_hash, client_id, redirect_uri, user_id, nonce, code_challenge, scope, expires_at) VALUES {}",
            values.join(",")
        );
        db.execute_unprepared(&sql).await.expect("codes");
    }
    file.flush().expect("flush");
    println!("{} codes for client {client_id}", args.codes);
}
