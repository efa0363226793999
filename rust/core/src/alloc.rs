//! Fallible allocation of buffers whose size comes from the user.
//!
//! Rust's `vec![..]` aborts the whole process (and the user's Python kernel) when an allocation
//! fails. Every buffer sized by user input is allocated here instead: sizes are computed with
//! overflow checks, and a request that cannot be met is `Error::OutOfMemory` naming the argument
//! it came from and the bytes asked for, which the bindings raise as MemoryError.

use std::alloc::{alloc_zeroed, Layout};

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

/// A zeroed `Vec<T>` of `len` elements, or `OutOfMemory` naming `arg`.
///
/// Zeroed by the allocator (calloc), so untouched pages cost nothing until first written: the
/// engine relies on this to take the page faults of large outputs on its worker threads.
pub fn zeroed<T: Real>(arg: &str, len: usize) -> Result<Vec<T>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let too_big = || Error::OutOfMemory {
        arg: arg.to_string(),
        bytes: Some((len as u128) * std::mem::size_of::<T>() as u128),
    };
    let layout = Layout::array::<T>(len).map_err(|_| too_big())?;
    // SAFETY: the layout is non-zero-sized (len > 0 and T is a float); all-zero bits are 0.0 for
    // f32/f64 (the only `Real` types), so the buffer is a valid [T; len], owned by the Vec with
    // exactly the capacity and alignment it was allocated with.
    unsafe {
        let ptr = alloc_zeroed(layout) as *mut T;
        if ptr.is_null() {
            return Err(too_big());
        }
        Ok(Vec::from_raw_parts(ptr, len, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_and_impossible_sizes_are_errors_not_aborts() {
        assert!(matches!(
            checked_len("dims", &[usize::MAX, 2]),
            Err(Error::OutOfMemory { .. })
        ));
        assert_eq!(checked_len("dims", &[3, 4, 5]).unwrap(), 60);
        let err = zeroed::<f64>("batch", usize::MAX / 4).unwrap_err();
        assert!(matches!(err, Error::OutOfMemory { ref arg, .. } if arg == "batch"));
        assert!(zeroed::<f64>("batch", 1 << 50).is_err());
        let v = zeroed::<f32>("x", 1000).unwrap();
        assert!(v.iter().all(|&x| x == 0.0) && v.len() == 1000);
    }
}
