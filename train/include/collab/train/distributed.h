// Data-parallel training across processes: torchrun-style rendezvous from the environment and a
// c10d process group (Gloo on CPU, NCCL on CUDA builds) with the collectives the trainer needs.
// C++ LibTorch has no DistributedDataParallel, so the trainer sums gradients itself through
// Collective::allreduce_sum, which packs many tensors into a few flat buffers per call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "collab/train/train_config.h"

namespace collab {

// Where this worker stands, as torchrun (and `collab launch`) describe it in the environment:
// MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE.
struct DistributedEnv {
  std::string master_addr;
  int port = 29500;
  int world_size = 1;
  int rank = 0;
  int local_rank = 0;
  int local_world_size = 1;
};

// The environment's rendezvous, or nullopt when WORLD_SIZE is unset or 1 (a plain run). Throws
// collab::Error naming the variable that is missing or malformed.
std::optional<DistributedEnv> distributed_env_from_environment();

// Whether this build links c10d with Gloo (CMake found the headers and symbols).
bool distributed_available();

// A connected process group. All ranks must call the collectives in the same order.
class Collective {
 public:
  virtual ~Collective() = default;
  // Meets the other ranks through a TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 serves it) and
  // builds the configured backend. Throws collab::Error when the build has no distributed
  // support, the backend is unavailable, or the others do not arrive within config.timeout_s.
  static std::unique_ptr<Collective> connect(const DistributedEnv& env,
                                             const DistributedConfig& config,
                                             const torch::Device& device);

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  const DistributedEnv& env() const { return env_; }

  // Sums `tensors` (contiguous, on one device) over all ranks in place. They are packed into
  // flat buffers of at most `bucket_bytes` each, one allreduce per buffer, all in flight at once.
  void allreduce_sum(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes = 25 << 20);
  // Copies rank `root`'s `tensors` into every other rank's, packed like allreduce_sum.
  void broadcast(const std::vector<torch::Tensor>& tensors, int root = 0);
  // Sends `out` (contiguous) to rank `to` while receiving `in` (contiguous, sized by the caller)
  // from rank `from`, both under `tag`; returns when both are done. Point to point: the sparse
  // path's item blocks move to one neighbour each round (sparse_train.h).
  void send_receive(const torch::Tensor& out, int to, torch::Tensor& in, int from, int tag);
  // Bytes this rank has handed to the network so far: the payloads of send_receive and, for
  // allreduce_sum, 2 (W - 1) / W of each buffer (a ring allreduce's share per rank, Gloo's
  // algorithm for CPU sums). Broadcasts are not counted.
  int64_t bytes_sent() const { return bytes_sent_; }

 protected:
  Collective(DistributedEnv env, int64_t timeout_s) : env_(std::move(env)), timeout_s_(timeout_s) {}
  // One collective per flat buffer, started together and waited for together.
  virtual void allreduce_flat(std::vector<torch::Tensor>& buffers) = 0;
  virtual void broadcast_flat(std::vector<torch::Tensor>& buffers, int root) = 0;
  virtual void send_receive_flat(torch::Tensor& out, int to, torch::Tensor& in, int from,
                                 int tag) = 0;

  // Rethrows a backend failure as a collab::Error saying which rank saw it and what to suspect.
  [[noreturn]] void fail(const std::string& what, const std::exception& cause) const;

  DistributedEnv env_;
  int64_t timeout_s_;
  int64_t bytes_sent_ = 0;
};

}  // namespace collab
