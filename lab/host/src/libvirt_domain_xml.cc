// libvirt_domain_xml.cc -- LibvirtDomainXml, IsValidLibvirtDomainName, EscapeXml.

#include "nvlab/libvirt_domain_xml.h"

#include <cstdint>

#include "nvlab/hex.h"
#include "nvlab/qemu_command_line.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

constexpr size_t kMaxDomainName = 48;

// DecodeUtf8 reads one character at text[*pos] and advances *pos; false for a malformed,
// overlong or surrogate sequence.
bool DecodeUtf8(std::string_view text, size_t* pos, uint32_t* out) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(*pos);
  size_t length = 0;
  uint32_t c = 0;
  uint32_t min = 0;
  if (lead < 0x80) {
    *out = lead;
    ++*pos;
    return true;
  } else if ((lead & 0xe0) == 0xc0) {
    length = 2, c = lead & 0x1f, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, c = lead & 0x0f, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, c = lead & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (*pos + length > text.size()) return false;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(*pos + i) & 0xc0) != 0x80) return false;
    c = (c << 6) | (byte(*pos + i) & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
  *out = c;
  *pos += length;
  return true;
}

// IsXmlChar: XML 1.0's Char production.
bool IsXmlChar(uint32_t c) {
  return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
         (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

// Xml escapes the document's text as it is written, and keeps the first text it could not.
class Xml {
 public:
  std::string operator()(std::string_view text) {
    std::string out;
    if (!EscapeXml(text, &out) && bad_.empty()) bad_ = EscapeUntrusted(text);
    return out;
  }
  const std::string& bad() const { return bad_; }

 private:
  std::string bad_;
};

// SizeAttributes ends a libvirt size element's start tag and gives its value: KiB when exact
// (as virsh shows sizes), else bytes.
std::string SizeAttributes(uint64_t bytes) {
  if (bytes % 1024 == 0) return "unit='KiB'>" + std::to_string(bytes / 1024);
  return "unit='b'>" + std::to_string(bytes);
}

// NodeCpus lists node n's vCPUs as QemuCommandLine deals them: round-robin over the nodes.
std::string NodeCpus(const Machine& m, int node) {
  std::string cpus;
  for (int cpu = node; cpu < m.vcpus; cpu += m.numa_nodes) {
    if (!cpus.empty()) cpus += ',';
    cpus += std::to_string(cpu);
  }
  return cpus;
}

}  // namespace

bool IsValidLibvirtDomainName(std::string_view name) {
  if (name.empty() || name.size() > kMaxDomainName || name[0] == '.' || name[0] == '-') {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool EscapeXml(std::string_view text, std::string* out) {
  out->clear();
  out->reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    uint32_t c = 0;
    if (!DecodeUtf8(text, &pos, &c) || !IsXmlChar(c)) return false;
    switch (c) {
      case '&':
        *out += "&amp;";
        break;
      case '<':
        *out += "&lt;";
        break;
      case '>':
        *out += "&gt;";
        break;
      case '\'':
        *out += "&apos;";
        break;
      case '"':
        *out += "&quot;";
        break;
      case '\t':
        *out += "&#9;";
        break;
      case '\n':
        *out += "&#10;";
        break;
      case '\r':
        *out += "&#13;";
        break;
      default:
        out->append(text.substr(start, pos - start));
    }
  }
  return true;
}

Status LibvirtDomainXml(const Machine& m, const LibvirtDomainSpec& spec, std::string* xml) {
  xml->clear();
  if (!IsValidLibvirtDomainName(spec.name)) {
    return Status::InvalidArgument("'" + EscapeUntrusted(spec.name) +
                                   "' is not a valid domain name (1 to 48 of A-Z a-z 0-9 _ . -, "
                                   "not starting with . or -)");
  }
  if (!spec.folder.dir.is_absolute()) {
    return Status::InvalidArgument("the domain folder must be an absolute path: " +
                                   EscapeUntrusted(spec.folder.dir.string()));
  }
  if (spec.nvdimm_files.size() != m.nvdimms.size()) {
    return Status::InvalidArgument("the machine has " + std::to_string(m.nvdimms.size()) +
                                   " NVDIMMs but " + std::to_string(spec.nvdimm_files.size()) +
                                   " NVDIMM files were given");
  }
  const LibvirtDomainFolder& d = spec.folder;
  Xml x;
  std::string o;
  o += "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n";
  o += "  <name>" + x(spec.name) + "</name>\n";
  // The metadata lets `nvlab run --domain` know a domain is nvlab's, and what it was made from.
  o += "  <metadata>\n";
  o += "    <nvlab:domain xmlns:nvlab='" + std::string(kNvlabDomainNamespace) +
       "' version='1' machine='" + x(m.name) + "' dir='" + x(d.dir.string()) + "' model='" +
       (spec.model.enabled ? "on" : "off") + "' persistence='" + ToString(m.persistence) +
       "' on-cut='" + x(spec.model.on_cut) + "'/>\n";
  o += "  </metadata>\n";
  // NVDIMMs are hot-pluggable memory to libvirt: they need slots and room above RAM.
  o += "  <maxMemory slots='" + std::to_string(m.nvdimms.size()) + "' " +
       SizeAttributes(m.MaxMemory()) + "</maxMemory>\n";
  const uint64_t node_ram = m.memory / static_cast<uint64_t>(m.numa_nodes);
  o +=
      "  <memory " + SizeAttributes(node_ram * static_cast<uint64_t>(m.numa_nodes)) + "</memory>\n";
  o += "  <vcpu placement='static'>" + std::to_string(m.vcpus) + "</vcpu>\n";
  o += "  <os>\n";
  o += "    <type arch='x86_64' machine='pc'>hvm</type>\n";
  o += "    <kernel>" + x(d.kernel().string()) + "</kernel>\n";
  o += "    <initrd>" + x(d.initrd().string()) + "</initrd>\n";
  o += "    <cmdline>" + x(KernelCommandLine(m, QemuLaunch())) + "</cmdline>\n";
  o += "  </os>\n";
  // ACPI carries the NFIT, through which the guest finds its NVDIMMs.
  o += "  <features>\n    <acpi/>\n  </features>\n";
  if (m.cpu == "max") {
    o += "  <cpu mode='maximum'>\n";
  } else {
    o += "  <cpu mode='custom' match='exact'>\n";
    o += "    <model fallback='forbid'>" + x(m.cpu) + "</model>\n";
  }
  for (const CpuFeatureChange& f : m.cpu_features) {
    o += std::string("    <feature policy='") + (f.enable ? "require" : "disable") + "' name='" +
         x(f.name) + "'/>\n";
  }
  // Shared file-backed RAM: the persistence model walks the guest's page tables in it.
  o += "    <numa>\n";
  for (int n = 0; n < m.numa_nodes; ++n) {
    const std::string cpus = NodeCpus(m, n);
    o += "      <cell id='" + std::to_string(n) + "'" +
         (cpus.empty() ? std::string() : " cpus='" + cpus + "'") + " memory='" +
         std::to_string(node_ram / 1024) + "' unit='KiB' memAccess='shared'/>\n";
  }
  o += "    </numa>\n";
  o += "  </cpu>\n";
  o += "  <memoryBacking>\n    <source type='file'/>\n    <access mode='shared'/>\n"
       "  </memoryBacking>\n";
  // A guest that ends, reboots (panic=-1) or crashes stays off, as under nvlab's own launcher
  // (-no-reboot): a power cycle is nvlab's to make.
  o += "  <on_poweroff>destroy</on_poweroff>\n";
  o += "  <on_reboot>destroy</on_reboot>\n";
  o += "  <on_crash>destroy</on_crash>\n";
  o += "  <devices>\n";
  o += "    <emulator>" + x(spec.emulator.string()) + "</emulator>\n";
  // No USB: nothing uses it, and under TCG every device costs boot time.
  o += "    <controller type='usb' model='none'/>\n";
  o += "    <serial type='file'>\n";
  o += "      <source path='" + x(d.console_log().string()) + "'/>\n";
  o += "      <target port='0'/>\n";
  o += "    </serial>\n";
  o += "    <channel type='unix'>\n";
  o += "      <source mode='bind' path='" + x(d.agent_socket().string()) + "'/>\n";
  o += "      <target type='virtio' name='org.nvlab.agent'/>\n";
  o += "    </channel>\n";
  for (size_t i = 0; i < m.nvdimms.size(); ++i) {
    const Nvdimm& nv = m.nvdimms[i];
    // access='shared': without it nothing the guest writes reaches the file.
    o += "    <memory model='nvdimm' access='shared'>\n";
    o += "      <source>\n        <path>" + x(spec.nvdimm_files[i].string()) +
         "</path>\n        <pmem/>\n      </source>\n";
    o += "      <target>\n        <size " + SizeAttributes(nv.size) + "</size>\n";
    o += "        <node>" + std::to_string(nv.node) + "</node>\n";
    if (nv.label_size != 0) {
      o += "        <label>\n          <size " + SizeAttributes(nv.label_size) +
           "</size>\n        </label>\n";
    }
    o += "      </target>\n";
    o += "      <address type='dimm' slot='" + std::to_string(i) + "' base='" +
         FormatHex(m.NvdimmBase(i)) + "'/>\n";
    o += "    </memory>\n";
  }
  o += "    <memballoon model='none'/>\n";
  o += "  </devices>\n";
  // What libvirt has no element for. The machine option merges with libvirt's own -machine.
  o += "  <qemu:commandline>\n";
  const auto arg = [&](const std::string& value) {
    o += "    <qemu:arg value='" + x(value) + "'/>\n";
  };
  if (spec.model.enabled) {
    ModelPluginFiles files;
    files.nvdimm_files = spec.nvdimm_files;
    files.report = d.cut_report();
    files.control_socket = d.model_socket();
    arg("-plugin");
    arg(ModelPluginArgument(m, spec.model, files, spec.kernel_task_layout));
  }
  arg("-machine");
  arg(std::string("nvdimm-persistence=") +
      (m.persistence == Persistence::kEadr ? "cpu" : "mem-ctrl"));
  o += "  </qemu:commandline>\n";
  o += "</domain>\n";
  if (!x.bad().empty()) {
    return Status::InvalidArgument("cannot write '" + x.bad() +
                                   "' into libvirt XML (control characters or bytes that are not "
                                   "UTF-8)");
  }
  *xml = std::move(o);
  return Status::Ok();
}

}  // namespace nvlab
