#include "collab/train/distributed.h"

#include <cstdlib>
#include <sstream>

#include <torch/version.h>

#include "collab/common/error.h"
#include "collab/common/utf8.h"

// The c10d headers compile their backends only under these macros; CMake defines
// COLLAB_WITH_GLOO / COLLAB_WITH_NCCL after checking that the headers and symbols exist.
#ifdef COLLAB_WITH_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef COLLAB_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#if defined(COLLAB_WITH_GLOO) || defined(COLLAB_WITH_NCCL)
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace collab {

namespace {

std::optional<std::string> env_var(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

int env_int(const char* name, std::optional<int> fallback, int min, int max) {
  const auto text = env_var(name);
  if (!text) {
    if (fallback) return *fallback;
    throw Error(std::string("distributed run (WORLD_SIZE is set): the environment variable ") +
                name + " is missing (set it as torchrun does, or use collab launch)");
  }
  char* end = nullptr;
  const long value = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || *end != '\0' || value < min || value > max) {
    throw Error(std::string("environment variable ") + name + "=" + quoted_for_message(*text) +
                ": expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
                "]");
  }
  return static_cast<int>(value);
}

}  // namespace

std::optional<DistributedEnv> distributed_env_from_environment() {
  if (!env_var("WORLD_SIZE")) return std::nullopt;
  DistributedEnv env;
  env.world_size = env_int("WORLD_SIZE", std::nullopt, 1, 1 << 20);
  if (env.world_size == 1) return std::nullopt;
  env.rank = env_int("RANK", std::nullopt, 0, env.world_size - 1);
  env.local_rank = env_int("LOCAL_RANK", 0, 0, env.world_size - 1);
  env.local_world_size = env_int("LOCAL_WORLD_SIZE", 1, 1, env.world_size);
  env.port = env_int("MASTER_PORT", std::nullopt, 1, 65535);
  const auto addr = env_var("MASTER_ADDR");
  if (!addr) {
    throw Error(
        "distributed run (WORLD_SIZE is set): the environment variable MASTER_ADDR is "
        "missing (the host of rank 0)");
  }
  env.master_addr = *addr;
  return env;
}

bool distributed_available() {
#ifdef COLLAB_WITH_GLOO
  return true;
#else
  return false;
#endif
}

void Collective::fail(const std::string& what, const std::exception& cause) const {
  std::string message = cause.what();
  if (const auto pos = message.find("\nException raised from"); pos != std::string::npos) {
    message.resize(pos);
  }
  throw Error("rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size) +
              ": " + what + " failed: " + message + " (another worker died or stopped " +
              "responding; train.distributed.timeout_s is " + std::to_string(timeout_s_) + ")");
}

namespace {

// Consecutive runs of tensors of one dtype, at most `bucket_bytes` each (a larger tensor is a
// bucket of its own).
std::vector<std::vector<torch::Tensor>> buckets_of(const std::vector<torch::Tensor>& tensors,
                                                   int64_t bucket_bytes) {
  std::vector<std::vector<torch::Tensor>> buckets;
  int64_t bytes = 0;
  for (const auto& t : tensors) {
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    if (buckets.empty() || buckets.back().front().scalar_type() != t.scalar_type() ||
        bytes + size > bucket_bytes) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(t);
    bytes += size;
  }
  return buckets;
}

torch::Tensor flatten(const std::vector<torch::Tensor>& bucket) {
  std::vector<torch::Tensor> flat;
  flat.reserve(bucket.size());
  for (const auto& t : bucket) flat.push_back(t.reshape({-1}));
  return torch::cat(flat);
}

void unflatten(const torch::Tensor& flat, const std::vector<torch::Tensor>& bucket) {
  int64_t offset = 0;
  for (const auto& t : bucket) {
    t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

}  // namespace

void Collective::allreduce_sum(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  const auto buckets = buckets_of(tensors, bucket_bytes);
  std::vector<torch::Tensor> flat;
  for (const auto& b : buckets) flat.push_back(flatten(b));
  allreduce_flat(flat);
  for (size_t i = 0; i < buckets.size(); ++i) unflatten(flat[i], buckets[i]);
  const int64_t w = env_.world_size;
  for (const auto& f : flat) {
    bytes_sent_ += f.numel() * static_cast<int64_t>(f.element_size()) * 2 * (w - 1) / w;
  }
}

void Collective::send_receive(const torch::Tensor& out, int to, torch::Tensor& in, int from,
                              int tag) {
  torch::Tensor sent = out;
  send_receive_flat(sent, to, in, from, tag);
  bytes_sent_ += out.numel() * static_cast<int64_t>(out.element_size());
}

void Collective::broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  torch::NoGradGuard no_grad;
  const auto buckets = buckets_of(tensors, 25 << 20);
  std::vector<torch::Tensor> flat;
  for (const auto& b : buckets) flat.push_back(flatten(b));
  broadcast_flat(flat, root);
  for (size_t i = 0; i < buckets.size(); ++i) unflatten(flat[i], buckets[i]);
}

#if defined(COLLAB_WITH_GLOO) || defined(COLLAB_WITH_NCCL)

namespace {

// LibTorch 2 split the backends (ProcessGroupGloo, ProcessGroupNCCL) from ProcessGroup into
// c10d::Backend; both bases offer the collectives used here with the same signatures.
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

class C10dCollective : public Collective {
 public:
  C10dCollective(DistributedEnv env, int64_t timeout_s, c10::intrusive_ptr<c10d::Store> store,
                 c10::intrusive_ptr<BackendBase> backend)
      : Collective(std::move(env), timeout_s),
        store_(std::move(store)),
        backend_(std::move(backend)) {}

 protected:
  void allreduce_flat(std::vector<torch::Tensor>& buffers) override {
    try {
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      std::vector<std::vector<at::Tensor>> args;
      args.reserve(buffers.size());
      for (auto& b : buffers) {
        args.push_back({b});
        works.push_back(backend_->allreduce(args.back()));
      }
      for (auto& w : works) w->wait();
    } catch (const std::exception& e) {
      fail("allreduce", e);
    }
  }

  void broadcast_flat(std::vector<torch::Tensor>& buffers, int root) override {
    try {
      std::vector<c10::intrusive_ptr<c10d::Work>> works;
      std::vector<std::vector<at::Tensor>> args;
      args.reserve(buffers.size());
      c10d::BroadcastOptions options;
      options.rootRank = root;
      for (auto& b : buffers) {
        args.push_back({b});
        works.push_back(backend_->broadcast(args.back(), options));
      }
      for (auto& w : works) w->wait();
    } catch (const std::exception& e) {
      fail("broadcast", e);
    }
  }

  void send_receive_flat(torch::Tensor& out, int to, torch::Tensor& in, int from,
                         int tag) override {
    try {
      std::vector<at::Tensor> sent = {out}, received = {in};
      auto send = backend_->send(sent, to, tag);
      auto receive = backend_->recv(received, from, tag);
      send->wait();
      receive->wait();
    } catch (const std::exception& e) {
      fail("send/receive", e);
    }
  }

 private:
  c10::intrusive_ptr<c10d::Store> store_;  // kept alive: rank 0's serves the others
  c10::intrusive_ptr<BackendBase> backend_;
};

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

#ifdef COLLAB_WITH_GLOO
c10::intrusive_ptr<BackendBase> make_gloo(const c10::intrusive_ptr<c10d::Store>& store,
                                          const DistributedEnv& env,
                                          std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  // As torch.distributed: GLOO_SOCKET_IFNAME (comma-separated interfaces) when set, else the
  // address this host's name resolves to. A run whose master is on loopback stays on loopback.
  if (const char* names = std::getenv("GLOO_SOCKET_IFNAME"); names != nullptr && *names) {
    std::stringstream list(names);
    for (std::string name; std::getline(list, name, ',');) {
      if (!name.empty()) {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
      }
    }
  } else if (is_loopback(env.master_addr)) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
}
#endif

#ifdef COLLAB_WITH_NCCL
c10::intrusive_ptr<BackendBase> make_nccl(const c10::intrusive_ptr<c10d::Store>& store,
                                          const DistributedEnv& env,
                                          std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, options);
}
#endif

}  // namespace

#endif

std::unique_ptr<Collective> Collective::connect(const DistributedEnv& env,
                                                const DistributedConfig& config,
                                                const torch::Device& device) {
  const bool nccl = config.backend == "nccl";
  if (nccl && !device.is_cuda()) {
    throw Error("train.distributed.backend \"nccl\" needs train.device on CUDA (it is " +
                device.str() + "); use \"gloo\" on the CPU");
  }
  if (!nccl && device.is_cuda()) {
    throw Error("train.distributed.backend \"gloo\" reduces CPU tensors here; train.device is " +
                device.str() + ": use \"nccl\" on CUDA");
  }
#if defined(COLLAB_WITH_GLOO) || defined(COLLAB_WITH_NCCL)
#ifndef COLLAB_WITH_NCCL
  if (nccl) {
    throw Error(
        "train.distributed.backend \"nccl\": this build has no NCCL support (it needs a "
        "CUDA build of LibTorch with NCCL); use \"gloo\"");
  }
#endif
#ifndef COLLAB_WITH_GLOO
  if (!nccl) throw Error("train.distributed.backend \"gloo\": this build has no Gloo support");
#endif
  const std::chrono::milliseconds timeout(config.timeout_s * 1000);
  const std::string where = env.master_addr + ":" + std::to_string(env.port);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(env.port);
    options.isServer = env.rank == 0;
    options.numWorkers = static_cast<std::size_t>(env.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (const auto pos = message.find("\nException raised from"); pos != std::string::npos) {
      message.resize(pos);
    }
    throw Error("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                ": the rendezvous at MASTER_ADDR:MASTER_PORT " + where + " failed within " +
                std::to_string(config.timeout_s) + " s (train.distributed.timeout_s): " + message);
  }
  c10::intrusive_ptr<BackendBase> backend;
  try {
#ifdef COLLAB_WITH_NCCL
    if (nccl) backend = make_nccl(store, env, timeout);
#endif
#ifdef COLLAB_WITH_GLOO
    if (!nccl) backend = make_gloo(store, env, timeout);
#endif
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (const auto pos = message.find("\nException raised from"); pos != std::string::npos) {
      message.resize(pos);
    }
    throw Error("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                ": connecting the " + config.backend + " process group through " + where +
                " failed within " + std::to_string(config.timeout_s) +
                " s (train.distributed.timeout_s; did every rank start?): " + message);
  }
  return std::unique_ptr<Collective>(
      new C10dCollective(env, config.timeout_s, std::move(store), std::move(backend)));
#else
  (void)env;
  (void)config;
  throw Error(
      "WORLD_SIZE asks for a distributed run, but this build has no distributed support "
      "(LibTorch without c10d/Gloo, or the Gloo headers were missing at configure time: "
      "install libgloo-dev and reconfigure)");
#endif
}

}  // namespace collab
