//! Initialisation schemes (SPEC §2). Each returns one row-major buffer per layer, shaped
//! (batch, d_out, d_in); network b draws all its layers, in order, from its own stream.

use rand::rngs::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::haar::HaarSampler;
use crate::parallel;
use crate::rng::{fill_normal, network_rng, Seeds};
use crate::scalar::Real;

/// Check a layer-width list `dims = [d_0, …, d_L]`.
pub fn check_dims(dims: &[usize]) -> Result<()> {
    if dims.len() < 2 {
        return Err(Error::invalid(
            "dims",
            format!("needs at least two widths [d_in, d_out], got {dims:?}"),
        ));
    }
    if let Some(j) = dims.iter().position(|&d| d == 0) {
        return Err(Error::invalid(
            "dims",
            format!("every width must be at least 1, got dims[{j}] = 0 in {dims:?}"),
        ));
    }
    Ok(())
}

pub fn check_scale(arg: &str, value: f64) -> Result<()> {
    if !value.is_finite() || value < 0.0 {
        return Err(Error::invalid(
            arg,
            format!("must be finite and non-negative, got {value}"),
        ));
    }
    Ok(())
}

/// Run `fill(rng, layer_index, out)` for every layer of every network, in parallel over
/// networks, and return the per-layer buffers.
fn per_network_layers<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    threads: Option<usize>,
    fill: impl Fn(&mut ChaCha8Rng, usize, &mut [T]) + Sync,
) -> Result<Vec<Vec<T>>> {
    check_dims(dims)?;
    if batch == 0 {
        return Err(Error::invalid("batch", "must be at least 1, got 0"));
    }
    seeds.check(batch)?;
    let sizes: Vec<usize> = dims.windows(2).map(|w| w[0] * w[1]).collect();
    let mut layers: Vec<Vec<T>> = sizes.iter().map(|&s| vec![T::from_f64(0.0); s * batch]).collect();
    // Gather each network's disjoint slices of every layer so networks can run in parallel.
    let mut networks: Vec<Vec<&mut [T]>> = (0..batch).map(|_| Vec::with_capacity(sizes.len())).collect();
    for (layer, &size) in layers.iter_mut().zip(&sizes) {
        for (b, chunk) in layer.chunks_mut(size).enumerate() {
            networks[b].push(chunk);
        }
    }
    parallel::pool(threads)?.install(|| {
        networks.par_iter_mut().enumerate().for_each(|(b, net)| {
            let (seed, stream) = seeds.stream_of(b);
            let mut rng = network_rng(seed, stream);
            for (j, out) in net.iter_mut().enumerate() {
                fill(&mut rng, j, out);
            }
        });
    });
    Ok(layers)
}

/// I.i.d. N(0, std²) entries.
pub fn gaussian<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    std: f64,
    threads: Option<usize>,
) -> Result<Vec<Vec<T>>> {
    check_scale("std", std)?;
    let std = T::from_f64(std);
    per_network_layers(dims, batch, seeds, threads, |rng, _, out| fill_normal(rng, out, std))
}

/// W = gain·√max(d_out, d_in)·Q with Q Haar (orthonormal columns if tall, rows if wide);
/// gain = 1 gives Hu et al.'s WᵀW = m·I for square layers.
pub fn orthogonal<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    gain: f64,
    threads: Option<usize>,
) -> Result<Vec<Vec<T>>> {
    check_scale("gain", gain)?;
    per_network_layers(dims, batch, seeds, threads, |rng, j, out| {
        let (d_in, d_out) = (dims[j], dims[j + 1]);
        let scale = T::from_f64(gain * (d_in.max(d_out) as f64).sqrt());
        // A sampler per layer is cheap next to the QR it serves and keeps `fill` stateless.
        HaarSampler::new(d_out, d_in).sample_into(rng, scale, out);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_determinism() {
        let dims = [3, 5, 2];
        let a = gaussian::<f64>(&dims, 4, &Seeds::Shared(9), 1.0, Some(1)).unwrap();
        let b = gaussian::<f64>(&dims, 4, &Seeds::Shared(9), 1.0, Some(2)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].len(), 4 * 15);
        assert_eq!(a[1].len(), 4 * 10);
        assert_ne!(a[0][..15], a[0][15..30], "networks must draw from different streams");
    }

    #[test]
    fn orthogonal_square_layers_are_scaled_orthogonal() {
        let m = 6;
        let w = orthogonal::<f64>(&[m, m, m], 2, &Seeds::Shared(1), 1.0, None).unwrap();
        for layer in &w {
            let a = &layer[..m * m];
            for i in 0..m {
                for j in 0..m {
                    let dot: f64 = (0..m).map(|p| a[p * m + i] * a[p * m + j]).sum();
                    let expect = if i == j { m as f64 } else { 0.0 };
                    assert!((dot - expect).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn bad_arguments_are_named() {
        let err = gaussian::<f64>(&[3, 0, 2], 1, &Seeds::Shared(0), 1.0, None).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "dims"));
        let err = gaussian::<f64>(&[3, 2], 1, &Seeds::Shared(0), f64::NAN, None).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "std"));
        let err = orthogonal::<f64>(&[3], 1, &Seeds::Shared(0), 1.0, None).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "dims"));
    }
}
