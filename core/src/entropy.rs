//! The only source of randomness the core sees: a generator the driver hands in.

/// A seeded generator supplied by the driver. The core draws jitter from it and nothing
/// else, so a run is a function of the driver's seed.
pub trait Entropy {
    fn next_u64(&mut self) -> u64;

    /// A value in `0..bound`, or 0 when `bound` is 0.
    fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }
}

/// SplitMix64: tiny, fast and good enough for jitter. For drivers and tests.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }
}

impl Entropy for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
