// File: nvlab/user_symbolizer.h
//
// UserSymbolizer names the user-space function behind each lost line's last store in a cut
// report, where that is cheap: a non-PIE executable on the host whose basename is the guest
// process's name. It reads symbol tables with nvlab/formats/elf_symbols.h.
//
// Thread-safety: one thread at a time per UserSymbolizer.

#ifndef NVLAB_USER_SYMBOLIZER_H_
#define NVLAB_USER_SYMBOLIZER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "nvlab/cut_report.h"

namespace nvlab {

// UserSymbolizer names the function behind a user-space PC of a guest process, where cheap: the
// process's comm names a host file among the candidates (the regular ELF files directly in the
// folders given: the guest tools nvlab installs, the --share folder), exactly one candidate's
// basename cut to 15 bytes equals comm, and that file is a non-PIE x86-64 executable (ET_EXEC),
// whose addresses are its symbols' addresses (a PIE's or shared object's load base is unknown).
// Files are read lazily, once each, when a lost line first names them.
class UserSymbolizer {
 public:
  // log, when set, receives one line per candidate file whose symbols could not be read.
  explicit UserSymbolizer(std::vector<std::filesystem::path> dirs, std::ostream* log = nullptr);
  ~UserSymbolizer();
  UserSymbolizer(const UserSymbolizer&) = delete;
  UserSymbolizer& operator=(const UserSymbolizer&) = delete;

  // Symbolize returns "name+0xoff" for pc in the process named comm, or nothing: a kernel PC,
  // no candidate or several, a PIE, no symbol containing pc, an unreadable file.
  std::optional<std::string> Symbolize(std::string_view comm, uint64_t pc);

  // Annotate sets LostLine::symbol of every listed line with a PC and a process.
  void Annotate(CutReport* report);

 private:
  struct Table;
  void ListCandidates();
  const Table* TableFor(std::string_view comm);

  std::vector<std::filesystem::path> dirs_;
  std::ostream* log_;
  bool listed_ = false;
  // By basename cut to 15 bytes: the regular files of dirs_ with that name (ELF or not).
  std::map<std::string, std::vector<std::filesystem::path>, std::less<>> candidates_;
  // By comm: its table, or null when it has none (decided once).
  std::map<std::string, std::unique_ptr<Table>, std::less<>> tables_;
};

}  // namespace nvlab

#endif  // NVLAB_USER_SYMBOLIZER_H_
