// crash_state_checker.cc -- CrashStateChecker.

#include "nvlab/exploration/crash_state_checker.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string_view>

#include "nvlab/exploration/check_command.h"
#include "nvlab/guest_image.h"
#include "nvlab/guest_template_cache.h"
#include "nvlab/model_control.h"
#include "nvlab/shell_words.h"
#include "nvlab/untrusted_text.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;
using explore::CrashImage;
using explore::ImageLine;
using explore::kLineBytes;

// The rewrite reads and compares the files in chunks of this size.
constexpr size_t kChunk = size_t{64} * 1024;
// A watch file has one line per NVDIMM line the check read: at most every line of 64 NVDIMMs of
// 64 GiB would be absurd; a check reading more than this many lines is refused, not loaded.
constexpr uint64_t kMaxWatchedLines = 64ull << 20;

// CaptureSink keeps the first kMaxCheckOutput bytes of a check's output.
class CaptureSink : public OutputSink {
 public:
  void Stdout(std::string_view bytes) override { Append(bytes); }
  void Stderr(std::string_view bytes) override { Append(bytes); }
  std::string text() const { return truncated_ ? text_ + "\n[output shortened]" : text_; }

 private:
  void Append(std::string_view bytes) {
    const size_t room = kMaxCheckOutput - std::min(kMaxCheckOutput, text_.size());
    if (bytes.size() > room) truncated_ = true;
    text_.append(bytes.substr(0, room));
  }
  std::string text_;
  bool truncated_ = false;
};

Status PwriteAll(int fd, const uint8_t* data, size_t size, uint64_t offset) {
  while (size > 0) {
    const ssize_t n = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IoErrorFromErrno("write an NVDIMM file", errno);
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status PreadAll(int fd, uint8_t* data, size_t size, uint64_t offset) {
  while (size > 0) {
    const ssize_t n = pread(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoErrorFromErrno("read an NVDIMM file", errno);
    if (n == 0) {  // Past the end: reads as zeros (the file is at least the NVDIMM's size).
      std::memset(data, 0, size);
      return Status::Ok();
    }
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status CrashStateChecker::Start(GuestConfig guest, const fs::path& folder,
                                const std::vector<explore::RecordedNvdimm>& nvdimms,
                                std::vector<std::span<const uint8_t>> initial_images,
                                std::string check, std::chrono::milliseconds check_timeout,
                                bool watch_loads, std::unique_ptr<CrashStateChecker>* out) {
  if (initial_images.size() != nvdimms.size()) {
    return Status::InvalidArgument("one initial image per NVDIMM expected");
  }
  std::unique_ptr<CrashStateChecker> checker(new CrashStateChecker());
  checker->nvdimms_ = nvdimms;
  checker->initial_ = std::move(initial_images);
  checker->check_ = std::move(check);
  checker->check_timeout_ = check_timeout;
  checker->watch_loads_ = watch_loads;
  checker->watch_file_ = folder / "watched-lines";
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return Status::IoError("cannot create " + folder.string() + ": " + ec.message());
  guest.nvdimm_images.clear();
  for (size_t i = 0; i < nvdimms.size(); ++i) {
    const fs::path file = folder / ("nvdimm" + std::to_string(i) + ".img");
    const int fd = open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IoErrorFromErrno("create " + file.string(), errno);
    checker->fds_.push_back(fd);
    if (ftruncate(fd, static_cast<off_t>(nvdimms[i].size)) != 0) {
      return Status::IoErrorFromErrno("size " + file.string(), errno);
    }
    guest.nvdimm_images.push_back(file);
  }
  // The files start as the initial images: only their non-zero chunks are written.
  NVLAB_RETURN_IF_ERROR(checker->RewriteFiles(CrashImage()));
  checker->share_dir_ = guest.share_dir;
  // Devdax NVDIMMs have no file system and no block device whose cache could be stale: programs
  // map them directly, so their checks skip the agent's detach and attach (two round trips).
  checker->detaches_ = guest.machine.namespace_mode != NamespaceMode::kDevdax;
  // One vCPU, whatever the machine: the plugin's page cache for watched loads is per vCPU, and
  // under thread=single QEMU gives a callback the vCPU that translated the block, not the one
  // running it (lab/plugin/virtual_page_cache.h). With two vCPUs, two processes using the same
  // virtual page at once could answer each other's loads, and a missed NVDIMM read is a wrong
  // pruning decision. A check needs no second CPU; NUMA nodes beyond the first keep their
  // memory and NVDIMMs, without a CPU.
  if (guest.machine.vcpus != 1) {
    guest.machine.vcpus = 1;
    // The lab chose the workload machine's template; the check guest's machine is another one,
    // with a template of its own (built once, under the cache's lock, by the first checker).
    if (guest.warm_template) {
      GuestTemplate own;
      Status built = EnsureGuestTemplate(DefaultNvlabHome(), guest, &own);
      if (built.code() == Status::Code::kCancelled) return built;
      if (built.ok()) {
        guest.warm_template = std::move(own);
      } else {
        guest.warm_template.reset();
        if (guest.notices != nullptr) {
          *guest.notices << "nvlab: the check guest boots cold (no warm start: "
                         << built.message().substr(0, built.message().find('\n')) << ")\n";
        }
      }
    }
  }
  guest.model.enabled = true;
  guest.model.record.clear();
  guest.model.watch_loads = watch_loads;
  guest.model.cut_after_fences = 0;
  NVLAB_RETURN_IF_ERROR(Guest::Create(std::move(guest), &checker->guest_));
  NVLAB_RETURN_IF_ERROR(checker->guest_->Boot().WithContext("the check guest"));
  const Deadline setup = Deadline::In(std::chrono::seconds(60));
  if (!checker->share_dir_.empty()) {
    // The share again with the kernel's page cache (cache=loose): a check is usually a program
    // on the share, and exec'ing it from an uncached 9p mount reads it from the host every time
    // (0.37 s for a 2.6 MB static program under TCG, against 0.01 s cached). The share is taken
    // to be unchanged while exploration runs.
    CaptureSink sink;
    RunResult run;
    NVLAB_RETURN_IF_ERROR(checker->guest_->Run(
        ShellCommand("umount /host && mount -t 9p -o "
                     "trans=virtio,version=9p2000.L,msize=512000,cache=loose nvlab_share /host"),
        &sink, setup, &run));
    if (run.status.signaled || run.status.value != 0) {
      return Status::IoError("the check guest could not mount the share with caching: " +
                             EscapeUntrustedLines(sink.text()));
    }
  }
  checker->check_argv_ = CheckArgv(checker->check_, checker->guest_->hello());
  if (const auto program = CheckProgramOnShare(checker->check_argv_, checker->share_dir_)) {
    // The check's program served from the guest's memory, at its own path (check_command.h).
    const std::string copy = "/tmp/.nvlab-check/program";
    CaptureSink sink;
    RunResult run;
    NVLAB_RETURN_IF_ERROR(checker->guest_->Run(
        ShellCommand("mkdir -p /tmp/.nvlab-check && cp -- " + ShellQuoted(*program) + " " + copy +
                     " && mount --bind " + copy + " " + ShellQuoted(*program)),
        &sink, setup, &run));
    if (run.status.signaled || run.status.value != 0) {
      return Status::IoError("the check guest could not copy the check program " + *program +
                             " into its memory: " + EscapeUntrustedLines(sink.text()));
    }
  }
  std::string refusal;
  NVLAB_RETURN_IF_ERROR(checker->guest_->DetachNvdimms(setup, &refusal));
  if (!refusal.empty()) {
    return Status::IoError("the check guest could not detach its NVDIMMs: " + refusal);
  }
  *out = std::move(checker);
  return Status::Ok();
}

CrashStateChecker::~CrashStateChecker() {
  guest_.reset();  // QEMU first: it maps the files.
  for (int fd : fds_) close(fd);
}

Status CrashStateChecker::RewriteFiles(const CrashImage& image) {
  for (size_t i = 0; i < nvdimms_.size(); ++i) NVLAB_RETURN_IF_ERROR(RewriteFile(i, image));
  return Status::Ok();
}

// RewriteFile: the file's data extents and the image's lines are the only places where the file
// can differ from the wanted content (holes read as zeros, and so do the initial image's holes
// where the file has none: the file started as a copy of it).
Status CrashStateChecker::RewriteFile(size_t nvdimm, const CrashImage& image) {
  const int fd = fds_[nvdimm];
  const uint64_t base = nvdimms_[nvdimm].base;
  const uint64_t size = nvdimms_[nvdimm].size;
  const std::span<const uint8_t> initial = initial_[nvdimm];
  auto initial_at = [&](uint64_t offset, uint8_t* out, size_t n) {
    if (offset >= initial.size()) {
      std::memset(out, 0, n);
      return;
    }
    const size_t have = std::min<size_t>(n, initial.size() - offset);
    std::memcpy(out, initial.data() + offset, have);
    std::memset(out + have, 0, n - have);
  };
  // The image's lines of this NVDIMM (ascending gpa).
  auto first = std::lower_bound(image.lines.begin(), image.lines.end(), base,
                                [](const ImageLine& l, uint64_t gpa) { return l.gpa < gpa; });
  auto last = std::lower_bound(first, image.lines.end(), base + size,
                               [](const ImageLine& l, uint64_t gpa) { return l.gpa < gpa; });
  // Chunks to compare: every data extent of the file, every chunk of the initial image that
  // holds data (on the first rewrite the file is all holes), every chunk an image line is in.
  std::vector<uint64_t> chunks;
  for (off_t at = 0;;) {
    const off_t data = lseek(fd, at, SEEK_DATA);
    if (data < 0) break;  // ENXIO: no data after `at`
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) hole = static_cast<off_t>(size);
    for (uint64_t c = static_cast<uint64_t>(data) / kChunk * kChunk;
         c < static_cast<uint64_t>(hole) && c < size; c += kChunk) {
      chunks.push_back(c);
    }
    at = hole;
    if (static_cast<uint64_t>(at) >= size) break;
  }
  if (chunks_of_initial_.size() <= nvdimm) chunks_of_initial_.resize(nvdimm + 1);
  if (!initial_scanned_) {
    std::vector<uint64_t>& mine = chunks_of_initial_[nvdimm];
    for (uint64_t c = 0; c < initial.size(); c += kChunk) {
      const size_t n = std::min<size_t>(kChunk, initial.size() - c);
      const uint8_t* p = initial.data() + c;
      if (std::any_of(p, p + n, [](uint8_t b) { return b != 0; })) mine.push_back(c);
    }
  }
  chunks.insert(chunks.end(), chunks_of_initial_[nvdimm].begin(), chunks_of_initial_[nvdimm].end());
  for (auto it = first; it != last; ++it) chunks.push_back((it->gpa - base) / kChunk * kChunk);
  std::sort(chunks.begin(), chunks.end());
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());

  std::vector<uint8_t> want(kChunk);
  std::vector<uint8_t> have(kChunk);
  auto line = first;
  for (const uint64_t c : chunks) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, size - c));
    initial_at(c, want.data(), n);
    while (line != last && line->gpa - base < c) ++line;
    for (auto l = line; l != last && l->gpa - base < c + n; ++l) {
      std::memcpy(want.data() + (l->gpa - base - c), l->content.data(), kLineBytes);
    }
    NVLAB_RETURN_IF_ERROR(PreadAll(fd, have.data(), n, c));
    for (size_t at = 0; at < n; at += kLineBytes) {
      if (std::memcmp(want.data() + at, have.data() + at, kLineBytes) == 0) continue;
      size_t end = at + kLineBytes;  // Runs of differing lines go in one write.
      while (end < n && std::memcmp(want.data() + end, have.data() + end, kLineBytes) != 0) {
        end += kLineBytes;
      }
      NVLAB_RETURN_IF_ERROR(PwriteAll(fd, want.data() + at, end - at, c + at));
      at = end - kLineBytes;
    }
  }
  if (nvdimm + 1 == nvdimms_.size()) initial_scanned_ = true;
  return Status::Ok();
}

Status CrashStateChecker::ParseWatchFile(const fs::path& path, CheckOutcome* outcome) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("the persistence model wrote no watched-lines file");
  std::string text;
  uint64_t count = 0;
  while (std::getline(in, text)) {
    if (++count > kMaxWatchedLines) {
      return Status::ProtocolError("the watched-lines file lists too many lines");
    }
    const char* p = text.data();
    const char* end = p + text.size();
    uint64_t nvdimm = 0;
    uint64_t line = 0;
    auto [q, e1] = std::from_chars(p, end, nvdimm);
    if (e1 != std::errc() || q == end || *q != ' ') {
      return Status::ProtocolError("malformed watched-lines entry: " + EscapeUntrusted(text));
    }
    auto [r, e2] = std::from_chars(q + 1, end, line);
    if (e2 != std::errc() || r != end || nvdimm >= nvdimms_.size() ||
        line >= nvdimms_[nvdimm].size / kLineBytes) {
      return Status::ProtocolError("malformed watched-lines entry: " + EscapeUntrusted(text));
    }
    outcome->lines_read.push_back(nvdimms_[nvdimm].base + line * kLineBytes);
  }
  return Status::Ok();
}

Status CrashStateChecker::Check(const CrashImage& image, Deadline deadline, CheckOutcome* outcome) {
  *outcome = CheckOutcome();
  // Between checks the guest is quiescent: the agent waits for the next request, the last
  // check has ended, and a detached NVDIMM has no mount and no cached blocks. Devdax has
  // neither, so its files are rewritten while the guest runs (two QMP round trips saved); a
  // detached file system's are rewritten with the guest stopped, in case its kernel looks.
  if (detaches_) NVLAB_RETURN_IF_ERROR(guest_->Pause(deadline));
  NVLAB_RETURN_IF_ERROR(RewriteFiles(image));
  std::string answer;
  if (watch_loads_) {
    NVLAB_RETURN_IF_ERROR(
        ModelControlExchange(guest_->model_control_socket(), "watch-begin", deadline, &answer));
  }
  if (detaches_) NVLAB_RETURN_IF_ERROR(guest_->Continue(deadline));
  std::string refusal;
  if (detaches_) NVLAB_RETURN_IF_ERROR(guest_->AttachNvdimms(deadline, &refusal));
  if (!refusal.empty()) {
    outcome->verdict = "the NVDIMMs did not mount: " + refusal;
    outcome->output = refusal;
  } else {
    CaptureSink sink;
    RunResult run;
    const Deadline check_deadline = deadline.Earlier(Deadline::In(check_timeout_));
    NVLAB_RETURN_IF_ERROR(guest_->Run(check_argv_, &sink, check_deadline, &run));
    if (run.cut_by_guest) return Status::FailedPrecondition("the check cut the power");
    outcome->output = sink.text();
    outcome->verdict =
        (run.status.signaled ? "signal " : "exit ") + std::to_string(run.status.value);
    outcome->passed = !run.status.signaled && run.status.value == 0;
    if (detaches_) NVLAB_RETURN_IF_ERROR(guest_->DetachNvdimms(deadline, &refusal));
    if (!refusal.empty()) {
      return Status::IoError("the check guest could not detach its NVDIMMs after the check: " +
                             refusal);
    }
  }
  if (!watch_loads_) return Status::Ok();
  std::error_code ec;
  fs::remove(watch_file_, ec);
  NVLAB_RETURN_IF_ERROR(ModelControlExchange(
      guest_->model_control_socket(), "watch-end " + watch_file_.string(), deadline, &answer));
  return ParseWatchFile(watch_file_, outcome);
}

Status CrashStateChecker::WriteImageFiles(const CrashImage& image, const fs::path& dir,
                                          std::vector<fs::path>* files) const {
  files->clear();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create " + dir.string() + ": " + ec.message());
  for (size_t i = 0; i < nvdimms_.size(); ++i) {
    const fs::path file = dir / ("nvdimm" + std::to_string(i) + ".img");
    const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IoErrorFromErrno("create " + file.string(), errno);
    Status s = Status::Ok();
    if (ftruncate(fd, static_cast<off_t>(nvdimms_[i].size)) != 0) {
      s = Status::IoErrorFromErrno("size " + file.string(), errno);
    }
    const std::span<const uint8_t> initial = initial_[i];
    for (uint64_t c = 0; s.ok() && c < initial.size(); c += kChunk) {
      const size_t n = std::min<size_t>(kChunk, initial.size() - c);
      const uint8_t* p = initial.data() + c;
      if (std::any_of(p, p + n, [](uint8_t b) { return b != 0; })) s = PwriteAll(fd, p, n, c);
    }
    for (const ImageLine& l : image.lines) {
      if (!s.ok()) break;
      if (l.gpa < nvdimms_[i].base || l.gpa >= nvdimms_[i].base + nvdimms_[i].size) continue;
      s = PwriteAll(fd, l.content.data(), kLineBytes, l.gpa - nvdimms_[i].base);
    }
    close(fd);
    NVLAB_RETURN_IF_ERROR(s);
    files->push_back(file);
  }
  return Status::Ok();
}

}  // namespace nvlab
