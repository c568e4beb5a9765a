//! A stand-in external identity provider for the tests: RS256 and ES256 signing keys, their
//! JWKS document, and a real HTTP server on 127.0.0.1 that serves it (and counts the reads).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

/// The issuer the provider's tokens carry; `{tenantid}` in `KILN_JWT_ISSUER`.
pub const ISSUER_TEMPLATE: &str = "https://idp.test/{tenantid}/v2.0";

/// A committed test-only RSA key: ring cannot generate RSA keys, and tests must not download.
const RSA_PEM: &str = include_str!("fixtures/jwks-rsa-2048.pem");

/// A signing key of the provider.
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl SigningKey {
    /// The committed RSA key under `kid`.
    pub fn rsa(kid: &str) -> Self {
        let body: String = RSA_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(body).expect("fixture PEM");
        let pair = RsaKeyPair::from_der(&der).expect("fixture RSA key");
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(&der),
            jwk: json!({"kty": "RSA", "use": "sig", "kid": kid,
                        "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)}),
        }
    }

    /// A fresh P-256 key under `kid`.
    pub fn ec(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({"kty": "EC", "use": "sig", "crv": "P-256", "kid": kid,
                        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}),
        }
    }

    /// Signs `claims` with this key, naming `kid` in the header.
    pub fn sign_as(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(Some(&self.kid), claims)
    }
}

pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

/// Entra-shaped access-token claims from the provider for `tenant`, valid now.
pub fn claims(tenant: &str, audience: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": ISSUER_TEMPLATE.replace("{tenantid}", tenant),
        "aud": audience,
        "sub": "external-user",
        "oid": "11111111-2222-3333-4444-555555555555",
        "tid": tenant,
        "iat": now, "nbf": now - 5, "exp": now + 600,
        "upn": "someone@idp.test",
        "scp": "user_impersonation",
        "groups": ["g-readers", "g-writers"],
    })
}

/// A real HTTP server for a JWKS document that the test can replace.
pub struct JwksServer {
    pub url: String,
    document: Arc<RwLock<Value>>,
    reads: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl JwksServer {
    pub async fn start(document: Value) -> Self {
        let document = Arc::new(RwLock::new(document));
        let reads = Arc::new(AtomicUsize::new(0));
        let (doc, count) = (document.clone(), reads.clone());
        let server = HttpServer::new(move || {
            let (doc, count) = (doc.clone(), count.clone());
            App::new()
                // `/redirect?to=URL`: a 302 to anywhere, for the redirect rules.
                .route(
                    "/redirect",
                    web::get().to(
                        |query: web::Query<std::collections::HashMap<String, String>>| async move {
                            let to = query.get("to").cloned().unwrap_or_default();
                            HttpResponse::Found()
                                .insert_header(("location", to))
                                .finish()
                        },
                    ),
                )
                .route(
                    "/keys",
                    web::get().to(move || {
                        let (doc, count) = (doc.clone(), count.clone());
                        async move {
                            count.fetch_add(1, Ordering::SeqCst);
                            let body = doc.read().unwrap().clone();
                            HttpResponse::Ok().json(body)
                        }
                    }),
                )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/keys"),
            document,
            reads,
            handle,
        }
    }

    pub fn replace(&self, document: Value) {
        *self.document.write().unwrap() = document;
    }

    /// How many times the document was fetched.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
