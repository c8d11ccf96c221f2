// weft::sync: synchronisation between tasks. One header per primitive under
// weft/sync/; this header includes them all.
#pragma once

#include "weft/sync/barrier.hpp"
#include "weft/sync/broadcast.hpp"
#include "weft/sync/mpsc.hpp"
#include "weft/sync/mutex.hpp"
#include "weft/sync/notify.hpp"
#include "weft/sync/oneshot.hpp"
#include "weft/sync/rw_lock.hpp"
#include "weft/sync/semaphore.hpp"
#include "weft/sync/watch.hpp"
