//! Envelope encryption with AES-256-GCM: every secret gets its own random data key; the data
//! key is wrapped by a master key. Both ciphertexts are bound to the secret's subject (the
//! owning resource's lower-cased id) through the associated data, and the wrapped key also to
//! its master key's id, so a row copied onto another subject, or relabelled with another key
//! id, fails to decrypt instead of yielding someone else's secret.

use aes_gcm::aead::{Aead, Nonce, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use zeroize::Zeroizing;

use super::SecretError;
use super::keyring::{Keyring, MasterKey, MasterKeys};

const NONCE_LEN: usize = 12;
const DATA_KEY_LEN: usize = 32;
/// Bumped if the layout ever changes; part of the associated data.
const FORMAT: &str = "kiln-secret-v1";

pub use crate::store::secrets::Sealed;

fn data_aad(subject: &str) -> String {
    format!("{FORMAT}|data|{subject}")
}

fn key_aad(subject: &str, master_key_id: &str) -> String {
    format!("{FORMAT}|key|{subject}|{master_key_id}")
}

fn encrypt(cipher: &Aes256Gcm, plaintext: &[u8], aad: &str) -> Result<String, SecretError> {
    let mut nonce_bytes = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce_bytes);
    let nonce = Nonce::<Aes256Gcm>::from(nonce_bytes);
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| SecretError::Encrypt)?;
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&sealed);
    Ok(STANDARD.encode(out))
}

fn decrypt(cipher: &Aes256Gcm, text: &str, aad: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let bytes = STANDARD.decode(text).map_err(|_| SecretError::Decrypt)?;
    if bytes.len() < NONCE_LEN {
        return Err(SecretError::Decrypt);
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| SecretError::Decrypt)?;
    cipher
        .decrypt(
            &nonce,
            Payload {
                msg: sealed,
                aad: aad.as_bytes(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SecretError::Decrypt)
}

fn wrap(master: &MasterKey, subject: &str, data_key: &[u8]) -> Result<String, SecretError> {
    encrypt(&master.cipher, data_key, &key_aad(subject, &master.id))
}

fn unwrap(master: &MasterKey, subject: &str, wrapped: &str) -> Result<Aes256Gcm, SecretError> {
    let data_key = decrypt(&master.cipher, wrapped, &key_aad(subject, &master.id))?;
    Aes256Gcm::new_from_slice(&data_key).map_err(|_| SecretError::Decrypt)
}

/// Seals `plaintext` for `subject` under a fresh data key wrapped by the active master key.
pub fn seal(keyring: &Keyring, subject: &str, plaintext: &[u8]) -> Result<Sealed, SecretError> {
    let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(data_key.as_mut());
    let cipher = Aes256Gcm::new_from_slice(data_key.as_ref()).map_err(|_| SecretError::Encrypt)?;
    Ok(Sealed {
        master_key_id: keyring.active.id.clone(),
        wrapped_key: wrap(&keyring.active, subject, data_key.as_ref())?,
        ciphertext: encrypt(&cipher, plaintext, &data_aad(subject))?,
    })
}

/// Opens a secret sealed for `subject`.
pub fn open(
    keys: &MasterKeys,
    subject: &str,
    sealed: &Sealed,
) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let master = keys.find(&sealed.master_key_id)?;
    let cipher = unwrap(&master, subject, &sealed.wrapped_key)?;
    decrypt(&cipher, &sealed.ciphertext, &data_aad(subject))
}

/// The same secret with its data key wrapped by the active master key instead; the
/// ciphertext is untouched. `None` when it already is.
pub fn rewrap(
    keys: &MasterKeys,
    subject: &str,
    sealed: &Sealed,
) -> Result<Option<Sealed>, SecretError> {
    let keyring = keys.current()?;
    if sealed.master_key_id == keyring.active.id {
        return Ok(None);
    }
    let old = keys.find(&sealed.master_key_id)?;
    let data_key = decrypt(&old.cipher, &sealed.wrapped_key, &key_aad(subject, &old.id))?;
    Ok(Some(Sealed {
        master_key_id: keyring.active.id.clone(),
        wrapped_key: wrap(&keyring.active, subject, &data_key)?,
        ciphertext: sealed.ciphertext.clone(),
    }))
}

/// How a sealed value is kept in one text column (signing keys, the dev key): the prefix, then
/// the master key id, the wrapped key and the ciphertext, separated by `:` (none of them
/// contains one: ids are `mk-` + hex, the rest base64).
const TEXT_PREFIX: &str = "kiln-sealed-v1:";

impl Sealed {
    pub fn to_text(&self) -> String {
        format!(
            "{TEXT_PREFIX}{}:{}:{}",
            self.master_key_id, self.wrapped_key, self.ciphertext
        )
    }

    /// `None` for text that is not a sealed value (a value stored before sealing existed).
    pub fn from_text(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(TEXT_PREFIX)?;
        let mut parts = rest.splitn(3, ':');
        let (id, wrapped, ciphertext) = (parts.next()?, parts.next()?, parts.next()?);
        Some(Self {
            master_key_id: id.to_owned(),
            wrapped_key: wrapped.to_owned(),
            ciphertext: ciphertext.to_owned(),
        })
    }
}

/// Seals a value kept in a text column for `subject`.
pub fn seal_text(
    keys: &MasterKeys,
    subject: &str,
    plaintext: &[u8],
) -> Result<String, SecretError> {
    let keyring = keys.current()?;
    Ok(seal(&keyring, subject, plaintext)?.to_text())
}

/// A value kept in a text column: opened when sealed; `Plain` when it was stored before
/// sealing existed (the caller seals it now).
pub enum StoredText {
    Sealed(Zeroizing<Vec<u8>>),
    Plain,
}

pub fn open_text(keys: &MasterKeys, subject: &str, text: &str) -> Result<StoredText, SecretError> {
    match Sealed::from_text(text) {
        Some(sealed) => Ok(StoredText::Sealed(open(keys, subject, &sealed)?)),
        None => Ok(StoredText::Plain),
    }
}

/// The text with its data key wrapped by the active master key; `None` when it already is,
/// or when it is not sealed.
pub fn rewrap_text(
    keys: &MasterKeys,
    subject: &str,
    text: &str,
) -> Result<Option<String>, SecretError> {
    let Some(sealed) = Sealed::from_text(text) else {
        return Ok(None);
    };
    Ok(rewrap(keys, subject, &sealed)?.map(|s| s.to_text()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::keyring::{KeySource, generate_base64};

    fn keys(current: &str, previous: &[&str]) -> MasterKeys {
        MasterKeys::load(KeySource::Configured {
            current: current.into(),
            previous: previous.iter().map(|p| (*p).to_owned()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn a_secret_opens_for_its_own_subject_only() {
        let keys = keys(&generate_base64(), &[]);
        let sealed = seal(&keys.current().unwrap(), "/a", b"hunter2").unwrap();
        assert!(!sealed.ciphertext.contains("hunter2"));
        assert_eq!(open(&keys, "/a", &sealed).unwrap().as_slice(), b"hunter2");
        assert!(matches!(
            open(&keys, "/b", &sealed),
            Err(SecretError::Decrypt)
        ));
        // Two seals of one secret share nothing.
        let again = seal(&keys.current().unwrap(), "/a", b"hunter2").unwrap();
        assert_ne!(again.ciphertext, sealed.ciphertext);
        assert_ne!(again.wrapped_key, sealed.wrapped_key);
    }

    #[test]
    fn a_relabelled_key_id_does_not_decrypt() {
        let (one, two) = (generate_base64(), generate_base64());
        let keys = keys(&one, &[&two]);
        let mut sealed = seal(&keys.current().unwrap(), "/a", b"s").unwrap();
        sealed.master_key_id = keys.current().unwrap().previous[0].id.clone();
        assert!(open(&keys, "/a", &sealed).is_err());
    }

    #[test]
    fn rewrapping_moves_a_secret_to_the_new_key_and_the_old_one_is_no_longer_needed() {
        let (old, new) = (generate_base64(), generate_base64());
        let before = keys(&old, &[]);
        let sealed = seal(&before.current().unwrap(), "/a", b"s").unwrap();
        let during = keys(&new, &[&old]);
        let moved = rewrap(&during, "/a", &sealed).unwrap().unwrap();
        assert_eq!(moved.ciphertext, sealed.ciphertext);
        assert!(rewrap(&during, "/a", &moved).unwrap().is_none());
        let after = keys(&new, &[]);
        assert_eq!(open(&after, "/a", &moved).unwrap().as_slice(), b"s");
        assert!(matches!(
            open(&after, "/a", &sealed),
            Err(SecretError::UnknownMasterKey(_))
        ));
    }
}
