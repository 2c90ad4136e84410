#pragma once
// Kubernetes pod discovery (kubernetes_sd_configs, role: pod), as Prometheus' discovery/kubernetes does it
// with client-go's reflector: list the pods (paginated), then watch from the list's resourceVersion, and turn
// every annotated, running pod into one target group. Through errors the last good set stays in place:
// 410 Gone (an expired resourceVersion) re-lists at once, anything else retries with exponential backoff.
//
// A pod is a target when it has the annotation leakwatch.io/scrape: "true", a status.podIP and phase
// Running. leakwatch.io/port picks the port (default: the first container port named "pprof", else 6060)
// and leakwatch.io/path the profile path (TargetGroup::profile_path). Labels: namespace, pod, node, and app
// (from the pod label app.kubernetes.io/name, else app).

#include "leakwatch/common/error.hpp"
#include "leakwatch/discovery/target_group.hpp"
#include "leakwatch/http/resolver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace leakwatch::discovery {

struct KubernetesOptions {
  // "https://host:port" (optionally with a path prefix). Empty: in-cluster, from KUBERNETES_SERVICE_HOST
  // and KUBERNETES_SERVICE_PORT, with the service account's token and CA unless set below.
  std::string api_server;
  std::string bearer_token_file;  // re-read before every request: projected tokens rotate
  std::string ca_file;            // empty: the system's trust store (or the service account's CA in-cluster)
  std::string cert_file;          // a client certificate for the API server (with key_file); empty: none
  std::string key_file;
  std::string server_name;  // TLS SNI and verification name; empty: the api_server host
  bool insecure_skip_verify = false;
  std::vector<std::string> namespaces;  // empty: all namespaces
  std::string job_name;                 // for logs

  // Tuning; the defaults suit production, tests shorten the times.
  std::chrono::milliseconds update_interval{1000};    // at most one update per interval (bursts coalesce)
  std::chrono::milliseconds backoff_initial{1000};    // retry delay after an error, doubling ...
  std::chrono::milliseconds backoff_max{30'000};      // ... up to this
  std::chrono::milliseconds request_timeout{60'000};  // one list page, from connect to the last byte
  std::chrono::seconds watch_timeout{300};            // asked of the server (timeoutSeconds); the client allows +30 s
  std::size_t max_line_bytes = 4u << 20;              // one watch event
  std::uint64_t max_page_bytes = 256ull << 20;        // one list page
  unsigned page_size = 500;                           // pods per list page (limit=)
  std::size_t max_pods = 100'000;                     // target pods tracked; more are ignored (and logged)
};

// What one pod object (as listed or watched) contributes.
struct PodTarget {
  std::string source;                // "kubernetes/pod/<namespace>/<name>"; empty when the object has no name
  std::optional<TargetGroup> group;  // set when the pod is a target
  std::string problem;               // why a pod annotated for scraping is not a target (bad port or path); else empty
};

// Pure: the target group of one pod object. Exposed for tests.
PodTarget pod_target(const boost::json::value& pod);

// Checks the options (api_server URL, the in-cluster environment, the CA file) and builds the provider.
// The provider's updates run on its own strand of `io`. Its errors after that are logged, never thrown.
common::Result<std::unique_ptr<Provider>> make_kubernetes_provider(boost::asio::io_context& io,
                                                                   KubernetesOptions options,
                                                                   std::shared_ptr<http::Resolver> resolver);

}  // namespace leakwatch::discovery
