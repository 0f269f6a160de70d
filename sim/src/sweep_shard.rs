//! Which seeds of a range one process runs: `--shard i/n` takes every n-th seed from the
//! range start plus i (0-based, as a Kubernetes completion index), so every seed is in
//! exactly one shard and each shard sees early and late seeds alike.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedShard {
    pub index: u64,
    pub count: u64,
}

impl SeedShard {
    /// The whole range: shard 0 of 1.
    pub const WHOLE: SeedShard = SeedShard { index: 0, count: 1 };

    /// The k-th seed of this shard of `range`, if the range holds it.
    pub fn nth(self, range: &Range<u64>, k: u64) -> Option<u64> {
        let seed = range.start.checked_add(self.index)?.checked_add(k.checked_mul(self.count)?)?;
        (seed < range.end).then_some(seed)
    }

    /// Whether `seed` belongs to this shard of `range`.
    pub fn holds(self, range: &Range<u64>, seed: u64) -> bool {
        range.contains(&seed) && (seed - range.start) % self.count == self.index
    }

    /// How many seeds of `range` this shard holds.
    pub fn len(self, range: &Range<u64>) -> u64 {
        let span = range.end - range.start;
        span / self.count + u64::from(span % self.count > self.index)
    }
}

impl fmt::Display for SeedShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for SeedShard {
    type Err = String;

    fn from_str(text: &str) -> Result<SeedShard, String> {
        let usage = || format!("shard `{text}` is not of the form i/n, 0-based (0/3, 1/3, 2/3)");
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index: u64 = index.trim().parse().map_err(|_| usage())?;
        let count: u64 = count.trim().parse().map_err(|_| usage())?;
        if count == 0 {
            return Err(format!("shard `{text}`: there must be at least one shard"));
        }
        if index >= count {
            return Err(format!("shard `{text}`: the index is 0-based, so below {count}"));
        }
        Ok(SeedShard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::SeedShard;

    #[test]
    fn every_seed_is_in_exactly_one_shard() {
        let range = 7..30;
        for count in 1..6 {
            let shards: Vec<SeedShard> = (0..count).map(|index| SeedShard { index, count }).collect();
            for seed in range.clone() {
                assert_eq!(shards.iter().filter(|shard| shard.holds(&range, seed)).count(), 1);
            }
            let listed: u64 = shards.iter().map(|shard| shard.len(&range)).sum();
            assert_eq!(listed, 23);
            for shard in &shards {
                let seeds: Vec<u64> = (0..).map_while(|k| shard.nth(&range, k)).collect();
                assert_eq!(seeds.len() as u64, shard.len(&range));
                assert!(seeds.iter().all(|seed| shard.holds(&range, *seed)));
            }
        }
    }

    #[test]
    fn shards_parse_or_say_why_not() {
        assert_eq!("1/3".parse(), Ok(SeedShard { index: 1, count: 3 }));
        assert!("3/3".parse::<SeedShard>().unwrap_err().contains("0-based"));
        assert!("0/0".parse::<SeedShard>().unwrap_err().contains("at least one"));
        assert!("x/y".parse::<SeedShard>().unwrap_err().contains("i/n"));
        assert!("2".parse::<SeedShard>().unwrap_err().contains("i/n"));
    }
}
