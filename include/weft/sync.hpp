// weft::sync: synchronisation between tasks. One header per primitive under
// weft/sync/; this header includes them all.
#pragma once

#include "weft/sync/notify.hpp"
