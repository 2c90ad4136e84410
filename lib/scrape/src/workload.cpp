#include "leakwatch/scrape/workload.hpp"

namespace leakwatch::scrape {

std::string workload_key(const std::string& service, const std::string& target, const LabelMap& labels) {
  std::string key = service;
  key += '\x1f';
  if (labels.count("pod") == 0) return key + target;
  for (const auto& [name, value] : labels) {  // sorted by name: one key whatever the order
    if (name == "target" || name == "pod" || name == "node") continue;
    key += name;
    key += '=';
    key += value;
    key += '\x1f';
  }
  return key;
}

PriorsStore::PriorsStore(std::size_t capacity, double ttl_seconds)
    : capacity_(capacity == 0 ? 1 : capacity), ttl_(ttl_seconds) {}

void PriorsStore::put(const std::string& workload, detect::Priors priors, double unix_seconds) {
  if (auto it = index_.find(workload); it != index_.end()) {
    entries_.erase(it->second);
    index_.erase(it);
  }
  if (priors.empty()) return;
  entries_.push_front(Entry{workload, std::move(priors), unix_seconds});
  index_.emplace(workload, entries_.begin());
  while (index_.size() > capacity_) {
    index_.erase(entries_.back().workload);
    entries_.pop_back();
  }
}

std::optional<detect::Priors> PriorsStore::get(const std::string& workload, double unix_seconds) const {
  const auto it = index_.find(workload);
  if (it == index_.end() || unix_seconds - it->second->stored > ttl_) return std::nullopt;
  return it->second->priors;
}

}  // namespace leakwatch::scrape
