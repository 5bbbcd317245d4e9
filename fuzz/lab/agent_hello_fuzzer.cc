// agent_hello_fuzzer.cc -- libFuzzer target over the host's end of the agent connection
// (nvlab/agent_session.h): the boot-time hello it parses, then the frames of a command's run
// (output, exit, error), all of them bytes the guest writes.
// The fuzzer listens on a unix socket in a private temporary folder, as QEMU does for the
// agent's port; per input, the session connects, the input is written on the other end, and
// AwaitBootHello then Run read it. An input whose first byte is even is a hello payload (framed
// here, so that the hello lines are reached at once) followed by the raw stream Run reads; odd:
// the whole input is the raw stream. The "machine" ends when the session has read every byte
// written (SIOCOUTQ on the writer's end is 0), so no wait lasts longer than the input.
// Checks, besides ASan/UBSan: hello values reach the caller as printable ASCII (escaped); a
// hello key is non-empty and holds no '='; every wait ends.
//
// Run: build/fuzz/fuzz/lab/agent_hello_fuzzer -max_total_time=8 CORPUS_DIR
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "nvlab/agent_frame.h"
#include "nvlab/agent_session.h"
#include "nvlab/deadline.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  (void)std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

// AgentPort is the listening socket standing for QEMU's end of the port; made once per process
// (the fuzzer's only global state: one socket reused by every input).
struct AgentPort {
  std::string folder;
  std::string path;
  int listener = -1;

  AgentPort() {
    char dir[] = "/tmp/nvlab-agent-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr) Fail("mkdtemp failed");
    folder = dir;
    path = folder + "/agent.sock";
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener, 1) != 0) {
      Fail("cannot listen on " + path);
    }
  }
  ~AgentPort() {
    close(listener);
    unlink(path.c_str());
    rmdir(folder.c_str());
  }
};

class DiscardingSink : public nvlab::OutputSink {
 public:
  void Stdout(std::string_view) override {}
  void Stderr(std::string_view) override {}
};

void CheckHello(const std::map<std::string, std::string>& hello) {
  for (const auto& [key, value] : hello) {
    if (key.empty() || key.find('=') != std::string::npos) Fail("bad hello key: " + key);
    for (unsigned char c : value) {
      if (c < 0x20 || c >= 0x7f) Fail("unescaped hello value: " + value);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static AgentPort port;
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string stream;
  if ((data[0] & 1) == 0) {
    // "\n\n" ends the hello payload and starts the raw stream (if any).
    const size_t end = input.find("\n\n");
    const std::string_view hello = input.substr(0, end);
    if (hello.size() > nvlab::kMaxFramePayload) return 0;
    stream = nvlab::EncodeFrame(nvlab::FrameType::kHello, hello);
    if (end != std::string_view::npos) stream.append(input.substr(end + 2));
  } else {
    stream = std::string(input);
  }
  // The socket buffers must hold the whole stream: the writer never blocks.
  if (stream.size() > 100000) return 0;

  int peer = -1;
  nvlab::AgentSession session([&peer] {
    int unread = 0;
    return ioctl(peer, SIOCOUTQ, &unread) != 0 || unread == 0;
  });
  const nvlab::Deadline deadline = nvlab::Deadline::In(std::chrono::seconds(10));
  if (!session.Connect(port.path, deadline).ok()) Fail("cannot connect");
  peer = accept4(port.listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (peer < 0) Fail("cannot accept");
  int buffer = 4 << 20;
  (void)setsockopt(peer, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  for (size_t at = 0; at < stream.size();) {
    const ssize_t w = send(peer, stream.data() + at, stream.size() - at, MSG_NOSIGNAL);
    if (w <= 0) Fail("cannot write the stream");
    at += static_cast<size_t>(w);
  }
  if (session.AwaitBootHello(deadline).ok()) {
    CheckHello(session.hello());
    DiscardingSink sink;
    nvlab::AgentRunOutcome outcome;
    (void)session.Run({"true"}, &sink, deadline, &outcome);
    if (deadline.expired()) Fail("a run waited for the deadline");
  }
  if (deadline.expired()) Fail("a wait lasted until the deadline");
  session.Close();
  close(peer);
  return 0;
}
