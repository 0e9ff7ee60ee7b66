// The sweep: sizes × dtypes × ops × placements × series (backend/algorithm), run alternately
// per size so that drift hits every series alike, each row checked for exactness and timed.
#pragma once

#include <string>
#include <vector>

#include "backend.h"
#include "collective.h"
#include "device.h"

namespace braid::bench {

struct Options {
  std::vector<Collective> collectives;
  size_t minBytes = 8, maxBytes = 128u << 20;
  double factor = 2;        // -f
  size_t increment = 0;     // -i (linear step; overrides -f when > 0)
  int iterations = 20;      // -n
  int warmups = 5;          // -w
  int checkIterations = 1;  // -c
  size_t iterBytes = 0;     // --iter-bytes: fewer iterations at large sizes (0: off)
  std::vector<DataType> dtypes;
  std::vector<ReduceOp> ops;
  int root = 0;
  std::vector<std::string> algos;  // "auto", names, or all of them
  bool algoAll = false;
  bool inPlaceOnly = false;
  double minBusBw = 0;  // --min-bw
  std::string jsonPath;
  std::string command;         // the command line, for the JSON
  std::string device = "cpu";  // where the buffers live, e.g. "cuda:0 (NVIDIA H200)"
  bool progress = true;
  // --per-call-timing: on a GPU, an event after every timed call (time = the median call);
  // otherwise only around them all (time = avg = the mean, as nccl-tests).
  bool perCallTiming = false;
  bool loopTiming = false;  // set where the device times the loop only (a GPU without the flag)
};

struct Series {
  Backend* backend;
  std::string algo;   // what was asked ("auto", "ring", "default")
  std::string label;  // "braid", "braid/ring", "mpi"
};

struct Row {
  std::string backend, algo, chosen, transport;
  Collective collective;
  size_t bytes = 0, count = 0;
  DataType dtype;
  ReduceOp op;
  int root = -1;
  bool inPlace = false;
  bool supported = true;
  int iterations = 0;  // timed
  double timeUs = 0, avgUs = 0, algbw = 0, busbw = 0;
  double issueUs = 0;       // host wall-clock per call to enqueue it (slowest rank; JSON only)
  double predictedUs = -1;  // the tuner's prediction for the algorithm that ran (< 0: none)
  uint64_t wrong = 0;
};

// Runs the whole sweep on this rank, its buffers on device; rank 0 prints the table (and writes
// the JSON). Returns the process exit status: 0, or 1 on wrong values / failed calls / --min-bw
// not met.
int runSweep(Communicator& comm, Device& device, std::vector<Series>& series, const Options& o);

}  // namespace braid::bench
