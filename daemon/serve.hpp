#pragma once

#include "flags.hpp"

namespace leakwatch::daemon {

// Runs the daemon until SIGINT or SIGTERM; returns the process exit code.
int serve(const Flags& flags);

}  // namespace leakwatch::daemon
