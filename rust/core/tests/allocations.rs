//! "No heap allocation inside the step loop": the number of allocations of a training call must
//! not grow with the number of steps (scratch is allocated once per call and per network).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use deeplinear_core::init::gaussian;
use deeplinear_core::mlp::{train_network, Activation, Form, Parameterization};
use deeplinear_core::rng::Seeds;
use deeplinear_core::train::{ArrayRef, LearningRate, Manifold, TrainOptions};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_of_a_call(activation: Activation, steps: usize) -> usize {
    let dims = [5, 7, 7, 3];
    let batch = 4;
    let weights = gaussian::<f64>(&dims, batch, &Seeds::Shared(0), 0.4, Some(1), &AtomicBool::new(false)).unwrap();
    let shapes: Vec<[usize; 3]> = dims.windows(2).map(|w| [batch, w[1], w[0]]).collect();
    let refs: Vec<ArrayRef<'_, f64>> = weights
        .iter()
        .zip(&shapes)
        .map(|(w, s)| ArrayRef { data: w, shape: s })
        .collect();
    let x: Vec<f64> = (0..5 * 6).map(|i| (i as f64 * 0.37).sin()).collect();
    let y: Vec<f64> = (0..3 * 6).map(|i| (i as f64 * 0.11).cos()).collect();
    let opts = TrainOptions {
        lr: LearningRate::Shared(1e-2),
        steps,
        alpha: 1.0,
        tol: None,
        record_every: steps.max(1), // the loss buffer's size then does not depend on steps
        threads: Some(1),
        record: Vec::new(),
        manifold: Manifold::Euclidean,
    };
    let form = Form {
        activation,
        parameterization: Parameterization::Standard,
    };
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let out = train_network(
        &refs,
        &[],
        Some(ArrayRef {
            data: &x,
            shape: &[5, 6],
        }),
        ArrayRef {
            data: &y,
            shape: &[3, 6],
        },
        &opts,
        form,
        &AtomicBool::new(false),
    )
    .unwrap();
    let count = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert!(out.train.final_loss.iter().all(|l| l.is_finite()));
    count
}

#[test]
fn allocations_do_not_grow_with_steps() {
    // Both engines: the fused linear one and the MLP one.
    for activation in [Activation::Linear, Activation::Tanh] {
        allocations_of_a_call(activation, 1); // warm-up: the thread pool is built and kept
        let few = allocations_of_a_call(activation, 10);
        let many = allocations_of_a_call(activation, 1000);
        assert_eq!(
            few, many,
            "{activation:?}: {few} allocations for 10 steps, {many} for 1000"
        );
    }
}
