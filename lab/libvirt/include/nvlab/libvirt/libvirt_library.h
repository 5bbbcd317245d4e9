// File: nvlab/libvirt/libvirt_library.h
//
// LibvirtLibrary is the part of libvirt's C API nvlab calls, loaded with dlopen("libvirt.so.0")
// the first time a libvirt domain is touched instead of linked: libvirt brings some fifty
// shared libraries (glib, gnutls, curl, ...), and loading them cost every nvlab command about
// 30 ms at start (BENCHMARKS.md, "nvlab's own start"), while most commands never talk to libvirt.
// A host without libvirt runs every other command; the domain commands say libvirt is missing.
//
// The types and prototypes still come from libvirt's headers (libvirt-dev), so every pointer
// below has the declared function's exact type.
//
// Process-wide state: the library is loaded once (std::call_once) and never unloaded; the table
// is read-only after loading.
//
// Thread-safety: LoadLibvirt may be called from any thread.

#ifndef NVLAB_LIBVIRT_LIBVIRT_LIBRARY_H_
#define NVLAB_LIBVIRT_LIBVIRT_LIBRARY_H_

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "nvlab/status.h"

namespace nvlab {

struct LibvirtLibrary {
  decltype(&virConnectOpen) connect_open = nullptr;
  decltype(&virConnectClose) connect_close = nullptr;
  decltype(&virConnectGetURI) connect_get_uri = nullptr;
  decltype(&virDomainLookupByName) domain_lookup_by_name = nullptr;
  decltype(&virDomainFree) domain_free = nullptr;
  decltype(&virDomainIsActive) domain_is_active = nullptr;
  decltype(&virDomainGetXMLDesc) domain_get_xml_desc = nullptr;
  decltype(&virDomainSuspend) domain_suspend = nullptr;
  decltype(&virDomainDestroy) domain_destroy = nullptr;
  decltype(&virDomainCreate) domain_create = nullptr;
  decltype(&virSetErrorFunc) set_error_func = nullptr;
  decltype(&virGetLastError) get_last_error = nullptr;
  decltype(&virGetLastErrorMessage) get_last_error_message = nullptr;
};

// LoadLibvirt loads libvirt (once) and points *out at its table. FailedPrecondition when
// libvirt.so.0 is missing or lacks a function ("cannot load libvirt's client library
// libvirt.so.0 (Debian package libvirt0): <dlerror>"); the same answer on every later call.
Status LoadLibvirt(const LibvirtLibrary** out);

}  // namespace nvlab

#endif  // NVLAB_LIBVIRT_LIBVIRT_LIBRARY_H_
