// debug_aids.cc -- --keep, --console and --gdb applied to a guest; the gdbstub's port check and
// the gdb lines of nvlab --gdb.

#include "debug_aids.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "nvlab/file_contents.h"
#include "nvlab/formats/elf_file.h"
#include "nvlab/shell_words.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace fs = std::filesystem;
namespace {

const std::string kIndent = "nvlab:   ";
// Programs larger than this are not read for the hints (a share may hold big data files).
constexpr uintmax_t kMaxProgramBytes = 256ull << 20;
constexpr uint16_t kElfTypeExec = 2;
constexpr uint16_t kElfTypeDyn = 3;

bool HasSymbolTable(const std::string& elf) {
  formats::ElfSection symtab;
  return formats::FindElfSection(elf, ".symtab", &symtab).ok();
}

}  // namespace

Status ApplyDebugOptions(const DebugOptions& options, bool dry_run, GuestConfig* config) {
  config->keep_run_folder = options.keep;
  config->console_fd = options.console ? STDERR_FILENO : -1;
  config->gdb_port = options.gdb_port;
  if (options.gdb_port == 0) return Status::Ok();
  config->hang_timeout = std::chrono::milliseconds(0);
  if (dry_run) return Status::Ok();
  NVLAB_RETURN_IF_ERROR(CheckGdbPortFree(options.gdb_port));
  config->gdb_hints = GdbHints(options.gdb_port, config->kernel, config->share_dir);
  return Status::Ok();
}

Status CheckGdbPortFree(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoErrorFromErrno("socket", errno);
  // QEMU sets SO_REUSEADDR too: a port in TIME_WAIT is free for it.
  const int one = 1;
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int error = errno;
  close(fd);
  if (bound == 0) return Status::Ok();
  if (error == EADDRINUSE) {
    return Status::FailedPrecondition("--gdb: port " + std::to_string(port) +
                                      " on 127.0.0.1 is taken (give another: --gdb=PORT)");
  }
  return Status::IoErrorFromErrno("--gdb: cannot listen on 127.0.0.1:" + std::to_string(port),
                                  error);
}

std::string GdbHints(uint16_t port, const fs::path& kernel, const fs::path& share_dir) {
  const std::string target = "target remote 127.0.0.1:" + std::to_string(port);
  std::string kernel_elf;
  const bool symbols = ReadFileContents(kernel, &kernel_elf).ok() && HasSymbolTable(kernel_elf);
  kernel_elf.clear();
  kernel_elf.shrink_to_fit();
  std::string out;
  if (symbols) {
    out += kIndent +
           ShellCommandLine({"gdb", "-ex", target, "-ex", "symbol-file " + kernel.string()}) + "\n";
  } else {
    out += kIndent + ShellCommandLine({"gdb", "-ex", target}) + "\n";
    out += kIndent + "the image's kernel " + kernel.string() +
           " has no symbol table (Debian strips it): gdb shows addresses, registers and memory; "
           "the guest's /proc/kallsyms names them (the kernel boots through its PVH entry, "
           "not relocated), and the kernel's debug package (linux-image-RELEASE-dbg) has a "
           "vmlinux for `symbol-file`\n";
  }
  if (share_dir.empty()) return out;
  std::vector<fs::path> files;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(share_dir, ec)) {
    std::error_code kind;
    const bool executable =
        (entry.status(kind).permissions() & fs::perms::owner_exec) != fs::perms::none;
    if (entry.is_regular_file(kind) && executable && entry.file_size(kind) <= kMaxProgramBytes) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  int named = 0;
  for (const fs::path& file : files) {
    if (named == kMaxSharedProgramsInHints) break;
    std::string bytes;
    formats::ElfFacts facts;
    if (!ReadFileContents(file, &bytes).ok() || !formats::ParseElf(bytes, &facts).ok()) continue;
    if (facts.type != kElfTypeExec && facts.type != kElfTypeDyn) continue;
    const std::string guest_path = "/host/" + file.filename().string();
    const std::string host_path = fs::absolute(file).lexically_normal().string();
    ++named;
    if (facts.type == kElfTypeExec) {
      out += kIndent + EscapeUntrusted(guest_path) + " (fixed addresses): add-symbol-file " +
             EscapeUntrusted(host_path) + "\n";
    } else {
      out += kIndent + EscapeUntrusted(guest_path) + " (PIE): add-symbol-file " +
             EscapeUntrusted(host_path) +
             " -o BASE, BASE its first mapping in the guest's /proc/PID/maps\n";
    }
  }
  return out;
}

}  // namespace nvlab
