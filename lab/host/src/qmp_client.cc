// qmp_client.cc -- QmpClient: Connect, Execute, Close.

#include "nvlab/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

namespace nvlab {

QmpClient::~QmpClient() {
  Close();
}

void QmpClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Status QmpClient::Connect(const std::filesystem::path& socket_path, Deadline deadline) {
  Close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket_path.string();
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::InvalidArgument("QMP socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  for (;;) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Status::IoErrorFromErrno("socket", errno);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) break;
    const int err = errno;
    Close();
    if (err != ENOENT && err != ECONNREFUSED) return Status::IoErrorFromErrno("QMP connect", err);
    if (deadline.expired()) return Status::Timeout("QEMU did not open its QMP socket " + path);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string line;
  NVLAB_RETURN_IF_ERROR(ReadLine(deadline, &line));
  const auto greeting = nlohmann::json::parse(line, nullptr, false);
  if (greeting.is_discarded() || !greeting.is_object() || !greeting.contains("QMP")) {
    Close();
    return Status::ProtocolError("QMP greeting expected, got: " + line.substr(0, 200));
  }
  return Execute("qmp_capabilities", "", deadline);
}

Status QmpClient::WriteAll(const std::string& bytes, Deadline deadline) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd_, POLLOUT, 0};
        if (poll(&p, 1, deadline.RemainingMs()) == 0) return Status::Timeout("QMP write");
        continue;
      }
      return Status::GuestDied(std::string("QMP connection lost: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status QmpClient::ReadLine(Deadline deadline, std::string* line) {
  for (;;) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      *line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return Status::Ok();
    }
    if (buffer_.size() > kMaxQmpLine) return Status::ProtocolError("QMP line too long");
    pollfd p{fd_, POLLIN, 0};
    const int r = poll(&p, 1, deadline.RemainingMs());
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return Status::Timeout("QEMU did not answer on QMP");
    char buf[4096];
    const ssize_t n = read(fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::GuestDied("QEMU closed its QMP connection");
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

Status QmpClient::Execute(const std::string& command, const std::string& arguments,
                          Deadline deadline, std::string* result) {
  if (fd_ < 0) return Status::FailedPrecondition("QMP is not connected");
  nlohmann::json request = {{"execute", command}};
  if (!arguments.empty()) {
    auto args = nlohmann::json::parse(arguments, nullptr, false);
    if (args.is_discarded() || !args.is_object()) {
      return Status::InvalidArgument("QMP arguments are not a JSON object: " + arguments);
    }
    request["arguments"] = args;
  }
  NVLAB_RETURN_IF_ERROR(WriteAll(request.dump() + "\n", deadline));
  for (;;) {
    std::string line;
    const Status read = ReadLine(deadline, &line);
    // The wait is named, so that an expired one says which (a lab failure, not --timeout).
    if (read.code() == Status::Code::kTimeout) {
      return Status::Timeout("QEMU did not answer the QMP command " + command + " in time");
    }
    NVLAB_RETURN_IF_ERROR(read);
    const auto reply = nlohmann::json::parse(line, nullptr, false);
    if (reply.is_discarded() || !reply.is_object()) {
      return Status::ProtocolError("malformed QMP message: " + line.substr(0, 200));
    }
    if (auto ev = reply.find("event"); ev != reply.end()) {
      if (ev->is_string()) events_.push_back(ev->get<std::string>());
      continue;
    }
    if (auto err = reply.find("error"); err != reply.end()) {
      std::string desc = "QMP " + command + " failed";
      if (err->is_object() && err->contains("desc") && (*err)["desc"].is_string()) {
        desc += ": " + (*err)["desc"].get<std::string>();
      }
      return Status::InvalidArgument(desc);
    }
    if (auto ret = reply.find("return"); ret != reply.end()) {
      if (result != nullptr) *result = ret->dump();
      return Status::Ok();
    }
    return Status::ProtocolError("unexpected QMP message: " + line.substr(0, 200));
  }
}

}  // namespace nvlab
