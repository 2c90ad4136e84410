#pragma once
// file_sd_configs: target groups from JSON or YAML files, as Prometheus users know them. Each file holds a list
// of {targets: [...], labels: {...}}; the last path element of a pattern may be a glob (*, ?, [...]).
//
// Files are re-read when they change: every `check_interval` (at most 5 s, and no longer than the
// refresh_interval) the matching files are listed and stat()ed, and a file whose mtime, size or inode changed
// is read again; every refresh_interval every file is read again regardless, and its content hash decides
// whether it changed. A file that fails to parse keeps its previous groups (the problem is logged with its
// file, line and column); a file that disappears drops its groups. There is no relabeling and no __meta_
// labels: a group's labels go onto its targets' series as written (and are checked like static labels).

#include "leakwatch/config/config.hpp"
#include "leakwatch/discovery/target_group.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace leakwatch::discovery {

// The files a pattern names now: the path itself if it has no glob, else the matching regular files of its
// directory (sorted; names starting with '.' match only a pattern starting with '.').
std::vector<std::string> expand_pattern(const std::string& pattern);

class FileDiscoverer : public Provider, public std::enable_shared_from_this<FileDiscoverer> {
 public:
  static constexpr std::chrono::milliseconds kMaxCheckInterval{5'000};

  // `job` only names the provider in logs.
  FileDiscoverer(boost::asio::io_context& io, std::string job, config::FileSdConfig config);

  void start(UpdateFn update) override;
  void stop(std::function<void()> done) override;

  // The cheap check's period (tests shorten it). Call before start().
  void set_check_interval(std::chrono::milliseconds interval) { check_interval_ = interval; }

 private:
  struct FileState {
    // What stat() said at the last read: a change in any of these means the file is read again.
    std::int64_t mtime_ns = -1;
    std::int64_t size = -1;
    std::uint64_t inode = 0;
    std::uint64_t content_hash = 0;
    bool parsed = false;  // the last good parse's groups are in `groups`
    std::vector<TargetGroup> groups;
  };

  void schedule();
  void check(bool full);
  bool refresh_file(const std::string& path, FileState& state, bool full);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  std::string job_;
  config::FileSdConfig config_;
  std::chrono::milliseconds check_interval_;
  std::chrono::steady_clock::time_point last_full_{};
  std::map<std::string, FileState> files_;  // by path, as expanded
  std::vector<TargetGroup> last_sent_;
  bool sent_ = false;
  bool stopped_ = false;
  UpdateFn update_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace leakwatch::discovery
