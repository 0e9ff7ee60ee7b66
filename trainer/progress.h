// What braid-train tells its user: a line per step on rank 0 (progress bar, loss, lr, grad
// norm, tokens/s, communication time, ETA), a JSON-lines log for scripts/plot-train, and the
// summary printed at the end.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "braid/status.h"
#include "train.h"

namespace braid::train {

class RunLog {
 public:
  // Opens path for JSON lines (appending when resuming).
  static Result<std::unique_ptr<RunLog>> open(const std::string& path, bool append);
  ~RunLog();
  // {"step":..,"loss":..,"lr":..,"grad_norm":..,"tok_s":..,"comm_s":..,"bytes_reduced":..}
  // plus "val" when evaluated and "synced":false for an unaveraged local-SGD loss.
  void step(const StepRecord& r);
  void sample(int step, const std::string& text);

 private:
  RunLog() = default;
  FILE* file_ = nullptr;
};

// "step   31/400 [####......] loss 2.3456 ... eta 0:12"
std::string progressLine(const StepRecord& r, int totalSteps, double etaSeconds);
// Several lines: steps, time, throughput, communication share, loss first -> last, val.
std::string summary(const TrainResult& result, long tokensPerStep);
// Text made printable for a terminal: control bytes other than newline and bytes that are not
// valid UTF-8 shown as '?'.
std::string printable(const std::string& text);

}  // namespace braid::train
