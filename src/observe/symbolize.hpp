// Naming a coroutine's resume function for the dump ("suspended in f(args)").
//
// GCC's and Clang's coroutine resume functions (`f(...) [clone .actor]`,
// `f(...) (.resume)`) are local symbols: dladdr, which reads the dynamic
// symbol table, never finds them. So dladdr only tells which object file
// holds the address; the name comes from that file's own .symtab (read
// once per file, sorted, cached). A stripped binary gives the address.
#pragma once

#include <string>

namespace weft::detail {

/// The demangled, tidied name of the function at `fn` (a coroutine's resume
/// function reads as the coroutine), or its address in hex. Thread-safe;
/// cached per address.
std::string symbolize(const void* fn);

} // namespace weft::detail
