//! A serde serializer that writes a canonical, compact encoding of a value into a buffer,
//! for fingerprinting (never for reading back):
//! - every `Instant` is written relative to a reference time, so two states that differ
//!   only in when they happen encode the same;
//! - every `NodeId`, `ShardId` and data-node `Address` is written renamed by a
//!   [`Relabel`];
//! - maps (and the multisets the caller builds) are written as a sum of their entries'
//!   128-bit hashes, so their order (which a renaming changes) does not count.
//!
//! Integers are written fixed-width little endian; a string or byte string is its length
//! and its bytes; an enum variant is its index. Injective for every type the state holds.

use super::relabel::Relabel;
use serde::ser::{self, Serialize};
use std::fmt;

/// What the next integer written stands for, set by the newtype that wraps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wrapped {
    Plain,
    Node,
    Shard,
    Instant,
}

pub struct Encoder {
    out: Vec<u8>,
    /// Open maps and multisets: the caller's buffer, the sum of the entries' hashes, and
    /// how many entries.
    frames: Vec<(Vec<u8>, u128, u64)>,
    /// Spare buffers for frames, so that fingerprinting a state allocates nothing.
    spare: Vec<Vec<u8>>,
    relabel: Relabel,
    now_ms: u64,
    wrapped: Wrapped,
    /// Inside an `Address`: the ip bytes seen so far.
    address_ip: Option<([u8; 4], usize)>,
}

#[derive(Debug)]
pub struct Unsupported(String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Unsupported(message.to_string())
    }
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder {
            out: Vec::with_capacity(4096),
            frames: Vec::new(),
            spare: Vec::new(),
            relabel: Relabel::identity(),
            now_ms: 0,
            wrapped: Wrapped::Plain,
            address_ip: None,
        }
    }

    /// Starts a new fingerprint under `relabel`.
    pub fn reset(&mut self, relabel: &Relabel) {
        self.out.clear();
        self.frames.clear();
        self.relabel.clone_from(relabel);
        self.now_ms = 0;
        self.wrapped = Wrapped::Plain;
        self.address_ip = None;
    }

    pub fn relabel(&self) -> &Relabel {
        &self.relabel
    }

    /// Instants written from now on are written relative to `now_ms`.
    pub fn set_now_ms(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// Writes a value; the state types' serializations never fail.
    pub fn value<T: Serialize + ?Sized>(&mut self, value: &T) {
        value.serialize(&mut *self).expect("state types serialize");
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.out.extend_from_slice(bytes);
    }

    pub fn u64(&mut self, value: u64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    pub fn i64(&mut self, value: i64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    /// An instant, relative to the reference time (signed: it may lie ahead).
    pub fn instant_ms(&mut self, at_ms: u64) {
        self.i64(at_ms.wrapping_sub(self.now_ms) as i64);
    }

    /// Opens a collection whose order does not count; each entry goes between
    /// [`entry`](Self::entry) calls, and [`end_set`](Self::end_set) closes it.
    pub fn begin_set(&mut self) {
        let buffer = self.spare.pop().unwrap_or_default();
        let caller = std::mem::replace(&mut self.out, buffer);
        self.frames.push((caller, 0, 0));
    }

    /// Ends the entry written since the last call (or since `begin_set`).
    pub fn entry(&mut self) {
        let hash = xxhash_rust::xxh3::xxh3_128(&self.out);
        self.out.clear();
        let frame = self.frames.last_mut().expect("an open set");
        frame.1 = frame.1.wrapping_add(hash);
        frame.2 += 1;
    }

    pub fn end_set(&mut self) {
        let (caller, sum, count) = self.frames.pop().expect("an open set");
        let mut buffer = std::mem::replace(&mut self.out, caller);
        buffer.clear();
        self.spare.push(buffer);
        self.out.extend_from_slice(&sum.to_le_bytes());
        self.out.extend_from_slice(&count.to_le_bytes());
    }

    /// The 128-bit fingerprint of everything written since `reset`.
    pub fn finish(&self) -> u128 {
        assert!(self.frames.is_empty(), "every set is closed before the fingerprint is taken");
        xxhash_rust::xxh3::xxh3_128(&self.out)
    }

    fn integer(&mut self, value: u64) {
        let value = match std::mem::replace(&mut self.wrapped, Wrapped::Plain) {
            Wrapped::Plain => value,
            Wrapped::Node => u64::from(self.relabel.node(value as u32)),
            Wrapped::Shard => u64::from(self.relabel.shard(value as u32)),
            Wrapped::Instant => value.wrapping_sub(self.now_ms),
        };
        self.u64(value);
    }
}

impl ser::Serializer for &mut Encoder {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, value: bool) -> Result {
        self.out.push(u8::from(value));
        Ok(())
    }
    fn serialize_i8(self, value: i8) -> Result {
        self.i64(i64::from(value));
        Ok(())
    }
    fn serialize_i16(self, value: i16) -> Result {
        self.i64(i64::from(value));
        Ok(())
    }
    fn serialize_i32(self, value: i32) -> Result {
        self.i64(i64::from(value));
        Ok(())
    }
    fn serialize_i64(self, value: i64) -> Result {
        self.i64(value);
        Ok(())
    }
    fn serialize_u8(self, value: u8) -> Result {
        if let Some((ip, seen)) = &mut self.address_ip {
            ip[*seen] = value;
            *seen += 1;
            if *seen == 4 {
                let ip = self.relabel.address_ip(*ip);
                self.address_ip = None;
                self.out.extend_from_slice(&ip);
            }
            return Ok(());
        }
        self.out.push(value);
        Ok(())
    }
    fn serialize_u16(self, value: u16) -> Result {
        self.integer(u64::from(value));
        Ok(())
    }
    fn serialize_u32(self, value: u32) -> Result {
        self.integer(u64::from(value));
        Ok(())
    }
    fn serialize_u64(self, value: u64) -> Result {
        self.integer(value);
        Ok(())
    }
    fn serialize_u128(self, value: u128) -> Result {
        self.out.extend_from_slice(&value.to_le_bytes());
        Ok(())
    }
    fn serialize_f32(self, value: f32) -> Result {
        self.out.extend_from_slice(&value.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_f64(self, value: f64) -> Result {
        self.out.extend_from_slice(&value.to_bits().to_le_bytes());
        Ok(())
    }
    fn serialize_char(self, value: char) -> Result {
        self.u64(u64::from(value));
        Ok(())
    }
    fn serialize_str(self, value: &str) -> Result {
        self.bytes(value.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, value: &[u8]) -> Result {
        self.bytes(value);
        Ok(())
    }
    fn serialize_none(self) -> Result {
        self.out.push(0);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        self.out.push(1);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        Ok(())
    }
    fn serialize_unit_variant(self, _name: &'static str, index: u32, _variant: &'static str) -> Result {
        self.u64(u64::from(index));
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result {
        self.wrapped = match name {
            "NodeId" => Wrapped::Node,
            "ShardId" => Wrapped::Shard,
            "Instant" => Wrapped::Instant,
            _ => Wrapped::Plain,
        };
        value.serialize(&mut *self)?;
        self.wrapped = Wrapped::Plain;
        Ok(())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result {
        self.u64(u64::from(index));
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self> {
        self.u64(len.map_or(u64::MAX, |len| len as u64));
        Ok(self)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self> {
        Ok(self)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self> {
        self.u64(u64::from(index));
        Ok(self)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self> {
        self.begin_set();
        Ok(self)
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Self> {
        if name == "Address" {
            self.address_ip = Some(([0; 4], 0));
        }
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self> {
        self.u64(u64::from(index));
        Ok(self)
    }
}

/// The compound serializers that write their elements in order and nothing at the end.
macro_rules! in_order {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for &mut Encoder {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                value.serialize(&mut **self)
            }
            fn end(self) -> Result {
                Ok(())
            }
        }
    )*};
}

in_order!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for &mut Encoder {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)?;
        self.entry();
        Ok(())
    }
    fn end(self) -> Result {
        self.end_set();
        Ok(())
    }
}

impl ser::SerializeStruct for &mut Encoder {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _key: &'static str, value: &T) -> Result {
        value.serialize(&mut **self)
    }
    fn skip_field(&mut self, _key: &'static str) -> Result {
        Ok(())
    }
    fn end(self) -> Result {
        Ok(())
    }
}

impl ser::SerializeStructVariant for &mut Encoder {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Result {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardsim_core::{Instant, NodeId, ShardId};
    use std::collections::BTreeMap;

    fn fingerprint<T: Serialize>(value: &T, relabel: &Relabel, now_ms: u64) -> u128 {
        let mut encoder = Encoder::new();
        encoder.reset(relabel);
        encoder.set_now_ms(now_ms);
        encoder.value(value);
        encoder.finish()
    }

    #[test]
    fn instants_count_relative_to_now() {
        let identity = Relabel::identity();
        assert_eq!(fingerprint(&Instant(150), &identity, 100), fingerprint(&Instant(1_050), &identity, 1_000));
        assert_ne!(fingerprint(&Instant(150), &identity, 100), fingerprint(&Instant(150), &identity, 1_000));
        // A plain u64 is not an instant.
        assert_ne!(fingerprint(&150u64, &identity, 100), fingerprint(&1_050u64, &identity, 1_000));
    }

    #[test]
    fn a_renamed_map_encodes_as_the_map_with_renamed_keys() {
        let original = BTreeMap::from([(NodeId(1), (ShardId(0), 7u64)), (NodeId(2), (ShardId(1), 9u64))]);
        let renamed = BTreeMap::from([(NodeId(2), (ShardId(1), 7u64)), (NodeId(1), (ShardId(0), 9u64))]);
        let swap = Relabel::new(&[2, 1], &[1, 0]);
        assert_eq!(fingerprint(&original, &swap, 0), fingerprint(&renamed, &Relabel::identity(), 0));
        assert_ne!(fingerprint(&original, &Relabel::identity(), 0), fingerprint(&renamed, &Relabel::identity(), 0));
    }

    #[test]
    fn nesting_and_order_within_sequences_count() {
        let identity = Relabel::identity();
        assert_ne!(fingerprint(&vec![1u32, 2], &identity, 0), fingerprint(&vec![2u32, 1], &identity, 0));
        assert_ne!(
            fingerprint(&(vec![1u32], vec![2u32]), &identity, 0),
            fingerprint(&(vec![1u32, 2], Vec::<u32>::new()), &identity, 0)
        );
        assert_ne!(fingerprint(&Some(0u8), &identity, 0), fingerprint(&None::<u8>, &identity, 0));
    }
}
