//! Probe: per-matrix cost of Haar sampling on one thread, and the part spent drawing normals
//! (Stewart's method draws n(n+1)/2 per n × n matrix). Best of 7 rounds, as the machine is noisy.
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use deeplinear_core::haar::haar_orthogonal;
use deeplinear_core::rng::{fill_normal, network_rng, Seeds};

fn best_of<F: FnMut()>(rounds: usize, mut f: F) -> f64 {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    for &(n, batch) in &[(16usize, 4000usize), (32, 1000), (64, 400), (128, 60), (256, 10)] {
        let mut checksum = 0.0;
        let total = best_of(7, || {
            let q = haar_orthogonal::<f64>(n, n, batch, &Seeds::Shared(1), Some(1), &AtomicBool::new(false)).unwrap();
            checksum += q[0];
        }) / batch as f64;
        let mut buf = vec![0.0f64; n * (n + 1) / 2];
        let rng = best_of(7, || {
            for b in 0..batch {
                fill_normal(&mut network_rng(1, b as u64), &mut buf, 1.0);
            }
            checksum += buf[0];
        }) / batch as f64;
        let gflops = 8.0 / 3.0 * (n as f64).powi(3) / total / 1e9;
        println!(
            "n={n:3}: {:8.2} us/matrix ({gflops:5.1} nominal GFLOP/s), {:8.2} us of it drawing normals  (checksum {checksum:.3})",
            total * 1e6,
            rng * 1e6,
        );
    }
}
