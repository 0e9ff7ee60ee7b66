// Typed access to braid's BRAID_* parameters, read once from the environment.
// The list itself lives in params.def so that each parameter is declared exactly once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "braid/status.h"

namespace braid {

struct Params {
#define BRAID_PARAM(FIELD, NAME, TYPE, DEF, DOC) TYPE FIELD = DEF;
#include "params.def"
#undef BRAID_PARAM
};

// The process-wide parameters. The first call reads the environment; a malformed value is
// reported by paramsStatus() and the default is kept.
const Params& params();
// kInvalidArgument naming the first malformed BRAID_* variable, or kOk.
Status paramsStatus();
// Re-reads the environment (tests).
void reloadParams();

struct ParamInfo {
  std::string name;
  std::string type;
  std::string defaultValue;
  std::string value;  // current value, as text
  bool fromEnvironment = false;
  std::string doc;
};
// Every parameter, in declaration order, with its current value (braid-info).
std::vector<ParamInfo> describeParams();

}  // namespace braid
