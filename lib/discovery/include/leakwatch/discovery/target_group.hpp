#pragma once
// Service discovery's common currency, as in Prometheus: a provider (file_sd, kubernetes_sd) turns what it
// watches into target groups, and hands the scrape manager its complete current set whenever it changes.

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace leakwatch::discovery {

struct TargetGroup {
  std::string source;                         // stable id within its provider, e.g. "file:/etc/sd/a.json:0"
  std::vector<std::string> targets;           // "host:port"
  std::map<std::string, std::string> labels;  // extra labels on every series of these targets
  // Overrides the job's profile_path for these targets (kubernetes: the leakwatch.io/path annotation);
  // empty = the job's.
  std::string profile_path;

  friend bool operator==(const TargetGroup&, const TargetGroup&) = default;
};

// Called with a provider's complete set of groups each time it changes (never with a partial set).
using UpdateFn = std::function<void(std::vector<TargetGroup>)>;

// A running discovery mechanism for one job. start() begins watching and calls `update` from the provider's
// own strand; stop() ends all activity (no update is delivered after stop() returns its completion).
// Providers keep their last good set through errors (an unreadable file, an API outage) and log them.
class Provider {
 public:
  virtual ~Provider() = default;
  virtual void start(UpdateFn update) = 0;
  virtual void stop(std::function<void()> done) = 0;
};

}  // namespace leakwatch::discovery
