//! Signing keys of an external identity provider, from a JWKS document (OIDC's `jwks_uri`) in a
//! file or at an http(s) URL (`KILN_JWKS`).
//!
//! The document is read at start, again every `refresh_every`, and when a token names a key id
//! Kiln does not know (the provider rotated its keys), at most once per `min_refresh` so that
//! tokens with made-up key ids cannot make Kiln hammer the provider.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use thiserror::Error;
use tokio::sync::watch;
use url::Url;

#[derive(Debug, Error)]
pub enum JwksError {
    #[error("KILN_JWKS must be a file path, a file:// URL or an http(s) URL, got '{0}'")]
    Source(String),
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("fetching {0}: {1}")]
    Fetch(String, reqwest::Error),
    #[error("{0} is not a JWKS document: {1}")]
    Parse(String, serde_json::Error),
    #[error("HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("KILN_JWKS must be an https URL (http only on a loopback address), got '{0}'")]
    Insecure(String),
}

/// Whether `url` may be fetched: https, or http to a loopback address (tests, sidecars).
fn is_trusted_transport(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        _ => false,
    }
}

/// Where the JWKS document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    File(PathBuf),
    Url(Url),
}

impl JwksSource {
    pub fn parse(raw: &str) -> Result<Self, JwksError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(JwksError::Source(raw.into()));
        }
        match Url::parse(raw) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                if is_trusted_transport(&url) {
                    Ok(Self::Url(url))
                } else {
                    Err(JwksError::Insecure(raw.into()))
                }
            }
            Ok(url) if url.scheme() == "file" => url
                .to_file_path()
                .map(Self::File)
                .map_err(|()| JwksError::Source(raw.into())),
            // A bare path (relative, absolute, or a Windows-looking `c:\…`).
            _ => Ok(Self::File(PathBuf::from(raw))),
        }
    }
}

impl std::fmt::Display for JwksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Url(url) => write!(f, "{url}"),
        }
    }
}

/// One key a token may be signed with.
#[derive(Clone)]
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// The keys of the configured JWKS, kept fresh.
pub struct ExternalKeys {
    source: JwksSource,
    http: reqwest::Client,
    keys: RwLock<Arc<Vec<VerifyingKey>>>,
    /// When the document was last read (successfully or not), for the rate limit.
    last_read: tokio::sync::Mutex<Option<Instant>>,
    min_refresh: Duration,
    refresh_every: Duration,
}

impl ExternalKeys {
    pub fn new(
        source: JwksSource,
        min_refresh: Duration,
        refresh_every: Duration,
    ) -> Result<Self, JwksError> {
        // Redirects are followed only within the origin of the configured URL, and never
        // from https down to http: the keys come from where the operator said.
        let origin = match &source {
            JwksSource::Url(url) => Some(url.origin()),
            JwksSource::File(_) => None,
        };
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let same_origin = origin
                .as_ref()
                .is_some_and(|o| *o == attempt.url().origin());
            if attempt.previous().len() >= 5 || !same_origin {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .redirect(policy)
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(JwksError::Client)?;
        Ok(Self {
            source,
            http,
            keys: RwLock::default(),
            last_read: tokio::sync::Mutex::new(None),
            min_refresh,
            refresh_every,
        })
    }

    pub fn source(&self) -> &JwksSource {
        &self.source
    }

    /// The keys as last read.
    pub fn keys(&self) -> Arc<Vec<VerifyingKey>> {
        self.keys.read().map(|k| k.clone()).unwrap_or_default()
    }

    /// Reads the document now and replaces the keys; on failure the old keys stay.
    pub async fn load(&self) -> Result<usize, JwksError> {
        let mut last_read = self.last_read.lock().await;
        *last_read = Some(Instant::now());
        self.read_and_swap().await
    }

    /// Reads the document again unless that happened less than `min_refresh` ago. Returns
    /// whether the keys may have changed. Callers waiting on a read in progress share it.
    pub async fn refresh_for_unknown_key(&self) -> bool {
        let mut last_read = self.last_read.lock().await;
        if last_read.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return false;
        }
        *last_read = Some(Instant::now());
        match self.read_and_swap().await {
            Ok(_) => true,
            Err(err) => {
                tracing::warn!(error = %err, "JWKS refresh failed; keeping the keys read before");
                false
            }
        }
    }

    /// Re-reads the document every `refresh_every` until `shutdown` turns true.
    pub async fn run_until_stopped(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.refresh_every) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
            if let Err(err) = self.load().await {
                tracing::warn!(error = %err, "periodic JWKS refresh failed; keeping the keys read before");
            }
        }
    }

    async fn read_and_swap(&self) -> Result<usize, JwksError> {
        let where_ = self.source.to_string();
        let text = match &self.source {
            JwksSource::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|e| JwksError::Read(where_.clone(), e))?,
            JwksSource::Url(url) => self
                .http
                .get(url.clone())
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| JwksError::Fetch(where_.clone(), e))?
                .text()
                .await
                .map_err(|e| JwksError::Fetch(where_.clone(), e))?,
        };
        let document: Value =
            serde_json::from_str(&text).map_err(|e| JwksError::Parse(where_.clone(), e))?;
        let keys = parse_keys(&document);
        let count = keys.len();
        if count == 0 {
            tracing::warn!(source = %where_, "the JWKS holds no RS256 or ES256 signing key");
        } else {
            tracing::info!(source = %where_, keys = count, "JWKS read");
        }
        if let Ok(mut slot) = self.keys.write() {
            *slot = Arc::new(keys);
        }
        Ok(count)
    }
}

/// The RS256 and ES256 (P-256) signature keys of a JWKS document. Others (encryption keys,
/// symmetric `oct` keys, other curves) are skipped: accepting a symmetric key from a document
/// anyone may read would let anyone sign.
pub fn parse_keys(document: &Value) -> Vec<VerifyingKey> {
    let Some(keys) = document["keys"].as_array() else {
        return vec![];
    };
    keys.iter().filter_map(parse_key).collect()
}

fn parse_key(jwk: &Value) -> Option<VerifyingKey> {
    let text = |name: &str| jwk[name].as_str();
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (algorithm, key) = match text("kty")? {
        "RSA" if text("alg").is_none_or(|a| a == "RS256") => (
            Algorithm::RS256,
            DecodingKey::from_rsa_components(text("n")?, text("e")?).ok()?,
        ),
        "EC" if text("crv") == Some("P-256") && text("alg").is_none_or(|a| a == "ES256") => (
            Algorithm::ES256,
            DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?,
        ),
        _ => return None,
    };
    Some(VerifyingKey {
        kid: text("kid").map(str::to_owned),
        algorithm,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sources_are_urls_or_paths() {
        assert!(matches!(
            JwksSource::parse("https://login.example/keys"),
            Ok(JwksSource::Url(_))
        ));
        assert_eq!(
            JwksSource::parse("file:///etc/kiln/jwks.json").ok(),
            Some(JwksSource::File("/etc/kiln/jwks.json".into()))
        );
        assert_eq!(
            JwksSource::parse("jwks.json").ok(),
            Some(JwksSource::File("jwks.json".into()))
        );
        assert!(JwksSource::parse(" ").is_err());
    }

    #[test]
    fn only_asymmetric_signature_keys_are_taken() {
        let doc = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "p384"},
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB", "kid": "enc"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"},
        ]});
        let keys = parse_keys(&doc);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("rsa"));
        assert_eq!(keys[0].algorithm, Algorithm::RS256);
    }
}
