// braid-train: the reference GPT trainer on braid. Start it on every rank:
//   braid-run -n 2 build/trainer/braid-train --data input.txt --steps 1600
// or alone (one rank, no launcher). Exit status: 0 done, 1 a failure while training,
// 2 bad usage (unknown option, bad value, missing or unreadable data file).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "braid/communicator.h"
#include "data.h"
#include "progress.h"
#include "train.h"

namespace braid::train {
namespace {

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "braid-train: %s\n", message.c_str());
  return code;
}

bool launched() {
  for (const char* v : {"BRAID_STORE_ADDR", "RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

Result<std::unique_ptr<Communicator>> connect() {
  if (launched()) return Communicator::fromEnvironment();
  CommOptions o;
  o.store = makeHashStore();
  o.rank = 0;
  o.size = 1;
  return Communicator::create(o);
}

int defaultThreads() {
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  const char* local = std::getenv("LOCAL_WORLD_SIZE");
  int perHost = local != nullptr ? std::max(1, std::atoi(local)) : 1;
  return std::max(1, cores / perHost);
}

}  // namespace

int main(int argc, char** argv) {
  TrainOptions o;
  std::string data;
  o.threads = defaultThreads();
  bool quiet = false;
  CLI::App app{
      "braid-train: trains a GPT-2-style Transformer on CPU, data-parallel over braid. Start "
      "it on every rank (braid-run -n N, torchrun, mpirun, srun) or alone for one rank. "
      "--batch is the global batch: every rank computes its share, so the losses do not depend "
      "on the number of ranks. Exit status: 0 done, 1 failure while training, 2 bad usage."};
  app.get_formatter()->column_width(34);
  auto* g = "Data";
  app.add_option("--data", data,
                 "training text (UTF-8, byte tokens) or llm.c token shard (.bin); the last "
                 "--val-fraction is validation data")
      ->required()
      ->group(g);
  app.add_option("--val-fraction", o.valFraction, "share of the data held out (default 0.1)")
      ->check(CLI::Range(0.001, 0.5))
      ->group(g);
  g = "Model";
  app.add_option("--layers", o.model.layers, "Transformer blocks (default 2)")
      ->check(CLI::Range(1, 1024))
      ->group(g);
  app.add_option("--heads", o.model.heads, "attention heads; must divide --width (default 4)")
      ->check(CLI::Range(1, 1024))
      ->group(g);
  app.add_option("--width", o.model.width, "embedding channels (default 64)")
      ->check(CLI::Range(1, 65536))
      ->group(g);
  app.add_option("--context", o.model.context, "sequence length T (default 64)")
      ->check(CLI::Range(1, 65536))
      ->group(g);
  g = "Optimisation";
  app.add_option("--batch", o.batch,
                 "global batch: sequences per micro-step over all ranks "
                 "(default 12)")
      ->check(CLI::Range(1, 1 << 20))
      ->group(g);
  app.add_option("--accum", o.accum,
                 "gradient accumulation micro-steps per step; no "
                 "communication until the last (default 1)")
      ->check(CLI::Range(1, 1 << 16))
      ->group(g);
  app.add_option("--steps", o.steps, "optimizer steps (default 1600)")
      ->check(CLI::Range(1, 1 << 30))
      ->group(g);
  app.add_option("--lr", o.lr, "peak learning rate (default 3e-3)")
      ->check(CLI::Range(0.0, 10.0))
      ->group(g);
  app.add_option("--min-lr", o.minLr, "floor of the cosine decay (default 3e-4)")
      ->check(CLI::Range(0.0, 10.0))
      ->group(g);
  app.add_option("--warmup", o.warmup, "linear warmup steps (default 100)")
      ->check(CLI::Range(0, 1 << 30))
      ->group(g);
  app.add_option("--weight-decay", o.adam.weightDecay,
                 "AdamW weight decay, not on biases and "
                 "LayerNorm (default 0.1)")
      ->check(CLI::Range(0.0, 10.0))
      ->group(g);
  app.add_option("--clip", o.clip, "clip the global gradient norm to this; 0 = off (default 1)")
      ->check(CLI::Range(0.0, 1e9))
      ->group(g);
  app.add_option("--seed", o.seed, "initialisation, data order and sampling seed (default 1337)")
      ->group(g);
  g = "Data parallelism";
  app.add_option("--zero", o.zero,
                 "1: ZeRO-1 (reduce-scatter gradients, AdamW on this rank's "
                 "1/N of the parameters, allgather them); 0: allReduce (default 0)")
      ->check(CLI::IsMember({0, 1}))
      ->group(g);
  app.add_option("--sync-every", o.syncEvery,
                 "local SGD: ranks step alone and average their "
                 "parameters every K steps; 0 = synchronous (default 0)")
      ->check(CLI::Range(0, 1 << 30))
      ->group(g);
  app.add_option("--bucket-mb", o.bucketMb,
                 "gradient bucket size in MB; each bucket's "
                 "allReduce starts as soon as backward finished it (default 25)")
      ->check(CLI::Range(1e-6, 1e6))
      ->group(g);
  app.add_option("--first-bucket-mb", o.firstBucketMb,
                 "size of the first (last-layer) bucket "
                 "in MB (default 1)")
      ->check(CLI::Range(1e-6, 1e6))
      ->group(g);
  app.add_option("--deterministic", o.deterministic,
                 "S > 0: compute each batch as S fixed shards summed in a fixed order, so runs "
                 "on any number of ranks dividing S give bitwise-equal losses (same --threads); "
                 "costs an allGather of S gradients; 0 = off (default 0)")
      ->check(CLI::Range(0, 1 << 16))
      ->group(g);
  app.add_option("--threads", o.threads,
                 "compute threads per rank (default: cores / local "
                 "ranks)")
      ->check(CLI::Range(1, 1024))
      ->group(g);
  g = "Evaluation and samples";
  app.add_option("--eval-every", o.evalEvery,
                 "validation loss every N steps and at the end; "
                 "0 = never (default 0)")
      ->check(CLI::Range(0, 1 << 30))
      ->group(g);
  app.add_option("--eval-batches", o.evalBatches,
                 "validation batches (of --batch sequences) "
                 "per evaluation (default 8)")
      ->check(CLI::Range(1, 1 << 20))
      ->group(g);
  app.add_option("--sample-every", o.sampleEvery,
                 "generate text every N steps and at the "
                 "end (byte tokenizer only); 0 = never (default 0)")
      ->check(CLI::Range(0, 1 << 30))
      ->group(g);
  app.add_option("--sample-tokens", o.sampleTokens, "tokens per sample (default 200)")
      ->check(CLI::Range(1, 1 << 20))
      ->group(g);
  app.add_option("--prompt", o.prompt, "text the samples continue (default a newline)")->group(g);
  app.add_option("--temperature", o.temperature,
                 "sampling temperature; 0 = greedy (default "
                 "0.8)")
      ->check(CLI::Range(0.0, 100.0))
      ->group(g);
  g = "Checkpoints and logs";
  app.add_option("--checkpoint-dir", o.checkpointDir,
                 "where checkpoints go (rank 0 writes "
                 "one file per save; every rank reads it on --resume)")
      ->group(g);
  app.add_option("--checkpoint-every", o.checkpointEvery,
                 "save every N steps; 0 = never "
                 "(default 0)")
      ->check(CLI::Range(0, 1 << 30))
      ->group(g);
  app.add_flag("--resume", o.resume,
               "continue from the latest checkpoint in --checkpoint-dir "
               "(from step 0 when there is none)")
      ->group(g);
  app.add_option("--log", o.logFile,
                 "JSON lines per step: step, loss, val, lr, grad_norm, "
                 "tok_s, comm_s, bytes_reduced (and samples)")
      ->group(g);
  app.add_flag("-q,--quiet", quiet, "no per-step lines (the summary still prints)")->group(g);
  g = "Testing";
  app.add_option("--kill-at-step", o.killAtStep,
                 "SIGKILL rank --kill-rank when this 0-based "
                 "step starts (for resume tests)")
      ->group(g);
  app.add_option("--kill-rank", o.killRank, "the rank --kill-at-step kills (default 1)")->group(g);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return fail(2, std::string(e.what()) + " (see --help)");
  }
  o.progress = !quiet;
  if (o.model.width % o.model.heads != 0)
    return fail(2, "--heads " + std::to_string(o.model.heads) + " does not divide --width " +
                       std::to_string(o.model.width));
  if ((o.checkpointEvery > 0 || o.resume) && o.checkpointDir.empty())
    return fail(2, "--checkpoint-every and --resume need --checkpoint-dir");
  auto tokens = loadTokens(data);
  if (!tokens.isOk()) return fail(2, tokens.status().message());

  auto comm = connect();
  if (!comm.isOk()) return fail(1, comm.status().toString());
  Communicator& c = **comm;
  auto result = train(c, o, tokens->tokens, tokens->vocab);
  if (!result.isOk()) {
    const Status& s = result.status();
    return fail(s.code() == StatusCode::kInvalidArgument ? 2 : 1,
                "rank " + std::to_string(c.rank()) + ": " + s.toString());
  }
  if (c.rank() == 0) {
    std::printf("%s", summary(*result, long(o.batch) * o.accum * o.model.context).c_str());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace braid::train

int main(int argc, char** argv) { return braid::train::main(argc, argv); }
