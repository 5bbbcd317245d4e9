// File: nvlab/qmp_client.h
//
// QmpClient speaks the QEMU Machine Protocol over the unix socket nvlab gives QEMU (-mon
// chardev=qmp,mode=control): it reads the greeting, negotiates capabilities, and executes
// commands one at a time ("stop", "cont", "quit", "query-status", ...). Asynchronous events that
// arrive between replies are kept in events() for the caller to inspect.
//
// QEMU is a peer that may die at any moment: every call takes a deadline, lines are limited to
// kMaxQmpLine bytes, and malformed JSON is a ProtocolError, never a crash.
//
// Thread-safety: one thread at a time.

#ifndef NVLAB_QMP_CLIENT_H_
#define NVLAB_QMP_CLIENT_H_

#include <filesystem>
#include <string>
#include <vector>

#include "nvlab/deadline.h"
#include "nvlab/status.h"

namespace nvlab {

inline constexpr size_t kMaxQmpLine = 1 << 20;

class QmpClient {
 public:
  QmpClient() = default;
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Connect connects to socket (retrying until QEMU has created it or the deadline passes),
  // reads the greeting and enters command mode.
  Status Connect(const std::filesystem::path& socket, Deadline deadline);

  // Execute runs one command with optional JSON arguments ("{...}" or ""), and stores the
  // "return" member's JSON text in *result (if non-null). A QMP "error" reply is an
  // InvalidArgument carrying QEMU's description.
  Status Execute(const std::string& command, const std::string& arguments, Deadline deadline,
                 std::string* result = nullptr);

  // Close drops the connection (QEMU keeps running).
  void Close();
  bool connected() const { return fd_ >= 0; }
  // events lists the "event" names received so far ("STOP", "SHUTDOWN", ...).
  const std::vector<std::string>& events() const { return events_; }

 private:
  Status ReadLine(Deadline deadline, std::string* line);
  Status WriteAll(const std::string& bytes, Deadline deadline);

  int fd_ = -1;
  std::string buffer_;
  std::vector<std::string> events_;
};

}  // namespace nvlab

#endif  // NVLAB_QMP_CLIENT_H_
