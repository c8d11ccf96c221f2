// weft::runtime_error: misuse of the runtime.
//
// Thrown with a message that says what to do instead: spawn outside a
// runtime, block_on inside one, use of a runtime after shutdown.
//
//   try { weft::spawn(f); }
//   catch (const weft::runtime_error& e) { std::cerr << e.what(); }
#pragma once

#include <stdexcept>
#include <string>

namespace weft {

class runtime_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace weft
