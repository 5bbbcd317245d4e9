// libvirt_library.cc -- LoadLibvirt: libvirt's client library, opened with dlopen.

#include "nvlab/libvirt/libvirt_library.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace nvlab {
namespace {

// Symbol finds `name` in `handle` as a pointer of the type `*slot` has; false, with `error`
// set, when it is missing.
template <typename Function>
bool Symbol(void* handle, const char* name, Function* slot, std::string* error) {
  void* address = dlsym(handle, name);
  if (address == nullptr) {
    const char* why = dlerror();
    *error = std::string(name) + ": " + (why != nullptr ? why : "not found");
    return false;
  }
  // dlsym's documented way back to a function pointer.
  *slot =
      reinterpret_cast<Function>(address);  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  return true;
}

}  // namespace

Status LoadLibvirt(const LibvirtLibrary** out) {
  // Loaded once per process, never unloaded (see the header): the table and the outcome are
  // written inside call_once and only read after it.
  static LibvirtLibrary library;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    // RTLD_NODELETE: libvirt starts threads of its own; it must never be unmapped under them.
    void* handle = dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (handle == nullptr) {
      const char* why = dlerror();
      error = why != nullptr ? why : "dlopen failed";
      return;
    }
    LibvirtLibrary l;
    const bool found = Symbol(handle, "virConnectOpen", &l.connect_open, &error) &&
                       Symbol(handle, "virConnectClose", &l.connect_close, &error) &&
                       Symbol(handle, "virConnectGetURI", &l.connect_get_uri, &error) &&
                       Symbol(handle, "virDomainLookupByName", &l.domain_lookup_by_name, &error) &&
                       Symbol(handle, "virDomainFree", &l.domain_free, &error) &&
                       Symbol(handle, "virDomainIsActive", &l.domain_is_active, &error) &&
                       Symbol(handle, "virDomainGetXMLDesc", &l.domain_get_xml_desc, &error) &&
                       Symbol(handle, "virDomainSuspend", &l.domain_suspend, &error) &&
                       Symbol(handle, "virDomainDestroy", &l.domain_destroy, &error) &&
                       Symbol(handle, "virDomainCreate", &l.domain_create, &error) &&
                       Symbol(handle, "virSetErrorFunc", &l.set_error_func, &error) &&
                       Symbol(handle, "virGetLastError", &l.get_last_error, &error) &&
                       Symbol(handle, "virGetLastErrorMessage", &l.get_last_error_message, &error);
    if (found) library = l;
  });
  if (!error.empty()) {
    return Status::FailedPrecondition(
        "cannot load libvirt's client library libvirt.so.0 (Debian package libvirt0): " + error);
  }
  *out = &library;
  return Status::Ok();
}

}  // namespace nvlab
