//! The one value codec: bincode 2 (serde, standard config). Changing a stored type's
//! shape needs a step in `migrate`.
use super::StoreError;
use serde::{Serialize, de::DeserializeOwned};

pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    bincode::serde::encode_to_vec(v, bincode::config::standard())
        .map_err(|e| StoreError::Codec(e.to_string()))
}

/// Decodes a stored value; a corrupt length prefix cannot make it claim more than this
/// (the largest row, a release's changelog or a mail, is far below).
const DECODE_LIMIT: usize = 64 * 1024 * 1024;

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    bincode::serde::decode_from_slice(
        bytes,
        bincode::config::standard().with_limit::<DECODE_LIMIT>(),
    )
    .map(|(v, _)| v)
    .map_err(|e| StoreError::Codec(e.to_string()))
}
