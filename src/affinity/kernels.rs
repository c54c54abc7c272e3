//! The CPU kernels of the BERT encoder ([`super::bert`]): a matrix product against a packed
//! right-hand side, and the element-wise maths of a transformer layer (softmax's `exp`, GELU's
//! `erf`, layer norm).
//!
//! Written here rather than taken from candle (or `gemm`, which candle runs on) for three reasons,
//! all measured on the 2-core AVX2 machine of issue #23:
//! - **speed**: a layer's weights are packed once, when the model loads, into the panels the
//!   kernel reads; candle re-packs them on every call, and its element-wise `erf` and `exp` are
//!   scalar library calls (a fifth of a run's time);
//! - **exactness**: every output element is one fused multiply-add chain over `k` in order, from
//!   zero, whatever the matrix's row count, the row's place in it or the thread: a text's vector
//!   cannot depend on its batch. The portable path ([`f32::mul_add`]) gives the AVX2 path's bits;
//! - **the first build**: candle and `gemm` took 5 of the 6 minutes of a fresh build.
//!
//! The product is the register-blocked scheme of BLIS and OpenBLAS's Haswell kernels: a 6 × 16
//! tile of the result lives in twelve AVX registers while `k` runs, reading one 16-wide row of the
//! packed right-hand side and broadcasting six left-hand values per step, and summing straight
//! into `C` (whose lines are prefetched as the tile starts). The rows run in blocks of 24, packed
//! six side by side with AVX transposes (the block, at most 36 KB, stays near L1 while every panel
//! sweeps it); within a block, the reduction runs in even blocks of at most 384, so a product over
//! MiniLM's width writes `C` once. The panels start on a cache line. Each row goes to the
//! epilogue (bias, residual, activation) once its block is done, whole.
//!
//! Those choices were measured in a model-shaped workload (six layers' products on 1,728 rows, both
//! cores, two variants alternating batch by batch in one process, so that this machine's drift
//! cancels): row-wise epilogues 8–10 % faster than 16-wide segments, a reduction block of 384
//! 2.6 % faster than 256 (192 and 256 with 24 or 48 rows: 3–6 % slower), 24 rows 1–3 % faster
//! than 12, 18, 36 or 96, AVX packing 2 %, prefetching `C` 4 %, aligned panels 2 %. Together
//! the products went from about 50 to 62–66 GFLOP/s a core in a full run, against a measured peak
//! of 87 (79 for this micro-kernel with everything in L1). Taking `B` in blocks that stay in L2,
//! all rows streamed past each, was 27 % slower. `cargo run --release --example embed_speed --
//! --kernels` times each product alone.
//!
//! The element-wise functions are plain Rust compiled twice (with and without AVX2 and FMA, chosen
//! at run time): no operation is fused that the source does not fuse, so both give the same bits.
//! The polynomials of `exp` and `erf` fuse each step ([`f32::mul_add`]): one instruction with FMA,
//! a correctly rounded library call without it (slower, the same bits).

use std::sync::OnceLock;

/// Columns of a packed panel (two AVX registers).
pub const NR: usize = 16;
/// Rows of the register tile.
pub const MR: usize = 6;
/// Rows of the left-hand side swept by one panel before the next panel: their packed block (at
/// most 36 KB) stays in L1 and L2 across the panels. Measured against 12, 18, 36 and 96 (and
/// blocks sized by `n`), in the 2-thread model workload of the module doc: 24 was best by 1–3 %.
const MC: usize = 24;
/// The reduction's longest block: a panel's block is at most 24 KB; a reduction of 384 (the
/// width of MiniLM) is one block, so `C` is written once. Measured 2.6 % faster than 256.
const KC: usize = 384;

/// Whether this CPU runs the AVX2 + FMA kernels (checked once).
fn simd() -> bool {
    static SIMD: OnceLock<bool> = OnceLock::new();
    *SIMD.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// A right-hand side `B` (`k × n`) packed in panels of [`NR`] columns: panel `p` holds, for each
/// of the `k` rows in order, columns `p·16 .. p·16 + 16` side by side (zeros past `n`). The
/// panels start on a cache line, so no 16-wide row straddles two (2 % faster, measured).
#[derive(Debug, Clone, Default)]
pub struct Packed {
    k: usize,
    n: usize,
    /// The panels, from `offset` on.
    data: Vec<f32>,
    offset: usize,
}

impl Packed {
    /// Rows (the reduction length).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns.
    pub fn n(&self) -> usize {
        self.n
    }

    fn reset(&mut self, k: usize, n: usize) {
        const LINE: usize = 64 / size_of::<f32>();
        self.k = k;
        self.n = n;
        let len = n.div_ceil(NR) * k * NR;
        self.data.clear();
        self.data.resize(len + LINE, 0.0);
        self.offset = self.data.as_ptr().align_offset(64).min(LINE);
        self.data.truncate(self.offset + len);
    }

    /// The panels, one after the other (`k·16` values each).
    fn panels(&self) -> &[f32] {
        &self.data[self.offset..]
    }

    fn panels_mut(&mut self) -> &mut [f32] {
        &mut self.data[self.offset..]
    }

    /// Packs `B = Wᵀ`, `W` being `n × k` with row stride `ld` (a linear layer's weight as stored,
    /// or the keys of an attention head).
    pub fn pack_transposed(&mut self, w: &[f32], n: usize, k: usize, ld: usize) {
        self.reset(k, n);
        for (p, panel) in self.panels_mut().chunks_exact_mut(k * NR).enumerate() {
            for j in 0..NR.min(n - p * NR) {
                let row = &w[(p * NR + j) * ld..][..k];
                for (kk, &x) in row.iter().enumerate() {
                    panel[kk * NR + j] = x;
                }
            }
        }
    }

    /// Packs `B`, `k × n` with row stride `ld` (the values of an attention head).
    pub fn pack(&mut self, b: &[f32], k: usize, n: usize, ld: usize) {
        self.reset(k, n);
        for (p, panel) in self.panels_mut().chunks_exact_mut(k * NR).enumerate() {
            let width = NR.min(n - p * NR);
            for (kk, dst) in panel.chunks_exact_mut(NR).enumerate() {
                dst[..width].copy_from_slice(&b[kk * ld + p * NR..][..width]);
            }
        }
    }

    /// A packed linear layer's weight: `W` is `n × k` row-major, as PyTorch stores it.
    pub fn from_weight(w: &[f32], n: usize, k: usize) -> Packed {
        let mut p = Packed::default();
        p.pack_transposed(w, n, k, k);
        p
    }
}

/// `C = A · B`: `A` is `m × b.k()` with row stride `lda`, `C` is `m × b.n()` with row stride
/// `ldc`. Each row of `C` (its `b.n()` values) is then handed to `epilogue(row, values)` while it
/// is still in cache (to add a bias, a residual, or apply an activation).
///
/// Every element of `C` is `Σ_k a·b` as one fused multiply-add chain in the order of `k`,
/// starting from zero, on every path: the same bits for a row whatever `m` and its place.
///
/// # Panics
/// When `a` or `c` is too short for `m` rows at their strides.
pub fn gemm<E: FnMut(usize, &mut [f32])>(
    a: &[f32],
    lda: usize,
    m: usize,
    b: &Packed,
    c: &mut [f32],
    ldc: usize,
    epilogue: E,
) {
    if m == 0 || b.n == 0 {
        return;
    }
    assert!(a.len() >= (m - 1) * lda + b.k, "gemm: A is too short");
    assert!(c.len() >= (m - 1) * ldc + b.n, "gemm: C is too short");
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // SAFETY: the CPU has AVX2 and FMA (checked above); the slices' lengths were checked.
        unsafe { gemm_avx2(a, lda, m, b, c, ldc, epilogue) };
        return;
    }
    gemm_body(a, lda, m, b, c, ldc, epilogue, PORTABLE);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemm_avx2<E: FnMut(usize, &mut [f32])>(
    a: &[f32],
    lda: usize,
    m: usize,
    b: &Packed,
    c: &mut [f32],
    ldc: usize,
    epilogue: E,
) {
    let kernels = Kernels {
        // SAFETY (both): AVX2 and FMA are enabled here.
        micro: |rows: &Rows, b: &[f32], c: &mut [f32], ldc, load| unsafe {
            match rows.step {
                1 => micro_avx2::<1>(rows, b, c, ldc, load),
                _ => micro_avx2::<MR>(rows, b, c, ldc, load),
            }
        },
        pack: |a: &[f32], start: [usize; MR], live, kc, panel: &mut [f32]| unsafe {
            pack_six_avx2(a, start, live, kc, panel)
        },
    };
    gemm_body(a, lda, m, b, c, ldc, epilogue, kernels);
}

/// Six rows of a left-hand side over `k`: `a[r][kk]` is `data[start[r] + kk·step]`. Packed rows
/// (step 6) when the right-hand side has many panels to sweep them; rows read in place (step 1)
/// when it has few (attention heads), where packing would cost more than it saves.
struct Rows<'a> {
    data: &'a [f32],
    start: [usize; MR],
    step: usize,
    k: usize,
}

/// The reduction's blocks: `k` split evenly in blocks of at most [`KC`], each a multiple of 4
/// (the last takes what is left).
fn reduction_block(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1))
        .next_multiple_of(4)
        .min(KC)
}

/// The two kernels of a product: the 6 × 16 tile ([`micro_portable`], [`micro_avx2`]) and the
/// packing of six rows of `A` ([`pack_six`], [`pack_six_avx2`]).
struct Kernels<M, P> {
    micro: M,
    pack: P,
}

/// A micro-kernel: `(rows, panel, c, ldc, load)`.
type Micro = fn(&Rows, &[f32], &mut [f32], usize, bool);
/// A packing of six rows: `(a, start, live, kc, panel)`.
type PackSix = fn(&[f32], [usize; MR], usize, usize, &mut [f32]);

/// The kernels of any CPU.
const PORTABLE: Kernels<Micro, PackSix> = Kernels {
    micro: micro_portable,
    pack: pack_six,
};

/// The loops around the micro-kernel (Goto's): blocks of [`MC`] rows (packed six side by side,
/// zero rows past `m`, when `B` has four panels or more), and in each, `k` in blocks of at most
/// [`KC`], each swept by every panel in turn: a panel's block stays in L1 across the rows, the
/// rows' block in L1 and L2. A full 6 × 16 tile is summed in registers straight into `C`,
/// continuing from block to block of `k` from the sums stored there (exactly), so each element
/// is still one chain; a tile cut by `C`'s edge goes through a 6 × 16 buffer. When a block of
/// rows is done, each of its rows goes to `epilogue`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gemm_body<E, M, P>(
    a: &[f32],
    lda: usize,
    m: usize,
    b: &Packed,
    c: &mut [f32],
    ldc: usize,
    mut epilogue: E,
    kernels: Kernels<M, P>,
) where
    E: FnMut(usize, &mut [f32]),
    M: Fn(&Rows, &[f32], &mut [f32], usize, bool),
    P: Fn(&[f32], [usize; MR], usize, usize, &mut [f32]),
{
    let (k, n) = (b.k, b.n);
    let pack = n.div_ceil(NR) >= 4;
    let block = reduction_block(k);
    let mut tile = [0f32; MR * NR];
    let mut packed = vec![0f32; if pack { MC * block.min(k) } else { 0 }];
    for m0 in (0..m).step_by(MC) {
        let m1 = (m0 + MC).min(m);
        for k0 in (0..k.max(1)).step_by(block.max(1)) {
            let kc = block.min(k - k0);
            let load = k0 > 0;
            // Where rows `i .. i + 6` start in `A` at `k0`; past the last row, the last row again
            // (its results are not kept).
            let starts = |i: usize| std::array::from_fn(|r| (i + r).min(m1 - 1) * lda + k0);
            if pack {
                for (i, panel) in (m0..m1).step_by(MR).zip(packed.chunks_exact_mut(MR * kc)) {
                    (kernels.pack)(a, starts(i), MR.min(m1 - i), kc, panel);
                }
            }
            for (p, panel) in b.panels().chunks_exact(k * NR).enumerate() {
                let panel = &panel[k0 * NR..(k0 + kc) * NR];
                let (col, width) = (p * NR, NR.min(n - p * NR));
                for (block, i) in (m0..m1).step_by(MR).enumerate() {
                    let rows = if pack {
                        Rows {
                            data: &packed[block * MR * kc..][..MR * kc],
                            start: std::array::from_fn(|r| r),
                            step: MR,
                            k: kc,
                        }
                    } else {
                        Rows {
                            data: a,
                            start: starts(i),
                            step: 1,
                            k: kc,
                        }
                    };
                    let live = MR.min(m1 - i);
                    if live == MR && width == NR {
                        (kernels.micro)(&rows, panel, &mut c[i * ldc + col..], ldc, load);
                    } else {
                        if load {
                            for r in 0..live {
                                let src = &c[(i + r) * ldc + col..][..width];
                                tile[r * NR..r * NR + width].copy_from_slice(src);
                            }
                        }
                        (kernels.micro)(&rows, panel, &mut tile, NR, load);
                        for r in 0..live {
                            let dst = &mut c[(i + r) * ldc + col..][..width];
                            dst.copy_from_slice(&tile[r * NR..r * NR + width]);
                        }
                    }
                }
            }
        }
        for row in m0..m1 {
            epilogue(row, &mut c[row * ldc..][..n]);
        }
    }
}

/// Packs six rows of `a` (`a[start[r]..][..kc]`; the first `live` are kept, the others are
/// zero) side by side: `panel[kk·6 + r]`.
fn pack_six(a: &[f32], start: [usize; MR], live: usize, kc: usize, panel: &mut [f32]) {
    for r in 0..MR {
        if r < live {
            let row = &a[start[r]..][..kc];
            for (kk, &x) in row.iter().enumerate() {
                panel[kk * MR + r] = x;
            }
        } else {
            (0..kc).for_each(|kk| panel[kk * MR + r] = 0.0);
        }
    }
}

/// [`pack_six`] with AVX: eight values of each row at a time, transposed in registers (the last
/// few columns by [`pack_six`]).
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_six_avx2(a: &[f32], start: [usize; MR], live: usize, kc: usize, panel: &mut [f32]) {
    use std::arch::x86_64::*;
    assert!(panel.len() >= MR * kc && live <= MR);
    assert!(start[..live].iter().all(|&s| s + kc <= a.len()));
    let main = kc / 8 * 8;
    let src: [*const f32; MR] = std::array::from_fn(|r| a[start[r].min(a.len())..].as_ptr());
    let dst = panel.as_mut_ptr();
    // SAFETY: rows below `live` are read at `kk + 8 ≤ kc` (checked above), the others not at
    // all; `panel` is written below `kc·6`: the eight columns at `kk` fill `kk·6 .. kk·6 + 48`.
    unsafe {
        let load = |r: usize, kk: usize| {
            if r < live {
                _mm256_loadu_ps(src[r].add(kk))
            } else {
                _mm256_setzero_ps()
            }
        };
        for kk in (0..main).step_by(8) {
            let rows: [__m256; MR] = std::array::from_fn(|r| load(r, kk));
            let t0 = _mm256_unpacklo_ps(rows[0], rows[1]);
            let t1 = _mm256_unpackhi_ps(rows[0], rows[1]);
            let t2 = _mm256_unpacklo_ps(rows[2], rows[3]);
            let t3 = _mm256_unpackhi_ps(rows[2], rows[3]);
            // Rows 4 and 5, pairs of one column: columns 0, 1 | 4, 5 and 2, 3 | 6, 7.
            let pairs = [
                _mm256_unpacklo_ps(rows[4], rows[5]),
                _mm256_unpackhi_ps(rows[4], rows[5]),
            ];
            // Rows 0..4 of one column: columns 0 | 4, 1 | 5, 2 | 6, 3 | 7.
            let quads = [
                _mm256_shuffle_ps::<0x44>(t0, t2),
                _mm256_shuffle_ps::<0xEE>(t0, t2),
                _mm256_shuffle_ps::<0x44>(t1, t3),
                _mm256_shuffle_ps::<0xEE>(t1, t3),
            ];
            let half = |v: __m256, upper: bool| {
                if upper {
                    _mm256_extractf128_ps::<1>(v)
                } else {
                    _mm256_castps256_ps128(v)
                }
            };
            for j in 0..8 {
                let d = dst.add((kk + j) * MR);
                _mm_storeu_ps(d, half(quads[j % 4], j >= 4));
                let pair = _mm_castps_pd(half(pairs[(j % 4) / 2], j >= 4));
                if j % 2 == 0 {
                    _mm_storel_pd(d.add(4).cast(), pair);
                } else {
                    _mm_storeh_pd(d.add(4).cast(), pair);
                }
            }
        }
    }
    // The last columns (fewer than eight), one at a time.
    let rest = start.map(|s| s + main);
    pack_six(a, rest, live, kc - main, &mut panel[main * MR..]);
}

/// The micro-kernel on any CPU: a 6 × 16 tile of `c` (row stride `ldc`) becomes `A · B`, added
/// to its values when `load`: the same fused chains as the AVX2 one, one element at a time.
fn micro_portable(rows: &Rows, b: &[f32], c: &mut [f32], ldc: usize, load: bool) {
    for r in 0..MR {
        for j in 0..NR {
            let mut s = if load { c[r * ldc + j] } else { 0.0 };
            for kk in 0..rows.k {
                let x = rows.data[rows.start[r] + kk * rows.step];
                s = x.mul_add(b[kk * NR + j], s);
            }
            c[r * ldc + j] = s;
        }
    }
}

/// A 6 × 16 tile of `c` (row stride `ldc`) becomes `A · B` over `rows.k`, added to its values
/// when `load`, summed in registers (`STEP` is `rows.step`, made a constant for the addressing);
/// `b` is a panel's block (`k·16 + j`).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn micro_avx2<const STEP: usize>(
    rows: &Rows,
    b: &[f32],
    c: &mut [f32],
    ldc: usize,
    load: bool,
) {
    use std::arch::x86_64::*;
    let k = rows.k;
    assert!(rows.step == STEP && b.len() >= NR * k);
    assert!(ldc >= NR && c.len() >= (MR - 1) * ldc + NR);
    assert!(
        rows.start
            .iter()
            .all(|&s| k == 0 || s + (k - 1) * STEP < rows.data.len())
    );
    let a: [*const f32; MR] = std::array::from_fn(|r| rows.data[rows.start[r]..].as_ptr());
    let b = b.as_ptr();
    let c = c.as_mut_ptr();
    // SAFETY: every read is inside the slices checked above (`kk < k`, `r < 6`), and every
    // access to `c` is at `r·ldc + j` with `r < 6`, `j < 16`.
    unsafe {
        // The tile's lines of `C`, on their way while `k` runs (they are written at the end).
        for r in 0..MR {
            _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc).cast());
            _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc + NR - 1).cast());
        }
        let (mut lo, mut hi) = if load {
            (
                std::array::from_fn::<__m256, MR, _>(|r| _mm256_loadu_ps(c.add(r * ldc))),
                std::array::from_fn::<__m256, MR, _>(|r| _mm256_loadu_ps(c.add(r * ldc + 8))),
            )
        } else {
            ([_mm256_setzero_ps(); MR], [_mm256_setzero_ps(); MR])
        };
        for kk in 0..k {
            let b0 = _mm256_loadu_ps(b.add(kk * NR));
            let b1 = _mm256_loadu_ps(b.add(kk * NR + 8));
            for r in 0..MR {
                let x = _mm256_broadcast_ss(&*a[r].add(kk * STEP));
                lo[r] = _mm256_fmadd_ps(x, b0, lo[r]);
                hi[r] = _mm256_fmadd_ps(x, b1, hi[r]);
            }
        }
        for r in 0..MR {
            _mm256_storeu_ps(c.add(r * ldc), lo[r]);
            _mm256_storeu_ps(c.add(r * ldc + 8), hi[r]);
        }
    }
}

/// Defines `fn name(args)` whose body is compiled twice, for AVX2 and FMA and for any CPU, and
/// run as the CPU allows: the same bits either way, since the body fuses nothing itself.
macro_rules! vectorized {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if simd() {
                    // SAFETY: the CPU has AVX2 and FMA.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

/// `eˣ` to within 2 ulp (Cephes' `expf`: a degree-6 polynomial on `x − n ln 2`, scaled by `2ⁿ`);
/// 0 below −87.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2²³: adding it rounds x·log₂e to an integer held in the low bits of the sum (no
    // float-to-int conversion, which would not vectorize).
    const MAGIC: f32 = 12_582_912.0;
    let small = x < -87.0;
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x));
    let mut p: f32 = 1.987_569_1e-4;
    p = p.mul_add(r, 1.398_199_9e-3);
    p = p.mul_add(r, 8.333_452e-3);
    p = p.mul_add(r, 4.166_579_6e-2);
    p = p.mul_add(r, 1.666_666_5e-1);
    p = p.mul_add(r, 0.5);
    let y = p.mul_add(r * r, r) + 1.0;
    let scale = f32::from_bits(t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127) << 23);
    if small { 0.0 } else { y * scale }
}

/// `erf(x)` to within a few ulp (Eigen's rational approximation on [−4, 4], ±1 beyond).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p: f32 = -2.726_142_3e-10;
    p = p.mul_add(x2, 2.770_681_4e-8);
    p = p.mul_add(x2, -2.101_024e-6);
    p = p.mul_add(x2, -5.692_506_4e-5);
    p = p.mul_add(x2, -7.349_906_3e-4);
    p = p.mul_add(x2, -2.954_600_1e-3);
    p = p.mul_add(x2, -1.609_603_3e-2);
    let mut q: f32 = -1.456_607_2e-5;
    q = q.mul_add(x2, -2.133_740_6e-4);
    q = q.mul_add(x2, -1.682_827e-3);
    q = q.mul_add(x2, -7.373_329_3e-3);
    q = q.mul_add(x2, -1.426_474e-2);
    x * p / q
}

vectorized! {
    /// GELU, erf form: `x/2 · (1 + erf(x/√2))`, in place.
    pub fn gelu_erf(xs: &mut [f32]) {
        for x in xs.iter_mut() {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

vectorized! {
    /// GELU, tanh form: `x/2 · (1 + tanh(√(2/π)(x + 0.044715 x³)))`, in place.
    pub fn gelu_tanh(xs: &mut [f32]) {
        for x in xs.iter_mut() {
            let u = 0.797_884_6 * (*x + 0.044_715 * *x * *x * *x);
            // tanh(u) = 1 − 2 / (e²ᵘ + 1), exact at both ends.
            let t = 1.0 - 2.0 / (exp(2.0 * u) + 1.0);
            *x = 0.5 * *x * (1.0 + t);
        }
    }
}

/// ReLU, in place.
pub fn relu(xs: &mut [f32]) {
    xs.iter_mut().for_each(|x| *x = x.max(0.0));
}

/// The sum of `xs` in eight interleaved lanes, then the lanes pairwise (vectorizable, and the
/// same bits on every path).
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    for (l, x) in lanes.iter_mut().zip(rest) {
        *l += x;
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
}

vectorized! {
    /// Each row of `xs` (`width` values) scaled by `scale` (positive), then replaced by its
    /// softmax.
    pub fn softmax_rows(xs: &mut [f32], width: usize, scale: f32) {
        for row in xs.chunks_exact_mut(width) {
            let mut lanes = [f32::NEG_INFINITY; 8];
            let chunks = row.chunks_exact(8);
            for (l, x) in lanes.iter_mut().zip(chunks.remainder()) {
                *l = if *x > *l { *x } else { *l };
            }
            for c in chunks {
                for (l, x) in lanes.iter_mut().zip(c) {
                    *l = if *x > *l { *x } else { *l };
                }
            }
            let max = lanes.iter().fold(f32::NEG_INFINITY, |m, &l| if l > m { l } else { m });
            for x in row.iter_mut() {
                *x = exp((*x - max) * scale);
            }
            let inv = 1.0 / sum(row);
            row.iter_mut().for_each(|x| *x *= inv);
        }
    }
}

vectorized! {
    /// Layer norm of each row of `xs` (`weight.len()` values): `(x − mean) / √(var + eps) ·
    /// weight + bias`, the variance the biased one.
    pub fn layer_norm_rows(xs: &mut [f32], weight: &[f32], bias: &[f32], eps: f32) {
        let width = weight.len();
        for row in xs.chunks_exact_mut(width) {
            let n = width as f32;
            let mean = sum(row) / n;
            let mut dev = [0f32; 8];
            let chunks = row.chunks_exact(8);
            for (l, x) in dev.iter_mut().zip(chunks.remainder()) {
                *l += (x - mean) * (x - mean);
            }
            for c in chunks {
                for (l, x) in dev.iter_mut().zip(c) {
                    *l += (x - mean) * (x - mean);
                }
            }
            let var = sum(&dev) / n;
            let inv = 1.0 / (var + eps).sqrt();
            for ((x, w), b) in row.iter_mut().zip(weight).zip(bias) {
                *x = (*x - mean) * inv * w + b;
            }
        }
    }
}

vectorized! {
    /// `xs[i] += ys[i]`.
    pub fn add(xs: &mut [f32], ys: &[f32]) {
        for (x, y) in xs.iter_mut().zip(ys) {
            *x += y;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    #[test]
    fn gemm_matches_fused_chains_and_ignores_the_row_count() {
        // k past one block of the reduction (KC, in blocks of 300: packed eight columns at a
        // time and four more), n past a panel's multiple (with enough panels to pack the rows),
        // m past MC and not a multiple of 6.
        let (m, k, n) = (103, 900, 75);
        let a = lcg(m * k, 1);
        let w = lcg(n * k, 2);
        let b = Packed::from_weight(&w, n, k);
        let mut c = vec![0f32; m * n];
        let mut seen = vec![0; m];
        gemm(&a, k, m, &b, &mut c, n, |i, v| {
            assert_eq!(v.len(), n);
            seen[i] += 1;
        });
        assert!(
            seen.iter().all(|&s| s == 1),
            "each row once to the epilogue"
        );
        for i in 0..m {
            for j in 0..n {
                let want = (0..k).fold(0f32, |s, kk| a[i * k + kk].mul_add(w[j * k + kk], s));
                assert_eq!(c[i * n + j].to_bits(), want.to_bits(), "({i}, {j})");
            }
        }
        // Row 17 alone, and the portable path, give the same bits.
        let mut one = vec![0f32; n];
        gemm(&a[17 * k..], k, 1, &b, &mut one, n, |_, _| {});
        assert_eq!(one, c[17 * n..18 * n]);
        let mut portable = vec![0f32; m * n];
        gemm_body(&a, k, m, &b, &mut portable, n, |_, _| {}, PORTABLE);
        // And with few panels (rows read in place).
        let b2 = Packed::from_weight(&w, 20, k);
        let mut few = vec![0f32; m * 20];
        gemm(&a, k, m, &b2, &mut few, 20, |_, _| {});
        for i in 0..m {
            assert_eq!(few[i * 20..(i + 1) * 20], c[i * n..i * n + 20]);
        }
        assert_eq!(portable, c);
    }

    #[test]
    fn packing_a_row_major_b_equals_packing_its_transpose() {
        let (k, n) = (7, 21);
        let bm = lcg(k * n, 3);
        let mut t = vec![0f32; n * k];
        for i in 0..k {
            for j in 0..n {
                t[j * k + i] = bm[i * n + j];
            }
        }
        let mut p = Packed::default();
        p.pack(&bm, k, n, n);
        assert_eq!(p.panels(), Packed::from_weight(&t, n, k).panels());
    }

    #[test]
    fn exp_and_erf_are_accurate() {
        for i in -1700..=1760 {
            let x = i as f32 / 20.0;
            let (got, want) = (exp(x), (x as f64).exp());
            assert!(
                ((got as f64 - want) / want).abs() < 3e-7,
                "exp({x}) = {got}, not {want}"
            );
        }
        assert_eq!(exp(-100.0), 0.0);
        for i in -600..=600 {
            let x = i as f32 / 100.0;
            let want = libm_erf(x as f64);
            assert!(
                (erf(x) as f64 - want).abs() < 3e-7,
                "erf({x}) = {}, not {want}",
                erf(x)
            );
        }
    }

    /// erf by its series and continued fraction, in f64 (a reference independent of `erf`).
    fn libm_erf(x: f64) -> f64 {
        if x.abs() < 2.5 {
            let (mut term, mut s, mut n) = (x, x, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -x * x / n;
                s += term / (2.0 * n + 1.0);
            }
            s * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc by Lentz's continued fraction.
            let z = x.abs();
            let mut f = z;
            for k in (1..60).rev() {
                f = z + (k as f64 / 2.0) / f;
            }
            let erfc = (-z * z).exp() / (f * std::f64::consts::PI.sqrt());
            x.signum() * (1.0 - erfc)
        }
    }

    #[test]
    fn softmax_and_layer_norm() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0];
        softmax_rows(&mut x, 4, 1.0);
        let e: Vec<f64> = (1..=4).map(|i| (i as f64).exp()).collect();
        let s: f64 = e.iter().sum();
        for (g, w) in x[..4].iter().zip(&e) {
            assert!((*g as f64 - w / s).abs() < 1e-6);
        }
        assert!(x[4..].iter().all(|&v| (v - 0.25).abs() < 1e-7));
        let mut y: Vec<f32> = (0..10).map(|i| i as f32).collect();
        layer_norm_rows(&mut y, &[2.0; 10], &[1.0; 10], 0.0);
        let sd = (8.25f64).sqrt();
        for (i, v) in y.iter().enumerate() {
            assert!((*v as f64 - ((i as f64 - 4.5) / sd * 2.0 + 1.0)).abs() < 1e-5);
        }
    }
}
