//! The crate's interchange types for arrays: borrowed row-major inputs and batched f64 results.
//!
//! Every module (the training engine, the diagnostics, the data reduction) and the bindings
//! exchange arrays through these two types; they live at the bottom of the module graph so that
//! no module has to import another's verbs to name an array.

/// A borrowed row-major (NumPy C-order) array with its NumPy shape.
#[derive(Debug)]
pub struct ArrayRef<'a, T> {
    pub data: &'a [T],
    pub shape: &'a [usize],
}

// Manual impls: a derive would wrongly require `T: Copy` for a pair of references.
impl<T> Clone for ArrayRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ArrayRef<'_, T> {}

/// An owned row-major array with its shape (results move out to NumPy without a copy).
#[derive(Clone, Debug, PartialEq)]
pub struct Array<T> {
    pub data: Vec<T>,
    pub shape: Vec<usize>,
}

/// A batched f64 result (diagnostics, recorded quantities), the network axis first.
pub type Batched = Array<f64>;

/// Network b's part of data that is either shared by the batch or stacked, `size` per network.
pub fn of_network<T>(data: &[T], shared: bool, size: usize, b: usize) -> &[T] {
    if shared {
        data
    } else {
        &data[b * size..(b + 1) * size]
    }
}

/// A shape as NumPy prints it: (2, 3, 4).
pub fn shape_str(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_print_as_numpy_does() {
        assert_eq!(shape_str(&[2, 3, 4]), "(2, 3, 4)");
        assert_eq!(shape_str(&[5]), "(5,)");
        assert_eq!(shape_str(&[]), "()");
    }
}
