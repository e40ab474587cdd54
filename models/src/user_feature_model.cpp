#include "collab/models/user_feature_model.h"

#include "collab/common/error.h"
#include "collab/common/file_io.h"

namespace collab {

namespace {

// Bounds on what a file may claim, so a corrupt one cannot ask for gigabytes.
constexpr size_t kMaxColumns = 100000;
constexpr int64_t kMaxDim = 100000;

std::vector<double> values_of(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kDouble).contiguous().reshape({-1});
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

void check_shapes(const UserFeatureModel& m, const std::string& where) {
  if (m.columns.empty() || m.columns.size() > kMaxColumns) {
    throw Error(where + ": the user feature model has " + std::to_string(m.columns.size()) +
                " columns");
  }
  if (m.weight.dim() != 2 || m.weight.size(0) != static_cast<int64_t>(m.columns.size()) ||
      m.bias.dim() != 1 || m.bias.size(0) != m.weight.size(1) || m.bias.size(0) > kMaxDim) {
    throw Error(where + ": the user feature model's weight and bias do not fit its " +
                std::to_string(m.columns.size()) + " columns");
  }
  if (!torch::isfinite(m.weight).all().item<bool>() ||
      !torch::isfinite(m.bias).all().item<bool>()) {
    throw Error(where + ": the user feature model holds NaN or infinite weights");
  }
}

}  // namespace

torch::Tensor UserFeatureModel::predict(const torch::Tensor& x) const {
  return x.to(torch::kFloat).matmul(weight) + bias;
}

std::string user_feature_model_path(const std::string& checkpoint_path) {
  return checkpoint_path + ".users.json";
}

void save_user_feature_model(const UserFeatureModel& model, const std::string& path) {
  check_shapes(model, path);
  const json out = {{"format", "collab-user-feature-model"},
                    {"version", 1},
                    {"columns", model.columns},
                    {"dim", model.bias.size(0)},
                    {"weight", values_of(model.weight)},
                    {"bias", values_of(model.bias)},
                    {"report", model.report}};
  write_file_atomically(path, out.dump(1) + "\n");
}

UserFeatureModel read_user_feature_model(const std::string& path) {
  const json in = parse_json_text(read_file(path, size_t{1} << 30), path);
  UserFeatureModel m;
  try {
    if (!in.is_object() || in.value("format", "") != "collab-user-feature-model") {
      throw Error(path +
                  ": not a collab user feature model (no \"format\": "
                  "\"collab-user-feature-model\")");
    }
    m.columns = in.at("columns").get<std::vector<std::string>>();
    const int64_t dim = in.at("dim").get<int64_t>();
    const auto weight = in.at("weight").get<std::vector<double>>();
    const auto bias = in.at("bias").get<std::vector<double>>();
    if (dim <= 0 || dim > kMaxDim || bias.size() != static_cast<size_t>(dim) ||
        weight.size() != m.columns.size() * static_cast<size_t>(dim)) {
      throw Error(path + ": the user feature model's \"weight\" and \"bias\" do not hold " +
                  std::to_string(m.columns.size()) + " x \"dim\" and \"dim\" numbers");
    }
    m.weight = torch::tensor(weight, torch::kDouble)
                   .reshape({static_cast<int64_t>(m.columns.size()), dim})
                   .to(torch::kFloat);
    m.bias = torch::tensor(bias, torch::kDouble).to(torch::kFloat);
    m.report = in.value("report", json::object());
  } catch (const json::exception& e) {
    throw Error(path + ": malformed user feature model (" + e.what() + ")");
  }
  check_shapes(m, path);
  return m;
}

void script_user_feature_model(const UserFeatureModel& model, torch::jit::Module& m) {
  c10::List<std::string> names;
  for (const auto& c : model.columns) names.push_back(c);
  m.register_attribute("user_feature_names", c10::ListType::ofStrings(), names);
  m.register_buffer("user_feature_weight", model.weight.to(torch::kFloat).contiguous());
  m.register_buffer("user_feature_bias", model.bias.to(torch::kFloat).contiguous());
  m.define(R"JIT(
def user_from_features(self, x: Tensor) -> Tensor:
    # x: one-hot over user_feature_names ("age=25-34", "gender=F", ...), [F] or [N, F].
    return torch.matmul(x.to(self.user_feature_weight.dtype), self.user_feature_weight) + self.user_feature_bias
)JIT");
}

bool read_scripted_user_feature_model(const torch::jit::Module& m, const std::string& path,
                                      UserFeatureModel& out) {
  if (!m.hasattr("user_feature_names")) return false;
  if (!m.hasattr("user_feature_weight") || !m.hasattr("user_feature_bias")) {
    throw Error(path + ": the export has user_feature_names but no user_feature_weight/bias");
  }
  for (const auto& v : m.attr("user_feature_names").toListRef()) {
    out.columns.push_back(v.toStringRef());
  }
  out.weight = m.attr("user_feature_weight").toTensor().to(torch::kFloat);
  out.bias = m.attr("user_feature_bias").toTensor().to(torch::kFloat);
  check_shapes(out, path);
  return true;
}

}  // namespace collab
