#include "collab/models/svd_pp.h"

#include <algorithm>
#include <vector>

#include "collab/models/layers.h"
#include "collab/models/size_limits.h"
#include "implicit_sum.h"

namespace collab {

namespace {

// N(u) of every user from the training ratings, as CSR (offsets [n_users + 1], items [nnz]),
// each user's items sorted so that the sums do not depend on the order of the rows. Without
// ratings (a model rebuilt for a saved state), every N(u) is empty until the state arrives.
std::pair<torch::Tensor, torch::Tensor> rated_items_csr(const ModelShape& shape) {
  auto offsets = torch::zeros({shape.n_users + 1}, torch::kLong);
  if (shape.train == nullptr) return {offsets, torch::zeros({0}, torch::kLong)};
  const Ratings& r = *shape.train;
  int64_t* off = offsets.data_ptr<int64_t>();
  for (size_t k = 0; k < r.size(); ++k) ++off[r.users[k] + 1];
  for (int64_t u = 0; u < shape.n_users; ++u) off[u + 1] += off[u];
  auto items = torch::empty({off[shape.n_users]}, torch::kLong);
  int64_t* out = items.data_ptr<int64_t>();
  std::vector<int64_t> next(off, off + shape.n_users);
  for (size_t k = 0; k < r.size(); ++k) out[next[r.users[k]]++] = r.items[k];
  for (int64_t u = 0; u < shape.n_users; ++u) std::sort(out + off[u], out + off[u + 1]);
  return {offsets, items};
}

}  // namespace

SVDppImpl::SVDppImpl(const SVDppOptions& options) : options_(options) {
  const ModelShape& s = options.shape;
  user_factors = register_module("user_factors", make_embedding(s.n_users, options.n_factors));
  item_factors = register_module("item_factors", make_embedding(s.n_items, options.n_factors));
  implicit_factors =
      register_module("implicit_factors", make_embedding(s.n_items, options.n_factors));
  user_bias = register_module("user_bias", make_embedding(s.n_users, 1));
  item_bias = register_module("item_bias", make_embedding(s.n_items, 1));
  auto [offsets, items] = rated_items_csr(s);
  rated_offsets = register_buffer("rated_offsets", offsets);
  rated_items = register_buffer("rated_items", items);
}

// The fused form on the CPU, the composed one elsewhere: the same numbers (implicit_sum.h).
torch::Tensor SVDppImpl::implicit_term(const torch::Tensor& users) const {
  const torch::Tensor& table = implicit_factors->weight;
  return implicit_sum_fusable(table)
             ? implicit_sum_fused(table, rated_offsets, rated_items, users)
             : implicit_sum_composed(table, rated_offsets, rated_items, users);
}

torch::Tensor SVDppImpl::forward(torch::Tensor x) {
  const torch::Tensor u = x.select(/*dim=*/1, /*index=*/0);
  const torch::Tensor i = x.select(/*dim=*/1, /*index=*/1);
  const torch::Tensor user = user_factors->forward(u) + implicit_term(u);
  torch::Tensor r = (user * item_factors->forward(i)).sum(/*dim=*/1);
  r = r + user_bias->forward(u).squeeze(1) + item_bias->forward(i).squeeze(1);
  return sigmoid_range(r, options_.y_range);
}

// forward() and implicit_sum_composed(), scripted op for op.
void SVDppImpl::script_into(torch::jit::Module& m) const {
  script_tensors(*this, m);
  m.define(R"JIT(
def implicit_term(self, users: Tensor) -> Tensor:
    start = self.rated_offsets.index_select(0, users)
    count = self.rated_offsets.index_select(0, users + 1) - start
    segment = torch.repeat_interleave(count)
    first = count.cumsum(0) - count
    position = (torch.ones_like(segment).cumsum(0) - 1 -
                first.index_select(0, segment) + start.index_select(0, segment))
    rows = torch.embedding(self.implicit_factors_weight, self.rated_items.index_select(0, position))
    total = rows.new_zeros([users.size(0), self.implicit_factors_weight.size(1)])
    total = total.index_add(0, segment, rows)
    return total * count.clamp_min(1).to(rows.dtype).rsqrt().unsqueeze(1)

def forward(self, x: Tensor) -> Tensor:
    u = x.select(1, 0)
    i = x.select(1, 1)
    user = torch.embedding(self.user_factors_weight, u) + self.implicit_term(u)
    r = (user * torch.embedding(self.item_factors_weight, i)).sum(1)
    r = (r + torch.embedding(self.user_bias_weight, u).squeeze(1) +
         torch.embedding(self.item_bias_weight, i).squeeze(1))
    return self.sigmoid_range(r)
)JIT");
}

torch::Tensor SVDppImpl::user_vectors() const {
  torch::NoGradGuard no_grad;
  const torch::Tensor users = torch::arange(user_factors->weight.size(0), rated_offsets.options());
  return torch::cat({user_factors->weight + implicit_term(users), user_bias->weight}, 1).detach();
}

std::optional<LinearUserModel> SVDppImpl::linear_user_model() const {
  return factors_and_bias_model(item_factors->weight, item_bias->weight);
}

std::optional<torch::Tensor> SVDppImpl::bias_ratings(const torch::Tensor& user_vector) const {
  return item_bias->weight.detach().squeeze(1) + user_vector[-1];
}

CollabModel make_svd_pp(ConfigReader& model, const ModelShape& shape) {
  SVDppOptions options;
  options.shape = shape;
  options.n_factors =
      model.integer("n_factors", options.n_factors, /*min=*/1, /*max=*/kMaxModelWidth);
  options.y_range = read_y_range(model);
  return SVDpp(options).ptr();
}

}  // namespace collab
