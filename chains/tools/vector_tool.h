#pragma once
// The command line the vector tools (chains_vectors, evm_vectors, userop_vectors) share, for the Node oracles in
// tests/interop: "NAME vectors SEED [COUNT]" prints COUNT (1..1000) random vectors made from SEED, and "NAME MODE"
// answers request lines on stdin in one of the tool's modes. Exit 2 with the usage for a bad command line, 1 with
// the message when a mode throws.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "chains/hashes.h"
#include "common/hex.h"

namespace signerd::tools {

// Deterministic bytes: SHA-256(seed || "/" || counter) blocks, so a seed replays a run. Only for test inputs.
class Stream {
 public:
  explicit Stream(std::string seed) : seed_(std::move(seed)) {}

  Bytes bytes(std::size_t n) {
    Bytes out;
    while (out.size() < n) {
      const std::string block = seed_ + '/' + std::to_string(counter_++);
      const chains::Hash256 h = chains::sha256(as_bytes(block));
      out.insert(out.end(), h.begin(),
                 h.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(32, n - out.size())));
    }
    return out;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (const std::uint8_t x : bytes(8)) v = (v << 8) | x;
    return v;
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(u64() % n); }
  bool chance(std::size_t one_in) { return below(one_in) == 0; }

 private:
  std::string seed_;
  std::uint64_t counter_ = 0;
};

// A vector tool's own failure (not the input's): ends the run with exit 1.
[[noreturn]] inline void bug(const std::string& what) { throw std::runtime_error(what); }

struct LineMode {
  std::string_view name;
  std::function<int()> run;
};

inline int vector_tool_main(int argc, char** argv, std::string_view name, std::size_t default_count,
                            const std::function<int(const std::string& seed, std::size_t count)>& print_vectors,
                            std::initializer_list<LineMode> modes) {
  std::string usage = "usage: " + std::string(name) + " vectors SEED [COUNT]";
  for (const auto& m : modes) usage += " | " + std::string(name) + " " + std::string(m.name) + " < lines";
  usage += "\n";
  try {
    if (argc >= 3 && argc <= 4 && std::string_view(argv[1]) == "vectors") {
      const std::size_t count = argc == 4 ? std::stoul(argv[3]) : default_count;
      if (count == 0 || count > 1000) {
        std::cerr << "COUNT must be 1..1000\n";
        return 2;
      }
      return print_vectors(argv[2], count);
    }
    for (const auto& m : modes) {
      if (argc == 2 && std::string_view(argv[1]) == m.name) return m.run();
    }
  } catch (const std::invalid_argument&) {
    std::cerr << usage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << '\n';
    return 1;
  }
  std::cerr << usage;
  return 2;
}

}  // namespace signerd::tools
