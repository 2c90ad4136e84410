#include "leakwatch/scrape/workload.hpp"

#include <catch2/catch.hpp>

using namespace leakwatch;

namespace {

detect::Priors priors_of(std::uint64_t signature, std::uint32_t instances) {
  return detect::Priors{{signature, detect::Recurrence{instances, 100}}};
}

}  // namespace

TEST_CASE("workload_key: pods of one app are one workload, other targets are their address", "[scrape]") {
  const scrape::LabelMap a{{"namespace", "shop"},       {"app", "cart"},   {"pod", "cart-7d9f-abcde"}, {"node", "n1"},
                           {"target", "10.0.0.1:6060"}, {"service", "k8s"}};
  scrape::LabelMap b = a;
  b["pod"] = "cart-7d9f-xyz12";
  b["node"] = "n2";
  b["target"] = "10.0.0.9:6060";
  CHECK(scrape::workload_key("k8s", "10.0.0.1:6060", a) == scrape::workload_key("k8s", "10.0.0.9:6060", b));
  scrape::LabelMap other_app = b;
  other_app["app"] = "checkout";
  CHECK(scrape::workload_key("k8s", "10.0.0.9:6060", other_app) != scrape::workload_key("k8s", "10.0.0.1:6060", a));
  scrape::LabelMap other_ns = b;
  other_ns["namespace"] = "staging";
  CHECK(scrape::workload_key("k8s", "10.0.0.9:6060", other_ns) != scrape::workload_key("k8s", "10.0.0.1:6060", a));
  CHECK(scrape::workload_key("other-job", "10.0.0.1:6060", a) != scrape::workload_key("k8s", "10.0.0.1:6060", a));

  // Static targets: two addresses are two workloads, even with the same labels.
  const scrape::LabelMap s{{"team", "pay"}};
  CHECK(scrape::workload_key("api", "10.0.0.1:6060", s) == scrape::workload_key("api", "10.0.0.1:6060", s));
  CHECK(scrape::workload_key("api", "10.0.0.1:6060", s) != scrape::workload_key("api", "10.0.0.2:6060", s));
}

TEST_CASE("PriorsStore keeps the most recent workloads within its ttl", "[scrape]") {
  scrape::PriorsStore store(2, 3600);
  store.put("a", priors_of(1, 1), 1000);
  store.put("b", priors_of(2, 1), 1001);
  REQUIRE(store.get("a", 1002).has_value());
  CHECK(store.get("a", 1002)->at(1).instances == 1);
  CHECK(store.get("a", 1002).has_value());  // get copies: several new instances may start from them
  store.put("c", priors_of(3, 2), 1003);    // over capacity: the least recently stored (a) goes
  CHECK(store.size() == 2);
  CHECK_FALSE(store.get("a", 1004).has_value());
  CHECK(store.get("c", 1004)->at(3).instances == 2);
  store.put("b", priors_of(2, 5), 1005);  // replaced, and now the most recent
  store.put("d", priors_of(4, 1), 1006);  // so c goes
  CHECK(store.get("b", 1007)->at(2).instances == 5);
  CHECK_FALSE(store.get("c", 1007).has_value());
  CHECK_FALSE(store.get("b", 1005 + 3601).has_value());  // too old
  store.put("b", {}, 1008);                              // empty priors remove
  CHECK_FALSE(store.get("b", 1009).has_value());
  CHECK(store.size() == 1);
}
