//! Probe: per-matrix cost of Haar sampling (RNG vs QR) on one thread.
use std::time::Instant;

use deeplinear_core::haar::haar_orthogonal;
use deeplinear_core::rng::{fill_normal, network_rng, Seeds};

fn main() {
    for &(n, batch) in &[(16usize, 20000usize), (64, 2000), (256, 40)] {
        let t = Instant::now();
        let q = haar_orthogonal::<f64>(n, n, batch, &Seeds::Shared(1), Some(1)).unwrap();
        let total = t.elapsed().as_secs_f64() / batch as f64;
        let mut buf = vec![0.0f64; n * n];
        let t = Instant::now();
        for b in 0..batch {
            fill_normal(&mut network_rng(1, b as u64), &mut buf, 1.0);
        }
        let rng = t.elapsed().as_secs_f64() / batch as f64;
        println!(
            "n={n:3}: {:8.2} us/matrix total, {:8.2} us RNG  (checksum {:.3})",
            total * 1e6,
            rng * 1e6,
            q[0] + buf[0]
        );
    }
}
