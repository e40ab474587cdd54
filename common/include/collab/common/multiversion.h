// COLLAB_MULTIVERSION: a function so marked is built for AVX2/FMA machines too, picked at load
// time, while the binary still runs on any x86-64 (the hand-written kernels of train/ and
// infer/ use it).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define COLLAB_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define COLLAB_MULTIVERSION
#endif
