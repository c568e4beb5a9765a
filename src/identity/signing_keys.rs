//! Kiln's own token-signing keys: ES256 key pairs generated on first start and kept in the
//! database, so every replica signs with the same key and accepts tokens any replica issued.
//!
//! Private keys are sealed with the master key (as connection secrets are): a copy of the
//! database alone does not let anyone mint Kiln's tokens. Keys stored before sealing existed
//! are sealed at the next start.
//!
//! The key Kiln signs with is the one `meta.token_signing_kid` names. Replicas that start on an
//! empty database together may each generate a key; only one of them wins that row, and the
//! others' keys stay published (and accepted) but are never used to sign.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use serde_json::{Value, json};
use thiserror::Error;

use crate::secrets::sealed::{self, StoredText};
use crate::secrets::{MasterKeys, SecretError};
use crate::store::identity::signing_key;
use crate::store::{self, now_millis};

#[derive(Debug, Error)]
pub enum SigningKeyError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("could not generate a key pair")]
    Generate,
    #[error("stored signing key '{0}' is unreadable")]
    Corrupt(String),
    #[error("the signing key '{0}' named in meta is not in signing_keys")]
    Missing(String),
    #[error("sealing: {0}")]
    Secret(#[from] SecretError),
}

/// What a signing key's private half is sealed for.
fn subject(kid: &str) -> String {
    format!("kiln-signing-key:{kid}")
}

/// A public key Kiln accepts its own tokens under.
#[derive(Clone)]
pub struct PublicKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub key: DecodingKey,
    /// The JWK as published at the JWKS endpoint.
    pub jwk: Value,
}

/// The key pair Kiln signs with, and every key it accepts.
#[derive(Clone)]
pub struct SigningKeys {
    kid: String,
    signer: EncodingKey,
    public: HashMap<String, PublicKey>,
}

impl SigningKeys {
    /// Loads the keys, generating and storing the first one on first start.
    pub async fn ensure(
        db: &DatabaseConnection,
        master: &MasterKeys,
    ) -> Result<Self, SigningKeyError> {
        seal_plain_rows(db, master).await?;
        if let Some(keys) = Self::load(db, master).await? {
            return Ok(keys);
        }
        let (row, kid) = generate(master)?;
        store::signing_keys::insert(db, row).await?;
        // Whoever names their key first signs; a replica that lost keeps its key published.
        store::signing_keys::name_current_once(db, &kid).await?;
        Self::load(db, master)
            .await?
            .ok_or(SigningKeyError::Missing(kid))
    }

    /// Reads every stored key; `None` before the first key is chosen.
    pub async fn load(
        db: &impl ConnectionTrait,
        master: &MasterKeys,
    ) -> Result<Option<Self>, SigningKeyError> {
        let Some(current) = store::signing_keys::current_kid(db).await? else {
            return Ok(None);
        };
        let rows = store::signing_keys::all(db).await?;
        let mut public = HashMap::new();
        let mut signer = None;
        for row in rows {
            let key = public_key(&row)?;
            if row.kid == current {
                let der = match sealed::open_text(master, &subject(&row.kid), &row.private_key)? {
                    StoredText::Sealed(der) => der,
                    // Not sealed yet (another replica of an older version wrote it).
                    StoredText::Plain => zeroize::Zeroizing::new(
                        STANDARD
                            .decode(&row.private_key)
                            .map_err(|_| SigningKeyError::Corrupt(row.kid.clone()))?,
                    ),
                };
                signer = Some(EncodingKey::from_ec_der(&der));
            }
            public.insert(row.kid.clone(), key);
        }
        let signer = signer.ok_or_else(|| SigningKeyError::Missing(current.clone()))?;
        Ok(Some(Self {
            kid: current,
            signer,
            public,
        }))
    }

    /// The key id tokens are signed under.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self, kid: &str) -> Option<&PublicKey> {
        self.public.get(kid)
    }

    pub fn public_keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.public.values()
    }

    /// The JWKS document of every accepted key.
    pub fn jwks(&self) -> Value {
        let mut keys: Vec<&Value> = self.public.values().map(|k| &k.jwk).collect();
        keys.sort_by_key(|k| k["kid"].as_str().map(str::to_owned));
        json!({ "keys": keys })
    }

    /// Signs a claim set as an ES256 JWT with the current key.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signer)
    }
}

/// Seals the private keys stored in plain text (by a version before sealing).
async fn seal_plain_rows(
    db: &DatabaseConnection,
    master: &MasterKeys,
) -> Result<(), SigningKeyError> {
    for row in store::signing_keys::all(db).await? {
        if sealed::Sealed::from_text(&row.private_key).is_some() {
            continue;
        }
        let der = zeroize::Zeroizing::new(
            STANDARD
                .decode(&row.private_key)
                .map_err(|_| SigningKeyError::Corrupt(row.kid.clone()))?,
        );
        let text = sealed::seal_text(master, &subject(&row.kid), &der)?;
        store::signing_keys::replace_private_key(db, &row.kid, &row.private_key, text).await?;
    }
    Ok(())
}

/// Re-wraps every sealed private key with the active master key (`kiln keys rotate`):
/// (re-wrapped, still under another key).
pub async fn rewrap_all(
    db: &DatabaseConnection,
    master: &MasterKeys,
) -> Result<(u64, u64), SigningKeyError> {
    seal_plain_rows(db, master).await?;
    let (mut rewrapped, mut remaining) = (0, 0);
    for row in store::signing_keys::all(db).await? {
        if let Some(text) = sealed::rewrap_text(master, &subject(&row.kid), &row.private_key)? {
            // A row changed meanwhile (by a replica) is left for the next run.
            if store::signing_keys::replace_private_key(db, &row.kid, &row.private_key, text)
                .await?
            {
                rewrapped += 1;
            } else {
                remaining += 1;
            }
        }
    }
    Ok((rewrapped, remaining))
}

/// A fresh P-256 key pair as a row (its private half sealed), and its key id.
fn generate(master: &MasterKeys) -> Result<(signing_key::Model, String), SigningKeyError> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| SigningKeyError::Generate)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| SigningKeyError::Generate)?;
    // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
    let point = pair.public_key().as_ref();
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..65]),
    );
    let kid = thumbprint(&x, &y);
    let jwk = json!({"kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": kid, "x": x, "y": y});
    let row = signing_key::Model {
        kid: kid.clone(),
        algorithm: "ES256".into(),
        private_key: sealed::seal_text(master, &subject(&kid), pkcs8.as_ref())?,
        public_jwk: jwk.to_string(),
        created_at: now_millis(),
    };
    Ok((row, kid))
}

/// The RFC 7638 thumbprint of an EC public key: a stable, collision-free key id.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

fn public_key(row: &signing_key::Model) -> Result<PublicKey, SigningKeyError> {
    let corrupt = || SigningKeyError::Corrupt(row.kid.clone());
    let jwk: Value = serde_json::from_str(&row.public_jwk).map_err(|_| corrupt())?;
    let (Some(x), Some(y)) = (jwk["x"].as_str(), jwk["y"].as_str()) else {
        return Err(corrupt());
    };
    let key = DecodingKey::from_ec_components(x, y).map_err(|_| corrupt())?;
    Ok(PublicKey {
        kid: row.kid.clone(),
        algorithm: Algorithm::ES256,
        key,
        jwk,
    })
}
