//! HTTPS through rustls: a configured certificate, or a self-signed one made on first start.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::TlsSource;

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("could not read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("no certificate found in {0}")]
    NoCertificate(PathBuf),
    #[error("no private key found in {0}")]
    NoKey(PathBuf),
    #[error("invalid TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where the self-signed certificate lives, so clients can trust it.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Returns the certificate and key paths, generating the self-signed pair when needed.
pub fn ensure_certificate(
    source: &TlsSource,
    data_dir: &Path,
) -> Result<(PathBuf, PathBuf), TlsError> {
    if let TlsSource::Files { cert, key } = source {
        return Ok((cert.clone(), key.clone()));
    }
    let (cert, key) = self_signed_paths(data_dir);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let dir = cert.parent().unwrap_or(data_dir);
    crate::store::private_files::private_dir(dir).map_err(io_err(dir))?;
    let generated = rcgen::generate_simple_self_signed(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])?;
    std::fs::write(&cert, generated.cert.pem()).map_err(io_err(&cert))?;
    crate::store::private_files::write_private(&key, generated.key_pair.serialize_pem().as_bytes())
        .map_err(io_err(&key))?;
    Ok((cert, key))
}

pub fn server_config(cert_path: &Path, key_path: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let cert_file = std::fs::File::open(cert_path).map_err(io_err(cert_path))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut BufReader::new(cert_file))
        .collect::<Result<_, _>>()
        .map_err(io_err(cert_path))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.to_owned()));
    }
    let key_file = std::fs::File::open(key_path).map_err(io_err(key_path))?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(key_file))
        .map_err(io_err(key_path))?
        .ok_or_else(|| TlsError::NoKey(key_path.to_owned()))?;
    let config = rustls::ServerConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    Ok(config)
}
