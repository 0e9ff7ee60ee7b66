// Checkpoint files: one self-contained file per saved step, written atomically (a temporary
// file, fsync, rename, fsync of the directory) in a checkpoint directory whose `latest` file
// (replaced the same way) names the newest complete checkpoint. A crash at any moment leaves
// either the previous or the new checkpoint as `latest`, never a partial one. The last two
// checkpoints are kept.
//
// Layout: a fixed header, the identity string (the run settings a resume must match), the
// sampling RNG's state, then `replicas` x (params, Adam m, Adam v) as float32 arrays of
// numParams elements, then a 64-bit FNV-1a checksum of everything before it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "braid/status.h"

namespace braid::train {

struct CheckpointHeader {
  uint64_t step = 0;             // steps completed
  uint64_t samplerPosition = 0;  // windows drawn from the (global) training stream
  uint64_t adamSteps = 0;
  uint64_t numParams = 0;
  uint32_t replicas = 1;  // 1, or one per rank when ranks hold different models (local SGD)
  std::string identity;   // settings that must match on resume
  std::string rngState;
};

class CheckpointWriter {
 public:
  // Starts dir/step-<step>.ckpt (as a temporary file); creates dir if needed.
  static Result<std::unique_ptr<CheckpointWriter>> create(const std::string& dir,
                                                          const CheckpointHeader& header);
  ~CheckpointWriter();  // an uncommitted checkpoint is removed
  Status append(const float* data, size_t count);
  // Makes the checkpoint durable and the directory's latest; removes older ones but one.
  Status commit();

 private:
  CheckpointWriter() = default;
  Status write(const void* data, size_t bytes);
  std::string dir_, name_, tmpPath_;
  FILE* file_ = nullptr;
  uint64_t hash_ = 0;
};

class CheckpointReader {
 public:
  // Opens the checkpoint `latest` names in dir; kInvalidArgument if there is none.
  static Result<std::unique_ptr<CheckpointReader>> openLatest(const std::string& dir);
  ~CheckpointReader();
  const CheckpointHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  // Reads the next count floats (dst may be null to skip them).
  Status read(float* dst, size_t count);
  // Checks the checksum once everything was read.
  Status finish();

 private:
  CheckpointReader() = default;
  Status readRaw(void* data, size_t bytes);
  std::string path_;
  FILE* file_ = nullptr;
  uint64_t hash_ = 0;
  CheckpointHeader header_;
};

}  // namespace braid::train
