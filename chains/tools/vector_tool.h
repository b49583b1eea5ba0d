#pragma once
// The command line the vector tools (chains_vectors, evm_vectors, userop_vectors) share, for the Node oracles in
// tests/interop: "NAME vectors SEED [COUNT]" prints COUNT (1..1000) random vectors made from SEED, and "NAME MODE"
// answers request lines on stdin in one of the tool's modes. Exit 2 with the usage for a bad command line, 1 with
// the message when a mode throws.
#include <cstddef>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace signerd::tools {

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
