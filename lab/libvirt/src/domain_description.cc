// domain_description.cc -- ParseNvlabDomain (libxml2's tree API) and the Require* checks.

#include "nvlab/libvirt/domain_description.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <memory>
#include <optional>
#include <utility>

#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

constexpr std::string_view kAgentPort = "org.nvlab.agent";

struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
struct ParserFree {
  void operator()(xmlParserCtxt* ctxt) const { xmlFreeParserCtxt(ctxt); }
};
struct XmlCharFree {
  void operator()(xmlChar* text) const { xmlFree(text); }
};

std::string_view View(const xmlChar* text) {
  return text == nullptr ? std::string_view() : reinterpret_cast<const char*>(text);
}

// IsElement: node is an element named `name` in namespace `ns` (empty: no namespace).
bool IsElement(const xmlNode* node, std::string_view name, std::string_view ns = {}) {
  if (node->type != XML_ELEMENT_NODE || View(node->name) != name) return false;
  const std::string_view href = node->ns == nullptr ? std::string_view() : View(node->ns->href);
  return href == ns;
}

// Children returns the element children of node named `name` in namespace `ns`.
std::vector<const xmlNode*> Children(const xmlNode* node, std::string_view name,
                                     std::string_view ns = {}) {
  std::vector<const xmlNode*> out;
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (IsElement(c, name, ns)) out.push_back(c);
  }
  return out;
}

const xmlNode* FirstChild(const xmlNode* node, std::string_view name, std::string_view ns = {}) {
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (IsElement(c, name, ns)) return c;
  }
  return nullptr;
}

// Attribute returns the value of an attribute without namespace; nullopt when absent.
std::optional<std::string> Attribute(const xmlNode* node, const char* name) {
  std::unique_ptr<xmlChar, XmlCharFree> value(
      xmlGetNoNsProp(node, reinterpret_cast<const xmlChar*>(name)));
  if (value == nullptr) return std::nullopt;
  return std::string(View(value.get()));
}

std::string AttributeOr(const xmlNode* node, const char* name, std::string fallback = "") {
  return Attribute(node, name).value_or(std::move(fallback));
}

// Text is the element's text content without surrounding white space.
std::string Text(const xmlNode* node) {
  std::unique_ptr<xmlChar, XmlCharFree> content(xmlNodeGetContent(node));
  std::string text(View(content.get()));
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

std::string Basename(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// SplitQemuOptions splits a QEMU option value at single commas; ",," stands for a comma.
std::vector<std::string> SplitQemuOptions(std::string_view value) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != ',') {
      parts.back().push_back(value[i]);
    } else if (i + 1 < value.size() && value[i + 1] == ',') {
      parts.back().push_back(',');
      ++i;
    } else {
      parts.emplace_back();
    }
  }
  return parts;
}

Status XmlError(std::string_view what) {
  return Status::ProtocolError("domain XML: " + std::string(what));
}

Status ReadMetadata(const xmlNode* domain, DomainDescription* out) {
  const xmlNode* metadata = FirstChild(domain, "metadata");
  const xmlNode* nvlab =
      metadata == nullptr ? nullptr : FirstChild(metadata, "domain", kNvlabMetadataNamespace);
  if (nvlab == nullptr) return Status::Ok();
  const std::string version = AttributeOr(nvlab, "version");
  if (version != "1") {
    return XmlError("nvlab metadata of version '" + EscapeUntrusted(version) +
                    "'; this nvlab reads version 1");
  }
  NvlabDomainMetadata& m = out->metadata;
  m.present = true;
  m.machine = AttributeOr(nvlab, "machine");
  m.dir = AttributeOr(nvlab, "dir");
  m.model = AttributeOr(nvlab, "model");
  m.persistence = AttributeOr(nvlab, "persistence");
  m.on_cut = AttributeOr(nvlab, "on-cut");
  return Status::Ok();
}

Status ReadAgentChannel(const xmlNode* devices, DomainDescription* out) {
  bool found = false;
  for (const xmlNode* channel : Children(devices, "channel")) {
    const xmlNode* target = FirstChild(channel, "target");
    if (target == nullptr || AttributeOr(target, "name") != kAgentPort) continue;
    if (found) return XmlError("two channels are named org.nvlab.agent");
    found = true;
    const std::string type = AttributeOr(channel, "type");
    const std::string target_type = AttributeOr(target, "type");
    const xmlNode* source = FirstChild(channel, "source");
    const std::string mode = source == nullptr ? "" : AttributeOr(source, "mode", "bind");
    const std::string path = source == nullptr ? "" : AttributeOr(source, "path");
    if (type != "unix") {
      out->agent_channel_problem =
          "its org.nvlab.agent channel is of type '" + EscapeUntrusted(type) + "', not 'unix'";
    } else if (target_type != "virtio") {
      out->agent_channel_problem = "its org.nvlab.agent channel's target is of type '" +
                                   EscapeUntrusted(target_type) + "', not 'virtio'";
    } else if (path.empty()) {
      out->agent_channel_problem = "its org.nvlab.agent channel has no socket path";
    } else if (mode != "bind") {
      out->agent_channel_problem = "its org.nvlab.agent channel's socket is in mode '" +
                                   EscapeUntrusted(mode) + "', not 'bind' (QEMU must listen)";
    } else {
      out->agent_socket = path;
    }
  }
  return Status::Ok();
}

void ReadConsole(const xmlNode* devices, DomainDescription* out) {
  for (const char* element : {"serial", "console"}) {
    for (const xmlNode* device : Children(devices, element)) {
      if (AttributeOr(device, "type") != "file") continue;
      const xmlNode* source = FirstChild(device, "source");
      const std::string path = source == nullptr ? "" : AttributeOr(source, "path");
      if (!path.empty()) {
        out->console_log = path;
        return;
      }
    }
  }
}

void ReadNvdimms(const xmlNode* devices, DomainDescription* out) {
  for (const xmlNode* memory : Children(devices, "memory")) {
    if (AttributeOr(memory, "model") != "nvdimm") continue;
    const xmlNode* source = FirstChild(memory, "source");
    const xmlNode* path = source == nullptr ? nullptr : FirstChild(source, "path");
    out->nvdimm_paths.push_back(path == nullptr ? "" : Text(path));
  }
}

// ReadPlugin finds "-plugin VALUE" pairs in <qemu:commandline> whose file is nvlab-plugin.so.
Status ReadPlugin(const xmlNode* domain, DomainDescription* out) {
  std::vector<std::string> args;
  for (const xmlNode* commandline : Children(domain, "commandline", kLibvirtQemuNamespace)) {
    for (const xmlNode* arg : Children(commandline, "arg", kLibvirtQemuNamespace)) {
      args.push_back(AttributeOr(arg, "value"));
    }
  }
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] != "-plugin" && args[i] != "--plugin") continue;
    const std::vector<std::string> parts = SplitQemuOptions(args[i + 1]);
    std::string file = parts.front();
    if (file.starts_with("file=")) file = file.substr(5);
    if (Basename(file) != kNvlabPluginName) continue;
    if (out->plugin.present) return XmlError("<qemu:commandline> loads nvlab-plugin.so twice");
    NvlabPluginArguments& p = out->plugin;
    p.present = true;
    p.path = file;
    p.options.assign(parts.begin() + 1, parts.end());
    for (const std::string& option : p.options) {
      const size_t eq = option.find('=');
      const std::string key = option.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : option.substr(eq + 1);
      if (key == "control") p.control = value;
      if (key == "report") p.report = value;
      if (key == "persistence") p.persistence = value;
      if (key == "on-cut") p.on_cut = value;
    }
    ++i;
  }
  return Status::Ok();
}

std::string DomainName(const DomainDescription& domain) {
  return "the libvirt domain " + EscapeUntrusted(domain.name);
}

// HowToFix is the advice every Require* error ends with.
std::string HowToFix(const DomainDescription& domain, std::string_view options = "") {
  return "; define it from `nvlab machine MACHINE --libvirt-xml --domain-name " +
         EscapeUntrusted(domain.name) + std::string(options) + "`";
}

}  // namespace

Status ParseNvlabDomain(std::string_view xml, DomainDescription* out) {
  *out = DomainDescription();
  if (xml.size() > kMaxDomainXmlBytes) {
    return XmlError(std::to_string(xml.size()) + " bytes, more than the limit of " +
                    std::to_string(kMaxDomainXmlBytes));
  }
  if (xml.empty()) return XmlError("empty");
  xmlInitParser();
  std::unique_ptr<xmlParserCtxt, ParserFree> ctxt(xmlNewParserCtxt());
  if (ctxt == nullptr) return XmlError("cannot make a parser");
  // NONET: nothing from the network; NOERROR/NOWARNING: libxml2 would print to stderr, the
  // error comes back in the context instead. No NOENT (entities stay unexpanded), no DTDLOAD.
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlCtxtReadMemory(ctxt.get(), xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (doc == nullptr) {
    const xmlError* error = xmlCtxtGetLastError(ctxt.get());
    std::string why = error != nullptr && error->message != nullptr ? error->message : "";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    if (error != nullptr) why += " (line " + std::to_string(error->line) + ")";
    return XmlError("not well-formed XML: " + EscapeUntrusted(why));
  }
  const xmlNode* domain = xmlDocGetRootElement(doc.get());
  if (domain == nullptr || !IsElement(domain, "domain")) {
    return XmlError("the root element is not <domain>");
  }
  const xmlNode* name = FirstChild(domain, "name");
  if (name == nullptr || Text(name).empty()) return XmlError("no <name>");
  out->name = Text(name);
  NVLAB_RETURN_IF_ERROR(ReadMetadata(domain, out));
  if (const xmlNode* devices = FirstChild(domain, "devices")) {
    if (const xmlNode* emulator = FirstChild(devices, "emulator")) out->emulator = Text(emulator);
    NVLAB_RETURN_IF_ERROR(ReadAgentChannel(devices, out));
    ReadConsole(devices, out);
    ReadNvdimms(devices, out);
  }
  return ReadPlugin(domain, out);
}

Status RequireAgentChannel(const DomainDescription& domain) {
  if (!domain.agent_channel_problem.empty()) {
    return Status::FailedPrecondition(
        DomainName(domain) + " cannot be used: " + domain.agent_channel_problem + HowToFix(domain));
  }
  if (domain.agent_socket.empty()) {
    return Status::FailedPrecondition(
        DomainName(domain) +
        " has no org.nvlab.agent channel (<channel type='unix'> with <target type='virtio' "
        "name='org.nvlab.agent'/>), so nvlab cannot reach its agent" +
        HowToFix(domain));
  }
  return Status::Ok();
}

Status RequirePowerCut(const DomainDescription& domain) {
  NVLAB_RETURN_IF_ERROR(RequireAgentChannel(domain));
  if (!domain.plugin.present) {
    return Status::FailedPrecondition(
        DomainName(domain) +
        " does not load the persistence model (no -plugin .../nvlab-plugin.so in "
        "<qemu:commandline>), so nvlab cannot cut its power" +
        HowToFix(domain, " --model on"));
  }
  if (domain.plugin.control.empty() || domain.plugin.report.empty()) {
    return Status::FailedPrecondition(DomainName(domain) + "'s nvlab-plugin.so has no " +
                                      (domain.plugin.control.empty() ? "control=" : "report=") +
                                      " option, so nvlab cannot cut its power and read the cut" +
                                      HowToFix(domain));
  }
  if (Basename(domain.emulator) != kNvlabEmulatorName) {
    return Status::FailedPrecondition(
        DomainName(domain) + " runs the emulator '" + EscapeUntrusted(domain.emulator) +
        "', not nvlab-qemu, which makes TCG single-threaded (cuts atomic across vCPUs) and "
        "tells the persistence model where guest RAM is" +
        HowToFix(domain));
  }
  return Status::Ok();
}

}  // namespace nvlab
