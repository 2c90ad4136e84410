#include "leakwatch/stats/trend.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using namespace leakwatch::stats;

namespace {

std::vector<Sample> series(const std::vector<double>& values, double t0 = 0, double step = 1) {
  std::vector<Sample> out;
  for (std::size_t i = 0; i < values.size(); ++i) out.push_back({t0 + step * static_cast<double>(i), values[i]});
  return out;
}

// S by definition, for comparison with mann_kendall().
double reference_s(const std::vector<Sample>& samples) {
  double s = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    for (std::size_t j = i + 1; j < samples.size(); ++j) {
      s += (samples[j].v > samples[i].v) - (samples[j].v < samples[i].v);
    }
  }
  return s;
}

}  // namespace

TEST_CASE("least squares computes Prometheus deriv()", "[stats]") {
  const auto fit = least_squares(std::vector<Sample>{{0, 1}, {1, 3}, {2, 5}});
  REQUIRE(fit);
  CHECK(fit->slope == Approx(2).epsilon(1e-15));
  CHECK(fit->intercept == Approx(1).epsilon(1e-15));

  // By hand: t = 0,10,20,30, v = 1,2,2,5: mean t 15, mean v 2.5, Sxx = 500, Sxy = (-15)(-1.5) + (-5)(-0.5) +
  // (5)(-0.5) + (15)(2.5) = 60, slope 0.12, intercept 2.5 - 0.12 * 15 = 0.7.
  const auto hand = least_squares(std::vector<Sample>{{0, 1}, {10, 2}, {20, 2}, {30, 5}});
  REQUIRE(hand);
  CHECK(hand->slope == Approx(0.12).epsilon(1e-14));
  CHECK(hand->intercept == Approx(0.7).epsilon(1e-14));
}

TEST_CASE("least squares stays exact with unix-epoch times", "[stats]") {
  // 240 polls 15 s apart starting at 1.7e9 s, v = 1000 + 0.05 t' + a deterministic zigzag: the exact slope
  // is known in closed form only for the zigzag-free line, so compare against the same data shifted to 0.
  std::vector<Sample> epoch;
  std::vector<Sample> shifted;
  for (int i = 0; i < 240; ++i) {
    const double dt = 15.0 * i;
    const double v = 1000 + 0.05 * dt + ((i % 3) - 1) * 7;
    epoch.push_back({1.7e9 + dt, v});
    shifted.push_back({dt, v});
  }
  const auto a = least_squares(epoch);
  const auto b = least_squares(shifted);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(std::fabs(a->slope - b->slope) <= 1e-9 * std::fabs(b->slope));
  // The intercepts differ by the shift; the lines agree at the same instant.
  CHECK(value_at(*a, 1.7e9 + 1000) == Approx(value_at(*b, 1000)).epsilon(1e-9));

  const auto exact = least_squares(series({10, 13, 16, 19, 22}, 1.7e9, 15));
  REQUIRE(exact);
  CHECK(std::fabs(exact->slope - 0.2) <= 1e-9 * 0.2);
  CHECK(value_at(*exact, 1.7e9 + 60) == Approx(22).epsilon(1e-9));
}

TEST_CASE("least squares needs two samples with distinct times", "[stats]") {
  CHECK_FALSE(least_squares(std::vector<Sample>{}).has_value());
  CHECK_FALSE(least_squares(std::vector<Sample>{{5, 1}}).has_value());
  CHECK_FALSE(least_squares(std::vector<Sample>{{5, 1}, {5, 2}}).has_value());
  const auto flat = least_squares(series({7, 7, 7}));
  REQUIRE(flat);
  CHECK(flat->slope == 0);
  CHECK(flat->intercept == 7);
}

TEST_CASE("normal_sf matches the tables, far tail included", "[stats]") {
  CHECK(normal_sf(0) == 0.5);
  // The tables round z to 6 decimals, hence a relative tolerance of 1e-5.
  CHECK(normal_sf(1.644854) == Approx(0.05).epsilon(1e-5));
  CHECK(normal_sf(1.959964) == Approx(0.025).epsilon(1e-5));
  CHECK(normal_sf(3.090232) == Approx(0.001).epsilon(1e-5));
  CHECK(normal_sf(6) == Approx(9.865876e-10).epsilon(1e-5));
  CHECK(normal_sf(-1.959964) == Approx(0.975).epsilon(1e-5));
  // 1 - cdf would round to 0 here.
  CHECK(normal_sf(10) == Approx(7.619853e-24).epsilon(1e-6));
}

TEST_CASE("Mann-Kendall of strictly monotonic series", "[stats]") {
  std::vector<double> up;
  for (int i = 0; i < 10; ++i) up.push_back(i * 1.5);
  const auto mk = mann_kendall(series(up));
  CHECK(mk.n == 10);
  CHECK(mk.s == 45);                  // n(n-1)/2
  CHECK(mk.variance == Approx(125));  // 10 * 9 * 25 / 18
  CHECK(mk.z == Approx(44 / std::sqrt(125.0)));
  CHECK(mk.p_increasing == Approx(normal_sf(44 / std::sqrt(125.0))));
  CHECK(mk.p_increasing < 1e-4);
  CHECK(mk.p_two_sided == Approx(2 * mk.p_increasing));

  std::vector<double> down(up.rbegin(), up.rend());
  const auto md = mann_kendall(series(down));
  CHECK(md.s == -45);
  CHECK(md.z == Approx(-44 / std::sqrt(125.0)));
  CHECK(md.p_increasing > 0.9999);
  CHECK(md.p_two_sided == Approx(mk.p_two_sided));
}

TEST_CASE("Mann-Kendall by hand with ties", "[stats]") {
  // v = 1, 2, 2, 3: pairs (1,2)+ (1,2)+ (1,3)+ (2,2)0 (2,3)+ (2,3)+ -> S = 5. One tie group of 2:
  // var = (4*3*13 - 2*1*9) / 18 = (156 - 18) / 18 = 7.6667; z = (5 - 1) / sqrt(7.6667).
  const auto mk = mann_kendall(series({1, 2, 2, 3}));
  CHECK(mk.s == 5);
  CHECK(mk.variance == Approx(138.0 / 18));
  CHECK(mk.z == Approx(4 / std::sqrt(138.0 / 18)));
  CHECK(mk.p_increasing == Approx(normal_sf(4 / std::sqrt(138.0 / 18))));

  // v = 3, 1, 1, 1, 2: S = -1-1-1-1 + 0+0+1 + 0+1 + 1 = -1; tie group of 3: 3*2*11 = 66;
  // var = (5*4*15 - 66) / 18 = 234 / 18 = 13; z = (S + 1) / sqrt(13) = 0.
  const auto m2 = mann_kendall(series({3, 1, 1, 1, 2}));
  CHECK(m2.s == -1);
  CHECK(m2.variance == Approx(13));
  CHECK(m2.z == 0);
  CHECK(m2.p_increasing == Approx(0.5));
  CHECK(m2.p_two_sided == Approx(1));

  // Two tie groups: v = 5, 5, 7, 7, 7, 9: S = 0 + (4 * 1 from each 5) ... by definition below.
  const auto samples = series({5, 5, 7, 7, 7, 9});
  const auto m3 = mann_kendall(samples);
  CHECK(m3.s == reference_s(samples));
  CHECK(m3.s == 11);  // each 5: 4 larger later; each 7: the 9 -> 4 + 4 + 1 + 1 + 1
  CHECK(m3.variance == Approx((6.0 * 5 * 17 - (2 * 1 * 9) - (3 * 2 * 11)) / 18));
}

TEST_CASE("Mann-Kendall on the Holy Cross worked example", "[stats]") {
  // mathcs.holycross.edu/~little/Montserrat/MannKendallByHand.txt: 14 values, one pair of ties (12.9);
  // S = 54, V = 14*13*33/18 - 2*1*9/18, Z = (S - 1)/sqrt(V) = 2.9058, p about .0018.
  const auto mk =
      mann_kendall(series({12.9, 14.8, 13.2, 15.7, 13.8, 15.6, 12.9, 11.0, 17.3, 15.9, 19.0, 18.3, 20.1, 21.7}));
  CHECK(mk.n == 14);
  CHECK(mk.s == 54);
  CHECK(mk.variance == Approx(14.0 * 13 * 33 / 18 - 18.0 / 18));
  CHECK(mk.z == Approx(2.9058).margin(1e-4));
  CHECK(mk.p_increasing == Approx(0.0018).margin(1e-4));
}

TEST_CASE("Mann-Kendall degenerate cases", "[stats]") {
  const auto two = mann_kendall(series({1, 2}));
  CHECK(two.s == 1);
  CHECK(two.n == 2);
  CHECK(two.z == 0);
  CHECK(two.p_increasing == 1);
  CHECK(two.p_two_sided == 1);

  const auto flat = mann_kendall(series({4, 4, 4, 4}));
  CHECK(flat.s == 0);
  CHECK(flat.variance == 0);
  CHECK(flat.z == 0);
  CHECK(flat.p_increasing == 1);
  CHECK(flat.p_two_sided == 1);

  const auto none = mann_kendall(std::vector<Sample>{});
  CHECK(none.n == 0);
  CHECK(none.s == 0);
}

TEST_CASE("Mann-Kendall S matches its definition on random data with ties", "[stats]") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    const std::size_t n = 3 + rng() % 60;
    std::vector<double> values;
    for (std::size_t i = 0; i < n; ++i) values.push_back(static_cast<double>(rng() % 6));
    const auto samples = series(values);
    const auto mk = mann_kendall(samples);
    CHECK(mk.s == reference_s(samples));
    // Tie term by counting.
    double ties = 0;
    for (int value = 0; value < 6; ++value) {
      double g = 0;
      for (double v : values) g += v == value;
      ties += g * (g - 1) * (2 * g + 5);
    }
    const double nn = static_cast<double>(n);
    CHECK(mk.variance == Approx((nn * (nn - 1) * (2 * nn + 5) - ties) / 18));
  }
}

TEST_CASE("seconds_until extrapolates like predict_linear()", "[stats]") {
  const LinearFit fit{2, 100};  // 100 at t = 0, +2/s
  REQUIRE(seconds_until(fit, 0, 200));
  CHECK(*seconds_until(fit, 0, 200) == Approx(50));
  // From the line's value at t_now (120 at t = 10), not from any sample.
  CHECK(*seconds_until(fit, 10, 200) == Approx(40));
  CHECK(*seconds_until(fit, 50, 200) == 0);  // exactly at the limit
  CHECK(*seconds_until(fit, 80, 200) == 0);  // past it
  CHECK_FALSE(seconds_until(LinearFit{0, 100}, 0, 200).has_value());
  CHECK_FALSE(seconds_until(LinearFit{-1, 100}, 0, 200).has_value());
  CHECK(*seconds_until(LinearFit{-1, 300}, 0, 200) == 0);  // falling, but above the limit now
  // Epoch-sized t.
  const LinearFit epoch{0.5, 1000 - 0.5 * 1.7e9};
  CHECK(*seconds_until(epoch, 1.7e9, 1100) == Approx(200).epsilon(1e-9));
}
