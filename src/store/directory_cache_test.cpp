#include "store/directory_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace herald::store {
namespace {

namespace fs = std::filesystem;

AddressEntry user_entry(const std::string& address) {
  AddressEntry e;
  e.local_domain = true;
  e.user = AddressUser{};
  e.user->address = address;
  return e;
}

class SharedGenerationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("herald-generation-test-" + std::to_string(::getpid()));
    fs::remove(path_);
  }
  void TearDown() override { fs::remove(path_); }
  fs::path path_;
};

TEST_F(SharedGenerationTest, StartsAtZeroAndEveryMappingSeesEveryBump) {
  auto a = SharedGeneration::open(path_);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ((*a)->current(), 0u);
  auto b = SharedGeneration::open(path_);
  ASSERT_TRUE(b);
  (*b)->bump();
  EXPECT_EQ((*a)->current(), 1u);
  (*a)->bump();
  EXPECT_EQ((*b)->current(), 2u);
}

TEST_F(SharedGenerationTest, ABumpInAnotherProcessIsSeenHere) {
  auto here = SharedGeneration::open(path_);
  ASSERT_TRUE(here);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto there = SharedGeneration::open(path_);
    if (there) (*there)->bump();
    ::_exit(there ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ((*here)->current(), 1u);
}

TEST_F(SharedGenerationTest, AnUnusableFileIsAnError) {
  auto r = SharedGeneration::open(fs::temp_directory_path() / "no-such-dir-herald" / "directory.generation");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no-such-dir-herald"), std::string::npos) << r.error().message;
}

// Run as root (the CLI often is), the file goes to the data directory's
// owner, or the server running as that user could not open it.
TEST_F(SharedGenerationTest, CreatedByRootItBelongsToTheDataDirectorysOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  fs::path dir = path_.string() + ".d";
  fs::create_directories(dir);
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
  {
    auto g = SharedGeneration::open(dir / "directory.generation");
    ASSERT_TRUE(g) << g.error().message;
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir / "directory.generation").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65534u);
  fs::remove_all(dir);
}

TEST(DirectoryCacheTest, AnEntryIsServedUntilTheGenerationMoves) {
  DirectoryCache cache(10);
  cache.put("a@example.test", user_entry("a@example.test"), 3);
  auto hit = cache.find("a@example.test", 3);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->user->address, "a@example.test");
  EXPECT_FALSE(cache.find("b@example.test", 3));
  EXPECT_FALSE(cache.find("a@example.test", 4)) << "the directory changed since";
  EXPECT_FALSE(cache.find("a@example.test", 3)) << "and the old entries are gone";
  EXPECT_EQ(cache.size(), 0u);
}

TEST(DirectoryCacheTest, AnEntryReadBeforeTheLatestChangeIsNotKept) {
  DirectoryCache cache(10);
  EXPECT_FALSE(cache.find("a@example.test", 5));  // the cache is at 5 now
  cache.put("a@example.test", user_entry("a@example.test"), 4);
  EXPECT_FALSE(cache.find("a@example.test", 5));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(DirectoryCacheTest, ItStaysWithinItsCapacity) {
  DirectoryCache cache(3);
  for (int i = 0; i < 10; ++i) {
    std::string a = "u" + std::to_string(i) + "@example.test";
    cache.put(a, user_entry(a), 1);
    EXPECT_LE(cache.size(), 3u);
    EXPECT_TRUE(cache.find(a, 1)) << "the newest entry is always kept";
  }
  DirectoryCache off(0);
  off.put("a@example.test", user_entry("a@example.test"), 1);
  EXPECT_FALSE(off.find("a@example.test", 1));
}

}  // namespace
}  // namespace herald::store
