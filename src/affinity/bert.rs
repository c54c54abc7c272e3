//! The BERT encoder (Devlin et al. 2019): what a sentence-transformers folder of the BERT family
//! (all-MiniLM-L6-v2 and its kin) computes before pooling, on the kernels of [`super::kernels`].
//!
//! The computation is the standard one, in the usual order of operations:
//!
//! 1. embeddings: word + token type (all 0) + absolute position, then a layer norm;
//! 2. per layer: query, key and value projections (one product with the three weights side by
//!    side) split into heads; scores `q kᵀ / √d_head`; a softmax over the keys; the heads'
//!    weighted values joined, projected, added to the layer's input and layer-normed; then the
//!    feed-forward block (GELU, erf form unless the config asks for the tanh approximation) added
//!    to that and layer-normed.
//!
//! There is no attention mask: [`super::neural`] batches only texts of equal token count, so no
//! batch carries padding. Each text's attention is computed on its own, head by head, and every
//! other step treats rows independently, so a text's hidden states do not depend on the batch.
//!
//! The weights are read from `model.safetensors` (F32, F16 or BF16) and packed for the kernels
//! once; each thread brings its own [`Scratch`] of activations, reused from batch to batch.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::kernels::{self, Packed};

/// The activation of the feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HiddenAct {
    /// GELU, erf form (`"gelu"`).
    Gelu,
    /// GELU, tanh approximation (`"gelu_new"`, `"gelu_pytorch_tanh"`).
    #[serde(alias = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluApproximate,
    /// ReLU.
    Relu,
}

/// The fields of a BERT `config.json` the encoder uses (others are ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Config {
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Width of every token's vector.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// The feed-forward activation.
    pub hidden_act: HiddenAct,
    /// Longest input.
    pub max_position_embeddings: usize,
    /// Token types (segments).
    pub type_vocab_size: usize,
    /// The layer norms' epsilon.
    pub layer_norm_eps: f64,
    /// `absolute` (the only kind supported) or absent.
    #[serde(default)]
    pub position_embedding_type: Option<String>,
    /// `bert`, or another prefix of the weights' names.
    #[serde(default)]
    pub model_type: Option<String>,
}

/// The steps of a forward pass, timed (see [`Bert::op_times`]).
pub const OPS: [&str; 9] = [
    "embeddings + layer norm",
    "query/key/value projection",
    "attention scores q·kᵀ",
    "softmax",
    "attention context p·v (+ packing k, v)",
    "output projection + residual",
    "layer norms",
    "feed-forward up + GELU",
    "feed-forward down + residual",
];

/// Queries whose attention is computed together: their scores (at most 24 KB for 256 keys) stay in
/// L1 from the product with the keys, through the softmax, to the product with the values.
const STRIP: usize = 24;

/// The tensors of a safetensors file, by name.
struct Tensors {
    map: memmap2::Mmap,
    start: usize,
    entries: HashMap<String, (String, Vec<usize>, [usize; 2])>,
}

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

impl Tensors {
    fn open(path: &Path) -> Result<Tensors, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        // SAFETY: the weights file is mapped read-only while the model loads; changing it while
        // papermatch reads it is not supported.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
        let head = map
            .get(..8)
            .ok_or("shorter than a safetensors header")?
            .try_into()
            .expect("8 bytes");
        let len = u64::from_le_bytes(head) as usize;
        let json = map
            .get(8..8usize.saturating_add(len))
            .ok_or("the header runs past the end of the file")?;
        let mut raw: HashMap<String, serde_json::Value> =
            serde_json::from_slice(json).map_err(|e| format!("header: {e}"))?;
        raw.remove("__metadata__");
        let entries = raw
            .into_iter()
            .map(|(name, v)| {
                let e: Entry = serde_json::from_value(v).map_err(|e| format!("{name}: {e}"))?;
                Ok((name, (e.dtype, e.shape, e.data_offsets)))
            })
            .collect::<Result<_, String>>()?;
        Ok(Tensors {
            map,
            start: 8 + len,
            entries,
        })
    }

    fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Tensor `name` as f32, checked to have `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, String> {
        let (dtype, got, [a, b]) = self
            .entries
            .get(name)
            .ok_or_else(|| format!("no tensor `{name}`"))?;
        if got != shape {
            return Err(format!("`{name}` has shape {got:?}, expected {shape:?}"));
        }
        let bytes = self
            .map
            .get(self.start + a..self.start + b)
            .ok_or_else(|| format!("`{name}` runs past the end of the file"))?;
        let n: usize = shape.iter().product();
        let width = match dtype.as_str() {
            "F32" => 4,
            "F16" | "BF16" => 2,
            other => return Err(format!("`{name}` is {other} (F32, F16 or BF16 expected)")),
        };
        if bytes.len() != n * width {
            return Err(format!("`{name}` has {} bytes for {n} values", bytes.len()));
        }
        Ok(match dtype.as_str() {
            "F32" => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            "BF16" => bytes
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            _ => bytes
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        })
    }
}

/// An IEEE half-precision value as f32 (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        // Subnormal: frac · 2⁻²⁴.
        (0, f) => {
            let v = f as f32 * 2f32.powi(-24);
            return if sign != 0 { -v } else { v };
        }
        (31, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn load(t: &Tensors, name: &str, h: usize, eps: f64) -> Result<Norm, String> {
        Ok(Norm {
            weight: t.get(&format!("{name}.weight"), &[h])?,
            bias: t.get(&format!("{name}.bias"), &[h])?,
            eps: eps as f32,
        })
    }

    fn apply(&self, xs: &mut [f32]) {
        kernels::layer_norm_rows(xs, &self.weight, &self.bias, self.eps);
    }
}

struct Linear {
    weight: Packed,
    bias: Vec<f32>,
}

impl Linear {
    /// The layers `names` (each `n × k`) side by side: one product computes them all.
    fn load(t: &Tensors, names: &[String], n: usize, k: usize) -> Result<Linear, String> {
        let mut w = Vec::with_capacity(names.len() * n * k);
        let mut bias = Vec::with_capacity(names.len() * n);
        for name in names {
            w.extend(t.get(&format!("{name}.weight"), &[n, k])?);
            bias.extend(t.get(&format!("{name}.bias"), &[n])?);
        }
        Ok(Linear {
            weight: Packed::from_weight(&w, names.len() * n, k),
            bias,
        })
    }

    /// `out = x · Wᵀ + b` for `m` rows, then `then(row, values)` on each row.
    fn apply(&self, x: &[f32], m: usize, out: &mut [f32], mut then: impl FnMut(usize, &mut [f32])) {
        let (k, n) = (self.weight.k(), self.weight.n());
        kernels::gemm(x, k, m, &self.weight, out, n, |i, v| {
            kernels::add(v, &self.bias);
            then(i, v);
        });
    }
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    up: Linear,
    down: Linear,
    output_norm: Norm,
}

/// A loaded BERT encoder.
pub struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    /// Token type 0's vector (every token's type).
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    intermediate: usize,
    heads: usize,
    head_size: usize,
    max_positions: usize,
    act: HiddenAct,
    /// Nanoseconds spent in each of [`OPS`], over every thread.
    times: [AtomicU64; OPS.len()],
}

/// One thread's activations, reused from batch to batch.
#[derive(Default)]
pub struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    attended: Vec<f32>,
    inner: Vec<f32>,
    scores: Vec<f32>,
    keys: Packed,
    values: Packed,
}

impl Bert {
    /// Loads `model.safetensors` (the weights at its root, or under `bert.` or
    /// `<model_type>.`).
    pub fn load(weights: &Path, config: &Config) -> Result<Bert, String> {
        if let Some(kind) = config.position_embedding_type.as_deref()
            && kind != "absolute"
        {
            return Err(format!(
                "position embeddings `{kind}` are not supported (only absolute)"
            ));
        }
        let h = config.hidden_size;
        let heads = config.num_attention_heads;
        if heads == 0 || !h.is_multiple_of(heads) {
            return Err(format!(
                "hidden size {h} is not a multiple of {heads} heads"
            ));
        }
        let t = Tensors::open(weights)?;
        let root = "embeddings.word_embeddings.weight";
        let prefix = match config.model_type.as_deref() {
            _ if t.contains(root) => String::new(),
            _ if t.contains(&format!("bert.{root}")) => "bert.".into(),
            Some(m) if t.contains(&format!("{m}.{root}")) => format!("{m}."),
            _ => String::new(),
        };
        let eps = config.layer_norm_eps;
        let e = |n: &str| format!("{prefix}embeddings.{n}");
        let inter = config.intermediate_size;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = |n: &str| format!("{prefix}encoder.layer.{i}.{n}");
                let qkv = ["query", "key", "value"].map(|n| l(&format!("attention.self.{n}")));
                Ok(Layer {
                    qkv: Linear::load(&t, &qkv, h, h)?,
                    attention_out: Linear::load(&t, &[l("attention.output.dense")], h, h)?,
                    attention_norm: Norm::load(&t, &l("attention.output.LayerNorm"), h, eps)?,
                    up: Linear::load(&t, &[l("intermediate.dense")], inter, h)?,
                    down: Linear::load(&t, &[l("output.dense")], h, inter)?,
                    output_norm: Norm::load(&t, &l("output.LayerNorm"), h, eps)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let token_type = t.get(
            &e("token_type_embeddings.weight"),
            &[config.type_vocab_size, h],
        )?;
        Ok(Bert {
            word: t.get(&e("word_embeddings.weight"), &[config.vocab_size, h])?,
            position: t.get(
                &e("position_embeddings.weight"),
                &[config.max_position_embeddings, h],
            )?,
            token_type: token_type[..h].to_vec(),
            embedding_norm: Norm::load(&t, &e("LayerNorm"), h, eps)?,
            layers,
            hidden: h,
            intermediate: inter,
            heads,
            head_size: h / heads,
            max_positions: config.max_position_embeddings,
            act: config.hidden_act,
            times: Default::default(),
        })
    }

    /// The time spent so far in each step of [`OPS`], summed over threads.
    pub fn op_times(&self) -> Vec<(&'static str, Duration)> {
        OPS.iter()
            .zip(&self.times)
            .map(|(&name, t)| (name, Duration::from_nanos(t.load(Ordering::Relaxed))))
            .collect()
    }

    fn timed<T>(&self, op: usize, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.times[op].fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        out
    }

    /// Every token's vector for `ids`, texts of `len` tokens one after the other (no padding):
    /// `ids.len() × hidden` values, row-major, in `scratch`.
    pub fn forward<'s>(
        &self,
        ids: &[u32],
        len: usize,
        scratch: &'s mut Scratch,
    ) -> Result<&'s [f32], String> {
        let (h, rows) = (self.hidden, ids.len());
        if len == 0 || rows % len != 0 {
            return Err(format!("{rows} tokens are not texts of {len}"));
        }
        if len > self.max_positions {
            return Err(format!(
                "{len} tokens, the model takes at most {}",
                self.max_positions
            ));
        }
        let vocab = self.word.len() / h;
        if let Some(&bad) = ids.iter().find(|&&t| t as usize >= vocab) {
            return Err(format!("token {bad} is outside the vocabulary of {vocab}"));
        }
        let Scratch {
            x,
            qkv,
            context,
            attended,
            inner,
            scores,
            keys,
            values,
        } = scratch;
        for (buf, width) in [
            (&mut *x, h),
            (&mut *qkv, 3 * h),
            (&mut *context, h),
            (&mut *attended, h),
        ] {
            buf.resize(rows * width, 0.0);
        }
        inner.resize(rows * self.intermediate, 0.0);
        scores.resize(STRIP * len, 0.0);
        self.timed(0, || {
            for (i, (row, &t)) in x.chunks_exact_mut(h).zip(ids).enumerate() {
                let word = &self.word[t as usize * h..][..h];
                let position = &self.position[(i % len) * h..][..h];
                for (((o, w), ty), p) in
                    row.iter_mut().zip(word).zip(&self.token_type).zip(position)
                {
                    *o = (w + ty) + p;
                }
            }
            self.embedding_norm.apply(x);
        });
        let (d, scale) = (self.head_size, 1.0 / (self.head_size as f32).sqrt());
        for l in &self.layers {
            self.timed(1, || l.qkv.apply(x, rows, qkv, |_, _| {}));
            for text in 0..rows / len {
                let q = &qkv[text * len * 3 * h..][..len * 3 * h];
                for head in 0..self.heads {
                    let at = head * d;
                    self.timed(4, || {
                        keys.pack_transposed(&q[h + at..], len, d, 3 * h);
                        values.pack(&q[2 * h + at..], len, d, 3 * h);
                    });
                    // A strip of queries at a time: its scores stay in L1 from q·kᵀ to p·v.
                    for s0 in (0..len).step_by(STRIP) {
                        let strip = STRIP.min(len - s0);
                        let scores = &mut scores[..strip * len];
                        let (query, out) = ((s0 * 3 * h) + at, (text * len + s0) * h + at);
                        self.timed(2, || {
                            kernels::gemm(&q[query..], 3 * h, strip, keys, scores, len, |_, _| {})
                        });
                        self.timed(3, || kernels::softmax_rows(scores, len, scale));
                        self.timed(4, || {
                            let out = &mut context[out..];
                            kernels::gemm(scores, len, strip, values, out, h, |_, _| {});
                        });
                    }
                }
            }
            self.timed(5, || {
                l.attention_out.apply(context, rows, attended, |i, v| {
                    kernels::add(v, &x[i * h..]);
                })
            });
            self.timed(6, || l.attention_norm.apply(attended));
            let act = self.act;
            self.timed(7, || {
                l.up.apply(attended, rows, inner, |_, v| match act {
                    HiddenAct::Gelu => kernels::gelu_erf(v),
                    HiddenAct::GeluApproximate => kernels::gelu_tanh(v),
                    HiddenAct::Relu => kernels::relu(v),
                })
            });
            self.timed(8, || {
                l.down.apply(inner, rows, x, |i, v| {
                    kernels::add(v, &attended[i * h..]);
                })
            });
            self.timed(6, || l.output_norm.apply(x));
        }
        Ok(&x[..])
    }
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn half_precision_values_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0f32).to_bits());
    }
}
