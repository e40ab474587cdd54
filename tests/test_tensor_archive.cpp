// The checkpoint format after its split into a tensor archive (train/src/tensor_archive.h) and
// the checkpoint schema (checkpoint.cpp): a checkpoint written before the split decodes and
// encodes again to the very same bytes.
#include <gtest/gtest.h>

#include <string>

#include "collab/common/error.h"
#include "collab/train/checkpoint.h"
#include "test_support.h"

namespace test_tensor_archive {

TEST(TensorArchive, CheckpointSeedReencodesToTheSameBytes) {
  const std::string path =
      std::string(COLLAB_SOURCE_DIR) + "/fuzz/corpus/checkpoint/tiny-checkpoint.bin";
  const std::string bytes = collab::test::read_text(path);
  const collab::Checkpoint c = collab::decode_checkpoint(bytes, path);
  EXPECT_TRUE(collab::encode_checkpoint(c) == bytes) << "the format changed";
}

TEST(TensorArchive, DamagedPayloadNamesTheFile) {
  try {
    collab::decode_checkpoint(collab::frame_checkpoint(std::string(8, '\0') + "x"), "f.ckpt");
    FAIL() << "no error";
  } catch (const collab::Error& e) {
    EXPECT_EQ(std::string(e.what()), "f.ckpt: not a valid collab checkpoint (its manifest is not "
                                     "valid JSON)");
  }
}

}  // namespace test_tensor_archive
