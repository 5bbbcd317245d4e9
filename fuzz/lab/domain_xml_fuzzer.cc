// domain_xml_fuzzer.cc -- libFuzzer target over the libvirt domain-XML reader
// (nvlab/libvirt/domain_description.h): the live XML of a domain, written by whoever defined it.
// An input whose first byte is even is read as XML as it is; one whose first byte is odd is a
// machine file, rendered by nvlab's own writer (nvlab/libvirt_domain_xml.h) for the writer ->
// reader round trip.
// Checks, besides ASan/UBSan: the reader takes every domain the writer renders and finds in it
// what the writer put there (name, machine, NVDIMM files, console, agent socket, plugin and
// emulator: RequirePowerCut passes); the reasons RequireAgentChannel and RequirePowerCut give
// for any XML are one line of printable text (values from the XML are escaped).
//
// Run: build/fuzz/fuzz/lab/domain_xml_fuzzer -max_total_time=8 CORPUS_DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "nvlab/libvirt/domain_description.h"
#include "nvlab/libvirt_domain_xml.h"
#include "nvlab/machine.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  (void)std::fprintf(stderr, "%s\n", what.c_str());
  std::abort();
}

void CheckMessage(const nvlab::Status& status) {
  for (unsigned char c : status.message()) {
    if (c < 0x20 || c == 0x7f) Fail("a control byte in: " + status.message());
  }
}

void RoundTrip(std::string_view machine_text) {
  nvlab::Machine m;
  if (!nvlab::ParseMachine(machine_text, "fuzz.machine", &m).ok()) return;
  nvlab::LibvirtDomainSpec spec;
  spec.name = "nvlab-fuzz";
  spec.folder.dir = "/var/lib/nvlab/domains/nvlab-fuzz";
  spec.emulator = "/usr/libexec/nvlab/nvlab-qemu";
  for (size_t i = 0; i < m.nvdimms.size(); ++i) {
    spec.nvdimm_files.push_back(spec.folder.nvdimm_file(i));
  }
  spec.model.enabled = true;
  spec.model.plugin = "/usr/libexec/nvlab/nvlab-plugin.so";
  std::string xml;
  if (!nvlab::LibvirtDomainXml(m, spec, &xml).ok()) return;  // text XML cannot carry
  nvlab::DomainDescription domain;
  const nvlab::Status parsed = nvlab::ParseNvlabDomain(xml, &domain);
  if (!parsed.ok()) Fail("nvlab's own domain does not read back: " + parsed.message());
  if (domain.name != spec.name || domain.metadata.machine != m.name ||
      domain.metadata.persistence != nvlab::ToString(m.persistence) ||
      domain.nvdimm_paths.size() != m.nvdimms.size() ||
      domain.agent_socket != spec.folder.agent_socket().string() ||
      domain.console_log != spec.folder.console_log().string()) {
    Fail("nvlab's own domain reads back differently:\n" + xml);
  }
  for (size_t i = 0; i < m.nvdimms.size(); ++i) {
    if (domain.nvdimm_paths[i] != spec.nvdimm_files[i].string()) Fail("an NVDIMM path differs");
  }
  const nvlab::Status usable = nvlab::RequirePowerCut(domain);
  if (!usable.ok()) Fail("nvlab's own domain cannot be power-cut: " + usable.message());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) != 0) {
    RoundTrip(input);
    return 0;
  }
  nvlab::DomainDescription domain;
  const nvlab::Status parsed = nvlab::ParseNvlabDomain(input, &domain);
  CheckMessage(parsed);
  if (!parsed.ok()) return 0;
  CheckMessage(nvlab::RequireAgentChannel(domain));
  CheckMessage(nvlab::RequirePowerCut(domain));
  return 0;
}
