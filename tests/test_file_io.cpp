// common/file_io.h and common/digest.h: reading whole files, the one atomic writer (every error
// path names the file, and a failed replace keeps the old content and leaves no temporary file),
// appending lines, and the MD5/SHA-256 wrappers against published test vectors.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "collab/common/digest.h"
#include "collab/common/error.h"
#include "collab/common/file_io.h"
#include "test_support.h"

namespace test_file_io {

namespace fs = std::filesystem;

namespace {

// The message of the collab::Error `f` throws ("" when it throws none).
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const collab::Error& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

}  // namespace

TEST(FileIo, ReadsWholeFiles) {
  const std::string path = collab::test::temp_dir() + "/f";
  const std::string bytes("a\0b\nc", 5);
  collab::test::write_text(path, bytes);
  EXPECT_EQ(collab::read_file(path), bytes);
}

TEST(FileIo, ReadErrorsNameTheFile) {
  const std::string dir = collab::test::temp_dir();
  const std::string missing = dir + "/missing";
  EXPECT_EQ(error_of([&] { collab::read_file(missing); }),
            missing + ": cannot open (" + std::strerror(ENOENT) + ")");
  EXPECT_EQ(error_of([&] { collab::read_file(dir); }), dir + ": is a directory");
}

TEST(FileIo, AtomicWriteReplacesAndLeavesNoTemporaryFile) {
  const std::string dir = collab::test::temp_dir();
  const std::string path = dir + "/f";
  collab::write_file_atomically(path, "one");
  collab::write_file_atomically(path, "two");
  EXPECT_EQ(collab::read_file(path), "two");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"f"});
}

TEST(FileIo, AtomicWriteErrorsNameTheFileAndTheReason) {
  const std::string dir = collab::test::temp_dir();
  const std::string in_missing = dir + "/no/such/folder/f";
  std::string e = error_of([&] { collab::write_file_atomically(in_missing, "x"); });
  EXPECT_EQ(e.rfind(in_missing + ": cannot create", 0), 0u) << e;
  EXPECT_NE(e.find(std::strerror(ENOENT)), std::string::npos) << e;

  collab::test::write_text(dir + "/plain", "");  // a file where a folder should be
  const std::string under_file = dir + "/plain/f";
  e = error_of([&] { collab::write_file_atomically(under_file, "x"); });
  EXPECT_NE(e.find(under_file), std::string::npos) << e;
  EXPECT_NE(e.find(std::strerror(ENOTDIR)), std::string::npos) << e;

  // Renaming onto a folder fails after the data was written: the temporary file goes.
  fs::create_directory(dir + "/folder");
  e = error_of([&] { collab::write_file_atomically(dir + "/folder", "x"); });
  EXPECT_EQ(e.rfind(dir + "/folder: cannot rename", 0), 0u) << e;
  EXPECT_EQ(names_in(dir).size(), 2u);  // plain, folder
}

TEST(FileIo, UnwritableFolderIsAnErrorNamingTheFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into read-only folders";
  const std::string dir = collab::test::temp_dir() + "/ro";
  fs::create_directory(dir);
  ::chmod(dir.c_str(), 0555);
  const std::string e = error_of([&] { collab::write_file_atomically(dir + "/f", "x"); });
  ::chmod(dir.c_str(), 0755);
  EXPECT_EQ(e.rfind(dir + "/f: cannot create", 0), 0u) << e;
  EXPECT_NE(e.find(std::strerror(EACCES)), std::string::npos) << e;
}

// A write that fails half way (the file size limit here, a full disk in life) keeps the old
// content under the name and removes the temporary file.
TEST(FileIo, FailedReplaceKeepsTheOldContent) {
  const std::string dir = collab::test::temp_dir();
  const std::string path = dir + "/f";
  collab::write_file_atomically(path, "old");
  const std::string error = collab::test::error_past_file_size_limit(
      [&] { collab::write_file_atomically(path, std::string(100000, 'x')); });
  EXPECT_EQ(error.rfind(path + ": cannot write", 0), 0u) << error;
  EXPECT_NE(error.find(std::strerror(EFBIG)), std::string::npos) << error;
  EXPECT_EQ(collab::read_file(path), "old");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"f"});
}

TEST(FileIo, UncommittedAtomicFileLeavesTheOldFile) {
  const std::string dir = collab::test::temp_dir();
  const std::string path = dir + "/f";
  collab::write_file_atomically(path, "old");
  {
    collab::AtomicFile file(path);
    file.write("new");
    const std::vector<std::string> names = names_in(dir);
    ASSERT_EQ(names.size(), 2u);
    const std::string& tmp = names[0] == "f" ? names[1] : names[0];
    EXPECT_EQ(tmp.rfind(std::string("f") + collab::kTempFileSuffix, 0), 0u) << tmp;
  }
  EXPECT_EQ(collab::read_file(path), "old");
  EXPECT_EQ(names_in(dir), std::vector<std::string>{"f"});
}

TEST(FileIo, AppendLineAppendsWholeLines) {
  const std::string dir = collab::test::temp_dir();
  const std::string path = dir + "/log";
  collab::append_line(path, "a");
  collab::append_line(path, "b c");
  EXPECT_EQ(collab::read_file(path), "a\nb c\n");
  const std::string e = error_of([&] { collab::append_line(dir + "/none/log", "x"); });
  EXPECT_EQ(e.rfind(dir + "/none/log: cannot open", 0), 0u) << e;
}

TEST(Digest, MatchesPublishedVectors) {
  collab::Digest md5(collab::DigestKind::kMd5);
  md5.update(std::string_view("abc"));
  EXPECT_EQ(md5.finish_hex(), "900150983cd24fb0d6963f7d28e17f72");
  collab::Digest sha(collab::DigestKind::kSha256);
  sha.update(std::string_view("ab"));
  sha.update(std::string_view("c"));  // in pieces: the same digest
  EXPECT_EQ(sha.finish_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(collab::to_hex(std::string("\x00\xff", 2)), "00ff");
}

TEST(Digest, OfAFile) {
  const std::string dir = collab::test::temp_dir();
  collab::test::write_text(dir + "/f", "abc");
  EXPECT_EQ(collab::file_digest_hex(collab::DigestKind::kMd5, dir + "/f"),
            "900150983cd24fb0d6963f7d28e17f72");
  const std::string e =
      error_of([&] { collab::file_digest_hex(collab::DigestKind::kSha256, dir + "/missing"); });
  EXPECT_EQ(e.rfind(dir + "/missing: cannot open", 0), 0u) << e;
}

}  // namespace test_file_io
