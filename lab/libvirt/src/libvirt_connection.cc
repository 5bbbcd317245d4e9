// libvirt_connection.cc -- LibvirtConnection, LibvirtError, the quiet error handler.

#include "nvlab/libvirt/libvirt_connection.h"

#include <libvirt/virterror.h>

#include <cstdlib>
#include <mutex>
#include <utility>

namespace nvlab {
namespace {

// IgnoreError is libvirt's error callback: it drops the error, which libvirt also keeps as the
// thread's last error (read by LibvirtError).
void IgnoreError(void* /*user_data*/, virErrorPtr /*error*/) {}

}  // namespace

void SilenceLibvirtErrors() {
  static std::once_flag once;
  std::call_once(once, [] { virSetErrorFunc(nullptr, IgnoreError); });
}

Status LibvirtError(std::string_view what) {
  const virError* error = virGetLastError();
  std::string message = std::string(what) + ": " + virGetLastErrorMessage();
  if (error != nullptr && error->code == VIR_ERR_NO_DOMAIN) return Status::NotFound(message);
  return Status::IoError(message);
}

Status LibvirtConnection::Open(const std::string& uri, LibvirtConnection* out) {
  SilenceLibvirtErrors();
  LibvirtConnection connection;
  connection.connection_ = virConnectOpen(uri.empty() ? nullptr : uri.c_str());
  if (connection.connection_ == nullptr) {
    return LibvirtError("cannot connect to libvirt" +
                        (uri.empty() ? std::string(" (default URI)") : " at " + uri));
  }
  char* actual = virConnectGetURI(connection.connection_);
  connection.uri_ = actual != nullptr ? actual : uri;
  free(actual);  // NOLINT(cppcoreguidelines-no-malloc): libvirt allocates it with malloc
  *out = std::move(connection);
  return Status::Ok();
}

LibvirtConnection::~LibvirtConnection() {
  if (connection_ != nullptr) virConnectClose(connection_);
}

LibvirtConnection::LibvirtConnection(LibvirtConnection&& other) noexcept
    : connection_(std::exchange(other.connection_, nullptr)), uri_(std::move(other.uri_)) {}

LibvirtConnection& LibvirtConnection::operator=(LibvirtConnection&& other) noexcept {
  if (this != &other) {
    if (connection_ != nullptr) virConnectClose(connection_);
    connection_ = std::exchange(other.connection_, nullptr);
    uri_ = std::move(other.uri_);
  }
  return *this;
}

}  // namespace nvlab
