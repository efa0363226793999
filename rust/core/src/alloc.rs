//! Fallible allocation of buffers whose size comes from the user.
//!
//! Rust's `vec![..]` (and faer's `Mat::zeros`) abort the whole process (and the user's Python
//! kernel) when an allocation fails. Every buffer sized by user input is allocated here instead:
//! sizes are computed with overflow checks, a request larger than this machine's memory is refused
//! before anything is allocated, and an allocation that fails anyway is `Error::OutOfMemory`
//! naming the argument it came from and the bytes asked for, which the bindings raise as
//! MemoryError.
//!
//! Why a memory check on top of fallible allocation: with Linux's default overcommit heuristic a
//! single impossible request fails, but under `vm.overcommit_memory = 1` (common on container
//! hosts) or inside a cgroup memory limit, a lazily zeroed 8 TB buffer is granted and the process
//! is killed only once its pages are written. A buffer larger than RAM + swap (or than the cgroup
//! limit) can never be filled, so it is refused up front on every system.

use std::alloc::{alloc_zeroed, Layout};
use std::sync::OnceLock;

use faer::dyn_stack::{MemBuffer, StackReq};
use faer::Mat;

use crate::error::{Error, Result};
use crate::scalar::Real;

/// The product of `factors` (a buffer length), or `OutOfMemory` naming `arg` on overflow.
pub fn checked_len(arg: &str, factors: &[usize]) -> Result<usize> {
    factors
        .iter()
        .try_fold(1usize, |acc, &f| acc.checked_mul(f))
        .ok_or_else(|| Error::OutOfMemory {
            arg: arg.to_string(),
            bytes: None,
        })
}

/// Bytes taken by `len` values of `T` (u128, so sums and products of a few never overflow).
pub fn bytes_of<T>(len: usize) -> u128 {
    len as u128 * std::mem::size_of::<T>() as u128
}

fn out_of_memory(arg: &str, bytes: u128) -> Error {
    Error::OutOfMemory {
        arg: arg.to_string(),
        bytes: Some(bytes),
    }
}

/// The most memory this process can ever hold, in bytes: RAM + swap, or less under a cgroup
/// memory limit. None where it is unknown (not Linux), in which case only the allocator decides.
pub fn memory_limit() -> Option<u128> {
    static LIMIT: OnceLock<Option<u128>> = OnceLock::new();
    *LIMIT.get_or_init(system::memory_limit)
}

/// Refuse a request of `bytes` (for the buffers sized by `arg`) that exceeds [`memory_limit`].
pub fn check_fits(arg: &str, bytes: u128) -> Result<()> {
    match memory_limit() {
        Some(limit) if bytes > limit => Err(out_of_memory(arg, bytes)),
        _ => Ok(()),
    }
}

/// A zeroed `Vec<T>` of `len` elements, or `OutOfMemory` naming `arg`.
///
/// Zeroed by the allocator (calloc), so untouched pages cost nothing until first written: the
/// engine relies on this to take the page faults of large outputs on its worker threads.
pub fn zeroed<T: Real>(arg: &str, len: usize) -> Result<Vec<T>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let bytes = bytes_of::<T>(len);
    check_fits(arg, bytes)?;
    let layout = Layout::array::<T>(len).map_err(|_| out_of_memory(arg, bytes))?;
    // SAFETY: the layout is non-zero-sized (len > 0 and T is a float); all-zero bits are 0.0 for
    // f32/f64 (the only `Real` types), so the buffer is a valid [T; len], owned by the Vec with
    // exactly the capacity and alignment it was allocated with.
    unsafe {
        let ptr = alloc_zeroed(layout) as *mut T;
        if ptr.is_null() {
            return Err(out_of_memory(arg, bytes));
        }
        Ok(Vec::from_raw_parts(ptr, len, len))
    }
}

/// A buffer of `len` elements for data that is always written before it is read: `spare`'s
/// memory when it has room, else fresh zeros ([`zeroed`]).
///
/// Why: a worker's pass buffers are hundreds of MB on large networks; allocating them fresh in
/// every call costs a page fault per 4 KiB and the kernel's zeroing of each page, which was about
/// 13 % of the CPU of a 2-step call. Reused memory keeps its stale values (no zeroing pass), so a
/// caller must overwrite every entry before reading it.
pub fn reuse<T: Real>(arg: &str, mut spare: Vec<T>, len: usize) -> Result<Vec<T>> {
    if spare.capacity() < len {
        drop(spare);
        return zeroed(arg, len);
    }
    spare.truncate(len);
    // Only the part beyond the spare's old length is written (within its capacity).
    spare.resize(len, T::from_f64(0.0));
    Ok(spare)
}

/// An empty `Vec<T>` with room for `len` elements (any `T`), or `OutOfMemory` naming `arg`.
pub fn with_capacity<T>(arg: &str, len: usize) -> Result<Vec<T>> {
    let bytes = bytes_of::<T>(len);
    check_fits(arg, bytes)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| out_of_memory(arg, bytes))?;
    Ok(v)
}

/// A `rows × cols` faer matrix of zeros, or `OutOfMemory` naming `arg` (`Mat::zeros` aborts).
pub fn mat_zeros<T: Real>(arg: &str, rows: usize, cols: usize) -> Result<Mat<T>> {
    let len = checked_len(arg, &[rows, cols])?;
    let bytes = bytes_of::<T>(len);
    check_fits(arg, bytes)?;
    let mut mat = Mat::new();
    mat.try_reserve(rows, cols).map_err(|_| out_of_memory(arg, bytes))?;
    // The capacity is there, so this only writes the zeros.
    mat.resize_with(rows, cols, |_, _| T::from_f64(0.0));
    Ok(mat)
}

/// faer's scratch memory for `req`, or `OutOfMemory` naming `arg` (`MemBuffer::new` aborts).
pub fn mem_buffer(arg: &str, req: StackReq) -> Result<MemBuffer> {
    if req.layout().is_err() {
        // StackReq saturates to "overflow" when its size computation overflows.
        return Err(Error::OutOfMemory {
            arg: arg.to_string(),
            bytes: None,
        });
    }
    let bytes = req.size_bytes() as u128;
    check_fits(arg, bytes)?;
    MemBuffer::try_new(req).map_err(|_| out_of_memory(arg, bytes))
}

#[cfg(target_os = "linux")]
mod system {
    use std::fs;
    use std::path::Path;

    /// A `Key:   1234 kB` line of /proc/meminfo, in bytes.
    fn meminfo(text: &str, key: &str) -> Option<u128> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        let kb: u128 = line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    }

    /// A cgroup limit file: a byte count, or None for "max" (no limit) or a missing file.
    fn limit_file(path: &Path) -> Option<u128> {
        fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// The tightest memory (+ swap) limit of this process's cgroup and its ancestors, v2 or v1.
    fn cgroup_limit(swap_total: u128) -> Option<u128> {
        let own = fs::read_to_string("/proc/self/cgroup").ok()?;
        let mut best: Option<u128> = None;
        let mut keep = |v: Option<u128>| {
            if let Some(v) = v {
                best = Some(best.map_or(v, |b| b.min(v)));
            }
        };
        for line in own.lines() {
            // "0::/path" (v2) or "N:memory:/path" (v1).
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next(), fields.next()?, fields.next()?);
            let v2 = controllers.is_empty();
            if !v2 && !controllers.split(',').any(|c| c == "memory") {
                continue;
            }
            let root = Path::new(if v2 { "/sys/fs/cgroup" } else { "/sys/fs/cgroup/memory" });
            let mut dir = Some(Path::new(path.trim_start_matches('/')));
            while let Some(rel) = dir {
                let here = root.join(rel);
                if v2 {
                    let swap = limit_file(&here.join("memory.swap.max")).unwrap_or(swap_total);
                    keep(limit_file(&here.join("memory.max")).map(|m| m + swap.min(swap_total)));
                } else {
                    // v1's memsw limit counts memory + swap together; it is huge when unset.
                    keep(limit_file(&here.join("memory.limit_in_bytes")).map(|m| m + swap_total));
                    keep(limit_file(&here.join("memory.memsw.limit_in_bytes")));
                }
                dir = rel.parent();
            }
        }
        best
    }

    pub fn memory_limit() -> Option<u128> {
        let text = fs::read_to_string("/proc/meminfo").ok()?;
        let swap = meminfo(&text, "SwapTotal:").unwrap_or(0);
        let physical = meminfo(&text, "MemTotal:")? + swap;
        Some(cgroup_limit(swap).map_or(physical, |c| c.min(physical)))
    }
}

#[cfg(not(target_os = "linux"))]
mod system {
    pub fn memory_limit() -> Option<u128> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_and_impossible_sizes_are_errors_not_aborts() {
        assert!(matches!(
            checked_len("dims", &[usize::MAX, 2]),
            Err(Error::OutOfMemory { bytes: None, .. })
        ));
        assert_eq!(checked_len("dims", &[3, 4, 5]).unwrap(), 60);
        let err = zeroed::<f64>("batch", usize::MAX / 4).unwrap_err();
        assert!(matches!(err, Error::OutOfMemory { ref arg, .. } if arg == "batch"));
        assert!(zeroed::<f64>("batch", 1 << 50).is_err());
        let v = zeroed::<f32>("x", 1000).unwrap();
        assert!(v.iter().all(|&x| x == 0.0) && v.len() == 1000);
    }

    #[test]
    fn fallible_vectors_matrices_and_scratch() {
        let err = with_capacity::<(usize, u8)>("batch", 1 << 58).unwrap_err();
        assert_eq!(
            err,
            Error::OutOfMemory {
                arg: "batch".into(),
                bytes: Some(16u128 << 58)
            }
        );
        assert_eq!(with_capacity::<u32>("n", 10).unwrap().capacity(), 10);
        assert!(matches!(
            mat_zeros::<f64>("X", 1 << 31, 1 << 31),
            Err(Error::OutOfMemory { .. })
        ));
        assert!(matches!(
            mat_zeros::<f64>("X", usize::MAX, 3),
            Err(Error::OutOfMemory { bytes: None, .. })
        ));
        let m = mat_zeros::<f32>("X", 3, 5).unwrap();
        assert_eq!((m.nrows(), m.ncols()), (3, 5));
        assert!((0..5).all(|j| (0..3).all(|i| m[(i, j)] == 0.0)));
        assert!(mem_buffer("X", StackReq::new::<f64>(usize::MAX)).is_err());
        assert!(mem_buffer("X", StackReq::new::<f64>(1 << 55)).is_err());
        assert!(mem_buffer("X", StackReq::new::<f64>(100)).is_ok());
    }

    #[test]
    fn the_memory_limit_is_known_on_linux_and_refuses_more() {
        if cfg!(target_os = "linux") {
            let limit = memory_limit().expect("/proc/meminfo is readable");
            // Any machine this runs on has between 64 MiB and 1 PiB.
            assert!((1u128 << 26..1u128 << 50).contains(&limit), "{limit}");
            assert!(check_fits("batch", limit + 1).is_err());
            assert!(check_fits("batch", limit / 2).is_ok());
        }
    }
}
