//! The clients' workload: a steady rate of writes over every shard, skewed towards a hot
//! shard that the nemesis moves, so there is always load to rebalance.

use shardsim_core::{EntityKey, Entropy, ShardId};

/// Entities each shard's writes go to: few enough that every one lives on its owner and
/// is handed off at every cut-over.
pub const ENTITIES_PER_SHARD: u32 = 4;

#[derive(Clone, Debug)]
pub struct Workload {
    pub shard_count: u32,
    pub hot_shard: ShardId,
    pub hot_share_permille: u32,
    pub write_interval_ms: u64,
    /// In the liveness phase, writes also sweep every shard in turn, so each shows it
    /// accepts writes again.
    pub sweep_next: u32,
    pub sweeping: bool,
    /// After a write, a client goes idle (1 to 5 s) this often, per mille: it comes back
    /// with the routes it cached before, however stale.
    pub idle_permille: u32,
}

/// How long an idle client stays away.
const IDLE_MS: std::ops::RangeInclusive<u64> = 1_000..=5_000;

impl Workload {
    pub fn new(shard_count: u32, hot_share_permille: u32, write_interval_ms: u64) -> Workload {
        Workload {
            shard_count,
            hot_shard: ShardId(0),
            hot_share_permille,
            write_interval_ms,
            sweep_next: 0,
            sweeping: false,
            idle_permille: 0,
        }
    }

    /// How long until a client's next write: the write interval, or now and then an idle
    /// spell (never in the liveness phase, where every shard must show it takes writes).
    pub fn next_interval_ms(&self, entropy: &mut dyn Entropy) -> u64 {
        if !self.sweeping && entropy.below(1000) < u64::from(self.idle_permille) {
            IDLE_MS.start() + entropy.below(IDLE_MS.end() - IDLE_MS.start() + 1)
        } else {
            self.write_interval_ms
        }
    }

    /// The next write's shard and entity.
    pub fn next_write(&mut self, entropy: &mut dyn Entropy) -> (ShardId, EntityKey) {
        let shard = self.next_shard(entropy);
        (shard, EntityKey(entropy.below(u64::from(ENTITIES_PER_SHARD)) as u32))
    }

    fn next_shard(&mut self, entropy: &mut dyn Entropy) -> ShardId {
        if self.sweeping && entropy.below(2) == 0 {
            let shard = ShardId(self.sweep_next % self.shard_count.max(1));
            self.sweep_next = self.sweep_next.wrapping_add(1);
            return shard;
        }
        if entropy.below(1000) < u64::from(self.hot_share_permille) {
            self.hot_shard
        } else {
            ShardId(entropy.below(u64::from(self.shard_count.max(1))) as u32)
        }
    }
}
