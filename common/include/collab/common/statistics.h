// Mean and sample standard deviation of a few numbers (folds, seeds): what every "mean ± sd"
// table and band in collab's reports shows.
#pragma once

#include <cmath>
#include <vector>

namespace collab {

struct MeanSd {
  double mean = 0;
  double sd = 0;  // sample standard deviation (n - 1); 0 for one value
};

// Of `v`; {0, 0} when it is empty. A NaN among the values makes both NaN.
inline MeanSd mean_sd(const std::vector<double>& v) {
  MeanSd r;
  if (v.empty()) return r;
  for (const double x : v) r.mean += x;
  r.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (const double x : v) ss += (x - r.mean) * (x - r.mean);
    r.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return r;
}

}  // namespace collab
