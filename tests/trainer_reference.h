// A deliberately naive double-precision GPT-2 forward pass, written independently of the
// trainer's kernels: the gradient check differentiates it by central differences (accurate to
// ~1e-9 in double) and compares with the float model's backward. It finds parameters by name,
// so it also checks the tensor layout contract of model.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "trainer/model.h"

namespace braid::train::testing {

class ReferenceGpt {
 public:
  ReferenceGpt(const ModelConfig& cfg, const std::vector<ParamTensor>& tensors)
      : cfg_(cfg), tensors_(tensors) {}

  // Mean cross-entropy of the model with parameters `p` (flat layout of `tensors`).
  double loss(const std::vector<double>& p, const std::vector<int32_t>& tokens,
              const std::vector<int32_t>& targets, int B, int T) const {
    const int C = cfg_.width, V = cfg_.vocab, H = cfg_.heads, hs = C / H;
    const int BT = B * T;
    using Mat = std::vector<double>;
    Mat x(static_cast<size_t>(BT) * C);
    const double* wte = at(p, "wte.weight");
    const double* wpe = at(p, "wpe.weight");
    for (int r = 0; r < BT; ++r) {
      for (int c = 0; c < C; ++c) x[r * C + c] = wte[tokens[r] * C + c] + wpe[(r % T) * C + c];
    }
    for (int l = 0; l < cfg_.layers; ++l) {
      const std::string h = "h" + std::to_string(l) + ".";
      Mat ln1 = layerNorm(x, BT, C, at(p, h + "ln1.weight"), at(p, h + "ln1.bias"));
      Mat qkv = linear(ln1, BT, C, 3 * C, at(p, h + "attn.qkv.weight"), at(p, h + "attn.qkv.bias"));
      Mat y(static_cast<size_t>(BT) * C, 0.0);
      for (int b = 0; b < B; ++b) {
        for (int hd = 0; hd < H; ++hd) {
          for (int t = 0; t < T; ++t) {
            std::vector<double> s(t + 1);
            double mx = -1e300;
            for (int t2 = 0; t2 <= t; ++t2) {
              double d = 0;
              for (int i = 0; i < hs; ++i) {
                d += qkv[(b * T + t) * 3 * C + hd * hs + i] *
                     qkv[(b * T + t2) * 3 * C + C + hd * hs + i];
              }
              s[t2] = d / std::sqrt(static_cast<double>(hs));
              mx = std::max(mx, s[t2]);
            }
            double sum = 0;
            for (double& e : s) sum += (e = std::exp(e - mx));
            for (int t2 = 0; t2 <= t; ++t2) {
              for (int i = 0; i < hs; ++i) {
                y[(b * T + t) * C + hd * hs + i] +=
                    s[t2] / sum * qkv[(b * T + t2) * 3 * C + 2 * C + hd * hs + i];
              }
            }
          }
        }
      }
      Mat proj = linear(y, BT, C, C, at(p, h + "attn.proj.weight"), at(p, h + "attn.proj.bias"));
      for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
      Mat ln2 = layerNorm(x, BT, C, at(p, h + "ln2.weight"), at(p, h + "ln2.bias"));
      Mat fc = linear(ln2, BT, C, 4 * C, at(p, h + "mlp.fc.weight"), at(p, h + "mlp.fc.bias"));
      for (double& u : fc) {
        u = 0.5 * u * (1 + std::tanh(std::sqrt(2 / M_PI) * (u + 0.044715 * u * u * u)));
      }
      Mat out = linear(fc, BT, 4 * C, C, at(p, h + "mlp.proj.weight"), at(p, h + "mlp.proj.bias"));
      for (size_t i = 0; i < x.size(); ++i) x[i] += out[i];
    }
    Mat lnf = layerNorm(x, BT, C, at(p, "lnf.weight"), at(p, "lnf.bias"));
    Mat logits = linear(lnf, BT, C, V, wte, nullptr);
    double total = 0;
    for (int r = 0; r < BT; ++r) {
      double mx = -1e300, sum = 0;
      for (int v = 0; v < V; ++v) mx = std::max(mx, logits[r * V + v]);
      for (int v = 0; v < V; ++v) sum += std::exp(logits[r * V + v] - mx);
      total += std::log(sum) + mx - logits[r * V + targets[r]];
    }
    return total / BT;
  }

 private:
  const double* at(const std::vector<double>& p, const std::string& name) const {
    for (const ParamTensor& t : tensors_) {
      if (t.name == name) return p.data() + t.offset;
    }
    throw std::runtime_error("no tensor " + name);
  }
  static std::vector<double> layerNorm(const std::vector<double>& x, int rows, int C,
                                       const double* w, const double* b) {
    std::vector<double> out(x.size());
    for (int r = 0; r < rows; ++r) {
      double m = 0, v = 0;
      for (int c = 0; c < C; ++c) m += x[r * C + c] / C;
      for (int c = 0; c < C; ++c) v += (x[r * C + c] - m) * (x[r * C + c] - m) / C;
      for (int c = 0; c < C; ++c) {
        out[r * C + c] = (x[r * C + c] - m) / std::sqrt(v + 1e-5) * w[c] + b[c];
      }
    }
    return out;
  }
  static std::vector<double> linear(const std::vector<double>& x, int rows, int in, int out,
                                    const double* w, const double* b) {
    std::vector<double> y(static_cast<size_t>(rows) * out);
    for (int r = 0; r < rows; ++r) {
      for (int o = 0; o < out; ++o) {
        double s = b ? b[o] : 0.0;
        for (int i = 0; i < in; ++i) s += x[r * in + i] * w[o * in + i];
        y[r * out + o] = s;
      }
    }
    return y;
  }

  ModelConfig cfg_;
  std::vector<ParamTensor> tensors_;
};

}  // namespace braid::train::testing
