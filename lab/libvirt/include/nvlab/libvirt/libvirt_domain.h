// File: nvlab/libvirt/libvirt_domain.h
//
// LibvirtDomain owns a reference to one domain of a LibvirtConnection (virDomainLookupByName),
// freed when it is destroyed, and offers the few calls nvlab makes on it. Each libvirt failure
// comes back as a Status whose message names the domain and says what libvirt said.
//
// The connection must outlive the domain.
//
// Thread-safety: one thread at a time per object.

#ifndef NVLAB_LIBVIRT_LIBVIRT_DOMAIN_H_
#define NVLAB_LIBVIRT_LIBVIRT_DOMAIN_H_

#include <libvirt/libvirt.h>

#include <string>

#include "nvlab/libvirt/libvirt_connection.h"
#include "nvlab/status.h"

namespace nvlab {

class LibvirtDomain {
 public:
  // Lookup finds the domain named `name`: NotFound "no libvirt domain named NAME on URI" when
  // there is none.
  static Status Lookup(const LibvirtConnection& connection, const std::string& name,
                       LibvirtDomain* out);

  LibvirtDomain() = default;
  ~LibvirtDomain();
  LibvirtDomain(LibvirtDomain&& other) noexcept;
  LibvirtDomain& operator=(LibvirtDomain&& other) noexcept;
  LibvirtDomain(const LibvirtDomain&) = delete;
  LibvirtDomain& operator=(const LibvirtDomain&) = delete;

  // IsActive: whether the domain runs (paused counts as running).
  Status IsActive(bool* active) const;
  // LiveXml is virDomainGetXMLDesc with no flags: the running configuration.
  Status LiveXml(std::string* xml) const;
  // Suspend stops the vCPUs (virDomainSuspend).
  Status Suspend() const;
  // Destroy ends QEMU at once (virDomainDestroy; libvirt waits for it to exit).
  Status Destroy() const;
  // Create starts the defined domain (virDomainCreate).
  Status Create() const;

  const std::string& name() const { return name_; }

 private:
  const LibvirtLibrary* libvirt_ = nullptr;  // the connection's (nvlab/libvirt/libvirt_library.h)
  virDomainPtr domain_ = nullptr;
  std::string name_;
};

}  // namespace nvlab

#endif  // NVLAB_LIBVIRT_LIBVIRT_DOMAIN_H_
