//! Paper weights for the max-min objectives (the `fair` method, and the randomized one in
//! `randomized`): each inner solve maximises `Σ ν_p w_pr x_pr` with integer
//! weights `ν_p`, which these turn from weights on the simplex into scores.

use rayon::prelude::*;

use crate::model::AffinityMatrix;

/// Integer paper weights from weights on the simplex: the largest active weight becomes
/// `max_weight`, papers not `active` weigh 1.
pub(crate) fn integer_weights(lambda: &[f64], active: &[bool], max_weight: i64) -> Vec<i64> {
    let top = (0..lambda.len())
        .filter(|&p| active[p])
        .map(|p| lambda[p])
        .fold(0.0, f64::max);
    (0..lambda.len())
        .map(|p| {
            if active[p] && top > 0.0 {
                1 + (lambda[p] / top * (max_weight - 1) as f64).round() as i64
            } else {
                1
            }
        })
        .collect()
}

/// The matrix with row `p` multiplied by `nu[p]` (which must not overflow: see `max_weight`).
pub(crate) fn weighted(affinity: &AffinityMatrix, nu: &[i64]) -> AffinityMatrix {
    match affinity {
        AffinityMatrix::Dense(m) => {
            let mut m = m.clone();
            m.axis_iter_mut(ndarray::Axis(0))
                .into_par_iter()
                .zip(nu.par_iter())
                .for_each(|(mut row, &v)| row.mapv_inplace(|w| (w as i64 * v) as i32));
            AffinityMatrix::Dense(m)
        }
        AffinityMatrix::Sparse(s) => {
            let mut s = s.clone();
            for (p, &v) in nu.iter().enumerate() {
                let (a, b) = (s.indptr[p], s.indptr[p + 1]);
                for w in &mut s.vals[a..b] {
                    *w = (*w as i64 * v) as i32;
                }
            }
            AffinityMatrix::Sparse(s)
        }
    }
}
