#include "collab/models/collab_nn.h"

#include "collab/models/layers.h"

namespace collab {

CollabNNImpl::CollabNNImpl(const CollabNNOptions& options) : options_(options) {
  const ModelShape& s = options.shape;
  const int64_t user_dim =
      options.user_embedding > 0 ? options.user_embedding : embedding_size_rule(s.n_users);
  const int64_t item_dim =
      options.item_embedding > 0 ? options.item_embedding : embedding_size_rule(s.n_items);
  user_factors = register_module("user_factors", make_embedding(s.n_users, user_dim));
  item_factors = register_module("item_factors", make_embedding(s.n_items, item_dim));
  embedding_dropout =
      register_module("embedding_dropout", torch::nn::Dropout(options.embedding_dropout));

  torch::nn::Sequential mlp;
  int64_t width = user_dim + item_dim;
  for (size_t l = 0; l < options.layers.size(); ++l) {
    const int64_t out = options.layers[l];
    mlp->push_back(
        torch::nn::Linear(torch::nn::LinearOptions(width, out).bias(!options.batchnorm)));
    mlp->push_back(torch::nn::ReLU());
    if (options.batchnorm) {
      torch::nn::BatchNorm1d bn(out);
      torch::NoGradGuard no_grad;
      bn->weight.fill_(1.0);
      bn->bias.fill_(1e-3);  // fastai's BatchNorm init
      mlp->push_back(bn);
    }
    if (l < options.dropout.size() && options.dropout[l] > 0) {
      mlp->push_back(torch::nn::Dropout(options.dropout[l]));
    }
    width = out;
  }
  mlp->push_back(torch::nn::Linear(width, 1));
  layers = register_module("layers", mlp);
}

torch::Tensor CollabNNImpl::forward(torch::Tensor x) {
  torch::Tensor h = torch::cat({user_factors->forward(x.select(/*dim=*/1, /*index=*/0)),
                                item_factors->forward(x.select(/*dim=*/1, /*index=*/1))},
                               /*dim=*/1);
  h = embedding_dropout->forward(h);
  return sigmoid_range(layers->forward(h).squeeze(1), options_.y_range);
}

CollabModel make_collab_nn(ConfigReader& model, const ModelShape& shape) {
  CollabNNOptions o;
  o.shape = shape;
  o.user_embedding = model.integer("user_embedding", 0, /*min=*/0);
  o.item_embedding = model.integer("item_embedding", 0, /*min=*/0);
  o.layers = model.integers("layers", o.layers, /*min=*/1);
  if (o.layers.empty()) model.fail("layers", "expected at least one hidden layer size");
  o.batchnorm = model.boolean("batchnorm", false);
  const json dropout = model.raw("dropout", 0.0);
  if (dropout.is_number()) {
    o.dropout.assign(o.layers.size(), dropout.get<double>());
  } else if (dropout.is_array() && dropout.size() == o.layers.size()) {
    for (const auto& p : dropout) {
      if (!p.is_number())
        model.fail("dropout", "expected numbers in [0, 1), got " + describe(dropout));
      o.dropout.push_back(p.get<double>());
    }
  } else {
    model.fail("dropout",
               "expected a number or one number per hidden layer, got " + describe(dropout));
  }
  for (const double p : o.dropout) {
    if (!(p >= 0 && p < 1))
      model.fail("dropout", "expected numbers in [0, 1), got " + describe(dropout));
  }
  o.embedding_dropout =
      model.number("embedding_dropout", 0.0, NumberRange::unit_interval_open_right());
  o.y_range = read_y_range(model);
  return CollabNN(o).ptr();
}

}  // namespace collab
