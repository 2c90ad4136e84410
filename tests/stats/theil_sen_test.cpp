#include "leakwatch/stats/trend.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

using namespace leakwatch::stats;

namespace {

// The definition, by brute force: every pair's quotient, sorted, the middle one or the mean of the two.
double reference_theil_sen(const std::vector<Sample>& s) {
  std::vector<double> slopes;
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (std::size_t j = i + 1; j < s.size(); ++j) slopes.push_back((s[j].v - s[i].v) / (s[j].t - s[i].t));
  }
  std::sort(slopes.begin(), slopes.end());
  const std::size_t m = slopes.size();
  return m % 2 == 1 ? slopes[m / 2] : std::midpoint(slopes[m / 2 - 1], slopes[m / 2]);
}

enum class Shape { noisy_linear, small_integers, steps, constant, random_walk, outliers };

std::vector<Sample> make_series(std::mt19937_64& rng, std::size_t n, Shape shape, double t0, bool irregular) {
  std::normal_distribution<double> noise(0, 10);
  std::vector<Sample> out;
  double t = t0;
  double walk = 500;
  for (std::size_t i = 0; i < n; ++i) {
    t += irregular ? 1 + static_cast<double>(rng() % 30) : 15;
    const double x = static_cast<double>(i);
    double v = 0;
    switch (shape) {
      case Shape::noisy_linear: v = std::round(1000 + 0.8 * x + noise(rng)); break;
      case Shape::small_integers: v = static_cast<double>(rng() % 4); break;
      case Shape::steps: v = 100 + 10 * std::floor(x / 17); break;
      case Shape::constant: v = 42; break;
      case Shape::random_walk:
        walk += static_cast<double>(static_cast<int>(rng() % 7) - 3);
        v = walk;
        break;
      case Shape::outliers: v = (rng() % 10 == 0) ? 1e6 : 1000 + x * 0.25 + noise(rng) * 0.01; break;
    }
    out.push_back({t, v});
  }
  return out;
}

}  // namespace

TEST_CASE("Theil-Sen of simple series", "[stats]") {
  CHECK_FALSE(theil_sen_slope(std::vector<Sample>{}).has_value());
  CHECK_FALSE(theil_sen_slope(std::vector<Sample>{{1, 1}}).has_value());
  CHECK(theil_sen_slope(std::vector<Sample>{{0, 1}, {2, 5}}) == 2.0);
  // Slopes 1, 3, 2 -> median 2 (odd number of pairs).
  CHECK(theil_sen_slope(std::vector<Sample>{{0, 0}, {1, 1}, {2, 4}}) == 2.0);
  // Four points: slopes (1, 2, 5/3 | 3, 2 | 1) -> 1 1 5/3 2 2 3 -> mean of 5/3 and 2.
  CHECK(theil_sen_slope(std::vector<Sample>{{0, 0}, {1, 1}, {2, 4}, {3, 5}}) == std::midpoint(5.0 / 3, 2.0));
  // 0 1 1 3: slopes 1 0.5 1 | 0 1 | 2 -> 0 0.5 1 1 1 2 -> 1.
  CHECK(theil_sen_slope(std::vector<Sample>{{0, 0}, {1, 1}, {2, 1}, {3, 3}}) == 1.0);
  // An outlier does not move it.
  CHECK(theil_sen_slope(std::vector<Sample>{{0, 0}, {1, 1}, {2, 2}, {3, 1000}, {4, 4}}) == 1.0);
  // Even number of pairs with distinct middles: 0 0 10 | 0 10 | 10 -> 0 0 0 10 10 10 -> 5.
  CHECK(theil_sen_slope(std::vector<Sample>{{0, 0}, {1, 0}, {2, 0}, {3, 30}}) == 5.0);
}

TEST_CASE("Theil-Sen equals the brute force on random series", "[stats]") {
  std::mt19937_64 rng(7);
  const Shape shapes[] = {Shape::noisy_linear, Shape::small_integers, Shape::steps,
                          Shape::constant,     Shape::random_walk,    Shape::outliers};
  // Sizes around the direct/sampled threshold, both parities of n(n-1)/2, and the 240 of a default window.
  const std::size_t sizes[] = {2, 3, 4, 5, 17, 39, 40, 41, 42, 43, 64, 100, 239, 240, 241, 300};
  int checked = 0;
  for (Shape shape : shapes) {
    for (std::size_t n : sizes) {
      for (int round = 0; round < 3; ++round) {
        const bool irregular = round == 1;
        const double t0 = round == 2 ? 1.7e9 : 0;
        const auto samples = make_series(rng, n, shape, t0, irregular);
        INFO("shape " << static_cast<int>(shape) << " n " << n << " round " << round);
        const auto got = theil_sen_slope(samples);
        REQUIRE(got);
        CHECK(*got == reference_theil_sen(samples));
        ++checked;
      }
    }
  }
  CHECK(checked == 6 * 16 * 3);
}

TEST_CASE("Theil-Sen is exact for a constant and for a perfect line", "[stats]") {
  std::vector<Sample> flat;
  std::vector<Sample> line;
  for (int i = 0; i < 240; ++i) {
    flat.push_back({1.7e9 + 15.0 * i, 123});
    line.push_back({15.0 * i, 7 + 3.0 * 15.0 * i});
  }
  CHECK(theil_sen_slope(flat) == 0.0);
  CHECK(theil_sen_slope(line) == 3.0);
}

TEST_CASE("Theil-Sen outside the fast path", "[stats]") {
  // Unsorted times: the slope of a pair does not depend on its order.
  const std::vector<Sample> unsorted{{2, 4}, {0, 0}, {1, 1}, {3, 5}};
  CHECK(theil_sen_slope(unsorted) == std::midpoint(5.0 / 3, 2.0));
  // Equal times have no slope and are left out: pairs (0,0)-(1,1) 1, (0,0)-(1,3) 3 -> 2.
  CHECK(theil_sen_slope(std::vector<Sample>{{0, 0}, {1, 1}, {1, 3}}) == 2.0);
  CHECK_FALSE(theil_sen_slope(std::vector<Sample>{{1, 1}, {1, 3}}).has_value());
  // Non-finite input.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_FALSE(theil_sen_slope(std::vector<Sample>{{0, 0}, {1, nan}, {2, 2}}).has_value());
  // Huge magnitudes take the direct computation and still agree with the brute force.
  std::mt19937_64 rng(3);
  std::vector<Sample> huge;
  for (int i = 0; i < 120; ++i) huge.push_back({static_cast<double>(i), static_cast<double>(rng() % 1000) * 1e200});
  REQUIRE(theil_sen_slope(huge));
  CHECK(*theil_sen_slope(huge) == reference_theil_sen(huge));
  std::vector<Sample> tiny;
  for (int i = 0; i < 120; ++i) tiny.push_back({static_cast<double>(i), static_cast<double>(rng() % 1000) * 1e-300});
  CHECK(*theil_sen_slope(tiny) == reference_theil_sen(tiny));
}

TEST_CASE("Theil-Sen is deterministic", "[stats]") {
  std::mt19937_64 rng(11);
  const auto samples = make_series(rng, 240, Shape::noisy_linear, 1.7e9, false);
  const auto first = theil_sen_slope(samples);
  for (int i = 0; i < 5; ++i) CHECK(theil_sen_slope(samples) == first);
}
