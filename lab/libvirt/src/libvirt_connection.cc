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
  const LibvirtLibrary* libvirt = nullptr;
  if (!LoadLibvirt(&libvirt).ok()) return;
  static std::once_flag once;
  std::call_once(once, [libvirt] { libvirt->set_error_func(nullptr, IgnoreError); });
}

Status LibvirtError(std::string_view what) {
  const LibvirtLibrary* libvirt = nullptr;
  if (Status loaded = LoadLibvirt(&libvirt); !loaded.ok()) {
    return loaded.WithContext(std::string(what));
  }
  const virError* error = libvirt->get_last_error();
  std::string message = std::string(what) + ": " + libvirt->get_last_error_message();
  if (error != nullptr && error->code == VIR_ERR_NO_DOMAIN) return Status::NotFound(message);
  return Status::IoError(message);
}

Status LibvirtConnection::Open(const std::string& uri, LibvirtConnection* out) {
  const LibvirtLibrary* libvirt = nullptr;
  NVLAB_RETURN_IF_ERROR(LoadLibvirt(&libvirt));
  SilenceLibvirtErrors();
  LibvirtConnection connection;
  connection.libvirt_ = libvirt;
  connection.connection_ = libvirt->connect_open(uri.empty() ? nullptr : uri.c_str());
  if (connection.connection_ == nullptr) {
    return LibvirtError("cannot connect to libvirt" +
                        (uri.empty() ? std::string(" (default URI)") : " at " + uri));
  }
  char* actual = libvirt->connect_get_uri(connection.connection_);
  connection.uri_ = actual != nullptr ? actual : uri;
  free(actual);  // NOLINT(cppcoreguidelines-no-malloc): libvirt allocates it with malloc
  *out = std::move(connection);
  return Status::Ok();
}

LibvirtConnection::~LibvirtConnection() {
  if (connection_ != nullptr) libvirt_->connect_close(connection_);
}

LibvirtConnection::LibvirtConnection(LibvirtConnection&& other) noexcept
    : libvirt_(other.libvirt_),
      connection_(std::exchange(other.connection_, nullptr)),
      uri_(std::move(other.uri_)) {}

LibvirtConnection& LibvirtConnection::operator=(LibvirtConnection&& other) noexcept {
  if (this != &other) {
    if (connection_ != nullptr) libvirt_->connect_close(connection_);
    libvirt_ = other.libvirt_;
    connection_ = std::exchange(other.connection_, nullptr);
    uri_ = std::move(other.uri_);
  }
  return *this;
}

}  // namespace nvlab
