//! PyO3-free maths of deeplinear.
//!
//! Everything here works on plain slices in row-major (NumPy C) order so that the bindings
//! crate only converts arrays and maps errors. Batches of independent networks are the unit of
//! work: each network owns its own RNG stream and its own scratch memory, so results do not
//! depend on how networks are spread over threads.

pub mod alloc;
pub mod array;
pub mod balanced;
pub mod critical;
pub mod engine;
pub mod error;
pub mod haar;
pub mod householder;
pub mod infinite_width;
pub mod init;
pub mod layout;
pub mod linalg;
pub mod loss;
pub mod metrics;
pub mod net;
pub mod optim;
pub mod parallel;
pub mod record;
pub mod reduce;
pub mod rng;
pub mod scalar;
pub mod vmath;

pub use error::{Error, Result};
pub use scalar::Real;
