// file_lock_test.cc -- FileLock: exclusive locks wait for each other across processes, shared
// ones do not, and a dead holder never blocks the next one.

#include "nvlab/file_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "nvlab_process.h"

namespace nvlab {
namespace {

namespace fs = std::filesystem;

// LockInChild forks a process that takes the lock in `mode` and reports on a pipe: 'w' when it
// had to wait, then 'a' once it holds the lock; it keeps the lock until `hold` ends (the parent
// closes its end). Returns the child's PID, *report the read end.
pid_t LockInChild(const fs::path& path, FileLock::Mode mode, int* report, int* hold) {
  int to_parent[2];
  int from_parent[2];
  EXPECT_EQ(pipe(to_parent), 0);
  EXPECT_EQ(pipe(from_parent), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    // Only this child's own pipe ends stay open: an earlier child's `hold` end inherited here
    // would keep that child waiting after the parent closed it.
    for (int fd = 3; fd < 1024; ++fd) {
      if (fd != to_parent[1] && fd != from_parent[0]) close(fd);
    }
    FileLock lock;
    const Status s = lock.Acquire(path, mode, [&] { (void)!write(to_parent[1], "w", 1); });
    (void)!write(to_parent[1], s.ok() ? "a" : "e", 1);
    char c;
    (void)!read(from_parent[0], &c, 1);  // until the parent closes it
    _exit(0);
  }
  close(to_parent[1]);
  close(from_parent[0]);
  *report = to_parent[0];
  *hold = from_parent[1];
  return pid;
}

char ReadReport(int fd) {
  char c = 0;
  return read(fd, &c, 1) == 1 ? c : '?';
}

void Finish(pid_t pid, int report, int hold) {
  close(hold);
  close(report);
  int status = 0;
  waitpid(pid, &status, 0);
}

TEST(FileLockTest, AnExclusiveLockWaitsForTheHolder) {
  const fs::path dir = testing::MakeTempDir();
  const fs::path path = dir / "lock";
  int report1 = -1, hold1 = -1, report2 = -1, hold2 = -1;
  const pid_t first = LockInChild(path, FileLock::Mode::kExclusive, &report1, &hold1);
  EXPECT_EQ(ReadReport(report1), 'a');
  const pid_t second = LockInChild(path, FileLock::Mode::kExclusive, &report2, &hold2);
  EXPECT_EQ(ReadReport(report2), 'w');
  Finish(first, report1, hold1);  // the holder ends: the waiter gets the lock
  EXPECT_EQ(ReadReport(report2), 'a');
  Finish(second, report2, hold2);
  fs::remove_all(dir);
}

TEST(FileLockTest, SharedLocksDoNotWaitForEachOtherButAnExclusiveOneDoes) {
  const fs::path dir = testing::MakeTempDir();
  const fs::path path = dir / "lock";
  int r1 = -1, h1 = -1, r2 = -1, h2 = -1;
  const pid_t a = LockInChild(path, FileLock::Mode::kShared, &r1, &h1);
  EXPECT_EQ(ReadReport(r1), 'a');
  const pid_t b = LockInChild(path, FileLock::Mode::kShared, &r2, &h2);
  EXPECT_EQ(ReadReport(r2), 'a');
  FileLock exclusive;
  bool waited = false;
  Finish(a, r1, h1);
  Finish(b, r2, h2);
  EXPECT_TRUE(exclusive.Acquire(path, FileLock::Mode::kExclusive, [&] { waited = true; }).ok());
  EXPECT_FALSE(waited) << "the shared holders are gone";
  FileLock twice;
  EXPECT_EQ(exclusive.Acquire(path, FileLock::Mode::kShared).code(),
            Status::Code::kFailedPrecondition);
  fs::remove_all(dir);
}

TEST(FileLockTest, AnUnopenableLockFileIsAnError) {
  FileLock lock;
  EXPECT_FALSE(lock.Acquire("/nonexistent/folder/lock", FileLock::Mode::kExclusive).ok());
}

}  // namespace
}  // namespace nvlab
