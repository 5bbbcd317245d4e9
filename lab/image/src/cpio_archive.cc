// cpio_archive.cc -- CpioWriter and ParseCpio: the newc format (see cpio_archive.h).

#include "nvlab/image/cpio_archive.h"

#include <sys/stat.h>

#include <array>
#include <cstdio>

#include "nvlab/hex.h"

namespace nvlab::image {
namespace {

constexpr std::string_view kMagic = "070701";
constexpr std::string_view kTrailer = "TRAILER!!!";
constexpr std::size_t kHeaderSize = 110;

std::uint64_t PaddingFor(std::uint64_t length) {
  return (4 - length % 4) % 4;
}

bool IsValidPath(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return path.find('\0') == std::string_view::npos;
}

// ReadHex reads one 8-digit hex header field.
bool ReadHex(std::string_view field, std::uint32_t* value) {
  std::uint64_t parsed = 0;
  if (field.size() != 8 || !ParseHexDigits(field, &parsed)) return false;
  *value = static_cast<std::uint32_t>(parsed);
  return true;
}

}  // namespace

CpioWriter::CpioWriter(std::ostream* out, std::uint32_t first_inode)
    : out_(out), next_inode_(first_inode) {}

Status CpioWriter::AddDirectory(std::string_view path, std::uint32_t permissions) {
  return AddEntry(path, S_IFDIR | (permissions & 07777), {}, 0, 0);
}

Status CpioWriter::AddFile(std::string_view path, std::string_view data,
                           std::uint32_t permissions) {
  return AddEntry(path, S_IFREG | (permissions & 07777), data, 0, 0);
}

Status CpioWriter::AddSymlink(std::string_view path, std::string_view target) {
  if (target.empty())
    return Status::InvalidArgument("cpio: empty symlink target for " + std::string(path));
  return AddEntry(path, S_IFLNK | 0777, target, 0, 0);
}

Status CpioWriter::AddCharDevice(std::string_view path, std::uint32_t permissions,
                                 std::uint32_t major, std::uint32_t minor) {
  return AddEntry(path, S_IFCHR | (permissions & 07777), {}, major, minor);
}

Status CpioWriter::AddEntry(std::string_view path, std::uint32_t mode, std::string_view data,
                            std::uint32_t rdev_major, std::uint32_t rdev_minor) {
  if (finished_) return Status::FailedPrecondition("cpio: entry added after Finish");
  if (path != kTrailer && !IsValidPath(path)) {
    Status status = Status::InvalidArgument("cpio: bad path \"" + std::string(path) + "\"");
    if (first_error_.ok()) first_error_ = status;
    return status;
  }
  if (data.size() > 0xffffffffULL) {
    Status status = Status::InvalidArgument("cpio: file too large for newc: " + std::string(path));
    if (first_error_.ok()) first_error_ = status;
    return status;
  }
  bool trailer = path == kTrailer;
  std::array<char, kHeaderSize + 1> header{};
  int length = std::snprintf(
      header.data(), header.size(), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
      trailer ? 0U : next_inode_++, mode, 0U, 0U, (mode & S_IFMT) == S_IFDIR ? 2U : 1U, 0U,
      static_cast<unsigned>(data.size()), 0U, 0U, rdev_major, rdev_minor,
      static_cast<unsigned>(path.size() + 1), 0U);
  if (length != static_cast<int>(kHeaderSize)) {
    return Status::InvalidArgument("cpio: header field overflow for " + std::string(path));
  }
  out_->write(header.data(), kHeaderSize);
  out_->write(path.data(), static_cast<std::streamsize>(path.size()));
  out_->put('\0');
  bytes_written_ += kHeaderSize + path.size() + 1;
  WritePadding(kHeaderSize + path.size() + 1);
  out_->write(data.data(), static_cast<std::streamsize>(data.size()));
  bytes_written_ += data.size();
  WritePadding(data.size());
  if (!*out_ && first_error_.ok()) first_error_ = Status::IoError("cpio: write failed");
  return first_error_;
}

void CpioWriter::WritePadding(std::uint64_t length) {
  static constexpr char kZeros[4] = {0, 0, 0, 0};
  std::uint64_t padding = PaddingFor(length);
  out_->write(kZeros, static_cast<std::streamsize>(padding));
  bytes_written_ += padding;
}

Status CpioWriter::Finish() {
  if (finished_) return first_error_;
  Status status = AddEntry(kTrailer, 0, {}, 0, 0);
  finished_ = true;
  out_->flush();
  if (!*out_ && first_error_.ok()) first_error_ = Status::IoError("cpio: write failed");
  return first_error_.ok() ? status : first_error_;
}

Status ParseCpio(std::string_view bytes, std::vector<CpioEntry>* entries) {
  std::size_t offset = 0;
  bool in_archive = false;
  while (offset < bytes.size()) {
    if (!in_archive) {
      // Between archives: skip the zero padding the kernel also accepts.
      if (bytes[offset] == '\0') {
        ++offset;
        continue;
      }
      in_archive = true;
    }
    auto error = [&](const std::string& what) {
      return Status::InvalidArgument("cpio: " + what + " at offset " + std::to_string(offset));
    };
    if (bytes.size() - offset < kHeaderSize) return error("truncated header");
    std::string_view header = bytes.substr(offset, kHeaderSize);
    if (header.substr(0, 6) != kMagic) return error("bad magic");
    std::array<std::uint32_t, 13> field{};
    for (std::size_t i = 0; i < field.size(); ++i) {
      if (!ReadHex(header.substr(6 + 8 * i, 8), &field[i])) return error("bad header field");
    }
    std::uint32_t namesize = field[11];
    std::uint64_t filesize = field[6];
    if (namesize == 0) return error("empty name");
    std::size_t name_start = offset + kHeaderSize;
    std::uint64_t data_start = name_start + namesize;
    data_start += PaddingFor(kHeaderSize + namesize);
    if (data_start > bytes.size() || filesize > bytes.size() - data_start) {
      return error("truncated entry");
    }
    if (bytes[name_start + namesize - 1] != '\0') return error("name without NUL");
    std::string name(bytes.substr(name_start, namesize - 1));
    offset = data_start + filesize + PaddingFor(filesize);
    if (name == kTrailer) {
      in_archive = false;
      continue;
    }
    CpioEntry entry;
    entry.name = std::move(name);
    entry.inode = field[0];
    entry.mode = field[1];
    entry.rdev_major = field[9];
    entry.rdev_minor = field[10];
    entry.data = std::string(bytes.substr(data_start, filesize));
    entries->push_back(std::move(entry));
  }
  if (in_archive) return Status::InvalidArgument("cpio: archive without trailer");
  return Status::Ok();
}

}  // namespace nvlab::image
