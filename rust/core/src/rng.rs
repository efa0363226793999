//! Seeded, portable random streams: one ChaCha8 stream per network.
//!
//! A network's stream is fixed by `(seed, stream)` alone, so a network draws the same numbers
//! whether it is sampled alone, in a batch, or on any number of threads.

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

use crate::scalar::Real;

/// The random stream of one network.
pub fn network_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Fill `out` with i.i.d. N(0, std²) draws in order.
pub fn fill_normal<T: Real>(rng: &mut ChaCha8Rng, out: &mut [T], std: T) {
    for x in out.iter_mut() {
        *x = T::standard_normal(rng) * std;
    }
}

/// Per-network (seed, stream) pairs: either one seed shared by the batch with streams
/// 0..batch, or one seed per network, each on stream 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeds {
    Shared(u64),
    PerNetwork(Vec<u64>),
}

impl Seeds {
    pub fn stream_of(&self, network: usize) -> (u64, u64) {
        match self {
            Seeds::Shared(seed) => (*seed, network as u64),
            Seeds::PerNetwork(seeds) => (seeds[network], 0),
        }
    }

    /// Check that per-network seeds cover `batch` networks.
    pub fn check(&self, batch: usize) -> crate::Result<()> {
        match self {
            Seeds::PerNetwork(seeds) if seeds.len() != batch => Err(crate::Error::shape(
                "seed",
                format!("one seed per network ({batch})"),
                format!("{} seeds", seeds.len()),
            )),
            _ => Ok(()),
        }
    }
}
