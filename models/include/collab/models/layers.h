// Building blocks shared by the architectures, as fastai defines them: embeddings with its
// truncated-normal init, sigmoid_range, and the embedding-size rule of its tabular models; and
// their TorchScript twins, which the models' script_into() uses for export.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "collab/common/config_reader.h"
#include "collab/models/collab_model.h"

namespace collab {

// nn.Embedding(n, dim) initialised as fastai's trunc_normal_: normal(0, 1).fmod(2) * 0.01
// (values beyond 2 standard deviations wrap around rather than being resampled).
torch::nn::Embedding make_embedding(int64_t n, int64_t dim);

// A bias-free Linear(in, out) over item features, its weight initialised like make_embedding
// (fastai's trunc_normal_, std 0.01) rather than torch's kaiming bound (1/sqrt(28) ~ 0.19 for
// the 28 item features): a feature term then starts at the scale of the embeddings beside it.
torch::nn::Linear make_feature_linear(int64_t in, int64_t out);

// sigmoid(x) * (hi - lo) + lo, or x unchanged without a range.
torch::Tensor sigmoid_range(const torch::Tensor& x, const std::optional<YRange>& range);

// Reads `y_range` (null or [lo, hi]) from a model section.
std::optional<YRange> read_y_range(ConfigReader& model);

// The item-feature table a content-based model registers as its `item_features` buffer: a float
// copy of shape.item_features, or zeros [n_items, shape.n_item_features] when undefined (a model
// rebuilt for a saved state; MovieLens 100k's kItemFeatures when that is 0 too). Throws
// collab::Error when the features do not have one row per item.
torch::Tensor item_feature_table(const ModelShape& shape);

// fastai's emb_sz_rule: min(600, round(1.6 * n^0.56)).
int64_t embedding_size_rule(int64_t n_categories);

// --- TorchScript twins (see export.h) ---

// The attribute name a scripted module gives an eager parameter or buffer: TorchScript attribute
// names cannot hold dots, so "layers.0.weight" becomes "layers_0_weight".
std::string script_name(const std::string& eager_name);

// Registers detached CPU copies of every parameter and buffer of `eager` on `m` under
// script_name(): parameters as parameters, buffers as buffers, so the scripted module's
// state_dict mirrors the eager one name for name. Copies, so later training of the eager model
// cannot change an exported module.
void script_tensors(const torch::nn::Module& eager, torch::jit::Module& m);

// Registers `y_range: List[float]` ([lo, hi], or empty without a range) and defines
// `sigmoid_range(self, x: Tensor) -> Tensor`, the scripted sigmoid_range() above.
void script_sigmoid_range(torch::jit::Module& m, const std::optional<YRange>& range);

// `value` as a TorchScript float literal that reads back as the same double.
std::string script_float(double value);

}  // namespace collab
