#include "leakwatch/discovery/providers.hpp"

#include "leakwatch/common/log.hpp"
#include "leakwatch/discovery/file_sd.hpp"

#include "leakwatch/discovery/kubernetes.hpp"

namespace leakwatch::discovery {

std::shared_ptr<Provider> make_provider(boost::asio::io_context& io, const std::string& job, const SdConfig& sd,
                                        std::shared_ptr<http::Resolver> resolver) {
  if (const auto* file = std::get_if<config::FileSdConfig>(&sd)) {
    return std::make_shared<FileDiscoverer>(io, job, *file);
  }
  const auto& k = std::get<config::KubernetesSdConfig>(sd);
  KubernetesOptions options;
  options.api_server = k.api_server;
  options.bearer_token_file = k.bearer_token_file;
  options.ca_file = k.tls_config.ca_file;
  options.cert_file = k.tls_config.cert_file;
  options.key_file = k.tls_config.key_file;
  options.server_name = k.tls_config.server_name;
  options.insecure_skip_verify = k.tls_config.insecure_skip_verify;
  options.namespaces = k.namespaces;
  options.job_name = job;
  auto made = make_kubernetes_provider(io, std::move(options), std::move(resolver));
  if (!made) {
    common::log(*common::logger("discovery"), spdlog::level::err,
                "cannot start kubernetes discovery; the job gets no targets from it",
                {common::Field{"job", job}, common::Field{"err", made.error().message}});
    return nullptr;
  }
  return std::shared_ptr<Provider>(std::move(*made));
}

}  // namespace leakwatch::discovery
