//! Initialisation schemes (docs/science.md, Initialisation schemes). Each returns one row-major buffer per layer, shaped
//! (batch, d_out, d_in); network b draws all its layers, in order, from its own stream.

use std::sync::atomic::{AtomicBool, Ordering};

use rand::rngs::ChaCha8Rng;
use rayon::prelude::*;

use crate::alloc;
use crate::balanced::{self, balanced_factors, check_balanced_dims};
use crate::error::{Error, Result};
use crate::haar::HaarSampler;
use crate::parallel;
use crate::rng::{fill_normal, network_rng, Seeds};
use crate::scalar::Real;

/// Per-layer (or per-bias) buffers of a batch, each row-major (batch, …).
pub type Layers<T> = Vec<Vec<T>>;

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

/// The number of weights of each layer, d_{j+1}·d_j, or `OutOfMemory` naming `dims`.
pub fn layer_sizes(dims: &[usize]) -> Result<Vec<usize>> {
    dims.windows(2)
        .map(|w| alloc::checked_len("dims", &[w[0], w[1]]))
        .collect()
}

/// Run `fill(rng, network, buffers)` for every network, in parallel over networks, where
/// `buffers[i]` is the network's part (length `sizes[i]`) of buffer i; return the buffers,
/// buffer i shaped (batch, sizes[i]). The first error any network reports is returned, and
/// setting `cancel` stops the call with `Error::Cancelled`.
///
/// Before anything is allocated, the memory the call needs (the buffers, plus `scratch` bytes
/// per worker for whatever `fill` allocates) is checked: too much for one network is
/// `OutOfMemory` naming `dims`, too much for the batch names `batch`.
pub(crate) fn per_network_buffers<T: Real>(
    sizes: &[usize],
    batch: usize,
    seeds: &Seeds,
    threads: Option<usize>,
    cancel: &AtomicBool,
    scratch: u128,
    fill: impl Fn(&mut ChaCha8Rng, usize, &mut [&mut [T]]) -> Result<()> + Sync,
) -> Result<Vec<Vec<T>>> {
    if batch == 0 {
        return Err(Error::invalid("batch", "must be at least 1, got 0"));
    }
    seeds.check(batch)?;
    let per_network = sizes
        .iter()
        .try_fold(0usize, |acc, &s| acc.checked_add(s))
        .ok_or_else(|| Error::OutOfMemory {
            arg: "dims".into(),
            bytes: None,
        })?;
    alloc::check_fits("dims", alloc::bytes_of::<T>(per_network) + scratch)?;
    let workers = parallel::resolve_threads(threads)?.min(batch) as u128;
    // The buffers, the per-worker scratch and the table of per-network slices built below.
    let slices = alloc::checked_len("batch", &[batch, sizes.len()])?;
    let total = alloc::bytes_of::<T>(alloc::checked_len("batch", &[batch, per_network])?);
    alloc::check_fits("batch", total + workers * scratch + alloc::bytes_of::<&mut [T]>(slices))?;
    let mut buffers = sizes
        .iter()
        .map(|&s| alloc::zeroed::<T>("batch", s * batch))
        .collect::<Result<Vec<_>>>()?;
    // Each network's disjoint slices of every buffer, network-major, so networks can run in
    // parallel: network b's slices are table[b·L .. (b+1)·L].
    let mut table = alloc::with_capacity::<&mut [T]>("batch", slices)?;
    let mut chunks: Vec<_> = buffers
        .iter_mut()
        .zip(sizes)
        .map(|(v, &s)| v.chunks_mut(s.max(1)))
        .collect();
    for _ in 0..batch {
        for (chunk, &size) in chunks.iter_mut().zip(sizes) {
            table.push(if size == 0 {
                &mut []
            } else {
                chunk.next().expect("batch chunks")
            });
        }
    }
    parallel::pool(threads)?.install(|| {
        table.par_chunks_mut(sizes.len()).enumerate().try_for_each(|(b, net)| {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let (seed, stream) = seeds.stream_of(b);
            fill(&mut network_rng(seed, stream), b, net)
        })
    })?;
    Ok(buffers)
}

/// Run `fill(rng, layer_index, out)` for every layer of every network, in parallel over
/// networks, and return the per-layer buffers (see [`per_network_buffers`] for `scratch`).
fn per_network_layers<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    threads: Option<usize>,
    cancel: &AtomicBool,
    scratch: u128,
    fill: impl Fn(&mut ChaCha8Rng, usize, &mut [T]) -> Result<()> + Sync,
) -> Result<Vec<Vec<T>>> {
    check_dims(dims)?;
    let sizes = layer_sizes(dims)?;
    per_network_buffers(&sizes, batch, seeds, threads, cancel, scratch, |rng, _, net| {
        for (j, out) in net.iter_mut().enumerate() {
            // Per layer too: one deep, wide network can take many seconds.
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            fill(rng, j, out)?;
        }
        Ok(())
    })
}

/// Scratch bytes of the largest Haar sampler the layers of `dims` need.
fn haar_scratch<T: Real>(dims: &[usize]) -> u128 {
    dims.windows(2)
        .map(|w| HaarSampler::<T>::scratch_bytes(w[1], w[0]))
        .max()
        .unwrap_or(0)
}

/// Write the rectangular identity (ones on the main diagonal) into the row-major `out`.
fn fill_identity<T: Real>(out: &mut [T], rows: usize, cols: usize) {
    out.fill(T::from_f64(0.0));
    for i in 0..rows.min(cols) {
        out[i * cols + i] = T::from_f64(1.0);
    }
}

/// I.i.d. N(0, std_j²) entries with a per-layer std computed from (d_in, d_out).
fn gaussian_by_fans<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    threads: Option<usize>,
    cancel: &AtomicBool,
    std_of: impl Fn(usize, usize) -> f64 + Sync,
) -> Result<Vec<Vec<T>>> {
    per_network_layers(dims, batch, seeds, threads, cancel, 0, |rng, j, out| {
        fill_normal(rng, out, T::from_f64(std_of(dims[j], dims[j + 1])));
        Ok(())
    })
}

/// Xavier/Glorot: N(0, 2/(fan_in + fan_out)).
pub fn xavier<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<Vec<T>>> {
    gaussian_by_fans(dims, batch, seeds, threads, cancel, |i, o| {
        (2.0 / (i + o) as f64).sqrt()
    })
}

/// He/Kaiming: N(0, 2/fan_in).
pub fn he<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<Vec<T>>> {
    gaussian_by_fans(dims, batch, seeds, threads, cancel, |i, _| (2.0 / i as f64).sqrt())
}

/// LeCun: N(0, 1/fan_in).
pub fn lecun<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<Vec<T>>> {
    gaussian_by_fans(dims, batch, seeds, threads, cancel, |i, _| (1.0 / i as f64).sqrt())
}

/// Every layer the rectangular identity (no randomness).
pub fn identity<T: Real>(
    dims: &[usize],
    batch: usize,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<Vec<T>>> {
    per_network_layers(dims, batch, &Seeds::Shared(0), threads, cancel, 0, |_, j, out| {
        fill_identity(out, dims[j + 1], dims[j]);
        Ok(())
    })
}

/// I + N(0, σ²/d_in): the rectangular identity plus Gaussian noise scaled by the fan-in.
pub fn near_identity<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    sigma: f64,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<Vec<T>>> {
    check_scale("sigma", sigma)?;
    per_network_layers(dims, batch, seeds, threads, cancel, 0, |rng, j, out| {
        let (d_in, d_out) = (dims[j], dims[j + 1]);
        fill_normal(rng, out, T::from_f64(sigma / (d_in as f64).sqrt()));
        for i in 0..d_in.min(d_out) {
            out[i * d_in + i] += T::from_f64(1.0);
        }
        Ok(())
    })
}

/// Zero-asymmetric (Wu et al.): W_1 … W_{L−1} the rectangular identity, W_L = 0.
pub fn zas<T: Real>(dims: &[usize], batch: usize, threads: Option<usize>, cancel: &AtomicBool) -> Result<Vec<Vec<T>>> {
    let depth = dims.len().saturating_sub(1);
    per_network_layers(dims, batch, &Seeds::Shared(0), threads, cancel, 0, |_, j, out| {
        if j + 1 < depth {
            fill_identity(out, dims[j + 1], dims[j]);
        } else {
            out.fill(T::from_f64(0.0));
        }
        Ok(())
    })
}

/// The end-to-end matrix of a balanced initialisation: drawn i.i.d. N(0, std²), or given
/// (row-major, shape (d_L, d_0) shared by the batch, or (batch, d_L, d_0)).
#[derive(Clone, Copy, Debug)]
pub enum Product<'a, T> {
    Gaussian { std: f64 },
    Given { data: &'a [T], shape: &'a [usize] },
}

/// Arora et al.'s balanced initialisation (see `balanced`). Network b first draws its
/// end-to-end matrix (unless given), then its Haar rotations O_1 … O_{L−1} if `randomize`.
pub fn balanced<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    product: Product<'_, T>,
    randomize: bool,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<Vec<T>>> {
    check_dims(dims)?;
    check_balanced_dims(dims)?;
    let (d_x, d_y) = (dims[0], dims[dims.len() - 1]);
    let size = alloc::checked_len("dims", &[d_x, d_y])?;
    let mut shared = true;
    match product {
        Product::Gaussian { std } => check_scale("std", std)?,
        Product::Given { data, shape } => {
            shared = match *shape {
                [r, c] if r == d_y && c == d_x => true,
                [b, r, c] if b == batch && r == d_y && c == d_x => false,
                _ => {
                    return Err(Error::shape(
                        "product",
                        format!("({d_y}, {d_x}) or ({batch}, {d_y}, {d_x}) = (d_L, d_0) or (batch, d_L, d_0)"),
                        format!("{shape:?}").replace('[', "(").replace(']', ")"),
                    ))
                }
            };
            if Some(data.len()) != if shared { Some(size) } else { batch.checked_mul(size) } {
                return Err(Error::shape(
                    "product",
                    format!("{shape:?} entries"),
                    format!("{}", data.len()),
                ));
            }
            if let Some(v) = data.iter().find(|v| !v.is_finite()) {
                return Err(Error::invalid("product", format!("must be finite, got {}", v.to_f64())));
            }
        }
    }
    let sizes = layer_sizes(dims)?;
    let scratch = alloc::bytes_of::<T>(size) + balanced::scratch_bytes(dims);
    per_network_buffers(&sizes, batch, seeds, threads, cancel, scratch, |rng, b, net| {
        let mut drawn: Vec<T>;
        let a: &[T] = match product {
            Product::Gaussian { std } => {
                drawn = alloc::zeroed("dims", size)?;
                fill_normal(rng, &mut drawn, T::from_f64(std));
                &drawn
            }
            Product::Given { data, .. } if shared => data,
            Product::Given { data, .. } => &data[b * size..(b + 1) * size],
        };
        balanced_factors(a, dims, randomize.then_some(rng), net)
    })
}

/// Weight distribution of a mean-field (critical) initialisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CriticalWeights {
    Gaussian,
    Orthogonal,
}

impl CriticalWeights {
    /// "gaussian" or "orthogonal" (the argument is named `weights`).
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "gaussian" => Ok(CriticalWeights::Gaussian),
            "orthogonal" => Ok(CriticalWeights::Orthogonal),
            other => Err(Error::invalid(
                "weights",
                format!("expected 'gaussian' or 'orthogonal', got {other:?}"),
            )),
        }
    }
}

/// Mean-field initialisation with weight scale σ_w and bias scale σ_b: the critical tanh
/// initialisation when (σ_w, σ_b) = `critical::critical_sigmas(q*)` (docs/science.md, Initialisation schemes). Returns the
/// per-layer weights followed by the per-layer biases (batch, d_{j+1}), b ~ N(0, σ_b²).
///
/// Standard parameterisation: weight entries have variance σ_w²/d_in, Gaussian or
/// σ_w·√(max(d_in, d_out)/d_in)·Q with Q Haar (σ_w·Q for square layers). NTK
/// parameterisation (`ntk`): unit-variance entries (N(0, 1) or √max(d_in, d_out)·Q); the
/// forward pass then multiplies by σ_w/√d_in. Each network draws all its weights, layer by
/// layer, then all its biases.
#[allow(clippy::too_many_arguments)]
pub fn mean_field<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    sigma_w: f64,
    sigma_b: f64,
    weights: CriticalWeights,
    ntk: bool,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<(Layers<T>, Layers<T>)> {
    check_dims(dims)?;
    check_scale("sigma_w", sigma_w)?;
    check_scale("sigma_b", sigma_b)?;
    let depth = dims.len() - 1;
    let mut sizes = layer_sizes(dims)?;
    sizes.extend_from_slice(&dims[1..]);
    let scratch = match weights {
        CriticalWeights::Gaussian => 0,
        CriticalWeights::Orthogonal => haar_scratch::<T>(dims),
    };
    let mut buffers = per_network_buffers(&sizes, batch, seeds, threads, cancel, scratch, |rng, _, net| {
        let (ws, bs) = net.split_at_mut(depth);
        for (j, out) in ws.iter_mut().enumerate() {
            let (d_in, d_out) = (dims[j], dims[j + 1]);
            let gain = if ntk { 1.0 } else { sigma_w / (d_in as f64).sqrt() };
            match weights {
                CriticalWeights::Gaussian => fill_normal(rng, out, T::from_f64(gain)),
                CriticalWeights::Orthogonal => {
                    let scale = T::from_f64(gain * (d_in.max(d_out) as f64).sqrt());
                    HaarSampler::try_new("dims", d_out, d_in)?.sample_into(rng, scale, out);
                }
            }
        }
        for out in bs.iter_mut() {
            fill_normal(rng, out, T::from_f64(sigma_b));
        }
        Ok(())
    })?;
    let biases = buffers.split_off(depth);
    Ok((buffers, biases))
}

/// I.i.d. N(0, std²) entries.
pub fn gaussian<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    std: f64,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<Vec<T>>> {
    check_scale("std", std)?;
    let std = T::from_f64(std);
    per_network_layers(dims, batch, seeds, threads, cancel, 0, |rng, _, out| {
        fill_normal(rng, out, std);
        Ok(())
    })
}

/// W = gain·√max(d_out, d_in)·Q with Q Haar (orthonormal columns if tall, rows if wide);
/// gain = 1 gives Hu et al.'s WᵀW = m·I for square layers.
pub fn orthogonal<T: Real>(
    dims: &[usize],
    batch: usize,
    seeds: &Seeds,
    gain: f64,
    threads: Option<usize>,
    cancel: &AtomicBool,
) -> Result<Vec<Vec<T>>> {
    check_scale("gain", gain)?;
    let scratch = haar_scratch::<T>(dims);
    per_network_layers(dims, batch, seeds, threads, cancel, scratch, |rng, j, out| {
        let (d_in, d_out) = (dims[j], dims[j + 1]);
        let scale = T::from_f64(gain * (d_in.max(d_out) as f64).sqrt());
        // A sampler per layer is cheap next to the QR it serves and keeps `fill` stateless.
        HaarSampler::try_new("dims", d_out, d_in)?.sample_into(rng, scale, out);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    static GO: AtomicBool = AtomicBool::new(false);

    #[test]
    fn shapes_and_determinism() {
        let dims = [3, 5, 2];
        let a = gaussian::<f64>(&dims, 4, &Seeds::Shared(9), 1.0, Some(1), &GO).unwrap();
        let b = gaussian::<f64>(&dims, 4, &Seeds::Shared(9), 1.0, Some(2), &GO).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].len(), 4 * 15);
        assert_eq!(a[1].len(), 4 * 10);
        assert_ne!(a[0][..15], a[0][15..30], "networks must draw from different streams");
    }

    #[test]
    fn orthogonal_square_layers_are_scaled_orthogonal() {
        let m = 6;
        let w = orthogonal::<f64>(&[m, m, m], 2, &Seeds::Shared(1), 1.0, None, &GO).unwrap();
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
    fn structured_schemes() {
        let dims = [3, 5, 4, 2];
        let z = zas::<f64>(&dims, 2, None, &GO).unwrap();
        let id = identity::<f64>(&dims, 2, None, &GO).unwrap();
        for j in 0..3 {
            let (d_in, d_out) = (dims[j], dims[j + 1]);
            for b in 0..2 {
                for r in 0..d_out {
                    for c in 0..d_in {
                        let eye = if r == c { 1.0 } else { 0.0 };
                        let at = b * d_in * d_out + r * d_in + c;
                        assert_eq!(id[j][at], eye);
                        assert_eq!(z[j][at], if j < 2 { eye } else { 0.0 });
                    }
                }
            }
        }
        let near = near_identity::<f64>(&dims, 2, &Seeds::Shared(1), 0.0, None, &GO).unwrap();
        assert_eq!(near, id);
    }

    #[test]
    fn balanced_handles_extreme_scales_and_given_products() {
        for scale in [1e-300, 1.0, 1e300] {
            let a: Vec<f64> = (0..6).map(|i| scale * (i as f64 - 2.5)).collect();
            let shape = [2, 3];
            let product = Product::Given {
                data: &a,
                shape: &shape,
            };
            let ws = balanced::<f64>(&[3, 4, 4, 2], 1, &Seeds::Shared(0), product, true, None, &GO).unwrap();
            assert!(ws.iter().flatten().all(|v| v.is_finite()), "scale {scale}");
        }
        let a = [1.0; 6];
        let bad = Product::Given {
            data: &a,
            shape: &[3, 2],
        };
        let err = balanced::<f64>(&[3, 4, 2], 1, &Seeds::Shared(0), bad, true, None, &GO).unwrap_err();
        assert!(matches!(err, Error::Shape { ref arg, .. } if arg == "product"));
    }

    #[test]
    fn mean_field_draws_weights_then_biases() {
        let dims = [4, 6, 3];
        let (ws, bs) = mean_field::<f64>(
            &dims,
            3,
            &Seeds::Shared(2),
            1.2,
            0.3,
            CriticalWeights::Gaussian,
            false,
            Some(1),
            &GO,
        )
        .unwrap();
        let (ws2, bs2) = mean_field::<f64>(
            &dims,
            3,
            &Seeds::Shared(2),
            1.2,
            0.3,
            CriticalWeights::Gaussian,
            false,
            Some(2),
            &GO,
        )
        .unwrap();
        assert_eq!((&ws, &bs), (&ws2, &bs2));
        assert_eq!(bs[0].len(), 3 * 6);
        assert_eq!(bs[1].len(), 3 * 3);
        // The weights use the stream exactly as the layer-wise Gaussian scheme with std σ_w/√d_in
        // would for the first layer.
        let g = gaussian::<f64>(&[4, 6], 3, &Seeds::Shared(2), 1.2 / 2.0, Some(1), &GO).unwrap();
        assert_eq!(&ws[0][..24], &g[0][..24]);
    }

    fn is_out_of_memory<T>(result: Result<T>, want: &str) -> bool {
        matches!(result, Err(Error::OutOfMemory { ref arg, .. }) if arg == want)
    }

    #[test]
    fn impossible_sizes_are_out_of_memory_naming_the_argument() {
        let seeds = Seeds::Shared(0);
        let huge = 1_000_000_000_000;
        // The cases: one 10⁶ × 10⁶ layer (8 TB), and 10¹² small networks.
        assert!(is_out_of_memory(
            gaussian::<f64>(&[1_000_000, 1_000_000], 1, &seeds, 1.0, None, &GO),
            "dims"
        ));
        assert!(is_out_of_memory(
            orthogonal::<f64>(&[64, 64], huge, &seeds, 1.0, Some(1), &GO),
            "batch"
        ));
        // Widths whose product overflows, and a sum of layers that does.
        let err = xavier::<f32>(&[1 << 40, 1 << 40], 1, &seeds, None, &GO).unwrap_err();
        assert_eq!(
            err,
            Error::OutOfMemory {
                arg: "dims".into(),
                bytes: None
            }
        );
        assert!(is_out_of_memory(
            identity::<f64>(&[1 << 62, 2, 1 << 62], 1, None, &GO),
            "dims"
        ));
        assert!(is_out_of_memory(zas::<f64>(&[3, 4], usize::MAX, None, &GO), "batch"));
        assert!(is_out_of_memory(
            orthogonal::<f32>(&[1 << 21, 1 << 21], 1, &seeds, 1.0, None, &GO),
            "dims"
        ));
        let product = Product::Gaussian { std: 1.0 };
        assert!(is_out_of_memory(
            balanced::<f64>(&[1 << 21, 1 << 21, 4], 1, &seeds, product, true, None, &GO),
            "dims"
        ));
        assert!(is_out_of_memory(
            balanced::<f64>(&[3, 3, 3], huge, &seeds, product, true, None, &GO),
            "batch"
        ));
        let (w, k) = (CriticalWeights::Orthogonal, huge);
        assert!(is_out_of_memory(
            mean_field::<f64>(&[8, 8], k, &seeds, 1.0, 0.1, w, false, None, &GO),
            "batch"
        ));
        assert!(is_out_of_memory(
            near_identity::<f64>(&[3, 1 << 40, 3], 2, &seeds, 0.1, None, &GO),
            "dims"
        ));
        assert!(is_out_of_memory(lecun::<f64>(&[huge, 3], 1, &seeds, None, &GO), "dims"));
        assert!(is_out_of_memory(he::<f64>(&[7, 3], huge, &seeds, None, &GO), "batch"));
    }

    #[test]
    fn a_raised_cancel_flag_stops_the_call() {
        let stop = AtomicBool::new(true);
        let err = orthogonal::<f64>(&[4, 4], 8, &Seeds::Shared(0), 1.0, Some(2), &stop).unwrap_err();
        assert_eq!(err, Error::Cancelled);
    }

    #[test]
    fn bad_arguments_are_named() {
        let err = gaussian::<f64>(&[3, 0, 2], 1, &Seeds::Shared(0), 1.0, None, &GO).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "dims"));
        let err = gaussian::<f64>(&[3, 2], 1, &Seeds::Shared(0), f64::NAN, None, &GO).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "std"));
        let err = orthogonal::<f64>(&[3], 1, &Seeds::Shared(0), 1.0, None, &GO).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { ref arg, .. } if arg == "dims"));
    }
}
