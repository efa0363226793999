//! Probe: thread scaling of Haar sampling (1 vs 2 threads), best of 15: the public call, and
//! the same work on a persistent pool into a pre-touched buffer.
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use deeplinear_core::haar::{haar_orthogonal, HaarSampler};
use deeplinear_core::rng::{network_rng, Seeds};
use rayon::prelude::*;

fn main() {
    for &(n, batch) in &[(16usize, 1000usize), (64, 200), (256, 20)] {
        let pools: Vec<_> = [1usize, 2]
            .iter()
            .map(|&t| deeplinear_core::parallel::pool(Some(t)).unwrap())
            .collect();
        let mut out = vec![1.0f64; batch * n * n];
        let mut best = [f64::INFINITY; 4];
        for _ in 0..15 {
            for (i, th) in [1usize, 2].into_iter().enumerate() {
                let t = Instant::now();
                let q =
                    haar_orthogonal::<f64>(n, n, batch, &Seeds::Shared(1), Some(th), &AtomicBool::new(false)).unwrap();
                best[i] = best[i].min(t.elapsed().as_secs_f64());
                std::hint::black_box(q);
                let t = Instant::now();
                pools[i].install(|| {
                    out.par_chunks_mut(n * n).enumerate().for_each_init(
                        || HaarSampler::new(n, n),
                        |s, (b, m)| s.sample_into(&mut network_rng(1, b as u64), 1.0, m),
                    )
                });
                best[2 + i] = best[2 + i].min(t.elapsed().as_secs_f64());
            }
        }
        println!(
            "n={n}: call 1→2 threads {:.2} → {:.2} ms ({:.2}x); persistent pool, touched output {:.2} → {:.2} ms ({:.2}x)",
            best[0] * 1e3, best[1] * 1e3, best[0] / best[1], best[2] * 1e3, best[3] * 1e3, best[2] / best[3]
        );
    }
}
