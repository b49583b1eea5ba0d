// sd_notify_probe: plays systemd's side of Type=notify for one daemon process and checks what it says.
//   sd_notify_probe --notify-socket PATH --expect-socket PATH [--watchdog-usec N] [--sighup] -- COMMAND [ARGS...]
// Binds a datagram socket at --notify-socket (SO_PASSCRED on), starts COMMAND with NOTIFY_SOCKET set (and
// WATCHDOG_USEC plus WATCHDOG_PID = the child's pid with --watchdog-usec), then asserts:
//   - every message comes from the main process (NotifyAccess=main drops the others);
//   - READY=1 arrives once at start-up (later only to end a RELOADING=1), and when it does the Unix socket
//     --expect-socket accepts connections;
//   - STATUS= is sent;
//   - with --watchdog-usec: at least 3 WATCHDOG=1 within the first second after READY=1;
//   - with --sighup: after SIGHUP (ExecReload=) the daemon keeps running and --expect-socket still accepts;
//   - after SIGTERM, STOPPING=1 arrives and the daemon exits with status 0.
// Exit status 0 when all hold; 1 with a message naming the first that does not.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Message {
  Clock::time_point at;
  pid_t sender = 0;
  std::vector<std::string> lines;
  bool has(std::string_view line) const {
    for (const auto& l : lines)
      if (l == line) return true;
    return false;
  }
  bool has_prefix(std::string_view prefix) const {
    for (const auto& l : lines)
      if (l.starts_with(prefix)) return true;
    return false;
  }
};

pid_t child = -1;     // the daemon while it runs; -1 once reaped
pid_t main_pid = -1;  // the daemon's pid, for checking senders

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  if (child > 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  std::exit(1);
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) fail("socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

bool unix_socket_accepts(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto a = unix_address(path);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Receives one notification, waiting until `deadline`. nullopt on timeout.
std::optional<Message> receive(int fd, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(std::string("poll: ") + std::strerror(errno));
    if (r == 0) return std::nullopt;

    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf - 1};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) fail(std::string("recvmsg: ") + std::strerror(errno));

    Message m;
    m.at = Clock::now();
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred u;
        std::memcpy(&u, CMSG_DATA(c), sizeof u);
        m.sender = u.pid;
      }
    }
    std::string_view text(buf, static_cast<std::size_t>(n));
    while (!text.empty()) {
      const auto nl = text.find('\n');
      const auto line = text.substr(0, nl);
      if (!line.empty()) m.lines.emplace_back(line);
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
    std::string shown;
    for (const auto& l : m.lines) shown += (shown.empty() ? "" : " | ") + l;
    std::printf("notify from pid %d: %s\n", static_cast<int>(m.sender), shown.c_str());
    std::fflush(stdout);
    if (m.sender != main_pid) {
      fail("notification from pid " + std::to_string(m.sender) + ", not the main process " + std::to_string(main_pid) +
           " (NotifyAccess=main would drop it)");
    }
    return m;
  }
}

// Exit status of the child if it has exited, without waiting.
std::optional<int> exited() {
  int st = 0;
  const pid_t r = ::waitpid(child, &st, WNOHANG);
  if (r != child) return std::nullopt;
  child = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

}  // namespace

int main(int argc, char** argv) {
  std::string notify_path, expect_socket;
  long watchdog_usec = 0;
  bool sighup = false;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (i + 1 >= argc && a != "--sighup") fail("missing value after " + std::string(a));
    if (a == "--notify-socket") notify_path = argv[++i];
    else if (a == "--expect-socket") expect_socket = argv[++i];
    else if (a == "--watchdog-usec") watchdog_usec = std::atol(argv[++i]);
    else if (a == "--sighup") sighup = true;
    else fail("unknown option " + std::string(a));
  }
  if (notify_path.empty() || expect_socket.empty() || i >= argc) {
    std::fprintf(stderr,
                 "usage: sd_notify_probe --notify-socket PATH --expect-socket PATH [--watchdog-usec N] [--sighup] "
                 "-- COMMAND [ARGS...]\n");
    return 64;
  }

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
  ::unlink(notify_path.c_str());
  const auto addr = unix_address(notify_path);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    fail("bind " + notify_path + ": " + std::strerror(errno));
  }
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) fail("SO_PASSCRED");

  child = ::fork();
  if (child < 0) fail("fork");
  main_pid = child;
  if (child == 0) {
    ::setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
    if (watchdog_usec > 0) {
      ::setenv("WATCHDOG_USEC", std::to_string(watchdog_usec).c_str(), 1);
      ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    }
    ::execv(argv[i], argv + i);
    std::fprintf(stderr, "exec %s: %s\n", argv[i], std::strerror(errno));
    _exit(127);
  }

  std::vector<Message> all;
  // 1. READY=1, with the socket already accepting.
  const auto start_deadline = Clock::now() + 60s;
  std::optional<Clock::time_point> ready_at;
  while (!ready_at) {
    auto m = receive(fd, std::min(start_deadline, Clock::now() + 100ms));
    if (!m) {
      if (auto st = exited()) fail("the daemon exited with status " + std::to_string(*st) + " before READY=1");
      if (Clock::now() >= start_deadline) fail("no READY=1 within 60 s");
      continue;
    }
    if (m->has("READY=1")) {
      ready_at = m->at;
      if (!unix_socket_accepts(expect_socket)) fail("READY=1 arrived before " + expect_socket + " accepted connections");
      std::printf("ok: READY=1, and %s accepts connections\n", expect_socket.c_str());
    }
    all.push_back(std::move(*m));
  }

  // 2. Watchdog keep-alives during the first second after READY=1.
  if (watchdog_usec > 0) {
    int pings = 0;
    const auto until = *ready_at + 1s;
    while (auto m = receive(fd, until)) {
      if (m->has("WATCHDOG=1")) ++pings;
      all.push_back(std::move(*m));
    }
    if (pings < 3) fail("only " + std::to_string(pings) + " WATCHDOG=1 within 1 s of READY=1 (WATCHDOG_USEC=" +
                        std::to_string(watchdog_usec) + "); want at least 3");
    std::printf("ok: %d WATCHDOG=1 within 1 s of READY=1\n", pings);
  }

  // 3. SIGHUP (ExecReload=) must not stop the daemon.
  if (sighup) {
    ::kill(child, SIGHUP);
    const auto until = Clock::now() + 1s;
    while (auto m = receive(fd, until)) all.push_back(std::move(*m));
    if (auto st = exited()) fail("the daemon exited with status " + std::to_string(*st) + " on SIGHUP");
    if (!unix_socket_accepts(expect_socket)) fail(expect_socket + " no longer accepts connections after SIGHUP");
    std::printf("ok: still running and accepting after SIGHUP\n");
  }

  // 4. SIGTERM: STOPPING=1, then exit 0.
  ::kill(child, SIGTERM);
  bool stopping = false;
  std::optional<int> status;
  const auto stop_deadline = Clock::now() + 30s;
  while (!status) {
    if (auto m = receive(fd, std::min(stop_deadline, Clock::now() + 100ms))) {
      stopping = stopping || m->has("STOPPING=1");
      all.push_back(std::move(*m));
      continue;
    }
    status = exited();
    if (!status && Clock::now() >= stop_deadline) fail("the daemon did not exit within 30 s of SIGTERM");
  }
  // Datagrams sent just before exiting are still queued.
  while (auto m = receive(fd, Clock::now() + 100ms)) {
    stopping = stopping || m->has("STOPPING=1");
    all.push_back(std::move(*m));
  }
  if (!stopping) fail("no STOPPING=1 after SIGTERM");
  std::printf("ok: STOPPING=1 after SIGTERM\n");
  if (*status != 0) fail("the daemon exited with status " + std::to_string(*status) + " after SIGTERM");
  std::printf("ok: exit status 0\n");

  // READY=1 once at start-up; after that only to end a RELOADING=1 (the reload protocol of sd_notify(3)).
  int statuses = 0, reloads = 0;
  enum { kStarting, kReady, kReloading } state = kStarting;
  for (const auto& m : all) {
    statuses += m.has_prefix("STATUS=");
    if (m.has("RELOADING=1")) {
      if (state != kReady) fail("RELOADING=1 before READY=1 or during a reload");
      state = kReloading;
      ++reloads;
    }
    if (m.has("READY=1")) {
      if (state == kReady) fail("READY=1 again without RELOADING=1 before it");
      state = kReady;
    }
    if (m.has("STOPPING=1") && state == kReloading) fail("STOPPING=1 while a reload was not finished with READY=1");
  }
  if (state == kReloading) fail("RELOADING=1 never followed by READY=1");
  if (statuses == 0) fail("no STATUS= line");
  if (reloads) std::printf("ok: %d RELOADING=1, each followed by READY=1\n", reloads);
  std::printf("ok: %d messages with STATUS=\nPASS\n", statuses);
  ::unlink(notify_path.c_str());
  return 0;
}
