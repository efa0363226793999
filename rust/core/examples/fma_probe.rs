//! Probe: what the machine allows threads to scale to on pure arithmetic. Each thread runs ten
//! independent chains of 4-wide f64 fused multiply-adds (AVX2; no memory traffic), alone and
//! then with every core busy, for a few rounds; prints GFLOP/s per thread and the ratio.
//!
//! On a shared VM a lone busy vCPU may run faster than each of several (host clocks, a
//! neighbour on the same physical core), which caps any code's thread scaling below the core
//! count. Run: `cargo run --release -p deeplinear-core --example fma_probe [rounds]`.
use std::time::Instant;

/// GFLOP/s of one thread running `iterations` passes of ten independent FMA chains.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains(iterations: u64) -> f64 {
    use std::arch::x86_64::*;
    let (m, c) = (_mm256_set1_pd(0.999_999_9), _mm256_set1_pd(1e-9));
    let mut acc = [_mm256_setzero_pd(); 10];
    let start = Instant::now();
    for _ in 0..iterations {
        // Ten chains, so the 4-cycle FMA latency never stalls two FMA pipes.
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_pd(*a, m, c);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(acc);
    // 10 chains × 4 lanes × 2 flops per FMA.
    80.0 * iterations as f64 / seconds / 1e9
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            eprintln!("fma_probe needs AVX2 and FMA");
            return;
        }
        let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(3);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let iterations = 200_000_000;
        // SAFETY: AVX2 and FMA were detected above.
        let run = move || unsafe { fma_chains(iterations) };
        for round in 0..rounds {
            let alone = run();
            let together: Vec<f64> = (0..threads)
                .map(|_| std::thread::spawn(run))
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().expect("probe thread"))
                .collect();
            let total: f64 = together.iter().sum();
            let each: Vec<String> = together.iter().map(|g| format!("{g:.1}")).collect();
            println!(
                "round {round}: 1 thread {alone:.1} GFLOP/s; {threads} threads {} GFLOP/s each; ratio {:.2}",
                each.join(", "),
                total / alone
            );
        }
    }
}
