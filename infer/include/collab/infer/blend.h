// A blend of trained models (`compare`'s "blend" section): the predicted rating is an intercept
// plus a weighted sum of the models' predicted ratings, the weights fitted by least squares on
// ratings none of the models trained on (an inner validation split of the training part), so the
// blend learns how far to trust each model rather than memorising the training ratings. A small
// ridge keeps near-identical models (two seeds of one architecture) well-posed.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "collab/common/config_reader.h"
#include "collab/data/dataset.h"
#include "collab/models/collab_model.h"

namespace collab {

// Feature-weighted linear stacking (Sill et al. 2009): the weights may vary with per-rating
// meta-features, because a model's error depends on how much it saw of the user and the item.
// Each feature is log(1 + the number of training ratings of the rating's user or item): counted
// on the ratings the blended models trained on, so it measures the evidence behind them.
enum class BlendFeature { kUserSupport, kItemSupport };

// "user_support" or "item_support"; throws collab::Error naming `key` and the value otherwise.
BlendFeature blend_feature(const std::string& name, const std::string& key);
std::string blend_feature_name(BlendFeature feature);

// The "features" array of a blend section (compare's, tune's), checked: errors name its key.
std::vector<BlendFeature> read_blend_features(ConfigReader& section);
// The same as names, for reports and configs.
json blend_feature_names(const std::vector<BlendFeature>& features);

// Training ratings per user and per item (float, [n_users] and [n_items]).
struct BlendSupport {
  torch::Tensor user_counts;
  torch::Tensor item_counts;
};

// How many of `ratings` each of `data`'s users and items has.
BlendSupport blend_support(const Dataset& data, const Ratings& ratings);

// The features of the (user, item) rows of `x` [n, 2]: [n, features.size()].
torch::Tensor blend_feature_values(const std::vector<BlendFeature>& features,
                                   const BlendSupport& support, const torch::Tensor& x);

struct BlendWeights {
  std::vector<double> weights;  // one per model
  double intercept = 0;
  // With features: feature_weights[m][j] is added to model m's weight per unit of feature j,
  // feature_intercepts[j] to the intercept. Empty without features.
  std::vector<std::vector<double>> feature_weights;
  std::vector<double> feature_intercepts;
};

// Least squares of `targets` [n] on the columns `predictions` (each [n]) and a constant, with
// `ridge` * n added to the weights' diagonal (not the intercept's). Throws collab::Error for no
// models, columns of another length, or fewer rows than unknowns.
BlendWeights fit_blend(const std::vector<torch::Tensor>& predictions, const torch::Tensor& targets,
                       double ridge);

// The same with features [n, F] (F may be 0): the columns are each prediction, each prediction
// times each feature, each feature, and the constant.
BlendWeights fit_blend(const std::vector<torch::Tensor>& predictions, const torch::Tensor& features,
                       const torch::Tensor& targets, double ridge);

// The blend's predictions of rows with `predictions` and `features` ([n, F], F may be 0).
torch::Tensor apply_blend(const BlendWeights& weights, const std::vector<torch::Tensor>& predictions,
                          const torch::Tensor& features);

// The RMSE of the blend fitted on all rows but every `folds`-th and scored on those, over the
// `folds` shifts: how well the blend's form generalises, measured without any test rating.
double cross_validated_blend_rmse(const std::vector<torch::Tensor>& predictions,
                                  const torch::Tensor& features, const torch::Tensor& targets,
                                  double ridge, int64_t folds);

// Greedy forward selection (Caruana et al. 2004, with the weights refitted at each step): from
// `candidates` (each model's predictions of the same rows), the model whose addition lowers
// cross_validated_blend_rmse most, again and again, until no addition lowers it by more than
// `min_gain` or `max_models` are chosen. Selecting on cross-validated rather than fitted error is
// what keeps a near-duplicate of a chosen model out: it adds weights, not information.
struct BlendSelection {
  std::vector<size_t> chosen;    // indices into the candidates, in the order chosen
  std::vector<double> cv_rmse;   // the cross-validated RMSE after each choice
};
BlendSelection select_blend(const std::vector<torch::Tensor>& candidates,
                            const torch::Tensor& features, const torch::Tensor& targets,
                            double ridge, int64_t folds, size_t max_models, double min_gain);

// The blend as a model: forward() is the weighted sum of the models' forward(), so every metric
// and ranking of a model applies to it. Not exportable (script_into throws).
class BlendedModelImpl : public CollabModelImpl {
 public:
  BlendedModelImpl(std::vector<CollabModel> models, BlendWeights weights);
  // With features: `support` counts the ratings the models trained on.
  BlendedModelImpl(std::vector<CollabModel> models, BlendWeights weights,
                   std::vector<BlendFeature> features, BlendSupport support);
  torch::Tensor forward(torch::Tensor x) override;
  std::string arch() const override { return "Blend"; }
  std::optional<YRange> y_range() const override { return std::nullopt; }
  void script_into(torch::jit::Module& m) const override;

 private:
  std::vector<CollabModel> models_;
  BlendWeights weights_;
  std::vector<BlendFeature> features_;
  BlendSupport support_;  // registered as buffers, so that to(device) moves them
};

}  // namespace collab
