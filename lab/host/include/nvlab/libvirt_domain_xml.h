// File: nvlab/libvirt_domain_xml.h
//
// LibvirtDomainXml renders a Machine as a libvirt domain definition that `virsh define` takes
// as is: the second rendering of one machine definition, beside the QEMU command line
// (nvlab/qemu_command_line.h). docs/design/libvirt.md explains every element; in short:
//
//   <domain type='qemu'>  name, <metadata><nvlab:domain .../>, RAM in NUMA cells backed by shared
//   files, the guest image's kernel, initrd and KernelCommandLine from the domain folder, one
//   <memory model='nvdimm' access='shared'> per NVDIMM at Machine::NvdimmBase(i), the console
//   to a file, the agent's virtio channel on a unix socket, nvlab-qemu as <emulator>, and
//   in <qemu:commandline> the persistence model's -plugin (without ram=, which nvlab-qemu adds)
//   and the machine's nvdimm-persistence.
//
// Every name and path is escaped as XML; text XML cannot carry (control characters, bytes that
// are not UTF-8) is an error rather than a document libvirt would reject or misread.
//
// Thread-safety: a pure function.

#ifndef NVLAB_LIBVIRT_DOMAIN_XML_H_
#define NVLAB_LIBVIRT_DOMAIN_XML_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/formats/kernel_task_layout.h"
#include "nvlab/libvirt_domain_folder.h"
#include "nvlab/machine.h"
#include "nvlab/model_plugin_argument.h"
#include "nvlab/status.h"

namespace nvlab {

// kNvlabDomainNamespace is the namespace of nvlab's <metadata> element (version 1).
inline constexpr char kNvlabDomainNamespace[] = "urn:nvlab:domain:1";

// LibvirtDomainSpec is everything a domain needs beyond the Machine.
struct LibvirtDomainSpec {
  std::string name;                // the domain's name (IsValidLibvirtDomainName)
  LibvirtDomainFolder folder;      // the domain folder D (absolute)
  std::filesystem::path emulator;  // nvlab-qemu (InstallLayout::emulator)
  // nvdimm_files: one per Machine::nvdimms (PrepareLibvirtDomainFolder's result).
  std::vector<std::filesystem::path> nvdimm_files;
  // model: enabled gives the -plugin argument; its on_cut is also recorded in the metadata.
  ModelConfig model;
  std::optional<KernelTaskLayout> kernel_task_layout;  // GuestImage::kernel_task_layout
};

// IsValidLibvirtDomainName: 1 to 48 of [A-Za-z0-9_.-], not starting with '.' or '-' (a name
// that is safe as a file name, on a command line and in libvirt's own paths).
bool IsValidLibvirtDomainName(std::string_view name);

// LibvirtDomainXml renders the domain. InvalidArgument for an invalid name, a folder that is not
// absolute, a count of NVDIMM files other than the machine's, or text XML cannot carry.
Status LibvirtDomainXml(const Machine& machine, const LibvirtDomainSpec& spec, std::string* xml);

// EscapeXml writes text as XML character data or a quoted attribute value: & < > ' " as
// entities, tab, newline and carriage return as character references (so that an attribute
// keeps them). False, with *out unspecified, for text that is not UTF-8 or holds a character
// XML 1.0 does not allow (the other control characters).
bool EscapeXml(std::string_view text, std::string* out);

}  // namespace nvlab

#endif  // NVLAB_LIBVIRT_DOMAIN_XML_H_
