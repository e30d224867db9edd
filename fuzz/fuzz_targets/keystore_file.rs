//! A keystore file's text on any bytes, as `Signer::from_keystore` reads it after reading the
//! file (one secret URI: a mnemonic, a 0x seed or `//Name`, with derivation paths and a
//! password): a key or `KeyError::BadKeystore`, never a panic, and never the secret in the
//! error's words.
#![no_main]

use custodia_client::{error::KeyError, Error, Signer};
use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("keystore");
    match Signer::from_keystore_text(text, path) {
        Ok(signer) => {
            let again = Signer::from_keystore_text(text, path).expect("the same text, the same key");
            assert_eq!(signer.account(), again.account(), "a keystore names one account");
        }
        Err(Error::Key(KeyError::BadKeystore { path })) => assert_eq!(path, "keystore"),
        Err(other) => panic!("a bad keystore is BadKeystore, not {other:?}"),
    }
});
