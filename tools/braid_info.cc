// braid-info: what this braid build is and how it is configured — version, optional features,
// and every BRAID_* parameter with its current value and documentation.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "braid/communicator.h"
#include "params.h"

int main(int argc, char** argv) {
  CLI::App app{"braid-info: braid's version, build features and BRAID_* parameters"};
  bool paramsOnly = false;
  app.add_flag("--params", paramsOnly, "print only the parameter table");
  CLI11_PARSE(app, argc, argv);

  if (!paramsOnly) {
    braid::BuildFeatures f = braid::buildFeatures();
    auto mark = [](bool on) { return on ? "\u2713" : "\u2717"; };
    std::printf("braid %s\n\nfeatures:\n", braid::versionString());
    std::printf("  %s CUDA      (GPU buffers, NVLink transport)\n", mark(f.cuda));
    std::printf("  %s UCX       (RDMA transport)\n", mark(f.ucx));
    std::printf("  %s ibverbs   (NIC discovery)\n", mark(f.ibverbs));
    std::printf("  %s hwloc     (topology)\n\n", mark(f.hwloc));
  }
  braid::Status status = braid::paramsStatus();
  std::printf("parameters (environment variables):\n");
  for (const auto& p : braid::describeParams()) {
    std::printf("  %-24s = %-12s %s[%s, default %s]\n      %s\n", p.name.c_str(),
                p.value.empty() ? "\"\"" : p.value.c_str(), p.fromEnvironment ? "(set) " : "",
                p.type.c_str(), p.defaultValue.empty() ? "\"\"" : p.defaultValue.c_str(),
                p.doc.c_str());
  }
  if (!status.isOk()) {
    std::fprintf(stderr, "braid-info: %s\n", status.toString().c_str());
    return 2;
  }
  return 0;
}
