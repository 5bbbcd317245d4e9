// elf_symbols_test.cc -- ElfSymbolTable on a real static guest tool and on synthetic and corrupt
// ELF images; UserSymbolizer's choice of host file for a guest process.

#include "nvlab/formats/elf_symbols.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nvlab/cut_report.h"
#include "nvlab/hex.h"
#include "nvlab/machine.h"
#include "nvlab/user_symbolizer.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using formats::ElfSymbol;
using formats::ElfSymbolTable;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteAll(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
void Put(std::string* bytes, uint64_t offset, T value) {
  std::memcpy(bytes->data() + offset, &value, sizeof value);
}

// A synthetic ELF64 x86-64 file: header, string table, symbol table, then three section
// headers (null, the symbol table, its string table).
struct TestSymbol {
  std::string name;
  uint64_t value;
  uint64_t size;
  uint8_t type = 2;     // STT_FUNC
  uint8_t binding = 1;  // STB_GLOBAL
  uint16_t section = 1;
};

struct TestElf {
  std::string bytes;
  uint64_t symtab_offset = 0;
  uint64_t strtab_offset = 0;
  uint64_t section_headers = 0;
  uint64_t SectionHeader(int i) const { return section_headers + 64 * static_cast<uint64_t>(i); }
};

TestElf BuildElf(const std::vector<TestSymbol>& symbols, uint32_t symtab_type = 2,
                 uint16_t elf_type = 2) {
  TestElf elf;
  std::string strtab(1, '\0');
  std::vector<uint32_t> name_offsets;
  for (const TestSymbol& s : symbols) {
    name_offsets.push_back(static_cast<uint32_t>(strtab.size()));
    strtab += s.name;
    strtab.push_back('\0');
  }
  elf.strtab_offset = 64;
  elf.symtab_offset = elf.strtab_offset + ((strtab.size() + 7) & ~size_t{7});
  const uint64_t symtab_size = 24 * (symbols.size() + 1);  // entry 0 is the null symbol
  elf.section_headers = elf.symtab_offset + symtab_size;
  elf.bytes.assign(elf.section_headers + uint64_t{3} * 64, '\0');
  std::string& b = elf.bytes;
  std::memcpy(b.data(),
              "\x7f"
              "ELF\x02\x01\x01",
              7);
  Put<uint16_t>(&b, 16, elf_type);
  Put<uint16_t>(&b, 18, 62);  // EM_X86_64
  Put<uint32_t>(&b, 20, 1);
  Put<uint64_t>(&b, 24, 0x401000);  // e_entry
  Put<uint64_t>(&b, 40, elf.section_headers);
  Put<uint16_t>(&b, 52, 64);
  Put<uint16_t>(&b, 58, 64);
  Put<uint16_t>(&b, 60, 3);
  std::memcpy(b.data() + elf.strtab_offset, strtab.data(), strtab.size());
  for (size_t i = 0; i < symbols.size(); ++i) {
    const uint64_t at = elf.symtab_offset + 24 * (i + 1);
    Put<uint32_t>(&b, at, name_offsets[i]);
    Put<uint8_t>(&b, at + 4, static_cast<uint8_t>(symbols[i].binding << 4 | symbols[i].type));
    Put<uint16_t>(&b, at + 6, symbols[i].section);
    Put<uint64_t>(&b, at + 8, symbols[i].value);
    Put<uint64_t>(&b, at + 16, symbols[i].size);
  }
  const uint64_t symtab_header = elf.SectionHeader(1);
  Put<uint32_t>(&b, symtab_header + 4, symtab_type);
  Put<uint64_t>(&b, symtab_header + 24, elf.symtab_offset);
  Put<uint64_t>(&b, symtab_header + 32, symtab_size);
  Put<uint32_t>(&b, symtab_header + 40, 2);
  Put<uint64_t>(&b, symtab_header + 56, 24);
  const uint64_t strtab_header = elf.SectionHeader(2);
  Put<uint32_t>(&b, strtab_header + 4, 3);  // SHT_STRTAB
  Put<uint64_t>(&b, strtab_header + 24, elf.strtab_offset);
  Put<uint64_t>(&b, strtab_header + 32, strtab.size());
  return elf;
}

std::string Symbolized(const formats::ElfSymbolTable& table, uint64_t address) {
  return table.Symbolize(address).value_or("(none)");
}

// --- A real static executable built in this tree ------------------------------------------------

TEST(ElfSymbolTableTest, StaticGuestToolIsAnExecutableWithItsFunctionsNamed) {
  formats::ElfSymbolTable table;
  const Status s = formats::ElfSymbolTable::Load(NVLAB_RECORDS_PATH, &table);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(table.type(), formats::kElfTypeExec);
  // The ELF header's entry point is _start: an address known without the symbol table.
  EXPECT_EQ(Symbolized(table, table.entry()), "_start+0x0");
  const formats::ElfSymbol* main_fn = table.FindByName("main");
  ASSERT_NE(main_fn, nullptr);
  EXPECT_EQ(Symbolized(table, main_fn->address + 0x1c), "main+0x1c");
  EXPECT_EQ(Symbolized(table, main_fn->address + main_fn->size - 1),
            "main+" + FormatHex(main_fn->size - 1));
  EXPECT_NE(Symbolized(table, main_fn->address + main_fn->size).rfind("main+", 0), 0u);
  // A function of the guest library linked into it.
  const formats::ElfSymbol* flush = table.FindByName("RtlFlushNonVolatileMemory");
  ASSERT_NE(flush, nullptr);
  EXPECT_EQ(Symbolized(table, flush->address + 2), "RtlFlushNonVolatileMemory+0x2");
  EXPECT_EQ(Symbolized(table, 0), "(none)");
}

TEST(ElfSymbolTableTest, PositionIndependentExecutableNamesNoAddress) {
  formats::ElfSymbolTable table;
  ASSERT_TRUE(formats::ElfSymbolTable::Load("/proc/self/exe", &table).ok());
  if (table.type() != formats::kElfTypeDyn) GTEST_SKIP() << "this test is not a PIE";
  const formats::ElfSymbol* main_fn = table.FindByName("main");
  ASSERT_NE(main_fn, nullptr);
  EXPECT_NE(table.Find(main_fn->address), nullptr);
  EXPECT_FALSE(table.Symbolize(main_fn->address).has_value());
}

TEST(ElfSymbolTableTest, EveryTruncationOfARealFileIsAnErrorOrATableNeverACrash) {
  const std::string bytes = ReadAll(NVLAB_RECORDS_PATH);
  ASSERT_GT(bytes.size(), 4096u);
  for (size_t length : {size_t{0}, size_t{3}, size_t{63}, size_t{64}, size_t{4096},
                        bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    formats::ElfSymbolTable table;
    const Status s =
        formats::ElfSymbolTable::Parse(std::string_view(bytes).substr(0, length), &table);
    // Section headers sit at the end of a linked executable: any cut loses them.
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << length;
  }
  for (size_t length = 64; length < bytes.size(); length += bytes.size() / 97 + 1) {
    formats::ElfSymbolTable table;
    (void)formats::ElfSymbolTable::Parse(std::string_view(bytes).substr(0, length), &table);
  }
}

// --- Synthetic files
// ------------------------------------------------------------------------------

TEST(ElfSymbolTableTest, SizedDefinedFunctionsAndObjectsOnly) {
  const TestElf elf = BuildElf({
      {"store_line", 0x401000, 0x40},
      {"table", 0x404000, 0x100, /*type=*/1},
      {"no_size", 0x402000, 0},
      {"undefined", 0x403000, 0x10, 2, 1, /*section=*/0},
      {"a_section", 0x405000, 0x10, /*type=*/3},
  });
  formats::ElfSymbolTable table;
  ASSERT_TRUE(formats::ElfSymbolTable::Parse(elf.bytes, &table).ok());
  ASSERT_EQ(table.symbols().size(), 2u);
  EXPECT_EQ(Symbolized(table, 0x401000), "store_line+0x0");
  EXPECT_EQ(Symbolized(table, 0x40103f), "store_line+0x3f");
  EXPECT_EQ(Symbolized(table, 0x401040), "(none)");
  EXPECT_EQ(Symbolized(table, 0x4040ff), "table+0xff");
  EXPECT_EQ(Symbolized(table, 0x402000), "(none)");
  EXPECT_EQ(Symbolized(table, 0x403004), "(none)");
}

TEST(ElfSymbolTableTest, OfAliasesTheGlobalFunctionWins) {
  const TestElf elf = BuildElf({
      {"local_alias", 0x401000, 0x20, 2, /*binding=*/0},
      {"weak_alias", 0x401000, 0x20, 2, /*binding=*/2},
      {"object_alias", 0x401000, 0x20, /*type=*/1, 1},
      {"the_function", 0x401000, 0x20},
  });
  formats::ElfSymbolTable table;
  ASSERT_TRUE(formats::ElfSymbolTable::Parse(elf.bytes, &table).ok());
  EXPECT_EQ(Symbolized(table, 0x401010), "the_function+0x10");
}

TEST(ElfSymbolTableTest, OverlappingSymbolsNameTheInnermostThenTheOuter) {
  const TestElf elf = BuildElf({
      {"outer", 0x401000, 0x1000},
      {"inner", 0x401100, 0x10},
      {"after", 0x403000, 0x10},
  });
  formats::ElfSymbolTable table;
  ASSERT_TRUE(formats::ElfSymbolTable::Parse(elf.bytes, &table).ok());
  EXPECT_EQ(Symbolized(table, 0x401104), "inner+0x4");
  EXPECT_EQ(Symbolized(table, 0x401200), "outer+0x200");
  EXPECT_EQ(Symbolized(table, 0x402000), "(none)");
  EXPECT_EQ(Symbolized(table, 0x403001), "after+0x1");
}

TEST(ElfSymbolTableTest, NamesAreMadePrintableAndBounded) {
  const TestElf elf = BuildElf({
      {"evil\x1b[31m\\name\xff", 0x401000, 0x10},
      {std::string(1000, 'x'), 0x402000, 0x10},
  });
  formats::ElfSymbolTable table;
  ASSERT_TRUE(formats::ElfSymbolTable::Parse(elf.bytes, &table).ok());
  EXPECT_EQ(Symbolized(table, 0x401000), "evil\\x1b[31m\\x5cname\\xff+0x0");
  EXPECT_EQ(table.Find(0x402000)->name, std::string(formats::kMaxSymbolNameBytes, 'x'));
}

TEST(ElfSymbolTableTest, DynamicSymbolsServeWhenThereIsNoSymtab) {
  const TestElf elf = BuildElf({{"exported", 0x401000, 0x10}}, /*symtab_type=*/11);
  formats::ElfSymbolTable table;
  ASSERT_TRUE(formats::ElfSymbolTable::Parse(elf.bytes, &table).ok());
  EXPECT_EQ(Symbolized(table, 0x401008), "exported+0x8");
}

TEST(ElfSymbolTableTest, StrippedFileIsAnEmptyTable) {
  TestElf elf = BuildElf({{"gone", 0x401000, 0x10}});
  Put<uint32_t>(&elf.bytes, elf.SectionHeader(1) + 4, 1);  // SHT_PROGBITS: no symbol table
  formats::ElfSymbolTable table;
  ASSERT_TRUE(formats::ElfSymbolTable::Parse(elf.bytes, &table).ok());
  EXPECT_TRUE(table.symbols().empty());
  EXPECT_EQ(Symbolized(table, 0x401000), "(none)");
}

TEST(ElfSymbolTableTest, SharedObjectIsParsedButNamesNothing) {
  const TestElf elf = BuildElf({{"f", 0x1000, 0x10}}, 2, /*elf_type=*/3);
  formats::ElfSymbolTable table;
  ASSERT_TRUE(formats::ElfSymbolTable::Parse(elf.bytes, &table).ok());
  EXPECT_EQ(table.type(), formats::kElfTypeDyn);
  EXPECT_NE(table.Find(0x1000), nullptr);
  EXPECT_EQ(Symbolized(table, 0x1000), "(none)");
}

// --- Corrupt files: one per field, each a clear error
// ---------------------------------------------

struct Corruption {
  const char* name;
  void (*apply)(TestElf*);
  const char* message;
};

class ElfSymbolTableCorruptTest : public testing::TestWithParam<Corruption> {};

TEST_P(ElfSymbolTableCorruptTest, IsAnInvalidArgumentSayingWhat) {
  TestElf elf = BuildElf({{"f", 0x401000, 0x10}, {"g", 0x401010, 0x10}});
  GetParam().apply(&elf);
  formats::ElfSymbolTable table;
  const Status s = formats::ElfSymbolTable::Parse(elf.bytes, &table);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(GetParam().message), std::string::npos) << s.ToString();
  EXPECT_TRUE(table.symbols().empty());
}

const Corruption kCorruptions[] = {
    {"NotElf", [](TestElf* e) { e->bytes[1] = 'X'; }, "not an ELF file"},
    {"TooShort", [](TestElf* e) { e->bytes.resize(40); }, "not an ELF file"},
    {"ThirtyTwoBit", [](TestElf* e) { e->bytes[4] = 1; }, "64-bit little-endian"},
    {"BigEndian", [](TestElf* e) { e->bytes[5] = 2; }, "64-bit little-endian"},
    {"OtherMachine", [](TestElf* e) { Put<uint16_t>(&e->bytes, 18, 183); }, "not an x86-64"},
    {"SectionHeadersBeyondTheEnd",
     [](TestElf* e) { Put<uint64_t>(&e->bytes, 40, uint64_t{1} << 40); },
     "section headers outside"},
    {"SectionHeadersWrapAround", [](TestElf* e) { Put<uint64_t>(&e->bytes, 40, ~uint64_t{0} - 8); },
     "section headers outside"},
    {"TruncatedSectionHeaders", [](TestElf* e) { e->bytes.resize(e->bytes.size() - 1); },
     "section headers outside"},
    {"SmallSectionHeaderSize", [](TestElf* e) { Put<uint16_t>(&e->bytes, 58, 40); },
     "section header size"},
    {"SymbolTableBeyondTheEnd",
     [](TestElf* e) { Put<uint64_t>(&e->bytes, e->SectionHeader(1) + 24, uint64_t{1} << 40); },
     "symbol table outside"},
    {"SymbolTableSizeHuge",
     [](TestElf* e) { Put<uint64_t>(&e->bytes, e->SectionHeader(1) + 32, ~uint64_t{0}); },
     "symbol table outside"},
    {"SymbolEntrySize", [](TestElf* e) { Put<uint64_t>(&e->bytes, e->SectionHeader(1) + 56, 16); },
     "entry size"},
    {"StringTableLinkOutOfRange",
     [](TestElf* e) { Put<uint32_t>(&e->bytes, e->SectionHeader(1) + 40, 99); }, "links to"},
    {"StringTableNotStrtab",
     [](TestElf* e) { Put<uint32_t>(&e->bytes, e->SectionHeader(1) + 40, 1); },
     "string table missing"},
    {"StringTableBeyondTheEnd",
     [](TestElf* e) { Put<uint64_t>(&e->bytes, e->SectionHeader(2) + 24, uint64_t{1} << 40); },
     "string table missing or outside"},
    {"NameOffsetOutsideStringTable",
     [](TestElf* e) { Put<uint32_t>(&e->bytes, e->symtab_offset + 24, 0x7fffffff); },
     "name outside"},
    {"NameNotTerminated",
     [](TestElf* e) {
       // The string table is "\0f\0g\0": make it end before g's terminating NUL.
       Put<uint64_t>(&e->bytes, e->SectionHeader(2) + 32, 4);
     },
     "not terminated"},
};

INSTANTIATE_TEST_SUITE_P(Fields, ElfSymbolTableCorruptTest, testing::ValuesIn(kCorruptions),
                         [](const testing::TestParamInfo<Corruption>& info) {
                           return std::string(info.param.name);
                         });

TEST(ElfSymbolTableTest, EveryByteOfASmallFileCorruptedNeverCrashes) {
  const TestElf elf = BuildElf({{"f", 0x401000, 0x10}, {"g", 0x401010, 0x10}});
  for (size_t i = 0; i < elf.bytes.size(); ++i) {
    for (unsigned char value : {0x00, 0x7f, 0x80, 0xff}) {
      std::string bytes = elf.bytes;
      bytes[i] = static_cast<char>(value);
      formats::ElfSymbolTable table;
      (void)formats::ElfSymbolTable::Parse(bytes, &table);
      for (const formats::ElfSymbol& s : table.symbols()) (void)table.Symbolize(s.address);
    }
  }
}

TEST(ElfSymbolTableTest, LoadNamesTheFileAndRefusesWhatIsNotARegularFile) {
  formats::ElfSymbolTable table;
  Status s = formats::ElfSymbolTable::Load("/nonexistent/nvlab-tool", &table);
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("/nonexistent/nvlab-tool"), std::string::npos);
  s = formats::ElfSymbolTable::Load("/dev/null", &table);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(formats::ElfSymbolTable::IsElfFile("/dev/null"));
  EXPECT_TRUE(formats::ElfSymbolTable::IsElfFile(NVLAB_RECORDS_PATH));
}

// --- UserSymbolizer -----------------------------------------------------------------------------

class UserSymbolizerTest : public testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/nvlab-symbols-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root_ = dir;
    tools_ = root_ / "guest";
    share_ = root_ / "share";
    fs::create_directories(tools_);
    fs::create_directories(share_ / "sub");
    fs::copy_file(NVLAB_RECORDS_PATH, tools_ / "nvlab-records");
    formats::ElfSymbolTable table;
    ASSERT_TRUE(formats::ElfSymbolTable::Load(NVLAB_RECORDS_PATH, &table).ok());
    main_ = table.FindByName("main")->address;
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_, tools_, share_;
  uint64_t main_ = 0;
  std::ostringstream log_;
};

TEST_F(UserSymbolizerTest, ProcessNamedAfterAGuestToolGetsItsFunctions) {
  UserSymbolizer symbolizer({tools_, share_}, &log_);
  EXPECT_EQ(symbolizer.Symbolize("nvlab-records", main_ + 4).value_or("(none)"), "main+0x4");
  EXPECT_FALSE(symbolizer.Symbolize("nvlab-powercut", main_ + 4).has_value());
  EXPECT_FALSE(symbolizer.Symbolize("nvlab-records", 0xffffffff81000000).has_value());
  EXPECT_FALSE(symbolizer.Symbolize("", main_).has_value());
}

TEST_F(UserSymbolizerTest, CommIsTheBasenameCutToFifteenBytes) {
  fs::copy_file(NVLAB_RECORDS_PATH, share_ / "my-long-test-program");
  UserSymbolizer symbolizer({tools_, share_}, &log_);
  EXPECT_EQ(symbolizer.Symbolize("my-long-test-pr", main_).value_or("(none)"), "main+0x0");
  EXPECT_FALSE(symbolizer.Symbolize("my-long-test-program", main_).has_value());
}

TEST_F(UserSymbolizerTest, TwoCandidatesAreAmbiguous) {
  fs::copy_file(NVLAB_RECORDS_PATH, share_ / "nvlab-records");
  UserSymbolizer symbolizer({tools_, share_}, &log_);
  EXPECT_FALSE(symbolizer.Symbolize("nvlab-records", main_).has_value());
  EXPECT_NE(log_.str().find("2 files match"), std::string::npos) << log_.str();
}

TEST_F(UserSymbolizerTest, NamesCutToTheSameFifteenBytesAreAmbiguous) {
  fs::copy_file(NVLAB_RECORDS_PATH, share_ / "program-version-1");
  fs::copy_file(NVLAB_RECORDS_PATH, share_ / "program-version-2");
  UserSymbolizer symbolizer({share_}, &log_);
  EXPECT_FALSE(symbolizer.Symbolize("program-version", main_).has_value());
}

TEST_F(UserSymbolizerTest, OnlyRegularElfFilesDirectlyInTheFoldersCount) {
  WriteAll(share_ / "nvlab-records", "#!/bin/sh\necho not an ELF file\n");  // not a candidate
  fs::copy_file(NVLAB_RECORDS_PATH, share_ / "sub" / "nested-tool");
  fs::create_directories(share_ / "a-folder");
  UserSymbolizer symbolizer({tools_, share_}, &log_);
  EXPECT_EQ(symbolizer.Symbolize("nvlab-records", main_).value_or("(none)"), "main+0x0");
  EXPECT_FALSE(symbolizer.Symbolize("nested-tool", main_).has_value());
  EXPECT_FALSE(symbolizer.Symbolize("a-folder", main_).has_value());
  EXPECT_FALSE(symbolizer.Symbolize("sub", main_).has_value());
}

TEST_F(UserSymbolizerTest, PieAndCorruptFilesNameNothingAndSaySo) {
  fs::copy_file("/proc/self/exe", share_ / "pie-program");
  WriteAll(share_ / "broken", std::string("\x7f"
                                          "ELF\x02\x01\x01",
                                          7) +
                                  std::string(100, '\xff'));
  UserSymbolizer symbolizer({share_}, &log_);
  EXPECT_FALSE(symbolizer.Symbolize("pie-program", 0x1000).has_value());
  EXPECT_FALSE(symbolizer.Symbolize("broken", 0x1000).has_value());
  EXPECT_NE(log_.str().find("broken"), std::string::npos) << log_.str();
}

TEST_F(UserSymbolizerTest, MissingFoldersAreNotAnError) {
  UserSymbolizer symbolizer({root_ / "missing", "", tools_}, &log_);
  EXPECT_EQ(symbolizer.Symbolize("nvlab-records", main_).value_or("(none)"), "main+0x0");
}

TEST_F(UserSymbolizerTest, AnnotateNamesLinesWithAProcessAndAUserPc) {
  CutReport report;
  report.present = true;
  report.lines.resize(4);
  report.lines[0].pc = main_ + 8;
  report.lines[0].process = GuestProcess{12, 12, "nvlab-records"};
  report.lines[1].pc = main_ + 8;                                   // no process: unknown program
  report.lines[2].process = GuestProcess{12, 12, "nvlab-records"};  // no pc
  report.lines[3].pc = main_ + 8;
  report.lines[3].process = GuestProcess{13, 13, "other"};
  UserSymbolizer symbolizer({tools_, share_}, &log_);
  symbolizer.Annotate(&report);
  EXPECT_EQ(report.lines[0].symbol, "main+0x8");
  EXPECT_EQ(report.lines[1].symbol, "");
  EXPECT_EQ(report.lines[2].symbol, "");
  EXPECT_EQ(report.lines[3].symbol, "");
}

}  // namespace
}  // namespace nvlab
