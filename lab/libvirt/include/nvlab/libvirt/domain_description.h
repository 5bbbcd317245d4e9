// File: nvlab/libvirt/domain_description.h
//
// What nvlab needs to know about a libvirt domain, read from its live XML (virDomainGetXMLDesc)
// by ParseNvlabDomain, a pure function: no libvirt, no network, no files. The shape it expects
// is the one `nvlab machine NAME --libvirt-xml` prints (docs/design/interfaces.md, "--domain"):
//
//   <domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
//     <name>N</name>
//     <metadata><nvlab:domain xmlns:nvlab='urn:nvlab:domain:1' version='1' machine='M'
//                dir='D' model='on' persistence='adr' on-cut='lose'/></metadata>
//     <devices>
//       <emulator>.../nvlab-qemu</emulator>
//       <serial type='file'><source path='D/run/console.log'/></serial>
//       <channel type='unix'><source mode='bind' path='D/run/agent.sock'/>
//         <target type='virtio' name='org.nvlab.agent'/></channel>
//       <memory model='nvdimm' ...><source><path>F</path>...</source>...</memory>
//     </devices>
//     <qemu:commandline><qemu:arg value='-plugin'/>
//       <qemu:arg value='.../nvlab-plugin.so,...,report=R,control=C,persistence=adr,on-cut=lose'/>
//     </qemu:commandline>
//   </domain>
//
// ParseNvlabDomain fails only when the text is not a readable domain (too long, not XML, not a
// <domain>, no <name>, two agent channels or two nvlab plugins, nvlab metadata of another
// version). Pieces that are missing stay empty; RequireAgentChannel and RequirePowerCut say
// which piece a use needs, naming the domain and how to fix it.
//
// The XML is untrusted (whoever defined the domain wrote it): the parser never expands
// entities, never loads a DTD or anything from the network (XML_PARSE_NONET), refuses more than
// kMaxDomainXmlBytes, and values taken from it are escaped when they appear in messages.
//
// Thread-safety: pure functions (libxml2's parser is initialised once, thread-safely).

#ifndef NVLAB_LIBVIRT_DOMAIN_DESCRIPTION_H_
#define NVLAB_LIBVIRT_DOMAIN_DESCRIPTION_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/status.h"

namespace nvlab {

// kMaxDomainXmlBytes: libvirt's live XML of an nvlab domain is about 5 KB.
inline constexpr size_t kMaxDomainXmlBytes = 1 << 20;
inline constexpr std::string_view kNvlabMetadataNamespace = "urn:nvlab:domain:1";
inline constexpr std::string_view kLibvirtQemuNamespace =
    "http://libvirt.org/schemas/domain/qemu/1.0";
// The basenames that mark nvlab's plugin and emulator wrapper.
inline constexpr std::string_view kNvlabPluginName = "nvlab-plugin.so";
inline constexpr std::string_view kNvlabEmulatorName = "nvlab-qemu";

// NvlabDomainMetadata is <metadata><nvlab:domain .../></metadata>.
struct NvlabDomainMetadata {
  bool present = false;
  std::string machine;
  std::string dir;
  std::string model;  // on | off
  std::string persistence;
  std::string on_cut;
};

// NvlabPluginArguments is the -plugin value of nvlab-plugin.so in <qemu:commandline>.
struct NvlabPluginArguments {
  bool present = false;
  std::string path;     // the .so
  std::string control;  // control=: the model's control socket
  std::string report;   // report=: the cut report file
  std::string persistence;
  std::string on_cut;
  // options: every key=value after the path, in order, as QEMU reads them (",," is a comma).
  std::vector<std::string> options;
};

struct DomainDescription {
  std::string name;
  std::string emulator;      // <devices><emulator>
  std::string agent_socket;  // the org.nvlab.agent unix channel's source path
  // agent_channel_problem: why a channel named org.nvlab.agent that exists cannot be used (not
  // type='unix', not mode='bind', no path); empty when there is none or it is usable.
  std::string agent_channel_problem;
  std::string console_log;                // <serial type='file'> (or <console type='file'>)
  std::vector<std::string> nvdimm_paths;  // <memory model='nvdimm'><source><path>, in order
  NvlabDomainMetadata metadata;
  NvlabPluginArguments plugin;
};

// ParseNvlabDomain reads xml into *out (see the file comment). ProtocolError "domain XML: ..."
// when the text cannot be read as a domain.
Status ParseNvlabDomain(std::string_view xml, DomainDescription* out);

// RequireAgentChannel: FailedPrecondition naming the domain unless it has the org.nvlab.agent
// unix channel (what `nvlab run --domain` needs).
Status RequireAgentChannel(const DomainDescription& domain);

// RequirePowerCut: FailedPrecondition naming the domain and the missing piece unless it has the
// agent channel, nvlab-plugin.so with control= and report=, and the nvlab-qemu emulator (what
// `nvlab power-cycle --domain` needs: the wrapper makes TCG single-threaded, so a cut is atomic
// across vCPUs, and tells the plugin where guest RAM is).
Status RequirePowerCut(const DomainDescription& domain);

}  // namespace nvlab

#endif  // NVLAB_LIBVIRT_DOMAIN_DESCRIPTION_H_
