// Step lines, the JSON-lines log and the final summary (see progress.h).
#include "progress.h"

#include <algorithm>
#include <cmath>

namespace braid::train {
namespace {

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string clock(double seconds) {
  long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof(buf), "%ld:%02ld", s / 60, s % 60);
  return buf;
}

std::string si(double v) {
  char buf[32];
  if (v >= 1e6)
    std::snprintf(buf, sizeof(buf), "%.2fM", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(buf, sizeof(buf), "%.1fk", v / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  return buf;
}

}  // namespace

Result<std::unique_ptr<RunLog>> RunLog::open(const std::string& path, bool append) {
  std::unique_ptr<RunLog> log(new RunLog());
  log->file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (log->file_ == nullptr) return systemError("open log file '" + path + "'");
  return log;
}

RunLog::~RunLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void RunLog::step(const StepRecord& r) {
  std::fprintf(file_,
               "{\"step\":%d,\"loss\":%.17g,\"lr\":%.9g,\"grad_norm\":%.9g,\"tok_s\":%.1f,"
               "\"comm_s\":%.6f,\"bytes_reduced\":%llu",
               r.step, r.loss, r.lr, r.gradNorm, r.tokensPerSecond, r.commSeconds,
               static_cast<unsigned long long>(r.bytesReduced));
  if (!std::isnan(r.val)) std::fprintf(file_, ",\"val\":%.17g", r.val);
  if (!r.synced) std::fprintf(file_, ",\"synced\":false");
  std::fprintf(file_, "}\n");
  std::fflush(file_);
}

void RunLog::sample(int step, const std::string& text) {
  std::fprintf(file_, "{\"step\":%d,\"sample\":%s}\n", step, jsonString(text).c_str());
  std::fflush(file_);
}

std::string progressLine(const StepRecord& r, int totalSteps, double etaSeconds) {
  constexpr int kWidth = 20;
  int done = totalSteps > 0 ? (r.step + 1) * kWidth / totalSteps : kWidth;
  std::string bar = std::string(done, '#') + std::string(kWidth - done, '.');
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "step %*d/%d [%s] loss %.4f%s lr %.2e norm %.3f | %s tok/s | comm %.1f ms | eta %s",
                static_cast<int>(std::to_string(totalSteps).size()), r.step + 1, totalSteps,
                bar.c_str(), r.loss, r.synced ? "" : "*", r.lr, r.gradNorm,
                si(r.tokensPerSecond).c_str(), r.commSeconds * 1e3, clock(etaSeconds).c_str());
  std::string line = buf;
  if (!std::isnan(r.val)) {
    std::snprintf(buf, sizeof(buf), " | val %.4f", r.val);
    line += buf;
  }
  return line;
}

std::string summary(const TrainResult& res, long tokensPerStep) {
  if (res.steps.empty()) return "no steps run\n";
  double comm = 0, bytes = 0, minLoss = 1e30;
  double lastVal = std::nan(""), bestVal = 1e30;
  for (const StepRecord& r : res.steps) {
    comm += r.commSeconds;
    bytes += static_cast<double>(r.bytesReduced);
    minLoss = std::min(minLoss, r.loss);
    if (!std::isnan(r.val)) {
      lastVal = r.val;
      bestVal = std::min(bestVal, r.val);
    }
  }
  size_t n = res.steps.size();
  char buf[512];
  std::string out;
  std::snprintf(buf, sizeof(buf),
                "summary: steps %d..%d in %.1f s, %s tok/s, comm wait %.1f%% of the time, "
                "%.2f MB reduced per step\n",
                res.firstStep + 1, res.steps.back().step + 1, res.seconds,
                si(tokensPerStep * static_cast<double>(n) / std::max(res.seconds, 1e-9)).c_str(),
                100.0 * comm / std::max(res.seconds, 1e-9), bytes / n / 1e6);
  out += buf;
  std::snprintf(buf, sizeof(buf), "summary: train loss %.4f (first) -> %.4f (last), min %.4f\n",
                res.steps.front().loss, res.steps.back().loss, minLoss);
  out += buf;
  if (!std::isnan(lastVal)) {
    std::snprintf(buf, sizeof(buf), "summary: val loss %.4f (last), %.4f (best)\n", lastVal,
                  bestVal);
    out += buf;
  }
  return out;
}

std::string printable(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    // Length of the UTF-8 sequence c starts (0: not a valid lead byte).
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) >> 6) == 2;
    if (!ok) {
      out += '?';
      ++i;
    } else if (len == 1 && ((c < 0x20 && c != '\n') || c == 0x7f)) {
      out += '?';
      ++i;
    } else {
      out.append(text, i, len);
      i += len;
    }
  }
  return out;
}

}  // namespace braid::train
