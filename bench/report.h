// braid-bench output: the nccl-tests-style table on stdout (rank 0) and the JSON record of a
// run (every row, the machine, the build, the BRAID_* environment, the algorithm per row).
#pragma once

#include <string>
#include <vector>

#include "sweep.h"

namespace braid::bench {

class Report {
 public:
  Report(Communicator& comm, const std::vector<Series>& series, const Options& o);
  void printHeader() const;
  void printColumns(Collective c) const;
  // One table line: the rows of one (size, dtype, op), every series and placement.
  void printRow(const std::vector<Row>& rows) const;
  void printFooter(const std::vector<Row>& all, double meanBusBw) const;
  Status writeJson(const std::string& path, const std::vector<Row>& all) const;

 private:
  Communicator& comm_;
  const std::vector<Series>& series_;
  const Options& o_;
  bool tunerColumn_ = false;
};

}  // namespace braid::bench
