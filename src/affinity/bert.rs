//! The BERT encoder (Devlin et al. 2019) on candle's tensors: what a sentence-transformers
//! folder of the BERT family (all-MiniLM-L6-v2 and its kin) computes before pooling.
//!
//! Written here, on `candle-core` and `candle-nn`, rather than taken from `candle-transformers`:
//! that crate compiles a hundred other models with it, 170 s of every first build on 2 cores,
//! for the one used here. The computation is the standard one, in the usual order of operations:
//!
//! 1. embeddings: word + token type (all 0) + absolute position, then a layer norm;
//! 2. per layer: query, key and value projections split into heads; scores `q kᵀ / √d_head`; a
//!    softmax over the last axis; the heads' weighted values joined, projected, added to the
//!    layer's input and layer-normed; then the feed-forward block (GELU, erf form unless the
//!    config asks for the tanh approximation) added to that and layer-normed.
//!
//! There is no attention mask: [`super::neural`] batches only texts of equal token count, so no
//! batch carries padding (adding an all-zero mask would change no bit, and costs a pass).

use candle_core::{D, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder, embedding, layer_norm, linear};
use serde::Deserialize;

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

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded BERT encoder.
pub struct Bert {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    act: HiddenAct,
}

impl Bert {
    /// Loads the weights under `vb` (at its root, or under `bert.` or `<model_type>.`).
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Bert> {
        if let Some(kind) = config.position_embedding_type.as_deref()
            && kind != "absolute"
        {
            candle_core::bail!("position embeddings `{kind}` are not supported (only absolute)");
        }
        let root = "embeddings.word_embeddings.weight";
        let vb = match config.model_type.as_deref() {
            _ if vb.contains_tensor(root) => vb,
            _ if vb.contains_tensor(&format!("bert.{root}")) => vb.pp("bert"),
            Some(t) if vb.contains_tensor(&format!("{t}.{root}")) => vb.pp(t),
            _ => vb,
        };
        let (h, eps) = (config.hidden_size, config.layer_norm_eps);
        let e = vb.pp("embeddings");
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let l = vb.pp(format!("encoder.layer.{i}"));
                let a = l.pp("attention");
                Ok(Layer {
                    query: linear(h, h, a.pp("self.query"))?,
                    key: linear(h, h, a.pp("self.key"))?,
                    value: linear(h, h, a.pp("self.value"))?,
                    attention_out: linear(h, h, a.pp("output.dense"))?,
                    attention_norm: layer_norm(h, eps, a.pp("output.LayerNorm"))?,
                    intermediate: linear(h, config.intermediate_size, l.pp("intermediate.dense"))?,
                    output: linear(config.intermediate_size, h, l.pp("output.dense"))?,
                    output_norm: layer_norm(h, eps, l.pp("output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            word: embedding(config.vocab_size, h, e.pp("word_embeddings"))?,
            position: embedding(
                config.max_position_embeddings,
                h,
                e.pp("position_embeddings"),
            )?,
            token_type: embedding(config.type_vocab_size, h, e.pp("token_type_embeddings"))?,
            embedding_norm: layer_norm(h, eps, e.pp("LayerNorm"))?,
            layers,
            heads: config.num_attention_heads,
            head_size: h / config.num_attention_heads,
            act: config.hidden_act,
        })
    }

    /// Every token's vector for a batch of token ids `(batch, length)`, with no padding:
    /// `(batch, length, hidden)`.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (_, len) = ids.dims2()?;
        let types = self.token_type.forward(&ids.zeros_like()?)?;
        let x = (self.word.forward(ids)? + types)?;
        let positions = Tensor::new(&(0..len as u32).collect::<Vec<_>>()[..], ids.device())?;
        let x = x.broadcast_add(&self.position.forward(&positions)?)?;
        let mut x = self.embedding_norm.forward(&x)?;
        for layer in &self.layers {
            x = self.layer(layer, &x)?;
        }
        Ok(x)
    }

    /// `(batch, length, hidden)` → `(batch, heads, length, head size)`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, len, _) = x.dims3()?;
        x.reshape((b, len, self.heads, self.head_size))?
            .transpose(1, 2)?
            .contiguous()
    }

    fn layer(&self, l: &Layer, x: &Tensor) -> Result<Tensor> {
        let q = self.split_heads(&l.query.forward(x)?)?;
        let k = self.split_heads(&l.key.forward(x)?)?;
        let v = self.split_heads(&l.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (self.head_size as f64).sqrt())?;
        let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let context = weights
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .flatten_from(D::Minus2)?;
        let attended = l
            .attention_norm
            .forward(&(l.attention_out.forward(&context)? + x)?)?;
        let inner = l.intermediate.forward(&attended)?;
        let inner = match self.act {
            HiddenAct::Gelu => inner.gelu_erf()?,
            HiddenAct::GeluApproximate => inner.gelu()?,
            HiddenAct::Relu => inner.relu()?,
        };
        l.output_norm
            .forward(&(l.output.forward(&inner)? + attended)?)
    }
}
