// qemu_firmware.cc -- MinimalFirmwareFor.

#include "nvlab/qemu_firmware.h"

#include <system_error>
#include <vector>

#include "nvlab/program_identity.h"

namespace nvlab {
namespace fs = std::filesystem;

fs::path MinimalFirmwareFor(const std::string& qemu) {
  std::vector<fs::path> candidates;
  const fs::path program = ResolveProgram(qemu);
  if (!program.empty()) {
    std::error_code ec;
    // The real binary's folder: a link in PATH (/usr/local/bin/qemu-...) may point elsewhere.
    const fs::path real = fs::canonical(program, ec);
    const fs::path bin = (ec ? program : real).parent_path();
    candidates.push_back(bin.parent_path() / "share/qemu/qboot.rom");
  }
  candidates.emplace_back("/usr/share/qemu/qboot.rom");
  for (const fs::path& candidate : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  return {};
}

}  // namespace nvlab
