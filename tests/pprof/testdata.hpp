#pragma once
// Shared by the pprof tests: reading tests/testdata/pprof files, finding groups, comparing profiles.

#include "leakwatch/common/error.hpp"
#include "leakwatch/pprof/profile.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

namespace leakwatch::pprof::test {

inline std::string read_testdata(const std::string& name) {
  const std::string path = std::string{LEAKWATCH_TESTDATA_DIR} + "/pprof/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot open " + path);
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Frames view their strings (profile.hpp); one built from a temporary std::string (a concatenated path)
// keeps the string here, for the rest of the test run.
inline std::string_view kept(std::string_view s) {
  static StringPool pool;
  return pool.intern(s);
}

// The group whose leaf-most frame is `function` (and, when given, whose labels are `labels`).
inline const StackGroup* find_group(const Profile& profile, std::string_view function, const Labels* labels = nullptr) {
  for (const auto& group : profile.groups) {
    if (!group.frames.empty() && group.frames.front().function == function &&
        (labels == nullptr || group.labels == *labels)) {
      return &group;
    }
  }
  return nullptr;
}

// The message of a Result that must have failed.
template <class T>
std::string error_message(const common::Result<T>& result) {
  REQUIRE_FALSE(result.has_value());
  return result.error().message;
}

inline void require_same(const Profile& a, const Profile& b) {
  REQUIRE(a.kind == b.kind);
  REQUIRE(a.total == b.total);
  REQUIRE(a.truncation_reason == b.truncation_reason);
  REQUIRE(a.groups.size() == b.groups.size());
  for (std::size_t i = 0; i < a.groups.size(); ++i) {
    INFO("group " << i);
    REQUIRE(a.groups[i].count == b.groups[i].count);
    REQUIRE(a.groups[i].frames == b.groups[i].frames);
    REQUIRE(a.groups[i].labels == b.groups[i].labels);
  }
}

}  // namespace leakwatch::pprof::test

namespace Catch {
template <>
struct StringMaker<leakwatch::pprof::Frame> {
  static std::string convert(const leakwatch::pprof::Frame& f) {
    std::string out = "{";
    out.append(f.function).append(" ").append(f.file).append(":").append(std::to_string(f.line)).append("}");
    return out;
  }
};
}  // namespace Catch
