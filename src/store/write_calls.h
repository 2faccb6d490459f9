// store/write_calls.h - for the store's tests: how many write system calls
// (pwrite included) this process has made, from /proc/self/io. With the WAL
// VFS a commit of a few small messages is one of them.
#pragma once

#include <fstream>
#include <string>

namespace herald::store {

inline long write_calls() {
  std::ifstream io("/proc/self/io");
  std::string key;
  long value = 0;
  while (io >> key >> value)
    if (key == "syscw:") return value;
  return -1;
}

}  // namespace herald::store
