//! A cluster size as a benchmark argument, named `10n/1000s` in divan's tables.

use std::fmt;

#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub nodes: u32,
    pub shards: u32,
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}n/{}s", self.nodes, self.shards)
    }
}
