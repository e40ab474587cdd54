// Upper bounds on the model sizes a config may ask for. Every model section is first checked by
// building the model on a 1x1 stand-in of the data; without bounds a typo such as
// "n_factors": 100000000000 asked for 400 GB right there and ended in an out-of-memory abort (or
// a LibTorch allocator message naming no key) instead of a config error.
#pragma once

#include <cstdint>

namespace collab {

// n_factors, CollabNN's embedding sizes and each of its hidden layers.
constexpr int64_t kMaxModelWidth = int64_t{1} << 16;
// CollabNN's dense weights (embeddings to the first layer, between layers, to the output),
// counting each default embedding size as its largest (600): 2^27 floats, 512 MiB.
constexpr int64_t kMaxDenseWeights = int64_t{1} << 27;

}  // namespace collab
