#pragma once
// Creating the provider for one service-discovery config of a job.

#include "leakwatch/config/config.hpp"
#include "leakwatch/discovery/target_group.hpp"
#include "leakwatch/http/resolver.hpp"

#include <functional>
#include <memory>
#include <string>
#include <variant>

namespace boost::asio {
class io_context;
}

namespace leakwatch::discovery {

// One entry of a job's file_sd_configs or kubernetes_sd_configs.
using SdConfig = std::variant<config::FileSdConfig, config::KubernetesSdConfig>;

// Makes a provider that is not started yet; nullptr (logged) when this build has none for the config's kind.
using ProviderFactory = std::function<std::shared_ptr<Provider>(const std::string& job, const SdConfig& sd)>;

// The real providers: FileDiscoverer, and the Kubernetes one (whose API client resolves through `resolver`).
std::shared_ptr<Provider> make_provider(boost::asio::io_context& io, const std::string& job, const SdConfig& sd,
                                        std::shared_ptr<http::Resolver> resolver);

}  // namespace leakwatch::discovery
