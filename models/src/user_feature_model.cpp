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

void check_shapes(const FeatureModelSide& side, const UserFeatureModel& m,
                  const std::string& where) {
  const std::string what = std::string("the ") + side.name + " feature model";
  if (m.columns.empty() || m.columns.size() > kMaxColumns) {
    throw Error(where + ": " + what + " has " + std::to_string(m.columns.size()) + " columns");
  }
  if (m.weight.dim() != 2 || m.weight.size(0) != static_cast<int64_t>(m.columns.size()) ||
      m.bias.dim() != 1 || m.bias.size(0) != m.weight.size(1) || m.bias.size(0) > kMaxDim) {
    throw Error(where + ": " + what + "'s weight and bias do not fit its " +
                std::to_string(m.columns.size()) + " columns");
  }
  if (!torch::isfinite(m.weight).all().item<bool>() ||
      !torch::isfinite(m.bias).all().item<bool>()) {
    throw Error(where + ": " + what + " holds NaN or infinite weights");
  }
}

// The export's attribute names: "user_feature_names", "item_metadata_weight", ...
std::string scripted(const FeatureModelSide& side, const std::string& what) {
  return std::string(side.attributes) + "_" + what;
}

}  // namespace

const FeatureModelSide kUserFeatureSide = {"user",        "user_feature",
                                           ".users.json", "collab-user-feature-model",
                                           "fit-users",   "\"age=25-34\", \"gender=F\", ..."};
const FeatureModelSide kItemFeatureSide = {"item",        "item_metadata",
                                           ".items.json", "collab-item-feature-model",
                                           "fit-items",   "\"Thriller\", \"1990s\", ..."};

torch::Tensor UserFeatureModel::predict(const torch::Tensor& x) const {
  return x.to(torch::kFloat).matmul(weight) + bias;
}

std::string feature_model_path(const FeatureModelSide& side, const std::string& checkpoint_path) {
  return checkpoint_path + side.file_suffix;
}

void save_feature_model(const FeatureModelSide& side, const UserFeatureModel& model,
                        const std::string& path) {
  check_shapes(side, model, path);
  const json out = {{"format", side.format},
                    {"version", 1},
                    {"columns", model.columns},
                    {"dim", model.bias.size(0)},
                    {"weight", values_of(model.weight)},
                    {"bias", values_of(model.bias)},
                    {"report", model.report}};
  write_file_atomically(path, out.dump(1) + "\n");
}

UserFeatureModel read_feature_model(const FeatureModelSide& side, const std::string& path) {
  const json in = parse_json_text(read_file(path, size_t{1} << 30), path);
  const std::string what = std::string("the ") + side.name + " feature model";
  UserFeatureModel m;
  try {
    if (!in.is_object() || in.value("format", "") != side.format) {
      throw Error(path + ": not a collab " + side.name + " feature model (no \"format\": \"" +
                  side.format + "\")");
    }
    m.columns = in.at("columns").get<std::vector<std::string>>();
    const int64_t dim = in.at("dim").get<int64_t>();
    const auto weight = in.at("weight").get<std::vector<double>>();
    const auto bias = in.at("bias").get<std::vector<double>>();
    if (dim <= 0 || dim > kMaxDim || bias.size() != static_cast<size_t>(dim) ||
        weight.size() != m.columns.size() * static_cast<size_t>(dim)) {
      throw Error(path + ": " + what + "'s \"weight\" and \"bias\" do not hold " +
                  std::to_string(m.columns.size()) + " x \"dim\" and \"dim\" numbers");
    }
    m.weight = torch::tensor(weight, torch::kDouble)
                   .reshape({static_cast<int64_t>(m.columns.size()), dim})
                   .to(torch::kFloat);
    m.bias = torch::tensor(bias, torch::kDouble).to(torch::kFloat);
    m.report = in.value("report", json::object());
  } catch (const json::exception& e) {
    throw Error(path + ": malformed " + side.name + " feature model (" + e.what() + ")");
  }
  check_shapes(side, m, path);
  return m;
}

void script_feature_model(const FeatureModelSide& side, const UserFeatureModel& model,
                          torch::jit::Module& m) {
  c10::List<std::string> names;
  for (const auto& c : model.columns) names.push_back(c);
  const std::string weight = scripted(side, "weight");
  const std::string bias = scripted(side, "bias");
  m.register_attribute(scripted(side, "names"), c10::ListType::ofStrings(), names);
  m.register_buffer(weight, model.weight.to(torch::kFloat).contiguous());
  m.register_buffer(bias, model.bias.to(torch::kFloat).contiguous());
  m.define("def " + std::string(side.name) + "_from_features" +
           "(self, x: Tensor) -> Tensor:\n"
           "    # x: one-hot over " +
           scripted(side, "names") + " (" + side.example + "), [F] or [N, F].\n" +
           "    return torch.matmul(x.to(self." + weight + ".dtype), self." + weight + ") + self." +
           bias + "\n");
}

bool read_scripted_feature_model(const FeatureModelSide& side, const torch::jit::Module& m,
                                 const std::string& path, UserFeatureModel& out) {
  const std::string names = scripted(side, "names");
  const std::string weight = scripted(side, "weight");
  const std::string bias = scripted(side, "bias");
  if (!m.hasattr(names)) return false;
  if (!m.hasattr(weight) || !m.hasattr(bias)) {
    throw Error(path + ": the export has " + names + " but no " + scripted(side, "weight/bias"));
  }
  for (const auto& v : m.attr(names).toListRef()) out.columns.push_back(v.toStringRef());
  out.weight = m.attr(weight).toTensor().to(torch::kFloat);
  out.bias = m.attr(bias).toTensor().to(torch::kFloat);
  check_shapes(side, out, path);
  return true;
}

}  // namespace collab
