#include "leakwatch/detect/detector.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace leakwatch::detect {
namespace {

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// Goroutines parked on a synchronisation primitive can stay there forever, and growth there is evidence
// enough; those in I/O, sleeping or in a syscall may be doing their job (a keep-alive connection, a ticker
// loop) and leak only when debug=2 shows that they stay (stuck()); running ones never leak. `unknown` is
// kept: debug=1 hides the runtime frames that tell a channel wait from a select.
bool can_leak(pprof::WaitClass c) {
  switch (c) {
    case pprof::WaitClass::io_wait:
    case pprof::WaitClass::sleep:
    case pprof::WaitClass::syscall:
    case pprof::WaitClass::running: return false;
    default: return true;
  }
}

std::string location_of(const pprof::Frame& f) {
  const pprof::NormalizedFrame n = pprof::normalize_frame(f);
  return n.file + ":" + std::to_string(n.line);
}

stats::SeedRuleOptions seed_options(const Options& o) {
  stats::SeedRuleOptions s;
  s.points = o.seed_points;
  s.factor = o.seed_factor;
  s.consecutive = o.seed_consecutive;
  s.absolute_cap = o.seed_absolute_cap;
  return s;
}

}  // namespace

std::string_view evidence_name(Evidence e) noexcept { return e == Evidence::runtime ? "runtime" : "trend"; }

TargetDetector::Series::Series(const Options& o) : window(seconds(o.window), o.max_samples) {}

// The history's first grain follows the evidence scale: pace() reads it at min_duration and at quarters of
// the life after that, so 1-minute steps at the default 5 minutes, seconds in a test with 15 s.
TargetDetector::Stack::Stack(const Options& o) : Series(o), history(std::max(1.0, seconds(o.min_duration) / 5)) {}

TargetDetector::TargetDetector(Options options) : options_(std::move(options)), total_(options_) {
  classify_.app_modules = options_.app_modules;
  classify_.extra_plumbing_prefixes = options_.plumbing_prefixes;
  if (options_.method == Method::seed) seed_.emplace(seed_options(options_));
}

std::vector<Event> TargetDetector::observe(double t, pprof::Profile profile) {
  std::vector<Event> events;
  if (started_ && t <= last_t_) return events;
  pprof::classify(profile, classify_);
  profile = pprof::merge_by_signature(std::move(profile));
  const double total = static_cast<double>(profile.total);

  if (!started_) {
    started_ = true;
    start_ = t;
  } else {
    const double gap = t - last_t_;
    const bool after_gap = spacing_ > 0 && gap > 2.5 * spacing_;
    const double drop = after_gap ? options_.restart_gap_drop : options_.restart_drop;
    if (total < drop * last_total_ && last_total_ - total >= 10) restart(t, events);
    if (!after_gap) spacing_ = spacing_ == 0 ? gap : 0.9 * spacing_ + 0.1 * gap;
  }
  last_t_ = t;
  last_total_ = total;

  total_.window.push({t, total});
  total_.status.count = total;
  // Goroutine IDs only grow within a process: lower ones than a mark's mean a process the marks were not
  // about (a restart too small for restart_drop to see).
  if (profile.max_goroutine_id > 0 && id_marks_n_ > 0 && profile.max_goroutine_id < id_marks_[id_marks_n_ - 1].max_id) {
    id_marks_n_ = 0;
  }
  update_stacks(t, profile);
  if (profile.max_goroutine_id > 0) mark_ids(t, profile.max_goroutine_id);
  evaluate_all(t, events);
  return events;
}

void TargetDetector::restart(double t, std::vector<Event>& events) {
  priors_ = priors();  // what the instance that ended showed, before its series go
  if (auto tr = total_.alert.reset()) emit(total_, Scope::total, *tr, t, events);
  total_.window.clear();
  total_verdict_ = {};
  total_.status.slope_per_second = 0;
  total_.status.p_value = 1;
  total_.status.state = AlertState::inactive;
  std::vector<std::uint64_t> order;
  for (const auto& [sig, s] : stacks_) order.push_back(sig);
  std::sort(order.begin(), order.end());
  for (const auto sig : order) {
    const Stack& s = stacks_.at(sig);
    if (s.alert.active()) emit(s, Scope::stack, Transition::resolved, t, events);
  }
  stacks_.clear();
  id_marks_n_ = 0;        // IDs start over with the process
  leaked_total_.reset();  // the proof was about the process that is gone
  leaked_groups_ = 0;
  if (seed_) seed_->reset();
  start_ = t;
}

void TargetDetector::update_stacks(double t, const pprof::Profile& profile) {
  last_groups_total_ = 0;
  std::vector<const pprof::StackGroup*> untracked;
  for (auto& [sig, s] : stacks_) ++s.absent;  // cleared below for the groups present
  for (const pprof::StackGroup& g : profile.groups) {
    last_groups_total_ += static_cast<double>(g.count);
    auto it = stacks_.find(g.signature);
    if (it == stacks_.end()) {
      if (stacks_.size() >= options_.max_tracked_stacks) {
        untracked.push_back(&g);
        continue;
      }
      it = stacks_.find(track(g).status.signature);
    }
    Stack& s = it->second;
    s.absent = 0;
    s.wait_class = g.wait_class;
    const bool debug2 = !g.states.empty();
    if (debug2) {  // a debug=2 sample: the newest wait observation, the last one kept
      s.prev_wait_t = s.wait_t;
      s.prev_wait_minutes = s.max_wait_minutes;
      s.wait_t = t;
      s.max_wait_minutes = g.wait_minutes.max_minutes;
    }
    s.window.push({t, static_cast<double>(g.count)});
    if (debug2) observe_survival(s, g, t);
    s.history.push(t, static_cast<double>(g.count));
    s.status.count = static_cast<double>(g.count);
    s.peak = std::max(s.peak, s.status.count);
  }

  // Absent groups count 0 until they are stale; an active alert resolves when its series is dropped.
  for (auto it = stacks_.begin(); it != stacks_.end();) {
    Stack& s = it->second;
    if (s.absent == 0) {
      ++it;
      continue;
    }
    // Proved goroutines never leave: a proved group gone for good means the process is not the one the
    // proof was about (a restart too small to notice), so the proof goes with it.
    if (s.absent >= options_.stale_polls) s.status.leaked = 0;
    if (s.absent >= options_.stale_polls && !s.alert.active()) {
      it = stacks_.erase(it);
      continue;
    }
    s.window.push({t, 0});
    s.history.push(t, 0);
    s.status.count = 0;
    ++it;
  }

  // Over capacity, a bigger newcomer replaces the smallest quiet tracked group: a growing leak soon
  // outgrows the noise it starts among.
  if (untracked.empty()) return;
  std::sort(untracked.begin(), untracked.end(), [](const auto* a, const auto* b) { return a->count > b->count; });
  std::vector<std::pair<double, std::uint64_t>> quiet;
  for (const auto& [sig, s] : stacks_) {
    if (!s.alert.active()) quiet.emplace_back(s.status.count, sig);
  }
  std::sort(quiet.begin(), quiet.end());
  std::size_t q = 0;
  for (const pprof::StackGroup* g : untracked) {
    if (q == quiet.size() || quiet[q].first >= static_cast<double>(g->count)) break;
    stacks_.erase(quiet[q++].second);
    Stack& s = track(*g);
    s.wait_class = g->wait_class;
    if (!g->states.empty()) {
      s.wait_t = t;
      s.max_wait_minutes = g->wait_minutes.max_minutes;
    }
    s.window.push({t, static_cast<double>(g->count)});
    s.history.push(t, static_cast<double>(g->count));
    s.status.count = static_cast<double>(g->count);
    s.peak = s.status.count;
  }
}

Priors TargetDetector::priors() const {
  Priors out = priors_;
  // A group counts when it is a candidate at the instance's end and its arrivals keep pace, shown or (an
  // hour is short for a slow leak) by the point estimate alone: instance after instance, the repeat is the
  // evidence. An instance judged long enough that a leak would have shown: groups not growing at its end lose
  // their prior (the growth did not repeat). Shorter ones (a crash loop) leave the priors as they were.
  const bool judged = last_t_ - start_ >= seconds(options_.window) / 2;
  for (const auto& [sig, s] : stacks_) {
    if (s.candidate && (s.pace_since >= 0 || s.pace_estimate) && may_leak(s)) {
      const auto it = priors_.find(sig);
      out[sig] = Recurrence{(it == priors_.end() ? 0 : it->second.instances) + 1, last_t_};
    } else if (judged) {
      out.erase(sig);
    }
  }
  // Bounded like the tracked groups: the most recent ones stay.
  if (out.size() > options_.max_tracked_stacks) {
    std::vector<std::pair<double, std::uint64_t>> by_time;
    for (const auto& [sig, r] : out) by_time.emplace_back(r.last_end, sig);
    std::sort(by_time.begin(), by_time.end());
    for (std::size_t i = 0; i + options_.max_tracked_stacks < by_time.size(); ++i) out.erase(by_time[i].second);
  }
  return out;
}

void TargetDetector::adopt(Priors priors) {
  priors_ = std::move(priors);
  if (priors_.size() > options_.max_tracked_stacks) priors_ = Priors{};  // not ours to trim: start clean
}

const Recurrence* TargetDetector::recurrence(std::uint64_t signature) const {
  const auto it = priors_.find(signature);
  return it == priors_.end() ? nullptr : &it->second;
}

TargetDetector::Stack& TargetDetector::track(const pprof::StackGroup& g) {
  Stack& s = stacks_.try_emplace(g.signature, options_).first->second;
  s.status.signature = g.signature;
  if (!g.frames.empty()) {
    const pprof::Frame& site = g.frames[std::min(g.leak_site, g.frames.size() - 1)];
    s.status.function = site.function;
    s.status.location = location_of(site);
  }
  return s;
}

std::vector<Event> TargetDetector::observe_leaked(double t, pprof::Profile leaked) {
  std::vector<Event> events;
  if (leaked.kind != pprof::ProfileKind::goroutineleak) return events;
  pprof::classify(leaked, classify_);
  leaked = pprof::merge_by_signature(std::move(leaked));
  leaked_total_ = leaked.total;
  leaked_groups_ = leaked.groups.size();
  for (auto& [sig, s] : stacks_) s.status.leaked = 0;  // each proof replaces the last

  for (const pprof::StackGroup& g : leaked.groups) {
    if (g.count < std::max<std::uint64_t>(1, options_.min_leaked)) continue;
    auto it = stacks_.find(g.signature);
    if (it == stacks_.end()) {
      // Leaked goroutines are in the goroutine profile too, so the group is normally tracked already; it is
      // not when the profile changed between the two polls or the tracked set is full. A proved leak takes
      // the place of the smallest quiet group: it is what this detector exists to report.
      if (stacks_.size() >= options_.max_tracked_stacks) {
        auto quietest = stacks_.end();
        for (auto q = stacks_.begin(); q != stacks_.end(); ++q) {
          if (q->second.alert.active()) continue;
          if (quietest == stacks_.end() || q->second.status.count < quietest->second.status.count) quietest = q;
        }
        if (quietest == stacks_.end()) continue;  // every tracked group is alerting already
        stacks_.erase(quietest);
      }
      Stack& s = track(g);
      s.wait_class = g.wait_class;
      s.status.count = static_cast<double>(g.count);
      s.peak = s.status.count;
      it = stacks_.find(g.signature);
    }
    it->second.status.leaked = g.count;
  }

  std::vector<std::uint64_t> order;
  for (auto& [sig, s] : stacks_) {
    s.status.evidence = s.proved() ? Evidence::runtime : Evidence::trend;
    if (s.proved()) order.push_back(sig);
  }
  std::sort(order.begin(), order.end());
  const double keep_s = seconds(options_.keep_firing_for);
  for (const auto sig : order) {
    Stack& s = stacks_.at(sig);
    if (auto tr = s.alert.update(true, t, 0, keep_s)) emit(s, Scope::stack, *tr, t, events);
    s.status.state = s.alert.state();
  }
  return events;
}

void TargetDetector::evaluate_all(double t, std::vector<Event>& events) {
  const bool warm = t - start_ < seconds(options_.warmup);
  const double for_s = seconds(options_.for_duration);
  const double keep_s = seconds(options_.keep_firing_for);

  // Stacks first: the total's verdict asks how much of its growth they explain.
  std::vector<std::uint64_t> order;
  order.reserve(stacks_.size());
  double explained = 0;
  double explained_pacing = 0;  // by candidates whose arrivals keep pace (they may fire)
  for (auto& [sig, s] : stacks_) {
    const Verdict verdict = evaluate(s.window, options_, /*stack=*/true, s.peak, churn(s));
    s.candidate = verdict.candidate;
    s.status.slope_per_second = verdict.slope;
    s.status.p_value = verdict.p_value;
    const Pace pc = verdict.candidate ? pace(s.history, s.window, verdict.scatter, options_) : Pace{};
    const bool keeps_pace = pc.keeps_pace;
    s.pace_estimate = pc.earlier + pc.later >= options_.pace_min_arrivals && pc.later > 0 &&
                      pc.later >= options_.pace_ratio * pc.earlier;
    if (!keeps_pace) {
      s.pace_since = -1;
    } else if (s.pace_since < 0) {
      s.pace_since = t;
    }
    if (verdict.candidate && may_leak(s)) {
      explained += verdict.slope;
      if (paced(s, t)) explained_pacing += verdict.slope;
    }
    order.push_back(sig);
  }
  std::sort(order.begin(), order.end());  // deterministic event order (replay output is compared)

  total_verdict_ = evaluate(total_.window, options_, /*stack=*/false);
  total_.status.slope_per_second = total_verdict_.slope;
  total_.status.p_value = total_verdict_.p_value;

  bool total_condition = false;
  bool total_may_fire = true;
  double total_for = for_s;
  if (seed_) {
    // The rule carries its own persistence (consecutive hot windows); `for` on top would not be the rule.
    total_for = 0;
    total_condition = seed_->push({t, total_.status.count});
    total_.status.slope_per_second = seed_->last_slope();
  } else {
    total_condition = !warm && total_verdict_.candidate && explained >= options_.explained_ratio * total_verdict_.slope;
    // The total fires on the same evidence as its stacks: growth that bounded populations explain stays
    // pending.
    total_may_fire = explained_pacing >= options_.explained_ratio * total_verdict_.slope;
  }
  if (auto tr = total_.alert.update(total_condition, t, total_for, keep_s, total_may_fire)) {
    emit(total_, Scope::total, *tr, t, events);
  }
  total_.status.state = total_.alert.state();

  for (const auto sig : order) {
    Stack& s = stacks_.at(sig);
    bool condition = false;
    double stack_for = for_s;
    // A signature that was still growing at pace when an earlier instance ended is not warm-up.
    const Recurrence* prior = recurrence(sig);
    if (!seed_) {
      // A group without frames (nothing symbolized) has no code location an alert could name.
      condition = (!warm || prior != nullptr) && s.candidate && may_leak(s) && !s.status.function.empty();
      // debug=2: the group's oldest goroutine has been blocked through at least half of the window's
      // growth, so these goroutines demonstrably stay put; that is evidence enough to halve `for`.
      const double covered = s.window.empty() ? 0 : s.window.back().t - s.window.front().t;
      if (condition && s.wait_t > 0 && covered > 0 && s.max_wait_minutes * 60.0 >= covered / 2) {
        stack_for /= 2;
      }
    }
    // The runtime's proof needs no trend: leaked goroutines can never run again, whatever the window shows.
    const bool proved = s.proved();
    if (proved) {
      condition = true;
      stack_for = 0;
    }
    s.status.evidence = proved ? Evidence::runtime : Evidence::trend;
    // Growth that repeated to the end of recurrence_instances instances has shown its pace already.
    const bool recurring = prior != nullptr && prior->instances >= options_.recurrence_instances;
    const bool may_fire = proved || seed_.has_value() || paced(s, t) || recurring;
    if (auto tr = s.alert.update(condition, t, stack_for, keep_s, may_fire)) emit(s, Scope::stack, *tr, t, events);
    s.status.state = s.alert.state();
  }
  // A stale group kept only for its alert goes once that has resolved.
  for (auto it = stacks_.begin(); it != stacks_.end();) {
    if (it->second.absent >= options_.stale_polls && !it->second.alert.active()) {
      it = stacks_.erase(it);
    } else {
      ++it;
    }
  }
}

// Goroutines in I/O, sleep or a syscall that demonstrably stay: of the last two debug=2 observations (a
// minute or more apart), the later shows the group's oldest wait through half the window's growth (and at
// least min_duration), and the oldest wait grew with the time between them (less the two minutes the
// runtime's wait clock may lag: it is stamped by the GC and printed in whole minutes). A keep-alive
// connection's wait restarts with each request and a ticker loop's with each tick; a goroutine that never
// leaves keeps counting.
//
// A sleeping loop wakes at every tick, so its minutes restart too: a sleep group also stays when most of
// its goroutines of half a window ago are still there (survived()). Only for sleep: keep-alive connections
// stay by design, and their restarting waits are the evidence that they serve.
bool TargetDetector::stuck(const Stack& s) const {
  if (s.wait_t <= 0 || s.window.empty()) return false;
  if (s.wait_class == pprof::WaitClass::sleep && survived(s)) return true;
  if (s.prev_wait_t <= 0) return false;
  const double apart = s.wait_t - s.prev_wait_t;
  const double settle = seconds(options_.min_duration);
  const double covered = s.window.back().t - s.window.front().t;
  const double oldest = s.max_wait_minutes * 60.0;
  return apart >= 60 && oldest >= std::max(settle, covered / 2) &&
         (static_cast<double>(s.max_wait_minutes) - s.prev_wait_minutes) * 60.0 >= apart - 120;
}

// Two ways to know, from one debug=2 profile, how many of a group's goroutines of some time ago are still
// there; the better-surviving one is kept.
// - Wait minutes, any class: a goroutine blocked here for more than kLastingMinutes was here, blocked,
//   that long ago. Exact, but blind to loops whose wait restarts at every tick.
// - Goroutine IDs, sleeping groups only: those at or below the highest ID of the latest mark at least
//   max(min_duration, half the group's window) old were there then. An ID shows that a goroutine stays,
//   not that it stays in this stack (an HTTP server's keep-alive connections and a pool's workers run stack
//   after stack), and a goroutine per loop is the rule for sleeping ones. The runtime hands out IDs from
//   per-P batches of 16, so a few goroutines started just after a mark may carry IDs below it: a handful
//   of false survivors at most, against a ratio of the group.
// Either compares with the group's count at that earlier time, from the window.
void TargetDetector::observe_survival(Stack& s, const pprof::StackGroup& g, double t) const {
  s.survivors = s.survivors_of = 0;
  const auto count_at = [&](double when) -> std::optional<double> {
    if (when < s.window.front().t) return std::nullopt;
    const std::size_t at = s.window.index_since(when);
    if (at >= s.window.size()) return std::nullopt;
    return s.window[at].v;
  };
  const auto keep = [&](std::uint64_t survivors, double of) {
    if (of < 1) return;
    if (s.survivors_of == 0 || static_cast<double>(survivors) / of > double(s.survivors) / s.survivors_of) {
      s.survivors = static_cast<std::uint32_t>(survivors);
      s.survivors_of = static_cast<std::uint32_t>(of);
    }
  };
  if (const auto then = count_at(t - kLastingMinutes * 60.0)) {
    std::uint64_t lasting = 0;
    for (std::size_t b = 1; b < pprof::kWaitMinuteBounds.size(); ++b) {
      if (pprof::kWaitMinuteBounds[b - 1] >= kLastingMinutes) lasting += g.wait_minutes.counts[b];
    }
    keep(lasting, *then);
  }
  if (s.wait_class != pprof::WaitClass::sleep) return;
  const double covered = s.window.back().t - s.window.front().t;
  const double need = std::max(seconds(options_.min_duration), covered / 2);
  for (std::size_t i = id_marks_n_; i-- > 0;) {
    if (id_marks_[i].t <= t - need) {
      if (const auto then = count_at(id_marks_[i].t))
        keep(pprof::goroutines_at_or_below(g, id_marks_[i].max_id), *then);
      break;
    }
  }
}

std::optional<double> TargetDetector::churn(const Stack& s) const {
  if (!survived(s)) return std::nullopt;
  const std::size_t at = s.window.index_since(s.wait_t);
  const double then = at < s.window.size() ? s.window[at].v : s.status.count;
  return std::max(0.0, then - static_cast<double>(s.survivors));
}

bool TargetDetector::survived(const Stack& s) const {
  return s.survivors > 0 && static_cast<double>(s.survivors) >= options_.survival_ratio * s.survivors_of;
}

void TargetDetector::mark_ids(double t, std::uint64_t max_id) {
  if (id_marks_n_ > 0 && t - id_marks_[id_marks_n_ - 1].t < seconds(options_.window) / kIdMarks) return;
  if (id_marks_n_ == kIdMarks) {
    std::move(id_marks_.begin() + 1, id_marks_.end(), id_marks_.begin());
    --id_marks_n_;
  }
  id_marks_[id_marks_n_++] = {t, max_id};
}

bool TargetDetector::may_leak(const Stack& s) const {
  if (can_leak(s.wait_class)) return true;
  return s.wait_class != pprof::WaitClass::running && stuck(s);
}

bool TargetDetector::wants_wait_evidence() const {
  const double settle = seconds(options_.min_duration);
  for (const auto& [sig, s] : stacks_) {
    if (s.alert.state() == AlertState::pending && s.wait_t < s.alert.active_since()) return true;
    if (s.candidate && !can_leak(s.wait_class) && s.wait_class != pprof::WaitClass::running && !stuck(s) &&
        last_t_ - s.wait_t >= settle) {
      return true;
    }
  }
  return false;
}

// Keeping pace is tested again at every poll, so a chance run of arrivals could pass once: it must hold for
// `for`, as the condition must.
bool TargetDetector::paced(const Stack& s, double t) const {
  return s.pace_since >= 0 && t - s.pace_since >= seconds(options_.for_duration);
}

void TargetDetector::emit(const Series& s, Scope scope, Transition tr, double t, std::vector<Event>& events) const {
  Event e;
  e.t = t;
  e.scope = scope;
  e.state = tr;
  e.slope_per_second = s.status.slope_per_second;
  e.p_value = s.status.p_value;
  if (scope == Scope::stack) {
    e.signature = s.status.signature;
    e.function = s.status.function;
    e.location = s.status.location;
    e.evidence = s.status.evidence;
  }
  events.push_back(std::move(e));
}

std::vector<SeriesStatus> TargetDetector::top_stacks() const {
  std::vector<const SeriesStatus*> all;
  all.reserve(stacks_.size());
  for (const auto& [sig, s] : stacks_) all.push_back(&s.status);
  const auto rank = [](const SeriesStatus* a, const SeriesStatus* b) {
    if (a->state != b->state) return a->state > b->state;
    if (a->slope_per_second != b->slope_per_second) return a->slope_per_second > b->slope_per_second;
    if (a->count != b->count) return a->count > b->count;
    return a->signature < b->signature;
  };
  const std::size_t n = std::min(all.size(), options_.max_stack_series);
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), rank);
  std::vector<SeriesStatus> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(*all[i]);
  return out;
}

double TargetDetector::other_count(const std::vector<SeriesStatus>& top) const {
  double shown = 0;
  for (const auto& s : top) shown += s.count;
  return std::max(0.0, last_groups_total_ - shown);
}

std::optional<double> TargetDetector::seconds_to_limit() const {
  if (options_.goroutine_limit == 0 || total_.window.size() < 2) return std::nullopt;
  const auto fit = total_.window.least_squares();
  if (!fit) return std::nullopt;
  return stats::seconds_until(*fit, total_.window.back().t, static_cast<double>(options_.goroutine_limit));
}

std::size_t TargetDetector::memory_bytes() const noexcept {
  // A prior is a hash-map node: the key, the value and the links.
  std::size_t bytes = sizeof(*this) + total_.window.memory_bytes() +
                      priors_.size() * (sizeof(Priors::value_type) + 2 * sizeof(void*));
  for (const auto& [sig, s] : stacks_) {
    bytes += sizeof(s) + s.window.memory_bytes() + s.status.function.capacity() + s.status.location.capacity() +
             sizeof(void*) * 2;  // the map node's links
  }
  return bytes;
}

}  // namespace leakwatch::detect
