// Naming a resume function from the ELF symbol table (design in symbolize.hpp).
#include "observe/symbolize.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace weft::detail {

namespace {

struct elf_symbols {
    struct sym {
        std::uintptr_t lo, hi;
        std::string name;
    };
    std::vector<sym> syms; // sorted by lo
    bool relative = true;  // ET_DYN: values are offsets from the load base

    explicit elf_symbols(const char* path) {
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        struct stat st {};
        void* map = MAP_FAILED;
        if (::fstat(fd, &st) == 0 && st.st_size > 0)
            map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd,
                         0);
        ::close(fd);
        if (map == MAP_FAILED) return;
        std::string_view data(static_cast<const char*>(map), static_cast<std::size_t>(st.st_size));
        parse(data);
        ::munmap(map, data.size());
        std::sort(syms.begin(), syms.end(), [](const sym& a, const sym& b) { return a.lo < b.lo; });
    }

    void parse(std::string_view data) {
        if (data.size() < sizeof(Elf64_Ehdr) || std::memcmp(data.data(), ELFMAG, SELFMAG) != 0 ||
            data[EI_CLASS] != ELFCLASS64)
            return;
        Elf64_Ehdr eh;
        std::memcpy(&eh, data.data(), sizeof eh);
        relative = eh.e_type == ET_DYN;
        if (eh.e_shoff == 0 ||
            eh.e_shoff + std::size_t{eh.e_shnum} * sizeof(Elf64_Shdr) > data.size())
            return;
        std::vector<Elf64_Shdr> sh(eh.e_shnum);
        std::memcpy(sh.data(), data.data() + eh.e_shoff, sh.size() * sizeof(Elf64_Shdr));
        for (const Elf64_Shdr& s : sh) {
            if (s.sh_type != SHT_SYMTAB || s.sh_link >= sh.size()) continue;
            const Elf64_Shdr& strtab = sh[s.sh_link];
            if (s.sh_offset + s.sh_size > data.size() ||
                strtab.sh_offset + strtab.sh_size > data.size())
                continue;
            std::size_t count = s.sh_size / sizeof(Elf64_Sym);
            for (std::size_t i = 0; i < count; ++i) {
                Elf64_Sym sym;
                std::memcpy(&sym, data.data() + s.sh_offset + i * sizeof(Elf64_Sym), sizeof sym);
                if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_value == 0 ||
                    sym.st_name >= strtab.sh_size)
                    continue;
                const char* name = data.data() + strtab.sh_offset + sym.st_name;
                syms.push_back({sym.st_value,
                                sym.st_value + std::max<std::uint64_t>(sym.st_size, 1),
                                std::string(name, ::strnlen(name, strtab.sh_size - sym.st_name))});
            }
        }
    }

    const std::string* find(std::uintptr_t v) const {
        auto it = std::upper_bound(syms.begin(), syms.end(), v,
                                   [](std::uintptr_t x, const sym& s) { return x < s.lo; });
        if (it == syms.begin()) return nullptr;
        --it;
        return v < it->hi ? &it->name : nullptr;
    }
};

// `f(f(args)::_Z...Frame*) [clone .actor]` (GCC) -> `f(args)`; Clang's
// `f(args) (.resume)` -> `f(args)`.
std::string tidy_coroutine_name(std::string d) {
    std::size_t frame = d.find(".Frame*)");
    if (frame != std::string::npos) {
        std::size_t mangled = d.rfind("::_Z", frame);
        for (std::size_t open = d.find('(');
             open != std::string::npos && mangled != std::string::npos && open < mangled;
             open = d.find('(', open + 1)) {
            if (d.compare(open + 1, open, d, 0, open) == 0)
                return d.substr(open + 1, mangled - open - 1);
        }
    }
    // GCC: `f(args) [clone .actor]`; Clang: `f(args) (.resume)` or, after
    // the optimizer cloned it, `f(args) [clone .resume]`.
    for (const char* suffix : {" [clone .actor]", " (.resume)", " [clone .resume]"}) {
        std::size_t at = d.find(suffix);
        if (at != std::string::npos) return d.substr(0, at);
    }
    return d;
}

} // namespace

std::string symbolize(const void* fn) {
    static std::mutex mu;
    static std::map<const void*, std::string> cache;
    static std::map<std::string, std::unique_ptr<elf_symbols>> files;
    std::lock_guard lk(mu);
    auto it = cache.find(fn);
    if (it != cache.end()) return it->second;
    std::string out;
    Dl_info info{};
    if (dladdr(fn, &info) != 0) {
        const char* sname = info.dli_sname;
        std::string from_symtab;
        if (info.dli_fname != nullptr) {
            // The main program is named by argv[0] (maybe relative, maybe
            // empty); shared objects by an absolute path.
            std::string path = info.dli_fname;
            if (path.empty() || path[0] != '/') path = "/proc/self/exe";
            auto& e = files[path];
            if (!e) e = std::make_unique<elf_symbols>(path.c_str());
            std::uintptr_t v = reinterpret_cast<std::uintptr_t>(fn);
            if (e->relative) v -= reinterpret_cast<std::uintptr_t>(info.dli_fbase);
            if (const std::string* n = e->find(v)) from_symtab = *n;
        }
        if (!from_symtab.empty()) sname = from_symtab.c_str();
        if (sname != nullptr) {
            int status = 0;
            char* d = abi::__cxa_demangle(sname, nullptr, nullptr, &status);
            out = tidy_coroutine_name((status == 0 && d != nullptr) ? d : sname);
            std::free(d);
        }
    }
    if (out.empty()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%p", fn);
        out = buf;
    }
    cache.emplace(fn, out);
    return out;
}

} // namespace weft::detail
