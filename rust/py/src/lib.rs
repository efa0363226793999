//! Thin PyO3 bindings of `deeplinear-core`: array conversion (the dtype comes from the arrays),
//! one entry helper (`enter`: GIL release, Ctrl-C, error mapping), and the exception classes
//! (`error`, the only place Python exceptions are built). Option names are parsed in the core;
//! the maths lives there too.

mod convert;
mod enter;
mod error;
mod haar;
mod init;
mod kernels;
mod metrics;
mod threads;
mod train;
mod vmath;

use pyo3::prelude::*;

#[pymodule]
mod _core {
    use pyo3::prelude::*;

    #[pymodule_export]
    use super::haar::haar_orthogonal;
    #[pymodule_export]
    use super::init::{
        critical_sigmas, init_balanced, init_gaussian, init_he, init_identity, init_lecun, init_mean_field,
        init_near_identity, init_orthogonal, init_xavier, init_zas,
    };
    #[pymodule_export]
    use super::kernels::infinite_width_kernel;
    #[pymodule_export]
    use super::metrics::{
        metric_balancedness, metric_deficiency_margin, metric_fisher, metric_jacobian_max_singular_value,
        metric_network, metric_ntk_relative_change, metric_partial_product_singular_values,
        metric_relative_weight_change, metric_singular_values,
    };
    #[pymodule_export]
    use super::threads::max_threads;
    #[pymodule_export]
    use super::train::{train, RawOutput, RawState};
    #[pymodule_export]
    use super::vmath::_activation;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        super::error::register(m)
    }
}
