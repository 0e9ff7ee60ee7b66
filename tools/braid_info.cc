// braid-info: what this braid build is and how it is configured — version, optional features,
// every BRAID_* parameter with its current value and documentation — and, with --topology, the
// hardware braid finds (NUMA, NICs, interfaces) and, when started by a launcher, how the job's
// ranks spread over hosts.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "braid/communicator.h"
#include "params.h"
#include "topology.h"

namespace {

bool underLauncher() {
  for (const char* v : {"BRAID_STORE_ADDR", "WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_PROCID"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

// Every rank's text field, gathered into fixed-size slots (truncated to slot - 1 bytes).
braid::Result<std::vector<std::string>> gatherText(braid::Communicator& comm,
                                                   const std::string& text, size_t slot) {
  std::vector<char> mine(slot, '\0');
  text.copy(mine.data(), slot - 1);
  std::vector<char> all(slot * comm.size());
  braid::Status s = comm.allGather(mine.data(), all.data(), slot, braid::DataType::kUint8);
  if (!s.isOk()) return s;
  std::vector<std::string> out;
  for (int r = 0; r < comm.size(); ++r) out.emplace_back(all.data() + r * slot);
  return out;
}

// Joins the job and lets rank 0 print its layout: hosts, their ranks, each host's hardware as
// its first rank sees it, and where each rank runs.
int printJobTopology() {
  auto comm = braid::Communicator::fromEnvironment();
  if (!comm.isOk()) {
    std::fprintf(stderr, "braid-info: %s\n", comm.status().toString().c_str());
    return 2;
  }
  braid::HostTopology host = braid::discoverHostTopology();
  std::string where = "cpus " + host.numa.boundCpus + ", NUMA node " +
                      (host.numa.currentNode >= 0 ? std::to_string(host.numa.currentNode) : "?");
  auto ids = gatherText(**comm, host.hostId, 256);
  auto places = ids.isOk() ? gatherText(**comm, where, 256) : ids.status();
  auto texts =
      places.isOk() ? gatherText(**comm, braid::describeHostTopology(host), 8192) : places.status();
  if (!texts.isOk()) {
    std::fprintf(stderr, "braid-info: %s\n", texts.status().toString().c_str());
    return 1;
  }
  if ((*comm)->rank() != 0) return 0;
  braid::CommTopology t = braid::commTopologyFromHostIds(*ids);
  std::printf("job: %zu ranks on %d host(s)%s\n", ids->size(), t.hosts,
              t.uniform ? "" : " (not the same number of ranks on each)");
  for (int h = 0; h < t.hosts; ++h) {
    const std::vector<int>& ranks = t.ranksOnHost[h];
    std::printf("\nhost %d: %zu rank(s)\n", h, ranks.size());
    for (int r : ranks)
      std::printf("  rank %d (local %d): %s\n", r, t.localRankOf[r], (*places)[r].c_str());
    std::printf("%s", (*texts)[ranks.front()].c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid-info: braid's version, build features, BRAID_* parameters and topology"};
  bool paramsOnly = false;
  bool topology = false;
  app.add_flag("--params", paramsOnly, "print only the parameter table");
  app.add_flag("--topology", topology,
               "print only the topology: NUMA nodes, cores, the CPUs this process may use, RDMA "
               "NICs and network interfaces with their NUMA node. Under a launcher (e.g. "
               "braid-run -n 4 braid-info --topology) every rank joins and rank 0 prints the "
               "job's hosts and ranks");
  CLI11_PARSE(app, argc, argv);
  if (topology) {
    if (underLauncher()) return printJobTopology();
    std::printf("%s", braid::describeHostTopology(braid::discoverHostTopology()).c_str());
    return 0;
  }

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
