#pragma once
// Detection settings: every threshold the decision uses, with its default. The config file's `detection:`
// sections (global and per scrape config) fill this; README "How detection decides" explains each one.

#include "leakwatch/common/duration.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace leakwatch::detect {

using common::Duration;

enum class Method {
  trend,  // leakwatch's method: robust trend + significance + per-stack evidence (see evaluate.hpp)
  seed,   // the seed article's growth-rate rule on the total, kept for comparison (stats::SeedRule)
};

struct Options {
  Method method = Method::trend;

  // How far back each series' statistics look.
  Duration window{3'600'000};
  // Most samples kept per series: bounds memory whatever the poll interval (1h at 5s = 720).
  std::size_t max_samples = 720;

  // A series is a leak candidate only when all of these hold over its window (since its last reset):
  Duration min_duration{300'000};  // the samples span at least this long
  std::size_t min_samples = 8;     // ... and number at least this many
  double p_value = 0.01;           // Mann–Kendall one-sided p-value for growth at most this
  double min_increase = 5;         // the Theil–Sen line rises at least this many goroutines
  // Not saturating: the least-squares slope of the last third of the window is at least this fraction of
  // the whole window's Theil–Sen slope (warm-up and cache fills flatten out; leaks do not).
  double saturation_ratio = 0.5;
  // Leaked goroutines never leave, so a leaking group's count hugs its trend line; a group whose goroutines
  // come and go (requests, sessions, batch workers) scatters around its local level like Poisson noise, the
  // square root of its size. A stack group is a candidate only when that scatter (evaluate.hpp,
  // dispersion()) is at most this multiple of sqrt(mean count).
  double max_dispersion = 0.5;
  // Keeping pace (stack groups, before `firing`): a leak's arrivals keep pace with the activity that causes
  // them, while a bounded population of long-lived goroutines (one per tenant, key or connection, started
  // on first use; a pool or cache filling) grows ever more slowly as its keys are used up. A candidate
  // group may go from pending to firing only when its growth in the last quarter of its life (its life
  // starting min_duration after its first sample, when its short-lived goroutines have arrived) is shown,
  // one-sided at p_value, to run at more than pace_ratio of its rate in the first quarter, counting at
  // least pace_min_arrivals goroutines in those two quarters, and that has held for `for`. Until then it
  // stays pending; once firing, a slower spell does not resolve it.
  double pace_ratio = 0.5;
  double pace_min_arrivals = 10;
  // The runtime's proof (a goroutine job's `goroutineleak:` poll, observe_leaked()): a stack group in which
  // the target's goroutineleak profile reports at least this many goroutines fires at once, with
  // evidence="runtime", without trend, warm-up, pace or `for`: the GC proved they can never run again.
  std::uint64_t min_leaked = 1;
  // debug=2: a group stays when at least this fraction of the goroutines it had some time ago are still
  // there: for any class, those blocked for more than 15 minutes against its count 15 minutes ago; for a
  // group in time.Sleep (a loop wakes at every tick, so its waits never grow even when it never exits),
  // also those whose goroutine IDs are older than half its window (at least min_duration). A sleeping
  // group that stays may leak; any group that stays is not held back by the turnover, reversal and peak
  // tests for what shares its stack and comes and goes.
  double survival_ratio = 0.5;
  // The total's growth is a leak only when leak-candidate stack groups account for at least this fraction
  // of it (per-stack growth explains the total's growth).
  double explained_ratio = 0.5;

  // Growth within this long after the first sample or a restart never alerts: warm-up fills pools and
  // caches, which look exactly like a leak until they saturate. A leak present from the start is caught
  // once this has passed.
  Duration warmup{1'800'000};
  // The total falling below this fraction of its previous sample (and by at least 10 goroutines) is a
  // restart: every series starts over and active alerts resolve.
  double restart_drop = 0.5;
  // After a gap in the samples (more than 2.5 times the usual spacing: polls failed, as while a process
  // restarts), a fall of the total below this fraction (and by at least 10) is a restart too.
  double restart_gap_drop = 0.8;
  // Deploy awareness (TargetDetector::Priors): a stack signature whose group was still growing at pace when
  // an instance ended is not held back by `warmup` in the next instance; one that did so at the end of this
  // many consecutive instances may fire without showing pace again in this one.
  std::size_t recurrence_instances = 2;

  // Alert state machine, as Prometheus rules: pending this long -> firing; a firing alert whose condition
  // stops holding stays firing this long (a brief pause in a leak does not resolve it).
  Duration for_duration{300'000};
  Duration keep_firing_for{600'000};
  // debug=2 only: when a candidate group's oldest goroutine has been blocked for at least half the group's
  // growth period, its goroutines demonstrably stay blocked, and `for` is halved.

  // Cardinality: stack groups exported per target (the rest summed into one series), and stack groups
  // tracked per target (largest first; the rest are counted but get no statistics).
  std::size_t max_stack_series = 20;
  std::size_t max_tracked_stacks = 200;
  // A tracked group absent from this many consecutive profiles is dropped.
  std::size_t stale_polls = 3;

  // Which frame an alert names (pprof::ClassifyOptions): the application's module paths, and function-name
  // prefixes of extra plumbing (an RPC framework's serving loops) to look past.
  std::vector<std::string> app_modules;
  std::vector<std::string> plumbing_prefixes;

  // Goroutine limit for the time-to-limit projection (predict_linear on the total); 0 = none.
  std::uint64_t goroutine_limit = 0;

  // The seed rule's parameters (method: seed). The rule has its own persistence (consecutive hot
  // windows), so `for` does not apply to it.
  std::size_t seed_points = 12;
  double seed_factor = 1.8;
  std::size_t seed_consecutive = 3;
  double seed_absolute_cap = 5.0;  // goroutines per second

  friend bool operator==(const Options&, const Options&) = default;
};

}  // namespace leakwatch::detect
