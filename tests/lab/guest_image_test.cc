// guest_image_test.cc -- the guest image: newc cpio writer and parser, SHA-256, ELF facts,
// kernel payload extraction, the module set, apt output parsing and layer caching (unit: no
// QEMU, no network), then the real image built from Debian's packages (GuestImageBuild: the
// CTest fixture guest_image) and real boots of it under TCG (GuestBootTest).

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "nvlab/file_contents.h"
#include "nvlab/formats/elf_file.h"
#include "nvlab/formats/elf_zero_tails.h"
#include "nvlab/guest_image.h"
#include "nvlab/host_command.h"
#include "nvlab/image/cache_folder.h"
#include "nvlab/image/cpio_archive.h"
#include "nvlab/image/debian_packages.h"
#include "nvlab/image/guest_image_layers.h"
#include "nvlab/image/kernel_extraction.h"
#include "nvlab/image/kernel_modules.h"
#include "nvlab/image/sha256_digest.h"
#include "nvlab/subprocess.h"

namespace nvlab::image {
namespace {

namespace fs = std::filesystem;

// TempDir is a folder removed with everything in it at the end of a test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "nvlab-image-test-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    char* made = mkdtemp(buffer.data());
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string ReadAll(const fs::path& path) {
  std::string contents;
  EXPECT_TRUE(ReadFileContents(path, &contents).ok()) << path;
  return contents;
}

void WriteAll(const fs::path& path, std::string_view contents, bool executable = false) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(WriteFileContents(path, contents, executable).ok()) << path;
}

std::map<std::string, CpioEntry> ParseToMap(std::string_view bytes) {
  std::vector<CpioEntry> entries;
  Status status = ParseCpio(bytes, &entries);
  EXPECT_TRUE(status.ok()) << status.ToString();
  std::map<std::string, CpioEntry> by_name;
  for (CpioEntry& entry : entries) by_name[entry.name] = std::move(entry);
  return by_name;
}

bool HostHas(const std::string& program) {
  std::string ignored;
  return RunHostCommand({"sh", "-c", "command -v " + program}, {}, &ignored).ok();
}

// ---------------------------------------------------------------------------------------------
// The cpio writer.

std::string SampleArchive() {
  std::ostringstream out;
  CpioWriter writer(&out);
  EXPECT_TRUE(writer.AddDirectory("usr", 0755).ok());
  EXPECT_TRUE(writer.AddDirectory("usr/bin", 0755).ok());
  EXPECT_TRUE(writer.AddFile("usr/bin/hello", "#!/bin/sh\necho hello\n", 0755).ok());
  EXPECT_TRUE(writer.AddFile("empty", "", 0600).ok());
  EXPECT_TRUE(writer.AddFile("odd", "12345", 0644).ok());
  EXPECT_TRUE(writer.AddSymlink("bin", "usr/bin").ok());
  EXPECT_TRUE(writer.AddDirectory("dev", 0755).ok());
  EXPECT_TRUE(writer.AddCharDevice("dev/console", 0600, 5, 1).ok());
  EXPECT_TRUE(writer.Finish().ok());
  EXPECT_EQ(writer.bytes_written(), out.str().size());
  return out.str();
}

TEST(CpioWriterTest, RoundTripsEveryEntryKindThroughTheParser) {
  std::map<std::string, CpioEntry> entries = ParseToMap(SampleArchive());
  ASSERT_EQ(entries.size(), 8U);
  EXPECT_EQ(entries["usr/bin"].mode, static_cast<std::uint32_t>(S_IFDIR | 0755));
  EXPECT_EQ(entries["usr/bin/hello"].mode, static_cast<std::uint32_t>(S_IFREG | 0755));
  EXPECT_EQ(entries["usr/bin/hello"].data, "#!/bin/sh\necho hello\n");
  EXPECT_EQ(entries["empty"].data, "");
  EXPECT_EQ(entries["empty"].mode, static_cast<std::uint32_t>(S_IFREG | 0600));
  EXPECT_EQ(entries["odd"].data, "12345");
  EXPECT_EQ(entries["bin"].mode & S_IFMT, static_cast<std::uint32_t>(S_IFLNK));
  EXPECT_EQ(entries["bin"].data, "usr/bin");
  EXPECT_EQ(entries["dev/console"].mode, static_cast<std::uint32_t>(S_IFCHR | 0600));
  EXPECT_EQ(entries["dev/console"].rdev_major, 5U);
  EXPECT_EQ(entries["dev/console"].rdev_minor, 1U);
}

TEST(CpioWriterTest, AlignsHeadersAndDataToFourBytesAndEndsWithTheTrailer) {
  std::string archive = SampleArchive();
  EXPECT_EQ(archive.size() % 4, 0U);
  EXPECT_EQ(archive.substr(0, 6), "070701");
  std::size_t trailer = archive.rfind("TRAILER!!!");
  ASSERT_NE(trailer, std::string::npos);
  // Every header starts on a 4-byte boundary: find each magic where the parser would.
  std::size_t offset = 0;
  int headers = 0;
  while ((offset = archive.find("070701", offset)) != std::string::npos) {
    EXPECT_EQ(offset % 4, 0U) << "header at " << offset;
    offset += 6;
    ++headers;
  }
  EXPECT_EQ(headers, 9);  // 8 entries and the trailer
}

TEST(CpioWriterTest, GnuCpioListsWhatWasWritten) {
  if (!HostHas("cpio")) GTEST_SKIP() << "GNU cpio is not installed";
  TempDir dir;
  fs::path archive = dir.path() / "sample.cpio";
  WriteAll(archive, SampleArchive());
  HostCommandOptions options;
  options.stdin_path = archive;
  std::string listing;
  Status status = RunHostCommand({"cpio", "-it", "--quiet"}, options, &listing);
  ASSERT_TRUE(status.ok()) << status.ToString();
  std::istringstream lines(listing);
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);) names.push_back(line);
  std::vector<std::string> expected = {"usr", "usr/bin", "usr/bin/hello", "empty",
                                       "odd", "bin",     "dev",           "dev/console"};
  EXPECT_EQ(names, expected);
  // And extracts the file content intact.
  HostCommandOptions extract;
  extract.stdin_path = archive;
  extract.working_dir = dir.path();
  std::string ignored;
  ASSERT_TRUE(RunHostCommand({"cpio", "-id", "--quiet", "usr/bin/hello", "odd", "usr", "usr/bin"},
                             extract, &ignored)
                  .ok());
  EXPECT_EQ(ReadAll(dir.path() / "usr/bin/hello"), "#!/bin/sh\necho hello\n");
  EXPECT_EQ(ReadAll(dir.path() / "odd"), "12345");
}

TEST(CpioWriterTest, RejectsPathsTheKernelWouldMisplace) {
  for (const char* bad : {"", "/etc/passwd", "a/../b", "a//b", "./a", "a/", ".."}) {
    std::ostringstream out;
    CpioWriter writer(&out);
    const Status added = writer.AddFile(bad, "x");
    EXPECT_EQ(added.code(), Status::Code::kInvalidArgument) << bad;
    // The archive is spoilt: Finish reports the first error again rather than a valid trailer.
    const Status finished = writer.Finish();
    EXPECT_EQ(finished.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_EQ(finished.message(), added.message()) << bad;
  }
}

TEST(CpioWriterTest, GivesConcatenatedArchivesDisjointInodes) {
  std::ostringstream first_out;
  CpioWriter first(&first_out, 1);
  ASSERT_TRUE(first.AddFile("a", "1").ok());
  ASSERT_TRUE(first.Finish().ok());
  std::ostringstream second_out;
  CpioWriter second(&second_out, 1000);
  ASSERT_TRUE(second.AddFile("b", "2").ok());
  ASSERT_TRUE(second.Finish().ok());
  std::map<std::string, CpioEntry> entries = ParseToMap(first_out.str() + second_out.str());
  ASSERT_EQ(entries.size(), 2U);
  EXPECT_EQ(entries["a"].inode, 1U);
  EXPECT_EQ(entries["b"].inode, 1000U);
  EXPECT_EQ(entries["b"].data, "2");
}

TEST(CpioParserTest, AcceptsZeroPaddingBetweenArchives) {
  std::string archive = SampleArchive();
  std::string padded = archive + std::string(512, '\0') + archive;
  std::vector<CpioEntry> entries;
  ASSERT_TRUE(ParseCpio(padded, &entries).ok());
  EXPECT_EQ(entries.size(), 16U);
}

TEST(CpioParserTest, RejectsTruncatedAndCorruptArchives) {
  std::string archive = SampleArchive();
  for (std::size_t cut : {std::size_t{50}, std::size_t{200}, archive.size() - 20}) {
    std::vector<CpioEntry> entries;
    const Status parsed = ParseCpio(archive.substr(0, cut), &entries);
    EXPECT_EQ(parsed.code(), Status::Code::kInvalidArgument) << "cut at " << cut;
    EXPECT_NE(parsed.message().find("cpio: truncated"), std::string::npos) << parsed.message();
  }
  std::string corrupt = archive;
  corrupt[3] = 'X';
  std::vector<CpioEntry> entries;
  EXPECT_EQ(ParseCpio(corrupt, &entries).code(), Status::Code::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// SHA-256 (libcrypto).

TEST(Sha256DigestTest, MatchesTheFipsExamples) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256DigestTest, GivesTheSameDigestWhateverTheChunking) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7);
  std::string whole = Sha256Hex(data);
  for (std::size_t chunk : {1, 3, 63, 64, 65, 200}) {
    Sha256Digest digest;
    for (std::size_t offset = 0; offset < data.size(); offset += chunk) {
      digest.Update(std::string_view(data).substr(offset, chunk));
    }
    EXPECT_EQ(digest.HexDigest(), whole) << "chunk " << chunk;
  }
}

TEST(Sha256DigestTest, HashesFilesWithTheirSize) {
  TempDir dir;
  std::string hex;
  std::uint64_t size = 1;
  WriteAll(dir.path() / "empty", "");
  ASSERT_TRUE(Sha256OfFile(dir.path() / "empty", &hex, &size).ok());
  EXPECT_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(size, 0U);
  WriteAll(dir.path() / "abc", "abc");
  ASSERT_TRUE(Sha256OfFile(dir.path() / "abc", &hex, &size).ok());
  EXPECT_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(size, 3U);
  // FIPS 180-2's million "a"; then a file of several of the chunks Sha256OfFile reads.
  WriteAll(dir.path() / "million", std::string(1000000, 'a'));
  ASSERT_TRUE(Sha256OfFile(dir.path() / "million", &hex, &size).ok());
  EXPECT_EQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(size, 1000000U);
  std::string big(3 << 20, 'x');
  WriteAll(dir.path() / "big", big);
  ASSERT_TRUE(Sha256OfFile(dir.path() / "big", &hex, &size).ok());
  EXPECT_EQ(hex, Sha256Hex(big));
  EXPECT_EQ(size, big.size());
}

TEST(Sha256DigestTest, AMissingFileIsAnIoErrorNamingIt) {
  TempDir dir;
  std::string hex = "unchanged";
  Status status = Sha256OfFile(dir.path() / "absent", &hex);
  EXPECT_EQ(status.code(), Status::Code::kIoError);
  EXPECT_NE(status.message().find("cannot open " + (dir.path() / "absent").string()),
            std::string::npos)
      << status.ToString();
  EXPECT_EQ(hex, "unchanged");
}

// ---------------------------------------------------------------------------------------------
// ELF facts and kernel extraction, on synthetic files.

void Put16(std::string* bytes, std::size_t offset, std::uint16_t value) {
  std::memcpy(bytes->data() + offset, &value, 2);
}
void Put32(std::string* bytes, std::size_t offset, std::uint32_t value) {
  std::memcpy(bytes->data() + offset, &value, 4);
}
void Put64(std::string* bytes, std::size_t offset, std::uint64_t value) {
  std::memcpy(bytes->data() + offset, &value, 8);
}

// ElfSegment is one program header of SegmentedElf: its type, file bytes and memory size.
struct ElfSegment {
  std::uint32_t type = 1;  // PT_LOAD
  std::string bytes;
  std::uint64_t memory_size = 0;
};

// SegmentedElf builds an ELF64 whose program headers describe `segments`, their bytes laid out
// one after the other behind the headers, then `trailer` (bytes no segment covers).
std::string SegmentedElf(const std::vector<ElfSegment>& segments, std::string_view trailer = "") {
  const std::size_t headers = 64 + 56 * segments.size();
  std::string elf(headers, '\0');
  elf[0] = 0x7f;
  elf[1] = 'E';
  elf[2] = 'L';
  elf[3] = 'F';
  elf[4] = 2;  // 64-bit
  elf[5] = 1;  // little-endian
  elf[6] = 1;
  Put16(&elf, 16, 2);   // ET_EXEC
  Put16(&elf, 18, 62);  // x86-64
  Put32(&elf, 20, 1);
  Put64(&elf, 32, 64);  // e_phoff
  Put16(&elf, 52, 64);
  Put16(&elf, 54, 56);  // e_phentsize
  Put16(&elf, 56, static_cast<std::uint16_t>(segments.size()));
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::size_t header = 64 + 56 * i;
    Put32(&elf, header, segments[i].type);
    Put64(&elf, header + 8, elf.size());
    Put64(&elf, header + 32, segments[i].bytes.size());
    Put64(&elf, header + 40, segments[i].memory_size);
    elf += segments[i].bytes;
  }
  return elf + std::string(trailer);
}

// SyntheticKernel builds a minimal ELF64 with one PT_NOTE segment holding the given notes.
std::string SyntheticKernel(bool with_pvh_note, std::size_t padding = 4096) {
  std::string notes;
  auto add_note = [&notes](std::string_view name, std::uint32_t type, std::string_view desc) {
    std::string note(12, '\0');
    Put32(&note, 0, static_cast<std::uint32_t>(name.size()));
    Put32(&note, 4, static_cast<std::uint32_t>(desc.size()));
    Put32(&note, 8, type);
    note += name;
    note.resize((note.size() + 3) & ~std::size_t{3}, '\0');
    note += desc;
    note.resize((note.size() + 3) & ~std::size_t{3}, '\0');
    notes += note;
  };
  add_note(std::string_view("GNU\0", 4), 3, "build-id");
  if (with_pvh_note) {
    std::string entry(4, '\0');
    Put32(&entry, 0, 0x1000123);
    add_note(std::string_view("Xen\0", 4), formats::kXenElfNotePhys32Entry, entry);
  }
  std::string filler;
  // Kernel-like filler that compresses well.
  for (std::size_t i = 0; i < padding; ++i) filler += static_cast<char>("nvlab"[i % 5]);
  return SegmentedElf({{4, notes, notes.size()}}, filler);
}

TEST(ElfFileTest, FindsThePvhEntryNote) {
  formats::ElfFacts facts;
  ASSERT_TRUE(formats::ParseElf(SyntheticKernel(true), &facts).ok());
  ASSERT_TRUE(facts.pvh_entry.has_value());
  EXPECT_EQ(*facts.pvh_entry, 0x1000123U);
  ASSERT_TRUE(formats::ParseElf(SyntheticKernel(false), &facts).ok());
  EXPECT_FALSE(facts.pvh_entry.has_value());
}

TEST(ElfFileTest, ReadsTheLoaderAndLibrariesOfAHostProgram) {
  formats::ElfFacts facts;
  std::string bytes = ReadAll("/bin/sh");
  ASSERT_TRUE(formats::ParseElf(bytes, &facts).ok());
  EXPECT_NE(facts.interpreter.find("ld-linux-x86-64.so.2"), std::string::npos) << facts.interpreter;
  EXPECT_NE(std::find(facts.needed.begin(), facts.needed.end(), "libc.so.6"), facts.needed.end());
}

TEST(ElfFileTest, SurvivesEveryTruncationOfAnElfFile) {
  std::string kernel = SyntheticKernel(true, 0);
  for (std::size_t length = 0; length < kernel.size(); ++length) {
    formats::ElfFacts facts;
    Status status = formats::ParseElf(kernel.substr(0, length), &facts);
    // Either a clean error, or (once the notes are complete) the note itself.
    if (status.ok()) {
      EXPECT_GE(length, 64U + 56U);
    }
  }
  formats::ElfFacts facts;
  EXPECT_EQ(formats::ParseElf("#!/bin/sh\n", &facts).code(), Status::Code::kInvalidArgument);
}

std::uint64_t SegmentFileSize(const std::string& elf, std::size_t index) {
  std::uint64_t size = 0;
  std::memcpy(&size, elf.data() + 64 + 56 * index + 32, 8);
  return size;
}

std::string WithZeros(std::string_view bytes, std::size_t zeros) {
  return std::string(bytes) + std::string(zeros, '\0');
}

TEST(ElfZeroTailsTest, LeavesOutTheTrailingZerosOfEachLoadSegment) {
  const std::string_view inner_zeros("data\0\0inside", 12);
  const std::string original =
      SegmentedElf({{1, "ends in data", 4096},
                    {1, WithZeros(inner_zeros, 3000), 8192},  // zeros inside stay
                    {1, std::string(500, '\0'), 500},         // nothing but zeros
                    {4, WithZeros("note", 12), 16},           // not PT_LOAD: untouched
                    {1, "", 64}},                             // no file bytes at all
                   WithZeros("section headers", 40));
  std::string elf = original;
  std::uint64_t trimmed = 0;
  const Status status = formats::TrimElfZeroTails(&elf, &trimmed);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(trimmed, 3000U + 500U);
  EXPECT_EQ(SegmentFileSize(elf, 0), 12U);
  EXPECT_EQ(SegmentFileSize(elf, 1), inner_zeros.size());
  EXPECT_EQ(SegmentFileSize(elf, 2), 0U);
  EXPECT_EQ(SegmentFileSize(elf, 3), 16U);
  EXPECT_EQ(SegmentFileSize(elf, 4), 0U);
  // Only the two p_filesz fields changed: every other byte, the memory sizes included, stays.
  ASSERT_EQ(elf.size(), original.size());
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < elf.size(); ++i) {
    if (elf[i] != original[i]) changed.push_back(i);
  }
  for (std::size_t i : changed) {
    const bool in_file_size_field =
        (i >= 64 + 56 + 32 && i < 64 + 56 + 40) || (i >= 64 + 2 * 56 + 32 && i < 64 + 2 * 56 + 40);
    EXPECT_TRUE(in_file_size_field) << "byte " << i << " changed";
  }
  EXPECT_FALSE(changed.empty());
  // A second pass finds nothing left to trim.
  ASSERT_TRUE(formats::TrimElfZeroTails(&elf, &trimmed).ok());
  EXPECT_EQ(trimmed, 0U);
}

TEST(ElfZeroTailsTest, RefusesBadHeadersAndLeavesTheFileUnchanged) {
  const std::string good = SegmentedElf({{1, WithZeros("a", 100), 200}});
  struct Case {
    const char* what;
    std::string elf;
  };
  std::vector<Case> cases;
  cases.push_back({"not an ELF file", std::string(200, 'x')});
  std::string outside = SegmentedElf({{1, WithZeros("a", 100), 200}, {1, "b", 1}});
  Put64(&outside, 64 + 56 + 8, outside.size());  // the second segment starts at the end
  Put64(&outside, 64 + 56 + 32, 2);
  Put64(&outside, 64 + 56 + 40, 2);
  cases.push_back({"segment outside the file", outside});  // its first segment is trimmable
  std::string larger = good;
  Put64(&larger, 64 + 40, 50);  // p_memsz below p_filesz
  cases.push_back({"more file bytes than memory", larger});
  std::string headers = good;
  Put64(&headers, 32, good.size() - 10);  // e_phoff near the end
  cases.push_back({"program headers outside the file", headers});
  std::string small = good;
  Put16(&small, 54, 40);  // e_phentsize below Elf64_Phdr's
  cases.push_back({"bad phentsize", small});
  for (Case& c : cases) {
    const std::string before = c.elf;
    std::uint64_t trimmed = 7;
    EXPECT_EQ(formats::TrimElfZeroTails(&c.elf, &trimmed).code(), Status::Code::kInvalidArgument)
        << c.what;
    EXPECT_EQ(c.elf, before) << c.what;
    EXPECT_EQ(trimmed, 0U) << c.what;
  }
}

TEST(ElfZeroTailsTest, SurvivesEveryTruncationOfAnElfFile) {
  const std::string elf = SegmentedElf({{1, WithZeros("abc", 64), 128}, {1, "x", 1}});
  for (std::size_t length = 0; length <= elf.size(); ++length) {
    std::string prefix = elf.substr(0, length);
    std::uint64_t trimmed = 0;
    const Status status = formats::TrimElfZeroTails(&prefix, &trimmed);
    if (status.ok()) {
      EXPECT_LE(trimmed, 64U);
    } else {
      EXPECT_EQ(prefix, elf.substr(0, length));
    }
  }
}

// SyntheticBzImage wraps a compressed payload the way arch/x86/boot does: setup sectors with a
// "HdrS" header (protocol 2.15) giving payload_offset/length, then the payload and its size.
std::string SyntheticBzImage(const std::string& compressed, std::uint32_t uncompressed_size,
                             bool append_size) {
  constexpr std::size_t kSetupSectors = 3;
  std::string image((kSetupSectors + 1) * 512, '\0');
  image[0x1f1] = static_cast<char>(kSetupSectors);
  std::memcpy(image.data() + 0x202, "HdrS", 4);
  Put16(&image, 0x206, 0x020f);
  std::string protected_mode(0x300, '\x90');  // the decompressor's place
  std::string payload = compressed;
  if (append_size) {
    std::string size(4, '\0');
    Put32(&size, 0, uncompressed_size);
    payload += size;
  }
  Put32(&image, 0x248, static_cast<std::uint32_t>(protected_mode.size()));
  Put32(&image, 0x24c, static_cast<std::uint32_t>(payload.size()));
  return image + protected_mode + payload + std::string(64, '\0');
}

// WriteXzBzImage writes dir/bzImage: kernel compressed with xz inside a synthetic bzImage that
// announces `announced` bytes uncompressed.
bool WriteXzBzImage(const fs::path& dir, const std::string& kernel, std::size_t announced) {
  WriteAll(dir / "vmlinux.bin", kernel);
  HostCommandOptions options;
  options.stdin_path = dir / "vmlinux.bin";
  options.stdout_path = dir / "compressed";
  if (!RunHostCommand({"xz", "-c", "--check=crc32"}, options, nullptr).ok()) return false;
  WriteAll(dir / "bzImage", SyntheticBzImage(ReadAll(dir / "compressed"),
                                             static_cast<std::uint32_t>(announced), true));
  return true;
}

struct CompressorCase {
  PayloadCompression compression;
  std::vector<std::string> compress;  // stdin -> stdout
};

// PrintTo names a case by its compressor (ctest shows it beside the test name).
void PrintTo(const CompressorCase& param, std::ostream* out) {
  *out << CompressionName(param.compression);
}

class KernelExtractionTest : public testing::TestWithParam<CompressorCase> {};

TEST_P(KernelExtractionTest, ExtractsTheElfKernelFromASyntheticBzImage) {
  const CompressorCase& param = GetParam();
  if (!HostHas(param.compress.front())) GTEST_SKIP() << param.compress.front() << " missing";
  TempDir dir;
  std::string kernel = SyntheticKernel(true, 100000);
  WriteAll(dir.path() / "vmlinux.bin", kernel);
  HostCommandOptions options;
  options.stdin_path = dir.path() / "vmlinux.bin";
  options.stdout_path = dir.path() / "vmlinux.bin.compressed";
  ASSERT_TRUE(RunHostCommand(param.compress, options, nullptr).ok());
  std::string compressed = ReadAll(options.stdout_path);
  bool gzip = param.compression == PayloadCompression::kGzip;
  std::string bzimage =
      SyntheticBzImage(compressed, static_cast<std::uint32_t>(kernel.size()), !gzip);
  WriteAll(dir.path() / "bzImage", bzimage);

  KernelPayload payload;
  ASSERT_TRUE(LocateKernelPayload(bzimage, &payload).ok());
  EXPECT_EQ(payload.compression, param.compression);
  EXPECT_EQ(payload.uncompressed_size, kernel.size());

  Status status = ExtractVmlinux(dir.path() / "bzImage", dir.path() / "vmlinux", dir.path());
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_TRUE(ReadAll(dir.path() / "vmlinux") == kernel);
}

INSTANTIATE_TEST_SUITE_P(
    Compressors, KernelExtractionTest,
    testing::Values(CompressorCase{PayloadCompression::kXz, {"xz", "-c", "--check=crc32"}},
                    CompressorCase{PayloadCompression::kGzip, {"gzip", "-c", "-9"}},
                    CompressorCase{PayloadCompression::kZstd, {"zstd", "-c", "-q"}},
                    CompressorCase{PayloadCompression::kLz4, {"lz4", "-c", "-l", "-q"}},
                    CompressorCase{PayloadCompression::kBzip2, {"bzip2", "-c"}}),
    [](const testing::TestParamInfo<CompressorCase>& info) {
      std::string name = CompressionName(info.param.compression);
      name[0] = static_cast<char>(std::toupper(name[0]));
      return name;
    });

TEST(KernelExtractionZeroTailTest, WritesAKernelWhoseLoadSegmentsEndWithoutZeros) {
  if (!HostHas("xz")) GTEST_SKIP() << "xz missing";
  TempDir dir;
  // The PVH note of SyntheticKernel as a PT_NOTE segment, and a .bss-like zero tail in a load
  // segment.
  const std::string with_note = SyntheticKernel(true, 0);
  std::uint64_t note_offset = 0, note_size = 0;
  std::memcpy(&note_offset, with_note.data() + 64 + 8, 8);
  std::memcpy(&note_size, with_note.data() + 64 + 32, 8);
  const std::string note = with_note.substr(note_offset, note_size);
  const std::string kernel =
      SegmentedElf({{4, note, note.size()}, {1, WithZeros("text and data", 70000), 90000}});
  ASSERT_TRUE(WriteXzBzImage(dir.path(), kernel, kernel.size()));
  const Status status = ExtractVmlinux(dir.path() / "bzImage", dir.path() / "vmlinux", dir.path());
  ASSERT_TRUE(status.ok()) << status.ToString();
  const std::string vmlinux = ReadAll(dir.path() / "vmlinux");
  ASSERT_EQ(vmlinux.size(), kernel.size());
  EXPECT_EQ(SegmentFileSize(vmlinux, 0), note.size());
  EXPECT_EQ(SegmentFileSize(vmlinux, 1), std::string("text and data").size());
  std::string expected = kernel;
  ASSERT_TRUE(formats::TrimElfZeroTails(&expected, nullptr).ok());
  EXPECT_TRUE(vmlinux == expected);
  std::uint64_t entry = 0;
  EXPECT_TRUE(CheckBootableVmlinux(vmlinux, &entry).ok());
  EXPECT_EQ(entry, 0x1000123U);
}

TEST(KernelExtractionErrorsTest, RefusesAKernelWithoutPvhNote) {
  if (!HostHas("xz")) GTEST_SKIP() << "xz missing";
  TempDir dir;
  std::string kernel = SyntheticKernel(false);
  ASSERT_TRUE(WriteXzBzImage(dir.path(), kernel, kernel.size()));
  Status status = ExtractVmlinux(dir.path() / "bzImage", dir.path() / "vmlinux", dir.path());
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(status.message().find("PVH"), std::string::npos) << status.ToString();
}

TEST(KernelExtractionErrorsTest, RefusesFilesThatAreNotBzImages) {
  KernelPayload payload;
  EXPECT_EQ(LocateKernelPayload(std::string(4096, 'x'), &payload).code(),
            Status::Code::kInvalidArgument);
  std::string unknown = SyntheticBzImage("not compressed at all", 100, true);
  EXPECT_EQ(LocateKernelPayload(unknown, &payload).code(), Status::Code::kInvalidArgument);
  std::string outside = SyntheticBzImage(std::string(1000, 'x'), 100, true);
  Put32(&outside, 0x24c, 0x7fffffff);
  EXPECT_EQ(LocateKernelPayload(outside, &payload).code(), Status::Code::kInvalidArgument);
}

TEST(KernelExtractionErrorsTest, ReportsASizeThatDisagreesWithTheAppendedOne) {
  if (!HostHas("xz")) GTEST_SKIP() << "xz missing";
  TempDir dir;
  std::string kernel = SyntheticKernel(true);
  ASSERT_TRUE(WriteXzBzImage(dir.path(), kernel, kernel.size() + 1));
  EXPECT_FALSE(ExtractVmlinux(dir.path() / "bzImage", dir.path() / "vmlinux", dir.path()).ok());
}

// ---------------------------------------------------------------------------------------------
// The module set.

constexpr char kModulesDep[] =
    "kernel/drivers/nvdimm/libnvdimm.ko:\n"
    "kernel/drivers/acpi/nfit/nfit.ko: kernel/drivers/nvdimm/libnvdimm.ko\n"
    "kernel/drivers/nvdimm/nd_pmem.ko: kernel/drivers/nvdimm/nd_btt.ko "
    "kernel/drivers/nvdimm/libnvdimm.ko\n"
    "kernel/drivers/nvdimm/nd_btt.ko: kernel/drivers/nvdimm/libnvdimm.ko\n"
    "kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko\n"
    "kernel/net/9p/9pnet.ko:\n"
    "kernel/fs/netfs/netfs.ko:\n"
    "kernel/drivers/dax/device-dax.ko:\n";
constexpr char kModulesBuiltin[] = "kernel/lib/crc16.ko\nkernel/drivers/dax/dax.ko\n";

TEST(ModuleIndexTest, ListsDependenciesBeforeTheirUsersAndEachOnce) {
  ModuleIndex index;
  ASSERT_TRUE(index.Parse(kModulesDep, kModulesBuiltin).ok());
  std::vector<std::string> paths;
  ASSERT_TRUE(index.Resolve({{"nfit"}, {"nd_pmem"}, {"9p"}}, &paths, nullptr).ok());
  std::vector<std::string> expected = {"kernel/drivers/nvdimm/libnvdimm.ko",
                                       "kernel/drivers/acpi/nfit/nfit.ko",
                                       "kernel/drivers/nvdimm/nd_btt.ko",
                                       "kernel/drivers/nvdimm/nd_pmem.ko",
                                       "kernel/net/9p/9pnet.ko",
                                       "kernel/fs/netfs/netfs.ko",
                                       "kernel/fs/9p/9p.ko.xz"};
  EXPECT_EQ(paths, expected);
}

TEST(ModuleIndexTest, SkipsBuiltInModulesAndReadsDashesAsUnderscores) {
  ModuleIndex index;
  ASSERT_TRUE(index.Parse(kModulesDep, kModulesBuiltin).ok());
  std::vector<std::string> paths;
  std::vector<std::string> builtin;
  ASSERT_TRUE(index.Resolve({{"crc16"}, {"device_dax"}}, &paths, &builtin).ok());
  EXPECT_EQ(paths, std::vector<std::string>{"kernel/drivers/dax/device-dax.ko"});
  EXPECT_EQ(builtin, std::vector<std::string>{"crc16"});
  EXPECT_EQ(ModuleName("kernel/fs/9p/9p.ko.xz"), "9p");
  EXPECT_EQ(ModuleName("kernel/drivers/dax/device-dax.ko"), "device_dax");
}

TEST(ModuleIndexTest, MissingRequiredModuleIsNotFoundAndOptionalOneIsSkipped) {
  ModuleIndex index;
  ASSERT_TRUE(index.Parse(kModulesDep, kModulesBuiltin).ok());
  std::vector<std::string> paths;
  Status status = index.Resolve({{"nd_e820", false}}, &paths, nullptr);
  EXPECT_EQ(status.code(), Status::Code::kNotFound);
  EXPECT_NE(status.message().find("nd_e820"), std::string::npos);
  EXPECT_TRUE(index.Resolve({{"nd_e820", true}}, &paths, nullptr).ok());
  EXPECT_TRUE(paths.empty());
}

// A loop has no load order: it is an error, not an order that loads a module before its
// dependency (found by fuzz/lab/kernel_modules_fuzzer).
TEST(ModuleIndexTest, ADependencyLoopIsAnError) {
  ModuleIndex index;
  ASSERT_TRUE(index.Parse("kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n", "").ok());
  std::vector<std::string> paths;
  const Status status = index.Resolve({{"a"}}, &paths, nullptr);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(status.message().find("dependency loop"), std::string::npos) << status.message();
  ModuleIndex self;
  ASSERT_TRUE(self.Parse("kernel/a.ko: kernel/a.ko\n", "").ok());
  EXPECT_EQ(self.Resolve({{"a"}}, &paths, nullptr).code(), Status::Code::kInvalidArgument);
  // A diamond is no loop.
  ModuleIndex diamond;
  ASSERT_TRUE(diamond.Parse("a.ko: b.ko c.ko\nb.ko: d.ko\nc.ko: d.ko\nd.ko:\n", "").ok());
  ASSERT_TRUE(diamond.Resolve({{"a"}}, &paths, nullptr).ok());
  EXPECT_EQ(paths, (std::vector<std::string>{"d.ko", "b.ko", "c.ko", "a.ko"}));
}

TEST(ModuleIndexTest, RejectsMalformedModulesDep) {
  ModuleIndex index;
  EXPECT_EQ(index.Parse("kernel/a.ko kernel/b.ko\n", "").code(), Status::Code::kInvalidArgument);
  ModuleIndex dangling;
  ASSERT_TRUE(dangling.Parse("kernel/a.ko: kernel/gone.ko\n", "").ok());
  std::vector<std::string> paths;
  EXPECT_EQ(dangling.Resolve({{"a"}}, &paths, nullptr).code(), Status::Code::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// apt output.

TEST(DebianPackagesTest, KeepsOnlyLibraryDependencies) {
  constexpr char kDepends[] =
      "xfsprogs\n"
      "  Depends: libblkid1\n"
      "  Depends: libc6\n"
      "  Depends: <python3:any>\n"
      "    python3\n"
      " |Depends: libedit2\n"
      "  PreDepends: libzstd1:any\n"
      "  Depends: logsave\n"
      "  Breaks: libfoo1\n"
      "  Suggests: libbar1\n";
  std::vector<std::string> expected = {"libblkid1", "libc6", "libedit2", "libzstd1"};
  EXPECT_EQ(ParseLibraryDepends(kDepends), expected);
}

TEST(DebianPackagesTest, ReadsNameVersionAndChecksumFromAptShow) {
  constexpr char kShow[] =
      "Package: busybox-static\n"
      "Version: 1:1.35.0-4+deb12u1+b1\n"
      "Description: Standalone rescue shell\n"
      " continued description: Version: 9\n"
      "SHA256: 3d3f\n"
      "\n"
      "Package: ndctl\n"
      "Version: 76.1-1\n"
      "SHA256: 54b7\n";
  std::vector<DebianPackage> packages = ParseAptShow(kShow);
  ASSERT_EQ(packages.size(), 2U);
  EXPECT_EQ(packages[0].name, "busybox-static");
  EXPECT_EQ(packages[0].version, "1:1.35.0-4+deb12u1+b1");
  EXPECT_EQ(packages[0].sha256, "3d3f");
  EXPECT_EQ(packages[1].name, "ndctl");
  EXPECT_EQ(packages[1].sha256, "54b7");
}

TEST(DebianPackagesTest, BaseLayerKeyChangesWithAnyPackageVersion) {
  std::vector<DebianPackage> packages = {{"ndctl", "76.1-1", "aa"}, {"libc6", "2.36", "bb"}};
  std::string key = BaseLayerKey(packages);
  EXPECT_EQ(key.size(), 16U);
  EXPECT_EQ(BaseLayerKey(packages), key);
  packages[1].version = "2.36-9+deb12u10";
  EXPECT_NE(BaseLayerKey(packages), key);
}

TEST(HostCommandTest, CarriesTheEndOfStderrIntoTheError) {
  std::string ignored;
  Status status =
      RunHostCommand({"sh", "-c", "echo progress; echo 'it broke' >&2; exit 3"}, {}, &ignored);
  EXPECT_EQ(status.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(status.message().find("status 3"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("it broke"), std::string::npos) << status.ToString();
  EXPECT_EQ(RunHostCommand({"nvlab-no-such-program"}, {}, &ignored).code(),
            Status::Code::kNotFound);
  std::string output;
  ASSERT_TRUE(RunHostCommand({"printf", "a b"}, {}, &output).ok());
  EXPECT_EQ(output, "a b");
}

}  // namespace
}  // namespace nvlab::image

// ---------------------------------------------------------------------------------------------
// Layer caching, over a fake base layer (check_packages = false: no apt, no network).

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using image::CpioEntry;
using image::TempDir;

struct FileIdentity {
  ino_t inode = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity& other) const {
    return inode == other.inode && mtime_ns == other.mtime_ns;
  }
};

FileIdentity IdentityOf(const fs::path& path) {
  struct stat info {};
  EXPECT_EQ(stat(path.c_str(), &info), 0) << path;
  return {info.st_ino,
          static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec};
}

// Everything under a folder with its identity: a rewrite of any file changes the map.
std::map<std::string, FileIdentity> TreeIdentity(const fs::path& dir) {
  std::map<std::string, FileIdentity> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    files[fs::relative(entry.path(), dir).string()] = IdentityOf(entry.path());
  }
  return files;
}

class GuestImageCacheTest : public testing::Test {
 protected:
  void SetUp() override {
    home_ = dir_.path() / "home";
    base_ = home_ / "base" / "0123456789abcdef";
    fs::create_directories(base_);
    std::ostringstream base_cpio;
    image::CpioWriter writer(&base_cpio);
    ASSERT_TRUE(writer.AddDirectory("usr").ok());
    ASSERT_TRUE(writer.AddDirectory("usr/bin").ok());
    ASSERT_TRUE(writer.AddFile("usr/bin/busybox", "fake busybox", 0755).ok());
    ASSERT_TRUE(writer.Finish().ok());
    image::WriteAll(base_ / "base.cpio", base_cpio.str());
    image::WriteAll(base_ / "vmlinux", "fake kernel");
    image::WriteAll(base_ / "base.json", "{\"packages\": []}\n");
    image::WriteAll(base_ / "kernel_release", "6.1.0-test-amd64\n");
    data_dir_ = dir_.path() / "share/nvlab/guest";
    tools_dir_ = dir_.path() / "libexec/nvlab/guest";
    image::WriteAll(data_dir_ / "init", "#!/bin/sh\necho init\n", true);
    image::WriteAll(tools_dir_ / "nvlab-agent", "agent v1", true);
    image::WriteAll(tools_dir_ / "sub/helper", "helper", true);
  }

  GuestImageSpec Spec() const {
    GuestImageSpec spec;
    spec.home = home_;
    spec.guest_data_dir = data_dir_;
    spec.guest_tools_dir = tools_dir_;
    spec.check_packages = false;
    return spec;
  }

  TempDir dir_;
  fs::path home_, base_, data_dir_, tools_dir_;
};

TEST_F(GuestImageCacheTest, BuildsTheToolsLayerOverTheBaseLayer) {
  GuestImage image;
  Status status = EnsureGuestImage(Spec(), &image);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(image.kernel_release, "6.1.0-test-amd64");
  EXPECT_EQ(image::ReadAll(image.kernel), "fake kernel");
  std::string initrd = image::ReadAll(image.initrd);
  std::string base = image::ReadAll(base_ / "base.cpio");
  ASSERT_GT(initrd.size(), base.size());
  EXPECT_TRUE(initrd.compare(0, base.size(), base) == 0) << "the initrd starts with the base";
  std::map<std::string, CpioEntry> entries = image::ParseToMap(initrd);
  EXPECT_EQ(entries["usr/bin/busybox"].data, "fake busybox");
  EXPECT_EQ(entries["init"].data, "#!/bin/sh\necho init\n");
  EXPECT_EQ(entries["init"].mode & 0777, 0755U);
  EXPECT_EQ(entries["usr/bin/nvlab-agent"].data, "agent v1");
  EXPECT_EQ(entries["usr/bin/sub/helper"].data, "helper");
  std::string manifest = image::ReadAll(image.manifest);
  EXPECT_NE(manifest.find("\"/usr/bin/nvlab-agent\""), std::string::npos) << manifest;
  EXPECT_NE(manifest.find(image::Sha256Hex("agent v1")), std::string::npos);
  EXPECT_NE(manifest.find(image::Sha256Hex(initrd)), std::string::npos);
}

TEST_F(GuestImageCacheTest, WritesAManifestOfTheKeysFilesToolsAndBase) {
  GuestImage image;
  Status status = EnsureGuestImage(Spec(), &image);
  ASSERT_TRUE(status.ok()) << status.ToString();
  nlohmann::json manifest = nlohmann::json::parse(image::ReadAll(image.manifest));
  EXPECT_EQ(manifest["format"], "nvlab-image-2");
  EXPECT_EQ(manifest["image"], image.dir.filename().string());
  EXPECT_EQ(manifest["base_layer"], "0123456789abcdef");
  EXPECT_EQ(manifest["tools_layer"].get<std::string>().size(), 16U);
  EXPECT_FALSE(manifest.contains("kernel_task_layout")) << "a fake kernel has no BTF";
  EXPECT_EQ(manifest["files"]["vmlinux"]["sha256"], image::Sha256Hex("fake kernel"));
  EXPECT_EQ(manifest["files"]["vmlinux"]["size"], 11);
  EXPECT_EQ(manifest["files"]["initramfs.cpio"]["sha256"],
            image::Sha256Hex(image::ReadAll(image.initrd)));
  ASSERT_EQ(manifest["tools"].size(), 3U);
  EXPECT_EQ(manifest["tools"][0]["path"], "/init");
  EXPECT_EQ(manifest["tools"][1]["path"], "/usr/bin/nvlab-agent");
  EXPECT_EQ(manifest["tools"][1]["sha256"], image::Sha256Hex("agent v1"));
  EXPECT_EQ(manifest["tools"][1]["size"], 8);
  EXPECT_EQ(manifest["base"], nlohmann::json::parse(R"({"packages": []})"));
}

TEST_F(GuestImageCacheTest, ACorruptManifestIsRebuiltNamingTheFile) {
  GuestImage image;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &image).ok());
  const fs::path manifest = image.manifest;
  const std::string good = image::ReadAll(manifest);
  image = GuestImage();  // no longer in use
  const std::pair<std::string, std::string> cases[] = {
      {"{\"format\": \"nvlab-image-2\", \"files\": ", " is not valid JSON"},
      {"[1, 2]", " is JSON array, not an object"}};
  for (const auto& [text, why] : cases) {
    image::WriteAll(manifest, text);
    std::ostringstream notices;
    GuestImageSpec spec = Spec();
    spec.notices = &notices;
    Status status = EnsureGuestImage(spec, &image);
    ASSERT_TRUE(status.ok()) << status.ToString();
    EXPECT_NE(notices.str().find("is damaged (its manifest: " + manifest.string() + why),
              std::string::npos)
        << notices.str();
    EXPECT_EQ(image::ReadAll(manifest), good);
    image = GuestImage();
  }
  // A manifest whose files check out but whose task layout does not parse is an error naming it.
  nlohmann::ordered_json edited = nlohmann::ordered_json::parse(good);
  edited["kernel_task_layout"] = {{"current_task", 5}};
  image::WriteAll(manifest, edited.dump());
  Status status = EnsureGuestImage(Spec(), &image);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(
      status.message().find(manifest.string() + ": image manifest: kernel_task_layout must be"),
      std::string::npos)
      << status.ToString();
}

TEST_F(GuestImageCacheTest, ACorruptBaseManifestOrKernelChecksumNamesTheFile) {
  image::WriteAll(base_ / "base.json", "{\"packages\": [");
  GuestImage image;
  Status status = EnsureGuestImage(Spec(), &image);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(status.message().find((base_ / "base.json").string() + " is not valid JSON"),
            std::string::npos)
      << status.ToString();
  EXPECT_TRUE(fs::is_empty(home_ / "images")) << "no image from a damaged base layer";

  image::WriteAll(base_ / "base.json", "{\"packages\": []}\n");
  image::WriteAll(base_ / "vmlinux.json", R"({"sha256": "abc", "size": 11})");
  status = EnsureGuestImage(Spec(), &image);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(status.message().find("the base layer is damaged (delete " + base_.string()),
            std::string::npos)
      << status.ToString();
  EXPECT_NE(status.message().find((base_ / "vmlinux.json").string() +
                                  ".sha256 is not 64 lowercase hex digits"),
            std::string::npos)
      << status.ToString();

  // A well-formed record is used as it is, not recomputed: the image's manifest takes it, and
  // the check before use then finds that the kernel does not match it.
  std::string recorded = image::Sha256Hex("the base layer's record");
  image::WriteAll(base_ / "vmlinux.json", "{\"sha256\": \"" + recorded + "\", \"size\": 11}\n");
  status = EnsureGuestImage(Spec(), &image);
  EXPECT_EQ(status.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(status.message().find("vmlinux does not match its SHA-256"), std::string::npos)
      << status.ToString();
  EXPECT_NE(status.message().find("delete " + base_.string() + " to rebuild its base layer"),
            std::string::npos)
      << status.ToString();
  const fs::directory_iterator built(home_ / "images");
  ASSERT_NE(built, fs::directory_iterator());
  nlohmann::json manifest = nlohmann::json::parse(image::ReadAll(built->path() / "manifest.json"));
  EXPECT_EQ(manifest["files"]["vmlinux"]["sha256"], recorded);
}

TEST_F(GuestImageCacheTest, AToolNameThatIsNotUtf8IsRefusedNamingTheManifest) {
  image::WriteAll(tools_dir_ / "bad\xff", "tool", true);
  GuestImage image;
  Status status = EnsureGuestImage(Spec(), &image);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(status.message().find("cannot write "), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("manifest.json: "), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("UTF-8"), std::string::npos) << status.ToString();
  EXPECT_TRUE(fs::is_empty(home_ / "images"));
}

TEST_F(GuestImageCacheTest, SecondCallRewritesNothing) {
  GuestImage first;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &first).ok());
  std::map<std::string, FileIdentity> before = TreeIdentity(home_);
  GuestImage second;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &second).ok());
  EXPECT_EQ(second.dir, first.dir);
  EXPECT_EQ(second.initrd, first.initrd);
  EXPECT_TRUE(TreeIdentity(home_) == before) << "a no-op call changed the home folder";
}

TEST_F(GuestImageCacheTest, ChangedToolRebuildsOnlyTheToolsLayer) {
  GuestImage first;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &first).ok());
  std::map<std::string, FileIdentity> base_before = TreeIdentity(base_);
  std::map<std::string, FileIdentity> first_image = TreeIdentity(first.dir);
  image::WriteAll(tools_dir_ / "nvlab-agent", "agent v2", true);
  GuestImage second;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &second).ok());
  EXPECT_NE(second.dir, first.dir);
  EXPECT_TRUE(TreeIdentity(base_) == base_before) << "the base layer was rewritten";
  EXPECT_TRUE(TreeIdentity(first.dir) == first_image) << "the old image was touched";
  std::map<std::string, CpioEntry> entries = image::ParseToMap(image::ReadAll(second.initrd));
  EXPECT_EQ(entries["usr/bin/nvlab-agent"].data, "agent v2");
  // The kernel is shared with the base layer, not copied.
  EXPECT_EQ(IdentityOf(second.kernel).inode, IdentityOf(base_ / "vmlinux").inode);
  // A changed init script is a change of the tools layer too.
  image::WriteAll(data_dir_ / "init", "#!/bin/sh\necho init v2\n", true);
  GuestImage third;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &third).ok());
  EXPECT_NE(third.dir, second.dir);
}

TEST_F(GuestImageCacheTest, ConcurrentCallsAgreeOnOneImage) {
  constexpr int kThreads = 4;
  std::vector<GuestImage> images(kThreads);
  std::vector<Status> statuses(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { statuses[i] = EnsureGuestImage(Spec(), &images[i]); });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].ToString();
    EXPECT_EQ(images[i].dir, images[0].dir);
  }
  int image_dirs = 0;
  for (const auto& entry : fs::directory_iterator(home_ / "images")) {
    (void)entry;
    ++image_dirs;
  }
  EXPECT_EQ(image_dirs, 1);
  EXPECT_TRUE(fs::is_empty(home_ / "tmp"));
}

TEST_F(GuestImageCacheTest, ConcurrentProcessesAgreeOnOneImage) {
  constexpr int kProcesses = 3;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      GuestImage image;
      _exit(EnsureGuestImage(Spec(), &image).ok() ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  GuestImage image;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &image).ok());
  int image_dirs = 0;
  for (const auto& entry : fs::directory_iterator(home_ / "images")) {
    (void)entry;
    ++image_dirs;
  }
  EXPECT_EQ(image_dirs, 1);
}

TEST_F(GuestImageCacheTest, KeepsOnlyTheNewestImagesAndTheBaseTheyUse) {
  fs::create_directories(home_ / "base/ffffffffffffffff");  // a base no image uses
  std::vector<fs::path> dirs;
  for (int version = 0; version < 10; ++version) {
    image::WriteAll(tools_dir_ / "nvlab-agent", "agent v" + std::to_string(version), true);
    GuestImage image;
    ASSERT_TRUE(EnsureGuestImage(Spec(), &image).ok());
    dirs.push_back(image.dir);
  }
  int image_dirs = 0;
  for (const auto& entry : fs::directory_iterator(home_ / "images")) {
    (void)entry;
    ++image_dirs;
  }
  EXPECT_EQ(image_dirs, 8);
  EXPECT_FALSE(fs::exists(dirs[0]));
  EXPECT_FALSE(fs::exists(dirs[1]));
  EXPECT_TRUE(fs::exists(dirs[2] / "initramfs.cpio"));
  EXPECT_TRUE(fs::exists(dirs[9] / "initramfs.cpio"));
  EXPECT_TRUE(fs::exists(base_ / "base.cpio"));
  EXPECT_FALSE(fs::exists(home_ / "base/ffffffffffffffff"));
}

TEST_F(GuestImageCacheTest, ATruncatedCachedImageIsRebuiltNotUsed) {
  GuestImage first;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &first).ok());
  const std::string initrd = image::ReadAll(first.initrd);
  fs::resize_file(first.initrd, initrd.size() / 2);
  first = GuestImage();
  std::ostringstream notices;
  GuestImageSpec spec = Spec();
  spec.notices = &notices;
  GuestImage again;
  const Status status = EnsureGuestImage(spec, &again);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(image::ReadAll(again.initrd), initrd);
  const std::string line = notices.str();
  EXPECT_NE(
      line.find("is damaged (initramfs.cpio holds " + std::to_string(initrd.size() / 2) +
                " bytes, its manifest says " + std::to_string(initrd.size()) + "): rebuilding it"),
      std::string::npos)
      << line;
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << "one line: " << line;
}

TEST_F(GuestImageCacheTest, AnEditedCachedImageIsRebuiltNotUsed) {
  GuestImage first;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &first).ok());
  const std::string initrd = image::ReadAll(first.initrd);
  {
    // One byte changed in place: same size, same inode.
    std::fstream file(first.initrd, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(initrd.size() - 1));
    file.put(static_cast<char>(initrd.back() ^ 0x55));
  }
  const fs::path dir = first.dir;
  first = GuestImage();
  std::ostringstream notices;
  GuestImageSpec spec = Spec();
  spec.notices = &notices;
  GuestImage again;
  const Status status = EnsureGuestImage(spec, &again);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(again.dir, dir);
  EXPECT_EQ(image::ReadAll(again.initrd), initrd);
  EXPECT_NE(notices.str().find("initramfs.cpio does not match its SHA-256 in the manifest"),
            std::string::npos)
      << notices.str();
}

TEST_F(GuestImageCacheTest, VerifyCachedImageNamesWhatIsWrong) {
  GuestImage image;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &image).ok());
  EXPECT_TRUE(image::VerifyCachedImage(image.dir).ok());
  fs::remove(image.dir / "tools.cpio");
  const Status missing = image::VerifyCachedImage(image.dir);
  EXPECT_EQ(missing.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(missing.message().find("tools.cpio is missing"), std::string::npos)
      << missing.ToString();
  image::WriteAll(image.manifest, R"({"files": {"../../escape": {"sha256": ")" +
                                      image::Sha256Hex("") + R"(", "size": 0}}})");
  EXPECT_EQ(image::VerifyCachedImage(image.dir).code(), Status::Code::kFailedPrecondition);
}

TEST_F(GuestImageCacheTest, AnImageInUseIsNotPruned) {
  // The first image stays held, as by a running nvlab: nine builds later it is still there,
  // while the other old one is pruned.
  std::vector<fs::path> dirs;
  GuestImage held;
  for (int version = 0; version < 10; ++version) {
    image::WriteAll(tools_dir_ / "nvlab-agent", "agent v" + std::to_string(version), true);
    GuestImage image;
    ASSERT_TRUE(EnsureGuestImage(Spec(), &image).ok());
    dirs.push_back(image.dir);
    if (version == 0) held = image;
  }
  ASSERT_NE(held.hold, nullptr);
  EXPECT_TRUE(fs::exists(dirs[0] / "initramfs.cpio")) << "pruned under a running nvlab";
  EXPECT_FALSE(fs::exists(dirs[1]));
  EXPECT_TRUE(fs::exists(dirs[9] / "initramfs.cpio"));
  // Once released, the next prune removes it.
  held = GuestImage();
  image::WriteAll(tools_dir_ / "nvlab-agent", "agent v10", true);
  GuestImage image;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &image).ok());
  EXPECT_FALSE(fs::exists(dirs[0]));
}

TEST_F(GuestImageCacheTest, AHeldImageIsNotRemovedByAnotherProcess) {
  image::WriteAll(tools_dir_ / "nvlab-agent", "agent old", true);
  GuestImage held;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &held).ok());
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    bool removed = true;
    const Status s = image::TryRemoveCacheFolder(held.dir, &removed);
    _exit(s.ok() && !removed ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child removed it";
  EXPECT_TRUE(fs::exists(held.initrd));
  held = GuestImage();
  bool removed = false;
  ASSERT_TRUE(image::TryRemoveCacheFolder(fs::path(home_ / "images" / "nothing"), &removed).ok());
  EXPECT_TRUE(removed) << "a folder that is not there counts as removed";
}

TEST_F(GuestImageCacheTest, MissingInitScriptIsNotFound) {
  GuestImageSpec spec = Spec();
  spec.guest_data_dir = dir_.path() / "nowhere";
  GuestImage image;
  EXPECT_EQ(EnsureGuestImage(spec, &image).code(), Status::Code::kNotFound);
}

TEST_F(GuestImageCacheTest, NoBaseLayerWithoutPackageChecksIsNotFound) {
  fs::remove_all(home_ / "base");
  GuestImage image;
  Status status = EnsureGuestImage(Spec(), &image);
  EXPECT_EQ(status.code(), Status::Code::kNotFound);
  EXPECT_NE(status.message().find("nvlab image"), std::string::npos) << status.ToString();
}

TEST_F(GuestImageCacheTest, LeftoversOfAKilledBuildAreCleanedUp) {
  fs::create_directories(home_ / "tmp/image-999-1");
  image::WriteAll(home_ / "tmp/image-999-1/initramfs.cpio", "half");
  GuestImage image;
  ASSERT_TRUE(EnsureGuestImage(Spec(), &image).ok());
  EXPECT_FALSE(fs::exists(home_ / "tmp/image-999-1"));
}

// ScopedEnv sets or unsets an environment variable for one test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(DefaultNvlabHomeTest, PrefersNvlabHomeThenXdgCacheThenHome) {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv nvlab("NVLAB_HOME", "/srv/nvlab");
    ScopedEnv xdg("XDG_CACHE_HOME", "/cache");
    EXPECT_EQ(DefaultNvlabHome(), fs::path("/srv/nvlab"));
  }
  {
    ScopedEnv nvlab("NVLAB_HOME", "");
    ScopedEnv xdg("XDG_CACHE_HOME", "/cache");
    EXPECT_EQ(DefaultNvlabHome(), fs::path("/cache/nvlab"));
  }
  {
    ScopedEnv nvlab("NVLAB_HOME", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
    EXPECT_EQ(DefaultNvlabHome(), fs::path("/home/someone/.cache/nvlab"));
  }
}

TEST(NvlabHomeFallbackTest, TheTmpFallbackIsPrivateAndRefusedWhenItIsNot) {
  TempDir tmp;
  ScopedEnv nvlab("NVLAB_HOME", nullptr);
  ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
  ScopedEnv home_env("HOME", nullptr);
  ScopedEnv tmpdir("TMPDIR", tmp.path().c_str());
  const fs::path home = tmp.path() / ("nvlab-" + std::to_string(getuid()));
  ASSERT_EQ(DefaultNvlabHome(), home);
  ASSERT_EQ(TmpNvlabHome(), home);
  ASSERT_TRUE(PrepareNvlabHome(home).ok());
  EXPECT_EQ(fs::status(home).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_TRUE(PrepareNvlabHome(home).ok()) << "its own private folder is reused";

  ASSERT_EQ(chmod(home.c_str(), 0777), 0);
  Status s = PrepareNvlabHome(home);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("others may write to it"), std::string::npos) << s.ToString();
  ASSERT_EQ(chmod(home.c_str(), 0770), 0);
  EXPECT_EQ(PrepareNvlabHome(home).code(), Status::Code::kFailedPrecondition);
  ASSERT_EQ(chmod(home.c_str(), 0700), 0);

  // EnsureGuestImage itself refuses it (nothing is written there).
  GuestImageSpec spec;
  spec.guest_data_dir = tmp.path() / "share";
  ASSERT_EQ(chmod(home.c_str(), 0777), 0);
  GuestImage image;
  EXPECT_EQ(EnsureGuestImage(spec, &image).code(), Status::Code::kFailedPrecondition);
  EXPECT_TRUE(fs::is_empty(home));
  ASSERT_EQ(chmod(home.c_str(), 0700), 0);

  fs::remove(home);
  fs::create_directory(tmp.path() / "elsewhere");
  fs::create_directory_symlink(tmp.path() / "elsewhere", home);
  s = PrepareNvlabHome(home);
  EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("not a folder"), std::string::npos) << s.ToString();
  fs::remove(home);

  if (geteuid() == 0) {
    // Made by another user (as root the test can make one): refused.
    ASSERT_EQ(mkdir(home.c_str(), 0700), 0);
    ASSERT_EQ(chown(home.c_str(), 65534, 65534), 0);
    s = PrepareNvlabHome(home);
    EXPECT_EQ(s.code(), Status::Code::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("belongs to uid 65534"), std::string::npos) << s.ToString();
  }
  // A home someone named is theirs: created as asked, not checked.
  EXPECT_TRUE(PrepareNvlabHome(tmp.path() / "named/home").ok());
}

// ---------------------------------------------------------------------------------------------
// The real image (fixture guest_image) and real boots (label tcg).

GuestImageSpec RealSpec(const fs::path& tools_dir) {
  GuestImageSpec spec;
  spec.home = NVLAB_TEST_HOME;
  spec.guest_tools_dir = tools_dir;
  spec.guest_data_dir = fs::path(NVLAB_STAGE_DATADIR) / "guest";
  return spec;
}

TEST(GuestImageBuild, BuildsTheRealImageFromDebianPackages) {
  std::ostringstream log;
  GuestImageSpec spec = RealSpec(NVLAB_STAGE_GUESTDIR);
  spec.log = &log;
  GuestImage image;
  auto start = std::chrono::steady_clock::now();
  Status status = EnsureGuestImage(spec, &image);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << log.str() << "EnsureGuestImage took " << seconds << " s\n";
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(image.kernel_release.rfind("6.", 0), 0U) << image.kernel_release;

  std::string kernel = image::ReadAll(image.kernel);
  std::uint64_t entry = 0;
  EXPECT_TRUE(image::CheckBootableVmlinux(kernel, &entry).ok());
  EXPECT_NE(entry, 0U);

  std::map<std::string, CpioEntry> entries = image::ParseToMap(image::ReadAll(image.initrd));
  for (const char* path :
       {"init", "usr/bin/busybox", "usr/bin/ndctl", "usr/bin/mke2fs", "usr/bin/mkfs.xfs",
        "usr/lib64/ld-linux-x86-64.so.2", "usr/lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/x86_64-linux-gnu/libndctl.so.6", "dev/console"}) {
    EXPECT_EQ(entries.count(path), 1U) << path;
  }
  EXPECT_EQ(entries["usr/bin/modprobe"].data, "busybox");
  std::string modules_dep =
      entries["usr/lib/modules/" + image.kernel_release + "/modules.dep"].data;
  for (const char* module : {"nfit.ko", "nd_pmem.ko", "device_dax.ko", "ext4.ko", "xfs.ko",
                             "virtio_console.ko", "9pnet_virtio.ko"}) {
    EXPECT_NE(modules_dep.find(module), std::string::npos) << module;
  }
  std::string manifest = image::ReadAll(image.manifest);
  for (const char* needle : {"\"linux-image-", "\"busybox-static\"", "\"ndctl\"", "\"libc6\"",
                             "\"initramfs.cpio\"", "\"vmlinux\""}) {
    EXPECT_NE(manifest.find(needle), std::string::npos) << needle;
  }
  EXPECT_NE(manifest.find(image::Sha256Hex(kernel)), std::string::npos);

  // A second call changes nothing.
  std::map<std::string, FileIdentity> before = TreeIdentity(fs::path(NVLAB_TEST_HOME) / "base");
  std::map<std::string, FileIdentity> image_before = TreeIdentity(image.dir);
  GuestImage again;
  ASSERT_TRUE(EnsureGuestImage(RealSpec(NVLAB_STAGE_GUESTDIR), &again).ok());
  EXPECT_EQ(again.dir, image.dir);
  EXPECT_TRUE(TreeIdentity(fs::path(NVLAB_TEST_HOME) / "base") == before);
  EXPECT_TRUE(TreeIdentity(image.dir) == image_before);

  // Other guest tools: a new image over the same base layer, which stays untouched.
  image::TempDir other_tools;
  image::WriteAll(other_tools.path() / "nvlab-extra", "#!/bin/sh\n", true);
  GuestImage other;
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(EnsureGuestImage(RealSpec(other_tools.path()), &other).ok());
  std::cout << "tools layer rebuild took "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s\n";
  EXPECT_NE(other.dir, image.dir);
  EXPECT_EQ(IdentityOf(other.kernel).inode, IdentityOf(image.kernel).inode);
  EXPECT_TRUE(TreeIdentity(fs::path(NVLAB_TEST_HOME) / "base") == before);
}

// A fake agent: prints the environment init gave it, writes or reads a marker file on fsdax
// when the kernel command line asks (nvlabtest.write=TOKEN, nvlabtest.read=1), powers off. The
// NVDIMM setup init asks of it (`nvlab-agent prepare-nvdimms ...`) is the real agent's, copied
// beside it.
constexpr char kFakeAgent[] = R"AGENT(#!/bin/sh
[ "$1" = prepare-nvdimms ] && exec /usr/bin/nvlab-agent-real "$@"
echo "fake-agent: NVLAB_PMEM=$NVLAB_PMEM"
echo "fake-agent: NVLAB_PMEM0=$NVLAB_PMEM0"
echo "fake-agent: NVLAB_PMEM_ALL=$NVLAB_PMEM_ALL"
for word in $(cat /proc/cmdline); do
  case "$word" in
    nvlabtest.write=*) echo "${word#*=}" > "$NVLAB_PMEM/marker" && sync &&
      echo "fake-agent: wrote marker" ;;
    nvlabtest.read=1) echo "fake-agent: marker=$(cat "$NVLAB_PMEM/marker" 2>&1)" ;;
  esac
done
sync
poweroff -f
)AGENT";

struct BootResult {
  bool exited = false;           // QEMU ended by itself (guest powered off)
  std::string console;           // everything the serial console printed
  double seconds_to_ready = -1;  // QEMU start to "nvlab-init: ready", or -1
};

class GuestBootTest : public testing::Test {
 protected:
  void SetUp() override {
    tools_dir_ = dir_.path() / "tools";
    image::WriteAll(tools_dir_ / "nvlab-agent", kFakeAgent, true);
    fs::copy_file(fs::path(NVLAB_STAGE_GUESTDIR) / "nvlab-agent", tools_dir_ / "nvlab-agent-real");
    Status status = EnsureGuestImage(RealSpec(tools_dir_), &image_);
    ASSERT_TRUE(status.ok()) << status.ToString();
    nvdimm_ = dir_.path() / "nvdimm0.img";
    std::ofstream(nvdimm_).close();
    fs::resize_file(nvdimm_, 256ULL << 20);
  }

  // Boot runs QEMU as the lab does (without the lead's launcher) until the guest powers off
  // or timeout passes (then QEMU is killed).
  BootResult Boot(const std::string& append, const GuestImage& image,
                  const std::vector<std::string>& extra_qemu_args = {},
                  std::chrono::seconds timeout = std::chrono::seconds(240)) {
    BootResult result;
    // A console file per boot: a later boot must not see an earlier boot's lines.
    fs::path console = dir_.path() / ("console-" + std::to_string(++boots_) + ".log");
    std::vector<std::string> argv = {
        "qemu-system-x86_64",
        "-machine",
        "pc,nvdimm=on,nvdimm-persistence=mem-ctrl",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-m",
        "512M,slots=2,maxmem=4G",
        "-smp",
        "2",
        "-object",
        "memory-backend-file,id=nv0,share=on,mem-path=" + nvdimm_.string() + ",size=256M",
        "-device",
        "nvdimm,memdev=nv0,id=nvdimm0",
        "-kernel",
        image.kernel.string(),
        "-initrd",
        image.initrd.string(),
        "-append",
        "console=ttyS0 " + append,
        "-nographic",
        "-no-reboot"};
    argv.insert(argv.end(), extra_qemu_args.begin(), extra_qemu_args.end());
    SubprocessOptions options;
    options.stdout_to = SubprocessOptions::Stream::kFile;
    options.stdout_path = console;
    options.stderr_to = SubprocessOptions::Stream::kStdout;
    options.new_process_group = true;
    options.kill_with_parent = true;
    auto start = std::chrono::steady_clock::now();
    Subprocess qemu;
    const Status started = Subprocess::Start(argv, options, &qemu);
    EXPECT_TRUE(started.ok()) << started.ToString();
    if (!started.ok()) return result;
    while (true) {
      const bool done = qemu.TryReap();
      auto now = std::chrono::steady_clock::now();
      if (result.seconds_to_ready < 0) {
        std::string text;
        if (ReadFileContents(console, &text).ok() &&
            text.find("nvlab-init: ready") != std::string::npos) {
          result.seconds_to_ready = std::chrono::duration<double>(now - start).count();
        }
      }
      if (done) {
        result.exited = true;
        break;
      }
      if (now - start > timeout) {
        (void)qemu.Wait(Deadline::In(std::chrono::milliseconds(0)));  // kills its group, reaps
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ReadFileContents(console, &result.console);
    if (result.seconds_to_ready >= 0) {
      std::cout << "boot to ready: " << result.seconds_to_ready << " s\n";
    }
    return result;
  }

  image::TempDir dir_;
  int boots_ = 0;
  fs::path tools_dir_;
  fs::path nvdimm_;
  GuestImage image_;
};

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST_F(GuestBootTest, DevdaxBootReachesReadyAndHandsTheDeviceToTheAgent) {
  BootResult boot = Boot("nvlab.ns=devdax nvlab.nvdimms=1", image_);
  EXPECT_TRUE(boot.exited) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "nvlab-init: ready NVLAB_PMEM=/dev/dax0.0")) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "fake-agent: NVLAB_PMEM=/dev/dax0.0")) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "fake-agent: NVLAB_PMEM0=/dev/dax0.0")) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "fake-agent: NVLAB_PMEM_ALL=/dev/dax0.0")) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "creating a devdax namespace")) << boot.console;
  EXPECT_FALSE(Contains(boot.console, "nvlab-init: error")) << boot.console;
}

TEST_F(GuestBootTest, SecondDevdaxBootReusesTheNamespace) {
  BootResult first = Boot("nvlab.ns=devdax nvlab.nvdimms=1", image_);
  ASSERT_TRUE(Contains(first.console, "nvlab-init: ready NVLAB_PMEM=/dev/dax0.0")) << first.console;
  BootResult second = Boot("nvlab.ns=devdax nvlab.nvdimms=1", image_);
  EXPECT_TRUE(Contains(second.console, "reusing the existing devdax namespace")) << second.console;
  EXPECT_FALSE(Contains(second.console, "creating a devdax namespace")) << second.console;
  EXPECT_TRUE(Contains(second.console, "nvlab-init: ready NVLAB_PMEM=/dev/dax0.0"))
      << second.console;
}

TEST_F(GuestBootTest, FsdaxBootMountsExt4WithDaxAndKeepsAFileAcrossBoots) {
  BootResult first = Boot("nvlab.ns=fsdax nvlab.nvdimms=1 nvlabtest.write=token42", image_);
  EXPECT_TRUE(Contains(first.console, "making a ext4 file system")) << first.console;
  EXPECT_TRUE(Contains(first.console, "ext4 mounted with -o dax at /mnt/pmem0")) << first.console;
  ASSERT_TRUE(Contains(first.console, "nvlab-init: ready NVLAB_PMEM=/mnt/pmem0")) << first.console;
  ASSERT_TRUE(Contains(first.console, "fake-agent: wrote marker")) << first.console;
  BootResult second = Boot("nvlab.ns=fsdax nvlab.nvdimms=1 nvlabtest.read=1", image_);
  EXPECT_TRUE(Contains(second.console, "reusing the existing fsdax namespace")) << second.console;
  EXPECT_FALSE(Contains(second.console, "making a")) << second.console;
  EXPECT_TRUE(Contains(second.console, "fake-agent: marker=token42")) << second.console;
}

TEST_F(GuestBootTest, FsdaxBootCanUseXfs) {
  BootResult boot = Boot("nvlab.ns=fsdax nvlab.fs=xfs nvlab.nvdimms=1", image_);
  EXPECT_TRUE(Contains(boot.console, "xfs mounted with -o dax at /mnt/pmem0")) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "nvlab-init: ready NVLAB_PMEM=/mnt/pmem0")) << boot.console;
}

TEST_F(GuestBootTest, RawModeHandsOverTheBlockDevice) {
  BootResult boot = Boot("nvlab.ns=raw nvlab.nvdimms=1", image_);
  EXPECT_TRUE(Contains(boot.console, "reusing the existing raw namespace")) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "nvlab-init: ready NVLAB_PMEM=/dev/pmem0")) << boot.console;
}

TEST_F(GuestBootTest, ChangedModeRecreatesTheNamespace) {
  BootResult first = Boot("nvlab.ns=devdax nvlab.nvdimms=1", image_);
  ASSERT_TRUE(Contains(first.console, "nvlab-init: ready NVLAB_PMEM=/dev/dax0.0")) << first.console;
  BootResult second = Boot("nvlab.ns=fsdax nvlab.nvdimms=1", image_);
  EXPECT_TRUE(Contains(second.console, "creating a fsdax namespace (was devdax)"))
      << second.console;
  EXPECT_TRUE(Contains(second.console, "nvlab-init: ready NVLAB_PMEM=/mnt/pmem0"))
      << second.console;
}

TEST_F(GuestBootTest, TwoNvdimmsAreEachSetUpAndListed) {
  fs::path second = dir_.path() / "nvdimm1.img";
  std::ofstream(second).close();
  fs::resize_file(second, 256ULL << 20);
  BootResult boot = Boot(
      "nvlab.ns=devdax nvlab.nvdimms=2", image_,
      {"-object", "memory-backend-file,id=nv1,share=on,mem-path=" + second.string() + ",size=256M",
       "-device", "nvdimm,memdev=nv1,id=nvdimm1"});
  EXPECT_TRUE(Contains(boot.console, "nvlab-init: ready NVLAB_PMEM=/dev/dax0.0")) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "fake-agent: NVLAB_PMEM_ALL=/dev/dax0.0 /dev/dax1.0"))
      << boot.console;
}

TEST_F(GuestBootTest, ShareIsMountedAtHost) {
  fs::path share = dir_.path() / "share";
  image::WriteAll(share / "hello.txt", "hello from the host\n");
  // The fake agent is generic; this boot's agent reads the shared file instead.
  image::WriteAll(tools_dir_ / "nvlab-agent",
                  "#!/bin/sh\n"
                  "[ \"$1\" = prepare-nvdimms ] && exec /usr/bin/nvlab-agent-real \"$@\"\n"
                  "echo \"fake-agent: share says $(cat /host/hello.txt)\"\n"
                  "poweroff -f\n",
                  true);
  GuestImage image;
  ASSERT_TRUE(EnsureGuestImage(RealSpec(tools_dir_), &image).ok());
  BootResult boot = Boot(
      "nvlab.ns=devdax nvlab.nvdimms=1 nvlab.share=1", image,
      {"-virtfs", "local,path=" + share.string() + ",mount_tag=nvlab_share,security_model=none"});
  EXPECT_TRUE(Contains(boot.console, "mounted the host share at /host")) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "fake-agent: share says hello from the host")) << boot.console;
}

TEST_F(GuestBootTest, BadCommandLineValueIsReportedAndPowersOff) {
  BootResult boot = Boot("nvlab.ns=bogus", image_);
  EXPECT_TRUE(boot.exited) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "nvlab-init: error: nvlab.ns=bogus")) << boot.console;
  EXPECT_FALSE(Contains(boot.console, "nvlab-init: ready")) << boot.console;
}

TEST_F(GuestBootTest, MissingAgentIsReportedAndPowersOff) {
  fs::path empty_tools = dir_.path() / "no-tools";
  fs::create_directories(empty_tools);
  GuestImage image;
  ASSERT_TRUE(EnsureGuestImage(RealSpec(empty_tools), &image).ok());
  BootResult boot = Boot("nvlab.ns=devdax nvlab.nvdimms=1", image);
  EXPECT_TRUE(boot.exited) << boot.console;
  // The NVDIMM setup is the agent's: without it, init stops before any NVDIMM is touched.
  EXPECT_FALSE(Contains(boot.console, "nvlab-init: ready")) << boot.console;
  EXPECT_TRUE(Contains(boot.console, "nvlab-init: error: /usr/bin/nvlab-agent is missing"))
      << boot.console;
}

}  // namespace
}  // namespace nvlab
