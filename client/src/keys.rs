//! Signing keys: sr25519 from a development name, a secret URI, or a keystore file. Secrets are
//! held by subxt-signer (zeroized on drop) and never printed: a [`Signer`] shows only its
//! public address.

use crate::{error::KeyError, Error, Result};
use ink::primitives::AccountId;
use std::{path::Path, str::FromStr};
use subxt_signer::{sr25519::Keypair, SecretUri};

/// A key that signs transactions, and the account it signs for.
#[derive(Clone)]
pub struct Signer {
    pair: Keypair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", ss58(&self.account()))
    }
}

impl Signer {
    /// A well-known development key by name: `alice` or `//Alice` (never for real data).
    pub fn dev(name: &str) -> Result<Self> {
        let name = name.trim_start_matches("//");
        let mut chars = name.chars();
        let capitalised: String = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => return Err(Error::Key(KeyError::Missing)),
        };
        Self::from_uri(&format!("//{capitalised}"))
    }

    /// A key from a secret URI: a mnemonic, a 0x-hex seed or `//Name`, with optional
    /// derivation paths and `///password`.
    pub fn from_uri(uri: &str) -> Result<Self> {
        let uri = SecretUri::from_str(uri.trim()).map_err(|e| Error::Key(KeyError::NotASecretUri(e.to_string())))?;
        let pair = Keypair::from_uri(&uri).map_err(|e| Error::Key(KeyError::NotASecretUri(e.to_string())))?;
        Ok(Self { pair })
    }

    /// A key from a keystore file holding one secret URI. On Unix the file must not be
    /// readable by group or others.
    pub fn from_keystore(path: &Path) -> Result<Self> {
        check_private(path)?;
        let secret = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?);
        Self::from_keystore_text(&secret, path)
    }

    /// A key from the text of keystore file `path` (what [`Signer::from_keystore`] does after
    /// reading it): one secret URI, surrounding whitespace ignored; anything else is
    /// `BadKeystore`, which never repeats the text.
    pub fn from_keystore_text(secret: &str, path: &Path) -> Result<Self> {
        Self::from_uri(secret).map_err(|_| Error::Key(KeyError::BadKeystore { path: path.display().to_string() }))
    }

    /// A key named the way the CLI takes it: a keystore file path if one exists there, a
    /// secret URI if it starts with `//`, `0x` or holds spaces (a mnemonic), else a development
    /// name.
    pub fn resolve(spec: &str) -> Result<Self> {
        let path = Path::new(spec);
        if path.is_file() {
            Self::from_keystore(path)
        } else if spec.starts_with("0x") || spec.contains(' ') || spec.starts_with("//") {
            Self::from_uri(spec)
        } else {
            Self::dev(spec)
        }
    }

    /// The account this key signs for.
    pub fn account(&self) -> AccountId {
        AccountId::from(self.pair.public_key().0)
    }

    pub(crate) fn keypair(&self) -> &Keypair {
        &self.pair
    }
}

/// Refuses a secret file that group or others may read (on Unix; elsewhere every file passes).
pub fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::Key(KeyError::Exposed { path: path.display().to_string(), mode: mode & 0o777 }));
        }
    }
    Ok(())
}

/// An account in SS58 form (generic Substrate prefix 42).
pub fn ss58(account: &AccountId) -> String {
    subxt::utils::AccountId32(*account.as_ref()).to_string()
}

/// Parses an account given in SS58 or as 0x-prefixed hex.
pub fn parse_account(text: &str) -> Result<AccountId> {
    if let Some(hex) = text.strip_prefix("0x") {
        let bytes: [u8; 32] = hex::decode(hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::Input(format!("{text} is not 32 bytes of hex")))?;
        return Ok(AccountId::from(bytes));
    }
    // An SS58 address of a 32-byte account is 47 to 50 characters. Longer text is refused
    // before it reaches the base58 decoder, which panics (an arithmetic overflow) on some long
    // inputs: found by fuzzing the deployment file.
    if text.len() > MAX_SS58_LEN {
        return Err(Error::Input(format!("{text} is not an SS58 address (longer than {MAX_SS58_LEN} characters)")));
    }
    subxt::utils::AccountId32::from_str(text)
        .map(|a| AccountId::from(a.0))
        .map_err(|e| Error::Input(format!("{text} is not an SS58 address ({e})")))
}

/// Longest text [`parse_account`] hands to the SS58 decoder.
const MAX_SS58_LEN: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_or_malformed_address_is_a_typed_error_not_a_panic() {
        // The deployment-file fuzzer's input: the base58 decoder overflowed on it.
        let found = format!("1111{}{}{}1rds", "2".repeat(105), "1".repeat(11), "j".repeat(59));
        assert!(matches!(parse_account(&found), Err(Error::Input(_))));
        for n in [65, 100, 1000] {
            assert!(matches!(parse_account(&"2".repeat(n)), Err(Error::Input(_))), "{n}");
        }
        let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
        assert!(parse_account(alice).is_ok());
        assert!(matches!(parse_account("0x12"), Err(Error::Input(_))));
    }
}
