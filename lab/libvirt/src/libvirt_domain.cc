// libvirt_domain.cc -- LibvirtDomain: lookup and the calls nvlab makes on a domain.

#include "nvlab/libvirt/libvirt_domain.h"

#include <cstdlib>
#include <utility>

#include "nvlab/untrusted_text.h"

namespace nvlab {

Status LibvirtDomain::Lookup(const LibvirtConnection& connection, const std::string& name,
                             LibvirtDomain* out) {
  LibvirtDomain domain;
  domain.name_ = name;
  domain.libvirt_ = connection.libvirt();
  domain.domain_ = domain.libvirt_->domain_lookup_by_name(connection.get(), name.c_str());
  if (domain.domain_ == nullptr) {
    Status s = LibvirtError("the libvirt domain " + EscapeUntrusted(name));
    if (s.code() == Status::Code::kNotFound) {
      return Status::NotFound("no libvirt domain named " + EscapeUntrusted(name) + " on " +
                              connection.uri() + " (virsh list --all shows the domains)");
    }
    return s;
  }
  *out = std::move(domain);
  return Status::Ok();
}

LibvirtDomain::~LibvirtDomain() {
  if (domain_ != nullptr) libvirt_->domain_free(domain_);
}

LibvirtDomain::LibvirtDomain(LibvirtDomain&& other) noexcept
    : libvirt_(other.libvirt_),
      domain_(std::exchange(other.domain_, nullptr)),
      name_(std::move(other.name_)) {}

LibvirtDomain& LibvirtDomain::operator=(LibvirtDomain&& other) noexcept {
  if (this != &other) {
    if (domain_ != nullptr) libvirt_->domain_free(domain_);
    libvirt_ = other.libvirt_;
    domain_ = std::exchange(other.domain_, nullptr);
    name_ = std::move(other.name_);
  }
  return *this;
}

Status LibvirtDomain::IsActive(bool* active) const {
  const int r = libvirt_->domain_is_active(domain_);
  if (r < 0) return LibvirtError("the libvirt domain " + EscapeUntrusted(name_));
  *active = r == 1;
  return Status::Ok();
}

Status LibvirtDomain::LiveXml(std::string* xml) const {
  char* text = libvirt_->domain_get_xml_desc(domain_, 0);
  if (text == nullptr) {
    return LibvirtError("reading the XML of the libvirt domain " + EscapeUntrusted(name_));
  }
  *xml = text;
  free(text);  // NOLINT(cppcoreguidelines-no-malloc): libvirt allocates it with malloc
  return Status::Ok();
}

Status LibvirtDomain::Suspend() const {
  if (libvirt_->domain_suspend(domain_) < 0) {
    return LibvirtError("suspending the libvirt domain " + EscapeUntrusted(name_));
  }
  return Status::Ok();
}

Status LibvirtDomain::Destroy() const {
  if (libvirt_->domain_destroy(domain_) < 0) {
    return LibvirtError("destroying the libvirt domain " + EscapeUntrusted(name_));
  }
  return Status::Ok();
}

Status LibvirtDomain::Create() const {
  if (libvirt_->domain_create(domain_) < 0) {
    return LibvirtError("starting the libvirt domain " + EscapeUntrusted(name_));
  }
  return Status::Ok();
}

}  // namespace nvlab
