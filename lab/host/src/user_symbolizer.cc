// user_symbolizer.cc -- UserSymbolizer: guest process names to host ELF files to symbols.

#include "nvlab/user_symbolizer.h"

#include "nvlab/formats/elf_symbols.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

// kUserSpaceEnd: x86-64 user addresses lie below the canonical hole.
constexpr uint64_t kUserSpaceEnd = uint64_t{1} << 47;
// TASK_COMM_LEN is 16 with the terminating NUL: the kernel keeps 15 bytes of the name.
constexpr size_t kCommNameBytes = 15;

}  // namespace

struct UserSymbolizer::Table {
  formats::ElfSymbolTable elf;
};

UserSymbolizer::UserSymbolizer(std::vector<std::filesystem::path> dirs, std::ostream* log)
    : dirs_(std::move(dirs)), log_(log) {}

UserSymbolizer::~UserSymbolizer() = default;

void UserSymbolizer::ListCandidates() {
  listed_ = true;
  for (const std::filesystem::path& dir : dirs_) {
    if (dir.empty()) continue;
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) {
      if (log_)
        *log_ << "nvlab: symbols: cannot list " << dir.string() << ": " << ec.message() << "\n";
      continue;
    }
    for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      std::error_code type_ec;
      if (!it->is_regular_file(type_ec)) continue;
      const std::string name = it->path().filename().string();
      candidates_[name.substr(0, kCommNameBytes)].push_back(it->path());
    }
  }
}

const UserSymbolizer::Table* UserSymbolizer::TableFor(std::string_view comm) {
  if (!listed_) ListCandidates();
  if (auto it = tables_.find(comm); it != tables_.end()) return it->second.get();
  std::unique_ptr<Table>& table = tables_[std::string(comm)];
  const auto named = candidates_.find(comm);
  if (named == candidates_.end()) return nullptr;
  std::vector<std::filesystem::path> elf;
  for (const std::filesystem::path& file : named->second) {
    if (formats::ElfSymbolTable::IsElfFile(file)) elf.push_back(file);
  }
  if (elf.size() != 1) {
    if (log_ && elf.size() > 1) {
      *log_ << "nvlab: symbols: " << elf.size() << " files match guest process "
            << EscapeUntrusted(comm) << " (" << elf[0].string() << ", " << elf[1].string()
            << "): not naming its functions\n";
    }
    return nullptr;
  }
  auto loaded = std::make_unique<Table>();
  const Status s = formats::ElfSymbolTable::Load(elf[0], &loaded->elf);
  if (!s.ok()) {
    if (log_) *log_ << "nvlab: symbols: " << s.message() << "\n";
    return nullptr;
  }
  if (loaded->elf.type() != formats::kElfTypeExec) {
    if (log_) {
      *log_ << "nvlab: symbols: " << elf[0].string()
            << " is position-independent: its load address is unknown, not naming its "
               "functions\n";
    }
    return nullptr;
  }
  table = std::move(loaded);
  return table.get();
}

std::optional<std::string> UserSymbolizer::Symbolize(std::string_view comm, uint64_t pc) {
  if (pc >= kUserSpaceEnd || comm.empty()) return std::nullopt;
  const Table* table = TableFor(comm);
  if (table == nullptr) return std::nullopt;
  return table->elf.Symbolize(pc);
}

void UserSymbolizer::Annotate(CutReport* report) {
  for (LostLine& line : report->lines) {
    if (!line.pc || !line.process) continue;
    if (auto symbol = Symbolize(line.process->comm, *line.pc)) line.symbol = std::move(*symbol);
  }
}

}  // namespace nvlab
