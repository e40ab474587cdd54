// A test fixture for train's hand-written kernels (train/src/row_kernels.h, sgd_kernel.h): the
// test body runs once per kernel build this CPU offers (the portable one, and AVX-512 where the
// CPU has it; skipped elsewhere), and the default build is restored after.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "row_kernels.h"

class KernelBuilds : public ::testing::TestWithParam<bool> {
 public:
  // The name of a build in test names: "portable" or "avx512".
  static std::string name(const ::testing::TestParamInfo<bool>& info) {
    return info.param ? "avx512" : "portable";
  }

 protected:
  void SetUp() override {
    default_ = collab::row_kernels_use_avx512();
    collab::set_row_kernels_use_avx512(GetParam());
    if (GetParam() && !collab::row_kernels_use_avx512()) GTEST_SKIP() << "no AVX-512 (F and CD) here";
  }
  void TearDown() override { collab::set_row_kernels_use_avx512(default_); }

 private:
  bool default_ = false;
};
