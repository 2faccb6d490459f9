// admin/paging.h - a list streamed from pages of the store (internal to
// admin/): each page is read after the last key of the one before, one row
// more than it gives, to know whether the list goes on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "admin/commands.h"

namespace herald::admin {

inline std::string key_text(const std::string& key) { return key; }
inline std::string key_text(std::int64_t key) { return std::to_string(key); }

// stream - rows of read(after, n) -> Result<std::vector<Row>> (at most n rows
// with keys above `after`, in key order), given to sink until `limit` rows
// (0 = all) or the end. key_of(row) is the row's key, of the type of `after`.
template <typename Row, typename Key, typename Read, typename KeyOf>
Result<ListEnd> stream(std::size_t limit, Key after, Read&& read, KeyOf&& key_of, const Sink<Row>& sink) {
  ListEnd end;
  for (;;) {
    const std::size_t want = limit ? std::min(kPageRows, limit - end.rows) : kPageRows;
    Result<std::vector<Row>> page = read(after, want + 1);
    if (!page) return page.error();
    const std::size_t given = std::min(want, page->size());
    for (std::size_t i = 0; i < given; ++i) {
      const Row& row = (*page)[i];
      ++end.rows;
      end.last = key_text(key_of(row));
      if (!sink(row)) {
        end.more = i + 1 < page->size();
        return end;
      }
    }
    if (page->size() <= want) return end;  // the last page
    if (limit && end.rows == limit) {
      end.more = true;
      return end;
    }
    after = key_of((*page)[given - 1]);
  }
}

}  // namespace herald::admin
