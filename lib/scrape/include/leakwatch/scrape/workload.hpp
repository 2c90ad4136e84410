#pragma once
// Deploy awareness across targets: which targets are instances of one workload, and what the detectors of
// those that went away learned (detect::Priors), for the next instance to start from.
//
// A Kubernetes rollout, a node drain or a crash replaces a pod by a new one at a new address: a new target
// with a new loop and detector. Without this, every new pod would start from nothing (warm-up, evidence,
// pace), and a leak present in every instance of a service deployed hourly might never page.

#include "leakwatch/detect/detector.hpp"
#include "leakwatch/scrape/series.hpp"

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

namespace leakwatch::scrape {

// The workload a target is an instance of. A discovered pod (its labels have `pod`): the job and its labels
// without the per-instance ones (target, pod, node), so the next pod of the same app in the same namespace
// is the same workload. Any other target: the job and its address (a process restarted in place).
std::string workload_key(const std::string& service, const std::string& target, const LabelMap& labels);

// The priors of workloads whose last target went away, at most `capacity` of them (the least recently
// stored go first) and none older than `ttl_seconds`. Not thread-safe: the scrape manager's strand owns it.
class PriorsStore {
 public:
  explicit PriorsStore(std::size_t capacity = 10'000, double ttl_seconds = 24 * 3600.0);

  // Stores (or replaces) a workload's priors; empty priors remove it.
  void put(const std::string& workload, detect::Priors priors, double unix_seconds);
  // A copy of a workload's priors, if stored within the ttl (several new instances may start from them).
  std::optional<detect::Priors> get(const std::string& workload, double unix_seconds) const;
  std::size_t size() const noexcept { return index_.size(); }

 private:
  struct Entry {
    std::string workload;
    detect::Priors priors;
    double stored = 0;
  };
  std::size_t capacity_;
  double ttl_;
  std::list<Entry> entries_;  // most recently stored first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace leakwatch::scrape
