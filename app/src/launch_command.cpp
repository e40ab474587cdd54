// `collab launch --nproc N [options] -- COMMAND ARGS...`: torchrun for one machine. Starts N
// copies of this executable running COMMAND (fork and exec, no shell) with the rendezvous in
// their environment (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE),
// forwards their output line by line prefixed with the rank, and waits. When a worker fails the
// others are stopped (SIGTERM, then SIGKILL after a grace period) and launch exits with the
// failed worker's code.
//
// The workers run in a process group of their own, so a Ctrl-C at the terminal reaches launch
// alone, which passes each SIGINT/SIGTERM it gets on to every worker: the first makes them stop
// together after a step with a checkpoint (as one `collab train` does), a second makes them exit
// at once. Had the terminal signalled the workers too, launch's forwarded signal would have been
// their second. Workers also get SIGTERM should launch itself die.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "collab/app/commands.h"
#include "collab/app/interrupt.h"
#include "collab/common/cli.h"
#include "collab/common/error.h"

extern char** environ;

namespace collab {

namespace {

// A TCP port nobody listens on now (the kernel picks it); another program could take it before
// rank 0 binds it, a race torchrun's default port shares.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("launch: cannot open a socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw Error(std::string("launch: cannot find a free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string self_executable() {
  std::vector<char> path(4096);
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (n <= 0) throw Error("launch: cannot find this executable (/proc/self/exe)");
  return std::string(path.data(), static_cast<size_t>(n));
}

// One stream of one worker, forwarded whole line by whole line.
struct Stream {
  int fd = -1;
  int rank = 0;
  bool forward = true;
  std::ostream* out = nullptr;
  std::string pending;

  void emit(const std::string& line) {
    if (forward) *out << "[rank " << rank << "] " << line << "\n" << std::flush;
  }
  // Reads what is there; returns false at end of stream.
  bool drain() {
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
      if (!pending.empty()) emit(pending);
      pending.clear();
      ::close(fd);
      fd = -1;
      return false;
    }
    pending.append(buffer, static_cast<size_t>(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      emit(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
    return true;
  }
};

struct Worker {
  pid_t pid = -1;
  int rank = 0;
  bool running = true;
  int code = 0;  // exit code, or 128 + signal
};

std::string describe_status(int code) {
  return code > 128 ? "was killed by signal " + std::to_string(code - 128)
                    : "exited with code " + std::to_string(code);
}

// What the command line asks: the workers' count, rendezvous and output, and their command.
struct LaunchOptions {
  int nproc = 1;
  std::string addr;
  int port = 0;
  bool all_output = true;  // every rank's stdout, or rank 0's only
  int grace = 5;
  std::vector<std::string> command;  // the workers' argv after "collab"
};

// The master port: --master-port, else $MASTER_PORT, else one the kernel picks.
int master_port(const cxxopts::ParseResult& args) {
  int port = 0;
  if (args.count("master-port")) {
    port = args["master-port"].as<int>();
  } else if (const char* env_port = std::getenv("MASTER_PORT"); env_port && *env_port) {
    port = std::atoi(env_port);
  } else {
    port = free_port();
  }
  if (port < 1 || port > 65535) {
    throw std::invalid_argument("--master-port: expected 1 to 65535, got " + std::to_string(port));
  }
  return port;
}

// Reads launch's own options (before "--") and the command after it. nullopt: --help was printed.
std::optional<LaunchOptions> parse_launch_args(int argc, char** argv) {
  int split = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      split = i;
      break;
    }
  }
  cxxopts::Options options("collab launch",
                           "Run N local workers of a distributed command, as torchrun does:\n"
                           "  collab launch --nproc 2 -- train CONFIG [--run-dir DIR]");
  options.add_options()("nproc", "number of worker processes",
                        cxxopts::value<int>()->default_value("1"))(
      "master-addr", "rendezvous host (MASTER_ADDR)",
      cxxopts::value<std::string>()->default_value("127.0.0.1"))(
      "master-port", "rendezvous port (MASTER_PORT; default: $MASTER_PORT, else a free port)",
      cxxopts::value<int>())("output", "all: every rank's output; rank0: stdout of rank 0 only",
                             cxxopts::value<std::string>()->default_value("all"))(
      "grace", "seconds a worker gets after SIGTERM before SIGKILL",
      cxxopts::value<int>()->default_value("5"));
  // Launch's own options come before "--"; the workers' command after it.
  const CommandLine line = parse_command_line(
      options, split, argv,
      {"launch", "collab launch [--nproc N] [options] -- COMMAND ARGS...", "", 0, 0, ""});
  if (line.help) return std::nullopt;
  const cxxopts::ParseResult& args = line.options;
  if (split + 1 >= argc) {
    throw std::invalid_argument(
        "need a command after --, e.g. collab launch --nproc 2 -- train "
        "CONFIG");
  }
  LaunchOptions launch;
  launch.nproc = args["nproc"].as<int>();
  if (launch.nproc < 1 || launch.nproc > 1024) {
    throw std::invalid_argument("--nproc: expected 1 to 1024 workers, got " +
                                std::to_string(launch.nproc));
  }
  const std::string output = args["output"].as<std::string>();
  if (output != "all" && output != "rank0") {
    throw std::invalid_argument("--output: expected all or rank0, got \"" + output + "\"");
  }
  launch.all_output = output == "all";
  launch.grace = args["grace"].as<int>();
  launch.port = master_port(args);
  launch.addr = args["master-addr"].as<std::string>();
  for (int i = split + 1; i < argc; ++i) launch.command.emplace_back(argv[i]);
  return launch;
}

// This process's environment without the rendezvous variables launch sets for each worker.
std::vector<std::string> inherited_environment() {
  const std::vector<std::string> ours = {"MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE",
                                         "RANK",        "LOCAL_RANK",  "LOCAL_WORLD_SIZE",
                                         "GROUP_RANK",  "ROLE_RANK"};
  std::vector<std::string> inherited;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& o : ours) replaced = replaced || name == o;
    if (!replaced) inherited.push_back(entry);
  }
  return inherited;
}

// The running workers and their output streams.
struct Workers {
  std::vector<Worker> workers;
  std::vector<Stream> streams;
};

// Starts worker `rank` (fork and exec of `exe`, no shell) in a process group of its own, its
// stdout and stderr piped back to launch. Argv and environment are built before the fork: after
// it, the child only execs.
void start_worker(const LaunchOptions& launch, const std::string& exe,
                  const std::vector<std::string>& inherited, int rank, Workers& out) {
  std::vector<std::string> worker_args = {"collab"};
  worker_args.insert(worker_args.end(), launch.command.begin(), launch.command.end());
  std::vector<char*> worker_argv;
  for (auto& a : worker_args) worker_argv.push_back(a.data());
  worker_argv.push_back(nullptr);
  std::vector<std::string> env = inherited;
  env.push_back("MASTER_ADDR=" + launch.addr);
  env.push_back("MASTER_PORT=" + std::to_string(launch.port));
  env.push_back("WORLD_SIZE=" + std::to_string(launch.nproc));
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("LOCAL_RANK=" + std::to_string(rank));
  env.push_back("LOCAL_WORLD_SIZE=" + std::to_string(launch.nproc));
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw Error(std::string("launch: pipe failed: ") + std::strerror(errno));
  }
  const pid_t launcher = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(std::string("launch: fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    // A dead launcher's workers stop as if interrupted, rather than train on unwatched; if it
    // died before this call, there is nobody to report to.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != launcher) ::_exit(1);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execve(exe.c_str(), worker_argv.data(), envp.data());
    const char message[] = "collab launch: exec failed\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here, so no signal can find the worker still in our group
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  out.workers.push_back({pid, rank, true, 0});
  out.streams.push_back({out_pipe[0], rank, launch.all_output || rank == 0, &std::cout, {}});
  out.streams.push_back({err_pipe[0], rank, true, &std::cerr, {}});
}

// Forwards what the streams hold, for up to 100 ms; drops the streams that ended.
void forward_output(std::vector<Stream>& streams) {
  std::vector<pollfd> fds;
  for (const auto& s : streams) fds.push_back({s.fd, POLLIN, 0});
  if (::poll(fds.data(), fds.size(), 100) <= 0) return;
  std::vector<Stream> open;
  for (size_t i = 0; i < streams.size(); ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) && !streams[i].drain()) continue;
    open.push_back(std::move(streams[i]));
  }
  streams = std::move(open);
}

// Watches the workers until all have exited and their output is forwarded: the first to fail
// stops the others (SIGTERM, then SIGKILL after the grace period); the user's interrupts are
// passed on. Returns the failed worker's code, 128 + the interrupting signal, or 0.
int supervise(Workers& w, int grace) {
  int failed_code = 0;
  bool stopping = false;
  int forwarded = 0;  // interrupts passed on to the workers
  std::chrono::steady_clock::time_point kill_at = std::chrono::steady_clock::time_point::max();
  auto stop_all = [&](int signal) {
    for (const auto& worker : w.workers) {
      if (worker.running) ::kill(worker.pid, signal);
    }
  };
  size_t running = w.workers.size();
  while (running > 0 || !w.streams.empty()) {
    forward_output(w.streams);
    for (auto& worker : w.workers) {
      if (!worker.running) continue;
      int status = 0;
      if (::waitpid(worker.pid, &status, WNOHANG) != worker.pid) continue;
      worker.running = false;
      --running;
      worker.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (worker.code != 0 && !stopping) {
        failed_code = worker.code;
        std::cerr << "collab launch: rank " << worker.rank << " " << describe_status(worker.code)
                  << "; stopping the other workers\n";
      }
    }
    if (interrupt_count() > forwarded) {
      // The user's interrupt, passed on: the workers checkpoint and exit in their own time (a
      // second interrupt makes them exit at once), so no SIGKILL deadline.
      forwarded = interrupt_count();
      if (!stopping) failed_code = 128 + interrupt_signal();
      stopping = true;
      stop_all(interrupt_signal());
    } else if (!stopping && failed_code != 0) {
      stopping = true;
      stop_all(SIGTERM);
      kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(grace);
    }
    if (stopping && running > 0 && std::chrono::steady_clock::now() >= kill_at) {
      stop_all(SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
  }
  return failed_code;
}

}  // namespace

int launch_command(int argc, char** argv) {
  const std::optional<LaunchOptions> launch = parse_launch_args(argc, argv);
  if (!launch) return 0;
  const std::string exe = self_executable();
  const std::vector<std::string> inherited = inherited_environment();
  install_interrupt_handlers(InterruptMode::kRecordOnly);
  Workers workers;
  for (int rank = 0; rank < launch->nproc; ++rank) {
    start_worker(*launch, exe, inherited, rank, workers);
  }
  std::cerr << "collab launch: " << launch->nproc << " workers, rendezvous " << launch->addr << ":"
            << launch->port << "\n";
  return supervise(workers, launch->grace);
}

}  // namespace collab
