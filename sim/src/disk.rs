//! A simulated disk: what is durable survives a crash; what is only in the page cache is
//! lost with it. A sync (fsync) moves the cache to the durable image, in order.

use shardsim_core::storage::{apply, DiskImage, StorageOp};

#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    durable: DiskImage,
    cache: Vec<StorageOp>,
}

impl SimDisk {
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    pub fn durable(&self) -> &DiskImage {
        &self.durable
    }

    /// Queues a write in the page cache; it is durable only after the next sync.
    pub fn write(&mut self, op: StorageOp) {
        self.cache.push(op);
    }

    pub fn has_unsynced(&self) -> bool {
        !self.cache.is_empty()
    }

    pub fn sync(&mut self) {
        for op in self.cache.drain(..) {
            apply(&mut self.durable, &op);
        }
    }

    /// A crash: the page cache is gone, the durable image stays.
    pub fn crash(&mut self) {
        self.cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use shardsim_core::storage::StorageKey;

    #[test]
    fn a_crash_loses_what_was_not_synced_and_keeps_what_was() {
        let mut disk = SimDisk::new();
        let put = |value: &'static [u8]| StorageOp::Put { key: StorageKey::NodeMeta, value: Bytes::from_static(value) };
        disk.write(put(b"synced"));
        disk.sync();
        disk.write(put(b"cached"));
        disk.crash();
        assert_eq!(disk.durable().get(&StorageKey::NodeMeta).map(|value| &value[..]), Some(&b"synced"[..]));
        assert!(!disk.has_unsynced());
    }
}
