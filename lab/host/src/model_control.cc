// model_control.cc -- RequestModelCut, ReadCutReportFile.

#include "nvlab/model_control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "nvlab/untrusted_text.h"

namespace nvlab {

namespace {

// Exchange sends `line` (with its newline) to the control socket and returns what came back up
// to the first newline (the newline included), or less: nothing when the socket is missing,
// refuses, closes or stays silent past the deadline. A path too long for a unix socket address
// gives nothing too.
std::string Exchange(const std::filesystem::path& control_socket, const std::string& line,
                     Deadline deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = control_socket.string();
  std::string answer;
  if (path.size() >= sizeof(addr.sun_path)) return answer;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
    char buf[512];
    while (answer.find('\n') == std::string::npos && answer.size() < 4096) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, deadline.RemainingMs()) <= 0) break;
      const ssize_t r = read(fd, buf, sizeof(buf));
      if (r <= 0) break;
      answer.append(buf, static_cast<size_t>(r));
    }
  }
  close(fd);
  return answer;
}

}  // namespace

Status RequestModelCut(const std::filesystem::path& control_socket, Deadline deadline) {
  const std::string answer = Exchange(control_socket, "cut\n", deadline);
  if (answer.starts_with("ok")) return Status::Ok();
  return Status::IoError(
      "the persistence model did not settle the NVDIMMs (" +
      (answer.empty() ? std::string("no answer") : EscapeUntrusted(answer.substr(0, 200))) + ")");
}

Status ModelControlExchange(const std::filesystem::path& control_socket, std::string_view command,
                            Deadline deadline, std::string* answer) {
  answer->clear();
  if (control_socket.string().size() >= sizeof(sockaddr_un::sun_path)) {
    return Status::InvalidArgument("the model's control socket path is too long: " +
                                   control_socket.string());
  }
  const std::string raw = Exchange(control_socket, std::string(command) + "\n", deadline);
  const size_t nl = raw.find('\n');
  const std::string first = EscapeUntrusted(raw.substr(0, std::min<size_t>(nl, 200)));
  if (nl == std::string::npos) {
    return Status::IoError("the persistence model did not answer '" + std::string(command) + "'" +
                           (raw.empty() ? "" : " (" + first + ")"));
  }
  if (!raw.starts_with("ok")) {
    return Status::IoError("the persistence model refused '" + std::string(command) + "' (" +
                           first + ")");
  }
  *answer = raw.substr(0, nl);
  return Status::Ok();
}

Status ReadCutReportFile(const std::filesystem::path& path, CutReport* report) {
  *report = CutReport();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("the persistence model wrote no cut report");
  std::string text(kMaxCutReportBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return ParseCutReport(text, report);
}

}  // namespace nvlab
