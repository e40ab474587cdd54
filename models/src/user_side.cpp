#include "collab/models/user_side.h"

#include "collab/common/error.h"
#include "collab/models/biases.h"
#include "collab/models/collab_nn.h"
#include "collab/models/content_based.h"
#include "collab/models/dot_product.h"
#include "collab/models/dot_product_bias.h"
#include "collab/models/hybrid_dot_product_bias.h"
#include "collab/models/layers.h"

namespace collab {

namespace {

[[noreturn]] void unsupported_user_side(const CollabModelImpl& model) {
  throw Error("architecture \"" + model.arch() + "\" has no user-side view (models/user_side.cpp)");
}

torch::Tensor rows_of(const torch::Tensor& table, const torch::Tensor& items) {
  return items.defined() ? table.index_select(0, items) : table;
}

torch::Tensor all_items(const HybridDotProductBiasImpl& m) {
  return torch::arange(m.item_features.size(0), m.item_features.options().dtype(torch::kLong));
}

// ContentBased's user vector is the profile, then the user bias when it has one.
torch::Tensor content_user_vectors(const ContentBasedImpl& m) {
  if (!m.user_bias) return m.user_profile->weight.detach();
  return torch::cat({m.user_profile->weight, m.user_bias->weight}, 1).detach();
}

torch::Tensor hybrid_item_vectors(const HybridDotProductBiasImpl& m) {
  torch::NoGradGuard no_grad;
  return m.item_vectors(all_items(m));
}

torch::Tensor hybrid_item_biases(const HybridDotProductBiasImpl& m) {
  torch::NoGradGuard no_grad;
  return m.item_biases(all_items(m));
}

}  // namespace

torch::Tensor user_vectors(const CollabModelImpl& model) {
  if (const auto* m = dynamic_cast<const DotProductImpl*>(&model)) {
    return m->user_factors->weight.detach();
  }
  if (const auto* m = dynamic_cast<const DotProductBiasImpl*>(&model)) {
    return torch::cat({m->user_factors->weight, m->user_bias->weight}, 1).detach();
  }
  if (const auto* m = dynamic_cast<const CollabNNImpl*>(&model)) {
    return m->user_factors->weight.detach();
  }
  if (const auto* m = dynamic_cast<const BiasesImpl*>(&model)) {
    return m->user_bias->weight.detach();
  }
  if (const auto* m = dynamic_cast<const ContentBasedImpl*>(&model)) {
    return content_user_vectors(*m);
  }
  if (const auto* m = dynamic_cast<const HybridDotProductBiasImpl*>(&model)) {
    return torch::cat({m->user_factors->weight, m->user_bias->weight}, 1).detach();
  }
  unsupported_user_side(model);
}

torch::Tensor item_factors(const CollabModelImpl& model) {
  if (const auto* m = dynamic_cast<const DotProductImpl*>(&model)) {
    return m->item_factors->weight.detach();
  }
  if (const auto* m = dynamic_cast<const DotProductBiasImpl*>(&model)) {
    return m->item_factors->weight.detach();
  }
  if (const auto* m = dynamic_cast<const CollabNNImpl*>(&model)) {
    return m->item_factors->weight.detach();
  }
  if (dynamic_cast<const BiasesImpl*>(&model)) {
    throw Error("architecture \"Biases\" has no item factors (only biases)");
  }
  if (const auto* m = dynamic_cast<const ContentBasedImpl*>(&model)) {
    return m->item_features.detach();
  }
  if (const auto* m = dynamic_cast<const HybridDotProductBiasImpl*>(&model)) {
    return hybrid_item_vectors(*m);
  }
  unsupported_user_side(model);
}

std::optional<torch::Tensor> item_bias(const CollabModelImpl& model) {
  if (const auto* m = dynamic_cast<const DotProductBiasImpl*>(&model)) {
    return m->item_bias->weight.detach().squeeze(1);
  }
  if (const auto* m = dynamic_cast<const BiasesImpl*>(&model)) {
    return m->item_bias->weight.detach().squeeze(1);
  }
  if (const auto* m = dynamic_cast<const ContentBasedImpl*>(&model)) {
    if (!m->item_bias) return std::nullopt;
    return m->item_bias->weight.detach().squeeze(1);
  }
  if (const auto* m = dynamic_cast<const HybridDotProductBiasImpl*>(&model)) {
    if (!m->item_bias && !m->feature_bias) return std::nullopt;
    return hybrid_item_biases(*m);
  }
  if (dynamic_cast<const DotProductImpl*>(&model) || dynamic_cast<const CollabNNImpl*>(&model)) {
    return std::nullopt;
  }
  unsupported_user_side(model);
}

std::optional<LinearUserModel> linear_user_model(const CollabModelImpl& model) {
  if (const auto* m = dynamic_cast<const DotProductImpl*>(&model)) {
    const torch::Tensor factors = m->item_factors->weight.detach();
    return LinearUserModel{factors, torch::zeros({factors.size(0)}, factors.options())};
  }
  if (const auto* m = dynamic_cast<const DotProductBiasImpl*>(&model)) {
    const torch::Tensor factors = m->item_factors->weight.detach();
    // The user bias is the last coordinate of the user vector, so its design column is ones.
    return LinearUserModel{
        torch::cat({factors, torch::ones({factors.size(0), 1}, factors.options())}, 1),
        m->item_bias->weight.detach().squeeze(1)};
  }
  if (const auto* m = dynamic_cast<const BiasesImpl*>(&model)) {
    // The user vector is the user bias alone; the global term joins the item bias.
    const torch::Tensor bias = m->item_bias->weight.detach().squeeze(1);
    return LinearUserModel{torch::ones({bias.size(0), 1}, bias.options()),
                           bias + m->global_bias.detach().reshape({})};
  }
  if (const auto* m = dynamic_cast<const ContentBasedImpl*>(&model)) {
    const torch::Tensor features = m->item_features.detach();
    const int64_t n = features.size(0);
    return LinearUserModel{m->user_bias
                               ? torch::cat({features, torch::ones({n, 1}, features.options())}, 1)
                               : features,
                           m->item_bias ? m->item_bias->weight.detach().squeeze(1)
                                        : torch::zeros({n}, features.options())};
  }
  if (const auto* m = dynamic_cast<const HybridDotProductBiasImpl*>(&model)) {
    const torch::Tensor vectors = hybrid_item_vectors(*m);
    return LinearUserModel{
        torch::cat({vectors, torch::ones({vectors.size(0), 1}, vectors.options())}, 1),
        hybrid_item_biases(*m)};
  }
  if (dynamic_cast<const CollabNNImpl*>(&model)) return std::nullopt;
  unsupported_user_side(model);
}

std::optional<FeatureItem> item_from_features(const CollabModelImpl& model,
                                              const torch::Tensor& features) {
  torch::NoGradGuard no_grad;
  const torch::Tensor f = features.to(torch::kCPU, torch::kFloat).reshape({1, -1});
  if (const auto* m = dynamic_cast<const ContentBasedImpl*>(&model)) {
    const torch::Tensor factors = f.squeeze(0);
    const torch::Tensor design =
        m->user_bias ? torch::cat({factors, torch::ones({1}, factors.options())}) : factors;
    return FeatureItem{factors, design, 0.0};
  }
  if (const auto* m = dynamic_cast<const HybridDotProductBiasImpl*>(&model)) {
    // The free embedding and the item bias of an item nobody rated are zero: what is left is
    // the projection of its features and their linear bias.
    const torch::Tensor factors = torch::linear(f, m->feature_projection->weight).squeeze(0);
    const double offset =
        m->feature_bias ? torch::linear(f, m->feature_bias->weight).item<double>() : 0.0;
    return FeatureItem{factors, torch::cat({factors, torch::ones({1}, factors.options())}), offset};
  }
  return std::nullopt;
}

torch::Tensor score_items(CollabModelImpl& model, const torch::Tensor& user_vector,
                          const torch::Tensor& items) {
  if (const auto linear = linear_user_model(model)) {
    const torch::Tensor design = rows_of(linear->design, items);
    const torch::Tensor r = design.matmul(user_vector) + rows_of(linear->offset, items);
    return sigmoid_range(r, model.y_range());
  }
  if (auto* m = dynamic_cast<CollabNNImpl*>(&model)) {
    // forward() with the user's embedding row replaced by `user_vector`; embedding dropout is the
    // identity in eval mode, so it is left out.
    const torch::Tensor item_rows = rows_of(m->item_factors->weight, items);
    const torch::Tensor h =
        torch::cat({user_vector.unsqueeze(0).expand({item_rows.size(0), -1}), item_rows}, 1);
    return sigmoid_range(m->layers->forward(h).squeeze(1), model.y_range());
  }
  unsupported_user_side(model);
}

}  // namespace collab
