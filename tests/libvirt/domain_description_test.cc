// domain_description_test.cc -- ParseNvlabDomain and the Require* checks on hand-written XML:
// nvlab's shape, libvirt's live additions, each missing piece, and hostile text.

#include "nvlab/libvirt/domain_description.h"

#include <gtest/gtest.h>

#include <string>

namespace nvlab {
namespace {

// kGood is a live XML of an nvlab domain as libvirt 11.3 prints it (trimmed: libvirt adds ids,
// aliases, addresses and security labels, which the parser ignores).
constexpr char kGood[] =
    R"(<domain type='qemu' id='7' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>lab-1</name>
  <uuid>0b5c6a34-8e59-4c2c-9f55-0a3f3c0f2c11</uuid>
  <metadata>
    <nvlab:domain xmlns:nvlab="urn:nvlab:domain:1" version="1" machine="default" dir="/var/lib/nvlab/domains/lab-1" model="on" persistence="adr" on-cut="lose"/>
  </metadata>
  <maxMemory slots='1' unit='KiB'>1310720</maxMemory>
  <memory unit='KiB'>1310720</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-10.0'>hvm</type>
    <kernel>/var/lib/nvlab/domains/lab-1/vmlinux</kernel>
  </os>
  <devices>
    <emulator>/usr/local/libexec/nvlab/nvlab-qemu</emulator>
    <serial type='file'>
      <source path='/var/lib/nvlab/domains/lab-1/run/console.log'/>
      <target type='isa-serial' port='0'/>
      <alias name='serial0'/>
    </serial>
    <console type='file'>
      <source path='/var/lib/nvlab/domains/lab-1/run/console.log'/>
      <target type='serial' port='0'/>
    </console>
    <channel type='unix'>
      <source mode='bind' path='/var/lib/nvlab/domains/lab-1/run/agent.sock'/>
      <target type='virtio' name='org.nvlab.agent' state='connected'/>
      <alias name='channel0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
    <memory model='nvdimm' access='shared'>
      <source>
        <path>/var/lib/nvlab/domains/lab-1/nvdimm0.img</path>
        <pmem/>
      </source>
      <target><size unit='KiB'>262144</size><node>0</node></target>
      <address type='dimm' slot='0' base='0x100000000'/>
    </memory>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-plugin'/>
    <qemu:arg value='/usr/local/libexec/nvlab/nvlab-plugin.so,nvdimm=0:0x100000000:268435456:/var/lib/nvlab/domains/lab-1/nvdimm0.img,persistence=adr,on-cut=random:7:0.25,report=/var/lib/nvlab/domains/lab-1/run/cut-report.json,control=/var/lib/nvlab/domains/lab-1/run/model.sock'/>
  </qemu:commandline>
</domain>
)";

// Replace returns text with the one occurrence of `from` replaced by `to`.
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// Cut removes the text from the first `begin` through the following `end`.
std::string Cut(std::string text, const std::string& begin, const std::string& end) {
  const size_t from = text.find(begin);
  EXPECT_NE(from, std::string::npos) << begin;
  const size_t to = text.find(end, from);
  EXPECT_NE(to, std::string::npos) << end;
  if (from != std::string::npos && to != std::string::npos) {
    text.erase(from, to + end.size() - from);
  }
  return text;
}

DomainDescription MustParse(const std::string& xml) {
  DomainDescription d;
  const Status s = ParseNvlabDomain(xml, &d);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return d;
}

void ExpectError(const Status& s, Status::Code code, const std::string& part) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(part), std::string::npos) << s.ToString();
}

TEST(DomainDescriptionTest, ReadsEveryPieceOfAnNvlabDomain) {
  const DomainDescription d = MustParse(kGood);
  EXPECT_EQ(d.name, "lab-1");
  EXPECT_EQ(d.emulator, "/usr/local/libexec/nvlab/nvlab-qemu");
  EXPECT_EQ(d.agent_socket, "/var/lib/nvlab/domains/lab-1/run/agent.sock");
  EXPECT_EQ(d.agent_channel_problem, "");
  EXPECT_EQ(d.console_log, "/var/lib/nvlab/domains/lab-1/run/console.log");
  ASSERT_EQ(d.nvdimm_paths.size(), 1u);
  EXPECT_EQ(d.nvdimm_paths[0], "/var/lib/nvlab/domains/lab-1/nvdimm0.img");
  EXPECT_TRUE(d.metadata.present);
  EXPECT_EQ(d.metadata.machine, "default");
  EXPECT_EQ(d.metadata.dir, "/var/lib/nvlab/domains/lab-1");
  EXPECT_EQ(d.metadata.model, "on");
  EXPECT_EQ(d.metadata.persistence, "adr");
  EXPECT_EQ(d.metadata.on_cut, "lose");
  EXPECT_TRUE(d.plugin.present);
  EXPECT_EQ(d.plugin.path, "/usr/local/libexec/nvlab/nvlab-plugin.so");
  EXPECT_EQ(d.plugin.control, "/var/lib/nvlab/domains/lab-1/run/model.sock");
  EXPECT_EQ(d.plugin.report, "/var/lib/nvlab/domains/lab-1/run/cut-report.json");
  EXPECT_EQ(d.plugin.persistence, "adr");
  EXPECT_EQ(d.plugin.on_cut, "random:7:0.25");
  ASSERT_EQ(d.plugin.options.size(), 5u);
  EXPECT_EQ(d.plugin.options[0],
            "nvdimm=0:0x100000000:268435456:/var/lib/nvlab/domains/lab-1/nvdimm0.img");
  EXPECT_TRUE(RequireAgentChannel(d).ok());
  EXPECT_TRUE(RequirePowerCut(d).ok()) << RequirePowerCut(d).ToString();
}

TEST(DomainDescriptionTest, ReadsSeveralNvdimmsInOrder) {
  const std::string second =
      "<memory model='nvdimm' access='shared'><source><path> /d/nvdimm1.img </path><pmem/>"
      "</source></memory><memory model='dimm'><target/></memory></devices>";
  const DomainDescription d = MustParse(Replace(kGood, "</devices>", second));
  ASSERT_EQ(d.nvdimm_paths.size(), 2u);
  EXPECT_EQ(d.nvdimm_paths[1], "/d/nvdimm1.img");
}

TEST(DomainDescriptionTest, ReadsAPluginWhosePathHasADoubledComma) {
  const std::string xml = Replace(kGood, "/usr/local/libexec/nvlab/nvlab-plugin.so,",
                                  "file=/opt/a,,b/nvlab-plugin.so,");
  const DomainDescription d = MustParse(xml);
  EXPECT_TRUE(d.plugin.present);
  EXPECT_EQ(d.plugin.path, "/opt/a,b/nvlab-plugin.so");
  EXPECT_EQ(d.plugin.report, "/var/lib/nvlab/domains/lab-1/run/cut-report.json");
}

TEST(DomainDescriptionTest, IgnoresOtherPluginsAndArguments) {
  const std::string other =
      "<qemu:commandline><qemu:arg value='-machine'/><qemu:arg value='nvdimm-persistence=cpu'/>"
      "<qemu:arg value='-plugin'/><qemu:arg value='/usr/lib/libexeclog.so,report=/x'/>";
  const DomainDescription d = MustParse(Replace(kGood, "<qemu:commandline>", other));
  EXPECT_EQ(d.plugin.path, "/usr/local/libexec/nvlab/nvlab-plugin.so");
  EXPECT_EQ(d.plugin.report, "/var/lib/nvlab/domains/lab-1/run/cut-report.json");
}

TEST(DomainDescriptionTest, CommandlineInAnotherNamespaceIsNotQemus) {
  const std::string xml = Replace(kGood, "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'",
                                  "xmlns:qemu='urn:something-else'");
  const DomainDescription d = MustParse(xml);
  EXPECT_FALSE(d.plugin.present);
}

TEST(DomainDescriptionTest, TakesTheConsoleWhenThereIsNoFileSerial) {
  const std::string xml = Cut(kGood, "<serial type='file'>", "</serial>");
  EXPECT_EQ(MustParse(xml).console_log, "/var/lib/nvlab/domains/lab-1/run/console.log");
  const std::string none = Cut(xml, "<console type='file'>", "</console>");
  EXPECT_EQ(MustParse(none).console_log, "");
}

TEST(DomainDescriptionTest, MetadataIsOptional) {
  const DomainDescription d = MustParse(Cut(kGood, "<metadata>", "</metadata>"));
  EXPECT_FALSE(d.metadata.present);
  EXPECT_TRUE(RequirePowerCut(d).ok());
}

TEST(DomainDescriptionTest, MetadataOfAnotherVersionIsRefused) {
  DomainDescription d;
  ExpectError(ParseNvlabDomain(Replace(kGood, "version=\"1\"", "version=\"2\""), &d),
              Status::Code::kProtocolError, "version '2'");
  ExpectError(ParseNvlabDomain(Replace(kGood, "version=\"1\"", ""), &d),
              Status::Code::kProtocolError, "version ''");
}

TEST(DomainDescriptionTest, MetadataInAnotherNamespaceIsNotNvlabs) {
  const DomainDescription d = MustParse(Replace(kGood, "urn:nvlab:domain:1", "urn:nvlab:domain:9"));
  EXPECT_FALSE(d.metadata.present);
}

TEST(DomainDescriptionTest, NoChannelIsNamedWithTheFix) {
  const DomainDescription d = MustParse(Cut(kGood, "<channel type='unix'>", "</channel>"));
  EXPECT_EQ(d.agent_socket, "");
  const Status s = RequireAgentChannel(d);
  ExpectError(s, Status::Code::kFailedPrecondition,
              "the libvirt domain lab-1 has no org.nvlab.agent channel");
  EXPECT_NE(s.message().find("nvlab machine MACHINE --libvirt-xml --domain-name lab-1"),
            std::string::npos)
      << s.message();
  ExpectError(RequirePowerCut(d), Status::Code::kFailedPrecondition, "org.nvlab.agent");
}

TEST(DomainDescriptionTest, AChannelOfAnotherNameIsNotTheAgents) {
  const DomainDescription d =
      MustParse(Replace(kGood, "name='org.nvlab.agent'", "name='org.qemu.guest_agent.0'"));
  EXPECT_EQ(d.agent_socket, "");
  EXPECT_EQ(d.agent_channel_problem, "");
}

struct ChannelCase {
  const char* name;
  const char* from;
  const char* to;
  const char* problem;
};

class AgentChannelProblemTest : public ::testing::TestWithParam<ChannelCase> {};

TEST_P(AgentChannelProblemTest, IsNamed) {
  const DomainDescription d = MustParse(Replace(kGood, GetParam().from, GetParam().to));
  EXPECT_EQ(d.agent_socket, "");
  const Status s = RequireAgentChannel(d);
  ExpectError(s, Status::Code::kFailedPrecondition, GetParam().problem);
  EXPECT_NE(s.message().find("lab-1"), std::string::npos) << s.message();
}

INSTANTIATE_TEST_SUITE_P(
    Channels, AgentChannelProblemTest,
    ::testing::Values(ChannelCase{"Pty", "<channel type='unix'>", "<channel type='pty'>",
                                  "type 'pty', not 'unix'"},
                      ChannelCase{"GuestfwdTarget", "<target type='virtio' name='org.nvlab.agent'",
                                  "<target type='guestfwd' name='org.nvlab.agent'", "not 'virtio'"},
                      ChannelCase{"ConnectMode", "mode='bind'", "mode='connect'",
                                  "mode 'connect', not 'bind'"},
                      ChannelCase{"NoPath", "path='/var/lib/nvlab/domains/lab-1/run/agent.sock'",
                                  "", "no socket path"}),
    [](const ::testing::TestParamInfo<ChannelCase>& info) { return std::string(info.param.name); });

TEST(DomainDescriptionTest, TwoAgentChannelsAreRefused) {
  const std::string channel =
      "<channel type='unix'><source mode='bind' path='/b'/>"
      "<target type='virtio' name='org.nvlab.agent'/></channel></devices>";
  DomainDescription d;
  ExpectError(ParseNvlabDomain(Replace(kGood, "</devices>", channel), &d),
              Status::Code::kProtocolError, "two channels");
}

TEST(DomainDescriptionTest, TwoNvlabPluginsAreRefused) {
  const std::string twice =
      "<qemu:commandline><qemu:arg value='-plugin'/><qemu:arg value='/x/nvlab-plugin.so'/>";
  DomainDescription d;
  ExpectError(ParseNvlabDomain(Replace(kGood, "<qemu:commandline>", twice), &d),
              Status::Code::kProtocolError, "twice");
}

TEST(DomainDescriptionTest, PowerCutNeedsThePlugin) {
  const DomainDescription d = MustParse(Cut(kGood, "<qemu:commandline>", "</qemu:commandline>"));
  EXPECT_FALSE(d.plugin.present);
  EXPECT_TRUE(RequireAgentChannel(d).ok());
  const Status s = RequirePowerCut(d);
  ExpectError(s, Status::Code::kFailedPrecondition, "does not load the persistence model");
  EXPECT_NE(s.message().find("--model on"), std::string::npos) << s.message();
}

TEST(DomainDescriptionTest, PowerCutNeedsControlAndReport) {
  const DomainDescription no_control =
      MustParse(Replace(kGood, ",control=/var/lib/nvlab/domains/lab-1/run/model.sock", ""));
  ExpectError(RequirePowerCut(no_control), Status::Code::kFailedPrecondition, "no control=");
  const DomainDescription no_report =
      MustParse(Replace(kGood, ",report=/var/lib/nvlab/domains/lab-1/run/cut-report.json", ""));
  ExpectError(RequirePowerCut(no_report), Status::Code::kFailedPrecondition, "no report=");
}

TEST(DomainDescriptionTest, PowerCutNeedsTheNvlabEmulator) {
  const DomainDescription d = MustParse(
      Replace(kGood, "/usr/local/libexec/nvlab/nvlab-qemu", "/usr/bin/qemu-system-x86_64"));
  EXPECT_EQ(d.emulator, "/usr/bin/qemu-system-x86_64");
  EXPECT_TRUE(RequireAgentChannel(d).ok());
  ExpectError(RequirePowerCut(d), Status::Code::kFailedPrecondition,
              "runs the emulator '/usr/bin/qemu-system-x86_64', not nvlab-qemu");
  const DomainDescription none = MustParse(Cut(kGood, "<emulator>", "</emulator>"));
  ExpectError(RequirePowerCut(none), Status::Code::kFailedPrecondition, "not nvlab-qemu");
}

TEST(DomainDescriptionTest, ADomainWithoutDevicesHasNothing) {
  const DomainDescription d = MustParse("<domain type='qemu'><name>bare</name></domain>");
  EXPECT_EQ(d.name, "bare");
  EXPECT_EQ(d.emulator, "");
  EXPECT_TRUE(d.nvdimm_paths.empty());
  ExpectError(RequireAgentChannel(d), Status::Code::kFailedPrecondition, "the libvirt domain bare");
}

struct BadXml {
  const char* name;
  std::string xml;
  const char* part;
};

class DomainDescriptionBadXmlTest : public ::testing::TestWithParam<BadXml> {};

TEST_P(DomainDescriptionBadXmlTest, IsAProtocolErrorThatSaysWhy) {
  DomainDescription d;
  const Status s = ParseNvlabDomain(GetParam().xml, &d);
  ExpectError(s, Status::Code::kProtocolError, GetParam().part);
  EXPECT_TRUE(s.message().starts_with("domain XML: ")) << s.message();
}

INSTANTIATE_TEST_SUITE_P(
    Hostile, DomainDescriptionBadXmlTest,
    ::testing::Values(
        BadXml{"Empty", "", "empty"}, BadXml{"NotXml", "this is not XML", "not well-formed"},
        BadXml{"Truncated", std::string(kGood).substr(0, 500), "not well-formed"},
        BadXml{"OtherRoot", "<network><name>n</name></network>", "not <domain>"},
        BadXml{"NamespacedRoot", "<x:domain xmlns:x='urn:x'><name>n</name></x:domain>",
               "not <domain>"},
        BadXml{"NoName", "<domain type='qemu'><devices/></domain>", "no <name>"},
        BadXml{"BlankName", "<domain type='qemu'><name>  </name></domain>", "no <name>"},
        BadXml{"TooLong",
               "<domain><name>n</name>" + std::string(kMaxDomainXmlBytes, ' ') + "</domain>",
               "more than the limit"},
        BadXml{"NulByte", std::string("<domain><name>a\0b</name></domain>", 33),
               "not well-formed"}),
    [](const ::testing::TestParamInfo<BadXml>& info) { return std::string(info.param.name); });

TEST(DomainDescriptionTest, ExternalEntitiesAreNeitherLoadedNorExpanded) {
  // An external entity pointing at a local file: without NOENT it is never substituted, so the
  // file's content cannot reach a path nvlab uses.
  const std::string xml =
      "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY secret SYSTEM 'file:///etc/hostname'>"
      "<!ENTITY net SYSTEM 'http://192.0.2.1/x'>]>"
      "<domain><name>e</name><devices><emulator>&secret;&net;</emulator></devices></domain>";
  DomainDescription d;
  const Status s = ParseNvlabDomain(xml, &d);
  if (s.ok()) {
    EXPECT_EQ(d.emulator, "");
  } else {
    EXPECT_EQ(s.code(), Status::Code::kProtocolError);
  }
}

TEST(DomainDescriptionTest, EntityExpansionBombIsHarmless) {
  std::string xml = "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY a0 'xxxxxxxxxx'>";
  for (int i = 1; i < 10; ++i) {
    const std::string prev = "&a" + std::to_string(i - 1) + ";";
    std::string value;
    for (int k = 0; k < 10; ++k) value += prev;
    xml += "<!ENTITY a" + std::to_string(i) + " '" + value + "'>";
  }
  xml += "]><domain><name>bomb</name><devices><emulator>&a9;</emulator></devices></domain>";
  DomainDescription d;
  const Status s = ParseNvlabDomain(xml, &d);
  // libxml2 either refuses the amplification or leaves the reference unexpanded; either way
  // nothing of 10^10 bytes is built.
  if (s.ok()) {
    EXPECT_LT(d.emulator.size(), 1000u);
  } else {
    EXPECT_EQ(s.code(), Status::Code::kProtocolError);
  }
}

TEST(DomainDescriptionTest, ControlCharactersInNamesAreEscapedInMessages) {
  const std::string xml =
      "<domain><name>evil&#x9b;2J&#x7f;</name><devices><channel type='pty'><target type='virtio' "
      "name='org.nvlab.agent'/></channel></devices></domain>";
  const DomainDescription d = MustParse(xml);
  // U+009B is CSI, an escape sequence's start for some terminals; 0x7f is DEL.
  EXPECT_EQ(d.name,
            "evil\xc2\x9b"
            "2J\x7f");
  const Status s = RequireAgentChannel(d);
  EXPECT_EQ(s.message().find('\x9b'), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("evil\\xc2\\x9b2J\\x7f"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace nvlab
