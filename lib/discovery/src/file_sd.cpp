#include "leakwatch/discovery/file_sd.hpp"

#include "leakwatch/common/file.hpp"
#include "leakwatch/common/hash.hpp"
#include "leakwatch/common/log.hpp"
#include "leakwatch/config/load.hpp"

#include <boost/asio/post.hpp>

#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

namespace leakwatch::discovery {
namespace asio = boost::asio;
using common::Field;

namespace {

// A target file larger than this is refused (and keeps its previous groups): it is certainly a mistake.
constexpr std::size_t kMaxFileBytes = 16u << 20;

bool has_glob(std::string_view name) { return name.find_first_of("*?[") != std::string_view::npos; }

struct Stat {
  bool exists = false;
  std::int64_t mtime_ns = 0;
  std::int64_t size = 0;
  std::uint64_t inode = 0;
};

Stat stat_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return {true, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<std::int64_t>(st.st_size), static_cast<std::uint64_t>(st.st_ino)};
}

}  // namespace

std::vector<std::string> expand_pattern(const std::string& pattern) {
  const std::filesystem::path p(pattern);
  const std::string name = p.filename().string();
  if (!has_glob(name)) return {pattern};
  std::vector<std::string> out;
  std::error_code ec;
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    if (::fnmatch(name.c_str(), entry.c_str(), FNM_PERIOD) != 0) continue;
    std::error_code sec;
    if (!it->is_regular_file(sec)) continue;  // follows symlinks, as Kubernetes ConfigMap mounts need
    out.push_back((p.has_parent_path() ? dir / entry : std::filesystem::path(entry)).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

FileDiscoverer::FileDiscoverer(asio::io_context& io, std::string job, config::FileSdConfig config)
    : strand_(asio::make_strand(io)),
      timer_(strand_),
      job_(std::move(job)),
      config_(std::move(config)),
      check_interval_(std::min<std::chrono::milliseconds>(
          kMaxCheckInterval, std::chrono::duration_cast<std::chrono::milliseconds>(config_.refresh_interval))),
      log_(common::logger("discovery")) {
  if (check_interval_.count() <= 0) check_interval_ = kMaxCheckInterval;
}

void FileDiscoverer::start(UpdateFn update) {
  asio::post(strand_, [self = shared_from_this(), update = std::move(update)]() mutable {
    if (self->stopped_) return;
    self->update_ = std::move(update);
    self->check(true);
    self->schedule();
  });
}

void FileDiscoverer::stop(std::function<void()> done) {
  asio::post(strand_, [self = shared_from_this(), done = std::move(done)] {
    self->stopped_ = true;
    self->update_ = nullptr;
    self->timer_.cancel();
    if (done) done();
  });
}

void FileDiscoverer::schedule() {
  timer_.expires_after(check_interval_);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->stopped_) return;
    const bool full = std::chrono::steady_clock::now() - self->last_full_ >= self->config_.refresh_interval;
    self->check(full);
    self->schedule();
  });
}

void FileDiscoverer::check(bool full) {
  if (full) last_full_ = std::chrono::steady_clock::now();
  // The files the patterns name now; a path matched by two patterns is read once.
  std::vector<std::string> paths;
  for (const std::string& pattern : config_.files) {
    for (std::string& f : expand_pattern(pattern)) {
      if (std::find(paths.begin(), paths.end(), f) == paths.end()) paths.push_back(std::move(f));
    }
  }
  bool changed = false;
  std::map<std::string, FileState> next;
  for (const std::string& path : paths) {
    auto old = files_.find(path);
    FileState state = old != files_.end() ? std::move(old->second) : FileState{};
    if (refresh_file(path, state, full)) changed = true;
    if (state.mtime_ns >= 0) next.emplace(path, std::move(state));  // exists (read or not)
  }
  for (const auto& [path, state] : files_) {
    if (!next.count(path) && !state.groups.empty()) {
      changed = true;
      common::log(*log_, spdlog::level::info, "file_sd: file gone; dropping its targets",
                  {Field{"job", job_}, Field{"file", path}});
    }
  }
  files_ = std::move(next);
  if (!changed && sent_) return;

  std::vector<TargetGroup> groups;
  for (const std::string& path : paths) {
    if (auto it = files_.find(path); it != files_.end()) {
      groups.insert(groups.end(), it->second.groups.begin(), it->second.groups.end());
    }
  }
  if (sent_ && groups == last_sent_) return;
  last_sent_ = groups;
  sent_ = true;
  if (update_) update_(std::move(groups));
}

// Re-reads `path` if it may have changed; true when its groups changed.
bool FileDiscoverer::refresh_file(const std::string& path, FileState& state, bool full) {
  const Stat st = stat_file(path);
  if (!st.exists) {
    const bool had = !state.groups.empty();
    state = FileState{};
    return had;
  }
  const bool stat_changed = st.mtime_ns != state.mtime_ns || st.size != state.size || st.inode != state.inode;
  if (!stat_changed && !full) return false;
  state.mtime_ns = st.mtime_ns;
  state.size = st.size;
  state.inode = st.inode;

  auto read = common::read_file(path, kMaxFileBytes);
  if (!read) {
    common::log(*log_, spdlog::level::warn, "file_sd: cannot read file; keeping its previous targets",
                {Field{"job", job_}, Field{"file", path}, Field{"err", read.error().message}});
    return false;
  }
  const std::string& bytes = *read;
  const std::uint64_t hash = common::stable_hash(bytes);
  if (state.parsed && hash == state.content_hash) return false;
  state.content_hash = hash;

  config::TargetFileResult parsed = config::load_target_groups(bytes, path);
  if (const auto* diags = std::get_if<std::vector<config::Diagnostic>>(&parsed)) {
    for (const auto& d : *diags) {
      common::log(*log_, spdlog::level::warn, "file_sd: invalid target file; keeping its previous targets",
                  {Field{"job", job_}, Field{"err", d.to_string()}});
    }
    // state.parsed stays as it was, so that the same broken bytes are not reported again and again, but a
    // fix is read: the hash is remembered, and parsed=false only before the first good read.
    return false;
  }
  std::vector<TargetGroup> groups;
  std::size_t index = 0;
  for (config::StaticConfig& sc : std::get<std::vector<config::StaticConfig>>(parsed)) {
    TargetGroup g;
    g.source = "file:" + path + ":" + std::to_string(index++);
    g.targets = std::move(sc.targets);
    g.labels = std::move(sc.labels);
    groups.push_back(std::move(g));
  }
  const bool had_parsed = state.parsed;
  state.parsed = true;
  common::log(*log_, spdlog::level::debug, "file_sd: read file",
              {Field{"job", job_}, Field{"file", path}, Field{"groups", std::to_string(groups.size())}});
  if (had_parsed && groups == state.groups) return false;
  state.groups = std::move(groups);
  return true;
}

}  // namespace leakwatch::discovery
