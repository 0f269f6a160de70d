//! The byte strings a state holds (stored records, messages in flight), written for a
//! fingerprint. Without renaming, their bytes are canonical already. Under symmetry the
//! ids inside them must be renamed too, so they are decoded and written as values; what
//! does not decode (a torn or rotten record, a malformed datagram) is written as bytes.

use super::Encoder;
use shardsim_core::coordinator::{CoordinatorMeta, MemberRecord};
use shardsim_core::log::LogEntry;
use shardsim_core::node::ActorMeta;
use shardsim_core::routing::Route;
use shardsim_core::storage::{decode_record, StorageKey};
use shardsim_core::tracker::MigrationRecord;
use shardsim_core::wire::{self, ShardRole};

/// Writes a stored record's value.
pub fn record(encoder: &mut Encoder, key: StorageKey, value: &[u8]) {
    if !encoder.relabel().decodes_bytes() {
        return encoder.bytes(value);
    }
    let written = match key {
        StorageKey::NodeMeta | StorageKey::ClientMeta => typed::<ActorMeta>(encoder, key, value),
        StorageKey::ShardMeta(_) => typed::<ShardRole>(encoder, key, value),
        StorageKey::LogEntry(..) => typed::<LogEntry>(encoder, key, value),
        StorageKey::CoordinatorMeta => typed::<CoordinatorMeta>(encoder, key, value),
        StorageKey::Route(_) => typed::<Route>(encoder, key, value),
        StorageKey::Migration(_) => typed::<MigrationRecord>(encoder, key, value),
        StorageKey::Member(_) => typed::<MemberRecord>(encoder, key, value),
    };
    if !written {
        encoder.u64(u64::MAX);
        encoder.bytes(value);
    }
}

fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(
    encoder: &mut Encoder,
    key: StorageKey,
    value: &[u8],
) -> bool {
    let Ok(decoded) = decode_record::<T>(key, value) else { return false };
    encoder.u64(0);
    encoder.value(&decoded);
    true
}

/// Writes a datagram's bytes.
pub fn datagram(encoder: &mut Encoder, bytes: &[u8]) {
    if !encoder.relabel().decodes_bytes() {
        return encoder.bytes(bytes);
    }
    match wire::decode(bytes) {
        Ok(envelope) => {
            encoder.u64(0);
            encoder.value(&envelope);
        }
        Err(_) => {
            encoder.u64(u64::MAX);
            encoder.bytes(bytes);
        }
    }
}
