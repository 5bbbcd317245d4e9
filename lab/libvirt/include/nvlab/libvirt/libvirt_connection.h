// File: nvlab/libvirt/libvirt_connection.h
//
// LibvirtConnection owns one connection to a libvirt daemon (virConnectOpen), closed when it is
// destroyed. LibvirtError turns libvirt's last error on this thread into a Status. libvirt is
// loaded when the first connection is opened (nvlab/libvirt/libvirt_library.h): a host without
// it gets a FailedPrecondition from Open.
//
// libvirt prints every error to stderr unless an error handler is installed. nvlab reports
// errors itself (as Status), so Open installs a handler that does nothing, once per process,
// with virSetErrorFunc. That setting is process-global: libvirt has a per-connection handler
// (virConnSetErrorFunc) too, but errors raised before a connection exists (virConnectOpen
// failing, which is the common case: no daemon running) only reach the global one. The handler
// keeps no state; the message itself is read per thread with virGetLastErrorMessage.
//
// Thread-safety: libvirt connections may be used from several threads; nvlab uses each from
// one.

#ifndef NVLAB_LIBVIRT_LIBVIRT_CONNECTION_H_
#define NVLAB_LIBVIRT_LIBVIRT_CONNECTION_H_

#include <libvirt/libvirt.h>

#include <string>
#include <string_view>

#include "nvlab/libvirt/libvirt_library.h"
#include "nvlab/status.h"

namespace nvlab {

// LibvirtError is "what: <libvirt's last error message>", as NotFound when libvirt says the
// domain does not exist, as IoError otherwise.
Status LibvirtError(std::string_view what);

// SilenceLibvirtErrors installs the quiet error handler (see the file comment); idempotent.
void SilenceLibvirtErrors();

class LibvirtConnection {
 public:
  // Open connects to uri; an empty uri lets libvirt choose (LIBVIRT_DEFAULT_URI, then its
  // default: qemu:///system for root, qemu:///session otherwise).
  static Status Open(const std::string& uri, LibvirtConnection* out);

  LibvirtConnection() = default;
  ~LibvirtConnection();
  LibvirtConnection(LibvirtConnection&& other) noexcept;
  LibvirtConnection& operator=(LibvirtConnection&& other) noexcept;
  LibvirtConnection(const LibvirtConnection&) = delete;
  LibvirtConnection& operator=(const LibvirtConnection&) = delete;

  virConnectPtr get() const { return connection_; }
  // libvirt is the loaded library the connection was made with (nvlab/libvirt/libvirt_library.h).
  const LibvirtLibrary* libvirt() const { return libvirt_; }
  // uri is the URI the daemon reports for this connection (for messages).
  const std::string& uri() const { return uri_; }

 private:
  const LibvirtLibrary* libvirt_ = nullptr;
  virConnectPtr connection_ = nullptr;
  std::string uri_;
};

}  // namespace nvlab

#endif  // NVLAB_LIBVIRT_LIBVIRT_CONNECTION_H_
