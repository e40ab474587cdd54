// SVDpp's implicit-feedback term, composed of Torch ops and fused (implicit_sum.h).
#include "implicit_sum.h"

#include <vector>

namespace collab {

namespace {

// |N(u)|^-1/2 for each of `users` (1 for a user who rated nothing), as the composed form
// computes it, so that both forms scale by the same floats.
torch::Tensor user_scales(const torch::Tensor& offsets, const torch::Tensor& users,
                          torch::ScalarType type) {
  const torch::Tensor count =
      offsets.index_select(0, users + 1) - offsets.index_select(0, users);
  return count.clamp_min(1).to(type).rsqrt();
}

// The batch's users and N(u) in CSR form, as raw pointers for the loops below.
struct BatchLists {
  BatchLists(const torch::Tensor& offsets, const torch::Tensor& items, const torch::Tensor& users,
             const torch::Tensor& scales)
      : off(offsets.data_ptr<int64_t>()),
        rated(items.data_ptr<int64_t>()),
        user(users.data_ptr<int64_t>()),
        scale(scales.data_ptr<float>()),
        batch(users.size(0)) {}
  // The positions in `rated` of batch row b's items.
  int64_t begin(int64_t b) const { return off[user[b]]; }
  int64_t end(int64_t b) const { return off[user[b] + 1]; }

  const int64_t* off;
  const int64_t* rated;
  const int64_t* user;
  const float* scale;
  int64_t batch;
};

// Forward: each user's rows summed in N(u)'s order, then scaled. Backward: each user's scaled
// gradient added to the rows it read, users in batch order (two users may share an item; the
// order keeps the sums reproducible).
class ImplicitSum : public torch::autograd::Function<ImplicitSum> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& table,
                               const torch::Tensor& offsets, const torch::Tensor& items,
                               const torch::Tensor& users) {
    const torch::Tensor scales = user_scales(offsets, users, table.scalar_type());
    const torch::Tensor rows = table.contiguous();
    const int64_t k = rows.size(1);
    const BatchLists lists(offsets, items, users, scales);
    torch::Tensor out = torch::zeros({lists.batch, k}, rows.options());
    const float* y = rows.data_ptr<float>();
    float* sums = out.data_ptr<float>();
    // One thread: a batch's sums are a fraction of a millisecond, less than waking a pool.
    for (int64_t b = 0; b < lists.batch; ++b) {
      float* sum = sums + b * k;
      for (int64_t e = lists.begin(b); e < lists.end(b); ++e) {
        const float* row = y + lists.rated[e] * k;
        for (int64_t d = 0; d < k; ++d) sum[d] += row[d];
      }
      for (int64_t d = 0; d < k; ++d) sum[d] *= lists.scale[b];
    }
    ctx->save_for_backward({offsets, items, users, scales});
    ctx->saved_data["n_items"] = rows.size(0);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const BatchLists lists(saved[0], saved[1], saved[2], saved[3]);
    const torch::Tensor grad = grad_outputs[0].contiguous();
    const int64_t k = grad.size(1);
    torch::Tensor table_grad = torch::zeros({ctx->saved_data["n_items"].toInt(), k},
                                            grad.options());
    const float* g = grad.data_ptr<float>();
    float* out = table_grad.data_ptr<float>();
    std::vector<float> scaled(static_cast<size_t>(k));
    for (int64_t b = 0; b < lists.batch; ++b) {
      for (int64_t d = 0; d < k; ++d) scaled[d] = g[b * k + d] * lists.scale[b];
      for (int64_t e = lists.begin(b); e < lists.end(b); ++e) {
        float* row = out + lists.rated[e] * k;
        for (int64_t d = 0; d < k; ++d) row[d] += scaled[d];
      }
    }
    return {table_grad, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor implicit_sum_composed(const torch::Tensor& table, const torch::Tensor& offsets,
                                    const torch::Tensor& items, const torch::Tensor& users) {
  // Each user's rated items laid end to end (`segment` says whose each is), their rows gathered
  // and summed per user by index_add.
  const torch::Tensor start = offsets.index_select(0, users);
  const torch::Tensor count = offsets.index_select(0, users + 1) - start;
  const torch::Tensor segment = torch::repeat_interleave(count);
  const torch::Tensor first = count.cumsum(/*dim=*/0) - count;
  const torch::Tensor position = torch::arange(segment.size(0), count.options()) -
                                 first.index_select(0, segment) + start.index_select(0, segment);
  const torch::Tensor rows = torch::embedding(table, items.index_select(0, position));
  const torch::Tensor total =
      torch::zeros({users.size(0), table.size(1)}, rows.options()).index_add(0, segment, rows);
  return total * user_scales(offsets, users, rows.scalar_type()).unsqueeze(1);
}

torch::Tensor implicit_sum_fused(const torch::Tensor& table, const torch::Tensor& offsets,
                                 const torch::Tensor& items, const torch::Tensor& users) {
  return ImplicitSum::apply(table, offsets.contiguous(), items.contiguous(),
                            users.to(torch::kLong).contiguous());
}

bool implicit_sum_fusable(const torch::Tensor& table) {
  return table.device().is_cpu() && table.scalar_type() == torch::kFloat && table.dim() == 2;
}

}  // namespace collab
