#pragma once
// What the daemon plugs into the exporter: the routes' data and actions, as plain callbacks. No Beast here:
// the daemon includes this (through server.hpp), and only lib/exporter compiles Beast's server templates.

#include <prometheus/collectable.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace leakwatch::exporter {

struct Handlers {
  // What /metrics serialises, in order: collectables (the daemon's registry) through prometheus-cpp's
  // serializer, then writers that append text exposition themselves (the targets' series).
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables;
  std::vector<std::function<void(std::string& out)>> writers;
  // True once the config is loaded and the scheduler runs; /-/ready answers 503 until then.
  std::function<bool()> ready;
  // Re-reads the config; returns an error message when the new config was refused. Unset (the daemon
  // without --web.enable-lifecycle): /-/reload answers 403, as Prometheus does.
  std::function<std::optional<std::string>()> reload;
};

}  // namespace leakwatch::exporter
