// gdb_hints_test.cc -- the gdb lines nvlab --gdb prints: the attach line, what gdb can do with a
// kernel that has no symbol table, one add-symbol-file line per ELF executable in the share
// folder (fixed addresses or PIE), nothing for other files; and a taken port is named.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "debug_aids.h"
#include "nvlab_process.h"

namespace nvlab {
namespace {
namespace fs = std::filesystem;

class GdbHintsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir(); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(GdbHintsTest, NameTheAttachLineAndEachSharedProgram) {
  const fs::path share = dir_ / "share";
  fs::create_directories(share);
  // /bin/sh is a PIE on Debian; the same bytes with e_type ET_EXEC stand for a program linked at
  // fixed addresses.
  fs::copy_file("/bin/sh", share / "pie");
  std::string bytes;
  {
    std::ifstream in("/bin/sh", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_GT(bytes.size(), 64u);
  bytes[16] = 2;  // e_type = ET_EXEC
  bytes[17] = 0;
  std::ofstream(share / "fixed", std::ios::binary) << bytes;
  std::ofstream(share / "notes.txt") << "not a program\n";
  for (const char* name : {"pie", "fixed", "notes.txt"}) {
    fs::permissions(share / name, fs::perms::owner_all);
  }
  const fs::path kernel = dir_ / "vmlinux";  // no ELF at all: no symbol table
  std::ofstream(kernel) << "not an ELF file";

  const std::string hints = GdbHints(4321, kernel, share);
  EXPECT_NE(hints.find("nvlab:   gdb -ex 'target remote 127.0.0.1:4321'\n"), std::string::npos)
      << hints;
  EXPECT_NE(hints.find("has no symbol table"), std::string::npos) << hints;
  EXPECT_NE(hints.find("/host/fixed (fixed addresses): add-symbol-file " +
                       (share / "fixed").string() + "\n"),
            std::string::npos)
      << hints;
  EXPECT_NE(hints.find("/host/pie (PIE): add-symbol-file " + (share / "pie").string() + " -o BASE"),
            std::string::npos)
      << hints;
  EXPECT_EQ(hints.find("notes.txt"), std::string::npos) << hints;
}

TEST_F(GdbHintsTest, ATakenPortIsNamedWithTheFix) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);
  const Status taken = CheckGdbPortFree(port);
  close(fd);
  EXPECT_EQ(taken.code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(taken.message().find("port " + std::to_string(port) + " on 127.0.0.1 is taken"),
            std::string::npos)
      << taken.message();
  EXPECT_NE(taken.message().find("--gdb=PORT"), std::string::npos);
}

}  // namespace
}  // namespace nvlab
