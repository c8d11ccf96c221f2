// weft: a C++20 coroutine runtime with Tokio's task model.
//
// This umbrella header includes every public header. See README.md for a
// tour and docs/ for the guide.
#pragma once

#include "weft/blocking.hpp"
#include "weft/cancellation_token.hpp"
#include "weft/coro_attributes.hpp"
#include "weft/expected.hpp"
#include "weft/fs.hpp"
#include "weft/io.hpp"
#include "weft/join.hpp"
#include "weft/join_handle.hpp"
#include "weft/join_set.hpp"
#include "weft/local_set.hpp"
#include "weft/net.hpp"
#include "weft/result.hpp"
#include "weft/runtime.hpp"
#include "weft/runtime_error.hpp"
#include "weft/select.hpp"
#include "weft/signal.hpp"
#include "weft/spawn.hpp"
#include "weft/sync.hpp"
#include "weft/task.hpp"
#include "weft/task_id.hpp"
#include "weft/task_tracker.hpp"
#include "weft/time.hpp"
#include "weft/yield_now.hpp"
