//! Encodings as `Bytes` of exactly their size, allocated once. `Bytes::from` a `Vec`
//! with room to spare allocates a second time (a shared header), and a `Vec` grown from
//! small reallocates: a message or record went through two or three allocations before.

use bytes::Bytes;
use postcard::ser_flavors::Flavor;
use serde::Serialize;

/// Most messages and records fit: they are encoded on the stack and copied out once.
const STACK_BYTES: usize = 512;

/// `value`'s postcard encoding followed by `trailer` of that encoding (a checksum, say).
pub(crate) fn encode_exact<T: Serialize, const TRAILER_BYTES: usize>(
    value: &T,
    trailer: impl Fn(&[u8]) -> [u8; TRAILER_BYTES],
) -> postcard::Result<Bytes> {
    let mut stack = [0u8; STACK_BYTES];
    let room = STACK_BYTES - TRAILER_BYTES;
    match postcard::serialize_with_flavor(value, Buffer { bytes: &mut stack[..room], length: 0 }) {
        Ok(length) => {
            let trailer = trailer(&stack[..length]);
            stack[length..length + TRAILER_BYTES].copy_from_slice(&trailer);
            Ok(Bytes::copy_from_slice(&stack[..length + TRAILER_BYTES]))
        }
        Err(postcard::Error::SerializeBufferFull) => {
            let mut encoded = postcard::to_allocvec(value)?;
            let trailer = trailer(&encoded);
            encoded.extend_from_slice(&trailer);
            Ok(Bytes::from(encoded))
        }
        Err(error) => Err(error),
    }
}

/// postcard's output into a fixed buffer. postcard's own `Slice` copies every field with
/// a call to `memcpy`; most fields are a one-byte varint (a small id, epoch or index), so
/// a run of one byte is stored directly here. The bytes are the same.
struct Buffer<'a> {
    bytes: &'a mut [u8],
    length: usize,
}

impl Flavor for Buffer<'_> {
    /// The length written.
    type Output = usize;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        let slot = self.bytes.get_mut(self.length).ok_or(postcard::Error::SerializeBufferFull)?;
        *slot = byte;
        self.length += 1;
        Ok(())
    }

    fn try_extend(&mut self, run: &[u8]) -> postcard::Result<()> {
        if let [byte] = run {
            return self.try_push(*byte);
        }
        let end = self.length + run.len();
        let room = self.bytes.get_mut(self.length..end).ok_or(postcard::Error::SerializeBufferFull)?;
        room.copy_from_slice(run);
        self.length = end;
        Ok(())
    }

    fn finalize(self) -> postcard::Result<usize> {
        Ok(self.length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small and large values encode as postcard does, trailer last, whichever path
    /// they take.
    #[test]
    fn matches_postcard_on_the_stack_and_past_it() {
        for length in [0usize, 1, 100, STACK_BYTES - 8, STACK_BYTES - 4, STACK_BYTES, 5 * STACK_BYTES] {
            let value: Vec<u8> = (0..length).map(|byte| byte as u8).collect();
            let plain = postcard::to_allocvec(&value).unwrap();
            assert_eq!(encode_exact(&value, |_| []).unwrap().as_ref(), plain.as_slice(), "{length} bytes");
            let trailed = encode_exact(&value, |encoded: &[u8]| (encoded.len() as u32).to_le_bytes()).unwrap();
            let mut expected = plain.clone();
            expected.extend_from_slice(&(plain.len() as u32).to_le_bytes());
            assert_eq!(trailed.as_ref(), expected.as_slice(), "{length} bytes with a trailer");
        }
    }

    /// A value whose last byte is a one-byte field, around the end of the stack buffer:
    /// a full buffer on either path falls back to the heap with the same bytes.
    #[test]
    fn a_value_ending_at_the_stack_buffers_edge_encodes_whole() {
        for run in STACK_BYTES - 8..STACK_BYTES {
            let value = (vec![7u8; run], 5u8);
            let trailed = encode_exact(&value, |_| [1, 2, 3, 4]).unwrap();
            let mut expected = postcard::to_allocvec(&value).unwrap();
            expected.extend_from_slice(&[1, 2, 3, 4]);
            assert_eq!(trailed.as_ref(), expected.as_slice(), "a run of {run} bytes");
        }
    }

    /// Varints of every width, strings and sequences: what messages are made of.
    #[test]
    fn mixed_fields_encode_as_postcard_does() {
        let value = (u64::MAX, 300u32, -5i64, "a string", vec![1u64, 1 << 40, 0], Some(7u16), [9u8; 20]);
        assert_eq!(encode_exact(&value, |_| []).unwrap().as_ref(), postcard::to_allocvec(&value).unwrap().as_slice());
    }
}
